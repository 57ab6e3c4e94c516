/**
 * Post-training calibration: the ranges `quantizeModel` (src/model/quantize.ts) takes, chosen
 * from data by one of three rules, plus optional MSE-optimal clipping of each weight row.
 *
 *   minmax      range = max |v|
 *   percentile  range = the p-th percentile of |v| (default 99.99), outliers saturate
 *   mse         range c minimizing Σ (v - Q_c(v))² over the calibration values, where Q_c
 *               rounds to the grid c/32767 and saturates at ±c (int16 activations); the same
 *               rule per weight row with the int8 grid c/127 on the layer's folded weights
 *               (W[j,k]·inputScale[k]), applied by clamping the float weights before quantizing
 *
 * Ranges are calibrated for the model input (per feature) and for every dense layer that feeds
 * another layer without sigmoid/tanh (those use fixed Q3.12 / Q0.15 formats). Recurrent hidden
 * states are Q0.15 by construction and need no range.
 */
import {
  EdgeRnnError,
  GATES,
  inputScaleFromAbsMax,
  isRecurrent,
  layerOutputSize,
  numDirections,
  quantizeModel,
  referenceEngine,
  type Layer,
  type ModelSpec,
  type QuantRanges,
} from '../../src/index.js';
import type { Sample } from '../data/dataset.js';

export const CALIBRATION_METHODS = ['minmax', 'percentile', 'mse'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** percentile method: which percentile of |v| (0 < p <= 100). */
  percentile?: number;
  /** Clip weight rows to their MSE-optimal int8 range (default: on for 'mse'). */
  weightClipping?: boolean;
  /**
   * Most values kept per channel for percentile and MSE (default 200,000): beyond it, an even
   * stride subsample taken while reading, so memory is this many values per channel whatever the
   * size of the data. minmax and percentile 100 take the max of every value.
   */
  maxValuesPerChannel?: number;
}

/** How many values a channel had (seen) and how many of them were kept for its range (at most maxValuesPerChannel). */
export interface ChannelCount {
  seen: number;
  kept: number;
}

export interface Calibration {
  ranges: Required<QuantRanges>;
  method: CalibrationMethod;
  /** Rows whose float weights were clipped, per layer index. */
  clippedRows: Record<number, number>;
  /** Values per channel: per input feature, and per calibrated dense layer (one channel: all its outputs). */
  sampled: { inputs: ChannelCount[]; dense: Record<number, ChannelCount> };
}

const Q15 = 1 / 32768;

/** Chooses a symmetric range for values by the given rule; `levels` = 32767 (int16) or 127 (int8). */
export function chooseRange(values: Float64Array, method: CalibrationMethod, levels: number, percentile = 99.99): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  if (max === 0 || method === 'minmax') return max;
  const abs = Float64Array.from(values, Math.abs).sort();
  if (method === 'percentile') {
    const idx = Math.min(abs.length - 1, Math.max(0, Math.ceil((percentile / 100) * abs.length) - 1));
    return abs[idx]! > 0 ? abs[idx]! : max;
  }
  // MSE: search c on a grid from max/64 to max (geometric, 96 points), exact error per value.
  let bestC = max;
  let bestErr = Infinity;
  for (let i = 0; i <= 96; i++) {
    const c = max * 2 ** (-6 + (6 * i) / 96);
    const step = c / levels;
    let err = 0;
    for (let k = 0; k < abs.length; k++) {
      const v = abs[k]!;
      const q = v >= c ? c : Math.round(v / step) * step;
      err += (v - q) ** 2;
    }
    if (err < bestErr - 1e-18 * abs.length || (err <= bestErr && c > bestC)) {
      bestErr = err;
      bestC = c;
    }
  }
  return bestC;
}

/**
 * One channel's values as calibration reads them: max |v| over every value, and the even-stride
 * subsample of at most `cap` values, value number ⌊i·total/cap⌋ for i < cap, kept as the values
 * arrive. The total is known before the first value, so the channel holds `cap` values, not every
 * value (a wide layer over a large calibration set ran into V8's array limit, or gigabytes). The
 * same indices as subsampling after reading every value: the ranges did not change.
 */
class ChannelSample {
  /** max |v| over every value added. */
  absMax = 0;
  seen = 0;
  private readonly values: Float64Array;
  private kept = 0;
  /** Index (in arrival order) of the next value to keep. */
  private next = 0;
  private readonly stride: number;

