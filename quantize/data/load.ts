/**
 * Node-only: reads a dataset from a path, choosing the parser by what the path is:
 *   *.jsonl / *.json     JSON Lines sequences (jsonl.ts)
 *   *.csv                CSV time series, windowed (csv.ts)
 *   *.npy                NumPy X with a companion labels/targets array (npy.ts)
 *   a directory          WAV clips in the Speech Commands layout (wav.ts)
 * and hashes what it read (sha256), so a model can name its data exactly.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
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
}

function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function readBytes(file: string, shown: string): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw dataError(shown, 'no such file or directory');
  }
  if (st.size === 0) throw dataError(shown, 'empty file');
  return new Uint8Array(fs.readFileSync(file));
}

export async function loadDataset(p: string, opts: LoadOptions): Promise<Dataset> {
  const file = path.resolve(opts.cwd ?? process.cwd(), p);
  let ds: Dataset;
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    ds = await loadWavFolder(file, p, { ...opts.wav, ...(opts.labels ? { labels: opts.labels } : {}) });
  } else {
    const bytes = readBytes(file, p);
    const ext = path.extname(file).toLowerCase();
    const text = (): string => {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw dataError(p, 'not UTF-8 text');
      }
    };
    const fixed = opts.labels ? { labels: opts.labels } : {};
    if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') {
      ds = { ...parseJsonl(text(), p, { ...fixed, ...(opts.features !== undefined ? { features: opts.features } : {}) }), sha256: sha256(bytes) };
    } else if (ext === '.csv') {
      ds = { ...parseCsv(text(), p, { ...opts.csv, task: opts.task, ...fixed }), sha256: sha256(bytes) };
    } else if (ext === '.npy') {
      const comp = opts.labelsPath ? { source: opts.labelsPath, bytes: readBytes(path.resolve(opts.cwd ?? process.cwd(), opts.labelsPath), opts.labelsPath) } : null;
      ds = { ...parseNpyDataset(bytes, p, opts.task, comp, opts.labels, opts.labelsFlag), sha256: comp ? sha256(bytes, comp.bytes) : sha256(bytes) };
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
