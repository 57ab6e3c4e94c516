/**
 * Prepare, then run: everything the integer kernels need that can be computed once per model
 * is computed here (TFLM's Prepare). Weights are padded to the kernels' tile sizes, fixed-point
 * multipliers and clamps are derived, overflow bounds are checked. The TypeScript reference
 * and both WASM builds run on exactly these arrays, so they cannot disagree about a constant.
 *
 * Layouts (all row-major):
 *   Hp = roundUp(H, 8), Ip = physical input width (multiple of 8)
 *   W  int8  [G * Hp][Ip]   gate block g occupies rows g*Hp .. g*Hp+H (padding rows are zero)
 *   R  int8  [G * Hp][Hp]
 *   bx, bh, mx.m, mh.m  int32 [G * Hp]
 * Padding rows and columns are zero, so padded hidden units stay exactly zero forever
 * (z = 1/2, n = 0, h' = h/2 = 0 for GRU; c' = 0, h' = 0 for LSTM; tanh(0) = 0 for RNN).
 */
import { EdgeRnnError } from '../../errors.js';
import { GATES, isRecurrent, isStreamable, numDirections, type DenseLayer, type Direction, type ModelSpec, type RecurrentLayer } from '../../model/spec.js';
import { INT16_MAX, INT32_MAX, clampInt, quantizeMultipliers, type RowMultipliers } from '../fixed-point.js';

export const LANE = 8;
export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/** Kernel ids of layer kinds (stable: they are written into WASM descriptors). */
export const KERNEL_KIND = { gru: 0, lstm: 1, rnn: 2, dense: 3 } as const;
export const DENSE_ACT_ID = { none: 0, relu: 1, sigmoid: 2, tanh: 3 } as const;

export interface PreparedDirection {
  W: Int8Array;
  R: Int8Array;
  bx: Int32Array;
  bh: Int32Array;
  mx: RowMultipliers;
  mh: RowMultipliers;
  /** LSTM peepholes as per-element multipliers on the Q16.15 cell, rows i, o, f of Hp each. */
  mp: RowMultipliers | null;
  /** Initial state: h int16 [Hp], c int32 [Hp] (LSTM). */
  h0: Int16Array;
  c0: Int32Array;
}

export interface PreparedRecurrent {
  kind: 'gru' | 'lstm' | 'rnn';
  direction: Direction;
  H: number;
  Hp: number;
  G: number;
  /** Physical input width (multiple of 8). */
  Ip: number;
  /** Gate pre-activation clamp in Q3.12 (32767 when the layer has no clip). */
  clipQ: number;
  linearBeforeReset: boolean;
  inputForget: boolean;
  directions: PreparedDirection[];
  /** Physical width of this layer's per-step output: Hp * numDirections. */
  outWidth: number;
  /** logical output index -> physical index. */
  outMap: Int32Array;
}

export interface PreparedDense {
  kind: 'dense';
  I: number;
  Ip: number;
  O: number;
  Op: number;
  act: DenseLayer['activation'];
  /** The last integer layer: its int32 accumulators are the model's output. */
  final: boolean;
  W: Int8Array;
  b: Int32Array;
  /** Requantization to the int16 output (none/relu: outputScale; sigmoid/tanh: Q3.12). */
  mo: RowMultipliers | null;
  outWidth: number;
  outMap: Int32Array;
}

export type PreparedLayer = PreparedRecurrent | PreparedDense;