  constructor(total: number, cap: number) {
    this.values = new Float64Array(Math.min(total, cap));
    // Must match the indices ⌊i·stride⌋ of the subsample before (total <= cap: stride 1, every value).
    this.stride = total / this.values.length;
  }

  add(v: number): void {
    this.absMax = Math.max(this.absMax, Math.abs(v));
    if (this.seen === this.next && this.kept < this.values.length) {
      this.values[this.kept++] = v;
      this.next = Math.floor(this.kept * this.stride);
    }
    this.seen++;
  }

  count(): ChannelCount {
    return { seen: this.seen, kept: this.kept };
  }

  /**
   * The range by the method. minmax (and percentile 100, the same rule) is the max of every value:
   * over the subsample it was the max of the values the stride happened to keep (a 300,000-step
   * channel lost its peak, and inputs the calibration data holds saturated). Other percentiles
   * and MSE are statistics of the distribution, so the subsample serves them.
   */
  range(opts: CalibrationOptions): number {
    const max100 = opts.method === 'minmax' || (opts.method === 'percentile' && opts.percentile === 100);
    if (max100) return this.absMax;
    return chooseRange(this.values.subarray(0, this.kept), opts.method, 32767, opts.percentile);
  }
}

function sequencesOf(spec: ModelSpec, samples: readonly (Sample | Float32Array)[]): Float32Array[] {
  const I = spec.input.size;
  return samples.map((s, i) => {
    const x = s instanceof Float32Array ? s : s.x.subarray(0, s.T * I);
    if (x.length === 0 || x.length % I !== 0) throw new EdgeRnnError('SHAPE_MISMATCH', `calibration sequence ${i} has ${x.length} values, not a positive multiple of ${I} features`);
    return x;
  });
}

/**
 * Runs the model's float reference up to layer `li` over each sequence in turn and hands its
 * outputs ([T][O]) to `each`: one sequence's outputs at a time, not the whole set's.
 */
function forEachLayerOutput(spec: ModelSpec, li: number, seqs: readonly Float32Array[], each: (out: Float32Array) => void): void {
  const prefix: ModelSpec = { ...spec, layers: spec.layers.slice(0, li + 1) };
  const engine = referenceEngine(prefix);
  const O = layerOutputSize(spec.layers[li]!);
  for (const x of seqs) {
    const T = x.length / spec.input.size;
    const out = new Float32Array(T * O);
    engine.run(engine.allocState(), x, T, out, 'zero');
    each(out);
  }
}

/** The ranges for quantizeModel from calibration data. */
export function calibrate(spec: ModelSpec, samples: readonly (Sample | Float32Array)[], opts: CalibrationOptions): Calibration {
  if (spec.precision !== 'float32') throw new EdgeRnnError('UNSUPPORTED_MODEL', `calibration needs a float32 model, '${spec.name}' is ${spec.precision}`);
  // 0 took the smallest |v| as the range (every input saturated), NaN silently the max.
  if (opts.method === 'percentile' && opts.percentile !== undefined && !(opts.percentile > 0 && opts.percentile <= 100)) {
    throw new EdgeRnnError('USAGE', `percentile must be in (0, 100], got ${opts.percentile}`, { expected: '(0, 100]', got: opts.percentile });
  }
  // An unknown method ran MSE without a word (chooseRange's fall-through); a cap of 0 calibrated
  // every range from no values (0), a negative one threw a RangeError.
  if (!CALIBRATION_METHODS.includes(opts.method)) {
    throw new EdgeRnnError('USAGE', `calibration method must be one of ${CALIBRATION_METHODS.join(', ')}, got ${JSON.stringify(opts.method)}`, { expected: CALIBRATION_METHODS.join(', '), got: opts.method });
  }
  const cap = opts.maxValuesPerChannel ?? 200_000;
  if (!(Number.isInteger(cap) && cap >= 1)) {
    throw new EdgeRnnError('USAGE', `maxValuesPerChannel must be an integer >= 1, got ${cap}`, { expected: 'an integer >= 1', got: cap });
  }
  if (samples.length === 0) throw new EdgeRnnError('BAD_DATA', 'calibration needs at least one sequence');
  const seqs = sequencesOf(spec, samples);
  const I = spec.input.size;
  // Every feature has one value per step.
  let steps = 0;
  for (const x of seqs) steps += x.length / I;
  const perFeature = Array.from({ length: I }, () => new ChannelSample(steps, cap));
  seqs.forEach((x, n) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      // NaN made the range NaN (quantizeModel then blamed the model), an infinity an infinite scale.
      if (!Number.isFinite(v)) {
        const s = samples[n]!;
        const where = s instanceof Float32Array ? `calibration sequence ${n}` : s.where;
        const step = Math.floor(i / I);
        const feature = i % I;
        throw new EdgeRnnError('BAD_DATA', `${where}: x[${step}][${feature}] is ${v}, calibration needs finite values`, { where, step, feature, expected: 'a finite number', got: String(v) });
      }
      perFeature[i % I]!.add(v);
    }
  });
  const inputAbsMax = perFeature.map((c) => c.range(opts));
  const sampled: Calibration['sampled'] = { inputs: perFeature.map((c) => c.count()), dense: {} };
  const denseAbsMax: Record<number, number> = {};
  const last = spec.layers.length - 1 - [...spec.layers].reverse().findIndex((l) => l.kind !== 'softmax' && l.kind !== 'logSoftmax');
  spec.layers.forEach((l, li) => {
    if (l.kind !== 'dense' || li >= last || (l.activation !== 'none' && l.activation !== 'relu')) return;
    // One channel for the layer: every output of every step.
    const outputs = new ChannelSample(steps * layerOutputSize(l), cap);
    forEachLayerOutput(spec, li, seqs, (y) => {
      for (let i = 0; i < y.length; i++) outputs.add(y[i]!);
    });
    // A range of 0 (a relu layer the data never made positive) stays 0: quantizeModel gives it
    // the scale of range 1. Floored at 1e-6 it saturated at 1e-6, so wherever the layer did fire
    // at run time the next layer read 0.
    denseAbsMax[li] = outputs.range(opts);
    sampled.dense[li] = outputs.count();
  });
  return { ranges: { inputAbsMax, denseAbsMax }, method: opts.method, clippedRows: {}, sampled };
}

