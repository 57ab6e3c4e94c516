/**
 * The gateway's anomaly detector for a forecasting model (models/anomaly.ern): per device
 * stream, O(1) memory, state that serializes to JSON and restores exactly.
 *
 * The model reads front-end frames y_t (the manifest's `series` front end: the value normalized
 * online by its exponentially weighted mean and std) and outputs ŷ_{t+1}, its prediction of the
 * next frame. Per step:
 *
 *   e_t   = |y_t - ŷ_t|                     prediction error in running-std units (ŷ_t from step t-1)
 *   raw_t = min(1, e_t / errorGain)
 *   L_t   = StreamingLikelihood(raw_t)      how unusual the recent error level is
 *   s_t   = log(1.0000000001 - L_t) / log(1e-10)          the score, in [0, 1]
 *   alert : AlertHysteresis on s_t (raise at onThreshold, clear below offThreshold after minHoldSteps)
 *
 * StreamingLikelihood is the nupic/NAB anomaly likelihood (moving average of the raw scores,
 * Gaussian tail probability, red-zone filter, same floors) with the Gaussian's mean and variance
 * tracked by exponential forgetting instead of a refit over the last 8640 records every 100: the
 * nupic version keeps about 350 KB per stream (history and scratch in float64) and has no state
 * export; this one keeps averagingWindow + 8 numbers. Browser-safe; `step` allocates nothing.
 */
import { EdgeRnnError } from '../../errors.js';
import { AlertHysteresis, type AlertHysteresisOptions, type AlertTransition } from './hysteresis.js';
import { checkOptionFields } from './detector.js';
import { AnomalyLikelihood } from './likelihood.js';
import { erfc } from './numeric.js';

export interface StreamingLikelihoodOptions {
  /** Records ignored at the start (the model and the front end settle): likelihood 0.5. */
  learningPeriod: number;
  /** Further records whose averaged scores only feed the statistics: likelihood 0.5. */
  estimationSamples: number;
  /** Raw scores averaged before the tail probability (nupic: 10). */
  averagingWindow: number;
  /** Half-life of the mean/variance estimate, records (the nupic history is 8640 records). */
  halfLifeRecords: number;
}

export const STREAMING_LIKELIHOOD_DEFAULTS: Readonly<StreamingLikelihoodOptions> = {
  learningPeriod: 100,
  estimationSamples: 300,
  averagingWindow: 10,
  halfLifeRecords: 2000,
};

/** The same constants as likelihood.ts (nupic's). */
const RED_TAIL = 1 - 0.99999;
const YELLOW_TAIL = 1 - 0.999;
const MIN_MEAN = 0.03;
const MIN_VARIANCE = 0.0003;
const NUPIC_SQRT2 = 1.4142;

export interface StreamingLikelihoodState {
  n: number;
  ring: number[];
  ringHead: number;
  ringCount: number;
  ringSum: number;
  mean: number;
  variance: number;
  prevTail: number;
}

function optionError(who: string, field: string, expected: string, got: unknown): EdgeRnnError {
  return new EdgeRnnError('DETECTOR_OPTION', `${who}: ${field} must be ${expected}, got ${JSON.stringify(got)}`, { field, expected, got });
}

export function checkStreamingLikelihoodOptions(o: StreamingLikelihoodOptions, who = 'StreamingLikelihood'): void {
  // averagingWindow is a ring of that many float64 per stream (and in its exported state): at most
  // 100,000 records (800 KB), as the gateway's other smoothing windows.
  for (const [key, min, max] of [['learningPeriod', 0, 1e9], ['estimationSamples', 1, 1e9], ['averagingWindow', 1, 100_000]] as const) {
    if (!(Number.isInteger(o[key]) && o[key] >= min && o[key] <= max)) throw optionError(who, key, `an integer in [${min}, ${max === 1e9 ? '1e9' : max}]`, o[key]);
  }
  if (!(o.halfLifeRecords >= 1 && Number.isFinite(o.halfLifeRecords))) throw optionError(who, 'halfLifeRecords', 'a finite number >= 1', o.halfLifeRecords);
}

