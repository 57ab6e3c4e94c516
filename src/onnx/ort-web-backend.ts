/**
 * The onnxruntime-web backend: runs any ONNX model (WebAssembly, one thread by default) behind
 * edgernn's session API, in Node and in browsers. It is the path for models edgernn cannot
 * compile, and the anchor the benchmarks compare against.
 *
 *   const model = await OrtWebModel.create(onnxBytes);
 *   const s = model.session();
 *   const y = await s.step(frame);      // Float32Array(outputSize), state carried over
 *   const ys = await s.run(frames);     // [steps][outputSize] flat
 *   s.reset();
 *
 * Differences from edgernn's Session: step/run return Promises (onnxruntime-web is async).
 *
 * State between calls:
 *   - state inputs paired with outputs (edgernn's export: h0_<i> -> hN_<i>, c0_<i> -> cN_<i>;
 *     also h0 -> hn, <x>_in -> <x>_out, initial_h -> Y_h ...; or options.state) are fed back
 *     after each call, so one frame per call costs one frame of compute;
 *   - a recurrent graph without state I/O (a plain PyTorch export) is re-run over every frame
 *     so far: exact, but each step costs the whole history (options.maxHistory caps it).
 * Graphs with reverse or bidirectional recurrent nodes need the whole sequence: step() throws
 * NOT_STREAMABLE and run() starts from the initial state, as edgernn's sessions do.
 */
// Types only (a devDependency: the published declarations do not name it, see OrtModule):
// onnxruntime-web re-exports onnxruntime-common's API. onnxruntime-web itself (139 MB,
// WebAssembly builds for every target) is an optional peer dependency, imported when a model is
// created: a gateway that runs .ern files only never needs it.
import type * as OrtWeb from 'onnxruntime-common';
import { EdgeRnnError } from '../errors.js';
import type { NonFinitePolicy } from '../runtime/engine.js';
import { Attrs } from './attrs.js';
import type { NodeTestCase, NodeTestResult } from './conformance.js';
import { readInitialStateMetadata } from './metadata.js';
import { ONNX_DTYPES, consumersOf, decodeModelProto, decodeTensorProto, dtypeName, type ModelProto, type TensorProto } from './proto.js';
import { FLOAT_ATOL } from './tolerance.js';
import { fileBytes } from '../util/bytes.js';

/**
 * The onnxruntime-web module (`import * as ort from 'onnxruntime-web'`), as far as this backend
 * needs it. Not onnxruntime-common's own type: its declarations need the DOM lib (ImageData,
 * WebGLTexture), and naming them here put them in every program that imports edgernn (a Node
 * project with "lib": ["ES2022"] and skipLibCheck off did not compile).
 */
export interface OrtModule {
  readonly env: { readonly wasm: { numThreads?: number } };
  readonly InferenceSession: { create(model: Uint8Array, options?: object): Promise<unknown> };
  readonly Tensor: abstract new (...args: never[]) => unknown;
}
/** The module as this file uses it (onnxruntime-common's types; not in the declarations). */
type Ort = typeof OrtWeb;
/** Axes of the sequence input; BFT is channels first ([batch, features, seq]). */
export type SequenceLayout = 'TBF' | 'BTF' | 'BFT' | 'TF';

export interface OrtWebOptions {
  /** The onnxruntime-web module (default: import('onnxruntime-web')); inject to pick a build. */
  ort?: OrtModule;
  /** WebAssembly threads (default 1: no SharedArrayBuffer needed, reproducible timing). */
  threads?: number;
  /** The sequence input (default: the first input that is neither state nor constant). */
  input?: string;
  /** The model output (default: the first output that is not a state output). */
  output?: string;
  /** Axes of the sequence input: [seq, batch, features], [batch, seq, features], [batch, features, seq] or [seq, features] (default: from the graph, the Transposes between the input and the first recurrent node and its `layout`; else from the declared shape). */
  inputLayout?: SequenceLayout;
  /** State pairs, input name -> output name fed back after each call (default: detected by name). */
  state?: Record<string, string>;
  /** Initial values of state inputs (default zeros, or those an edgernn export keeps in metadata 'edgernn.initial_state'). */
  initialState?: Record<string, Float32Array>;
  /** Fixed values for other inputs (float32). */
  constants?: Record<string, { dims: number[]; data: Float32Array }>;
  /** Graphs without state I/O: most frames kept and re-run (default 4096). */
  maxHistory?: number;
  /** What sessions do with NaN/±Infinity in frames (default 'error'). */
  nonFinite?: NonFinitePolicy;
  /** Name used in error messages. */
  source?: string;
}

