import { describe, expect, it } from 'vitest';
import { AnomalyLikelihood, isEdgeRnnError, nabLikelihoodOptions } from '../../../src/index.js';
import { erfc } from '../../../src/detectors/anomaly/numeric.js';
import { expectCode } from '../../helpers/errors.js';

describe('AnomalyLikelihood', () => {
  it('follows a hand-worked case: probation, first fit, red onset, yellow repeat', () => {
    // No learning period, 4 estimation samples, no averaging (window 1).
    const l = new AnomalyLikelihood({ learningPeriod: 0, estimationSamples: 4, averagingWindow: 1, historicWindowSize: 100, reestimationPeriod: 100 });
    // Records 0..3: still collecting -> 0.5.
    expect([l.update(1, 0.1), l.update(2, 0.2), l.update(3, 0.1), l.update(4, 0.2)]).toEqual([0.5, 0.5, 0.5, 0.5]);
    // Record 4 fits N(mean 0.15, var 0.0025 -> std 0.05) on [0.1, 0.2, 0.1, 0.2]. The last history
    // record's tail is Q = 0.5 erfc((0.2 - 0.15) / 0.05 / 1.4142) ~ 0.159, not red. Raw 0.9 is
    // z = 15: tail ~ 1e-50 <= 1e-5 (red) after a non-red one, so it stays: L = 1 - tail = 1.
    expect(l.update(5, 0.9)).toBe(1);
    // Record 5: red again right after red -> filtered to yellow 1e-3: L = 0.999.
    expect(l.update(6, 0.9)).toBeCloseTo(0.999, 12);
    // Record 6: at the mean -> tail 0.5 -> L = 0.5.
    expect(l.update(7, 0.15)).toBeCloseTo(0.5, 12);
    // Record 7: one std above the mean -> L = 1 - 0.5 erfc(1 / 1.4142).
    expect(l.update(8, 0.2)).toBeCloseTo(1 - 0.5 * erfc(1 / 1.4142), 12);
  });

  it('averages raw scores over the averaging window', () => {
    const l = new AnomalyLikelihood({ learningPeriod: 0, estimationSamples: 20, averagingWindow: 10, historicWindowSize: 100, reestimationPeriod: 100 });
    for (let i = 0; i < 20; i++) l.update(i, i % 2 ? 0.2 : 0.1);
    // History averages settle at 0.15 +- 0.005 (var floor 3e-4 -> std 0.01732). One raw 0.9 moves
    // the 10-record average to (4*0.1 + 5*0.2 + 0.9)/10 = 0.23 or so, z ~ 4.6: red but not 1.
    const first = l.update(20, 0.9);
    expect(first).toBeGreaterThan(0.99999);
    expect(first).toBeLessThan(1);
  });

  it('reports 0.5-ish for a flat metric (null distribution) however the raw scores move', () => {
    const l = new AnomalyLikelihood({ learningPeriod: 10, estimationSamples: 10 });
    let last = 0;
    for (let i = 0; i < 200; i++) last = l.update(42, (i * 37) % 100 / 100);
    expect(Math.abs(last - 0.5)).toBeLessThan(1e-3);
  });

  it('derives NAB numenta-detector options from the probationary period', () => {
    expect(nabLikelihoodOptions(750)).toMatchObject({ learningPeriod: 375, estimationSamples: 375, reestimationPeriod: 100 });
    expect(nabLikelihoodOptions(151)).toMatchObject({ learningPeriod: 75, estimationSamples: 76 });
  });

  it('log scale maps 0.5 -> 0.03, 0.99999 -> 0.5, 1 -> 1', () => {
    // nupic: log(1.0000000001 - L) / log(1.0 - 0.9999999999), the divisor evaluated in doubles.
    expect(AnomalyLikelihood.logLikelihood(0.5)).toBeCloseTo(Math.log(0.5000000001) / Math.log(1.0 - 0.9999999999), 14);
    expect(AnomalyLikelihood.logLikelihood(0.99999)).toBeCloseTo(0.5, 4);
    expect(AnomalyLikelihood.logLikelihood(1)).toBeCloseTo(1, 10);
  });

  it('rejects bad options and non-finite inputs with typed errors', () => {
    expect(() => new AnomalyLikelihood({ averagingWindow: 0 })).toThrow(/averagingWindow must be an integer >= 1, got 0/);
    expect(() => new AnomalyLikelihood({ historicWindowSize: 10, estimationSamples: 20 })).toThrow(/historicWindowSize \(10\) must be >= estimationSamples \(20\)/);
    // Windows too long to hold threw a bare RangeError (1e10), or took gigabytes per series (1e8).
    for (const key of ['historicWindowSize', 'averagingWindow'] as const) {
      for (const v of [1e8, 1e10]) {
        const e = (() => {
          try {
            new AnomalyLikelihood({ [key]: v });
          } catch (err) {
            return err;
          }
          return undefined;
        })();
        expect(isEdgeRnnError(e, 'DETECTOR_OPTION')).toBe(true);
        expect((e as Error).message).toBe(`AnomalyLikelihood: ${key} must be an integer in [1, 1000000], got ${v}`);
      }
    }
    try {
      new AnomalyLikelihood().update(1, NaN);
      expect.unreachable();
    } catch (e) {
      expect(isEdgeRnnError(e, 'NON_FINITE_INPUT')).toBe(true);
    }
  });
});

describe('AnomalyLikelihood options: unknown fields', () => {
  it('refuses a misspelt or unknown field by name, and options that are not an object', () => {
    // historyWindowSize for historicWindowSize was silently dropped for the default 8640.
    expectCode(() => new AnomalyLikelihood({ historyWindowSize: 500 } as never), 'DETECTOR_OPTION', /AnomalyLikelihood: historyWindowSize is not an option \(learningPeriod, estimationSamples, historicWindowSize, reestimationPeriod, averagingWindow\)/);
    expectCode(() => new AnomalyLikelihood(7 as never), 'DETECTOR_OPTION', /AnomalyLikelihood: options must be an object/);
  });
});
