/**
 * Node-only: leave-subjects-out cross-validation of the HAR recipe. Each fold trains on the other
 * volunteers (or on what `trainSet` makes of them: e.g. synthetic recordings from a generator
 * fitted to them) and scores its held-out volunteers through the runtime, float32 and int8.
 * Trained fold models are cached as .ern files under `.cache/har/` keyed by everything that
 * shapes them (recipe, dataset hash, fold, training-set kind, CV_VERSION), so evaluation reruns
 * without retraining.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel, EdgeRnnError, encodeModel, fitDurationModel, type DurationModel, type ImuFrontendSpec, type ModelSpec, type Runtime } from '../../../src/index.js';
import type { ClassificationReport } from '../../eval/metrics.js';
import type { EpochRecord } from '../../train/trainer.js';
import { HAR_CLASSES } from './classes.js';
import { groupKFold, type Fold } from './folds.js';
import { repoRoot, type HmpDataset, type HmpRecording } from './hmp.js';
import { trainHar, type HarRecipe } from './pipeline.js';
import { harReports, scoreRecordings, type RecordingScore } from './score.js';
import { makeDirs } from '../../../src/io/files.js';

/** Bump when the pipeline changes what a recipe trains, so cached fold models are not reused. */
export const CV_VERSION = 1;

export interface CvOptions {
  folds: number;
  /** Cache directory (default <repo>/.cache/har). */
  cacheDir: string;
  /** Only these fold indices (default all). */
  only?: readonly number[];
  /** Training-set kind for the cache key and the report ('real' by default). */
  kind?: string;
  /** Replaces a fold's training recordings (default: the real ones). */
  trainSet?(recs: readonly HmpRecording[], fold: Fold): HmpRecording[];
  /** Fail instead of training when a fold model is not cached (benchmarks, reports). */
  requireCached?: boolean;
  log?(line: string): void;
  onEpoch?(fold: number, stage: string, r: EpochRecord): void;
}

export interface FoldModels {
  fold: Fold;
  float: ModelSpec;
  int8: ModelSpec;
  frontend: ImuFrontendSpec;
  /** Whether the models came from the cache. */
  cached: boolean;
}

export function volunteerCounts(recs: readonly HmpRecording[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of recs) counts.set(r.volunteer, (counts.get(r.volunteer) ?? 0) + 1);
  return counts;
}

export function defaultCacheDir(): string {
  return path.join(repoRoot(), '.cache/har');
}

function cacheKey(recipe: HarRecipe, ds: HmpDataset, fold: Fold, kind: string): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: CV_VERSION, recipe, data: ds.sha256, test: fold.test, train: fold.train, kind }));
  return h.digest('hex').slice(0, 16);
}

/**
 * Writes `file` whole or not at all (a temporary name, then a rename): a run killed while writing
 * a fold model leaves no short .ern under the cache's name.
 */
function writeFileAtomic(file: string, data: Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * A fold's cached models, or null when either is absent or does not decode (a file cut short by
 * an interrupted write before writes were atomic, or written by another format version): the
 * fold is then trained again and the entry replaced.
 */
function readFoldModels(fFloat: string, fInt8: string, log?: (line: string) => void): { float: ModelSpec; int8: ModelSpec } | null {
  if (!fs.existsSync(fFloat) || !fs.existsSync(fInt8)) return null;
  try {
    return {
      float: decodeModel(new Uint8Array(fs.readFileSync(fFloat)), fFloat).spec,
      int8: decodeModel(new Uint8Array(fs.readFileSync(fInt8)), fInt8).spec,
    };
  } catch (e) {
    log?.(`${path.dirname(fFloat)}: cached fold model unreadable (${(e as Error).message}), training it again`);
    return null;
  }
}

