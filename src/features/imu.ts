/**
 * IMU front end: interleaved accelerometer / gyroscope samples at the sensor's rate → windows of
 * normalized frames at the model's rate.
 *
 * Per input sample and channel c:
 *   v = decode ? decode.offset + decode.scale · code : value        (raw ADC codes → unit)
 *   v = v · UNIT_FACTOR[unit → model unit]                           (g ↔ m/s², deg/s ↔ rad/s)
 * then resampling to rateHz (resample.ts: linear or polyphase), then
 *   z = (v - mean[c]) / std[c]                                        (statistics from training)
 * and windowing: a window of `windowSize` frames every `hop` frames (time-major [t][c]); the
 * first window is complete after windowSize frames.
 *
 * The HMP dataset stores 6-bit codes: g = -1.5 + code / 63 · 3 (`HMP_ACCEL_DECODE`).
 */
import { EdgeRnnError } from '../errors.js';
import { checkOutputCallback, checkSamples } from './check.js';
import { planResampler, RESAMPLERS, resampleBatch, StreamResampler, type ResamplerKind, type ResamplerPlan } from './resample.js';
import type { FeatureBatch, OutputCallback, SampleArray, StreamingFrontend } from './types.js';
import { frontendSpecFingerprint, StateReader, StateWriter } from './state.js';
import { SpecReader } from './validate.js';

/** Standard gravity, m/s² per g (CGPM 1901). */
export const STANDARD_GRAVITY = 9.80665;

export const ACCEL_UNITS = ['g', 'm/s2'] as const;
export const GYRO_UNITS = ['deg/s', 'rad/s'] as const;
export type AccelUnit = (typeof ACCEL_UNITS)[number];
export type GyroUnit = (typeof GYRO_UNITS)[number];
/** 'none': a channel passed through unconverted (magnetometer, temperature, ...). */
export const IMU_UNITS = [...ACCEL_UNITS, ...GYRO_UNITS, 'none'] as const;
export type ImuUnit = (typeof IMU_UNITS)[number];

/** Factor that turns a value in `from` into the same quantity in `to`. */
export function unitFactor(from: ImuUnit, to: ImuUnit): number {
  if (from === to) return 1;
  if (from === 'g' && to === 'm/s2') return STANDARD_GRAVITY;
  if (from === 'm/s2' && to === 'g') return 1 / STANDARD_GRAVITY;
  if (from === 'deg/s' && to === 'rad/s') return Math.PI / 180;
  if (from === 'rad/s' && to === 'deg/s') return 180 / Math.PI;
  throw new RangeError(`no conversion from ${from} to ${to}`);
}

/** Affine decoding of raw sensor codes: value = offset + scale · code. */
export interface RawDecode {
  offset: number;
  scale: number;
}

/** HMP wrist accelerometer (6-bit codes 0..63 over ±1.5 g): g = -1.5 + code / 63 · 3. */
export const HMP_ACCEL_DECODE: Readonly<RawDecode> = { offset: -1.5, scale: 3 / 63 };

export interface ImuChannelSpec {
  /** Channel name, e.g. 'ax'. */
  name: string;
  /** Unit of the input value (after decode, when there is one). */
  unit: ImuUnit;
  /** Raw-code decoding applied first, when the input is ADC codes. */
  decode?: RawDecode;
}

export interface ImuNormalization {
  /** Per-channel mean in model units, measured on training data after conversion and resampling. */
  mean: number[];
  /** Per-channel standard deviation (> 0), same data. */
  std: number[];
}

export interface ImuFrontendSpec {
  kind: 'imu';
  /** Rate of the incoming samples, Hz. */
  inputRateHz: number;
  /** Rate the model was trained at, Hz; rateHz / inputRateHz must be a ratio of integers <= 10000. */
  rateHz: number;
  /** How to change rate (ignored when the rates are equal). */
  resampler: ResamplerKind;
  /** Input channels in interleaved order. */
  channels: ImuChannelSpec[];
  /** Unit the model expects for acceleration channels. */
  accelUnit: AccelUnit;
  /** Unit the model expects for angular-rate channels. */
  gyroUnit: GyroUnit;
  /** Frames (at rateHz) per output window, >= 1. */
  windowSize: number;
  /** Frames between window starts, >= 1. */
  hop: number;
  /** Training statistics; absent = no normalization (e.g. while fitting them). */
  normalization?: ImuNormalization;
}

/** Largest window, windowSize · channels values, and resampler history, (2K + 2) · channels values, accepted (2^26: 256 MiB of float32, 512 MiB of float64). */
const MAX_WINDOW_VALUES = 1 << 26;

