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

/** Index of the first NaN/±Infinity in v[off .. off+n), or -1. (x - x is NaN exactly for those.) */
export function firstNonFinite(v: ArrayLike<number>, off: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const x = v[off + i]!;
    if (!(x - x === 0)) return i;
  }
  return -1;
}
