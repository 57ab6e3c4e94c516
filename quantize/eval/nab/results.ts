/**
 * NAB's file formats, so results can be exchanged with NAB itself:
 *
 * - results: `<detector>/<category>/<detector>_<file>.csv` with
 *   `timestamp,value,anomaly_score,label` (label 1 inside windows). Reading accepts extra
 *   columns (NAB appends `S(t)_<profile>` columns when it scores).
 * - scores: `<detector>/<detector>_<profile>_scores.csv` with
 *   `Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count` and a final `Totals` row.
 *   Counts are over scorable (post-probation) rows, as NAB >= v1.1 writes them.
 * - `final_results.json` ({detector: {profile: normalized score}}) and `thresholds.json`
 *   ({detector: {profile: {threshold, score}}}), NAB's config/thresholds.json layout.
 *
 * Text in, text out; the caller does the file system.
 */
import { EdgeRnnError } from '../../../src/index.js';
import { parseNabNumber, parseNabTimestamp, type NabSeries } from './corpus.js';
import type { FileScore } from './optimizer.js';
import { NAB_PROFILES, type NabProfileName } from './profiles.js';

/** Relative path of a series' results file: `<detector>/<category>/<detector>_<file>`. */
export function resultsFilePath(detector: string, series: Pick<NabSeries, 'category' | 'fileName'>): string {
  return [detector, ...(series.category ? [series.category] : []), `${detector}_${series.fileName}`].join('/');
}

/** Relative path of a scores summary: `<detector>/<detector>_<profile>_scores.csv`. */
export function scoresFilePath(detector: string, profile: NabProfileName): string {
  return `${detector}/${detector}_${profile}_scores.csv`;
}

/**
 * A number as NAB's CSVs show it: shortest round-trip form with '.0' on integers; with `digits`,
 * first rounded to that many significant digits (NAB v1.0 wrote Python 2 str() floats: 12).
 */
export function formatNabNumber(x: number, digits?: number): string {
  const v = digits === undefined ? x : Number(x.toPrecision(digits));
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v);
}

/**
 * NAB's label column: 1 on rows whose time lies within a window's limits (inclusive), 0 elsewhere
 * (nab/labeler.py getLabels; compares instants, so repeated timestamps share a label).
 */
export function windowLabels(series: Pick<NabSeries, 'timestamps' | 'windowLimits'>): Uint8Array {
  const label = new Uint8Array(series.timestamps.length);
  for (const [a, b] of series.windowLimits) {
    const t1 = parseNabTimestamp(a);
    const t2 = parseNabTimestamp(b);
    for (let i = 0; i < label.length; i++) if (series.timestamps[i]! >= t1 && series.timestamps[i]! <= t2) label[i] = 1;
  }
  return label;
}

/** Writes a results CSV for one series. */
export function formatResultsCsv(series: Pick<NabSeries, 'timestampText' | 'valueText' | 'timestamps' | 'windowLimits'>, anomalyScores: ArrayLike<number>, digits?: number): string {
  const n = series.timestampText.length;
  if (anomalyScores.length !== n) {
    throw new EdgeRnnError('ANOMALY_SCORE', `expected ${n} anomaly scores (one per row), got ${anomalyScores.length}`, { expected: n, got: anomalyScores.length });
  }
  const label = windowLabels(series);
  const lines = ['timestamp,value,anomaly_score,label'];
  for (let i = 0; i < n; i++) lines.push(`${series.timestampText[i]},${series.valueText[i]},${formatNabNumber(anomalyScores[i]!, digits)},${label[i]}`);
  return `${lines.join('\n')}\n`;
}

export interface ParsedResults {
  timestampText: string[];
  timestamps: Float64Array;
  anomalyScores: Float64Array;
  /** Labels if the file has a label column. */
  labels?: Uint8Array;
}

function splitCsvLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Reads a NAB results CSV (needs timestamp and anomaly_score columns; others are ignored). */
export function parseResultsCsv(text: string, source: string): ParsedResults {
  const lines = splitCsvLines(text);
  const header = (lines[0] ?? '').replace(/^\uFEFF/, '').split(',');
  const col = (name: string): number => header.indexOf(name);
  const tsCol = col('timestamp');
  const scoreCol = col('anomaly_score');
  const labelCol = col('label');
  if (tsCol < 0 || scoreCol < 0) {
    throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: line 1: expected a header with 'timestamp' and 'anomaly_score' columns, got '${(lines[0] ?? '').slice(0, 100)}'`, { file: source, line: 1 });
  }
  const n = lines.length - 1;
  const timestampText: string[] = new Array<string>(n);
  const timestamps = new Float64Array(n);
  const anomalyScores = new Float64Array(n);
  const labels = labelCol >= 0 ? new Uint8Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const lineNo = i + 2;
    const fields = lines[i + 1]!.split(',');
    if (fields.length !== header.length) {
      throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: line ${lineNo}: expected ${header.length} fields, got ${fields.length}`, { file: source, line: lineNo });
    }
    const ts = fields[tsCol]!;
    const t = parseNabTimestamp(ts);
    if (Number.isNaN(t)) throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: line ${lineNo}: expected a timestamp 'YYYY-MM-DD HH:MM:SS', got '${ts}'`, { file: source, line: lineNo });
    const raw = fields[scoreCol]!;
    const s = parseNabNumber(raw);
    if (!(s >= 0 && s <= 1)) {
      throw new EdgeRnnError('ANOMALY_SCORE', `${source}: line ${lineNo}: anomaly_score must be a number in [0, 1], got '${raw}'`, { file: source, line: lineNo });
    }
    timestampText[i] = ts;
    timestamps[i] = t;
    anomalyScores[i] = s;
    if (labels) {
      const l = fields[labelCol]!;
      if (l !== '0' && l !== '1') throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: line ${lineNo}: label must be 0 or 1, got '${l}'`, { file: source, line: lineNo });
      labels[i] = l === '1' ? 1 : 0;
    }
  }
  return labels ? { timestampText, timestamps, anomalyScores, labels } : { timestampText, timestamps, anomalyScores };
}

