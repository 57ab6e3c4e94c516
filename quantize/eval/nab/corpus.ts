/**
 * The NAB corpus: data files (`<category>/<file>.csv` with `timestamp,value` rows) and the
 * anomaly windows (`labels/combined_windows.json`: relative path -> [[start, end], ...]).
 *
 * Parsing works on text (`parseNabDataCsv`, `parseNabWindows`, `attachWindows`), so it is
 * testable without files; `loadNabCorpus` adds the file system (Node-only).
 *
 * Rules enforced, each with a typed error naming the file, line or window:
 * - data: header `timestamp,value`, `YYYY-MM-DD HH:MM:SS[.ffffff]` timestamps (read as UTC),
 *   finite decimal values, at least one row; LF or CRLF line ends. Rows are used in file order and
 *   timestamps need not be unique or sorted, as in NAB: its corpus repeats '2014-03-09 03:00:00'
 *   at a daylight-saving change and steps back an hour once in
 *   machine_temperature_system_failure.csv.
 * - windows: a JSON object of arrays of [start, end] timestamp pairs; every window edge must be
 *   a timestamp of the series (NAB requires exact matches), start <= end, windows sorted and
 *   disjoint; every labelled file must exist, named '<category>/<file>.csv' inside the data folder.
 */
import { readFileArg } from '../../../src/io/files.js';
import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError } from '../../../src/index.js';
import { probationaryLength } from './profiles.js';

/** A window as inclusive row indices into its series. */
export interface WindowRange {
  start: number;
  end: number;
}

export interface NabSeriesData {
  /** Timestamps as written in the file (kept for results files). */
  timestampText: string[];
  /** Milliseconds since the epoch, timestamps read as UTC. */
  timestamps: Float64Array;
  /** Values as written in the file (kept so results files round-trip exactly). */
  valueText: string[];
  values: Float64Array;
}

export interface NabSeries extends NabSeriesData {
  /** Path relative to the data folder with '/' separators, e.g. 'realKnownCause/nyc_taxi.csv'. */
  relativePath: string;
  /** First path component ('realKnownCause'); '' for files at the top level. */
  category: string;
  /** File name ('nyc_taxi.csv'). */
  fileName: string;
  /** Anomaly windows as row ranges, sorted and disjoint. */
  windows: WindowRange[];
  /** Window edges as written in the label file. */
  windowLimits: [string, string][];
  /** Rows NAB does not score: min(floor(0.15 n), 750). */
  probationaryLength: number;
}

export interface NabCorpus {
  /** Labelled series, sorted by relative path. */
  series: NabSeries[];
  /** Number of windows over all series (NAB's perfect score is this times tpWeight). */
  windowCount: number;
  /** Data files found without an entry in the label file (NAB skips them too). */
  unlabelled: string[];
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Milliseconds since the epoch for a NAB timestamp (read as UTC), or NaN if it is not one. */
export function parseNabTimestamp(text: string): number {
  const m = TIMESTAMP.exec(text);
  if (!m) return NaN;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  // Reject dates Date.UTC would roll over (2014-02-30, 25:00:00).
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour || d.getUTCMinutes() !== minute || d.getUTCSeconds() !== second) return NaN;
  const fraction = m[7] !== undefined ? Number(m[7].padEnd(6, '0')) / 1000 : 0;
  return ms + fraction;
}

/** A decimal number as NAB's float parsing reads it (surrounding blanks allowed): 12, -3.5, .5, 5., 1e-05, 2.2E+3. */
const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * A number field of a NAB CSV, or NaN if it is not a decimal number. Number() alone also reads
 * '0x10', '0b11' and '0o7' (as 16, 3 and 7), which NAB's float parsing refuses.
 */
export function parseNabNumber(text: string): number {
  return DECIMAL.test(text) ? Number(text) : NaN;
}

function badFile(source: string, message: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('BAD_INPUT_FILE', `${source}: ${message}`, { file: source, ...details });
}

