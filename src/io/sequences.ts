/**
 * Model input files for the CLI: .npy ([steps][features] or [batch][steps][features]) or JSON
 * (the same nesting). Every sequence is checked for shape and finite values, with the position
 * of the first defect in the error.
 */
import { EdgeRnnError } from '../errors.js';
import { openNpy } from './npy.js';

export interface SequenceBatch {
  /** One flat Float32Array [steps * features] per sequence. */
  sequences: Float32Array[];
  steps: number[];
  /** true when the file held a batch ([batch][steps][features]). */
  batched: boolean;
}

function bad(source: string, msg: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('BAD_INPUT_FILE', `${source}: ${msg}`, { source, ...details });
}

/**
 * Why `v` cannot be a float32 input value ("is ..., expected ..."), or null when it can. Models
 * take float32: a finite number beyond float32's range (|v| > 3.4028235e38, e.g. 1e39 in JSON)
 * would become ±Infinity when stored, and then fail far from the file as a non-finite input (or,
 * in training, as a diverged loss).
 */
export function float32Defect(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) {
    return Number.isFinite(Math.fround(v)) ? null : `is ${v}, beyond float32's range (|x| <= 3.4028235e38)`;
  }
  const shown = typeof v === 'number' || typeof v === 'bigint' ? String(v) : (JSON.stringify(v) ?? String(v));
  return `is ${shown}, expected a finite number`;
}

function fromRows(rows: unknown, features: number, source: string, where: string): Float32Array {
  if (!Array.isArray(rows)) throw bad(source, `${where} must be an array of frames`);
  const out = new Float32Array(rows.length * features);
  rows.forEach((row: unknown, t) => {
    if (!Array.isArray(row)) throw bad(source, `${where}[${t}] must be an array of ${features} numbers`);
    if (row.length !== features) throw bad(source, `${where}[${t}] has ${row.length} values, the model expects ${features}`);
    row.forEach((v: unknown, k) => {
      const defect = float32Defect(v);
      if (defect) throw bad(source, `${where}[${t}][${k}] ${defect}`);
      out[t * features + k] = v as number;
    });
  });
  return out;
}

/**
 * A CSV given where frames go: named, with the formats that are read and how to convert, where it
 * was "neither .npy nor JSON: Unexpected token 'a'". Not read: which columns are the inputs, and
 * whether the first row is a header, are the trainer's CSV rules (quantize/data/csv.ts), and a
 * second reader here that judged them differently would feed the model wrong columns silently.
 */
function csvError(source: string, features: number, columns?: readonly string[]): EdgeRnnError {
  const cols = columns?.length ? `[${columns.map((c) => `'${c.replace(/[\\']/g, '\\$&')}'`).join(', ')}]` : `[...the model's ${features} input columns]`;
  return bad(
    source,
    `a CSV file: this command takes .npy or JSON frames ([steps][${features}] or [batch][steps][${features}]), not CSV (\`edgernn eval\`, \`train\` and \`quantize\` read a CSV, by the columns and windows a model was trained on); convert its rows first, e.g. python3 -c "import numpy as np, pandas as pd; np.save('x.npy', pd.read_csv('${source}')[${cols}].to_numpy('float32'))"`,
    { expected: '.npy or JSON', got: 'CSV' },
  );
}

