/**
 * Detectors turn per-step model outputs into events (Node-only module, though nothing here
 * touches Node). One instance per device stream; a factory per kind, so task-specific
 * detectors (keyword spotting, activity recognition, anomaly benchmarks) plug in by registering
 * a factory with the gateway:
 *
 *   const gw = await Gateway.create({ config, detectors: { kws: createKwsDetector } });
 *
 * Two ship here: `threshold` (score >= on for minSteps steps fires, re-arms below off:
 * hysteresis) and `smoothing` (posterior smoothing: mean of the last `window` posteriors, fire
 * when a non-background class reaches the threshold; Chen, Parada & Heigold, ICASSP 2014).
 */
import { EdgeRnnError } from '../errors.js';
import type { ModelSpec } from '../model/spec.js';
import { DEFAULTS, type DetectorConfig, type SmoothingDetectorConfig, type ThresholdDetectorConfig } from './config.js';

export interface DetectorEvent {
  /** What was detected (a label, or "anomaly"). */
  label: string;
  /** The detector's score at the moment it fired. */
  score: number;
}

export interface Detector {
  /**
   * One step: the model's outputs and the input frame that produced them (both views valid
   * only during the call). Returns an event when one fires.
   */
  step(output: Float32Array, input: Float32Array): DetectorEvent | null;
  /** The score of the last step (kept in the alert's evidence window). */
  readonly lastScore: number;
  reset(): void;
  /** JSON-serializable state, saved with the device stream on eviction and hand-off. */
  exportState(): unknown;
  importState(state: unknown): void;
}

export interface DetectorContext {
  /** The model's output labels (may be empty). */
  labels: readonly string[];
  outputSize: number;
  inputSize: number;
  /** Config path of the detector, for error messages ("routes[0].detector"). */
  path: string;
  /** The model's spec, for detectors whose settings travel in the manifest (kws, anomaly). */
  spec?: ModelSpec;
}

export type DetectorFactory = (cfg: DetectorConfig, ctx: DetectorContext) => Detector;

function configError(ctx: DetectorContext, field: string, expected: string, got: unknown): EdgeRnnError {
  // NaN and ±Infinity as themselves (JSON prints them as null).
  const shown = typeof got === 'number' && !Number.isFinite(got) ? String(got) : JSON.stringify(got);
  return new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.${field} must be ${expected}, got ${shown}`, { field: `${ctx.path}.${field}`, expected, got });
}

/** Resolves an output given as index or label. */
export function resolveOutput(ref: number | string, ctx: DetectorContext, field: string): number {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 0 || ref >= ctx.outputSize) throw configError(ctx, field, `an output index in [0, ${ctx.outputSize - 1}]`, ref);
    return ref;
  }
  const i = ctx.labels.indexOf(ref);
  if (i < 0) throw configError(ctx, field, ctx.labels.length ? `one of the model's labels (${ctx.labels.join(', ')})` : 'an output index (the model has no labels)', ref);
  return i;
}

const isFiniteNumber = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

function stateError(kind: string, why: string): EdgeRnnError {
  return new EdgeRnnError('GATEWAY_STATE', `${kind} detector: cannot import state: ${why}`);
}

/** The range of the model's outputs where its last layer bounds them, else undefined. */
function outputBound(spec: ModelSpec | undefined): { min: number; max: number; layer: string } | undefined {
  const last = spec?.layers[spec.layers.length - 1];
  if (last?.kind === 'softmax') return { min: 0, max: 1, layer: 'softmax' };
  if (last?.kind === 'logSoftmax') return { min: -Infinity, max: 0, layer: 'logSoftmax' };
  if (last?.kind === 'dense' && last.activation === 'sigmoid') return { min: 0, max: 1, layer: 'a sigmoid dense layer' };
  if (last?.kind === 'dense' && last.activation === 'tanh') return { min: -1, max: 1, layer: 'a tanh dense layer' };
  return undefined;
}