/** Parses one NAB data file (`timestamp,value`). `source` names the file in errors. */
export function parseNabDataCsv(text: string, source: string): NabSeriesData {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const header = (lines[0] ?? '').replace(/^\uFEFF/, '');
  if (header !== 'timestamp,value') {
    throw badFile(source, `line 1: expected header 'timestamp,value', got '${header.slice(0, 80)}'`, { line: 1 });
  }
  const n = lines.length - 1;
  if (n < 1) throw badFile(source, 'expected at least one data row after the header, got none');
  const timestampText: string[] = new Array<string>(n);
  const valueText: string[] = new Array<string>(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lineNo = i + 2;
    const line = lines[i + 1]!;
    const comma = line.indexOf(',');
    if (comma < 0 || line.indexOf(',', comma + 1) >= 0) {
      throw badFile(source, `line ${lineNo}: expected 2 fields 'timestamp,value', got '${line.slice(0, 80)}'`, { line: lineNo });
    }
    const ts = line.slice(0, comma);
    const vs = line.slice(comma + 1);
    const t = parseNabTimestamp(ts);
    if (Number.isNaN(t)) throw badFile(source, `line ${lineNo}: expected a timestamp 'YYYY-MM-DD HH:MM:SS', got '${ts}'`, { line: lineNo });
    const v = parseNabNumber(vs);
    if (!Number.isFinite(v)) throw badFile(source, `line ${lineNo}: expected a finite number for value, got '${vs}'`, { line: lineNo });
    timestampText[i] = ts;
    valueText[i] = vs;
    timestamps[i] = t;
    values[i] = v;
  }
  return { timestampText, timestamps, valueText, values };
}

