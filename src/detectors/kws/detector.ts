/**
 * Streaming keyword detection over per-step posteriors (browser-safe, allocation-free `step`).
 *
 * Input: one posterior vector per front-end hop (the softmax of a keyword model, one value per
 * label). Per step t:
 *
 *   smoothing      p'_j(t) = (1 / n) Σ_{s = t-n+1..t} p_j(s),  n = min(t + 1, W)
 *                  (moving average over W steps: Chen, Parada & Heigold, ICASSP 2014)
 *   candidates     keywords k with p'_k(t) >= θ_k (per-keyword thresholds), armed, and no
 *                  refractory period running
 *   event          the candidate with the largest p'_k(t) fires; then no event for R steps
 *                  (refractory period), and keyword k stays disarmed until p'_k falls below
 *                  rearm · θ_k (so one long utterance cannot fire twice once R has passed)
 *
 * Background labels (`_unknown_`, `_silence_`, by default every label starting with '_') never
 * fire. Event time: the detector counts steps; step t's frame ends at t·hopMs + frameMs of stream
 * time (frame t covers [t·hop, t·hop + frame)), which is when the event could first be known.
 *
 * Thresholds are tuned on validation data by the training job (quantize/jobs/kws) and stored in
 * the model manifest under `extra.kws.detector` (`KwsDetectorConfig`); `kwsDetectorConfigOf`
 * reads them back.
 */
import { EdgeRnnError } from '../../errors.js';

/** The serializable part of the options: what a model manifest stores (`extra.kws.detector`). */
export interface KwsDetectorConfig {
  /** Smoothing window, ms (W = max(1, round(windowMs / hopMs)) steps). */
  windowMs: number;
  /** After an event, no event for this long, ms (R = round(refractoryMs / hopMs) steps). */
  refractoryMs: number;
  /** Smoothed-posterior threshold per keyword label (every keyword needs one). */
  thresholds: Record<string, number>;
  /** A keyword re-arms when its smoothed posterior falls below rearm · θ_k (0 < rearm <= 1). */
  rearm: number;
  /** Labels that never fire; default: every label that starts with '_'. */
  background?: string[];
}

export interface KwsDetectorOptions extends KwsDetectorConfig {
  /** The model's output labels, in output order. */
  labels: readonly string[];
  /** Front-end hop, ms (one step per hop). */
  hopMs: number;
  /** Front-end frame length, ms: step t's frame ends at t·hopMs + frameMs (default hopMs). */
  frameMs?: number;
}

export const KWS_DETECTOR_DEFAULTS: Readonly<Pick<KwsDetectorConfig, 'windowMs' | 'refractoryMs' | 'rearm'>> = {
  windowMs: 300,
  refractoryMs: 1000,
  rearm: 1,
};

/** One detected keyword. `label` and `score` make it a gateway DetectorEvent as it is. */
export interface KwsEvent {
  /** The keyword. */
  label: string;
  /** Its output index. */
  index: number;
  /** Smoothed posterior when it fired. */
  score: number;
  /** Step (front-end frame index since the last reset) at which it fired. */
  step: number;
  /** Stream time at which step's frame ended, ms since the last reset. */
  timeMs: number;
}

/** Saved state (JSON-serializable) for eviction and hand-off. */
export interface KwsDetectorState {
  /** The detector's labels, in output order: a state of another model is refused. */
  labels: string[];
  step: number;
  head: number;
  count: number;
  refractory: number;
  score: number;
  ring: number[];
  sum: number[];
  armed: boolean[];
}

/** Largest smoothing window, steps (windowMs / hopMs). */
export const KWS_MAX_WINDOW_STEPS = 100_000;

const KWS_DETECTOR_FIELDS = ['labels', 'hopMs', 'frameMs', 'windowMs', 'refractoryMs', 'rearm', 'thresholds', 'background'] as const;

function optionError(field: string, expected: string, got: unknown): EdgeRnnError {
  return new EdgeRnnError('DETECTOR_OPTION', `keyword detector: ${field} must be ${expected}, got ${JSON.stringify(got)}`, { field, expected, got });
}

