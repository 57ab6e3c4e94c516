/**
 * The HAR training recipe, one function per stage, all through the trainer's library:
 *   front end (fit normalization on the training recordings) → windows → trainModel (float32)
 *   → optional pruneModel → calibrateAndQuantize (PTQ) and optional quantizationAwareFineTune
 * Validation for early stopping is recording-disjoint (stratified by class, seeded): windows of
 * one recording never sit on both sides.
 */
import { Rng, type ImuFrontendSpec, type ModelSpec, type RecurrentKind } from '../../../src/index.js';
import type { Dataset, Sample } from '../../data/dataset.js';
import { pruneModel } from '../../prune/prune-model.js';
import { calibrateAndQuantize } from '../../quant/calibrate.js';
import { quantizationAwareFineTune } from '../../quant/qat.js';
import type { EpochRecord } from '../../train/trainer.js';
import { trainModel } from '../../train/train-model.js';
import { HAR_CLASSES } from './classes.js';
import type { HmpRecording } from './hmp.js';
import { fitHmpGenerator, synthesizeLike } from './synthetic.js';
import { augmentRecording, DEFAULT_AUGMENT, type AugmentOptions } from './augment.js';
import { fitHarNormalization, harFrontendSpec, recordingFrames, windowSamples } from './windows.js';

export interface HarRecipe {
  /** Model frame rate, Hz (HMP records at 32). */
  rateHz: number;
  /** Frames per window at rateHz. */
  windowSize: number;
  /** Frames between windows when streaming (written to the manifest). */
  hop: number;
  /** Frames between training windows (denser than `hop` gives more training windows). */
  trainHop: number;
  /** At most this many training windows per recording, evenly spaced (0 = all); keeps long walks from dominating. */
  maxWindowsPerRecording: number;
  /** Seconds of still-wrist padding before and after each recording. */
  padSeconds: number;
  arch: RecurrentKind;
  hidden: number;
  layers: number;
  /** Hidden dense (relu) layers before the output. */
  denseHidden: number[];
  epochs: number;
  patience: number;
  lr: number;
  batchSize: number;
  dropout: number;
  /** 'balanced' weights windows by N / (C · n_c). */
  classWeights: 'none' | 'balanced';
  /**
   * Fraction of training recordings held out (per class) for early stopping. 0: none held out;
   * then training runs `epochs` epochs on every recording and keeps the weights with the lowest
   * loss on the (unaugmented) training windows.
   */
  valFraction: number;
  /** Block-pruning sparsity (0 = no pruning) and its fine-tuning epochs. */
  pruneSparsity: number;
  pruneEpochs: number;
  /** Quantization-aware fine-tuning epochs after PTQ (0 = PTQ only). */
  qatEpochs: number;
  /** Redraw the training windows every epoch: random crops of augmented recordings (see augment.ts). */
  augment: AugmentOptions | null;
  seed: number;
  /**
   * Optional: also train on generator output, this many synthetic recordings per real training
   * recording (the generator fitted to the training recordings only, never to validation or test
   * volunteers). Absent in the default recipe, so its cached fold models keep their key.
   */
  syntheticMix?: number;
  /**
   * Optional: bidirectional recurrent layers. Windows are independent, so a window classifier
   * may read each window both ways; such a model runs whole windows (session.run), not step().
   */
  bidirectional?: boolean;
  /**
   * Optional: about this many training windows per volunteer and class (each recording gets
   * round(B / recordings of its volunteer in its class) windows, 1 ... maxWindowsPerRecording), so
   * a volunteer with 41 recordings of a class (f1) weighs about as much as one with 5. Absent: every
   * recording gets maxWindowsPerRecording.
   */
  volunteerBalance?: number;
}

export const DEFAULT_HAR_RECIPE: HarRecipe = {
  rateHz: 16,
  windowSize: 64,
  hop: 16,
  trainHop: 8,
  maxWindowsPerRecording: 16,
  padSeconds: 0,
  arch: 'gru',
  hidden: 32,
  layers: 1,
  denseHidden: [],
  epochs: 40,
  patience: 8,
  lr: 5e-3,
  batchSize: 32,
  dropout: 0,
  classWeights: 'balanced',
  valFraction: 0.15,
  pruneSparsity: 0,
  pruneEpochs: 10,
  qatEpochs: 0,
  augment: { ...DEFAULT_AUGMENT },
  seed: 1,
};

