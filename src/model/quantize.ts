/**
 * Post-training quantization of a float32 ModelSpec into the int8 scheme "ern-a16w8-v1"
 * (docs/quantization.md). Weights: int8 per output row, symmetric, with the layer's input scale
 * folded in. Activations: int16; the model input per feature (from calibration ranges), hidden
 * states Q0.15, intermediate dense outputs per tensor (calibrated).
 *
 * Calibration strategies (min/max, percentile, MSE-optimal) live in quantize/; this module takes
 * their result: absolute ranges.
 */
import { EdgeRnnError } from '../errors.js';
import { denseFloat, floatDirections, floatScratch, gruStepFloat, lstmStepFloat, rnnStepFloat } from '../runtime/float/cells.js';
import { INT32_MAX } from '../runtime/fixed-point.js';
import {
  checkFiniteWeights,
  checkSpecArgument,
  GATES,
  isRecurrent,
  numDirections,
  type DenseLayer,
  type Layer,
  type ModelSpec,
  type QuantRecurrentWeights,
  type RecurrentLayer,
} from './spec.js';

export const QUANT_SCHEME = 'ern-a16w8-v1';
const Q15 = 1 / 32768;
/**
 * Smallest int16 activation scale: the least normal float32, 2^-126, reached by ranges below
 * 32767 · 2^-126 ≈ 3.9e-34. The kernels quantize with f32(1 / scale), which is Infinity below
 * about 2.9e-39 (every non-zero input then saturated), and a range under about 2.3e-41 gave the
 * scale 0 itself, which no backend loads (ERN_QUANT_PARAMS, raised by encodeModel).
 */
const MIN_ACTIVATION_SCALE = 2 ** -126;

/** The int16 scale of a calibrated range: max|v| / 32767 in float32 (range 0: 1), floored. */
function activationScale(absMax: number): number {
  return Math.max(Math.fround((absMax > 0 ? absMax : 1) / 32767), MIN_ACTIVATION_SCALE);
}

export interface QuantRanges {
  /** max |x_k| per input feature. */
  inputAbsMax: ArrayLike<number>;
  /** max |y| of each dense layer that feeds another layer (by layer index). */
  denseAbsMax?: Record<number, number>;
}

/**
 * Symmetric int8 rows: q = round(w / s) with s = max|w| / 127 per row, and the bias in
 * accumulator units. The runtime needs sum|q|·32768 + |b| < 2^31 for every row (int16 inputs);
 * a row whose bias does not fit gets a coarser scale (its weights are then tiny next to the bias),
 * and a row that cannot fit at all is refused.
 */
function quantizeRows(w: Float64Array, rows: number, cols: number, bias: Float64Array | null, requantized = true): { q: Int8Array; scale: Float32Array; b: Int32Array } {
  const q = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  const b = new Int32Array(rows);
  const quantizeRow = (j: number, s: number): number => {
    let sumAbs = 0;
    for (let k = 0; k < cols; k++) {
      const v = Math.max(-127, Math.min(127, Math.round(w[j * cols + k]! / s)));
      q[j * cols + k] = v;
      sumAbs += Math.abs(v);
    }
    return sumAbs;
  };
  const rowMax = new Float64Array(rows);
  let weightScaleMax = 0;
  for (let j = 0; j < rows; j++) {
    for (let k = 0; k < cols; k++) rowMax[j] = Math.max(rowMax[j]!, Math.abs(w[j * cols + k]!));
    weightScaleMax = Math.max(weightScaleMax, Math.fround(rowMax[j]! / 127));
  }
  for (let j = 0; j < rows; j++) {
    const maxAbs = rowMax[j]!;
    const bj = bias ? bias[j]! : 0;
    // An all-zero row (pruned) keeps scale 0: a placeholder like 1 would become the matrix's
    // largest multiplier and, through the shared requantization shift, cost every other row
    // precision.
    if (maxAbs === 0 && bj === 0) continue;
    // A row whose bias sets its scale (zero weights: |b| / 2^30, 2^30 units; near-zero weights:
    // the scale that fits the bias in int32) takes, in a requantized matrix, at least the largest
    // weight scale, its bias then as precise as the other rows' accumulators. The runtime clamps
    // every row's accumulator there to one bound sized by the largest row multiplier, which 2^30
    // or 2^31 units passed once that multiplier exceeded 1 (or 1/2): the bias was cut (next to a
    // row fed raw int16-sized inputs, range 32767 and weight 0.2, a bias of 0.5 became 0.08).
    const biasFloor = requantized ? weightScaleMax : 0;
    let s = Math.fround(maxAbs > 0 ? maxAbs / 127 : Math.max(biasFloor, Math.abs(bj) / 2 ** 30));
    let sumAbs = maxAbs > 0 ? quantizeRow(j, s) : 0;
    const budget = () => INT32_MAX - 1 - sumAbs * 32768;
    if (budget() < 0) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `a weight row with ${cols} inputs sums to ${sumAbs} in int8 units: it could overflow the int32 accumulator with int16 activations (limit 65535)`, { cols, sumAbs });
    }
    if (Math.abs(bj) / s > budget()) {
      s = Math.fround(Math.max((Math.abs(bj) / budget()) * (1 + 1e-6), biasFloor));
      sumAbs = quantizeRow(j, s);
    }
    scale[j] = s;
    b[j] = Math.round(bj / s);
  }
  return { q, scale, b };
}

