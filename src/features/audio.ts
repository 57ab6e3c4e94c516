/**
 * Audio front end: 16 kHz PCM → log-mel energies or MFCCs, one frame per hop.
 *
 * Per sample (the whole stream, not per frame):
 *   x[n] = pcm[n] / 32768                      (Int16Array input; float input is used as is)
 *   y[n] = x[n] - preEmphasis · x[n-1],        x[-1] = 0
 * Frame t covers y[t·H .. t·H + L - 1] (L = frameMs·sr/1000 samples, H = hopMs·sr/1000; no
 * centering or padding, so the first frame is complete after L samples and each later one after
 * H more: N samples give 1 + floor((N - L) / H) frames, 0 when N < L). Per frame:
 *   u[i] = y[t·H + i] · w[i]  (periodic Hann/Hamming, length L), zero-padded to nfft
 *   P[k] = |RFFT(u)[k]|²,  k = 0..nfft/2                     (power, not divided by nfft)
 *   E[m] = Σ_k W[m][k] · P[k]                                  (mel filterbank, see mel.ts)
 *   logmel[m] = ln(max(E[m], logFloor))
 *   mfcc[j]   = Σ_m D[j][m] · logmel[m],  j < nMfcc          (orthonormal DCT-II, see dct.ts)
 * Optional streaming cepstral mean normalization (`cmn`, per output j, over the stream so far):
 *   w_t = max(alpha, 1 / (t + 1)),  m[j] += w_t · (f[j] - m[j]),  out[j] = f[j] - m[j]
 * a running mean for the first 1/alpha frames, then an exponential one with that time constant:
 * it takes out what stays constant over seconds (the microphone's response, the speaker's
 * spectral envelope, the level), the way the series front end's `adaptive` stage does.
 * All arithmetic is float64; the outputs are rounded to float32 (the normalization then works on
 * those float32 values, in float64, and rounds again: streaming and batch agree exactly).
 *
 * These are librosa's definitions (`filters.mel`, `mel_frequencies`, `dct(norm='ortho')`), with
 * Kaldi/TensorFlow framing (frames start at 0, the window spans the frame, not nfft) and
 * natural-log compression; see docs/features.md.
 */
import { EdgeRnnError } from '../errors.js';
import { checkOutputCallback, checkSamples } from './check.js';
import { dctOrthoMatrix } from './dct.js';
import { isPowerOfTwo, RealFft } from './fft.js';
import { MEL_NORMS, MEL_SCALES, melFilterbank, type MelFilterbank, type MelNorm, type MelScale } from './mel.js';
import type { FeatureBatch, OutputCallback, SampleArray, StreamingFrontend } from './types.js';
import { frontendSpecFingerprint, StateReader, StateWriter } from './state.js';
import { SpecReader } from './validate.js';
import { makeWindow, WINDOW_KINDS, type WindowKind } from './window.js';

export const AUDIO_FRONTEND_KINDS = ['logmel', 'mfcc'] as const;
export type AudioFrontendKind = (typeof AUDIO_FRONTEND_KINDS)[number];

export interface AudioFrontendSpec {
  kind: AudioFrontendKind;
  /** Input sample rate in Hz (16000 for the keyword models). */
  sampleRateHz: number;
  /** Frame (window) length in ms; frameMs · sampleRateHz / 1000 must be a whole number of samples. */
  frameMs: number;
  /** Hop between frame starts in ms; also a whole number of samples. */
  hopMs: number;
  /** FFT length: a power of two >= the frame length in samples, <= 2^20. */
  nfft: number;
  /** Mel bands. */
  nMels: number;
  /** MFCCs kept (kind 'mfcc' only), 1..nMels. */
  nMfcc?: number;
  /** Lower edge of the first mel triangle, Hz, >= 0. */
  fMinHz: number;
  /** Upper edge of the last mel triangle, Hz, <= sampleRateHz / 2. */
  fMaxHz: number;
  /** Pre-emphasis coefficient a in y[n] = x[n] - a·x[n-1], 0 <= a < 1 (0 disables). */
  preEmphasis: number;
  /** Analysis window (periodic). */
  window: WindowKind;
  /** Mel scale formula: HTK (2595·log10(1 + f/700)) or Slaney (linear below 1 kHz, log above). */
  melScale: MelScale;
  /** 'slaney' scales each triangle to unit area (librosa's default); 'none' keeps peak 1 (HTK, Kaldi). */
  melNorm: MelNorm;
  /** Floor applied before the log: ln(max(E, logFloor)), > 0. */
  logFloor: number;
  /** Streaming mean normalization of the outputs; alpha in (0, 1] is the newest frame's weight (time constant ≈ 1/alpha frames). */
  cmn?: { alpha: number };
  /**
   * Sliding windows for streaming: the model reads the last `frames` frames every `hop` frames,
   * each window from a reset state (as it was trained on fixed-length clips), instead of one
   * never-reset session. Applied by createFrontend (windows.ts); AudioFrontend itself always
   * gives frames.
   */
  windows?: { frames: number; hop: number };
}

