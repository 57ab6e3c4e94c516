import { describe, expect, it } from 'vitest';
import { AnomalyLikelihood, ErrorScorer, isEdgeRnnError, nabLikelihoodOptions, Rng } from '../../../src/index.js';
import { expectCode } from '../../helpers/errors.js';

/** A noisy series and errors with a burst of large errors at 700..705. */
function stream(n: number, seed: number): { values: Float64Array; errors: Float64Array } {
  const rng = new Rng(seed);
  const values = new Float64Array(n).map((_, t) => 10 + Math.sin(t / 20) + 0.1 * rng.normal());
  const errors = new Float64Array(n).map((_, t) => Math.abs(0.1 * rng.normal()) + (t >= 700 && t < 706 ? 2 : 0));
  return { values, errors };
}

describe('ErrorScorer', () => {
  it('without the spatial rule and suppression it is exactly the NAB likelihood of min(1, e / (gain * RMS))', () => {
    const p = 300;
    const { values, errors } = stream(1200, 3);
    const scorer = new ErrorScorer(p, { errorGain: 5, spatialTolerance: null, suppressLevel: 1.1 });
    scorer.calibrate(values.subarray(0, p), errors.subarray(0, p));
    // Oracle: the scale and the likelihood computed independently.
    let sq = 0;
    for (let t = 0; t < p; t++) sq += errors[t]! ** 2;
    const scale = Math.sqrt(sq / p);
    expect(scorer.errorScale).toBeCloseTo(scale, 14);
    const oracle = new AnomalyLikelihood(nabLikelihoodOptions(p));
    for (let t = 0; t < p; t++) oracle.update(values[t]!, Math.min(1, errors[t]! / (5 * scale)));
    for (let t = p; t < values.length; t++) {
      const want = AnomalyLikelihood.logLikelihood(oracle.update(values[t]!, Math.min(1, errors[t]! / (5 * scale))));
      expect(scorer.update(values[t]!, errors[t]!)).toBe(want);
    }
  });

  it('does not depend on the units of the values: a series whose variance is below nupic\'s flat-series bound (1.5e-5) in its own units scores as it does scaled up', () => {
    const p = 300;
    const { values, errors } = stream(1200, 4);
    const small = values.map((v) => v * 2 ** -14); // variance about 2e-9; a power of two keeps every scaled quantity exact
    const run = (vs: Float64Array): number[] => {
      const scorer = new ErrorScorer(p, { spatialTolerance: null });
      scorer.calibrate(vs.subarray(0, p), errors.subarray(0, p));
      return Array.from(vs.subarray(p), (v, i) => scorer.update(v, errors[p + i]!));
    };
    const want = run(values);
    expect(Math.max(...want.slice(700 - p, 706 - p))).toBeGreaterThan(0.8);
    expect(run(small)).toEqual(want);
  });

  it('scores the error burst far above the quiet records', () => {
    const p = 300;
    const { values, errors } = stream(1200, 4);
    const scorer = new ErrorScorer(p, { spatialTolerance: null });
    scorer.calibrate(values.subarray(0, p), errors.subarray(0, p));
    const scores = Array.from(values.subarray(p), (v, i) => scorer.update(v, errors[p + i]!));
    const burst = Math.max(...scores.slice(700 - p, 706 - p));
    const quiet = Math.max(...scores.slice(0, 650 - p));
    expect(burst).toBeGreaterThan(0.8); // tail probability below 1e-8
    expect(quiet).toBeLessThan(0.5);
  });

  it('spatial rule: a value beyond the seen range by more than the tolerance scores 1, then suppression damps repeats', () => {
    const p = 100;
    const values = new Float64Array(p).map((_, t) => t % 10); // range [0, 9]
    const errors = new Float64Array(p).fill(0.1);
    const scorer = new ErrorScorer(p, { spatialTolerance: 0.05, suppressLevel: 0.5, suppressRows: 3, suppressFactor: 0.5 });
    scorer.calibrate(values, errors);
    expect(scorer.update(9.4, 0.1)).toBeLessThan(0.5); // within 9 + 0.05 * 9 = 9.45 (the maximum becomes 9.4)
    expect(scorer.update(10, 0.1)).toBe(1); // beyond 9.4 + 0.05 * 9.4: starts a suppression period
    expect(scorer.update(20, 0.1)).toBe(0.5); // 1 row later: damped (its undamped score 1 restarts the period)
    scorer.update(5, 0.1);
    scorer.update(5, 0.1);
    expect(scorer.update(-30, 0.1)).toBe(0.5); // 3 rows after the last undamped 1: still damped
    scorer.update(5, 0.1);
    scorer.update(5, 0.1);
    scorer.update(5, 0.1);
    expect(scorer.update(-40, 0.1)).toBe(1); // 4 rows later: undamped
  });

  it('rejects bad options and misuse with DETECTOR_OPTION / SHAPE_MISMATCH naming the problem', () => {
    expectCode(() => new ErrorScorer(100, { errorGain: 0 }), 'DETECTOR_OPTION', /errorGain must be a finite number > 0, got 0/);
    expectCode(() => new ErrorScorer(100, { spatialTolerance: -1 }), 'DETECTOR_OPTION', /spatialTolerance must be null or a finite number >= 0, got -1/);
    expectCode(() => new ErrorScorer(100, { suppressRows: 1.5 }), 'DETECTOR_OPTION', /suppressRows must be an integer >= 0, got 1.5/);
    expectCode(() => new ErrorScorer(100, { suppressFactor: 2 }), 'DETECTOR_OPTION', /suppressFactor must be in \[0, 1\], got 2/);
    const s = new ErrorScorer(100);
    expectCode(() => s.update(1, 0), 'DETECTOR_OPTION', /update\(\) before calibrate\(\)/);
    expectCode(() => s.calibrate([1, 2], [0]), 'SHAPE_MISMATCH', /need as many errors as values \(at least 1\), got 1 errors for 2 values/);
    s.calibrate([1, 2], [0, 0]);
    expectCode(() => s.calibrate([1, 2], [0, 0]), 'DETECTOR_OPTION', /already called/);
    expectCode(() => s.update(Number.NaN, 0), 'NON_FINITE_INPUT', /must be finite/);
  });
});

describe('ErrorScorer options: unknown fields', () => {
  it('refuses a misspelt or unknown field by name, in scoring and in its likelihood, and options that are not an object', () => {
    // suppressRow for suppressRows was silently dropped for the default 100.
    expectCode(() => new ErrorScorer(200, { suppressRow: 10 } as never), 'DETECTOR_OPTION', /ErrorScorer: suppressRow is not an option \(errorGain, likelihood, spatialTolerance, suppressLevel, suppressRows, suppressFactor\)/);
    expectCode(() => new ErrorScorer(200, { likelihood: { averagingWindows: 5 } } as never), 'DETECTOR_OPTION', /ErrorScorer: likelihood\.averagingWindows is not an option \(learningPeriod, estimationSamples, historicWindowSize, reestimationPeriod, averagingWindow\)/);
    expectCode(() => new ErrorScorer(200, { likelihood: null } as never), 'DETECTOR_OPTION', /ErrorScorer: likelihood must be an object/);
    expectCode(() => new ErrorScorer(200, 'fast' as never), 'DETECTOR_OPTION', /ErrorScorer: options must be an object/);
  });
});
