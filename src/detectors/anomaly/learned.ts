/**
 * Anomaly detectors that learn a small recurrent model per series during NAB's probationary
 * period and then run it, frozen, through the runtime:
 *
 *   gru-predict      a GRU forecaster: error_t = |z_t - ŷ_t|, ŷ_t predicted at t-1
 *   gru-autoencoder  a GRU autoencoder over the last W frames: error_t = RMS over the window of
 *                    (reconstruction - input) on the value channel
 *
 * Protocol, per series (the same options for every series; nothing here sees labels):
 *
 *   1. Records 0 .. p-1 (p = the probationary length NAB gives the detector) are buffered;
 *      their scores are 0 (NAB does not score them).
 *   2. On record p-1 the detector fits the input scaling on those p values (mean, std), builds
 *      the frames, and asks its learner (injected: the desktop trainer in quantize/) for a model
 *      trained on them; it loads the returned .ern synchronously (int8 on the SIMD kernels by
 *      default), replays the p frames through a session to get in-sample errors, and calibrates
 *      the error scorer (error-scoring.ts) with them.
 *   3. From record p on, each record is one session step and one score. The model is never
 *      updated again; the likelihood keeps adapting to the recent error distribution.
 *
 * What the model sees at step t (its frame): z_t = (x_t - mean) / std clipped to ±clip, and when
 * `timeOfDay` is on, sin and cos of 2π·(UTC time of day)/24 h from the record's timestamp.
 * No record after t is read before the score of t is returned.
 *
 * Browser-safe (the learner and the loader are injected).
 */
import { EdgeRnnError } from '../../errors.js';
import type { Model, Session } from '../../runtime/runtime.js';
import { checkFiniteInput, checkOptionFields, type AnomalyDetector, type SeriesContext } from './detector.js';
import { ErrorScorer, probationScaling, type ErrorScoringOptions } from './error-scoring.js';

/** What a learner trains; both read the frames [steps][features] of the probationary period. */
export type LearnedTask = 'forecast' | 'autoencoder';

export interface LearnRequest {
  task: LearnedTask;
  /** Frames [steps][features], row-major (what the model will be fed). */
  frames: Float32Array;
  steps: number;
  features: number;
  /** forecast: targets [steps - 1] (z_{t+1} for frame t, the last frame has none). */
  targets?: Float32Array;
  /** autoencoder: frames each step reconstructs. */
  window?: number;
  /** Model name for its manifest (e.g. 'gru-predict:realKnownCause/nyc_taxi.csv'). */
  name: string;
  /** The model's front end for its manifest (`input.frontend`): one the runtime can build, `features` wide. */
  frontend: { kind: string; [key: string]: unknown };
}

/** Trains a model on a series' probationary frames and returns its .ern bytes (float32 or int8). */
export interface SeriesLearner {
  learn(request: LearnRequest): Uint8Array;
}

/** Loads .ern bytes synchronously (SyncModelLoader). */
export interface SyncLoader {
  load(bytes: Uint8Array, source?: string): Model;
}

export interface LearnedDetectorOptions {
  /** Registry name reported by the detector. */
  name: string;
  task: LearnedTask;
  /** Trains the per-series model. */
  learner: SeriesLearner;
  /** Loads it (picks the backend). */
  loader: SyncLoader;
  /** Add sin/cos time-of-day features (UTC) to the frame. */
  timeOfDay: boolean;
  /** Scaled inputs are clipped to ±clip standard deviations (keeps a glitch inside the int16 input range). */
  clip: number;
  /** autoencoder window W (frames reconstructed per step). */
  window: number;
  /** Error → score post-processing. */
  scoring: Partial<ErrorScoringOptions>;
  /** Fewest probationary records the detector accepts (it needs something to learn from). */
  minProbation: number;
}

export const LEARNED_DETECTOR_DEFAULTS = {
  timeOfDay: true,
  clip: 8,
  window: 8,
  scoring: {},
  minProbation: 32,
} as const satisfies Partial<LearnedDetectorOptions>;

