/**
 * Fake quantization that is the integer kernels: a batched forward pass over a prepared int8
 * model (prepareIntModel, the arrays every backend runs) using the fixed-point functions of
 * src/runtime/fixed-point.ts, so each integer equals what the reference kernels compute
 * (test/quantize/fake-quant.test.ts: outputs bit-identical to the int8 reference backend).
 *
 * The cell formulas mirror src/runtime/int/reference.ts stage by stage (gate input
 * clip(sat16(a + b)), requantizePart, σ/tanh tables, the GRU blend, the LSTM Q16.15 cell);
 * they are restated here because training needs every gate value, batched, in float form.
 *
 * For training, every layer's caches are filled with the dequantized values (gates, states,
 * inputs) and its effective weights set to the dequantized int8 weights in training units;
 * the layers' ordinary backward pass is then the straight-through estimator: quantizers
 * (rounding, saturation, table activations) are treated as identity in the backward pass,
 * activation derivatives are taken at the quantized outputs (σ' = s(1 - s), tanh' = 1 - t²).
 */
import {
  EdgeRnnError,
  fixedPoint,
  isRecurrent,
  type ModelSpec,
  type PreparedDense,
  type PreparedIntModel,
  type PreparedRecurrent,
} from '../../src/index.js';
import { DenseTrainLayer } from '../nn/dense.js';
import type { BatchShape } from '../nn/layer.js';
import { matmulNT } from '../nn/matmul.js';
import type { Network } from '../nn/network.js';
import { RecurrentTrainLayer } from '../nn/recurrent.js';
import { alloc, type Arr } from '../nn/tensor.js';
import type { Normalization } from '../train/batches.js';

const { PART_LIMIT, cellToGate, clampInt, mulShiftRound, q15MulR, requantizePart, sat16, sigmoidQ15, tanhQ15 } = fixedPoint;
const PART_MAX = PART_LIMIT - 1;
const Q15 = 1 / 32768;

/** Gate input: clip(sat16(a + b)) in Q3.12 (as gateIn in the integer reference). */
function gateIn(a: number, b: number, clipQ: number): number {
  return clampInt(sat16(a + b), -clipQ, clipQ);
}

/** One prepared direction in logical (unpadded) layout, integers held in Float64Array. */
interface LogicalDirection {
  W: Float64Array; // [G*H][I]
  R: Float64Array; // [G*H][H]
  bx: Int32Array;
  bh: Int32Array;
  mx: Int32Array;
  mh: Int32Array;
  sx: number;
  sh: number;
  cx: number;
  ch: number;
}

function logicalDirection(L: PreparedRecurrent, d: number, I: number, inMap: Int32Array): LogicalDirection {
  const dir = L.directions[d]!;
  const { H, Hp, G, Ip } = L;
  const rows = G * H;
  const W = new Float64Array(rows * I);
  const R = new Float64Array(rows * H);
  const bx = new Int32Array(rows);
  const bh = new Int32Array(rows);
  const mx = new Int32Array(rows);
  const mh = new Int32Array(rows);
  for (let j = 0; j < rows; j++) {
    // Logical row j (gate g, unit u) sits at physical row g*Hp + u (prepare.ts rowMap).
    const pj = Math.floor(j / H) * Hp + (j % H);
    for (let k = 0; k < I; k++) W[j * I + k] = dir.W[pj * Ip + inMap[k]!]!;
    for (let k = 0; k < H; k++) R[j * H + k] = dir.R[pj * Hp + k]!;
    bx[j] = dir.bx[pj]!;
    bh[j] = dir.bh[pj]!;
    mx[j] = dir.mx.m[pj]!;
    mh[j] = dir.mh.m[pj]!;
  }
  if (dir.mp) throw new EdgeRnnError('UNSUPPORTED_MODEL', 'fake quantization does not model LSTM peepholes');
  return { W, R, bx, bh, mx, mh, sx: dir.mx.shift, sh: dir.mh.shift, cx: dir.mx.clamp, ch: dir.mh.clamp };
}

