/**
 * Operators on dyn values (tensors computed from the sequence input): layout ops move axes,
 * linear ops become a pending y = A x + b, activations and softmax append layers.
 * See values.ts for the representation. Every refusal names the node and what it would need.
 */
import { defaultActivations, isRecurrent, numDirections, type DenseActivation, type Layer } from '../model/spec.js';
import { ONNX_DTYPES } from './proto.js';
import type { OpContext } from './fold.js';
import { sliceRange } from './fold.js';
import {
  broadcastIndex,
  canonicalize,
  composeLinear,
  constOf,
  featureWidth,
  forEachIndex,
  checkLinearSize,
  identityLinear,
  linearBuffer,
  invalid,
  isIdentity,
  normAxis,
  normalizeAxes,
  selectionMatrix,
  size,
  stridesOf,
  unsupported,
  type Axis,
  type ChainBase,
  type ConstValue,
  type DynValue,
  type Linear,
} from './values.js';

const U: Axis = { role: 'U', size: 1, stride: 0 };

function fAxis(n: number): Axis {
  return { role: 'F', size: n, stride: 0 };
}

/** Recomputes row-major strides for the F axes (the features already are in that order). */
function withCanonicalStrides(axes: Axis[]): Axis[] {
  const f = axes.filter((a) => a.role === 'F');
  const st = stridesOf(f.map((a) => a.size));
  let k = 0;
  return axes.map((a) => (a.role === 'F' ? { ...a, stride: st[k++]! } : a));
}

/** The sequence input X as a dyn value. layout: roles of X's axes. */
export function inputValue(layout: readonly ('T' | 'B' | 'F')[], features: number, batch: number): DynValue {
  const axes: Axis[] = layout.map((r) => (r === 'T' ? { role: 'T', size: -1, stride: 0 } : r === 'B' ? { role: 'B', size: batch, stride: 0 } : { role: 'F', size: features, stride: 1 }));
  const base: ChainBase = { inputSize: features, layers: [], width: features, time: 'seq', finalAt: -1, stepLimit: null, limitAt: -1 };
  return normalizeAxes({ kind: 'dyn', axes, base, pending: null });
}

