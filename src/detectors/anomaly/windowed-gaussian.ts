/**
 * NAB's windowed Gaussian baseline (nab/detectors/gaussian/windowedGaussian_detector.py),
 * reproduced number for number:
 *
 * - score(x_t) = 1 - Q(x_t; mean, std) where Q is the Gaussian tail probability (values below the
 *   mean are mirrored), mean/std fitted on the window as it was before x_t arrived; the first
 *   record scores 0.
 * - The window grows to `windowSize` (6400) records, refitting after every record. Once full,
 *   new records are buffered and the window slides by `stepSize` (100) records at a time, refitting
 *   after each slide (so up to 99 records are scored against a fit that does not include them).
 * - mean and std are numpy's `np.mean` / `np.std` (pairwise float64 summation); a zero std
 *   becomes 1e-6.
 *
 * Cost: a refit is O(window) (two pairwise sums), so O(n) per record while the window fills and
 * O(windowSize / stepSize) amortized afterwards. Browser-safe; `update` allocates nothing.
 */
import { EdgeRnnError } from '../../errors.js';
import { checkFiniteInput, checkOptionFields, type AnomalyDetector } from './detector.js';
import { normalTailProbability, numpyMean, numpyStd } from './numeric.js';

export interface WindowedGaussianOptions {
  /** Records in the fitted window (NAB: 6400, "tuned to give best performance on NAB"). */
  windowSize: number;
  /** Records the full window slides by at a time (NAB: 100). */
  stepSize: number;
}

export const WINDOWED_GAUSSIAN_DEFAULTS: Readonly<WindowedGaussianOptions> = { windowSize: 6400, stepSize: 100 };

/** Largest window, records (16 MB per series; NAB uses 6400). */
const MAX_WINDOW = 1_000_000;

/** std used when the window is constant (NAB replaces 0 by 1e-6). */
const MIN_STD = 0.000001;

export class WindowedGaussianDetector implements AnomalyDetector {
  readonly name = 'windowedGaussian';
  private readonly windowSize: number;
  private readonly stepSize: number;
  /** Window values, oldest first (numpy's summation order depends on it). */
  private readonly window: Float64Array;
  private readonly scratch: Float64Array;
  private readonly stepBuffer: Float64Array;
  private filled = 0;
  private buffered = 0;
  private mean = 0;
  private std = 1;

  constructor(options: Partial<WindowedGaussianOptions> = {}) {
    checkOptionFields(options, 'windowedGaussian', Object.keys(WINDOWED_GAUSSIAN_DEFAULTS));
    const o = { ...WINDOWED_GAUSSIAN_DEFAULTS, ...options };
    if (!Number.isInteger(o.windowSize) || o.windowSize < 1) {
      throw new EdgeRnnError('DETECTOR_OPTION', `windowedGaussian: windowSize must be an integer >= 1, got ${o.windowSize}`, { windowSize: o.windowSize });
    }
    // Two float64 arrays of windowSize per series: 1e10 threw a bare RangeError, 1e8 took 1.6 GB.
    if (o.windowSize > MAX_WINDOW) {
      throw new EdgeRnnError('DETECTOR_OPTION', `windowedGaussian: windowSize must be an integer in [1, ${MAX_WINDOW}], got ${o.windowSize}`, { windowSize: o.windowSize });
    }
    if (!Number.isInteger(o.stepSize) || o.stepSize < 1 || o.stepSize > o.windowSize) {
      throw new EdgeRnnError('DETECTOR_OPTION', `windowedGaussian: stepSize must be an integer in [1, windowSize=${o.windowSize}], got ${o.stepSize}`, { stepSize: o.stepSize });
    }
    this.windowSize = o.windowSize;
    this.stepSize = o.stepSize;
    this.window = new Float64Array(o.windowSize);
    this.scratch = new Float64Array(o.windowSize);
    this.stepBuffer = new Float64Array(o.stepSize);
  }

  update(_timestampMs: number, value: number): number {
    checkFiniteInput(this.name, value);
    const score = this.filled > 0 ? 1 - normalTailProbability(value, this.mean, this.std) : 0;
    if (this.filled < this.windowSize) {
      this.window[this.filled++] = value;
      this.refit();
    } else {
      this.stepBuffer[this.buffered++] = value;
      if (this.buffered === this.stepSize) {
        // window = window[stepSize:] + stepBuffer
        this.window.copyWithin(0, this.stepSize);
        this.window.set(this.stepBuffer, this.windowSize - this.stepSize);
        this.buffered = 0;
        this.refit();
      }
    }
    return score;
  }

  private refit(): void {
    const n = this.filled;
    this.mean = numpyMean(this.window, 0, n);
    this.std = numpyStd(this.window, 0, n, this.mean, this.scratch);
    if (this.std === 0) this.std = MIN_STD;
  }
}
