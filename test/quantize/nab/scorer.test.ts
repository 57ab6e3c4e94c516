/**
 * NAB scoring on hand-built series. Every expected number is derived in a comment from NAB's
 * definitions, using S(x) = 2 sigmoid(-5x) - 1 = -tanh(5x/2), so S(-1) = tanh(2.5) = 0.986614...
 * Profiles: standard tp 1, fp 0.11, fn 1; reward_low_FP_rate fp 0.22; reward_low_FN_rate fn 2.
 */
import { describe, expect, it } from 'vitest';
import { expectCode } from '../../helpers/errors.js';
import {
  makeNabSeries,
  nabProfile,
  NAB_PROFILES,
  normalizeScore,
  probationaryLength,
  rowAtThreshold,
  scaledSigmoid,
  scoreProfile,
  scoresByThreshold,
  sweepTable,
  twiddle,
  evaluateRun,
  type NabCorpus,
  type NabProfile,
  type ScoringLayout,
  type WindowRange,
} from '../../../quantize/eval/nab/index.js';

const standard = nabProfile('standard');
const S = (x: number): number => (x > 3 ? -1 : -Math.tanh(2.5 * x)); // independent form of NAB's S(x)
const S1 = Math.tanh(2.5); // S(-1)

/** Score of one series at a threshold, through the sweep (NAB's scoreDataSet). */
function fileScore(layout: ScoringLayout, scores: ArrayLike<number>, threshold: number, profile: NabProfile = standard): number {
  return rowAtThreshold(scoresByThreshold([{ anomalyScores: scores, table: sweepTable(layout, profile) }], profile), threshold).score;
}

/** Scores that are 1 on the given rows, 0 elsewhere. */
function detections(n: number, rows: number[]): Float64Array {
  const a = new Float64Array(n);
  for (const r of rows) a[r] = 1;
  return a;
}

const layout100 = (windows: WindowRange[], probation = 0): ScoringLayout => ({ length: 100, windows, probationaryLength: probation });

describe('scaled sigmoid and probation', () => {
  it('matches NAB\'s documented values', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5); // left edge of a window
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5); // middle
    expect(scaledSigmoid(0)).toBe(0); // right edge
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3)).toBeCloseTo(-Math.tanh(7.5), 15); // 3 is not "> 3"
    expect(scaledSigmoid(3.0000001)).toBe(-1);
  });

  it('probation is min(floor(0.15 n), 750)', () => {
    expect(probationaryLength(100)).toBe(15); // 0.15 * 100 = 15.000000000000002 -> 15
    expect(probationaryLength(4032)).toBe(604); // 604.8
    expect(probationaryLength(5000)).toBe(750);
    expect(probationaryLength(22695)).toBe(750); // capped
  });
});

describe('true positives: one per window, earliest detection', () => {
  const layout = layout100([{ start: 40, end: 49 }]); // width 10

  it('a detection on the first row of a window earns exactly tpWeight', () => {
    // position -(49 - 40 + 1) / 10 = -1: S(-1) * 1 / S(-1) = 1
    expect(fileScore(layout, detections(100, [40]), 0.5)).toBe(1);
  });

  it('a detection on the last row earns S(-1/10) / S(-1) = tanh(0.25) / tanh(2.5) = 0.2482', () => {
    expect(fileScore(layout, detections(100, [49]), 0.5)).toBeCloseTo(Math.tanh(0.25) / S1, 12);
    expect(fileScore(layout, detections(100, [49]), 0.5)).toBeCloseTo(0.2482415, 6);
  });

  it('counts only the first detection in a window', () => {
    // rows 44 and 47: the earlier one, position -(49 - 44 + 1) / 10 = -0.6: tanh(1.5) / tanh(2.5) = 0.9174
    expect(fileScore(layout, detections(100, [44, 47]), 0.5)).toBeCloseTo(Math.tanh(1.5) / S1, 12);
    // rows 40 and 45: the first row wins, exactly 1 (the later detection adds nothing)
    expect(fileScore(layout, detections(100, [40, 45]), 0.5)).toBe(1);
  });

  it('a missed window costs fnWeight (1 standard, 2 reward_low_FN_rate)', () => {
    expect(fileScore(layout, new Float64Array(100), 0.5)).toBe(-1);
    expect(fileScore(layout, new Float64Array(100), 0.5, nabProfile('reward_low_FN_rate'))).toBe(-2);
  });
});

