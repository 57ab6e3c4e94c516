/**
 * IntEngine: quantizes frames, calls integer kernels (TypeScript reference or WASM), and
 * dequantizes outputs. The float <-> int16 boundary is here, once, so every integer backend
 * sees identical integers and produces identical outputs.
 */
import { logSoftmaxInPlace, sigmoid, softmaxInPlace } from '../float/activations.js';
import { type Engine, type EngineState, type NonFinitePolicy } from '../engine.js';
import type { PreparedIntModel } from './prepare.js';

/** Kernel-side buffers and entry points; views are re-fetched per call (WASM memory can grow). */
export interface IntKernels {
  readonly backend: 'simd' | 'scalar' | 'reference';
  readonly weightBytes: number;
  allocState(): EngineState;
  freeState(s: EngineState): void;
  /** int16 [inputWidth] -> int32 [outputWidth] through step(). */
  stepIn(): Int16Array;
  stepOut(): Int32Array;
  step(s: EngineState): void;
  /** Buffers for n streams: int16 [n][inputWidth], int32 [n][outputWidth]. */
  batchIn(n: number): Int16Array;
  batchOut(n: number): Int32Array;
  stepMany(states: readonly EngineState[]): void;
  /** Buffers for a chunk of T steps, then runChunk(s, T). */
  seqIn(T: number): Int16Array;
  seqOut(T: number): Int32Array;
  runChunk(s: EngineState, T: number): void;
  dispose(): void;
}

/** Streamable models run sequences in chunks of this many steps (bounded scratch). */
export const RUN_CHUNK = 64;

export class IntEngine implements Engine {
  readonly backend: IntKernels['backend'];
  readonly stateClass = 'int' as const;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly streamable: boolean;
  readonly stateBytes: number;
  readonly weightBytes: number;
  private readonly P: PreparedIntModel;
  private readonly k: IntKernels;
  private readonly inv: Float64Array;

  constructor(P: PreparedIntModel, kernels: IntKernels) {
    this.P = P;
    this.k = kernels;
    this.backend = kernels.backend;
    this.inputSize = P.inputSize;
    this.outputSize = P.outputSize;
    this.streamable = P.streamable;
    this.stateBytes = P.stateBytes;
    this.weightBytes = kernels.weightBytes;
    this.inv = P.inputInvScale;
  }

  allocState(): EngineState {
    const s = this.k.allocState();
    this.resetState(s);
    return s;
  }

  freeState(s: EngineState): void {
    this.k.freeState(s);
  }

  resetState(s: EngineState): void {
    const bytes = s.bytes();
    const P = this.P;
    P.layers.forEach((L, li) => {
      const off = P.stateOffsets[li]!;
      if (L.kind === 'dense' || off < 0) return;
      const d = L.directions[0]!;
      bytes.set(new Uint8Array(d.h0.buffer, d.h0.byteOffset, d.h0.byteLength), off);
      if (L.kind === 'lstm') bytes.set(new Uint8Array(d.c0.buffer, d.c0.byteOffset, d.c0.byteLength), off + 2 * L.Hp);
    });
  }

  /** Quantizes one frame into q[qOff ..]: round(x / scale), saturated to ±32767. */
  private quantize(frame: ArrayLike<number>, fOff: number, q: Int16Array, qOff: number, policy: NonFinitePolicy): number {
    const inv = this.inv;
    const n = this.inputSize;
    for (let i = 0; i < n; i++) {
      const x = frame[fOff + i]!;
      if (!(x - x === 0)) {
        if (policy === 'error') return i;
        q[qOff + i] = 0;
        continue;
      }
      const v = Math.floor(x * inv[i]! + 0.5);
      q[qOff + i] = v > 32767 ? 32767 : v < -32767 ? -32767 : v;
    }
    return -1;
  }

  /** Dequantizes one output row and applies the float tail (final activation, softmax). */
  private dequantize(acc: Int32Array, aOff: number, out: Float32Array, oOff: number): void {
    const P = this.P;
    const map = P.outputMap;
    const scale = P.outputScale;
    const n = P.outputSize;
    for (let j = 0; j < n; j++) {
      const v = acc[aOff + map[j]!]! * scale[j]!;
      out[oOff + j] = P.finalActivation === 'none' ? v : P.finalActivation === 'relu' ? Math.max(0, v) : P.finalActivation === 'sigmoid' ? sigmoid(v) : Math.tanh(v);
    }
    if (P.post === 'softmax') softmaxInPlace(out, oOff, n);
    else if (P.post === 'logSoftmax') logSoftmaxInPlace(out, oOff, n);
  }

  step(s: EngineState, frame: ArrayLike<number>, frameOff: number, out: Float32Array, policy: NonFinitePolicy): number {
    const bad = this.quantize(frame, frameOff, this.k.stepIn(), 0, policy);
    if (bad >= 0) return bad;
    this.k.step(s);
    this.dequantize(this.k.stepOut(), 0, out, 0);
    return -1;
  }

  stepMany(states: readonly EngineState[], frames: ArrayLike<number>, out: Float32Array, policy: NonFinitePolicy): number {
    const n = states.length;
    const inW = this.P.inputWidth;
    const q = this.k.batchIn(n);
    for (let i = 0; i < n; i++) {
      const bad = this.quantize(frames, i * this.inputSize, q, i * inW, policy);
      if (bad >= 0) return i * this.inputSize + bad;
    }
    this.k.batchOut(n); // sizes the output buffer before the kernels write it
    this.k.stepMany(states);
    const acc = this.k.batchOut(n);
    for (let i = 0; i < n; i++) this.dequantize(acc, i * this.P.outputWidth, out, i * this.outputSize);
    return -1;
  }

  run(s: EngineState, frames: ArrayLike<number>, T: number, out: Float32Array, policy: NonFinitePolicy): number {
    const I = this.inputSize;
    // Validate every frame first: an error must leave the state untouched.
    if (policy === 'error') {
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < I; i++) {
          const x = frames[t * I + i]!;
          if (!(x - x === 0)) return t * I + i;
        }
      }
    }
    if (!this.streamable) this.resetState(s);
    const chunk = this.streamable ? RUN_CHUNK : Math.max(T, 1);
    const inW = this.P.inputWidth;
    const outW = this.P.outputWidth;
    for (let t0 = 0; t0 < T; t0 += chunk) {
      const n = Math.min(chunk, T - t0);
      const q = this.k.seqIn(n);
      for (let t = 0; t < n; t++) this.quantize(frames, (t0 + t) * I, q, t * inW, 'zero');
      this.k.seqOut(n); // sizes the output buffer before the kernels write it
      this.k.runChunk(s, n);
      const acc = this.k.seqOut(n);
      for (let t = 0; t < n; t++) this.dequantize(acc, t * outW, out, (t0 + t) * this.outputSize);
    }
    return -1;
  }

  dispose(): void {
    this.k.dispose();
  }
}
