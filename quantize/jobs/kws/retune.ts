/**
 * Node-only: re-tunes a trained keyword model's streaming settings without training it again
 * (`npm run tune:kws`). It changes how the model reads a live stream (`input.frontend.windows`:
 * sliding windows from a reset state, or none: one never-reset session), tunes the detector
 * thresholds again on the validation-voice stream exactly as the training job does, scores the
 * held-out stream with them, and rewrites the manifest (detector, tuning, stream metrics). The
 * weights, the clip metrics and the golden input stay as they were.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  createRuntime,
  decodeModel,
  EdgeRnnError,
  encodeModel,
  KWS_EXTRA_KEY,
  kwsDetectorConfigOf,
  kwsTimeBaseOf,
  validateAudioSpec,
  type AudioFrontendSpec,
  type KwsDetectorConfig,
  type WindowSpec,
} from '../../../src/index.js';
import { round } from '../../cli/common.js';
import { frameSpec, recordingSeconds, servedPosteriors } from './evaluate.js';
import { summary } from './pipeline.js';
import { recordingFeatures } from './features.js';
import { KWS_JOB_DEFAULTS } from './config.js';
import { checkStreamDuration, checkStreamWords, detectEvents, manifestLambda, scoreEvents, tuneThresholds, type StreamScore, type StreamTruthLike } from './stream-eval.js';

export interface KwsRetuneOptions {
  /** Sliding windows to serve with, or null for one never-reset session. */
  windows: WindowSpec | null;
  /** The validation-voice stream (thresholds are tuned on it). */
  valStream: { wav: string; truth: StreamTruthLike };
  /** The held-out stream (scored, never tuned on). */
  testStream: { wav: string; truth: StreamTruthLike };
  /** Tuning budget and floor, as the training job's `detector` settings. */
  maxFalseAcceptsPerHour: number;
  minThreshold: number;
  /** Feature cache (the training job's). */
  cacheDir: string;
  /** ISO time recorded as `extra.kws.tuning.retunedAt`. */
  at: string;
}

export interface KwsRetuneResult {
  bytes: Uint8Array;
  detector: KwsDetectorConfig;
  validation: StreamScore;
  test: StreamScore;
  /** Keywords the validation stream never says: they kept their thresholds (raised only against false accepts). */
  absent: string[];
}

export async function retuneKwsModel(bytes: Uint8Array, source: string, o: KwsRetuneOptions): Promise<KwsRetuneResult> {
  const decoded = decodeModel(bytes, source);
  const spec = decoded.spec;
  const kws = spec.extra?.[KWS_EXTRA_KEY] as Record<string, unknown> | undefined;
  const old = kwsDetectorConfigOf(spec); // throws naming the field when this is not a keyword model
  const frames = frameSpec(validateAudioSpec(spec.input.frontend));
  const served: AudioFrontendSpec = o.windows ? { ...frames, windows: { ...o.windows } } : frames;
  validateAudioSpec(served);
  const input = { ...spec.input, frontend: { ...served } };
  const timeBase = kwsTimeBaseOf({ name: spec.name, input });
  const keywords = spec.labels.filter((l) => !(old.background ?? spec.labels.filter((x) => x.startsWith('_'))).includes(l));
  // Each stream's truth against the model before any features are computed, its length after.
  const truthOf = (s: { wav: string }): string => path.join(path.dirname(s.wav), 'stream.json');
  checkStreamWords(o.valStream.truth, keywords, truthOf(o.valStream));
  checkStreamWords(o.testStream.truth, keywords, truthOf(o.testStream));
  const streamFeatures = (s: { wav: string; truth: StreamTruthLike }): Float32Array => {
    const f = recordingFeatures(s.wav, frames, o.cacheDir);
    checkStreamDuration(s.truth, recordingSeconds(f.T, frames), truthOf(s));
    return f.x;
  };
  const rt = await createRuntime();
  const model = await rt.load(bytes, { source });
  try {
    const valPost = servedPosteriors(model, streamFeatures(o.valStream), served);
    const tuned = tuneThresholds(valPost, spec.labels, keywords, o.valStream.truth, { windowMs: old.windowMs, refractoryMs: old.refractoryMs, rearm: old.rearm, ...timeBase, maxFalseAcceptsPerHour: o.maxFalseAcceptsPerHour, minThreshold: o.minThreshold, keep: old.thresholds });
    const detector: KwsDetectorConfig = { ...tuned.config, ...(old.background ? { background: old.background } : {}) };
    const testPost = servedPosteriors(model, streamFeatures(o.testStream), served);
    const test = scoreEvents(detectEvents(testPost, spec.labels, detector, timeBase.hopMs, timeBase.frameMs), o.testStream.truth, keywords);
    const metrics = (kws?.metrics ?? {}) as { validation?: Record<string, unknown>; test?: Record<string, unknown> };
    const validationMetrics = { ...metrics.validation, stream: summary(tuned.score) };
    const next = structuredClone(spec);
    next.input = input;
    next.extra = {
      ...next.extra,
      [KWS_EXTRA_KEY]: {
        ...kws,
        detector,
        tuning: { ...(kws?.tuning as object | undefined), maxFalseAcceptsPerHour: o.maxFalseAcceptsPerHour, minThreshold: o.minThreshold, lambda: manifestLambda(tuned.lambda), windows: o.windows, retunedAt: o.at },
        metrics: { ...metrics, validation: validationMetrics, test: { ...metrics.test, stream: summary(test) } },
      },
    };
    if (next.training?.metrics) next.training = { ...next.training, metrics: { ...next.training.metrics, validation: validationMetrics } };
    const out = encodeModel(next, { goldenInput: decoded.golden.inputData });
    const check = decodeModel(out, source).golden.outputData;
    const want = decoded.golden.outputData;
    if (check.length !== want.length || check.some((v, i) => v !== want[i])) {
      throw new EdgeRnnError('ERN_GOLDEN_MISMATCH', `${source}: re-encoding changed the model's golden outputs (the weights must stay as they were)`);
    }
    return { bytes: out, detector, validation: tuned.score, test, absent: tuned.absent };
  } finally {
    model.dispose();
  }
}