export interface PreparedIntModel {
  inputSize: number;
  /** Physical width of the int16 model input. */
  inputWidth: number;
  /** 1 / inputScale per feature, for quantizing frames. */
  inputInvScale: Float64Array;
  layers: PreparedLayer[];
  /** Logical output width of the integer part, and how to turn output ints into floats. */
  outputSize: number;
  /** real = int * outputScale[j] (per logical output). */
  outputScale: Float64Array;
  /** Physical width of the integer output vector (int32 per step). */
  outputWidth: number;
  outputMap: Int32Array;
  /**
   * Dequantization, done by the kernels in float32 arithmetic: out[p] = f32(acc[p]) * outputScaleF32[p]
   * over the physical output lanes (padding lanes have scale 0), then max(0, .) when outputRelu.
   */
  outputScaleF32: Float32Array;
  outputRelu: boolean;
  /** Float post-processing applied after dequantization: the last dense layer's activation, then post. */
  finalActivation: DenseLayer['activation'];
  post: 'none' | 'softmax' | 'logSoftmax';
  streamable: boolean;
  /** Bytes of one stream's state: per forward layer h int16[Hp] (+ c int32[Hp] for LSTM). */
  stateBytes: number;
  /** Byte offset of each layer's state (-1 for stateless layers). */
  stateOffsets: number[];
}

function quantError(message: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('ERN_QUANT_PARAMS', message, details);
}

function identityMap(n: number): Int32Array {
  const m = new Int32Array(n);
  for (let i = 0; i < n; i++) m[i] = i;
  return m;
}

/** Worst-case |acc + bias| for every row must stay below 2^31 (inputs are int16). */
function checkRowBounds(name: string, Wq: Int8Array, rows: number, cols: number, bias: Int32Array | null, biasOff: number): void {
  // Fast path: with every weight at the int8 limit (|-128|: a file may hold it, though the
  // quantizer writes ±127) the bound holds for all rows (cols < 512 with moderate biases); only
  // otherwise sum each row (a cold loop over every weight costs ms).
  let maxBias = 0;
  for (let j = 0; j < rows; j++) maxBias = Math.max(maxBias, bias ? Math.abs(bias[biasOff + j]!) : 0);
  if (128 * cols * 32768 + maxBias <= INT32_MAX) return;
  for (let j = 0; j < rows; j++) {
    let s = 0;
    for (let k = 0; k < cols; k++) s += Math.abs(Wq[j * cols + k]!);
    const bound = s * 32768 + (bias ? Math.abs(bias[biasOff + j]!) : 0);
    if (bound > INT32_MAX) {
      throw quantError(`${name} row ${j}: worst-case accumulator ${bound} exceeds int32 (sum|w|=${s}, bias=${bias ? bias[biasOff + j] : 0})`, {
        tensor: name,
        row: j,
        bound,
      });
    }
  }
}

/**
 * A quantized tensor's type and length, before any of it is read: prepareIntModel() is public, and
 * a spec built by hand (from JSON: plain arrays) was a TypeError or, a row short, a silent zero.
 */
function checkTensor(name: string, data: unknown, type: Int8ArrayConstructor | Int32ArrayConstructor | Float32ArrayConstructor, length: number): void {
  if (data instanceof type && data.length === length) return;
  const a = (n: string) => `${/^[AEIOU]/.test(n) ? 'an' : 'a'} ${n}`;
  const got = data instanceof type ? String(data.length) : data === null || typeof data !== 'object' ? String(data) : a(data.constructor?.name ?? 'Object');
  throw new EdgeRnnError('ERN_TENSOR', `${name} must be ${a(type.name)} of ${length} values, got ${got}`, { tensor: name, expected: length, got });
}

function checkScales(name: string, s: Float32Array): void {
  for (let j = 0; j < s.length; j++) {
    const v = s[j]!;
    if (!Number.isFinite(v) || v < 0) throw quantError(`${name}[${j}] = ${v}: scales must be finite and >= 0`, { tensor: name, index: j });
  }
}

/**
 * Places a [blocks * blockRows][cols] int8 matrix into a padded physical one: block g's rows go
 * to physical rows g * blockStride onwards (a recurrent layer's gates: blocks of H rows at
 * multiples of Hp), column k to colMap[k].
 */