/** Frames a forecast may look ahead: the detector keeps that many predictions per stream. */
const MAX_HORIZON = 100_000;

/**
 * What a forecaster's outputs predict: output k predicts input `inputOf[k]` of the frame
 * `horizon` frames later. `edgernn train --task forecast` on a CSV records its windowing in the
 * manifest (extra.data: horizon, the input columns, the target columns); without that record
 * (JSON Lines, .npy, converted models) output k predicts input k of the next frame. Scored as
 * next-frame predictions of every input, a model trained with --horizon 3 or --target-columns
 * got a silently wrong score (or was refused for having fewer outputs than inputs).
 */
export function forecastTargets(ctx: DetectorContext, refuse: (why: string) => EdgeRnnError): { horizon: number; inputOf: number[] } {
  const data = ctx.spec?.extra?.data as Record<string, unknown> | undefined;
  const name = ctx.spec?.name ?? '';
  const fail = (key: string, expected: string): never => {
    const got = data?.[key];
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}: model '${name}' records extra.data.${key} = ${JSON.stringify(got)}, expected ${expected}`, { field: ctx.path, expected, got });
  };
  const horizon = data?.horizon ?? 1;
  if (!(typeof horizon === 'number' && Number.isInteger(horizon) && horizon >= 1 && horizon <= MAX_HORIZON)) fail('horizon', `an integer in [1, ${MAX_HORIZON}]`);
  const targets = data?.targetColumns;
  if (targets === undefined || (Array.isArray(targets) && targets.length === 0)) {
    if (ctx.outputSize !== ctx.inputSize) throw refuse(`${ctx.inputSize} inputs, ${ctx.outputSize} outputs`);
    return { horizon: horizon as number, inputOf: Array.from({ length: ctx.inputSize }, (_, k) => k) };
  }
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) return fail('targetColumns', 'a list of column names');
  const columns = Array.isArray(data?.columns) ? (data.columns as unknown[]) : (ctx.spec?.input?.names ?? []);
  const inputOf = (targets as string[]).map((t) => {
    const i = columns.indexOf(t);
    if (i < 0 || i >= ctx.inputSize) throw refuse(`it forecasts column '${t}', not one of its inputs ${columns.join(', ')} (the gateway sees only the inputs)`);
    return i;
  });
  if (inputOf.length !== ctx.outputSize) fail('targetColumns', `${ctx.outputSize} column names (one per model output)`);
  return { horizon: horizon as number, inputOf };
}

/**
 * Threshold with hysteresis on one output, on the forecast error of a forecasting model, or on
 * the reconstruction error of an autoencoder (`edgernn train --task autoencoder`).
 */
export function createThresholdDetector(cfg: DetectorConfig, ctx: DetectorContext): Detector {
  const c = cfg as ThresholdDetectorConfig;
  const forecast = c.score === 'forecastError';
  const reconstruct = c.score === 'reconstructionError';
  // The detector sees the last output of each window only: errors against frames it never saw.
  if ((forecast || reconstruct) && (ctx.spec?.input?.frontend as { windows?: unknown } | undefined)?.windows !== undefined) {
    throw configError(ctx, 'score', `"output" for this model (its front end serves windows, and the detector sees only the last output of each: '${c.score}' needs every frame)`, c.score);
  }
  // forecastError: output k of the frame `horizon` frames ago predicted input inputOf[k] of this one.
  const { horizon: H, inputOf } = forecast ? forecastTargets(ctx, (why) => configError(ctx, 'score', `"output" for this model ('forecastError' needs outputs that predict the next input: ${why})`, c.score)) : { horizon: 1, inputOf: [] };
  if (reconstruct && (ctx.outputSize === 0 || ctx.outputSize % ctx.inputSize !== 0)) {
    throw configError(ctx, 'score', `"output" for this model ('reconstructionError' needs an autoencoder's outputs, the last W input frames: a multiple of ${ctx.inputSize} values, not ${ctx.outputSize})`, c.score);
  }
  const index = forecast || reconstruct ? 0 : resolveOutput(c.output, ctx, 'output');
  // An output bounded by the model's last layer cannot reach a threshold beyond the bound: such
  // a detector never fires, silently (`edgernn gateway --threshold 2` on a classifier).
  const bound = forecast || reconstruct ? undefined : outputBound(ctx.spec);
  if (bound !== undefined && c.on > bound.max) throw configError(ctx, 'on', `at most ${bound.max} (the model ends in ${bound.layer}: its outputs lie in [${bound.min}, ${bound.max}])`, c.on);
  const label = forecast || reconstruct ? 'anomaly' : (ctx.labels[index] ?? `output${index}`);
  // The last H outputs, a ring (the oldest at prevHead once `filled` reaches H).
  const O = ctx.outputSize;
  const prev = new Float32Array(H * O);
  let filled = 0;
  let prevHead = 0;
  // reconstructionError: the last W input frames, a ring (the newest at ringHead - 1).
  const F = ctx.inputSize;
  const W = reconstruct ? ctx.outputSize / F : 0;
  const recent = new Float32Array(W * F);
  let seen = 0;
  let ringHead = 0;
  let run = 0;
  let active = false;
  let refractory = 0;
  let score = 0;
  return {
    get lastScore() {
      return score;
    },
    step(output, input) {
      if (forecast) {
        // score(t) = mean_k |y(t-H)_k - x(t)_inputOf[k]|: the step H frames ago predicted this input.
        const at = prevHead * O;
        let e = 0;
        if (filled === H) for (let k = 0; k < O; k++) e += Math.abs(prev[at + k]! - input[inputOf[k]!]!);
        score = filled === H ? e / O : 0;
        prev.set(output.subarray(0, O), at);
        prevHead = (prevHead + 1) % H;
        if (filled < H) filled++;
      } else if (reconstruct) {
        // The output at step t reconstructs frames t-W+1 .. t, oldest first (the trainer's
        // layout). score(t) = mean squared error over the frames seen so far, as `edgernn eval`
        // scores an autoencoder (its --json sequenceErrors are the same error per sequence).
        recent.set(input.subarray(0, F), ringHead * F);
        ringHead = (ringHead + 1) % W;
        if (seen < W) seen++;
        let sq = 0;
        for (let w = W - seen; w < W; w++) {
          const slot = (ringHead - (W - w) + W) % W;
          for (let k = 0; k < F; k++) {
            const d = output[w * F + k]! - recent[slot * F + k]!;
            sq += d * d;
          }
        }
        score = sq / (seen * F);
      } else {
        score = output[index]!;
      }
      // The R steps after an alert are blocked (the decrement used to come first, so R = 3
      // blocked only 2 and an alert fired 3 steps after the last).
      const blocked = refractory > 0;
      if (blocked) refractory--;
      if (active) {
        if (score < c.off) {
          active = false;
          run = 0;
        }
        return null;
      }
      run = score >= c.on ? run + 1 : 0;
      if (run >= c.minSteps && !blocked) {
        active = true;
        run = 0;
        refractory = c.refractorySteps;
        return { label, score };
      }
      return null;
    },
    reset() {
      filled = 0;
      prevHead = 0;
      run = 0;
      active = false;
      refractory = 0;
      score = 0;
      recent.fill(0);
      seen = 0;
      ringHead = 0;
    },
    exportState() {
      // With a horizon of 1 the state is as it always was ({havePrev, prev}); beyond, the ring's fill and head too.
      return { run, active, refractory, score, havePrev: filled === H, prev: Array.from(prev), ...(H > 1 ? { filled, prevHead } : {}), ...(reconstruct ? { recent: Array.from(recent), seen, ringHead } : {}) };
    },
    importState(s) {
      const o = s as { run: number; active: boolean; refractory: number; score: number; havePrev: boolean; prev: number[]; filled?: unknown; prevHead?: unknown; recent?: unknown; seen?: unknown; ringHead?: unknown };
      // Saved before forecasts had a horizon (gateways until 2026-11-27: one previous output, no
      // ring), compared with the next frame rather than the one H frames on: the ring starts
      // empty (H frames without a score, as after a reset) and the rest is kept. Refused, every
      // stream of the route lost its model state at the upgrade.
      const beforeHorizon = H > 1 && typeof o === 'object' && o !== null && o.filled === undefined && o.prevHead === undefined && Array.isArray(o.prev) && o.prev.length === O;
      const prevLength = beforeHorizon ? O : prev.length;
      if (typeof o !== 'object' || o === null || !Array.isArray(o.prev) || o.prev.length !== prevLength || !o.prev.every(isFiniteNumber)) throw stateError('threshold', `expected ${prev.length} previous outputs (finite numbers)`);
      if (H > 1 && !beforeHorizon && !(Number.isInteger(o.filled) && (o.filled as number) >= 0 && (o.filled as number) <= H && Number.isInteger(o.prevHead) && (o.prevHead as number) >= 0 && (o.prevHead as number) < H)) {
        throw stateError('threshold', `expected the count of kept predictions (0 to ${H}, the model's horizon) and the ring position (0 to ${H - 1})`);
      }
      if (reconstruct && o.recent !== undefined) {
        const ok =
          Array.isArray(o.recent) && o.recent.length === recent.length && o.recent.every(isFiniteNumber) && Number.isInteger(o.seen) && (o.seen as number) >= 0 && (o.seen as number) <= W && Number.isInteger(o.ringHead) && (o.ringHead as number) >= 0 && (o.ringHead as number) < W;
        if (!ok) throw stateError('threshold', `expected the last ${W} input frames (${recent.length} finite numbers), their count (0 to ${W}) and the ring position (0 to ${W - 1})`);
      }
      run = Number(o.run) || 0;
      active = o.active === true;
      refractory = Number(o.refractory) || 0;
      score = Number(o.score) || 0;
      filled = beforeHorizon ? 0 : H > 1 ? (o.filled as number) : o.havePrev === true ? 1 : 0;
      prevHead = H > 1 && !beforeHorizon ? (o.prevHead as number) : 0;
      if (beforeHorizon) prev.fill(0);
      else prev.set(o.prev);
      // A state saved under another score (the route's config changed) has no frames: start the
      // window afresh, as after a reset.
      if (reconstruct && Array.isArray(o.recent)) {
        recent.set(o.recent as number[]);
        seen = o.seen as number;
        ringHead = o.ringHead as number;
      } else {
        recent.fill(0);
        seen = 0;
        ringHead = 0;
      }
    },
  };
}