function quantizeRecurrent(layer: RecurrentLayer, inScale: Float64Array): RecurrentLayer {
  const w = layer.float;
  if (!w) throw new EdgeRnnError('ERN_TENSOR', `${layer.kind} layer has no float weights to quantize`);
  const H = layer.hiddenSize;
  const I = layer.inputSize;
  const G = GATES[layer.kind];
  const D = numDirections(layer);
  const rows = G * H;
  const Wq = new Int8Array(D * rows * I);
  const Rq = new Int8Array(D * rows * H);
  const Wscale = new Float32Array(D * rows);
  const Rscale = new Float32Array(D * rows);
  const Bx = new Int32Array(D * rows);
  const Bh = new Int32Array(D * rows);
  for (let d = 0; d < D; d++) {
    const wf = new Float64Array(rows * I);
    const rf = new Float64Array(rows * H);
    const bx = new Float64Array(rows);
    const bh = new Float64Array(rows);
    for (let j = 0; j < rows; j++) {
      for (let k = 0; k < I; k++) wf[j * I + k] = w.W[d * rows * I + j * I + k]! * inScale[k]!;
      for (let k = 0; k < H; k++) rf[j * H + k] = w.R[d * rows * H + j * H + k]! * Q15;
      const wb = w.B ? w.B[d * 2 * rows + j]! : 0;
      const rb = w.B ? w.B[d * 2 * rows + rows + j]! : 0;
      // GRU with linear_before_reset: Rbh sits inside r ⊙ (Rh h + Rbh), so it stays with R.
      const rbInside = layer.kind === 'gru' && (layer.linearBeforeReset ?? false) && j >= 2 * H;
      bx[j] = rbInside ? wb : wb + rb;
      bh[j] = rbInside ? rb : 0;
    }
    const qw = quantizeRows(wf, rows, I, bx);
    const qr = quantizeRows(rf, rows, H, bh);
    Wq.set(qw.q, d * rows * I);
    Rq.set(qr.q, d * rows * H);
    Wscale.set(qw.scale, d * rows);
    Rscale.set(qr.scale, d * rows);
    Bx.set(qw.b, d * rows);
    Bh.set(qr.b, d * rows);
  }
  const quant: QuantRecurrentWeights = { Wq, Wscale, Rq, Rscale, Bx, Bh };
  if (w.P) quant.P = w.P;
  if (w.initialH) quant.initialH = w.initialH;
  if (w.initialC) quant.initialC = w.initialC;
  const { float: _float, ...rest } = layer;
  return { ...rest, quant };
}