export function dynTranspose(ctx: OpContext, v: DynValue, permIn: number[] | undefined): DynValue {
  const rank = v.axes.length;
  const perm = permIn ?? v.axes.map((_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw invalid(`${ctx.label}: perm [${perm}] is not a permutation of ${rank} axes`);
  return { ...v, axes: perm.map((p) => v.axes[p]!) };
}

export function dynUnsqueeze(ctx: OpContext, v: DynValue, axes: number[]): DynValue {
  const rank = v.axes.length + axes.length;
  const norm = axes.map((a) => normAxis(a, rank, ctx.label));
  const out: Axis[] = [];
  let k = 0;
  const units = new Set(norm);
  for (let i = 0; i < rank; i++) out.push(units.has(i) ? U : v.axes[k++]!);
  return { ...v, axes: out };
}

export function dynSqueeze(ctx: OpContext, v: DynValue, axes: number[] | undefined): DynValue {
  const drop = axes
    ? axes.map((a) => normAxis(a, v.axes.length, ctx.label))
    : v.axes.flatMap((a, i) => (a.role === 'U' || (a.role === 'B' && a.size === 1) ? [i] : []));
  for (const i of drop) {
    const a = v.axes[i]!;
    if (a.role === 'T') throw unsupported(`${ctx.label} squeezes the time axis (only valid for one-step sequences)`);
    if (a.size !== 1) throw invalid(`${ctx.label}: cannot squeeze axis ${i} of size ${a.size}`);
  }
  const dropped = new Set(drop);
  return { ...v, axes: v.axes.filter((_, i) => !dropped.has(i)) };
}

/** Shape(dyn): the time dimension is the symbol T. */
export function dynShape(ctx: OpContext, v: DynValue): ConstValue {
  const r = v.axes.length;
  const start = ctx.opset >= 15 ? ctx.attrs.int('start', 0) : 0;
  const end = ctx.opset >= 15 ? ctx.attrs.int('end', r) : r;
  const s = Math.min(Math.max(start < 0 ? start + r : start, 0), r);
  const e = Math.min(Math.max(end < 0 ? end + r : end, 0), r);
  const axes = v.axes.slice(s, Math.max(s, e));
  return constOf(ONNX_DTYPES.INT64, [axes.length], axes.map((a) => (a.role === 'T' ? 0 : a.size)), Uint8Array.from(axes.map((a) => (a.role === 'T' ? 1 : 0))));
}

type Entry = { kind: 'T' } | { kind: 'num'; n: number; fromB?: boolean } | { kind: 'infer' };

/**
 * Reshape of a dyn value. The time axis must stay a dimension of its own; feature axes may be
 * merged or split in order; size-1 axes come and go freely. staticT: a literal that stands for
 * the time dimension (models exported with a fixed sequence length).
 */
export function dynReshape(ctx: OpContext, v0: DynValue, shape: ConstValue, allowZero: boolean, staticT: number | null): DynValue {
  const v = canonicalize(v0);
  const W = featureWidth(v);
  const bAxis = v.axes.findIndex((a) => a.role === 'B');
  const Bn = bAxis >= 0 ? v.axes[bAxis]!.size : 1;
  const hasT = v.axes.some((a) => a.role === 'T');
  const entries: Entry[] = Array.from(shape.data, (d, i): Entry => {
    if (shape.sym?.[i]) {
      if (d !== 0) throw unsupported(`${ctx.label}: shape entry ${i} is the sequence length ${d > 0 ? '+' : '-'} ${Math.abs(d)}`);
      return { kind: 'T' };
    }
    if (d === 0 && !allowZero) {
      const a = v.axes[i];
      if (!a) throw invalid(`${ctx.label}: shape entry ${i} copies a dimension the input (rank ${v.axes.length}) does not have`);
      return a.role === 'T' ? { kind: 'T' } : { kind: 'num', n: a.size, fromB: a.role === 'B' };
    }
    if (d === -1) return { kind: 'infer' };
    if (d < 0) throw invalid(`${ctx.label}: shape entry ${i} is ${d}`);
    return { kind: 'num', n: d };
  });
  if (entries.filter((e) => e.kind === 'infer').length > 1) throw invalid(`${ctx.label}: more than one -1 in the shape`);
  const nonT = W * Bn;
  const numProd = () => entries.reduce((p, e) => p * (e.kind === 'num' ? e.n : 1), 1);
  const inferAt = entries.findIndex((e) => e.kind === 'infer');
  const tCount = entries.filter((e) => e.kind === 'T').length;
  if (!hasT && tCount > 0) throw invalid(`${ctx.label}: the shape uses the sequence length but the input has no time axis`);
  if (hasT && tCount === 0) {
    if (inferAt >= 0 && numProd() === nonT) entries[inferAt] = { kind: 'T' };
    else {
      // A literal equal to the exported sequence length stands for T.
      const cand = staticT === null ? -1 : entries.findIndex((e) => e.kind === 'num' && e.n === staticT && (inferAt >= 0 || numProd() / staticT === nonT));
      if (cand < 0) throw unsupported(`${ctx.label}: reshape to [${Array.from(shape.data)}] merges the time axis with other axes`);
      entries[cand] = { kind: 'T' };
    }
  }
  const inf = entries.findIndex((e) => e.kind === 'infer');
  if (inf >= 0) {
    const p = numProd();
    if (p === 0 || nonT % p !== 0) throw invalid(`${ctx.label}: cannot reshape ${W} features x batch ${Bn} to [${Array.from(shape.data)}]`);
    entries[inf] = { kind: 'num', n: nonT / p };
  }
  if (numProd() !== nonT) {
    throw invalid(`${ctx.label}: cannot reshape ${W} features (batch ${Bn}) to [${Array.from(shape.data)}]: ${numProd()} elements per step`, { node: ctx.node.name });
  }
  // Match input tokens (T, B > 1, F) with output entries (T, numbers > 1) in order.
  type Tok = { role: 'T' | 'B' | 'F'; size: number };
  const toks: Tok[] = v.axes.filter((a) => a.role === 'T' || a.role === 'F' || (a.role === 'B' && a.size > 1)).map((a) => ({ role: a.role as Tok['role'], size: a.size }));
  const outIdx = entries.map((e, i) => [e, i] as const).filter(([e]) => e.kind === 'T' || (e.kind === 'num' && e.n !== 1));
  const roles: (Axis | null)[] = entries.map(() => null);
  let i = 0;
  let j = 0;
  while (i < toks.length || j < outIdx.length) {
    const t = toks[i];
    const o = outIdx[j];
    if (!t || !o) throw invalid(`${ctx.label}: cannot reshape ${W} features to [${Array.from(shape.data)}]`);
    if (t.role === 'T' || o[0].kind === 'T') {
      if (t.role !== 'T' || o[0].kind !== 'T') throw unsupported(`${ctx.label}: reshape to [${Array.from(shape.data)}] moves the time axis among other axes`);
      roles[o[1]] = { role: 'T', size: -1, stride: 0 };
      i++;
      j++;
      continue;
    }
    // A group: tokens i..i2 and entries j..j2 with equal products.
    let pIn = t.size;
    let pOut = (o[0] as { n: number }).n;
    const group: Tok[] = [t];
    const outs = [o];
    i++;
    j++;
    while (pIn !== pOut) {
      if (pIn < pOut) {
        const nt = toks[i++];
        if (!nt || nt.role === 'T') throw invalid(`${ctx.label}: cannot reshape to [${Array.from(shape.data)}]`);
        group.push(nt);
        pIn *= nt.size;
      } else {
        const no = outIdx[j++];
        if (!no || no[0].kind === 'T') throw invalid(`${ctx.label}: cannot reshape to [${Array.from(shape.data)}]`);
        outs.push(no);
        pOut *= (no[0] as { n: number }).n;
      }
    }
    if (group.some((g) => g.role === 'B')) {
      if (group.length !== 1 || outs.length !== 1) throw unsupported(`${ctx.label}: reshape mixes the batch axis with features`);
      roles[outs[0]![1]] = { role: 'B', size: Bn, stride: 0 };
    } else {
      for (const [e, k] of outs) roles[k] = fAxis((e as { n: number }).n);
    }
  }
  // Unit entries: size 1; the batch axis (nominal size 1) goes to a copied one or the first.
  let axes = entries.map((_, k) => roles[k] ?? U);
  if (bAxis >= 0 && Bn === 1) {
    const units = axes.map((a, k) => (a === U ? k : -1)).filter((k) => k >= 0);
    const copied = units.find((k) => entries[k]!.kind === 'num' && (entries[k] as { fromB?: boolean }).fromB);
    const at = copied ?? (units.includes(bAxis) ? bAxis : units[0]);
    if (at !== undefined) axes = axes.map((a, k) => (k === at ? { role: 'B', size: 1, stride: 0 } : a));
  }
  return { ...v, axes: withCanonicalStrides(axes) };
}

export function dynFlatten(ctx: OpContext, v: DynValue, axis: number): DynValue {
  const a = axis < 0 ? axis + v.axes.length : axis;
  if (a < 0 || a > v.axes.length) throw invalid(`${ctx.label}: axis ${axis} out of range`);
  const dims = (axes: Axis[]) => axes.map((x) => (x.role === 'T' ? -2 : x.size));
  const left = dims(v.axes.slice(0, a));
  const right = dims(v.axes.slice(a));
  const prod = (d: number[]) => (d.includes(-2) ? { sym: true, n: d.filter((x) => x !== -2).reduce((p, x) => p * x, 1) } : { sym: false, n: d.reduce((p, x) => p * x, 1) });
  const l = prod(left);
  const r = prod(right);
  if (r.sym) throw unsupported(`${ctx.label} folds the time axis into features`);
  if (l.sym && l.n !== 1) throw unsupported(`${ctx.label} merges the time axis with other axes`);
  const shape = constOf(ONNX_DTYPES.INT64, [2], [l.sym ? 0 : l.n, r.n], Uint8Array.from([l.sym ? 1 : 0, 0]));
  return dynReshape(ctx, v, shape, true, null);
}

/** Feature selection along one F axis: keeps the listed positions (scalar: drops the axis). */
export function selectFeatures(v0: DynValue, axis: number, positions: number[], keepAxis: boolean): DynValue {
  const v = canonicalize(v0);
  const fIdx = v.axes.map((a, i) => (a.role === 'F' ? i : -1)).filter((i) => i >= 0);
  const k = fIdx.indexOf(axis);
  const sizes = fIdx.map((i) => v.axes[i]!.size);
  const newSizes = [...sizes];
  newSizes[k] = positions.length;
  const st = stridesOf(sizes);
  const src: number[] = [];
  forEachIndex(newSizes, (idx) => {
    let f = 0;
    idx.forEach((x, m) => (f += (m === k ? positions[x]! : x) * st[m]!));
    src.push(f);
  });
  const pending = composeLinear(v, selectionMatrix(src, featureWidth(v)), src.length, null);
  let axes = v.axes.map((a, i) => (i === axis ? fAxis(positions.length) : a));
  if (!keepAxis) axes = axes.filter((_, i) => i !== axis);
  return normalizeAxes({ ...v, axes: withCanonicalStrides(axes), pending });
}

function selectTime(ctx: OpContext, v: DynValue, which: 'last' | 'first'): DynValue {
  if (v.base.time !== 'seq') throw unsupported(`${ctx.label} selects a step of a value that is already one step`);
  return { ...v, base: { ...v.base, time: which } };
}

/**
 * Which one step a constant position on the time axis is: `T - 1` / `-1` the last, `0` the first.
 * With the sequence length fixed in the graph (staticT), any position resolves: `T-1` written as
 * a number (PyTorch's `y[:, T-1]` in a fixed-length export) is the last step.
 */
function stepAt(x: number, symb: boolean, staticT: number | null): 'last' | 'first' | null {
  if (staticT !== null) {
    const t = symb ? staticT + x : x < 0 ? x + staticT : x;
    return t === staticT - 1 ? 'last' : t === 0 ? 'first' : null;
  }
  return x === -1 ? 'last' : !symb && x === 0 ? 'first' : null;
}

/** Gather on a dyn value (indices constant). staticT: the sequence length when the graph fixes it. */
export function dynGather(ctx: OpContext, v: DynValue, ind: ConstValue, staticT: number | null): DynValue {
  const axis = normAxis(ctx.attrs.int('axis', 0), v.axes.length, ctx.label);
  const a = v.axes[axis]!;
  const scalar = ind.dims.length === 0;
  if (ind.dims.length > 1) throw unsupported(`${ctx.label}: indices of rank ${ind.dims.length} on a sequence value`);
  const count = size(ind.dims);
  if (a.role === 'T') {
    if (count !== 1) throw unsupported(`${ctx.label} picks ${count} steps; edgernn can select the first or last step only`);
    const symb = ind.sym?.[0] === 1;
    const x = ind.data[0]!;
    if (staticT !== null && !symb && (x >= staticT || x < -staticT)) throw unsupported(`${ctx.label} picks step ${x} of a sequence of ${staticT} steps`);
    const which = stepAt(x, symb, staticT);
    if (which === null) {
      const fixed = staticT !== null ? ` of ${staticT}` : !symb && x > 0 ? ' (the sequence length is not fixed in the graph, so it is not known to be the last)' : '';
      throw unsupported(`${ctx.label} picks step ${symb ? `T${x >= 0 ? '+' : ''}${x}` : x}${fixed}; edgernn can select the first or last step only`);
    }
    const t = selectTime(ctx, v, which);
    return { ...t, axes: scalar ? v.axes.filter((_, i) => i !== axis) : v.axes.map((b, i) => (i === axis ? U : b)) };
  }
  if (ind.sym) throw unsupported(`${ctx.label}: index depends on the sequence length`);
  const n = a.size;
  const pos = Array.from(ind.data, (x) => {
    if (x < -n || x >= n) throw invalid(`${ctx.label}: index ${x} out of range for axis ${axis} of size ${n}`);
    return x < 0 ? x + n : x;
  });
  if (a.role === 'F') return selectFeatures(v, axis, pos, !scalar);
  if (a.role === 'B' && a.size > 1) throw unsupported(`${ctx.label} selects batch elements; edgernn runs one sequence at a time`);
  return { ...v, axes: scalar ? v.axes.filter((_, i) => i !== axis) : v.axes };
}

/** Slice on a dyn value; starts/ends may be symbolic (T + k). staticT: the sequence length when the graph fixes it. */
export function dynSlice(ctx: OpContext, v0: DynValue, p: { axes: number[]; starts: [number, boolean][]; ends: [number, boolean][]; steps: number[] }, staticT: number | null): DynValue {
  let v = v0;
  const BIG = 2 ** 52;
  p.axes.forEach((axis, k) => {
    const a = v.axes[axis]!;
    const [s, sSym] = p.starts[k]!;
    const [e, eSym] = p.ends[k]!;
    const step = p.steps[k]!;
    if (a.role === 'T') {
      const one = (which: 'last' | 'first') => ({ ...selectTime(ctx, v, which), axes: v.axes.map((b, i) => (i === axis ? U : b)) });
      if (staticT !== null) {
        // The length is fixed: resolve the range (PyTorch's y.narrow(1, T-1, 1) is [T-1, T)).
        const r = sliceRange(sSym ? staticT + s : s, eSym ? staticT + e : e, step, staticT);
        if (r.count === staticT && r.step === 1) return;
        if (r.count === 1) {
          if (r.start === staticT - 1) return void (v = one('last'));
          if (r.start === 0) return void (v = one('first'));
        }
        throw unsupported(`${ctx.label} slices steps ${sSym ? 'T' : ''}${s}..${eSym ? 'T' : ''}${e} by ${step} of ${staticT}; edgernn keeps all steps, the first or the last`);
      }
      // A start of T + k (symbolic) means the same as the negative index k.
      const start = s;
      const startIsFromEnd = sSym || s < 0;
      const toEnd = (eSym && e >= 0) || (!eSym && e >= BIG / 2) || (!eSym && e >= 2 ** 31 - 1);
      if (step === 1 && !startIsFromEnd && start === 0 && toEnd) return;
      if (step === 1 && startIsFromEnd && start === -1 && toEnd) return void (v = one('last'));
      if (step === 1 && !startIsFromEnd && start === 0 && !eSym && e === 1) return void (v = one('first'));
      const why = !sSym && !eSym && s > 0 ? ' (the sequence length is not fixed in the graph, so these are not known to be the last)' : '';
      throw unsupported(`${ctx.label} slices steps ${sSym ? 'T' : ''}${s}..${eSym ? 'T' : ''}${e} by ${step}${why}; edgernn keeps all steps, the first or the last`);
    }
    if (sSym || eSym) throw unsupported(`${ctx.label}: slice bounds on a non-time axis depend on the sequence length`);
    const r = sliceRange(s, e, step, a.size);
    if (a.role === 'F') {
      v = selectFeatures(v, axis, Array.from({ length: r.count }, (_, i) => r.start + i * r.step), true);
      return;
    }
    if (r.count !== a.size) throw unsupported(`${ctx.label} slices the batch axis`);
  });
  return v;
}

/**
 * Split of a dyn value into parts along one axis (sizes: the parts' lengths, checked by
 * fold.ts splitSizes). Along a feature axis each part is a feature selection, so splitting Y on the
 * direction axis of a bidirectional layer gives its forward and backward halves.
 */
export function dynSplit(ctx: OpContext, v: DynValue, axisIn: number, sizes: number[]): DynValue[] {
  const axis = normAxis(axisIn, v.axes.length, ctx.label);
  const a = v.axes[axis]!;
  if (a.role === 'T') throw unsupported(`${ctx.label} splits the time axis (axis ${axis}); edgernn keeps all steps, the first or the last`);
  if (a.role === 'B' && a.size > 1) throw unsupported(`${ctx.label} splits the batch axis (axis ${axis}); edgernn runs one sequence at a time`);
  if (sizes.length === 1) return [v];
  // Empty parts would be values without features (an axis of size 1 always has some).
  if (sizes.includes(0)) throw unsupported(`${ctx.label} splits axis ${axis} of size ${a.size} into parts of [${sizes.join(', ')}]; empty parts are not supported`);
  let start = 0;
  return sizes.map((n) => {
    const positions = Array.from({ length: n }, (_, i) => start + i);
    start += n;
    return selectFeatures(v, axis, positions, true);
  });
}

/**
 * ReduceSum / ReduceMean of a dyn value over feature axes (and size-1 axes): a pending linear map,
 * y[o] = scale * sum of the x[f] that land on o (scale 1, or 1 / count for the mean). Summing the
 * direction axis of a bidirectional layer's Y is Keras' merge_mode 'sum'; the mean is 'ave'.
 * Time and batch are refused: a sum over steps is pooling (not one step's output), and a sum over
 * the batch mixes sequences edgernn runs apart. axesIn: as the node gives them (negative counts
 * from the end), undefined for all.
 */
export function dynReduce(ctx: OpContext, v0: DynValue, axesIn: number[] | undefined, keepDims: boolean, mean: boolean): DynValue {
  const v = canonicalize(v0);
  const rank = v.axes.length;
  const axes = axesIn === undefined ? v.axes.map((_, i) => i) : axesIn.map((x) => normAxis(x, rank, ctx.label));
  if (new Set(axes).size !== axes.length) throw invalid(`${ctx.label}: repeated axes [${axesIn}]`);
  const verb = mean ? 'averages' : 'sums';
  for (const i of [...axes].sort((x, y) => x - y)) {
    const a = v.axes[i]!;
    if (a.role === 'T') throw unsupported(`${ctx.label} ${verb} over the time axis (axis ${i}): pooling over steps is not the output of one step; edgernn outputs every step, the first or the last`);
    if (a.role === 'B') throw unsupported(`${ctx.label} ${verb} over the batch axis (axis ${i}); edgernn runs one sequence at a time`);
  }
  const fIdx = v.axes.map((a, i) => (a.role === 'F' ? i : -1)).filter((i) => i >= 0);
  const sizes = fIdx.map((i) => v.axes[i]!.size);
  const kept = fIdx.map((i) => !axes.includes(i));
  const outSizes = sizes.filter((_, k) => kept[k]);
  const outSt = stridesOf(outSizes);
  const W = featureWidth(v);
  const outW = size(outSizes);
  const count = W / outW;
  const M = linearBuffer(outW, W);
  forEachIndex(sizes, (idx, f) => {
    let o = 0;
    let k = 0;
    idx.forEach((x, m) => {
      if (kept[m]) o += x * outSt[k++]!;
    });
    M[o * W + f] = mean ? 1 / count : 1;
  });
  const pending = composeLinear(v, M, outW, null);
  const axesOut = keepDims ? v.axes.map((a, i) => (axes.includes(i) ? U : a)) : v.axes.filter((_, i) => !axes.includes(i));
  return normalizeAxes({ ...v, axes: withCanonicalStrides(axesOut), pending });
}

/** Per-feature values of a constant broadcast against a canonical dyn value. */
function featureConstant(ctx: OpContext, v: DynValue, c: ConstValue): { vec: Float64Array; axes: Axis[] } {
  if (c.sym) throw unsupported(`${ctx.label}: operand depends on the sequence length`);
  const rank = Math.max(v.axes.length, c.dims.length);
  const lead = rank - v.axes.length;
  const axes: Axis[] = [...Array.from({ length: lead }, () => U), ...v.axes];
  const cd = [...Array.from({ length: rank - c.dims.length }, () => 1), ...c.dims];
  cd.forEach((d, i) => {
    const a = axes[i]!;
    if (d === 1) return;
    if (a.role !== 'F' || a.size !== d) {
      if (a.role === 'F') throw invalid(`${ctx.label}: operand of shape [${c.dims}] does not broadcast to the value's axis ${i} of size ${a.size}`);
      // Valid ONNX (a size-1 axis broadcasts), but the result holds d copies of every step.
      if (a.role === 'U') throw unsupported(`${ctx.label}: operand [${c.dims}] repeats the value ${d} times along axis ${i}`);
      throw unsupported(`${ctx.label}: operand [${c.dims}] varies along the ${a.role === 'T' ? 'time' : 'batch'} axis`);
    }
  });
  const fIdx = axes.map((a, i) => (a.role === 'F' ? i : -1)).filter((i) => i >= 0);
  const fSizes = fIdx.map((i) => axes[i]!.size);
  const vec = new Float64Array(size(fSizes));
  const full = axes.map(() => 0);
  const outDims = axes.map((a, i) => (a.role === 'F' ? a.size : cd[i]!));
  forEachIndex(fSizes, (idx, f) => {
    idx.forEach((x, m) => (full[fIdx[m]!] = x));
    vec[f] = c.data[broadcastIndex(cd, outDims, full)]!;
  });
  return { vec, axes };
}

/** dyn (+ - * /) const, or const (+ - *) dyn: a pending affine map. */
export function dynArith(ctx: OpContext, op: 'Add' | 'Sub' | 'Mul' | 'Div', v0: DynValue, c: ConstValue, dynFirst: boolean): DynValue {
  const v = canonicalize(v0);
  const { vec, axes } = featureConstant(ctx, v, c);
  const inner = v.pending ?? identityLinear(v.base.width);
  const A = Float64Array.from(inner.A);
  const b = Float64Array.from(inner.b);
  const cols = inner.cols;
  for (let i = 0; i < inner.rows; i++) {
    const x = vec[i]!;
    if (op === 'Add') b[i] = b[i]! + x;
    else if (op === 'Sub') {
      if (dynFirst) b[i] = b[i]! - x;
      else {
        b[i] = x - b[i]!;
        for (let j = 0; j < cols; j++) A[i * cols + j] = -A[i * cols + j]!;
      }
    } else {
      if (op === 'Div' && !dynFirst) throw unsupported(`${ctx.label} divides by a sequence value`);
      const s = op === 'Mul' ? x : 1 / x;
      b[i] = b[i]! * s;
      for (let j = 0; j < cols; j++) A[i * cols + j] = A[i * cols + j]! * s;
    }
  }
  return { ...v, axes, pending: { A, b, rows: inner.rows, cols } };
}

function sameBase(a: DynValue, b: DynValue): boolean {
  return a.base === b.base || (a.base.layers === b.base.layers && a.base.time === b.base.time && a.base.finalAt === b.base.finalAt && a.base.stepLimit === b.base.stepLimit);
}

/**
 * The direction of the chain's last layer a value reads, when that layer is bidirectional and
 * the value reads one direction only: 0 forward (features 0..H-1), 1 backward (H..2H-1).
 */
function directionRead(v: DynValue): 0 | 1 | null {
  const L = v.base.layers[v.base.layers.length - 1];
  if (!L || !isRecurrent(L) || L.direction !== 'bidirectional' || v.pending === null) return null;
  const H = L.hiddenSize;
  const { A, rows, cols } = v.pending;
  let fw = false;
  let bw = false;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      if (A[i * cols + j] === 0) continue;
      if (j < H) fw = true;
      else bw = true;
    }
  }
  return fw === bw ? null : fw ? 0 : 1;
}

