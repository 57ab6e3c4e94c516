/**
 * Anomaly likelihood, the HTM/NAB post-processor that turns a stream of raw anomaly scores
 * (e.g. a GRU's normalized prediction error) into "how unusual is the recent error level":
 *
 *   a_t  = mean of the last `averagingWindow` raw scores                 (moving average)
 *   N    = Normal(mean, var) fitted on a_k over the last `historicWindowSize` records,
 *          skipping the learning period; refitted every `reestimationPeriod` records
 *   p_t  = Q(a_t; N), the two-sided-mirrored Gaussian tail probability
 *   L_t  = 1 - filter(p_t)                                               in [0, 1]
 *
 * filter: a tail probability <= 1e-5 whose predecessor was also <= 1e-5 is raised to 1e-3, so
 * only the onset of a red-zone run stays red. Before `learningPeriod + estimationSamples`
 * records the likelihood is 0.5. A fitted mean below 0.03 is raised to 0.03 and a variance
 * below 3e-4 to 3e-4; if the metric values themselves are flat (variance < 1.5e-5) the fit is
 * replaced by a broad null distribution (mean 0.5, std 1000), i.e. nothing is unusual.
 *
 * This follows nupic's `anomaly_likelihood.AnomalyLikelihood` (the one NAB's HTM detectors
 * use), including its Q-function with z / 1.4142; the same parameters serve every series
 * (`nabLikelihoodOptions` derives them from the probationary period the way NAB's numenta
 * detector does). Browser-safe; `update` allocates nothing.
 */
import { EdgeRnnError } from '../../errors.js';
import { checkOptionFields } from './detector.js';
import { erfc, numpyMean, numpyVar } from './numeric.js';

export interface AnomalyLikelihoodOptions {
  /** Records whose raw scores are ignored by the fit because the model is still learning (nupic: 288). */
  learningPeriod: number;
  /** Further records collected before the first fit; likelihood is 0.5 until then (nupic: 100). */
  estimationSamples: number;
  /** Records of history kept for refits (nupic: 8640, a month of 5-minute data). */
  historicWindowSize: number;
  /** Refit every this many records (nupic: 100). */
  reestimationPeriod: number;
  /** Raw scores averaged before the tail probability (nupic: 10). */
  averagingWindow: number;
}

export const ANOMALY_LIKELIHOOD_DEFAULTS: Readonly<AnomalyLikelihoodOptions> = {
  learningPeriod: 288,
  estimationSamples: 100,
  historicWindowSize: 8640,
  reestimationPeriod: 100,
  averagingWindow: 10,
};

/** Options NAB's numenta detector uses for a series with probationary length p: learn p/2, estimate on the rest. */
export function nabLikelihoodOptions(probationaryLength: number): AnomalyLikelihoodOptions {
  const learningPeriod = Math.floor(probationaryLength / 2);
  return { ...ANOMALY_LIKELIHOOD_DEFAULTS, learningPeriod, estimationSamples: probationaryLength - learningPeriod };
}

/** Largest history or averaging window, records (40 MB per series; nupic keeps 8640). */
const MAX_WINDOW = 1_000_000;

/** Tail probabilities at or below this (1 - 0.99999) are "red". */
const RED_TAIL = 1 - 0.99999;
/** A red tail probability after a red one is raised to this (1 - 0.999, "yellow"). */
const YELLOW_TAIL = 1 - 0.999;
/** Fit floors that keep a near-perfect predictor from turning the slightest blip red. */
const MIN_MEAN = 0.03;
const MIN_VARIANCE = 0.0003;
/** Metric variance below this counts as a flat series: use the null distribution. */
const FLAT_METRIC_VARIANCE = 1.5e-5;
/** nupic divides by 1.4142 (not sqrt 2) in its Q-function; kept for parity. */
const NUPIC_SQRT2 = 1.4142;

export class AnomalyLikelihood {
  private readonly o: AnomalyLikelihoodOptions;
  /** History ring (raw scores and metric values), `historyStart` is the oldest. */
  private readonly historyScores: Float64Array;
  private readonly historyValues: Float64Array;
  private historyStart = 0;
  private historyLength = 0;
  /** Scratch for refits: averaged scores, metric values in order, squared deviations. */
  private readonly averaged: Float64Array;
  private readonly orderedValues: Float64Array;
  private readonly scratch: Float64Array;
  /** Moving-average state: last `averagingWindow` raw scores (ring) and their running total. */
  private readonly avgWindow: Float64Array;
  private avgStart = 0;
  private avgLength = 0;
  private avgTotal = 0;
  /** Fitted distribution; `fitted` false until the first fit. */
  private fitted = false;
  private mean = 0.5;
  private stdev = 1000;
  /** Previous unfiltered tail probability (the filter looks one step back). */
  private prevTail = 1;
  private iteration = 0;

