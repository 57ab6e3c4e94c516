/**
 * ONNX GRU / LSTM / RNN nodes (opsets 7..22) -> edgernn recurrent layers, float32.
 *
 * Every attribute of the ONNX spec is honoured: direction (forward, reverse, bidirectional),
 * layout (0: X [seq, batch, in]; 1: X [batch, seq, in], opset 14+), hidden_size,
 * activations with activation_alpha / activation_beta (consumed in list order by the functions
 * that take them), clip, linear_before_reset (GRU), input_forget (LSTM), and the optional
 * inputs B, sequence_lens, initial_h, initial_c, P (peepholes, LSTM).
 *
 * Weights keep ONNX's layout (spec.ts): W [dirs][gates*H][in], R [dirs][gates*H][H],
 * B [dirs][2*gates*H] (Wb then Rb), P [dirs][3H]. A pending linear map on X (normalization,
 * feature reorder) is folded in: W' = W A, Wb' = Wb + W b.
 */
import { EdgeRnnError } from '../errors.js';
import {
  ACTIVATION_NAMES,
  ACTIVATIONS_PER_DIRECTION,
  GATES,
  defaultActivations,
  type Activation,
  type ActivationName,
  type Direction,
  type RecurrentKind,
  type RecurrentLayer,
} from '../model/spec.js';
import { ACTIVATION_PARAMS } from './export.js';
import type { OpContext } from './fold.js';
import { canonicalize, featureWidth, identityLinear, invalid, normalizeAxes, unsupported, type Axis, type ChainBase, type ConstValue, type DynValue, type Value } from './values.js';

/** Thrown when X's axes do not have the roles this node's layout needs (another X layout may fit). */
export class LayoutMismatch extends Error {}

export interface RecurrentContext extends OpContext {
  /** Which batch element of batch-sized constants (initial_h, sequence_lens) this import is for. */
  batchIndex: number;
  /** The sequence length when the input's time dimension is a known number. */
  staticT: number | null;
  note(message: string): void;
}

const BY_LOWER = new Map<string, ActivationName>(ACTIVATION_NAMES.map((n) => [n.toLowerCase(), n]));

function shapeError(ctx: OpContext, what: string, expected: number[], got: readonly number[]): EdgeRnnError {
  return new EdgeRnnError('SHAPE_MISMATCH', `${ctx.label}: ${what} has shape [${got.join(', ')}], expected [${expected.join(', ')}]`, { node: ctx.node.name, input: what, expected, got: [...got] });
}

function expectDims(ctx: OpContext, what: string, v: ConstValue, expected: number[]): void {
  if (v.dims.length !== expected.length || v.dims.some((d, i) => d !== expected[i])) throw shapeError(ctx, what, expected, v.dims);
}

function asConst(ctx: OpContext, v: Value | undefined, what: string): ConstValue | undefined {
  if (v === undefined) return undefined;
  if (v.kind === 'const') {
    if (v.sym) throw unsupported(`${ctx.label}: ${what} depends on the sequence length`);
    return v;
  }
  if (v.kind === 'dyn') throw unsupported(`${ctx.label}: ${what} is computed from the input sequence; edgernn needs it constant`);
  if (v.kind === 'free') throw unsupported(`${ctx.label}: ${what} comes from graph input '${v.name}', which has no value; bind it or make it an initializer`);
  return undefined;
}

