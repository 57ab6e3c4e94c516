/**
 * A gateway with more sensor data than CPU keeps its broker connection (mosquitto). It reads the
 * broker's backlog more slowly than it comes, so the PINGRESP to its PINGREQ waits behind that
 * backlog; MQTT.js took the late PINGRESP for a dead broker and closed the connection itself
 * (`Keepalive timeout`), losing everything the broker had queued for it, then reconnected into
 * the same flood (reproduced with 50 microphones at 8x real time on models/kws.ern, keepalive
 * 5 s). Here the work per message is made slow on purpose (a front end that takes 1 ms a
 * message) and the backlog is several keepalive periods long; what is asserted is the
 * connection and the accounting, not times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJson } from '../../src/gateway/codecs.js';
import { BUILTIN_FRONTENDS, type FrontEndFactory } from '../../src/gateway/frontend.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import type { MqttTransport } from '../../src/gateway/transport.js';
import { createRuntime, type Model } from '../../src/index.js';
import { connectClient, IMU_CHANNELS, imuGatewayConfig, imuModelBytes, imuSignal, type Mosquitto, mosquittoAvailable, startMosquitto, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/overload-keepalive.test.ts skipped: ${SKIP}`);

/** The built-in `none` front end, taking `ms` of CPU per message (as a heavy front end does under a flood). */
function slowNone(ms: number): FrontEndFactory {
  return (spec, ctx) => {
    const fe = BUILTIN_FRONTENDS.none!(spec, ctx);
    return Object.assign(Object.create(fe) as typeof fe, {
      push: (samples: Float32Array, n: number, sink: Parameters<typeof fe.push>[2]) => {
        const until = performance.now() + ms;
        while (performance.now() < until);
        fe.push(samples, n, sink);
      },
    });
  };
}

describe.skipIf(SKIP)('a gateway flooded beyond its CPU (mosquitto)', () => {
  let mq!: Mosquitto;
  let model!: Model;
  beforeAll(async () => {
    // No limit on what the broker queues for a client: every message sent reaches the gateway unless its connection drops.
    mq = await startMosquitto('allow_anonymous true\nmax_queued_messages 0');
    model = await (await createRuntime()).load(imuModelBytes());
  });
  afterAll(async () => {
    await mq?.stop();
    model?.dispose();
  });

  it('keeps its broker connection while it works through a backlog of several keepalive periods; every message is counted', { timeout: 120_000 }, async () => {
    const MESSAGES = 6000;
    const SAMPLES = 100;
    const logger = memoryLogger('warn');
    const config = imuGatewayConfig(mq.url, { stateDir: '', gatewayId: 'flooded', broker: { keepaliveS: 2 } });
    const gw = await Gateway.create({ config, models: { imu: model }, logger, frontends: { none: slowNone(1) } });
    const client = (gw.transport as MqttTransport).client!;
    let closes = 0;
    let pings = 0;
    client.on('close', () => closes++);
    client.on('packetsend', (p) => {
      if (p.cmd === 'pingreq') pings++;
    });
    const dev = await connectClient(mq.url, { clientId: 'flooder' });
    try {
      const payload = encodeJson(imuSignal(SAMPLES, 1), IMU_CHANNELS);
      // Sent at once: the broker forwards them as fast as the gateway reads, about 6 s of work.
      for (let i = 0; i < MESSAGES; i++) dev.publish(gw.topics.sensor(`dev-${i % 8}`, 'imu'), Buffer.from(payload), { qos: 0 });
      await waitFor(() => gw.metrics.counters.messages_total >= MESSAGES || closes > 0, 'the backlog to be read, or the connection to drop', 90_000);
      await waitFor(() => gw.snapshot().gauges.queue_depth === 0 || closes > 0, 'the queues to drain', 30_000);
      const c = gw.metrics.counters;
      // Before: MQTT.js closed it ('Keepalive timeout'), or mosquitto did ('exceeded timeout').
      const lost = logger.lines.filter((l) => l.msg === 'broker connection lost' || l.msg === 'waiting for the broker');
      expect({ closes, lost, connected: gw.metrics.gauges.connected }).toEqual({ closes: 0, lost: [], connected: 1 });
      expect(mq.log.join('')).not.toContain('exceeded timeout');
      // Several keepalive periods went by: the gateway pinged while the backlog was read.
      expect(pings).toBeGreaterThanOrEqual(2);
      expect(c.messages_total).toBe(MESSAGES);
      expect(c.frames_total + c.dropped_frames_total).toBe(MESSAGES * SAMPLES);
    } finally {
      dev.end(true);
      await gw.stop();
    }
  });
});
