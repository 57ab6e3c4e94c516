/**
 * The training loop: mini-batch BPTT (optionally truncated to K steps), Adam/AdamW with global
 * norm clipping, a learning-rate schedule, early stopping on a validation split that keeps the
 * best weights, class weights, and seeded reproducibility (same seed and data: the same bytes).
 *
 * Early stopping and plateau LR decay only start counting once the validation loss is clearly
 * below the trivial predictor's (the class prior, or the mean target): a model still on its
 * initial plateau cannot be overfitting, and some tasks (information at the start of a long
 * noisy sequence) sit there for many epochs before the loss drops.
 *
 * Quantization-aware training and pruning plug in through FitHooks (a replacement forward, a
 * callback after each optimizer step).
 */
import { EdgeRnnError, Rng, type ModelSpec, type RecurrentKind } from '../../src/index.js';
import type { Dataset, Sample, TrainTask } from '../data/dataset.js';
import type { Network, LayerPlan } from '../nn/network.js';
import type { Arr, Param } from '../nn/tensor.js';
import { makeBatch, type Batch, type BatchSpec, type Normalization } from './batches.js';
import { classifyLoss, mseLoss, type LossResult } from './loss.js';
import { Adam, DEFAULT_OPTIMIZER, type OptimizerKind } from './optimizer.js';

export type Schedule = 'plateau' | 'cosine' | 'constant';
export const SCHEDULES: readonly Schedule[] = ['plateau', 'cosine', 'constant'];

export interface TrainOptions {
  task: TrainTask;
  arch: RecurrentKind;
  /** Hidden units per recurrent layer. */
  hidden: number;
  /** Recurrent layers (encoder layers for the autoencoder). */
  layers: number;
  /** Bidirectional recurrent layers (offline models only: the runtime then needs whole sequences). */
  bidirectional: boolean;
  /** Hidden dense layers (relu) between the recurrent stack and the output layer. */
  denseHidden: number[];
  /** Maximum epochs. */
  epochs: number;
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  optimizer: OptimizerKind;
  weightDecay: number;
  /** Global gradient-norm limit; 0 disables clipping. */
  clipNorm: number;
  schedule: Schedule;
  /** Linear warm-up epochs at the start. */
  warmupEpochs: number;
  /** Lowest learning rate as a fraction of lr (cosine end, plateau floor). */
  minLrFraction: number;
  /** Dropout between layers (0 = none). */
  dropout: number;
  /** Epochs without validation improvement before stopping (after the baseline is beaten); Infinity: never. */
  patience: number;
  /**
   * Relative improvement of the validation loss that resets patience (measured from the loss at
   * the last such improvement). The weights kept are the lowest loss's, however small its lead.
   */
  minDelta: number;
  /** Fraction of the training data held out for validation when no --val is given. */
  valSplit: number;
  /** 'none', 'balanced' (N / (C n_c)), or explicit weights per class. */
  classWeights: 'none' | 'balanced' | number[];
  /** Truncated BPTT window in steps; 0 = full sequences. */
  tbptt: number;
  seed: number;
  /** LSTM forget-gate bias at initialization. */
  forgetBias: number;
  /** GRU update-gate bias at initialization. */
  updateBias: number;
  /** autoencoder: frames each step reconstructs (x[t-W+1..t]). */
  window: number;
  /** autoencoder: bottleneck width; 0 = max(2, round(window * features / 4)). */
  bottleneck: number;
  /** Standardize inputs (and regression targets) with training statistics, folded into the export. */
  normalize: boolean;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  task: 'classify',
  arch: 'gru',
  hidden: 32,
  layers: 1,
  bidirectional: false,
  denseHidden: [],
  epochs: 100,
  batchSize: 32,
  lr: 5e-3,
  optimizer: 'adam',
  weightDecay: 0,
  clipNorm: 1,
  schedule: 'plateau',
  warmupEpochs: 0,
  minLrFraction: 0.05,
  dropout: 0,
  patience: 15,
  minDelta: 1e-3,
  valSplit: 0.15,
  classWeights: 'none',
  tbptt: 0,
  seed: 1,
  forgetBias: 1,
  updateBias: 1,
  window: 8,
  bottleneck: 0,
  normalize: true,
};

