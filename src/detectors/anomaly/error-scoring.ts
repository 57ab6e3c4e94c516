/**
 * From a model's per-record error to a NAB anomaly score, the post-processing every learned
 * detector here shares (prediction error for the forecaster, reconstruction error for the
 * autoencoder):
 *
 *   raw_t    = min(1, e_t / (errorGain · s))      s = RMS of the errors over the probationary
 *                                                  period (in-sample: the model was fitted there)
 *   L_t      = AnomalyLikelihood(z_t, raw_t)       nupic/NAB likelihood of the recent error level; z_t is
 *                                                  the value in probationary mean/std units (only its
 *                                                  flat-series test reads it)
 *   a_t      = log-scaled L_t                      log(1.0000000001 - L) / log(1e-10), NAB's numenta detector
 *   spatial  : a_t = max(a_t, 1) when value_t lies outside [min - tol·r, max + tol·r], where min,
 *              max are over the values before t and r = max - min (NAB's numenta detector, tol 0.05)
 *   suppress : a_t ·= suppressFactor when some earlier record within suppressRows reached
 *              suppressLevel (before suppression): one alert per event instead of a burst
 *              (the rest period of NAB's CAD OSE detector)
 *
 * Everything is causal: a_t depends on records 0..t only. The probationary records are fed with
 * `calibrate()` once the model exists (their scores are not reported: NAB does not score them);
 * later records go through `update()`. Browser-safe; `update` allocates nothing.
 */
import { EdgeRnnError } from '../../errors.js';
import { checkOptionFields } from './detector.js';
import { ANOMALY_LIKELIHOOD_DEFAULTS, AnomalyLikelihood, nabLikelihoodOptions, type AnomalyLikelihoodOptions } from './likelihood.js';

export interface ErrorScoringOptions {
  /** Error (in probation RMS units) at which the raw score saturates at 1. */
  errorGain: number;
  /** Likelihood options over NAB's per-series defaults (`nabLikelihoodOptions(probationaryLength)`). */
  likelihood: Partial<AnomalyLikelihoodOptions>;
  /** Fraction of the seen value range beyond which a value is a spatial anomaly (score 1); null disables the rule. */
  spatialTolerance: number | null;
  /** A final score at or above this starts a suppression period (1.1 disables suppression). */
  suppressLevel: number;
  /** Records after such a score whose scores are damped. */
  suppressRows: number;
  /** Multiplier applied to damped scores, in [0, 1]. */
  suppressFactor: number;
}

export const ERROR_SCORING_DEFAULTS: Readonly<ErrorScoringOptions> = {
  errorGain: 5,
  likelihood: {},
  spatialTolerance: 0.05,
  suppressLevel: 0.5,
  suppressRows: 100,
  suppressFactor: 0.5,
};

export function checkErrorScoringOptions(o: ErrorScoringOptions, who: string): void {
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new EdgeRnnError('DETECTOR_OPTION', `${who}: ${field} must be ${expected}, got ${String(got)}`, { field, got });
  };
  // A misspelt field (suppressRow, likelihood.averagingWindows) was silently dropped for its default.
  checkOptionFields(o, who, Object.keys(ERROR_SCORING_DEFAULTS));
  const likelihoodFields = Object.keys(ANOMALY_LIKELIHOOD_DEFAULTS);
  if (typeof o.likelihood !== 'object' || o.likelihood === null || Array.isArray(o.likelihood)) bad('likelihood', `an object {${likelihoodFields.join(', ')}} (each optional)`, JSON.stringify(o.likelihood));
  for (const k of Object.keys(o.likelihood)) {
    if (!likelihoodFields.includes(k)) throw new EdgeRnnError('DETECTOR_OPTION', `${who}: likelihood.${k} is not an option (${likelihoodFields.join(', ')})`, { field: `likelihood.${k}`, expected: likelihoodFields, got: k });
  }
  if (!(o.errorGain > 0 && Number.isFinite(o.errorGain))) bad('errorGain', 'a finite number > 0', o.errorGain);
  if (o.spatialTolerance !== null && !(o.spatialTolerance >= 0 && Number.isFinite(o.spatialTolerance))) bad('spatialTolerance', 'null or a finite number >= 0', o.spatialTolerance);
  if (!(o.suppressLevel >= 0 && o.suppressLevel <= 1.1)) bad('suppressLevel', 'in [0, 1.1]', o.suppressLevel);
  if (!(Number.isInteger(o.suppressRows) && o.suppressRows >= 0)) bad('suppressRows', 'an integer >= 0', o.suppressRows);
  if (!(o.suppressFactor >= 0 && o.suppressFactor <= 1)) bad('suppressFactor', 'in [0, 1]', o.suppressFactor);
}