  constructor(options: Partial<AnomalyLikelihoodOptions> = {}) {
    checkOptionFields(options, 'AnomalyLikelihood', Object.keys(ANOMALY_LIKELIHOOD_DEFAULTS));
    const o = { ...ANOMALY_LIKELIHOOD_DEFAULTS, ...options };
    for (const [key, min] of [['learningPeriod', 0], ['estimationSamples', 0], ['historicWindowSize', 1], ['reestimationPeriod', 1], ['averagingWindow', 1]] as const) {
      if (!Number.isInteger(o[key]) || o[key] < min) {
        throw new EdgeRnnError('DETECTOR_OPTION', `AnomalyLikelihood: ${key} must be an integer >= ${min}, got ${o[key]}`, { [key]: o[key] });
      }
    }
    // Five float64 arrays of historicWindowSize (and one of averagingWindow) per series: 1e10
    // threw a bare RangeError, 1e8 took 4 GB.
    for (const key of ['historicWindowSize', 'averagingWindow'] as const) {
      if (o[key] > MAX_WINDOW) throw new EdgeRnnError('DETECTOR_OPTION', `AnomalyLikelihood: ${key} must be an integer in [1, ${MAX_WINDOW}], got ${o[key]}`, { [key]: o[key] });
    }
    if (o.historicWindowSize < o.estimationSamples) {
      throw new EdgeRnnError('DETECTOR_OPTION', `AnomalyLikelihood: historicWindowSize (${o.historicWindowSize}) must be >= estimationSamples (${o.estimationSamples})`, { ...o });
    }
    this.o = o;
    this.historyScores = new Float64Array(o.historicWindowSize);
    this.historyValues = new Float64Array(o.historicWindowSize);
    this.averaged = new Float64Array(o.historicWindowSize);
    this.orderedValues = new Float64Array(o.historicWindowSize);
    this.scratch = new Float64Array(o.historicWindowSize);
    this.avgWindow = new Float64Array(o.averagingWindow);
  }

  /**
   * log-scaled likelihood in [0, 1] as NAB's numenta detector reports it:
   * log(1.0000000001 - L) / log(1.0 - 0.9999999999), the divisor being -23.02585084720009 in doubles.
   */
  static logLikelihood(likelihood: number): number {
    return Math.log(1.0000000001 - likelihood) / -23.02585084720009;
  }

  /**
   * Feeds one record and returns its anomaly likelihood in [0, 1].
   * @param value the metric value (only used to detect flat series: variance below 1.5e-5, an
   *   absolute bound, so pass values in units where that means flat, e.g. standardized ones)
   * @param rawScore the detector's raw anomaly score for this record
   */
  update(value: number, rawScore: number): number {
    if (!Number.isFinite(value) || !Number.isFinite(rawScore)) {
      throw new EdgeRnnError('NON_FINITE_INPUT', `AnomalyLikelihood: value and raw score must be finite, got ${value} and ${rawScore}`, { value, rawScore });
    }
    let likelihood = 0.5;
    if (this.iteration >= this.o.learningPeriod + this.o.estimationSamples) {
      if (!this.fitted || this.iteration % this.o.reestimationPeriod === 0) this.refit();
      const average = this.pushAverage(rawScore);
      const tail = this.tailProbability(average);
      // Filter against the previous unfiltered tail: stay red only at the onset.
      const filtered = tail <= RED_TAIL && this.prevTail <= RED_TAIL ? YELLOW_TAIL : tail;
      this.prevTail = tail;
      likelihood = 1 - filtered;
    }
    this.pushHistory(value, rawScore);
    this.iteration++;
    return likelihood;
  }

  private tailProbability(x: number): number {
    const xr = x < this.mean ? 2 * this.mean - x : x;
    return 0.5 * erfc((xr - this.mean) / this.stdev / NUPIC_SQRT2);
  }

  private pushAverage(score: number): number {
    const w = this.o.averagingWindow;
    if (this.avgLength === w) {
      this.avgTotal -= this.avgWindow[this.avgStart]!;
      this.avgWindow[this.avgStart] = score;
      this.avgStart = (this.avgStart + 1) % w;
    } else {
      this.avgWindow[(this.avgStart + this.avgLength) % w] = score;
      this.avgLength++;
    }
    this.avgTotal += score;
    return this.avgTotal / this.avgLength;
  }

  private pushHistory(value: number, score: number): void {
    const cap = this.o.historicWindowSize;
    const slot = (this.historyStart + this.historyLength) % cap;
    this.historyScores[slot] = score;
    this.historyValues[slot] = value;
    if (this.historyLength === cap) this.historyStart = (this.historyStart + 1) % cap;
    else this.historyLength++;
  }

  /** Refit the distribution on the history; resets the moving average and filter state from it. */
  private refit(): void {
    const cap = this.o.historicWindowSize;
    const n = this.historyLength;
    // Records of the learning period still in the window are skipped.
    const shiftedOut = Math.max(0, this.iteration - cap);
    const skip = Math.min(this.iteration, Math.max(0, this.o.learningPeriod - shiftedOut));
    // Moving average over the history, from scratch.
    this.avgStart = 0;
    this.avgLength = 0;
    this.avgTotal = 0;
    for (let k = 0; k < n; k++) {
      const slot = (this.historyStart + k) % cap;
      this.averaged[k] = this.pushAverage(this.historyScores[slot]!);
      this.orderedValues[k] = this.historyValues[slot]!;
    }
    if (n <= skip) {
      this.setNullDistribution();
    } else {
      const m = n - skip;
      let mean = numpyMean(this.averaged, skip, m);
      let variance = numpyVar(this.averaged, skip, m, mean, this.scratch);
      if (mean < MIN_MEAN) mean = MIN_MEAN;
      if (variance < MIN_VARIANCE) variance = MIN_VARIANCE;
      this.mean = mean;
      this.stdev = Math.sqrt(variance);
      const valueMean = numpyMean(this.orderedValues, skip, m);
      if (numpyVar(this.orderedValues, skip, m, valueMean, this.scratch) < FLAT_METRIC_VARIANCE) this.setNullDistribution();
    }
    this.fitted = true;
    // The filter continues from the tail probability of the last averaged history record.
    this.prevTail = n > 0 ? this.tailProbability(this.averaged[n - 1]!) : 1;
  }

  private setNullDistribution(): void {
    this.mean = 0.5;
    this.stdev = 1000;
  }
}