/** Checks that a results file covers exactly the series' rows (same count, same instants). */
export function checkResultsMatchSeries(results: ParsedResults, series: Pick<NabSeries, 'timestamps' | 'timestampText' | 'relativePath'>, source: string): void {
  if (results.timestamps.length !== series.timestamps.length) {
    throw new EdgeRnnError('ANOMALY_SCORE', `${source}: expected ${series.timestamps.length} rows like ${series.relativePath}, got ${results.timestamps.length}`, { file: source, expected: series.timestamps.length, got: results.timestamps.length });
  }
  for (let i = 0; i < results.timestamps.length; i++) {
    if (results.timestamps[i] !== series.timestamps[i]) {
      throw new EdgeRnnError('ANOMALY_SCORE', `${source}: row ${i + 1}: timestamp '${results.timestampText[i]}' does not match '${series.timestampText[i]}' of ${series.relativePath}`, { file: source, row: i + 1 });
    }
  }
}

const SCORES_HEADER = 'Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count';

/** NAB's per-profile scores summary. */
export function formatScoresCsv(detector: string, profile: NabProfileName, threshold: number, files: readonly FileScore[]): string {
  const lines = [SCORES_HEADER];
  const t = { score: 0, tp: 0, tn: 0, fp: 0, fn: 0, total: 0 };
  for (const f of files) {
    lines.push([detector, profile, f.relativePath, formatNabNumber(threshold), formatNabNumber(f.score), f.tp, f.tn, f.fp, f.fn, f.total].join(','));
    t.score += f.score;
    t.tp += f.tp;
    t.tn += f.tn;
    t.fp += f.fp;
    t.fn += f.fn;
    t.total += f.total;
  }
  lines.push(['Totals', '', '', '', formatNabNumber(t.score), t.tp, t.tn, t.fp, t.fn, t.total].join(','));
  return `${lines.join('\n')}\n`;
}

export interface ParsedScores {
  detector: string;
  profile: string;
  files: FileScore[];
  totals: Omit<FileScore, 'relativePath' | 'threshold'>;
}

/** Reads a scores summary (ours or NAB's). */
export function parseScoresCsv(text: string, source: string): ParsedScores {
  const lines = splitCsvLines(text);
  if ((lines[0] ?? '').replace(/^\uFEFF/, '') !== SCORES_HEADER) {
    throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: line 1: expected header '${SCORES_HEADER}', got '${(lines[0] ?? '').slice(0, 100)}'`, { file: source, line: 1 });
  }
  const files: FileScore[] = [];
  let totals: ParsedScores['totals'] | undefined;
  let detector = '';
  let profile = '';
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.split(',');
    const num = (k: number): number => {
      const v = Number(f[k]);
      if (f[k] === undefined || f[k]!.trim() === '' || !Number.isFinite(v)) {
        throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: line ${i + 1}: column ${k + 1} must be a number, got '${f[k] ?? ''}'`, { file: source, line: i + 1 });
      }
      return v;
    };
    if (f.length !== 10) throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: line ${i + 1}: expected 10 fields, got ${f.length}`, { file: source, line: i + 1 });
    if (f[0] === 'Totals') {
      totals = { score: num(4), tp: num(5), tn: num(6), fp: num(7), fn: num(8), total: num(9) };
      continue;
    }
    detector = f[0]!;
    profile = f[1]!;
    files.push({ relativePath: f[2]!, threshold: num(3), score: num(4), tp: num(5), tn: num(6), fp: num(7), fn: num(8), total: num(9) });
  }
  if (!totals) throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: expected a final 'Totals' row, found none`, { file: source });
  return { detector, profile, files, totals };
}

/** NAB's thresholds.json layout: {detector: {profile: {threshold, score}}}. */
export type NabThresholds = Record<string, Partial<Record<NabProfileName, { threshold: number; score?: number }>>>;

/** Reads thresholds.json, checking the layout. */
export function parseThresholdsJson(text: string, source: string): NabThresholds {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: not valid JSON (${(e as Error).message})`, { file: source });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: expected {detector: {profile: {threshold, score}}}, got ${Array.isArray(json) ? 'an array' : typeof json}`, { file: source });
  }
  const out: NabThresholds = {};
  for (const [detector, profiles] of Object.entries(json as Record<string, unknown>)) {
    if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: '${detector}': expected {profile: {threshold, score}}`, { file: source });
    const entry: NabThresholds[string] = {};
    for (const p of NAB_PROFILES) {
      const v = (profiles as Record<string, unknown>)[p.name];
      if (v === undefined) continue;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: '${detector}.${p.name}': expected {threshold, score}, got ${JSON.stringify(v)}`, { file: source });
      }
      const threshold = (v as { threshold?: unknown }).threshold;
      if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
        throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: '${detector}.${p.name}.threshold' must be a finite number, got ${JSON.stringify(threshold)}`, { file: source });
      }
      const score = (v as { score?: unknown }).score;
      entry[p.name] = typeof score === 'number' ? { threshold, score } : { threshold };
    }
    out[detector] = entry;
  }
  return out;
}
