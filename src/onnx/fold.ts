/**
 * Constant folding: the ONNX operators of the "glue" PyTorch and tf2onnx emit around recurrent
 * layers (shape arithmetic, weight reshuffles), evaluated on constants. Integer elements may be
 * symbolic (T + k, see values.ts); data-movement ops carry that through, arithmetic accepts
 * T + k ± c and (T + a) - (T + b), anything else is reported as depending on the sequence length.
 *
 * Semantics follow the ONNX operator spec of each op (opset 7..22 differences noted inline).
 */
import { EdgeRnnError } from '../errors.js';
import type { Attrs } from './attrs.js';
import { ONNX_DTYPES, type NodeProto, type TensorProto } from './proto.js';
import {
  broadcastDims,
  broadcastIndex,
  checkConstDims,
  concreteInts,
  constOf,
  forEachIndex,
  invalid,
  isIntType,
  normAxis,
  size,
  stridesOf,
  unsupported,
  type ConstValue,
} from './values.js';

export interface OpContext {
  node: NodeProto;
  attrs: Attrs;
  /** Version of the default ONNX domain the model imports. */
  opset: number;
  label: string;
}

/** Multiply-adds of one folded MatMul (about a second): 4096 x 4096 x 4096 ran for minutes. */
export const MAX_MATMUL_PRODUCTS = 1 << 28;

export type ConstOp = (ctx: OpContext, inputs: (ConstValue | undefined)[]) => ConstValue[];

