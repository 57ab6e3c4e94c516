/**
 * trainModel: data in, trained float32 ModelSpec out (with history and the network), the
 * library entry point behind `edgernn train`.
 */
import { EdgeRnnError, Rng, type ModelSpec, type TrainingInfo } from '../../src/index.js';
import type { Dataset, Sample } from '../data/dataset.js';
import { Network } from '../nn/network.js';
import { computeNormalization, IDENTITY_NORMALIZATION, type Normalization } from './batches.js';
import { buildSpec } from './export.js';
import { classWeightsFor, DEFAULT_TRAIN_OPTIONS, evaluate, fit, planFor, splitValidation, type FitContext, type FitHooks, type FitResult, type TrainOptions } from './trainer.js';

export interface TrainModelResult {
  spec: ModelSpec;
  net: Network;
  norm: Normalization;
  ctx: FitContext;
  fit: FitResult;
  train: Sample[];
  val: Sample[];
  /** Final validation metrics of the restored best weights (float). */
  valLoss: number;
  valAccuracy?: number;
}

export interface TrainModelInput {
  data: Dataset;
  /** Separate validation data; otherwise a seeded split of `data`. */
  val?: Dataset;
  options?: Partial<TrainOptions>;
  hooks?: FitHooks;
  name?: string;
  /** Provenance for the manifest (dataset hash, commit, time...). */
  training?: TrainingInfo;
}

/** Output width of the network for a task. */
export function outputsFor(o: TrainOptions, data: Dataset): number {
  if (o.task === 'classify') return data.labels.length;
  if (o.task === 'forecast') return data.targetSize;
  return o.window * data.features;
}