/** Name pairs (input -> output) recognized as recurrent state. */
function stateCandidates(input: string): string[] {
  const out: string[] = [];
  const m = /^([hc])0(_.*)?$/.exec(input);
  if (m) out.push(`${m[1]}N${m[2] ?? ''}`, `${m[1]}n${m[2] ?? ''}`, `${m[1]}_n${m[2] ?? ''}`);
  if (input.endsWith('_in')) out.push(`${input.slice(0, -3)}_out`);
  if (input.startsWith('in_')) out.push(`out_${input.slice(3)}`);
  if (input === 'initial_h') out.push('Y_h');
  if (input === 'initial_c') out.push('Y_c');
  out.push(`${input}_out`, `${input}_next`);
  return out;
}

/**
 * Graph inputs that create() without options would refuse (neither the sequence, a state paired
 * with an output by name, nor an initializer): a mask, lengths, an h0 with no h_n output.
 * `edgernn convert` names them instead of promising that `edgernn run` runs the model as is.
 */
export function unfedInputs(model: ModelProto): string[] {
  const inits = new Set(model.graph.initializer.map((t) => t.name));
  const outs = model.graph.output.map((o) => o.name);
  const rest = model.graph.input.map((i) => i.name).filter((i) => !inits.has(i) && !stateCandidates(i).some((c) => outs.includes(c)));
  return rest.slice(1);
}

function recurrentDirections(model: ModelProto): string[] {
  return model.graph.node.filter((n) => n.opType === 'GRU' || n.opType === 'LSTM' || n.opType === 'RNN').map((n) => new Attrs(n).string('direction', 'forward'));
}

function wrap(e: unknown, source: string, what: string): EdgeRnnError {
  if (e instanceof EdgeRnnError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new EdgeRnnError('BACKEND_UNAVAILABLE', `${source}: onnxruntime-web cannot ${what}: ${msg}`, { cause: msg });
}

/**
 * The default onnxruntime-web module. A web page has no package resolution: without a bundler or
 * an import map the bare specifier does not resolve (Chromium: a TypeError, "Failed to resolve
 * module specifier"), and the browser bundle leaves the package out (it is large and optional).
 */
async function importOrt(source: string): Promise<Ort> {
  try {
    return (await import('onnxruntime-web')) as Ort;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
    const hint = inNode ? 'install it beside edgernn (npm install onnxruntime-web: an optional peer dependency)' : "pass its module as { ort } (import * as ort from its URL), or map 'onnxruntime-web' in an import map";
    throw new EdgeRnnError('BACKEND_UNAVAILABLE', `${source}: onnxruntime-web did not load (${msg}): ${hint}`, { cause: msg });
  }
}

interface Layout {
  layout: SequenceLayout;
  features: number;
  /** Fixed sequence length the model was exported with (null: any). */
  fixedT: number | null;
}

/** Ops whose output keeps the axes of their first input (time and batch stay where they are; Conv and BatchNormalization keep [N, C, T]). */
const KEEPS_AXES = new Set(['Identity', 'Cast', 'Dropout', 'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Abs', 'Relu', 'LeakyRelu', 'Tanh', 'Sigmoid', 'Clip', 'Sqrt', 'LayerNormalization', 'MatMul', 'Conv', 'BatchNormalization']);

/**
 * Where a rank-3 sequence input keeps its time axis, read off the graph: the input's axes are
 * followed through Transposes and axis-keeping ops to the first recurrent node's X, whose
 * `layout` says which axis is time. PyTorch's batch_first export is a Transpose(1, 0, 2) in
 * front of a layout-0 node; its dynamic axes carry whatever names the user gave, so the declared
 * shape alone cannot tell ['batch', 'seq', F] from ['seq', 'batch', F]. Undefined when no
 * recurrent node is reached that way.
 */
function layoutFromGraph(model: ModelProto, input: string): SequenceLayout | undefined {
  const consumers = consumersOf(model);
  // axes[i]: the input axis that axis i of the value is.
  const queue: [string, number[]][] = [[input, [0, 1, 2]]];
  const seen = new Set<string>();
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [value, axes] = next;
    if (seen.has(value)) continue;
    seen.add(value);
    for (const n of consumers.get(value) ?? []) {
      const k = n.input.indexOf(value);
      if (n.output[0] === undefined) continue;
      if ((n.opType === 'GRU' || n.opType === 'LSTM' || n.opType === 'RNN') && k === 0) {
        const layout1 = new Attrs(n).int('layout', 0) === 1;
        const [time, batch] = [axes[layout1 ? 1 : 0], axes[layout1 ? 0 : 1]];
        // time 2 and batch 0: channels first, [B, C, T] permuted ahead of the node.
        return time === 0 ? 'TBF' : time === 1 ? 'BTF' : time === 2 && batch === 0 ? 'BFT' : undefined;
      }
      if (n.opType === 'Transpose' && k === 0) {
        const perm = new Attrs(n).ints('perm') ?? [2, 1, 0];
        if (perm.length === 3) queue.push([n.output[0], perm.map((p) => axes[p]!)]);
      } else if (KEEPS_AXES.has(n.opType) && (k === 0 || n.opType !== 'MatMul')) {
        queue.push([n.output[0], axes]);
      }
    }
  }
  return undefined;
}