/** Anomaly likelihood with exponentially forgetting statistics; see the file comment. */
export class StreamingLikelihood {
  private readonly o: StreamingLikelihoodOptions;
  /** Weight of the newest averaged score once the running average has more than 1/alpha values: 1 - 2^(-1/halfLife). */
  private readonly alpha: number;
  private n = 0;
  private readonly ring: Float64Array;
  private ringHead = 0;
  private ringCount = 0;
  private ringSum = 0;
  /** Statistics of the averaged scores (count of updates: n - learningPeriod). */
  private mean = 0;
  private variance = 0;
  private prevTail = 1;

  constructor(options: Partial<StreamingLikelihoodOptions> = {}) {
    checkOptionFields(options, 'StreamingLikelihood', Object.keys(STREAMING_LIKELIHOOD_DEFAULTS));
    this.o = { ...STREAMING_LIKELIHOOD_DEFAULTS, ...options };
    checkStreamingLikelihoodOptions(this.o);
    this.alpha = 1 - 2 ** (-1 / this.o.halfLifeRecords);
    this.ring = new Float64Array(this.o.averagingWindow);
  }

  /** Feeds one raw score in [0, 1] (NaN or ±Infinity: NON_FINITE_INPUT, outside: ANOMALY_SCORE); returns the likelihood in [0, 1] (0.5 while learning). */
  update(raw: number): number {
    // Checked before any state changes: one NaN in the ring sum would make every later likelihood NaN.
    if (!Number.isFinite(raw)) {
      throw new EdgeRnnError('NON_FINITE_INPUT', `StreamingLikelihood: raw score must be finite, got ${raw}; nothing was changed`, { raw });
    }
    // The floors (MIN_MEAN, MIN_VARIANCE) and the state checks assume scores in [0, 1]; one of
    // 1e300 made the variance infinite for good (every later likelihood 0.5).
    if (!(raw >= 0 && raw <= 1)) {
      throw new EdgeRnnError('ANOMALY_SCORE', `StreamingLikelihood: raw score must be in [0, 1], got ${raw}; nothing was changed`, { raw });
    }
    // a_t = mean of the last averagingWindow raw scores
    const w = this.o.averagingWindow;
    if (this.ringCount === w) this.ringSum -= this.ring[this.ringHead]!;
    else this.ringCount++;
    this.ring[this.ringHead] = raw;
    this.ringHead = (this.ringHead + 1) % w;
    this.ringSum += raw;
    // Once per window (when the ring wraps, full) the total is recomputed from the ring: each
    // add/subtract rounds, and the errors added up without bound (about 1e-13 after 10^6 records,
    // so a window of zeros averaged to 1e-14, not 0). Amortized O(1) per record, no allocation.
    if (this.ringHead === 0) {
      let total = 0;
      for (let k = 0; k < w; k++) total += this.ring[k]!;
      this.ringSum = total;
    }
    const a = this.ringSum / this.ringCount;
    const n = this.n++;
    const { learningPeriod, estimationSamples } = this.o;
    if (n < learningPeriod) return 0.5;
    let likelihood = 0.5;
    if (n >= learningPeriod + estimationSamples) {
      const mean = Math.max(MIN_MEAN, this.mean);
      const std = Math.sqrt(Math.max(MIN_VARIANCE, this.variance));
      const xr = a < mean ? 2 * mean - a : a;
      const tail = 0.5 * erfc((xr - mean) / std / NUPIC_SQRT2);
      const filtered = tail <= RED_TAIL && this.prevTail <= RED_TAIL ? YELLOW_TAIL : tail;
      this.prevTail = tail;
      likelihood = 1 - filtered;
    }
    // Statistics after scoring (the score of a_t uses records before t only):
    // k-th update weight max(alpha, 1/k): the plain running mean and variance until 1/alpha records.
    const k = n - learningPeriod + 1;
    const weight = Math.max(this.alpha, 1 / k);
    const d = a - this.mean;
    this.mean += weight * d;
    this.variance = (1 - weight) * (this.variance + weight * d * d);
    return likelihood;
  }

  reset(): void {
    this.n = 0;
    this.ring.fill(0);
    this.ringHead = 0;
    this.ringCount = 0;
    this.ringSum = 0;
    this.mean = 0;
    this.variance = 0;
    this.prevTail = 1;
  }

