/**
 * Trainable GRU / LSTM / RNN layers (one or two directions) with ONNX semantics and layout,
 * so the exported ModelSpec computes exactly what was trained (the float reference cells in
 * src/runtime/float/cells.ts are the oracle, test/quantize/layers.test.ts checks it).
 *
 * Parameters per direction d (ONNX gate order: GRU z,r,h · LSTM i,o,f,c · RNN i):
 *   W.d [G*H][I], R.d [G*H][H], b.d [G*H] (Wb + Rb merged), GRU also bn.d [H] = Rb of h,
 *   which sits inside r ⊙ (Rh h + Rbh) (linear_before_reset = 1, as PyTorch) and stays apart.
 *
 * Forward runs the input projection for all steps as one matrix product (X·W^T over T*B rows),
 * then one [B][H]×[H][G*H] product per step. Backward is BPTT over the cached gate values; the
 * weight gradients are again single products over all steps. Caches are kept in processing
 * order n (reverse directions walk t = T-1-n): S[n] is the state before step n, S[n+1] after.
 *
 * Fake-quant forward (qat.ts) fills the same caches with the integer kernels' dequantized values
 * and sets `effW` / `effR` to the dequantized weights, so this backward is its straight-through
 * estimator.
 */
import { GATES, type RecurrentKind } from '../../src/index.js';
import { type BatchShape, Scratch, type TrainLayer } from './layer.js';
import { matmulNN, matmulNT, matmulTN, transpose } from './matmul.js';
import { alloc, makeParam, type Arr, type DType, type Param } from './tensor.js';

export interface RecurrentConfig {
  kind: RecurrentKind;
  inputSize: number;
  hiddenSize: number;
  bidirectional: boolean;
  /** Reverse-only (a single direction walking backwards). */
  reverse?: boolean;
  /**
   * Column segments of the input (sizes summing to inputSize): the physical tiling of the
   * previous layer's output, e.g. [H, H] after a bidirectional layer. Used by block pruning.
   */
  inputSegments?: number[];
}

export interface RecurrentState {
  /** Per direction [B][H]; LSTM also c. */
  h: Arr[];
  c: Arr[];
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

interface DirCache {
  /** [T+1][B][H] states in processing order; S[0] = initial state. */
  S: Arr;
  /** LSTM cells [T+1][B][H]. */
  C: Arr;
  /** Post-activation gates [T][B][G*H] in processing order. */
  gates: Arr;
  /** GRU: Rh h + Rbh [T][B][H]; LSTM: tanh(c') [T][B][H]. */
  aux: Arr;
}

export class RecurrentTrainLayer implements TrainLayer {
  readonly cfg: RecurrentConfig;
  readonly kind: RecurrentKind;
  readonly inSize: number;
  readonly hidden: number;
  readonly dirs: number;
  readonly G: number;
  readonly outSize: number;
  readonly dtype: DType;
  readonly W: Param[] = [];
  readonly R: Param[] = [];
  readonly b: Param[] = [];
  /** GRU only: recurrent bias of the candidate gate, inside r ⊙ (.). */
  readonly bn: Param[] = [];
  /** Weights the forward and backward use: the parameters, or their fake-quantized copies. */
  effW: Arr[] = [];
  effR: Arr[] = [];
  /** Initial state for the next forward (TBPTT carry); null = zeros. */
  initialState: RecurrentState | null = null;

  private readonly scratch: Scratch;
  private cache: DirCache[] = [];
  private x: Arr | null = null;
  private shape: BatchShape | null = null;

  constructor(cfg: RecurrentConfig, dtype: DType, name: string) {
    this.cfg = cfg;
    this.kind = cfg.kind;
    this.inSize = cfg.inputSize;
    this.hidden = cfg.hiddenSize;
    this.dirs = cfg.bidirectional ? 2 : 1;
    this.G = GATES[cfg.kind];
    this.outSize = this.hidden * this.dirs;
    this.dtype = dtype;
    this.scratch = new Scratch((n) => alloc(dtype, n));
    const GH = this.G * this.hidden;
    for (let d = 0; d < this.dirs; d++) {
      const W = makeParam(dtype, `${name}.W.${d}`, [GH, this.inSize], 'weight');
      W.rowGroup = this.hidden;
      W.colSegments = cfg.inputSegments ?? [this.inSize];
      const R = makeParam(dtype, `${name}.R.${d}`, [GH, this.hidden], 'weight');
      R.rowGroup = this.hidden;
      R.colSegments = [this.hidden];
      this.W.push(W);
      this.R.push(R);
      this.b.push(makeParam(dtype, `${name}.b.${d}`, [GH], 'bias'));
      if (this.kind === 'gru') this.bn.push(makeParam(dtype, `${name}.bn.${d}`, [this.hidden], 'bias'));
    }
    this.useParamWeights();
  }

