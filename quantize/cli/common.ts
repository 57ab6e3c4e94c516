/**
 * Node-only helpers shared by the desktop commands: data flags, provenance for the manifest
 * (dataset sha256, code commit, time), reading and writing models.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUDIO_FRONTEND_KINDS, decodeModel, EdgeRnnError, isEdgeRnnError, validateAudioSpec, type ModelSpec } from '../../src/index.js';
import { isOnnxModel } from '../../src/onnx/proto.js';
import { numberFlag, readFileArg, usageError, writeOutputFile, type CliContext } from '../../src/cli/framework.js';
import type { CsvOptions } from '../data/csv.js';
import type { Dataset, Sample, TrainTask } from '../data/dataset.js';
import { unresolvedInputs } from '../quant/calibrate.js';
import { loadDataset } from '../data/load.js';
import type { WavOptions } from '../data/wav.js';
import { makeDirs } from '../../src/io/files.js';
import { Progress } from '../../src/cli/progress.js';
import type { EpochRecord, FitHooks } from '../train/trainer.js';

/** Flags every command that reads data understands. */
export const DATA_FLAGS = {
  labels: { type: 'string' },
  'seq-len': { type: 'string' },
  stride: { type: 'string' },
  horizon: { type: 'string' },
  columns: { type: 'string' },
  'target-columns': { type: 'string' },
  'label-column': { type: 'string' },
} as const;

/**
 * The data-format part of a desktop command's help, naming only the data flags that command has:
 * `files` pairs each data flag with the flag of its .npy labels/targets, e.g.
 * [['--data', '--labels'], ['--val', '--val-labels']].
 */
export function dataHelp(files: readonly (readonly [data: string, labels: string])[]): string {
  const labels = files.map(([d, l], i) => `${l}${i === 0 ? ' Y.npy' : ''} for ${d}`).join(', ');
  return `data formats (${files.map(([d]) => d).join(', ')}):
  *.jsonl          one {"x": [[...], ...], "y": label} (or "target": [[...]]) per line
  *.csv            a time series, one row per step, cut into windows:
                   --seq-len N (64) --stride N (seq-len/2) --horizon N (1, forecast)
                   --columns a,b --target-columns c --label-column name (classify)
  *.npy            X [sequences][steps][features], its labels or targets in a second .npy
                   (classify: [sequences] integers; forecast: [sequences][steps][outputs]):
                   ${labels}
  a directory      WAV clips as <label>/<clip>.wav (Speech Commands layout)`;
}

type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

const list = (v: unknown): string[] | undefined => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

/**
 * The CSV windowing a model's manifest recorded (extra.data) is read from a file like any other
 * input: a stride of 0 hung `eval` (the window loop never advanced), a stride of "8" (a string)
 * cut windows at string-concatenated offsets, a columns string crashed. Refused, naming the field.
 */
function checkRecordedCsv(recorded: Record<string, unknown> | undefined): void {
  if (recorded === undefined) return;
  const fail = (key: string, expected: string): never => {
    throw new EdgeRnnError('ERN_MANIFEST', `the model's manifest records extra.data.${key} = ${JSON.stringify(recorded[key])}, expected ${expected}`, { field: `extra.data.${key}`, expected, got: recorded[key] });
  };
  for (const [key, min] of [['seqLen', 1], ['stride', 1], ['horizon', 1]] as const) {
    const v = recorded[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= min)) fail(key, `an integer >= ${min}`);
  }
  for (const key of ['columns', 'targetColumns']) {
    const v = recorded[key];
    if (v !== undefined && !(Array.isArray(v) && v.every((c) => typeof c === 'string'))) fail(key, 'a list of column names');
  }
  if (recorded.labelColumn !== undefined && typeof recorded.labelColumn !== 'string') fail('labelColumn', 'a column name');
}

const CSV_FLAGS = ['seq-len', 'stride', 'horizon', 'columns', 'target-columns', 'label-column'] as const;

/**
 * Data flags that would do nothing are usage errors, found before any work: CSV windowing when no
 * data file is a .csv (`--seq-len 32` on JSON Lines trained on whole sequences, without a word),
 * and a labels flag whose data flag is not given. `files` pairs each data flag with its labels
 * flag, as in dataHelp.
 */