const IMU_FIELDS = ['kind', 'inputRateHz', 'rateHz', 'resampler', 'channels', 'accelUnit', 'gyroUnit', 'windowSize', 'hop', 'normalization'] as const;

export function validateImuSpec(value: unknown): ImuFrontendSpec {
  const s = new SpecReader(value, 'imu front end');
  s.onlyFields(IMU_FIELDS);
  if (s.raw('kind') !== 'imu') s.fail('kind', "'imu'");
  const inputRateHz = s.num('inputRateHz', { above: 0, max: 100000 });
  const rateHz = s.num('rateHz', { above: 0, max: 100000 });
  const resampler = s.choice('resampler', RESAMPLERS);
  // Checks the ratio now, so a bad pair fails at load, not on the first sample.
  let taps = 1;
  try {
    taps = planResampler(resampler, 1, inputRateHz, rateHz).K;
  } catch {
    s.fail('rateHz', `a rational multiple of inputRateHz ${inputRateHz} with terms <= 10000`);
  }
  const accelUnit = s.choice('accelUnit', ACCEL_UNITS);
  const gyroUnit = s.choice('gyroUnit', GYRO_UNITS);
  const channels = s.array('channels').map((c, i) => {
    const r = new SpecReader(c, `imu front end.channels[${i}]`);
    r.onlyFields(['name', 'unit', 'decode']);
    const ch: ImuChannelSpec = { name: r.str('name'), unit: r.choice('unit', IMU_UNITS) };
    if (r.has('decode')) {
      const d = r.sub('decode');
      d.onlyFields(['offset', 'scale']);
      ch.decode = { offset: d.num('offset'), scale: d.num('scale') };
      if (ch.decode.scale === 0) d.fail('scale', 'non-zero');
      // Decoding and unit conversion fold into v = offset·f + scale·f · code: a factor that
      // overflows made every frame NaN (Infinity · 0) or infinite.
      const to: ImuUnit = ch.unit === 'none' ? 'none' : (ACCEL_UNITS as readonly string[]).includes(ch.unit) ? accelUnit : gyroUnit;
      const f = unitFactor(ch.unit, to);
      for (const k of ['offset', 'scale'] as const) {
        if (!Number.isFinite(ch.decode[k] * f)) d.fail(k, `a number whose conversion from ${ch.unit} to ${to} (× ${f}) is finite`, ch.decode[k]);
      }
    }
    return ch;
  });
  // A window of windowSize frames of every channel is held twice (the ring and the output block):
  // capped at 2^26 values, so a wild pair is a FRONTEND_SPEC error, not a RangeError at build.
  // The resampler keeps 2K + 2 input samples of every channel (K = 88,889 at 10000 → 1).
  if ((2 * taps + 2) * channels.length > MAX_WINDOW_VALUES) {
    s.fail('channels', `at most ${Math.floor(MAX_WINDOW_VALUES / (2 * taps + 2))} channels for a ${resampler} resampler ${inputRateHz} → ${rateHz} Hz (it keeps ${2 * taps + 2} samples per channel; at most 2^26 values)`, `${channels.length} channels`);
  }
  const windowSize = s.num('windowSize', { integer: true, min: 1, max: Math.max(1, Math.min(1 << 20, Math.floor(MAX_WINDOW_VALUES / channels.length))) });
  const hop = s.num('hop', { integer: true, min: 1, max: 1 << 20 });
  const spec: ImuFrontendSpec = { kind: 'imu', inputRateHz, rateHz, resampler, channels, accelUnit, gyroUnit, windowSize, hop };
  if (s.has('normalization')) {
    const n = s.sub('normalization');
    n.onlyFields(['mean', 'std']);
    spec.normalization = { mean: n.numArray('mean', channels.length), std: n.numArray('std', channels.length, { above: 0 }) };
    // Frames are multiplied by 1 / std: a std so small (subnormal) that it overflows made every
    // frame NaN or infinite.
    spec.normalization.std.forEach((sd, c) => {
      if (!Number.isFinite(1 / sd)) n.fail(`std[${c}]`, '> 5.562684646268003e-309 (its inverse must be finite)', sd);
    });
  }
  return spec;
}

function modelUnit(spec: ImuFrontendSpec, unit: ImuUnit): ImuUnit {
  if (unit === 'none') return 'none';
  return (ACCEL_UNITS as readonly string[]).includes(unit) ? spec.accelUnit : spec.gyroUnit;
}