/**
 * The options the model was trained with: its own, or those of the model it was converted from
 * (`edgernn convert` of an `edgernn export` keeps that record as `training.original`, once per
 * round trip). Until 2026-11-27 a converted model was fine-tuned with the defaults (batch size,
 * class weights, optimizer, weight decay, dropout, seed), by prune and by QAT alike.
 */
export function trainedWith(training: ModelSpec['training']): Partial<TrainOptions> {
  let t: unknown = training;
  for (let depth = 0; depth < 64 && typeof t === 'object' && t !== null; depth++) {
    const h = (t as Record<string, unknown>).hyperparameters;
    if (typeof h === 'object' && h !== null) return h as Partial<TrainOptions>;
    t = (t as Record<string, unknown>).original;
  }
  return {};
}


/** The layer plan of a task (what `edgernn train` builds). */
export function planFor(o: TrainOptions, features: number, outputs: number): LayerPlan[] {
  const plan: LayerPlan[] = [];
  const drop = (): void => {
    if (o.dropout > 0) plan.push({ kind: 'dropout', p: o.dropout });
  };
  for (let l = 0; l < o.layers; l++) {
    plan.push({ kind: o.arch, hidden: o.hidden, bidirectional: o.bidirectional });
    drop();
  }
  if (o.task === 'autoencoder') {
    const k = o.bottleneck > 0 ? o.bottleneck : Math.max(2, Math.round((o.window * features) / 4));
    plan.push({ kind: 'dense', size: k, activation: 'tanh' });
    plan.push({ kind: o.arch, hidden: o.hidden, bidirectional: o.bidirectional });
    drop();
  }
  for (const h of o.denseHidden) {
    plan.push({ kind: 'dense', size: h, activation: 'relu' });
    drop();
  }
  plan.push({ kind: 'dense', size: outputs, activation: 'none' });
  return plan;
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAccuracy?: number;
  valLoss: number;
  valAccuracy?: number;
  /** Wall time of the epoch (not written to models: it would break reproducible bytes). */
  seconds: number;
  sequencesPerSecond: number;
  /** Extra per-epoch facts from hooks (e.g. sparsity). */
  note?: Record<string, number>;
}

/** What the loop needs to know about the data and the network's output. */
export interface FitContext extends BatchSpec {
  classWeights: number[];
}

/** The FitContext of fine-tuning a trained model (pruning, quantization-aware training) on `train`. */
export function fineTuneContext(spec: ModelSpec, task: TrainTask, outputs: number, norm: Normalization, o: TrainOptions, train: readonly Sample[]): FitContext {
  return {
    task,
    features: spec.input.size,
    outputs,
    window: typeof spec.extra?.window === 'number' ? spec.extra.window : o.window,
    norm,
    classWeights: task === 'classify' ? classWeightsFor(o, train, outputs) : [],
    dtype: 'f32',
  };
}

export interface FitHooks {
  /** Replaces net.forward (quantization-aware training). */
  forward?(net: Network, b: Batch, train: boolean): Arr;
  /** After each optimizer step (e.g. pruning masks). */
  afterStep?(step: number, epoch: number, stepsPerEpoch: number): void;
  /** Whether this epoch's weights may be kept as the best (pruning: only at final sparsity). */
  eligible?(epoch: number): boolean;
  /** Facts to record per epoch. */
  note?(epoch: number): Record<string, number>;
  onEpoch?(r: EpochRecord): void;
  onBatch?(done: number, total: number): void;
  /** Clock in milliseconds (default Date.now), injected for tests. */
  now?(): number;
}