/** Text whose first line is values separated by commas (or semicolons, tabs): not JSON, which starts with '[' or '{'. */
function looksLikeCsv(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 4096)).replace(/^\uFEFF/, '').trimStart();
  const first = head.split(/\r?\n|\r/, 1)[0]!;
  return !/^[[{]/.test(first) && /[,;\t]/.test(first);
}

/**
 * Parses an input file for a model with `features` inputs. `columns` (the input columns a model
 * was trained on from a CSV, its manifest's extra.data.columns) is named when the file is a CSV.
 */
export function readSequences(bytes: Uint8Array, source: string, features: number, columns?: readonly string[]): SequenceBatch {
  // Was "neither .npy nor JSON: Unexpected end of JSON input".
  if (bytes.length === 0) throw bad(source, 'empty file: expected .npy or JSON frames');
  const isNpy = bytes.length >= 6 && bytes[0] === 0x93 && bytes[1] === 0x4e;
  if (isNpy) {
    // A sequence at a time into float32: the whole array as float64 first took 8 bytes an element.
    const a = openNpy(bytes, source);
    const s = a.shape;
    if (s.length !== 2 && s.length !== 3) throw bad(source, `array of shape [${s}]: expected [steps][features] or [batch][steps][features]${s.length === 1 ? ' (a series of one feature: np.save(file, x.reshape(-1, 1)))' : ''}`);
    if (s[s.length - 1] !== features) throw bad(source, `last dimension is ${s[s.length - 1]}, the model expects ${features} features`);
    const batch = s.length === 3 ? s[0]! : 1;
    const per = batch === 0 ? 0 : a.count / batch;
    const seq = new Float64Array(per);
    const sequences: Float32Array[] = [];
    for (let b = 0; b < batch; b++) {
      a.read(b * per, seq);
      for (let i = 0; i < per; i++) {
        const defect = float32Defect(seq[i]);
        if (defect) throw bad(source, `element ${b * per + i} ${defect}`);
      }
      sequences.push(Float32Array.from(seq));
    }
    // No frames, or no sequences: nothing to run, refused as JSON's [] is (it gave empty outputs).
    if (s.includes(0)) throw bad(source, `array of shape [${s}] holds no frames: expected at least one step${s.length === 3 ? ' in at least one sequence' : ''}`);
    return { sequences, steps: sequences.map((q) => q.length / features), batched: s.length === 3 };
  }
  // A recording where frames go (the mistake `edgernn run --help` warns of), and NumPy's other
  // format: named, where both were "neither .npy nor JSON: The encoded data was not valid for
  // encoding utf-8".
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') {
    throw bad(source, `a WAV recording, not model input frames: the model takes its front end's ${features}-feature frames (.npy or JSON [steps][features]); raw audio goes through the front end first (edgernn eval, examples/kws-wav.mjs)`);
  }
  if (ascii(0, 4) === 'PK\x03\x04') throw bad(source, 'a zip archive (an .npz of np.savez?): save the one array with np.save, as .npy');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    if (/\.(csv|tsv)$/i.test(source) || looksLikeCsv(bytes)) throw csvError(source, features, columns);
    throw bad(source, `neither .npy nor JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(json) || json.length === 0) throw bad(source, 'expected a non-empty JSON array of frames or of sequences');
  // A series written flat ([0.1, 0.2, ...]): was "input[0] must be an array of 1 numbers".
  if (json.every((v) => typeof v === 'number')) {
    const example = features === 1 ? `[[${json.slice(0, 3).join('], [')}]${json.length > 3 ? ', ...' : ''}]` : `[[${Array.from({ length: Math.min(features, 3) }, (_, k) => `f${k}`).join(', ')}${features > 3 ? ', ...' : ''}], ...]`;
    throw bad(source, `a flat array of ${json.length} numbers: expected frames, [steps][${features}] (${example})`);
  }
  // A batch when any element is a sequence (an array of arrays), not only the first: a batch
  // whose first sequence was [] read as frames ("input[0] has 0 values"), while an empty later
  // one was "holds no frames". Frames and sequences side by side are named as such.
  const isSequence = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && Array.isArray(v[0]);
  const isFrame = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && !Array.isArray(v[0]);
  const firstSequence = json.findIndex(isSequence);
  const depth = firstSequence >= 0 ? 3 : 2;
  if (depth === 3) {
    const firstFrame = json.findIndex(isFrame);
    if (firstFrame >= 0) {
      throw bad(source, `input mixes frames and sequences: input[${firstFrame}] is a frame (an array of numbers), input[${firstSequence}] a sequence (an array of frames); expected [steps][features] or [batch][steps][features]`);
    }
  }
  if (depth === 2) {
    const seq = fromRows(json, features, source, 'input');
    return { sequences: [seq], steps: [seq.length / features], batched: false };
  }
  const sequences = json.map((rows: unknown, b) => {
    if (Array.isArray(rows) && rows.length === 0) throw bad(source, `input[${b}] holds no frames: every sequence needs at least one step`);
    return fromRows(rows, features, source, `input[${b}]`);
  });
  return { sequences, steps: sequences.map((q) => q.length / features), batched: true };
}
