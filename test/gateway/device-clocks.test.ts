/**
 * Devices with real clocks and counters, through the embedded broker (2026-11-27 hunt):
 * - a `ts` before 2000 (a clock not set yet: ts 0 at boot, a counter since boot, or seconds sent
 *   as ms) stamped alerts in January 1970, and under maxSilenceMs the jump to real time was a
 *   54-year "silence" (a reset) while seconds hid every real one: it is now arrival time;
 * - a `ts` in µs (1.7e15) was taken as ms, alerts in the year 56,000 and, under maxSilenceMs, a
 *   stream epoch per message: it is refused like ns;
 * - a device restarting its counter at 1 (or whose first messages after a reboot were lost) had
 *   every message dropped as a duplicate until it passed its old number;
 * - a message without `ts` held for a gap was stamped with the arrival of the message that
 *   released it (or the moment the gap was given up), not its own.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import type { ManualClock } from '../../src/gateway/clock.js';
import { decodeBinary, decodeCsv, encodeBinary, encodeCsv, encodeJson, MAX_DEVICE_TS_MS } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { replayTrace, scoreAlerts, type TraceRecord } from '../../src/gateway/trace.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts, publishAsync, startJobGateway, waitFor, type JobGateway } from './fixtures.js';

const T0 = 1_700_000_000_000;
/** 20 samples per message at the IMU model's 50 Hz: 400 ms of data. */
const N = 20;

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

async function withJob(route: Record<string, unknown>, use: (job: JobGateway, clock: ManualClock) => Promise<void>): Promise<void> {
  const job = await startJobGateway({ model, route: { sensor: 'imu', codec: 'json', detector: IMU_DETECTOR, ...route }, deviceId: 'devices', t0: T0 });
  try {
    await use(job, job.gw.clock as ManualClock);
  } finally {
    await job.stop();
    fs.rmSync(job.gw.config.stateDir, { recursive: true, force: true });
  }
}

/** Publishes `payload` and waits until the gateway has taken it (messages_total), then lets the pump step it. */
async function send(job: JobGateway, clock: ManualClock, device: string, payload: Uint8Array): Promise<void> {
  const before = job.gw.metrics.counters.messages_total;
  await publishAsync(job.dev, job.gw.topics.sensor(device, 'imu'), payload);
  await waitFor(() => job.gw.metrics.counters.messages_total > before, 'the message at the gateway');
  clock.advance(5);
}