/** Training-side facts for one layer of the fake-quant pass. */
interface Plan {
  train: RecurrentTrainLayer | DenseTrainLayer | null;
  P: PreparedRecurrent | PreparedDense;
  inMap: Int32Array;
  /** Real value of one unit of this layer's int16 input, per input feature. */
  inScale: Float64Array;
}

/** The fake-quant model for one set of weights (rebuild after every optimizer step). */
export class FakeQuantModel {
  readonly P: PreparedIntModel;
  private readonly plans: Plan[];
  private readonly dirs: LogicalDirection[][];
  private readonly denseW: Float64Array[];

  /**
   * `qspec` is the int8 spec (quantizeModel's output) and `P` = prepareIntModel(qspec).
   * `net` (optional) is the training network whose caches and effective weights are set.
   */
  constructor(qspec: ModelSpec, P: PreparedIntModel, net: Network | null, private readonly norm: Normalization | null) {
    this.P = P;
    const trainLayers = net ? net.specLayers() : [];
    if (net && trainLayers.length !== P.layers.length) throw new EdgeRnnError('UNSUPPORTED_MODEL', `network has ${trainLayers.length} layers, the int8 model ${P.layers.length}`);
    let inMap: Int32Array = Int32Array.from({ length: qspec.input.size }, (_, i) => i);
    let inScale = Float64Array.from(qspec.inputScale!);
    this.plans = [];
    this.dirs = [];
    this.denseW = [];
    P.layers.forEach((L, li) => {
      const layer = qspec.layers[li]!;
      const train = trainLayers[li] ?? null;
      this.plans.push({ train, P: L, inMap, inScale });
      if (L.kind === 'dense') {
        if (layer.kind !== 'dense' || !layer.quant) throw new EdgeRnnError('UNSUPPORTED_MODEL', `layer ${li} is not an int8 dense layer`);
        const I = layer.inputSize;
        const W = new Float64Array(L.O * I);
        for (let j = 0; j < L.O; j++) for (let k = 0; k < I; k++) W[j * I + k] = L.W[j * L.Ip + inMap[k]!]!;
        this.denseW.push(W);
        this.dirs.push([]);
        const outScale = L.act === 'sigmoid' || L.act === 'tanh' ? Q15 : (layer.quant.outputScale ?? 1);
        inScale = new Float64Array(L.O).fill(outScale);
      } else {
        if (!isRecurrent(layer) || !layer.quant) throw new EdgeRnnError('UNSUPPORTED_MODEL', `layer ${li} is not an int8 recurrent layer`);
        if (L.kind === 'gru' && !L.linearBeforeReset) throw new EdgeRnnError('UNSUPPORTED_MODEL', 'fake quantization models GRU with linear_before_reset = 1 (what the trainer builds)');
        if (L.inputForget) throw new EdgeRnnError('UNSUPPORTED_MODEL', 'fake quantization does not model LSTM input_forget');
        this.dirs.push(L.directions.map((_, d) => logicalDirection(L, d, layer.inputSize, inMap)));
        this.denseW.push(new Float64Array(0));
        inScale = new Float64Array(L.H * L.directions.length).fill(Q15);
      }
      inMap = L.outMap;
    });
    if (net) this.setEffectiveWeights(qspec);
  }

