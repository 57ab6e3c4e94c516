/**
 * ONNX import: walks a graph once, folding constants and turning everything computed from the
 * sequence input X into a chain of edgernn layers (values.ts explains the representation).
 *
 *   const imp = importOnnx(bytes);              // every graph output, with its layer chain
 *   const spec = onnxToSpec(imp);                 // float32 ModelSpec of the first output
 *
 * Only the nodes an output needs are evaluated, so dead branches (an unused h_n Concat) cost
 * nothing. Nodes that cannot be compiled are collected and reported together (node index, name,
 * op type, inputs -> outputs, why), with a pointer to the onnxruntime-web backend, which runs any
 * ONNX model. Malformed protobuf is ONNX_PARSE, spec violations ONNX_INVALID, wrong shapes
 * SHAPE_MISMATCH.
 *
 * Batches: edgernn runs one sequence at a time. `batchIndex` picks the element of batch-sized
 * constants (initial_h, sequence_lens); the conformance runner imports once per element.
 */
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { isRecurrent, modelOutputSize, type Layer, type ModelSpec } from '../model/spec.js';
import { INITIAL_STATE_KEY, readInitialStateMetadata, readSpecMetadata } from './metadata.js';
import { fileBytes } from '../util/bytes.js';
import { Attrs, nodeLabel } from './attrs.js';
import { CONST_OPS, reduceAxes, sliceParams, splitSizes, tensorToConst, type OpContext } from './fold.js';
import { ONNX_DTYPES, decodeModelProto, type ModelProto, type NodeProto, type ValueInfoProto } from './proto.js';
import { LayoutMismatch, recurrentNode, type RecurrentContext } from './recurrent.js';
import { stackConcat, stackGather, stackOutputReason, stackSlice, stackUseReason } from './stacked.js';
import {
  dynActivation,
  dynBatchNorm,
  dynClip,
  dynAddDyn,
  dynArith,
  dynConcat,
  dynFlatten,
  dynGather,
  dynGemm,
  dynMatMul,
  dynReduce,
  dynReshape,
  dynShape,
  dynSlice,
  dynSoftmax,
  dynSplit,
  dynSqueeze,
  dynTranspose,
  dynUnsqueeze,
  inputValue,
  materialize,
  productReason,
} from './stream.js';
import {
  MAX_FOLDED_ELEMENTS,
  NodeUnsupported,
  canonicalize,
  checkIntegers,
  constOf,
  dynDims,
  invalid,
  normAxis,
  unsupported,
  type AxisRole,
  type ConstValue,
  type DynValue,
  type StackValue,
  type TimeSelect,
  type Value,
} from './values.js';
import { checkObjectArgument } from '../util/args.js';

/** Opsets of the default domain this importer implements. */
export const MIN_OPSET = 7;
export const MAX_OPSET = 22;

/** Roles of X's axes: T time, B batch, F features (BFT: channels first, [batch, features, seq]). */
export type InputLayout = 'TBF' | 'BTF' | 'BFT' | 'TF';

export interface BoundTensor {
  dims: number[];
  data: ArrayLike<number>;
  /** TensorProto data type (default FLOAT). */
  dataType?: number;
}

export interface ImportOptions {
  /** Name for messages (a file path). */
  source?: string;
  /** Constant values for graph inputs (or replacing initializers), e.g. a test's W, R, B, initial_h. */
  bind?: Record<string, BoundTensor>;
  /** The sequence input (default: the graph input without a value that reaches a recurrent node's X, else the first one). */
  sequenceInput?: string;
  /** Roles of X's axes (default: tried in the order [seq,batch,F], [batch,seq,F], [batch,F,seq]; rank 2: [seq,F]). */
  inputLayout?: InputLayout;
  /** Actual dims of X (the conformance runner knows them): sequence length, batch, features. */
  inputDims?: number[];
  /** Which batch element this import is for (batch-sized initial_h, sequence_lens). Default 0. */
  batchIndex?: number;
  /** Graph outputs to compile (default: all). */
  outputs?: string[];
}

/** One graph output as edgernn computes it. */
export interface OnnxOutput {
  name: string;
  /** 'dyn': computed from X by `layers`; 'const': does not depend on X (`constant`). */
  kind: 'dyn' | 'const';
  layers: Layer[];
  /** Which steps the output holds (values.ts ChainBase.time). */
  time: TimeSelect;
  /** time 'final': index of the layer whose final states are taken. */
  finalAt: number;
  /** sequence_lens of this batch element when shorter than the sequence (padding after). */
  stepLimit: number | null;
  /** With stepLimit: the last layer that honours it; later layers see zero padding. */
  limitAt: number;
  /** The output tensor's axes (F axes row-major over the feature vector). */
  axes: { role: AxisRole; size: number }[];
  constant?: { dims: number[]; data: Float64Array };
}

export interface OnnxImport {
  model: ModelProto;
  /** The name errors and notes use (ImportOptions.source). */
  source: string;
  opset: number;
  input: { name: string; layout: InputLayout; features: number; batch: number; staticT: number | null };
  outputs: OnnxOutput[];
  /** Assumptions made (unbound state inputs, full-length sequences). */
  notes: string[];
}

interface Issue {
  index: number;
  node: NodeProto;
  reason: string;
}

interface ImportCtx extends RecurrentContext {
  opts: ImportOptions;
  /** The recurrent node (nodeLabel) behind each layer made so far, for messages about its outputs. */
  layerNodes: Map<Layer, string>;
}

type DynOp = (ctx: ImportCtx, inputs: (Value | undefined)[]) => Value[];

function dynAt(ctx: OpContext, inputs: (Value | undefined)[], i: number): DynValue {
  const v = inputs[i];
  if (v?.kind !== 'dyn') throw unsupported(`${ctx.label}: input ${i} must be computed from the sequence`);
  return v;
}

function constAt(ctx: OpContext, inputs: (Value | undefined)[], i: number, what: string): ConstValue {
  const v = inputs[i];
  if (v === undefined) throw invalid(`${ctx.label}: input ${i} (${what}) is missing`);
  if (v.kind !== 'const') throw unsupported(`${ctx.label}: ${what} must be a constant (it is computed from the input sequence)`);
  return v;
}

function constOpt(ctx: OpContext, inputs: (Value | undefined)[], i: number, what: string): ConstValue | undefined {
  return inputs[i] === undefined ? undefined : constAt(ctx, inputs, i, what);
}

function axesOf(ctx: OpContext, inputs: (Value | undefined)[], i: number): number[] | undefined {
  if (ctx.opset >= 13) {
    const v = constOpt(ctx, inputs, i, 'axes');
    if (v?.sym) throw unsupported(`${ctx.label}: axes depend on the sequence length`);
    if (v) checkIntegers(v, `${ctx.label}: axes`);
    return v ? Array.from(v.data) : undefined;
  }
  return ctx.attrs.ints('axes');
}

function arith(op: 'Add' | 'Sub' | 'Mul' | 'Div'): DynOp {
  return (ctx, inputs) => {
    const a = inputs[0];
    const b = inputs[1];
    if (!a || !b) throw invalid(`${ctx.label}: needs two inputs`);
    if (a.kind === 'dyn' && b.kind === 'dyn') {
      if (op === 'Add' || op === 'Sub') return [dynAddDyn(ctx, a, b, op === 'Add' ? 1 : -1)];
      if (op === 'Mul') throw unsupported(productReason(ctx, a, b, (l) => ctx.layerNodes.get(l)));
      throw unsupported(`${ctx.label} divides by a sequence value`);
    }
    if (a.kind === 'dyn' && b.kind === 'const') return [dynArith(ctx, op, a, b, true)];
    if (a.kind === 'const' && b.kind === 'dyn') {
      if (op === 'Div') throw unsupported(`${ctx.label} divides by a sequence value`);
      return [dynArith(ctx, op, b, a, op === 'Add' || op === 'Mul')];
    }
    throw unsupported(`${ctx.label}: unsupported operand kinds`);
  };
}

