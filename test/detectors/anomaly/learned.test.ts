/**
 * The learned detectors (src/detectors/anomaly/learned.ts) with the real desktop trainer as
 * learner (tiny settings so each model trains in well under a second) on synthetic series.
 */
import { describe, expect, it } from 'vitest';
import { encodeModel, isEdgeRnnError, LearnedDetector, MaxCombinedDetector, Rng, SyncModelLoader, type LearnedDetectorOptions, type LearnRequest } from '../../../src/index.js';
import { trainerLearner } from '../../../quantize/jobs/anomaly/learner.js';
import { tinyForecaster } from '../../helpers/classifier.js';
import { expectCode } from '../../helpers/errors.js';

const TINY = { hidden: 4, epochs: 3, patience: 3, sequenceLength: 32, stride: 8, seed: 7 } as const;
const P = 160;

/** 5-minute records of a daily-ish sine with noise; `spikeAt` adds a jump. */
function series(n: number, seed: number, spikeAt = -1): { t: Float64Array; v: Float64Array } {
  const rng = new Rng(seed);
  const t = Float64Array.from({ length: n }, (_, i) => Date.UTC(2024, 0, 1) + i * 300_000);
  const v = Float64Array.from({ length: n }, (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 96) + rng.normal() + (i >= spikeAt && spikeAt >= 0 && i < spikeAt + 3 ? 40 : 0));
  return { t, v };
}

function detector(loader: SyncModelLoader, o: Partial<LearnedDetectorOptions> & { precision?: 'int8' | 'float32' } = {}): LearnedDetector {
  const { precision = 'int8', ...rest } = o;
  return new LearnedDetector(
    { probationaryLength: P, name: 'synthetic' },
    { name: 'gru-predict', task: 'forecast', learner: trainerLearner({ ...TINY, precision }), loader, timeOfDay: true, clip: 8, window: 8, scoring: {}, minProbation: 32, ...rest },
  );
}

function scores(d: { update(t: number, v: number): number }, s: { t: Float64Array; v: Float64Array }, n = s.v.length): number[] {
  return Array.from({ length: n }, (_, i) => d.update(s.t[i]!, s.v[i]!));
}

