/**
 * pruneModel: fine-tunes a float32 model while pruning it on the Zhu & Gupta schedule, then
 * holds the final masks for the remaining (recovery) epochs and keeps the best of those.
 * The library entry point behind `edgernn prune`.
 */
import { EdgeRnnError, type ModelSpec } from '../../src/index.js';
import { dataTaskOf, type Dataset } from '../data/dataset.js';
import { currentSpec } from '../quant/qat.js';
import { Rng } from '../../src/util/rng.js';
import { networkFromSpec } from '../train/export.js';
import { DEFAULT_TRAIN_OPTIONS, checkDataShape, fineTuneContext, fit, splitValidation, trainedWith, type FitHooks, type FitResult, type TrainOptions } from '../train/trainer.js';
import { DEFAULT_BLOCK, DEFAULT_MIN_WEIGHTS, measureSparsity, prunableParams, Pruner, zeroFraction, type BlockShape, type TensorSparsity } from './pruner.js';

export interface PruneModelOptions extends Partial<TrainOptions> {
  sparsity: number;
  /** Fine-tuning epochs in total (the CLI default is 30; 0 prunes at once, without fine-tuning). */
  epochs: number;
  /** null = unstructured (default DEFAULT_BLOCK). */
  block?: BlockShape | null;
  scope?: 'layer' | 'global';
  /** Fraction of the epochs after which s_f is reached (default 0.6); the rest recovers. */
  rampFraction?: number;
  /** Mask updates during the ramp (default 16). */
  updates?: number;
  /** Matrices smaller than this stay dense (default DEFAULT_MIN_WEIGHTS). */
  minWeights?: number;
}

export interface PruneModelResult {
  spec: ModelSpec;
  fit: FitResult;
  sparsity: TensorSparsity[];
  /** Fraction of zero weights over the pruned matrices. */
  overall: number;
}

/**
 * The options the CLI's flag parser checks, checked for library callers too: a scope of 'Global'
 * pruned per layer (and was recorded as 'Global'), a NaN epoch count or minWeights surfaced as a
 * mask update frequency or "no weight matrix has NaN or more weights".
 */
function checkPruneOptions(o: PruneModelOptions): void {
  const bad = (m: string): never => {
    throw new EdgeRnnError('USAGE', m);
  };
  const positiveInteger = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1;
  if (typeof o.sparsity !== 'number') bad(`--sparsity must be a number in [0, 1), got ${JSON.stringify(o.sparsity) ?? String(o.sparsity)}`);
  if (o.scope !== undefined && o.scope !== 'layer' && o.scope !== 'global') bad(`scope must be 'layer' or 'global', got '${String(o.scope)}'`);
  // 0 prunes at once, without fine-tuning (the HAR recipe's pruneEpochs may be 0).
  if (!(Number.isInteger(o.epochs) && o.epochs >= 0)) bad(`--epochs must be an integer >= 0, got ${o.epochs}`);
  if (o.rampFraction !== undefined && !(o.rampFraction > 0 && o.rampFraction <= 1)) bad(`--ramp must be in (0, 1], got ${o.rampFraction}`);
  if (o.updates !== undefined && !positiveInteger(o.updates)) bad(`updates must be a positive integer, got ${o.updates}`);
  if (o.minWeights !== undefined && !positiveInteger(o.minWeights)) bad(`--min-weights must be a positive integer, got ${o.minWeights}`);
}

