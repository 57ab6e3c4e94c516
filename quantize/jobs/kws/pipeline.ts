/**
 * Node-only: the keyword-spotting job end to end (`npm run train:kws`).
 *
 *   corpora      build or reuse the synthetic corpora (quantize/data/kws) named in config.ts
 *   features     every clip and stream through the model's audio front end, cached on disk
 *   data         train = train clips + extra train-voice clips + windows of a train-voice stream;
 *                validation = the validation-voice clips (early stopping, QAT) and a
 *                validation-voice stream (detector thresholds); test = held-out voices only
 *   train        trainModel (GRU, and the comparison architectures), float32
 *   quantize     post-training int8 (MSE calibration) + quantization-aware fine-tuning
 *   detector     thresholds tuned on the validation stream with the int8 model's posteriors
 *   evaluate     held-out clips (accuracy), held-out stream (false accepts/hour, misses), all
 *                through the runtime (the deployed code path)
 *   write        models/kws.ern with the front end, the detector settings and every metric
 *
 * The held-out voices (flite kal16, slt) are read only in the evaluation step.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  createRuntime,
  encodeModel,
  EdgeRnnError,
  KWS_EXTRA_KEY,
  kwsTimeBaseOf,
  quantizeModel,
  type AudioFrontendSpec,
  type KwsDetectorConfig,
  type ModelSpec,
  type RecurrentKind,
  type Runtime,
} from '../../../src/index.js';
import { generateKwsCorpus } from '../../data/kws/corpus.js';
import { kwsOptionsFromFlags } from '../../data/kws/cli.js';
import type { Dataset, Sample } from '../../data/dataset.js';
import { calibrate, calibrateAndQuantize, clipWeights, zeroEmptyRowScales } from '../../quant/calibrate.js';
import { fakeQuantHooks, currentSpec } from '../../quant/qat.js';
import { networkFromSpec } from '../../train/export.js';
import { trainModel } from '../../train/train-model.js';
import { DEFAULT_TRAIN_OPTIONS, classWeightsFor, fit, type FitContext, type TrainOptions } from '../../train/trainer.js';
import { codeCommit, round } from '../../cli/common.js';
import { corpusArgs, type KwsJobOptions } from './config.js';
import { clipAccuracy, servedPosteriors, type ClipAccuracy } from './evaluate.js';
import { perturbedFeatures, readCorpusIndex, recordingFeatures, splitFeatures, type ClipFeatures, type CorpusClip, type CorpusIndex } from './features.js';
import { fnv1a } from '../../data/kws/voices.js';
import { augmentingForward } from './augment.js';
import { computeNormalization } from '../../train/batches.js';
import { jobStream } from './streams.js';
import { manifestLambda, scoreEvents, detectEvents, tuneThresholds, type StreamScore, type StreamTruthLike } from './stream-eval.js';
import { streamWindows } from './windows.js';
import { makeDirs } from '../../../src/io/files.js';

export interface KwsJobContext {
  cwd: string;
  log: (line: string) => void;
  /** Creation time written to the manifest (ISO). */
  createdAt: string;
}

export interface ArchResult {
  arch: RecurrentKind;
  hidden: number;
  float: ModelSpec;
  int8: ModelSpec;
  bytes: Uint8Array;
  metrics: KwsMetrics;
}

export interface KwsMetrics {
  fileBytes: number;
  parameters: number;
  epochs: { best: number; run: number; qatBest?: number };
  validation: { clipAccuracyFloat: number; clipAccuracyInt8: number; stream: StreamSummary };
  test: { clipAccuracyFloat: number; clipAccuracyInt8: number; perSpeaker: Record<string, number>; stream: StreamSummary; perClass: ClipAccuracy['perClass'] };
}

export interface StreamSummary {
  minutes: number;
  keywords: number;
  hits: number;
  misses: number;
  missRate: number;
  falseAccepts: number;
  falseAcceptsPerHour: number;
  medianDelayMs: number;
}

