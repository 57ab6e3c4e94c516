/**
 * The .ern manifest: JSON schema (checked by hand, with the path of every defect), the table of
 * tensors each layer kind needs, and the conversions ModelSpec <-> (manifest, tensors).
 */
import { EdgeRnnError } from '../errors.js';
import { checkFrontendForInput } from '../features/registry.js';
import type { DType, TypedArray } from '../format/dtypes.js';
import { ERN_FORMAT_MAJOR, ERN_FORMAT_MINOR, type ErnTensor, type TensorInput } from '../format/ern.js';
import {
  ACTIVATION_NAMES,
  ACTIVATIONS_PER_DIRECTION,
  DENSE_ACTIVATIONS,
  GATES,
  LAYER_KINDS,
  isRecurrent,
  layerOutputSize,
  numDirections,
  type Activation,
  type DenseLayer,
  type Layer,
  type ModelSpec,
  type Precision,
  type RecurrentLayer,
  type Task,
} from './spec.js';

export const MANIFEST_FORMAT = 'edgernn.model';
export const TASKS: readonly Task[] = ['classify', 'forecast', 'autoencoder', 'kws', 'har', 'anomaly', 'custom'];
export const PRECISIONS: readonly Precision[] = ['float32', 'int8'];
// semver.org 2.0.0: pre-release identifiers are non-empty and numeric ones have no leading zero
// ("1.0.0-01" and "1.0.0-a..b" are not versions); build identifiers are non-empty.
const PRE_ID = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const SEMVER = new RegExp(`^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);

/** Float32 goldens tolerate last-ulp differences of Math.exp/tanh between JS engines. */
export const GOLDEN_ATOL_FLOAT = 1e-5;
/** int8 goldens are exact, except for a float tail (softmax, sigmoid, tanh) after dequantization. */
export const GOLDEN_ATOL_INT_FLOAT_TAIL = 1e-6;

/** Whether an int8 model ends in float arithmetic after dequantization (softmax, sigmoid, tanh). */
export function hasFloatTail(spec: Pick<ModelSpec, 'layers'>): boolean {
  return spec.layers.some((l) => l.kind === 'softmax' || l.kind === 'logSoftmax' || (l.kind === 'dense' && (l.activation === 'sigmoid' || l.activation === 'tanh')));
}

/** The golden tolerance the writer uses for a model, and the most a reader accepts. */
export function goldenAtolFor(spec: Pick<ModelSpec, 'layers' | 'precision'>): number {
  return spec.precision === 'float32' ? GOLDEN_ATOL_FLOAT : hasFloatTail(spec) ? GOLDEN_ATOL_INT_FLOAT_TAIL : 0;
}

export interface GoldenSpec {
  input: string;
  output: string;
  steps: number;
  /** Allowed max |difference|: 0 for int8 models (bit-exact), small for float32. */
  atol: number;
}

// ---- tensor table ---------------------------------------------------------------------------

interface TensorRule {
  field: string;
  dtype: DType;
  shape: (l: Layer) => number[];
  optional?: boolean;
  only?: Layer['kind'];
}

const rec = (l: Layer) => l as RecurrentLayer;
const dense = (l: Layer) => l as DenseLayer;
const D = (l: Layer) => numDirections(rec(l));
const GH = (l: Layer) => GATES[rec(l).kind] * rec(l).hiddenSize;

/** Which tensors each layer kind has, per precision: the one place that knows. */
const TENSOR_RULES: Record<Precision, { recurrent: TensorRule[]; dense: TensorRule[] }> = {
  float32: {
    recurrent: [
      { field: 'W', dtype: 'f32', shape: (l) => [D(l), GH(l), rec(l).inputSize] },
      { field: 'R', dtype: 'f32', shape: (l) => [D(l), GH(l), rec(l).hiddenSize] },
      { field: 'B', dtype: 'f32', shape: (l) => [D(l), 2 * GH(l)], optional: true },
      { field: 'P', dtype: 'f32', shape: (l) => [D(l), 3 * rec(l).hiddenSize], optional: true, only: 'lstm' },
      { field: 'initialH', dtype: 'f32', shape: (l) => [D(l), rec(l).hiddenSize], optional: true },
      { field: 'initialC', dtype: 'f32', shape: (l) => [D(l), rec(l).hiddenSize], optional: true, only: 'lstm' },
    ],
    dense: [
      { field: 'W', dtype: 'f32', shape: (l) => [dense(l).outputSize, dense(l).inputSize] },
      { field: 'B', dtype: 'f32', shape: (l) => [dense(l).outputSize], optional: true },
    ],
  },
  int8: {
    recurrent: [
      { field: 'Wq', dtype: 'i8', shape: (l) => [D(l), GH(l), rec(l).inputSize] },
      { field: 'Wscale', dtype: 'f32', shape: (l) => [D(l), GH(l)] },
      { field: 'Rq', dtype: 'i8', shape: (l) => [D(l), GH(l), rec(l).hiddenSize] },
      { field: 'Rscale', dtype: 'f32', shape: (l) => [D(l), GH(l)] },
      { field: 'Bx', dtype: 'i32', shape: (l) => [D(l), GH(l)] },
      { field: 'Bh', dtype: 'i32', shape: (l) => [D(l), GH(l)] },
      { field: 'P', dtype: 'f32', shape: (l) => [D(l), 3 * rec(l).hiddenSize], optional: true, only: 'lstm' },
      { field: 'initialH', dtype: 'f32', shape: (l) => [D(l), rec(l).hiddenSize], optional: true },
      { field: 'initialC', dtype: 'f32', shape: (l) => [D(l), rec(l).hiddenSize], optional: true, only: 'lstm' },
    ],
    dense: [
      { field: 'Wq', dtype: 'i8', shape: (l) => [dense(l).outputSize, dense(l).inputSize] },
      { field: 'Wscale', dtype: 'f32', shape: (l) => [dense(l).outputSize] },
      { field: 'Bq', dtype: 'i32', shape: (l) => [dense(l).outputSize] },
    ],
  },
};

function rulesFor(layer: Layer, precision: Precision): TensorRule[] {
  if (isRecurrent(layer)) return TENSOR_RULES[precision].recurrent.filter((r) => !r.only || r.only === layer.kind);
  if (layer.kind === 'dense') return TENSOR_RULES[precision].dense;
  return [];
}

function weightsOf(layer: Layer, precision: Precision): Record<string, TypedArray | undefined> {
  if (!isRecurrent(layer) && layer.kind !== 'dense') return {};
  const w = precision === 'int8' ? layer.quant : layer.float;
  return (w ?? {}) as unknown as Record<string, TypedArray | undefined>;
}

// ---- spec -> manifest -------------------------------------------------------------------------

function layerJson(layer: Layer, li: number, precision: Precision, tensors: TensorInput[]): Record<string, unknown> {
  const names: Record<string, string> = {};
  const w = weightsOf(layer, precision);
  for (const rule of rulesFor(layer, precision)) {
    const data = w[rule.field];
    if (data === undefined) {
      if (rule.optional) continue;
      throw new EdgeRnnError('ERN_TENSOR', `layers.${li} (${layer.kind}) has no ${precision} tensor '${rule.field}'`);
    }
    const name = `layers.${li}.${rule.field}`;
    tensors.push({ name, data, shape: rule.shape(layer) });
    names[rule.field] = name;
  }
  if (isRecurrent(layer)) {
    const j: Record<string, unknown> = {
      kind: layer.kind,
      inputSize: layer.inputSize,
      hiddenSize: layer.hiddenSize,
      direction: layer.direction,
      clip: layer.clip ?? null,
      activations: layer.activations.map(activationJson),
      tensors: names,
    };
    if (layer.kind === 'gru') j.linearBeforeReset = layer.linearBeforeReset ?? false;
    if (layer.kind === 'lstm') j.inputForget = layer.inputForget ?? false;
    return j;
  }
  if (layer.kind === 'dense') {
    const j: Record<string, unknown> = { kind: 'dense', inputSize: layer.inputSize, outputSize: layer.outputSize, activation: layer.activation, tensors: names };
    if (precision === 'int8' && layer.quant?.outputScale !== undefined) j.outputScale = layer.quant.outputScale;
    return j;
  }
  return { kind: layer.kind, size: layer.size };
}

/** Builds the manifest object (without `tensors`) and the tensor list for encodeErn. */
/** What a model is, as the manifest writes it (name, version, task, description, labels, input); parseInfo reads it back. */
export function describedFields(spec: ModelSpec): Record<string, unknown> {
  return {
    name: spec.name,
    version: spec.version,
    task: spec.task,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    labels: spec.labels,
    input: inputJson(spec.input),
  };
}

/**
 * The input spec in the manifest's field order (size, names, rateHz, frontend), the order
 * parseInfo builds it in: the caller's key order changed the bytes and the sha256 of the same
 * model, so encode(decode(file)) differed from the file.
 */
function inputJson(input: ModelSpec['input']): ModelSpec['input'] {
  return {
    size: input.size,
    ...(input.names !== undefined ? { names: input.names } : {}),
    ...(input.rateHz !== undefined ? { rateHz: input.rateHz } : {}),
    frontend: input.frontend,
  };
}

/** An activation as parseActivations builds it (name, alpha, beta): same bytes for the same model. */
function activationJson(a: Activation): Activation {
  return { name: a.name, ...(a.alpha !== undefined ? { alpha: a.alpha } : {}), ...(a.beta !== undefined ? { beta: a.beta } : {}) };
}

export function specToManifest(spec: ModelSpec, golden: { input: Float32Array; output: Float32Array; steps: number; atol: number }): {
  manifest: Record<string, unknown>;
  tensors: TensorInput[];
} {
  const tensors: TensorInput[] = [];
  const layers = spec.layers.map((l, i) => layerJson(l, i, spec.precision, tensors));
  let quantization: Record<string, unknown> | null = null;
  if (spec.precision === 'int8') {
    if (!spec.inputScale) throw new EdgeRnnError('ERN_QUANT_PARAMS', 'int8 model without inputScale');
    tensors.push({ name: 'input.scale', data: spec.inputScale, shape: [spec.input.size] });
    quantization = { scheme: 'ern-a16w8-v1', inputScale: 'input.scale', weights: 'int8 symmetric per output row', activations: 'int16' };
  }
  const outSize = spec.layers.length ? layerOutputSize(spec.layers[spec.layers.length - 1]!) : spec.input.size;
  tensors.push({ name: 'golden.input', data: golden.input, shape: [golden.steps, spec.input.size] });
  tensors.push({ name: 'golden.output', data: golden.output, shape: [golden.steps, outSize] });
  const manifest: Record<string, unknown> = {
    format: MANIFEST_FORMAT,
    ...describedFields(spec),
    output: { size: outSize },
    precision: spec.precision,
    quantization,
    layers,
    // A JavaScript caller may leave it out; the reader gives {} back, so {} is what is written.
    training: (spec.training as ModelSpec['training'] | undefined) ?? {},
    golden: { input: 'golden.input', output: 'golden.output', steps: golden.steps, atol: golden.atol },
    ...(spec.extra !== undefined ? { extra: spec.extra } : {}),
  };
  return { manifest, tensors };
}

// ---- manifest -> spec (validation) -----------------------------------------------------------

class Check {
  /**
   * @param newer Said after a value this reader does not know (a layer kind, a precision, a
   *   front-end field) when the file is of a newer minor, which may have added it: the user then
   *   needs a newer reader, not another file.
   */
  constructor(
    readonly source: string,
    readonly newer = '',
  ) {}

  fail(path: string, expected: string, got: unknown, note = ''): never {
    const shown = JSON.stringify(got);
    throw new EdgeRnnError('ERN_MANIFEST', `${this.source}: manifest.${path} must be ${expected}, got ${shown === undefined ? 'nothing' : shown.slice(0, 80)}${note}`, {
      path,
      expected,
    });
  }

  obj(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Record<string, unknown>;
  }

  str(o: Record<string, unknown>, k: string, path: string, opts: { max?: number; pattern?: RegExp; what?: string } = {}): string {
    const v = o[k];
    if (typeof v !== 'string' || v.length === 0 || v.length > (opts.max ?? 4096) || (opts.pattern && !opts.pattern.test(v))) {
      this.fail(`${path}${k}`, opts.what ?? `a non-empty string${opts.max ? ` of at most ${opts.max} characters` : ''}`, v);
    }
    return v;
  }

  int(o: Record<string, unknown>, k: string, path: string, min: number, max = 1 << 24): number {
    const v = o[k];
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) this.fail(`${path}${k}`, `an integer in [${min}, ${max}]`, v);
    return v as number;
  }

  oneOf<T extends string>(o: Record<string, unknown>, k: string, path: string, allowed: readonly T[]): T {
    const v = o[k];
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(`${path}${k}`, `one of ${allowed.join(', ')}`, v, typeof v === 'string' ? this.newer : '');
    return v as T;
  }

  bool(o: Record<string, unknown>, k: string, path: string, dflt: boolean): boolean {
    const v = o[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') this.fail(`${path}${k}`, 'true or false', v);
    return v;
  }

  posNum(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(path, 'a positive finite number', v);
    return v;
  }
}

function tensorRef(
  c: Check,
  tensors: Map<string, ErnTensor>,
  names: Record<string, unknown>,
  rule: TensorRule,
  expectShape: number[],
  path: string,
  source: string,
): TypedArray | undefined {
  const ref = names[rule.field];
  if (ref === undefined) {
    if (rule.optional) return undefined;
    c.fail(`${path}tensors.${rule.field}`, 'the name of a tensor', ref);
  }
  if (typeof ref !== 'string') c.fail(`${path}tensors.${rule.field}`, 'the name of a tensor', ref);
  const t = tensors.get(ref);
  if (!t) throw new EdgeRnnError('ERN_TENSOR', `${source}: tensor '${ref}' (manifest.${path}tensors.${rule.field}) is not in the file`, { tensor: ref });
  if (t.dtype !== rule.dtype) {
    throw new EdgeRnnError('ERN_TENSOR', `${source}: tensor '${ref}' must be ${rule.dtype}, file has ${t.dtype}`, { tensor: ref, expected: rule.dtype, got: t.dtype });
  }
  if (t.shape.length !== expectShape.length || t.shape.some((d, i) => d !== expectShape[i])) {
    throw new EdgeRnnError('ERN_TENSOR', `${source}: tensor '${ref}' must have shape [${expectShape}], file has [${t.shape}]`, {
      tensor: ref,
      expected: expectShape,
      got: t.shape,
    });
  }
  // Weights, scales and golden vectors: a NaN or infinity is a broken file, not a model. (every()
  // with a builtin predicate checks natively: a JavaScript loop runs cold, interpreted, per value.)
  if (t.dtype === 'f32' && !t.data.every(Number.isFinite)) {
    const i = t.data.findIndex((x) => !Number.isFinite(x));
    const x = t.data[i]!;
    throw new EdgeRnnError('ERN_TENSOR', `${source}: tensor '${ref}' value ${i} is ${x}: its values must be finite`, { tensor: ref, index: i, value: String(x) });
  }
  return t.data;
}

function parseActivations(c: Check, v: unknown, path: string, kind: RecurrentLayer['kind'], dirs: number): Activation[] {
  if (!Array.isArray(v) || v.length !== ACTIVATIONS_PER_DIRECTION[kind] * dirs) {
    c.fail(path, `a list of ${ACTIVATIONS_PER_DIRECTION[kind] * dirs} activations`, v);
  }
  return v.map((a: unknown, i) => {
    const o = c.obj(a, `${path}[${i}]`);
    const act: Activation = { name: c.oneOf(o, 'name', `${path}[${i}].`, ACTIVATION_NAMES) };
    for (const k of ['alpha', 'beta'] as const) {
      const x = o[k];
      if (x === undefined) continue;
      if (typeof x !== 'number' || !Number.isFinite(x)) c.fail(`${path}[${i}].${k}`, 'a finite number', x);
      act[k] = x;
    }
    return act;
  });
}

function parseLayer(c: Check, raw: unknown, li: number, precision: Precision, inSize: number, tensors: Map<string, ErnTensor>, source: string): Layer {
  const path = `layers[${li}].`;
  const o = c.obj(raw, `layers[${li}]`);
  const kind = c.oneOf(o, 'kind', path, LAYER_KINDS);
  const names = kind === 'softmax' || kind === 'logSoftmax' ? {} : c.obj(o.tensors, `${path}tensors`);
  let layer: Layer;
  if (kind === 'gru' || kind === 'lstm' || kind === 'rnn') {
    const inputSize = c.int(o, 'inputSize', path, 1);
    const hiddenSize = c.int(o, 'hiddenSize', path, 1, 4096);
    const direction = c.oneOf(o, 'direction', path, ['forward', 'reverse', 'bidirectional'] as const);
    const dirs = direction === 'bidirectional' ? 2 : 1;
    const r: RecurrentLayer = { kind, inputSize, hiddenSize, direction, activations: parseActivations(c, o.activations, `${path}activations`, kind, dirs) };
    if (o.clip !== undefined && o.clip !== null) r.clip = c.posNum(o.clip, `${path}clip`);
    if (kind === 'gru') r.linearBeforeReset = c.bool(o, 'linearBeforeReset', path, false);
    if (kind === 'lstm') r.inputForget = c.bool(o, 'inputForget', path, false);
    layer = r;
  } else if (kind === 'dense') {
    const d: DenseLayer = {
      kind,
      inputSize: c.int(o, 'inputSize', path, 1),
      outputSize: c.int(o, 'outputSize', path, 1),
      activation: c.oneOf(o, 'activation', path, DENSE_ACTIVATIONS),
    };
    layer = d;
  } else {
    layer = { kind, size: c.int(o, 'size', path, 1) };
  }
  const declaredIn = isRecurrent(layer) || layer.kind === 'dense' ? layer.inputSize : layer.size;
  if (declaredIn !== inSize) {
    c.fail(`${path}${isRecurrent(layer) || layer.kind === 'dense' ? 'inputSize' : 'size'}`, `${inSize} (the previous layer's output size)`, declaredIn);
  }
  const w: Record<string, TypedArray> = {};
  for (const rule of rulesFor(layer, precision)) {
    const data = tensorRef(c, tensors, names, rule, rule.shape(layer), path, source);
    if (data) w[rule.field] = data;
  }
  if (isRecurrent(layer)) {
    if (precision === 'int8') layer.quant = w as unknown as NonNullable<RecurrentLayer['quant']>;
    else layer.float = w as unknown as NonNullable<RecurrentLayer['float']>;
  } else if (layer.kind === 'dense') {
    if (precision === 'int8') {
      layer.quant = w as unknown as NonNullable<DenseLayer['quant']>;
      if (o.outputScale !== undefined) layer.quant.outputScale = c.posNum(o.outputScale, `${path}outputScale`);
    } else layer.float = w as unknown as NonNullable<DenseLayer['float']>;
  }
  return layer;
}

