/**
 * What the importer knows about each tensor of an ONNX graph while it walks the nodes:
 *
 *   const   a folded constant (initializers, Constant nodes, shape arithmetic). Integer
 *           entries may be symbolic: sym[i] = 1 means "T + data[i]" where T is the unknown
 *           sequence length (Shape(X)[time axis] and what is computed from it).
 *   dyn     a tensor computed from the sequence input X: a chain of edgernn layers producing a
 *           feature vector per step, plus how that vector is laid out over the tensor's axes.
 *   free    a graph input nobody bound (state inputs like h0 of an exported model).
 *   poison  the output of a node that could not be compiled (already reported).
 *
 * A dyn tensor's axes each have a role:
 *   T  time (size unknown),  B  batch (edgernn runs one sequence: nominal size, one element),
 *   U  size 1,  F  part of the feature vector with a stride: feature index f = sum idx_i*stride_i.
 * "Canonical" means the F axes, in axis order, are row-major over the feature vector.
 *
 * Linear maps on features (MatMul, Gemm, Add of a constant, feature Gather/Slice/Split/Concat,
 * permutations, ReduceSum/ReduceMean over features, the sum of a bidirectional layer's two
 * directions) are kept as a pending y = A x + b and folded into the next layer's weights, so
 * glue like input normalization or direction reordering costs nothing at run time.
 */
import { EdgeRnnError } from '../errors.js';
import type { Layer } from '../model/spec.js';
import { dtypeName, ONNX_DTYPES } from './proto.js';

/** Thrown by node handlers: the node cannot be compiled (collected, then reported together). */
export class NodeUnsupported extends Error {}

export function unsupported(message: string): NodeUnsupported {
  return new NodeUnsupported(message);
}

/** A spec violation in the model (thrown at once). */
export function invalid(message: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('ONNX_INVALID', message, details);
}

export interface ConstValue {
  kind: 'const';
  dtype: number;
  dims: number[];
  data: Float64Array;
  /** null, or 1 where the element is T + data[i]. */
  sym: Uint8Array | null;
}

export type AxisRole = 'T' | 'B' | 'U' | 'F';

export interface Axis {
  role: AxisRole;
  /** T: -1; B: the nominal batch size; U: 1; F: the axis length. */
  size: number;
  /** F only: step in the feature vector. */
  stride: number;
}

/** y = A x + b on features: A [rows][cols] row-major. */
export interface Linear {
  A: Float64Array;
  b: Float64Array;
  rows: number;
  cols: number;
}

export type TimeSelect = 'seq' | 'last' | 'first' | 'final';

/** The layers behind a dyn value, shared by values that differ only in pending maps and axes. */
export interface ChainBase {
  /** Input feature width (X). */
  inputSize: number;
  layers: Layer[];
  /** Output width of the layers (inputSize when there are none). */
  width: number;
  /**
   * seq: every step; last / first: one step; final: the final states of a bidirectional or
   * reverse layer (forward half at the last valid step, reverse half at step 0).
   */
  time: TimeSelect;
  /** 'final' only: index of the layer whose final states are taken (later layers run on that vector). */
  finalAt: number;
  /** sequence_lens of this batch element: steps past it are padding (null: all steps). */
  stepLimit: number | null;
  /** With stepLimit: index of the last recurrent layer that honours it (later layers see zeros). */
  limitAt: number;
}

export interface DynValue {
  kind: 'dyn';
  axes: Axis[];
  base: ChainBase;
  pending: Linear | null;
}

export interface FreeValue {
  kind: 'free';
  name: string;
}

export interface PoisonValue {
  kind: 'poison';
  /** Set when using this value is the problem (e.g. LSTM Y_c): reported where it is consumed. */
  reason?: string;
}

/**
 * A Concat of the final states (Y_h) of several recurrent layers along their direction axis:
 * PyTorch's h_n of a multi-layer nn.GRU / nn.LSTM / nn.RNN, entries layer-major and direction-minor
 * ([layers * dirs, batch, hidden]). No one chain computes it, so it is kept as its parts; a Gather
 * or Slice of entries of the last part (h_n[-1]) is that layer's Y_h. stacked.ts has the rules.
 */
