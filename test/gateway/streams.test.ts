/**
 * Device streams through the real pipeline on an in-memory transport and a manual clock:
 * sequence numbers (duplicates, reordering, gaps, resets, restarts), backpressure, device cap
 * and idle eviction with exact state restore, non-finite and oversized payloads, resampling.
 * "Exact" means the stream's recurrent state equals, byte for byte, a plain Session's that
 * stepped the same frames in order.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts } from './fixtures.js';

const T0 = 1_700_000_000_000;
let model: Model;

beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});

interface Rig {
  gw: Gateway;
  clock: ManualClock;
  tr: TraceTransport;
  alerts: Alert[];
  send(device: string, samples: Float32Array, seq?: number, extra?: { rateHz?: number }): void;
  /** Runs the pump (and every due timer). */
  step(ms?: number): void;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.gw.stop();
});

async function rig(overrides: Record<string, unknown> = {}, routeExtra: Record<string, unknown> = {}): Promise<Rig> {
  const clock = new ManualClock(T0);
  const tr = new TraceTransport();
  const config = parseGatewayConfig({
    site: 's',
    models: { imu: 'imu.ern' },
    routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR, ...routeExtra }],
    stateDir: '',
    metrics: { intervalMs: 0 },
    ...overrides,
  });
  const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger: memoryLogger('warn'), stateStore: memoryStateStore() });
  const alerts: Alert[] = [];
  gw.on('alert', (a) => alerts.push(a));
  const r: Rig = {
    gw,
    clock,
    tr,
    alerts,
    send(device, samples, seq, extra = {}) {
      tr.deliver(gw.topics.sensor(device, 'imu'), encodeJson(samples, IMU_CHANNELS, { ...(seq !== undefined ? { seq } : {}), ...extra }));
    },
    step(ms = 5) {
      clock.advance(ms);
    },
  };
  rigs.push(r);
  return r;
}

/** A plain session's state after stepping these frames in order. */
function oracleState(x: Float32Array): Uint8Array {
  const s = model.session();
  for (let t = 0; t < x.length / IMU_CHANNELS; t++) s.step(x.subarray(t * IMU_CHANNELS, (t + 1) * IMU_CHANNELS));
  const st = s.exportState();
  s.dispose();
  return st;
}

function streamState(g: Gateway, device: string): Uint8Array {
  return g.streams.get(`${device}/imu`)!.session.exportState();
}

const chunk = (x: Float32Array, m: number, per = 10) => x.subarray(m * per * IMU_CHANNELS, (m + 1) * per * IMU_CHANNELS);

