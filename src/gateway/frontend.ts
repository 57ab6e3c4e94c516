/**
 * Front-end adapter (Node-only module): turns a device's samples into model input frames. A
 * model's manifest names its front end (`input.frontend.kind`); the gateway asks a registry for
 * a factory of that kind. `none` ships here: every sample (channels = the model's input size)
 * is one frame. The streaming front ends of src/features (log-mel, MFCC, IMU windows, series)
 * come through frontEndFromStreaming (feature-frontends.ts); others register through
 * GatewayOptions.frontends with this same interface.
 *
 * Samples reach the front end at its sampleRateHz: the gateway resamples (linear interpolation)
 * when a device's rate differs.
 */
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { createFrontend } from '../features/registry.js';
import type { SlidingWindowFrontend } from '../features/windows.js';
import type { FrontendSpec } from '../model/spec.js';

/** Frame flag: reset the model state before stepping this frame (first frame of an independent window). */
export const FRAME_RESET = 1;
/** Frame flag: the detector consumes this frame's output (every frame of a streaming front end; the last of a window). */
export const FRAME_DETECT = 2;

/**
 * Receives one frame (a view valid only during the call), the index within the pushed batch of
 * the sample that completed it, and FRAME_* flags.
 */
export type FrameSink = (frame: Float32Array, sampleIndex: number, flags: number) => void;

export interface FrontEnd {
  readonly kind: string;
  /** Values per input sample. */
  readonly channels: number;
  /** Values per frame (the model's input size). */
  readonly frameSize: number;
  /** The sample rate it needs (Hz), or undefined when any rate is fine. */
  readonly sampleRateHz: number | undefined;
  /** Input samples one output block (a frame, or a window of framesPerWindow frames) advances by: what dropping that block loses. */
  readonly hopSamples: number;
  /** 1 for streaming front ends; W when every output is an independent window of W frames (run from a reset state). */
  readonly framesPerWindow: number;
  /**
   * Frames of the stream one window advances by (its hop, in frames), for alert positions
   * (frameIndex). 1 for streaming front ends; when absent, windows are taken not to overlap
   * (framesPerWindow).
   */
  readonly hopFrames?: number;
  /** Consumes n interleaved samples [n][channels] and emits every completed frame. */
  push(samples: Float32Array, n: number, sink: FrameSink): void;
  reset(): void;
  /**
   * Buffered samples and filter state, so a stream continues exactly after eviction, restart or
   * hand-off. Empty for a front end that keeps nothing between pushes.
   */
  exportState(): Uint8Array;
  /**
   * Continues from exportState() bytes; throws (changing nothing) when they do not fit. Empty
   * bytes (a state saved by a gateway that kept no front-end state) restart the front end.
   */
  importState(bytes: Uint8Array): void;
}

export interface FrontEndContext {
  /** The model's input size (frame size). */
  inputSize: number;
  /** The model's frame rate from its manifest (input.rateHz), if any. */
  rateHz: number | undefined;
  /** Values per sample the route declared (0 = not declared). */
  channels: number;
  /** Config path for messages ("routes[0]"). */
  path: string;
}

export type FrontEndFactory = (spec: FrontendSpec, ctx: FrontEndContext) => FrontEnd;

/** `none`: one sample is one frame; the model rate (if any) is the sample rate. */
export function createNoneFrontEnd(spec: FrontendSpec, ctx: FrontEndContext): FrontEnd {
  if (ctx.channels !== 0 && ctx.channels !== ctx.inputSize) {
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.channels must be ${ctx.inputSize} (the model's input size: front end "none" feeds each sample as a frame), got ${ctx.channels}`, {
      field: `${ctx.path}.channels`,
      expected: ctx.inputSize,
      got: ctx.channels,
    });
  }
  // Sliding windows (a model trained on windows of a CSV): every hop samples the last `frames`,
  // each run from a reset state, the detector on the window's last output, as in training.
  if ((spec as { windows?: unknown }).windows !== undefined) {
    let fe;
    try {
      fe = createFrontend(spec, { expectedFeatureSize: ctx.inputSize });
    } catch (e) {
      if (!isEdgeRnnError(e)) throw e;
      throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.model: the model's front end (none) is unusable: ${e.message}`, { field: `${ctx.path}.model` });
    }
    const hop = (fe as SlidingWindowFrontend).hop;
    return frontEndFromStreaming(fe, ctx.rateHz, hop, undefined, hop, true);
  }
  const C = ctx.inputSize;
  return {
    kind: 'none',
    channels: C,
    frameSize: C,
    sampleRateHz: ctx.rateHz,
    hopSamples: 1,
    framesPerWindow: 1,
    hopFrames: 1,
    push(samples, n, sink) {
      for (let i = 0; i < n; i++) sink(samples.subarray(i * C, (i + 1) * C), i, FRAME_DETECT);
    },
    reset() {},
    exportState: () => new Uint8Array(0),
    importState(bytes) {
      if (bytes.length !== 0) throw new EdgeRnnError('GATEWAY_STATE', `front end "none" keeps no state, got ${bytes.length} bytes`);
    },
  };
}