/** Parses a NAB windows file: relative path -> list of [start, end] timestamp strings. */
export function parseNabWindows(text: string, source: string): Map<string, [string, string][]> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw badFile(source, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw badFile(source, `expected a JSON object mapping data files to window lists, got ${Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const out = new Map<string, [string, string][]>();
  for (const [file, list] of Object.entries(json as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw badFile(source, `'${file}': expected a list of [start, end] windows, got ${typeof list}`, { dataFile: file });
    const windows: [string, string][] = [];
    list.forEach((w, k) => {
      if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== 'string' || typeof w[1] !== 'string') {
        throw badFile(source, `'${file}' window ${k}: expected ["start", "end"] timestamp strings, got ${JSON.stringify(w)}`, { dataFile: file, window: k });
      }
      for (const edge of w as string[]) {
        if (Number.isNaN(parseNabTimestamp(edge))) {
          throw badFile(source, `'${file}' window ${k}: expected a timestamp 'YYYY-MM-DD HH:MM:SS[.ffffff]', got '${edge}'`, { dataFile: file, window: k });
        }
      }
      windows.push([w[0] as string, w[1] as string]);
    });
    out.set(file, windows);
  }
  return out;
}

/**
 * Converts window limits to row ranges of `data`. Every edge must be a timestamp of the series
 * (compared as instants, so '2014-04-10 07:15:00.000000' matches '2014-04-10 07:15:00'); a
 * repeated timestamp means its first row, as in NAB's sweeper (`timestamps.index(edge)`).
 * Windows must be sorted and disjoint.
 */
export function attachWindows(relativePath: string, data: NabSeriesData, limits: readonly [string, string][]): WindowRange[] {
  const index = new Map<number, number>();
  for (let i = 0; i < data.timestamps.length; i++) if (!index.has(data.timestamps[i]!)) index.set(data.timestamps[i]!, i);
  const windows: WindowRange[] = [];
  limits.forEach(([a, b], k) => {
    const start = index.get(parseNabTimestamp(a));
    const end = index.get(parseNabTimestamp(b));
    for (const [edge, found] of [[a, start], [b, end]] as const) {
      if (found === undefined) {
        throw new EdgeRnnError('NAB_WINDOWS', `${relativePath} window ${k}: edge '${edge}' is not a timestamp of the series (NAB needs exact matches)`, { file: relativePath, window: k, edge });
      }
    }
    if (start! > end!) {
      throw new EdgeRnnError('NAB_WINDOWS', `${relativePath} window ${k}: start '${a}' is after end '${b}'`, { file: relativePath, window: k });
    }
    const prev = windows[windows.length - 1];
    if (prev && start! <= prev.end) {
      throw new EdgeRnnError('NAB_WINDOWS', `${relativePath} window ${k}: starts at '${a}', not after the end of window ${k - 1} ('${limits[k - 1]![1]}'); windows must be sorted and disjoint`, { file: relativePath, window: k });
    }
    windows.push({ start: start!, end: end! });
  });
  return windows;
}

/** Builds a labelled series from parsed data and its window limits. */
export function makeNabSeries(relativePath: string, data: NabSeriesData, limits: readonly [string, string][]): NabSeries {
  const slash = relativePath.lastIndexOf('/');
  return {
    ...data,
    relativePath,
    category: slash >= 0 ? relativePath.slice(0, slash) : '',
    fileName: relativePath.slice(slash + 1),
    windows: attachWindows(relativePath, data, limits),
    windowLimits: limits.map(([a, b]) => [a, b]),
    probationaryLength: probationaryLength(data.timestamps.length),
  };
}

function listCsv(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listCsv(root, rel));
    else if (entry.isFile() && entry.name.endsWith('.csv')) out.push(rel);
  }
  return out;
}

export interface LoadNabCorpusOptions {
  /** Folder holding `<category>/<file>.csv`. */
  dataDir: string;
  /** Windows JSON (e.g. labels/combined_windows.json); its keys select the files. */
  labelsPath: string;
}

/** Reads the labelled series of a NAB data folder (Node-only). */
export function loadNabCorpus(options: LoadNabCorpusOptions): NabCorpus {
  const { dataDir, labelsPath } = options;
  if (!fs.existsSync(dataDir) || !fs.statSync(dataDir).isDirectory()) {
    throw badFile(dataDir, 'expected a NAB data folder (<category>/<file>.csv), but it is not a directory');
  }
  const labels = parseNabWindows(readFileArg(process.cwd(), labelsPath).toString('utf8'), labelsPath);
  if (labels.size === 0) {
    // Nothing to score: every score would be 0/0 (NaN).
    throw badFile(labelsPath, `lists no data files: expected {"<category>/<file>.csv": [["start", "end"], ...], ...} (NAB's labels/combined_windows.json)`);
  }
  const series: NabSeries[] = [];
  for (const relativePath of [...labels.keys()].sort()) {
    // 'cat//a.csv' or 'cat/./a.csv' named cat/a.csv a second time (scored twice, and cat/a.csv listed
    // as unlabelled); '../x.csv' or '/etc/x.csv' reached outside the data folder.
    if (relativePath.split('/').some((part) => part === '' || part === '.' || part === '..') || relativePath.includes('\\')) {
      throw new EdgeRnnError('NAB_WINDOWS', `${labelsPath}: '${relativePath}' is not a path inside the data folder in NAB's form '<category>/<file>.csv' (no empty, '.' or '..' parts, '/' separators)`, { file: relativePath });
    }
    const file = path.join(dataDir, ...relativePath.split('/'));
    if (!fs.existsSync(file)) {
      throw new EdgeRnnError('NAB_WINDOWS', `${labelsPath}: labels name '${relativePath}' but ${file} does not exist`, { file: relativePath, dataDir });
    }
    if (!fs.statSync(file).isFile()) {
      throw new EdgeRnnError('NAB_WINDOWS', `${labelsPath}: labels name '${relativePath}' but ${file} is not a file (expected <category>/<file>.csv)`, { file: relativePath, dataDir });
    }
    const data = parseNabDataCsv(fs.readFileSync(file, 'utf8'), file);
    series.push(makeNabSeries(relativePath, data, labels.get(relativePath)!));
  }
  const unlabelled = listCsv(dataDir).filter((f) => !labels.has(f)).sort();
  const windowCount = series.reduce((a, s) => a + s.windows.length, 0);
  if (windowCount === 0) {
    // NAB's score is 100 (raw - null) / (perfect - null); without windows perfect = null = 0.
    throw new EdgeRnnError('NAB_WINDOWS', `${labelsPath}: the ${series.length} labelled file${series.length === 1 ? ' has' : 's have'} no anomaly window, so NAB's normalized score (between the null and the perfect detector, which coincide without windows) is undefined; score files with windows alongside them`, { files: series.length });
  }
  return { series, windowCount, unlabelled };
}