describe('device clocks that are not set', () => {
  it('a ts before 2000 (0 at boot, seconds) is taken as arrival time: no alert stamped 1970, no reset for the jump to real time', async () => {
    await withJob({ maxSilenceMs: 60_000 }, async (job, clock) => {
      const x = imuSignal(6 * N, 3, [[50, 60], [110, 120]]);
      const part = (m: number) => x.subarray(m * N * IMU_CHANNELS, (m + 1) * N * IMU_CHANNELS);
      const arrivals: number[] = [];
      for (let m = 0; m < 6; m++) {
        clock.advance(400);
        arrivals.push(clock.now());
        // Booting: ts 0 for three messages, then the device has time (1.7e12, 2023): no pause at all.
        const tsMs = m < 3 ? 0 : T0 + 100_000 + m * 400;
        await send(job, clock, 'booting', encodeJson(part(m), IMU_CHANNELS, { seq: m, tsMs }));
      }
      const expected = oracleAlerts(model, x, IMU_DETECTOR, { site: 'home', device: 'booting', sensor: 'imu', streamStartMs: arrivals[0]! });
      expect(expected.length).toBeGreaterThan(1);
      await waitFor(() => job.received.length >= expected.length, 'the alerts');
      // One stream epoch: the first alerts' ids are those of an uninterrupted stream.
      expect(job.received.map((a) => a.id)).toEqual(expected.map((a) => a.id));
      expect(job.gw.metrics.counters.resets_total).toBe(0);
      expect(job.gw.metrics.counters.unset_device_time_total).toBe(3);
      for (const a of job.received) {
        const m = Math.floor((a.frameIndex - 1) / N);
        const start = m < 3 ? arrivals[m]! : T0 + 100_000 + m * 400;
        expect(a.tsMs, `alert at frame ${a.frameIndex}`).toBe(start + ((a.frameIndex - 1) % N) * 20);
        expect(a.ts.startsWith('2023-')).toBe(true);
      }
    });
  });

  it('a device sending seconds: alerts at the arrival time, and a sleep longer than maxSilenceMs still resets the stream', async () => {
    await withJob({ maxSilenceMs: 60_000 }, async (job, clock) => {
      const x = imuSignal(N, 4, [[10, 18]]);
      const s0 = Math.floor(T0 / 1000);
      clock.advance(400);
      const first = clock.now();
      await send(job, clock, 'seconds', encodeJson(x, IMU_CHANNELS, { seq: 0, tsMs: s0 }));
      await waitFor(() => job.received.length >= 1, 'the first alert');
      expect(job.received[0]!.tsMs - first).toBeGreaterThanOrEqual(0);
      expect(job.received[0]!.tsMs - first).toBeLessThan(N * 20);
      // Ten minutes later (600 "ms" in the device's seconds): a new epoch.
      clock.advance(600_000);
      await send(job, clock, 'seconds', encodeJson(x, IMU_CHANNELS, { seq: 1, tsMs: s0 + 600 }));
      expect(job.gw.metrics.counters.resets_total).toBe(1);
      expect(job.gw.metrics.counters.unset_device_time_total).toBe(2);
    });
  });

  it('a ts in µs is refused (dead letter) in every codec, as ns is; the last ms of the year 9999 is taken', async () => {
    const US = (T0 + 123) * 1000;
    await withJob({}, async (job, clock) => {
      const x = imuSignal(N, 5, [[10, 18]]);
      await send(job, clock, 'micros', encodeJson(x, IMU_CHANNELS, { seq: 0, tsMs: US }));
      expect(job.gw.metrics.counters.dead_letters_total).toBe(1);
      expect(job.gw.streams.has('micros/imu')).toBe(false);
      await send(job, clock, 'far', encodeJson(x, IMU_CHANNELS, { seq: 0, tsMs: MAX_DEVICE_TS_MS - 1000 }));
      await waitFor(() => job.received.length >= 1, 'the alert of the year 9999');
      expect(job.received[0]!.ts.startsWith('9999-12-31T23:59:59')).toBe(true);
      expect(job.gw.metrics.counters.dead_letters_total).toBe(1);
    });
    const O = { channels: IMU_CHANNELS, int16Scale: 1 / 32768, maxSamples: 1000 };
    const x = imuSignal(2, 5);
    expect(() => decodeBinary(encodeBinary(x, IMU_CHANNELS, { tsMs: US }), O)).toThrow(/binary frame ts 1700000000123000 is not a time in ms since epoch up to the year 9999 \(not µs or ns\)/);
    expect(() => decodeCsv(encodeCsv(x, IMU_CHANNELS, { tsMs: US }), O)).toThrow(/CSV "ts" 1700000000123000 is after the year 9999: expected ms since epoch \(not µs or ns\)/);
    expect(() => decodeCsv(new TextEncoder().encode('# ts=+010000-01-01T00:00:00Z\n1,2,3,4,5,6\n'), O)).toThrow(/"ts" must be ms since epoch or an ISO date/);
  });
});

describe('device counters after a reboot', () => {
  it('a counter restarting at 1 (or at 3: its first messages lost) is a restart, one reset, not duplicates until it passes its old number', async () => {
    await withJob({}, async (job, clock) => {
      const old = imuSignal(N, 6);
      // 300 messages before the reboot (more than 16, fewer than 1024 ahead of the new counter).
      for (let m = 0; m < 300; m++) await publishAsync(job.dev, job.gw.topics.sensor('rebooting', 'imu'), encodeJson(old, IMU_CHANNELS, { seq: m }));
      await waitFor(() => job.gw.metrics.counters.messages_total === 300, 'the old run at the gateway');
      clock.advance(1000);
      expect(job.received).toEqual([]);
      const framesBefore = job.gw.metrics.counters.frames_total;
      const x = imuSignal(5 * N, 7, [[30, 40]]);
      for (let m = 0; m < 5; m++) await send(job, clock, 'rebooting', encodeJson(x.subarray(m * N * IMU_CHANNELS, (m + 1) * N * IMU_CHANNELS), IMU_CHANNELS, { seq: 1 + m }));
      const c = job.gw.metrics.counters;
      expect(c.duplicates_total).toBe(0);
      expect(c.resets_total).toBe(1);
      expect(c.frames_total - framesBefore).toBe(5 * N);
      // From a fresh state: the alerts of the new run alone.
      const expected = oracleAlerts(model, x, IMU_DETECTOR, { site: 'home', device: 'rebooting', sensor: 'imu', streamStartMs: 0 });
      expect(expected.length).toBeGreaterThan(0);
      await waitFor(() => job.received.length >= expected.length, 'the alerts after the reboot');
      expect(job.received.map((a) => a.frameIndex)).toEqual(expected.map((a) => a.frameIndex));
      // Its first messages lost: the counter comes back at 3.
      for (let m = 0; m < 3; m++) await send(job, clock, 'lost-first', encodeJson(old, IMU_CHANNELS, { seq: 100 + m }));
      for (let m = 3; m < 6; m++) await send(job, clock, 'lost-first', encodeJson(old, IMU_CHANNELS, { seq: m }));
      expect(c.duplicates_total).toBe(0);
      expect(c.resets_total).toBe(2);
      expect(job.gw.streams.get('lost-first/imu')!.lastSeq).toBe(5);
    });
  });
});

