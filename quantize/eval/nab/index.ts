/** The Numenta Anomaly Benchmark: corpus, NAB-exact scoring, threshold optimizers, NAB file formats. */
export * from './profiles.js';
export * from './corpus.js';
export * from './scorer.js';
export * from './optimizer.js';
export * from './results.js';
export * from './benchmark.js';
export * from './detectors.js';
