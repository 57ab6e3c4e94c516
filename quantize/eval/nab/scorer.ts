/**
 * NAB scoring, following numenta/NAB's nab/sweeper.py (the scorer behind nab/scorer.py and
 * nab/optimizer.py since NAB v1.1) step for step. Written from its definition, not copied.
 *
 * Per row t of a file with windows [l, r] (row indices, inclusive) and probation p:
 *
 *   S(x) = -1 if x > 3, else 2 sigmoid(-5x) - 1          (scaled sigmoid; S(-1) = 0.98661)
 *   in a window:    s_t = tpWeight * S(-(r - t + 1) / (r - l + 1)) / S(-1)
 *                   (first row of a window: exactly tpWeight; last row: S(-1/width)/S(-1))
 *   after a window: s_t = fpWeight * S((t - r') / (width' - 1))    r', width': the window that
 *                   ended last (even one inside the probationary period)
 *   before any:     s_t = -fpWeight
 *   rows t < p are "probationary": not scored at all (neither TP, FP nor FN).
 *
 * A file's score at threshold T (detections: scorable rows with anomaly score >= T):
 *   sum over detected rows outside windows of s_t
 * + sum over windows with a scorable row of (max s_t over its detected rows, i.e. the earliest
 *   detection, or -fnWeight if none)
 * Windows lying wholly in the probationary period count for nothing.
 *
 * `scoresByThreshold` sweeps every distinct anomaly score from high to low (NAB's
 * calcScoreByThreshold): rows sorted by score (stable), one ThresholdRow per distinct score
 * value plus the starting row at threshold 1.1 (no detections). Sums are formed in NAB's order:
 * false positives in sorted order, then windows in order of first appearance, from 0.
 */
import { EdgeRnnError } from '../../../src/index.js';
import type { WindowRange } from './corpus.js';
import type { NabProfile } from './profiles.js';

/** Window marker for rows outside every window. */
export const OUTSIDE_WINDOW = -1;
/** Window marker for probationary rows (not scored). */
export const PROBATIONARY = -2;

/** NAB's scaled sigmoid: -1 past 3 window widths, else 2 sigmoid(-5x) - 1 = 2 / (1 + e^(5x)) - 1. */
export function scaledSigmoid(x: number): number {
  if (x > 3.0) return -1.0;
  return 2 * (1 / (1 + Math.exp(5 * x))) - 1.0;
}

/** S(-1): the score of a detection on the first row of a window before weighting. */
export const MAX_TP = scaledSigmoid(-1.0);

/** What the scorer needs to know about a series. */
export interface ScoringLayout {
  /** Rows in the series. */
  length: number;
  /** Anomaly windows as row ranges, sorted and disjoint. */
  windows: readonly WindowRange[];
  /** Rows at the start that are not scored. */
  probationaryLength: number;
}

/** Per-row weighted scores of one series under one profile (NAB's S(t) column). */
export interface SweepTable {
  /** Weighted score the row earns if it is a detection. */
  sweepScore: Float64Array;
  /** Window index of the row, OUTSIDE_WINDOW or PROBATIONARY. */
  window: Int32Array;
}

/** NAB's calcSweepScore: the weighted score and window of every row. */
export function sweepTable(layout: ScoringLayout, profile: NabProfile): SweepTable {
  const n = layout.length;
  const sweepScore = new Float64Array(n);
  const window = new Int32Array(n);
  let next = 0; // next window to enter
  let cur = -1; // window we are in
  let prevRight = -1; // last row of the window that ended last
  let prevWidth = 0;
  for (let t = 0; t < n; t++) {
    const w = layout.windows[next];
    if (cur < 0 && w && t === w.start) cur = next++;
    if (cur >= 0) {
      const { start, end } = layout.windows[cur]!;
      const width = end - start + 1;
      sweepScore[t] = (scaledSigmoid(-(end - t + 1) / width) * profile.tpWeight) / MAX_TP;
    } else if (prevRight < 0) {
      sweepScore[t] = -1.0 * profile.fpWeight;
    } else {
      // A one-row window makes this x/0 = Infinity -> -1 (NAB itself raises ZeroDivisionError).
      sweepScore[t] = scaledSigmoid(Math.abs(prevRight - t) / (prevWidth - 1)) * profile.fpWeight;
    }
    window[t] = t >= layout.probationaryLength ? cur : PROBATIONARY;
    if (cur >= 0 && t === layout.windows[cur]!.end) {
      prevRight = t;
      prevWidth = layout.windows[cur]!.end - layout.windows[cur]!.start + 1;
      cur = -1;
    }
  }
  return { sweepScore, window };
}

/** NAB's ThresholdScore: the score and confusion counts (over scorable rows) at one threshold. */
export interface ThresholdRow {
  /** Detections are rows with anomaly score >= threshold (1.1: none). */
  threshold: number;
  score: number;
  tp: number;
  tn: number;
  fp: number;
  fn: number;
  /** tp + tn + fp + fn: the scorable rows. */
  total: number;
}

