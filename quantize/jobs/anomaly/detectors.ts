/**
 * The learned NAB detectors as registry entries: `edgernn nab --detector gru-predict` (etc.)
 * and the benchmarks find them through quantize/eval/nab/detectors.ts.
 *
 *   gru-predict              GRU forecaster trained per series on its probationary period, int8 on SIMD
 *   gru-autoencoder          GRU window autoencoder, same protocol, int8 on SIMD
 *   gru-combined             both, max of their scores
 *   gru-predict-float, gru-autoencoder-float, gru-combined-float
 *                            the same trained models before quantization (float reference): the
 *                            float vs int8 comparison
 *   ablation-spatial, ablation-persistence
 *                            the same post-processing without a learned model (ablations.ts)
 *
 * Every series gets the same options (NAB_GRU_OPTIONS); nothing reads labels. Entries of one
 * call share trained float models (a memo keyed by the probationary frames and options), so
 * running an int8 entry and its float twin trains each series' model once.
 */
import {
  LEARNED_DETECTOR_DEFAULTS,
  LearnedDetector,
  MaxCombinedDetector,
  SyncModelLoader,
  type DetectorEntry,
  type ErrorScoringOptions,
  type LearnedDetectorOptions,
  type ModelSpec,
  type SeriesContext,
} from '../../../src/index.js';
import { ablationEntries } from './ablations.js';
import { trainerLearner, TRAINER_LEARNER_DEFAULTS, type TrainerLearnerOptions } from './learner.js';

/** Everything that defines the learned detectors; the same for every series. */
export interface NabGruOptions {
  /** Trainer options of the per-series models (precision is set per entry). */
  learner: Omit<TrainerLearnerOptions, 'precision' | 'memo'>;
  /** Frame features and clipping. */
  timeOfDay: boolean;
  clip: number;
  /** Autoencoder window. */
  window: number;
  /** Error → score post-processing. */
  scoring: Partial<ErrorScoringOptions>;
  /** Int8 backend ('simd' on the NAB runs). */
  backend: 'simd' | 'scalar' | 'reference';
}

export const NAB_GRU_OPTIONS: Readonly<NabGruOptions> = {
  learner: { ...TRAINER_LEARNER_DEFAULTS },
  timeOfDay: LEARNED_DETECTOR_DEFAULTS.timeOfDay,
  clip: LEARNED_DETECTOR_DEFAULTS.clip,
  window: LEARNED_DETECTOR_DEFAULTS.window,
  scoring: {},
  backend: 'simd',
};

/** Detector factories over one shared loader (the WASM kernels compile once, on first use). */
export function gruDetectorEntries(options: Partial<NabGruOptions> = {}): DetectorEntry[] {
  const o: NabGruOptions = { ...NAB_GRU_OPTIONS, ...options, learner: { ...NAB_GRU_OPTIONS.learner, ...options.learner } };
  let loader: SyncModelLoader | undefined;
  // Float models shared by the int8/float twins and gru-combined's parts (same frames, same model).
  const memo = new Map<string, ModelSpec>();
  const loaderOf = (): SyncModelLoader => (loader ??= new SyncModelLoader({ backend: o.backend }));
  const make = (ctx: SeriesContext, name: string, task: 'forecast' | 'autoencoder', precision: 'int8' | 'float32'): LearnedDetector => {
    const detector: LearnedDetectorOptions = {
      name,
      task,
      learner: trainerLearner({ ...o.learner, precision, inputRange: o.clip, memo }),
      loader: loaderOf(),
      timeOfDay: o.timeOfDay,
      clip: o.clip,
      window: o.window,
      scoring: o.scoring,
      minProbation: LEARNED_DETECTOR_DEFAULTS.minProbation,
    };
    return new LearnedDetector(ctx, detector);
  };
  const entries: DetectorEntry[] = [];
  for (const [suffix, precision, what] of [['', 'int8', 'int8 on the ' + o.backend + ' kernels'], ['-float', 'float32', 'float32 reference (before quantization)']] as const) {
    entries.push(
      { name: `gru-predict${suffix}`, summary: `GRU forecaster learned on each series' probationary period, prediction error → likelihood; ${what}`, create: (ctx) => make(ctx, `gru-predict${suffix}`, 'forecast', precision) },
      { name: `gru-autoencoder${suffix}`, summary: `GRU window autoencoder learned on each series' probationary period, reconstruction error → likelihood; ${what}`, create: (ctx) => make(ctx, `gru-autoencoder${suffix}`, 'autoencoder', precision) },
      {
        name: `gru-combined${suffix}`,
        summary: `max of gru-predict${suffix} and gru-autoencoder${suffix}`,
        create: (ctx) => new MaxCombinedDetector(`gru-combined${suffix}`, [make(ctx, `gru-predict${suffix}`, 'forecast', precision), make(ctx, `gru-autoencoder${suffix}`, 'autoencoder', precision)]),
      },
    );
  }
  entries.push(...ablationEntries(o.scoring));
  return entries;
}