/** Defaults in one place: 25 ms / 10 ms frames of 16 kHz audio, 40 HTK mels from 20 Hz to 7.6 kHz. */
export const AUDIO_FRONTEND_DEFAULTS: Readonly<Omit<AudioFrontendSpec, 'kind' | 'nMfcc'>> = {
  sampleRateHz: 16000,
  frameMs: 25,
  hopMs: 10,
  nfft: 512,
  nMels: 40,
  fMinHz: 20,
  fMaxHz: 7600,
  preEmphasis: 0.97,
  window: 'hann',
  melScale: 'htk',
  melNorm: 'none',
  logFloor: 1e-6,
};
/** MFCCs kept when a caller asks for kind 'mfcc' without nMfcc. */
export const DEFAULT_N_MFCC = 13;

/** Largest FFT length accepted (2^20). */
const MAX_NFFT = 1 << 20;
/** Largest MFCC DCT matrix accepted, nMfcc · nMels (2^24). */
const MAX_DCT_ENTRIES = 1 << 24;
/** Largest sliding window accepted, frames · featureSize values (2^26: 256 MiB of float32). */
const MAX_WINDOW_VALUES = 1 << 26;

const AUDIO_FIELDS = ['kind', 'sampleRateHz', 'frameMs', 'hopMs', 'nfft', 'nMels', 'nMfcc', 'fMinHz', 'fMaxHz', 'preEmphasis', 'window', 'melScale', 'melNorm', 'logFloor', 'cmn', 'windows'] as const;

/** A complete spec from the defaults plus overrides (then validated). */
export function audioFrontendSpec(kind: AudioFrontendKind, overrides: Partial<Omit<AudioFrontendSpec, 'kind'>> = {}): AudioFrontendSpec {
  const spec: AudioFrontendSpec = { kind, ...AUDIO_FRONTEND_DEFAULTS, ...(kind === 'mfcc' ? { nMfcc: DEFAULT_N_MFCC } : {}), ...overrides };
  return validateAudioSpec(spec);
}

/** Samples in `ms` at `rateHz`, when that is a whole number (within 1e-9), else undefined. */
function wholeSamples(ms: number, rateHz: number): number | undefined {
  const n = (ms * rateHz) / 1000;
  const r = Math.round(n);
  return Math.abs(n - r) <= 1e-9 * Math.max(1, n) && r >= 1 ? r : undefined;
}