function parseActivations(ctx: OpContext, kind: RecurrentKind, D: number): Activation[] {
  const names = ctx.attrs.strings('activations');
  if (names === undefined || names.length === 0) return defaultActivations(kind, D);
  const per = ACTIVATIONS_PER_DIRECTION[kind];
  let list = names;
  let alphas = ctx.attrs.floats('activation_alpha') ?? [];
  let betas = ctx.attrs.floats('activation_beta') ?? [];
  if (list.length === per && D === 2) {
    // One direction's list on a bidirectional node (ONNX wants both; onnxruntime refuses it) is
    // taken for both directions, and so are its alphas and betas: they were consumed by the
    // forward direction only, and the backward one fell back to the defaults (LeakyRelu 0.01
    // where 0.3 was given).
    const takes = (param: 'alpha' | 'beta') => list.filter((n) => { const k = BY_LOWER.get(n.toLowerCase()); return k !== undefined && ACTIVATION_PARAMS[k][param]; }).length;
    if (alphas.length === takes('alpha')) alphas = [...alphas, ...alphas];
    if (betas.length === takes('beta')) betas = [...betas, ...betas];
    list = [...list, ...list];
  }
  if (list.length !== per * D) throw invalid(`${ctx.label}: activations has ${names.length} entries, expected ${per * D} (${per} per direction)`);
  let ai = 0;
  let bi = 0;
  const out = list.map((raw): Activation => {
    const name = BY_LOWER.get(raw.toLowerCase());
    if (!name) throw unsupported(`${ctx.label}: activation '${raw}' (ONNX defines ${ACTIVATION_NAMES.join(', ')})`);
    const a: Activation = { name };
    // ONNX: alpha/beta "are consumed in the order of activation functions" that take them.
    if (ACTIVATION_PARAMS[name].alpha && ai < alphas.length) a.alpha = alphas[ai++]!;
    if (ACTIVATION_PARAMS[name].beta && bi < betas.length) a.beta = betas[bi++]!;
    return a;
  });
  return out;
}

/** Selects batch element b (or broadcasts a batch of 1) of a state tensor. */
function stateFor(ctx: RecurrentContext, v: ConstValue, what: string, D: number, H: number, layout: number, Bn: number): Float32Array {
  const b = v.dims[layout === 0 ? 1 : 0]!;
  const expected = layout === 0 ? [D, Bn, H] : [Bn, D, H];
  if (v.dims.length !== 3 || v.dims[layout === 0 ? 0 : 1] !== D || v.dims[2] !== H) throw shapeError(ctx, what, expected, v.dims);
  if (b !== Bn && b !== 1) {
    // PyTorch bakes the zero state it makes (nn.GRU/LSTM without h0 on a packed sequence, or with
    // dynamic axes) for the batch it traced: zeros of any batch are the zero state. It was
    // SHAPE_MISMATCH ("initial_h has shape [1, 2, 4], expected [1, 1, 4]").
    if (!v.data.every((e) => e === 0)) throw shapeError(ctx, what, expected, v.dims);
    ctx.note(
      `${ctx.label}: ${what} is a zero state for a batch of ${b} (the batch PyTorch traced, baked in by torch.onnx.export, e.g. with pack_padded_sequence); ` +
        `starting from zeros (onnxruntime runs this file with a batch of ${b} only)`,
    );
    return new Float32Array(D * H);
  }
  const bi = b === 1 ? 0 : ctx.batchIndex;
  const out = new Float32Array(D * H);
  for (let d = 0; d < D; d++) {
    for (let j = 0; j < H; j++) out[d * H + j] = layout === 0 ? v.data[(d * b + bi) * H + j]! : v.data[(bi * D + d) * H + j]!;
  }
  return out;
}