/**
 * Dropout is the identity in inference mode only. From opset 12, input 2 (training_mode) true
 * with a ratio above 0 makes onnxruntime drop random elements: refused, not compiled as the
 * identity. An unbound training_mode (it may be fed true) is refused by the caller; an unbound
 * ratio matters only when training_mode is true.
 */
function dropoutInference(ctx: OpContext, inputs: (Value | undefined)[]): void {
  if (ctx.opset < 12) return;
  const mode = inputs[2];
  if (mode?.kind !== 'const' || !mode.data.some((v) => v !== 0)) return;
  const ratio = inputs[1];
  const r = ratio?.kind === 'const' ? String(ratio.data[0]) : ratio?.kind === 'free' ? `from graph input '${ratio.name}'` : '0.5';
  if (r === '0') return;
  throw unsupported(`${ctx.label}: training_mode is true (ratio ${r}): it drops random elements at inference; export the model in eval mode`);
}

function passThrough(ctx: ImportCtx, inputs: (Value | undefined)[]): Value[] {
  const v = inputs[0]!;
  const extra: Value[] = ctx.node.output.slice(1).map(() => ({ kind: 'poison', reason: `${ctx.label}: only its first output is supported` }));
  return [v, ...extra];
}

/** A GRU / LSTM / RNN node; remembers which node made the layer (productReason names it). */
function recurrent(kind: 'gru' | 'lstm' | 'rnn'): DynOp {
  return (ctx, inputs) => {
    const outs = recurrentNode(ctx, kind, inputs);
    const y = outs[0];
    if (y?.kind === 'dyn') ctx.layerNodes.set(y.base.layers[y.base.layers.length - 1]!, ctx.label);
    return outs;
  };
}

/** Split of a sequence value (fold.ts splitSizes reads the sizes). */
function split(ctx: ImportCtx, inputs: (Value | undefined)[]): Value[] {
  const v = dynAt(ctx, inputs, 0);
  const axis = normAxis(ctx.attrs.int('axis', 0), v.axes.length, ctx.label);
  const a = v.axes[axis]!;
  // The time axis has no size (-1): dynSplit refuses it before it needs sizes.
  const sizes = a.role === 'T' ? [] : splitSizes(ctx, constOpt(ctx, inputs, 1, 'split'), axis, a.size);
  return dynSplit(ctx, v, axis, sizes);
}

/** ReduceSum / ReduceMean of a sequence value (fold.ts reduceAxes reads the axes). */
function reduce(mean: boolean): DynOp {
  return (ctx, inputs) => {
    const v = dynAt(ctx, inputs, 0);
    const axes = reduceAxes(ctx, constOpt(ctx, inputs, 1, 'axes'), mean);
    if (axes === 'noop') return [v];
    return [dynReduce(ctx, v, axes, ctx.attrs.int('keepdims', 1) !== 0, mean)];
  };
}

/** The largest float32: Clip's default bounds before opset 11. */
const FLT_MAX = 3.4028234663852886e38;