/**
 * Keras' Bidirectional(return_sequences=False) as tf2onnx exports it: the forward direction's last
 * step and the backward direction's first step (Slice of T-1.. and of 0..1), merged by Add or
 * Concat. Those two are the layer's final states (ChainBase time 'final': forward half at the
 * last step, reverse half at step 0), so values that read only them are relabelled 'final' and
 * combine as one chain. Anything else is returned unchanged.
 */
function asFinalStates(vs: DynValue[]): DynValue[] {
  const first = vs[0]!;
  if (!vs.every((v) => v.base.layers === first.base.layers && v.base.stepLimit === null)) return vs;
  if (!vs.some((v) => v.base.time === 'last') || !vs.some((v) => v.base.time === 'first')) return vs;
  const fits = (v: DynValue) => {
    const d = directionRead(v);
    return (v.base.time === 'last' && d === 0) || (v.base.time === 'first' && d === 1);
  };
  if (!vs.every(fits)) return vs;
  const base: ChainBase = { ...first.base, time: 'final', finalAt: first.base.layers.length - 1 };
  return vs.map((v) => ({ ...v, base }));
}

/** dyn ± dyn of the same chain (e.g. summing the two directions). */
export function dynAddDyn(ctx: OpContext, a1: DynValue, b1: DynValue, sign: 1 | -1): DynValue {
  const [a0, b0] = asFinalStates([a1, b1]) as [DynValue, DynValue];
  if (!sameBase(a0, b0)) throw unsupported(`${ctx.label} combines two values computed by different layer chains`);
  const a = canonicalize(a0);
  const b = canonicalize(b0);
  const sig = (v: DynValue) => v.axes.filter((x) => x.role !== 'U').map((x) => `${x.role}${x.size}`).join(',');
  if (sig(a) !== sig(b)) throw unsupported(`${ctx.label} adds values of different layouts`);
  const la = a.pending ?? identityLinear(a.base.width);
  const lb = b.pending ?? identityLinear(b.base.width);
  const A = la.A.map((x, i) => x + sign * lb.A[i]!);
  const bb = la.b.map((x, i) => x + sign * lb.b[i]!);
  return { ...a, pending: { A, b: bb, rows: la.rows, cols: la.cols } };
}

