/**
 * NAB's random baseline (nab/detectors/random/random_detector.py): every record scores
 * `random.uniform(0, 1)` from CPython's generator seeded with 42 at the start of each file.
 * With the same seed this reproduces NAB's random results files value for value.
 *
 * NAB's scoreboard entry for "Random" (11.0 standard) is the mean over several seeds; a single
 * seed lands anywhere in NAB's stated spread (7.95 to 16.83 standard). Browser-safe.
 */
import { checkFiniteInput, type AnomalyDetector } from './detector.js';
import { PythonRandom } from './python-random.js';

export interface RandomDetectorOptions {
  /** CPython `random.seed` value, applied at the start of every series (NAB: 42). */
  seed: number;
}

export const RANDOM_DETECTOR_DEFAULTS: Readonly<RandomDetectorOptions> = { seed: 42 };

export class RandomDetector implements AnomalyDetector {
  readonly name = 'random';
  private readonly rng: PythonRandom;

  constructor(options: Partial<RandomDetectorOptions> = {}) {
    this.rng = new PythonRandom({ ...RANDOM_DETECTOR_DEFAULTS, ...options }.seed);
  }

  update(_timestampMs: number, value: number): number {
    checkFiniteInput(this.name, value);
    return this.rng.uniform(0, 1);
  }
}