function padMatrix(src: Int8Array, srcOff: number, blocks: number, blockRows: number, blockStride: number, cols: number, colMap: Int32Array, physRows: number, physCols: number): Int8Array {
  const out = new Int8Array(physRows * physCols);
  let contiguous = true;
  for (let k = 1; k < cols; k++) if (colMap[k] !== colMap[0]! + k) contiguous = false;
  for (let g = 0; g < blocks; g++) {
    const from = srcOff + g * blockRows * cols;
    const to = g * blockStride * physCols;
    if (contiguous && colMap[0] === 0 && cols === physCols) {
      // Unpadded rows (inputs and hidden units already multiples of 8): the block is one copy.
      out.set(src.subarray(from, from + blockRows * cols), to);
      continue;
    }
    for (let j = 0; j < blockRows; j++) {
      if (contiguous) {
        // The common case: whole rows are copied (natively), which keeps model loading fast.
        out.set(src.subarray(from + j * cols, from + (j + 1) * cols), to + j * physCols + colMap[0]!);
      } else {
        for (let k = 0; k < cols; k++) out[to + j * physCols + colMap[k]!] = src[from + j * cols + k]!;
      }
    }
  }
  return out;
}

function prepareRecurrent(layer: RecurrentLayer, li: number, inWidth: number, inMap: Int32Array): PreparedRecurrent {
  const q = layer.quant;
  if (!q) throw quantError(`layer ${li} (${layer.kind}) has no int8 weights`);
  const name = `layers.${li}`;
  const H = layer.hiddenSize;
  const I = layer.inputSize;
  const G = GATES[layer.kind];
  const D = numDirections(layer);
  const Hp = roundUp(H, LANE);
  const defaults = layer.kind === 'gru' ? ['Sigmoid', 'Tanh'] : layer.kind === 'lstm' ? ['Sigmoid', 'Tanh', 'Tanh'] : ['Tanh'];
  layer.activations.forEach((a, i) => {
    if (a.name !== defaults[i % defaults.length] || a.alpha !== undefined || a.beta !== undefined) {
      throw new EdgeRnnError(
        'UNSUPPORTED_MODEL',
        `${name}: activation ${i} is ${a.name}; the integer kernels implement ONNX's defaults (${defaults.join(', ')}) only: use a float32 model`,
        { layer: li, activation: a.name },
      );
    }
  });
  const rowsAll = D * G * H;
  checkTensor(`${name}.Wq`, q.Wq, Int8Array, rowsAll * I);
  checkTensor(`${name}.Rq`, q.Rq, Int8Array, rowsAll * H);
  checkTensor(`${name}.Wscale`, q.Wscale, Float32Array, rowsAll);
  checkTensor(`${name}.Rscale`, q.Rscale, Float32Array, rowsAll);
  checkTensor(`${name}.Bx`, q.Bx, Int32Array, rowsAll);
  checkTensor(`${name}.Bh`, q.Bh, Int32Array, rowsAll);
  if (layer.kind === 'lstm' && q.P) checkTensor(`${name}.P`, q.P, Float32Array, D * 3 * H);
  if (q.initialH) checkTensor(`${name}.initialH`, q.initialH, Float32Array, D * H);
  if (layer.kind === 'lstm' && q.initialC) checkTensor(`${name}.initialC`, q.initialC, Float32Array, D * H);
  checkScales(`${name}.Wscale`, q.Wscale);
  checkScales(`${name}.Rscale`, q.Rscale);
  const hMap = identityMap(H);
  const directions: PreparedDirection[] = [];
  for (let d = 0; d < D; d++) {
    const rows = G * H;
    checkRowBounds(`${name}.Wq`, q.Wq.subarray(d * rows * I, (d + 1) * rows * I), rows, I, q.Bx, d * rows);
    checkRowBounds(`${name}.Rq`, q.Rq.subarray(d * rows * H, (d + 1) * rows * H), rows, H, q.Bh, d * rows);
    // Gate g's H rows go to physical rows g * Hp onwards.
    const W = padMatrix(q.Wq, d * rows * I, G, H, Hp, I, inMap, G * Hp, inWidth);
    const R = padMatrix(q.Rq, d * rows * H, G, H, Hp, H, hMap, G * Hp, Hp);
    const bx = new Int32Array(G * Hp);
    const bh = new Int32Array(G * Hp);
    const scaleX = new Float64Array(G * Hp);
    const scaleH = new Float64Array(G * Hp);
    for (let g = 0; g < G; g++) {
      const from = d * rows + g * H;
      bx.set(q.Bx.subarray(from, from + H), g * Hp);
      bh.set(q.Bh.subarray(from, from + H), g * Hp);
      scaleX.set(q.Wscale.subarray(from, from + H), g * Hp);
      scaleH.set(q.Rscale.subarray(from, from + H), g * Hp);
    }
    let mp: RowMultipliers | null = null;
    if (layer.kind === 'lstm' && q.P) {
      // Peephole term P[j] * c with c in Q16.15 and the result in Q3.12: multiplier P[j] / 8.
      const realP = new Float64Array(3 * Hp);
      for (let g = 0; g < 3; g++) for (let j = 0; j < H; j++) realP[g * Hp + j] = q.P[d * 3 * H + g * H + j]! / 8;
      mp = quantizeMultipliers(realP);
    }
    const h0 = new Int16Array(Hp);
    const c0 = new Int32Array(Hp);
    for (let j = 0; j < H; j++) {
      if (q.initialH) h0[j] = clampInt(Math.floor(q.initialH[d * H + j]! * 32768 + 0.5), -INT16_MAX, INT16_MAX);
      if (q.initialC) c0[j] = clampInt(Math.floor(q.initialC[d * H + j]! * 32768 + 0.5), -(2 ** 30 - 1), 2 ** 30 - 1);
    }
    // acc * rowScale is the real pre-activation; Q3.12 wants it times 2^12.
    directions.push({ W, R, bx, bh, mx: quantizeMultipliers(scaleX, 4096), mh: quantizeMultipliers(scaleH, 4096), mp, h0, c0 });
  }
  const outMap = new Int32Array(D * H);
  for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) outMap[d * H + j] = d * Hp + j;
  const clip = layer.clip;
  const clipQ = clip === undefined ? INT16_MAX : clampInt(Math.floor(clip * 4096 + 0.5), 0, INT16_MAX);
  return {
    kind: layer.kind,
    direction: layer.direction,
    H,
    Hp,
    G,
    Ip: inWidth,
    clipQ,
    linearBeforeReset: layer.linearBeforeReset ?? false,
    inputForget: layer.inputForget ?? false,
    directions,
    outWidth: D * Hp,
    outMap,
  };
}