/**
 * Copies the spec with each weight row clamped to its MSE-optimal int8 range. quantizeModel's
 * row scale is max|W[j,k]·inScale[k]| / 127, so clamping W[j,k] to ±c/inScale[k] sets it to c/127.
 */
export function clipWeights(spec: ModelSpec, ranges: Required<QuantRanges>): { spec: ModelSpec; clippedRows: Record<number, number> } {
  const clippedRows: Record<number, number> = {};
  let inScale = Float64Array.from(inputScaleFromAbsMax(ranges.inputAbsMax));
  const clipRows = (W: Float32Array, off: number, rows: number, cols: number, scale: (k: number) => number, li: number): void => {
    const v = new Float64Array(cols);
    for (let j = 0; j < rows; j++) {
      const base = off + j * cols;
      let max = 0;
      for (let k = 0; k < cols; k++) {
        v[k] = W[base + k]! * scale(k);
        max = Math.max(max, Math.abs(v[k]!));
      }
      if (max === 0) continue;
      const c = chooseRange(v, 'mse', 127);
      if (c >= max) continue;
      clippedRows[li] = (clippedRows[li] ?? 0) + 1;
      for (let k = 0; k < cols; k++) {
        const lim = c / scale(k);
        W[base + k] = Math.max(-lim, Math.min(lim, W[base + k]!));
      }
    }
  };
  const layers: Layer[] = spec.layers.map((layer, li) => {
    const l = structuredClone(layer);
    if (isRecurrent(l) && l.float) {
      const rows = GATES[l.kind] * l.hiddenSize;
      const s = inScale;
      for (let d = 0; d < numDirections(l); d++) {
        clipRows(l.float.W, d * rows * l.inputSize, rows, l.inputSize, (k) => s[k]!, li);
        clipRows(l.float.R, d * rows * l.hiddenSize, rows, l.hiddenSize, () => Q15, li);
      }
      inScale = new Float64Array(l.hiddenSize * numDirections(l)).fill(Q15);
    } else if (l.kind === 'dense' && l.float) {
      const s = inScale;
      clipRows(l.float.W, 0, l.outputSize, l.inputSize, (k) => s[k]!, li);
      // The next layer's input scale (a range of 0 gets 1/32767, as in quantizeModel).
      const range = ranges.denseAbsMax[li] ?? 32767;
      const out = l.activation === 'sigmoid' || l.activation === 'tanh' ? Q15 : (range > 0 ? range : 1) / 32767;
      inScale = new Float64Array(l.outputSize).fill(out);
    }
    return l;
  });
  return { spec: { ...spec, layers }, clippedRows };
}

