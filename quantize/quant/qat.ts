/**
 * Quantization-aware fine-tuning: the forward pass of every training step runs the integer
 * kernels' arithmetic (fake-quant.ts) on the weights quantized exactly as `quantizeModel` will
 * quantize them at export (same calibration ranges, same weight clipping), and the backward pass
 * is the straight-through estimator. The exported int8 model therefore computes, bit for bit,
 * what the last validation pass measured.
 */
import { EdgeRnnError, prepareIntModel, quantizeModel, type ModelSpec, type QuantRanges } from '../../src/index.js';
import { dataTaskOf, type Dataset } from '../data/dataset.js';
import type { Network } from '../nn/network.js';
import type { Normalization } from '../train/batches.js';
import { buildSpec, networkFromSpec } from '../train/export.js';
import { DEFAULT_TRAIN_OPTIONS, checkDataShape, fineTuneContext, fit, splitValidation, trainedWith, type FitHooks, type FitResult, type TrainOptions } from '../train/trainer.js';
import { calibrate, clipWeights, zeroEmptyRowScales, type CalibrationOptions } from './calibrate.js';
import { FakeQuantModel } from './fake-quant.js';

/** Float spec of the network's current weights, shaped like `base` (names, labels, extra). */
export function currentSpec(net: Network, norm: Normalization, base: ModelSpec): ModelSpec {
  const task = dataTaskOf(base);
  const s = buildSpec(net, { name: base.name, version: base.version, task, labels: base.labels, features: base.input.size, norm, training: base.training, ...(base.extra ? { extra: base.extra } : {}) });
  // The trained layers, then the base's own tail (softmax, logSoftmax or none) and input
  // description. Slicing buildSpec's layers to the base's length turned a logSoftmax tail into
  // softmax (a classifier's) and dropped a softmax tail of a model read as forecast.
  const n = net.specLayers().length;
  return { ...base, layers: [...s.layers.slice(0, n), ...base.layers.slice(n)], precision: 'float32' };
}

/** Quantizes the network's current weights the way export will. */
export function quantizeCurrent(net: Network, norm: Normalization, base: ModelSpec, ranges: Required<QuantRanges>, weightClipping: boolean): ModelSpec {
  const f = currentSpec(net, norm, base);
  return zeroEmptyRowScales(quantizeModel(weightClipping ? clipWeights(f, ranges).spec : f, ranges));
}

/** A FitHooks.forward that fake-quantizes, re-quantizing only after the weights changed. */
export function fakeQuantHooks(net: Network, norm: Normalization, base: ModelSpec, ranges: Required<QuantRanges>, weightClipping: boolean): { forward: NonNullable<FitHooks['forward']>; afterStep: NonNullable<FitHooks['afterStep']>; model(): FakeQuantModel } {
  let model: FakeQuantModel | null = null;
  const get = (): FakeQuantModel => {
    if (!model) {
      const q = quantizeCurrent(net, norm, base, ranges, weightClipping);
      model = new FakeQuantModel(q, prepareIntModel(q), net, norm);
    }
    return model;
  };
  return {
    forward: (_net, b, _train) => {
      const m = get();
      const out = m.forward(b.raw, b.shape, true);
      // The loss works in training units: regression outputs are normalized like the targets.
      if (norm.outputStd.length === m.P.outputSize) {
        const O = m.P.outputSize;
        for (let i = 0; i < out.length; i++) out[i] = (out[i]! - norm.outputMean[i % O]!) / norm.outputStd[i % O]!;
      }
      return out;
    },
    afterStep: () => {
      model = null;
    },
    model: get,
  };
}

/**
 * Masks the exact zeros of every weight matrix so fine-tuning keeps them zero (the optimizer
 * zeroes masked gradients and values). Exact zeros are pruned weights: training never produces
 * them otherwise, and the normalization fold keeps them exact. Without the masks, QAT of a
 * pruned model grew every pruned weight back.
 */
export function keepPrunedZeros(net: Network): void {
  for (const p of net.params()) {
    if (p.kind !== 'weight' || !p.value.includes(0)) continue;
    const mask = p.mask ?? new Uint8Array(p.value.length).fill(1);
    for (let i = 0; i < p.value.length; i++) if (p.value[i] === 0) mask[i] = 0;
    p.mask = mask;
  }
}

export interface QatOptions extends Partial<TrainOptions> {
  epochs: number;
  calibration: CalibrationOptions;
}

export interface QatResult {
  float: ModelSpec;
  int8: ModelSpec;
  fit: FitResult;
  ranges: Required<QuantRanges>;
}

/** Fine-tunes a float32 model with fake quantization; returns the fine-tuned float and int8 specs. */
export function quantizationAwareFineTune(spec: ModelSpec, data: Dataset, opts: QatOptions, hooks: FitHooks = {}): QatResult {
  if (spec.precision !== 'float32') throw new EdgeRnnError('UNSUPPORTED_MODEL', `quantization-aware training starts from a float32 model, '${spec.name}' is ${spec.precision}`);
  const hyper = trainedWith(spec.training);
  // A constant rate: the trained model's warm-up (hyperparameters.warmupEpochs) ramped it from lr / (w + 1).
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...hyper, lr: 5e-4, schedule: 'constant', warmupEpochs: 0, dropout: 0, tbptt: 0, ...opts };
  const task = dataTaskOf(spec);
  const { net, norm } = networkFromSpec(spec, 'f32');
  checkDataShape(data, spec.input.size, task, net.outputSize, `'${spec.name}'`);
  keepPrunedZeros(net);
  const cal = calibrate(spec, data.samples, opts.calibration);
  const clip = opts.calibration.weightClipping ?? opts.calibration.method === 'mse';
  const { train, val } = splitValidation(data.samples, o.valSplit, o.seed, task);
  const ctx = fineTuneContext(spec, task, net.outputSize, norm, o, train);
  const fq = fakeQuantHooks(net, norm, spec, cal.ranges, clip);
  const result = fit(net, train, val, ctx, o, { ...hooks, forward: fq.forward, afterStep: (s, e, n) => {
    fq.afterStep(s, e, n);
    hooks.afterStep?.(s, e, n);
  } });
  const float = currentSpec(net, norm, spec);
  const int8 = zeroEmptyRowScales(quantizeModel(clip ? clipWeights(float, cal.ranges).spec : float, cal.ranges));
  int8.training = { ...int8.training, calibration: { method: opts.calibration.method, ...(opts.calibration.method === 'percentile' ? { percentile: opts.calibration.percentile ?? 99.99 } : {}), weightClipping: clip, sequences: data.samples.length }, qat: { epochs: result.epochsRun, bestEpoch: result.bestEpoch } };
  return { float, int8, fit: result, ranges: cal.ranges };
}