/** Validates options; errors name the field, what was expected and what was found. */
export function checkKwsDetectorOptions(o: KwsDetectorOptions): void {
  // A misspelt field (refractory for refractoryMs) was silently dropped for the default.
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw optionError('options', `an object {${KWS_DETECTOR_FIELDS.join(', ')}}`, o === null ? null : Array.isArray(o) ? 'an array' : typeof o);
  for (const k of Object.keys(o)) {
    if (!(KWS_DETECTOR_FIELDS as readonly string[]).includes(k)) {
      throw new EdgeRnnError('DETECTOR_OPTION', `keyword detector: ${k} is not an option (${KWS_DETECTOR_FIELDS.join(', ')})`, { field: k, expected: KWS_DETECTOR_FIELDS, got: k });
    }
  }
  if (!Array.isArray(o.labels) || o.labels.length < 2 || !o.labels.every((l) => typeof l === 'string' && l.length > 0)) throw optionError('labels', 'at least 2 non-empty label names', o.labels);
  if (new Set(o.labels).size !== o.labels.length) throw optionError('labels', 'distinct names', o.labels);
  if (!(typeof o.hopMs === 'number' && o.hopMs > 0 && Number.isFinite(o.hopMs))) throw optionError('hopMs', 'a positive number of ms', o.hopMs);
  if (o.frameMs !== undefined && !(typeof o.frameMs === 'number' && o.frameMs >= 0 && Number.isFinite(o.frameMs))) throw optionError('frameMs', 'a number of ms >= 0', o.frameMs);
  if (!(typeof o.windowMs === 'number' && o.windowMs > 0 && Number.isFinite(o.windowMs))) throw optionError('windowMs', 'a positive number of ms', o.windowMs);
  // The ring holds W × labels values per stream: a window of a day at 20 ms (or a hopMs of 1e-9)
  // allocated gigabytes, or threw a bare RangeError (the gateway's smoothing window has the same cap).
  if (Math.round(o.windowMs / o.hopMs) > KWS_MAX_WINDOW_STEPS) throw optionError('windowMs', `at most ${KWS_MAX_WINDOW_STEPS} steps of hopMs (${KWS_MAX_WINDOW_STEPS * o.hopMs} ms at hopMs ${o.hopMs})`, o.windowMs);
  if (!(typeof o.refractoryMs === 'number' && o.refractoryMs >= 0 && Number.isFinite(o.refractoryMs))) throw optionError('refractoryMs', 'a number of ms >= 0', o.refractoryMs);
  if (!(typeof o.rearm === 'number' && o.rearm > 0 && o.rearm <= 1)) throw optionError('rearm', 'a number in (0, 1]', o.rearm);
  const background = o.background ?? o.labels.filter((l) => l.startsWith('_'));
  if (!Array.isArray(background)) throw optionError('background', 'a list of labels', o.background);
  for (const b of background) if (!o.labels.includes(b)) throw optionError('background', `labels of the model (${o.labels.join(', ')})`, b);
  const keywords = o.labels.filter((l) => !background.includes(l));
  if (keywords.length === 0) throw optionError('background', 'fewer labels than the model has (no keyword would be left)', background);
  if (typeof o.thresholds !== 'object' || o.thresholds === null) throw optionError('thresholds', 'an object {keyword: threshold}', o.thresholds);
  for (const k of Object.keys(o.thresholds)) if (!keywords.includes(k)) throw optionError(`thresholds.${k}`, `a keyword of the model (${keywords.join(', ')})`, k);
  for (const k of keywords) {
    const t = o.thresholds[k];
    if (!(typeof t === 'number' && t > 0 && t <= 1)) throw optionError(`thresholds.${k}`, 'a smoothed posterior in (0, 1]', t);
  }
}

/**
 * Posterior smoothing, per-keyword thresholds and a refractory period over a stream of
 * posteriors. One instance per audio stream. Structurally a gateway `Detector`
 * (src/gateway/detectors.ts): `step(output)`, `lastScore`, `reset`, `exportState`, `importState`.
 */
export class KwsDetector {
  readonly labels: readonly string[];
  /** Output indices that may fire. */
  readonly keywordIndices: readonly number[];
  /** Smoothing window W, steps. */
  readonly windowSteps: number;
  /** Refractory period R, steps. */
  readonly refractorySteps: number;
  readonly hopMs: number;
  readonly frameMs: number;
  /** θ per output (Infinity for background outputs). */
  private readonly theta: Float64Array;
  private readonly rearmAt: Float64Array;
  private readonly O: number;
  private readonly ring: Float64Array;
  private readonly sum: Float64Array;
  private readonly armed: Uint8Array;
  private readonly smoothed: Float64Array;
  private head = 0;
  private count = 0;
  private refractory = 0;
  private steps = 0;
  private score = 0;

