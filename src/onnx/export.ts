/**
 * ModelSpec -> ONNX (float32). int8 specs are dequantized first (dequantize.ts), so the ONNX
 * model computes what the integer kernels approximate.
 *
 * I/O contract (docs/onnx.md), made for stepping a model one frame at a time:
 *   X        float32 [seq, 1, inputSize]     frames, batch fixed at 1
 *   h0_<li>  float32 [dirs, 1, hidden]       state input: hidden state of spec.layers[li]
 *   c0_<li>  float32 [dirs, 1, hidden]       state input: cell state (LSTM)
 *   Y        float32 [seq, 1, outputSize]    model output for every step
 *   hN_<li>  float32 [dirs, 1, hidden]       final hidden state of layer li
 *   cN_<li>  float32 [dirs, 1, hidden]       final cell state (LSTM)
 * State inputs are required graph inputs: feed onnxInitialState(spec) on the first call and
 * hN/cN of the previous call after that. (An initializer listed as a graph input would make
 * them optional in ONNX, but onnxruntime's JavaScript bindings cannot feed such inputs.)
 * A state input carries no value, so when a layer starts from a non-zero state the first-call
 * values are written to metadata_props INITIAL_STATE_KEY (JSON { h0_<li>: [...], ... }, every
 * state input): without it the file alone could not reproduce the model.
 * With { stateInputs: false } the initial state is a constant and only X is an input.
 *
 * Graph per layer (opset 17):
 *   recurrent: GRU/LSTM/RNN (layout 0) -> Y [seq, dirs, 1, H]
 *              dirs = 1: Squeeze(axis 1); dirs = 2: Transpose(0,2,1,3) + Reshape(0,0,-1)
 *              -> [seq, 1, dirs*H], forward half first (the spec's output order)
 *   dense:     MatMul(W^T) + Add(B) [+ Relu | Sigmoid | Tanh]
 *   softmax / logSoftmax: Softmax / LogSoftmax on axis -1
 */
import { EdgeRnnError } from '../errors.js';
import { checkSpecArgument, GATES, isRecurrent, numDirections, type Activation, type ModelSpec, type RecurrentLayer } from '../model/spec.js';
import { ACTIVATION_DEFAULTS } from '../runtime/float/activations.js';
import { dequantizeModel } from './dequantize.js';
import { INITIAL_STATE_KEY, specMetadata } from './metadata.js';

export { INITIAL_STATE_KEY };
import {
  ONNX_DTYPES,
  attrFloat,
  attrFloats,
  attrInt,
  attrInts,
  attrString,
  attrStrings,
  encodeModelProto,
  tensor,
  valueInfo,
  type MetadataEntry,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js';

export const EXPORT_OPSET = 17;
export const EXPORT_IR_VERSION = 8;
const F32 = ONNX_DTYPES.FLOAT;
const I64 = ONNX_DTYPES.INT64;

/** Which ONNX activations take alpha / beta (ONNX RNN ops; consumed in list order). */
export const ACTIVATION_PARAMS: Readonly<Record<Activation['name'], { alpha: boolean; beta: boolean }>> = {
  Sigmoid: { alpha: false, beta: false },
  Tanh: { alpha: false, beta: false },
  Relu: { alpha: false, beta: false },
  Affine: { alpha: true, beta: true },
  LeakyRelu: { alpha: true, beta: false },
  ThresholdedRelu: { alpha: true, beta: false },
  ScaledTanh: { alpha: true, beta: true },
  HardSigmoid: { alpha: true, beta: true },
  Elu: { alpha: true, beta: false },
  Softsign: { alpha: false, beta: false },
  Softplus: { alpha: false, beta: false },
};

/** Names of the state tensors of spec.layers[li]. */
export function stateNames(li: number): { h0: string; c0: string; hN: string; cN: string } {
  return { h0: `h0_${li}`, c0: `c0_${li}`, hN: `hN_${li}`, cN: `cN_${li}` };
}

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private n = 0;

  node(opType: string, input: string[], output: string[], attribute: NodeProto['attribute'] = []): void {
    this.nodes.push({ name: `${opType.toLowerCase()}_${this.n++}`, opType, domain: '', input, output, attribute });
  }

  init(name: string, dataType: number, dims: number[], data: ArrayLike<number>): string {
    this.inits.push(tensor(name, dataType, dims, data));
    return name;
  }
}