function inferLayout(shape: readonly (number | string | null | undefined)[], forced: SequenceLayout | undefined, fromGraph: SequenceLayout | undefined, source: string, name: string): Layout {
  const rank = shape.length;
  if (rank !== 2 && rank !== 3) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: sequence input '${name}' has rank ${rank}; expected [seq, batch, features], [batch, seq, features] or [seq, features]`);
  let layout: SequenceLayout = forced ?? (rank === 2 ? 'TF' : fromGraph ?? 'TBF');
  // [1, seq, F] with a symbolic or longer seq looks batch-first.
  if (!forced && !fromGraph && rank === 3 && shape[0] === 1 && shape[1] !== 1) layout = 'BTF';
  // Positions of time, batch and features.
  const [tPos, bPos, fPos] = layout === 'TF' ? [0, -1, 1] : layout === 'TBF' ? [0, 1, 2] : layout === 'BTF' ? [1, 0, 2] : [2, 0, 1];
  const F = shape[fPos];
  if (typeof F !== 'number' || F <= 0) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: the feature count of '${name}' (dimension ${fPos}) is not a number (${String(F)})`);
  const tDim = shape[tPos];
  const bDim = bPos >= 0 ? shape[bPos] : 1;
  // Sessions feed one sequence (batch 1); onnxruntime's own message only said "index 1 Got: 1 Expected: 7".
  if (typeof bDim === 'number' && bDim > 1) {
    throw new EdgeRnnError(
      'UNSUPPORTED_MODEL',
      `${source}: sequence input '${name}' is [${shape.map(String).join(', ')}] (${layout === 'BTF' ? '[batch, seq, features]' : layout === 'BFT' ? '[batch, features, seq]' : '[seq, batch, features]'}): a fixed batch of ${bDim}, and sessions run one sequence at a time; export with a batch of 1 or a dynamic batch axis (torch.onnx.export dynamic_axes)`,
      { expected: 1, got: bDim },
    );
  }
  return { layout, features: F, fixedT: typeof tDim === 'number' && tDim > 0 ? tDim : null };
}

/** A compiled onnxruntime-web session for one model; sessions hold per-stream state. */
export class OrtWebModel {
  readonly source: string;
  readonly inputName: string;
  readonly outputName: string;
  readonly layout: SequenceLayout;
  readonly inputSize: number;
  /** Values per output row (known after create: a probe run). */
  readonly outputSize: number;
  /** Whether the output has one row per step (else only the last step). */
  readonly perStep: boolean;
  readonly streamable: boolean;
  /** input -> output pairs carried between calls (empty: history mode). */
  readonly statePairs: Readonly<Record<string, string>>;
  readonly backend = 'ort-web' as const;
  /** @internal */ readonly ort: Ort;
  /** @internal */ readonly ortSession: OrtWeb.InferenceSession;
  /** @internal */ readonly stateDims: Readonly<Record<string, number[]>>;
  /** @internal */ readonly opts: OrtWebOptions;
  /** @internal */ readonly fixedT: number | null;
  /** @internal Inputs declared float64 (a double export); the others are float32. */
  readonly float64Inputs: ReadonlySet<string>;
  private disposed = false;