export interface FitResult {
  history: EpochRecord[];
  /** The epoch (1-based) whose weights were restored; -1 if none was eligible. */
  bestEpoch: number;
  /** Validation loss of the restored weights: history[bestEpoch - 1].valLoss (Infinity if none). */
  bestValLoss: number;
  /** The trivial predictor's validation loss (prior / mean). */
  baselineLoss: number;
  /** Patience ran out before the last epoch (epochsRun < epochs). */
  stoppedEarly: boolean;
  epochsRun: number;
}

export interface EvalResult {
  loss: number;
  accuracy?: number;
  /** classify: predicted class per sample. */
  predictions: Int32Array;
}

function shuffled(n: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

function lossOf(ctx: FitContext, out: Arr, b: Batch, lossLengths: readonly number[], wantGrad: boolean): LossResult {
  const { T, B } = b.shape;
  if (ctx.task === 'classify') return classifyLoss(out, T, B, ctx.outputs, lossLengths, b.y, ctx.classWeights, ctx.dtype, wantGrad);
  return mseLoss(out, b.target!, b.weight!, T * B * ctx.outputs, ctx.dtype, wantGrad);
}

/** Loss and accuracy of the network on samples (eval mode, full sequences). */
export function evaluate(net: Network, samples: readonly Sample[], ctx: FitContext, hooks: Pick<FitHooks, 'forward'> = {}, batchSize = 64): EvalResult {
  let loss = 0;
  let weight = 0;
  let correct = 0;
  const predictions = new Int32Array(samples.length);
  for (let i = 0; i < samples.length; i += batchSize) {
    const items = samples.slice(i, i + batchSize);
    const b = makeBatch(items, ctx);
    net.setInitialStates(null);
    const out = hooks.forward ? hooks.forward(net, b, false) : net.forward(b.x, b.shape, false);
    const r = lossOf(ctx, out, b, b.lengths, false);
    loss += r.loss * r.weight;
    weight += r.weight;
    correct += r.correct;
    if (ctx.task === 'classify') {
      const C = ctx.outputs;
      items.forEach((_, bi) => {
        const o = ((b.lengths[bi]! - 1) * b.shape.B + bi) * C;
        let best = 0;
        for (let c = 1; c < C; c++) if (out[o + c]! > out[o + best]!) best = c;
        predictions[i + bi] = best;
      });
    }
  }
  const res: EvalResult = { loss: weight > 0 ? loss / weight : 0, predictions };
  if (ctx.task === 'classify') res.accuracy = correct / Math.max(1, samples.length);
  return res;
}

/**
 * Validation loss of the trivial predictor: the class prior (classify), or each output's mean
 * target over the training set (regression; 0 when the targets are normalized, the raw mean with
 * `normalize: false`, where the mean square of the targets overstated it and so made the gate
 * below trivially beaten).
 */
export function baselineLoss(train: readonly Sample[], val: readonly Sample[], ctx: FitContext): number {
  if (ctx.task === 'classify') {
    const counts = new Float64Array(ctx.outputs);
    for (const s of train) counts[s.y!] = counts[s.y!]! + 1;
    let loss = 0;
    let w = 0;
    for (const s of val) {
      const cw = ctx.classWeights[s.y!] ?? 1;
      loss += cw * -Math.log(Math.max(counts[s.y!]! / train.length, 1e-6));
      w += cw;
    }
    return loss / Math.max(w, 1e-12);
  }
  const O = ctx.outputs;
  const sum = new Float64Array(O);
  const count = new Float64Array(O);
  forEachWeightedTarget(train, ctx, (o, t) => {
    sum[o] = sum[o]! + t;
    count[o] = count[o]! + 1;
  });
  const mean = Array.from(sum, (s, o) => (count[o]! > 0 ? s / count[o]! : 0));
  let sq = 0;
  let n = 0;
  forEachWeightedTarget(val, ctx, (o, t) => {
    sq += (t - mean[o]!) ** 2;
    n++;
  });
  return sq / Math.max(n, 1);
}

/** Calls `f(output, target)` for every target value with weight in batches of the samples (as the loss sees them). */
function forEachWeightedTarget(samples: readonly Sample[], ctx: FitContext, f: (output: number, target: number) => void): void {
  for (let i = 0; i < samples.length; i += 64) {
    const b = makeBatch(samples.slice(i, i + 64), ctx);
    for (let k = 0; k < b.target!.length; k++) if (b.weight![k]) f(k % ctx.outputs, b.target![k]!);
  }
}

/**
 * Refuses what would otherwise train silently on nothing or on NaN: an empty set (no steps; an
 * empty validation set scored 0 every epoch, so epoch 1's weights were restored) and non-finite
 * inputs or targets (they poisoned the normalization and surfaced as TRAINING_DIVERGED).
 */
function checkFitSamples(samples: readonly Sample[], ctx: FitContext, what: 'training' | 'validation'): void {
  if (samples.length === 0) throw new EdgeRnnError('BAD_DATA', `no ${what} sequences: fit needs at least one`, { expected: 'at least one sequence', got: 0 });
  const F = ctx.features;
  for (const s of samples) {
    // No steps: no last step to read a class at (evaluate indexed step -1).
    if (!(Number.isInteger(s.T) && s.T >= 1)) throw new EdgeRnnError('BAD_DATA', `${s.where}: a sequence with ${s.T} steps, ${what} needs at least one`, { where: s.where, expected: 'at least one step', got: s.T });
    // A class index outside the outputs read a neighbouring sequence's logits (y = C is the next
    // sequence's class 0), a missing one became class 0, a fractional one was truncated: silently.
    if (ctx.task === 'classify' && !(Number.isInteger(s.y) && s.y! >= 0 && s.y! < ctx.outputs)) {
      throw new EdgeRnnError('BAD_DATA', `${s.where}: class index ${s.y}, ${what} needs an integer in 0..${ctx.outputs - 1} (${ctx.outputs} classes)`, { where: s.where, expected: `0..${ctx.outputs - 1}`, got: s.y });
    }
    const fields: [string, Float32Array | undefined, number][] = [['x', s.x, F]];
    if (ctx.task === 'forecast') fields.push(['target', s.target, ctx.outputs]);
    for (const [name, a, width] of fields) {
      // Too short would read undefined (NaN) past the end.
      if (!a || a.length < s.T * width) {
        throw new EdgeRnnError('BAD_DATA', `${s.where}: "${name}" has ${a?.length ?? 0} values, ${s.T} steps of ${width} need ${s.T * width}`, { where: s.where, expected: s.T * width, got: a?.length ?? 0 });
      }
      for (let i = 0; i < s.T * width; i++) {
        if (!Number.isFinite(a[i]!)) {
          const step = Math.floor(i / width);
          const k = i % width;
          throw new EdgeRnnError('BAD_DATA', `${s.where}: ${name}[${step}][${k}] is ${a[i]}, ${what} needs finite values`, { where: s.where, step, feature: k, expected: 'a finite number', got: String(a[i]) });
        }
      }
    }
  }
}

/**
 * A dataset read for an existing network: frames of its input width and, for forecast, targets
 * of its output width. A mismatch was read silently with the wrong stride (frames or targets
 * of one step bleeding into the next).
 */
export function checkDataShape(ds: Dataset, features: number, task: TrainTask, outputs: number, model: string): void {
  if (ds.features !== features) throw new EdgeRnnError('BAD_DATA', `${ds.source}: ${ds.features} features per frame, ${model} takes ${features}`, { expected: features, got: ds.features });
  if (task === 'forecast' && ds.targetSize !== outputs) {
    throw new EdgeRnnError('BAD_DATA', `${ds.source}: ${ds.targetSize} target values per step, ${model} predicts ${outputs}`, { expected: outputs, got: ds.targetSize });
  }
}

/**
 * The learning rate of an epoch (0-based). Warm-up ramps linearly to the peak `lr` over the first
 * `warmupEpochs` epochs ((e+1)/(W+1) of it); cosine then decays from the peak to lr·minLrFraction
 * over the remaining epochs; plateau is the peak times the halvings so far, floored there.
 * Until 2026-11-27 the cosine decay ran from epoch 0, under the warm-up, so with --warmup the peak
 * was never reached (--warmup 5 --epochs 20: at most 0.85 lr).
 */
export function learningRate(o: Pick<TrainOptions, 'lr' | 'minLrFraction' | 'schedule' | 'epochs' | 'warmupEpochs'>, epoch: number, plateauScale = 1): number {
  const minLr = o.lr * o.minLrFraction;
  if (epoch < o.warmupEpochs) return (o.schedule === 'plateau' ? Math.max(minLr, o.lr * plateauScale) : o.lr) * ((epoch + 1) / (o.warmupEpochs + 1));
  if (o.schedule === 'cosine') return minLr + (o.lr - minLr) * 0.5 * (1 + Math.cos((Math.PI * (epoch - o.warmupEpochs)) / Math.max(1, o.epochs - o.warmupEpochs)));
  if (o.schedule === 'plateau') return Math.max(minLr, o.lr * plateauScale);
  return o.lr;
}

/** Trains `net` in place. Restores the best validation weights at the end. */
export function fit(net: Network, train: readonly Sample[], val: readonly Sample[], ctx: FitContext, o: TrainOptions, hooks: FitHooks = {}): FitResult {
  if (o.tbptt > 0 && net.recurrentLayers().some((l) => l.dirs === 2)) {
    throw new EdgeRnnError('USAGE', '--tbptt needs a unidirectional model: a bidirectional layer reads whole sequences');
  }
  checkFitSamples(train, ctx, 'training');
  checkFitSamples(val, ctx, 'validation');
  const now = hooks.now ?? Date.now;
  const rng = new Rng(o.seed + 1);
  const params = net.params();
  const opt = new Adam(params, { ...DEFAULT_OPTIMIZER, kind: o.optimizer, weightDecay: o.weightDecay, clipNorm: o.clipNorm });
  const baseline = baselineLoss(train, val, ctx);
  const gate = baseline * 0.95;
  const history: EpochRecord[] = [];
  /** Lowest validation loss of an eligible epoch; its weights are in bestWeights (restored, reported). */
  let best = Infinity;
  let bestEpoch = -1;
  let bestWeights: Arr[] | null = null;
  /** Validation loss at the last improvement that counts (by minDelta): patience and plateau count from it. */
  let lastImprovement = Infinity;
  let sinceImprovement = 0;
  let sincePlateauCut = 0;
  let plateauScale = 1;
  let stoppedEarly = false;
  let step = 0;
  const stepsPerEpoch = Math.ceil(train.length / o.batchSize);
  const diverged = (what: string, w: { epoch: number; batch: number; chunk: readonly [number, number] | null }): EdgeRnnError =>
    new EdgeRnnError(
      'TRAINING_DIVERGED',
      `${what} at epoch ${w.epoch + 1}, batch ${w.batch + 1} of ${stepsPerEpoch}${w.chunk ? ` (steps ${w.chunk[0]}..${w.chunk[1] - 1})` : ''}: lower --lr (now ${o.lr}) or keep --clip-norm on (now ${o.clipNorm})`,
      { epoch: w.epoch + 1, batch: w.batch + 1, batches: stepsPerEpoch, ...(w.chunk ? { steps: [w.chunk[0], w.chunk[1] - 1] } : {}) },
    );
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const t0 = now();
    const lr = learningRate(o, epoch, plateauScale);
    const order = shuffled(train.length, rng);
    let lossSum = 0;
    let lossW = 0;
    let correct = 0;
    for (let bi = 0; bi < stepsPerEpoch; bi++) {
      const items = order.slice(bi * o.batchSize, (bi + 1) * o.batchSize).map((i) => train[i]!);
      const maxT = Math.max(...items.map((s) => s.T));
      const K = o.tbptt > 0 ? o.tbptt : maxT;
      net.setInitialStates(null);
      for (let c0 = 0; c0 < maxT; c0 += K) {
        const b = makeBatch(items, ctx, c0, c0 + K);
        // classify: only sequences that end inside this chunk carry a loss.
        const lossLengths = b.lengths.map((len, i) => (items[i]!.T <= c0 + K && len > 0 ? len : 0));
        net.zeroGrad();
        const out = hooks.forward ? hooks.forward(net, b, true) : net.forward(b.x, b.shape, true);
        const r = lossOf(ctx, out, b, lossLengths, true);
        if (K < maxT) net.setInitialStates(net.finalStates());
        // Counted before the skip: a batch of classes weighted 0 still predicts (accuracy divides
        // by every sequence; until 2026-11-27 those were counted wrong, unlike in validation).
        correct += r.correct;
        if (r.weight === 0) continue;
        // Checked at every step, not only on the validation loss: a relu layer maps NaN to 0, so
        // NaN recurrent weights could still give a finite validation loss and be kept as the best.
        const where = { epoch, batch: bi, chunk: K < maxT ? ([c0, Math.min(c0 + K, maxT)] as const) : null };
        if (!Number.isFinite(r.loss)) throw diverged(`the training loss is ${r.loss}`, where);
        net.backward(r.grad);
        const norm = opt.step(lr); // a non-finite gradient is not applied
        if (!Number.isFinite(norm)) throw diverged(`the gradient norm is ${norm}`, where);
        const bad = firstNonFinite(params);
        if (bad) throw diverged(`the update made ${bad}`, where);
        hooks.afterStep?.(step, epoch, stepsPerEpoch);
        step++;
        lossSum += r.loss * r.weight;
        lossW += r.weight;
      }
      hooks.onBatch?.(bi + 1, stepsPerEpoch);
    }
    const ev = evaluate(net, val, ctx, hooks);
    const seconds = (now() - t0) / 1000;
    const rec: EpochRecord = {
      epoch: epoch + 1,
      lr,
      trainLoss: lossW > 0 ? lossSum / lossW : 0,
      valLoss: ev.loss,
      seconds,
      sequencesPerSecond: seconds > 0 ? train.length / seconds : 0,
    };
    if (ctx.task === 'classify') {
      rec.trainAccuracy = correct / train.length;
      rec.valAccuracy = ev.accuracy!;
    }
    const note = hooks.note?.(epoch);
    if (note) rec.note = note;
    history.push(rec);
    hooks.onEpoch?.(rec);
    if (!Number.isFinite(ev.loss)) throw new EdgeRnnError('TRAINING_DIVERGED', `validation loss is ${ev.loss} at epoch ${epoch + 1}: lower --lr (now ${o.lr}) or keep --clip-norm on`);
    const eligible = hooks.eligible ? hooks.eligible(epoch) : true;
    if (!eligible) continue;
    // The weights of the lowest validation loss are kept, by however little it is the lowest.
    if (ev.loss < best || bestEpoch < 0) {
      best = ev.loss;
      bestEpoch = epoch + 1;
      bestWeights = params.map((p) => p.value.slice());
    }
    // An improvement that resets patience must beat the loss at the last such improvement by
    // minDelta relative, and by at least minDelta of the baseline in absolute terms (near-zero
    // losses otherwise 'improve' forever). Measured from that loss, not from each new low, so a
    // slow steady descent adds up to improvements instead of being stopped as a stall.
    if (lastImprovement === Infinity || ev.loss < lastImprovement - o.minDelta * Math.max(lastImprovement, baseline)) {
      lastImprovement = ev.loss;
      sinceImprovement = 0;
      sincePlateauCut = 0;
    } else if (best < gate) {
      // Counting starts once the model beats the trivial predictor.
      sinceImprovement++;
      sincePlateauCut++;
    }
    if (o.schedule === 'plateau' && sincePlateauCut >= Math.max(3, Math.floor(o.patience / 3))) {
      plateauScale *= 0.5;
      sincePlateauCut = 0;
    }
    if (sinceImprovement >= o.patience) {
      // Patience running out at the last epoch cut nothing short: it was reported as an early stop.
      stoppedEarly = epoch + 1 < o.epochs;
      break;
    }
  }
  if (bestWeights) params.forEach((p, i) => p.value.set(bestWeights![i]!));
  return { history, bestEpoch, bestValLoss: best, baselineLoss: baseline, stoppedEarly, epochsRun: history.length };
}