export function tensorToConst(t: TensorProto): ConstValue {
  // The decoder checks this; a ModelProto built or edited in code (importOnnx takes one) may not.
  const label = t.name ? `tensor '${t.name}'` : 'tensor';
  if (t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw invalid(`${label}: shape [${t.dims.join(', ')}] has a negative or non-integer dimension`, { tensor: t.name });
  const n = size(t.dims);
  if (t.data.length !== n) throw invalid(`${label}: ${t.data.length} elements for shape [${t.dims.join(', ')}] (${n})`, { tensor: t.name, expected: n, got: t.data.length });
  return constOf(t.dataType, t.dims, t.data);
}

function need(ctx: OpContext, inputs: (ConstValue | undefined)[], i: number, name: string): ConstValue {
  const v = inputs[i];
  if (v === undefined) throw invalid(`${ctx.label}: required input ${i} (${name}) is missing`, { node: ctx.node.name });
  return v;
}

/** Integer types narrower than 64 bits: [bits, signed]. Values wrap modulo 2^bits, as in C++ (and onnxruntime). */
const NARROW_INTS: Readonly<Record<number, readonly [number, boolean]>> = {
  [ONNX_DTYPES.INT8]: [8, true],
  [ONNX_DTYPES.UINT8]: [8, false],
  [ONNX_DTYPES.INT16]: [16, true],
  [ONNX_DTYPES.UINT16]: [16, false],
  [ONNX_DTYPES.INT32]: [32, true],
  [ONNX_DTYPES.UINT32]: [32, false],
};

/**
 * Rounds to the element type: float32 values are kept exactly as float32; integers truncate
 * toward zero (no -0) and wrap to their width (int64 stays a double, exact to 2^53).
 */
function typed(dtype: number, v: number): number {
  if (dtype === ONNX_DTYPES.FLOAT) return Math.fround(v);
  if (dtype === ONNX_DTYPES.BOOL) return v ? 1 : 0;
  if (!isIntType(dtype)) return v;
  const t = Math.trunc(v) || 0;
  const narrow = NARROW_INTS[dtype];
  if (narrow === undefined || !Number.isFinite(t)) return t;
  const [bits, signed] = narrow;
  const m = 2 ** bits;
  const u = ((t % m) + m) % m;
  return signed && u >= m / 2 ? u - m : u;
}

/** Copies elements by an index map, carrying symbolic flags. */
function gatherElements(v: ConstValue, dims: number[], src: ArrayLike<number>, dtype = v.dtype): ConstValue {
  const data = new Float64Array(src.length);
  const sym = v.sym ? new Uint8Array(src.length) : null;
  for (let i = 0; i < src.length; i++) {
    data[i] = v.data[src[i]!]!;
    if (sym) sym[i] = v.sym![src[i]!]!;
  }
  return constOf(dtype, dims, data, sym);
}

function reshapeConst(v: ConstValue, dims: number[]): ConstValue {
  return { ...v, dims };
}

/** Resolves a Reshape target (0 = copy, -1 = infer) against concrete input dims. */
export function resolveReshape(label: string, inDims: readonly number[], shape: readonly number[], allowZero: boolean): number[] {
  const out = shape.map((d, i) => {
    if (d === 0 && !allowZero) {
      if (i >= inDims.length) throw invalid(`${label}: shape entry ${i} is 0 (copy) but the input has rank ${inDims.length}`);
      return inDims[i]!;
    }
    return d;
  });
  const infer = out.filter((d) => d === -1).length;
  if (infer > 1) throw invalid(`${label}: shape [${shape}] has more than one -1`);
  const total = size(inDims);
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  if (infer === 1) {
    if (known === 0 || total % known !== 0) throw invalid(`${label}: cannot reshape [${inDims}] to [${shape}]`);
    out[out.indexOf(-1)] = total / known;
  }
  if (out.some((d) => d < 0) || size(out) !== total) throw invalid(`${label}: cannot reshape [${inDims}] (${total} elements) to [${shape}]`);
  return out;
}

function axesInput(ctx: OpContext, inputs: (ConstValue | undefined)[], i: number): number[] | undefined {
  // Squeeze/Unsqueeze/Reduce*: `axes` is an attribute before opset 13, an input from 13.
  if (ctx.opset >= 13 && inputs[i] !== undefined) return concreteInts(inputs[i]!, `${ctx.label}: axes`);
  return ctx.attrs.ints('axes');
}

export function unsqueezeDims(ctx: OpContext, dims: readonly number[], axes: number[]): number[] {
  const rank = dims.length + axes.length;
  const norm = axes.map((a) => normAxis(a, rank, ctx.label)).sort((a, b) => a - b);
  if (new Set(norm).size !== norm.length) throw invalid(`${ctx.label}: repeated axes [${axes}]`);
  const out: number[] = [];
  let k = 0;
  // A Set: includes() per axis took 30 s on 200,000 axes (a 1.6 MB file).
  const ones = new Set(norm);
  for (let i = 0; i < rank; i++) out.push(ones.has(i) ? 1 : dims[k++]!);
  return out;
}

/** Slice parameters per axis: start, end, step after ONNX clamping rules (dimension n). */
export function sliceRange(start: number, end: number, step: number, n: number): { start: number; count: number; step: number } {
  if (step === 0) throw invalid('Slice: step 0');
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), n);
    e = Math.min(Math.max(e, 0), n);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)), step };
  }
  // ONNX Slice, negative steps: starts clamp to [0, n - 1], ends to [-1, n - 1].
  s = Math.min(Math.max(s, 0), n - 1);
  e = Math.min(Math.max(e, -1), n - 1);
  return { start: s, count: Math.max(0, Math.ceil((s - e) / -step)), step };
}

/** Slice inputs: attributes before opset 10, inputs from 10. */
export function sliceParams(ctx: OpContext, inputs: (ConstValue | undefined)[], rank: number): { axes: number[]; starts: number[]; ends: number[]; steps: number[] } {
  let starts: number[];
  let ends: number[];
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = ctx.attrs.required(ctx.attrs.ints('starts'), 'starts');
    ends = ctx.attrs.required(ctx.attrs.ints('ends'), 'ends');
    axes = ctx.attrs.ints('axes');
  } else {
    starts = concreteInts(need(ctx, inputs, 1, 'starts'), `${ctx.label}: starts`);
    ends = concreteInts(need(ctx, inputs, 2, 'ends'), `${ctx.label}: ends`);
    axes = inputs[3] ? concreteInts(inputs[3], `${ctx.label}: axes`) : undefined;
    steps = inputs[4] ? concreteInts(inputs[4], `${ctx.label}: steps`) : undefined;
  }
  axes = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank, ctx.label));
  steps = steps ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw invalid(`${ctx.label}: starts, ends, axes and steps have different lengths`);
  }
  return { axes, starts, ends, steps };
}