describe('false positives: weighted by distance from the preceding window', () => {
  const layout = layout100([{ start: 40, end: 49 }]); // width 10: distances are in units of width - 1 = 9 rows

  it('right after the window: x = 1/9, fp * S(1/9) = -0.11 tanh(5/18) = -0.02979, plus the missed window', () => {
    expect(fileScore(layout, detections(100, [50]), 0.5)).toBeCloseTo(-1 - 0.11 * Math.tanh(5 / 18), 12);
    expect(fileScore(layout, detections(100, [50]), 0.5)).toBeCloseTo(-1.029793, 6);
  });

  it('far after the window (x = 41/9 > 3): the full -fpWeight', () => {
    expect(fileScore(layout, detections(100, [90]), 0.5)).toBeCloseTo(-1.11, 15);
    expect(fileScore(layout, detections(100, [90]), 0.5, nabProfile('reward_low_FP_rate'))).toBeCloseTo(-1.22, 15);
  });

  it('exactly 3 widths after (x = 27/9 = 3) is still on the sigmoid: -0.11 tanh(7.5)', () => {
    expect(fileScore(layout, detections(100, [76]), 0.5)).toBeCloseTo(-1 - 0.11 * Math.tanh(7.5), 15);
  });

  it('before any window: the full -fpWeight', () => {
    expect(fileScore(layout, detections(100, [10]), 0.5)).toBeCloseTo(-1.11, 15);
  });

  it('a near FP costs less than a far one, and each FP counts', () => {
    const near = fileScore(layout, detections(100, [51]), 0.5);
    const far = fileScore(layout, detections(100, [70]), 0.5);
    expect(near).toBeGreaterThan(far);
    // Two far FPs cost twice as much as one.
    expect(fileScore(layout, detections(100, [90, 95]), 0.5) + 1).toBeCloseTo(2 * (fileScore(layout, detections(100, [90]), 0.5) + 1), 15);
  });
});

describe('probationary period (first 15%: rows 0..14 of 100)', () => {
  it('ignores detections inside it', () => {
    const layout = layout100([{ start: 40, end: 49 }], 15);
    expect(fileScore(layout, detections(100, [5, 14]), 0.5)).toBe(-1); // only the missed window
    expect(fileScore(layout, detections(100, [15]), 0.5)).toBeCloseTo(-1.11, 15); // row 15 is scored
  });

  it('a window wholly inside it counts for nothing (not even a miss)', () => {
    expect(fileScore(layout100([{ start: 5, end: 12 }], 15), new Float64Array(100), 0.5)).toBe(0);
  });

  it('a window partly inside it keeps its full width for positions', () => {
    // window [10, 29] (width 20); row 12 is probationary, row 20 is the first scored detection:
    // position -(29 - 20 + 1) / 20 = -0.5: tanh(1.25) / tanh(2.5) = 0.8598
    expect(fileScore(layout100([{ start: 10, end: 29 }], 15), detections(100, [12, 20]), 0.5)).toBeCloseTo(Math.tanh(1.25) / S1, 12);
  });

  it('a window ending inside it still anchors later false positives', () => {
    // window [2, 8] (width 7, unscored); FP at row 20: x = 12 / 6 = 2: 0.11 * S(2) = -0.11 tanh(5)
    expect(fileScore(layout100([{ start: 2, end: 8 }], 15), detections(100, [20]), 0.5)).toBeCloseTo(-0.11 * Math.tanh(5), 15);
  });
});