/** A stream score as the manifest records it. */
export const summary = (s: StreamScore): StreamSummary => ({
  minutes: round(s.durationSec / 60, 4),
  keywords: s.keywords,
  hits: s.hits,
  misses: s.misses,
  missRate: round(s.missRate, 4),
  falseAccepts: s.falseAccepts,
  falseAcceptsPerHour: round(s.falseAcceptsPerHour, 4),
  medianDelayMs: round(s.medianDelayMs, 4),
});

function toSamples(clips: readonly ClipFeatures[]): Sample[] {
  return clips.map((c) => ({ x: c.x, T: c.T, y: c.y, where: c.path }));
}

function dataset(source: string, sha256: string, samples: Sample[], labels: string[], features: number, frontend: KwsJobOptions['frontend']): Dataset {
  return { source, sha256, features, labels, targetSize: 0, samples, frontend: { ...frontend }, rateHz: 1000 / frontend.hopMs };
}

function parameterCount(spec: ModelSpec): number {
  let n = 0;
  for (const l of spec.layers) {
    const q = (l as { quant?: { Wq?: Int8Array; Rq?: Int8Array } }).quant;
    const f = (l as { float?: { W?: Float32Array; R?: Float32Array; B?: Float32Array } }).float;
    if (q) n += (q.Wq?.length ?? 0) + (q.Rq?.length ?? 0);
    else if (f) n += (f.W?.length ?? 0) + (f.R?.length ?? 0);
  }
  return n;
}

/** Quantization-aware fine-tuning with an explicit validation set (the QAT helper splits its data instead). */
function qatFineTune(spec: ModelSpec, train: readonly Sample[], val: readonly Sample[], o: KwsJobOptions, log: (l: string) => void): { int8: ModelSpec; bestEpoch: number } {
  const { net, norm } = networkFromSpec(spec, 'f32');
  const cal = calibrate(spec, train, { method: 'mse' });
  const hyper = (spec.training.hyperparameters ?? {}) as Partial<TrainOptions>;
  const opts: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...hyper, epochs: o.qatEpochs, lr: o.qatLr, schedule: 'constant', dropout: 0, tbptt: 0, patience: o.qatEpochs, seed: o.seed };
  const ctx: FitContext = { task: 'classify', features: spec.input.size, outputs: net.outputSize, window: 1, norm, classWeights: classWeightsFor(opts, train, net.outputSize), dtype: 'f32' };
  const fq = fakeQuantHooks(net, norm, spec, cal.ranges, true);
  const r = fit(net, train, val, ctx, opts, { forward: augmentingForward({ ...o.augment, seed: o.augment.seed + 1 }, norm, fq.forward), afterStep: fq.afterStep, onEpoch: (e) => log(`  qat epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}, val acc ${(100 * (e.valAccuracy ?? 0)).toFixed(2)}% (${e.seconds.toFixed(0)} s)`) });
  const float = currentSpec(net, norm, spec);
  const int8 = zeroEmptyRowScales(quantizeModel(clipWeights(float, cal.ranges).spec, cal.ranges));
  int8.training = { ...int8.training, calibration: { method: 'mse', weightClipping: true, sequences: train.length }, qat: { epochs: r.epochsRun, bestEpoch: r.bestEpoch, lr: o.qatLr } };
  return { int8, bestEpoch: r.bestEpoch };
}

/** Evenly spaced subset (deterministic) for calibration. */
function subset<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]!);
}

export interface KwsJobResult {
  shipped: ArchResult;
  compared: ArchResult[];
  out: string;
}