/**
 * Gives rows that are entirely zero (weights and bias, e.g. pruned) the scale 0, as quantizeModel
 * now does itself (it gave them 1); kept for int8 specs made elsewhere. Exact (such a row
 * contributes 0 either way), and necessary: the integer kernels share one requantization shift
 * per matrix, sized by its largest row multiplier, so a single scale-1 row leaves every other row
 * a few bits of precision and clamps their accumulators (measured: a 75%-pruned GRU fell from 57%
 * to chance).
 */
export function zeroEmptyRowScales(q: ModelSpec): ModelSpec {
  for (const l of q.layers) {
    if (isRecurrent(l) && l.quant) {
      const rows = GATES[l.kind] * l.hiddenSize * numDirections(l);
      const { Wq, Rq, Wscale, Rscale, Bx, Bh } = l.quant;
      const I = l.inputSize;
      const H = l.hiddenSize;
      for (let j = 0; j < rows; j++) {
        if (Bx[j] === 0 && Wq.subarray(j * I, (j + 1) * I).every((v) => v === 0)) Wscale[j] = 0;
        if (Bh[j] === 0 && Rq.subarray(j * H, (j + 1) * H).every((v) => v === 0)) Rscale[j] = 0;
      }
    } else if (l.kind === 'dense' && l.quant) {
      const { Wq, Wscale, Bq } = l.quant;
      for (let j = 0; j < l.outputSize; j++) {
        if (Bq[j] === 0 && Wq.subarray(j * l.inputSize, (j + 1) * l.inputSize).every((v) => v === 0)) Wscale[j] = 0;
      }
    }
  }
  return q;
}

/** Calibrates, optionally clips weights, and quantizes: the int8 spec ready for encodeModel. */
export function calibrateAndQuantize(spec: ModelSpec, samples: readonly (Sample | Float32Array)[], opts: CalibrationOptions): ModelSpec {
  const cal = calibrate(spec, samples, opts);
  const clip = opts.weightClipping ?? opts.method === 'mse';
  const source = clip ? clipWeights(spec, cal.ranges) : { spec, clippedRows: {} };
  const q = zeroEmptyRowScales(quantizeModel(source.spec, cal.ranges));
  q.training = {
    ...q.training,
    calibration: { method: opts.method, ...(opts.method === 'percentile' ? { percentile: opts.percentile ?? 99.99 } : {}), weightClipping: clip, clippedRows: source.clippedRows, sequences: samples.length },
  };
  return q;
}

export interface UnresolvedInput {
  feature: number;
  /** Mean and standard deviation of the feature over the calibration data. */
  mean: number;
  std: number;
  /** The int16 input step (inputScale) of the quantized model. */
  step: number;
}

/**
 * Input features the int8 model cannot resolve: input scales are symmetric (max |x| / 32767, no
 * offset), so a feature with a large offset and a small spread (a pressure of 1013.25 hPa ± 0.004,
 * or of 101325 Pa ± 2) gets steps as wide as its variation, and the quantized model no longer
 * sees it (measured: a classifier of such a feature went from 100% float to 50% int8). Each
 * feature whose step is more than a quarter of its standard deviation over `samples`.
 */
export function unresolvedInputs(q: ModelSpec, samples: readonly (Sample | Float32Array)[]): UnresolvedInput[] {
  const scale = q.inputScale;
  if (!scale) return [];
  const I = q.input.size;
  const sum = new Float64Array(I);
  const sq = new Float64Array(I);
  let n = 0;
  for (const x of sequencesOf(q, samples)) {
    for (let i = 0; i < x.length; i++) sum[i % I] = sum[i % I]! + x[i]!;
    n += x.length / I;
  }
  const mean = Array.from(sum, (s) => s / n);
  // Deviations from the mean, not E[x²] − mean²: that cancels to rounding noise at an offset.
  for (const x of sequencesOf(q, samples)) for (let i = 0; i < x.length; i++) sq[i % I] = sq[i % I]! + (x[i]! - mean[i % I]!) ** 2;
  const out: UnresolvedInput[] = [];
  for (let k = 0; k < I; k++) {
    const std = Math.sqrt(sq[k]! / n);
    if (std > 0 && scale[k]! > std / 4) out.push({ feature: k, mean: mean[k]!, std, step: scale[k]! });
  }
  return out;
}
