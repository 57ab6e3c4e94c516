/**
 * Trainable dense layer applied at every step: y = act(x W^T + b), W [out][in] (the ModelSpec
 * layout). Rows are all T*B positions at once (one matrix product); padded positions get
 * zero gradient from the loss, so they contribute nothing.
 */
import type { DenseActivation } from '../../src/index.js';
import { type BatchShape, Scratch, type TrainLayer } from './layer.js';
import { matmulNN, matmulNT, matmulTN } from './matmul.js';
import { alloc, makeParam, type Arr, type DType, type Param } from './tensor.js';

export interface DenseConfig {
  inputSize: number;
  outputSize: number;
  activation: DenseActivation;
  /** Column segments of the input for block pruning (see Param.colSegments). */
  inputSegments?: number[];
}

export class DenseTrainLayer implements TrainLayer {
  readonly cfg: DenseConfig;
  readonly inSize: number;
  readonly outSize: number;
  readonly W: Param;
  readonly b: Param;
  /** Weights forward/backward use: W itself or its fake-quantized copy. */
  effW: Arr;
  private readonly scratch: Scratch;
  private x: Arr | null = null;
  private y: Arr | null = null;
  private rows = 0;

  constructor(cfg: DenseConfig, dtype: DType, name: string) {
    this.cfg = cfg;
    this.inSize = cfg.inputSize;
    this.outSize = cfg.outputSize;
    this.W = makeParam(dtype, `${name}.W`, [cfg.outputSize, cfg.inputSize], 'weight');
    this.W.rowGroup = cfg.outputSize;
    this.W.colSegments = cfg.inputSegments ?? [cfg.inputSize];
    this.b = makeParam(dtype, `${name}.b`, [cfg.outputSize], 'bias');
    this.effW = this.W.value;
    this.scratch = new Scratch((n) => alloc(dtype, n));
  }

  params(): Param[] {
    return [this.W, this.b];
  }

  useParamWeights(): void {
    this.effW = this.W.value;
  }

  /** Records input and output for backward (used by the fake-quant forward). */
  setCache(x: Arr, y: Arr, rows: number): void {
    this.x = x;
    this.y = y;
    this.rows = rows;
  }

  /** Output buffer for `rows` positions. */
  outBuffer(rows: number): Arr {
    return this.scratch.get('y', rows * this.outSize);
  }

  forward(x: Arr, shape: BatchShape, _train: boolean): Arr {
    const rows = shape.T * shape.B;
    const O = this.outSize;
    const y = this.outBuffer(rows);
    matmulNT(rows, O, this.inSize, x, 0, this.effW, 0, y, 0, false);
    const b = this.b.value;
    const act = this.cfg.activation;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < O; j++) {
        const v = y[r * O + j]! + b[j]!;
        y[r * O + j] = act === 'relu' ? (v > 0 ? v : 0) : act === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : act === 'tanh' ? Math.tanh(v) : v;
      }
    }
    this.setCache(x, y, rows);
    return y;
  }

  backward(dy: Arr): Arr {
    const rows = this.rows;
    const O = this.outSize;
    const y = this.y!;
    const da = this.scratch.get('da', rows * O);
    const act = this.cfg.activation;
    for (let i = 0; i < rows * O; i++) {
      const v = y[i]!;
      const g = dy[i]!;
      // Derivatives from the outputs: relu' = [y > 0], σ' = y(1-y), tanh' = 1 - y².
      da[i] = act === 'relu' ? (v > 0 ? g : 0) : act === 'sigmoid' ? g * v * (1 - v) : act === 'tanh' ? g * (1 - v * v) : g;
    }
    matmulTN(rows, O, this.inSize, da, 0, this.x!, 0, this.W.grad, 0, true);
    const gb = this.b.grad;
    for (let r = 0; r < rows; r++) for (let j = 0; j < O; j++) gb[j] = gb[j]! + da[r * O + j]!;
    const dx = this.scratch.get('dx', rows * this.inSize);
    matmulNN(rows, O, this.inSize, da, 0, this.effW, 0, dx, 0, false);
    return dx;
  }
}

/**
 * Inverted dropout between layers (Srivastava et al. 2014): in training each value is zeroed
 * with probability p and the rest scaled by 1/(1-p); at inference it is the identity, so it
 * leaves no trace in the exported model.
 */
export class DropoutLayer implements TrainLayer {
  readonly inSize: number;
  readonly outSize: number;
  private readonly scratch: Scratch;
  private keep: Uint8Array = new Uint8Array(0);
  private n = 0;
  private active = false;

  constructor(
    size: number,
    readonly p: number,
    private readonly random: () => number,
    dtype: DType,
  ) {
    this.inSize = size;
    this.outSize = size;
    this.scratch = new Scratch((n) => alloc(dtype, n));
  }

  params(): Param[] {
    return [];
  }

  forward(x: Arr, shape: BatchShape, train: boolean): Arr {
    this.n = shape.T * shape.B * this.inSize;
    this.active = train && this.p > 0;
    if (!this.active) return x;
    if (this.keep.length < this.n) this.keep = new Uint8Array(this.n);
    const y = this.scratch.get('y', this.n);
    const scale = 1 / (1 - this.p);
    for (let i = 0; i < this.n; i++) {
      const k = this.random() >= this.p ? 1 : 0;
      this.keep[i] = k;
      y[i] = k ? x[i]! * scale : 0;
    }
    return y;
  }

  backward(dy: Arr): Arr {
    if (!this.active) return dy;
    const dx = this.scratch.get('dx', this.n);
    const scale = 1 / (1 - this.p);
    for (let i = 0; i < this.n; i++) dx[i] = this.keep[i] ? dy[i]! * scale : 0;
    return dx;
  }
}
