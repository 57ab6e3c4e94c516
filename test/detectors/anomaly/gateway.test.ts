/**
 * The anomaly detector and the series front end inside the MQTT gateway (in-process
 * TraceTransport, manual clock), with the shipped models/anomaly.ern: alerts equal an oracle that
 * runs the front end in one batch, a plain session and a ForecastAnomalyDetector.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  anomalyDetectorFactory,
  ForecastAnomalyDetector,
  forecastAnomalyOptionsOf,
  anomalyDetectorConfigOf,
  isEdgeRnnError,
  Rng,
  SeriesFrontend,
  seriesGatewayFrontEnd,
  SyncModelLoader,
  validateSeriesSpec,
  type FrontendSpec,
  type Model,
} from '../../../src/index.js';
import type { Alert } from '../../../src/gateway/alert.js';
import { ManualClock } from '../../../src/gateway/clock.js';
import { encodeJson } from '../../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../../src/gateway/config.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { memoryLogger } from '../../../src/gateway/logger.js';
import { TraceTransport } from '../../../src/gateway/transport.js';

const MODEL = path.resolve(import.meta.dirname, '../../../models/anomaly.ern');
const SERIES: FrontendSpec = { kind: 'series', channels: 1, scaling: { kind: 'standard', mean: [3], std: [2] }, adaptive: { kind: 'ewm', alpha: 0.05, epsilon: 1e-6 }, clip: 8 };
const CTX = { inputSize: 1, rateHz: undefined, channels: 0, path: 'routes[0]' };

function expectThrow(f: () => unknown, code: string, message: RegExp): void {
  try {
    f();
  } catch (e) {
    expect((e as { code?: string }).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected an error');
}

function signal(n: number, seed: number, spikes: number[]): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, (_, t) => 20 + 5 * Math.sin((2 * Math.PI * t) / 48) + 0.3 * rng.normal() + (spikes.some((s) => t >= s && t < s + 2) ? 15 : 0));
}

describe('seriesGatewayFrontEnd', () => {
  it('equals SeriesFrontend bit for bit, in any chunking, and continues exactly after export/import', () => {
    const x = signal(700, 1, [500]);
    const want = new SeriesFrontend(validateSeriesSpec(SERIES)).batch(x).data;
    const fe = seriesGatewayFrontEnd(SERIES, CTX);
    const got: number[] = [];
    const sink = (frame: Float32Array): void => void got.push(frame[0]!);
    let i = 0;
    for (const n of [1, 7, 0, 100, 250]) {
      fe.push(x.subarray(i, i + n), n, sink);
      i += n;
    }
    const saved = fe.exportState();
    const other = seriesGatewayFrontEnd(SERIES, CTX);
    other.importState(saved);
    other.push(x.subarray(i), x.length - i, sink);
    expect(Float32Array.from(got)).toEqual(want);
  });

  it('imports a state handed over as a Node Buffer view (a file or MQTT payload sliced out of a record); it threw RangeError', () => {
    const x = signal(300, 2, []);
    const want = new SeriesFrontend(validateSeriesSpec(SERIES)).batch(x).data;
    const fe = seriesGatewayFrontEnd(SERIES, CTX);
    const got: number[] = [];
    const sink = (frame: Float32Array): void => void got.push(frame[0]!);
    fe.push(x.subarray(0, 123), 123, sink);
    // Small Buffers share Node's pool: this view starts 3 bytes into a larger allocation.
    const record = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(fe.exportState())]);
    const other = seriesGatewayFrontEnd(SERIES, CTX);
    other.importState(record.subarray(3));
    other.push(x.subarray(123), x.length - 123, sink);
    expect(Float32Array.from(got)).toEqual(want);
  });

  it('names bad specs, channel counts and states', () => {
    expectThrow(() => seriesGatewayFrontEnd({ ...SERIES, clip: -1 }, CTX), 'GATEWAY_CONFIG', /routes\[0\]\.model: .*clip/);
    expectThrow(() => seriesGatewayFrontEnd(SERIES, { ...CTX, channels: 2 }), 'GATEWAY_CONFIG', /routes\[0\]\.channels must be 1 \(the model's series front end\), got 2/);
    expectThrow(() => seriesGatewayFrontEnd(SERIES, { ...CTX, inputSize: 3 }), 'GATEWAY_CONFIG', /makes 1-value frames, the model needs 3/);
    const fe = seriesGatewayFrontEnd(SERIES, CTX);
    expectThrow(() => fe.importState(new Uint8Array(5)), 'GATEWAY_STATE', /state must be 24 bytes \(1 channels\), got 5/);
    expectThrow(() => fe.importState(new Uint8Array(Float64Array.of(-1, 0, 0).buffer)), 'GATEWAY_STATE', /negative or fractional sample count/);
  });
});

describe('anomalyDetectorFactory', () => {
  const dctx = { labels: [], outputSize: 1, inputSize: 1, path: 'routes[0].detector' };

  it('rejects unknown or mistyped fields and models that do not forecast their input', () => {
    const f = anomalyDetectorFactory();
    expectThrow(() => f({ kind: 'anomaly', treshold: 1 }, dctx), 'GATEWAY_CONFIG', /routes\[0\]\.detector\.treshold is not a field of an anomaly detector/);
    expectThrow(() => f({ kind: 'anomaly', onThreshold: 'high' }, dctx), 'GATEWAY_CONFIG', /routes\[0\]\.detector\.onThreshold must be a number, got "high"/);
    expectThrow(() => f({ kind: 'anomaly', onThreshold: 0.2, offThreshold: 0.4 }, dctx), 'GATEWAY_CONFIG', /^routes\[0\]\.detector\.offThreshold must be a number in \(0, onThreshold = 0\.2\] \(at 0 an alert never clears\), got 0\.4$/);
    expectThrow(() => f({ kind: 'anomaly', onThreshold: 50, offThreshold: 30 }, dctx), 'GATEWAY_CONFIG', /^routes\[0\]\.detector\.onThreshold must be a number in \(0, 1\] \(the score is in \[0, 1\]\), got 50$/);
    expectThrow(() => f({ kind: 'anomaly', averagingWindow: 1e9 }, dctx), 'GATEWAY_CONFIG', /^routes\[0\]\.detector\.averagingWindow must be an integer in \[1, 100000\], got 1000000000$/);
    expectThrow(() => f({ kind: 'anomaly', errorGain: 0 }, dctx), 'GATEWAY_CONFIG', /^routes\[0\]\.detector\.errorGain must be a finite number > 0, got 0$/);
    expectThrow(() => f({ kind: 'anomaly', channel: 1 }, dctx), 'GATEWAY_CONFIG', /routes\[0\]\.detector\.channel must be < 1/);
    expectThrow(() => f({ kind: 'anomaly' }, { ...dctx, outputSize: 3 }), 'GATEWAY_CONFIG', /needs a forecasting model whose outputs predict its next input: 1 inputs, 3 outputs/);
    const d = f({ kind: 'anomaly' }, dctx);
    expectThrow(() => d.importState({ steps: 1 }), 'GATEWAY_STATE', /anomaly detector: cannot import state/);
  });

  it("refuses a manifest section that is not an object, or has unknown or non-numeric fields (it was dropped for the defaults, or ignored)", () => {
    const spec = (anomalyDetector: unknown) => ({ name: 'fc', extra: { anomalyDetector } });
    const cases: Array<[unknown, string]> = [
      ['strict', `routes[0].detector: model 'fc': extra.anomalyDetector must be an object {errorGain, channel, learningPeriod, estimationSamples, averagingWindow, halfLifeRecords, onThreshold, offThreshold, minHoldSteps}, got "strict"`],
      [{ onTreshold: 0.9 }, `routes[0].detector: model 'fc': extra.anomalyDetector.onTreshold is not a field of an anomaly detector (it takes errorGain, channel, learningPeriod, estimationSamples, averagingWindow, halfLifeRecords, onThreshold, offThreshold, minHoldSteps)`],
      [{ errorGain: '8' }, `routes[0].detector: model 'fc': extra.anomalyDetector.errorGain must be a number, got "8"`],
    ];
    for (const [section, message] of cases) expectThrow(() => anomalyDetectorFactory(spec(section))({ kind: 'anomaly' }, dctx), 'GATEWAY_CONFIG', new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(() => anomalyDetectorFactory(spec({ errorGain: 8, onThreshold: 0.6 }))({ kind: 'anomaly' }, dctx)).not.toThrow();
  });

  it('names each field once, with what it must be and what it got (the field was repeated, or not named for onThreshold and minHoldSteps, and NaN showed as null)', () => {
    const f = anomalyDetectorFactory();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ halfLifeRecords: 0.5 }, 'routes[0].detector.halfLifeRecords must be a finite number >= 1, got 0.5'],
      [{ learningPeriod: -1 }, 'routes[0].detector.learningPeriod must be an integer in [0, 1e9], got -1'],
      [{ onThreshold: -1 }, 'routes[0].detector.onThreshold must be a number in (0, 1] (the score is in [0, 1]), got -1'],
      [{ onThreshold: NaN }, 'routes[0].detector.onThreshold must be a number in (0, 1] (the score is in [0, 1]), got NaN'],
      [{ minHoldSteps: 1.5 }, 'routes[0].detector.minHoldSteps must be an integer >= 0, got 1.5'],
      [{ errorGain: Infinity }, 'routes[0].detector.errorGain must be a finite number > 0, got Infinity'],
    ];
    for (const [fields, message] of cases) expectThrow(() => f({ kind: 'anomaly', ...fields }, dctx), 'GATEWAY_CONFIG', new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  });
});

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

describe('the shipped anomaly model behind the gateway', () => {
  it.skipIf(!fs.existsSync(MODEL))('raises the alerts the oracle raises, on the SIMD kernels', async () => {
    const bytes = new Uint8Array(fs.readFileSync(MODEL));
    const model: Model = new SyncModelLoader({ backend: 'simd' }).load(bytes, MODEL);
    const spec = model.spec;
    const x = signal(1500, 2, [700, 1200]);
    // Oracle: batch front end, one session, the detector with the manifest's defaults.
    const frames = new SeriesFrontend(validateSeriesSpec(spec.input.frontend)).batch(x).data;
    const y = model.session().run(frames);
    const det = new ForecastAnomalyDetector(forecastAnomalyOptionsOf(anomalyDetectorConfigOf(spec)));
    const want: number[] = [];
    for (let t = 0; t < x.length; t++) if (det.step(y.subarray(t, t + 1), frames.subarray(t, t + 1))) want.push(t + 1);
    expect(want.length).toBeGreaterThanOrEqual(2);
    expect(want.some((f) => f > 700 && f <= 720)).toBe(true);
    expect(want.some((f) => f > 1200 && f <= 1220)).toBe(true);

    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const config = parseGatewayConfig({ site: 's', models: { m: 'x' }, routes: [{ sensor: 'temp', model: 'm', codec: 'json', channels: 1, detector: { kind: 'anomaly' } }], stateDir: '', metrics: { intervalMs: 0 } });
    const gw = await Gateway.create({
      config,
      models: { m: model },
      clock,
      transport: tr,
      logger: memoryLogger('warn'),
      detectors: { anomaly: anomalyDetectorFactory(spec) },
      frontends: { series: seriesGatewayFrontEnd },
    });
    gateways.push(gw);
    const alerts: Alert[] = [];
    gw.on('alert', (a) => alerts.push(a));
    // Messages of 50 samples, stepped as they come (the gateway queues at most 1000 frames per device).
    for (let m = 0; m < 30; m++) {
      tr.deliver(gw.topics.sensor('boiler-1', 'temp'), encodeJson(x.subarray(m * 50, (m + 1) * 50), 1, { seq: m }));
      clock.advance(5);
    }
    expect(gw.metrics.counters.frames_total).toBe(x.length);
    expect(alerts.map((a) => a.frameIndex)).toEqual(want);
    expect(alerts.every((a) => a.label === 'anomaly' && a.detector === 'anomaly')).toBe(true);
  });
});

describe('forecastAnomalyOptionsOf: unknown settings', () => {
  it('refuses a misspelt setting or the nested form by name instead of dropping it for the default', () => {
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return isEdgeRnnError(e) ? `${e.code}: ${e.message}` : String(e);
      }
      return 'no error';
    };
    expect(code(() => forecastAnomalyOptionsOf({ onThreshhold: 0.6 }))).toMatch(/^DETECTOR_OPTION: forecastAnomalyOptionsOf\(\): onThreshhold is not a setting \(errorGain, channel, learningPeriod, .*minHoldSteps\)/);
    expect(code(() => forecastAnomalyOptionsOf({ alert: { onThreshold: 0.6 } }))).toMatch(/^DETECTOR_OPTION: forecastAnomalyOptionsOf\(\): alert is not a setting .*flat settings/);
    expect(code(() => forecastAnomalyOptionsOf(null as never))).toMatch(/^DETECTOR_OPTION: forecastAnomalyOptionsOf\(\): settings must be an object/);
    // A route config's kind is allowed; the known flat fields still apply.
    expect(forecastAnomalyOptionsOf({ kind: 'anomaly', onThreshold: 0.6 }).alert.onThreshold).toBe(0.6);
  });
});