describe('LearnedDetector (gru-predict, gru-autoencoder)', () => {
  const simd = new SyncModelLoader({ backend: 'simd' });

  it('never looks ahead: scores up to t do not change when later records change or are appended', () => {
    const base = series(500, 1);
    const changed = series(500, 1, 400); // identical up to record 399, a jump from 400
    for (const task of ['forecast', 'autoencoder'] as const) {
      const a = scores(detector(simd, { task }), base);
      const b = scores(detector(simd, { task }), changed);
      const prefix = scores(detector(simd, { task }), base, 300);
      expect(b.slice(0, 400)).toEqual(a.slice(0, 400));
      expect(prefix).toEqual(a.slice(0, 300));
      // ...and the test can fail: the jump does change the later scores.
      expect(b.slice(400)).not.toEqual(a.slice(400));
      expect(a.slice(0, P).every((x) => x === 0)).toBe(true);
      expect(a.every((x) => x >= 0 && x <= 1)).toBe(true);
    }
  });

  it('is deterministic (same seed, same model bytes and scores) and bit-identical on simd, scalar and reference', () => {
    const s = series(400, 2, 300);
    const bySimd = detector(simd);
    const a = scores(bySimd, s);
    const again = detector(simd);
    expect(scores(again, s)).toEqual(a);
    expect(again.learnedModel!.sha256).toBe(bySimd.learnedModel!.sha256);
    expect(bySimd.learnedModel!.backend).toBe('simd');
    for (const backend of ['scalar', 'reference'] as const) {
      const d = detector(new SyncModelLoader({ backend }));
      expect(scores(d, s)).toEqual(a);
      expect(d.learnedModel!.backend).toBe(backend);
    }
    // A different seed is a different model.
    const other = new LearnedDetector({ probationaryLength: P }, { name: 'gru-predict', task: 'forecast', learner: trainerLearner({ ...TINY, seed: 8 }), loader: simd, timeOfDay: true, clip: 8, window: 8, scoring: {}, minProbation: 32 });
    scores(other, s);
    expect(other.learnedModel!.sha256).not.toBe(bySimd.learnedModel!.sha256);
  });

  it('forecast error is |z_t - ŷ_t| with the model run independently over the frames', () => {
    const s = series(300, 3);
    const d = detector(simd, { timeOfDay: false });
    const errors: number[] = [];
    for (let i = 0; i < s.v.length; i++) {
      d.update(s.t[i]!, s.v[i]!);
      errors.push(d.lastError);
    }
    // Oracle: scaling from the probationary values, one session over all frames.
    const mean = s.v.subarray(0, P).reduce((a, x) => a + x, 0) / P;
    const std = Math.sqrt(s.v.subarray(0, P).reduce((a, x) => a + (x - mean) ** 2, 0) / P);
    const z = Array.from(s.v, (x) => (x - mean) / std);
    const y = d.learnedModel!.session().run(Float32Array.from(z, (x) => Math.max(-8, Math.min(8, x))));
    for (let i = P; i < s.v.length; i++) expect(errors[i]).toBeCloseTo(Math.abs(z[i]! - y[i - 1]!), 6);
  });

  it('scores a jump after the probationary period above everything before it (int8 and float)', () => {
    const s = series(600, 4, 450);
    for (const precision of ['int8', 'float32'] as const) {
      const a = scores(detector(simd, { precision }), s);
      const jump = Math.max(...a.slice(450, 460));
      expect(jump).toBeGreaterThan(Math.max(...a.slice(P, 440)));
      expect(jump).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('scores a series in tiny units as in its own (values 2^-60 smaller: the model saw a constant and the likelihood a flat series)', () => {
    const s = series(600, 4, 450);
    const tiny = { t: s.t, v: s.v.map((x) => x * 2 ** -60) }; // a power of two: every scaled quantity is exact
    const want = scores(detector(simd), s);
    expect(Math.max(...want.slice(450, 460))).toBeGreaterThanOrEqual(0.5);
    expect(scores(detector(simd), tiny)).toEqual(want);
  });

  it('combined: the max of its parts, record by record', () => {
    const s = series(400, 5, 350);
    const a = scores(detector(simd), s);
    const b = scores(detector(simd, { task: 'autoencoder', name: 'gru-autoencoder' }), s);
    const c = scores(new MaxCombinedDetector('gru-combined', [detector(simd), detector(simd, { task: 'autoencoder', name: 'gru-autoencoder' })]), s);
    expect(c).toEqual(a.map((x, i) => Math.max(x, b[i]!)));
  });

  it('rejects a short probationary period, bad records and a model of the wrong shape', () => {
    expectCode(() => new LearnedDetector({ probationaryLength: 10, name: 'x.csv' }, { name: 'gru-predict', task: 'forecast', learner: trainerLearner(TINY), loader: simd, timeOfDay: true, clip: 8, window: 8, scoring: {}, minProbation: 32 }), 'DETECTOR_OPTION', /needs a probationary period of at least 32 records to learn from, got 10 \(x.csv\)/);
    expectCode(() => detector(simd, { window: 0 }), 'DETECTOR_OPTION', /window must be an integer in \[1, 159\], got 0/);
    expectCode(() => detector(simd, { scoring: { errorGain: -2 } }), 'DETECTOR_OPTION', /errorGain must be a finite number > 0, got -2/);
    const d = detector(simd);
    expectCode(() => d.update(0, Number.NaN), 'NON_FINITE_INPUT', /gru-predict: record value must be finite, got NaN/);
    expectCode(() => d.update(Number.POSITIVE_INFINITY, 1), 'NON_FINITE_INPUT', /timestamp must be finite/);
    // A learner that hands back a 1-input model to a detector that feeds 3 features.
    const rng = new Rng(1);
    const H = 4;
    const wrong = tinyForecaster('wrong', H, { W: new Float32Array(3 * H).map(() => rng.uniform(-1, 1)), R: new Float32Array(3 * H * H).map(() => rng.uniform(-1, 1)), head: new Float32Array(H).fill(0.5) });
    const bad = new LearnedDetector({ probationaryLength: 40 }, { name: 'gru-predict', task: 'forecast', learner: { learn: (_r: LearnRequest) => encodeModel(wrong) }, loader: simd, timeOfDay: true, clip: 8, window: 8, scoring: {}, minProbation: 32 });
    const s = series(40, 6);
    expectCode(() => scores(bad, s), 'SHAPE_MISMATCH', /the learner returned a model with 1 inputs, expected 3/);
  });
});

describe('LearnedDetector options: unknown fields and sizes', () => {
  const simd = new SyncModelLoader({ backend: 'simd' });
  it('refuses a misspelt or unknown field by name, options that are not an object, and a huge probationary period', () => {
    // minProbations for minProbation, or a `scorer` for `scoring`, was silently ignored.
    expectCode(() => detector(simd, { scorer: { errorGain: 2 } } as never), 'DETECTOR_OPTION', /gru-predict: scorer is not an option \(name, task, learner, loader, timeOfDay, clip, window, scoring, minProbation\)/);
    expectCode(() => new LearnedDetector({ probationaryLength: P }, null as never), 'DETECTOR_OPTION', /LearnedDetector: options must be an object/);
    // 1e10 threw a bare RangeError (Invalid typed array length).
    expectCode(() => new LearnedDetector({ probationaryLength: 1e10 }, { name: 'gru-predict', task: 'forecast', learner: trainerLearner(TINY), loader: simd, timeOfDay: true, clip: 8, window: 8, scoring: {}, minProbation: 32 }), 'DETECTOR_OPTION', /gru-predict: .*probationary period of at most 1000000 records, got 10000000000/);
  });
});