export async function runKwsJob(o: KwsJobOptions, ctx: KwsJobContext): Promise<KwsJobResult> {
  const log = ctx.log;
  const abs = (p: string): string => path.resolve(ctx.cwd, p);
  const cache = abs(o.cacheDir);
  const featureDir = path.join(cache, 'features');

  // 1. Corpora (built once, then reused).
  const corpusDirs: Record<'main' | 'extra' | 'stream', string> = { main: '', extra: '', stream: '' };
  for (const which of ['main', 'extra', 'stream'] as const) {
    const { options } = kwsOptionsFromFlags([...corpusArgs(o, which), '--jobs', String(o.jobs)], ctx.cwd);
    const r = await generateKwsCorpus(options, { log });
    corpusDirs[which] = options.outDir;
    log(`corpus ${which}: ${options.outDir} (${r.cached ? 'cached' : `built in ${r.seconds.toFixed(0)} s`})`);
  }
  const main = readCorpusIndex(corpusDirs.main);
  const extra = readCorpusIndex(corpusDirs.extra);
  const streamCorpus = readCorpusIndex(corpusDirs.stream);
  if (main.labels.join() !== extra.labels.join()) throw new EdgeRnnError('BAD_DATA', `${corpusDirs.extra}: labels ${extra.labels.join(', ')} differ from ${corpusDirs.main}'s ${main.labels.join(', ')}`);
  const labels = main.labels;
  const keywords = labels.filter((l) => !l.startsWith('_'));

  // 2. Features (cached).
  const fe = o.frontend;
  const t0 = Date.now();
  const trainClips = splitFeatures(main, 'train', fe, featureDir);
  const valClips = splitFeatures(main, 'val', fe, featureDir);
  const extraClips = splitFeatures(extra, 'train', fe, featureDir);
  const F = trainClips.featureSize;
  const trainStream = await jobStream(main, { split: 'train', ...o.trainStream, dir: path.join(cache, 'streams'), jobs: o.jobs, log });
  const valStream = await jobStream(main, { split: 'val', ...o.valStream, dir: path.join(cache, 'streams'), jobs: o.jobs, log });
  const trainStreamF = recordingFeatures(trainStream.wav, fe, featureDir);
  const valStreamF = recordingFeatures(valStream.wav, fe, featureDir);
  log(`features: ${trainClips.clips.length} train + ${extraClips.clips.length} extra train + ${valClips.clips.length} val clips, streams ${trainStreamF.T} + ${valStreamF.T} frames (${((Date.now() - t0) / 1000).toFixed(0)} s)`);

  // 3. Training data: clips plus windows of the training stream.
  const windows = streamWindows(trainStream.truth, trainStreamF.T, { ...o.windows, frameRateHz: 1000 / fe.hopMs, frameOffsetSec: fe.frameMs / 1000 });
  const windowSamples: Sample[] = windows.map((w) => ({
    x: trainStreamF.x.slice((w.endFrame - w.T + 1) * F, (w.endFrame + 1) * F),
    T: w.T,
    y: labels.indexOf(w.label),
    where: `train stream frames ${w.endFrame - w.T + 1}..${w.endFrame}`,
  }));
  const windowCounts = Object.fromEntries(labels.map((l) => [l, windows.filter((w) => w.label === l).length]));
  log(`stream windows: ${windows.length} (${labels.map((l) => `${l} ${windowCounts[l]}`).join(', ')})`);
  // Speed perturbation: flite and festival clips (few voices) once per factor, espeak-ng clips once (factor by path hash).
  const isFlite = (c: CorpusClip): boolean => (c.speaker?.startsWith('flite-') || c.speaker?.startsWith('festival-')) ?? false;
  const isEspeak = (c: CorpusClip): boolean => c.speaker?.startsWith('espeak-') ?? false;
  const perturbed: ClipFeatures[] = [];
  for (const idx of [main, extra]) perturbed.push(...perturbedFeatures(idx, 'train', fe, featureDir, o.perturb.flite, isFlite).clips);
  o.perturb.espeak.forEach((r, k) => {
    for (const idx of [main, extra]) perturbed.push(...perturbedFeatures(idx, 'train', fe, featureDir, [r], (c) => isEspeak(c) && fnv1a(c.path) % o.perturb.espeak.length === k).clips);
  });
  log(`speed-perturbed clips: ${perturbed.length}`);
  const train = [...toSamples(trainClips.clips), ...toSamples(extraClips.clips), ...toSamples(perturbed), ...windowSamples];
  const val = toSamples(valClips.clips);
  const dataHash = createHash('sha256').update(JSON.stringify({ main: main.manifestSha256, extra: extra.manifestSha256, trainStream: trainStream.truth.durationSec, windows: o.windows, frontend: fe })).digest('hex');
  const trainSet = dataset(`${corpusDirs.main} train + ${corpusDirs.extra} train + train-voice stream windows`, dataHash, train, labels, F, fe);
  const valSet = dataset(`${corpusDirs.main} val`, main.manifestSha256, val, labels, F, fe);

  const rt = await createRuntime();
  const results: ArchResult[] = [];
  for (const arch of [o.arch, ...o.compare.filter((a) => a !== o.arch)]) {
    results.push(await trainArch(arch, { o, ctx, rt, trainSet, valSet, labels, keywords, valStream: { x: valStreamF.x, truth: valStream.truth }, main, streamCorpus, featureDir, windowCounts, corpusDirs, trainVoices: trainVoices([main, extra]) }));
  }
  const shipped = results[0]!;
  const compared = results.slice(1);
  // The comparison goes into the shipped model's manifest (re-encoding: metrics only, same weights).
  const kwsExtra = shipped.int8.extra![KWS_EXTRA_KEY] as Record<string, unknown>;
  kwsExtra.comparison = Object.fromEntries(results.map((r) => [`${r.arch}${r.hidden}`, comparisonRow(r)]));
  const bytes = encodeModel(shipped.int8, { goldenInput: goldenOf(shipped.int8, val) });
  const out = abs(o.out);
  makeDirs(path.dirname(out));
  fs.writeFileSync(out, bytes);
  shipped.bytes = bytes;
  shipped.metrics.fileBytes = bytes.length;
  makeDirs(cache);
  fs.writeFileSync(path.join(cache, 'results.json'), `${JSON.stringify({ out: o.out, results: results.map((r) => ({ arch: r.arch, hidden: r.hidden, metrics: r.metrics, detector: (r.int8.extra![KWS_EXTRA_KEY] as { detector: unknown }).detector })) }, null, 1)}\n`);
  return { shipped, compared, out };
}

