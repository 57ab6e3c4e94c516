/**
 * Cluster topics are open to any client of the broker: a hand-off or status message that is JSON
 * but not a message (`null`, a list, fields of other types) is ignored with a warning. `null`
 * threw a TypeError out of the handler, logged with a stack as a handler failure. On mosquitto;
 * skipped, with the reason, without it.
 */
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { connectClient, mosquittoAvailable, publishAsync, scriptedPeerCluster, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/cluster-untrusted.test.ts skipped: ${SKIP}`);

describe.skipIf(SKIP !== null)('cluster messages from any client of the broker', () => {
  const rig = scriptedPeerCluster({ site: 'untrusted', group: 'u', codec: 'json', partitions: 4 });

  it('null, a list and wrongly typed fields are ignored with a warning, not a handler failure', { timeout: 30_000 }, async () => {
    const logger = memoryLogger('warn');
    const gw = await Gateway.create({ config: parseGatewayConfig({ ...rig.base, gatewayId: 'gw-b', broker: { url: rig.mq.url }, cluster: rig.cluster }), models: { imu: rig.model }, logger });
    const client = await connectClient(rig.mq.url, { clientId: 'intruder' });
    try {
      const handoff = `${gw.topics.cluster}/gw-b/handoff`;
      const status = gw.topics.status.replace('gw-b', 'gw-x');
      const bad = ['null', '[]', '7', '{"kind":"ready","partition":3,"from":"gw-a"}', '{"kind":"done","partition":"p1","from":null}', '{"kind":"state","partition":"p1","from":"gw-a","data":{}}'];
      for (const b of bad) await publishAsync(client, handoff, b);
      for (const b of ['null', '[1]', '"online"']) await publishAsync(client, status, b);
      await waitFor(() => logger.lines.filter((l) => l.msg === 'cluster: malformed hand-off message ignored').length === bad.length, 'the malformed hand-off messages to be ignored');
      // The status messages were published after them on one connection: handled by now.
      await publishAsync(client, handoff, 'null');
      await waitFor(() => logger.lines.filter((l) => l.msg === 'cluster: malformed hand-off message ignored').length === bad.length + 1, 'the last one');
      expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
      expect(gw.cluster!.members_()).toEqual(['gw-b']);
    } finally {
      client.end(true);
      await gw.stop();
    }
  });

  it('a READY or HELD in the name of a gateway that is no member does not take a partition away', { timeout: 30_000 }, async () => {
    // From a member, either makes the gateway hold the partition's messages for that member's
    // hand-off (ClusterCoordinator.contest): from anyone, up to handoffTimeoutMs per message.
    const logger = memoryLogger('warn');
    const gw = await Gateway.create({ config: parseGatewayConfig({ ...rig.base, gatewayId: 'gw-b', broker: { url: rig.mq.url }, cluster: rig.cluster }), models: { imu: rig.model }, logger });
    const client = await connectClient(rig.mq.url, { clientId: 'intruder' });
    try {
      await waitFor(() => gw.cluster!.owned().length === 4, 'gw-b to own every partition');
      await publishAsync(client, `${gw.topics.cluster}/handoff`, JSON.stringify({ kind: 'ready', partition: 'p1', from: 'gw-x', waitFor: null }));
      await publishAsync(client, `${gw.topics.cluster}/gw-b/handoff`, JSON.stringify({ kind: 'held', partition: 'p2', from: 'gw-x', to: 'gw-b' }));
      // Published after them on one connection (the broadcast topic too: one subscriber, in order).
      await publishAsync(client, `${gw.topics.cluster}/gw-b/handoff`, 'null');
      await waitFor(() => logger.lines.some((l) => l.msg === 'cluster: malformed hand-off message ignored'), 'the last message');
      expect(gw.cluster!.owned().sort()).toEqual(['p0', 'p1', 'p2', 'p3']);
      expect(logger.lines.filter((l) => /without waiting for us/.test(String(l.msg)))).toEqual([]);
    } finally {
      client.end(true);
      await gw.stop();
    }
  });
});