/** What a model is, apart from its layers and tensors (the manifest fields ONNX metadata carries too). */
export type ModelInfo = Pick<ModelSpec, 'name' | 'version' | 'task' | 'description' | 'labels' | 'input' | 'training' | 'extra'>;

/**
 * Checks the descriptive fields of a manifest: name, version, task, labels (strings; their count
 * is the caller's check, against the output size), input (size, a front end this runtime can build
 * with that width, names, rate), description, training, extra.
 */
/**
 * Text shown to people (the model's name, its labels): well-formed Unicode without control or
 * bidirectional-override characters. A lone surrogate ("\ud800") parses but is rewritten to U+FFFD
 * when the spec is encoded again (another name, another file); an escape sequence or a U+202E in a
 * name or label rewrites the terminal line `edgernn info` or an alert prints.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function parseInfo(c: Check, m: Record<string, unknown>): ModelInfo {
  const name = c.str(m, 'name', '', { max: 128 });
  if (UNPRINTABLE.test(name)) c.fail('name', 'well-formed Unicode text without control or bidirectional-override characters', name);
  const version = c.str(m, 'version', '', { pattern: SEMVER, what: 'a semantic version (e.g. "1.2.0")' });
  const task = c.oneOf(m, 'task', '', TASKS);
  if (!Array.isArray(m.labels) || !m.labels.every((l) => typeof l === 'string')) c.fail('labels', 'an array of strings', m.labels);
  const labels = m.labels as string[];
  // A label names one output: an empty or repeated one makes the outputs ambiguous (the keyword
  // detector refused such a file only when a gateway route used it).
  labels.forEach((l, i) => {
    if (l === '' || labels.indexOf(l) !== i) c.fail(`labels[${i}]`, 'a non-empty label no other output has', l);
    if (UNPRINTABLE.test(l)) c.fail(`labels[${i}]`, 'well-formed Unicode text without control or bidirectional-override characters', l);
  });
  const inp = c.obj(m.input, 'input');
  const inputSize = c.int(inp, 'size', 'input.', 1);
  const frontend = c.obj(inp.frontend, 'input.frontend');
  c.str(frontend, 'kind', 'input.frontend.');
  // The front end must be one this runtime can build, with the model's input width: a model that
  // loads must also be able to turn raw samples into its features.
  try {
    checkFrontendForInput({ size: inputSize, frontend: frontend as ModelSpec['input']['frontend'] });
  } catch (e) {
    if (e instanceof EdgeRnnError) throw new EdgeRnnError('ERN_MANIFEST', `${c.source}: manifest.input.frontend: ${e.message}${c.newer}`, { path: 'input.frontend' });
    throw e;
  }
  if (inp.names !== undefined) {
    if (!Array.isArray(inp.names) || inp.names.length !== inputSize || !inp.names.every((n) => typeof n === 'string')) {
      c.fail('input.names', `an array of ${inputSize} strings`, inp.names);
    }
  }
  const rateHz = inp.rateHz === undefined ? undefined : c.posNum(inp.rateHz, 'input.rateHz');
  // Built in the order inputJson writes (size, names, rateHz, frontend).
  const input: ModelSpec['input'] = {
    size: inputSize,
    ...(inp.names !== undefined ? { names: inp.names as string[] } : {}),
    ...(rateHz !== undefined ? { rateHz } : {}),
    frontend: frontend as ModelSpec['input']['frontend'],
  };
  const training = m.training === undefined ? {} : c.obj(m.training, 'training');
  if (training.datasetSha256 !== undefined) c.str(training, 'datasetSha256', 'training.', { pattern: /^[0-9a-f]{64}$/, what: '64 lowercase hex digits' });
  const info: ModelInfo = { name, version, task, labels, input, training };
  if (m.description !== undefined) {
    if (typeof m.description !== 'string') c.fail('description', 'a string', m.description);
    info.description = m.description;
  }
  if (m.extra !== undefined) info.extra = c.obj(m.extra, 'extra');
  return info;
}

/**
 * parseInfo for a manifest kept outside a .ern (ONNX metadata): the same checks, plus the label
 * count against the model's output size. Throws ERN_MANIFEST naming the field.
 */