/**
 * Mean and population standard deviation of the probationary values, the units the learned
 * detectors scale a series by; std 1 when the values are constant (up to rounding: a relative
 * bound, so a series in tiny units is not taken for a constant one).
 */
export function probationScaling(values: ArrayLike<number>): { mean: number; std: number } {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i]! - mean) ** 2;
  const std = Math.sqrt(sq / n);
  return { mean, std: std > 0 && std > 1e-12 * Math.abs(mean) ? std : 1 };
}

/** Error stream → anomaly scores for one series. */
export class ErrorScorer {
  private readonly o: ErrorScoringOptions;
  private readonly likelihood: AnomalyLikelihood;
  /** Error scale s (RMS over the probationary period); 0 until calibrated. */
  private scale = 0;
  /** Mean and standard deviation of the probationary values: the likelihood sees values in these units. */
  private valueMean = 0;
  private valueStd = 1;
  private min = Infinity;
  private max = -Infinity;
  /** Records since the last score >= suppressLevel (Infinity: none yet). */
  private sinceAlert = Infinity;

  constructor(probationaryLength: number, options: Partial<ErrorScoringOptions> = {}) {
    checkOptionFields(options, 'ErrorScorer', Object.keys(ERROR_SCORING_DEFAULTS));
    this.o = { ...ERROR_SCORING_DEFAULTS, ...options };
    checkErrorScoringOptions(this.o, 'ErrorScorer');
    this.likelihood = new AnomalyLikelihood({ ...nabLikelihoodOptions(probationaryLength), ...this.o.likelihood });
  }

  /** The error scale s fixed by calibrate() (probation RMS error, floored at 1e-9). */
  get errorScale(): number {
    return this.scale;
  }

  /**
   * Feeds the probationary records (values and the model's errors on them, in order) and fixes
   * the error scale. Call once, before update().
   */
  calibrate(values: ArrayLike<number>, errors: ArrayLike<number>): void {
    if (this.scale !== 0) throw new EdgeRnnError('DETECTOR_OPTION', 'ErrorScorer: calibrate() was already called');
    if (values.length !== errors.length || values.length === 0) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `ErrorScorer.calibrate: need as many errors as values (at least 1), got ${errors.length} errors for ${values.length} values`);
    }
    let sq = 0;
    for (let i = 0; i < errors.length; i++) sq += errors[i]! * errors[i]!;
    this.scale = Math.max(1e-9, Math.sqrt(sq / errors.length));
    // The likelihood's flat-series rule (nupic: value variance below 1.5e-5) is absolute: fed raw
    // values, a series in small units (±1e-3) counted as flat and every score was ~0.03.
    ({ mean: this.valueMean, std: this.valueStd } = probationScaling(values));
    for (let i = 0; i < values.length; i++) this.score(values[i]!, errors[i]!, false);
  }

  /** Score of one record after the probationary period; `error` >= 0 is the model's error on it. */
  update(value: number, error: number): number {
    if (this.scale === 0) throw new EdgeRnnError('DETECTOR_OPTION', 'ErrorScorer: update() before calibrate()');
    return this.score(value, error, true);
  }

  private score(value: number, error: number, suppress: boolean): number {
    const raw = Math.min(1, error / (this.o.errorGain * this.scale));
    let a = AnomalyLikelihood.logLikelihood(this.likelihood.update((value - this.valueMean) / this.valueStd, raw));
    const tol = this.o.spatialTolerance;
    if (tol !== null && this.min < this.max) {
      const margin = (this.max - this.min) * tol;
      if (value > this.max + margin || value < this.min - margin) a = 1;
    }
    if (value > this.max) this.max = value;
    if (value < this.min) this.min = value;
    if (suppress) {
      const before = a;
      this.sinceAlert++;
      if (this.sinceAlert <= this.o.suppressRows) a *= this.o.suppressFactor;
      if (before >= this.o.suppressLevel) this.sinceAlert = 0;
    }
    return a;
  }
}
