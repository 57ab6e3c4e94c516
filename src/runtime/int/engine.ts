/**
 * IntEngine: quantizes frames, calls integer kernels (TypeScript reference or WASM), and
 * dequantizes outputs. The float <-> int16 boundary is here, once, so every integer backend
 * sees identical integers and produces identical outputs.
 */
import { logSoftmaxInPlace, sigmoid, softmaxInPlace } from '../float/activations.js';
import { firstNonFinite, type Engine, type EngineState, type NonFinitePolicy } from '../engine.js';
import type { PreparedIntModel } from './prepare.js';

/**
 * Kernel-side buffers and entry points. Frames enter as float32 and the kernels quantize them
 * (same f32 formula everywhere: quantizeFrameRef); views are re-fetched per call because WASM
 * memory can grow. Entry points return 0, or 1 + the index of the first frame holding NaN or
 * ±Infinity (then nothing was changed).
 */
export interface IntKernels {
  readonly backend: 'simd' | 'scalar' | 'reference';
  readonly weightBytes: number;
  allocState(): EngineState;
  freeState(s: EngineState): void;
  /** float32 [inputSize] -> dequantized float32 [outputWidth] through step(). */
  stepIn(): Float32Array;
  stepOut(): Float32Array;
  step(s: EngineState): number;
  /** Buffers for n streams: float32 [n][inputSize] in, float32 [n][outputWidth] out. */
  batchIn(n: number): Float32Array;
  batchOut(n: number): Float32Array;
  stepMany(states: readonly EngineState[]): number;
  /** Buffers for a chunk of T steps (float32 [T][inputSize] in, float32 [T][outputWidth] out), then runChunk(s, T). */
  seqIn(T: number): Float32Array;
  seqOut(T: number): Float32Array;
  runChunk(s: EngineState, T: number): number;
  /**
   * T steps of a model with bidirectional or reverse layers: every layer sees the whole sequence
   * before the next one starts. `load(t0, n)` writes frames t0 .. t0+n into seqIn(n); `take(t0, n)`
   * reads their outputs from seqOut(n); n is at most `chunk`, the most steps the kernels hold at
   * once (WASM memory never shrinks: a whole 10^6-step sequence there would stay allocated until
   * dispose()). All frames are loaded and checked before any state changes. Same return as runChunk.
   */
  runOffline(s: EngineState, T: number, chunk: number, load: (t0: number, n: number) => void, take: (t0: number, n: number) => void): number;
  dispose(): void;
}

/**
 * Sequences run in chunks of at most this many steps, so the kernels' sequence scratch (frames,
 * the input projection of every step, activations: 1.6 KiB a step for a bidirectional GRU
 * 40 -> 64, 410 KiB a chunk) stays bounded whatever the length: WASM memory never shrinks.
 * Longer than the bench's 49-128-step sequences, so those are one chunk (for models with
 * bidirectional layers, the path they took before chunking; measured in docs/quantization.md).
 */