export function parseModelInfo(m: Record<string, unknown>, outputSize: number, source: string): ModelInfo {
  const c = new Check(source);
  const info = parseInfo(c, m);
  if (info.labels.length !== 0 && info.labels.length !== outputSize) c.fail('labels', `empty or ${outputSize} labels (the output size)`, info.labels.length);
  return info;
}

export interface ParsedManifest {
  spec: ModelSpec;
  golden: GoldenSpec & { inputData: Float32Array; outputData: Float32Array };
  outputSize: number;
}

/**
 * Validates a parsed manifest against the schema and the file's tensors; builds the spec.
 * `format`: the file's format version; a value this reader does not know in a file of a newer
 * minor is refused naming both versions, as an unknown dtype is (src/format/ern.ts).
 */
export function manifestToSpec(m: Record<string, unknown>, tensors: Map<string, ErnTensor>, source = 'model.ern', format?: { major: number; minor: number }): ParsedManifest {
  const newer = format && format.minor > ERN_FORMAT_MINOR ? ` (the file is format ${format.major}.${format.minor}, this reader knows ${ERN_FORMAT_MAJOR}.${ERN_FORMAT_MINOR})` : '';
  const c = new Check(source, newer);
  if (m.format !== MANIFEST_FORMAT) c.fail('format', `"${MANIFEST_FORMAT}"`, m.format);
  const info = parseInfo(c, m);
  const { name, version, task, labels, input } = info;
  const precision = c.oneOf(m, 'precision', '', PRECISIONS);
  const inputSize = input.size;
  if (!Array.isArray(m.layers) || m.layers.length === 0 || m.layers.length > 64) c.fail('layers', 'an array of 1 to 64 layers', m.layers);
  const layers: Layer[] = [];
  let size = inputSize;
  (m.layers as unknown[]).forEach((raw, li) => {
    const prev = layers[li - 1];
    // The integer kernels dequantize once, at the end: a softmax can only be the last layer.
    if (precision === 'int8' && prev !== undefined && (prev.kind === 'softmax' || prev.kind === 'logSoftmax')) {
      c.fail(`layers[${li}]`, `absent: layers[${li - 1}] (${prev.kind}) must be the last layer of an int8 model`, (raw as { kind?: unknown } | null)?.kind);
    }
    const layer = parseLayer(c, raw, li, precision, size, tensors, source);
    layers.push(layer);
    size = layerOutputSize(layer);
  });
  if (labels.length !== 0 && labels.length !== size) c.fail('labels', `empty or ${size} labels (the output size)`, labels.length);
  // Written for readers of the manifest alone (edgernn info --json, other tools): it must agree.
  const output = c.obj(m.output, 'output');
  if (output.size !== size) c.fail('output.size', `${size} (the last layer's output size)`, output.size);
  const spec: ModelSpec = { name, version, task, labels, input, precision, layers, training: info.training };
  if (info.description !== undefined) spec.description = info.description;
  if (info.extra !== undefined) spec.extra = info.extra;
  if (precision === 'float32' && m.quantization !== undefined && m.quantization !== null) {
    // Scales or zero points a float32 model never uses: a file that says one thing and computes another.
    c.fail('quantization', 'null for a float32 model', m.quantization);
  }
  if (precision === 'int8') {
    const q = c.obj(m.quantization, 'quantization');
    if (q.scheme !== 'ern-a16w8-v1') c.fail('quantization.scheme', '"ern-a16w8-v1"', q.scheme, c.newer);
    const rule: TensorRule = { field: 'inputScale', dtype: 'f32', shape: () => [inputSize] };
    spec.inputScale = tensorRef(c, tensors, q, rule, [inputSize], 'quantization.', source) as Float32Array;
  }
  const g = c.obj(m.golden, 'golden');
  const steps = c.int(g, 'steps', 'golden.', 1, 1 << 20);
  // Finite: 1e999 parses to Infinity, which would pass any output (the golden check turned off).
  if (typeof g.atol !== 'number' || !(g.atol >= 0) || !Number.isFinite(g.atol)) c.fail('golden.atol', 'a finite number >= 0', g.atol);
  // Bounded too: a tolerance of 1e300 also passes any output, so an edited file (layers swapped,
  // an activation changed, the checksum recomputed) would load and compute something else.
  const maxAtol = goldenAtolFor(spec);
  if ((g.atol as number) > maxAtol) c.fail('golden.atol', `at most ${maxAtol} for a${precision === 'int8' ? 'n int8' : ' float32'} model like this one`, g.atol);
  const gi = tensorRef(c, tensors, g, { field: 'input', dtype: 'f32', shape: () => [] }, [steps, inputSize], 'golden.', source) as Float32Array;
  const go = tensorRef(c, tensors, g, { field: 'output', dtype: 'f32', shape: () => [] }, [steps, size], 'golden.', source) as Float32Array;
  const golden = { input: g.input as string, output: g.output as string, steps, atol: g.atol as number, inputData: gi, outputData: go };
  return { spec, golden, outputSize: size };
}