function comparisonRow(r: ArchResult): Record<string, unknown> {
  const m = r.metrics;
  return {
    fileBytes: m.fileBytes,
    parameters: m.parameters,
    testClipAccuracyFloat: m.test.clipAccuracyFloat,
    testClipAccuracyInt8: m.test.clipAccuracyInt8,
    testFalseAcceptsPerHour: m.test.stream.falseAcceptsPerHour,
    testMissRate: m.test.stream.missRate,
  };
}

/** A few validation frames as the golden vector (not the held-out voices). */
function goldenOf(spec: ModelSpec, val: readonly Sample[]): Float32Array {
  const s = val[0]!;
  const T = Math.min(s.T, 16);
  return s.x.slice(0, T * spec.input.size);
}

interface ArchInput {
  o: KwsJobOptions;
  ctx: KwsJobContext;
  rt: Runtime;
  trainSet: Dataset;
  valSet: Dataset;
  labels: string[];
  keywords: string[];
  valStream: { x: Float32Array; truth: StreamTruthLike };
  main: CorpusIndex;
  streamCorpus: CorpusIndex;
  featureDir: string;
  windowCounts: Record<string, number>;
  corpusDirs: Record<'main' | 'extra' | 'stream', string>;
  /** Who speaks in the training clips, for the manifest's description. */
  trainVoices: string;
}

/** "espeak-ng (109 speakers), flite awb/rms, festival ked/it_lp": the training clips' speakers by engine. */
export function trainVoices(indices: readonly CorpusIndex[]): string {
  const byEngine = new Map<string, Set<string>>();
  for (const idx of indices) {
    for (const c of idx.clips) {
      if (c.split !== 'train' || c.speaker === undefined) continue;
      const dash = c.speaker.indexOf('-');
      const engine = c.speaker.slice(0, dash);
      if (!byEngine.has(engine)) byEngine.set(engine, new Set());
      byEngine.get(engine)!.add(c.speaker.slice(dash + 1));
    }
  }
  const name = (e: string): string => (e === 'espeak' ? 'espeak-ng' : e);
  return [...byEngine]
    .map(([e, v]) => (e === 'espeak' ? `espeak-ng (${v.size} speakers)` : `${name(e)} ${[...v].sort().join('/')}`))
    .join(', ');
}

