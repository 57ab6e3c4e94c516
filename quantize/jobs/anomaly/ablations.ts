/**
 * Ablations of the learned detectors, registered beside them so every number in docs/anomaly.md
 * can be rerun with `edgernn nab --detector NAME`:
 *
 *   ablation-spatial      only the spatial rule of the error scorer: 1 when the value leaves the
 *                         seen range by more than 5% of it, else 0 (no model, no likelihood)
 *   ablation-persistence  the full error scorer (likelihood, spatial rule, suppression) on the
 *                         persistence forecast x̂_t = x_{t-1}: what the post-processing does
 *                         without any learned model
 *
 * Same protocol as the learned detectors: scores 0 during the probationary period, the error
 * scale from its records, nothing after t read before t is scored. Browser-safe classes, Node
 * only by location.
 */
import { checkFiniteInput, ErrorScorer, type AnomalyDetector, type DetectorEntry, type ErrorScoringOptions, type SeriesContext } from '../../../src/index.js';

/** The error scorer on |x_t - x_{t-1}|. */
export class PersistenceDetector implements AnomalyDetector {
  readonly name = 'ablation-persistence';
  private readonly p: number;
  private readonly values: Float64Array;
  private readonly errors: Float64Array;
  private readonly scorer: ErrorScorer;
  private t = 0;
  private prev = 0;

  constructor(context: SeriesContext, scoring: Partial<ErrorScoringOptions> = {}) {
    this.p = Math.max(1, context.probationaryLength);
    this.values = new Float64Array(this.p);
    this.errors = new Float64Array(this.p);
    this.scorer = new ErrorScorer(this.p, scoring);
  }

  update(_timestampMs: number, value: number): number {
    checkFiniteInput(this.name, value);
    const t = this.t++;
    const error = t === 0 ? 0 : Math.abs(value - this.prev);
    this.prev = value;
    if (t < this.p) {
      this.values[t] = value;
      this.errors[t] = error;
      if (t === this.p - 1) this.scorer.calibrate(this.values, this.errors);
      return 0;
    }
    return this.scorer.update(value, error);
  }
}

/** 1 when the value leaves [min - tol·r, max + tol·r] of the values before it, else 0. */
export class SpatialDetector implements AnomalyDetector {
  readonly name = 'ablation-spatial';
  private readonly p: number;
  private readonly tolerance: number;
  private t = 0;
  private min = Infinity;
  private max = -Infinity;

  constructor(context: SeriesContext, tolerance = 0.05) {
    this.p = context.probationaryLength;
    this.tolerance = tolerance;
  }

  update(_timestampMs: number, value: number): number {
    checkFiniteInput(this.name, value);
    const t = this.t++;
    let score = 0;
    if (this.min < this.max) {
      const margin = (this.max - this.min) * this.tolerance;
      if (value > this.max + margin || value < this.min - margin) score = 1;
    }
    if (value > this.max) this.max = value;
    if (value < this.min) this.min = value;
    return t < this.p ? 0 : score;
  }
}

export function ablationEntries(scoring: Partial<ErrorScoringOptions> = {}): DetectorEntry[] {
  return [
    { name: 'ablation-spatial', summary: 'ablation: the spatial rule alone (value leaves the seen range by > 5%)', create: (ctx) => new SpatialDetector(ctx, scoring.spatialTolerance ?? 0.05) },
    { name: 'ablation-persistence', summary: 'ablation: the GRU detectors\' error scorer on the persistence forecast x[t-1] (no model)', create: (ctx) => new PersistenceDetector(ctx, scoring) },
  ];
}