/**
 * Why dyn * dyn does not compile. When the product merges the two directions of a bidirectional
 * layer (Keras merge_mode 'mul'), the reason names that layer's node (nodeOf) and the merges that
 * do import: a product is not linear, so unlike sum and ave it cannot fold into a dense layer,
 * and edgernn layers have no element-wise product.
 */
export function productReason(ctx: OpContext, a0: DynValue, b0: DynValue, nodeOf: (layer: Layer) => string | undefined): string {
  const generic = `${ctx.label} multiplies two sequence values (edgernn folds only linear glue)`;
  const [a, b] = asFinalStates([a0, b0]) as [DynValue, DynValue];
  if (!sameBase(a, b)) return generic;
  const da = directionRead(a);
  const db = directionRead(b);
  if (da === null || db === null || da === db) return generic;
  const layer = a.base.layers[a.base.layers.length - 1]!;
  const node = nodeOf(layer) ?? `${layer.kind.toUpperCase()} layer`;
  return (
    `${ctx.label} multiplies the forward and backward directions of the bidirectional ${node} element by element (Keras Bidirectional merge_mode='mul'): ` +
    `a product is not linear, so no edgernn layer computes it; supported merges: concat (Concat, Transpose + Reshape), sum (Add, ReduceSum), ave (Add then Mul by 0.5 or Div by 2, ReduceMean)`
  );
}

