/**
 * HMP recordings → model windows through the IMU front end (src/features/imu.ts), the same code
 * the gateway runs: 6-bit codes decoded to g, polyphase resampling to the model rate,
 * normalization with training statistics, windows of `windowSize` frames every `hop` frames.
 */
import { HMP_ACCEL_DECODE, ImuFrontend, fitImuNormalization, planResampler, type ImuFrontendSpec } from '../../../src/index.js';
import type { Sample } from '../../data/dataset.js';
import { HMP_AXES, HMP_RATE_HZ, type HmpRecording } from './hmp.js';

export interface HarFrontendOptions {
  /** Model frame rate, Hz (the front end resamples 32 Hz → this). */
  rateHz: number;
  /** Frames per window. */
  windowSize: number;
  /** Frames between windows when streaming (the manifest's hop). */
  hop: number;
}

/** The front-end spec for HMP codes (no normalization yet: see fitHarNormalization). */
export function harFrontendSpec(o: HarFrontendOptions): ImuFrontendSpec {
  return {
    kind: 'imu',
    inputRateHz: HMP_RATE_HZ,
    rateHz: o.rateHz,
    resampler: 'polyphase',
    channels: HMP_AXES.map((name) => ({ name, unit: 'g' as const, decode: { ...HMP_ACCEL_DECODE } })),
    accelUnit: 'g',
    gyroUnit: 'rad/s',
    windowSize: o.windowSize,
    hop: o.hop,
  };
}

/** Per-axis mean and std of the training recordings' frames, stored in the spec. */
export function fitHarNormalization(spec: ImuFrontendSpec, recordings: readonly HmpRecording[]): ImuFrontendSpec {
  return fitImuNormalization(spec, recordings.map((r) => r.codes));
}

/**
 * Codes with `before` copies of the first sample in front and `after` copies of the last at the
 * end (a still wrist before and after the recorded motion: 6-bit codes of a still sensor are
 * constant), so that short recordings still give whole windows.
 */
export function padCodes(codes: Uint8Array, before: number, after: number): Uint8Array {
  const n = codes.length / 3;
  if (n === 0 || (before <= 0 && after <= 0)) return codes;
  const out = new Uint8Array((n + before + after) * 3);
  for (let i = 0; i < before; i++) out.set(codes.subarray(0, 3), i * 3);
  out.set(codes, before * 3);
  for (let i = 0; i < after; i++) out.set(codes.subarray((n - 1) * 3, n * 3), (before + n + i) * 3);
  return out;
}

/** Input samples the front end needs for one window: its frames plus the resampler's delay. */
export function samplesPerWindow(spec: ImuFrontendSpec): number {
  // windowSize frames at rateHz = windowSize · in/out input samples, plus the resampler's delay K.
  const plan = planResampler(spec.resampler, spec.channels.length, spec.inputRateHz, spec.rateHz);
  return Math.ceil((spec.windowSize * spec.inputRateHz) / spec.rateHz) + plan.K + 1;
}

export interface WindowOptions {
  /** Frames between consecutive windows (training may use a denser hop than the manifest's). */
  hop: number;
  /** Seconds of still-wrist padding added before and after each recording (default 0). */
  padSeconds?: number;
}

/**
 * Every window of one recording, time-major [t][axis], through ImuFrontend.batch (which the
 * front-end tests prove equal to streaming, bit for bit). Recordings shorter than a window are
 * padded in front (still wrist before the motion) until they give one.
 */
export function recordingWindows(spec: ImuFrontendSpec, rec: HmpRecording, o: WindowOptions): Float32Array[] {
  const pad = Math.round((o.padSeconds ?? 0) * spec.inputRateHz);
  const need = samplesPerWindow(spec);
  const short = Math.max(0, need - (rec.samples + 2 * pad));
  const codes = padCodes(rec.codes, pad + short, pad);
  const fe = new ImuFrontend({ ...spec, hop: o.hop });
  const b = fe.batch(codes);
  const size = b.framesPerOutput * b.featureSize;
  const out: Float32Array[] = [];
  for (let k = 0; k < b.count; k++) out.push(b.data.slice(k * size, (k + 1) * size));
  return out;
}

/**
 * The normalized frames of a recording (padded as recordingWindows pads it), [T][axis]: window k
 * at hop h is frames [k·h, k·h + windowSize), exactly the slice ImuFrontend.batch takes.
 */
export function recordingFrames(spec: ImuFrontendSpec, rec: HmpRecording, padSeconds = 0): Float32Array {
  const pad = Math.round(padSeconds * spec.inputRateHz);
  const short = Math.max(0, samplesPerWindow(spec) - (rec.samples + 2 * pad));
  const fe = new ImuFrontend({ ...spec, windowSize: 1, hop: 1 });
  return fe.batch(padCodes(rec.codes, pad + short, pad)).data;
}

/** Windows of many recordings as trainer samples; `recording` indexes into `recs`. */
export function windowSamples(spec: ImuFrontendSpec, recs: readonly HmpRecording[], labels: readonly string[], o: WindowOptions): { samples: Sample[]; recording: number[] } {
  const samples: Sample[] = [];
  const recording: number[] = [];
  recs.forEach((r, i) => {
    const y = labels.indexOf(r.activity);
    recordingWindows(spec, r, o).forEach((x, k) => {
      samples.push({ x, T: spec.windowSize, y, where: `${r.file}#${k}` });
      recording.push(i);
    });
  });
  return { samples, recording };
}