  private constructor(init: {
    ort: Ort;
    session: OrtWeb.InferenceSession;
    source: string;
    inputName: string;
    outputName: string;
    layout: Layout;
    statePairs: Record<string, string>;
    stateDims: Record<string, number[]>;
    streamable: boolean;
    float64Inputs: Set<string>;
    opts: OrtWebOptions;
  }) {
    this.ort = init.ort;
    this.ortSession = init.session;
    this.source = init.source;
    this.inputName = init.inputName;
    this.outputName = init.outputName;
    this.layout = init.layout.layout;
    this.inputSize = init.layout.features;
    this.fixedT = init.layout.fixedT;
    this.statePairs = init.statePairs;
    this.stateDims = init.stateDims;
    this.streamable = init.streamable;
    this.float64Inputs = init.float64Inputs;
    this.opts = init.opts;
    this.outputSize = 0;
    this.perStep = true;
  }

  static async create(file: Uint8Array | ArrayBuffer | ArrayBufferView, opts: OrtWebOptions = {}): Promise<OrtWebModel> {
    const source = opts.source ?? 'model.onnx';
    const bytes = fileBytes(file, source, 'OrtWebModel.create()');
    const proto = decodeModelProto(bytes, source);
    const ort = (opts.ort as Ort | undefined) ?? (await importOrt(source));
    ort.env.wasm.numThreads = Math.max(1, Math.floor(opts.threads ?? 1));
    let session: OrtWeb.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    } catch (e) {
      throw wrap(e, source, 'load this model');
    }
    const meta = new Map<string, readonly (number | string)[]>();
    for (const m of session.inputMetadata) if (m.isTensor) meta.set(m.name, m.shape);
    const outNames = session.outputNames;
    // State pairs: explicit, or by name.
    const pairs: Record<string, string> = { ...(opts.state ?? {}) };
    if (!opts.state) {
      for (const i of session.inputNames) {
        if (i === opts.input || opts.constants?.[i]) continue;
        const o = stateCandidates(i).find((c) => outNames.includes(c));
        if (o) pairs[i] = o;
      }
    }
    for (const [i, o] of Object.entries(pairs)) {
      if (!session.inputNames.includes(i)) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: state input '${i}' is not a model input (${session.inputNames.join(', ')})`);
      if (!outNames.includes(o)) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: state output '${o}' is not a model output (${outNames.join(', ')})`);
    }
    const rest = session.inputNames.filter((i) => !(i in pairs) && !opts.constants?.[i]);
    const inputName = opts.input ?? rest[0];
    if (inputName === undefined || !session.inputNames.includes(inputName)) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: no sequence input (inputs: ${session.inputNames.join(', ')})`);
    const unknown = rest.filter((i) => i !== inputName);
    if (unknown.length) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: inputs ${unknown.map((u) => `'${u}'`).join(', ')} are neither the sequence, a state (options.state) nor a constant (options.constants)`);
    }
    const outputName = opts.output ?? outNames.find((o) => !Object.values(pairs).includes(o));
    if (outputName === undefined || !outNames.includes(outputName)) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: no model output (outputs: ${outNames.join(', ')})`);
    const outMeta = session.outputMetadata.find((m) => m.name === outputName);
    if (outMeta?.isTensor && outMeta.type === 'string') throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: output '${outputName}' is a string tensor; sessions return numbers`, { expected: 'a numeric tensor', got: 'string' });
    const layout = inferLayout(meta.get(inputName) ?? [], opts.inputLayout, layoutFromGraph(proto, inputName), source, inputName);
    const stateDims: Record<string, number[]> = {};
    for (const i of Object.keys(pairs)) stateDims[i] = (meta.get(i) ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    // Frames, states and constants are fed as float32, or float64 where the model declares it.
    const types = new Map<string, string>();
    for (const m of session.inputMetadata) if (m.isTensor) types.set(m.name, m.type);
    for (const name of [inputName, ...Object.keys(pairs), ...Object.keys(opts.constants ?? {})]) {
      const type = types.get(name);
      if (type !== undefined && type !== 'float32' && type !== 'float64') throw new EdgeRnnError('UNSUPPORTED_MODEL', `${source}: input '${name}' is ${type}; this backend feeds float32 or float64 inputs`, { expected: 'float32 or float64', got: type });
    }
    const float64Inputs = new Set([...types].filter(([, t]) => t === 'float64').map(([n]) => n));
    const dirs = recurrentDirections(proto);
    // An edgernn export of a model with a non-zero initial state keeps it in metadata (a state
    // input carries no value): the default first state, where the caller gives none (it started
    // from zeros, 0.09 off `edgernn run` of the .ern). A malformed entry is not used.
    const exported = readInitialStateMetadata(proto);
    if (opts.initialState === undefined && exported !== null && 'values' in exported) {
      const initialState = Object.fromEntries([...exported.values].filter(([name]) => name in pairs).map(([name, v]) => [name, v.data]));
      opts = { ...opts, initialState };
    }
    const model = new OrtWebModel({ ort, session, source, inputName, outputName, layout, statePairs: pairs, stateDims, streamable: dirs.every((d) => d === 'forward'), float64Inputs, opts });
    await model.probe();
    return model;
  }

  /**
   * Zero frames through fresh states: learns the output row size and whether the output has a
   * row per step (its size grows with the sequence) or only the last step.
   */
  private async probe(): Promise<void> {
    const dims = async (T: number) => (await this.session_().infer(new Float32Array(T * this.inputSize), T)).dims;
    const size = async (T: number) => (await dims(T)).reduce((a, b) => a * b, 1);
    const mut = this as { -readonly [K in 'outputSize' | 'perStep']: OrtWebModel[K] };
    if (this.fixedT !== null) {
      // One length only: a row per step when an axis before the last holds the T steps
      // ([T, 1, O], [1, T, O], [T, O]); a last-step output ([1, O]) has no such axis.
      const T = this.fixedT;
      const d = await dims(T);
      const total = d.reduce((a, b) => a * b, 1);
      mut.perStep = T > 1 && d.slice(0, -1).includes(T);
      mut.outputSize = mut.perStep ? total / T : total;
      return;
    }
    const a = await size(2);
    const b = await size(3);
    mut.perStep = b !== a;
    mut.outputSize = b !== a ? b - a : a;
  }

  /** @internal A feed for input `name`, in the element type the model declares for it. */
  tensor(name: string, data: Float32Array, dims: number[]): OrtWeb.Tensor {
    return this.float64Inputs.has(name) ? new this.ort.Tensor('float64', Float64Array.from(data), dims) : new this.ort.Tensor('float32', data, dims);
  }

  private session_(): OrtWebSession {
    return new OrtWebSession(this);
  }

  session(): OrtWebSession {
    if (this.disposed) throw new EdgeRnnError('SESSION_DISPOSED', `${this.source}: the model was disposed`);
    return this.session_();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.ortSession.release();
  }
}