export interface HarTrained {
  frontend: ImuFrontendSpec;
  float: ModelSpec;
  int8: ModelSpec;
  /** Pruned float model when the recipe prunes (then int8 is its quantization). */
  pruned?: ModelSpec;
  history: EpochRecord[];
  bestEpoch: number;
  trainWindows: number;
  valWindows: number;
  trainRecordings: number;
  valRecordings: number;
}

export interface HarTrainHooks {
  onEpoch?(stage: 'train' | 'prune' | 'qat', r: EpochRecord): void;
}

/** Seeded, class-stratified split of recordings: about `fraction` of each class to validation (at least one when a class has 3+; none when fraction is 0). */
export function splitRecordings(recs: readonly HmpRecording[], fraction: number, seed: number): { train: HmpRecording[]; val: HmpRecording[] } {
  if (fraction <= 0) return { train: [...recs], val: [] };
  const rng = new Rng(seed + 11);
  const train: HmpRecording[] = [];
  const val: HmpRecording[] = [];
  for (const c of HAR_CLASSES) {
    const of = recs.filter((r) => r.activity === c);
    const keyed = of.map((r) => ({ r, k: rng.next() })).sort((a, b) => a.k - b.k);
    const n = of.length >= 3 ? Math.max(1, Math.round(of.length * fraction)) : 0;
    keyed.forEach((e, i) => (i < n ? val : train).push(e.r));
  }
  return { train, val };
}

/** Evenly spaced subset of at most `max` items (all when max is 0 or more than there are). */
export function evenlySpaced<T>(items: readonly T[], max: number): T[] {
  if (max <= 0 || items.length <= max) return [...items];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.floor(((i + 0.5) * items.length) / max)]!);
  return out;
}

/** Training windows per recording: maxWindowsPerRecording, or the recipe's volunteerBalance share. */
export function windowsPerRecording(recs: readonly HmpRecording[], recipe: Pick<HarRecipe, 'maxWindowsPerRecording' | 'volunteerBalance'>): number[] {
  const B = recipe.volunteerBalance;
  if (B === undefined) return recs.map(() => recipe.maxWindowsPerRecording);
  const count = new Map<string, number>();
  const key = (r: HmpRecording): string => `${r.activity}\u0000${r.volunteer}`;
  for (const r of recs) count.set(key(r), (count.get(key(r)) ?? 0) + 1);
  const max = recipe.maxWindowsPerRecording > 0 ? recipe.maxWindowsPerRecording : Infinity;
  return recs.map((r) => Math.min(max, Math.max(1, Math.round(B / count.get(key(r))!))));
}

/** Training windows of recordings, capped per recording. */
export function trainingWindows(spec: ImuFrontendSpec, recs: readonly HmpRecording[], recipe: HarRecipe): Sample[] {
  const out: Sample[] = [];
  const caps = windowsPerRecording(recs, recipe);
  recs.forEach((r, i) => {
    const { samples } = windowSamples(spec, [r], HAR_CLASSES, { hop: recipe.trainHop, padSeconds: recipe.padSeconds });
    out.push(...evenlySpaced(samples, caps[i]!));
  });
  return out;
}

export function harDataset(samples: Sample[], source: string, sha256: string, frontend: ImuFrontendSpec): Dataset {
  return {
    source,
    sha256,
    features: frontend.channels.length,
    featureNames: frontend.channels.map((c) => c.name),
    labels: [...HAR_CLASSES],
    targetSize: 0,
    samples,
    rateHz: frontend.rateHz,
    frontend: frontend as unknown as Dataset['frontend'] & object,
  };
}

/**
 * Returns a function that replaces every training window in `samples` (in place, same count per
 * recording) by a random crop of a freshly augmented copy of its recording.
 */