/**
 * Split sizes of an axis of n elements into the node's outputs. Sizes: attribute `split` before
 * opset 13, input 1 from 13; without them, equal parts (opset 18's num_outputs: parts of
 * ceil(n / parts), the last one smaller, as onnxruntime splits).
 */
export function splitSizes(ctx: OpContext, splitInput: ConstValue | undefined, axis: number, n: number): number[] {
  const parts = ctx.node.output.length;
  const given = ctx.opset < 13 ? ctx.attrs.ints('split') : splitInput === undefined ? undefined : concreteInts(splitInput, `${ctx.label}: split`);
  if (given !== undefined) {
    if (given.length !== parts) throw invalid(`${ctx.label}: split has ${given.length} sizes for ${parts} outputs`, { node: ctx.node.name });
    const total = given.reduce((p, x) => p + x, 0);
    if (given.some((x) => !Number.isInteger(x) || x < 0) || total !== n) throw invalid(`${ctx.label}: split sizes [${given.join(', ')}] add up to ${total}, axis ${axis} has ${n}`, { node: ctx.node.name, expected: n, got: total });
    return given;
  }
  const numOutputs = ctx.opset >= 18 ? ctx.attrs.int('num_outputs') : undefined;
  if (numOutputs !== undefined) {
    if (numOutputs !== parts) throw invalid(`${ctx.label}: num_outputs is ${numOutputs}, the node has ${parts} outputs`, { node: ctx.node.name });
    const chunk = Math.ceil(n / parts);
    return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, n - i * chunk)));
  }
  if (n % parts !== 0) throw invalid(`${ctx.label}: axis ${axis} of size ${n} does not split into ${parts} equal parts`, { node: ctx.node.name });
  return Array.from({ length: parts }, () => n / parts);
}

/**
 * ReduceSum / ReduceMean axes: an attribute until opset 12 (ReduceSum) / 17 (ReduceMean), input 1
 * after. undefined: every axis; 'noop': none (noop_with_empty_axes = 1 with no axes, the identity).
 */
export function reduceAxes(ctx: OpContext, axesInput: ConstValue | undefined, mean: boolean): number[] | undefined | 'noop' {
  const fromInput = ctx.opset >= (mean ? 18 : 13);
  const axes = fromInput ? (axesInput === undefined ? undefined : concreteInts(axesInput, `${ctx.label}: axes`)) : ctx.attrs.ints('axes');
  if (axes !== undefined && axes.length > 0) return axes;
  return fromInput && ctx.attrs.int('noop_with_empty_axes', 0) !== 0 ? 'noop' : undefined;
}

/** ReduceSum, ReduceMean, ReduceProd (PyTorch's pack_padded_sequence takes the element count of a shape with it). */
function reduceConst(kind: 'sum' | 'mean' | 'prod'): ConstOp {
  const mean = kind === 'mean';
  return (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'data');
    // ReduceProd takes its axes as an input from opset 18, as ReduceMean does.
    const r = reduceAxes(ctx, inputs[1], kind !== 'sum');
    if (r === 'noop') return [x];
    if (x.sym) throw unsupported(`${ctx.label} of a value that depends on the sequence length`);
    const axes = (r ?? x.dims.map((_, i) => i)).map((a) => normAxis(a, x.dims.length, ctx.label));
    const keep = ctx.attrs.int('keepdims', 1) !== 0;
    const reduced = new Set(axes);
    const kept = x.dims.map((d, i) => (reduced.has(i) ? 1 : d));
    const count = size(x.dims) / size(kept);
    const out = new Float64Array(size(kept)).fill(kind === 'prod' ? 1 : 0);
    forEachIndex(x.dims, (idx, f) => {
      const k = broadcastIndex(kept, x.dims, idx);
      out[k] = kind === 'prod' ? out[k]! * x.data[f]! : out[k]! + x.data[f]!;
    });
    const data = out.map((v) => typed(x.dtype, mean ? v / count : v));
    return [constOf(x.dtype, keep ? kept : x.dims.filter((_, i) => !reduced.has(i)), data)];
  };
}