export function checkDataFlags(values: Values, files: readonly (readonly [data: string, labels: string])[]): void {
  const flag = (f: string): string => f.replace(/^--/, '');
  for (const [data, labels] of files) {
    const given = values[flag(labels)];
    const p = values[flag(data)];
    if (given !== undefined && p === undefined) throw usageError(`${labels} needs ${data}: it gives the labels or targets of ${data}'s .npy file`);
    // As loadData says, but before any work, and for data it does not read (a job's folder in eval).
    if (typeof given === 'string' && typeof p === 'string' && path.extname(p).toLowerCase() !== '.npy') {
      throw usageError(`${labels} ${given} applies to .npy data (X with a labels/targets .npy); ${p} holds its own labels or targets`);
    }
  }
  const paths = files.map(([data]) => values[flag(data)]).filter((p): p is string => typeof p === 'string');
  const csvFlag = CSV_FLAGS.find((f) => values[f] !== undefined);
  if (csvFlag && !paths.some((p) => path.extname(p).toLowerCase() === '.csv')) {
    throw usageError(`--${csvFlag} applies to CSV data (.csv), and ${paths.join(', ')} ${paths.length === 1 ? 'is' : 'are'} not`);
  }
}

/** CSV windowing from flags, falling back to what a model recorded at training time. */
export function csvOptions(values: Values, recorded?: Record<string, unknown>): Omit<CsvOptions, 'task' | 'labels'> {
  checkRecordedCsv(recorded);
  const o: Omit<CsvOptions, 'task' | 'labels'> = { ...(recorded as Omit<CsvOptions, 'task' | 'labels'> | undefined) };
  const seqLen = numberFlag(values['seq-len'], 'seq-len', { min: 1, integer: true });
  const stride = numberFlag(values.stride, 'stride', { min: 1, integer: true });
  const horizon = numberFlag(values.horizon, 'horizon', { min: 1, integer: true });
  if (seqLen !== undefined) o.seqLen = seqLen;
  if (stride !== undefined) o.stride = stride;
  if (horizon !== undefined) o.horizon = horizon;
  const cols = list(values.columns);
  const tcols = list(values['target-columns']);
  if (cols) o.columns = cols;
  if (tcols) o.targetColumns = tcols;
  if (typeof values['label-column'] === 'string') o.labelColumn = values['label-column'];
  return o;
}

/** Text data files from this size on show a progress bar while they are parsed (about 0.5 s of CSV, 1 s of JSON Lines). */
const PROGRESS_BYTES = 32 * 2 ** 20;

export async function loadData(
  p: string,
  values: Values,
  ctx: { cwd: string; stderr?: CliContext['stderr'] },
  task: TrainTask,
  extra: {
    labels?: readonly string[];
    features?: number;
    /**
     * The flag naming this file's .npy labels/targets (default 'labels'): each data file has its
     * own (--val-labels, --eval-labels ...), never another file's.
     */
    labelsFlag?: string;
    csv?: Record<string, unknown>;
    /** WAV folders: the model's own front end (default: the trainer's mfcc defaults). */
    wav?: WavOptions;
    /** Calibration: inputs only (a CSV need not have the label column). */
    inputsOnly?: boolean;
  } = {},
): Promise<Dataset> {
  const labelsFlag = extra.labelsFlag ?? 'labels';
  const v = values[labelsFlag];
  const labelsPath = typeof v === 'string' ? v : undefined;
  // Only a .npy X has a companion labels/targets file: given with any other data, it was ignored
  // without a word (the file's own labels were used).
  if (labelsPath !== undefined && path.extname(p).toLowerCase() !== '.npy') {
    throw usageError(`--${labelsFlag} ${labelsPath} applies to .npy data (X with a labels/targets .npy); ${p} holds its own labels or targets`);
  }
  // A large CSV took a minute in silence (586 MB: 54 s, before it was read from the bytes); JSON
  // Lines parse at about 30 MB/s.
  const size = ctx.stderr && ['.csv', '.jsonl', '.json', '.ndjson'].includes(path.extname(p).toLowerCase()) ? fileSize(path.resolve(ctx.cwd, p)) : 0;
  const mb = Math.round(size / 2 ** 20);
  const progress = ctx.stderr && size >= PROGRESS_BYTES ? new Progress(ctx.stderr, `read ${p} (MB)`, mb) : undefined;
  const data = await loadDataset(p, {
    ...(progress ? { onProgress: (f: number) => progress.update(f * mb) } : {}),
    labelsFlag: `--${labelsFlag}`,
    task,
    cwd: ctx.cwd,
    csv: { ...csvOptions(values, extra.csv), ...(extra.inputsOnly ? { inputsOnly: true } : {}) },
    ...(extra.wav ? { wav: extra.wav } : {}),
    ...(extra.labels ? { labels: extra.labels } : {}),
    ...(extra.features !== undefined ? { features: extra.features } : {}),
    ...(labelsPath ? { labelsPath } : {}),
  }).finally(() => progress?.clear());
  progress?.update(mb);
  progress?.done();
  for (const note of data.notes ?? []) ctx.stderr?.write(`edgernn: note: ${note}\n`);
  return data;
}