describe('the threshold sweep', () => {
  /** Independent re-derivation of a file's score at a threshold, straight from the definitions. */
  function naiveScore(l: ScoringLayout, scores: ArrayLike<number>, threshold: number, p: NabProfile): number {
    const hit = (r: number): boolean => r >= l.probationaryLength && scores[r]! >= threshold;
    let total = 0;
    for (const w of l.windows) {
      if (w.end < l.probationaryLength) continue;
      let first = -1;
      for (let r = w.start; r <= w.end && first < 0; r++) if (hit(r)) first = r;
      total += first < 0 ? -p.fnWeight : (p.tpWeight * S(-(w.end - first + 1) / (w.end - w.start + 1))) / S1;
    }
    for (let r = 0; r < l.length; r++) {
      if (!hit(r) || l.windows.some((w) => r >= w.start && r <= w.end)) continue;
      const prev = l.windows.filter((w) => w.end < r).pop();
      total += prev ? p.fpWeight * S((r - prev.end) / (prev.end - prev.start)) : -p.fpWeight;
    }
    return total;
  }

  it('agrees with the naive scorer at every threshold, for every profile, over several series', () => {
    // Deterministic pseudo-random scores with ties (two decimals).
    let x = 12345;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const layouts: ScoringLayout[] = [
      { length: 200, windows: [{ start: 40, end: 59 }, { start: 120, end: 139 }], probationaryLength: 30 },
      { length: 150, windows: [], probationaryLength: 22 },
      { length: 300, windows: [{ start: 20, end: 44 }, { start: 200, end: 219 }, { start: 250, end: 260 }], probationaryLength: 45 },
    ];
    const scores = layouts.map((l) => Float64Array.from({ length: l.length }, () => Math.round(next() ** 4 * 100) / 100));
    for (const p of NAB_PROFILES) {
      const inputs = layouts.map((l, i) => ({ anomalyScores: scores[i]!, table: sweepTable(l, p) }));
      const rows = scoresByThreshold(inputs, p);
      expect(rows[0]!.threshold).toBe(1.1);
      expect(rows[0]!.tp + rows[0]!.fp).toBe(0);
      for (let k = 1; k < rows.length; k++) expect(rows[k]!.threshold).toBeLessThan(rows[k - 1]!.threshold);
      for (const row of rows) {
        const want = layouts.reduce((a, l, i) => a + naiveScore(l, scores[i]!, row.threshold, p), 0);
        expect(row.score, `${p.name} at ${row.threshold}`).toBeCloseTo(want, 12);
        // Counts are over scorable rows.
        expect(row.total).toBe(layouts.reduce((a, l) => a + l.length - l.probationaryLength, 0));
      }
    }
  });

  it('treats ties as one threshold and means "score >= threshold"', () => {
    const layout = layout100([{ start: 40, end: 49 }]);
    const scores = new Float64Array(100).fill(0.5);
    scores[45] = 0.7;
    scores[46] = 0.7;
    const rows = scoresByThreshold([{ anomalyScores: scores, table: sweepTable(layout, standard) }], standard);
    expect(rows.map((r) => r.threshold)).toEqual([1.1, 0.7, 0.5]);
    expect(rows[1]!.tp).toBe(2);
    expect(rowAtThreshold(rows, 0.7)).toBe(rows[1]);
    expect(rowAtThreshold(rows, 0.6)).toBe(rows[1]); // between values: the rows at >= 0.6 are the 0.7s
    expect(rowAtThreshold(rows, 0.95)).toBe(rows[0]); // nothing detected
    expect(rowAtThreshold(rows, 0.2)).toBe(rows[2]); // below every score: everything detected
  });

  it('the optimizer picks the best threshold, the highest one among ties', () => {
    const layout = layout100([{ start: 40, end: 49 }]);
    const scores = new Float64Array(100);
    scores[40] = 0.9; // first row of the window: +1
    scores[44] = 0.8; // same window, later: adds nothing, so 0.9 and 0.8 tie at 1
    scores[90] = 0.3; // a far FP
    const r = scoreProfile([{ relativePath: 'a.csv', anomalyScores: scores, table: sweepTable(layout, standard) }], standard);
    expect(r.threshold).toBe(0.9);
    expect(r.rawScore).toBe(1);
    // 100 scorable rows: 1 detected window row, 9 missed window rows, 90 quiet rows outside.
    expect(r.counts).toEqual({ tp: 1, tn: 90, fp: 0, fn: 9, total: 100 });
  });
});

