/**
 * Sensor-series front end: one frame per input sample (channels wide), scaled with statistics
 * learned at training time and, optionally, normalized online for series whose level drifts.
 *
 * Static scaling (per channel c, from the manifest):
 *   standard   z = (x - mean[c]) / std[c]
 *   minmax     z = (x - min[c]) / (max[c] - min[c])        (training range → [0, 1])
 *   none       z = x
 * Adaptive 'ewm' (exponentially weighted mean m and variance v of z, per channel), computed
 * from the samples before the current one, so a spike is scored before it is absorbed:
 *   out_t = (z_t - m) / √(v + epsilon)        (out_0 = 0: nothing seen yet)
 *   w = max(alpha, 1 / (t + 1))               (running average until 1/alpha samples: no cold start)
 *   d = z_t - m;  m += w·d;  v = (1 - w)·(v + w·d²)          (Finch 2009, incremental EW variance)
 * Finally, when `clip` is set, out = min(max(out, -clip), clip).
 */
import { EdgeRnnError } from '../errors.js';
import { checkOutputCallback, checkSamples } from './check.js';
import type { FeatureBatch, OutputCallback, SampleArray, StreamingFrontend } from './types.js';
import { frontendSpecFingerprint, StateReader, StateWriter } from './state.js';
import { SpecReader } from './validate.js';

export type SeriesScaling =
  | { kind: 'none' }
  | {
      kind: 'standard';
      /** Per-channel training mean. */
      mean: number[];
      /** Per-channel training standard deviation, > 0. */
      std: number[];
    }
  | {
      kind: 'minmax';
      /** Per-channel training minimum. */
      min: number[];
      /** Per-channel training maximum, > min. */
      max: number[];
    };

export interface SeriesAdaptive {
  kind: 'ewm';
  /** Weight of the newest sample, 0 < alpha <= 1 (time constant ≈ 1/alpha samples). */
  alpha: number;
  /** Variance floor added under the square root, > 0 (in scaled units). */
  epsilon: number;
}

export interface SeriesFrontendSpec {
  kind: 'series';
  /** Values per sample. */
  channels: number;
  /** Fixed scaling from training. */
  scaling: SeriesScaling;
  /** Online normalization after the scaling, for drifting levels. */
  adaptive?: SeriesAdaptive;
  /** Clamp outputs to [-clip, clip] (keeps a sensor glitch from saturating the int16 model input). */
  clip?: number;
  /** Samples per second, when the series has a fixed rate. */
  rateHz?: number;
}

export const SERIES_SCALINGS = ['none', 'standard', 'minmax'] as const;

/** A std or max - min must exceed 2^-1024 for its inverse (the gain) to be finite (1 / 2^-1024 overflows). */
const MIN_SCALE_SPAN = 5.562684646268003e-309;

export function validateSeriesSpec(value: unknown): SeriesFrontendSpec {
  const s = new SpecReader(value, 'series front end');
  s.onlyFields(['kind', 'channels', 'scaling', 'adaptive', 'clip', 'rateHz']);
  if (s.raw('kind') !== 'series') s.fail('kind', "'series'");
  const channels = s.num('channels', { integer: true, min: 1, max: 4096 });
  const sc = s.sub('scaling');
  const kind = sc.choice('kind', SERIES_SCALINGS);
  let scaling: SeriesScaling;
  if (kind === 'standard') {
    sc.onlyFields(['kind', 'mean', 'std']);
    scaling = { kind, mean: sc.numArray('mean', channels), std: sc.numArray('std', channels, { above: 0 }) };
    // The gain is 1 / std: a std so small (subnormal) that it overflows made every output NaN
    // (0 · Infinity at x = mean) or ±Infinity, and NaN in the adaptive statistics for good.
    scaling.std.forEach((sd, c) => {
      if (!Number.isFinite(1 / sd)) sc.fail(`std[${c}]`, `> ${MIN_SCALE_SPAN} (its inverse, the gain, must be finite)`, sd);
    });
  } else if (kind === 'minmax') {
    sc.onlyFields(['kind', 'min', 'max']);
    const min = sc.numArray('min', channels);
    const max = sc.numArray('max', channels);
    max.forEach((hi, c) => {
      if (!(hi > min[c]!)) sc.fail(`max[${c}]`, `> min[${c}] = ${min[c]}`, hi);
      // The gain is 1 / (max - min): a range that overflows (gain 0: every output 0) or is so
      // narrow that its inverse does (outputs ±Infinity or NaN) is no scaling.
      const span = hi - min[c]!;
      if (!Number.isFinite(span) || !Number.isFinite(1 / span)) sc.fail(`max[${c}]`, `such that max - min is finite and > ${MIN_SCALE_SPAN} (min[${c}] = ${min[c]})`, hi);
    });
    scaling = { kind, min, max };
  } else {
    sc.onlyFields(['kind']);
    scaling = { kind };
  }
  const spec: SeriesFrontendSpec = { kind: 'series', channels, scaling };
  if (s.has('adaptive')) {
    const a = s.sub('adaptive');
    a.onlyFields(['kind', 'alpha', 'epsilon']);
    a.choice('kind', ['ewm'] as const);
    spec.adaptive = { kind: 'ewm', alpha: a.num('alpha', { above: 0, max: 1 }), epsilon: a.num('epsilon', { above: 0 }) };
  }
  const clip = s.optNum('clip', { above: 0 });
  if (clip !== undefined) spec.clip = clip;
  const rateHz = s.optNum('rateHz', { above: 0 });
  if (rateHz !== undefined) spec.rateHz = rateHz;
  return spec;
}

