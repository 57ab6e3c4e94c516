/**
 * Sliding windows over a frame-by-frame front end (browser-safe): every `hop` frames, the last
 * `frames` frames as one output block, which the gateway runs from a reset model state (its
 * FRAME_RESET / FRAME_DETECT flags for blocks of several frames).
 *
 * Why: a keyword model is trained on windows of fixed length that start from a zero state. Run
 * as one never-reset session over hours of audio, its state drifts where training never took it
 * (measured on the held-out 60-minute stream: at about 2 false accepts per hour it misses 92 % of
 * the keywords that way, 75 % with 1.5 s windows every 100 ms). The price is compute: each frame
 * is stepped frames / hop times (15 for 75 / 5).
 *
 * Window w covers frames [w·hop, w·hop + frames); the first is complete after `frames` frames.
 * The streaming and batch paths give the same numbers (the inner front end guarantees its
 * frames; this only copies them). Saved state (state.ts format, the spec's own fingerprint):
 *   float64 seen (frames since reset), float64 inner state length,
 *   float32 ring[frames · featureSize] (frame t at slot t mod frames), the inner state's bytes.
 */
import { checkOutputCallback } from './check.js';
import { EdgeRnnError } from '../errors.js';
import { frontendSpecFingerprint, StateReader, StateWriter } from './state.js';
import type { FeatureBatch, FrontendKind, OutputCallback, SampleArray, StreamingFrontend } from './types.js';

export interface WindowSpec {
  /** Frames per window. */
  frames: number;
  /** Frames between window starts (1 ..frames). */
  hop: number;
}

/** Windows that `frameCount` frames complete: 0 below `frames`, then one per `hop`. */
export function windowCount(w: WindowSpec, frameCount: number): number {
  return frameCount < w.frames ? 0 : 1 + Math.floor((frameCount - w.frames) / w.hop);
}

export class SlidingWindowFrontend implements StreamingFrontend {
  readonly kind: FrontendKind;
  readonly inputChannels: number;
  readonly featureSize: number;
  readonly framesPerOutput: number;
  readonly frameRateHz: number | undefined;
  readonly hop: number;
  private readonly inner: StreamingFrontend;
  private readonly ring: Float32Array;
  private readonly out: Float32Array;
  private readonly fingerprint: Uint8Array;
  private readonly where: string;
  private seen = 0;
  private readonly onFrame: (frame: Float32Array) => void;
  private sink: OutputCallback | null = null;
  private produced = 0;

  /** `inner` gives one frame per output block; `spec` is the whole validated spec (it names saved states). */
  constructor(inner: StreamingFrontend, windows: WindowSpec, spec: unknown) {
    if (inner.framesPerOutput !== 1) throw new EdgeRnnError('FRONTEND_SPEC', `sliding windows need a front end of single frames, ${inner.kind} gives blocks of ${inner.framesPerOutput}`, { field: 'windows' });
    if (!Number.isInteger(windows.frames) || windows.frames < 1 || !Number.isInteger(windows.hop) || windows.hop < 1 || windows.hop > windows.frames) {
      throw new EdgeRnnError('FRONTEND_SPEC', `${inner.kind} front end: windows must be whole numbers with 1 <= hop <= frames, got ${JSON.stringify(windows)}`, { field: 'windows', got: windows });
    }
    this.inner = inner;
    this.kind = inner.kind;
    this.inputChannels = inner.inputChannels;
    this.featureSize = inner.featureSize;
    this.framesPerOutput = windows.frames;
    this.frameRateHz = inner.frameRateHz;
    this.hop = windows.hop;
    this.ring = new Float32Array(windows.frames * inner.featureSize);
    this.out = new Float32Array(windows.frames * inner.featureSize);
    this.fingerprint = frontendSpecFingerprint(spec);
    this.where = `${inner.kind} front end (windows of ${windows.frames} frames every ${windows.hop})`;
    this.onFrame = (frame) => this.addFrame(frame);
  }

  private addFrame(frame: Float32Array): void {
    const W = this.framesPerOutput;
    const F = this.featureSize;
    this.ring.set(frame, (this.seen % W) * F);
    this.seen++;
    if (this.seen < W || (this.seen - W) % this.hop !== 0) return;
    // Oldest first: slots seen % W .. W-1, then 0 .. seen % W - 1.
    const split = (this.seen % W) * F;
    this.out.set(this.ring.subarray(split), 0);
    this.out.set(this.ring.subarray(0, split), this.ring.length - split);
    this.sink!(this.out, windowCount(this, this.seen) - 1);
    this.produced++;
  }

  get frames(): number {
    return this.framesPerOutput;
  }

  push(samples: SampleArray, onOutput: OutputCallback): number {
    checkOutputCallback(onOutput, this.where);
    this.sink = onOutput;
    this.produced = 0;
    try {
      this.inner.push(samples, this.onFrame);
    } finally {
      this.sink = null;
    }
    return this.produced;
  }

  reset(): void {
    this.inner.reset();
    this.seen = 0;
    // The ring's old frames are never read again, but exportState() writes them: cleared, a reset
    // front end's state is a fresh one's, byte for byte, and carries nothing of the old stream.
    this.ring.fill(0);
  }

  exportState(): Uint8Array {
    const inner = this.inner.exportState();
    const w = new StateWriter(this.kind, this.fingerprint, 16 + 4 * this.ring.length + inner.length);
    w.f64(this.seen);
    w.f64(inner.length);
    w.f32s(this.ring);
    w.u8s(inner);
    return w.finish();
  }

  /** Continues from exportState() bytes of a front end with the same spec; FRONTEND_STATE (nothing changed) otherwise. */
  importState(bytes: Uint8Array): void {
    const r = new StateReader(bytes, this.kind, this.fingerprint, this.where);
    const seen = r.int('seen', 0);
    const innerLength = r.int('inner state length', 0, bytes.length);
    const ring = r.f32s('ring', this.ring.length);
    const inner = r.u8s('inner state', innerLength);
    r.end();
    this.inner.importState(inner); // checks everything before it changes anything
    this.seen = seen;
    this.ring.set(ring);
  }

  /** The whole recording's windows from a fresh state (the stream's own state is left untouched). */
  batch(samples: SampleArray): FeatureBatch {
    const f = this.inner.batch(samples);
    const W = this.framesPerOutput;
    const F = this.featureSize;
    const count = windowCount(this, f.count);
    const data = new Float32Array(count * W * F);
    for (let w = 0; w < count; w++) data.set(f.data.subarray(w * this.hop * F, (w * this.hop + W) * F), w * W * F);
    return { data, count, featureSize: F, framesPerOutput: W };
  }
}