type Binary = (a: number, b: number) => number;

/** Elementwise binary op with broadcasting; symbolic operands follow T-arithmetic rules. */
function binary(ctx: OpContext, a: ConstValue, b: ConstValue, f: Binary, op: 'add' | 'sub' | 'mul' | 'div' | 'other'): ConstValue {
  const dims = broadcastDims(a.dims, b.dims, ctx.label);
  checkConstDims(dims, ctx.label);
  const n = size(dims);
  const data = new Float64Array(n);
  const sym = a.sym || b.sym ? new Uint8Array(n) : null;
  forEachIndex(dims, (idx, flat) => {
    const ia = broadcastIndex(a.dims, dims, idx);
    const ib = broadcastIndex(b.dims, dims, idx);
    const sa = a.sym ? a.sym[ia]! : 0;
    const sb = b.sym ? b.sym[ib]! : 0;
    const x = a.data[ia]!;
    const y = b.data[ib]!;
    if (!sa && !sb) {
      data[flat] = typed(a.dtype, f(x, y));
      return;
    }
    // (T + x) op y, x op (T + y), (T + x) - (T + y)
    if (op === 'add' && sa + sb === 1) {
      data[flat] = x + y;
      sym![flat] = 1;
    } else if (op === 'sub' && sa && !sb) {
      data[flat] = x - y;
      sym![flat] = 1;
    } else if (op === 'sub' && sa && sb) {
      data[flat] = x - y;
    } else if ((op === 'mul' || op === 'div') && sa && !sb && y === 1) {
      data[flat] = x;
      sym![flat] = 1;
    } else if (op === 'mul' && sb && !sa && x === 1) {
      data[flat] = y;
      sym![flat] = 1;
    } else {
      throw unsupported(`${ctx.label} computes with the sequence length, which edgernn leaves open`);
    }
  });
  return constOf(a.dtype, dims, data, sym);
}

function unary(f: (x: number) => number): ConstOp {
  return (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'X');
    if (x.sym) throw unsupported(`${ctx.label} of a value that depends on the sequence length`);
    return [constOf(x.dtype, x.dims, x.data.map((v) => typed(x.dtype, f(v))))];
  };
}

function transposeConst(ctx: OpContext, x: ConstValue, permIn?: number[]): ConstValue {
  const rank = x.dims.length;
  const perm = permIn ?? x.dims.map((_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw invalid(`${ctx.label}: perm [${perm}] is not a permutation of ${rank} axes`);
  const dims = perm.map((p) => x.dims[p]!);
  const st = stridesOf(x.dims);
  const src: number[] = [];
  forEachIndex(dims, (idx) => {
    let f = 0;
    idx.forEach((v, i) => (f += v * st[perm[i]!]!));
    src.push(f);
  });
  return gatherElements(x, dims, src);
}

/**
 * TopK: the k largest (or smallest) along an axis, ties in index order (ONNX). Symbolic elements
 * (T + c) compare with each other only: pack_padded_sequence(enforce_sorted=False) sorts lengths
 * that are all T, or one length (a batch of 1).
 */
function topK(ctx: OpContext, inputs: (ConstValue | undefined)[]): ConstValue[] {
  const x = need(ctx, inputs, 0, 'X');
  const axis = normAxis(ctx.attrs.int('axis', -1), x.dims.length, ctx.label);
  const k = ctx.opset >= 10 ? concreteInts(need(ctx, inputs, 1, 'K'), `${ctx.label}: K`)[0] : ctx.attrs.int('k');
  const n = x.dims[axis]!;
  if (k === undefined || !Number.isInteger(k) || k < 0 || k > n) throw invalid(`${ctx.label}: K is ${k}, expected 0..${n} (the size of axis ${axis})`, { node: ctx.node.name });
  const sign = ctx.attrs.int('largest', 1) !== 0 ? -1 : 1;
  const outer = size(x.dims.slice(0, axis));
  const inner = size(x.dims.slice(axis + 1));
  const dims = x.dims.map((d, i) => (i === axis ? k : d));
  const src = new Array<number>(size(dims));
  const indices = new Array<number>(size(dims));
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const at = (i: number) => (o * n + i) * inner + j;
      if (x.sym && n > 1 && Array.from({ length: n }, (_, i) => x.sym![at(i)]).some((s, _, all) => s !== all[0])) {
        throw unsupported(`${ctx.label} compares the sequence length with a number`);
      }
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => sign * (x.data[at(a)]! - x.data[at(b)]!) || a - b);
      for (let r = 0; r < k; r++) {
        src[(o * k + r) * inner + j] = at(order[r]!);
        indices[(o * k + r) * inner + j] = order[r]!;
      }
    }
  }
  return [gatherElements(x, dims, src), constOf(ONNX_DTYPES.INT64, dims, indices)];
}

