/**
 * ForecastModelDetector: a forecasting .ern as a NAB detector (it scores the shipped model's
 * manifest metrics). Its scores must be the gateway path's: the model's own series front end, one
 * session, and a ForecastAnomalyDetector with the settings in the model's manifest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeModel,
  encodeModel,
  ForecastAnomalyDetector,
  ForecastModelDetector,
  forecastAnomalyOptionsOf,
  anomalyDetectorConfigOf,
  Rng,
  SeriesFrontend,
  SyncModelLoader,
  validateSeriesSpec,
  type Model,
} from '../../../src/index.js';

const MODELS = path.resolve(import.meta.dirname, '../../../models');
const loader = new SyncModelLoader({ backend: 'simd' });

function signal(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  // float32 values, so that the oracle's Float32Array batch sees exactly the records the detector gets.
  return Float64Array.from({ length: n }, (_, t) => Math.fround(20 + 5 * Math.sin((2 * Math.PI * t) / 48) + 0.3 * rng.normal() + (t >= 600 && t < 603 ? 15 : 0)));
}

/** The oracle: batch front end, one session over all frames, the detector with the manifest's settings. */
function oracleScores(model: Model, x: Float64Array): number[] {
  const frames = new SeriesFrontend(validateSeriesSpec(model.spec.input.frontend)).batch(Float32Array.from(x)).data;
  const y = model.session().run(frames);
  const det = new ForecastAnomalyDetector(forecastAnomalyOptionsOf(anomalyDetectorConfigOf(model.spec)));
  return Array.from(x, (_, t) => {
    det.step(y.subarray(t, t + 1), frames.subarray(t, t + 1));
    return det.lastScore;
  });
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe.skipIf(!fs.existsSync(path.join(MODELS, 'anomaly.ern')))('ForecastModelDetector', () => {
  const bytes = new Uint8Array(fs.readFileSync(path.join(MODELS, 'anomaly.ern')));

  it("scores every record as the gateway path does, with the manifest's detector settings", () => {
    const x = signal(1000, 3);
    const base = loader.load(bytes, 'anomaly.ern');
    // The shipped settings, and a copy of the model whose manifest asks for another error gain.
    const { spec } = decodeModel(bytes);
    const gain2 = loader.load(encodeModel({ ...spec, extra: { ...spec.extra, anomalyDetector: { ...anomalyDetectorConfigOf(spec), errorGain: 2 } } }), 'gain2.ern');
    const scores = (m: Model) => {
      const d = new ForecastModelDetector('m', m);
      return Array.from(x, (v, t) => d.update(t * 1000, v));
    };
    const shipped = scores(base);
    expect(shipped).toEqual(oracleScores(base, x));
    expect(Math.max(...shipped.slice(600, 620))).toBeGreaterThan(0.5); // the spike is found
    const other = scores(gain2);
    expect(other).toEqual(oracleScores(gain2, x));
    expect(other).not.toEqual(shipped);
    // Options given to the constructor override the manifest's.
    const d = new ForecastModelDetector('m', gain2, { errorGain: anomalyDetectorConfigOf(spec).errorGain as number });
    expect(Array.from(x, (v, t) => d.update(t * 1000, v))).toEqual(shipped);
    // One field of a group (its type wanted the whole group: tsc refused this call).
    const half = new ForecastModelDetector('m', base, { alert: { onThreshold: 0.6 }, likelihood: { estimationSamples: 100 } });
    expect(Array.from(x, (v, t) => half.update(t * 1000, v))).not.toEqual(shipped);
  });

  it('names what is wrong: a model that is not a one-channel forecaster, a bad setting, a non-finite record', () => {
    const har = loader.load(new Uint8Array(fs.readFileSync(path.join(MODELS, 'har.ern'))), 'har.ern');
    expect(() => new ForecastModelDetector('h', har)).toThrow(/front end 'imu', expected 'series'/);
    expect(codeOf(() => new ForecastModelDetector('h', har))).toBe('UNSUPPORTED_MODEL');
    const { spec } = decodeModel(bytes);
    const bad = loader.load(encodeModel({ ...spec, extra: { ...spec.extra, anomalyDetector: { errorGain: -1 } } }), 'bad.ern');
    expect(() => new ForecastModelDetector('b', bad)).toThrow(/errorGain/);
    const d = new ForecastModelDetector('m', loader.load(bytes, 'anomaly.ern'));
    d.update(0, 1);
    expect(codeOf(() => d.update(1000, Number.NaN))).toBe('NON_FINITE_INPUT');
    // The bad record changed nothing: the next records score as if it never came.
    const ref = new ForecastModelDetector('r', loader.load(bytes, 'anomaly.ern'));
    ref.update(0, 1);
    for (let t = 2; t < 50; t++) expect(d.update(t * 1000, 20 + (t % 5))).toBe(ref.update(t * 1000, 20 + (t % 5)));
  });
});