/** Checks every field of an untyped spec (e.g. from a manifest); errors name the field. */
export function validateAudioSpec(value: unknown): AudioFrontendSpec {
  const r = new SpecReader(value, 'audio front end');
  const kind = r.choice('kind', AUDIO_FRONTEND_KINDS);
  const where = `${kind} front end`;
  const s: SpecReader = new SpecReader(value, where);
  s.onlyFields(AUDIO_FIELDS);
  const sampleRateHz = s.num('sampleRateHz', { min: 1000, max: 384000 });
  const frameMs = s.num('frameMs', { above: 0 });
  const frameLength = wholeSamples(frameMs, sampleRateHz);
  if (frameLength === undefined) s.fail('frameMs', `a whole number of samples at ${sampleRateHz} Hz (frameMs · sampleRateHz / 1000)`);
  const hopMs = s.num('hopMs', { above: 0 });
  if (wholeSamples(hopMs, sampleRateHz) === undefined) s.fail('hopMs', `a whole number of samples at ${sampleRateHz} Hz (hopMs · sampleRateHz / 1000)`);
  // Capped so a wild value is a FRONTEND_SPEC error at load, not a RangeError (2^31 and up) or
  // minutes per frame when the front end is built: 2^20 holds a 2.7 s frame at 384 kHz.
  const nfft = s.num('nfft', { integer: true, min: 2, max: MAX_NFFT });
  if (!isPowerOfTwo(nfft) || nfft < frameLength) s.fail('nfft', `a power of two >= ${frameLength} (the frame length in samples)`);
  const nMels = s.num('nMels', { integer: true, min: 1, max: nfft / 2 + 1 });
  let nMfcc: number | undefined;
  // The DCT is an nMfcc × nMels matrix, applied per frame: capped at 2^24 entries (128 MiB), so a
  // wild pair is a FRONTEND_SPEC error, not a RangeError (2^19 × 2^19) or hours per frame.
  if (kind === 'mfcc') nMfcc = s.num('nMfcc', { integer: true, min: 1, max: Math.min(nMels, Math.floor(MAX_DCT_ENTRIES / nMels)) });
  else if (s.has('nMfcc')) s.fail('nMfcc', "absent for kind 'logmel' (MFCCs need kind 'mfcc')");
  const fMinHz = s.num('fMinHz', { min: 0 });
  const fMaxHz = s.num('fMaxHz', { above: fMinHz, max: sampleRateHz / 2 });
  const preEmphasis = s.num('preEmphasis', { min: 0, below: 1 });
  const window = s.choice('window', WINDOW_KINDS);
  const melScale = s.choice('melScale', MEL_SCALES);
  const melNorm = s.choice('melNorm', MEL_NORMS);
  const logFloor = s.num('logFloor', { above: 0 });
  const spec: AudioFrontendSpec = { kind, sampleRateHz, frameMs, hopMs, nfft, nMels, fMinHz, fMaxHz, preEmphasis, window, melScale, melNorm, logFloor };
  if (nMfcc !== undefined) spec.nMfcc = nMfcc;
  if (s.has('cmn')) {
    const c = s.sub('cmn');
    c.onlyFields(['alpha']);
    spec.cmn = { alpha: c.num('alpha', { above: 0, max: 1 }) };
  }
  if (s.has('windows')) {
    const w = s.sub('windows');
    w.onlyFields(['frames', 'hop']);
    // A window of frames · featureSize values is held twice (the ring and the output block): capped
    // at 2^26 values, so a wild pair is a FRONTEND_SPEC error, not a RangeError at build.
    const featureSize = nMfcc ?? nMels;
    const frames = w.num('frames', { integer: true, min: 1, max: Math.max(1, Math.min(100000, Math.floor(MAX_WINDOW_VALUES / featureSize))) });
    spec.windows = { frames, hop: w.num('hop', { integer: true, min: 1, max: frames }) };
  }
  return spec;
}

/** Frame geometry in samples. */
export function audioGeometry(spec: AudioFrontendSpec): { frameLength: number; hopLength: number; featureSize: number } {
  return {
    frameLength: Math.round((spec.frameMs * spec.sampleRateHz) / 1000),
    hopLength: Math.round((spec.hopMs * spec.sampleRateHz) / 1000),
    featureSize: spec.kind === 'mfcc' ? spec.nMfcc! : spec.nMels,
  };
}

/** Frames produced by `n` samples: 1 + floor((n - L) / H), or 0 when n < L. */
export function audioFrameCount(spec: AudioFrontendSpec, n: number): number {
  const { frameLength, hopLength } = audioGeometry(spec);
  return n < frameLength ? 0 : 1 + Math.floor((n - frameLength) / hopLength);
}

/**
 * The per-frame math (window → power spectrum → mel → log → DCT), shared by the streaming and
 * batch paths so they cannot drift apart. Tables and scratch are allocated here, once.
 */
export class AudioFrameKernel {
  readonly spec: AudioFrontendSpec;
  readonly frameLength: number;
  readonly featureSize: number;
  readonly filterbank: MelFilterbank;
  /** The last frame's power spectrum P[k], k = 0..nfft/2 (scratch, overwritten per frame). */
  readonly power: Float64Array;
  /** The last frame's log-mel energies (scratch). */
  readonly logMel: Float64Array;
  private readonly window: Float64Array;
  private readonly fftIn: Float64Array;
  private readonly fft: RealFft;
  private readonly dct: Float64Array | undefined;

  constructor(spec: AudioFrontendSpec) {
    this.spec = validateAudioSpec(spec);
    const g = audioGeometry(this.spec);
    this.frameLength = g.frameLength;
    this.featureSize = g.featureSize;
    this.window = makeWindow(spec.window, g.frameLength);
    this.fft = new RealFft(spec.nfft);
    this.fftIn = new Float64Array(spec.nfft); // [frameLength, nfft) stays zero: the padding
    this.power = new Float64Array(this.fft.bins);
    this.filterbank = melFilterbank(spec);
    this.logMel = new Float64Array(spec.nMels);
    this.dct = spec.kind === 'mfcc' ? dctOrthoMatrix(spec.nMfcc!, spec.nMels) : undefined;
  }