/** A file's size, or 0 when it cannot be stat'ed (loadDataset then says why). */
function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * A WAV folder read for a model goes through the model's own audio front end (input.frontend),
 * as `eval` reads it: `quantize` and `prune` read it with the trainer's default MFCC, so a model of
 * another front end (other hops, mel bands or coefficients) was calibrated, scored and fine-tuned
 * on features it never takes, without a word.
 */
export function modelWavOptions(spec: ModelSpec): { wav?: WavOptions } {
  const kind = (spec.input.frontend as { kind?: unknown } | undefined)?.kind;
  return (AUDIO_FRONTEND_KINDS as readonly unknown[]).includes(kind) ? { wav: { frontendSpec: validateAudioSpec(spec.input.frontend) } } : {};
}

/**
 * Calibration data, inputs only: ranges need no labels or targets, and calibration sets are
 * often unlabelled (they were refused: "no label (\"y\"): the classify task needs one per
 * sequence"). Read as the autoencoder task, the one that asks for frames alone; labels or
 * targets a file does carry are read and ignored.
 */
export async function loadInputs(
  p: string,
  values: Values,
  ctx: { cwd: string },
  extra: { features?: number; labelsFlag?: string; csv?: Record<string, unknown>; wav?: WavOptions } = {},
): Promise<Dataset> {
  return loadData(p, values, ctx, 'autoencoder', { ...extra, inputsOnly: true });
}

/**
 * Says on stderr which inputs the int8 model `q` cannot resolve (a large offset, a small spread:
 * unresolvedInputs). Its accuracy showed the loss (float 100%, int8 50%), nothing said why.
 */
export function noteUnresolvedInputs(ctx: CliContext, command: string, q: ModelSpec, samples: readonly Sample[]): void {
  const p = (v: number, digits: number): string => String(Number(v.toPrecision(digits)));
  for (const u of unresolvedInputs(q, samples)) {
    const name = q.input.names?.[u.feature];
    ctx.stderr.write(
      `edgernn ${command}: note: input feature ${u.feature}${name !== undefined && name !== String(u.feature) ? ` (${name})` : ''} varies by ${p(u.std, 3)} around ${p(u.mean, 6)}, and int8 inputs step by ${p(u.step, 3)} (symmetric around 0, up to ${p(u.step * 32767, 6)}): the int8 model cannot resolve it; subtract its offset from the data (and on the device) before the model\n`,
    );
  }
}

/**
 * Training hooks that move a bar counting epochs by the batch too: ticked once an epoch, the bar
 * of `train --epochs 1` on 50,000 sequences sat at 0% for the whole run (minutes), as if hung.
 * `note` says how an epoch went; it stays on the bar through the next epoch's batches.
 */
export function epochProgress(progress: Progress, note: (e: EpochRecord) => string): Pick<FitHooks, 'onBatch' | 'onEpoch'> {
  let epochs = 0;
  let last = '';
  return {
    onBatch: (done, total) => progress.update(epochs + done / total, `${last ? `${last}, ` : ''}epoch ${epochs + 1} batch ${done}/${total}`),
    onEpoch: (e) => {
      epochs = e.epoch;
      last = note(e);
      progress.update(epochs, last);
    },
  };
}

/** The commit of the code that made a model: `git rev-parse HEAD` where this file lives. */
export function codeCommit(): string | undefined {
  try {
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
    return /^[0-9a-f]{40}$/.test(out) ? out : undefined;
  } catch {
    return undefined;
  }
}