/** One series' input to a sweep. */
export interface SweepInput {
  anomalyScores: ArrayLike<number>;
  table: SweepTable;
}

/** Checks that a series has one anomaly score per row, each in [0, 1]. */
export function checkAnomalyScores(name: string, scores: ArrayLike<number>, length: number): void {
  if (scores.length !== length) {
    throw new EdgeRnnError('ANOMALY_SCORE', `${name}: expected ${length} anomaly scores (one per row), got ${scores.length}`, { file: name, expected: length, got: scores.length });
  }
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!(s >= 0 && s <= 1)) {
      throw new EdgeRnnError('ANOMALY_SCORE', `${name}: row ${i}: anomaly score must be in [0, 1], got ${s}`, { file: name, row: i, score: s });
    }
  }
}

/** Starting threshold of a sweep: above every score, so the first row has no detections. */
export const SWEEP_START_THRESHOLD = 1.1;

/**
 * NAB's calcScoreByThreshold over one or more series (the optimizer passes the whole corpus):
 * rows in decreasing threshold order, the first at 1.1 with no detections.
 */
export function scoresByThreshold(inputs: readonly SweepInput[], profile: NabProfile): ThresholdRow[] {
  // Gather scorable rows; windows get corpus-wide ids.
  let m = 0;
  for (const { table } of inputs) for (let t = 0; t < table.window.length; t++) if (table.window[t] !== PROBATIONARY) m++;
  const anomaly = new Float64Array(m);
  const sweep = new Float64Array(m);
  const win = new Int32Array(m);
  let k = 0;
  let windowBase = 0;
  for (const { anomalyScores, table } of inputs) {
    let maxWindow = -1;
    for (let t = 0; t < table.window.length; t++) {
      const w = table.window[t]!;
      if (w > maxWindow) maxWindow = w;
      if (w === PROBATIONARY) continue;
      anomaly[k] = anomalyScores[t]!;
      sweep[k] = table.sweepScore[t]!;
      win[k] = w >= 0 ? windowBase + w : OUTSIDE_WINDOW;
      k++;
    }
    windowBase += maxWindow + 1;
  }
  // Stable sort by anomaly score, high to low.
  const order = new Uint32Array(m);
  for (let i = 0; i < m; i++) order[i] = i;
  order.sort((a, b) => anomaly[b]! - anomaly[a]! || a - b);

  // Window parts start at -fnWeight, summed in order of first appearance in the sorted rows.
  const part = new Float64Array(windowBase).fill(-profile.fnWeight);
  const seen = new Uint8Array(windowBase);
  const partOrder: number[] = [];
  let tn = 0;
  for (let i = 0; i < m; i++) {
    const w = win[order[i]!]!;
    if (w === OUTSIDE_WINDOW) tn++;
    else if (!seen[w]) {
      seen[w] = 1;
      partOrder.push(w);
    }
  }
  let fn = m - tn;
  let tp = 0;
  let fp = 0;
  let fpPart = 0;
  const total = (): number => {
    let s = 0 + fpPart;
    for (const w of partOrder) s += part[w]!;
    return s;
  };
  const rows: ThresholdRow[] = [];
  let threshold = SWEEP_START_THRESHOLD;
  for (let i = 0; i < m; i++) {
    const r = order[i]!;
    const a = anomaly[r]!;
    if (a !== threshold) {
      rows.push({ threshold, score: total(), tp, tn, fp, fn, total: tp + tn + fp + fn });
      threshold = a;
    }
    const w = win[r]!;
    if (w === OUTSIDE_WINDOW) {
      fp++;
      tn--;
      fpPart += sweep[r]!;
    } else {
      tp++;
      fn--;
      if (sweep[r]! > part[w]!) part[w] = sweep[r]!;
    }
  }
  rows.push({ threshold, score: total(), tp, tn, fp, fn, total: tp + tn + fp + fn });
  return rows;
}

/**
 * The row of a single series' sweep that applies at `threshold` (NAB's scoreDataSet): the row
 * whose threshold equals it, else the last row above it, so detections are rows with
 * score >= threshold. If the threshold is below every score of the series NAB finds no row (and
 * fails); here the last row (everything detected) is returned, which is what ">=" means.
 */
export function rowAtThreshold(rows: readonly ThresholdRow[], threshold: number): ThresholdRow {
  // rows[].threshold strictly decreases: find the first row with threshold <= the argument.
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid]!.threshold <= threshold) hi = mid;
    else lo = mid + 1;
  }
  if (lo === rows.length) return rows[rows.length - 1]!;
  if (rows[lo]!.threshold === threshold || lo === 0) return rows[lo]!;
  return rows[lo - 1]!;
}