describe('sequence numbers', () => {
  it('drops duplicates and puts a shuffled window back in order: state and alerts as if in order', async () => {
    const r = await rig({ limits: { reorderWindow: 4 } });
    const x = imuSignal(300, 11, [[100, 120], [200, 215]]);
    // Order: the first message, then each group of 3 reversed; every message is sent twice.
    // (The first message a gateway sees starts the stream: earlier numbers would be duplicates.)
    const order: number[] = [0];
    for (let g = 1; g < 30; g += 3) order.push(...[g + 2, g + 1, g].filter((m) => m < 30));
    for (const m of order) {
      r.send('d1', chunk(x, m), m);
      r.send('d1', chunk(x, m), m);
    }
    r.step();
    const c = r.gw.metrics.counters;
    expect(c.duplicates_total).toBe(30);
    expect(c.reordered_total).toBeGreaterThan(0);
    expect(c.missing_total).toBe(0);
    expect(c.frames_total).toBe(300);
    expect(streamState(r.gw, 'd1')).toEqual(oracleState(x));
    expect(r.alerts.map((a) => a.id)).toEqual(oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: T0 }).map((o) => o.id));
  });

  it('counts a short gap and keeps the state; a long gap resets it (new epoch in alert ids)', async () => {
    const r = await rig({ limits: { reorderWindow: 2, maxGap: 3 } });
    const x = imuSignal(400, 12, [[350, 370]]);
    for (let m = 0; m < 10; m++) r.send('d1', chunk(x, m), m);
    // Messages 10 and 11 never come (gap 2 <= maxGap): given up once 3 later ones are held.
    for (let m = 12; m < 20; m++) r.send('d1', chunk(x, m), m);
    r.step();
    expect(r.gw.metrics.counters.missing_total).toBe(2);
    expect(r.gw.metrics.counters.resets_total).toBe(0);
    const kept = new Float32Array([...x.subarray(0, 100 * IMU_CHANNELS), ...x.subarray(120 * IMU_CHANNELS, 200 * IMU_CHANNELS)]);
    expect(streamState(r.gw, 'd1')).toEqual(oracleState(kept));
    // Then 20..29 are lost (gap 10 > maxGap): the stream restarts at 30 from a fresh state.
    const atReset = T0 + 5;
    for (let m = 30; m < 40; m++) r.send('d1', chunk(x, m), m);
    r.step();
    expect(r.gw.metrics.counters.missing_total).toBe(12);
    expect(r.gw.metrics.counters.resets_total).toBe(1);
    const after = x.subarray(300 * IMU_CHANNELS, 400 * IMU_CHANNELS);
    expect(streamState(r.gw, 'd1')).toEqual(oracleState(after));
    const expected = oracleAlerts(model, after, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: atReset, epoch: 1 });
    expect(expected.length).toBeGreaterThan(0);
    expect(r.alerts.map((a) => a.id)).toEqual(expected.map((e) => e.id));
  });

  it('gives up a gap after reorderTimeoutMs on the clock', async () => {
    const r = await rig({ limits: { reorderWindow: 8, reorderTimeoutMs: 500 } });
    const x = imuSignal(50, 13);
    r.send('d1', chunk(x, 0), 0);
    r.send('d1', chunk(x, 2), 2);
    r.step();
    expect(r.gw.metrics.counters.frames_total).toBe(10);
    r.step(400);
    expect(r.gw.metrics.counters.frames_total).toBe(10);
    r.step(700);
    expect(r.gw.metrics.counters.missing_total).toBe(1);
    expect(r.gw.metrics.counters.frames_total).toBe(20);
  });

  it('treats a counter back at 0 as a device restart', async () => {
    const r = await rig();
    const x = imuSignal(400, 14);
    for (let m = 0; m < 20; m++) r.send('d1', chunk(x, m), m);
    r.step();
    for (let m = 0; m < 5; m++) r.send('d1', chunk(x, 20 + m), m);
    r.step();
    expect(r.gw.metrics.counters.resets_total).toBe(1);
    expect(r.gw.metrics.counters.duplicates_total).toBe(0);
    expect(streamState(r.gw, 'd1')).toEqual(oracleState(x.subarray(200 * IMU_CHANNELS, 250 * IMU_CHANNELS)));
  });
});

describe('backpressure and bounded memory', () => {
  it('a flooding device loses its oldest frames (counted); a quiet device loses nothing', async () => {
    const r = await rig({ limits: { maxQueuedFrames: 50 } });
    const flood = imuSignal(1000, 15);
    const quiet = imuSignal(40, 16);
    // Nothing is stepped until the clock moves: the flood piles up.
    for (let m = 0; m < 100; m++) r.send('flood', chunk(flood, m), m);
    for (let m = 0; m < 4; m++) r.send('quiet', chunk(quiet, m), m);
    expect(r.gw.metrics.counters.dropped_samples_total).toBe(950);
    r.step();
    expect(r.gw.metrics.counters.frames_total).toBe(50 + 40);
    expect(streamState(r.gw, 'quiet')).toEqual(oracleState(quiet));
    // The flood kept its newest 50 frames.
    expect(streamState(r.gw, 'flood')).toEqual(oracleState(flood.subarray(950 * IMU_CHANNELS)));
  });

  it('evicts beyond maxDevices and when idle, and a returning device continues exactly', async () => {
    const r = await rig({ limits: { maxDevices: 2, idleEvictMs: 60_000 } });
    const xs = [imuSignal(200, 21), imuSignal(200, 22), imuSignal(200, 23)];
    for (let m = 0; m < 10; m++) for (let d = 0; d < 3; d++) r.send(`d${d}`, chunk(xs[d]!, m), m);
    r.step();
    expect(r.gw.streams.size).toBeLessThanOrEqual(2);
    expect(r.gw.metrics.counters.evictions_total).toBeGreaterThan(10);
    expect(r.gw.metrics.counters.state_restores_total).toBeGreaterThan(10);
    for (let d = 0; d < 2; d++) {
      if (r.gw.streams.has(`d${d}/imu`)) expect(streamState(r.gw, `d${d}`)).toEqual(oracleState(xs[d]!.subarray(0, 100 * IMU_CHANNELS)));
    }
    // Idle: after a minute without messages everything is evicted; then d0 comes back.
    r.step(61_000);
    r.step(1_000);
    expect(r.gw.streams.size).toBe(0);
    for (let m = 10; m < 20; m++) r.send('d0', chunk(xs[0]!, m), m);
    r.step();
    expect(streamState(r.gw, 'd0')).toEqual(oracleState(xs[0]!));
    expect(r.gw.metrics.counters.missing_total).toBe(0);
  });
});

