/**
 * JSON Lines sequences, one object per line:
 *   {"x": [[f0, f1, ...], ...], "y": "label"}          classify (y: string or number)
 *   {"x": [[...], ...], "target": [[...], ...]}         forecast (one target row per step)
 *   {"x": [[...], ...]}                                 autoencoder
 * A frame may be a bare number for one feature ("x": [0.1, 0.2, ...]). Blank lines are skipped;
 * lines end in LF, CRLF or CR.
 * Every defect names the file and line.
 */
import { float32Defect } from '../../src/io/sequences.js';
import { classLookup, dataError, sortLabels, type Dataset, type Sample } from './dataset.js';

export interface JsonlOptions {
  /** Fixed class names (validation/eval data): a label outside them is an error. */
  labels?: readonly string[];
  /** Expected features per frame (e.g. a model's input size). */
  features?: number;
  /** How much of the parse is done (0 to 1), called every few thousand lines, for a progress bar. */
  onProgress?: (fraction: number) => void;
}

function frames(v: unknown, where: string, field: string, width: { n: number | undefined; from: string }): { data: Float32Array; T: number } {
  if (!Array.isArray(v) || v.length === 0) throw dataError(where, `"${field}" must be a non-empty array of frames, got ${JSON.stringify(v)?.slice(0, 60)}`);
  const T = v.length;
  const first = v[0];
  const n = Array.isArray(first) ? first.length : 1;
  if (n === 0) throw dataError(where, `${field}[0] is an empty frame: a frame needs at least one value`);
  if (width.n === undefined) {
    width.n = n;
    width.from = where;
  }
  const W = width.n;
  const data = new Float32Array(T * W);
  for (let t = 0; t < T; t++) {
    const row: unknown = v[t];
    const vals = Array.isArray(row) ? row : [row];
    if (vals.length !== W) throw dataError(where, `${field}[${t}] has ${vals.length} values, expected ${W} (as in ${width.from})`, { expected: W, got: vals.length });
    for (let k = 0; k < W; k++) {
      const x: unknown = vals[k];
      const defect = float32Defect(x);
      if (defect) throw dataError(where, `${field}[${t}]${Array.isArray(row) ? `[${k}]` : ''} ${defect}`);
      data[t * W + k] = x as number;
    }
  }
  return { data, T };
}

export function parseJsonl(text: string, source: string, opts: JsonlOptions = {}): Omit<Dataset, 'sha256'> {
  const xw = { n: opts.features, from: opts.features !== undefined ? 'the model' : '' };
  const tw = { n: undefined as number | undefined, from: '' };
  const raw: { x: Float32Array; T: number; y?: string; target?: Float32Array; where: string }[] = [];
  // A JSON array of the objects (json.dump of a list, a pretty-printed file) failed at its first
  // line as "not valid JSON (Unexpected end of JSON input)"; no line of JSON Lines starts with '['.
  if (text.trimStart().startsWith('[')) throw dataError(`${source}:1`, 'a JSON array, expected JSON Lines: one {"x": [[...]], "y": label} object per line');
  // Lines end in LF, CRLF or a lone CR, as in CSV files (a JSON string cannot hold a raw CR):
  // a file with CR line ends was one line, "not valid JSON".
  const lines = text.split(/\r\n?|\n/);
  lines.forEach((line, i) => {
    if (opts.onProgress && i % 4096 === 0) opts.onProgress(i / lines.length);
    const where = `${source}:${i + 1}`;
    if (line.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch (e) {
      // One object over several lines (json.dump(obj, indent=2)) is named, as an array is.
      if (line.trim() === '{') throw dataError(where, 'a JSON object over several lines (pretty-printed?), expected JSON Lines: one {"x": [[...]], "y": label} object per line, each on one line');
      throw dataError(where, `not valid JSON (${(e as Error).message})`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw dataError(where, 'each line must be a JSON object like {"x": [[...]], "y": label}');
    const obj = o as Record<string, unknown>;
    if (!('x' in obj)) throw dataError(where, 'missing "x" (the input frames)');
    const x = frames(obj.x, where, 'x', xw);
    const s: (typeof raw)[number] = { x: x.data, T: x.T, where };
    if (obj.y !== undefined && obj.y !== null) {
      if (typeof obj.y !== 'string' && !(typeof obj.y === 'number' && Number.isFinite(obj.y))) throw dataError(where, `"y" must be a string or a number, got ${JSON.stringify(obj.y)}`);
      if (obj.y === '') throw dataError(where, '"y" is an empty string, expected a class name', { expected: 'a class name', got: '' });
      s.y = String(obj.y);
    }
    if (obj.target !== undefined) {
      const tg = frames(obj.target, where, 'target', tw);
      if (tg.T !== x.T) throw dataError(where, `"target" has ${tg.T} steps, "x" has ${x.T}: one target row per step`);
      s.target = tg.data;
    }
    raw.push(s);
  });
  if (raw.length === 0) throw dataError(source, 'empty: no samples (expected one JSON object per line)');
  let labels: string[] = [];
  if (raw.some((s) => s.y !== undefined)) {
    const missing = raw.find((s) => s.y === undefined);
    if (missing) throw dataError(missing.where, 'no "y" while other lines have one');
    labels = opts.labels ? [...opts.labels] : sortLabels(raw.map((s) => s.y!), source);
  }
  const classOf = classLookup(labels);
  const samples: Sample[] = raw.map((s) => {
    const out: Sample = { x: s.x, T: s.T, where: s.where };
    if (s.y !== undefined) {
      const y = classOf(s.y);
      if (y === undefined) throw dataError(s.where, `unknown label ${JSON.stringify(s.y)}: the model knows ${labels.map((l) => JSON.stringify(l)).join(', ')}`, { label: s.y });
      out.y = y;
    }
    if (s.target) out.target = s.target;
    return out;
  });
  return { source, features: xw.n!, labels, targetSize: tw.n ?? 0, samples };
}
