/**
 * The shipped gateway model, models/anomaly.ern: one small int8 GRU forecaster for any
 * one-channel sensor series, trained on the probationary parts (the first 15%, at most 750
 * records, never a label) of the 58 NAB series.
 *
 * Front end (stored in the manifest as `input.frontend`, applied by the gateway):
 *   {kind: 'series', channels: 1, scaling: none, adaptive: ewm(alpha 0.01, epsilon 1e-6), clip 8}
 * so the model sees each value in units of the series' running standard deviation about its
 * running mean (NAB's series have units from 0.01 to 10^7; no fixed scaling fits them all).
 * The model outputs ŷ_{t+1}, its prediction of the next frame; the gateway detector
 * (src/detectors/anomaly/streaming.ts) scores |y_{t+1} - ŷ_{t+1}|.
 *
 * Training windows: per series, the front end runs over the probationary values from a fresh
 * state; the frames after the first `warmupFrames` (the running statistics settle) are split by
 * time (time-split.ts): their last `valFraction` is held out for validation, and each part is cut
 * into windows of `sequenceLength` steps every `stride` steps, target = the next frame, so no
 * validation window shares a frame with a training window.
 * Node-only (hashing).
 */
import { createHash } from 'node:crypto';
import { encodeModel, SeriesFrontend, validateSeriesSpec, type ModelSpec, type SeriesFrontendSpec, type SyncLoader } from '../../../src/index.js';
import type { Dataset, Sample } from '../../data/dataset.js';
import type { NabCorpus } from '../../eval/nab/corpus.js';
import { calibrateAndQuantize } from '../../quant/calibrate.js';
import { trainModel } from '../../train/train-model.js';
import { forecasterTrainerOptions, type ForecasterTrainOptions } from './learner.js';
import { splitByTime, type WindowRange } from './time-split.js';

export const SHIPPED_FRONTEND: SeriesFrontendSpec = {
  kind: 'series',
  channels: 1,
  scaling: { kind: 'none' },
  adaptive: { kind: 'ewm', alpha: 0.01, epsilon: 1e-6 },
  clip: 8,
};

export interface ShippedTrainOptions extends ForecasterTrainOptions {
  /** Frames skipped at the start of each series while the running statistics settle. */
  warmupFrames: number;
  frontend: SeriesFrontendSpec;
}

export const SHIPPED_TRAIN_DEFAULTS: Readonly<ShippedTrainOptions> = {
  hidden: 16,
  epochs: 30,
  patience: 8,
  lr: 5e-3,
  batchSize: 32,
  sequenceLength: 64,
  stride: 8,
  valFraction: 0.15,
  warmupFrames: 16,
  seed: 1,
  frontend: SHIPPED_FRONTEND,
};

export interface ShippedDataset {
  /** Training windows. */
  dataset: Dataset;
  /** Validation windows: the held-out tail of each series. */
  val: Dataset;
  /** Probationary records used per series. */
  records: number;
  series: number;
}

/** The training and validation windows from every series' probationary period (labels are never read). */
export function shippedDataset(corpus: NabCorpus, o: ShippedTrainOptions): ShippedDataset {
  const frontend = validateSeriesSpec(o.frontend);
  const samples: Sample[] = [];
  const valSamples: Sample[] = [];
  const hash = createHash('sha256');
  let records = 0;
  for (const s of corpus.series) {
    const p = s.probationaryLength;
    const values = s.values.subarray(0, p);
    hash.update(s.relativePath).update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    records += p;
    const y = new SeriesFrontend(frontend).batch(values).data;
    const window = ({ start: st, length: L }: WindowRange): Sample => ({ x: y.slice(st, st + L), T: L, target: y.slice(st + 1, st + L + 1), where: `${s.relativePath}@${st}` });
    const split = splitByTime({ first: o.warmupFrames, end: p, length: o.sequenceLength, stride: o.stride, valFraction: o.valFraction, lookahead: 1 });
    samples.push(...split.train.map(window));
    // A series too short to hold out a tail only trains (its in-sample windows would not validate anything).
    if (split.heldOut) valSamples.push(...split.val.map(window));
  }
  const dataset: Dataset = {
    source: 'NAB probationary periods (first 15%, at most 750 records, of each of the 58 series)',
    sha256: hash.digest('hex'),
    features: 1,
    featureNames: ['value'],
    labels: [],
    targetSize: 1,
    samples,
    frontend: { ...frontend },
  };
  const val: Dataset = { ...dataset, source: `${dataset.source}: the last ${Math.round(o.valFraction * 100)}% of each, held out`, samples: valSamples };
  return { dataset, val, records, series: corpus.series.length };
}