/** One stream on an OrtWebModel. */
export class OrtWebSession {
  readonly model: OrtWebModel;
  private state: Record<string, OrtWeb.Tensor> = {};
  private history: Float32Array[] = [];
  private stepCount = 0;

  constructor(model: OrtWebModel) {
    this.model = model;
    this.reset();
  }

  get steps(): number {
    return this.stepCount;
  }

  /** Back to the initial state. */
  reset(): void {
    const m = this.model;
    this.state = {};
    for (const [name, dims] of Object.entries(m.stateDims)) {
      const n = dims.reduce((a, b) => a * b, 1);
      const init = m.opts.initialState?.[name];
      if (init && init.length !== n) throw new EdgeRnnError('SHAPE_MISMATCH', `${m.source}: initial state '${name}' needs ${n} values, got ${init.length}`);
      this.state[name] = m.tensor(name, init ? Float32Array.from(init) : new Float32Array(n), dims);
    }
    this.history = [];
    this.stepCount = 0;
  }

  /** @internal Runs T frames from the current state; updates the state. */
  async infer(frames: Float32Array, T: number): Promise<{ data: Float32Array; dims: number[] }> {
    const m = this.model;
    const F = m.inputSize;
    const dims = m.layout === 'TF' ? [T, F] : m.layout === 'TBF' ? [T, 1, F] : m.layout === 'BTF' ? [1, T, F] : [1, F, T];
    // Channels first: the frames [T][F] go in as [1][F][T].
    let x = frames;
    if (m.layout === 'BFT') {
      x = new Float32Array(T * F);
      for (let t = 0; t < T; t++) for (let k = 0; k < F; k++) x[k * T + t] = frames[t * F + k]!;
    }
    const feeds: Record<string, OrtWeb.Tensor> = { ...this.state, [m.inputName]: m.tensor(m.inputName, x, dims) };
    for (const [k, v] of Object.entries(m.opts.constants ?? {})) feeds[k] = m.tensor(k, v.data, v.dims);
    let r: OrtWeb.InferenceSession.ReturnType;
    try {
      r = await m.ortSession.run(feeds);
    } catch (e) {
      throw wrap(e, m.source, `run ${T} frame(s)`);
    }
    for (const [i, o] of Object.entries(m.statePairs)) this.state[i] = r[o]!;
    const y = r[m.outputName]!;
    // A double export (model.double() in PyTorch) answers in float64, an argmax head in int64
    // (BigInt64Array: it crashed Float32Array.from and JSON output).
    const d = y.data;
    return { data: d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number | bigint>, (v) => Number(v)), dims: [...y.dims] };
  }

  private check(frames: ArrayLike<number>): Float32Array {
    const m = this.model;
    const out = Float32Array.from(frames);
    for (let i = 0; i < out.length; i++) {
      const x = out[i]!;
      if (x - x !== 0) {
        if ((m.opts.nonFinite ?? 'error') === 'error') {
          const given = frames[i]!;
          const what = Number.isFinite(given) ? `is ${given}, beyond float32's range` : 'is NaN or infinite';
          throw new EdgeRnnError('NON_FINITE_INPUT', `${m.source}: step ${this.stepCount + Math.floor(i / m.inputSize)} feature ${i % m.inputSize} ${what}; nothing was changed`);
        }
        out[i] = 0;
      }
    }
    return out;
  }

  /** One frame in, the output row for it out (a new array). */
  async step(frame: ArrayLike<number>): Promise<Float32Array> {
    const m = this.model;
    if (m.isDisposed) throw new EdgeRnnError('SESSION_DISPOSED', `${m.source}: the model was disposed`);
    if (frame === null || typeof frame !== 'object' || frame.length !== m.inputSize) {
      const got = frame !== null && typeof frame === 'object' ? frame.length : frame === null ? 'null' : typeof frame;
      throw new EdgeRnnError('SHAPE_MISMATCH', `${m.source}: a frame needs ${m.inputSize} values, got ${got}`, { expected: m.inputSize, got });
    }
    if (!m.streamable) throw new EdgeRnnError('NOT_STREAMABLE', `${m.source}: the model has reverse or bidirectional recurrent nodes: it needs the whole sequence, use run()`);
    if (m.fixedT !== null && m.fixedT !== 1) throw new EdgeRnnError('NOT_STREAMABLE', `${m.source}: the model was exported for sequences of exactly ${m.fixedT} steps; use run() with ${m.fixedT} frames`);
    const x = this.check(frame);
    const hist = Object.keys(m.statePairs).length === 0;
    let rows: Float32Array;
    if (hist) {
      const max = m.opts.maxHistory ?? 4096;
      if (this.history.length >= max) throw new EdgeRnnError('NOT_STREAMABLE', `${m.source}: the model has no state inputs, so each step re-runs the history, which reached maxHistory (${max}) frames; reset() or raise maxHistory`);
      const all = new Float32Array((this.history.length + 1) * m.inputSize);
      this.history.forEach((f, t) => all.set(f, t * m.inputSize));
      all.set(x, this.history.length * m.inputSize);
      rows = (await this.infer(all, this.history.length + 1)).data;
      this.history.push(x);
    } else {
      rows = (await this.infer(x, 1)).data;
    }
    this.stepCount++;
    return rows.slice(rows.length - m.outputSize);
  }

  /**
   * A sequence [steps][inputSize] flat. Streamable models continue from the current state and
   * return a row per step (or just the last row when the model outputs only the last step);
   * others start from the initial state.
   */
  async run(frames: ArrayLike<number>): Promise<Float32Array> {
    const m = this.model;
    if (m.isDisposed) throw new EdgeRnnError('SESSION_DISPOSED', `${m.source}: the model was disposed`);
    if (frames === null || typeof frames !== 'object' || (frames.length > 0 && typeof frames[0] !== 'number')) {
      const got = frames === null ? 'null' : typeof frames !== 'object' ? typeof frames : `${frames.length} ${typeof frames[0]}s`;
      throw new EdgeRnnError('SHAPE_MISMATCH', `${m.source}: run() takes the frames flat, ${m.inputSize}·steps numbers; got ${got}`, { expected: m.inputSize, got });
    }
    if (frames.length === 0 || frames.length % m.inputSize !== 0) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `${m.source}: a sequence needs a positive multiple of ${m.inputSize} values, got ${frames.length}`, { expected: m.inputSize, got: frames.length });
    }
    const T = frames.length / m.inputSize;
    if (m.fixedT !== null && T !== m.fixedT) throw new EdgeRnnError('SHAPE_MISMATCH', `${m.source}: the model takes exactly ${m.fixedT} steps, got ${T}`, { expected: m.fixedT, got: T });
    const x = this.check(frames);
    // Without state I/O a fixed-length model cannot continue a stream either (history + T frames is not T).
    const stateful = Object.keys(m.statePairs).length > 0;
    const continues = m.streamable && (stateful || m.fixedT === null || m.fixedT === 1);
    if (!continues) this.reset();
    const hist = !stateful && continues;
    if (hist && this.history.length > 0) {
      // Continuing a stream re-runs its history: the same cap as step().
      const max = m.opts.maxHistory ?? 4096;
      if (this.history.length + T > max) throw new EdgeRnnError('NOT_STREAMABLE', `${m.source}: the model has no state inputs, so continuing a stream re-runs its history: ${this.history.length} + ${T} frames would pass maxHistory (${max}); reset() or raise maxHistory`);
      const all = new Float32Array((this.history.length + T) * m.inputSize);
      this.history.forEach((f, t) => all.set(f, t * m.inputSize));
      all.set(x, this.history.length * m.inputSize);
      const y = (await this.infer(all, this.history.length + T)).data;
      for (let t = 0; t < T; t++) this.history.push(x.slice(t * m.inputSize, (t + 1) * m.inputSize));
      this.stepCount += T;
      return m.perStep ? y.slice(y.length - T * m.outputSize) : y.slice();
    }
    const y = (await this.infer(x, T)).data;
    if (hist) for (let t = 0; t < T; t++) this.history.push(x.slice(t * m.inputSize, (t + 1) * m.inputSize));
    this.stepCount = continues ? this.stepCount + T : T;
    return y.slice();
  }
}

