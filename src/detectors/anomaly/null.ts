/**
 * NAB's null baseline (nab/detectors/null/null_detector.py): a constant score of 0.5. Its
 * optimized NAB score (no detections: -fnWeight per window) is the 0 of the normalized scale.
 * Browser-safe.
 */
import { checkFiniteInput, type AnomalyDetector } from './detector.js';

/** The null detector's constant score. */
export const NULL_DETECTOR_SCORE = 0.5;

export class NullDetector implements AnomalyDetector {
  readonly name = 'null';

  update(_timestampMs: number, value: number): number {
    checkFiniteInput(this.name, value);
    return NULL_DETECTOR_SCORE;
  }
}