export interface ForecastErrors {
  /** Mean squared error of the model's next-frame prediction. */
  model: number;
  /** Persistence baseline ŷ_{t+1} = y_t. */
  persistence: number;
  /** Running-mean baseline ŷ_{t+1} = 0 (the front end's running mean). */
  zero: number;
}

/** Next-frame MSE of a model over windows, each run from a fresh session. */
export function forecastErrors(loader: SyncLoader, bytes: Uint8Array, samples: readonly Sample[]): ForecastErrors {
  const model = loader.load(bytes, 'anomaly.ern');
  let m = 0;
  let p = 0;
  let z = 0;
  let n = 0;
  for (const s of samples) {
    const session = model.session();
    const out = session.run(s.x);
    for (let t = 0; t < s.T; t++) {
      const target = s.target![t]!;
      m += (out[t]! - target) ** 2;
      p += (s.x[t]! - target) ** 2;
      z += target ** 2;
      n++;
    }
    session.dispose();
  }
  model.dispose();
  return { model: m / n, persistence: p / n, zero: z / n };
}

export interface ShippedModel {
  float: ModelSpec;
  int8: ModelSpec;
  data: ShippedDataset;
  /** Training windows. */
  train: Sample[];
  /** Validation windows (the held-out tail of each series: no frame shared with a training window). */
  val: Sample[];
  bestEpoch: number;
  epochsRun: number;
}

/** Trains the float model and quantizes it (minmax, input range ±clip). */
export function trainShippedModel(corpus: NabCorpus, options: Partial<ShippedTrainOptions> = {}): ShippedModel {
  const o: ShippedTrainOptions = { ...SHIPPED_TRAIN_DEFAULTS, ...options };
  const data = shippedDataset(corpus, o);
  const result = trainModel({
    data: data.dataset,
    val: data.val,
    name: 'anomaly-gru-forecaster',
    options: { ...forecasterTrainerOptions(o), task: 'forecast' },
    training: { dataset: data.dataset.source, datasetSha256: data.dataset.sha256 },
  });
  const clip = o.frontend.clip ?? 8;
  const headroom = Float32Array.of(clip, -clip);
  const int8 = calibrateAndQuantize(result.spec, [...result.train, headroom], { method: 'minmax' });
  return { float: result.spec, int8, data, train: result.train, val: result.val, bestEpoch: result.fit.bestEpoch, epochsRun: result.fit.history.length };
}

/** Final bytes: task 'anomaly', description, metrics and detector defaults in the manifest. */
export function encodeShipped(spec: ModelSpec, info: { metrics: Record<string, unknown>; hyperparameters: Record<string, unknown>; detector: Record<string, unknown>; createdAt: string }): Uint8Array {
  const out: ModelSpec = {
    ...spec,
    name: 'anomaly-gru-forecaster',
    version: '1.0.0',
    task: 'anomaly',
    description:
      'One-channel sensor-series forecaster for the gateway anomaly detector: GRU(16) → dense(1) predicts the next frame of the series front end (value normalized online by its running mean and std); score = likelihood of the recent prediction error.',
    training: { ...spec.training, hyperparameters: info.hyperparameters, metrics: info.metrics, createdAt: info.createdAt },
    extra: { ...spec.extra, anomalyDetector: info.detector },
  };
  return encodeModel(out);
}
