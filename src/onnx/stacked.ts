/**
 * h_n of stacked recurrent layers. PyTorch exports a multi-layer nn.GRU / nn.LSTM / nn.RNN as
 * one ONNX node per layer and joins the layers' Y_h into h_n with a Concat on axis 0
 * ([layers * dirs, batch, hidden]: layer-major, direction-minor). A classifier then reads
 * h_n[-1] (a Gather of index -1, or a Slice of -1.. followed by a Squeeze).
 *
 * The parts come from different layer chains, so h_n is no dyn value; it is kept as a
 * StackValue (values.ts) and only a selection of entries of its last part compiles:
 *
 *   h_n[-1]        the last layer's Y_h (bidirectional: its backward direction)
 *   h_n[-2]        bidirectional: the last layer's forward direction
 *   h_n[-2:]       bidirectional: both directions of the last layer
 *
 * Entries of an earlier layer (h_n[0] of two layers) would make the output skip the later
 * layers, and the whole h_n (flattened into a head, or a graph output) is the states of several
 * layers at once, which no chain of edgernn layers outputs: both are refused, naming the node.
 */
import { sliceRange } from './fold.js';
import type { OpContext } from './fold.js';
import { dynGather, dynSlice, selectFeatures } from './stream.js';
import { canonicalize, constOf, normAxis, unsupported, type ConstValue, type DynValue, type StackValue } from './values.js';

/** True when every part reads the final states of a recurrent layer (Y_h, or a selection of it). */
function allFinal(vs: DynValue[]): boolean {
  return vs.every((v) => v.base.time === 'final');
}

/** Part k's layers are the start of part k+1's: the parts are the layers of one stack. */
function isStack(s: StackValue): boolean {
  return s.parts.every((p, k) => k === 0 || (p.base.layers.length > s.parts[k - 1]!.base.layers.length && s.parts[k - 1]!.base.layers.every((l, i) => p.base.layers[i] === l)));
}

/**
 * A Concat of dyn values of different chains along one axis, when each is a final state (Y_h)
 * with that axis holding directions (size 1 or 2) and the other axes alike: h_n. Null otherwise
 * (the caller reports what dynConcat says).
 */
export function stackConcat(ctx: OpContext, vs0: DynValue[], axisIn: number): StackValue | null {
  if (vs0.length < 2 || !allFinal(vs0)) return null;
  const vs = vs0.map(canonicalize);
  const first = vs[0]!;
  const rank = first.axes.length;
  if (vs.some((v) => v.axes.length !== rank)) return null;
  const axis = normAxis(axisIn, rank, ctx.label);
  for (const v of vs) {
    const a = v.axes[axis]!;
    if (a.role !== 'U' && a.role !== 'F') return null;
    if (v.axes.some((b, i) => i !== axis && (b.role !== first.axes[i]!.role || b.size !== first.axes[i]!.size))) return null;
  }
  return { kind: 'stack', label: ctx.label, name: ctx.node.output[0] ?? '', axis, parts: vs };
}

function entries(s: StackValue): number[] {
  return s.parts.map((p) => p.axes[s.axis]!.size);
}

function describe(s: StackValue): string {
  const n = entries(s).reduce((a, b) => a + b, 0);
  const what = isStack(s) ? `the final states of ${s.parts.length} stacked recurrent layers` : `${s.parts.length} final states (Y_h)`;
  return `'${s.name}' (${s.label}: ${what}, ${n} entries on axis ${s.axis}, like PyTorch's h_n)`;
}

/** Why a node cannot use h_n as a whole. */
export function stackUseReason(ctx: OpContext, s: StackValue): string {
  return `${ctx.label} reads all of ${describe(s)}; that is the state of several layers at once, which no chain of edgernn layers outputs. edgernn compiles the last layer's entries only (h_n[-1], or h_n[-2] and h_n[-1] of a bidirectional layer)`;
}

/** Why h_n cannot be a graph output. */
export function stackOutputReason(s: StackValue): string {
  return `graph output ${describe(s)} holds the states of several layers at once, which no chain of edgernn layers outputs; compile another output (--output), or use h_n[-1] (the last layer) in the graph`;
}