  params(): Param[] {
    const out: Param[] = [];
    for (let d = 0; d < this.dirs; d++) {
      out.push(this.W[d]!, this.R[d]!, this.b[d]!);
      if (this.kind === 'gru') out.push(this.bn[d]!);
    }
    return out;
  }

  /** Forward and backward use the parameter values themselves (float training). */
  useParamWeights(): void {
    this.effW = this.W.map((p) => p.value);
    this.effR = this.R.map((p) => p.value);
  }

  private isReverse(d: number): boolean {
    return d === 1 || (this.cfg.reverse ?? false);
  }

  /** The state after the last forward's final step, per direction (for TBPTT carry). */
  finalState(): RecurrentState {
    const shape = this.shape!;
    const n = shape.B * this.hidden;
    const off = shape.T * n;
    return {
      h: this.cache.map((c) => c.S.slice(off, off + n)),
      c: this.kind === 'lstm' ? this.cache.map((c) => c.C.slice(off, off + n)) : [],
    };
  }

  /** Allocates caches for T steps of B sequences and writes the initial state. */
  prepareCaches(shape: BatchShape): DirCache[] {
    const { T, B } = shape;
    const H = this.hidden;
    const GH = this.G * H;
    const caches: DirCache[] = [];
    for (let d = 0; d < this.dirs; d++) {
      const S = this.scratch.get(`S${d}`, (T + 1) * B * H);
      const C = this.kind === 'lstm' ? this.scratch.get(`C${d}`, (T + 1) * B * H) : S;
      const init = this.initialState;
      for (let i = 0; i < B * H; i++) {
        S[i] = init ? init.h[d]![i]! : 0;
        if (this.kind === 'lstm') C[i] = init ? init.c[d]![i]! : 0;
      }
      caches.push({ S, C, gates: this.scratch.get(`g${d}`, T * B * GH), aux: this.scratch.get(`a${d}`, T * B * H) });
    }
    this.cache = caches;
    this.shape = shape;
    return caches;
  }

  /** Records the input the backward pass multiplies with (the fake-quant forward passes dequantized inputs). */
  setInput(x: Arr): void {
    this.x = x;
  }