function prepareDense(layer: DenseLayer, li: number, inWidth: number, inMap: Int32Array, final: boolean): PreparedDense {
  const q = layer.quant;
  if (!q) throw quantError(`layer ${li} (dense) has no int8 weights`);
  const name = `layers.${li}`;
  const I = layer.inputSize;
  const O = layer.outputSize;
  // A final layer's rows only need whole groups of four (matvecBias, dequantize four at a time).
  const Op = roundUp(O, final ? 4 : LANE);
  checkTensor(`${name}.Wq`, q.Wq, Int8Array, O * I);
  checkTensor(`${name}.Wscale`, q.Wscale, Float32Array, O);
  checkTensor(`${name}.Bq`, q.Bq, Int32Array, O);
  checkScales(`${name}.Wscale`, q.Wscale);
  checkRowBounds(`${name}.Wq`, q.Wq, O, I, q.Bq, 0);
  const W = padMatrix(q.Wq, 0, 1, O, Op, I, inMap, Op, inWidth);
  const b = new Int32Array(Op);
  b.set(q.Bq);
  let mo: RowMultipliers | null = null;
  if (!final) {
    const real = new Float64Array(Op);
    if (layer.activation === 'sigmoid' || layer.activation === 'tanh') {
      for (let j = 0; j < O; j++) real[j] = q.Wscale[j]! * 4096;
    } else {
      const s = q.outputScale;
      if (s === undefined || !Number.isFinite(s) || s <= 0) {
        throw quantError(`${name}: a dense layer that feeds another layer needs a positive outputScale, got ${s}`, { layer: li });
      }
      for (let j = 0; j < O; j++) real[j] = q.Wscale[j]! / s;
    }
    mo = quantizeMultipliers(real);
  }
  return { kind: 'dense', I, Ip: inWidth, O, Op, act: layer.activation, final, W, b, mo, outWidth: Op, outMap: identityMap(O) };
}