export function checkOptions(o: TrainOptions): void {
  const bad = (m: string): never => {
    throw new EdgeRnnError('USAGE', m);
  };
  if (!(Number.isInteger(o.hidden) && o.hidden >= 1 && o.hidden <= 1024)) bad(`--hidden must be an integer in [1, 1024], got ${o.hidden}`);
  if (!(Number.isInteger(o.layers) && o.layers >= 1 && o.layers <= 8)) bad(`--layers must be an integer in [1, 8], got ${o.layers}`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) bad(`--epochs must be a positive integer, got ${o.epochs}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1)) bad(`--batch-size must be a positive integer, got ${o.batchSize}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) bad(`--lr must be positive, got ${o.lr}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) bad(`--dropout must be in [0, 1), got ${o.dropout}`);
  if (!(Number.isInteger(o.tbptt) && o.tbptt >= 0)) bad(`--tbptt must be a non-negative integer, got ${o.tbptt}`);
  if (!(Number.isInteger(o.window) && o.window >= 1)) bad(`--window must be a positive integer, got ${o.window}`);
  // The library takes these unchecked by the CLI's flag parser: patience 0 stopped after epoch 1,
  // a negative minDelta counted every epoch as an improvement, a NaN clipNorm disabled clipping
  // (norm > NaN is false), a NaN weightDecay or minLrFraction made every weight or rate NaN.
  if (!((Number.isInteger(o.patience) || o.patience === Infinity) && o.patience >= 1)) bad(`--patience must be a positive integer (or Infinity: no early stopping), got ${o.patience}`);
  if (!(Number.isFinite(o.minDelta) && o.minDelta >= 0)) bad(`minDelta must be a finite number >= 0, got ${o.minDelta}`);
  if (!(Number.isFinite(o.clipNorm) && o.clipNorm >= 0)) bad(`--clip-norm must be a finite number >= 0 (0 = off), got ${o.clipNorm}`);
  if (!(Number.isFinite(o.weightDecay) && o.weightDecay >= 0)) bad(`--weight-decay must be a finite number >= 0, got ${o.weightDecay}`);
  if (!(o.valSplit >= 0 && o.valSplit < 1)) bad(`--val-split must be in [0, 1), got ${o.valSplit}`);
  if (!(Number.isInteger(o.warmupEpochs) && o.warmupEpochs >= 0)) bad(`--warmup must be a non-negative integer, got ${o.warmupEpochs}`);
  if (!(o.minLrFraction >= 0 && o.minLrFraction <= 1)) bad(`minLrFraction must be in [0, 1], got ${o.minLrFraction}`);
  if (o.tbptt > 0 && o.bidirectional) bad('--tbptt needs a unidirectional model: a bidirectional layer reads whole sequences');
}

export function trainModel(input: TrainModelInput): TrainModelResult {
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...input.options };
  checkOptions(o);
  const data = input.data;
  if (input.val) {
    if (input.val.features !== data.features) throw new EdgeRnnError('BAD_DATA', `${input.val.source}: ${input.val.features} features per frame, the training data has ${data.features}`);
    if (o.task === 'forecast' && input.val.targetSize !== data.targetSize) {
      throw new EdgeRnnError('BAD_DATA', `${input.val.source}: ${input.val.targetSize} target values per step, the training data has ${data.targetSize}`, { expected: data.targetSize, got: input.val.targetSize });
    }
    if (o.task === 'classify' && input.val.labels.join('\u0000') !== data.labels.join('\u0000')) {
      throw new EdgeRnnError('BAD_DATA', `${input.val.source}: classes ${input.val.labels.join(', ')} differ from the training data's ${data.labels.join(', ')} (load it with the training labels)`);
    }
  }
  // One class: a softmax over one output is 1 whatever the weights, so every epoch ran at loss 0
  // and the model "scored" 100%. Refused as the data problem it is.
  if (o.task === 'classify' && data.labels.length < 2) {
    throw new EdgeRnnError('BAD_DATA', `${data.source}: a classifier needs at least 2 classes, the data has ${data.labels.length}${data.labels.length ? ` ('${data.labels.join("', '")}')` : ''}`, { expected: 'at least 2 classes', got: data.labels });
  }
  const { train, val } = input.val ? { train: data.samples, val: input.val.samples } : splitValidation(data.samples, o.valSplit, o.seed, o.task);
  const outputs = outputsFor(o, data);
  const norm = o.normalize ? computeNormalization(train, data.features, o.task, data.targetSize, o.window) : IDENTITY_NORMALIZATION(data.features, o.task === 'classify' ? 0 : outputs);
  const dropRng = new Rng(o.seed + 2);
  const net = new Network(data.features, planFor(o, data.features, outputs), 'f32', () => dropRng.next());
  net.init(new Rng(o.seed), { forgetBias: o.forgetBias, updateBias: o.updateBias });
  const ctx: FitContext = {
    task: o.task,
    features: data.features,
    outputs,
    window: o.window,
    norm,
    classWeights: o.task === 'classify' ? classWeightsFor(o, train, outputs) : [],
    dtype: 'f32',
  };
  const result = fit(net, train, val, ctx, o, input.hooks);
  const ev = evaluate(net, val, ctx);
  // An option the trainer allows as Infinity (patience: no early stopping) is recorded as the
  // string "Infinity": the model writer refuses non-finite numbers (JSON would write null).
  const hyper: Record<string, unknown> = Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? String(v) : v]));
  const spec = buildSpec(net, {
    name: input.name ?? `${o.task}-${o.arch}${o.hidden}`,
    version: '1.0.0',
    task: o.task,
    labels: data.labels,
    features: data.features,
    ...(data.featureNames ? { featureNames: data.featureNames } : {}),
    ...(data.rateHz !== undefined ? { rateHz: data.rateHz } : {}),
    ...(data.frontend ? { frontend: data.frontend } : {}),
    norm,
    training: { hyperparameters: hyper, ...input.training },
    extra: o.task === 'autoencoder' ? { window: o.window } : {},
  });
  const out: TrainModelResult = { spec, net, norm, ctx, fit: result, train, val, valLoss: ev.loss };
  if (ev.accuracy !== undefined) out.valAccuracy = ev.accuracy;
  return out;
}
