/** Streaming keyword detection over keyword-model posteriors (browser-safe). */
export { KwsDetector, checkKwsDetectorOptions, KWS_DETECTOR_DEFAULTS, type KwsDetectorConfig, type KwsDetectorOptions, type KwsDetectorState, type KwsEvent } from './detector.js';
export { KWS_EXTRA_KEY, kwsDetectorConfigOf, kwsTimeBaseOf, kwsDetectorOptionsOf, createKwsDetectorForModel, type KwsManifestExtra } from './model.js';
export { kwsDetectorFactory } from './gateway.js';
