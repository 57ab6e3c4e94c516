/**
 * The streaming front ends of src/features (audio log-mel/MFCC, IMU windows, sensor series) as
 * gateway front ends (Node-only module by location; the features themselves are browser-safe).
 * A model whose manifest says `input.frontend: {kind: "mfcc", ...}` gets the same front end the
 * trainer used, fed at the rate its spec names (the gateway resamples devices to it).
 */
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { audioGeometry, validateAudioSpec } from '../features/audio.js';
import { createFrontend } from '../features/index.js';
import type { FrontendSpec } from '../model/spec.js';
import { frontEndFromStreaming, type BlockTiming, type FrontEndContext, type FrontEndFactory } from './frontend.js';

/** Input samples one output block advances by, at the rate the front end consumes (audio: a frame hop, or the windows' hop; imu: a window hop). */
function hopSamples(spec: FrontendSpec, inputRateHz: number | undefined): number {
  const windows = spec.windows as { hop?: unknown } | undefined;
  // Audio in sliding windows: a block advances by the windows' hop, in frames.
  const frames = typeof windows?.hop === 'number' ? windows.hop : 1;
  if (typeof spec.hopMs === 'number' && inputRateHz !== undefined) return Math.round((frames * spec.hopMs * inputRateHz) / 1000);
  if (spec.kind === 'imu' && typeof spec.rateHz === 'number' && typeof spec.hop === 'number' && inputRateHz !== undefined) return (spec.hop * inputRateHz) / spec.rateHz;
  return 1;
}

function featureFrontEnd(spec: FrontendSpec, ctx: FrontEndContext) {
  let fe;
  try {
    fe = createFrontend(spec, { expectedFeatureSize: ctx.inputSize });
  } catch (e) {
    if (!isEdgeRnnError(e)) throw e;
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.model: the model's front end (${spec.kind}) is unusable: ${e.message}`, { field: `${ctx.path}.model` });
  }
  if (ctx.channels !== 0 && ctx.channels !== fe.inputChannels) {
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.channels must be ${fe.inputChannels} (the model's ${spec.kind} front end reads ${fe.inputChannels}-value samples), got ${ctx.channels}`, {
      field: `${ctx.path}.channels`,
      expected: fe.inputChannels,
      got: ctx.channels,
    });
  }
  // The rate samples must arrive at: audio sampleRateHz, IMU inputRateHz (it resamples itself), series rateHz.
  const rate = [spec.sampleRateHz, spec.inputRateHz, spec.rateHz].find((r): r is number => typeof r === 'number');
  return frontEndFromStreaming(fe, rate, hopSamples(spec, rate), audioTiming(spec, ctx), hopFrames(spec), spec.windows !== undefined || fe.framesPerOutput > 1);
}

/** Frames a window advances by: audio windows.hop, imu hop (1: not windowed). */
function hopFrames(spec: FrontendSpec): number {
  const windows = spec.windows as { hop?: unknown } | undefined;
  if (typeof windows?.hop === 'number') return windows.hop;
  if (spec.kind === 'imu' && typeof spec.hop === 'number') return spec.hop;
  return 1;
}

/**
 * Audio blocks complete at fixed samples: frame t after sample t·H + L - 1 (H hop, L frame, in
 * samples), a window of F frames every `hop` frames at its last frame (docs/features.md).
 */
function audioTiming(spec: FrontendSpec, ctx: FrontEndContext): BlockTiming | undefined {
  if (spec.kind !== 'logmel' && spec.kind !== 'mfcc') return undefined;
  const a = validateAudioSpec(spec);
  const { frameLength, hopLength } = audioGeometry(a);
  const frames = a.windows?.frames ?? 1;
  const hop = a.windows?.hop ?? 1;
  return { first: (frames - 1) * hopLength + frameLength, every: hop * hopLength, probe: () => createFrontend(spec, { expectedFeatureSize: ctx.inputSize }) };
}

export const FEATURE_FRONTENDS: Readonly<Record<string, FrontEndFactory>> = {
  logmel: featureFrontEnd,
  mfcc: featureFrontEnd,
  imu: featureFrontEnd,
  series: featureFrontEnd,
};