function quantizeDense(layer: DenseLayer, li: number, inScale: Float64Array, outAbsMax: number | undefined, final: boolean): DenseLayer {
  const w = layer.float;
  if (!w) throw new EdgeRnnError('ERN_TENSOR', 'dense layer has no float weights to quantize');
  const I = layer.inputSize;
  const O = layer.outputSize;
  const wf = new Float64Array(O * I);
  for (let j = 0; j < O; j++) for (let k = 0; k < I; k++) wf[j * I + k] = w.W[j * I + k]! * inScale[k]!;
  const bias = new Float64Array(O);
  if (w.B) bias.set(w.B);
  // The final layer's accumulators are dequantized, not requantized: no clamp.
  const q = quantizeRows(wf, O, I, bias, !final);
  const quant: NonNullable<DenseLayer['quant']> = { Wq: q.q, Wscale: q.scale, Bq: q.b };
  if (!final && (layer.activation === 'none' || layer.activation === 'relu')) {
    if (outAbsMax === undefined) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `dense layer ${li} feeds another layer: it needs a calibrated output range (denseAbsMax[${li}])`, { layer: li });
    }
    if (!Number.isFinite(outAbsMax) || outAbsMax < 0) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `denseAbsMax[${li}] is ${outAbsMax}, expected a finite range >= 0`, { layer: li, expected: 'a finite number >= 0', got: String(outAbsMax) });
    }
    // A range of 0 (a relu layer the calibration data never made positive) was refused as if
    // missing; any scale represents it, so it gets 1, as a model input of range 0 does.
    quant.outputScale = activationScale(outAbsMax);
  }
  const { float: _float, ...rest } = layer;
  return { ...rest, quant };
}

/** The per-feature scale an int8 model uses for its int16 input: max|x| / 32767 (at least 2^-126). */
export function inputScaleFromAbsMax(absMax: ArrayLike<number>): Float32Array {
  const s = new Float32Array(absMax.length);
  for (let k = 0; k < absMax.length; k++) {
    const m = absMax[k]!;
    if (!Number.isFinite(m) || m < 0) throw new EdgeRnnError('UNSUPPORTED_MODEL', `input range ${k} is ${m}`);
    s[k] = activationScale(m);
  }
  return s;
}

/** Quantizes a float32 model to int8 with the given ranges. The float spec is not modified. */
export function quantizeModel(spec: ModelSpec, ranges: QuantRanges): ModelSpec {
  checkSpecArgument(spec, 'quantizeModel()');
  if (spec.precision !== 'float32') throw new EdgeRnnError('UNSUPPORTED_MODEL', `quantizeModel needs a float32 model, got ${spec.precision}`);
  checkFiniteWeights(spec, 'quantizeModel()');
  if (ranges.inputAbsMax.length !== spec.input.size) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `inputAbsMax has ${ranges.inputAbsMax.length} entries, the model has ${spec.input.size} inputs`);
  }
  const inputScale = inputScaleFromAbsMax(ranges.inputAbsMax);
  let inScale = Float64Array.from(inputScale);
  let lastInt = spec.layers.length - 1;
  while (lastInt >= 0 && (spec.layers[lastInt]!.kind === 'softmax' || spec.layers[lastInt]!.kind === 'logSoftmax')) lastInt--;
  const layers: Layer[] = spec.layers.map((layer, li) => {
    if (isRecurrent(layer)) {
      const q = quantizeRecurrent(layer, inScale);
      inScale = new Float64Array(layer.hiddenSize * numDirections(layer)).fill(Q15);
      return q;
    }
    if (layer.kind === 'dense') {
      const q = quantizeDense(layer, li, inScale, ranges.denseAbsMax?.[li], li === lastInt);
      const s = layer.activation === 'sigmoid' || layer.activation === 'tanh' ? Q15 : (q.quant!.outputScale ?? 1);
      inScale = new Float64Array(layer.outputSize).fill(s);
      return q;
    }
    return { ...layer };
  });
  return { ...spec, precision: 'int8', layers, inputScale };
}

/**
 * Min/max calibration: runs the float model over the sequences and records max |x| per input
 * feature and the output range of every dense layer that feeds another layer. NaN and
 * infinities are missing samples: they set no range and are traced as 0.
 */