export interface StackValue {
  kind: 'stack';
  /** The Concat node (nodeLabel) and its output, for messages. */
  label: string;
  name: string;
  /** The concatenated axis. */
  axis: number;
  /** The inputs, canonical, in order; each holds parts[i].axes[axis].size entries. */
  parts: DynValue[];
}

export type Value = ConstValue | DynValue | FreeValue | PoisonValue | StackValue;

// ---------------------------------------------------------------------------------------------
// Constants

/** Folded constants stay below this many elements (a corrupt shape must not exhaust memory). */
export const MAX_CONST_ELEMENTS = 1 << 24;

/** Throws unless dims are non-negative integers with at most MAX_CONST_ELEMENTS elements. */
export function checkConstDims(dims: readonly number[], what: string): void {
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw invalid(`${what}: shape [${dims.join(', ')}] has a negative or non-integer dimension`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_CONST_ELEMENTS) {
    throw new EdgeRnnError('ONNX_UNSUPPORTED', `${what}: a constant of shape [${dims.join(', ')}] (${n} elements) exceeds the ${MAX_CONST_ELEMENTS}-element limit for folded constants`, { dims: [...dims] });
  }
}

/**
 * Elements one import may fold in all (initializers and Constant nodes, the file's own data, not
 * counted): a chain of folded nodes each just under the per-constant limit held gigabytes and
 * ran for minutes (30 Adds of 2^24 elements from a file of 854 bytes).
 */
export const MAX_FOLDED_ELEMENTS = MAX_CONST_ELEMENTS;

/**
 * Throws unless a linear map on features of rows x cols weights stays below MAX_CONST_ELEMENTS:
 * a map on the input alone has features^2, so a declared width of 2^20 features (or a 2^20-wide
 * head) is refused at the node (collected like any unsupported node) instead of a RangeError
 * from Float64Array, or minutes of work.
 */
export function checkLinearSize(rows: number, cols: number): void {
  const n = rows * cols;
  if (!(n <= MAX_CONST_ELEMENTS)) throw unsupported(`a linear map of ${rows} x ${cols} weights on the features (${n}) exceeds the ${MAX_CONST_ELEMENTS}-element limit for folded constants`);
}

/** A zeroed rows x cols linear map (checkLinearSize). */
export function linearBuffer(rows: number, cols: number): Float64Array {
  checkLinearSize(rows, cols);
  return new Float64Array(rows * cols);
}

export function constOf(dtype: number, dims: number[], data: ArrayLike<number>, sym: Uint8Array | null = null): ConstValue {
  const d = Float64Array.from(data);
  if (d.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`internal: const of [${dims}] with ${d.length} elements`);
  return { kind: 'const', dtype, dims: [...dims], data: d, sym: sym && sym.some((s) => s === 1) ? sym : null };
}

export function isIntType(dtype: number): boolean {
  return dtype !== ONNX_DTYPES.FLOAT && dtype !== ONNX_DTYPES.DOUBLE && dtype !== ONNX_DTYPES.FLOAT16 && dtype !== ONNX_DTYPES.BFLOAT16;
}