  /** Features of the pre-emphasized frame y[offset .. offset + frameLength) into out[outOffset ..]. */
  compute(y: Float64Array, offset: number, out: Float32Array, outOffset: number): void {
    const L = this.frameLength;
    const u = this.fftIn;
    const w = this.window;
    for (let i = 0; i < L; i++) u[i] = y[offset + i]! * w[i]!;
    this.fft.power(u, this.power);
    const fb = this.filterbank;
    const p = this.power;
    const floor = this.spec.logFloor;
    const nMels = fb.nMels;
    for (let m = 0; m < nMels; m++) {
      const k0 = fb.start[m]!;
      const o = fb.offset[m]!;
      const len = fb.length[m]!;
      let e = 0;
      for (let j = 0; j < len; j++) e += fb.weights[o + j]! * p[k0 + j]!;
      this.logMel[m] = Math.log(e > floor ? e : floor);
    }
    const d = this.dct;
    if (d === undefined) {
      for (let m = 0; m < nMels; m++) out[outOffset + m] = this.logMel[m]!;
      return;
    }
    const nOut = this.featureSize;
    for (let j = 0; j < nOut; j++) {
      let c = 0;
      const row = j * nMels;
      for (let m = 0; m < nMels; m++) c += d[row + m]! * this.logMel[m]!;
      out[outOffset + j] = c;
    }
  }
}

/**
 * Streaming mean normalization (the spec's `cmn`) of one frame in place: updates the running
 * mean m (float64 [F]) with frame number t (0 for the first frame of a stream).
 */
export function cmnFrame(alpha: number, m: Float64Array, t: number, f: Float32Array, off: number): void {
  const w = Math.max(alpha, 1 / (t + 1));
  for (let j = 0; j < m.length; j++) {
    const x = f[off + j]!;
    const mj = m[j]! + w * (x - m[j]!);
    m[j] = mj;
    f[off + j] = x - mj;
  }
}

/** cmnFrame over `count` rows of a fresh stream (a batch, or cached features without `cmn`). */
export function cmnRows(alpha: number, data: Float32Array, count: number, featureSize: number): void {
  const m = new Float64Array(featureSize);
  for (let t = 0; t < count; t++) cmnFrame(alpha, m, t, data, t * featureSize);
}

/**
 * What one input value is worth: 1/32768 for an Int16Array (PCM codes), 1 for floats. Any other
 * integer typed array is INVALID_ARGUMENT: it is no audio the front end knows (a Node Buffer of
 * raw 16-bit PCM bytes went in as floats 0..255, an Int32Array of codes as floats up to 2^31:
 * nonsense frames, silently). The tag, not instanceof, so arrays of another realm count too;
 * reading it allocates nothing.
 */
function pcmScale(samples: SampleArray, where: string): number {
  if (!ArrayBuffer.isView(samples)) return 1;
  const tag = (samples as Int16Array)[Symbol.toStringTag] as string;
  if (tag === 'Int16Array') return 1 / 32768;
  if (tag.startsWith('Float')) return 1;
  throw new EdgeRnnError(
    'INVALID_ARGUMENT',
    `${where}: audio samples are an Int16Array of PCM codes or floats in [-1, 1), got a ${tag}${tag === 'Uint8Array' ? ' (raw bytes? view 16-bit PCM as new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2))' : ''}`,
    { expected: 'Int16Array or float samples', got: tag },
  );
}

/** Streaming log-mel / MFCC: push PCM in any chunks, get a frame every hop. */
export class AudioFrontend implements StreamingFrontend {
  readonly kind: AudioFrontendKind;
  readonly spec: AudioFrontendSpec;
  readonly inputChannels = 1;
  readonly featureSize: number;
  readonly framesPerOutput = 1;
  readonly frameRateHz: number;
  readonly frameLength: number;
  readonly hopLength: number;
  private readonly kernel: AudioFrameKernel;
  private readonly a: number;
  /** Pre-emphasized samples of the frame being filled: buf[0 .. filled). */
  private readonly buf: Float64Array;
  private readonly out: Float32Array;
  private filled = 0;
  /** Samples still to drop before the next frame starts (only when hop > frame). */
  private skip = 0;
  /** x[n-1] for pre-emphasis. */
  private prev = 0;
  private index = 0;
  /** Error-message prefix, built once (a template literal per push would allocate). */
  private readonly where: string;
  /** Identifies this spec in saved states. */
  private readonly fingerprint: Uint8Array;
  /** Running mean of the outputs (spec.cmn), or null. */
  private readonly cmnMean: Float64Array | null;

