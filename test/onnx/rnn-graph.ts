/**
 * Random ONNX recurrent graphs for the conformance suite: one or two GRU/LSTM/RNN nodes with
 * every attribute in play, built as ModelProto messages, plus the same graph in layout 0 for
 * onnxruntime-node (its CPU kernels reject layout = 1, so the oracle transposes inputs and
 * outputs, as ../shared/conformance/onnx-node/README.md describes).
 */
import { ACTIVATION_NAMES, ACTIVATIONS_PER_DIRECTION, GATES, type ActivationName, type Direction, type RecurrentKind } from '../../src/model/spec.js';
import { ACTIVATION_PARAMS } from '../../src/onnx/export.js';
import {
  ONNX_DTYPES,
  attrFloat,
  attrFloats,
  attrInt,
  attrInts,
  attrString,
  attrStrings,
  encodeModelProto,
  encodeTensorProto,
  tensor,
  valueInfo,
  type NodeProto,
  type TensorProto,
} from '../../src/onnx/proto.js';
import { Rng } from '../../src/util/rng.js';

export interface LayerConfig {
  kind: RecurrentKind;
  direction: Direction;
  hidden: number;
  clip?: number;
  activations?: { name: ActivationName; alpha?: number; beta?: number }[];
  linearBeforeReset?: boolean;
  inputForget?: boolean;
  bias: boolean;
  peepholes: boolean;
  initialH: boolean;
  initialC: boolean;
}

export interface RnnConfig {
  seed: number;
  layout: 0 | 1;
  T: number;
  batch: number;
  input: number;
  /** 'none': no sequence_lens input; 'full': all T; 'padded': random lengths in [1, T]. */
  seqLens: 'none' | 'full' | 'padded';
  layers: LayerConfig[];
}

/** Values for every graph input, in graph-input order (X first). */
export interface RnnCase {
  config: RnnConfig;
  /** The graph as configured (layout may be 1). */
  model: Uint8Array;
  /** The same computation in layout 0 (for onnxruntime-node). */
  oracle: Uint8Array;
  inputs: TensorProto[];
  /** Inputs in the oracle's layout (same order). */
  oracleInputs: TensorProto[];
  outputNames: string[];
}

const F32 = ONNX_DTYPES.FLOAT;

function uniform(rng: Rng, n: number, s: number): number[] {
  return Array.from({ length: n }, () => rng.uniform(-s, s));
}

export function randomConfig(seed: number, opts: { intCompatible?: boolean; maxHidden?: number; maxT?: number } = {}): RnnConfig {
  const rng = new Rng(seed);
  const nLayers = rng.next() < 0.25 ? 2 : 1;
  const layers: LayerConfig[] = [];
  for (let l = 0; l < nLayers; l++) {
    const kind = rng.pick(['gru', 'lstm', 'rnn'] as const);
    const direction = rng.pick(['forward', 'reverse', 'bidirectional'] as const);
    const D = direction === 'bidirectional' ? 2 : 1;
    const c: LayerConfig = {
      kind,
      direction,
      hidden: rng.int(1, opts.maxHidden ?? 8),
      bias: rng.next() < 0.8,
      peepholes: kind === 'lstm' && rng.next() < 0.4,
      initialH: rng.next() < 0.4,
      initialC: kind === 'lstm' && rng.next() < 0.4,
    };
    if (rng.next() < 0.3) c.clip = rng.uniform(0.2, 3);
    if (!opts.intCompatible && rng.next() < 0.35) {
      c.activations = Array.from({ length: ACTIVATIONS_PER_DIRECTION[kind] * D }, () => {
        const name = rng.pick(ACTIVATION_NAMES);
        const p = ACTIVATION_PARAMS[name];
        // Explicit alpha/beta: runtimes disagree on some defaults (docs/onnx.md).
        return { name, ...(p.alpha ? { alpha: rng.uniform(0.1, 0.9) } : {}), ...(p.beta ? { beta: rng.uniform(0.1, 0.9) } : {}) };
      });
    }
    if (kind === 'gru') c.linearBeforeReset = rng.next() < 0.5;
    if (kind === 'lstm') c.inputForget = rng.next() < 0.3;
    layers.push(c);
  }
  return {
    seed,
    layout: rng.next() < 0.4 ? 1 : 0,
    T: rng.int(1, opts.maxT ?? 7),
    batch: rng.int(1, 3),
    input: rng.int(1, 6),
    seqLens: rng.pick(['none', 'none', 'full', 'padded', 'padded'] as const),
    layers,
  };
}