/** Concat of dyn values of one chain along an F or size-1 axis. */
export function dynConcat(ctx: OpContext, vs0: DynValue[], axisIn: number): DynValue {
  const vs = asFinalStates(vs0).map(canonicalize);
  const first = vs[0]!;
  const rank = first.axes.length;
  const axis = normAxis(axisIn, rank, ctx.label);
  for (const v of vs) {
    if (!sameBase(v, first)) throw unsupported(`${ctx.label} concatenates values computed by different layer chains`);
    if (v.axes.length !== rank) throw invalid(`${ctx.label}: inputs have different ranks`);
    v.axes.forEach((a, i) => {
      if (i === axis) {
        if (a.role !== 'F' && a.role !== 'U') throw unsupported(`${ctx.label} concatenates along the ${a.role === 'T' ? 'time' : 'batch'} axis`);
      } else if (a.role !== first.axes[i]!.role || a.size !== first.axes[i]!.size) throw unsupported(`${ctx.label}: inputs differ on axis ${i}`);
    });
  }
  // Output F axes: the inputs' F axes with the concat axis as an F axis of the summed size.
  const isF = (i: number) => i === axis || first.axes[i]!.role === 'F';
  const fPos = first.axes.map((_, i) => i).filter(isF);
  const counts = vs.map((v) => v.axes[axis]!.size);
  const outSizes = fPos.map((i) => (i === axis ? counts.reduce((p, x) => p + x, 0) : first.axes[i]!.size));
  const kAxis = fPos.indexOf(axis);
  const rowsOff: number[] = [];
  let off = 0;
  const lins = vs.map((v) => {
    rowsOff.push(off);
    const l = v.pending ?? identityLinear(v.base.width);
    off += l.rows;
    return l;
  });
  checkLinearSize(size(outSizes), off);
  const src: number[] = [];
  forEachIndex(outSizes, (idx) => {
    let at = idx[kAxis]!;
    let which = 0;
    while (at >= counts[which]!) at -= counts[which++]!;
    const sizes = fPos.map((i, m) => (m === kAxis ? counts[which]! : first.axes[i]!.size));
    const st = stridesOf(sizes);
    let f = 0;
    idx.forEach((x, m) => (f += (m === kAxis ? at : x) * st[m]!));
    src.push(rowsOff[which]! + f);
  });
  const cols = lins[0]!.cols;
  const stacked: Linear = { A: linearBuffer(off, cols), b: new Float64Array(off), rows: off, cols };
  lins.forEach((l, k) => {
    stacked.A.set(l.A, rowsOff[k]! * cols);
    stacked.b.set(l.b, rowsOff[k]!);
  });
  const tmp: DynValue = { ...first, pending: stacked };
  const pending = composeLinear(tmp, selectionMatrix(src, off), src.length, null);
  const axes = first.axes.map((a, i) => (i === axis ? fAxis(outSizes[kAxis]!) : a));
  return normalizeAxes({ ...first, axes: withCanonicalStrides(axes), pending });
}