/** An onnxruntime tensor for a decoded TensorProto (numeric types only). */
function ortTensorOf(ort: Ort, t: TensorProto): OrtWeb.Tensor {
  const d = t.data;
  switch (t.dataType) {
    case ONNX_DTYPES.FLOAT: return new ort.Tensor('float32', Float32Array.from(d), t.dims);
    case ONNX_DTYPES.DOUBLE: return new ort.Tensor('float64', Float64Array.from(d), t.dims);
    case ONNX_DTYPES.INT32: return new ort.Tensor('int32', Int32Array.from(d), t.dims);
    case ONNX_DTYPES.INT64: return new ort.Tensor('int64', BigInt64Array.from(d, (v) => BigInt(v)), t.dims);
    case ONNX_DTYPES.INT8: return new ort.Tensor('int8', Int8Array.from(d), t.dims);
    case ONNX_DTYPES.UINT8: return new ort.Tensor('uint8', Uint8Array.from(d), t.dims);
    case ONNX_DTYPES.BOOL: return new ort.Tensor('bool', Uint8Array.from(d), t.dims);
    default: throw new EdgeRnnError('ONNX_UNSUPPORTED', `tensor '${t.name}' of type ${dtypeName(t.dataType)} cannot be fed to onnxruntime-web here`);
  }
}