export interface ExportOptions {
  /** Declare h0_<li>/c0_<li> as graph inputs (default true); false bakes the initial state in. */
  stateInputs?: boolean;
}

/**
 * The metadata entry of the first-call state values, or null when they are all zero (feeding
 * zeros is then right) or there are no state inputs.
 */
export function initialStateMetadata(spec: ModelSpec, opts: ExportOptions = {}): MetadataEntry | null {
  if (!(opts.stateInputs ?? true) || nonZeroInitialState(spec).length === 0) return null;
  const state = onnxInitialState(spec);
  return { key: INITIAL_STATE_KEY, value: JSON.stringify(Object.fromEntries(Object.entries(state).map(([k, v]) => [k, Array.from(v.data)]))) };
}

/** Indices of the recurrent layers that start from a non-zero hidden or cell state. */
export function nonZeroInitialState(spec: ModelSpec): number[] {
  return spec.layers.flatMap((layer, li) => {
    if (!isRecurrent(layer)) return [];
    const w = layer.float ?? layer.quant;
    return [w?.initialH, w?.initialC].some((v) => v?.some((x) => x !== 0)) ? [li] : [];
  });
}

/** The initial state feeds of an exported model: { h0_<li> / c0_<li>: [dirs, 1, hidden] values }. */
export function onnxInitialState(spec: ModelSpec): Record<string, { dims: number[]; data: Float32Array }> {
  const out: Record<string, { dims: number[]; data: Float32Array }> = {};
  spec.layers.forEach((layer, li) => {
    if (!isRecurrent(layer)) return;
    const D = numDirections(layer);
    const H = layer.hiddenSize;
    const w = layer.float ?? layer.quant;
    const names = stateNames(li);
    out[names.h0] = { dims: [D, 1, H], data: Float32Array.from(w?.initialH ?? new Float32Array(D * H)) };
    if (layer.kind === 'lstm') out[names.c0] = { dims: [D, 1, H], data: Float32Array.from(w?.initialC ?? new Float32Array(D * H)) };
  });
  return out;
}

function recurrentNode(g: GraphBuilder, layer: RecurrentLayer, li: number, x: string, stateInputs: boolean): string {
  const w = layer.float!;
  const H = layer.hiddenSize;
  const I = layer.inputSize;
  const G = GATES[layer.kind];
  const D = numDirections(layer);
  const p = `layers.${li}`;
  const names = stateNames(li);
  const W = g.init(`${p}.W`, F32, [D, G * H, I], w.W);
  const R = g.init(`${p}.R`, F32, [D, G * H, H], w.R);
  const B = w.B ? g.init(`${p}.B`, F32, [D, 2 * G * H], w.B) : '';
  const state = (name: string, init: Float32Array | undefined): string => {
    if (stateInputs) g.inputs.push(valueInfo(name, F32, [D, 1, H]));
    else g.init(name, F32, [D, 1, H], init ?? new Float32Array(D * H));
    return name;
  };
  const h0 = state(names.h0, w.initialH);
  const inputs = [x, W, R, B, '', h0];
  const outputs = [`${p}.Y`, names.hN];
  g.outputs.push(valueInfo(names.hN, F32, [D, 1, H]));
  if (layer.kind === 'lstm') {
    inputs.push(state(names.c0, w.initialC));
    if (w.P) inputs.push(g.init(`${p}.P`, F32, [D, 3 * H], w.P));
    outputs.push(names.cN);
    g.outputs.push(valueInfo(names.cN, F32, [D, 1, H]));
  }
  const attrs = [attrInt('hidden_size', H), attrString('direction', layer.direction), attrStrings('activations', layer.activations.map((a) => a.name))];
  const alphas: number[] = [];
  const betas: number[] = [];
  for (const a of layer.activations) {
    const use = ACTIVATION_PARAMS[a.name];
    if (use.alpha) alphas.push(a.alpha ?? ACTIVATION_DEFAULTS[a.name].alpha);
    if (use.beta) betas.push(a.beta ?? ACTIVATION_DEFAULTS[a.name].beta);
  }
  if (alphas.length) attrs.push(attrFloats('activation_alpha', alphas));
  if (betas.length) attrs.push(attrFloats('activation_beta', betas));
  if (layer.clip !== undefined) attrs.push(attrFloat('clip', layer.clip));
  if (layer.kind === 'gru' && layer.linearBeforeReset) attrs.push(attrInt('linear_before_reset', 1));
  if (layer.kind === 'lstm' && layer.inputForget) attrs.push(attrInt('input_forget', 1));
  g.node(layer.kind.toUpperCase(), inputs, outputs, attrs);
  // Y [seq, dirs, 1, H] -> [seq, 1, dirs * H]
  const out = `${p}.out`;
  if (D === 1) {
    g.node('Squeeze', [`${p}.Y`, g.init(`${p}.squeeze_axes`, I64, [1], [1])], [out]);
  } else {
    g.node('Transpose', [`${p}.Y`], [`${p}.Yt`], [attrInts('perm', [0, 2, 1, 3])]);
    g.node('Reshape', [`${p}.Yt`, g.init(`${p}.shape`, I64, [3], [0, 0, -1])], [out]);
  }
  return out;
}