  constructor(options: KwsDetectorOptions) {
    checkKwsDetectorOptions(options);
    const o = options;
    this.labels = [...o.labels];
    this.O = o.labels.length;
    const background = o.background ?? o.labels.filter((l) => l.startsWith('_'));
    this.keywordIndices = o.labels.flatMap((l, i) => (background.includes(l) ? [] : [i]));
    this.hopMs = o.hopMs;
    this.frameMs = o.frameMs ?? o.hopMs;
    this.windowSteps = Math.max(1, Math.round(o.windowMs / o.hopMs));
    this.refractorySteps = Math.round(o.refractoryMs / o.hopMs);
    this.theta = new Float64Array(this.O).fill(Infinity);
    this.rearmAt = new Float64Array(this.O).fill(Infinity);
    for (const i of this.keywordIndices) {
      this.theta[i] = o.thresholds[o.labels[i]!]!;
      this.rearmAt[i] = o.rearm * this.theta[i]!;
    }
    this.ring = new Float64Array(this.windowSteps * this.O);
    this.sum = new Float64Array(this.O);
    this.armed = new Uint8Array(this.O).fill(1);
    this.smoothed = new Float64Array(this.O);
  }

  /** The largest smoothed keyword posterior of the last step. */
  get lastScore(): number {
    return this.score;
  }

  /** Steps seen since the last reset. */
  get stepCount(): number {
    return this.steps;
  }

  /** Smoothed posteriors of the last step (a view, overwritten by the next step). */
  get lastSmoothed(): Float64Array {
    return this.smoothed;
  }

  /**
   * One step: the model's posteriors for one hop. Returns the event that fires at this step, or
   * null. (The second argument is the input frame, which a gateway passes; unused.)
   */
  step(posteriors: ArrayLike<number>, _input?: ArrayLike<number>): KwsEvent | null {
    const O = this.O;
    if (posteriors === null || typeof posteriors !== 'object' || posteriors.length !== O) {
      const got = posteriors !== null && typeof posteriors === 'object' ? `${posteriors.length} posteriors` : `${posteriors === null ? 'null' : typeof posteriors} for the posteriors`;
      throw new EdgeRnnError('SHAPE_MISMATCH', `keyword detector: ${got}, the model has ${O} labels (${this.labels.join(', ')})`, { expected: O, got: posteriors?.length });
    }
    for (let j = 0; j < O; j++) {
      if (!Number.isFinite(posteriors[j]!)) throw new EdgeRnnError('NON_FINITE_INPUT', `keyword detector: posterior ${j} (${this.labels[j]}) at step ${this.steps} is ${posteriors[j]}`, { step: this.steps, output: j });
    }
    const W = this.windowSteps;
    // Running sums: sum_j += p_j(t) - p_j(t - W) once the window is full.
    const slot = this.head * O;
    for (let j = 0; j < O; j++) {
      const x = posteriors[j]!;
      this.sum[j] = this.sum[j]! + x - (this.count === W ? this.ring[slot + j]! : 0);
      this.ring[slot + j] = x;
    }
    this.head = this.head + 1 === W ? 0 : this.head + 1;
    if (this.count < W) this.count++;
    // Once per window (when the ring wraps) the sums are recomputed from the ring: each add/subtract
    // rounds, and the errors added up without bound (about 1e-13 after 10^6 steps, so a window of
    // silence smoothed to ±1e-14 instead of 0). Amortized O(labels) per step, no allocation.
    if (this.head === 0) this.recomputeSums();
    const step = this.steps++;
    let best = -1;
    let bestP = -Infinity;
    let top = -Infinity;
    for (let j = 0; j < O; j++) this.smoothed[j] = this.sum[j]! / this.count;
    for (const k of this.keywordIndices) {
      const p = this.smoothed[k]!;
      if (p > top) top = p;
      if (this.armed[k] === 0 && p < this.rearmAt[k]!) this.armed[k] = 1;
      if (this.armed[k] === 1 && p >= this.theta[k]! && p > bestP) {
        bestP = p;
        best = k;
      }
    }
    this.score = top;
    if (this.refractory > 0) {
      this.refractory--;
      return null;
    }
    if (best < 0) return null;
    this.refractory = this.refractorySteps;
    this.armed[best] = 0;
    return { label: this.labels[best]!, index: best, score: bestP, step, timeMs: step * this.hopMs + this.frameMs };
  }

  /** sum_j = Σ of the ring's W values of label j, added in ring order (exportState carries the result). */
  private recomputeSums(): void {
    const O = this.O;
    this.sum.fill(0);
    for (let k = 0; k < this.windowSteps; k++) {
      for (let j = 0; j < O; j++) this.sum[j] = this.sum[j]! + this.ring[k * O + j]!;
    }
  }

  /** A new stream. */
  reset(): void {
    this.ring.fill(0);
    this.sum.fill(0);
    this.smoothed.fill(0);
    this.armed.fill(1);
    this.head = 0;
    this.count = 0;
    this.refractory = 0;
    this.steps = 0;
    this.score = 0;
  }

