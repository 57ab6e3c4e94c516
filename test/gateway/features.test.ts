/**
 * Models with src/features front ends behind the gateway: an MFCC keyword-style model fed int16
 * audio frames, and an IMU model on independent windows (resampled 50 -> 25 Hz). Exact against
 * an oracle that computes the features in one batch and runs a plain Session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Rng, type FrontendSpec, type Model } from '../../src/index.js';
import { audioFrontendSpec, createFrontend } from '../../src/features/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { decodeBinary, encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { createSmoothingDetector, createThresholdDetector } from '../../src/gateway/detectors.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { featureModel } from './feature-fixtures.js';

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

async function rig(model: Model, route: Record<string, unknown>) {
  const clock = new ManualClock(1_700_000_000_000);
  const tr = new TraceTransport();
  const config = parseGatewayConfig({ site: 's', models: { m: 'x' }, routes: [{ sensor: 'x', model: 'm', ...route }], stateDir: '', metrics: { intervalMs: 0 } });
  const gw = await Gateway.create({ config, models: { m: model }, clock, transport: tr, logger: memoryLogger('warn') });
  gateways.push(gw);
  const alerts: Alert[] = [];
  gw.on('alert', (a) => alerts.push(a));
  return { gw, clock, tr, alerts };
}

describe('src/features front ends in the gateway', () => {
  it('MFCC on int16 audio frames: state and alerts as the batch features through a plain session', async () => {
    const spec = audioFrontendSpec('mfcc', { nMfcc: 10 });
    const rng = new Rng(5);
    const sr = 16000;
    // 1.2 s: noise, then a 1 kHz tone burst, then noise.
    const audio = new Float32Array(Math.round(1.2 * sr)).map((_, i) => 0.05 * rng.normal() + (i > 0.4 * sr && i < 0.8 * sr ? 0.5 * Math.sin((2 * Math.PI * 1000 * i) / sr) : 0));
    // What the wire carries: int16 codes; what the gateway decodes: code / 32768.
    const frames = Array.from({ length: 12 }, (_, m) => encodeBinary(audio.subarray(m * 1600, (m + 1) * 1600), 1, { type: 'int16', seq: m, rateHz: sr }));
    const decoded = new Float32Array(audio.length);
    frames.forEach((f, m) => decoded.set(decodeBinary(f, { channels: 1, int16Scale: 1 / 32768, maxSamples: 1e6 }).values, m * 1600));
    const feats = createFrontend(spec).batch(decoded);
    expect(feats.count).toBe(118);
    const model = await featureModel(10, spec as unknown as FrontendSpec, feats.data, 21);
    // Oracle outputs; the threshold sits between the typical and the highest smoothed posterior
    // (the weights are random: what matters is that gateway and oracle agree).
    const s = model.session();
    const y = s.run(feats.data);
    const smoothed: number[] = [];
    for (let t = 4; t < feats.count; t++) smoothed.push([0, 1, 2, 3, 4].reduce((a, k) => a + y[2 * (t - k) + 1]!, 0) / 5);
    const sorted = [...smoothed].sort((a, b) => a - b);
    const threshold = 0.5 * sorted[sorted.length >> 1]! + 0.5 * sorted[sorted.length - 1]!;
    const detector = { kind: 'smoothing', window: 5, threshold, background: ['background'], refractorySteps: 20 } as const;
    const { gw, clock, tr, alerts } = await rig(model, { codec: 'binary', channels: 1, detector });
    for (const f of frames) tr.deliver(gw.topics.sensor('mic-1', 'x'), f);
    clock.advance(5);
    const det = createSmoothingDetector({ ...detector, background: [...detector.background] }, { labels: model.labels, outputSize: 2, inputSize: 10, path: 'oracle' });
    const want: number[] = [];
    for (let t = 0; t < feats.count; t++) if (det.step(y.subarray(2 * t, 2 * t + 2), feats.data.subarray(10 * t, 10 * t + 10))) want.push(t + 1);
    expect(gw.metrics.counters.frames_total).toBe(feats.count);
    expect(gw.streams.get('mic-1/x')!.session.exportState()).toEqual(s.exportState());
    expect(alerts.map((a) => a.frameIndex)).toEqual(want);
    expect(want.length).toBeGreaterThan(0);
  });

  it('IMU windows (independent, from a reset state), resampled 50 -> 25 Hz by the front end', async () => {
    const spec = {
      kind: 'imu',
      inputRateHz: 50,
      rateHz: 25,
      resampler: 'linear',
      channels: ['ax', 'ay', 'az'].map((name) => ({ name, unit: 'g' })),
      accelUnit: 'm/s2',
      gyroUnit: 'rad/s',
      windowSize: 8,
      hop: 4,
    };
    const rng = new Rng(9);
    const x = new Float32Array(400 * 3).map((_, i) => 0.2 * rng.normal() + (i % 3 === 0 && i > 600 && i < 800 ? 1.5 : 0));
    const fe = createFrontend(spec);
    const windows = fe.batch(x);
    expect(windows.framesPerOutput).toBe(8);
    const model = await featureModel(3, spec as unknown as FrontendSpec, windows.data, 33);
    const detector = { kind: 'threshold', output: 'event', on: 0.5, off: 0.5, minSteps: 1, refractorySteps: 0 } as const;
    const { gw, clock, tr, alerts } = await rig(model, { codec: 'json', channels: 3, detector });
    for (let m = 0; m < 40; m++) tr.deliver(gw.topics.sensor('arm', 'x'), encodeJson(x.subarray(m * 30, (m + 1) * 30), 3, { seq: m }));
    clock.advance(5);
    // Oracle: every window from a fresh state; the detector sees the window's last output.
    const det = createThresholdDetector({ ...detector, score: 'output' }, { labels: model.labels, outputSize: 2, inputSize: 3, path: 'oracle' });
    const want: number[] = [];
    let last: Uint8Array = new Uint8Array(0);
    for (let k = 0; k < windows.count; k++) {
      const s = model.session();
      const w = windows.data.subarray(k * 24, (k + 1) * 24);
      const y = s.run(w);
      // frameIndex: the stream's frame (25 Hz) that ends the window, 1-based: window k ends at frame k·hop + windowSize.
      if (det.step(y.subarray(14, 16), w.subarray(21, 24))) want.push(k * 4 + 8);
      if (k === windows.count - 1) last = s.exportState();
      s.dispose();
    }
    expect(gw.metrics.counters.frames_total).toBe(windows.count * 8);
    // The step count in the state header restarts with each window, as in the oracle.
    expect(gw.streams.get('arm/x')!.session.exportState()).toEqual(last);
    expect(alerts.map((a) => a.frameIndex)).toEqual(want);
    expect(want.length).toBeGreaterThan(0);
  });

  it('MFCC in sliding windows (input.frontend.windows): each window from a reset state, and backpressure drops whole windows of hop samples', async () => {
    const spec = { ...audioFrontendSpec('mfcc', { nMfcc: 10 }), windows: { frames: 20, hop: 5 } };
    const rng = new Rng(6);
    const sr = 16000;
    const audio = new Float32Array(Math.round(1.2 * sr)).map((_, i) => 0.05 * rng.normal() + (i > 0.4 * sr && i < 0.8 * sr ? 0.5 * Math.sin((2 * Math.PI * 700 * i) / sr) : 0));
    const msgs = Array.from({ length: 12 }, (_, m) => encodeJson(audio.subarray(m * 1600, (m + 1) * 1600), 1, { seq: m }));
    const windows = createFrontend(spec).batch(audio);
    expect([windows.count, windows.framesPerOutput]).toEqual([1 + Math.floor((118 - 20) / 5), 20]);
    const model = await featureModel(10, spec as unknown as FrontendSpec, windows.data, 41);
    // Oracle: each window from a reset state, its last output; the threshold sits between the
    // median and the highest of them (random weights: what matters is that gateway and oracle agree).
    const s = model.session();
    const last = Array.from({ length: windows.count }, (_, k) => {
      s.reset();
      const y = s.run(windows.data.subarray(k * 200, (k + 1) * 200));
      return y.slice(38, 40);
    });
    const sorted = last.map((y) => y[1]!).sort((a, b) => a - b);
    const on = 0.5 * sorted[sorted.length >> 1]! + 0.5 * sorted[sorted.length - 1]!;
    const detector = { kind: 'threshold', output: 1, on, off: on, minSteps: 1, refractorySteps: 0 } as const;
    const { gw, clock, tr, alerts } = await rig(model, { codec: 'json', channels: 1, detector });
    for (const m of msgs) tr.deliver(gw.topics.sensor('mic-2', 'x'), m);
    clock.advance(5);
    const det = createThresholdDetector({ ...detector, score: 'output' }, { labels: model.labels, outputSize: 2, inputSize: 10, path: 'oracle' });
    const want: number[] = [];
    last.forEach((y, k) => {
      // The stream's MFCC frame that ends window k (1-based), not the frames stepped ((k + 1) · 20).
      if (det.step(y, windows.data.subarray(k * 200 + 190, (k + 1) * 200))) want.push(k * 5 + 20);
    });
    expect(gw.metrics.counters.frames_total).toBe(windows.count * 20);
    expect(alerts.map((a) => a.frameIndex)).toEqual(want);
    expect(want.length).toBeGreaterThan(0);
    // A queue of 50 frames holds 2 windows: the whole 1.2 s at once overflows, and each dropped
    // window loses the 5 frames (800 samples) it advanced by, not one frame's 160.
    const small = { clock: new ManualClock(1_700_000_000_000), tr: new TraceTransport() };
    const cfg = parseGatewayConfig({ site: 's', models: { m: 'x' }, routes: [{ sensor: 'x', model: 'm', codec: 'json', channels: 1, detector }], stateDir: '', metrics: { intervalMs: 0 }, limits: { maxQueuedFrames: 50, maxPayloadBytes: 1 << 20 } });
    const tight = await Gateway.create({ config: cfg, models: { m: model }, clock: small.clock, transport: small.tr, logger: memoryLogger('warn') });
    gateways.push(tight);
    small.tr.deliver(tight.topics.sensor('mic-3', 'x'), encodeJson(audio, 1, { seq: 0 }));
    small.clock.advance(5);
    const dropped = tight.metrics.counters.dropped_samples_total;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped % 800).toBe(0);
    expect(dropped / 800 + tight.metrics.counters.frames_total / 20).toBe(windows.count);
    // Dropped windows still advance the position: the last window stepped ends at the stream's last full window.
    expect(tight.streams.get('mic-3/x')!.frameIndex).toBe((windows.count - 1) * 5 + 20);
  });

  it('names a front end that does not fit the route', async () => {
    const spec = audioFrontendSpec('logmel', { nMels: 20 });
    const model = await featureModel(20, spec as unknown as FrontendSpec, new Float32Array(20).fill(1), 1);
    await expect(rig(model, { codec: 'binary', channels: 2 })).rejects.toThrow(/routes\[0\].channels must be 1 \(the model's logmel front end reads 1-value samples\), got 2/);
  });
});
