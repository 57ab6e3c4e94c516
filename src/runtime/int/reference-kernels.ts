/** The TypeScript integer reference behind the IntKernels interface (backend 'reference'). */
import type { EngineState } from '../engine.js';
import type { IntKernels } from './engine.js';
import type { PreparedIntModel } from './prepare.js';
import { IntReference, dequantizeRef, inverseScalesF32, quantizeFrameRef, refState, type RefState } from './reference.js';

interface RefEngineState extends EngineState {
  readonly st: RefState;
}

function weightBytesOf(P: PreparedIntModel): number {
  let n = 0;
  for (const L of P.layers) {
    if (L.kind === 'dense') n += L.W.byteLength + L.b.byteLength + (L.mo ? L.mo.m.byteLength : 0);
    else for (const d of L.directions) n += d.W.byteLength + d.R.byteLength + d.bx.byteLength + d.bh.byteLength + d.mx.m.byteLength + d.mh.m.byteLength;
  }
  return n;
}

export class ReferenceKernels implements IntKernels {
  readonly backend = 'reference' as const;
  readonly weightBytes: number;
  private readonly P: PreparedIntModel;
  private readonly ref: IntReference;
  private readonly inv: Float32Array;
  private readonly xf: Float32Array;
  private readonly xq: Int16Array;
  private readonly xacc: Int32Array;
  private readonly xout: Float32Array;
  private bf = new Float32Array(0);
  private bq = new Int16Array(0);
  private bacc = new Int32Array(0);
  private bout = new Float32Array(0);
  private sf = new Float32Array(0);
  private sq = new Int16Array(0);
  private sacc = new Int32Array(0);
  private sout = new Float32Array(0);

  constructor(P: PreparedIntModel) {
    this.P = P;
    this.ref = new IntReference(P);
    this.inv = inverseScalesF32(P);
    this.xf = new Float32Array(P.inputSize);
    this.xq = new Int16Array(P.inputWidth);
    this.xacc = new Int32Array(P.outputWidth);
    this.xout = new Float32Array(P.outputWidth);
    this.weightBytes = weightBytesOf(P);
  }

  allocState(): EngineState {
    const bytes = new Uint8Array(Math.max(this.P.stateBytes, 16));
    const st = refState(this.P, bytes);
    const s: RefEngineState = { st, bytes: () => bytes.subarray(0, this.P.stateBytes) };
    return s;
  }

  freeState(): void {}

  stepIn(): Float32Array {
    return this.xf;
  }

  stepOut(): Float32Array {
    return this.xout;
  }

  step(s: EngineState): number {
    const P = this.P;
    if (quantizeFrameRef(this.xf, 0, this.inv, P.inputSize, this.xq, 0) !== 0) return 1;
    this.ref.step((s as RefEngineState).st, this.xq, 0, this.xacc, 0);
    dequantizeRef(this.xacc, 0, P.outputScaleF32, P.outputWidth, P.outputRelu, this.xout, 0);
    return 0;
  }

  /** Sizes every batch buffer, like the WASM kernels. */
  batchIn(n: number): Float32Array {
    if (this.bf.length < n * this.P.inputSize) {
      this.bf = new Float32Array(n * this.P.inputSize);
      this.bq = new Int16Array(n * this.P.inputWidth);
    }
    this.batchOut(n);
    return this.bf;
  }

  batchOut(n: number): Float32Array {
    if (this.bout.length < n * this.P.outputWidth) {
      this.bout = new Float32Array(n * this.P.outputWidth);
      this.bacc = new Int32Array(n * this.P.outputWidth);
    }
    return this.bout;
  }

  stepMany(states: readonly EngineState[]): number {
    const { inputSize: I, inputWidth: inW, outputWidth: outW } = this.P;
    for (let i = 0; i < states.length; i++) if (quantizeFrameRef(this.bf, i * I, this.inv, I, this.bq, i * inW) !== 0) return i + 1;
    for (let i = 0; i < states.length; i++) {
      this.ref.step((states[i] as RefEngineState).st, this.bq, i * inW, this.bacc, i * outW);
      dequantizeRef(this.bacc, i * outW, this.P.outputScaleF32, outW, this.P.outputRelu, this.bout, i * outW);
    }
    return 0;
  }

  /** Sizes every sequence buffer, like the WASM kernels. */
  seqIn(T: number): Float32Array {
    if (this.sf.length < T * this.P.inputSize) {
      this.sf = new Float32Array(T * this.P.inputSize);
      this.sq = new Int16Array(T * this.P.inputWidth);
    }
    this.seqOut(T);
    return this.sf;
  }

  seqOut(T: number): Float32Array {
    if (this.sout.length < T * this.P.outputWidth) {
      this.sout = new Float32Array(T * this.P.outputWidth);
      this.sacc = new Int32Array(T * this.P.outputWidth);
    }
    return this.sout;
  }

  runChunk(s: EngineState, T: number): number {
    const { inputSize: I, inputWidth: inW } = this.P;
    for (let t = 0; t < T; t++) if (quantizeFrameRef(this.sf, t * I, this.inv, I, this.sq, t * inW) !== 0) return t + 1;
    const outW = this.P.outputWidth;
    this.ref.run((s as RefEngineState).st, this.sq, T, this.sacc);
    for (let t = 0; t < T; t++) dequantizeRef(this.sacc, t * outW, this.P.outputScaleF32, outW, this.P.outputRelu, this.sout, t * outW);
    return 0;
  }

  /** The whole sequence in one call, chunk or not: plain memory, and an oracle for the WASM kernels' chunking. */
  runOffline(s: EngineState, T: number, _chunk: number, load: (t0: number, n: number) => void, take: (t0: number, n: number) => void): number {
    load(0, T);
    const failed = this.runChunk(s, T);
    if (failed === 0) take(0, T);
    return failed;
  }

  dispose(): void {}
}