/** The first parameter entry that is NaN or infinite, as "layers.0.W.0[3] NaN", or null. */
function firstNonFinite(params: readonly Param[]): string | null {
  for (const p of params) {
    const v = p.value;
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return `${p.name}[${i}] ${v[i]}`;
  }
  return null;
}

/** Class weights from the options and the training labels. */
export function classWeightsFor(o: TrainOptions, train: readonly Sample[], classes: number): number[] {
  if (o.classWeights === 'none') return new Array<number>(classes).fill(1);
  const counts = new Array<number>(classes).fill(0);
  for (const s of train) counts[s.y!]!++;
  if (Array.isArray(o.classWeights)) {
    const w = o.classWeights;
    if (w.length !== classes) throw new EdgeRnnError('USAGE', `--class-weights has ${w.length} values, the data has ${classes} classes`, { expected: classes, got: w.length });
    // A negative weight maximizes that class's loss; NaN made every weight NaN (the loss then
    // read 0); weights that are 0 for every class in the data left nothing to train on: the
    // loop skipped every batch and wrote the initial weights.
    const bad = w.findIndex((v) => !(Number.isFinite(v) && v >= 0));
    if (bad >= 0) throw new EdgeRnnError('USAGE', `--class-weights: class ${bad} has weight ${w[bad]}, expected a finite number >= 0`, { class: bad, expected: 'a finite number >= 0', got: w[bad] });
    if (!counts.some((n, c) => n > 0 && w[c]! > 0)) {
      throw new EdgeRnnError('USAGE', `--class-weights ${w.join(',')} gives weight 0 to every class of the training data (classes ${counts.flatMap((n, c) => (n > 0 ? [c] : [])).join(', ')}): nothing would be trained`, { expected: 'a weight > 0 for a class in the data', got: w });
    }
    return w;
  }
  return counts.map((n) => (n > 0 ? train.length / (classes * n) : 0));
}