  forward(x: Arr, shape: BatchShape, _train: boolean): Arr {
    const { T, B, mask } = shape;
    const H = this.hidden;
    const G = this.G;
    const GH = G * H;
    const I = this.inSize;
    const D = this.dirs;
    const caches = this.prepareCaches(shape);
    this.x = x;
    const y = this.scratch.get('y', T * B * D * H);
    const ax = this.scratch.get('ax', T * B * GH);
    const hh = this.scratch.get('hh', B * GH);
    for (let d = 0; d < D; d++) {
      const { S, C, gates, aux } = caches[d]!;
      const Wd = this.effW[d]!;
      const Rd = this.effR[d]!;
      const bias = this.b[d]!.value;
      const bn = this.kind === 'gru' ? this.bn[d]!.value : null;
      // Input projection for every step at once: ax = X W^T + b.
      matmulNT(T * B, GH, I, x, 0, Wd, 0, ax, 0, false);
      for (let r = 0; r < T * B; r++) for (let j = 0; j < GH; j++) ax[r * GH + j] = ax[r * GH + j]! + bias[j]!;
      const rev = this.isReverse(d);
      for (let n = 0; n < T; n++) {
        const t = rev ? T - 1 - n : n;
        const sPrev = n * B * H;
        const sNext = (n + 1) * B * H;
        matmulNT(B, GH, H, S, sPrev, Rd, 0, hh, 0, false);
        for (let bi = 0; bi < B; bi++) {
          const live = mask[t * B + bi] === 1;
          const ao = (t * B + bi) * GH;
          const go = (n * B + bi) * GH;
          const ho = bi * GH;
          const po = sPrev + bi * H;
          const qo = sNext + bi * H;
          const uo = (n * B + bi) * H;
          if (!live) {
            for (let j = 0; j < H; j++) {
              S[qo + j] = S[po + j]!;
              if (this.kind === 'lstm') C[qo + j] = C[po + j]!;
            }
            for (let j = 0; j < GH; j++) gates[go + j] = 0;
            for (let j = 0; j < H; j++) aux[uo + j] = 0;
            continue;
          }
          if (this.kind === 'gru') {
            // z = σ(.), r = σ(.), hn = Rh h + Rbh, n = tanh(Wh x + Wbh + r ⊙ hn), h' = (1-z) n + z h
            for (let j = 0; j < H; j++) {
              const z = sigmoid(ax[ao + j]! + hh[ho + j]!);
              const r = sigmoid(ax[ao + H + j]! + hh[ho + H + j]!);
              const hn = hh[ho + 2 * H + j]! + bn![j]!;
              const nn = Math.tanh(ax[ao + 2 * H + j]! + r * hn);
              gates[go + j] = z;
              gates[go + H + j] = r;
              gates[go + 2 * H + j] = nn;
              aux[uo + j] = hn;
              S[qo + j] = (1 - z) * nn + z * S[po + j]!;
            }
          } else if (this.kind === 'lstm') {
            // i, o, f = σ(.), g = tanh(.), c' = f c + i g, h' = o tanh(c')
            for (let j = 0; j < H; j++) {
              const i = sigmoid(ax[ao + j]! + hh[ho + j]!);
              const o = sigmoid(ax[ao + H + j]! + hh[ho + H + j]!);
              const f = sigmoid(ax[ao + 2 * H + j]! + hh[ho + 2 * H + j]!);
              const g = Math.tanh(ax[ao + 3 * H + j]! + hh[ho + 3 * H + j]!);
              const c = f * C[po + j]! + i * g;
              const tc = Math.tanh(c);
              gates[go + j] = i;
              gates[go + H + j] = o;
              gates[go + 2 * H + j] = f;
              gates[go + 3 * H + j] = g;
              C[qo + j] = c;
              aux[uo + j] = tc;
              S[qo + j] = o * tc;
            }
          } else {
            for (let j = 0; j < H; j++) {
              const h = Math.tanh(ax[ao + j]! + hh[ho + j]!);
              gates[go + j] = h;
              S[qo + j] = h;
            }
          }
        }
      }
      this.writeOutput(d, shape, y);
    }
    return y;
  }

  /** Copies direction d's states from processing order into y [T][B][D*H]. */
  writeOutput(d: number, shape: BatchShape, y: Arr): void {
    const { T, B } = shape;
    const H = this.hidden;
    const DH = this.dirs * H;
    const S = this.cache[d]!.S;
    const rev = this.isReverse(d);
    for (let n = 0; n < T; n++) {
      const t = rev ? T - 1 - n : n;
      for (let bi = 0; bi < B; bi++) {
        const src = (n + 1) * B * H + bi * H;
        const dst = (t * B + bi) * DH + d * H;
        for (let j = 0; j < H; j++) y[dst + j] = S[src + j]!;
      }
    }
  }

