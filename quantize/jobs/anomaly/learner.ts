/**
 * The per-series learner of the NAB GRU detectors: the desktop trainer (float32, BPTT, Adam)
 * on a series' probationary frames, then post-training int8 quantization (MSE calibration on
 * the same frames), returned as .ern
 * bytes for the detector to load (src/detectors/anomaly/learned.ts). Node or browser; no I/O.
 *
 * Training data from the p probationary frames, split by time (time-split.ts): the last
 * `valFraction` of the frames are held out for early stopping; windows of `sequenceLength` steps
 * every `stride` steps are cut inside each part, so no validation window shares a frame with a
 * training window. forecast: target of frame t = z_{t+1} (a window also reads the frame after
 * its last input); autoencoder: the trainer's own targets (the last W frames at every step).
 */
import { encodeModel, EdgeRnnError, type LearnRequest, type ModelSpec, type SeriesLearner } from '../../../src/index.js';
import type { Dataset, Sample } from '../../data/dataset.js';
import { calibrateAndQuantize } from '../../quant/calibrate.js';
import { trainModel } from '../../train/train-model.js';
import { splitByTime, windowsIn, type WindowRange } from './time-split.js';

/** How a series forecaster is trained: shared by the per-series learner and the shipped model. */
export interface ForecasterTrainOptions {
  /** GRU hidden units. */
  hidden: number;
  /** Maximum training epochs (early stopping may end sooner). */
  epochs: number;
  /** Epochs without validation improvement before stopping. */
  patience: number;
  /** Adam learning rate. */
  lr: number;
  batchSize: number;
  /** Steps per training window. */
  sequenceLength: number;
  /** Steps between window starts. */
  stride: number;
  /** Share of each series' steps held out at its end for early stopping (time-split.ts). */
  valFraction: number;
  /** Seed of initialization and shuffling (same seed, same model bytes); the split is by time, not seeded. */
  seed: number;
}

/** The trainer options these settings mean: a GRU on inputs the series front end already scales. */
export function forecasterTrainerOptions(o: ForecasterTrainOptions): { arch: 'gru'; hidden: number; epochs: number; patience: number; lr: number; batchSize: number; seed: number; normalize: false } {
  return { arch: 'gru', hidden: o.hidden, epochs: o.epochs, patience: o.patience, lr: o.lr, batchSize: o.batchSize, seed: o.seed, normalize: false };
}

export interface TrainerLearnerOptions extends ForecasterTrainOptions {
  /** 'int8': post-training quantization (see `calibration`); 'float32': the trained model as is. */
  precision: 'int8' | 'float32';
  /**
   * int8 calibration on the training windows: 'mse' (the trainer's default: MSE-optimal input
   * range and weight-row clipping) or 'minmax-headroom' (max |x|, with the value channel's input
   * range widened to ±inputRange so values far outside the probationary range reach the model
   * unsaturated). On NAB, mse scores as the float models do; the headroom costs about 0.8 points
   * (a wide value range coarsens the int8 weights of the time-of-day inputs in the same rows).
   */
  calibration: 'mse' | 'minmax-headroom';
  /** 'minmax-headroom': the input range calibration must cover on the value channel (the detector's clip). */
  inputRange: number;
  /**
   * Trained float models by request content, shared between learners (e.g. the int8 and float
   * twins of a detector, or the parts of gru-combined): the same frames and options train the
   * same model, so a hit skips training and returns exactly what training would.
   */
  memo?: Map<string, ModelSpec>;
}

export const TRAINER_LEARNER_DEFAULTS: Readonly<TrainerLearnerOptions> = {
  hidden: 16,
  epochs: 20,
  patience: 8,
  lr: 5e-3,
  batchSize: 16,
  sequenceLength: 64,
  stride: 8,
  valFraction: 0.15,
  seed: 1,
  precision: 'int8',
  calibration: 'mse',
  inputRange: 8,
};

/** Frames a window reads after its last input: a forecast window reads its last target, z_{t+1}. */
function lookaheadOf(request: LearnRequest): 0 | 1 {
  return request.task === 'forecast' ? 1 : 0;
}

function checkRequest(request: LearnRequest): void {
  const { steps, task } = request;
  // forecast: the last frame has no target, so windows end by steps - 1.
  if (steps - lookaheadOf(request) < 2) throw new EdgeRnnError('BAD_DATA', `${request.name}: ${steps} probationary frames are too few to train on`, { steps });
  if (task === 'forecast' && (!request.targets || request.targets.length !== steps - 1)) {
    throw new EdgeRnnError('BAD_DATA', `${request.name}: forecast needs ${steps - 1} targets, got ${request.targets?.length ?? 0}`);
  }
}

