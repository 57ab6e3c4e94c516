/**
 * A broker that keeps closing the connection soon after accepting it is named in the log. Two
 * gateways with one gatewayId (the default is "gw": two copies of one config) share a client id,
 * and mosquitto hands the connection to each in turn at every reconnect, closing the other's
 * socket without a reason (no MQTT 5 DISCONNECT in mosquitto 2.0). Before, each gateway only
 * logged "broker connection lost" at every reconnect, and nothing said why.
 */
import { describe, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import type { Model } from '../../src/index.js';
import { imuGatewayConfig, type Mosquitto, mosquittoAndImuModel, mosquittoAvailable, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/broker-disconnect.test.ts skipped: ${SKIP}`);

const FLAPPING = 'the broker keeps closing the connection soon after accepting it: is another client using the same client id';

describe.skipIf(SKIP)('a broker that keeps closing the connection (mosquitto)', () => {
  let mq!: Mosquitto;
  let model!: Model;
  mosquittoAndImuModel((m, md) => {
    mq = m;
    model = md;
  });

  it('two gateways with the same id: the pattern is logged with the client id, at most once a minute', async () => {
    const logs = [memoryLogger('warn'), memoryLogger('warn')];
    const gws: Gateway[] = [];
    try {
      for (const logger of logs) gws.push(await Gateway.create({ config: imuGatewayConfig(mq.url, { stateDir: '' }), models: { imu: model }, logger }));
      const flaps = () => logs.flatMap((l) => l.lines.filter((x) => x.level === 'error' && x.msg.startsWith(FLAPPING)));
      await waitFor(() => flaps().length > 0, 'the flapping to be named', 15_000);
      expect(flaps()[0]).toMatchObject({ clientId: 'edgernn-gw' });
      expect(flaps()[0]!.closesInLastMinute).toBeGreaterThanOrEqual(3);
      const lost = logs[0]!.lines.filter((x) => x.msg === 'broker connection lost').length;
      // They go on taking the connection from each other (every 100 ms here): still one line each.
      await waitFor(() => logs[0]!.lines.filter((x) => x.msg === 'broker connection lost').length > lost + 5, 'more takeovers', 15_000);
      expect(logs.map((l) => l.lines.filter((x) => x.msg.startsWith(FLAPPING)).length).every((n) => n <= 1)).toBe(true);
    } finally {
      for (const g of gws) await g.stop();
    }
  });

  it('one gateway alone on its id says nothing of the kind', async () => {
    const logger = memoryLogger('warn');
    const gw = await Gateway.create({ config: imuGatewayConfig(mq.url, { stateDir: '', gatewayId: 'alone' }), models: { imu: model }, logger });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expect(logger.lines.filter((x) => x.msg.startsWith(FLAPPING) || x.msg === 'broker connection lost')).toEqual([]);
    } finally {
      await gw.stop();
    }
  });
});