export function size(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

/**
 * Throws unless every element is an integer: indices, axes, starts and shapes are int32/int64 in
 * ONNX, and a FLOAT tensor there (index 0.5, NaN) read element data[0.5], a NaN weight, or
 * silently zero, and convert wrote the model.
 */
export function checkIntegers(v: ConstValue, what: string): void {
  const bad = v.data.find((x) => !Number.isInteger(x));
  if (bad !== undefined) throw invalid(`${what} must be integers (${dtypeName(v.dtype)} [${v.dims.join(', ')}] holds ${bad})`);
}

/** A constant's integer elements; symbolic ones are an error naming what needs them. */
export function concreteInts(v: ConstValue, what: string): number[] {
  if (v.sym) throw unsupported(`${what} depends on the sequence length, which edgernn leaves open`);
  checkIntegers(v, what);
  return Array.from(v.data);
}

export function describeConst(v: ConstValue): string {
  return `${dtypeName(v.dtype)} [${v.dims.join(', ')}]`;
}

/** Normalizes a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw invalid(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Broadcast shape of two shapes (numpy rules), or an error naming both. */
export function broadcastDims(a: readonly number[], b: readonly number[], what: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `${what}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`, { a, b });
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Index into a tensor of dims `src` broadcast to `out`, for an output multi-index. */
export function broadcastIndex(src: readonly number[], out: readonly number[], idx: readonly number[]): number {
  const off = out.length - src.length;
  let k = 0;
  for (let i = 0; i < src.length; i++) k = k * src[i]! + (src[i] === 1 ? 0 : idx[off + i]!);
  return k;
}

/** Calls fn for every multi-index of dims in row-major order. */
export function forEachIndex(dims: readonly number[], fn: (idx: number[], flat: number) => void): void {
  const n = size(dims);
  const idx = new Array<number>(dims.length).fill(0);
  for (let f = 0; f < n; f++) {
    fn(idx, f);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d]! < dims[d]!) break;
      idx[d] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dyn values

/** Width of the feature vector a dyn value lays out over its F axes. */
export function featureWidth(v: DynValue): number {
  return v.pending ? v.pending.rows : v.base.width;
}

export function identityLinear(n: number): Linear {
  const A = linearBuffer(n, n);
  for (let i = 0; i < n; i++) A[i * n + i] = 1;
  return { A, b: new Float64Array(n), rows: n, cols: n };
}

/** M ∘ pending: y = M (A x + b) + c, with M [rows][pending.rows]. */
export function composeLinear(v: DynValue, M: Float64Array, rows: number, c: Float64Array | null): Linear {
  const inner = v.pending ?? identityLinear(v.base.width);
  const k = inner.rows;
  const cols = inner.cols;
  const A = linearBuffer(rows, cols);
  const b = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let bi = c ? c[i]! : 0;
    for (let m = 0; m < k; m++) {
      const w = M[i * k + m]!;
      if (w === 0) continue;
      bi += w * inner.b[m]!;
      for (let j = 0; j < cols; j++) A[i * cols + j] = A[i * cols + j]! + w * inner.A[m * cols + j]!;
    }
    b[i] = bi;
  }
  return { A, b, rows, cols };
}

/** A selection map: row i of the result is feature src[i] of the current vector. */
export function selectionMatrix(src: readonly number[], from: number): Float64Array {
  const M = linearBuffer(src.length, from);
  src.forEach((s, i) => (M[i * from + s] = 1));
  return M;
}

export function isIdentity(L: Linear): boolean {
  if (L.rows !== L.cols) return false;
  for (let i = 0; i < L.rows; i++) {
    if (L.b[i] !== 0) return false;
    for (let j = 0; j < L.cols; j++) if (L.A[i * L.cols + j] !== (i === j ? 1 : 0)) return false;
  }
  return true;
}

/** F axes of size 1 become U; returns a new value. */
export function normalizeAxes(v: DynValue): DynValue {
  return { ...v, axes: v.axes.map((a) => (a.role === 'F' && a.size === 1 ? { role: 'U', size: 1, stride: 0 } : a)) };
}

/** Reorders the features so the F axes are row-major in axis order (a pending permutation). */
export function canonicalize(v0: DynValue): DynValue {
  const v = normalizeAxes(v0);
  const fAxes = v.axes.map((a, i) => [a, i] as const).filter(([a]) => a.role === 'F');
  const sizes = fAxes.map(([a]) => a.size);
  const canon = stridesOf(sizes);
  if (fAxes.every(([a], k) => a.stride === canon[k])) return v;
  const width = featureWidth(v);
  const src: number[] = [];
  forEachIndex(sizes, (idx) => {
    let f = 0;
    idx.forEach((x, k) => (f += x * fAxes[k]![0].stride));
    src.push(f);
  });
  const pending = composeLinear(v, selectionMatrix(src, width), src.length, null);
  const axes = v.axes.map((a) => ({ ...a }));
  fAxes.forEach(([, i], k) => (axes[i]!.stride = canon[k]!));
  return { ...v, axes, pending };
}

/** Dims a dyn value claims to have (T as -1). */
export function dynDims(v: DynValue): number[] {
  return v.axes.map((a) => a.size);
}

export function describeDyn(v: DynValue): string {
  return `[${v.axes.map((a) => (a.role === 'T' ? 'seq' : a.role === 'B' ? `batch=${a.size}` : String(a.size))).join(', ')}]`;
}