/** Seeded split: stratified by class for classify. Tiny sets validate on the training data. */
export function splitValidation(samples: readonly Sample[], fraction: number, seed: number, task: TrainTask): { train: Sample[]; val: Sample[] } {
  if (samples.length < 10 || fraction <= 0) return { train: [...samples], val: [...samples] };
  const rng = new Rng(seed + 3);
  const groups = new Map<number, number[]>();
  samples.forEach((s, i) => {
    const k = task === 'classify' ? s.y! : 0;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(i);
  });
  const valIdx = new Set<number>();
  for (const k of [...groups.keys()].sort((a, b) => a - b)) {
    const idx = groups.get(k)!;
    const order = shuffled(idx.length, rng);
    const n = Math.min(idx.length - 1, Math.max(1, Math.round(idx.length * fraction)));
    for (let i = 0; i < n; i++) valIdx.add(idx[order[i]!]!);
  }
  // Every class with one sequence (a class keeps at least one for training): nothing held out,
  // so validate on the training data as tiny sets do. An empty split was refused as "no
  // validation sequences", though no validation set had been given.
  if (valIdx.size === 0) return { train: [...samples], val: [...samples] };
  return { train: samples.filter((_, i) => !valIdx.has(i)), val: samples.filter((_, i) => valIdx.has(i)) };
}