describe('garbage on the wire', () => {
  it('dead-letters malformed, oversized and NaN payloads with the reason; other devices are unaffected', async () => {
    const r = await rig({ limits: { maxPayloadBytes: 4096 } });
    const dead: string[] = [];
    r.gw.on('deadLetter', (d) => dead.push(d.reason));
    const x = imuSignal(100, 31);
    const topic = r.gw.topics.sensor('bad', 'imu');
    for (let m = 0; m < 10; m++) {
      r.send('good', chunk(x, m), m);
      r.tr.deliver(topic, new TextEncoder().encode('{"values": [[1,2,3'));
      r.tr.deliver(topic, new Uint8Array(5000));
      r.tr.deliver(topic, encodeJson(Float32Array.from([1, 2, NaN, 4, 5, 6]), IMU_CHANNELS, { seq: m }));
      r.tr.deliver(topic, encodeBinary(chunk(x, m), IMU_CHANNELS));
    }
    r.step();
    const c = r.gw.metrics.counters;
    expect(c.decode_errors_total).toBe(20);
    expect(c.oversized_total).toBe(10);
    expect(c.non_finite_total).toBe(10);
    expect(c.dead_letters_total).toBe(40);
    expect(dead).toContain('json: not JSON: ' + dead.find((d) => d.startsWith('json: not JSON'))!.slice('json: not JSON: '.length));
    expect(dead.some((d) => /exceeds limits.maxPayloadBytes \(4096\)/.test(d))).toBe(true);
    expect(dead.some((d) => /sample 0 channel 2 is NaN/.test(d))).toBe(true);
    const published = r.tr.published.filter((p) => p.topic === r.gw.topics.deadLetter).map((p) => JSON.parse(new TextDecoder().decode(p.payload)) as { topic: string; reason: string; code: string });
    expect(published.length).toBe(40);
    expect(published[0]).toMatchObject({ topic, code: 'PAYLOAD_DECODE' });
    expect(streamState(r.gw, 'good')).toEqual(oracleState(x));
  });

  it('repairs NaN with nonFinite "hold" instead', async () => {
    const r = await rig({}, { nonFinite: 'hold' });
    const x = imuSignal(20, 32);
    const holed = x.slice();
    holed[10 * IMU_CHANNELS + 2] = NaN;
    r.send('d', holed.subarray(0, 10 * IMU_CHANNELS), 0);
    r.send('d', holed.subarray(10 * IMU_CHANNELS), 1);
    r.step();
    const fixed = x.slice();
    fixed[10 * IMU_CHANNELS + 2] = x[9 * IMU_CHANNELS + 2]!;
    expect(streamState(r.gw, 'd')).toEqual(oracleState(fixed));
  });
});

describe('resampling', () => {
  it('a 100 Hz device feeds a 50 Hz model every other sample (linear interpolation at integer ratio)', async () => {
    const r = await rig();
    const x = imuSignal(200, 41);
    for (let m = 0; m < 20; m++) r.send('d', chunk(x, m), m, { rateHz: 100 });
    r.step();
    // Outputs sit at input positions 0, 2, ..., 198 (each emitted once the next sample arrived).
    const expected = new Float32Array(100 * IMU_CHANNELS);
    for (let j = 0; j < 100; j++) expected.set(x.subarray(2 * j * IMU_CHANNELS, (2 * j + 1) * IMU_CHANNELS), j * IMU_CHANNELS);
    expect(r.gw.metrics.counters.frames_total).toBe(100);
    expect(streamState(r.gw, 'd')).toEqual(oracleState(expected));
  });
});