/** A stream folder's wav and ground truth, with a clear error when either is missing. */
export function readStreamDir(dir: string): { wav: string; truth: StreamTruthLike } {
  const wav = `${dir}/stream.wav`;
  const json = `${dir}/stream.json`;
  if (!fs.existsSync(wav) || !fs.existsSync(json)) {
    // The default held-out stream is not the one plain `npm run data:kws` writes: say what builds it.
    const held = path.normalize(dir).endsWith(path.normalize('.cache/kws-stream60/stream'));
    const how = held ? `the 60-minute held-out stream is built by npm run train:kws, or alone by npm run data:kws -- ${KWS_JOB_DEFAULTS.corpora.stream.join(' ')}` : 'npm run data:kws writes them in <out>/stream';
    throw new EdgeRnnError('BAD_DATA', `${dir}: needs stream.wav and stream.json (${how})`);
  }
  return { wav, truth: parseStreamTruth(fs.readFileSync(json, 'utf8'), json) };
}

/**
 * A stream's ground truth (stream.json as npm run data:kws writes it): durationSec > 0 and
 * keywords [{word, onsetSec, offsetSec}], sorted by onset. Anything else is a BAD_DATA error
 * naming the file and the field, not a crash in the scorer.
 */
export function parseStreamTruth(text: string, source: string): StreamTruthLike {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EdgeRnnError('BAD_DATA', `${source}: not valid JSON (${(e as Error).message})`, { file: source });
  }
  const o = json as { durationSec?: unknown; keywords?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new EdgeRnnError('BAD_DATA', `${source}: expected {"durationSec": N, "keywords": [{"word", "onsetSec", "offsetSec"}, ...]}`, { file: source });
  if (typeof o.durationSec !== 'number' || !(o.durationSec > 0) || !Number.isFinite(o.durationSec)) throw new EdgeRnnError('BAD_DATA', `${source}: 'durationSec' must be a number > 0, got ${JSON.stringify(o.durationSec)}`, { file: source });
  if (!Array.isArray(o.keywords)) throw new EdgeRnnError('BAD_DATA', `${source}: 'keywords' must be a list of {"word", "onsetSec", "offsetSec"}, got ${JSON.stringify(o.keywords)}`, { file: source });
  let prev = -Infinity;
  o.keywords.forEach((k: unknown, i) => {
    const w = k as { word?: unknown; onsetSec?: unknown; offsetSec?: unknown } | null;
    const onset = w?.onsetSec;
    const offset = w?.offsetSec;
    if (typeof w?.word !== 'string' || typeof onset !== 'number' || typeof offset !== 'number' || !Number.isFinite(onset) || !(offset >= onset)) throw new EdgeRnnError('BAD_DATA', `${source}: keywords[${i}]: expected {"word": string, "onsetSec": s, "offsetSec": s >= onsetSec}, got ${JSON.stringify(k)}`, { file: source, keyword: i });
    if (onset < prev) throw new EdgeRnnError('BAD_DATA', `${source}: keywords[${i}]: onsetSec ${onset} before the previous keyword's (${prev}); keywords must be sorted by onset`, { file: source, keyword: i });
    prev = onset;
  });
  return json as StreamTruthLike;
}