export const BUILTIN_FRONTENDS: Readonly<Record<string, FrontEndFactory>> = { none: createNoneFrontEnd };

/**
 * The streaming front-end shape of src/features (StreamingFrontend), restated structurally so
 * this adapter does not depend on that module's build: push() calls onOutput once per block of
 * framesPerOutput frames of featureSize values; exportState()/importState() carry the buffered
 * samples and filter memory (importState refuses, changing nothing, a state of another kind or
 * spec, or a corrupt one: FRONTEND_STATE).
 */
export interface StreamingFrontendLike {
  readonly kind: string;
  readonly inputChannels: number;
  readonly featureSize: number;
  readonly framesPerOutput: number;
  readonly frameRateHz: number | undefined;
  push(samples: ArrayLike<number>, onOutput: (output: Float32Array, index: number) => void): number;
  reset(): void;
  exportState(): Uint8Array;
  importState(bytes: Uint8Array): void;
}

/**
 * Where a front end's output blocks complete, when that is fixed by its geometry (audio): block b
 * completes at input sample `first - 1 + b·every` of the stream (0-based, counted from its start
 * or reset). `probe` builds a spare front end of the same spec, used to find the stream position
 * of an imported state.
 */
export interface BlockTiming {
  first: number;
  every: number;
  probe: () => StreamingFrontendLike;
}

/**
 * Wraps a src/features front end as a gateway FrontEnd. `inputRateHz` is the sample rate it
 * consumes (its spec's sampleRateHz or inputRateHz: it resamples itself). Blocks of one frame
 * stream; blocks of W frames are independent windows (state reset before, detector on the
 * last frame). With `timing` (audio) each block is placed at the sample that completed it, so
 * an alert's time is that sample's whatever the chunking (spread evenly over the push, it was up
 * to a chunk late: 18 ms with 333-sample chunks, hundreds with 1 s ones); without it (the
 * interface does not say which sample completed a block) blocks are spread evenly over the
 * pushed samples. exportState() is the front end's own state (the partial
 * frame or window, resampler and pre-emphasis memory, adaptive statistics), so an evicted,
 * restarted or handed-off stream continues bit for bit. Backward compatibility: a saved stream
 * without front-end state (empty bytes: written before front ends exported theirs) restarts the
 * front end, as those gateways did, and keeps the model state. `hopFrames`: the frames a block
 * advances the stream by (a window's hop; 1 when blocks are single frames). `windowed`: blocks are
 * windows (`input.frontend.windows`), each run from a reset state, also when of one frame (a model
 * trained with --seq-len 1 was never reset: its one-frame blocks streamed).
 */
export function frontEndFromStreaming(fe: StreamingFrontendLike, inputRateHz: number | undefined, hopSamples: number, timing?: BlockTiming, hopFrames = fe.framesPerOutput, windowed = fe.framesPerOutput > 1): FrontEnd {
  const F = fe.framesPerOutput;
  const S = fe.featureSize;
  let sink: FrameSink | null = null;
  let blocks = 0;
  let pushed = 0;
  /** Input samples of the stream before this push (with `timing`). */
  let consumed = 0;
  let probe: StreamingFrontendLike | null = null;
  const onOutput = (out: Float32Array, index: number) => {
    blocks++;
    // Exact with timing; otherwise approximate: the block completed somewhere in this push, placed by count.
    const estimate = timing !== undefined ? timing.first - 1 + index * timing.every - consumed : Math.round((pushed * blocks) / Math.max(1, expected)) - 1;
    const at = Math.max(0, Math.min(pushed - 1, estimate));
    for (let t = 0; t < F; t++) sink!(out.subarray(t * S, (t + 1) * S), at, windowed ? (t === 0 ? FRAME_RESET : 0) | (t === F - 1 ? FRAME_DETECT : 0) : FRAME_DETECT);
  };
  let expected = 1;
  return {
    kind: fe.kind,
    channels: fe.inputChannels,
    frameSize: S,
    sampleRateHz: inputRateHz,
    hopSamples,
    framesPerWindow: F,
    hopFrames: F === 1 ? 1 : hopFrames,
    push(samples, n, s) {
      sink = s;
      blocks = 0;
      pushed = n;
      expected = Math.max(1, Math.round(n / Math.max(1, hopSamples)));
      try {
        fe.push(samples.subarray(0, n * fe.inputChannels), onOutput);
        consumed += n;
      } finally {
        sink = null;
      }
    },
    reset() {
      fe.reset();
      consumed = 0;
    },
    exportState: () => fe.exportState(),
    importState(bytes) {
      if (bytes.length === 0) {
        fe.reset();
        consumed = 0;
        return;
      }
      fe.importState(bytes);
      if (timing !== undefined) consumed = streamPosition(timing, (probe ??= timing.probe()), bytes);
    },
  };
}

