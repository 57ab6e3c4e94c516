/** Activity recognition: posterior smoothing and the gateway detector. Browser-safe. */
export { LabelSmoother, smoothingOptions, SMOOTHING_DEFAULTS, SMOOTHING_KINDS, type SmoothingKind, type SmoothingOptions, type SmootherState } from './smoothing.js';
export { createHarDetector, harDetectorOptions, HAR_DETECTOR_KIND, HAR_DETECTOR_DEFAULTS, HAR_DETECTORS, type HarDetectorOptions } from './detector.js';
export { HarStream, type HarStreamOptions, type HarWindowResult } from './stream.js';
export { fitDurationModel, parseDurationModel, durationModelOf, SEGMENT_DURATION_KEY, durationLogLikelihood, classifySegment, DURATION_SD_FLOOR, type DurationModel } from './duration.js';