/** z = (x - shift[c]) · gain[c] for every scaling kind. */
function affine(scaling: SeriesScaling, channels: number): { shift: Float64Array; gain: Float64Array } {
  const shift = new Float64Array(channels);
  const gain = new Float64Array(channels).fill(1);
  if (scaling.kind === 'standard') {
    for (let c = 0; c < channels; c++) {
      shift[c] = scaling.mean[c]!;
      gain[c] = 1 / scaling.std[c]!;
    }
  } else if (scaling.kind === 'minmax') {
    for (let c = 0; c < channels; c++) {
      shift[c] = scaling.min[c]!;
      gain[c] = 1 / (scaling.max[c]! - scaling.min[c]!);
    }
  }
  return { shift, gain };
}

/** Streaming series normalization; one output frame per input sample. */
export class SeriesFrontend implements StreamingFrontend {
  readonly kind = 'series' as const;
  readonly spec: SeriesFrontendSpec;
  readonly inputChannels: number;
  readonly featureSize: number;
  readonly framesPerOutput = 1;
  readonly frameRateHz: number | undefined;
  private readonly shift: Float64Array;
  private readonly gain: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private readonly out: Float32Array;
  private t = 0;
  private index = 0;
  /** Identifies this spec in saved states. */
  private readonly fingerprint: Uint8Array;

  constructor(spec: SeriesFrontendSpec) {
    this.spec = validateSeriesSpec(spec);
    const C = this.spec.channels;
    this.inputChannels = C;
    this.featureSize = C;
    this.frameRateHz = this.spec.rateHz;
    ({ shift: this.shift, gain: this.gain } = affine(this.spec.scaling, C));
    this.m = new Float64Array(C);
    this.v = new Float64Array(C);
    this.out = new Float32Array(C);
    this.fingerprint = frontendSpecFingerprint(this.spec);
  }

  /** Writes the frame of sample `samples[i .. i + C)` into out[o ..], advancing the adaptive state. */
  private frame(samples: SampleArray, i: number, out: Float32Array, o: number): void {
    const C = this.inputChannels;
    const ad = this.spec.adaptive;
    const clip = this.spec.clip;
    for (let c = 0; c < C; c++) {
      const z = (samples[i + c]! - this.shift[c]!) * this.gain[c]!;
      let y = z;
      if (ad !== undefined) {
        const m = this.m[c]!;
        const v = this.v[c]!;
        y = this.t === 0 ? 0 : (z - m) / Math.sqrt(v + ad.epsilon);
        const w = Math.max(ad.alpha, 1 / (this.t + 1));
        const d = z - m;
        this.m[c] = m + w * d;
        this.v[c] = (1 - w) * (v + w * d * d);
      }
      if (clip !== undefined) y = y > clip ? clip : y < -clip ? -clip : y;
      out[o + c] = y;
    }
    this.t++;
  }