function samplesOf(request: LearnRequest, windows: readonly WindowRange[]): Sample[] {
  const F = request.features;
  return windows.map(({ start: s, length: L }) => {
    const sample: Sample = { x: request.frames.slice(s * F, (s + L) * F), T: L, where: `${request.name}@${s}` };
    if (request.task === 'forecast') sample.target = request.targets!.slice(s, s + L);
    return sample;
  });
}

/** Cuts all the probationary frames into windows (int8 calibration reads every frame). */
export function probationSamples(request: LearnRequest, sequenceLength: number, stride: number): Sample[] {
  checkRequest(request);
  return samplesOf(request, windowsIn(0, request.steps, sequenceLength, stride, lookaheadOf(request)));
}

/** The training and validation windows: the probationary frames split by time (time-split.ts). */
export function probationSplit(request: LearnRequest, o: Pick<ForecasterTrainOptions, 'sequenceLength' | 'stride' | 'valFraction'>): { train: Sample[]; val: Sample[] } {
  checkRequest(request);
  const split = splitByTime({ first: 0, end: request.steps, length: o.sequenceLength, stride: o.stride, valFraction: o.valFraction, lookahead: lookaheadOf(request) });
  return { train: samplesOf(request, split.train), val: samplesOf(request, split.val) };
}

/** FNV-1a over bytes (memo keys; collisions are further guarded by the length and options in the key). */
function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h >>> 0;
}

function memoKey(request: LearnRequest, o: TrainerLearnerOptions): string {
  const { memo: _memo, precision: _precision, calibration: _calibration, inputRange: _range, ...training } = o;
  const frames = new Uint8Array(request.frames.buffer, request.frames.byteOffset, request.frames.byteLength);
  const targets = request.targets ? new Uint8Array(request.targets.buffer, request.targets.byteOffset, request.targets.byteLength) : new Uint8Array(0);
  return JSON.stringify([request.task, request.steps, request.features, request.window ?? 0, fnv1a(frames), fnv1a(targets), fnv1a(targets, fnv1a(frames)), training]);
}

/** A SeriesLearner backed by the desktop trainer. */
export function trainerLearner(options: Partial<TrainerLearnerOptions> = {}): SeriesLearner {
  const o: TrainerLearnerOptions = { ...TRAINER_LEARNER_DEFAULTS, ...options };
  if (!(o.inputRange > 0)) throw new EdgeRnnError('DETECTOR_OPTION', `trainerLearner: inputRange must be > 0, got ${o.inputRange}`);
  return {
    learn(request: LearnRequest): Uint8Array {
      const samples = probationSamples(request, o.sequenceLength, o.stride);
      const key = o.memo ? memoKey(request, o) : '';
      let spec: ModelSpec | undefined = o.memo?.get(key);
      if (spec === undefined) {
        spec = train(request, o);
        o.memo?.set(key, spec);
      }
      if (o.precision === 'int8' && o.calibration === 'mse') {
        spec = calibrateAndQuantize(spec, samples, { method: 'mse' });
      } else if (o.precision === 'int8') {
        // Two extra frames at ±inputRange on the value channel widen its range (int16 grid: inputRange / 32767).
        const headroom = new Float32Array(2 * request.features);
        headroom[0] = o.inputRange;
        headroom[request.features] = -o.inputRange;
        spec = calibrateAndQuantize(spec, [...samples, headroom], { method: 'minmax' });
      }
      return encodeModel(spec);
    },
  };
}

/** The float model of a request (the trainer, normalization off: frames are already scaled). */
function train(request: LearnRequest, o: TrainerLearnerOptions): ModelSpec {
  const split = probationSplit(request, o);
  const data: Dataset = {
    source: request.name,
    sha256: '',
    features: request.features,
    labels: [],
    targetSize: request.task === 'forecast' ? 1 : 0,
    samples: split.train,
    frontend: request.frontend,
  };
  const result = trainModel({
    data,
    // Our own held-out tail instead of the trainer's split of the windows (which overlap).
    val: { ...data, source: `${request.name} (last ${Math.round(o.valFraction * 100)}% of the probationary frames)`, samples: split.val },
    name: request.name,
    options: { ...forecasterTrainerOptions(o), task: request.task, ...(request.window !== undefined ? { window: request.window } : {}) },
  });
  return result.spec;
}