  exportState(): StreamingLikelihoodState {
    return {
      n: this.n,
      ring: Array.from(this.ring),
      ringHead: this.ringHead,
      ringCount: this.ringCount,
      ringSum: this.ringSum,
      mean: this.mean,
      variance: this.variance,
      prevTail: this.prevTail,
    };
  }

  /** Restores exportState() output; throws STATE_MISMATCH naming what does not fit. */
  importState(state: unknown): void {
    const s = state as Partial<StreamingLikelihoodState> | null;
    const bad = (why: string): EdgeRnnError => new EdgeRnnError('STATE_MISMATCH', `anomaly likelihood: cannot import state: ${why}`);
    if (typeof s !== 'object' || s === null) throw bad('expected an object from exportState()');
    const w = this.o.averagingWindow;
    if (!Array.isArray(s.ring) || s.ring.length !== w) throw bad(`expected a ring of ${w} raw scores (averagingWindow), got ${Array.isArray(s.ring) ? s.ring.length : typeof s.ring}`);
    const int = (v: unknown, lo: number, hi: number, name: string): number => {
      if (!(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi)) throw bad(`${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
      return v;
    };
    const num = (v: unknown, name: string): number => {
      if (!(typeof v === 'number' && Number.isFinite(v))) throw bad(`${name} must be a finite number, got ${JSON.stringify(v)}`);
      return v;
    };
    const n = int(s.n, 0, Number.MAX_SAFE_INTEGER, 'n');
    const ringHead = int(s.ringHead, 0, w - 1, 'ringHead');
    const ringCount = int(s.ringCount, 0, w, 'ringCount');
    // The ring's counters follow from n (all advance once per record from 0 at reset).
    if (ringCount !== Math.min(n, w)) throw bad(`ringCount must be ${Math.min(n, w)} (min(n ${n}, averagingWindow ${w})), got ${ringCount}`);
    if (ringHead !== n % w) throw bad(`ringHead must be ${n % w} (n ${n} mod averagingWindow ${w}), got ${ringHead}`);
    const ring = s.ring.map((v, i) => {
      if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw bad(`ring[${i}] must be a raw score in [0, 1], got ${JSON.stringify(v)}`);
      return v;
    });
    const ringSum = num(s.ringSum, 'ringSum');
    let total = 0;
    let magnitude = 0;
    for (const v of ring) {
      total += v;
      magnitude += Math.abs(v);
    }
    // Rounding apart (the total is recomputed at every wrap), ringSum is the ring's sum.
    if (!(Math.abs(ringSum - total) <= 1e-9 * (1 + magnitude))) throw bad(`ringSum must be the sum of the ring's scores, ${total}, got ${ringSum}`);
    const mean = num(s.mean, 'mean');
    const variance = num(s.variance, 'variance');
    const prevTail = num(s.prevTail, 'prevTail');
    // Statistics of averages of scores in [0, 1]: a mean in [0, 1], a variance in [0, 1/4] (1 leaves room for rounding).
    if (!(mean >= 0 && mean <= 1)) throw bad(`mean must be in [0, 1] (an average of scores in [0, 1]), got ${mean}`);
    if (variance < 0) throw bad(`variance must be >= 0, got ${variance}`);
    if (!(variance <= 1)) throw bad(`variance must be in [0, 1], got ${variance}`);
    if (!(prevTail >= 0 && prevTail <= 1)) throw bad(`prevTail must be a tail probability in [0, 1], got ${prevTail}`);
    // update() leaves the statistics at 0 until record learningPeriod and prevTail at 1 until scoring starts.
    const { learningPeriod, estimationSamples } = this.o;
    if (n <= learningPeriod && (mean !== 0 || variance !== 0)) throw bad(`mean and variance must be 0 until the learning period (${learningPeriod} records) has passed (n ${n}), got ${mean} and ${variance}`);
    if (n <= learningPeriod + estimationSamples && prevTail !== 1) throw bad(`prevTail must be 1 until scoring starts (after ${learningPeriod + estimationSamples} records), got ${prevTail}`);
    this.n = n;
    this.ring.set(ring);
    this.ringHead = ringHead;
    this.ringCount = ringCount;
    this.ringSum = ringSum;
    this.mean = mean;
    this.variance = variance;
    this.prevTail = prevTail;
  }
}

export interface ForecastAnomalyOptions {
  /** Prediction error (in the frame's units: running standard deviations) at which the raw score saturates. */
  errorGain: number;
  /** Which output predicts which input: output `channel` predicts input `channel` (default 0). */
  channel: number;
  likelihood: StreamingLikelihoodOptions;
  /** Alert hysteresis on the score s_t. */
  alert: AlertHysteresisOptions;
}

export const FORECAST_ANOMALY_DEFAULTS: Readonly<ForecastAnomalyOptions> = {
  // Chosen on NAB with models/anomaly.ern among 2, 4, 8, 12, 16, 24 (standard score 15, 31, 38, 40, 33, 16):
  // 8 rather than the peak 12, which sits next to a steep drop.
  errorGain: 8,
  channel: 0,
  likelihood: STREAMING_LIKELIHOOD_DEFAULTS,
  // 0.5 ⇔ tail probability 1e-5 (nupic's red zone); clear at 0.3 ⇔ 1e-3, after 10 records.
  alert: { onThreshold: 0.5, offThreshold: 0.3, minHoldSteps: 10 },
};

/**
 * What the constructor takes: every field may be left out, single fields of `likelihood` and
 * `alert` too (the rest of the group keeps its default, or the model's setting in
 * ForecastModelDetector).
 */
export interface ForecastAnomalyOverrides {
  errorGain?: number;
  channel?: number;
  likelihood?: Partial<StreamingLikelihoodOptions>;
  alert?: Partial<AlertHysteresisOptions>;
}

/** What the gateway receives when an alert is raised. */
export interface AnomalyEvent {
  label: 'anomaly';
  /** The score s_t that raised it. */
  score: number;
  /** Prediction error e_t at that step (running-std units). */
  error: number;
}

export interface ForecastAnomalyState {
  steps: number;
  havePrediction: boolean;
  prediction: number;
  score: number;
  error: number;
  alertOn: boolean;
  alertHeld: number;
  /** What the last step did to the alert (the `transition` getter continues from it). */
  transition: AlertTransition;
  likelihood: StreamingLikelihoodState;
}

export function checkForecastAnomalyOptions(o: ForecastAnomalyOptions): void {
  const who = 'ForecastAnomalyDetector';
  if (!(o.errorGain > 0 && Number.isFinite(o.errorGain))) throw optionError(who, 'errorGain', 'a finite number > 0', o.errorGain);
  if (!(Number.isInteger(o.channel) && o.channel >= 0)) throw optionError(who, 'channel', 'an integer >= 0', o.channel);
  checkStreamingLikelihoodOptions(o.likelihood, `${who}.likelihood`);
  // AlertHysteresis validates its own fields (DETECTOR_OPTION naming them).
  new AlertHysteresis(o.alert);
  // The score is in [0, 1]: a threshold above 1 never raises an alert (say 50 meant as percent),
  // one at or below 0 raises it on the first record and an offThreshold <= 0 never clears it.
  if (!(o.alert.onThreshold > 0 && o.alert.onThreshold <= 1)) throw optionError(who, 'onThreshold', 'in (0, 1] (the score is in [0, 1])', o.alert.onThreshold);
  if (!(o.alert.offThreshold > 0)) throw optionError(who, 'offThreshold', 'in (0, onThreshold] (the score is in [0, 1]; at 0 an alert never clears)', o.alert.offThreshold);
}

const GROUPS = {
  likelihood: ['learningPeriod', 'estimationSamples', 'averagingWindow', 'halfLifeRecords'],
  alert: ['onThreshold', 'offThreshold', 'minHoldSteps'],
} as const;

/**
 * A field the constructor would not use is refused by name: the route config's flat names
 * (`{ onThreshold: 0.6 }`, docs/anomaly.md) or a misspelt field were silently dropped for the default.
 */
function checkOverrideFields(options: ForecastAnomalyOverrides): void {
  const who = 'ForecastAnomalyDetector';
  const bad = (field: string, message: string): EdgeRnnError => new EdgeRnnError('DETECTOR_OPTION', `${who}: ${message}`, { field });
  if (typeof options !== 'object' || options === null) throw bad('options', `options must be an object, got ${options === null ? 'null' : typeof options}`);
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k === 'errorGain' || k === 'channel' || k === 'likelihood' || k === 'alert') continue;
    const group = (Object.keys(GROUPS) as (keyof typeof GROUPS)[]).find((g) => (GROUPS[g] as readonly string[]).includes(k));
    if (group) throw bad(k, `${k} is a field of ${group} ({ ${group}: { ${k}: ${JSON.stringify(o[k])} } }; forecastAnomalyOptionsOf() reads flat settings)`);
    throw bad(k, `${k} is not an option (errorGain, channel, likelihood, alert)`);
  }
  for (const g of Object.keys(GROUPS) as (keyof typeof GROUPS)[]) {
    const v = o[g];
    if (v === undefined) continue;
    if (typeof v !== 'object' || v === null) throw bad(g, `${g} must be an object {${GROUPS[g].join(', ')}}, got ${JSON.stringify(v)}`);
    for (const k of Object.keys(v)) {
      if (!(GROUPS[g] as readonly string[]).includes(k)) throw bad(`${g}.${k}`, `${g}.${k} is not an option (${GROUPS[g].join(', ')})`);
    }
  }
}