const DYN_OPS: Readonly<Record<string, DynOp>> = {
  Identity: passThrough,
  Dropout: passThrough,
  Cast: (ctx, inputs) => {
    const to = ctx.attrs.required(ctx.attrs.int('to'), 'to');
    if (to !== ONNX_DTYPES.FLOAT && to !== ONNX_DTYPES.DOUBLE && to !== ONNX_DTYPES.FLOAT16) throw unsupported(`${ctx.label}: cast of a sequence value to integer type ${to}`);
    return [inputs[0]!];
  },
  Transpose: (ctx, inputs) => [dynTranspose(ctx, dynAt(ctx, inputs, 0), ctx.attrs.ints('perm'))],
  Unsqueeze: (ctx, inputs) => [dynUnsqueeze(ctx, dynAt(ctx, inputs, 0), ctx.attrs.required(axesOf(ctx, inputs, 1), 'axes'))],
  Squeeze: (ctx, inputs) => [dynSqueeze(ctx, dynAt(ctx, inputs, 0), axesOf(ctx, inputs, 1))],
  Reshape: (ctx, inputs) => {
    const shape = constAt(ctx, inputs, 1, 'shape');
    checkIntegers(shape, `${ctx.label}: shape`);
    return [dynReshape(ctx, dynAt(ctx, inputs, 0), shape, ctx.opset >= 14 && ctx.attrs.int('allowzero', 0) === 1, ctx.staticT)];
  },
  Flatten: (ctx, inputs) => [dynFlatten(ctx, dynAt(ctx, inputs, 0), ctx.attrs.int('axis', 1))],
  Shape: (ctx, inputs) => [dynShape(ctx, dynAt(ctx, inputs, 0))],
  Gather: (ctx, inputs) => {
    const ind = constAt(ctx, inputs, 1, 'indices');
    checkIntegers(ind, `${ctx.label}: indices`);
    const v = inputs[0];
    if (v?.kind === 'stack') return [stackGather(ctx, v, ind)];
    return [dynGather(ctx, dynAt(ctx, inputs, 0), ind, ctx.staticT)];
  },
  Slice: (ctx, inputs) => {
    const v0 = inputs[0];
    const v = v0?.kind === 'stack' ? v0 : dynAt(ctx, inputs, 0);
    const rank = v.kind === 'stack' ? v.parts[0]!.axes.length : v.axes.length;
    const slice = (p: Parameters<typeof dynSlice>[2]) => (v.kind === 'stack' ? stackSlice(ctx, v, p) : dynSlice(ctx, v, p, ctx.staticT));
    if (ctx.opset < 10) {
      const p = sliceParams(ctx, [], rank);
      return [slice({ axes: p.axes, starts: p.starts.map((s) => [s, false]), ends: p.ends.map((e) => [e, false]), steps: p.steps })];
    }
    const pair = (c: ConstValue): [number, boolean][] => Array.from(c.data, (x, i) => [x, c.sym?.[i] === 1] as [number, boolean]);
    const starts = pair(constAt(ctx, inputs, 1, 'starts'));
    const ends = pair(constAt(ctx, inputs, 2, 'ends'));
    const axesC = constOpt(ctx, inputs, 3, 'axes');
    const stepsC = constOpt(ctx, inputs, 4, 'steps');
    [1, 2, 3, 4].forEach((i) => inputs[i]?.kind === 'const' && checkIntegers(inputs[i], `${ctx.label}: ${['starts', 'ends', 'axes', 'steps'][i - 1]}`));
    if (axesC?.sym || stepsC?.sym) throw unsupported(`${ctx.label}: axes or steps depend on the sequence length`);
    const axes = (axesC ? Array.from(axesC.data) : starts.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
    const steps = stepsC ? Array.from(stepsC.data) : starts.map(() => 1);
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) throw invalid(`${ctx.label}: starts, ends, axes, steps differ in length`);
    if (axes.some((a) => a < 0 || a >= rank)) throw invalid(`${ctx.label}: axes [${axes}] out of range for rank ${rank}`);
    return [slice({ axes, starts, ends, steps })];
  },
  Concat: (ctx, inputs) => {
    const vs = inputs.filter((v): v is Value => v !== undefined);
    if (!vs.every((v) => v.kind === 'dyn')) throw unsupported(`${ctx.label} concatenates sequence values with constants`);
    const axis = ctx.attrs.required(ctx.attrs.int('axis'), 'axis');
    // The final states of stacked layers (PyTorch's h_n): kept apart, for h_n[-1] (stacked.ts).
    const dyn = vs as DynValue[];
    if (dyn.some((v) => v.base.layers !== dyn[0]!.base.layers)) {
      const stack = stackConcat(ctx, dyn, axis);
      if (stack) return [stack];
    }
    return [dynConcat(ctx, dyn, axis)];
  },
  Expand: (ctx, inputs) => {
    const v = dynAt(ctx, inputs, 0);
    const shape = constAt(ctx, inputs, 1, 'shape');
    const dims = dynDims(v);
    const sh = Array.from(shape.data);
    const ok = !shape.sym && sh.length <= dims.length && sh.every((d, i) => d === 1 || d === dims[dims.length - sh.length + i]);
    if (!ok) throw unsupported(v.base.time !== 'seq' ? repeatReason(ctx, v, `to [${sh}]`) : `${ctx.label} broadcasts a sequence value to [${sh}]`);
    return [v];
  },
  Tile: (ctx, inputs) => {
    const reps = constAt(ctx, inputs, 1, 'repeats');
    throw unsupported(repeatReason(ctx, dynAt(ctx, inputs, 0), `Tile by [${Array.from(reps.data).join(', ')}]`));
  },
  Add: arith('Add'),
  Sub: arith('Sub'),
  Mul: arith('Mul'),
  Div: arith('Div'),
  Neg: (ctx, inputs) => [dynArith(ctx, 'Mul', dynAt(ctx, inputs, 0), constOf(ONNX_DTYPES.FLOAT, [], [-1]), true)],
  MatMul: (ctx, inputs) => {
    if (inputs[0]?.kind !== 'dyn') throw unsupported(`${ctx.label}: the sequence value must be the left operand`);
    return [dynMatMul(ctx, dynAt(ctx, inputs, 0), constAt(ctx, inputs, 1, 'B'))];
  },
  Gemm: (ctx, inputs) => [dynGemm(ctx, dynAt(ctx, inputs, 0), constAt(ctx, inputs, 1, 'B'), constOpt(ctx, inputs, 2, 'C'))],
  Relu: (ctx, inputs) => [dynActivation(dynAt(ctx, inputs, 0), 'relu')],
  Clip: (ctx, inputs) => {
    // Bounds are attributes before opset 11, optional inputs after; absent is unbounded.
    const bound = (i: number, attr: string, def: number): number => {
      if (ctx.opset < 11) return ctx.attrs.float(attr, def);
      const c = constOpt(ctx, inputs, i, attr);
      if (c === undefined) return def;
      if (c.data.length !== 1) throw invalid(`${ctx.label}: ${attr} must be a scalar, got ${c.data.length} values`);
      return c.data[0]!;
    };
    // Before opset 11 the defaults are ∓FLT_MAX, which is no bound either.
    const unbounded = (x: number) => (Math.abs(x) >= FLT_MAX ? Math.sign(x) * Infinity : x);
    return [dynClip(ctx, dynAt(ctx, inputs, 0), unbounded(bound(1, 'min', -Infinity)), unbounded(bound(2, 'max', Infinity)))];
  },
  // nn.Conv1d with kernel 1 is a Linear on each step's channels (axis 1 of [N, C, T]).
  Conv: (ctx, inputs) => {
    const v = dynAt(ctx, inputs, 0);
    const w = constAt(ctx, inputs, 1, 'W');
    const k = w.dims.slice(2);
    const ones = (name: string) => (ctx.attrs.ints(name) ?? []).every((x) => x === 1);
    // With kernel 1 and stride 1 every auto_pad pads nothing; explicit pads add zero steps.
    const pads = (ctx.attrs.ints('pads') ?? []).every((x) => x === 0);
    if (k.length !== 1 || v.axes.length !== 3) throw unsupported(`${ctx.label}: a ${k.length}-D convolution (kernel [${k.join(', ')}]); edgernn compiles nn.Conv1d with kernel 1 only`);
    if (k[0] !== 1 && v.axes[2]!.role === 'F') throw unsupported(`${ctx.label}: a convolution with kernel ${k[0]} along the features (axis 2); edgernn compiles nn.Conv1d with kernel 1 only`);
    if (k[0] !== 1) {
      throw unsupported(
        `${ctx.label}: a convolution over time with kernel ${k[0]} mixes neighbouring steps, and edgernn layers see one step at a time. ` +
          "Compute it in the feature front end, or use kernel 1 / nn.Linear on each step before the recurrent layer (it folds into the layer's input weights)",
      );
    }
    if (ctx.attrs.int('group', 1) !== 1 || !ones('strides') || !ones('dilations') || !pads) throw unsupported(`${ctx.label}: kernel 1 with groups, strides, dilations or padding; edgernn compiles a plain pointwise nn.Conv1d`);
    const [O, C] = [w.dims[0]!, w.dims[1]!];
    const wt = new Float64Array(C * O);
    for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) wt[c * O + o] = w.data[o * C + c]!;
    const bias = constOpt(ctx, inputs, 2, 'B');
    const y = dynMatMul(ctx, dynTranspose(ctx, v, [0, 2, 1]), constOf(ONNX_DTYPES.FLOAT, [C, O], wt), 1, bias ? Float64Array.from(bias.data) : null);
    return [dynTranspose(ctx, y, [0, 2, 1])];
  },
  BatchNormalization: (ctx, inputs) => {
    if (ctx.opset >= 14 && ctx.attrs.int('training_mode', 0) !== 0) throw unsupported(`${ctx.label}: training_mode is 1: it normalizes with the batch's statistics; export the model in eval mode (model.eval())`);
    if (ctx.opset < 9 && ctx.attrs.int('spatial', 1) === 0) throw unsupported(`${ctx.label}: spatial 0 (per-element statistics) is not supported`);
    const c = (i: number, what: string) => constAt(ctx, inputs, i, what);
    return [dynBatchNorm(ctx, dynAt(ctx, inputs, 0), c(1, 'scale'), c(2, 'B'), c(3, 'input_mean'), c(4, 'input_var'), ctx.attrs.float('epsilon', 1e-5))];
  },
  Sigmoid: (ctx, inputs) => [dynActivation(dynAt(ctx, inputs, 0), 'sigmoid')],
  Tanh: (ctx, inputs) => [dynActivation(dynAt(ctx, inputs, 0), 'tanh')],
  Softmax: (ctx, inputs) => [dynSoftmax(ctx, dynAt(ctx, inputs, 0), 'softmax')],
  LogSoftmax: (ctx, inputs) => [dynSoftmax(ctx, dynAt(ctx, inputs, 0), 'logSoftmax')],
  Split: split,
  ReduceSum: reduce(false),
  ReduceMean: reduce(true),
  GRU: recurrent('gru'),
  LSTM: recurrent('lstm'),
  RNN: recurrent('rnn'),
};

/** Operators the importer compiles (constant folding or sequence ops). */
export const SUPPORTED_OPS: readonly string[] = [...new Set([...Object.keys(CONST_OPS), ...Object.keys(DYN_OPS)])].sort();