export function calibrateAbsMax(spec: ModelSpec, sequences: readonly Float32Array[]): Required<QuantRanges> {
  const I = spec.input.size;
  const inputAbsMax = new Float64Array(I);
  const denseAbsMax: Record<number, number> = {};
  // Without a frame every range would be 0, and the int8 model would ignore its inputs.
  if (!Array.isArray(sequences) || sequences.every((seq) => !(seq?.length > 0))) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `calibrateAbsMax() needs calibration data: a list of sequences of ${I}-feature frames with at least one frame, got ${Array.isArray(sequences) ? `${sequences.length} sequence(s) and no frame` : typeof sequences}`);
  }
  // An int8 spec has no float weights to trace (a plain Error from the float cells), and a
  // null among the sequences was a TypeError.
  if (spec.precision !== 'float32') throw new EdgeRnnError('UNSUPPORTED_MODEL', `calibrateAbsMax() needs a float32 model, '${spec.name}' is ${spec.precision}`, { expected: 'float32', got: spec.precision });
  sequences.forEach((seq, i) => {
    if (typeof seq?.length !== 'number') throw new EdgeRnnError('INVALID_ARGUMENT', `calibrateAbsMax(): sequence ${i} is ${seq === null ? 'null' : typeof seq}, expected a Float32Array of ${I}-feature frames`, { index: i });
  });
  for (const seq of sequences) {
    if (seq.length % I !== 0) throw new EdgeRnnError('SHAPE_MISMATCH', `calibration sequence of ${seq.length} values is not a multiple of ${I} features`);
    for (let i = 0; i < seq.length; i++) {
      const v = Math.abs(seq[i]!);
      if (Number.isFinite(v) && v > inputAbsMax[i % I]!) inputAbsMax[i % I] = v;
    }
  }
  const needs = spec.layers.some((l, li) => l.kind === 'dense' && li < spec.layers.length - 1 && (l.activation === 'none' || l.activation === 'relu'));
  if (needs) {
    // Trace every layer's output in float to find the dense ranges.
    for (const seq of sequences) {
      const T = seq.length / I;
      // Non-finite values are missing samples here, as for the input ranges above (and as the
      // runtime's nonFinite: 'zero' steps them): traced as they were, a NaN made every dense
      // range after it NaN, which quantizeModel refused as a missing range.
      let cur = Float64Array.from(seq, (v: number) => (Number.isFinite(v) ? v : 0));
      let width = I;
      spec.layers.forEach((layer, li) => {
        if (isRecurrent(layer)) {
          const H = layer.hiddenSize;
          const D = numDirections(layer);
          const next = new Float64Array(T * H * D);
          floatDirections(layer).forEach((dir, d) => {
            // Start from the layer's initial state, as the runtime does.
            const h = Float64Array.from(layer.float!.initialH?.subarray(d * H, (d + 1) * H) ?? new Float64Array(H));
            const c = Float64Array.from(layer.float!.initialC?.subarray(d * H, (d + 1) * H) ?? new Float64Array(H));
            const s = floatScratch(H);
            const reverse = d === 1 || layer.direction === 'reverse';
            for (let n = 0; n < T; n++) {
              const t = reverse ? T - 1 - n : n;
              if (layer.kind === 'gru') gruStepFloat(dir, cur, t * width, h, s);
              else if (layer.kind === 'lstm') lstmStepFloat(dir, cur, t * width, h, c, s);
              else rnnStepFloat(dir, cur, t * width, h, s);
              next.set(h, t * H * D + d * H);
            }
          });
          cur = next;
          width = H * D;
        } else if (layer.kind === 'dense') {
          const next = new Float64Array(T * layer.outputSize);
          for (let t = 0; t < T; t++) denseFloat(layer.float!.W, layer.float!.B, layer.inputSize, layer.outputSize, layer.activation, cur, t * width, next, t * layer.outputSize);
          let m = denseAbsMax[li] ?? 0;
          for (const v of next) m = Math.max(m, Math.abs(v));
          denseAbsMax[li] = m;
          cur = next;
          width = layer.outputSize;
        }
      });
    }
  }
  return { inputAbsMax, denseAbsMax };
}