describe('normalization between the null and perfect detectors', () => {
  function syntheticCorpus(): NabCorpus {
    const make = (name: string, n: number, windows: [number, number][]) => {
      const timestampText = Array.from({ length: n }, (_, i) => new Date(Date.UTC(2020, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' '));
      const data = { timestampText, timestamps: Float64Array.from(timestampText, (t) => Date.parse(`${t.replace(' ', 'T')}Z`)), valueText: timestampText.map(() => '1'), values: new Float64Array(n).fill(1) };
      return makeNabSeries(name, data, windows.map(([a, b]) => [timestampText[a]!, timestampText[b]!]));
    };
    const series = [make('a/one.csv', 400, [[100, 139], [300, 339]]), make('a/two.csv', 300, [[200, 229]]), make('b/none.csv', 200, [])];
    return { series, windowCount: 3, unlabelled: [] };
  }

  it('null scores 0 and perfect scores 100 on every profile, with either optimizer', () => {
    const corpus = syntheticCorpus();
    const nullRun = { detector: 'null', scores: corpus.series.map((s) => new Float64Array(s.values.length).fill(0.5)) };
    const perfectRun = {
      detector: 'perfect',
      scores: corpus.series.map((s) => {
        const a = new Float64Array(s.values.length);
        for (const w of s.windows) a[w.start] = 1;
        return a;
      }),
    };
    for (const optimizer of ['sweep', 'twiddle'] as const) {
      for (const p of evaluateRun(corpus, nullRun, { optimizer }).profiles) {
        // Null: no detections, -fnWeight per window: -3 (-6 for reward_low_FN_rate) = the baseline.
        expect(p.rawScore).toBe(-3 * nabProfile(p.profile).fnWeight);
        expect(p.normalizedScore).toBe(0);
      }
      for (const p of evaluateRun(corpus, perfectRun, { optimizer }).profiles) {
        // Perfect: 3 windows x tpWeight = 3, no false positives.
        expect(p.rawScore).toBe(3);
        expect(p.perfectScore).toBe(3);
        expect(p.normalizedScore).toBe(100);
      }
    }
  });

  it('refuses a corpus where the null detector scores as well as the perfect one (every normalized score was NaN)', () => {
    // 100 rows, probation 15, one window over rows 15..99: the null detector's 0.5 on every row
    // catches the window on its first row with no false positive, so null = perfect = 1.
    const timestampText = Array.from({ length: 100 }, (_, i) => new Date(Date.UTC(2020, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' '));
    const data = { timestampText, timestamps: Float64Array.from(timestampText, (t) => Date.parse(`${t.replace(' ', 'T')}Z`)), valueText: timestampText.map(() => '1'), values: new Float64Array(100).fill(1) };
    const corpus: NabCorpus = { series: [makeNabSeries('a/full.csv', data, [[timestampText[15]!, timestampText[99]!]])], windowCount: 1, unlabelled: [] };
    const run = { detector: 'any', scores: [new Float64Array(100).fill(0.25)] };
    expectCode(() => evaluateRun(corpus, run), 'NAB_WINDOWS', /^standard: the null detector \(constant 0\.5, detecting every row\) scores 1, as much as the perfect detector, so NAB's normalized score .* is undefined/);
  });

  it('normalizeScore is 100 (raw - null) / (perfect - null)', () => {
    // NAB windowed Gaussian, standard: 100 (-24.0131 + 116) / (116 + 116) = 39.65
    expect(normalizeScore(-24.0131054891, -116, 116)).toBeCloseTo(39.6495, 4);
  });
});

describe('twiddle (NAB v1.0 hill climb)', () => {
  it('climbs a smooth objective to its maximum', () => {
    const r = twiddle((x) => -((x - 0.7) ** 2));
    expect(r.threshold).toBeCloseTo(0.7, 6);
  });

  it('never returns a point the objective rejects', () => {
    const r = twiddle((x) => (x >= 0 && x <= 1 ? x : -Infinity));
    expect(r.threshold).toBeLessThanOrEqual(1);
    expect(r.threshold).toBeGreaterThan(0.99);
  });
});