  exportState(): KwsDetectorState {
    // The running sums travel too: re-adding the ring would round differently.
    return {
      labels: [...this.labels],
      step: this.steps,
      head: this.head,
      count: this.count,
      refractory: this.refractory,
      score: this.score,
      ring: Array.from(this.ring),
      sum: Array.from(this.sum),
      armed: Array.from(this.armed, (a) => a === 1),
    };
  }

  /**
   * Continues from exportState() output. Everything is checked before anything changes; a state
   * of another model (labels), window or refractory period, or a corrupt one, is a STATE_MISMATCH
   * naming the field.
   */
  importState(state: unknown): void {
    const s = state as Partial<KwsDetectorState> | null;
    const bad = (why: string): EdgeRnnError => new EdgeRnnError('STATE_MISMATCH', `keyword detector: cannot import state: ${why}`);
    const shown = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));
    if (typeof s !== 'object' || s === null) throw bad('expected an object from exportState()');
    // Two models with as many labels gave states of the same shape: one was taken for the other.
    if (!(Array.isArray(s.labels) && s.labels.length === this.O && s.labels.every((l, i) => l === this.labels[i]))) {
      throw bad(`labels must be ${JSON.stringify(this.labels)} (this detector's), got ${shown(s.labels)}`);
    }
    if (!Array.isArray(s.ring) || s.ring.length !== this.ring.length) throw bad(`expected a ring of ${this.ring.length} values (window ${this.windowSteps} × ${this.O} labels), got ${Array.isArray(s.ring) ? s.ring.length : typeof s.ring}`);
    if (!Array.isArray(s.sum) || s.sum.length !== this.O) throw bad(`expected ${this.O} sums, got ${Array.isArray(s.sum) ? s.sum.length : typeof s.sum}`);
    if (!Array.isArray(s.armed) || s.armed.length !== this.O) throw bad(`expected ${this.O} armed flags, got ${Array.isArray(s.armed) ? s.armed.length : typeof s.armed}`);
    const int = (v: unknown, lo: number, hi: number, name: string): number => {
      if (!(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi)) throw bad(`${name} must be an integer in [${lo}, ${hi}], got ${shown(v)}`);
      return v;
    };
    const finite = (v: unknown, name: string): number => {
      if (!(typeof v === 'number' && Number.isFinite(v))) throw bad(`${name} must be a finite number, got ${shown(v)}`);
      return v;
    };
    const W = this.windowSteps;
    const steps = int(s.step, 0, Number.MAX_SAFE_INTEGER, 'step');
    const head = int(s.head, 0, W - 1, 'head');
    const count = int(s.count, 0, W, 'count');
    // head and count follow from the step count (all three advance once per step from 0 at reset).
    if (count !== Math.min(steps, W)) throw bad(`count must be ${Math.min(steps, W)} (min(step ${steps}, window ${W})), got ${count}`);
    if (head !== steps % W) throw bad(`head must be ${steps % W} (step ${steps} mod window ${W}), got ${head}`);
    const refractory = int(s.refractory, 0, this.refractorySteps, 'refractory');
    const score = finite(s.score, 'score');
    s.ring.forEach((v, i) => finite(v, `ring[${i}]`));
    s.armed.forEach((a, i) => {
      if (typeof a !== 'boolean') throw bad(`armed[${i}] must be a boolean, got ${shown(a)}`);
    });
    s.sum.forEach((v, j) => finite(v, `sum[${j}]`));
    for (let j = 0; j < this.O; j++) {
      const v = s.sum[j] as number;
      // The running sum differs from the ring's by rounding only (recomputed at every wrap).
      let r = 0;
      let mag = 0;
      for (let k = 0; k < W; k++) {
        r += s.ring[k * this.O + j] as number;
        mag += Math.abs(s.ring[k * this.O + j] as number);
      }
      if (!(Math.abs(v - r) <= 1e-9 * (1 + mag))) throw bad(`sum[${j}] must be the sum of the ring's values for label ${j} (${this.labels[j]}), ${r}, got ${v}`);
    }
    this.ring.set(s.ring as number[]);
    this.sum.set(s.sum as number[]);
    s.armed.forEach((a, i) => (this.armed[i] = a ? 1 : 0));
    this.head = head;
    this.count = count;
    this.refractory = refractory;
    this.steps = steps;
    this.score = score;
    for (let j = 0; j < this.O; j++) this.smoothed[j] = count > 0 ? this.sum[j]! / count : 0;
  }
}