/**
 * A model served in windows: the last `frames` frames every `hop`, from `input.frontend.windows`,
 * or from a front end that windows by itself (imu: windowSize frames every hop, what its built
 * front end gives as framesPerWindow and hopFrames; models/har.ern, whose 1 s decisions got the
 * session defaults: a 30 s mean of windows an activity is in at most 4 of).
 */
interface ServedWindows {
  frames: number;
  hop: number;
  /** The most windows in a row a frame is in: frames / hop. */
  most: number;
  /** Milliseconds between decisions, for an audio front end (hop frames of hopMs). */
  ms?: number;
}

function servedWindows(ctx: DetectorContext): ServedWindows | undefined {
  const fe = ctx.spec?.input?.frontend as { kind?: unknown; hopMs?: unknown; windows?: { frames: number; hop: number }; windowSize?: unknown; hop?: unknown } | undefined;
  const own = fe?.kind === 'imu' && typeof fe.windowSize === 'number' && fe.windowSize > 1 && typeof fe.hop === 'number' ? { frames: fe.windowSize, hop: fe.hop } : undefined;
  const windows = fe?.windows ?? own;
  if (fe === undefined || windows === undefined) return undefined;
  const { frames, hop } = windows;
  const audio = (fe.kind === 'mfcc' || fe.kind === 'logmel') && typeof fe.hopMs === 'number';
  return { frames, hop, most: Math.max(1, Math.floor(frames / hop)), ...(audio ? { ms: hop * (fe.hopMs as number) } : {}) };
}