/** Handles one recurrent node; returns [Y, Y_h, Y_c]. */
export function recurrentNode(ctx: RecurrentContext, kind: RecurrentKind, inputs: (Value | undefined)[]): Value[] {
  const a = ctx.attrs;
  const x0 = inputs[0];
  if (!x0) throw invalid(`${ctx.label}: input X is missing`);
  if (x0.kind !== 'dyn') {
    if (x0.kind === 'const') throw unsupported(`${ctx.label}: X is a constant; edgernn compiles recurrent layers over the input sequence`);
    if (x0.kind === 'free') throw unsupported(`${ctx.label}: X comes from graph input '${x0.name}', which is not the sequence input`);
    return [{ kind: 'poison' }, { kind: 'poison' }, { kind: 'poison' }];
  }
  const direction = a.string('direction', 'forward') as Direction;
  if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional') throw invalid(`${ctx.label}: direction '${direction}' (forward, reverse or bidirectional)`);
  const D = direction === 'bidirectional' ? 2 : 1;
  const G = GATES[kind];
  const layout = ctx.opset >= 14 ? a.int('layout', 0) : 0;
  if (layout !== 0 && layout !== 1) throw invalid(`${ctx.label}: layout ${layout} (0 or 1)`);

  // X: [T, B, F] (layout 0) or [B, T, F] (layout 1), one feature axis.
  const x = canonicalize(x0);
  if (x.axes.length !== 3) throw invalid(`${ctx.label}: X must be 3-D, got rank ${x.axes.length}`);
  const [tPos, bPos] = layout === 0 ? [0, 1] : [1, 0];
  const tAx = x.axes[tPos]!;
  const bAx = x.axes[bPos]!;
  const fAx = x.axes[2]!;
  if (tAx.role !== 'T' || (bAx.role !== 'B' && bAx.role !== 'U') || (fAx.role !== 'F' && fAx.role !== 'U')) {
    if (x.base.time !== 'seq') throw unsupported(`${ctx.label}: X is a single step (${x.base.time}) of an earlier layer's output; a recurrent layer needs the whole sequence`);
    throw new LayoutMismatch(`${ctx.label} (layout ${layout}) needs X as ${layout === 0 ? '[seq, batch, features]' : '[batch, seq, features]'}`);
  }
  if (x.base.time !== 'seq') throw unsupported(`${ctx.label}: X is a single step of an earlier output`);
  const I = featureWidth(x);
  const Bn = bAx.size;

  const W = asConst(ctx, inputs[1], 'W');
  const R = asConst(ctx, inputs[2], 'R');
  if (!W || !R) throw invalid(`${ctx.label}: inputs W and R are required`);
  const hiddenAttr = a.int('hidden_size');
  const H = hiddenAttr ?? R.dims[2] ?? 0;
  if (!(H > 0)) throw invalid(`${ctx.label}: hidden_size is ${H}`);
  expectDims(ctx, 'W', W, [D, G * H, W.dims[2] ?? I]);
  if (W.dims[2] !== I) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `${ctx.label}: W expects ${W.dims[2]} input features, X has ${I}`, { node: ctx.node.name, expected: W.dims[2], got: I });
  }
  expectDims(ctx, 'R', R, [D, G * H, H]);
  const B = asConst(ctx, inputs[3], 'B');
  if (B) expectDims(ctx, 'B', B, [D, 2 * G * H]);

  // sequence_lens: a full-length (or unknown, streaming) sequence needs no limit.
  let stepLimit: number | null = null;
  const sl = inputs[4];
  if (sl?.kind === 'free') ctx.note(`${ctx.label}: sequence_lens comes from unbound input '${sl.name}'; assuming full-length sequences`);
  else if (sl?.kind === 'const') {
    const n = sl.dims.reduce((p, d) => p * d, 1);
    if (sl.dims.length !== 1 || (n !== Bn && n !== 1)) throw shapeError(ctx, 'sequence_lens', [Bn], sl.dims);
    const k = n === 1 ? 0 : ctx.batchIndex;
    if (sl.sym?.[k]) {
      if (sl.data[k] !== 0) throw unsupported(`${ctx.label}: sequence_lens is the sequence length ${sl.data[k]! > 0 ? '+' : '-'} ${Math.abs(sl.data[k]!)}`);
    } else {
      const L = sl.data[k]!;
      if (!Number.isInteger(L) || L < 0) throw invalid(`${ctx.label}: sequence_lens[${k}] = ${L}`);
      if (ctx.staticT !== null && L > ctx.staticT) throw invalid(`${ctx.label}: sequence_lens[${k}] = ${L} exceeds the sequence length ${ctx.staticT}`);
      if (L === 0) throw unsupported(`${ctx.label}: sequence_lens[${k}] = 0 (an empty sequence)`);
      if (ctx.staticT === null || L < ctx.staticT) stepLimit = L;
    }
  } else if (sl?.kind === 'dyn') throw unsupported(`${ctx.label}: sequence_lens is computed from the input sequence`);
  const prevLimit = x.base.stepLimit;
  if (prevLimit !== null && stepLimit !== prevLimit) {
    throw unsupported(`${ctx.label} runs over the zero padding an earlier layer left after step ${prevLimit} (sequence_lens ${stepLimit ?? 'not set'} here); give every layer the same sequence_lens`);
  }

  const state = (v: Value | undefined, what: string): Float32Array | undefined => {
    if (v === undefined) return undefined;
    if (v.kind === 'free') {
      // forward(x, h0): the note says how to carry or give a state, which the .ern has no input for.
      ctx.note(
        `${ctx.label}: ${what} comes from unbound input '${v.name}'; using zeros (an edgernn session carries the state from one step()/run() to the next itself, ` +
          `and exportState/importState save and restore it; to start from other values, bind '${v.name}': importOnnx(bytes, { bind: { ${v.name}: { dims, data } } }))`,
      );
      return undefined;
    }
    const c = asConst(ctx, v, what);
    return c ? stateFor(ctx, c, what, D, H, layout, Bn) : undefined;
  };
  const initialH = state(inputs[5], 'initial_h');
  const initialC = kind === 'lstm' ? state(inputs[6], 'initial_c') : undefined;
  const P = kind === 'lstm' ? asConst(ctx, inputs[7], 'P') : undefined;
  if (P) expectDims(ctx, 'P', P, [D, 3 * H]);
  if (kind !== 'lstm' && inputs.length > 6 && inputs.slice(6).some((v) => v !== undefined)) throw invalid(`${ctx.label}: ${kind.toUpperCase()} has 6 inputs, got ${inputs.length}`);

  const clip = a.float('clip');
  if (clip !== undefined && !(clip > 0)) throw invalid(`${ctx.label}: clip must be positive, got ${clip}`);
  const activations = parseActivations(ctx, kind, D);

  // Fold X's pending map into W and Wb.
  const lin = x.pending ?? identityLinear(x.base.width);
  const inW = lin.cols;
  const rows = G * H;
  const Wf = new Float32Array(D * rows * inW);
  const Bf = new Float32Array(D * 2 * rows);
  for (let d = 0; d < D; d++) {
    for (let j = 0; j < rows; j++) {
      const r = d * rows + j;
      let wb = B ? B.data[d * 2 * rows + j]! : 0;
      for (let m = 0; m < I; m++) wb += W.data[r * I + m]! * lin.b[m]!;
      Bf[d * 2 * rows + j] = wb;
      Bf[d * 2 * rows + rows + j] = B ? B.data[d * 2 * rows + rows + j]! : 0;
      for (let k = 0; k < inW; k++) {
        let s = 0;
        for (let m = 0; m < I; m++) s += W.data[r * I + m]! * lin.A[m * inW + k]!;
        Wf[r * inW + k] = s;
      }
    }
  }
  const hasBias = B !== undefined || x.pending !== null;
  const layer: RecurrentLayer = { kind, inputSize: inW, hiddenSize: H, direction, activations, float: { W: Wf, R: Float32Array.from(R.data) } };
  if (hasBias) layer.float!.B = Bf;
  if (P) layer.float!.P = Float32Array.from(P.data);
  if (initialH) layer.float!.initialH = initialH;
  if (initialC) layer.float!.initialC = initialC;
  if (clip !== undefined) layer.clip = clip;
  if (kind === 'gru') layer.linearBeforeReset = a.int('linear_before_reset', 0) !== 0;
  if (kind === 'lstm' && a.int('input_forget', 0) !== 0) layer.inputForget = true;

  const li = x.base.layers.length;
  const base: ChainBase = {
    ...x.base,
    layers: [...x.base.layers, layer],
    width: D * H,
    time: 'seq',
    stepLimit,
    limitAt: stepLimit !== null ? li : x.base.limitAt,
  };
  const F = (n: number, stride: number): Axis => ({ role: 'F', size: n, stride });
  const dAx: Axis = D === 2 ? F(2, H) : { role: 'U', size: 1, stride: 0 };
  const hAx = F(H, 1);
  const batchAx: Axis = { ...bAx };
  const T: Axis = { role: 'T', size: -1, stride: 0 };
  const Y: DynValue = normalizeAxes({ kind: 'dyn', base, pending: null, axes: layout === 0 ? [T, dAx, batchAx, hAx] : [batchAx, T, dAx, hAx] });
  const finalBase: ChainBase = { ...base, time: 'final', finalAt: li };
  const Yh: DynValue = normalizeAxes({ kind: 'dyn', base: finalBase, pending: null, axes: layout === 0 ? [dAx, batchAx, hAx] : [batchAx, dAx, hAx] });
  const Yc: Value = { kind: 'poison', reason: `${ctx.label}: output Y_c (the final cell state) is not available: edgernn sessions expose the hidden state only (PyTorch: a head on h_n compiles, one on c_n does not)` };
  return [Y, Yh, Yc];
}
