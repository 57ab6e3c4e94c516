/**
 * In-memory datasets of the trainer: sequences of feature frames with a class label (classify),
 * per-step targets (forecast), or nothing (autoencoder). Loaders (jsonl.ts, csv.ts, npy.ts,
 * wav.ts) produce this; `load.ts` picks one by path.
 */
import { EdgeRnnError, type ModelSpec } from '../../src/index.js';

export type TrainTask = 'classify' | 'forecast' | 'autoencoder';
export const TRAIN_TASKS: readonly TrainTask[] = ['classify', 'forecast', 'autoencoder'];

/**
 * The task a model's data is read and scored as, the way evaluateModel scores it: forecast and
 * autoencoder as they are; any other task (kws, har, anomaly, custom) as classify when the model
 * has labels (or says classify), else as forecast (per-step targets: an anomaly forecaster, an
 * imported regressor).
 */
export function dataTaskOf(spec: Pick<ModelSpec, 'task' | 'labels'>): TrainTask {
  if (spec.task === 'forecast' || spec.task === 'autoencoder') return spec.task;
  return spec.task === 'classify' || spec.labels.length > 0 ? 'classify' : 'forecast';
}

export interface Sample {
  /** [T][features] flat. */
  x: Float32Array;
  T: number;
  /** classify: index into Dataset.labels. */
  y?: number;
  /** forecast: [T][targetSize] flat. */
  target?: Float32Array;
  /** Where it came from, for error messages ("data.jsonl:12"). */
  where: string;
}

export interface Dataset {
  /** Path (or paths joined by ", ") the samples were read from. */
  source: string;
  /** sha256 of the file bytes (directories: of every file's relative path and bytes, sorted). */
  sha256: string;
  features: number;
  featureNames?: string[];
  /** CSV: input columns chosen by default that rise at every row (a time or index column?). */
  risingInputs?: string[];
  /** classify: class names, index = Sample.y. */
  labels: string[];
  /** forecast: values per step of the target; 0 otherwise. */
  targetSize: number;
  samples: Sample[];
  /** Front-end description to record in the model (raw frames unless a loader says otherwise). */
  frontend?: { kind: string; [k: string]: unknown };
  rateHz?: number;
  /** What the loader read differently from how the files say (once per load), for the command to print. */
  notes?: string[];
}

export function dataError(where: string, msg: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('BAD_DATA', `${where}: ${msg}`, { where, ...details });
}

/**
 * Orders class names: numerically when every name is a number ("2" < "10"), else as strings.
 * Deterministic, so the same data always gives the same output order. Numeric names that are
 * the same number written two ways ("1" and "1.0", "01") are an error naming `source`: they made
 * two classes of one (each with part of its samples), in an order that depended on the file.
 */
export function sortLabels(names: Iterable<string>, source = 'data'): string[] {
  const list = [...new Set(names)];
  const numeric = list.every((s) => s.trim() !== '' && Number.isFinite(Number(s)));
  if (!numeric) return list.sort();
  list.sort((a, b) => Number(a) - Number(b));
  for (let i = 1; i < list.length; i++) {
    if (Number(list[i]) === Number(list[i - 1])) {
      throw dataError(source, `class labels '${list[i - 1]}' and '${list[i]}' are the same number written two ways: write every label of a class the same way`, { labels: [list[i - 1], list[i]] });
    }
  }
  return list;
}

/**
 * Finds class names among `labels` (a model's, or the training data's): by name, and, when every
 * class name is a number, a number by its value: "1" is the class "1.0" (pandas writes an integer
 * label column as 1.0 once it holds a missing value; the model's data written as 1 were unknown
 * labels, and a .npy's 1 was read as class index 1).
 */
export function classLookup(labels: readonly string[]): (name: string) => number | undefined {
  const isNumber = (s: string): boolean => s.trim() !== '' && Number.isFinite(Number(s));
  const byName = new Map(labels.map((l, i) => [l, i]));
  const byValue = labels.length > 0 && labels.every(isNumber) ? new Map(labels.map((l, i) => [Number(l), i])) : null;
  return (name) => byName.get(name) ?? (byValue && isNumber(name) ? byValue.get(Number(name)) : undefined);
}

/** Checks a dataset for a task; throws naming the first problem. */
export function checkDataset(ds: Dataset, task: TrainTask): void {
  if (ds.samples.length === 0) throw dataError(ds.source, 'no samples');
  for (const s of ds.samples) {
    if (s.T === 0) throw dataError(s.where, 'a sequence with no steps');
    if (task === 'classify' && s.y === undefined) throw dataError(s.where, 'no label ("y"): the classify task needs one per sequence');
    if (task === 'forecast' && s.target === undefined) throw dataError(s.where, 'no "target": the forecast task needs per-step targets');
  }
  if (task === 'classify' && ds.labels.length < 2) throw dataError(ds.source, `classify needs at least 2 classes, found ${ds.labels.length} (${ds.labels.join(', ')})`);
}