/**
 * A smoothing route's `window` and `refractorySteps` when it leaves them out. They count decisions,
 * and the config's defaults (30 and 50) are for 10 ms frames of a model served as one session. A
 * model served in windows decides once per window, and an event stays in at most frames / hop of
 * them: the defaults averaged 3 s of a clip classifier's 100 ms windows (refused), or 30 of a CSV
 * classifier's windows, where an event seen in 2 never reached the threshold (silently). So:
 *   - audio in windows: 300 ms of decisions (at most frames / hop), a second before the next event;
 *   - other windows (`edgernn train` on a CSV: --seq-len rows every --stride; an imu front end's
 *     windowSize every hop, models/har.ern: 4 and 4, not a 30 s mean): frames / hop decisions,
 *     and as many refractory (the windows that still hold the event), at most 30 and 50;
 *   - one session (or no windows): 30 and 50.
 */
export function smoothingDefaults(ctx: DetectorContext): { window: number; refractorySteps: number } {
  const d = DEFAULTS.smoothing;
  const w = servedWindows(ctx);
  if (w === undefined) return { window: d.window, refractorySteps: d.refractorySteps };
  if (w.ms !== undefined) return { window: Math.min(w.most, Math.max(1, Math.round(300 / w.ms))), refractorySteps: Math.max(1, Math.round(1000 / w.ms)) };
  return { window: Math.min(w.most, d.window), refractorySteps: Math.min(w.most, d.refractorySteps) };
}