export const RUN_CHUNK = 256;

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

  /** outputMap is [0, 1, 2, ...]: copy rows without the indirection. */
  private readonly identityOutput: boolean;
  /** 0: nothing after dequantization; 1: sigmoid head; 2: tanh head; 3: only softmax/logSoftmax. */
  private readonly tail: 0 | 1 | 2 | 3;

  constructor(P: PreparedIntModel, kernels: IntKernels) {
    this.P = P;
    this.identityOutput = P.outputMap.every((p, j) => p === j);
    this.tail = P.finalActivation === 'sigmoid' ? 1 : P.finalActivation === 'tanh' ? 2 : P.post !== 'none' ? 3 : 0;
    this.k = kernels;
    this.backend = kernels.backend;
    this.inputSize = P.inputSize;
    this.outputSize = P.outputSize;
    this.streamable = P.streamable;
    this.stateBytes = P.stateBytes;
    this.weightBytes = kernels.weightBytes;
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

  /** Copies frame values into a float32 staging buffer (no allocation). */
  private stage(frame: ArrayLike<number>, fOff: number, dst: Float32Array, dOff: number, n: number): void {
    // Typed arrays are copied (and converted) natively; plain arrays element by element.
    if (frame instanceof Float32Array || frame instanceof Float64Array) dst.set(fOff === 0 && frame.length === n ? frame : frame.subarray(fOff, fOff + n), dOff);
    else for (let i = 0; i < n; i++) dst[dOff + i] = frame[fOff + i]!;
  }

  /** Replaces NaN/±Infinity by 0 in dst[off .. off+n) ('zero' policy). */
  private static zeroNonFinite(dst: Float32Array, off: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const v = dst[off + i]!;
      if (!(v - v === 0)) dst[off + i] = 0;
    }
  }

  /**
   * Takes one dequantized output row from the kernels (physical lanes) to the caller's buffer
   * (logical outputs) and applies the float tail: a sigmoid/tanh head, softmax, log-softmax.
   */
  private finish(y: Float32Array, yOff: number, out: Float32Array, oOff: number): void {
    const P = this.P;
    const n = P.outputSize;
    if (this.identityOutput) for (let j = 0; j < n; j++) out[oOff + j] = y[yOff + j]!;
    else for (let j = 0; j < n; j++) out[oOff + j] = y[yOff + P.outputMap[j]!]!;
    if (this.tail === 0) return;
    if (this.tail === 1) for (let j = 0; j < n; j++) out[oOff + j] = sigmoid(out[oOff + j]!);
    else if (this.tail === 2) for (let j = 0; j < n; j++) out[oOff + j] = Math.tanh(out[oOff + j]!);
    if (P.post === 'softmax') softmaxInPlace(out, oOff, n);
    else if (P.post === 'logSoftmax') logSoftmaxInPlace(out, oOff, n);
  }

  step(s: EngineState, frame: ArrayLike<number>, frameOff: number, out: Float32Array, policy: NonFinitePolicy): number {
    const I = this.inputSize;
    const x = this.k.stepIn();
    this.stage(frame, frameOff, x, 0, I);
    if (this.k.step(s) !== 0) {
      // A NaN or infinity: the kernels changed nothing.
      if (policy === 'error') return firstNonFinite(x, 0, I);
      IntEngine.zeroNonFinite(x, 0, I);
      this.k.step(s);
    }
    this.finish(this.k.stepOut(), 0, out, 0);
    return -1;
  }

  inputFrame(): Float32Array {
    return this.k.stepIn();
  }

  stepInput(s: EngineState, out: Float32Array, policy: NonFinitePolicy): number {
    if (this.k.step(s) !== 0) {
      const x = this.k.stepIn();
      if (policy === 'error') return firstNonFinite(x, 0, this.inputSize);
      IntEngine.zeroNonFinite(x, 0, this.inputSize);
      this.k.step(s);
    }
    this.finish(this.k.stepOut(), 0, out, 0);
    return -1;
  }

  /**
   * Frames that lie in kernel memory (model.inputFrame() or a view of it) would be detached when
   * sizing the batch or sequence buffers grows that memory: those are copied out first.
   */
  private outsideKernels(frames: ArrayLike<number>): ArrayLike<number> {
    return ArrayBuffer.isView(frames) && frames.buffer === this.k.stepIn().buffer ? (frames as Float32Array).slice() : frames;
  }

  stepMany(states: readonly EngineState[], frames: ArrayLike<number>, out: Float32Array, policy: NonFinitePolicy): number {
    const n = states.length;
    const I = this.inputSize;
    frames = this.outsideKernels(frames);
    const x = this.k.batchIn(n); // sizes every batch buffer: x stays valid below
    this.stage(frames, 0, x, 0, n * I);
    if (this.k.stepMany(states) !== 0) {
      if (policy === 'error') return firstNonFinite(x, 0, n * I);
      IntEngine.zeroNonFinite(x, 0, n * I);
      this.k.stepMany(states);
    }
    const acc = this.k.batchOut(n);
    for (let i = 0; i < n; i++) this.finish(acc, i * this.P.outputWidth, out, i * this.outputSize);
    return -1;
  }

  run(s: EngineState, frames: ArrayLike<number>, T: number, out: Float32Array, policy: NonFinitePolicy): number {
    const I = this.inputSize;
    frames = this.outsideKernels(frames);
    // Validate every frame first: an error must leave the state untouched. A streamable model's
    // sequence of one chunk is checked by the kernels instead (runChunk quantizes and checks the
    // whole chunk before any layer runs, and returns the first bad frame with nothing changed),
    // so its frames are not read twice; the feature is looked up only then.
    const checked = this.streamable && T <= RUN_CHUNK;
    if (policy === 'error' && !checked) {
      const bad = firstNonFinite(frames, 0, T * I);
      if (bad >= 0) return bad;
    }
    if (!this.streamable) this.resetState(s);
    if (!this.streamable && T > RUN_CHUNK) {
      const x = frames; // the closures capture this const, not the reassigned parameter
      const failed = this.k.runOffline(
        s,
        T,
        RUN_CHUNK,
        (t0, n) => this.loadChunk(x, t0, n, policy),
        (t0, n) => this.takeChunk(out, t0, n),
      );
      if (failed !== 0) throw IntEngine.missedFrame(failed - 1);
      return -1;
    }
    // Streamable models carry the state from chunk to chunk; an offline sequence this short is one chunk.
    for (let t0 = 0; t0 < T; t0 += RUN_CHUNK) {
      const n = Math.min(RUN_CHUNK, T - t0);
      this.loadChunk(frames, t0, n, policy);
      const failed = this.k.runChunk(s, n);
      if (failed !== 0) {
        const t = t0 + failed - 1;
        const k = checked && policy === 'error' ? firstNonFinite(frames, t * I, I) : -1;
        if (k < 0) throw IntEngine.missedFrame(t);
        return t * I + k;
      }
      this.takeChunk(out, t0, n);
    }
    return -1;
  }

  /** Frames t0 .. t0+n into the kernels' sequence input (sized for n steps here). */
  private loadChunk(frames: ArrayLike<number>, t0: number, n: number, policy: NonFinitePolicy): void {
    const I = this.inputSize;
    const x = this.k.seqIn(n); // sizes every sequence buffer
    this.stage(frames, t0 * I, x, 0, n * I);
    if (policy === 'zero') IntEngine.zeroNonFinite(x, 0, n * I);
  }

  /** The outputs of steps t0 .. t0+n from the kernels' sequence output to the caller's rows. */
  private takeChunk(out: Float32Array, t0: number, n: number): void {
    const acc = this.k.seqOut(n);
    const outW = this.P.outputWidth;
    // Rows that need no mapping, padding or head: one native copy.
    if (this.identityOutput && this.tail === 0 && outW === this.outputSize) out.set(acc.subarray(0, n * outW), t0 * outW);
    else for (let t = 0; t < n; t++) this.finish(acc, t * outW, out, (t0 + t) * this.outputSize);
  }

  /**
   * run() checks (or zeroes) every frame before the kernels run, or leaves the check of a
   * one-chunk streamable sequence to them; if they ever found a bad frame that the caller's
   * values do not hold, say so rather than return outputs of steps that did not run.
   */
  private static missedFrame(t: number): Error {
    return new Error(`internal: frame ${t} passed the input check but not the kernels'`);
  }

  dispose(): void {
    this.k.dispose();
  }
}
