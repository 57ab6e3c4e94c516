/** Shared helpers of the trainer tests: small random batches and a spec wrapper. */
import { Rng, type ModelSpec, type Task } from '../../src/index.js';
import { Network } from '../../quantize/nn/network.js';
import type { BatchShape } from '../../quantize/nn/layer.js';
import { alloc, type Arr, type DType } from '../../quantize/nn/tensor.js';

/** A padded time-major batch [T][B][I] with the given lengths and a matching mask. */
export function randomBatch(rng: Rng, lengths: number[], I: number, dtype: DType = 'f64', scale = 1): { x: Arr; shape: BatchShape } {
  const T = Math.max(...lengths);
  const B = lengths.length;
  const x = alloc(dtype, T * B * I);
  const mask = new Uint8Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      if (t >= lengths[b]!) continue;
      mask[t * B + b] = 1;
      for (let k = 0; k < I; k++) x[(t * B + b) * I + k] = rng.uniform(-scale, scale);
    }
  }
  return { x, shape: { T, B, mask } };
}

/** Sequence b of a time-major batch as a flat [len][I] Float32Array. */
export function sequenceOf(x: Arr, shape: BatchShape, b: number, len: number, I: number): Float32Array {
  const out = new Float32Array(len * I);
  for (let t = 0; t < len; t++) for (let k = 0; k < I; k++) out[t * I + k] = x[(t * shape.B + b) * I + k]!;
  return out;
}

export function specOf(net: Network, task: Task = 'custom', softmax = false): ModelSpec {
  const layers = net.toSpecLayers();
  if (softmax) layers.push({ kind: 'softmax', size: net.outputSize });
  return {
    name: 'test',
    version: '1.0.0',
    task,
    labels: [],
    input: { size: net.inputSize, frontend: { kind: 'none' } },
    precision: 'float32',
    layers,
    training: {},
  };
}

/**
 * A small float spec, GRU(5) -> dense(4, relu) -> dense(2): the relu layer (index 1) feeds another
 * layer, so calibration ranges it. `reluBias` < 0 keeps it at zero on small inputs, > 0 above.
 */
export function reluFeedsDenseSpec(inputs: number, seed: number, reluBias: number): ModelSpec {
  const net = new Network(inputs, [{ kind: 'gru', hidden: 5, bidirectional: false }, { kind: 'dense', size: 4, activation: 'relu' }, { kind: 'dense', size: 2, activation: 'none' }], 'f32');
  net.init(new Rng(seed));
  net.params().find((p) => p.name === 'layers.1.b')!.value.fill(reluBias);
  return specOf(net);
}