/** Per-channel affine map input → model units: v = a + b · input. */
function channelMaps(spec: ImuFrontendSpec): { a: Float64Array; b: Float64Array } {
  const C = spec.channels.length;
  const a = new Float64Array(C);
  const b = new Float64Array(C);
  spec.channels.forEach((ch, c) => {
    const f = unitFactor(ch.unit, modelUnit(spec, ch.unit));
    const d = ch.decode ?? { offset: 0, scale: 1 };
    a[c] = d.offset * f;
    b[c] = d.scale * f;
  });
  return { a, b };
}

/** Streaming IMU windows. */
export class ImuFrontend implements StreamingFrontend {
  readonly kind = 'imu' as const;
  readonly spec: ImuFrontendSpec;
  readonly inputChannels: number;
  readonly featureSize: number;
  readonly framesPerOutput: number;
  readonly frameRateHz: number;
  private readonly plan: ResamplerPlan;
  private readonly resampler: StreamResampler;
  private readonly map: { a: Float64Array; b: Float64Array };
  private readonly mean: Float64Array;
  private readonly invStd: Float64Array;
  private readonly converted: Float64Array;
  /** Ring of the last windowSize frames (normalized, float32), frame-major. */
  private readonly ring: Float32Array;
  private readonly out: Float32Array;
  private readonly emitFrame: () => void;
  private frames = 0;
  /** Frames until the next window closes. */
  private untilNext: number;
  private index = 0;
  private onOutput: OutputCallback | undefined;
  private produced = 0;
  /** Identifies this spec in saved states. */
  private readonly fingerprint: Uint8Array;

  constructor(spec: ImuFrontendSpec) {
    this.spec = validateImuSpec(spec);
    const C = this.spec.channels.length;
    this.inputChannels = C;
    this.featureSize = C;
    this.framesPerOutput = this.spec.windowSize;
    this.frameRateHz = this.spec.rateHz;
    this.plan = planResampler(this.spec.resampler, C, this.spec.inputRateHz, this.spec.rateHz);
    this.resampler = new StreamResampler(this.plan);
    this.map = channelMaps(this.spec);
    const norm = this.spec.normalization;
    this.mean = Float64Array.from(norm?.mean ?? new Array<number>(C).fill(0));
    this.invStd = Float64Array.from((norm?.std ?? new Array<number>(C).fill(1)).map((s) => 1 / s));
    this.converted = new Float64Array(C);
    this.ring = new Float32Array(this.spec.windowSize * C);
    this.out = new Float32Array(this.spec.windowSize * C);
    this.untilNext = this.spec.windowSize;
    // One bound method made here, so push() creates no closures.
    this.emitFrame = () => this.onFrame();
    this.fingerprint = frontendSpecFingerprint(this.spec);
  }

  private onFrame(): void {
    const C = this.featureSize;
    const W = this.spec.windowSize;
    const slot = (this.frames % W) * C;
    const v = this.resampler.out;
    for (let c = 0; c < C; c++) this.ring[slot + c] = (v[c]! - this.mean[c]!) * this.invStd[c]!;
    this.frames++;
    if (--this.untilNext > 0) return;
    this.untilNext = this.spec.hop;
    // Oldest frame first: frames - W .. frames - 1.
    const start = this.frames % W;
    for (let t = 0; t < W; t++) {
      const src = ((start + t) % W) * C;
      for (let c = 0; c < C; c++) this.out[t * C + c] = this.ring[src + c]!;
    }
    this.onOutput!(this.out, this.index++);
    this.produced++;
  }

  push(samples: SampleArray, onOutput: OutputCallback): number {
    const C = this.inputChannels;
    checkSamples(samples, C, 'imu front end');
    checkOutputCallback(onOutput, 'imu front end');
    this.onOutput = onOutput;
    this.produced = 0;
    const { a, b } = this.map;
    for (let i = 0; i < samples.length; i += C) {
      for (let c = 0; c < C; c++) this.converted[c] = a[c]! + b[c]! * samples[i + c]!;
      this.resampler.push(this.converted, 0, this.emitFrame);
    }
    this.onOutput = undefined;
    return this.produced;
  }

  reset(): void {
    this.resampler.reset();
    this.frames = 0;
    this.untilNext = this.spec.windowSize;
    this.index = 0;
    // Never read before it is refilled, but written by exportState(): cleared, a reset front
    // end's state is a fresh one's, byte for byte, and carries nothing of the old stream.
    this.ring.fill(0);
  }

