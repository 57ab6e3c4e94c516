/**
 * The NAB pipeline: run a detector over the corpus (NAB "detect"), pick thresholds per profile
 * ("optimize"), score every file ("score") and normalize against the null and perfect
 * detectors ("normalize"); read and write NAB's results layout. Node-only (file system).
 */
import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError, NullDetector, type DetectorEntry } from '../../../src/index.js';
import type { NabCorpus, NabSeries } from './corpus.js';
import { normalizeScore, scoreProfile, type ProfileScore, type ScorableSeries, type ThresholdOptimizer } from './optimizer.js';
import { NAB_PROFILES, type NabProfileName } from './profiles.js';
import { checkResultsMatchSeries, formatResultsCsv, formatScoresCsv, parseResultsCsv, resultsFilePath, scoresFilePath } from './results.js';
import { checkAnomalyScores, sweepTable } from './scorer.js';
import { makeDirs } from '../../../src/io/files.js';
import { writeOutputFile } from '../../../src/cli/framework.js';

/** Anomaly scores of one detector over a corpus, one array per series (corpus order). */
export interface DetectorRun {
  detector: string;
  scores: Float64Array[];
}

export interface RunDetectorOptions {
  /** Called after each series (progress). */
  onSeries?: (index: number, series: NabSeries) => void;
}

/** Feeds every series to a fresh detector, record by record (NAB's detect step). */
export function runDetector(corpus: NabCorpus, entry: DetectorEntry, options: RunDetectorOptions = {}): DetectorRun {
  const scores = corpus.series.map((s, i) => {
    const detector = entry.create({ probationaryLength: s.probationaryLength, name: s.relativePath });
    const out = new Float64Array(s.values.length);
    for (let t = 0; t < out.length; t++) out[t] = detector.update(s.timestamps[t]!, s.values[t]!);
    checkAnomalyScores(`${entry.name} on ${s.relativePath}`, out, s.values.length);
    options.onSeries?.(i, s);
    return out;
  });
  return { detector: entry.name, scores };
}

/** Rounds every score to `digits` significant digits (NAB v1.0 stored Python 2 str() floats: 12). */
export function roundRun(run: DetectorRun, digits: number): DetectorRun {
  if (!Number.isInteger(digits) || digits < 1 || digits > 17) {
    throw new EdgeRnnError('DETECTOR_OPTION', `score digits must be an integer in [1, 17], got ${digits}`, { digits });
  }
  return { detector: run.detector, scores: run.scores.map((a) => a.map((x) => Number(x.toPrecision(digits)))) };
}

export interface EvaluateOptions {
  /** Threshold selection when no fixed threshold is given (default 'sweep', NAB >= v1.1). */
  optimizer?: ThresholdOptimizer;
  /** Fixed thresholds per profile (e.g. from NAB's thresholds.json); others are optimized. */
  thresholds?: Partial<Record<NabProfileName, number>>;
}

export interface ProfileEvaluation extends ProfileScore {
  /** Raw score of the null detector (same threshold selection). */
  nullScore: number;
  /** Raw score of a detector that fires on the first row of every window: windows x tpWeight. */
  perfectScore: number;
  /** 100 (raw - null) / (perfect - null). */
  normalizedScore: number;
}

export interface NabEvaluation {
  detector: string;
  optimizer: ThresholdOptimizer;
  windowCount: number;
  profiles: ProfileEvaluation[];
}

function scorable(corpus: NabCorpus, scores: readonly ArrayLike<number>[], profileIndex: number): ScorableSeries[] {
  const profile = NAB_PROFILES[profileIndex]!;
  return corpus.series.map((s, i) => ({
    relativePath: s.relativePath,
    anomalyScores: scores[i]!,
    table: sweepTable({ length: s.values.length, windows: s.windows, probationaryLength: s.probationaryLength }, profile),
  }));
}