function physicalScales(scale: Float64Array, map: Int32Array, width: number): Float32Array {
  const out = new Float32Array(Math.ceil(width / 4) * 4);
  for (let j = 0; j < map.length; j++) out[map[j]!] = scale[j]!;
  return out;
}

/** Builds the integer kernels' view of an int8 model. Throws EdgeRnnError on anything invalid. */
export function prepareIntModel(spec: ModelSpec): PreparedIntModel {
  if (spec.precision !== 'int8') throw new EdgeRnnError('BACKEND_UNAVAILABLE', `integer backends run int8 models; this model is ${spec.precision}`);
  const inputScale = spec.inputScale;
  if (!inputScale || inputScale.length !== spec.input.size) {
    throw quantError(`inputScale needs ${spec.input.size} entries, has ${inputScale?.length ?? 0}`);
  }
  const inputInvScale = new Float64Array(spec.input.size);
  for (let k = 0; k < spec.input.size; k++) {
    const s = inputScale[k]!;
    if (!Number.isFinite(s) || s <= 0) throw quantError(`inputScale[${k}] = ${s}: must be finite and > 0`, { index: k });
    inputInvScale[k] = 1 / s;
  }
  // Integer layers are everything up to a trailing softmax/logSoftmax.
  let intCount = spec.layers.length;
  let post: PreparedIntModel['post'] = 'none';
  const last = spec.layers[intCount - 1];
  if (last && (last.kind === 'softmax' || last.kind === 'logSoftmax')) {
    post = last.kind;
    intCount--;
  }
  if (intCount === 0) throw quantError('an int8 model needs at least one recurrent or dense layer');
  const layers: PreparedLayer[] = [];
  let width = roundUp(spec.input.size, LANE);
  let map = identityMap(spec.input.size);
  const inputWidth = width;
  const stateOffsets: number[] = [];
  let stateBytes = 0;
  for (let li = 0; li < intCount; li++) {
    const layer = spec.layers[li]!;
    let p: PreparedLayer;
    if (isRecurrent(layer)) {
      p = prepareRecurrent(layer, li, width, map);
      if (layer.direction === 'forward') {
        stateOffsets.push(stateBytes);
        stateBytes += p.Hp * 2 + (p.kind === 'lstm' ? p.Hp * 4 : 0);
      } else stateOffsets.push(-1);
    } else if (layer.kind === 'dense') {
      p = prepareDense(layer, li, width, map, li === intCount - 1);
      stateOffsets.push(-1);
    } else {
      throw quantError(`layer ${li} (${layer.kind}) can only be the last layer of an int8 model`);
    }
    layers.push(p);
    width = p.outWidth;
    map = p.outMap;
  }
  const lastP = layers[layers.length - 1]!;
  const lastSpec = spec.layers[intCount - 1]!;
  const outputSize = lastP.outMap.length;
  const outputScale = new Float64Array(outputSize);
  if (lastP.kind === 'dense') {
    const q = (lastSpec as DenseLayer).quant!;
    for (let j = 0; j < outputSize; j++) outputScale[j] = q.Wscale[j]!;
  } else {
    outputScale.fill(1 / 32768);
  }
  return {
    inputSize: spec.input.size,
    inputWidth,
    inputInvScale,
    layers,
    outputSize,
    outputScale,
    outputWidth: lastP.outWidth,
    outputMap: lastP.outMap,
    outputScaleF32: physicalScales(outputScale, lastP.outMap, lastP.outWidth),
    outputRelu: lastP.kind === 'dense' && lastP.act === 'relu',
    finalActivation: lastP.kind === 'dense' ? lastP.act : 'none',
    post,
    streamable: isStreamable(spec),
    stateBytes,
    stateOffsets,
  };
}