const LAYER_NORM =
  'no edgernn layer divides a step by the spread of its own features (a layer-norm layer would be a new layer kind in the .ern format and every runtime). ' +
  'Retrain without nn.LayerNorm (nn.BatchNorm1d compiles: in eval mode it is a fixed scale and offset per feature)';

const REPEAT_VECTOR =
  "(a sequence autoencoder's RepeatVector: h_n[-1].repeat(1, T, 1) or .expand(...) into a decoder): the decoder's first step needs the encoder's last, and edgernn's layers run step by step in one pass. " +
  "Train an autoencoder whose decoder reads the encoder's output at every step, or run the model unchanged";

/** Tile or Expand of a sequence value: one step repeated over time is an autoencoder's RepeatVector. */
function repeatReason(ctx: OpContext, v: DynValue, shape: string): string {
  if (v.base.time !== 'seq') return `${ctx.label} repeats one step of the sequence (the ${v.base.time === 'final' ? 'final state' : `${v.base.time} step`}) over time ${REPEAT_VECTOR}`;
  return `${ctx.label} repeats a sequence value (${shape}); edgernn computes one row per step from that step's features`;
}

/**
 * The recurrent node whose X is a repeated value (Expand or Tile, through layout ops), for the
 * report: PyTorch's dynamic-length .expand() fails at its shape arithmetic (Equal/Where on the
 * sequence length) before the Expand, which says nothing of the cause.
 */
function repeatedIntoRecurrent(model: ModelProto): NodeProto | undefined {
  const producer = new Map<string, NodeProto>();
  for (const n of model.graph.node) for (const o of n.output) if (o) producer.set(o, n);
  const through = new Set(['Transpose', 'Identity', 'Cast', 'Squeeze', 'Unsqueeze', 'Reshape', 'Dropout']);
  return model.graph.node.find((n) => {
    if (n.opType !== 'GRU' && n.opType !== 'LSTM' && n.opType !== 'RNN') return false;
    let p = producer.get(n.input[0] ?? '');
    for (let hops = 0; p && through.has(p.opType) && hops < 8; hops++) p = producer.get(p.input[0] ?? '');
    return p?.opType === 'Expand' || p?.opType === 'Tile';
  });
}

const PACKING =
  "torch.nn.utils.rnn.pack_padded_sequence(..., enforce_sorted=False): the export sorts the batch by length and unsorts the results (TopK, Gather, ScatterElements), " +
  'which compiles only for lengths computed from x.shape with a batch of 1 (one sequence: sorting it is the identity). ' +
  'edgernn runs one unpadded sequence at a time, so packing has nothing to do in a streaming model: export without packing (call the GRU/LSTM on the padded x), ' +
  'or with enforce_sorted=True (lengths from an input then mean full-length sequences)';

/**
 * The TopK that sorts the lengths of pack_padded_sequence(enforce_sorted=False): its sorted values
 * (through Cast) are a recurrent node's sequence_lens. Such a graph was refused as "operator TopK
 * is not supported", which says nothing of the packing; TopK folds now, and a batch other than 1
 * (or lengths from an input) fails at the batch Gather or the input instead: the report names the
 * packing.
 */
function packingSort(model: ModelProto): NodeProto | undefined {
  const producer = new Map<string, NodeProto>();
  for (const n of model.graph.node) for (const o of n.output) if (o) producer.set(o, n);
  for (const n of model.graph.node) {
    if ((n.opType !== 'GRU' && n.opType !== 'LSTM' && n.opType !== 'RNN') || !n.input[4]) continue;
    let p = producer.get(n.input[4]);
    for (let hops = 0; p && (p.opType === 'Cast' || p.opType === 'Identity') && hops < 4; hops++) p = producer.get(p.input[0] ?? '');
    if (p?.opType === 'TopK') return p;
  }
  return undefined;
}

/** Element-wise activations PyTorch heads use that no edgernn layer applies, with their PyTorch names. */
const OTHER_ACTIVATIONS: Readonly<Record<string, string>> = {
  LeakyRelu: 'nn.LeakyReLU',
  PRelu: 'nn.PReLU',
  Elu: 'nn.ELU',
  Selu: 'nn.SELU',
  Celu: 'nn.CELU',
  Gelu: 'nn.GELU',
  Erf: 'nn.GELU, before opset 20',
  HardSigmoid: 'nn.Hardsigmoid',
  HardSwish: 'nn.Hardswish',
  Softplus: 'nn.Softplus',
  Softsign: 'nn.Softsign',
  Mish: 'nn.Mish',
};

/** Why an operator edgernn has no rule for cannot compile, when the reason is known. */
function unknownOpReason(node: NodeProto): string {
  const op = node.opType;
  if (op === 'LayerNormalization') return `operator LayerNormalization (nn.LayerNorm) is not supported: ${LAYER_NORM}`;
  // PyTorch's zero initial state at opsets 7 and 8 (dynamic axes); onnxruntime refuses the file too.
  if (op === 'ConstantFill') return 'operator ConstantFill is not supported: an experimental operator, never in the standard ONNX opsets; torch.onnx.export writes it for a zero initial state at opset_version 7 and 8, and onnxruntime cannot load it either: export with opset_version=9 or later';
  if (OTHER_ACTIVATIONS[op]) return `operator ${op} (${OTHER_ACTIVATIONS[op]}) is not supported: edgernn's dense layers apply relu, sigmoid or tanh (or none); retrain with one of those`;
  if (op === 'ArgMax' || op === 'ArgMin') return `operator ${op} is not supported: it outputs class indices, and edgernn models output scores; export the logits (or softmax) and take the index in your code (\`edgernn run\` prints the scores with the labels)`;
  return `operator ${op} is not supported`;
}

/**
 * nn.LayerNorm as PyTorch exports it before opset 17 (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt,
 * Div): the importer fails at the Sub ("adds values of different layouts") and the Pow, which says
 * nothing of the cause. One issue, at the Sub, names it instead.
 */
function explainLayerNorm(issues: Issue[], model: ModelProto): Issue[] {
  const g = model.graph;
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  const covered = new Map<number, number>();
  g.node.forEach((pow, p) => {
    if (pow.opType !== 'Pow') return;
    const s = producer.get(pow.input[0] ?? '');
    const sub = s === undefined ? undefined : g.node[s];
    if (sub?.opType !== 'Sub') return;
    const r = producer.get(sub.input[1] ?? '');
    const mean = r === undefined ? undefined : g.node[r];
    if (mean?.opType !== 'ReduceMean' || mean.input[0] !== sub.input[0]) return;
    covered.set(s!, s!).set(p, s!).set(r!, s!);
  });
  if (covered.size === 0) return issues;
  const out: Issue[] = [];
  for (const i of issues) {
    const at = covered.get(i.index);
    if (at === undefined) out.push(i);
    else if (!out.some((o) => o.index === at)) out.push({ index: at, node: g.node[at]!, reason: `normalizes each step over its features: x - mean(x), then divided by sqrt(mean((x - mean(x))^2) + eps) (nn.LayerNorm as PyTorch exports it before opset 17); ${LAYER_NORM}` });
  }
  return out;
}