export function windowRedrawer(frontend: ImuFrontendSpec, recs: readonly HmpRecording[], samples: Sample[], recipe: HarRecipe, aug: AugmentOptions): (epoch: number) => void {
  const byFile = new Map(recs.map((r) => [r.file, r]));
  const slots = new Map<string, number[]>();
  samples.forEach((s, i) => {
    const file = s.where.slice(0, s.where.lastIndexOf('#'));
    if (!slots.has(file)) slots.set(file, []);
    slots.get(file)!.push(i);
  });
  return (epoch) => {
    const rng = new Rng(recipe.seed * 7919 + epoch);
    for (const [file, idx] of slots) {
      const rec = augmentRecording(byFile.get(file)!, aug, rng);
      const frames = recordingFrames(frontend, rec, recipe.padSeconds);
      const C = frontend.channels.length;
      const W = frontend.windowSize;
      const starts = frames.length / C - W + 1;
      for (const i of idx) {
        const k = Math.floor(rng.next() * starts);
        samples[i] = { ...samples[i]!, x: frames.slice(k * C, (k + W) * C), where: `${file}#aug${epoch}.${k}` };
      }
    }
  };
}

/** Trains float32 and int8 models on recordings (all of them belong to training). */
export function trainHar(recs: readonly HmpRecording[], recipe: HarRecipe, provenance: { source: string; sha256: string }, hooks: HarTrainHooks = {}): HarTrained {
  const split = splitRecordings(recs, recipe.valFraction, recipe.seed);
  const val = split.val;
  const frontend = fitHarNormalization(harFrontendSpec(recipe), split.train);
  const mix = recipe.syntheticMix ?? 0;
  const train = mix > 0 ? [...split.train, ...synthesizeLike(fitHmpGenerator(split.train, provenance.sha256), split.train, recipe.seed + 7, mix)] : split.train;
  const trainSamples = trainingWindows(frontend, train, recipe);
  // Without held-out recordings, the unaugmented training windows stand in (the trainer keeps the best epoch).
  const { volunteerBalance: _, ...unbalanced } = recipe;
  const valSamples = trainingWindows(frontend, val.length > 0 ? val : split.train, { ...unbalanced, maxWindowsPerRecording: 0, trainHop: recipe.hop });
  const data = harDataset(trainSamples, provenance.source, provenance.sha256, frontend);
  const valData = harDataset(valSamples, provenance.source, provenance.sha256, frontend);
  const options = {
    task: 'classify' as const,
    arch: recipe.arch,
    hidden: recipe.hidden,
    layers: recipe.layers,
    denseHidden: recipe.denseHidden,
    epochs: recipe.epochs,
    patience: recipe.patience,
    lr: recipe.lr,
    batchSize: recipe.batchSize,
    dropout: recipe.dropout,
    bidirectional: recipe.bidirectional ?? false,
    classWeights: recipe.classWeights,
    seed: recipe.seed,
    // The front end already standardizes each axis with the training statistics.
    normalize: false,
  };
  const redraw = recipe.augment ? windowRedrawer(frontend, train, trainSamples, recipe, recipe.augment) : null;
  const r = trainModel({
    data,
    val: valData,
    options,
    name: 'har',
    hooks: {
      onEpoch: (e) => {
        hooks.onEpoch?.('train', e);
        // fit() reads data.samples[i] at every batch: new windows in place feed the next epoch.
        redraw?.(e.epoch);
      },
    },
    training: { dataset: provenance.source, datasetSha256: provenance.sha256 },
  });
  const history = [...r.fit.history];
  let float = r.spec;
  let pruned: ModelSpec | undefined;
  if (recipe.pruneSparsity > 0) {
    const p = pruneModel(float, data, { ...options, sparsity: recipe.pruneSparsity, epochs: recipe.pruneEpochs }, valData, { onEpoch: (e) => hooks.onEpoch?.('prune', e) });
    pruned = p.spec;
    float = p.spec;
  }
  let int8 = calibrateAndQuantize(float, trainSamples, { method: 'mse' });
  if (recipe.qatEpochs > 0) {
    // QAT validates on the same recording-disjoint windows: it keeps the best int8 epoch.
    const q = quantizationAwareFineTune(float, harDataset([...trainSamples, ...valSamples], provenance.source, provenance.sha256, frontend), {
      epochs: recipe.qatEpochs,
      calibration: { method: 'mse' },
      valSplit: valSamples.length / (trainSamples.length + valSamples.length),
    }, { onEpoch: (e) => hooks.onEpoch?.('qat', e) });
    int8 = q.int8;
  }
  const out: HarTrained = {
    frontend,
    float,
    int8,
    history,
    bestEpoch: r.fit.bestEpoch,
    trainWindows: trainSamples.length,
    valWindows: valSamples.length,
    trainRecordings: train.length,
    valRecordings: val.length,
  };
  if (pruned) out.pruned = pruned;
  return out;
}