/** dyn @ M with M [K][N] on the last axis (an F axis of size K); other F axes are kept. */
export function dynMatMul(ctx: OpContext, v0: DynValue, m: ConstValue, scale = 1, bias: Float64Array | null = null): DynValue {
  const v = canonicalize(v0);
  let md = m.dims;
  while (md.length > 2 && md[0] === 1) md = md.slice(1);
  if (md.length !== 2) throw unsupported(`${ctx.label}: weight of shape [${m.dims}] (needs 2-D)`);
  const [K, N] = md as [number, number];
  const last = v.axes[v.axes.length - 1];
  // One feature is a size-1 axis (normalizeAxes): fine when K is 1.
  const lastOk = last !== undefined && ((last.role === 'F' && last.size === K) || (last.role === 'U' && K === 1));
  if (!lastOk) {
    if (last?.role === 'F' || K === 1) throw invalid(`${ctx.label}: input's last axis has ${last?.size} features, the weight has ${K} rows`, { expected: K, got: last?.size });
    throw unsupported(`${ctx.label}: the multiplied axis must hold features (it is ${last ? (last.role === 'T' ? 'time' : last.role === 'B' ? 'batch' : 'size 1') : 'missing'})`);
  }
  const W = featureWidth(v);
  const outer = W / K;
  const M = linearBuffer(outer * N, W);
  const c = bias ? new Float64Array(outer * N) : null;
  for (let u = 0; u < outer; u++) {
    for (let n = 0; n < N; n++) {
      const row = u * N + n;
      for (let k = 0; k < K; k++) M[row * W + u * K + k] = scale * m.data[k * N + n]!;
      if (c) c[row] = bias![n]!;
    }
  }
  const pending = composeLinear(v, M, outer * N, c);
  let axes = v.axes.map((a, i) => (i === v.axes.length - 1 ? fAxis(N) : a));
  // A weight of higher rank (leading 1s) adds leading axes of size 1 (numpy matmul broadcasting).
  if (m.dims.length > v.axes.length) axes = [...Array.from({ length: m.dims.length - v.axes.length }, () => U), ...axes];
  return normalizeAxes({ ...v, axes: withCanonicalStrides(axes), pending });
}

