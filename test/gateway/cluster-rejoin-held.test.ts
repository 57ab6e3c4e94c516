/**
 * A member that rejoins (its last will went out, the others took its partitions from the
 * checkpoints) while one of its streams holds messages ahead of a gap, on mosquitto: the state
 * handed back replaces the live stream's, and the held messages, which only this member received,
 * are ordered against it afterwards. They used to be forced through the live session first, which
 * the import then overwrote: lost, their gap counted missing, and the device's next messages
 * waited behind a gap nobody could fill.
 *
 * The other member is scripted (as in cluster-wrap.test.ts): a plain MQTT client with a retained
 * "online" status that answers READY with DONE, and on the rejoin with the STATE of a real stream
 * that processed messages 0..10 (message 10 reached it, not the rejoining member), then DONE. It
 * also publishes the rejoining member's retained status "offline" (its last will, as the broker
 * would). Skipped, with the reason, without mosquitto.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { Topics } from '../../src/gateway/topics.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { connectClient, IMU_CHANNELS, imuSessionState, imuSignal, mosquittoAvailable, publishAsync, subscribeAsync, waitFor, scriptedPeerCluster } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/cluster-rejoin-held.test.ts skipped: ${SKIP}`);

const P = 4;
const PER = 10;
const MESSAGES = 16;

describe.skipIf(SKIP !== null)('cluster rejoin with held messages', () => {
  const rig = scriptedPeerCluster({ site: 'rejoin-held', group: 'rejoin', codec: 'json', partitions: P });
  const { base, cluster, deviceOfGwB } = rig;

  it('messages held ahead of a gap when the handed-back state is imported are ordered against it, not lost', { timeout: 60_000 }, async () => {
    const { device, partition } = deviceOfGwB('calf');
    const key = `${device}/imu`;
    const x = imuSignal(MESSAGES * PER, 31, [[40, 60], [120, 140]]);
    const chunk = (m: number) => x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS);
    const message = (m: number) => encodeJson(chunk(m), IMU_CHANNELS, { seq: m });

    // The state the other member hands back: a real stream that processed messages 0..10.
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const mem = await Gateway.create({ config: parseGatewayConfig(base), models: { imu: rig.model }, clock, transport: tr, logger: memoryLogger('warn'), stateStore: memoryStateStore() });
    for (let m = 0; m <= 10; m++) tr.deliver(mem.topics.sensor(device, 'imu'), message(m));
    clock.advance(50);
    const state = mem.streams.get(key)!.exportState();
    await mem.stop();

    const cfgA = parseGatewayConfig({ ...base, gatewayId: 'gw-a', broker: { url: rig.mq.url }, cluster });
    const cfgB = parseGatewayConfig({ ...base, gatewayId: 'gw-b', broker: { url: rig.mq.url, reconnectMs: 100 }, cluster });
    const topicsA = new Topics(cfgA);
    const topicsB = new Topics(cfgB);
    const peer = await connectClient(rig.mq.url, { clientId: 'gw-a-scripted', protocolVersion: 5 });
    const dev = await connectClient(rig.mq.url, { clientId: 'calf-sim' });
    let gwB: Gateway | null = null;
    try {
      await subscribeAsync(peer, `${topicsA.cluster}/handoff`);
      const toB = `${topicsA.cluster}/gw-b/handoff`;
      const send = (msg: Record<string, unknown>) => publishAsync(peer, toB, JSON.stringify({ from: 'gw-a', ...msg }));
      let rejoining = false;
      let handedBack: Promise<void> | null = null;
      peer.on('message', (_topic, payload) => {
        const msg = JSON.parse(payload.toString()) as { kind: string; partition: string; from: string; waitFor?: string };
        if (msg.kind !== 'ready' || msg.from !== 'gw-b' || msg.waitFor !== 'gw-a') return;
        if (!rejoining || msg.partition !== partition) {
          void send({ kind: 'done', partition: msg.partition, to: 'gw-b' });
          return;
        }
        // What a releasing owner sends (cluster.ts doRelease): the stream's state, then DONE.
        handedBack ??= (async () => {
          await send({ kind: 'state', partition, key, data: Buffer.from(state).toString('base64') });
          await send({ kind: 'done', partition, to: 'gw-b' });
        })();
      });
      // gw-a is a member (retained online status): gw-b takes its share from it.
      await new Promise<void>((r) => peer.publish(topicsA.status, JSON.stringify({ state: 'online', gateway: 'gw-a', site: base.site, cluster: { group: cluster.group, partitions: P } }), { qos: 1, retain: true }, () => r()));
      gwB = await Gateway.create({ config: cfgB, models: { imu: rig.model }, logger: memoryLogger('warn') });
      const b = gwB;
      await waitFor(() => b.cluster!.owned().includes(partition), 'gw-b to own the partition');

      // Messages 0..9, then 11 and 12: held ahead of the gap at 10 (message 10 went to gw-a).
      for (const m of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]) await publishAsync(dev, topicsB.sensor(device, 'imu', partition), message(m));
      await waitFor(() => b.streams.get(key)?.lastSeq === 9 && b.streams.get(key)!.heldCount === 2, 'gw-b to step 0..9 and hold 11, 12');

      // gw-b's last will, as the broker publishes it: gw-b rejoins and gets the state back.
      rejoining = true;
      await new Promise<void>((r) => peer.publish(topicsB.status, JSON.stringify({ state: 'offline', gateway: 'gw-b', reason: 'connection lost' }), { qos: 1, retain: true }, () => r()));
      await waitFor(() => handedBack !== null, 'gw-b to announce READY for the partition again');
      await handedBack;
      await waitFor(() => b.cluster!.owned().includes(partition), 'gw-b to take the partition back');

      for (let m = 13; m < MESSAGES; m++) await publishAsync(dev, topicsB.sensor(device, 'imu', partition), message(m));
      await waitFor(() => b.streams.get(key)?.lastSeq === MESSAGES - 1 && b.streams.get(key)!.queued === 0 && b.streams.get(key)!.heldCount === 0, 'gw-b to step every message', 15_000);
      const c = b.metrics.counters;
      expect(c.missing_total ?? 0).toBe(0);
      expect(c.resets_total ?? 0).toBe(0);
      // Every frame exactly once: the state of one uninterrupted session over messages 0..15.
      expect(b.streams.get(key)!.session.exportState()).toEqual(imuSessionState(rig.model, x));
    } finally {
      // gw-a goes away first (its status cleared): gw-b then stops alone, handing nothing over.
      await new Promise<void>((r) => peer.publish(topicsA.status, '', { qos: 1, retain: true }, () => r()));
      if (gwB) {
        const b = gwB;
        await waitFor(() => !b.cluster!.members_().includes('gw-a'), 'gw-b to see gw-a gone', 10_000).catch(() => {});
        await b.stop();
      }
      await new Promise<void>((r) => peer.publish(topicsB.status, '', { qos: 1, retain: true }, () => r()));
      peer.end(true);
      dev.end(true);
    }
  });
});