export function pruneModel(spec: ModelSpec, data: Dataset, opts: PruneModelOptions, val?: Dataset, hooks: FitHooks = {}): PruneModelResult {
  if (spec.precision !== 'float32') throw new EdgeRnnError('UNSUPPORTED_MODEL', `pruning fine-tunes a float32 model, '${spec.name}' is ${spec.precision} (prune first, then quantize)`);
  checkPruneOptions(opts);
  const hyper = trainedWith(spec.training);
  // A constant rate: the trained model's warm-up (hyperparameters.warmupEpochs) ramped it from
  // lr / (w + 1) over the first w epochs of the pruning ramp.
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...hyper, lr: 2e-3, schedule: 'constant', warmupEpochs: 0, tbptt: 0, ...opts, patience: 1_000_000 };
  const task = dataTaskOf(spec);
  // With the trained dropout between layers, as training had it (the network was built without
  // it, so the fine-tuning ran without dropout while its record said it had).
  const dropRng = new Rng(o.seed + 2);
  const { net, norm } = networkFromSpec(spec, 'f32', { dropout: o.dropout, random: () => dropRng.next() });
  for (const ds of val ? [data, val] : [data]) checkDataShape(ds, spec.input.size, task, net.outputSize, `'${spec.name}'`);
  const split = val ? { train: data.samples, val: val.samples } : splitValidation(data.samples, o.valSplit, o.seed, task);
  const stepsPerEpoch = Math.ceil(split.train.length / o.batchSize);
  const total = o.epochs * stepsPerEpoch;
  const ramp = Math.max(1, Math.round((opts.rampFraction ?? 0.6) * o.epochs)) * stepsPerEpoch;
  // At least 0: with no training data (total 0) fit, not the Pruner, names the problem.
  const endStep = Math.max(0, Math.min(total - 1, ramp - 1));
  const updates = Math.max(1, opts.updates ?? 16);
  const block = opts.block === undefined ? DEFAULT_BLOCK : opts.block;
  // A pruned model pruned again starts from its own sparsity (Zhu & Gupta's s_i), masked before
  // the first step. With s_i = 0 the first step released every mask: the schedule started over
  // from a dense model, its zeros were trained through the ramp, and a 75%-sparse model
  // re-pruned to 75% reported "sparsity 0%" for its first epoch.
  const initialSparsity = Math.min(opts.sparsity, zeroFraction(prunableParams(net.params(), opts.minWeights ?? DEFAULT_MIN_WEIGHTS)));
  const pruner = new Pruner(net.params(), {
    sparsity: opts.sparsity,
    initialSparsity,
    block,
    scope: opts.scope ?? 'layer',
    beginStep: 0,
    endStep,
    frequency: Math.max(1, Math.floor(endStep / updates)),
    ...(opts.minWeights !== undefined ? { minWeights: opts.minWeights } : {}),
  });
  if (initialSparsity > 0) pruner.prune(initialSparsity);
  const rampEpochs = Math.ceil((endStep + 1) / stepsPerEpoch);
  const ctx = fineTuneContext(spec, task, net.outputSize, norm, o, split.train);
  const result = fit(net, split.train, split.val, ctx, o, {
    ...hooks,
    afterStep: (step, epoch, n) => {
      pruner.update(step);
      hooks.afterStep?.(step, epoch, n);
    },
    // Only weights at the final sparsity may be kept as the best.
    eligible: (epoch) => epoch >= rampEpochs - 1 && pruner.sparsity === opts.sparsity,
    note: () => ({ sparsity: pruner.sparsity }),
  });
  if (pruner.sparsity !== opts.sparsity) pruner.prune(opts.sparsity);
  // Every weight matrix, pruned or left dense, so the report shows the whole model. Empty blocks
  // are the runtime's 4x8 tiles (what the file and the kernels drop), whatever the pruning block:
  // counted in 2x2 blocks, 75% read "75% empty blocks" over 15% empty tiles.
  const sparsity = measureSparsity(net.params(), DEFAULT_BLOCK);
  const out = currentSpec(net, norm, spec);
  out.extra = {
    ...out.extra,
    pruning: {
      sparsity: opts.sparsity,
      scope: opts.scope ?? 'layer',
      block,
      minWeights: opts.minWeights ?? DEFAULT_MIN_WEIGHTS,
      schedule: 'zhu-gupta-2017',
      layers: sparsity.map((s) => ({ tensor: s.name, shape: s.shape, sparsity: Number(s.sparsity.toFixed(6)), blockSparsity: Number(s.blockSparsity.toFixed(6)) })),
    },
  };
  return { spec: out, fit: result, sparsity, overall: zeroFraction(pruner.params) };
}
