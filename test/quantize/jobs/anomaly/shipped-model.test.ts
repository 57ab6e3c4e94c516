/**
 * models/anomaly.ern, as committed: loads and reproduces its golden vector on every backend,
 * the integer backends agree bit for bit on a real series, the manifest carries its front end,
 * detector defaults and metrics, and the file stays small.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, createRuntime, decodeModel, forecastAnomalyOptionsOf, anomalyDetectorConfigOf, ForecastAnomalyDetector, SeriesFrontend, SyncModelLoader, validateSeriesSpec } from '../../../../src/index.js';

const REPO = path.resolve(import.meta.dirname, '../../../..');
const MODEL = path.join(REPO, 'models/anomaly.ern');
const NAB_FILE = path.resolve(REPO, '../shared/datasets/nab/data/realKnownCause/machine_temperature_system_failure.csv');
/** Budget: a gateway model of a few kilobytes. */
const MAX_BYTES = 16 * 1024;

describe('models/anomaly.ern', () => {
  const bytes = new Uint8Array(fs.readFileSync(MODEL));

  it('loads on every backend (each load replays the golden vector) and the integer backends agree bit for bit', async () => {
    const rt = await createRuntime();
    const spec = decodeModel(bytes, MODEL).spec;
    expect(spec.precision).toBe('int8');
    let x: Float32Array;
    if (fs.existsSync(NAB_FILE)) {
      x = Float32Array.from(fs.readFileSync(NAB_FILE, 'utf8').trim().split('\n').slice(1, 3001), (line) => Number(line.split(',')[1]));
    } else {
      console.log(`NAB data not found at ${NAB_FILE}: using a synthetic series for the backend comparison`);
      x = Float32Array.from({ length: 3000 }, (_, t) => 80 + 5 * Math.sin(t / 40) + (t % 997 === 0 ? 30 : 0));
    }
    const frames = new SeriesFrontend(validateSeriesSpec(spec.input.frontend)).batch(x).data;
    const outputs: Record<string, Float32Array> = {};
    for (const backend of BACKENDS.filter((b) => b !== 'float')) {
      const model = await rt.load(bytes, { backend, source: MODEL });
      expect(model.backend).toBe(backend);
      model.verifyGolden();
      outputs[backend] = model.session().run(frames);
      // The synchronous loader used by the detectors gives the same numbers.
      expect(new SyncModelLoader({ backend }).load(bytes, MODEL).session().run(frames)).toEqual(outputs[backend]);
    }
    expect(outputs.scalar).toEqual(outputs.simd);
    expect(outputs.reference).toEqual(outputs.simd);
    // The float backend refuses an int8 model by name rather than falling back.
    await expect(rt.load(bytes, { backend: 'float', source: MODEL })).rejects.toThrow(/int8 model: use backend simd, scalar or reference/);
  });

  it('carries its front end, detector defaults, provenance and metrics; stays within its size budget', () => {
    expect(bytes.length).toBeLessThanOrEqual(MAX_BYTES);
    const { spec } = decodeModel(bytes, MODEL);
    expect(spec.task).toBe('anomaly');
    expect(spec.input.size).toBe(1);
    const fe = validateSeriesSpec(spec.input.frontend);
    expect(fe.adaptive?.kind).toBe('ewm');
    expect(fe.clip).toBe(8);
    // Detector defaults from the manifest are valid options.
    const det = new ForecastAnomalyDetector(forecastAnomalyOptionsOf(anomalyDetectorConfigOf(spec)));
    expect(det.options.alert.onThreshold).toBeGreaterThan(det.options.alert.offThreshold);
    expect(spec.training.datasetSha256).toMatch(/^[0-9a-f]{64}$/);
    const m = spec.training.metrics as { validationMse: { float32: number; int8: number; persistence: number; runningMean: number }; nab?: { int8: Record<string, number> } };
    // The forecaster beats both trivial predictors on held-out windows, in float and in int8.
    expect(m.validationMse.int8).toBeLessThan(m.validationMse.persistence);
    expect(m.validationMse.int8).toBeLessThan(m.validationMse.runningMean);
    expect(Math.abs(m.validationMse.int8 - m.validationMse.float32)).toBeLessThan(0.05 * m.validationMse.float32);
    expect(m.nab?.int8.standard).toBeTypeOf('number');
  });
});
