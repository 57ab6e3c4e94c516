/**
 * Training sequences cut from a long stream with ground truth (a stream of the training voices,
 * streams.ts), so the classifier sees what the detector will see: continuous non-keyword speech,
 * noise changing under it, and a keyword followed by more audio. Node-free.
 *
 * A window is `lengthSec` of frames ending at time e, labelled by what happened just before e
 * (the classifier's label is read at the last step, as in the trainer):
 *   keyword k     k's utterance ended at least `posMinSec` and at most `posMaxSec` before e
 *                 (the 1 s training clips put the word's end 0.15–0.45 s before the clip's end)
 *   _unknown_     otherwise, when speech overlaps the last `speechLookbackSec` before e
 *   _silence_     otherwise (noise only)
 * Windows whose end falls inside a keyword, or within (posMaxSec, negAfterSec] after one, are
 * ambiguous and skipped. Positives: `positivesPerKeyword` ends per keyword, at the centres of
 * equal parts of [posMinSec, posMaxSec]. Negatives: `negatives` ends drawn uniformly (seeded), kept when not
 * ambiguous.
 */
import { Rng } from '../../../src/index.js';

export interface WindowTruth {
  durationSec: number;
  keywords: readonly { word: string; onsetSec: number; offsetSec: number }[];
  speech: readonly { onsetSec: number; offsetSec: number }[];
}

export interface WindowOptions {
  /** Frame rate of the features, Hz (1000 / hopMs). */
  frameRateHz: number;
  /** Stream time at which frame t ends: t / frameRateHz + frameOffsetSec (the frame length). */
  frameOffsetSec: number;
  lengthSec: number;
  posMinSec: number;
  posMaxSec: number;
  negAfterSec: number;
  speechLookbackSec: number;
  positivesPerKeyword: number;
  negatives: number;
  seed: number;
}

export const WINDOW_DEFAULTS: Omit<WindowOptions, 'frameRateHz' | 'frameOffsetSec'> = {
  lengthSec: 1.5,
  posMinSec: 0.1,
  posMaxSec: 0.45,
  negAfterSec: 0.7,
  speechLookbackSec: 1.0,
  positivesPerKeyword: 2,
  negatives: 3000,
  seed: 7,
};

export interface StreamWindow {
  /** Last frame index (inclusive). */
  endFrame: number;
  T: number;
  label: string;
}

/** The label of a window ending at time e, or null when it is ambiguous. */
export function labelAt(truth: WindowTruth, e: number, o: Pick<WindowOptions, 'posMinSec' | 'posMaxSec' | 'negAfterSec' | 'speechLookbackSec'>): string | null {
  for (const k of truth.keywords) {
    if (k.onsetSec < e && e < k.offsetSec) return null; // inside the word
    const after = e - k.offsetSec;
    if (after >= 0 && after < o.posMinSec) return null;
    if (after >= o.posMinSec && after <= o.posMaxSec) return k.word;
    if (after > o.posMaxSec && after <= o.negAfterSec) return null;
  }
  const from = e - o.speechLookbackSec;
  const speaking = [...truth.speech, ...truth.keywords].some((s) => s.onsetSec < e && s.offsetSec > from);
  return speaking ? '_unknown_' : '_silence_';
}

/** Window ends and labels over a stream of `frames` frames. */
export function streamWindows(truth: WindowTruth, frames: number, options: WindowOptions): StreamWindow[] {
  const o = options;
  const T = Math.round(o.lengthSec * o.frameRateHz);
  const frameAt = (sec: number): number => Math.round((sec - o.frameOffsetSec) * o.frameRateHz);
  const timeOf = (frame: number): number => frame / o.frameRateHz + o.frameOffsetSec;
  const out: StreamWindow[] = [];
  const add = (endFrame: number): void => {
    if (endFrame < T - 1 || endFrame >= frames) return;
    const label = labelAt(truth, timeOf(endFrame), o);
    if (label !== null) out.push({ endFrame, T, label });
  };
  for (const k of truth.keywords) {
    for (let i = 0; i < o.positivesPerKeyword; i++) {
      // Evenly inside the interval, away from its ends (where frame rounding could cross them).
      const f = (i + 0.5) / o.positivesPerKeyword;
      add(frameAt(k.offsetSec + o.posMinSec + f * (o.posMaxSec - o.posMinSec)));
    }
  }
  const rng = new Rng(o.seed);
  for (let i = 0; i < o.negatives; i++) add(rng.int(T - 1, frames - 1));
  return out;
}