/** Maps entries of h_n to one part (the last) and its own entry positions; refuses anything else. */
function locate(ctx: OpContext, s: StackValue, positions: number[], shown: string): { part: DynValue; local: number[] } {
  const sizes = entries(s);
  const where = positions.map((p) => {
    let k = 0;
    let j = p;
    while (k < sizes.length - 1 && j >= sizes[k]!) j -= sizes[k++]!;
    return { k, j };
  });
  const parts = [...new Set(where.map((w) => w.k))];
  const last = s.parts.length - 1;
  if (parts.length === 1 && parts[0] === last) return { part: s.parts[last]!, local: where.map((w) => w.j) };
  const stacked = isStack(s);
  const name = (k: number, j: number) => {
    const dirs = sizes[k]!;
    const dir = dirs === 2 ? (j === 0 ? ', forward direction' : ', backward direction') : '';
    return `${stacked ? 'layer' : 'input'} ${k + 1} of ${s.parts.length}${dir}`;
  };
  const picked = where.map((w) => name(w.k, w.j)).join('; ');
  if (parts.length > 1) {
    return fail(`${ctx.label} picks ${shown} of ${describe(s)}: entries of ${parts.length} different layers (${picked}); edgernn compiles the last layer's entries only (h_n[-1])`);
  }
  return fail(
    `${ctx.label} picks ${shown} of ${describe(s)}: the final state of ${picked}, not of the last layer, so the output would not depend on the later layers; edgernn compiles the last layer's entries only (h_n[-1]${sizes[last] === 2 ? ', h_n[-2]' : ''})`,
  );
}

function fail(reason: string): never {
  throw unsupported(reason);
}

/** Gather on h_n: entries of its last part are that layer's Y_h (scalar index: the axis goes). */
export function stackGather(ctx: OpContext, s: StackValue, ind: ConstValue): DynValue {
  const rank = s.parts[0]!.axes.length;
  const axis = normAxis(ctx.attrs.int('axis', 0), rank, ctx.label);
  if (axis !== s.axis) fail(`${ctx.label} selects along axis ${axis} of ${describe(s)}; edgernn compiles h_n[-1] (a selection on axis ${s.axis}) only`);
  if (ind.sym) fail(`${ctx.label}: the index into h_n depends on the sequence length`);
  if (ind.dims.length > 1) fail(`${ctx.label}: indices of rank ${ind.dims.length} into h_n`);
  const n = entries(s).reduce((a, b) => a + b, 0);
  const raw = Array.from(ind.data);
  const pos = raw.map((x) => {
    if (!Number.isInteger(x) || x < -n || x >= n) fail(`${ctx.label}: index ${x} is out of range for the ${n} entries of ${describe(s)}`);
    return x < 0 ? x + n : x;
  });
  const shown = ind.dims.length === 0 ? `h_n[${raw[0]}]` : `h_n[[${raw.join(', ')}]]`;
  const { part, local } = locate(ctx, s, pos, shown);
  return dynGather(ctx, part, constOf(ind.dtype, ind.dims, local), null);
}

/** Slice on h_n: the range on its axis must lie in the last part; other axes are sliced as usual. */
export function stackSlice(ctx: OpContext, s: StackValue, p: { axes: number[]; starts: [number, boolean][]; ends: [number, boolean][]; steps: number[] }): DynValue {
  const k = p.axes.indexOf(s.axis);
  if (k < 0) fail(`${ctx.label} slices ${describe(s)} on axis ${p.axes.join(', ')}; edgernn compiles h_n[-1] (a selection on axis ${s.axis}) only`);
  const [st, stSym] = p.starts[k]!;
  const [en, enSym] = p.ends[k]!;
  if (stSym || enSym) fail(`${ctx.label}: the slice of h_n depends on the sequence length`);
  const n = entries(s).reduce((a, b) => a + b, 0);
  const r = sliceRange(st, en, p.steps[k]!, n);
  if (r.count === 0) fail(`${ctx.label} takes no entries of ${describe(s)}`);
  const pos = Array.from({ length: r.count }, (_, i) => r.start + i * r.step);
  const big = (x: number) => (x >= 2 ** 31 - 1 ? '' : String(x));
  const shown = `h_n[${st}:${big(en)}${p.steps[k] !== 1 ? `:${p.steps[k]}` : ''}]`;
  const { part, local } = locate(ctx, s, pos, shown);
  const a = part.axes[s.axis]!;
  // A part of one entry has a size-1 axis there; of two (directions) an F axis.
  const picked = a.role === 'U' ? part : selectFeatures(part, s.axis, local, true);
  const rest = p.axes.map((_, i) => i).filter((i) => i !== k);
  if (rest.length === 0) return picked;
  return dynSlice(ctx, picked, { axes: rest.map((i) => p.axes[i]!), starts: rest.map((i) => p.starts[i]!), ends: rest.map((i) => p.ends[i]!), steps: rest.map((i) => p.steps[i]!) }, null);
}
