/**
 * Node-only: reads a dataset from a path, choosing the parser by what the path is:
 *   *.jsonl / *.json     JSON Lines sequences (jsonl.ts)
 *   *.csv                CSV time series, windowed (csv.ts)
 *   *.npy                NumPy X with a companion labels/targets array (npy.ts)
 *   a directory          WAV clips in the Speech Commands layout (wav.ts)
 * and hashes what it read (sha256), so a model can name its data exactly.
 */
import { constants as bufferConstants, isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import type { EdgeRnnError } from '../../src/index.js';
import { parseCsv, type CsvOptions } from './csv.js';
import { checkDataset, dataError, type Dataset, type TrainTask } from './dataset.js';
import { parseJsonl } from './jsonl.js';
import { parseNpyDataset } from './npy.js';
import { loadWavFolder, type WavOptions } from './wav.js';

export interface LoadOptions {
  task: TrainTask;
  /** Fixed class names (a model's labels): unknown labels are errors. */
  labels?: readonly string[];
  /** Expected features per frame. */
  features?: number;
  /** .npy: labels [N] or targets [N][T][O]. */
  labelsPath?: string;
  /** The command-line flag that gives labelsPath, for messages (default --labels). */
  labelsFlag?: string;
  csv?: Omit<CsvOptions, 'task' | 'labels'>;
  wav?: WavOptions;
  /** Relative paths resolve against this (default process.cwd()). */
  cwd?: string;
  /** CSV and JSON Lines: how much of the parse is done (0 to 1), called now and then, for a progress bar. */
  onProgress?: (fraction: number) => void;
}

function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

const MB = (n: number): string => `${Math.round(n / 2 ** 20)} MB`;

/**
 * Memory a text format needs at least, per byte of file, on the JavaScript heap while it is
 * parsed: lower bounds of what was measured (JSON Lines about 1.1, the text itself), so nothing
 * that would load is refused. A file that cannot fit ended the process with V8's "heap out of
 * memory" and a native stack trace. CSV is parsed from the bytes into float32 arrays, outside
 * the heap (it took about 8 bytes of heap per byte of file, a string per cell, until 2026-11-27).
 */
const HEAP_PER_BYTE: Record<string, number> = { '.jsonl': 1, '.json': 1, '.ndjson': 1 };

/**
 * Files are read whole. Refused before the read, with what to do: one larger than a read can
 * return (2 GiB: a raw ERR_FS_FILE_TOO_LARGE stack trace), and a text file whose parse needs
 * more than the heap may hold (`node --max-old-space-size`).
 */
function checkSize(size: number, ext: string, shown: string): void {
  const maxRead = Math.min(bufferConstants.MAX_LENGTH, 2 ** 31 - 1);
  if (size > maxRead) {
    throw dataError(shown, `${MB(size)}: data files are read whole, at most ${MB(maxRead)} each (split it into several files, or keep fewer sequences)`, { expected: `at most ${maxRead} bytes`, got: size });
  }
  const perByte = HEAP_PER_BYTE[ext];
  const limit = v8.getHeapStatistics().heap_size_limit;
  if (perByte !== undefined && size * perByte > limit) {
    throw dataError(
      shown,
      `${MB(size)} of JSON Lines needs at least ${MB(size * perByte)} of memory to parse, and this process may use ${MB(limit)} (raise it: NODE_OPTIONS=--max-old-space-size=${Math.ceil((size * perByte * 1.5) / 2 ** 20)}; or write the data as .npy, read at its own size)`,
      { expected: `at most ${Math.floor(limit / perByte)} bytes`, got: size },
    );
  }
}

function readBytes(file: string, shown: string, ext = ''): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    // Only a missing file is "no such file": links that loop were said to be missing too.
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(shown, code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file or directory' : `cannot be read (${code})`, { code });
  }
  // A folder given as a labels file was a bare "EISDIR: illegal operation on a directory, read".
  if (st.isDirectory()) throw dataError(shown, 'a folder, expected a file');
  if (st.size === 0) throw dataError(shown, 'empty file');
  checkSize(st.size, ext, shown);
  // A view of the Buffer, not a copy of it: `new Uint8Array(buffer)` held the file twice.
  const buf = fs.readFileSync(file);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * "Not UTF-8 text", with the line and byte of the first sequence that is not UTF-8: a
 * spreadsheet's export in Windows-1252 ("café" as one byte 0xE9) was refused without either. A
 * UTF-16 file (its byte order mark) is named as such.
 */
function notUtf8(b: Uint8Array, shown: string): EdgeRnnError {
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) {
    return dataError(shown, 'UTF-16 text (a spreadsheet\'s "Unicode text" export?), expected UTF-8: convert it, e.g. iconv -f utf-16 -t utf-8', { expected: 'UTF-8 text', got: 'UTF-16 text' });
  }
  let line = 1;
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c === 0x0a || (c === 0x0d && b[i + 1] !== 0x0a)) line++;
    const more = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    let ok = more >= 0 && i + more < b.length;
    for (let k = 1; ok && k <= more; k++) ok = (b[i + k]! & 0xc0) === 0x80;
    if (!ok) {
      return dataError(`${shown}:${line}`, `not UTF-8 text: byte ${i} is 0x${c.toString(16).toUpperCase().padStart(2, '0')}${c >= 0x80 ? ' (Latin-1 or Windows-1252 text? convert it: iconv -f windows-1252 -t utf-8)' : ''}`, { expected: 'UTF-8 text', got: `byte 0x${c.toString(16)} at ${i}` });
    }
    i += more + 1;
  }
  return dataError(shown, 'not UTF-8 text');
}