/**
 * Forecast error → likelihood → score → alert, per device stream. Structurally a gateway
 * `Detector` (src/gateway/detectors.ts): `step(output, input)`, `lastScore`, `reset`,
 * `exportState`, `importState`.
 */
export class ForecastAnomalyDetector {
  readonly options: Readonly<ForecastAnomalyOptions>;
  private readonly likelihood: StreamingLikelihood;
  private readonly alert: AlertHysteresis;
  private steps = 0;
  private havePrediction = false;
  private prediction = 0;
  private score = 0;
  private error = 0;
  /** AlertHysteresis keeps its hold count private; mirrored here for exportState (same rule). */
  private alertHeld = 0;

  constructor(options: ForecastAnomalyOverrides = {}) {
    checkOverrideFields(options);
    const o: ForecastAnomalyOptions = {
      ...FORECAST_ANOMALY_DEFAULTS,
      ...options,
      likelihood: { ...FORECAST_ANOMALY_DEFAULTS.likelihood, ...options.likelihood },
      alert: { ...FORECAST_ANOMALY_DEFAULTS.alert, ...options.alert },
    };
    checkForecastAnomalyOptions(o);
    this.options = o;
    this.likelihood = new StreamingLikelihood(o.likelihood);
    this.alert = new AlertHysteresis(o.alert);
  }