/**
 * Input samples consumed by the stream a (valid) state was exported from: the fewest zero samples
 * that complete a block in a spare front end holding that state (binary search; the next block
 * is at most max(first, every) samples away), and that block's index, give it. For models/kws.ern
 * about 2 ms (20 ms in a stream's first 1.5 s), paid only when a saved stream is restored.
 */
function streamPosition(timing: BlockTiming, probe: StreamingFrontendLike, bytes: Uint8Array): number {
  const zeros = new Float32Array(Math.max(timing.first, timing.every));
  let index = -1;
  const completes = (k: number): boolean => {
    probe.importState(bytes);
    index = -1;
    probe.push(zeros.subarray(0, k), (_o, i) => {
      if (index < 0) index = i;
    });
    return index >= 0;
  };
  // Most states are past the first window: their next block is at most `every` samples away,
  // a search over short pushes (a state still filling its first window searches the rest).
  let lo = 1;
  let hi = zeros.length;
  if (timing.every < hi) {
    if (completes(timing.every)) hi = timing.every;
    else lo = timing.every + 1;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (completes(mid)) hi = mid;
    else lo = mid + 1;
  }
  completes(lo);
  // The block completed by the lo-th new sample (stream sample consumed + lo - 1).
  return timing.first - 1 + index * timing.every - (lo - 1);
}

/**
 * Streaming linear-interpolation resampler from inRateHz to outRateHz, per channel. Output j
 * sits at input position j * (inRate / outRate) from the first sample; between input samples
 * a and a+1 at fraction f it is x[a] + f * (x[a+1] - x[a]). Output lags input by one sample.
 */
export class LinearResampler {
  readonly channels: number;
  private step: number;
  private readonly prev: Float32Array;
  private have = false;
  /** Position of the next output, in input samples after `prev`. */
  private phase = 0;
  private out: Float32Array = new Float32Array(0);

  constructor(channels: number, inRateHz: number, outRateHz: number) {
    this.channels = channels;
    this.step = inRateHz / outRateHz;
    this.prev = new Float32Array(channels);
  }

  setRates(inRateHz: number, outRateHz: number): void {
    this.step = inRateHz / outRateHz;
  }

  /** Resamples n samples; returns [m][channels] (a view reused by the next call) and m. */
  push(x: Float32Array, n: number): { values: Float32Array; n: number; srcIndex: Int32Array } {
    const C = this.channels;
    const maxOut = Math.ceil((n + 1) / this.step) + 1;
    if (this.out.length < maxOut * C) this.out = new Float32Array(maxOut * C);
    const src = new Int32Array(maxOut);
    let m = 0;
    let i = 0;
    if (!this.have && n > 0) {
      this.prev.set(x.subarray(0, C));
      this.have = true;
      this.phase = 0;
      i = 1;
    }
    for (; i < n; i++) {
      while (this.phase < 1) {
        const f = this.phase;
        for (let k = 0; k < C; k++) {
          const a = this.prev[k]!;
          this.out[m * C + k] = a + f * (x[i * C + k]! - a);
        }
        src[m] = i;
        m++;
        this.phase += this.step;
      }
      this.phase -= 1;
      this.prev.set(x.subarray(i * C, (i + 1) * C));
    }
    return { values: this.out, n: m, srcIndex: src };
  }

  reset(): void {
    this.have = false;
    this.phase = 0;
    this.prev.fill(0);
  }

  exportState(): { have: boolean; phase: number; prev: number[] } {
    return { have: this.have, phase: this.phase, prev: Array.from(this.prev) };
  }

  /** Restores exportState(); GATEWAY_STATE when `s` is not one for this many channels. */
  importState(s: unknown): void {
    const o = s as { have?: unknown; phase?: unknown; prev?: unknown };
    const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    const ok = typeof o === 'object' && o !== null && typeof o.have === 'boolean' && finite(o.phase) && Array.isArray(o.prev) && o.prev.length === this.channels && o.prev.every(finite);
    if (!ok) throw new EdgeRnnError('GATEWAY_STATE', `resampler state: expected {have, phase, prev: ${this.channels} finite numbers}`);
    this.have = o.have as boolean;
    this.phase = o.phase as number;
    this.prev.set(o.prev as number[]);
  }
}