  constructor(spec: AudioFrontendSpec) {
    this.kernel = new AudioFrameKernel(spec);
    this.spec = this.kernel.spec;
    this.kind = this.spec.kind;
    this.where = `${this.kind} front end`;
    const g = audioGeometry(this.spec);
    this.featureSize = g.featureSize;
    this.frameLength = g.frameLength;
    this.hopLength = g.hopLength;
    this.frameRateHz = 1000 / this.spec.hopMs;
    this.a = this.spec.preEmphasis;
    this.buf = new Float64Array(g.frameLength);
    this.out = new Float32Array(g.featureSize);
    this.fingerprint = frontendSpecFingerprint(this.spec);
    this.cmnMean = this.spec.cmn ? new Float64Array(g.featureSize) : null;
  }

  push(samples: SampleArray, onOutput: OutputCallback): number {
    checkSamples(samples, 1, this.where);
    checkOutputCallback(onOutput, this.where);
    const scale = pcmScale(samples, this.where);
    const L = this.frameLength;
    const H = this.hopLength;
    const a = this.a;
    const buf = this.buf;
    let produced = 0;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i]! * scale;
      const y = x - a * this.prev;
      this.prev = x;
      if (this.skip > 0) {
        this.skip--;
        continue;
      }
      buf[this.filled++] = y;
      if (this.filled === L) {
        this.kernel.compute(buf, 0, this.out, 0);
        if (this.cmnMean) cmnFrame(this.spec.cmn!.alpha, this.cmnMean, this.index, this.out, 0);
        // Advance to the next frame before the callback: one that throws (the model, a detector)
        // used to leave filled === L, and every later sample then overran the frame: no frame
        // ever again.
        if (H < L) {
          buf.copyWithin(0, H, L);
          this.filled = L - H;
        } else {
          this.filled = 0;
          this.skip = H - L;
        }
        produced++;
        onOutput(this.out, this.index++);
      }
    }
    return produced;
  }

  reset(): void {
    this.filled = 0;
    this.skip = 0;
    this.prev = 0;
    this.index = 0;
    this.cmnMean?.fill(0);
  }

  /**
   * The stream position as bytes (format in state.ts). Body, float64:
   *   index, x[n-1] (pre-emphasis memory), filled, skip, buf[0 .. filled)
   * i.e. the pre-emphasized samples of the partial frame (at most frameLength - 1), then with
   * `cmn` the running mean [featureSize].
   */
  exportState(): Uint8Array {
    const m = this.cmnMean;
    const w = new StateWriter(this.kind, this.fingerprint, 8 * (4 + this.filled + (m ? m.length : 0)));
    w.f64(this.index);
    w.f64(this.prev);
    w.f64(this.filled);
    w.f64(this.skip);
    w.f64s(this.buf, 0, this.filled);
    if (m) w.f64s(m, 0, m.length);
    return w.finish();
  }

  /** Continues from exportState() bytes of a front end with the same spec; FRONTEND_STATE (nothing changed) otherwise. */
  importState(bytes: Uint8Array): void {
    const r = new StateReader(bytes, this.kind, this.fingerprint, this.where);
    const L = this.frameLength;
    const H = this.hopLength;
    const index = r.int('index', 0);
    const prev = r.f64('prev');
    const filled = r.int('filled', 0, L - 1);
    const skip = r.int('skip', 0, Math.max(0, H - L));
    if (skip > 0 && filled > 0) throw r.invalid('skip', 'must be 0 while a frame is being filled', `${skip} with ${filled} samples filled`);
    const buf = r.f64s('buf', filled);
    const mean = this.cmnMean ? r.f64s('cmn mean', this.cmnMean.length) : null;
    r.end();
    this.index = index;
    this.prev = prev;
    this.filled = filled;
    this.skip = skip;
    this.buf.set(buf);
    if (mean) this.cmnMean!.set(mean);
  }

  /** Pre-emphasizes the whole signal, then computes frame t from offset t·H. */
  batch(samples: SampleArray): FeatureBatch {
    checkSamples(samples, 1, this.where);
    const scale = pcmScale(samples, this.where);
    const n = samples.length;
    const y = new Float64Array(n);
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const x = samples[i]! * scale;
      y[i] = x - this.a * prev;
      prev = x;
    }
    const count = audioFrameCount(this.spec, n);
    const data = new Float32Array(count * this.featureSize);
    for (let t = 0; t < count; t++) this.kernel.compute(y, t * this.hopLength, data, t * this.featureSize);
    if (this.spec.cmn) cmnRows(this.spec.cmn.alpha, data, count, this.featureSize);
    return { data, count, featureSize: this.featureSize, framesPerOutput: 1 };
  }
}