  /** Score s_t of the last step, in [0, 1]. */
  get lastScore(): number {
    return this.score;
  }

  /** Prediction error e_t of the last step (0 on the first step). */
  get lastError(): number {
    return this.error;
  }

  /** Whether an alert is on. */
  get alerting(): boolean {
    return this.alert.active;
  }

  /** What the last step did to the alert. */
  get transition(): AlertTransition {
    return this.alert.transition;
  }

  /**
   * One step: the model's output for this frame (its prediction of the next frame) and the frame
   * itself. Returns an event when an alert is raised, else null.
   */
  step(output: Float32Array, input: Float32Array): AnomalyEvent | null {
    const c = this.options.channel;
    if (output === null || typeof output !== 'object' || input === null || typeof input !== 'object') {
      throw new EdgeRnnError('SHAPE_MISMATCH', `ForecastAnomalyDetector: step(output, input) takes the model's output row and the frame it stepped, got ${output === null ? 'null' : typeof output} and ${input === null ? 'null' : typeof input}`);
    }
    if (c >= input.length || c >= output.length) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `ForecastAnomalyDetector: channel ${c} needs frames and outputs with more than ${c} values, got ${input.length} inputs and ${output.length} outputs`, {
        channel: c,
        inputs: input.length,
        outputs: output.length,
      });
    }
    const x = input[c]!;
    if (!Number.isFinite(x) || !Number.isFinite(output[c]!)) {
      throw new EdgeRnnError('NON_FINITE_INPUT', `ForecastAnomalyDetector: step ${this.steps}: ${Number.isFinite(x) ? `the forecast is ${output[c]}` : `the frame value is ${x}`} (channel ${c}); nothing was changed`, { step: this.steps, channel: c });
    }
    // e_t = |y_t - ŷ_t|; the first step has no prediction yet.
    this.error = this.havePrediction ? Math.abs(x - this.prediction) : 0;
    this.prediction = output[c]!;
    this.havePrediction = true;
    const raw = Math.min(1, this.error / this.options.errorGain);
    this.score = AnomalyLikelihood.logLikelihood(this.likelihood.update(raw));
    this.steps++;
    const wasOn = this.alert.active;
    this.alert.update(this.score);
    if (this.alert.active) this.alertHeld = wasOn ? this.alertHeld + 1 : 1;
    else this.alertHeld = 0;
    return this.alert.transition === 'raised' ? { label: 'anomaly', score: this.score, error: this.error } : null;
  }

  reset(): void {
    this.likelihood.reset();
    this.alert.reset();
    this.steps = 0;
    this.havePrediction = false;
    this.prediction = 0;
    this.score = 0;
    this.error = 0;
    this.alertHeld = 0;
  }

  exportState(): ForecastAnomalyState {
    return {
      steps: this.steps,
      havePrediction: this.havePrediction,
      prediction: this.prediction,
      score: this.score,
      error: this.error,
      alertOn: this.alert.active,
      alertHeld: this.alertHeld,
      transition: this.alert.transition,
      likelihood: this.likelihood.exportState(),
    };
  }

  /** Restores exportState() output exactly; throws STATE_MISMATCH naming what does not fit (nothing changes then). */
  importState(state: unknown): void {
    const s = state as Partial<ForecastAnomalyState> | null;
    const bad = (why: string): EdgeRnnError => new EdgeRnnError('STATE_MISMATCH', `anomaly detector: cannot import state: ${why}`);
    if (typeof s !== 'object' || s === null) throw bad('expected an object from exportState()');
    for (const k of ['prediction', 'score', 'error'] as const) {
      if (!(typeof s[k] === 'number' && Number.isFinite(s[k]))) throw bad(`${k} must be a finite number, got ${JSON.stringify(s[k])}`);
    }
    if (!(typeof s.steps === 'number' && Number.isInteger(s.steps) && s.steps >= 0)) throw bad(`steps must be an integer >= 0, got ${JSON.stringify(s.steps)}`);
    if (typeof s.havePrediction !== 'boolean' || typeof s.alertOn !== 'boolean') throw bad('havePrediction and alertOn must be booleans');
    if (!(typeof s.alertHeld === 'number' && Number.isInteger(s.alertHeld) && s.alertHeld >= 0)) throw bad(`alertHeld must be an integer >= 0, got ${JSON.stringify(s.alertHeld)}`);
    // step() keeps these in step with each other; a state where they disagree is corrupt (an alert
    // on for 0 records held one record less than minHoldSteps after the import).
    if (s.alertOn && s.alertHeld < 1) throw bad(`alertHeld must be >= 1 while alertOn (the raising record counts), got ${s.alertHeld}`);
    if (!s.alertOn && s.alertHeld !== 0) throw bad(`alertHeld must be 0 while the alert is off, got ${s.alertHeld}`);
    // 'raised' means the last step raised it (held 1 record); 'cleared' that it turned it off.
    const transitions = s.alertOn ? (s.alertHeld === 1 ? ['raised'] : ['none']) : ['none', 'cleared'];
    if (!transitions.includes(s.transition as string)) {
      throw bad(`transition must be ${transitions.map((t) => `'${t}'`).join(' or ')} while the alert is ${s.alertOn ? `on for ${s.alertHeld} records` : 'off'}, got ${JSON.stringify(s.transition)}`);
    }
    if (s.havePrediction !== s.steps > 0) throw bad(`havePrediction must be ${s.steps > 0} after ${s.steps} steps, got ${s.havePrediction}`);
    // Validate the likelihood on a scratch copy first so a bad state changes nothing.
    const probe = new StreamingLikelihood(this.options.likelihood);
    probe.importState(s.likelihood);
    const likelihoodN = probe.exportState().n;
    if (s.steps !== likelihoodN) throw bad(`steps must equal likelihood.n (${likelihoodN}), got ${s.steps}`);
    this.likelihood.importState(s.likelihood);
    this.alert.restore(s.alertOn, s.alertHeld, s.transition as AlertTransition);
    this.steps = s.steps;
    this.havePrediction = s.havePrediction;
    this.prediction = s.prediction!;
    this.score = s.score!;
    this.error = s.error!;
    this.alertHeld = s.alertOn ? s.alertHeld : 0;
  }
}