async function trainArch(arch: RecurrentKind, a: ArchInput): Promise<ArchResult> {
  const { o, ctx, rt, trainSet, valSet, labels, keywords } = a;
  const log = ctx.log;
  const fe = o.frontend;
  log(`train ${arch}${o.hidden}: ${trainSet.samples.length} sequences, validation ${valSet.samples.length}`);
  const tr = trainModel({
    data: trainSet,
    val: valSet,
    name: `kws-${arch}${o.hidden}`,
    options: { task: 'classify', arch, hidden: o.hidden, epochs: o.epochs, patience: o.patience, lr: o.lr, seed: o.seed, classWeights: o.classWeights },
    hooks: { forward: augmentingForward(o.augment, computeNormalization(trainSet.samples, trainSet.features, 'classify', 0, 1)), onEpoch: (e) => log(`  epoch ${e.epoch}: lr ${e.lr.toExponential(1)}, train loss ${e.trainLoss.toFixed(4)} acc ${(100 * (e.trainAccuracy ?? 0)).toFixed(2)}%, val loss ${e.valLoss.toFixed(4)} acc ${(100 * (e.valAccuracy ?? 0)).toFixed(2)}% (${e.seconds.toFixed(0)} s)`) },
  });
  log(`  best epoch ${tr.fit.bestEpoch} of ${tr.fit.epochsRun}, val acc ${(100 * (tr.valAccuracy ?? 0)).toFixed(2)}%`);
  const calib = subset(trainSet.samples, 1500);
  let int8: ModelSpec;
  let qatBest: number | undefined;
  if (o.qatEpochs > 0) {
    const q = qatFineTune(tr.spec, trainSet.samples, valSet.samples, o, log);
    int8 = q.int8;
    qatBest = q.bestEpoch;
  } else {
    int8 = calibrateAndQuantize(tr.spec, calib, { method: 'mse' });
  }
  // Float and int8 through the runtime (float reference backend / best integer backend).
  const floatBytes = encodeModel(tr.spec);
  const int8Plain = encodeModel(int8);
  const floatModel = await rt.load(floatBytes, { backend: 'float', source: `${arch} float` });
  const intModel = await rt.load(int8Plain, { source: `${arch} int8` });
  try {
    const valFloat = clipAccuracy(floatModel, valSet.samples, labels);
    const valInt = clipAccuracy(intModel, valSet.samples, labels);
    // Detector thresholds on the validation stream, with the int8 posteriors as the gateway computes them.
    const served: AudioFrontendSpec = o.slidingWindows ? { ...fe, windows: o.slidingWindows } : fe;
    const timeBase = kwsTimeBaseOf({ name: 'kws', input: { ...int8.input, frontend: { ...served } } });
    const valPost = servedPosteriors(intModel, a.valStream.x, served);
    const tuned = tuneThresholds(valPost, labels, keywords, a.valStream.truth, { ...o.detector, ...timeBase });
    log(`  thresholds (validation stream, ${(a.valStream.truth.durationSec / 60).toFixed(0)} min): ${keywords.map((k) => `${k} ${tuned.config.thresholds[k]}`).join(', ')}; ${tuned.score.falseAccepts} false accepts, ${tuned.score.misses}/${tuned.score.keywords} misses`);
    // Held-out evaluation: clips and the 60-minute stream of the test voices.
    const testClips = splitFeatures(a.main, 'test', fe, a.featureDir);
    const testSamples = toSamples(testClips.clips);
    const testFloat = clipAccuracy(floatModel, testSamples, labels);
    const testInt = clipAccuracy(intModel, testSamples, labels, testClips.clips.map((c) => c.speaker ?? 'noise'));
    const streamWav = path.join(a.corpusDirs.stream, 'stream', 'stream.wav');
    const truth = JSON.parse(fs.readFileSync(path.join(a.corpusDirs.stream, 'stream', 'stream.json'), 'utf8')) as StreamTruthLike;
    const testStreamF = recordingFeatures(streamWav, fe, a.featureDir);
    const testPost = servedPosteriors(intModel, testStreamF.x, served);
    const testScore = scoreEvents(detectEvents(testPost, labels, tuned.config, timeBase.hopMs, timeBase.frameMs), truth, keywords);
    log(`  ${arch}${o.hidden} held-out clips: float ${(100 * testFloat.accuracy).toFixed(2)}%, int8 ${(100 * testInt.accuracy).toFixed(2)}%; stream: ${testScore.falseAcceptsPerHour.toFixed(2)} false accepts/h, miss rate ${(100 * testScore.missRate).toFixed(1)}%`);
    const metrics: KwsMetrics = {
      fileBytes: 0,
      parameters: parameterCount(int8),
      epochs: { best: tr.fit.bestEpoch, run: tr.fit.epochsRun, ...(qatBest !== undefined ? { qatBest } : {}) },
      validation: { clipAccuracyFloat: round(valFloat.accuracy, 5), clipAccuracyInt8: round(valInt.accuracy, 5), stream: summary(tuned.score) },
      test: { clipAccuracyFloat: round(testFloat.accuracy, 5), clipAccuracyInt8: round(testInt.accuracy, 5), perSpeaker: testInt.perGroup, stream: summary(testScore), perClass: testInt.perClass },
    };
    const detector: KwsDetectorConfig = tuned.config;
    const commit = codeCommit();
    int8.name = 'kws';
    int8.version = '1.0.0';
    int8.input = { ...int8.input, frontend: { ...served } };
    int8.description = `Keyword spotting (${keywords.join(', ')}, _unknown_, _silence_): ${fe.kind} ${fe.nMfcc ?? fe.nMels} x ${fe.hopMs} ms -> ${arch.toUpperCase()} ${o.hidden} -> dense ${labels.length} -> softmax, int8. Trained on synthetic speech (${a.trainVoices}); held-out flite kal16/slt.`;
    int8.training = {
      ...int8.training,
      dataset: trainSet.source,
      datasetSha256: trainSet.sha256,
      validationDataset: valSet.source,
      validationSha256: valSet.sha256,
      metrics: { validation: metrics.validation, bestEpoch: tr.fit.bestEpoch, epochsRun: tr.fit.epochsRun, history: { trainLoss: tr.fit.history.map((h) => round(h.trainLoss, 5)), valLoss: tr.fit.history.map((h) => round(h.valLoss, 5)), valAccuracy: tr.fit.history.map((h) => round(h.valAccuracy ?? 0, 5)) } },
      ...(commit ? { codeCommit: commit } : {}),
      createdAt: ctx.createdAt,
    };
    int8.extra = {
      ...int8.extra,
      [KWS_EXTRA_KEY]: {
        keywords,
        detector,
        tuning: { stream: 'validation voices', minutes: round(a.valStream.truth.durationSec / 60, 4), maxFalseAcceptsPerHour: o.detector.maxFalseAcceptsPerHour, minThreshold: o.detector.minThreshold, lambda: manifestLambda(tuned.lambda) },
        metrics,
        data: {
          corpora: { main: corpusArgs(o, 'main'), extra: corpusArgs(o, 'extra'), stream: corpusArgs(o, 'stream') },
          corpusConfigHashes: { main: a.main.configHash, stream: a.streamCorpus.configHash },
          trainStream: o.trainStream,
          valStream: o.valStream,
          windows: o.windows,
          windowCounts: a.windowCounts,
          heldOutVoices: ['flite-kal16', 'flite-slt'],
        },
        job: { arch, hidden: o.hidden, epochs: o.epochs, patience: o.patience, lr: o.lr, classWeights: o.classWeights, qatEpochs: o.qatEpochs, qatLr: o.qatLr, seed: o.seed, perturb: o.perturb, augment: o.augment, frontend: o.frontend, slidingWindows: o.slidingWindows },
      },
    };
    const bytes = encodeModel(int8, { goldenInput: goldenOf(int8, valSet.samples) });
    metrics.fileBytes = bytes.length;
    return { arch, hidden: o.hidden, float: tr.spec, int8, bytes, metrics };
  } finally {
    floatModel.dispose();
    intModel.dispose();
  }
}

