/**
 * The validation split of the anomaly job's forecasters (the per-series learner and the shipped
 * model): by time, not by window. Each series' steps are cut into a training part and a held-out
 * tail, and windows are taken inside each part, so no validation window shares a step with a
 * training window.
 *
 * Why: windows are 64 steps every 8 steps; the trainer's default split (a seeded 15% of the
 * windows) held out windows that shared up to 56 of their 64 steps with training windows on
 * either side, so early stopping watched a nearly in-sample loss.
 *
 *   steps  first ............................ valStart ............ end
 *          [ training windows, inputs + lookahead ] [ validation windows ]
 *
 * A window of `length` steps from `start` reads inputs start .. start+length−1 and, for a
 * next-step forecast (lookahead 1), the target at start+length; every step it reads lies inside
 * its own part. No seed: the split is a function of the series length alone.
 */

/** One window: `length` input steps from `start` (plus `lookahead` target steps after them). */
export interface WindowRange {
  start: number;
  length: number;
}

export interface TimeSplit {
  train: WindowRange[];
  /** Validation windows; equal to `train` when the series is too short to hold a part out (see `heldOut`). */
  val: WindowRange[];
  /** First step of the held-out tail (`end` when nothing is held out). */
  valStart: number;
  /** false: too few steps for two parts, validation is the training windows themselves (in-sample). */
  heldOut: boolean;
}

export interface TimeSplitOptions {
  /** First usable step (after a warm-up, say). */
  first: number;
  /** End of the series' steps (exclusive). */
  end: number;
  /** Steps per window; a part shorter than that gets windows as long as it allows. */
  length: number;
  /** Steps between window starts. */
  stride: number;
  /** Share of the steps first .. end−1 held out at the end, rounded to whole steps. */
  valFraction: number;
  /** Steps a window reads after its last input: 1 for a next-step forecast's target, 0 when the targets are inside the window. */
  lookahead: 0 | 1;
}

/** Shortest window either part must hold for the split to be made: one step says nothing about the recurrence. */
export const MIN_SPLIT_WINDOW = 2;

/** Windows inside steps [from, to): as long as `length` allows, every `stride` steps, the last ending by `to`. */
export function windowsIn(from: number, to: number, length: number, stride: number, lookahead: 0 | 1): WindowRange[] {
  const T = Math.min(length, to - from - lookahead);
  const out: WindowRange[] = [];
  if (T < 1) return out;
  for (let s = from; s + T + lookahead <= to; s += stride) out.push({ start: s, length: T });
  return out;
}

/**
 * The training windows before `valStart` and the validation windows from it. A series too short
 * for both parts to hold a window of MIN_SPLIT_WINDOW steps keeps every window for training and
 * validates on them (in-sample, as the trainer does below 10 windows): early stopping then only
 * watches the training loss. NAB's shortest probationary period (169 records) is well above that.
 */
export function splitByTime(o: TimeSplitOptions): TimeSplit {
  const n = o.end - o.first;
  const valSteps = Math.round(n * o.valFraction);
  const valStart = o.end - valSteps;
  const canSplit = valSteps - o.lookahead >= MIN_SPLIT_WINDOW && n - valSteps - o.lookahead >= MIN_SPLIT_WINDOW;
  if (!canSplit) {
    const all = windowsIn(o.first, o.end, o.length, o.stride, o.lookahead);
    return { train: all, val: all, valStart: o.end, heldOut: false };
  }
  return {
    train: windowsIn(o.first, valStart, o.length, o.stride, o.lookahead),
    val: windowsIn(valStart, o.end, o.length, o.stride, o.lookahead),
    valStart,
    heldOut: true,
  };
}