/** Builds the graph (in the given layout) and its inputs. */
function build(cfg: RnnConfig, layout: 0 | 1, rng: Rng): { model: Uint8Array; inputs: TensorProto[]; outputNames: string[] } {
  const { T, batch: B, input: I } = cfg;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const inputs: TensorProto[] = [];
  const inputInfo: ReturnType<typeof valueInfo>[] = [];
  const addInput = (t: TensorProto) => {
    inputs.push(t);
    inputInfo.push(valueInfo(t.name, t.dataType, t.dims));
  };
  const xDims = layout === 0 ? [T, B, I] : [B, T, I];
  addInput(tensor('X', F32, xDims, uniform(rng, T * B * I, 1.5)));
  let lens: number[] | null = null;
  if (cfg.seqLens !== 'none') {
    lens = Array.from({ length: B }, () => (cfg.seqLens === 'full' ? T : rng.int(1, T)));
    addInput(tensor('sequence_lens', ONNX_DTYPES.INT32, [B], lens));
  }
  let x = 'X';
  let width = I;
  const outputs: ReturnType<typeof valueInfo>[] = [];
  cfg.layers.forEach((c, l) => {
    const D = c.direction === 'bidirectional' ? 2 : 1;
    const G = GATES[c.kind];
    const H = c.hidden;
    const s = 1 / Math.sqrt(H);
    const p = `l${l}_`;
    addInput(tensor(`${p}W`, F32, [D, G * H, width], uniform(rng, D * G * H * width, s)));
    addInput(tensor(`${p}R`, F32, [D, G * H, H], uniform(rng, D * G * H * H, s)));
    const ins = [x, `${p}W`, `${p}R`, '', lens ? 'sequence_lens' : '', '', '', ''];
    if (c.bias) {
      addInput(tensor(`${p}B`, F32, [D, 2 * G * H], uniform(rng, D * 2 * G * H, s)));
      ins[3] = `${p}B`;
    }
    const stateDims = layout === 0 ? [D, B, H] : [B, D, H];
    if (c.initialH) {
      addInput(tensor(`${p}initial_h`, F32, stateDims, uniform(rng, D * B * H, 0.6)));
      ins[5] = `${p}initial_h`;
    }
    if (c.kind === 'lstm' && c.initialC) {
      addInput(tensor(`${p}initial_c`, F32, stateDims, uniform(rng, D * B * H, 0.6)));
      ins[6] = `${p}initial_c`;
    }
    if (c.kind === 'lstm' && c.peepholes) {
      addInput(tensor(`${p}P`, F32, [D, 3 * H], uniform(rng, D * 3 * H, 0.5)));
      ins[7] = `${p}P`;
    }
    while (ins.length > 3 && ins[ins.length - 1] === '') ins.pop();
    const attrs = [attrInt('hidden_size', H), attrString('direction', c.direction)];
    if (layout === 1) attrs.push(attrInt('layout', 1));
    if (c.clip !== undefined) attrs.push(attrFloat('clip', c.clip));
    if (c.activations) {
      attrs.push(attrStrings('activations', c.activations.map((a) => a.name)));
      const al = c.activations.flatMap((a) => (a.alpha !== undefined ? [a.alpha] : []));
      const be = c.activations.flatMap((a) => (a.beta !== undefined ? [a.beta] : []));
      if (al.length) attrs.push(attrFloats('activation_alpha', al));
      if (be.length) attrs.push(attrFloats('activation_beta', be));
    }
    if (c.kind === 'gru' && c.linearBeforeReset) attrs.push(attrInt('linear_before_reset', 1));
    if (c.kind === 'lstm' && c.inputForget) attrs.push(attrInt('input_forget', 1));
    const y = `${p}Y`;
    const yh = `${p}Y_h`;
    nodes.push({ name: `${p}${c.kind}`, opType: c.kind.toUpperCase(), domain: '', input: ins, output: [y, yh], attribute: attrs });
    const last = l === cfg.layers.length - 1;
    const yDims = layout === 0 ? [T, D, B, H] : [B, T, D, H];
    if (last) outputs.push(valueInfo(y, F32, yDims), valueInfo(yh, F32, stateDims));
    else {
      // Glue to the next layer: [T, D, B, H] -> [T, B, D*H] (layout 1: [B, T, D, H] -> [B, T, D*H]).
      outputs.push(valueInfo(yh, F32, stateDims));
      let cur = y;
      if (layout === 0) {
        nodes.push({ name: `${p}t`, opType: 'Transpose', domain: '', input: [y], output: [`${p}Yt`], attribute: [attrInts('perm', [0, 2, 1, 3])] });
        cur = `${p}Yt`;
      }
      nodes.push({ name: `${p}r`, opType: 'Reshape', domain: '', input: [cur, `${p}shape`], output: [`${p}next`], attribute: [] });
      inits.push(tensor(`${p}shape`, ONNX_DTYPES.INT64, [3], [0, 0, -1]));
      x = `${p}next`;
      width = D * H;
    }
  });
  const model = encodeModelProto({
    irVersion: 8,
    producerName: 'edgernn-test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    // layout needs opset 14; layout-0 graphs cover 7..22.
    opsetImport: [{ domain: '', version: layout === 1 || cfg.layout === 1 ? 14 + (cfg.seed % 9) : 7 + (cfg.seed % 16) }],
    graph: { name: `rnn_${cfg.seed}`, node: nodes, initializer: inits, input: inputInfo, output: outputs, valueInfo: [], sparseInitializerCount: 0 },
    metadataProps: [],
    functionCount: 0,
  });
  return { model, inputs, outputNames: outputs.map((o) => o.name) };
}