/**
 * A model trained on audio clips (`edgernn train` on a WAV folder, models/kws.ern) decides once per
 * window (`input.frontend.windows`: the last `frames` frames every `hop`), and a sound stays in at
 * most frames / hop windows in a row. A mean over more decisions than that never reaches the
 * threshold for a sound the model was trained on: a route's window of 30 (10 ms frames of a model
 * served as one session) on 100 ms windows averaged 3 s, and the route raised nothing, silently
 * (0 of 54 keywords on a test stream). A route that leaves window out gets one that fits.
 */
function checkSmoothingSpan(window: number, ctx: DetectorContext): void {
  const w = servedWindows(ctx);
  if (w?.ms === undefined || window <= w.most) return;
  const { frames, hop, most, ms } = w;
  const fit = smoothingDefaults(ctx);
  const expected = `at most ${most} for model '${ctx.spec!.name}': it decides once per window of ${frames} frames every ${hop} (${ms} ms), so ${window} decisions span ${(window * ms) / 1000} s, longer than a sound it was trained on, and the mean never reaches the threshold (window and refractorySteps count decisions: e.g. window ${fit.window} and refractorySteps ${fit.refractorySteps}, ${fit.window * ms} ms and ${fit.refractorySteps * ms} ms, what a route that leaves them out gets)`;
  throw configError(ctx, 'window', expected, window);
}

/**
 * Smoothing averages posteriors: on logits a mean of scores like 7.3 fired at random, and on
 * posteriors a threshold above 1 never fired (silently), one at or below 0 at every step.
 */
