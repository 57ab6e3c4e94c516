/**
 * The streaming anomaly-detector contract shared by the NAB baselines and the GRU detectors.
 *
 * A detector sees one record at a time, in order, and returns the anomaly score of that record
 * from that record and the ones before it (no look-ahead). Scores are in [0, 1]; NAB turns them
 * into detections with one threshold per profile (score >= threshold). Browser-safe.
 */
import { EdgeRnnError } from '../../errors.js';

export interface AnomalyDetector {
  /** Registry name, also the NAB results folder name (e.g. 'windowedGaussian'). */
  readonly name: string;
  /**
   * Feeds one record and returns its anomaly score in [0, 1].
   * @param timestampMs record time, milliseconds since the Unix epoch (UTC)
   * @param value the metric value (finite)
   */
  update(timestampMs: number, value: number): number;
}

/** What a detector may know about a series before it starts (nothing from its future). */
export interface SeriesContext {
  /**
   * Records at the start of the series that NAB does not score (its probationary period:
   * min(floor(0.15 n), 750)). Detectors may use them to learn the normal pattern.
   */
  probationaryLength: number;
  /** Name of the series, for log messages only (e.g. 'realKnownCause/nyc_taxi.csv'). */
  name?: string;
}

/** Makes a fresh detector for one series; every series gets the same parameters. */
export type AnomalyDetectorFactory = (context: SeriesContext) => AnomalyDetector;

/** Throws NON_FINITE_INPUT unless `value` is a finite number. */
export function checkFiniteInput(detector: string, value: number): void {
  if (!Number.isFinite(value)) {
    throw new EdgeRnnError('NON_FINITE_INPUT', `${detector}: record value must be finite, got ${value}`, { detector, value });
  }
}

/**
 * Refuses options that are not an object, or that hold a field the detector would not use: a
 * misspelt field (`window` for `windowSize`) was silently dropped for its default.
 */
export function checkOptionFields(options: unknown, who: string, fields: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const got = options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options;
    throw new EdgeRnnError('DETECTOR_OPTION', `${who}: options must be an object {${fields.join(', ')}}, got ${got}`, { field: 'options', expected: fields, got });
  }
  for (const k of Object.keys(options)) {
    if (!fields.includes(k)) throw new EdgeRnnError('DETECTOR_OPTION', `${who}: ${k} is not an option (${fields.join(', ')})`, { field: k, expected: fields, got: k });
  }
}
