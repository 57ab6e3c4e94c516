/** The TypeScript integer reference behind the IntKernels interface (backend 'reference'). */
import type { EngineState } from '../engine.js';
import type { IntKernels } from './engine.js';
import type { PreparedIntModel } from './prepare.js';
import { IntReference, refState, type RefState } from './reference.js';

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
  private readonly xin: Int16Array;
  private readonly xout: Int32Array;
  private bin = new Int16Array(0);
  private bout = new Int32Array(0);
  private sin = new Int16Array(0);
  private sout = new Int32Array(0);

  constructor(P: PreparedIntModel) {
    this.P = P;
    this.ref = new IntReference(P);
    this.xin = new Int16Array(P.inputWidth);
    this.xout = new Int32Array(P.outputWidth);
    this.weightBytes = weightBytesOf(P);
  }

  allocState(): EngineState {
    const bytes = new Uint8Array(Math.max(this.P.stateBytes, 16));
    const st = refState(this.P, bytes);
    const s: RefEngineState = { st, bytes: () => bytes.subarray(0, this.P.stateBytes) };
    return s;
  }

  freeState(): void {}

  stepIn(): Int16Array {
    return this.xin;
  }

  stepOut(): Int32Array {
    return this.xout;
  }

  step(s: EngineState): void {
    this.ref.step((s as RefEngineState).st, this.xin, 0, this.xout, 0);
  }

  batchIn(n: number): Int16Array {
    if (this.bin.length < n * this.P.inputWidth) this.bin = new Int16Array(n * this.P.inputWidth);
    return this.bin;
  }

  batchOut(n: number): Int32Array {
    if (this.bout.length < n * this.P.outputWidth) this.bout = new Int32Array(n * this.P.outputWidth);
    return this.bout;
  }

  stepMany(states: readonly EngineState[]): void {
    for (let i = 0; i < states.length; i++) {
      this.ref.step((states[i] as RefEngineState).st, this.bin, i * this.P.inputWidth, this.bout, i * this.P.outputWidth);
    }
  }

  seqIn(T: number): Int16Array {
    if (this.sin.length < T * this.P.inputWidth) this.sin = new Int16Array(T * this.P.inputWidth);
    return this.sin;
  }

  seqOut(T: number): Int32Array {
    if (this.sout.length < T * this.P.outputWidth) this.sout = new Int32Array(T * this.P.outputWidth);
    return this.sout;
  }

  runChunk(s: EngineState, T: number): void {
    this.ref.run((s as RefEngineState).st, this.sin, T, this.sout);
  }

  dispose(): void {}
}