function checkPosteriors(c: SmoothingDetectorConfig, ctx: DetectorContext): void {
  const spec = ctx.spec;
  if (spec === undefined) return;
  const bound = outputBound(spec);
  if (bound?.min === 0 && bound.max === 1) {
    if (!(c.threshold > 0 && c.threshold <= 1)) throw configError(ctx, 'threshold', `in (0, 1] (the model ends in ${bound.layer}: the mean of its posteriors lies in [0, 1])`, c.threshold);
    return;
  }
  const last = spec.layers[spec.layers.length - 1];
  const what = bound !== undefined ? bound.layer : last?.kind === 'dense' ? `a dense layer with activation "${last.activation}" (logits, not probabilities)` : last ? `a ${last.kind} layer` : 'no layers';
  const expected = `a detector for this model: "smoothing" averages class posteriors (in [0, 1]), and model '${spec.name}' ends in ${what}; end the model in softmax, or use "threshold"`;
  throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.kind must be ${expected}, got "smoothing"`, { field: `${ctx.path}.kind`, expected, got: 'smoothing' });
}

/** Posterior smoothing over a sliding window, with background classes and a refractory period. */
export function createSmoothingDetector(cfg: DetectorConfig, ctx: DetectorContext): Detector {
  const c = cfg as SmoothingDetectorConfig;
  const O = ctx.outputSize;
  const fit = smoothingDefaults(ctx);
  const W = c.window ?? fit.window;
  const R = c.refractorySteps ?? fit.refractorySteps;
  const background = new Set(c.background.map((b, i) => resolveOutput(b, ctx, `background[${i}]`)));
  if (background.size >= O) throw configError(ctx, 'background', `fewer than all ${O} outputs`, c.background);
  checkPosteriors(c, ctx);
  checkSmoothingSpan(W, ctx);
  const ring = new Float64Array(W * O);
  const sum = new Float64Array(O);
  let head = 0;
  let count = 0;
  let refractory = 0;
  let score = 0;
  return {
    get lastScore() {
      return score;
    },
    step(output) {
      // sum_j = sum over the last W steps of p_j; smoothed p'_j = sum_j / min(count, W).
      const slot = head * O;
      for (let j = 0; j < O; j++) {
        const x = output[j]!;
        sum[j] = sum[j]! + x - (count === W ? ring[slot + j]! : 0);
        ring[slot + j] = x;
      }
      head = (head + 1) % W;
      if (count < W) count++;
      let best = -1;
      let bestP = -Infinity;
      for (let j = 0; j < O; j++) {
        if (background.has(j)) continue;
        const pj = sum[j]! / count;
        if (pj > bestP) {
          bestP = pj;
          best = j;
        }
      }
      score = bestP;
      if (refractory > 0) {
        refractory--;
        return null;
      }
      if (bestP >= c.threshold) {
        refractory = R;
        return { label: ctx.labels[best] ?? `output${best}`, score: bestP };
      }
      return null;
    },
    reset() {
      ring.fill(0);
      sum.fill(0);
      head = 0;
      count = 0;
      refractory = 0;
      score = 0;
    },
    exportState() {
      // The running sums travel too: re-adding the ring would round differently.
      return { head, count, refractory, score, ring: Array.from(ring), sum: Array.from(sum) };
    },
    importState(s) {
      const o = s as { head: number; count: number; refractory: number; score: number; ring: number[]; sum: number[] };
      if (typeof o !== 'object' || o === null || !Array.isArray(o.ring) || o.ring.length !== ring.length || !Array.isArray(o.sum) || o.sum.length !== O || !o.ring.every(isFiniteNumber) || !o.sum.every(isFiniteNumber)) {
        throw stateError('smoothing', `expected a ring of ${ring.length} values and ${O} sums (finite numbers)`);
      }
      // A head outside the ring (-1, 2.5) read undefined slots: sums went NaN or past 1 for good.
      if (!(Number.isInteger(o.head) && o.head >= 0 && o.head < W) || !(Number.isInteger(o.count) && o.count >= 0 && o.count <= W)) {
        throw stateError('smoothing', `head must be an integer in [0, ${W - 1}] and count in [0, ${W}], got head ${JSON.stringify(o.head)} and count ${JSON.stringify(o.count)}`);
      }
      ring.set(o.ring);
      head = o.head;
      count = o.count;
      refractory = Number(o.refractory) || 0;
      score = Number(o.score) || 0;
      sum.set(o.sum);
    },
  };
}

/** The detectors that ship with the gateway. */
export const BUILTIN_DETECTORS: Readonly<Record<string, DetectorFactory>> = {
  threshold: createThresholdDetector,
  smoothing: createSmoothingDetector,
};
