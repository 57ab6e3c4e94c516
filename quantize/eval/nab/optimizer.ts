/**
 * Threshold selection and the corpus score, per profile:
 *
 * - 'sweep' (NAB >= v1.1, nab/optimizer.py): every distinct anomaly score of the corpus is a
 *   candidate; the corpus-wide sweep picks the highest score, ties going to the highest
 *   threshold (the first row of the sweep).
 * - 'twiddle' (NAB v1.0, the optimizer behind the published scoreboard): a hill climb on the
 *   threshold from 0.5 with step 0.1, doubling the step after a gain and halving it after two
 *   failed probes, until the step is <= 1e-7; thresholds outside [0, 1] score -infinity. It can
 *   stop at a local optimum (e.g. exactly 1.0 for the windowed Gaussian).
 * - fixed thresholds (e.g. NAB's config/thresholds.json).
 *
 * The corpus score at threshold T is the sum of each file's score at T (NAB's scoreCorpus), and
 * the normalized score is 100 (raw - null) / (perfect - null), with perfect = windows x tpWeight
 * and null the raw score of the null detector after the same threshold selection (runner.py
 * normalize()).
 */
import { EdgeRnnError } from '../../../src/index.js';
import type { NabProfile, NabProfileName } from './profiles.js';
import { rowAtThreshold, scoresByThreshold, type SweepInput, type ThresholdRow } from './scorer.js';

export type ThresholdOptimizer = 'sweep' | 'twiddle';
export const THRESHOLD_OPTIMIZERS: readonly ThresholdOptimizer[] = ['sweep', 'twiddle'];

/** Per-file result at the chosen threshold (one line of NAB's <detector>_<profile>_scores.csv). */
export interface FileScore extends ThresholdRow {
  relativePath: string;
}

/** A series ready to score: its sweep table under the profile, and its anomaly scores. */
export interface ScorableSeries extends SweepInput {
  relativePath: string;
}

/** NAB v1.0's twiddle search, written from its description (see module comment). */
export function twiddle(objective: (x: number) => number, initialGuess = 0.5, tolerance = 0.0000001): { threshold: number; score: number } {
  const past = new Map<number, number>();
  const evaluate = (x: number): number => {
    let s = past.get(x);
    if (s === undefined) {
      s = objective(x);
      past.set(x, s);
    }
    return s;
  };
  let x = initialGuess;
  let delta = 0.1;
  let best = evaluate(x);
  while (delta > tolerance) {
    x += delta;
    let score = evaluate(x);
    if (score > best) {
      best = score;
      delta *= 2;
      continue;
    }
    x -= 2 * delta;
    score = evaluate(x);
    if (score > best) {
      best = score;
      delta *= 2;
    } else {
      x += delta;
      delta *= 0.5;
    }
  }
  // The best evaluated threshold; among equal scores the first evaluated (NAB takes the first in
  // Python 2 dict order, which only changes the reported threshold, not the score).
  let threshold = initialGuess;
  let score = -Infinity;
  for (const [t, s] of past) {
    if (s > score) {
      score = s;
      threshold = t;
    }
  }
  return { threshold, score };
}

export interface ProfileScore {
  profile: NabProfileName;
  /** Detections are rows with anomaly score >= threshold. */
  threshold: number;
  /** Sum of the files' scores at the threshold. */
  rawScore: number;
  /** Per-file scores, corpus order. */
  files: FileScore[];
  /** Confusion counts over all scorable rows. */
  counts: { tp: number; tn: number; fp: number; fn: number; total: number };
}

/** Per-series sweeps at one profile, reusable for any threshold. */
function perSeriesRows(series: readonly ScorableSeries[], profile: NabProfile): ThresholdRow[][] {
  return series.map((s) => scoresByThreshold([s], profile));
}

function scoreAt(series: readonly ScorableSeries[], rows: readonly ThresholdRow[][], profile: NabProfile, threshold: number): ProfileScore {
  const files: FileScore[] = series.map((s, i) => ({ relativePath: s.relativePath, ...rowAtThreshold(rows[i]!, threshold) }));
  const counts = { tp: 0, tn: 0, fp: 0, fn: 0, total: 0 };
  let rawScore = 0;
  for (const f of files) {
    rawScore += f.score;
    counts.tp += f.tp;
    counts.tn += f.tn;
    counts.fp += f.fp;
    counts.fn += f.fn;
    counts.total += f.total;
  }
  return { profile: profile.name, threshold, rawScore, files, counts };
}

export interface ScoreProfileOptions {
  /** How to pick the threshold when none is given (default 'sweep'). */
  optimizer?: ThresholdOptimizer;
  /** Use this threshold instead of optimizing. */
  threshold?: number;
}

/** Picks the threshold for one profile (or takes the given one) and scores every file at it. */
export function scoreProfile(series: readonly ScorableSeries[], profile: NabProfile, options: ScoreProfileOptions = {}): ProfileScore {
  const rows = perSeriesRows(series, profile);
  let threshold = options.threshold;
  if (threshold === undefined) {
    const optimizer = options.optimizer ?? 'sweep';
    if (optimizer === 'sweep') {
      const corpusRows = scoresByThreshold(series, profile);
      let best = corpusRows[0]!;
      for (const r of corpusRows) if (r.score > best.score) best = r;
      threshold = best.threshold;
    } else if (optimizer === 'twiddle') {
      threshold = twiddle((x) => (x >= 0 && x <= 1 ? scoreAt(series, rows, profile, x).rawScore : -Infinity)).threshold;
    } else {
      throw new EdgeRnnError('DETECTOR_OPTION', `unknown threshold optimizer '${String(optimizer)}', expected one of ${THRESHOLD_OPTIMIZERS.join(', ')}`);
    }
  } else if (!Number.isFinite(threshold)) {
    throw new EdgeRnnError('DETECTOR_OPTION', `threshold for profile ${profile.name} must be a finite number, got ${threshold}`);
  }
  return scoreAt(series, rows, profile, threshold);
}

/** NAB's normalized score: 100 (raw - null) / (perfect - null). */
export function normalizeScore(rawScore: number, nullScore: number, perfectScore: number): number {
  return (100 * (rawScore - nullScore)) / (perfectScore - nullScore);
}