/** YYYY-MM-DD, optionally THH:MM[:SS[.fff]] and Z or ±HH:MM; groups: year, month, day, time, zone. */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Creation time for the manifest: --created-at, else SOURCE_DATE_EPOCH (the reproducible-builds
 * convention), else now. Fixing it makes a run's bytes depend on seed and data only.
 */
export function createdAt(values: Values, now: () => number = Date.now): string {
  const flag = values['created-at'];
  if (typeof flag === 'string') {
    // ISO 8601 only, and a date-time without an offset is UTC: Date.parse reads one (and
    // "01/02/2026", "Jan 5 2026") in the machine's time zone, so the same command wrote other bytes
    // in another zone. Day and month as written: Date.parse rolls 2026-02-30 over to March 2.
    const m = ISO_DATE.exec(flag);
    if (m) {
      const [, year, month, date, time, zone] = m;
      const t = Date.parse(time !== undefined && zone === undefined ? `${flag}Z` : flag);
      const day = new Date(Date.UTC(Number(year), Number(month) - 1, Number(date)));
      if (Number.isFinite(t) && day.getUTCMonth() === Number(month) - 1 && day.getUTCDate() === Number(date)) return new Date(t).toISOString();
    }
    throw usageError(`--created-at needs an ISO date, got '${flag}' (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], UTC unless it ends in Z or an offset like +02:00)`);
  }
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch)) {
    // Past year 275760 a Date is invalid and toISOString threw a RangeError (a stack trace).
    const t = new Date(Number(epoch) * 1000);
    if (!Number.isFinite(t.getTime())) throw usageError(`SOURCE_DATE_EPOCH=${epoch} is beyond the dates a manifest can hold (expected seconds since 1970 up to 8640000000000)`);
    return t.toISOString();
  }
  return new Date(now()).toISOString();
}

export function readModel(p: string, ctx: { cwd: string }): { spec: ModelSpec; bytes: Uint8Array } {
  const file = path.resolve(ctx.cwd, p);
  if (!fs.existsSync(file)) throw new EdgeRnnError('BAD_INPUT_FILE', `${p}: no such model file`);
  const bytes = new Uint8Array(readFileArg(ctx.cwd, p));
  try {
    return { spec: decodeModel(bytes, p).spec, bytes };
  } catch (e) {
    // An ONNX model given to train/prune/quantize/eval: say what it is and what to run first.
    if (isEdgeRnnError(e, 'ERN_BAD_MAGIC') && isOnnxModel(bytes)) throw new EdgeRnnError('ERN_BAD_MAGIC', `${e.message}; it is an ONNX model: convert it first (\`edgernn convert ${p} --float -o MODEL.ern\`, or with --calib DATA for int8)`);
    throw e;
  }
}

/**
 * Refuses, before any work, an output path that cannot become a file: an existing folder, or a
 * path below a file. Commands that train for minutes or hours check their outputs first; found
 * at the write, the work was lost.
 */
export function checkOutputPath(p: string, ctx: { cwd: string }, flag: string): void {
  const file = path.resolve(ctx.cwd, p);
  // "out/" names a folder even before it exists (it was written as a file named "out").
  if (p === '' || p.endsWith('/') || p.endsWith(path.sep) || (fs.existsSync(file) && fs.statSync(file).isDirectory())) throw usageError(`${flag} ${JSON.stringify(p)} is a folder, expected a file`);
  let dir = path.dirname(file);
  while (!fs.existsSync(dir)) dir = path.dirname(dir);
  if (!fs.statSync(dir).isDirectory()) throw usageError(`${flag} ${p}: ${dir} is a file, not a folder`);
}

// Shared with the runtime commands (export, convert, run), which replaced their input too.
export { checkOutputsDistinct } from '../../src/cli/framework.js';

/** Writes an output whole (writeOutputFile: temporary file, then rename), its folder made first; returns the absolute path. */
export function writeFile(p: string, ctx: { cwd: string }, data: Uint8Array | string): string {
  const file = path.resolve(ctx.cwd, p);
  makeDirs(path.dirname(file));
  writeOutputFile(file, data);
  return file;
}

export function requireString(v: unknown, flag: string): string {
  if (typeof v !== 'string' || v === '') throw usageError(`${flag} is required`);
  return v;
}

/** Rounds metric numbers for manifests and JSON (stable text, no float noise). */
export function round(v: number, digits = 6): number {
  return Number.isFinite(v) ? Number(v.toPrecision(digits)) : v;
}
