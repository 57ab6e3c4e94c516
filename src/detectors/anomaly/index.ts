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
export { ErrorScorer, ERROR_SCORING_DEFAULTS, checkErrorScoringOptions, type ErrorScoringOptions } from './error-scoring.js';
export { LearnedDetector, LEARNED_DETECTOR_DEFAULTS, type LearnedDetectorOptions, type LearnedTask, type LearnRequest, type SeriesLearner, type SyncLoader } from './learned.js';
export { SyncModelLoader, type SyncModelLoaderOptions } from './sync-loader.js';
export { MaxCombinedDetector } from './combined.js';
export {
  StreamingLikelihood,
  STREAMING_LIKELIHOOD_DEFAULTS,
  checkStreamingLikelihoodOptions,
  ForecastAnomalyDetector,
  FORECAST_ANOMALY_DEFAULTS,
  checkForecastAnomalyOptions,
  type StreamingLikelihoodOptions,
  type StreamingLikelihoodState,
  type ForecastAnomalyOptions,
  type ForecastAnomalyOverrides,
  type ForecastAnomalyState,
  type AnomalyEvent,
} from './streaming.js';
export { anomalyDetectorFactory, seriesGatewayFrontEnd, forecastAnomalyOptionsOf, anomalyDetectorConfigOf, ANOMALY_EXTRA_KEY } from './gateway.js';
export { ForecastModelDetector } from './model-detector.js';
