/**
 * Sinks and 'alert' listeners get a frozen copy of the alert, not the object the outbox holds and
 * publishes: a plug-in sink (or a listener) that changes the alert used to change what was
 * published and stored. One that tries now throws (strict mode), which is contained like any sink
 * or listener error: logged, the alert published as raised, the other sinks served. On the
 * embedded broker (aedes) with a real consumer and a real file outbox.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import type { AlertSink } from '../../src/gateway/sinks.js';
import { connectClient, IMU_CHANNELS, IMU_DETECTOR, imuGatewayConfig, imuModelAndGateways, imuSignal, oracleAlerts, publishAsync, subscribeAsync, tmpDir, waitFor } from './fixtures.js';

describe('alert view for sinks and listeners', () => {
  const ctx = imuModelAndGateways();

  it('a sink or listener that changes the alert changes neither what is published nor what the next sink gets', { timeout: 30_000 }, async () => {
    const seen: Alert[] = [];
    const snapshots: string[] = [];
    // ES modules are strict: assigning to a frozen object's property throws TypeError.
    const enriching: AlertSink = {
      name: 'enriching',
      alert(a) {
        a.label = `${a.label} (enriched)`;
        a.evidence.scores.length = 0;
      },
      close: async () => {},
    };
    const asyncEnriching: AlertSink = {
      name: 'async-enriching',
      async alert(a) {
        await Promise.resolve();
        (a.model as { name: string }).name = 'renamed';
      },
      close: async () => {},
    };
    const recording: AlertSink = {
      name: 'recording',
      alert(a) {
        seen.push(a);
        snapshots.push(JSON.stringify(a));
      },
      close: async () => {},
    };
    const logger = memoryLogger('warn');
    const config = imuGatewayConfig('embedded', { site: 'home', gatewayId: 'gw1', stateDir: tmpDir(), metrics: { intervalMs: 0 } });
    const clock = new ManualClock(1_700_000_000_000);
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, logger, sinks: [enriching, asyncEnriching, recording] });
    ctx.gateways.push(gw);
    gw.on('alert', (a) => {
      a.score = 0;
    });
    const received: Alert[] = [];
    const consumer = await connectClient(gw.broker!.url, { clientId: 'consumer' });
    consumer.on('message', (_t, p) => received.push(JSON.parse(p.toString()) as Alert));
    await subscribeAsync(consumer, gw.topics.alertsFilter());
    const dev = await connectClient(gw.broker!.url, { clientId: 'dev' });
    try {
      const x = imuSignal(60, 3, [[20, 30]]);
      const want = oracleAlerts(ctx.model, x, IMU_DETECTOR, { site: 'home', device: 'pump', sensor: 'imu', streamStartMs: clock.now() });
      expect(want.length).toBeGreaterThan(0);
      await publishAsync(dev, gw.topics.sensor('pump', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      await waitFor(() => gw.streams.get('pump/imu')?.lastSeq === 0, 'the message taken');
      clock.advance(10);
      await waitFor(() => received.length >= want.length && seen.length >= want.length, 'the alerts published and at the recording sink', 10_000);
      await waitFor(() => logger.lines.filter((l) => l.sink === 'async-enriching').length >= want.length, 'the async sink to fail', 10_000);

      expect(received.map((a) => a.id)).toEqual(want.map((a) => a.id));
      for (const [i, a] of received.entries()) {
        expect(a.label).toBe('impact');
        expect(a.model.name).toBe(ctx.model.name);
        expect(a.score).toBeCloseTo(want[i]!.score, 6);
        expect(a.evidence.scores.length).toBe(Math.min(a.frameIndex, 32)); // the first sink emptied its copy's list
        // The recording sink got the alert as raised, equal to what was published.
        expect(JSON.parse(snapshots[i]!)).toEqual(a);
        expect(Object.isFrozen(seen[i]) && Object.isFrozen(seen[i]!.evidence.inputs[0])).toBe(true);
      }
      // Each attempt was contained and logged.
      expect(logger.lines.filter((l) => l.msg === 'alert sink failed' && l.sink === 'enriching').length).toBe(want.length);
      expect(logger.lines.filter((l) => l.msg === 'alert sink failed' && l.sink === 'async-enriching').length).toBe(want.length);
      expect(logger.lines.filter((l) => l.msg === 'event listener threw').length).toBe(want.length);
    } finally {
      dev.end(true);
      consumer.end(true);
    }
  });
});
