/**
 * Streaming evaluation: the label sequence a live detector would produce, with and without
 * smoothing (src/detectors/har), on held-out volunteers.
 *
 *  recordings  each recording's windows alone (hop = the manifest's), as scoreRecordings gives
 *              them (the front-end tests prove batch windows equal streamed ones, bit for bit);
 *              per window: smoothed label vs truth; per recording: the majority of its labels
 *  continuous  every held-out volunteer's recordings joined in the order they were recorded
 *              (file start times) into one stream, pushed through HarStream (front end, int8
 *              model, window by window) without resets: windows straddle activity changes as
 *              they would on a wrist. A window's truth is the activity of most of its samples;
 *              a recording's label is the majority over windows centred inside it.
 */
import { createRuntime, encodeModel, type ModelSpec, type Runtime } from '../../../src/index.js';
import { HarStream, LabelSmoother, type SmoothingOptions } from '../../../src/detectors/har/index.js';
import { HAR_CLASSES } from './classes.js';
import type { HmpRecording } from './hmp.js';
import { argmax, type RecordingScore } from './score.js';

export interface SmoothingVariant {
  name: string;
  options: Partial<SmoothingOptions>;
}

/** The variants reported: raw argmax, majority over 3 and 5 windows, the sticky HMM. */
export const SMOOTHING_VARIANTS: readonly SmoothingVariant[] = [
  { name: 'none', options: { kind: 'none' } },
  { name: 'majority-3', options: { kind: 'majority', window: 3 } },
  { name: 'majority-5', options: { kind: 'majority', window: 5 } },
  { name: 'hmm-0.9', options: { kind: 'hmm', stay: 0.9 } },
];

export interface StreamAccuracy {
  variant: string;
  windows: number;
  windowAccuracy: number;
  recordings: number;
  recordingAccuracy: number;
}

function majority(labels: readonly number[], C: number): number {
  const counts = new Array<number>(C).fill(0);
  for (const l of labels) counts[l]!++;
  return argmax(counts);
}

/** Per-recording streams: smoothing applied to each recording's window posteriors. */
export function smoothedRecordingAccuracy(scores: readonly RecordingScore[], variant: SmoothingVariant): StreamAccuracy {
  const C = HAR_CLASSES.length;
  let wRight = 0;
  let wAll = 0;
  let rRight = 0;
  for (const s of scores) {
    const sm = new LabelSmoother(C, variant.options);
    const labels: number[] = [];
    for (let w = 0; w < s.windows; w++) {
      const l = sm.push(s.posteriors.subarray(w * C, (w + 1) * C));
      labels.push(l);
      if (l === s.y) wRight++;
      wAll++;
    }
    if (majority(labels, C) === s.y) rRight++;
  }
  return { variant: variant.name, windows: wAll, windowAccuracy: wRight / Math.max(1, wAll), recordings: scores.length, recordingAccuracy: rRight / Math.max(1, scores.length) };
}

export interface ContinuousStream {
  volunteer: string;
  /** Codes [n][3] of the joined recordings. */
  codes: Uint8Array;
  /** Class of each sample. */
  truth: Int8Array;
  /** Recording boundaries, samples: [start, end) per recording. */
  spans: Array<{ file: string; y: number; start: number; end: number }>;
}

/** Joins each volunteer's recordings in recording order (start time, then file name). */
export function continuousStreams(recs: readonly HmpRecording[]): ContinuousStream[] {
  const vols = [...new Set(recs.map((r) => r.volunteer))].sort();
  return vols.map((v) => {
    const mine = recs.filter((r) => r.volunteer === v).sort((a, b) => (a.startTime < b.startTime ? -1 : a.startTime > b.startTime ? 1 : a.file < b.file ? -1 : 1));
    const n = mine.reduce((a, r) => a + r.samples, 0);
    const codes = new Uint8Array(n * 3);
    const truth = new Int8Array(n);
    const spans: ContinuousStream['spans'] = [];
    let at = 0;
    for (const r of mine) {
      const y = HAR_CLASSES.indexOf(r.activity as (typeof HAR_CLASSES)[number]);
      codes.set(r.codes, at * 3);
      truth.fill(y, at, at + r.samples);
      spans.push({ file: r.file, y, start: at, end: at + r.samples });
      at += r.samples;
    }
    return { volunteer: v, codes, truth, spans };
  });
}