/** ScatterElements (reduction 'none'): data with updates written at the indices along an axis. */
function scatterElements(ctx: OpContext, inputs: (ConstValue | undefined)[]): ConstValue[] {
  const x = need(ctx, inputs, 0, 'data');
  const ind = need(ctx, inputs, 1, 'indices');
  const upd = need(ctx, inputs, 2, 'updates');
  const reduction = ctx.attrs.string('reduction', 'none');
  if (reduction !== 'none') throw unsupported(`${ctx.label}: reduction '${reduction}' (edgernn folds 'none' only)`);
  const axis = normAxis(ctx.attrs.int('axis', 0), x.dims.length, ctx.label);
  if (ind.dims.length !== x.dims.length || ind.dims.some((d, i) => d !== upd.dims[i]) || upd.dims.length !== ind.dims.length) {
    throw invalid(`${ctx.label}: indices [${ind.dims.join(', ')}] and updates [${upd.dims.join(', ')}] must have the same shape, of the rank of data [${x.dims.join(', ')}]`, { node: ctx.node.name });
  }
  const idx = concreteInts(ind, `${ctx.label}: indices`);
  const data = Float64Array.from(x.data);
  const sym = x.sym || upd.sym ? new Uint8Array(data.length) : null;
  if (sym && x.sym) sym.set(x.sym);
  const strides = stridesOf(x.dims);
  const n = x.dims[axis]!;
  forEachIndex(ind.dims, (pos, flat) => {
    const i = idx[flat]!;
    if (i < -n || i >= n) throw invalid(`${ctx.label}: index ${i} is out of range for axis ${axis} of size ${n}`, { node: ctx.node.name });
    let off = 0;
    for (let d = 0; d < pos.length; d++) {
      if (d !== axis && pos[d]! >= x.dims[d]!) throw invalid(`${ctx.label}: indices [${ind.dims.join(', ')}] exceed data [${x.dims.join(', ')}] on axis ${d}`, { node: ctx.node.name });
      off += (d === axis ? (i < 0 ? i + n : i) : pos[d]!) * strides[d]!;
    }
    data[off] = upd.data[flat]!;
    if (sym) sym[off] = upd.sym?.[flat] ?? 0;
  });
  return [constOf(x.dtype, x.dims, data, sym)];
}