  backward(dy: Arr): Arr {
    const shape = this.shape!;
    const x = this.x!;
    const { T, B, mask } = shape;
    const H = this.hidden;
    const G = this.G;
    const GH = G * H;
    const I = this.inSize;
    const D = this.dirs;
    const DH = D * H;
    const dx = this.scratch.get('dx', T * B * I, true);
    const dax = this.scratch.get('dax', T * B * GH);
    const dah = this.scratch.get('dah', T * B * GH);
    const dh = this.scratch.get('dh', B * H);
    const dhNext = this.scratch.get('dhNext', B * H);
    const dc = this.scratch.get('dc', B * H);
    for (let d = 0; d < D; d++) {
      const { S, C, gates, aux } = this.cache[d]!;
      const Wd = this.effW[d]!;
      // Rᵀ once per backward: each step's dh_prev = dah · R is then a dot-product product.
      const RdT = transpose(this.effR[d]!, 0, GH, H);
      const rev = this.isReverse(d);
      dh.fill(0, 0, B * H);
      dc.fill(0, 0, B * H);
      for (let n = T - 1; n >= 0; n--) {
        const t = rev ? T - 1 - n : n;
        const sPrev = n * B * H;
        // dh = dL/dh' at this step: from the output and from the next step.
        for (let bi = 0; bi < B; bi++) {
          const yo = (t * B + bi) * DH + d * H;
          for (let j = 0; j < H; j++) dh[bi * H + j] = dh[bi * H + j]! + dy[yo + j]!;
        }
        for (let bi = 0; bi < B; bi++) {
          const live = mask[t * B + bi] === 1;
          const xo = (t * B + bi) * GH;
          const ho = (n * B + bi) * GH;
          const go = ho;
          const uo = (n * B + bi) * H;
          const po = sPrev + bi * H;
          const bo = bi * H;
          if (!live) {
            // State passed through unchanged: gradients pass through unchanged too.
            for (let j = 0; j < GH; j++) {
              dax[xo + j] = 0;
              dah[ho + j] = 0;
            }
            continue;
          }
          if (this.kind === 'gru') {
            for (let j = 0; j < H; j++) {
              const g = dh[bo + j]!;
              const z = gates[go + j]!;
              const r = gates[go + H + j]!;
              const nn = gates[go + 2 * H + j]!;
              const hn = aux[uo + j]!;
              const dan = g * (1 - z) * (1 - nn * nn);
              const daz = g * (S[po + j]! - nn) * z * (1 - z);
              const dar = dan * hn * r * (1 - r);
              dax[xo + j] = daz;
              dax[xo + H + j] = dar;
              dax[xo + 2 * H + j] = dan;
              dah[ho + j] = daz;
              dah[ho + H + j] = dar;
              dah[ho + 2 * H + j] = dan * r;
              dh[bo + j] = g * z; // direct path h -> h'
            }
          } else if (this.kind === 'lstm') {
            for (let j = 0; j < H; j++) {
              const g = dh[bo + j]!;
              const i = gates[go + j]!;
              const o = gates[go + H + j]!;
              const f = gates[go + 2 * H + j]!;
              const gg = gates[go + 3 * H + j]!;
              const tc = aux[uo + j]!;
              const dcj = dc[bo + j]! + g * o * (1 - tc * tc);
              const dai = dcj * gg * i * (1 - i);
              const dao = g * tc * o * (1 - o);
              const daf = dcj * C[po + j]! * f * (1 - f);
              const dag = dcj * i * (1 - gg * gg);
              dax[xo + j] = dai;
              dax[xo + H + j] = dao;
              dax[xo + 2 * H + j] = daf;
              dax[xo + 3 * H + j] = dag;
              dah[ho + j] = dai;
              dah[ho + H + j] = dao;
              dah[ho + 2 * H + j] = daf;
              dah[ho + 3 * H + j] = dag;
              dc[bo + j] = dcj * f;
              dh[bo + j] = 0;
            }
          } else {
            for (let j = 0; j < H; j++) {
              const h = gates[go + j]!;
              const da = dh[bo + j]! * (1 - h * h);
              dax[xo + j] = da;
              dah[ho + j] = da;
              dh[bo + j] = 0;
            }
          }
        }
        // dh_prev = (direct part, kept in dh) + dah · R
        matmulNT(B, H, GH, dah, n * B * GH, RdT, 0, dhNext, 0, false);
        for (let i = 0; i < B * H; i++) dh[i] = dh[i]! + dhNext[i]!;
      }
      // Weight gradients over all steps at once.
      matmulTN(T * B, GH, H, dah, 0, S, 0, this.R[d]!.grad, 0, true);
      matmulTN(T * B, GH, I, dax, 0, x, 0, this.W[d]!.grad, 0, true);
      const gb = this.b[d]!.grad;
      for (let r = 0; r < T * B; r++) for (let j = 0; j < GH; j++) gb[j] = gb[j]! + dax[r * GH + j]!;
      if (this.kind === 'gru') {
        // dL/dRbh = dL/dhn = dan * r, the h block of dah.
        const gbn = this.bn[d]!.grad;
        for (let r = 0; r < T * B; r++) for (let j = 0; j < H; j++) gbn[j] = gbn[j]! + dah[r * GH + 2 * H + j]!;
      }
      matmulNN(T * B, GH, I, dax, 0, Wd, 0, dx, 0, true);
    }
    return dx;
  }
}