/** Trains (or loads from the cache) every fold's float32 and int8 models. */
export function crossValidationModels(ds: HmpDataset, recipe: HarRecipe, o: CvOptions): FoldModels[] {
  const folds = groupKFold(volunteerCounts(ds.recordings), o.folds);
  const kind = o.kind ?? 'real';
  const out: FoldModels[] = [];
  for (const fold of folds) {
    if (o.only && !o.only.includes(fold.index)) continue;
    const dir = path.join(o.cacheDir, 'cv', `${kind}-${cacheKey(recipe, ds, fold, kind)}`);
    const fFloat = path.join(dir, `fold${fold.index}-float.ern`);
    const fInt8 = path.join(dir, `fold${fold.index}-int8.ern`);
    const hit = readFoldModels(fFloat, fInt8, o.log);
    if (hit) {
      o.log?.(`fold ${fold.index} (test ${fold.test.join('+')}): cached in ${path.relative(process.cwd(), dir)}`);
      out.push({ fold, ...hit, frontend: hit.int8.input.frontend as unknown as ImuFrontendSpec, cached: true });
      continue;
    }
    if (o.requireCached) {
      throw new EdgeRnnError('DATASET_MISSING', `fold ${fold.index} (${kind}) is not in the cache ${dir}: run npm run train:har${kind === 'synthetic' ? ' and npm run eval:har -- --synthetic' : ''} first`, { fold: fold.index, cache: dir });
    }
    const real = ds.recordings.filter((r) => fold.train.includes(r.volunteer));
    const train = o.trainSet ? o.trainSet(real, fold) : real;
    const t0 = Date.now();
    const tr = trainHar(train, recipe, { source: `${ds.root} (fold ${fold.index}: ${kind} training set, volunteers ${fold.train.join(',')})`, sha256: ds.sha256 }, {
      onEpoch: (stage, e) => o.onEpoch?.(fold.index, stage, e),
    });
    makeDirs(dir);
    writeFileAtomic(fFloat, encodeModel(tr.float));
    writeFileAtomic(fInt8, encodeModel(tr.int8));
    o.log?.(`fold ${fold.index} (test ${fold.test.join('+')}): trained on ${tr.trainRecordings}+${tr.valRecordings} recordings (${tr.trainWindows} windows), best epoch ${tr.bestEpoch}/${tr.history.length}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    out.push({ fold, float: tr.float, int8: tr.int8, frontend: tr.frontend, cached: false });
  }
  return out;
}

export interface FoldScores {
  fold: Fold;
  float: RecordingScore[];
  int8: RecordingScore[];
  /** Recording lengths of the fold's training volunteers (real recordings), for the withLength reports. */
  duration: DurationModel;
}

/** The per-class duration model of some HMP recordings. */
export function recordingDurations(recs: readonly HmpRecording[], inputRateHz: number): DurationModel {
  return fitDurationModel(
    recs.map((r) => ({ y: HAR_CLASSES.indexOf(r.activity as (typeof HAR_CLASSES)[number]), seconds: r.samples / inputRateHz })),
    HAR_CLASSES.length,
  );
}

/** Scores each fold's held-out recordings with its float32 (float backend) and int8 (chosen backend) models. */
export async function scoreFolds(rt: Runtime, ds: HmpDataset, models: readonly FoldModels[], backend: 'auto' | 'simd' | 'scalar' | 'reference' = 'auto'): Promise<FoldScores[]> {
  const out: FoldScores[] = [];
  for (const m of models) {
    const test = ds.recordings.filter((r) => m.fold.test.includes(r.volunteer));
    out.push({
      fold: m.fold,
      float: await scoreRecordings(rt, m.float, m.frontend, test, { backend: 'float' }),
      int8: await scoreRecordings(rt, m.int8, m.frontend, test, { backend }),
      duration: recordingDurations(
        ds.recordings.filter((r) => m.fold.train.includes(r.volunteer)),
        m.frontend.inputRateHz,
      ),
    });
  }
  return out;
}

export interface CvSummary {
  /** Pooled over every held-out recording (each predicted once); withLength: with each fold's duration model. */
  float: { window: ClassificationReport; recording: ClassificationReport; withLength: ClassificationReport };
  int8: { window: ClassificationReport; recording: ClassificationReport; withLength: ClassificationReport };
  perFold: Array<{ fold: number; test: string[]; recordings: number; floatRecording: number; int8Recording: number; int8WithLength: number; floatWindow: number; int8Window: number }>;
}

export function summarizeCv(scores: readonly FoldScores[]): CvSummary {
  // Each recording is judged with the duration model of the fold that held it out.
  const durationOf = new Map(scores.flatMap((s) => s.int8.map((r) => [r.file, s.duration] as const)));
  const pooled = (which: 'float' | 'int8') => {
    const r = harReports(scores.flatMap((s) => s[which]), (x) => durationOf.get(x.file)!);
    return { window: r.window, recording: r.recording, withLength: r.withLength! };
  };
  return {
    float: pooled('float'),
    int8: pooled('int8'),
    perFold: scores.map((s) => {
      const f = harReports(s.float);
      const q = harReports(s.int8, s.duration);
      return {
        fold: s.fold.index,
        test: s.fold.test,
        recordings: s.int8.length,
        floatRecording: f.recording.accuracy,
        int8Recording: q.recording.accuracy,
        int8WithLength: q.withLength!.accuracy,
        floatWindow: f.window.accuracy,
        int8Window: q.window.accuracy,
      };
    }),
  };
}