/** NAB's optimize + score + normalize for one detector run, all profiles. */
export function evaluateRun(corpus: NabCorpus, run: DetectorRun, options: EvaluateOptions = {}): NabEvaluation {
  if (run.scores.length !== corpus.series.length) {
    throw new EdgeRnnError('ANOMALY_SCORE', `${run.detector}: expected scores for ${corpus.series.length} series, got ${run.scores.length}`, { expected: corpus.series.length, got: run.scores.length });
  }
  corpus.series.forEach((s, i) => checkAnomalyScores(`${run.detector} on ${s.relativePath}`, run.scores[i]!, s.values.length));
  const optimizer = options.optimizer ?? 'sweep';
  const nullScores = corpus.series.map((s) => {
    const d = new NullDetector();
    return Float64Array.from(s.values, (v, t) => d.update(s.timestamps[t]!, v));
  });
  const profiles = NAB_PROFILES.map((profile, k) => {
    const threshold = options.thresholds?.[profile.name];
    const result = scoreProfile(scorable(corpus, run.scores, k), profile, threshold === undefined ? { optimizer } : { threshold });
    const nullScore = scoreProfile(scorable(corpus, nullScores, k), profile, { optimizer }).rawScore;
    const perfectScore = corpus.windowCount * profile.tpWeight;
    if (nullScore === perfectScore) {
      // 100 (raw - null) / (perfect - null) is 0/0 or ±Infinity: it printed NaN and exited 0.
      throw new EdgeRnnError(
        'NAB_WINDOWS',
        `${profile.name}: the null detector (constant 0.5, detecting every row) scores ${nullScore}, as much as the perfect detector, so NAB's normalized score 100 (raw - null) / (perfect - null) is undefined: every scored row lies in a window; score files with rows outside their windows alongside them`,
        { profile: profile.name, nullScore, perfectScore },
      );
    }
    return { ...result, nullScore, perfectScore, normalizedScore: normalizeScore(result.rawScore, nullScore, perfectScore) };
  });
  return { detector: run.detector, optimizer, windowCount: corpus.windowCount, profiles };
}

/** Reads `<dir>/<detector>/<category>/<detector>_<file>.csv` for every series (NAB results layout). */
export function readResultsRun(dir: string, corpus: NabCorpus, detector: string): DetectorRun {
  const scores = corpus.series.map((s) => {
    const file = path.join(dir, ...resultsFilePath(detector, s).split('/'));
    if (!fs.existsSync(file)) {
      throw new EdgeRnnError('BAD_INPUT_FILE', `${file}: results file for ${s.relativePath} is missing (expected NAB layout <detector>/<category>/<detector>_<file>.csv)`, { file });
    }
    const parsed = parseResultsCsv(fs.readFileSync(file, 'utf8'), file);
    checkResultsMatchSeries(parsed, s, file);
    return parsed.anomalyScores;
  });
  return { detector, scores };
}

/** The JSON summaries writeResults merges each detector into. */
export const RESULTS_SUMMARIES = ['final_results.json', 'thresholds.json'] as const;

/** An existing summary to merge into ({} when absent); BAD_INPUT_FILE unless it holds a JSON object. */
function readSummary(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) return {};
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EdgeRnnError('BAD_INPUT_FILE', `${file}: not valid JSON, cannot merge results into it (${(e as Error).message})`, { file });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    const got = json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json;
    throw new EdgeRnnError('BAD_INPUT_FILE', `${file}: expected a JSON object {detector: {profile: ...}} to merge results into, got ${got}`, { file, expected: 'object', got });
  }
  return json as Record<string, unknown>;
}

/**
 * Checks the JSON summaries already in a results folder (final_results.json, thresholds.json)
 * before any detector runs, so a file writeResults cannot merge into is reported up front and
 * not after the run. A missing folder or summary is fine.
 */
export function checkResultsSummaries(dir: string): void {
  for (const name of RESULTS_SUMMARIES) readSummary(path.join(dir, name));
}

export interface WriteResultsOptions {
  /** Significant digits for anomaly scores (default: shortest exact form). */
  digits?: number;
}

/**
 * Writes NAB's results layout under `dir`: per-series results CSVs, per-profile scores CSVs,
 * and merges this detector into `final_results.json` and `thresholds.json`.
 */
export function writeResults(dir: string, corpus: NabCorpus, run: DetectorRun, evaluation: NabEvaluation, options: WriteResultsOptions = {}): string[] {
  const written: string[] = [];
  const put = (rel: string, text: string): void => {
    const file = path.join(dir, ...rel.split('/'));
    makeDirs(path.dirname(file));
    // Whole or not at all (a temporary file renamed over it): written in place, a full disk or a
    // Ctrl-C left final_results.json truncated, every other detector's results in it lost.
    writeOutputFile(file, text);
    written.push(file);
  };
  corpus.series.forEach((s, i) => put(resultsFilePath(run.detector, s), formatResultsCsv(s, run.scores[i]!, options.digits)));
  for (const p of evaluation.profiles) put(scoresFilePath(run.detector, p.profile), formatScoresCsv(run.detector, p.profile, p.threshold, p.files));
  const merge = (name: string, value: Record<string, unknown>): void => {
    const json = readSummary(path.join(dir, name));
    json[run.detector] = value;
    // The replacer array fixes key order at every level: detectors sorted, profiles in NAB's order, then threshold, score.
    put(name, `${JSON.stringify(json, Object.keys(json).sort().concat(NAB_PROFILES.map((p) => p.name), ['threshold', 'score']), 4)}\n`);
  };
  merge('final_results.json', Object.fromEntries(evaluation.profiles.map((p) => [p.profile, p.normalizedScore])));
  merge('thresholds.json', Object.fromEntries(evaluation.profiles.map((p) => [p.profile, { score: p.rawScore, threshold: p.threshold }])));
  return written;
}
