/**
 * Turns samples into time-major padded batches with masks, normalized inputs and the targets
 * of each task:
 *   classify     y[b] class index, read at the sequence's last real step
 *   forecast     target[t][b][o] with weight 1 on real steps
 *   autoencoder  target[t][b] = the last W input frames x[t-W+1 .. t] (normalized), weight 0
 *                for frames before the sequence start
 */
import { EdgeRnnError } from '../../src/index.js';
import type { Sample, TrainTask } from '../data/dataset.js';
import type { BatchShape } from '../nn/layer.js';
import { alloc, type Arr, type DType } from '../nn/tensor.js';

/** Per-feature affine normalization: xn = (x - mean) / std. */
export interface Normalization {
  inputMean: number[];
  inputStd: number[];
  /** forecast/autoencoder outputs: y = yn * std + mean (folded into the last dense layer). */
  outputMean: number[];
  outputStd: number[];
}

export interface Batch {
  /** Normalized inputs [T][B][F] (training units). */
  x: Arr;
  /** The same frames unnormalized (what the runtime sees; fake quantization starts here). */
  raw: Float32Array;
  shape: BatchShape;
  lengths: number[];
  /** classify */
  y: Int32Array;
  /** forecast / autoencoder: [T][B][O] targets and 0/1 weights. */
  target: Arr | null;
  weight: Arr | null;
}

/**
 * Mean and standard deviation per channel from one-pass sums. A channel is constant when all its
 * values are equal (min = max, exact): it keeps scale 1 (a zero std would divide by zero). An
 * absolute variance threshold (formerly 1e-12) misjudged both ways: a constant channel of 1000.3
 * over 640 steps got std 6e-5 from the cancellation in E[x²] − mean² (folded into the export as
 * W/6e-5 and a bias of −1.6e7·W, which float32 cannot cancel), and a real channel with std 1e-7
 * got scale 1 (the network never saw it). Where the one-pass variance is within rounding of
 * E[x²], `exact` recomputes it from the deviations; elsewhere the result is unchanged.
 */
function meanStd(sum: Float64Array, sq: Float64Array, n: number, min: Float64Array, max: Float64Array, exact: (k: number, mean: number) => number): { mean: number[]; std: number[] } {
  const mean = Array.from(sum, (s) => s / Math.max(n, 1));
  const std = Array.from(sq, (s, k) => {
    if (!(max[k]! > min[k]!)) return 1;
    const m2 = s / Math.max(n, 1);
    let v = m2 - mean[k]! ** 2;
    if (!(v > 1e-9 * m2)) v = exact(k, mean[k]!);
    return v > 0 ? Math.sqrt(v) : 1;
  });
  return { mean, std };
}

/** The smallest input spread the folded weights can carry in float32 (with room for weights up to 1e8). */
export const MIN_INPUT_STD = 1e-30;

/** Statistics of the training set (over every real step). */
export function computeNormalization(samples: readonly Sample[], features: number, task: TrainTask, targetSize: number, window: number): Normalization {
  const s = new Float64Array(features);
  const q = new Float64Array(features);
  const lo = new Float64Array(features).fill(Infinity);
  const hi = new Float64Array(features).fill(-Infinity);
  const ts = new Float64Array(targetSize);
  const tq = new Float64Array(targetSize);
  const tlo = new Float64Array(targetSize).fill(Infinity);
  const thi = new Float64Array(targetSize).fill(-Infinity);
  let n = 0;
  for (const smp of samples) {
    for (let i = 0; i < smp.T * features; i++) {
      const v = smp.x[i]!;
      const k = i % features;
      s[k] = s[k]! + v;
      q[k] = q[k]! + v * v;
      if (v < lo[k]!) lo[k] = v;
      if (v > hi[k]!) hi[k] = v;
    }
    if (smp.target) {
      for (let i = 0; i < smp.T * targetSize; i++) {
        const v = smp.target[i]!;
        const k = i % targetSize;
        ts[k] = ts[k]! + v;
        tq[k] = tq[k]! + v * v;
        if (v < tlo[k]!) tlo[k] = v;
        if (v > thi[k]!) thi[k] = v;
      }
    }
    n += smp.T;
  }
  // Second pass over one channel: Σ (v − mean)² / n.
  const exact = (field: 'x' | 'target', width: number) => (k: number, mean: number): number => {
    let d = 0;
    for (const smp of samples) {
      const a = smp[field];
      if (!a) continue;
      for (let t = 0; t < smp.T; t++) d += (a[t * width + k]! - mean) ** 2;
    }
    return d / Math.max(n, 1);
  };
  const inp = meanStd(s, q, n, lo, hi, exact('x', features));
  // The first layer's weights are divided by the spread when the normalization is folded into them
  // (export.ts): a spread of 1e-40 trained, then overflowed float32 when the model was written.
  const tiny = inp.std.findIndex((sd) => sd < MIN_INPUT_STD);
  if (tiny >= 0) {
    throw new EdgeRnnError('BAD_DATA', `input feature ${tiny} varies by only ${inp.std[tiny]!.toPrecision(3)} (standard deviation, at least ${MIN_INPUT_STD} expected): normalized, the model's weights would overflow float32; scale the feature up (or leave it out)`, { feature: tiny, std: inp.std[tiny], expected: MIN_INPUT_STD });
  }
  let out = { mean: [] as number[], std: [] as number[] };
  if (task === 'forecast') out = meanStd(ts, tq, n, tlo, thi, exact('target', targetSize));
  if (task === 'autoencoder') {
    for (let w = 0; w < window; w++) {
      out.mean.push(...inp.mean);
      out.std.push(...inp.std);
    }
  }
  return { inputMean: inp.mean, inputStd: inp.std, outputMean: out.mean, outputStd: out.std };
}

