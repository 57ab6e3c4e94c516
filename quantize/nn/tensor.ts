/**
 * Numeric storage of the trainer. Training runs in float32 storage (JS arithmetic is float64, so
 * sums are accumulated in double and rounded once when stored); gradient checks run the same
 * code on float64 storage so finite differences are meaningful.
 */

/** Storage of activations, weights and gradients. */
export type Arr = Float32Array | Float64Array;
export type DType = 'f32' | 'f64';

export function alloc(dtype: DType, n: number): Arr {
  return dtype === 'f64' ? new Float64Array(n) : new Float32Array(n);
}

/** A trainable tensor with its gradient; `mask` (pruning) marks weights that must stay zero. */
export interface Param {
  /** Stable name, e.g. "layers.0.W.0" (layer, tensor, direction). */
  name: string;
  value: Arr;
  grad: Arr;
  /** [rows, cols] for matrices, [n] for vectors. */
  shape: number[];
  /** Weight matrices get weight decay and may be pruned; biases do not. */
  kind: 'weight' | 'bias';
  /** 1 = kept, 0 = pruned (exact zero). Absent: dense. */
  mask?: Uint8Array;
  /**
   * How this matrix is tiled into the runtime's physical layout, for block pruning: rows in
   * groups of `rowGroup` (a gate block of H rows) and columns in segments (`colSegments`,
   * e.g. the two directions of a bidirectional input). Blocks never straddle a group or segment.
   */
  rowGroup?: number;
  colSegments?: number[];
}

export function makeParam(dtype: DType, name: string, shape: number[], kind: Param['kind']): Param {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, value: alloc(dtype, n), grad: alloc(dtype, n), shape, kind };
}
