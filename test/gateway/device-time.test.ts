/**
 * Device times a JavaScript Date cannot hold: a device whose clock sends nanoseconds
 * (ts 1.7e18) made the alert's ISO time throw RangeError inside the stepping round, an uncaught
 * exception that took the gateway (and every other device's alerts of that round) down. Such a
 * payload is a decode error (dead letter); the other devices' alerts are raised as before.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { decodeBinary, decodeCsv, encodeBinary, encodeCsv, encodeJson } from '../../src/gateway/codecs.js';
import type { ManualClock } from '../../src/gateway/clock.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts, publishAsync, startJobGateway, waitFor } from './fixtures.js';

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
      expect(() => decodeCsv(encodeCsv(x, IMU_CHANNELS, { tsMs: NS }), O)).toThrow(/"ts" 1700000000000000000 is past the year 275760/);
    } finally {
      await job.stop();
      fs.rmSync(job.gw.config.stateDir, { recursive: true, force: true });
    }
  });
});