export async function loadDataset(p: string, opts: LoadOptions): Promise<Dataset> {
  const file = path.resolve(opts.cwd ?? process.cwd(), p);
  let ds: Dataset;
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    ds = await loadWavFolder(file, p, { ...opts.wav, ...(opts.labels ? { labels: opts.labels } : {}) });
  } else {
    const ext = path.extname(file).toLowerCase();
    const bytes = readBytes(file, p, ext);
    const text = (): string => {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch (e) {
        // Past V8's longest string (about 512 M characters) decode throws ERR_STRING_TOO_LONG: a
        // valid 600 MB file was said to be "not UTF-8 text".
        if ((e as NodeJS.ErrnoException)?.code === 'ERR_STRING_TOO_LONG') {
          throw dataError(p, `${MB(bytes.length)} of text is more than one string may hold (${Math.floor(bufferConstants.MAX_STRING_LENGTH / 2 ** 20)} M characters): split it into several files, or write the data as .npy`, { expected: `at most ${bufferConstants.MAX_STRING_LENGTH} characters`, got: bytes.length });
        }
        throw notUtf8(bytes, p);
      }
    };
    const fixed = opts.labels ? { labels: opts.labels } : {};
    if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') {
      ds = { ...parseJsonl(text(), p, { ...fixed, ...(opts.features !== undefined ? { features: opts.features } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) }), sha256: sha256(bytes) };
    } else if (ext === '.csv') {
      // Parsed from the bytes: no string of the whole file (nor V8's limit on one, 512 M characters).
      if (!isUtf8(bytes)) throw notUtf8(bytes, p);
      ds = { ...parseCsv(bytes, p, { ...opts.csv, task: opts.task, ...fixed }, opts.onProgress), sha256: sha256(bytes) };
    } else if (ext === '.npy') {
      const comp = opts.labelsPath ? { source: opts.labelsPath, bytes: readBytes(path.resolve(opts.cwd ?? process.cwd(), opts.labelsPath), opts.labelsPath, '.npy') } : null;
      ds = { ...parseNpyDataset(bytes, p, opts.task, comp, opts.labels, opts.labelsFlag), sha256: comp ? sha256(bytes, comp.bytes) : sha256(bytes) };
    } else if (ext === '.npz') {
      // np.savez's archive of arrays: was "unknown data format '.npz'", with no way from it.
      throw dataError(p, `an .npz archive (np.savez), not one array: save the inputs and their labels or targets as two .npy files (np.save), and give the inputs' file here, the other with ${opts.labelsFlag ?? '--labels'}`);
    } else {
      throw dataError(p, `unknown data format '${ext || '(no extension)'}': expected .jsonl, .csv, .npy or a folder of WAV clips`);
    }
  }
  if (opts.features !== undefined && ds.features !== opts.features) {
    throw dataError(p, `${ds.features} features per frame, the model expects ${opts.features}`, { expected: opts.features, got: ds.features });
  }
  checkDataset(ds, opts.task);
  return ds;
}