/**
 * Runs a node test on onnxruntime-web itself (the anchor for `edgernn conformance --backend
 * ort-web`): inputs fed by graph-input order, outputs compared by graph-output order.
 */
export async function runNodeTestOrtWeb(tc: NodeTestCase, opts: { ort?: OrtModule; atol?: number } = {}): Promise<Omit<NodeTestResult, 'backend'> & { backend: 'ort-web' }> {
  const atol = opts.atol ?? FLOAT_ATOL;
  const result = { name: tc.name, backend: 'ort-web' as const, passed: false, atol, maxDiff: NaN, outputs: [] as NodeTestResult['outputs'] };
  const ort = (opts.ort as Ort | undefined) ?? (await importOrt(tc.name));
  ort.env.wasm.numThreads = 1;
  let session: OrtWeb.InferenceSession | null = null;
  try {
    const model = decodeModelProto(tc.model, `${tc.name}/model.onnx`);
    const inits = new Set(model.graph.initializer.map((t) => t.name));
    const inputs = model.graph.input.filter((v) => !inits.has(v.name)).map((v) => v.name);
    const outputs = model.graph.output.map((v) => v.name);
    try {
      session = await ort.InferenceSession.create(tc.model, { executionProviders: ['wasm'] });
    } catch (e) {
      throw wrap(e, tc.name, 'load this model');
    }
    let worst = 0;
    if (tc.dataSets.length === 0) throw new EdgeRnnError('ONNX_INVALID', `${tc.name}: no test_data_set_* folders`);
    for (const ds of tc.dataSets) {
      if (ds.outputs.length === 0) throw new EdgeRnnError('ONNX_INVALID', `${tc.name}/${ds.name}: no output_K.pb files, nothing to compare`);
      const feeds: Record<string, OrtWeb.Tensor> = {};
      ds.inputs.forEach((b, k) => {
        const t = decodeTensorProto(b, `${tc.name}/${ds.name}/input_${k}.pb`);
        const name = t.name && inputs.includes(t.name) ? t.name : inputs[k];
        if (name === undefined) throw new EdgeRnnError('ONNX_INVALID', `${tc.name}/${ds.name}: input_${k}.pb has no matching graph input (the graph has ${inputs.length})`);
        feeds[name] = ortTensorOf(ort, t);
      });
      let r: OrtWeb.InferenceSession.ReturnType;
      try {
        r = await session.run(feeds);
      } catch (e) {
        throw wrap(e, tc.name, 'run this test');
      }
      ds.outputs.forEach((b, k) => {
        const want = decodeTensorProto(b, `${tc.name}/${ds.name}/output_${k}.pb`);
        const name = want.name && outputs.includes(want.name) ? want.name : outputs[k];
        const got = name === undefined ? undefined : r[name];
        if (name === undefined || got === undefined) throw new EdgeRnnError('ONNX_INVALID', `${tc.name}/${ds.name}: output_${k}.pb has no matching graph output`);
        if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
          throw new EdgeRnnError('SHAPE_MISMATCH', `${tc.name}: output '${name}' has shape [${got.dims}], the test expects [${want.dims}]`);
        }
        const g = got.data as ArrayLike<number>;
        let max = 0;
        let at = -1;
        for (let i = 0; i < want.data.length; i++) {
          const gi = Number(g[i]);
          const w = want.data[i]!;
          // As runNodeTest: equal infinities and NaN against NaN agree; NaN against a number is the worst case.
          let d = gi === w ? 0 : Math.abs(gi - w);
          if (Number.isNaN(d)) d = Number.isNaN(gi) && Number.isNaN(w) ? 0 : Infinity;
          if (d > max) {
            max = d;
            at = i;
          }
        }
        result.outputs.push({ dataSet: ds.name, name, maxDiff: max, at });
        worst = Math.max(worst, max);
      });
    }
    result.maxDiff = worst;
    result.passed = result.outputs.every((o) => o.maxDiff <= atol);
  } catch (e) {
    if (!(e instanceof EdgeRnnError)) throw e;
    return { ...result, error: { code: e.code, message: e.message } };
  } finally {
    await session?.release();
  }
  return result;
}
