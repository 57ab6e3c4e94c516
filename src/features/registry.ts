/**
 * One entry point for the gateway and the trainer: `createFrontend(spec)` validates a
 * `{kind, ...}` front-end spec (as stored in a model manifest's `input.frontend`) and returns the
 * streaming object for it.
 */
import { EdgeRnnError } from '../errors.js';
import type { InputSpec } from '../model/spec.js';
import { AudioFrontend, audioGeometry, validateAudioSpec, type AudioFrontendSpec } from './audio.js';
import { checkOutputCallback, checkSamples } from './check.js';
import { ImuFrontend, validateImuSpec, type ImuFrontendSpec } from './imu.js';
import { SeriesFrontend, validateSeriesSpec, type SeriesFrontendSpec } from './series.js';
import { FRONTEND_KINDS, type FeatureBatch, type FrontendKind, type OutputCallback, type SampleArray, type StreamingFrontend } from './types.js';
import { frontendSpecFingerprint, StateReader, StateWriter } from './state.js';
import { SpecReader } from './validate.js';
import { SlidingWindowFrontend, type WindowSpec } from './windows.js';
import { checkObjectArgument } from '../util/args.js';

/** No preprocessing: each input sample (channels values) is one model frame. */
export interface PassthroughFrontendSpec {
  kind: 'none';
  /** Values per sample; when absent, taken from the model's input size. */
  channels?: number;
  /**
   * Sliding windows, as an audio spec's: every `hop` samples the last `frames` as one block, run
   * from a reset state (a model trained on windows of a CSV: `edgernn train` writes them).
   */
  windows?: WindowSpec;
}

export type AnyFrontendSpec = PassthroughFrontendSpec | AudioFrontendSpec | ImuFrontendSpec | SeriesFrontendSpec;

export function validatePassthroughSpec(value: unknown): PassthroughFrontendSpec {
  const s = new SpecReader(value, 'none front end');
  s.onlyFields(['kind', 'channels', 'windows']);
  if (s.raw('kind') !== 'none') s.fail('kind', "'none'");
  const channels = s.optNum('channels', { integer: true, min: 1, max: 1 << 16 });
  const spec: PassthroughFrontendSpec = channels === undefined ? { kind: 'none' } : { kind: 'none', channels };
  if (s.has('windows')) {
    const w = s.sub('windows');
    w.onlyFields(['frames', 'hop']);
    // Held twice per stream (ring and output block), frames · channels values each: frames capped as audio's.
    const frames = w.num('frames', { integer: true, min: 1, max: 100_000 });
    spec.windows = { frames, hop: w.num('hop', { integer: true, min: 1, max: frames }) };
  }
  return spec;
}

/** Checks any front-end spec; the error names the field (or lists the kinds for an unknown kind). */
export function validateFrontendSpec(value: unknown): AnyFrontendSpec {
  const s = new SpecReader(value, 'front end');
  const kind = s.choice('kind', FRONTEND_KINDS);
  switch (kind) {
    case 'none':
      return validatePassthroughSpec(value);
    case 'logmel':
    case 'mfcc':
      return validateAudioSpec(value);
    case 'imu':
      return validateImuSpec(value);
    case 'series':
      return validateSeriesSpec(value);
  }
}

export class PassthroughFrontend implements StreamingFrontend {
  readonly kind = 'none' as const;
  readonly inputChannels: number;
  readonly featureSize: number;
  readonly framesPerOutput = 1;
  readonly frameRateHz = undefined;
  private readonly out: Float32Array;
  private index = 0;
  /** Identifies {kind: 'none', channels} in saved states. */
  private readonly fingerprint: Uint8Array;

  constructor(channels: number) {
    this.inputChannels = channels;
    this.featureSize = channels;
    this.out = new Float32Array(channels);
    this.fingerprint = frontendSpecFingerprint({ kind: 'none', channels });
  }

  push(samples: SampleArray, onOutput: OutputCallback): number {
    const C = this.inputChannels;
    checkSamples(samples, C, 'none front end');
    checkOutputCallback(onOutput, 'none front end');
    for (let i = 0; i < samples.length; i += C) {
      for (let c = 0; c < C; c++) this.out[c] = samples[i + c]!;
      onOutput(this.out, this.index++);
    }
    return samples.length / C;
  }

  reset(): void {
    this.index = 0;
  }

  /** Body: float64 index (nothing is buffered: every sample is a frame). */
  exportState(): Uint8Array {
    const w = new StateWriter('none', this.fingerprint, 8);
    w.f64(this.index);
    return w.finish();
  }

