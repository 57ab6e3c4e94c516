/**
 * Device times a JavaScript Date cannot hold: a device whose clock sends nanoseconds
 * (ts 1.7e18) made the alert's ISO time throw RangeError inside the stepping round, an uncaught
 * exception that took the gateway (and every other device's alerts of that round) down. Such a
 * payload is a decode error (dead letter); the other devices' alerts are raised as before.
 * Frames after a valid ts run later still: with a tiny rate (rateHz 1e-300 in the payload, or the
 * smallest routes[].sampleRateHz, 1e-6 Hz: 1e9 ms per sample, after a ts near 8.64e15, which was
 * taken until µs were refused), their times passed the limit and the alert threw the same way.
 * Frame times stop at the limit.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, encodeModel, quantizeModel, type Model } from '../../src/index.js';
import { decodeBinary, decodeCsv, encodeBinary, encodeCsv, encodeJson, MAX_DEVICE_TS_MS } from '../../src/gateway/codecs.js';
import type { ManualClock } from '../../src/gateway/clock.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuModelSpec, imuSignal, oracleAlerts, publishAsync, startJobGateway, waitFor } from './fixtures.js';

const T0 = 1_700_000_000_000;
const NS = 1.7e18;

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

describe('device time in nanoseconds', () => {
  it('is dead-lettered; the gateway and the other devices go on', async () => {
    const job = await startJobGateway({ model, route: { sensor: 'imu', codec: 'json', detector: IMU_DETECTOR }, deviceId: 'devices', t0: T0 });
    try {
      const x = imuSignal(30, 1, [[5, 25]]);
      await publishAsync(job.dev, job.gw.topics.sensor('ns-clock', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0, tsMs: NS }));
      await publishAsync(job.dev, job.gw.topics.sensor('good', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0, tsMs: T0 }));
      await waitFor(() => job.gw.metrics.counters.messages_total === 2, 'both messages at the gateway');
      (job.gw.clock as ManualClock).advance(5);
      const expected = oracleAlerts(model, x, IMU_DETECTOR, { site: 'home', device: 'good', sensor: 'imu', streamStartMs: T0 });
      expect(expected.length).toBeGreaterThan(0);
      await waitFor(() => job.received.length >= expected.length, 'the good device alerts');
      expect(job.received.map((a) => a.id)).toEqual(expected.map((a) => a.id));
      expect(job.gw.metrics.counters.dead_letters_total).toBe(1);
      expect(job.gw.metrics.counters.decode_errors_total).toBe(1);
      // The same limit in the other codecs.
      const O = { channels: IMU_CHANNELS, int16Scale: 1 / 32768, maxSamples: 1000 };
      expect(() => decodeBinary(encodeBinary(x, IMU_CHANNELS, { tsMs: NS }), O)).toThrow(/ts 1700000000000000000 is not a time/);
      expect(() => decodeCsv(encodeCsv(x, IMU_CHANNELS, { tsMs: NS }), O)).toThrow(/"ts" 1700000000000000000 is after the year 9999/);
    } finally {
      await job.stop();
      fs.rmSync(job.gw.config.stateDir, { recursive: true, force: true });
    }
  });
});

describe('frame times past what a Date holds', () => {
  it('stop at 8.64e15: the alerts are raised, with that time, and the gateway goes on', async () => {
    const MAX = 8.64e15;
    const x = imuSignal(30, 1, [[5, 25]]);
    // Without input.rateHz the front end takes any device rate as is (no resampling).
    const spec = imuModelSpec();
    delete (spec.input as { rateHz?: number }).rateHz;
    const noRate = await (await createRuntime()).load(encodeModel(quantizeModel(spec, { inputAbsMax: new Array(IMU_CHANNELS).fill(4) })));
    // A payload's ts is at most the year 9999 (MAX_DEVICE_TS_MS: µs are refused), so only a tiny
    // rate reaches the limit now; the latest ts with the slowest route rate stays below it.
    const cases: Array<{ m: Model; route?: Record<string, unknown>; device: string; meta: { tsMs: number; rateHz?: number }; atLimit: boolean }> = [
      { m: model, device: 'latest-ts', meta: { tsMs: MAX_DEVICE_TS_MS, rateHz: 50 }, atLimit: false },
      { m: noRate, device: 'tiny-payload-rate', meta: { tsMs: T0, rateHz: 1e-300 }, atLimit: true },
      { m: noRate, route: { sampleRateHz: 1e-6 }, device: 'slowest-route-rate', meta: { tsMs: MAX_DEVICE_TS_MS }, atLimit: false },
    ];
    try {
      for (const c of cases) {
        const job = await startJobGateway({ model: c.m, route: { sensor: 'imu', codec: 'json', detector: IMU_DETECTOR, ...c.route }, deviceId: 'devices', t0: T0 });
        try {
          await publishAsync(job.dev, job.gw.topics.sensor(c.device, 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0, ...c.meta }));
          await waitFor(() => job.gw.metrics.counters.messages_total === 1, 'the message at the gateway');
          (job.gw.clock as ManualClock).advance(5); // threw RangeError: Invalid time value
          const expected = oracleAlerts(c.m, x, IMU_DETECTOR, { site: 'home', device: c.device, sensor: 'imu', streamStartMs: T0 });
          expect(expected.length).toBeGreaterThan(0);
          await waitFor(() => job.received.length >= expected.length, `the alerts of ${c.device}`);
          expect(job.received.map((a) => a.id)).toEqual(expected.map((a) => a.id));
          expect(job.received.every((a) => a.tsMs <= MAX && a.evidence.toMs <= MAX)).toBe(true);
          if (c.atLimit) expect(job.received.at(-1)).toMatchObject({ ts: '+275760-09-13T00:00:00.000Z', tsMs: MAX });
        } finally {
          await job.stop();
          fs.rmSync(job.gw.config.stateDir, { recursive: true, force: true });
        }
      }
    } finally {
      noRate.dispose();
    }
  });
});

// The gateway resamples each device to its model's rate. A device announcing rateHz 1e-4 to this
// 50 Hz model asked for 500,000 samples per sample: one message held the event loop, every
// device's, for about 2 s (and below ~1e-6 Hz the resampler's array could not be allocated).
describe('device rates that would need upsampling by more than 100', () => {
  it('a payload rateHz below 0.5 Hz (model 50 Hz) is dead-lettered; 0.5 Hz is served; the others go on', async () => {
    const job = await startJobGateway({ model, route: { sensor: 'imu', codec: 'json', detector: IMU_DETECTOR }, deviceId: 'devices', t0: T0 });
    try {
      const x = imuSignal(30, 1, [[5, 25]]);
      await publishAsync(job.dev, job.gw.topics.sensor('slow', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0, tsMs: T0, rateHz: 0.1 }));
      await publishAsync(job.dev, job.gw.topics.sensor('half-hertz', 'imu'), encodeJson(x.subarray(0, 2 * IMU_CHANNELS), IMU_CHANNELS, { seq: 0, tsMs: T0, rateHz: 0.5 }));
      await publishAsync(job.dev, job.gw.topics.sensor('good', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0, tsMs: T0 }));
      await waitFor(() => job.gw.metrics.counters.messages_total === 3, 'the three messages at the gateway');
      expect(job.gw.metrics.counters.dead_letters_total).toBe(1);
      (job.gw.clock as ManualClock).advance(5);
      const expected = oracleAlerts(model, x, IMU_DETECTOR, { site: 'home', device: 'good', sensor: 'imu', streamStartMs: T0 });
      await waitFor(() => job.received.filter((a) => a.device === 'good').length >= expected.length, 'the good device alerts');
      expect(job.received.filter((a) => a.device === 'good').map((a) => a.id)).toEqual(expected.map((a) => a.id));
    } finally {
      await job.stop();
      fs.rmSync(job.gw.config.stateDir, { recursive: true, force: true });
    }
  });

  it('a route sampleRateHz below 0.5 Hz for a 50 Hz model is GATEWAY_CONFIG naming routes[0].sampleRateHz', async () => {
    await expect(startJobGateway({ model, route: { sensor: 'imu', codec: 'json', detector: IMU_DETECTOR, sampleRateHz: 0.1 }, deviceId: 'devices', t0: T0 })).rejects.toMatchObject({
      code: 'GATEWAY_CONFIG',
      message: expect.stringMatching(/routes\[0\]\.sampleRateHz: 0\.1 Hz would be resampled to the front end's 50 Hz, 500 samples per sample: at most 100 \(at least 0\.5 Hz\)/),
    });
  });
});
