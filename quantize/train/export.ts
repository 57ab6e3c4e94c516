/**
 * Network -> ModelSpec and back, with the input/output normalization folded into the weights so
 * the exported model takes raw features and produces raw units (the runtime needs no scaler):
 *   first layer (rows j, inputs k):  W'[j,k] = W[j,k] / σ_k,   b'[j] = b[j] - Σ_k W[j,k] μ_k / σ_k
 *   last dense (regression):         W'[j,:] = σ_j W[j,:],     b'[j] = σ_j b[j] + μ_j
 * Zeros stay zeros, so pruning survives the fold. The statistics are kept in
 * `extra.normalization`, and `networkFromSpec` unfolds them to resume training in the same units.
 */
import { EdgeRnnError, GATES, isRecurrent, numDirections, type Layer, type ModelSpec, type TrainingInfo } from '../../src/index.js';
import type { TrainTask } from '../data/dataset.js';
import { Network } from '../nn/network.js';
import type { DType } from '../nn/tensor.js';
import type { Normalization } from './batches.js';

function isIdentity(mean: readonly number[], std: readonly number[]): boolean {
  return mean.every((m) => m === 0) && std.every((s) => s === 1);
}

/** Folds (dir = 1) or unfolds (dir = -1) normalization into copies of the spec layers. */
export function foldNormalization(layers: readonly Layer[], norm: Normalization, dir: 1 | -1): Layer[] {
  const out = layers.map((l) => structuredClone(l));
  const first = out[0];
  if (first && !isIdentity(norm.inputMean, norm.inputStd)) {
    const mu = norm.inputMean;
    const sd = norm.inputStd;
    if (isRecurrent(first) && first.float) {
      const I = first.inputSize;
      const rows = GATES[first.kind] * first.hiddenSize;
      const D = numDirections(first);
      const W = first.float.W;
      const B = first.float.B ?? new Float32Array(D * 2 * rows);
      for (let d = 0; d < D; d++) {
        for (let j = 0; j < rows; j++) {
          const base = (d * rows + j) * I;
          let shift = 0;
          for (let k = 0; k < I; k++) {
            if (dir === 1) {
              shift += (W[base + k]! * mu[k]!) / sd[k]!;
              W[base + k] = W[base + k]! / sd[k]!;
            } else {
              W[base + k] = W[base + k]! * sd[k]!;
              shift -= (W[base + k]! * mu[k]!) / sd[k]!;
            }
          }
          B[d * 2 * rows + j] = B[d * 2 * rows + j]! - shift;
        }
      }
      first.float.B = B;
    } else if (first.kind === 'dense' && first.float) {
      const I = first.inputSize;
      const W = first.float.W;
      const B = first.float.B ?? new Float32Array(first.outputSize);
      for (let j = 0; j < first.outputSize; j++) {
        let shift = 0;
        for (let k = 0; k < I; k++) {
          if (dir === 1) {
            shift += (W[j * I + k]! * mu[k]!) / sd[k]!;
            W[j * I + k] = W[j * I + k]! / sd[k]!;
          } else {
            W[j * I + k] = W[j * I + k]! * sd[k]!;
            shift -= (W[j * I + k]! * mu[k]!) / sd[k]!;
          }
        }
        B[j] = B[j]! - shift;
      }
      first.float.B = B;
    }
  }
  const last = out[out.length - 1];
  if (norm.outputMean.length && !isIdentity(norm.outputMean, norm.outputStd)) {
    if (!last || last.kind !== 'dense' || last.activation !== 'none' || !last.float || last.outputSize !== norm.outputMean.length) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', 'output normalization needs a final dense layer without activation of matching size');
    }
    const I = last.inputSize;
    const W = last.float.W;
    const B = last.float.B ?? new Float32Array(last.outputSize);
    for (let j = 0; j < last.outputSize; j++) {
      const s = norm.outputStd[j]!;
      const m = norm.outputMean[j]!;
      for (let k = 0; k < I; k++) W[j * I + k] = dir === 1 ? W[j * I + k]! * s : W[j * I + k]! / s;
      B[j] = dir === 1 ? B[j]! * s + m : (B[j]! - m) / s;
    }
    last.float.B = B;
  }
  return out;
}

export interface SpecInfo {
  name: string;
  version: string;
  task: TrainTask;
  labels: string[];
  features: number;
  featureNames?: string[];
  rateHz?: number;
  frontend?: { kind: string; [k: string]: unknown };
  description?: string;
  norm: Normalization;
  training: TrainingInfo;
  /** Extra fields to keep (window, bottleneck, pruning, thresholds...). */
  extra?: Record<string, unknown>;
}

/** The float32 ModelSpec of a trained network (normalization folded in). */
export function buildSpec(net: Network, info: SpecInfo): ModelSpec {
  const layers = foldNormalization(net.toSpecLayers(), info.norm, 1);
  if (info.task === 'classify') layers.push({ kind: 'softmax', size: net.outputSize });
  const spec: ModelSpec = {
    name: info.name,
    version: info.version,
    task: info.task,
    labels: info.task === 'classify' ? info.labels : [],
    input: {
      size: info.features,
      ...(info.featureNames ? { names: info.featureNames } : {}),
      ...(info.rateHz !== undefined ? { rateHz: info.rateHz } : {}),
      frontend: info.frontend ?? { kind: 'none' },
    },
    precision: 'float32',
    layers,
    training: info.training,
    extra: { ...info.extra, normalization: info.norm },
  };
  if (info.description !== undefined) spec.description = info.description;
  return spec;
}

/** The normalization a spec was trained with (identity when it has none). */
export function specNormalization(spec: ModelSpec): Normalization {
  const n = spec.extra?.normalization as Partial<Normalization> | undefined;
  const ok = (v: unknown, len?: number): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)) && (len === undefined || v.length === len);
  if (n && ok(n.inputMean, spec.input.size) && ok(n.inputStd, spec.input.size) && ok(n.outputMean) && ok(n.outputStd) && n.outputMean.length === n.outputStd.length && n.inputStd.every((s) => s > 0) && n.outputStd.every((s) => s > 0)) {
    return { inputMean: n.inputMean, inputStd: n.inputStd, outputMean: n.outputMean, outputStd: n.outputStd };
  }
  return { inputMean: new Array<number>(spec.input.size).fill(0), inputStd: new Array<number>(spec.input.size).fill(1), outputMean: [], outputStd: [] };
}

/** A trainable network in normalized units from a float32 spec (inverse of buildSpec). */
export function networkFromSpec(spec: ModelSpec, dtype: DType, opts: { dropout?: number; random?: () => number } = {}): { net: Network; norm: Normalization } {
  const norm = specNormalization(spec);
  const trainable = spec.layers.filter((l) => l.kind !== 'softmax' && l.kind !== 'logSoftmax');
  const rest = spec.layers.slice(trainable.length);
  const layers = [...foldNormalization(trainable, norm, -1), ...rest];
  return { net: Network.fromSpec({ ...spec, layers }, dtype, opts), norm };
}
