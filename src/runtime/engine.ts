/**
 * The contract between sessions and backends. A backend compiles one model into an Engine;
 * sessions hold engine states. Sessions validate shapes; engines do arithmetic only.
 */

/** Backends, by name. Integer backends run int8 models bit-identically; `float` runs float32 models. */
export const BACKENDS = ['simd', 'scalar', 'reference', 'float'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** What happens to NaN and ±Infinity in an input frame. */
export type NonFinitePolicy = 'error' | 'zero';

/** Opaque per-stream state handle owned by an engine. */
export interface EngineState {
  readonly bytes: () => Uint8Array;
}

export interface Engine {
  readonly backend: BackendName;
  /** 'int' states are identical across simd, scalar and reference; 'float' states are f64. */
  readonly stateClass: 'int' | 'float';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly streamable: boolean;
  /** Bytes of one stream's state. */
  readonly stateBytes: number;
  /** Bytes of weights and constants this engine holds (shared by all its states). */
  readonly weightBytes: number;

  allocState(): EngineState;
  freeState(s: EngineState): void;
  resetState(s: EngineState): void;

  /**
   * One step. Returns -1, or the index of the first non-finite value when the policy is
   * 'error' (and then nothing was changed). frame has inputSize values from frameOff.
   */
  step(s: EngineState, frame: ArrayLike<number>, frameOff: number, out: Float32Array, policy: NonFinitePolicy): number;

  /**
   * The engine's own input frame, float32 [inputSize]: in kernel memory for the WASM backends,
   * so a producer that writes here saves the copy. A view into WASM memory is detached (length
   * 0) when that memory grows; ask again after allocating sessions or batch/sequence buffers.
   */
  inputFrame(): Float32Array;

  /** step() on the frame already in inputFrame(). Under policy 'zero' it zeroes bad values there. */
  stepInput(s: EngineState, out: Float32Array, policy: NonFinitePolicy): number;

  /** n streams, one frame each: frames [n][inputSize] -> out [n][outputSize]. Same return. */
  stepMany(states: readonly EngineState[], frames: ArrayLike<number>, out: Float32Array, policy: NonFinitePolicy): number;

  /** T steps: frames [T][inputSize] -> out [T][outputSize]. Same return. */
  run(s: EngineState, frames: ArrayLike<number>, T: number, out: Float32Array, policy: NonFinitePolicy): number;

  dispose(): void;
}

/**
 * The smallest magnitude that float32 rounds to ±Infinity (2^128 - 2^103, halfway between the
 * largest float32 and 2^128). Model inputs are float32: a plain number at or beyond it (1e39) is
 * as unusable as an infinity, and the integer engines, which stage frames as float32, see one.
 */
export const FLOAT32_OVERFLOW = 2 ** 128 - 2 ** 103;

/** Index of the first value in v[off .. off+n) that is not a finite float32 (NaN, ±Infinity, |x| >= FLOAT32_OVERFLOW), or -1. */
export function firstNonFinite(v: ArrayLike<number>, off: number, n: number): number {
  for (let i = 0; i < n; i++) {
    if (!(Math.abs(v[off + i]!) < FLOAT32_OVERFLOW)) return i;
  }
  return -1;
}

/** x if it is a finite float32, else 0 (the 'zero' policy). */
export function finiteOrZero(x: number): number {
  return Math.abs(x) < FLOAT32_OVERFLOW ? x : 0;
}
