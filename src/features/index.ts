/** Streaming front ends (browser-safe): audio log-mel/MFCC, IMU windows, sensor-series scaling. */
export { FRONTEND_KINDS, type FrontendKind, type StreamingFrontend, type FeatureBatch, type OutputCallback, type SampleArray } from './types.js';
export {
  createFrontend,
  createFrontendForInput,
  computeFeatures,
  validateFrontendSpec,
  validatePassthroughSpec,
  PassthroughFrontend,
  type AnyFrontendSpec,
  type PassthroughFrontendSpec,
  type CreateFrontendOptions,
} from './registry.js';
export { SlidingWindowFrontend, windowCount, type WindowSpec } from './windows.js';
export {
  AudioFrontend,
  cmnFrame,
  cmnRows,
  AudioFrameKernel,
  audioFrontendSpec,
  validateAudioSpec,
  audioGeometry,
  audioFrameCount,
  AUDIO_FRONTEND_DEFAULTS,
  AUDIO_FRONTEND_KINDS,
  DEFAULT_N_MFCC,
  type AudioFrontendSpec,
  type AudioFrontendKind,
} from './audio.js';
export {
  ImuFrontend,
  validateImuSpec,
  fitImuNormalization,
  unitFactor,
  STANDARD_GRAVITY,
  HMP_ACCEL_DECODE,
  ACCEL_UNITS,
  GYRO_UNITS,
  IMU_UNITS,
  type ImuFrontendSpec,
  type ImuChannelSpec,
  type ImuNormalization,
  type ImuUnit,
  type AccelUnit,
  type GyroUnit,
  type RawDecode,
} from './imu.js';
export { SeriesFrontend, validateSeriesSpec, fitSeriesScaling, SERIES_SCALINGS, type SeriesFrontendSpec, type SeriesScaling, type SeriesAdaptive } from './series.js';
export { RealFft, dftRef, isPowerOfTwo } from './fft.js';
export { melFilterbank, melFilterbankDense, hzToMel, melToHz, MEL_SCALES, MEL_NORMS, type MelScale, type MelNorm, type MelFilterbank, type MelFilterbankOptions } from './mel.js';
export { dctOrthoMatrix } from './dct.js';
export { makeWindow, WINDOW_KINDS, type WindowKind } from './window.js';
export { planResampler, StreamResampler, resampleBatch, rateRatio, RESAMPLERS, type ResamplerKind, type ResamplerPlan, type ResamplerState } from './resample.js';
export { frontendSpecFingerprint, FRONTEND_STATE_VERSION, FRONTEND_STATE_KIND_IDS, FRONTEND_STATE_HEADER_BYTES, type FrontendStateProblem } from './state.js';