  importState(bytes: Uint8Array): void {
    const r = new StateReader(bytes, 'none', this.fingerprint, 'none front end');
    const index = r.int('index', 0);
    r.end();
    this.index = index;
  }

  batch(samples: SampleArray): FeatureBatch {
    checkSamples(samples, this.inputChannels, 'none front end');
    return { data: Float32Array.from(samples), count: samples.length / this.inputChannels, featureSize: this.featureSize, framesPerOutput: 1 };
  }
}

export interface CreateFrontendOptions {
  /**
   * The model's input size: the front end's featureSize must equal it (FRONTEND_SPEC error
   * otherwise), and a 'none' spec without `channels` takes it as its width.
   */
  expectedFeatureSize?: number;
  /**
   * false: ignore an audio spec's sliding `windows` and give frames, to score a whole clip as
   * one sequence (as clips are trained and scored). Default true: the front end as served.
   */
  windows?: boolean;
}

/** Validates `spec` and returns the streaming front end for its kind. */
export function createFrontend(spec: unknown, opts: CreateFrontendOptions = {}): StreamingFrontend {
  const v = validateFrontendSpec(spec);
  let fe: StreamingFrontend;
  switch (v.kind) {
    case 'none': {
      const channels = v.channels ?? opts.expectedFeatureSize;
      if (channels === undefined) {
        throw new EdgeRnnError('FRONTEND_SPEC', "none front end: 'channels' must be set when the model's input size is not given", { field: 'channels' });
      }
      if (v.windows && v.windows.frames * channels > 1 << 26) {
        throw new EdgeRnnError('FRONTEND_SPEC', `none front end: windows of ${v.windows.frames} frames of ${channels} values exceed 2^26 values`, { field: 'windows.frames', got: v.windows.frames });
      }
      fe = v.windows && opts.windows !== false ? new SlidingWindowFrontend(new PassthroughFrontend(channels), v.windows, { ...v, channels }) : new PassthroughFrontend(channels);
      break;
    }
    case 'logmel':
    case 'mfcc':
      fe = v.windows && opts.windows !== false ? new SlidingWindowFrontend(new AudioFrontend(v), v.windows, v) : new AudioFrontend(v);
      break;
    case 'imu':
      fe = new ImuFrontend(v);
      break;
    case 'series':
      fe = new SeriesFrontend(v);
      break;
  }
  if (opts.expectedFeatureSize !== undefined && fe.featureSize !== opts.expectedFeatureSize) {
    throw new EdgeRnnError('FRONTEND_SPEC', `${v.kind} front end gives ${fe.featureSize} features per frame, the model's input size is ${opts.expectedFeatureSize}`, {
      expected: opts.expectedFeatureSize,
      got: fe.featureSize,
    });
  }
  return fe;
}

/**
 * Checks, without building it, that `input.frontend` is a front end this runtime can build and
 * that it gives `input.size` features per frame: the same errors as createFrontendForInput, at
 * a fraction of the cost (no filterbank, FFT or filter tables), so loading a model stays cheap.
 */
export function checkFrontendForInput(input: Pick<InputSpec, 'size' | 'frontend'>): void {
  const v = validateFrontendSpec(input.frontend);
  let featureSize: number;
  switch (v.kind) {
    case 'none':
      featureSize = v.channels ?? input.size;
      break;
    case 'logmel':
    case 'mfcc':
      featureSize = audioGeometry(v).featureSize;
      break;
    case 'imu':
      featureSize = v.channels.length;
      break;
    case 'series':
      featureSize = v.channels;
      break;
  }
  if (featureSize !== input.size) {
    throw new EdgeRnnError('FRONTEND_SPEC', `${v.kind} front end gives ${featureSize} features per frame, the model's input size is ${input.size}`, { expected: input.size, got: featureSize });
  }
}

/** The front end a model's manifest asks for, checked against the model's input size (`windows: false`: frames, see CreateFrontendOptions). */
export function createFrontendForInput(input: Pick<InputSpec, 'size' | 'frontend'>, opts: Pick<CreateFrontendOptions, 'windows'> = {}): StreamingFrontend {
  checkObjectArgument(input, 'createFrontendForInput()', "a model's input spec (model.spec.input)", ['size', 'frontend']);
  return createFrontend(input.frontend, { ...opts, expectedFeatureSize: input.size });
}

/** Batch features of one recording with a fresh front end. */
export function computeFeatures(spec: unknown, samples: SampleArray): FeatureBatch {
  return createFrontend(spec).batch(samples);
}

export type { FrontendKind };
