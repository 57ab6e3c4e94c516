/**
 * Several detectors on one series, one score: the largest of their scores at each record
 * (an alert from either part is an alert). Causal because every part is. Browser-safe.
 */
import { EdgeRnnError } from '../../errors.js';
import type { AnomalyDetector } from './detector.js';

export class MaxCombinedDetector implements AnomalyDetector {
  readonly name: string;
  private readonly parts: readonly AnomalyDetector[];

  constructor(name: string, parts: readonly AnomalyDetector[]) {
    if (parts.length === 0) throw new EdgeRnnError('DETECTOR_OPTION', `${name}: needs at least one detector to combine`);
    this.name = name;
    this.parts = parts;
  }

  update(timestampMs: number, value: number): number {
    let best = 0;
    // Every part sees every record, even after one has scored high (each keeps its own state).
    for (const d of this.parts) {
      const s = d.update(timestampMs, value);
      if (s > best) best = s;
    }
    return best;
  }
}