export const CONST_OPS: Readonly<Record<string, ConstOp>> = {
  TopK: topK,
  ScatterElements: scatterElements,
  Identity: (ctx, i) => [need(ctx, i, 0, 'input')],
  Dropout: (ctx, i) => [need(ctx, i, 0, 'data')],

  Cast: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'input');
    const to = ctx.attrs.required(ctx.attrs.int('to'), 'to');
    if (to === ONNX_DTYPES.STRING) throw unsupported(`${ctx.label}: cast to string`);
    return [constOf(to, x.dims, x.data.map((v, k) => (x.sym?.[k] ? v : typed(to, v))), x.sym)];
  },

  Constant: (ctx) => {
    const a = ctx.attrs;
    const t = a.tensor('value');
    if (t) return [tensorToConst(t)];
    const f = a.float('value_float');
    if (f !== undefined) return [constOf(ONNX_DTYPES.FLOAT, [], [f])];
    const fs = a.floats('value_floats');
    if (fs !== undefined) return [constOf(ONNX_DTYPES.FLOAT, [fs.length], fs)];
    const i = a.int('value_int');
    if (i !== undefined) return [constOf(ONNX_DTYPES.INT64, [], [i])];
    const is = a.ints('value_ints');
    if (is !== undefined) return [constOf(ONNX_DTYPES.INT64, [is.length], is)];
    throw unsupported(`${ctx.label}: only tensor, float(s) and int(s) constants are supported (has ${a.names().join(', ') || 'no value'})`);
  },

  ConstantOfShape: (ctx, inputs) => {
    const shape = concreteInts(need(ctx, inputs, 0, 'input'), `${ctx.label}: shape`);
    checkConstDims(shape, ctx.label);
    const t = ctx.attrs.tensor('value');
    const dtype = t?.dataType ?? ONNX_DTYPES.FLOAT;
    const v = t?.data[0] ?? 0;
    return [constOf(dtype, shape, new Float64Array(size(shape)).fill(v))];
  },

  Shape: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'data');
    const r = x.dims.length;
    // Opset 15: start/end select a range of dims.
    const start = ctx.opset >= 15 ? ctx.attrs.int('start', 0) : 0;
    const end = ctx.opset >= 15 ? ctx.attrs.int('end', r) : r;
    const s = Math.min(Math.max(start < 0 ? start + r : start, 0), r);
    const e = Math.min(Math.max(end < 0 ? end + r : end, 0), r);
    const dims = x.dims.slice(s, Math.max(s, e));
    return [constOf(ONNX_DTYPES.INT64, [dims.length], dims)];
  },

  Size: (ctx, inputs) => [constOf(ONNX_DTYPES.INT64, [], [size(need(ctx, inputs, 0, 'data').dims)])],

  Gather: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'data');
    const ind = need(ctx, inputs, 1, 'indices');
    const axis = normAxis(ctx.attrs.int('axis', 0), x.dims.length, ctx.label);
    const n = x.dims[axis]!;
    const idx = concreteInts(ind, `${ctx.label}: indices`).map((i) => {
      if (i < -n || i >= n) throw invalid(`${ctx.label}: index ${i} is out of range for axis ${axis} of size ${n}`);
      return i < 0 ? i + n : i;
    });
    const outer = size(x.dims.slice(0, axis));
    const inner = size(x.dims.slice(axis + 1));
    const dims = [...x.dims.slice(0, axis), ...ind.dims, ...x.dims.slice(axis + 1)];
    checkConstDims(dims, ctx.label);
    const src: number[] = [];
    for (let o = 0; o < outer; o++) for (const i of idx) for (let k = 0; k < inner; k++) src.push((o * n + i) * inner + k);
    return [gatherElements(x, dims, src)];
  },

  Concat: (ctx, inputs) => {
    const xs = inputs.filter((v): v is ConstValue => v !== undefined);
    if (xs.length === 0) throw invalid(`${ctx.label}: no inputs`);
    const rank = xs[0]!.dims.length;
    const axis = normAxis(ctx.attrs.required(ctx.attrs.int('axis'), 'axis'), rank, ctx.label);
    for (const x of xs) {
      if (x.dims.length !== rank || x.dims.some((d, i) => i !== axis && d !== xs[0]!.dims[i])) {
        throw invalid(`${ctx.label}: inputs [${xs.map((v) => `[${v.dims}]`).join(', ')}] do not match outside axis ${axis}`);
      }
    }
    const dims = [...xs[0]!.dims];
    dims[axis] = xs.reduce((a, x) => a + x.dims[axis]!, 0);
    checkConstDims(dims, ctx.label);
    const outer = size(dims.slice(0, axis));
    const data: number[] = [];
    const sym: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        const chunk = size(x.dims.slice(axis));
        for (let k = 0; k < chunk; k++) {
          data.push(x.data[o * chunk + k]!);
          sym.push(x.sym ? x.sym[o * chunk + k]! : 0);
        }
      }
    }
    return [constOf(xs[0]!.dtype, dims, data, Uint8Array.from(sym))];
  },

  Unsqueeze: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'data');
    const axes = ctx.attrs.required(axesInput(ctx, inputs, 1), 'axes');
    return [reshapeConst(x, unsqueezeDims(ctx, x.dims, axes))];
  },

  Squeeze: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'data');
    const axes = axesInput(ctx, inputs, 1);
    const drop = (axes ?? x.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(a, x.dims.length, ctx.label));
    for (const a of drop) if (x.dims[a] !== 1) throw invalid(`${ctx.label}: cannot squeeze axis ${a} of size ${x.dims[a]}`);
    const dropped = new Set(drop);
    return [reshapeConst(x, x.dims.filter((_, i) => !dropped.has(i)))];
  },

  Reshape: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'data');
    // Opset 5+: shape is an input (opset 1 had an attribute; outside 7..22).
    const shape = concreteInts(need(ctx, inputs, 1, 'shape'), `${ctx.label}: shape`);
    return [reshapeConst(x, resolveReshape(ctx.label, x.dims, shape, ctx.opset >= 14 && ctx.attrs.int('allowzero', 0) === 1))];
  },

  Flatten: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'input');
    const axis = ctx.attrs.int('axis', 1);
    const a = axis < 0 ? axis + x.dims.length : axis;
    if (a < 0 || a > x.dims.length) throw invalid(`${ctx.label}: axis ${axis} out of range`);
    return [reshapeConst(x, [size(x.dims.slice(0, a)), size(x.dims.slice(a))])];
  },

  Transpose: (ctx, inputs) => [transposeConst(ctx, need(ctx, inputs, 0, 'data'), ctx.attrs.ints('perm'))],

  Slice: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'data');
    const p = sliceParams(ctx, inputs, x.dims.length);
    const ranges = x.dims.map((n) => ({ start: 0, count: n, step: 1 }));
    p.axes.forEach((a, i) => (ranges[a] = sliceRange(p.starts[i]!, p.ends[i]!, p.steps[i]!, x.dims[a]!)));
    const dims = ranges.map((r) => r.count);
    const st = stridesOf(x.dims);
    const src: number[] = [];
    forEachIndex(dims, (idx) => {
      let f = 0;
      idx.forEach((v, i) => (f += (ranges[i]!.start + v * ranges[i]!.step) * st[i]!));
      src.push(f);
    });
    return [gatherElements(x, dims, src)];
  },

  Split: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'input');
    if (x.sym) throw unsupported(`${ctx.label} of a value that depends on the sequence length`);
    const axis = normAxis(ctx.attrs.int('axis', 0), x.dims.length, ctx.label);
    const st = stridesOf(x.dims);
    let start = 0;
    return splitSizes(ctx, inputs[1], axis, x.dims[axis]!).map((n) => {
      const dims = x.dims.map((d, i) => (i === axis ? n : d));
      const src: number[] = [];
      forEachIndex(dims, (idx) => {
        let f = 0;
        idx.forEach((v, i) => (f += (i === axis ? start + v : v) * st[i]!));
        src.push(f);
      });
      start += n;
      return gatherElements(x, dims, src);
    });
  },

  ReduceSum: reduceConst('sum'),
  ReduceMean: reduceConst('mean'),
  ReduceProd: reduceConst('prod'),

  Expand: (ctx, inputs) => {
    const x = need(ctx, inputs, 0, 'input');
    const shape = concreteInts(need(ctx, inputs, 1, 'shape'), `${ctx.label}: shape`);
    checkConstDims(shape, ctx.label);
    const dims = broadcastDims(x.dims, shape, ctx.label);
    checkConstDims(dims, ctx.label);
    const src: number[] = [];
    forEachIndex(dims, (idx) => src.push(broadcastIndex(x.dims, dims, idx)));
    return [gatherElements(x, dims, src)];
  },

  Range: (ctx, inputs) => {
    // Range is the one op whose inputs may be fractional (a FLOAT range).
    const [s, l, d] = [0, 1, 2].map((i) => {
      const v = need(ctx, inputs, i, ['start', 'limit', 'delta'][i]!);
      if (v.sym) throw unsupported(`${ctx.label}: input ${i} depends on the sequence length, which edgernn leaves open`);
      return v.data[0]!;
    });
    if (d === 0) throw invalid(`${ctx.label}: delta is 0`);
    const n = Math.max(Math.ceil((l! - s!) / d!), 0);
    checkConstDims([n], ctx.label);
    return [constOf(inputs[0]!.dtype, [n], Array.from({ length: n }, (_, k) => s! + k * d!))];
  },

  Add: (ctx, i) => [binary(ctx, need(ctx, i, 0, 'A'), need(ctx, i, 1, 'B'), (a, b) => a + b, 'add')],
  Sub: (ctx, i) => [binary(ctx, need(ctx, i, 0, 'A'), need(ctx, i, 1, 'B'), (a, b) => a - b, 'sub')],
  Mul: (ctx, i) => [binary(ctx, need(ctx, i, 0, 'A'), need(ctx, i, 1, 'B'), (a, b) => a * b, 'mul')],
  Div: (ctx, i) => {
    const a = need(ctx, i, 0, 'A');
    const intDiv = isIntType(a.dtype);
    return [binary(ctx, a, need(ctx, i, 1, 'B'), (x, y) => (intDiv ? Math.trunc(x / y) : x / y), 'div')];
  },
  Equal: (ctx, i) => {
    const r = binary(ctx, need(ctx, i, 0, 'A'), need(ctx, i, 1, 'B'), (a, b) => (a === b ? 1 : 0), 'other');
    return [{ ...r, dtype: ONNX_DTYPES.BOOL }];
  },
  Where: (ctx, inputs) => {
    const c = need(ctx, inputs, 0, 'condition');
    const x = need(ctx, inputs, 1, 'X');
    const y = need(ctx, inputs, 2, 'Y');
    if (c.sym) throw unsupported(`${ctx.label}: condition depends on the sequence length`);
    const dims = broadcastDims(broadcastDims(c.dims, x.dims, ctx.label), y.dims, ctx.label);
    checkConstDims(dims, ctx.label);
    const data: number[] = [];
    const sym: number[] = [];
    forEachIndex(dims, (idx) => {
      const pick = c.data[broadcastIndex(c.dims, dims, idx)]! ? x : y;
      const k = broadcastIndex(pick.dims, dims, idx);
      data.push(pick.data[k]!);
      sym.push(pick.sym ? pick.sym[k]! : 0);
    });
    return [constOf(x.dtype, dims, data, Uint8Array.from(sym))];
  },
  Neg: unary((x) => -x),
  Relu: unary((x) => Math.max(0, x)),
  Sigmoid: unary((x) => 1 / (1 + Math.exp(-x))),
  Tanh: unary(Math.tanh),
  Sqrt: unary(Math.sqrt),
  Reciprocal: unary((x) => 1 / x),

  MatMul: (ctx, inputs) => {
    const a = need(ctx, inputs, 0, 'A');
    const b = need(ctx, inputs, 1, 'B');
    if (a.dims.length !== 2 || b.dims.length !== 2 || a.dims[1] !== b.dims[0]) throw unsupported(`${ctx.label}: constant MatMul of [${a.dims}] x [${b.dims}] (only 2-D)`);
    const [M, K] = a.dims as [number, number];
    const N = b.dims[1]!;
    checkConstDims([M, N], ctx.label);
    if (M * K * N > MAX_MATMUL_PRODUCTS) {
      throw new EdgeRnnError('ONNX_UNSUPPORTED', `${ctx.label}: a constant MatMul of [${a.dims}] x [${b.dims}] takes ${M * K * N} products, over the ${MAX_MATMUL_PRODUCTS} edgernn folds`, { dims: [M, K, N] });
    }
    const out = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a.data[i * K + k]! * b.data[k * N + j]!;
      out[i * N + j] = typed(a.dtype, s);
    }
    return [constOf(a.dtype, [M, N], out)];
  },
};