  /** Dequantized weights in the training network's units (normalization unfolded). */
  private setEffectiveWeights(qspec: ModelSpec): void {
    const norm = this.norm;
    const last = this.plans.length - 1;
    this.plans.forEach((plan, li) => {
      const layer = qspec.layers[li]!;
      const inSd = (k: number): number => (li === 0 && norm ? norm.inputStd[k]! : 1);
      if (plan.train instanceof DenseTrainLayer && layer.kind === 'dense' && layer.quant) {
        const I = layer.inputSize;
        const q = layer.quant;
        const eff = alloc(plan.train.W.value instanceof Float64Array ? 'f64' : 'f32', layer.outputSize * I);
        for (let j = 0; j < layer.outputSize; j++) {
          const outSd = li === last && norm && norm.outputStd.length ? norm.outputStd[j]! : 1;
          for (let k = 0; k < I; k++) eff[j * I + k] = ((q.Wq[j * I + k]! * q.Wscale[j]!) / plan.inScale[k]!) * (inSd(k) / outSd);
        }
        plan.train.effW = eff;
      } else if (plan.train instanceof RecurrentTrainLayer && isRecurrent(layer) && layer.quant) {
        const q = layer.quant;
        const t = plan.train;
        const rows = t.G * t.hidden;
        const I = t.inSize;
        const H = t.hidden;
        const dtype = t.W[0]!.value instanceof Float64Array ? 'f64' : 'f32';
        t.effW = [];
        t.effR = [];
        for (let d = 0; d < t.dirs; d++) {
          const W = alloc(dtype, rows * I);
          const R = alloc(dtype, rows * H);
          for (let j = 0; j < rows; j++) {
            const ws = q.Wscale[d * rows + j]!;
            const rs = q.Rscale[d * rows + j]! * 32768;
            for (let k = 0; k < I; k++) W[j * I + k] = ((q.Wq[(d * rows + j) * I + k]! * ws) / plan.inScale[k]!) * inSd(k);
            for (let k = 0; k < H; k++) R[j * H + k] = q.Rq[(d * rows + j) * H + k]! * rs;
          }
          t.effW.push(W);
          t.effR.push(R);
        }
      }
    });
  }

  /** Quantizes raw frames [T][B][I] as the runtime does (fixedPoint.quantizeInput, float32 arithmetic). */
  quantizeInput(raw: ArrayLike<number>, n: number): Float64Array {
    const I = this.P.inputSize;
    const inv = this.P.inputInvScale;
    const q = new Float64Array(n);
    for (let i = 0; i < n; i++) q[i] = fixedPoint.quantizeInput(raw[i]!, Math.fround(inv[i % I]!));
    return q;
  }

  /**
   * Runs the integer pipeline on raw frames. Returns the dequantized final output [T][B][O]
   * exactly as IntEngine produces it before its float tail (softmax). With `train`, fills the
   * training layers' caches (dequantized, training units).
   */
  forward(raw: ArrayLike<number>, shape: BatchShape, train: boolean): Float32Array {
    const { T, B } = shape;
    const rows = T * B;
    let xq = this.quantizeInput(raw, rows * this.P.inputSize);
    let width = this.P.inputSize;
    let out: Float32Array = new Float32Array(0);
    this.plans.forEach((plan, li) => {
      const L = plan.P;
      // Dequantized input in training units, for the weight gradients.
      let xr: Arr | null = null;
      if (train && plan.train) {
        xr = alloc(plan.train instanceof DenseTrainLayer ? (plan.train.W.value instanceof Float64Array ? 'f64' : 'f32') : plan.train.dtype, rows * width);
        const norm = li === 0 ? this.norm : null;
        for (let i = 0; i < rows * width; i++) {
          const k = i % width;
          const v = xq[i]! * plan.inScale[k]!;
          xr[i] = norm ? (v - norm.inputMean[k]!) / norm.inputStd[k]! : v;
        }
        if (plan.train instanceof RecurrentTrainLayer) plan.train.setInput(xr);
      }
      if (L.kind === 'dense') {
        const r = this.dense(L, li, xq, width, rows, xr, plan);
        xq = r.q;
        out = r.out;
        width = L.O;
      } else {
        xq = this.recurrent(L, li, xq, width, shape, train, plan);
        width = L.H * L.directions.length;
      }
    });
    const last = this.P.layers[this.P.layers.length - 1]!;
    if (last.kind !== 'dense') {
      out = new Float32Array(rows * width);
      for (let i = 0; i < rows * width; i++) out[i] = fixedPoint.dequantizeOutput(xq[i]!, Math.fround(this.P.outputScale[i % width]!), false);
    }
    return out;
  }

