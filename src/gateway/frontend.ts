/**
 * Front-end adapter (Node-only module): turns a device's samples into model input frames. A
 * model's manifest names its front end (`input.frontend.kind`); the gateway asks a registry for
 * a factory of that kind. `none` ships here: every sample (channels = the model's input size)
 * is one frame. Streaming front ends from src/features (audio MFCC, IMU windows) register
 * through GatewayOptions.frontends with this same interface, so the gateway does not change
 * when they arrive.
 *
 * Samples reach the front end at its sampleRateHz: the gateway resamples (linear interpolation)
 * when a device's rate differs.
 */
import { EdgeRnnError } from '../errors.js';
import type { FrontendSpec } from '../model/spec.js';

/** Receives one frame (a view valid only during the call) and the index, within the pushed batch, of the sample that completed it. */
export type FrameSink = (frame: Float32Array, sampleIndex: number) => void;

export interface FrontEnd {
  readonly kind: string;
  /** Values per input sample. */
  readonly channels: number;
  /** Values per frame (the model's input size). */
  readonly frameSize: number;
  /** The sample rate it needs (Hz), or undefined when any rate is fine. */
  readonly sampleRateHz: number | undefined;
  /** Samples the frame advances by (frame hop): dropping one frame loses this many samples. */
  readonly hopSamples: number;
  /** Consumes n interleaved samples [n][channels] and emits every completed frame. */
  push(samples: Float32Array, n: number, sink: FrameSink): void;
  reset(): void;
  /** Buffered samples and filter state, so a stream continues exactly after eviction or hand-off. */
  exportState(): Uint8Array;
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
export function createNoneFrontEnd(_spec: FrontendSpec, ctx: FrontEndContext): FrontEnd {
  if (ctx.channels !== 0 && ctx.channels !== ctx.inputSize) {
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.channels must be ${ctx.inputSize} (the model's input size: front end "none" feeds each sample as a frame), got ${ctx.channels}`, {
      field: `${ctx.path}.channels`,
      expected: ctx.inputSize,
      got: ctx.channels,
    });
  }
  const C = ctx.inputSize;
  return {
    kind: 'none',
    channels: C,
    frameSize: C,
    sampleRateHz: ctx.rateHz,
    hopSamples: 1,
    push(samples, n, sink) {
      for (let i = 0; i < n; i++) sink(samples.subarray(i * C, (i + 1) * C), i);
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

  importState(s: { have: boolean; phase: number; prev: number[] }): void {
    this.have = s.have === true;
    this.phase = Number(s.phase) || 0;
    this.prev.set(s.prev.slice(0, this.channels));
  }
}