const LEARNED_DETECTOR_FIELDS = ['name', 'task', 'learner', 'loader', 'timeOfDay', 'clip', 'window', 'scoring', 'minProbation'] as const;

/** Longest probationary period, records (as the likelihood's history window: 1e10 threw a bare RangeError). */
const MAX_PROBATION = 1_000_000;

const DAY_MS = 86_400_000;

/** Writes the frame of record (timestampMs, z) into out[o ..]. */
function writeFrame(z: number, timestampMs: number, clip: number, timeOfDay: boolean, out: Float32Array, o: number): void {
  out[o] = z > clip ? clip : z < -clip ? -clip : z;
  if (timeOfDay) {
    // phase = 2π · (ms since UTC midnight) / 24 h
    const phase = (2 * Math.PI * (((timestampMs % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
    out[o + 1] = Math.sin(phase);
    out[o + 2] = Math.cos(phase);
  }
}

/** One learned detector per series; see the file comment for the protocol. */
export class LearnedDetector implements AnomalyDetector {
  readonly name: string;
  private readonly o: LearnedDetectorOptions;
  private readonly p: number;
  private readonly features: number;
  private readonly values: Float64Array;
  private readonly timestamps: Float64Array;
  private t = 0;
  private mean = 0;
  private std = 1;
  private model: Model | null = null;
  private session: Session | null = null;
  private scorer: ErrorScorer | null = null;
  private readonly frame: Float32Array;
  /** forecast: the prediction of the next z; autoencoder: the last W scaled values (ring). */
  private prediction = 0;
  private error = 0;
  private readonly recent: Float64Array;
  private recentCount = 0;

  constructor(context: SeriesContext, options: LearnedDetectorOptions) {
    const who = typeof options === 'object' && options !== null && typeof options.name === 'string' ? options.name : 'LearnedDetector';
    checkOptionFields(options, who, LEARNED_DETECTOR_FIELDS);
    this.o = options;
    this.name = options.name;
    const p = context.probationaryLength;
    if (!Number.isInteger(p) || p < options.minProbation) {
      throw new EdgeRnnError('DETECTOR_OPTION', `${options.name}: needs a probationary period of at least ${options.minProbation} records to learn from, got ${p}${context.name ? ` (${context.name})` : ''}`, {
        expected: options.minProbation,
        got: p,
      });
    }
    if (p > MAX_PROBATION) {
      throw new EdgeRnnError('DETECTOR_OPTION', `${options.name}: needs a probationary period of at most ${MAX_PROBATION} records, got ${p}${context.name ? ` (${context.name})` : ''}`, { expected: MAX_PROBATION, got: p });
    }
    if (!(options.clip > 0)) throw new EdgeRnnError('DETECTOR_OPTION', `${options.name}: clip must be > 0, got ${options.clip}`);
    if (!(Number.isInteger(options.window) && options.window >= 1 && options.window < p)) {
      throw new EdgeRnnError('DETECTOR_OPTION', `${options.name}: window must be an integer in [1, ${p - 1}], got ${options.window}`);
    }
    this.p = p;
    this.features = options.timeOfDay ? 3 : 1;
    this.values = new Float64Array(p);
    this.timestamps = new Float64Array(p);
    this.frame = new Float32Array(this.features);
    this.recent = new Float64Array(options.window);
    // Validate the scoring options now, not at the end of the probationary period.
    this.scorer = new ErrorScorer(p, options.scoring);
  }

  /** The model's error on the last record (0 during the probationary period). */
  get lastError(): number {
    return this.error;
  }

  /** The model learned at the end of the probationary period (null before). */
  get learnedModel(): Model | null {
    return this.model;
  }

  update(timestampMs: number, value: number): number {
    checkFiniteInput(this.name, value);
    if (!Number.isFinite(timestampMs)) throw new EdgeRnnError('NON_FINITE_INPUT', `${this.name}: timestamp must be finite, got ${timestampMs}`, { timestampMs });
    const t = this.t++;
    if (t < this.p) {
      this.values[t] = value;
      this.timestamps[t] = timestampMs;
      if (t === this.p - 1) this.learn();
      return 0;
    }
    const z = (value - this.mean) / this.std;
    writeFrame(z, timestampMs, this.o.clip, this.o.timeOfDay, this.frame, 0);
    const out = this.session!.step(this.frame);
    let error: number;
    if (this.o.task === 'forecast') {
      error = Math.abs(z - this.prediction);
      this.prediction = out[0]!;
    } else {
      this.push(this.frame[0]!);
      error = this.reconstructionError(out, 0);
    }
    this.error = error;
    return this.scorer!.update(value, error);
  }

  private push(zClipped: number): void {
    const W = this.o.window;
    this.recent[this.recentCount % W] = zClipped;
    this.recentCount++;
  }

  /** RMS over the window of (reconstruction - input) on the value channel; frames before the start are skipped. */
  private reconstructionError(out: Float32Array, o: number): number {
    const W = this.o.window;
    const F = this.features;
    const n = Math.min(W, this.recentCount);
    let sq = 0;
    // Output block w reconstructs frame t - (W - 1) + w; the newest frame is recent[(count - 1) % W].
    for (let w = W - n; w < W; w++) {
      const back = W - 1 - w; // frames before the newest
      const x = this.recent[(this.recentCount - 1 - back) % W]!;
      const d = out[o + w * F]! - x;
      sq += d * d;
    }
    return Math.sqrt(sq / n);
  }

  /** End of the probationary period: fit scaling, train, load, replay, calibrate. */
  private learn(): void {
    const p = this.p;
    const F = this.features;
    // A constant probationary period keeps unit scale (a zero std would divide by zero). The bound
    // is relative: an absolute 1e-12 took a series in tiny units for a constant one (frames all 0).
    ({ mean: this.mean, std: this.std } = probationScaling(this.values));
    const z = new Float64Array(p);
    const frames = new Float32Array(p * F);
    for (let i = 0; i < p; i++) {
      z[i] = (this.values[i]! - this.mean) / this.std;
      writeFrame(z[i]!, this.timestamps[i]!, this.o.clip, this.o.timeOfDay, frames, i * F);
    }
    // The detector builds the frames itself (scaling, clip, time of day): the model's own front
    // end is the passthrough of those F values (a manifest must name a front end the runtime builds).
    const frontend = { kind: 'none', channels: F };
    const request: LearnRequest = { task: this.o.task, frames, steps: p, features: F, name: this.name, frontend };
    if (this.o.task === 'forecast') {
      const targets = new Float32Array(p - 1);
      for (let i = 0; i + 1 < p; i++) targets[i] = frames[(i + 1) * F]!;
      request.targets = targets;
    } else {
      request.window = this.o.window;
    }
    const bytes = this.o.learner.learn(request);
    this.model = this.o.loader.load(bytes, `${this.name} model`);
    if (this.model.inputSize !== F) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `${this.name}: the learner returned a model with ${this.model.inputSize} inputs, expected ${F}`, { expected: F, got: this.model.inputSize });
    }
    const expectedOut = this.o.task === 'forecast' ? 1 : this.o.window * F;
    if (this.model.outputSize !== expectedOut) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `${this.name}: the learner returned a model with ${this.model.outputSize} outputs, expected ${expectedOut}`, { expected: expectedOut, got: this.model.outputSize });
    }
    this.session = this.model.session();
    // Replay the probationary frames: in-sample errors for the scorer, and the state to continue from.
    const out = this.session.run(frames);
    const errors = new Float64Array(p);
    const O = this.model.outputSize;
    for (let i = 0; i < p; i++) {
      if (this.o.task === 'forecast') {
        errors[i] = i === 0 ? 0 : Math.abs(z[i]! - out[i - 1]!);
      } else {
        this.push(frames[i * F]!);
        errors[i] = this.reconstructionError(out, i * O);
      }
    }
    if (this.o.task === 'forecast') this.prediction = out[p - 1]!;
    this.scorer!.calibrate(this.values, errors);
  }
}