/** Gemm: Y = alpha * A' B' + beta * C with A the dyn value ([M][K], M the step axis). */
export function dynGemm(ctx: OpContext, v: DynValue, b: ConstValue, c: ConstValue | undefined): DynValue {
  const alpha = ctx.attrs.float('alpha', 1);
  const beta = ctx.attrs.float('beta', 1);
  if (ctx.attrs.int('transA', 0) !== 0) throw unsupported(`${ctx.label}: transA=1 on a sequence value`);
  if (v.axes.length !== 2) throw invalid(`${ctx.label}: A must be 2-D, got rank ${v.axes.length}`);
  if (b.dims.length !== 2) throw invalid(`${ctx.label}: B must be 2-D, got [${b.dims}]`);
  if (b.sym) throw unsupported(`${ctx.label}: B depends on the sequence length`);
  const transB = ctx.attrs.int('transB', 0) === 1;
  const [K, N] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  // Bring B to [K][N].
  const m = new Float64Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) m[k * N + n] = transB ? b.data[n * K + k]! : b.data[k * N + n]!;
  let bias: Float64Array | null = null;
  if (c !== undefined && beta !== 0) {
    if (c.sym) throw unsupported(`${ctx.label}: C depends on the sequence length`);
    const cd = c.dims;
    if (cd.length > 2 || (cd.length === 2 && cd[0] !== 1) || (cd.length >= 1 && cd[cd.length - 1] !== N && cd[cd.length - 1] !== 1)) {
      throw unsupported(`${ctx.label}: C of shape [${cd}] varies along the step axis`);
    }
    bias = new Float64Array(N);
    for (let n = 0; n < N; n++) bias[n] = beta * c.data[size(cd) === 1 ? 0 : n]!;
  }
  return dynMatMul(ctx, v, constOf(b.dtype, [K, N], m), alpha, bias);
}

/** Appends a layer that consumes the (materialized) pending map. */
function appendLayer(v: DynValue, layer: Layer, width: number): DynValue {
  const base: ChainBase = { ...v.base, layers: [...v.base.layers, layer], width };
  return { ...v, base, pending: null };
}

/** A dense layer for the pending map (identity when there is none). */
export function materialize(v: DynValue, activation: DenseActivation): DynValue {
  const L = v.pending ?? identityLinear(v.base.width);
  if (activation === 'none' && (v.pending === null || isIdentity(L))) return { ...v, pending: null };
  const layer: Layer = { kind: 'dense', inputSize: L.cols, outputSize: L.rows, activation, float: { W: Float32Array.from(L.A), B: Float32Array.from(L.b) } };
  return appendLayer(v, layer, L.rows);
}

export function dynActivation(v: DynValue, act: 'relu' | 'sigmoid' | 'tanh'): DynValue {
  return materialize(v, act);
}

/** The range a value cannot leave, and what makes it: the last layer's output through a pure selection. */
function outputBounds(v: DynValue): { lo: number; hi: number; what: string } {
  const open = { lo: -Infinity, hi: Infinity };
  const L = v.pending;
  // A selection (each row one 1, no bias) keeps the bounds; any other map (a sum of the two
  // directions, a scale, a bias) does not.
  if (L !== null) {
    for (let i = 0; i < L.rows; i++) {
      let ones = 0;
      for (let j = 0; j < L.cols; j++) {
        const a = L.A[i * L.cols + j]!;
        if (a === 1) ones++;
        else if (a !== 0) ones = 2;
      }
      if (ones !== 1 || L.b[i] !== 0) return { ...open, what: 'a Gemm/MatMul/Add/Mul output' };
    }
  }
  const last = v.base.layers[v.base.layers.length - 1];
  if (last === undefined) return { ...open, what: 'the input sequence' };
  if (!isRecurrent(last)) {
    if (last.kind !== 'dense') return last.kind === 'softmax' ? { lo: 0, hi: 1, what: 'a softmax output' } : { lo: -Infinity, hi: 0, what: 'a log-softmax output' };
    const r = { none: open, relu: { lo: 0, hi: Infinity }, sigmoid: { lo: 0, hi: 1 }, tanh: { lo: -1, hi: 1 } }[last.activation];
    return { ...r, what: last.activation === 'none' ? 'a Gemm/MatMul output' : `a ${last.activation} output` };
  }
  // With ONNX's default activations the hidden state stays in [-1, 1]: RNN and LSTM h pass
  // through tanh, a GRU's h mixes tanh values with the previous h (so its initial state counts).
  const what = `the ${last.kind.toUpperCase()} output`;
  const defaults = defaultActivations(last.kind, numDirections(last));
  const isDefault = last.activations.length === defaults.length && last.activations.every((a, i) => a.name === defaults[i]!.name);
  const h0 = last.float?.initialH ?? last.quant?.initialH;
  if (!isDefault) return { ...open, what: `${what} (with non-default activations)` };
  if (last.kind === 'gru' && h0 !== undefined && h0.some((x) => Math.abs(x) > 1)) return { ...open, what: `${what} (from an initial state outside [-1, 1])` };
  return { lo: -1, hi: 1, what };
}