describe('messages without ts put back in order', () => {
  it('a held message keeps its own arrival time: its alert is not stamped when the gap filled, nor when it was given up', async () => {
    await withJob({}, async (job, clock) => {
      const quiet = imuSignal(N, 8);
      const x = imuSignal(N, 9, [[5, 10]]);
      // Gap filled: message 2 arrives 1 s before message 1.
      await send(job, clock, 'filled', encodeJson(quiet, IMU_CHANNELS, { seq: 0 }));
      const arrived2 = clock.now();
      await send(job, clock, 'filled', encodeJson(x, IMU_CHANNELS, { seq: 2 }));
      clock.advance(1000);
      await send(job, clock, 'filled', encodeJson(quiet, IMU_CHANNELS, { seq: 1 }));
      await waitFor(() => job.received.length >= 1, 'the alert of the held message');
      const a = job.received[0]!;
      expect(a).toMatchObject({ device: 'filled', seq: 2 });
      expect(a.tsMs).toBe(arrived2 + ((a.frameIndex - 1) % N) * 20);
      // Gap given up after reorderTimeoutMs (default 2 s): the message is still stamped at its arrival.
      await send(job, clock, 'given-up', encodeJson(quiet, IMU_CHANNELS, { seq: 0 }));
      const arrived = clock.now();
      await send(job, clock, 'given-up', encodeJson(x, IMU_CHANNELS, { seq: 2 }));
      clock.advance(job.gw.config.limits.reorderTimeoutMs + 2000);
      await waitFor(() => job.received.length >= 2, 'the alert after the gap was given up');
      const b = job.received[1]!;
      expect(b).toMatchObject({ device: 'given-up', seq: 2 });
      expect(b.tsMs).toBe(arrived + ((b.frameIndex - 1) % N) * 20);
      expect(job.gw.metrics.counters.missing_total).toBe(1);
    });
  });
});

describe('replay and scoring', () => {
  it('a device without time yet (ts 0) is scored against truth in recorder time: its impact is a hit, not a false alarm in 1970 and a miss', async () => {
    const x = imuSignal(10 * N, 10, [[130, 140]]);
    const records: TraceRecord[] = Array.from({ length: 10 }, (_, m) => ({
      t: T0 + m * 400,
      topic: 'edgernn/home/booting/imu',
      qos: 1,
      payload: encodeJson(x.subarray(m * N * IMU_CHANNELS, (m + 1) * N * IMU_CHANNELS), IMU_CHANNELS, { seq: m, tsMs: 0 }),
    }));
    const config = parseGatewayConfig({ site: 'home', models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], metrics: { intervalMs: 0 } });
    const runs = [];
    for (let i = 0; i < 2; i++) runs.push(await replayTrace({ config, records, speed: 'max', gateway: { models: { imu: model } } }));
    const { alerts } = runs[0]!;
    expect(alerts.length).toBeGreaterThan(0);
    expect(runs[1]!.alerts.map((a) => a.id)).toEqual(alerts.map((a) => a.id));
    expect(runs[0]!.counters.unset_device_time_total).toBe(10);
    const truth = [{ device: 'booting', startMs: T0 + 130 * 20, endMs: T0 + 140 * 20 }];
    expect(scoreAlerts(alerts, truth, { fromMs: T0, toMs: T0 + 3600, toleranceMs: 500, devices: 1 })).toMatchObject({ hits: 1, misses: 0, falseAlarms: 0 });
  });
});