function unsupportedReport(source: string, allIssues: Issue[], model: ModelProto): EdgeRnnError {
  const issues = explainLayerNorm(allIssues, model);
  const lines = issues.map((i) => {
    const n = i.node;
    return `  - node ${i.index} '${n.name || '(unnamed)'}' (${n.domain ? `${n.domain}.` : ''}${n.opType}), [${n.input.join(', ')}] -> [${n.output.join(', ')}]: ${i.reason}`;
  });
  return new EdgeRnnError(
    'ONNX_UNSUPPORTED',
    [
      `${source}: edgernn cannot compile ${issues.length} of ${model.graph.node.length} nodes:`,
      ...lines,
      `edgernn compiles GRU, LSTM and RNN layers with Gemm/MatMul heads and the glue around them (${SUPPORTED_OPS.join(', ')}).`,
      // PyTorch's nn.GRUCell/LSTMCell (alone or in a Python loop) export as Gemm/Sigmoid/Tanh/Mul
      // arithmetic; the report then lists steps and state inputs, which does not say what to change.
      ...(repeatedIntoRecurrent(model) && !issues.some((i) => i.reason.includes('RepeatVector')) ? [`The input of ${nodeLabel(repeatedIntoRecurrent(model)!)} is a value repeated over time by Expand/Tile ${REPEAT_VECTOR}.`] : []),
      ...(packingSort(model) ? [`The graph sorts the batch for ${PACKING}.`] : []),
      ...(model.graph.node.some((n) => n.opType === 'GRU' || n.opType === 'LSTM' || n.opType === 'RNN')
        ? []
        : ['The graph has no GRU, LSTM or RNN node: PyTorch exports nn.GRUCell/nn.LSTMCell (and loops over them) as plain arithmetic. Export nn.GRU/nn.LSTM/nn.RNN instead; a cell\'s weights load into layer 0 (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0).']),
      'Run this model unchanged with the onnxruntime-web backend: OrtWebModel.create(bytes) from edgernn (src/onnx/ort-web-backend.ts).',
    ].join('\n'),
    { source, nodes: issues.map((i) => ({ index: i.index, name: i.node.name, opType: i.node.opType, reason: i.reason })) },
  );
}