  private dense(L: PreparedDense, li: number, x: Float64Array, I: number, rows: number, xr: Arr | null, plan: Plan): { q: Float64Array; out: Float32Array } {
    const O = L.O;
    const W = this.denseW[li]!;
    const acc = new Float64Array(rows * O);
    matmulNT(rows, O, I, x, 0, W, 0, acc, 0, false);
    const q = new Float64Array(rows * O);
    let out: Float32Array = new Float32Array(0);
    if (L.final) {
      // IntEngine.dequantize: acc * outputScale[j], then the float activation.
      out = new Float32Array(rows * O);
      const sc = this.P.outputScale;
      const act = this.P.finalActivation;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < O; j++) {
          const a = (acc[r * O + j]! + L.b[j]!) | 0;
          // The kernels dequantize (and apply a ReLU head) in float32; sigmoid/tanh heads follow in float.
          const v = fixedPoint.dequantizeOutput(a, Math.fround(sc[j]!), act === 'relu');
          out[r * O + j] = act === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : act === 'tanh' ? Math.tanh(v) : v;
        }
      }
    } else {
      const m = L.mo!;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < O; j++) {
          const a = (acc[r * O + j]! + L.b[j]!) | 0;
          const v = sat16(requantizePart(a, 0, m.m[j]!, m.shift, m.clamp));
          q[r * O + j] = L.act === 'relu' ? Math.max(0, v) : L.act === 'sigmoid' ? sigmoidQ15(v) : L.act === 'tanh' ? tanhQ15(v) : v;
        }
      }
    }
    if (xr && plan.train instanceof DenseTrainLayer) {
      const t = plan.train;
      const y = t.outBuffer(rows);
      const norm = this.norm;
      if (L.final) {
        const denorm = norm && norm.outputStd.length === O;
        for (let i = 0; i < rows * O; i++) y[i] = denorm ? (out[i]! - norm.outputMean[i % O]!) / norm.outputStd[i % O]! : out[i]!;
      } else {
        const s = L.act === 'sigmoid' || L.act === 'tanh' ? Q15 : this.plans[li + 1]!.inScale[0]!;
        for (let i = 0; i < rows * O; i++) y[i] = q[i]! * s;
      }
      t.setCache(xr, y, rows);
    }
    return { q, out };
  }

  private recurrent(L: PreparedRecurrent, li: number, x: Float64Array, I: number, shape: BatchShape, train: boolean, plan: Plan): Float64Array {
    const { T, B, mask } = shape;
    const H = L.H;
    const G = L.G;
    const GH = G * H;
    const D = L.directions.length;
    const DH = D * H;
    const clipQ = L.clipQ;
    const yq = new Float64Array(T * B * DH);
    const t = plan.train instanceof RecurrentTrainLayer ? plan.train : null;
    const caches = train && t ? t.prepareCaches(shape) : null;
    const ax = new Float64Array(T * B * GH);
    const hh = new Float64Array(B * GH);
    const ph = new Float64Array(B * GH);
    for (let d = 0; d < D; d++) {
      const dir = this.dirs[li]![d]!;
      const L0 = L.directions[d]!;
      const rev = d === 1 || L.direction === 'reverse';
      // px = P(W x + bx) for every step (the input projection).
      matmulNT(T * B, GH, I, x, 0, dir.W, 0, ax, 0, false);
      for (let r = 0; r < T * B; r++) for (let j = 0; j < GH; j++) ax[r * GH + j] = requantizePart(ax[r * GH + j]!, dir.bx[j]!, dir.mx[j]!, dir.sx, dir.cx);
      const h = new Float64Array(B * H);
      const c = new Float64Array(B * H);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < H; j++) {
          h[b * H + j] = L0.h0[j]!;
          c[b * H + j] = L0.c0[j]!;
        }
      }
      const cache = caches ? caches[d]! : null;
      if (cache) {
        for (let i = 0; i < B * H; i++) {
          cache.S[i] = h[i]! * Q15;
          if (L.kind === 'lstm') cache.C[i] = c[i]! * Q15;
        }
      }
      for (let n = 0; n < T; n++) {
        const tt = rev ? T - 1 - n : n;
        matmulNT(B, GH, H, h, 0, dir.R, 0, hh, 0, false);
        for (let i = 0; i < B * GH; i++) ph[i] = requantizePart(hh[i]!, dir.bh[i % GH]!, dir.mh[i % GH]!, dir.sh, dir.ch);
        for (let b = 0; b < B; b++) {
          const live = mask[tt * B + b] === 1;
          const ao = (tt * B + b) * GH;
          const po = b * GH;
          const go = (n * B + b) * GH;
          const uo = (n * B + b) * H;
          const so = (n + 1) * B * H + b * H;
          if (live) {
            if (L.kind === 'gru') {
              for (let j = 0; j < H; j++) {
                const z = sigmoidQ15(gateIn(ax[ao + j]!, ph[po + j]!, clipQ));
                const r = sigmoidQ15(gateIn(ax[ao + H + j]!, ph[po + H + j]!, clipQ));
                const rPart = mulShiftRound(r, ph[po + 2 * H + j]!, 15);
                const nn = tanhQ15(gateIn(ax[ao + 2 * H + j]!, rPart, clipQ));
                const hp = h[b * H + j]!;
                h[b * H + j] = nn + ((z * (hp - nn) + 16384) >> 15);
                if (cache) {
                  cache.gates[go + j] = z * Q15;
                  cache.gates[go + H + j] = r * Q15;
                  cache.gates[go + 2 * H + j] = nn * Q15;
                  cache.aux[uo + j] = ph[po + 2 * H + j]! / 4096;
                }
              }
            } else if (L.kind === 'lstm') {
              for (let j = 0; j < H; j++) {
                const preI = clampInt(ax[ao + j]! + ph[po + j]!, -PART_MAX, PART_MAX);
                const preO = clampInt(ax[ao + H + j]! + ph[po + H + j]!, -PART_MAX, PART_MAX);
                const preF = clampInt(ax[ao + 2 * H + j]! + ph[po + 2 * H + j]!, -PART_MAX, PART_MAX);
                const preC = clampInt(ax[ao + 3 * H + j]! + ph[po + 3 * H + j]!, -PART_MAX, PART_MAX);
                const i = sigmoidQ15(clampInt(sat16(preI), -clipQ, clipQ));
                const f = sigmoidQ15(clampInt(sat16(preF), -clipQ, clipQ));
                const g = tanhQ15(clampInt(sat16(preC), -clipQ, clipQ));
                const cNew = clampInt(mulShiftRound(f, c[b * H + j]!, 15) + ((i * g + 16384) >> 15), -PART_MAX, PART_MAX);
                const o = sigmoidQ15(clampInt(sat16(preO), -clipQ, clipQ));
                const tc = tanhQ15(cellToGate(cNew));
                c[b * H + j] = cNew;
                h[b * H + j] = q15MulR(o, tc);
                if (cache) {
                  cache.gates[go + j] = i * Q15;
                  cache.gates[go + H + j] = o * Q15;
                  cache.gates[go + 2 * H + j] = f * Q15;
                  cache.gates[go + 3 * H + j] = g * Q15;
                  cache.aux[uo + j] = tc * Q15;
                }
              }
            } else {
              for (let j = 0; j < H; j++) {
                const v = tanhQ15(gateIn(ax[ao + j]!, ph[po + j]!, clipQ));
                h[b * H + j] = v;
                if (cache) cache.gates[go + j] = v * Q15;
              }
            }
          } else if (cache) {
            for (let j = 0; j < GH; j++) cache.gates[go + j] = 0;
            for (let j = 0; j < H; j++) cache.aux[uo + j] = 0;
          }
          if (cache) {
            for (let j = 0; j < H; j++) {
              cache.S[so + j] = h[b * H + j]! * Q15;
              if (L.kind === 'lstm') cache.C[so + j] = c[b * H + j]! * Q15;
            }
          }
          const yo = (tt * B + b) * DH + d * H;
          for (let j = 0; j < H; j++) yq[yo + j] = h[b * H + j]!;
        }
      }
    }
    return yq;
  }
}
