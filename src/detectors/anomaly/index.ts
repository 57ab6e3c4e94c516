/** Streaming anomaly detectors: NAB baselines, likelihood and alert helpers, the registry. Browser-safe. */
export { checkFiniteInput, type AnomalyDetector, type AnomalyDetectorFactory, type SeriesContext } from './detector.js';
export { WindowedGaussianDetector, WINDOWED_GAUSSIAN_DEFAULTS, type WindowedGaussianOptions } from './windowed-gaussian.js';
export { RandomDetector, RANDOM_DETECTOR_DEFAULTS, type RandomDetectorOptions } from './random.js';
export { NullDetector, NULL_DETECTOR_SCORE } from './null.js';
export { PythonRandom } from './python-random.js';
export { AnomalyLikelihood, ANOMALY_LIKELIHOOD_DEFAULTS, nabLikelihoodOptions, type AnomalyLikelihoodOptions } from './likelihood.js';
export { AlertHysteresis, type AlertHysteresisOptions, type AlertTransition } from './hysteresis.js';
export { DetectorRegistry, baselineDetectorRegistry, type DetectorEntry } from './registry.js';
export { erfc, normalTailProbability, numpyMean, numpyStd, numpySum, numpyVar, pairwiseSum } from './numeric.js';