  push(samples: SampleArray, onOutput: OutputCallback): number {
    const C = this.inputChannels;
    checkSamples(samples, C, 'series front end');
    checkOutputCallback(onOutput, 'series front end');
    for (let i = 0; i < samples.length; i += C) {
      this.frame(samples, i, this.out, 0);
      onOutput(this.out, this.index++);
    }
    return samples.length / C;
  }

  reset(): void {
    this.m.fill(0);
    this.v.fill(0);
    this.t = 0;
    this.index = 0;
  }

  /**
   * The stream position as bytes (format in state.ts). Body, float64: index, t (samples seen by
   * the adaptive stage), then the EW mean m[channels] and variance v[channels] (zeros without
   * `adaptive`).
   */
  exportState(): Uint8Array {
    const w = new StateWriter('series', this.fingerprint, 8 * (2 + 2 * this.inputChannels));
    w.f64(this.index);
    w.f64(this.t);
    w.f64s(this.m);
    w.f64s(this.v);
    return w.finish();
  }

  /** Continues from exportState() bytes of a front end with the same spec; FRONTEND_STATE (nothing changed) otherwise. */
  importState(bytes: Uint8Array): void {
    const r = new StateReader(bytes, 'series', this.fingerprint, 'series front end');
    const index = r.int('index', 0);
    const t = r.int('t', 0);
    const m = r.f64s('m', this.inputChannels);
    const v = r.f64s('v', this.inputChannels);
    r.end();
    this.index = index;
    this.t = t;
    this.m.set(m);
    this.v.set(v);
  }

  /** The whole series from a fresh state (the stream's own state is left untouched). */
  batch(samples: SampleArray): FeatureBatch {
    const C = this.inputChannels;
    checkSamples(samples, C, 'series front end');
    const fresh = new SeriesFrontend(this.spec);
    const count = samples.length / C;
    const data = new Float32Array(samples.length);
    for (let k = 0; k < count; k++) fresh.frame(samples, k * C, data, k * C);
    return { data, count, featureSize: C, framesPerOutput: 1 };
  }
}

/**
 * Training side: the static scaling of `kind` fitted to training series (each interleaved with
 * `channels` values per sample): population mean/std (std 1 for a constant channel, constant up to
 * rounding: std <= 1e-12 |mean|) or min/max
 * (max = min + 1 for a constant channel).
 */
export function fitSeriesScaling(kind: 'standard' | 'minmax', channels: number, series: readonly SampleArray[]): SeriesScaling {
  let n = 0;
  const first = new Float64Array(channels);
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const min = new Float64Array(channels).fill(Infinity);
  const max = new Float64Array(channels).fill(-Infinity);
  for (const s of series) {
    checkSamples(s, channels, 'fitSeriesScaling');
    for (let i = 0; i < s.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const x = s[i + c]!;
        if (n === 0) first[c] = x;
        const d = x - first[c]!; // shifted sums keep precision for large offsets
        sum[c]! += d;
        sumSq[c]! += d * d;
        if (x < min[c]!) min[c] = x;
        if (x > max[c]!) max[c] = x;
      }
      n++;
    }
  }
  if (n === 0) throw new EdgeRnnError('SHAPE_MISMATCH', 'fitSeriesScaling: no samples in the training series', { series: series.length });
  if (kind === 'minmax') {
    // A constant channel gets max = min + 1; beyond 2^53 that is min itself (and a range no wider
    // than 2^-1024 has no finite gain), which validateSeriesSpec refuses: widen by >= 4 ulps there.
    const widen = (lo: number): number => lo + Math.max(1, Math.abs(lo) * 2 ** -50);
    return { kind, min: Array.from(min), max: Array.from(max, (hi, c) => (hi - min[c]! > MIN_SCALE_SPAN ? hi : widen(min[c]!))) };
  }
  const mean = Array.from(sum, (s, c) => first[c]! + s / n);
  const std = Array.from(sumSq, (q, c) => {
    const m = sum[c]! / n;
    const v = q / n - m * m;
    const sd = v > 0 ? Math.sqrt(v) : 0;
    // A constant channel (up to rounding) gets 1. The bound is relative to the level: an absolute
    // one (v > 1e-12) gave std 1 to a channel in small units (values 1e-7 apart), which then read ~0.
    return sd > 1e-12 * Math.abs(mean[c]!) && sd > MIN_SCALE_SPAN ? sd : 1;
  });
  return { kind, mean, std };
}