export interface StreamWindows {
  /** Posterior per window [k][C] (raw, unsmoothed). */
  posteriors: Float32Array;
  /** Truth per window (majority of its input samples). */
  truth: Int8Array;
  /** Centre of each window, input samples. */
  centre: Float64Array;
  count: number;
}

/**
 * Pushes a joined stream through HarStream in chunks of `chunk` samples and collects each
 * window's raw posterior. Window k spans input samples [k·hop·in/out, (k·hop + W)·in/out).
 */
export function runStream(stream: HarStream, s: ContinuousStream, chunk = 32): StreamWindows {
  const spec = stream.model.spec.input.frontend as unknown as { inputRateHz: number; rateHz: number; windowSize: number; hop: number };
  const C = stream.model.outputSize;
  const ratio = spec.inputRateHz / spec.rateHz;
  const post: number[] = [];
  const truth: number[] = [];
  const centre: number[] = [];
  const n = s.codes.length / 3;
  stream.reset();
  for (let i = 0; i < n; i += chunk) {
    stream.push(s.codes.subarray(i * 3, Math.min(n, i + chunk) * 3), (w) => {
      const a = Math.floor(w.index * spec.hop * ratio);
      const b = Math.min(n, Math.floor((w.index * spec.hop + spec.windowSize) * ratio));
      const counts = new Array<number>(C).fill(0);
      for (let t = a; t < b; t++) counts[s.truth[t]!]!++;
      truth.push(argmax(counts));
      centre.push((a + b) / 2);
      for (let j = 0; j < C; j++) post.push(w.posterior[j]!);
    });
  }
  return { posteriors: Float32Array.from(post), truth: Int8Array.from(truth), centre: Float64Array.from(centre), count: truth.length };
}

/** Accuracy of one smoothing variant on a joined stream's windows. */
export function streamAccuracy(s: ContinuousStream, w: StreamWindows, variant: SmoothingVariant): { windowsRight: number; windows: number; recordingsRight: number; recordings: number } {
  const C = HAR_CLASSES.length;
  const sm = new LabelSmoother(C, variant.options);
  const labels: number[] = [];
  let right = 0;
  for (let k = 0; k < w.count; k++) {
    const l = sm.push(w.posteriors.subarray(k * C, (k + 1) * C));
    labels.push(l);
    if (l === w.truth[k]) right++;
  }
  let recRight = 0;
  let recs = 0;
  let k = 0;
  for (const span of s.spans) {
    const mine: number[] = [];
    while (k < w.count && w.centre[k]! < span.end) {
      if (w.centre[k]! >= span.start) mine.push(labels[k]!);
      k++;
    }
    if (mine.length === 0) continue; // shorter than a hop: no window centred inside
    recs++;
    if (majority(mine, C) === span.y) recRight++;
  }
  return { windowsRight: right, windows: w.count, recordingsRight: recRight, recordings: recs };
}

/** Streams every held-out volunteer of each fold through its int8 model; accuracy per smoothing variant. */
export async function continuousAccuracy(folds: ReadonlyArray<{ int8: ModelSpec; test: readonly HmpRecording[] }>, variants = SMOOTHING_VARIANTS, rt?: Runtime): Promise<StreamAccuracy[]> {
  const runtime = rt ?? (await createRuntime());
  const tot = variants.map((v) => ({ variant: v.name, windows: 0, windowsRight: 0, recordings: 0, recordingsRight: 0 }));
  for (const f of folds) {
    const model = await runtime.load(encodeModel(f.int8), { source: f.int8.name });
    const stream = new HarStream(model, { smoothing: { kind: 'none' } });
    try {
      for (const s of continuousStreams(f.test)) {
        const w = runStream(stream, s);
        variants.forEach((v, i) => {
          const a = streamAccuracy(s, w, v);
          const t = tot[i]!;
          t.windows += a.windows;
          t.windowsRight += a.windowsRight;
          t.recordings += a.recordings;
          t.recordingsRight += a.recordingsRight;
        });
      }
    } finally {
      stream.dispose();
      model.dispose();
    }
  }
  return tot.map((t) => ({ variant: t.variant, windows: t.windows, windowAccuracy: t.windowsRight / Math.max(1, t.windows), recordings: t.recordings, recordingAccuracy: t.recordingsRight / Math.max(1, t.recordings) }));
}