/** The ONNX graph of a spec as a message (encode with encodeModelProto). */
export function exportOnnxModel(spec: ModelSpec, opts: ExportOptions = {}): ModelProto {
  checkSpecArgument(spec, 'exportOnnx()');
  if (spec.layers.length === 0) throw new EdgeRnnError('UNSUPPORTED_MODEL', `model '${spec.name}' has no layers to export`);
  const f = dequantizeModel(spec);
  const g = new GraphBuilder();
  g.inputs.push(valueInfo('X', F32, ['seq', 1, f.input.size]));
  let cur = 'X';
  const last = f.layers.length - 1;
  f.layers.forEach((layer, li) => {
    const p = `layers.${li}`;
    let out: string;
    if (isRecurrent(layer)) {
      if (!layer.float) throw new EdgeRnnError('ERN_TENSOR', `${p} (${layer.kind}) has no float weights`);
      out = recurrentNode(g, layer, li, cur, opts.stateInputs ?? true);
    } else if (layer.kind === 'dense') {
      const w = layer.float;
      if (!w) throw new EdgeRnnError('ERN_TENSOR', `${p} (dense) has no float weights`);
      const I = layer.inputSize;
      const O = layer.outputSize;
      // MatMul wants [in][out]: the transpose of W [out][in].
      const wt = new Float32Array(I * O);
      for (let j = 0; j < O; j++) for (let k = 0; k < I; k++) wt[k * O + j] = w.W[j * I + k]!;
      g.node('MatMul', [cur, g.init(`${p}.Wt`, F32, [I, O], wt)], [`${p}.mm`]);
      out = `${p}.mm`;
      if (w.B) {
        g.node('Add', [out, g.init(`${p}.B`, F32, [O], w.B)], [`${p}.add`]);
        out = `${p}.add`;
      }
      if (layer.activation !== 'none') {
        const op = layer.activation === 'relu' ? 'Relu' : layer.activation === 'sigmoid' ? 'Sigmoid' : 'Tanh';
        g.node(op, [out], [`${p}.act`]);
        out = `${p}.act`;
      }
    } else {
      g.node(layer.kind === 'softmax' ? 'Softmax' : 'LogSoftmax', [cur], [`${p}.out`], [attrInt('axis', -1)]);
      out = `${p}.out`;
    }
    if (li === last) {
      g.node('Identity', [out], ['Y']);
      out = 'Y';
    }
    cur = out;
  });
  const initialState = initialStateMetadata(spec, opts);
  const outSize = f.layers[last]!;
  const width = isRecurrent(outSize) ? outSize.hiddenSize * numDirections(outSize) : outSize.kind === 'dense' ? outSize.outputSize : outSize.size;
  g.outputs.unshift(valueInfo('Y', F32, ['seq', 1, width]));
  return {
    irVersion: EXPORT_IR_VERSION,
    producerName: 'edgernn',
    producerVersion: '0.1.0',
    domain: '',
    modelVersion: 0,
    docString: `${spec.name} ${spec.version} (${spec.precision}${spec.precision === 'int8' ? ', dequantized' : ''}) exported by edgernn`,
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    metadataProps: initialState ? [specMetadata(spec), initialState] : [specMetadata(spec)],
    graph: { name: spec.name || 'edgernn', node: g.nodes, initializer: g.inits, input: g.inputs, output: g.outputs, valueInfo: [], sparseInitializerCount: 0 },
    functionCount: 0,
  };
}

/** A spec as a serialized float32 ONNX model (see the I/O contract above). */
export function exportOnnx(spec: ModelSpec, opts: ExportOptions = {}): Uint8Array {
  return encodeModelProto(exportOnnxModel(spec, opts));
}
