/** The per-class segment-length model (src/detectors/har/duration.ts) against plain arithmetic. */
import { describe, expect, it } from 'vitest';
import {
  classifySegment,
  DURATION_SD_FLOOR,
  durationLogLikelihood,
  durationModelOf,
  fitDurationModel,
  parseDurationModel,
  SEGMENT_DURATION_KEY,
} from '../../../src/detectors/har/duration.js';
import { codeAndMessage } from '../../helpers/errors.js';

describe('fitDurationModel', () => {
  it('is the mean and sample standard deviation of ln(seconds) per class, σ floored', () => {
    const m = fitDurationModel(
      [
        { y: 0, seconds: 2 },
        { y: 0, seconds: 8 },
        { y: 1, seconds: 5 },
        { y: 2, seconds: 10 },
        { y: 2, seconds: 10.5 },
      ],
      3,
    );
    expect(m.mean[0]).toBeCloseTo(Math.log(4), 12); // (ln 2 + ln 8) / 2
    expect(m.sd[0]).toBeCloseTo(Math.sqrt(2) * Math.log(2), 12); // |ln 8 - ln 2| / sqrt(2)
    expect(m.mean[1]).toBeCloseTo(Math.log(5), 12);
    expect(m.sd[1]).toBe(DURATION_SD_FLOOR); // one segment
    expect(m.sd[2]).toBe(DURATION_SD_FLOOR); // ln 10.5 - ln 10 = 0.049 < floor
  });

  it('names the defect: a class without segments, a bad class index, a length that is not positive and finite', () => {
    const code = codeAndMessage;
    expect(code(() => fitDurationModel([{ y: 0, seconds: 1 }], 2))).toBe('BAD_DATA: no segment of class 1: cannot fit its duration');
    expect(code(() => fitDurationModel([{ y: 2, seconds: 1 }], 2))).toMatch(/^BAD_DATA: segment class 2: expected an integer in 0..1/);
    for (const s of [0, -1, NaN, Infinity]) expect(code(() => fitDurationModel([{ y: 0, seconds: s }], 1))).toMatch(/^BAD_DATA: segment length .* expected a positive finite number/);
    // A class count that is not a whole positive number (a bare RangeError before).
    for (const c of [2.5, -1, 0, NaN]) expect(code(() => fitDurationModel([{ y: 0, seconds: 1 }], c))).toMatch(/^BAD_DATA: duration model: classes must be an integer >= 1, got/);
    expect(code(() => durationLogLikelihood({ mean: [0], sd: [1] }, NaN))).toMatch(/^DETECTOR_OPTION: segment length NaN s/);
  });
});

describe('classifySegment', () => {
  const m = { mean: [Math.log(6.5), Math.log(14)], sd: [0.3, 0.3] };

  it('without a duration model it is the argmax of the mean posterior', () => {
    expect(classifySegment([0.6, 0.4], 14)).toBe(0);
    expect(classifySegment([0.4, 0.6], 6.5)).toBe(1);
  });

  it('with one, the length decides between classes the windows cannot tell apart, and weighs against a confident posterior', () => {
    expect(classifySegment([0.5, 0.5], 6, m)).toBe(0);
    expect(classifySegment([0.5, 0.5], 15, m)).toBe(1);
    // at 14 s the length favours class 1 by 0.5 ((ln 14 - ln 6.5) / 0.3)^2 = 3.27
    expect(classifySegment([0.6, 0.4], 14, m)).toBe(1); // ln 0.6 - ln 0.4 = 0.41 < 3.27
    expect(classifySegment([0.999, 0.001], 14, m)).toBe(0); // ln 999 = 6.9 > 3.27
    // score = ln p + ln N(ln s): checked against the formula written out
    const ll = durationLogLikelihood(m, 9);
    const z = (c: number) => (Math.log(9) - m.mean[c]!) / m.sd[c]!;
    expect(ll[0]).toBeCloseTo(-Math.log(0.3) - 0.5 * z(0) ** 2, 12);
    expect(ll[1]).toBeCloseTo(-Math.log(0.3) - 0.5 * z(1) ** 2, 12);
  });

  it('a class whose windows gave exactly 0 can still win on length', () => {
    expect(classifySegment([1, 0], 14, { mean: [Math.log(3), Math.log(14)], sd: [0.1, 0.1] })).toBe(1);
  });
});

describe('classifySegment input checks', () => {
  it('refuses a posterior of another width than the duration model, an empty one, and NaN (silently wrong labels before)', () => {
    const m = { mean: [Math.log(6.5), Math.log(14)], sd: [0.3, 0.3] };
    const err = codeAndMessage;
    // Three classes against a two-class model: class 2 scored NaN and was never chosen (returned 1).
    expect(err(() => classifySegment([0.1, 0.2, 0.7], 14, m))).toBe('SHAPE_MISMATCH: segment posterior: expected 2 values (one per class of the duration model), got 3');
    // One class against two: the model's second class was ignored (returned 0).
    expect(err(() => classifySegment([1], 14, m))).toMatch(/^SHAPE_MISMATCH: segment posterior: expected 2 values/);
    expect(err(() => classifySegment([], 14))).toMatch(/^SHAPE_MISMATCH: segment posterior: expected one value per class, got 0/);
    expect(err(() => classifySegment([0.5, 0.5], 14, { mean: [1, 2], sd: [0.3] }))).toMatch(/which has 2 means and 1 sds/);
    expect(err(() => classifySegment([NaN, 0.4], 6.5, m))).toBe('NON_FINITE_INPUT: segment posterior: class 0 is NaN');
    expect(classifySegment([0.5, 0.5], 15, m)).toBe(1);
  });
});

describe('the manifest field', () => {
  it('durationModelOf reads extra.segmentDuration, checks it against the labels, and is undefined without it', () => {
    const labels = ['a', 'b'];
    expect(durationModelOf({ labels })).toBeUndefined();
    expect(durationModelOf({ labels, extra: { [SEGMENT_DURATION_KEY]: { mean: [1, 2], sd: [0.5, 0.4] } } })).toEqual({ mean: [1, 2], sd: [0.5, 0.4] });
    const bad: Array<[unknown, RegExp]> = [
      [{ mean: [1], sd: [0.5, 0.4] }, /segmentDuration.mean: expected 2 numbers \(one per label\), got 1 entries/],
      [{ mean: [1, 2] }, /segmentDuration.sd: expected 2 numbers.*got undefined/],
      [{ mean: [1, null], sd: [0.5, 0.4] }, /segmentDuration.mean\[1\]: expected a finite number, got null/],
      [{ mean: [1, 2], sd: [0.5, 0] }, /segmentDuration.sd\[1\]: expected a positive number, got 0/],
      [null, /segmentDuration.mean: expected 2 numbers/],
    ];
    for (const [x, re] of bad) {
      expect(() => durationModelOf({ labels, extra: { [SEGMENT_DURATION_KEY]: x } })).toThrow(re);
      expect(() => parseDurationModel(x, 2)).toThrow(expect.objectContaining({ code: 'ERN_MANIFEST' }));
    }
  });
});