function defaultOpset(model: ModelProto, source: string): number {
  const ids = model.opsetImport.filter((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (ids.length === 0) throw invalid(`${source}: the model imports no version of the default ONNX domain (opset_import)`);
  const v = ids[0]!.version;
  if (v < MIN_OPSET || v > MAX_OPSET) {
    throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: opset ${v} is outside the ${MIN_OPSET}..${MAX_OPSET} range edgernn implements; convert it (onnx.version_converter) or use the onnxruntime-web backend`, { opset: v });
  }
  return v;
}

/** X's feature count when its declared last dimension is symbolic: from the first consuming weight. */
function inferFeatures(model: ModelProto, xName: string, consts: Map<string, ConstValue>): number | null {
  // Nodes by their first input, in graph order: scanning every node per name took minutes on a
  // chain of 40,000 Identity nodes (a 1.4 MB file).
  const byFirstInput = new Map<string, NodeProto[]>();
  for (const n of model.graph.node) {
    const list = byFirstInput.get(n.input[0] ?? '');
    if (list) list.push(n);
    else byFirstInput.set(n.input[0] ?? '', [n]);
  }
  const frontier = [xName];
  const seen = new Set<string>();
  for (let at = 0; at < frontier.length; at++) {
    const name = frontier[at]!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const n of byFirstInput.get(name) ?? []) {
      const w = consts.get(n.input[1] ?? '');
      if ((n.opType === 'GRU' || n.opType === 'LSTM' || n.opType === 'RNN') && w?.dims.length === 3) return w.dims[2]!;
      if (n.opType === 'MatMul' && w?.dims.length === 2) return w.dims[0]!;
      if (n.opType === 'Gemm' && w?.dims.length === 2) return w.dims[new Attrs(n).int('transB', 0) ? 1 : 0]!;
      if (['Identity', 'Cast', 'Transpose', 'Unsqueeze', 'Squeeze', 'Dropout'].includes(n.opType)) for (const o of n.output) frontier.push(o);
    }
  }
  return null;
}

/**
 * The first of `inputs` that reaches the X (input 0) of a recurrent node without passing through
 * one: the sequence, where a state input (PyTorch `forward(h0, x)` lists h0 first) reaches only
 * initial_h/initial_c.
 */
function recurrentSequenceInput(model: ModelProto, inputs: ValueInfoProto[]): ValueInfoProto | undefined {
  // Walked back once from every recurrent X through the nodes that are not recurrent: a walk
  // forward from each input took minutes with 20,000 inputs feeding a chain of 20,000 nodes.
  const producers = new Map<string, NodeProto[]>();
  for (const n of model.graph.node) {
    for (const o of n.output) {
      if (o === '') continue;
      const list = producers.get(o);
      if (list) list.push(n);
      else producers.set(o, [n]);
    }
  }
  const reaches = new Set<string>();
  const queue: string[] = [];
  const add = (v: string) => {
    if (v === '' || reaches.has(v)) return;
    reaches.add(v);
    queue.push(v);
  };
  for (const n of model.graph.node) if (n.opType === 'GRU' || n.opType === 'LSTM' || n.opType === 'RNN') add(n.input[0] ?? '');
  for (let at = 0; at < queue.length; at++) {
    for (const n of producers.get(queue[at]!) ?? []) {
      if (n.opType === 'GRU' || n.opType === 'LSTM' || n.opType === 'RNN') continue;
      for (const i of n.input) add(i);
    }
  }
  return inputs.find((input) => reaches.has(input.name));
}

/**
 * Whether the graph moves axis 2 of X to the front (a Transpose with perm [0, 2, 1] or [2, 0, 1]
 * on X, through ops that keep its axes) and has a recurrent node: a channels-first model
 * (x.permute(0, 2, 1) in front of nn.GRU). Without that sign [batch, F, seq] is not guessed: a
 * graph without one can often be read both ways (a Relu on X [seq, 1, 2^40] would compile as
 * one feature over 2^40 steps).
 */
function movesAxis2Forward(model: ModelProto, xName: string): boolean {
  const nodes = model.graph.node;
  if (!nodes.some((n) => n.opType === 'GRU' || n.opType === 'LSTM' || n.opType === 'RNN')) return false;
  // Ops that keep [N, C, T] as it is: a Conv1d / BatchNorm1d / activation front end on
  // channels-first data comes before the permute.
  const keeps = new Set(['Identity', 'Cast', 'Dropout', 'Conv', 'BatchNormalization', 'Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Add', 'Sub', 'Mul', 'Div']);
  const names = new Set([xName]);
  for (const n of nodes) {
    if (!names.has(n.input[0] ?? '')) continue;
    if (keeps.has(n.opType)) names.add(n.output[0] ?? '');
    const perm = n.opType === 'Transpose' ? new Attrs(n).ints('perm') : undefined;
    if (perm?.length === 3 && (perm[0] === 2 || perm[1] === 2)) return true;
  }
  return false;
}

function layoutCandidates(rank: number, dims: (number | string | null)[], forced: InputLayout | undefined, channelsFirst: boolean): InputLayout[] {
  if (forced) return [forced];
  if (rank === 2) return ['TF'];
  if (rank !== 3) return [];
  // A concrete dim 0 with a symbolic dim 1 looks batch-first. Channels first ([batch, F, seq]:
  // a model that permutes [B, C, T] sensor data before its nn.GRU) comes last: it was not tried,
  // and such a model was refused at its shape glue ("depends on the sequence length").
  // (Its feature count, dimension 1, must be declared.)
  const bft: InputLayout[] = channelsFirst && typeof dims[1] === 'number' && dims[1] > 0 ? ['BFT'] : [];
  return typeof dims[0] === 'number' && typeof dims[1] !== 'number' ? ['BTF', 'TBF', ...bft] : ['TBF', 'BTF', ...bft];
}

/**
 * An edgernn export of a model that starts from a non-zero state keeps those values in metadata
 * (a state input carries none): they become the state inputs' values unless bound by the caller
 * (or initializers). Converted without them, such a model started from zeros (0.085 off on a GRU
 * of 8 units).
 */
function bindExportedInitialState(model: ModelProto, consts: Map<string, ConstValue>): string[] {
  const r = readInitialStateMetadata(model);
  if (r === null) return [];
  if ('ignored' in r) return [r.ignored];
  const used = [...r.values].filter(([name]) => !consts.has(name));
  for (const [name, v] of used) consts.set(name, constOf(ONNX_DTYPES.FLOAT, v.dims, v.data));
  return used.length ? [`initial state of ${used.map(([name]) => `'${name}'`).join(', ')} from ONNX metadata '${INITIAL_STATE_KEY}' (edgernn export)`] : [];
}

/**
 * Elements a folded node allocated: outputs that are not an input's data (Reshape, Identity
 * share it); a Constant's elements are the file's own.
 */
function foldedElements(node: NodeProto, inputs: (Value | undefined)[], outs: Value[]): number {
  if (node.opType === 'Constant') return 0;
  let n = 0;
  for (const o of outs) if (o.kind === 'const' && !inputs.some((i) => i?.kind === 'const' && i.data === o.data)) n += o.data.length;
  return n;
}

/** Compiles the graph outputs of an ONNX model (see the file comment). */
export function importOnnx(input: Uint8Array | ArrayBuffer | ArrayBufferView | ModelProto, opts: ImportOptions = {}): OnnxImport {
  const source = opts.source ?? 'model.onnx';
  // A decoded ModelProto, or the file's bytes.
  const decoded = typeof input === 'object' && input !== null && 'graph' in input && 'opsetImport' in input;
  const model = decoded ? (input as ModelProto) : decodeModelProto(fileBytes(input, source, 'importOnnx()'), source);
  const g = model.graph;
  const opset = defaultOpset(model, source);
  if (g.sparseInitializerCount > 0) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: sparse initializers are not supported`);

  const consts = new Map<string, ConstValue>();
  for (const t of g.initializer) consts.set(t.name, tensorToConst(t));
  for (const [name, t] of Object.entries(opts.bind ?? {})) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new EdgeRnnError('SHAPE_MISMATCH', `${source}: bound input '${name}' has ${t.data.length} values for dims [${t.dims}] (${n})`, { input: name });
    consts.set(name, constOf(t.dataType ?? ONNX_DTYPES.FLOAT, t.dims, t.data));
  }
  const stateNotes = bindExportedInitialState(model, consts);
  const unbound = g.input.filter((v) => !consts.has(v.name));
  const xInfo = opts.sequenceInput !== undefined ? g.input.find((v) => v.name === opts.sequenceInput) : (recurrentSequenceInput(model, unbound) ?? unbound[0]);
  if (!xInfo) {
    throw invalid(opts.sequenceInput !== undefined ? `${source}: the graph has no input '${opts.sequenceInput}'` : `${source}: every graph input has a value: there is no sequence input`);
  }
  if (xInfo.elemType !== 0 && xInfo.elemType !== ONNX_DTYPES.FLOAT && xInfo.elemType !== ONNX_DTYPES.DOUBLE && xInfo.elemType !== ONNX_DTYPES.FLOAT16) {
    throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: sequence input '${xInfo.name}' has element type ${xInfo.elemType}; edgernn models take float frames`);
  }
  consts.delete(xInfo.name);
  const declared: (number | string | null)[] = opts.inputDims ?? xInfo.shape ?? [];
  if (declared.length === 0) throw invalid(`${source}: the shape of sequence input '${xInfo.name}' is unknown; pass inputDims`);
  const rank = declared.length;
  const candidates = layoutCandidates(rank, declared, opts.inputLayout, movesAxis2Forward(model, xInfo.name));
  if (candidates.length === 0) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: sequence input '${xInfo.name}' has rank ${rank}; edgernn takes [seq, batch, features], [batch, seq, features] or [seq, features]`);
  // The feature count of each layout: its declared dimension, else the width of the first weight.
  let inferred: number | null | undefined;
  const featuresOf = (layout: InputLayout): number => {
    const fPos = layout === 'BFT' ? 1 : rank - 1;
    const d = declared[fPos];
    if (typeof d === 'number' && d > 0) return d;
    inferred ??= inferFeatures(model, xInfo.name, consts);
    if (inferred === null) throw invalid(`${source}: cannot tell how many features '${xInfo.name}' has (its dimension ${fPos} is ${JSON.stringify(d)})`);
    return inferred;
  };

  // Try each layout of X; a wrong guess fails somewhere (a recurrent node sees batch where it
  // needs time, or shape glue computes with the wrong axis). Report the most specific failure.
  const failures: { layout: InputLayout; error: unknown }[] = [];
  for (const layout of candidates) {
    try {
      const r = evaluate(model, opts, source, opset, consts, xInfo.name, layout, declared, featuresOf(layout), g.input);
      r.notes.unshift(...stateNotes);
      return r;
    } catch (e) {
      if (!(e instanceof LayoutMismatch) && !isEdgeRnnError(e)) throw e;
      failures.push({ layout, error: e });
    }
  }
  const rank2 = (e: unknown): number => (e instanceof LayoutMismatch ? 1e9 : isEdgeRnnError(e, 'ONNX_UNSUPPORTED') ? ((e.details.nodes as unknown[] | undefined)?.length ?? 1) : 0);
  // Equal counts: the layout that compiled further (its first refused node comes later) is the
  // right one; a wrong guess usually fails in the shape glue ahead of the recurrent nodes.
  // (A reduce: Math.min(...list) overflows the stack on a report of 200,000 nodes.)
  const reach = (e: unknown): number => (isEdgeRnnError(e, 'ONNX_UNSUPPORTED') ? ((e.details.nodes as { index: number }[] | undefined) ?? []).reduce((m, n) => Math.min(m, n.index), Infinity) : 0);
  // Channels first is the last guess: its failure is reported only when it compiled further
  // than every other layout (a channels-first model refused for another reason), else a
  // [batch, seq, F] model got the wrong guess's complaint.
  // (The others' ONNX_INVALID, such as "cannot tell how many features" from a symbolic last
  // dimension, reach nothing.)
  const otherReach = Math.max(-1, ...failures.filter((f) => f.layout !== 'BFT' && isEdgeRnnError(f.error, 'ONNX_UNSUPPORTED')).map((f) => reach(f.error)));
  const bftFirst = (f: (typeof failures)[number]): boolean => isEdgeRnnError(f.error, 'ONNX_UNSUPPORTED') && reach(f.error) > otherReach;
  const key = (f: (typeof failures)[number]): number => (f.layout !== 'BFT' ? rank2(f.error) : bftFirst(f) ? -1 : Infinity);
  failures.sort((a, b) => key(a) - key(b) || reach(b.error) - reach(a.error));
  const best = failures[0]!.error;
  if (best instanceof LayoutMismatch) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: no layout of '${xInfo.name}' [${declared.join(', ')}] fits the graph: ${best.message}`);
  throw best;
}

function evaluate(
  model: ModelProto,
  opts: ImportOptions,
  source: string,
  opset: number,
  consts: Map<string, ConstValue>,
  xName: string,
  layout: InputLayout,
  declared: (number | string | null)[],
  features: number,
  graphInputs: ModelProto['graph']['input'],
): OnnxImport {
  const g = model.graph;
  const roles = layout === 'TBF' ? (['T', 'B', 'F'] as const) : layout === 'BTF' ? (['B', 'T', 'F'] as const) : layout === 'BFT' ? (['B', 'F', 'T'] as const) : (['T', 'F'] as const);
  const tDim = declared[roles.indexOf('T')];
  const bPos = (roles as readonly string[]).indexOf('B');
  const bDim = bPos >= 0 ? declared[bPos] : 1;
  const staticT = typeof tDim === 'number' && tDim > 0 ? tDim : null;
  const batch = typeof bDim === 'number' && bDim > 0 ? bDim : 1;
  const batchIndex = opts.batchIndex ?? 0;
  if (!(batchIndex >= 0 && batchIndex < batch)) throw invalid(`${source}: batchIndex ${batchIndex} is outside the batch of ${batch}`);

  const values = new Map<string, Value>();
  for (const [k, v] of consts) values.set(k, v);
  for (const gi of graphInputs) if (!values.has(gi.name) && gi.name !== xName) values.set(gi.name, { kind: 'free', name: gi.name });
  values.set(xName, inputValue(roles, features, batch));

  // Demand: nodes the requested outputs depend on.
  const wanted = opts.outputs ?? g.output.map((o) => o.name);
  const outputNames = new Set(g.output.map((o) => o.name));
  for (const w of wanted) if (!outputNames.has(w)) throw invalid(`${source}: the graph has no output '${w}' (outputs: ${g.output.map((o) => o.name).join(', ')})`);
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  const needed = new Set<number>();
  const stack = [...wanted];
  while (stack.length) {
    const name = stack.pop()!;
    const i = producer.get(name);
    if (i === undefined || needed.has(i)) continue;
    needed.add(i);
    // One by one: a spread of a node with 300,000 inputs overflows the stack.
    for (const s of g.node[i]!.input) if (s !== '') stack.push(s);
  }

  const issues: Issue[] = [];
  const notes: string[] = [];
  const reported = new WeakSet<object>();
  const layerNodes = new Map<Layer, string>();
  let folded = 0;
  g.node.forEach((node, index) => {
    if (!needed.has(index)) return;
    const label = nodeLabel(node);
    const poisonAll = () => node.output.forEach((o) => o && values.set(o, { kind: 'poison' }));
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      issues.push({ index, node, reason: `operator domain '${node.domain}' is not supported` });
      poisonAll();
      return;
    }
    const dynOp = DYN_OPS[node.opType];
    const constOp = CONST_OPS[node.opType];
    if (!dynOp && !constOp) {
      issues.push({ index, node, reason: unknownOpReason(node) });
      poisonAll();
      return;
    }
    const inputs: (Value | undefined)[] = node.input.map((name) => {
      if (name === '') return undefined;
      const v = values.get(name);
      if (v === undefined) throw invalid(`${source}: ${label} reads '${name}', which no earlier node, initializer or graph input provides`, { node: node.name, input: name });
      return v;
    });
    const poisoned = inputs.filter((v): v is Extract<Value, { kind: 'poison' }> => v?.kind === 'poison');
    if (poisoned.length) {
      const reasons: string[] = [];
      for (const p of poisoned) {
        if (p.reason && !reported.has(p)) {
          reported.add(p);
          if (!reasons.includes(p.reason)) reasons.push(p.reason);
        }
      }
      // One line for the same problem from several nodes (a Concat of every layer's Y_c: c_n).
      const split = reasons.map((r) => /^(.+?'[^']*'): (.*)$/s.exec(r));
      const common = split[0]?.[2];
      if (reasons.length > 1 && split.every((m) => m && m[2] === common)) issues.push({ index, node, reason: `${split.map((m) => m![1]).join(', ')}: ${common}` });
      else for (const reason of reasons) issues.push({ index, node, reason });
      poisonAll();
      return;
    }
    const attrs = new Attrs(node);
    const ctx: ImportCtx = { node, attrs, opset, label, batchIndex, staticT, opts, layerNodes, note: (m) => notes.push(m) };
    let outs: Value[];
    try {
      // h_n of stacked layers: a selection of the last layer's entries, or passed along unchanged.
      const stack = inputs.find((v) => v?.kind === 'stack') as StackValue | undefined;
      const stackOps = ['Gather', 'Slice', 'Identity', 'Dropout', 'Cast'];
      if (stack && (!stackOps.includes(node.opType) || inputs.indexOf(stack) !== 0)) throw unsupported(stackUseReason(ctx, stack));
      // Dropout's ratio matters in training mode only (dropoutInference).
      const frees = (node.opType === 'Dropout' ? [inputs[0], inputs[2]] : inputs).filter((v) => v?.kind === 'free') as { kind: 'free'; name: string }[];
      const stateOps = node.opType === 'GRU' || node.opType === 'LSTM' || node.opType === 'RNN';
      const passOps = node.opType === 'Identity' || node.opType === 'Cast' || node.opType === 'Dropout';
      if (node.opType === 'Dropout') dropoutInference(ctx, inputs);
      // A pass-through of an unbound graph input stays unbound (not Dropout's ratio or training_mode),
      // and so does a part of one: PyTorch slices a state input h0 [layers * dirs, batch, H] into
      // each stacked layer's initial_h, which was refused as "graph input 'h0' has no value".
      const selectOps = node.opType === 'Slice' || node.opType === 'Gather' || node.opType === 'Split' || node.opType === 'Squeeze' || node.opType === 'Unsqueeze' || node.opType === 'Reshape' || node.opType === 'Transpose';
      if (inputs[0]?.kind === 'free' && passOps) outs = [inputs[0]];
      else if (inputs[0]?.kind === 'free' && selectOps && frees.length === 1) outs = node.output.map(() => inputs[0]!);
      else if (frees.length && !stateOps) {
        // forward(x, mask): a second input; the sequence input is the one named here.
        const f = frees[0]!.name;
        throw unsupported(`graph input '${f}' has no value: edgernn models take one input, the sequence '${xName}'; export without '${f}' (a padding mask or lengths have nothing to mask in one unpadded sequence), or bind it to a constant (importOnnx(bytes, { bind: { ${f}: { dims, data } } })) or make it an initializer`);
      }
      else if (constOp && inputs.every((v) => v === undefined || v.kind === 'const')) {
        outs = constOp(ctx, inputs as (ConstValue | undefined)[]);
        folded += foldedElements(node, inputs, outs);
        if (folded > MAX_FOLDED_ELEMENTS) {
          throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: ${label}: the constants folded so far hold ${folded} elements, over the ${MAX_FOLDED_ELEMENTS} edgernn folds for one model`, { node: node.name, folded });
        }
      }
      else if (dynOp) outs = dynOp(ctx, inputs);
      else throw unsupported(`operator ${node.opType} is supported on constants only, here it reads the input sequence`);
    } catch (e) {
      if (e instanceof NodeUnsupported) {
        issues.push({ index, node, reason: e.message.replace(`${label}: `, '').replace(`${label} `, '') });
        poisonAll();
        return;
      }
      throw e;
    }
    node.output.forEach((o, k) => {
      if (!o) return;
      values.set(o, outs[k] ?? { kind: 'poison', reason: `${label}: output ${k} is not supported` });
    });
  });

  const outputs: OnnxOutput[] = [];
  for (const name of wanted) {
    const v = values.get(name);
    const idx = producer.get(name) ?? -1;
    const node = g.node[idx];
    if (v === undefined) throw invalid(`${source}: output '${name}' is not produced by any node`);
    if (v.kind === 'poison') {
      if (v.reason && !reported.has(v) && node) issues.push({ index: idx, node, reason: v.reason });
      continue;
    }
    if (v.kind === 'free') {
      throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: output '${name}' is the unbound graph input '${v.name}'`);
    }
    if (v.kind === 'stack') {
      if (node) issues.push({ index: idx, node, reason: stackOutputReason(v) });
      continue;
    }
    if (v.kind === 'const') {
      if (v.sym) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: output '${name}' is the sequence length (a shape), not model output`);
      outputs.push({ name, kind: 'const', layers: [], time: 'seq', finalAt: -1, stepLimit: null, limitAt: -1, axes: v.dims.map((d) => ({ role: 'U', size: d })), constant: { dims: v.dims, data: v.data } });
      continue;
    }
    let m: DynValue;
    try {
      m = materialize(canonicalize(v), 'none');
    } catch (e) {
      // A linear map too large to fold (values.ts checkLinearSize), reported at the output's node.
      if (!(e instanceof NodeUnsupported)) throw e;
      if (!node) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${source}: output '${name}': ${e.message}`);
      issues.push({ index: idx, node, reason: e.message });
      continue;
    }
    outputs.push({
      name,
      kind: 'dyn',
      layers: m.base.layers,
      time: m.base.time,
      finalAt: m.base.finalAt,
      stepLimit: m.base.stepLimit,
      limitAt: m.base.limitAt,
      axes: m.axes.map((a) => ({ role: a.role, size: a.size })),
    });
  }
  if (issues.length) throw unsupportedReport(source, issues, model);
  return { model, source, opset, input: { name: xName, layout, features, batch, staticT }, outputs, notes };
}

export interface SpecOptions {
  /** Which graph output becomes the model output (default: the first). */
  output?: string;
  /** Model name, over the one in the metadata. */
  name?: string;
  /** Model name without one in the metadata (default: the graph name). */
  fallbackName?: string;
  /** Receives what was read from the model's edgernn metadata, or why it was ignored (metadata.ts). */
  notes?: string[];
}

/**
 * Final states of a bidirectional layer of which the next layer (the dense layer of the head, or
 * of the selection itself) reads the forward half only: that half is the layer's output at the
 * last step (full-length sequences), e.g. PyTorch's h_n[-2] of a bidirectional nn.GRU.
 */
function forwardHalfOnly(out: OnnxOutput): boolean {
  const L = out.layers[out.finalAt];
  const next = out.layers[out.finalAt + 1];
  if (!L || !isRecurrent(L) || L.direction !== 'bidirectional' || out.stepLimit !== null) return false;
  if (next?.kind !== 'dense' || !next.float) return false;
  const H = L.hiddenSize;
  const I = next.inputSize;
  for (let o = 0; o < next.outputSize; o++) for (let i = H; i < 2 * H; i++) if (next.float.W[o * I + i] !== 0) return false;
  return true;
}

/**
 * The float32 ModelSpec of one imported output. It must be computable frame by frame: every
 * step ('seq'), or the last step / final state of forward layers (the spec then outputs every
 * step and the ONNX output is its last one; manifest extra.onnx says which).
 */
export function onnxToSpec(imp: OnnxImport, opts: SpecOptions = {}): ModelSpec {
  checkObjectArgument(imp, 'onnxToSpec()', 'the result of importOnnx()', ['model', 'outputs', 'input']);
  const out = opts.output !== undefined ? imp.outputs.find((o) => o.name === opts.output) : imp.outputs[0];
  if (!out) throw new EdgeRnnError('ONNX_INVALID', `${imp.source}: the model has no compiled output '${opts.output}' (have ${imp.outputs.map((o) => o.name).join(', ')})`);
  // Prefixed with the file, as the importer's errors are (a script converting many files could not tell which).
  const what = `${imp.source}: output '${out.name}'`;
  if (out.kind === 'const') throw new EdgeRnnError('ONNX_UNSUPPORTED', `${what} does not depend on the input`);
  if (out.layers.length === 0) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${what} is the input itself: there are no layers to compile`);
  if (out.stepLimit !== null) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${what} uses a constant sequence_lens (${out.stepLimit}); streaming models run on full sequences`);
  let step: 'all' | 'last' = 'all';
  if (out.time === 'first') throw new EdgeRnnError('ONNX_UNSUPPORTED', `${what} is the first step of the sequence; edgernn models output every step or the last`);
  if (out.time === 'last') step = 'last';
  if (out.time === 'final') {
    const L = out.layers[out.finalAt]!;
    if (isRecurrent(L) && L.direction !== 'forward' && !forwardHalfOnly(out)) {
      const hint = L.direction === 'bidirectional' ? ` (PyTorch: h_n[-1] of a bidirectional layer is its backward direction; h_n[-2], the forward one, compiles; Keras: Bidirectional with return_sequences=False merges these final states)` : '';
      throw new EdgeRnnError('ONNX_UNSUPPORTED', `${what} reads the final state of a ${L.direction} layer (Y_h / h_n)${hint}, which is not the output of any one step; use the layer's Y at the last step instead, or the onnxruntime-web backend`);
    }
    if (out.layers.slice(out.finalAt + 1).some(isRecurrent)) throw new EdgeRnnError('ONNX_UNSUPPORTED', `${what} feeds a final state into another recurrent layer`);
    step = 'last';
  }
  const g = imp.model.graph;
  const producer = [imp.model.producerName, imp.model.producerVersion].filter(Boolean).join(' ');
  const outputSize = modelOutputSize({ layers: out.layers, input: { size: imp.input.features, frontend: { kind: 'none' } } });
  const meta = readSpecMetadata(imp.model, imp.input.features, outputSize, imp.source);
  if (meta.note) opts.notes?.push(meta.note);
  const info = meta.info;
  const spec: ModelSpec = {
    name: opts.name ?? info?.name ?? opts.fallbackName ?? (g.name || 'onnx-model'),
    version: info?.version ?? '1.0.0',
    task: info?.task ?? 'custom',
    labels: info?.labels ?? [],
    input: info?.input ?? { size: imp.input.features, frontend: { kind: 'none' } },
    precision: 'float32',
    layers: out.layers,
    // The exported model's own training record, kept apart: this model is a conversion of it. A
    // record that is itself a conversion's passes its original on: each round trip nested one more
    // level, burying the dataset hash (and the writer refuses 64 levels).
    training: { source: 'onnx', ...(producer ? { producer } : {}), opset: imp.opset, ...(info ? { original: originalTraining(info.training) } : {}) },
    extra: { ...info?.extra, onnx: { input: imp.input.name, inputLayout: imp.input.layout, output: out.name, step } },
  };
  if (info?.description !== undefined) spec.description = info.description;
  return spec;
}

/** The training record a conversion keeps: the trained model's, not an earlier conversion's. */
function originalTraining(t: ModelSpec['training']): ModelSpec['training'] {
  const o = (t as { source?: unknown; original?: unknown }).original;
  return t.source === 'onnx' && typeof o === 'object' && o !== null ? (o as ModelSpec['training']) : t;
}