export const IDENTITY_NORMALIZATION = (features: number, outputs: number): Normalization => ({
  inputMean: new Array<number>(features).fill(0),
  inputStd: new Array<number>(features).fill(1),
  outputMean: new Array<number>(outputs).fill(0),
  outputStd: new Array<number>(outputs).fill(1),
});

export interface BatchSpec {
  task: TrainTask;
  features: number;
  /** Output width of the network (classes, target size, or window * features). */
  outputs: number;
  /** autoencoder window. */
  window: number;
  norm: Normalization;
  dtype: DType;
}

/** Builds one batch from samples [t0, t1) of each sequence (t1 clipped to its length). */
export function makeBatch(items: readonly Sample[], spec: BatchSpec, t0 = 0, t1 = Infinity): Batch {
  const B = items.length;
  const F = spec.features;
  const O = spec.outputs;
  const lengths = items.map((s) => Math.max(0, Math.min(s.T, t1) - t0));
  const T = Math.max(1, ...lengths);
  const x = alloc(spec.dtype, T * B * F);
  const raw = new Float32Array(T * B * F);
  const mask = new Uint8Array(T * B);
  const y = new Int32Array(B);
  const regression = spec.task !== 'classify';
  const target = regression ? alloc(spec.dtype, T * B * O) : null;
  const weight = regression ? alloc(spec.dtype, T * B * O) : null;
  const { inputMean: mu, inputStd: sd } = spec.norm;
  // A spec without output statistics (an imported forecaster: specNormalization gives none)
  // keeps raw targets; indexing the empty arrays made every target NaN.
  const outNorm = spec.norm.outputMean.length > 0;
  const omu = outNorm ? spec.norm.outputMean : new Array<number>(O).fill(0);
  const osd = outNorm ? spec.norm.outputStd : new Array<number>(O).fill(1);
  items.forEach((s, b) => {
    y[b] = s.y ?? 0;
    for (let t = 0; t < lengths[b]!; t++) {
      const st = t0 + t;
      mask[t * B + b] = 1;
      for (let k = 0; k < F; k++) {
        raw[(t * B + b) * F + k] = s.x[st * F + k]!;
        x[(t * B + b) * F + k] = (s.x[st * F + k]! - mu[k]!) / sd[k]!;
      }
      if (spec.task === 'forecast') {
        for (let o = 0; o < O; o++) {
          target![(t * B + b) * O + o] = (s.target![st * O + o]! - omu[o]!) / osd[o]!;
          weight![(t * B + b) * O + o] = 1;
        }
      } else if (spec.task === 'autoencoder') {
        // Output block w reconstructs frame st - (W - 1) + w.
        for (let w = 0; w < spec.window; w++) {
          const src = st - (spec.window - 1) + w;
          if (src < 0) continue;
          for (let k = 0; k < F; k++) {
            target![(t * B + b) * O + w * F + k] = (s.x[src * F + k]! - mu[k]!) / sd[k]!;
            weight![(t * B + b) * O + w * F + k] = 1;
          }
        }
      }
    }
  });
  return { x, raw, shape: { T, B, mask }, lengths, y, target, weight };
}
