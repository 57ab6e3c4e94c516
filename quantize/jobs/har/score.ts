/**
 * Scoring through the runtime (the deployed code path): every window of a recording runs from a
 * fresh state, the class posterior is the softmax at the window's last frame; a recording's
 * label is the argmax of its windows' mean posterior, and with a duration model also of how long
 * the recording lasts (classifySegment, src/detectors/har/duration.ts).
 */
import { classifySegment, encodeModel, type BackendChoice, type DurationModel, type ImuFrontendSpec, type ModelSpec, type Runtime } from '../../../src/index.js';
import { classificationReport, type ClassificationReport } from '../../eval/metrics.js';
import { HAR_CLASSES } from './classes.js';
import type { HmpRecording } from './hmp.js';
import { recordingWindows } from './windows.js';

export interface RecordingScore {
  file: string;
  volunteer: string;
  /** True class index. */
  y: number;
  /** Window posteriors [windows][classes]. */
  posteriors: Float32Array;
  windows: number;
  /** The recording's length. */
  seconds: number;
}

export function argmax(v: ArrayLike<number>, start = 0, n = v.length - start): number {
  let best = 0;
  for (let c = 1; c < n; c++) if (v[start + c]! > v[start + best]!) best = c;
  return best;
}

/** Mean posterior over a recording's windows. */
export function meanPosterior(s: RecordingScore, C: number): Float64Array {
  const m = new Float64Array(C);
  for (let w = 0; w < s.windows; w++) for (let c = 0; c < C; c++) m[c] = m[c]! + s.posteriors[w * C + c]!;
  for (let c = 0; c < C; c++) m[c] = m[c]! / Math.max(1, s.windows);
  return m;
}

/** Runs a model over every window (hop = the front end's) of each recording. */
export async function scoreRecordings(rt: Runtime, spec: ModelSpec, frontend: ImuFrontendSpec, recs: readonly HmpRecording[], opts: { backend?: BackendChoice; padSeconds?: number } = {}): Promise<RecordingScore[]> {
  const model = await rt.load(encodeModel(spec), { backend: opts.backend ?? 'auto', source: spec.name });
  const C = model.outputSize;
  const session = model.session();
  try {
    return recs.map((r) => {
      const wins = recordingWindows(frontend, r, { hop: frontend.hop, padSeconds: opts.padSeconds ?? 0 });
      const post = new Float32Array(wins.length * C);
      wins.forEach((x, w) => {
        session.reset();
        const y = session.run(x);
        post.set(y.subarray(y.length - C), w * C);
      });
      return { file: r.file, volunteer: r.volunteer, y: HAR_CLASSES.indexOf(r.activity as (typeof HAR_CLASSES)[number]), posteriors: post, windows: wins.length, seconds: r.samples / frontend.inputRateHz };
    });
  } finally {
    session.dispose();
    model.dispose();
  }
}

export interface HarReports {
  /** One prediction per window. */
  window: ClassificationReport;
  /** One prediction per recording (mean posterior). */
  recording: ClassificationReport;
  /** One prediction per recording from its mean posterior and its length (when a duration model was given). */
  withLength?: ClassificationReport;
}

/** Reports per window and per recording; `duration` (a model, or one per recording) adds withLength. */
export function harReports(scores: readonly RecordingScore[], duration?: DurationModel | ((s: RecordingScore) => DurationModel)): HarReports {
  const C = HAR_CLASSES.length;
  const wt: number[] = [];
  const wp: number[] = [];
  const rt: number[] = [];
  const rp: number[] = [];
  const lp: number[] = [];
  for (const s of scores) {
    for (let w = 0; w < s.windows; w++) {
      wt.push(s.y);
      wp.push(argmax(s.posteriors, w * C, C));
    }
    rt.push(s.y);
    const m = meanPosterior(s, C);
    rp.push(argmax(m));
    if (duration) lp.push(classifySegment(m, s.seconds, typeof duration === 'function' ? duration(s) : duration));
  }
  const out: HarReports = { window: classificationReport(HAR_CLASSES, wt, wp), recording: classificationReport(HAR_CLASSES, rt, rp) };
  if (duration) out.withLength = classificationReport(HAR_CLASSES, rt, lp);
  return out;
}