/**
 * Clip (nn.Hardtanh, nn.ReLU6, torch.clamp): compiled when it cannot bind (its range holds every
 * value the layer before can output: Hardtanh after a GRU, LSTM, RNN or tanh layer) or when it is
 * a ReLU (min 0, no max). No edgernn layer clamps to a range otherwise.
 */
export function dynClip(ctx: OpContext, v: DynValue, lo: number, hi: number): DynValue {
  const b = outputBounds(v);
  const lower = lo > b.lo;
  const upper = hi < b.hi;
  if (!lower && !upper) return v;
  if (!upper && lo === 0) return materialize(v, 'relu');
  const known = lo === 0 && hi === 6 ? ' (nn.ReLU6)' : lo === -1 && hi === 1 ? ' (nn.Hardtanh)' : '';
  const range = b.lo === -Infinity && b.hi === Infinity ? 'unbounded' : `in [${b.lo}, ${b.hi}]`;
  throw unsupported(
    `${ctx.label} clamps ${b.what} (${range}) to [${lo}, ${hi}]${known}: no edgernn layer clamps to a range. ` +
      'Clip compiles only as a ReLU (min 0, no max) or where it cannot bind (nn.Hardtanh() after a GRU/LSTM/RNN or a tanh layer); ' +
      (known === ' (nn.ReLU6)' ? 'retrain with nn.ReLU instead of nn.ReLU6' : 'retrain without the clamp'),
  );
}

/** BatchNormalization in inference mode: y = scale (x - mean) / sqrt(var + eps) + B per channel (axis 1). */
export function dynBatchNorm(ctx: OpContext, v: DynValue, scale: ConstValue, bias: ConstValue, mean: ConstValue, variance: ConstValue, eps: number): DynValue {
  const rank = v.axes.length;
  if (rank < 2) throw invalid(`${ctx.label}: input of rank ${rank}; BatchNormalization needs [N, C, ...]`);
  const ax = v.axes[1]!;
  if (ax.role === 'T' || ax.role === 'B') throw unsupported(`${ctx.label} normalizes axis 1, which is the ${ax.role === 'T' ? 'time' : 'batch'} axis here; edgernn normalizes features only`);
  const C = ax.size;
  for (const [n, t] of [['scale', scale], ['B', bias], ['input_mean', mean], ['input_var', variance]] as const) {
    if (t.data.length !== C) throw invalid(`${ctx.label}: ${n} has ${t.data.length} values, the input has ${C} channels (axis 1)`);
  }
  const s = new Float64Array(C);
  const t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    s[c] = scale.data[c]! / Math.sqrt(variance.data[c]! + eps);
    t[c] = bias.data[c]! - mean.data[c]! * s[c]!;
  }
  const dims = [C, ...Array.from({ length: rank - 2 }, () => 1)];
  const scaled = dynArith(ctx, 'Mul', v, constOf(ONNX_DTYPES.FLOAT, dims, s), true);
  return dynArith(ctx, 'Add', scaled, constOf(ONNX_DTYPES.FLOAT, dims, t), true);
}

export function dynSoftmax(ctx: OpContext, v0: DynValue, kind: 'softmax' | 'logSoftmax'): DynValue {
  const v = canonicalize(v0);
  const r = v.axes.length;
  const fAx = v.axes.map((a, i) => (a.role === 'F' ? i : -1)).filter((i) => i >= 0);
  if (ctx.opset >= 13) {
    const axis = normAxis(ctx.attrs.int('axis', -1), r, ctx.label);
    const oneFeature = fAx.length === 0 && featureWidth(v) === 1 && v.axes[axis]!.role === 'U';
    if (!oneFeature && (fAx.length !== 1 || fAx[0] !== axis)) {
      // Attention pooling (softmax of per-step scores over the steps) lands here.
      const name = kind === 'softmax' ? 'softmax' : 'log-softmax';
      const role = v.axes[axis]!.role;
      const over = role === 'T' ? `the time axis (axis ${axis}): weights across steps are not the output of one step` : role === 'B' ? `the batch axis (axis ${axis})` : `axis ${axis}`;
      throw unsupported(`${ctx.label}: ${name} over ${over}; edgernn takes ${name} over the features${fAx.length === 1 ? ` (axis ${fAx[0]} here)` : ''}, as one axis`);
    }
  } else {
    // Before opset 13: softmax over the flattened axes [axis, rank).
    const axis = normAxis(ctx.attrs.int('axis', 1), r, ctx.label);
    if (fAx.some((i) => i < axis) || v.axes.slice(axis).some((a) => a.role === 'T' || (a.role === 'B' && a.size > 1))) {
      throw unsupported(`${ctx.label}: axis ${axis} does not cover exactly the features`);
    }
  }
  const m = materialize(v, 'none');
  const n = featureWidth(m);
  return appendLayer(m, { kind, size: n }, n);
}