/** Permutes a tensor's axes: out dims[i] = in dims[perm[i]]. */
export function transposeTensor(t: TensorProto, perm: number[]): TensorProto {
  const dims = perm.map((p) => t.dims[p]!);
  const inSt = t.dims.map((_, i) => t.dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float64Array(t.data.length);
  const idx = dims.map(() => 0);
  for (let f = 0; f < out.length; f++) {
    let src = 0;
    idx.forEach((v, i) => (src += v * inSt[perm[i]!]!));
    out[f] = t.data[src]!;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d]! < dims[d]!) break;
      idx[d] = 0;
    }
  }
  return { ...t, dims, data: out };
}

/** Transposes a batch-major tensor's first two axes ([B, T, ...] <-> [T, B, ...]). */
export function swap01(t: TensorProto): TensorProto {
  const [a, b, ...rest] = t.dims as [number, number, ...number[]];
  const inner = rest.reduce((p, d) => p * d, 1);
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < inner; k++) out[(j * a + i) * inner + k] = t.data[(i * b + j) * inner + k]!;
  return { ...t, dims: [b, a, ...rest], data: out };
}

export function buildCase(cfg: RnnConfig): RnnCase {
  const main = build(cfg, cfg.layout, new Rng(cfg.seed * 2 + 1));
  if (cfg.layout === 0) return { config: cfg, model: main.model, oracle: main.model, inputs: main.inputs, oracleInputs: main.inputs, outputNames: main.outputNames };
  // Same random draws in layout 0, then the batch-major data moved over from the layout 1 build.
  const o = build(cfg, 0, new Rng(cfg.seed * 2 + 1));
  const oracleInputs = main.inputs.map((t) => (t.name === 'X' || t.name.endsWith('initial_h') || t.name.endsWith('initial_c') ? swap01(t) : t));
  return { config: cfg, model: main.model, oracle: o.model, inputs: main.inputs, oracleInputs, outputNames: main.outputNames };
}

export function encodeInputs(inputs: TensorProto[]): Uint8Array[] {
  return inputs.map(encodeTensorProto);
}