  /**
   * The stream position as bytes (format in state.ts). Body: float64 index, frames,
   * untilNext, then the resampler's count, base, phase, first sample and input ring
   * (StreamResampler.writeState), then float32 the ring of the last windowSize normalized
   * frames (the partial window).
   */
  exportState(): Uint8Array {
    const w = new StateWriter('imu', this.fingerprint, 8 * (3 + this.resampler.stateValues) + 4 * this.ring.length);
    w.f64(this.index);
    w.f64(this.frames);
    w.f64(this.untilNext);
    this.resampler.writeState(w);
    w.f32s(this.ring);
    return w.finish();
  }

  /** Continues from exportState() bytes of a front end with the same spec; FRONTEND_STATE (nothing changed) otherwise. */
  importState(bytes: Uint8Array): void {
    const r = new StateReader(bytes, 'imu', this.fingerprint, 'imu front end');
    const index = r.int('index', 0);
    const frames = r.int('frames', 0);
    const untilNext = r.int('untilNext', 1, Math.max(this.spec.windowSize, this.spec.hop));
    const rs = this.resampler.readState(r);
    const ring = r.f32s('ring', this.ring.length);
    r.end();
    this.index = index;
    this.frames = frames;
    this.untilNext = untilNext;
    this.resampler.restoreState(rs);
    this.ring.set(ring);
  }

  /** Converts, resamples and normalizes the whole recording, then slices windows. */
  batch(samples: SampleArray): FeatureBatch {
    const C = this.inputChannels;
    checkSamples(samples, C, 'imu front end');
    const { a, b } = this.map;
    const conv = new Float64Array(samples.length);
    for (let i = 0; i < samples.length; i += C) for (let c = 0; c < C; c++) conv[i + c] = a[c]! + b[c]! * samples[i + c]!;
    const frames = imuNormalizeFrames(resampleBatch(this.plan, conv), this.mean, this.invStd);
    const T = frames.length / C;
    const W = this.spec.windowSize;
    const H = this.spec.hop;
    const count = T < W ? 0 : 1 + Math.floor((T - W) / H);
    const data = new Float32Array(count * W * C);
    for (let k = 0; k < count; k++) data.set(frames.subarray(k * H * C, (k * H + W) * C), k * W * C);
    return { data, count, featureSize: C, framesPerOutput: W };
  }
}

function imuNormalizeFrames(v: Float64Array, mean: Float64Array, invStd: Float64Array): Float32Array {
  const C = mean.length;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i += C) for (let c = 0; c < C; c++) out[i + c] = (v[i + c]! - mean[c]!) * invStd[c]!;
  return out;
}

/**
 * Training side: the per-channel mean and standard deviation (population) of the front end's
 * frames over all `recordings` (each interleaved at inputRateHz), measured after unit conversion
 * and resampling, without normalization. Sums are float64 and shifted by the first frame
 * (var = E[(x-k)²] - E[x-k]²) so large offsets such as gravity in m/s² lose no precision.
 * Returns the spec with `normalization` set, ready for the manifest. A channel with zero
 * variance gets std 1.
 */
export function fitImuNormalization(spec: ImuFrontendSpec, recordings: readonly SampleArray[]): ImuFrontendSpec {
  const { normalization: _ignored, ...bare } = validateImuSpec(spec);
  const C = bare.channels.length;
  const fe = new ImuFrontend({ ...bare, windowSize: 1, hop: 1 });
  const sum = new Float64Array(C);
  const sumSq = new Float64Array(C);
  let shift: Float32Array | undefined;
  let n = 0;
  for (const rec of recordings) {
    const { data } = fe.batch(rec);
    if (data.length > 0 && shift === undefined) shift = data.slice(0, C);
    for (let i = 0; i < data.length; i += C) {
      for (let c = 0; c < C; c++) {
        const d = data[i + c]! - shift![c]!;
        sum[c]! += d;
        sumSq[c]! += d * d;
      }
      n++;
    }
  }
  if (n === 0 || shift === undefined) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `fitImuNormalization: ${recordings.length} recordings give no frame at ${bare.rateHz} Hz`, { recordings: recordings.length });
  }
  const mean = Array.from(sum, (s, c) => shift![c]! + s / n);
  const std = Array.from(sumSq, (q, c) => {
    const m = sum[c]! / n;
    const sd = Math.sqrt(Math.max(0, q / n - m * m));
    // Constant only relative to the channel's level (float rounding), as fitSeriesScaling decides:
    // the absolute bound (variance <= 1e-12) gave std 1 to a channel in small units (values 1e-7
    // apart, 'none' units), which then read ~0.
    return sd > 1e-12 * Math.abs(mean[c]!) && Number.isFinite(1 / sd) ? sd : 1;
  });
  return { ...bare, normalization: { mean, std } };
}
