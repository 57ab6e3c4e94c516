/**
 * Smoothing of a stream of class posteriors (one per window) into a steadier label sequence.
 * Browser-safe; `push` allocates nothing.
 *
 *   none      label_t = argmax_j p_t(j)
 *   majority  label_t = the most frequent argmax (of posteriors or logits) over the last W
 *             windows; ties go to the tied label seen most recently. confidence = its count /
 *             windows seen (<= W).
 *   hmm       forward filter of a "sticky" hidden Markov model over the classes:
 *               A(i→j) = stay (i = j), (1 - stay)/(C - 1) (i ≠ j)
 *               e_t(j) = max(p_t(j), floor)^(1/temperature) / prior(j)   (scaled likelihood of
 *                        a classifier trained with prior(j): the hybrid NN/HMM trick)
 *               α_t(j) ∝ e_t(j) · Σ_i α_{t-1}(i) A(i→j)
 *                      = e_t(j) · (stay·α_{t-1}(j) + (1 - stay)/(C - 1)·(1 - α_{t-1}(j)))
 *               α_0 = prior; label_t = argmax α_t, confidence = α_t(label_t)
 *             Causal (filtering, not Viterbi): no look-ahead, one window of latency.
 */
import { EdgeRnnError } from '../../errors.js';

export const SMOOTHING_KINDS = ['none', 'majority', 'hmm'] as const;
export type SmoothingKind = (typeof SMOOTHING_KINDS)[number];

export interface SmoothingOptions {
  /** Which smoother (default 'hmm'). */
  kind: SmoothingKind;
  /** majority: windows voted over (>= 1; default 5). */
  window: number;
  /** hmm: probability of staying in the same activity from one window to the next, in [1/C, 1) (default 0.9). */
  stay: number;
  /** hmm: posterior exponent 1/temperature; > 1 flattens overconfident outputs (default 1). */
  temperature: number;
  /** hmm: class prior the classifier was trained with (default uniform: balanced class weights). */
  prior?: readonly number[];
  /** hmm: smallest posterior used, so one confident mistake cannot rule a class out (default 1e-4). */
  floor: number;
}

export const SMOOTHING_DEFAULTS: Readonly<SmoothingOptions> = { kind: 'hmm', window: 5, stay: 0.9, temperature: 1, floor: 1e-4 };

/** Serializable state of a smoother (JSON). */
export interface SmootherState {
  kind: SmoothingKind;
  steps: number;
  /** majority: the ring of labels (oldest at `head`); hmm: α. */
  values: number[];
  head: number;
}

function optionError(field: string, expected: string, got: unknown): EdgeRnnError {
  return new EdgeRnnError('DETECTOR_OPTION', `har smoothing: ${field} must be ${expected}, got ${JSON.stringify(got)}`, { field, expected, got });
}

/** The fields of SmoothingOptions (anything else is refused by name). */
export const SMOOTHING_OPTION_FIELDS = ['kind', 'window', 'stay', 'temperature', 'prior', 'floor'] as const;

/** Validates options for C classes (defaults filled in). */
export function smoothingOptions(classes: number, o: Partial<SmoothingOptions> = {}): SmoothingOptions {
  if (!(Number.isInteger(classes) && classes >= 2)) throw optionError('classes', 'an integer >= 2', classes);
  // A misspelt field, or options that are not an object (a string spread into the defaults), were
  // silently dropped for the defaults.
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw optionError('options', `an object {${SMOOTHING_OPTION_FIELDS.join(', ')}}`, o);
  for (const k of Object.keys(o)) if (!(SMOOTHING_OPTION_FIELDS as readonly string[]).includes(k)) throw optionError(k, `a smoothing option (${SMOOTHING_OPTION_FIELDS.join(', ')})`, (o as Record<string, unknown>)[k]);
  const r: SmoothingOptions = { ...SMOOTHING_DEFAULTS, ...o };
  if (!(SMOOTHING_KINDS as readonly string[]).includes(r.kind)) throw optionError('kind', `one of ${SMOOTHING_KINDS.join(', ')}`, r.kind);
  if (!(Number.isInteger(r.window) && r.window >= 1 && r.window <= 10000)) throw optionError('window', 'an integer in [1, 10000]', r.window);
  if (!(typeof r.stay === 'number' && r.stay >= 1 / classes && r.stay < 1)) throw optionError('stay', `a number in [1/${classes}, 1)`, r.stay);
  if (!(typeof r.temperature === 'number' && r.temperature > 0 && Number.isFinite(r.temperature))) throw optionError('temperature', 'a positive number', r.temperature);
  if (!(typeof r.floor === 'number' && r.floor > 0 && r.floor < 1)) throw optionError('floor', 'a number in (0, 1)', r.floor);
  if (r.prior !== undefined) {
    if (!Array.isArray(r.prior) || r.prior.length !== classes || !r.prior.every((p) => typeof p === 'number' && p > 0 && Number.isFinite(p))) {
      throw optionError('prior', `${classes} positive numbers (one per class)`, r.prior);
    }
  }
  return r;
}

/** One smoother per stream. */
export class LabelSmoother {
  readonly classes: number;
  readonly options: Readonly<SmoothingOptions>;
  private readonly ring: Int32Array;
  private readonly counts: Int32Array;
  private readonly alpha: Float64Array;
  private readonly prior: Float64Array;
  /** ln(1 / prior(j)). */
  private readonly logInvPrior: Float64Array;
  /** Scratch: log emissions of one push. */
  private readonly logE: Float64Array;
  private head = 0;
  private steps = 0;
  private current = -1;
  private conf = 0;

  constructor(classes: number, options: Partial<SmoothingOptions> = {}) {
    this.options = smoothingOptions(classes, options);
    this.classes = classes;
    this.ring = new Int32Array(this.options.window);
    this.counts = new Int32Array(classes);
    this.prior = new Float64Array(classes);
    const p = this.options.prior;
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += p ? p[j]! : 1;
    for (let j = 0; j < classes; j++) this.prior[j] = (p ? p[j]! : 1) / sum;
    this.logInvPrior = this.prior.map((v) => -Math.log(v));
    this.logE = new Float64Array(classes);
    this.alpha = new Float64Array(classes);
    this.reset();
  }

  /** The smoothed label after the last push (-1 before the first). */
  get label(): number {
    return this.current;
  }

  /** Confidence of that label in [0, 1] (majority: vote share; hmm: filtered probability; none: posterior). */
  get confidence(): number {
    return this.conf;
  }

  /** Windows pushed since the last reset ('none': those with a positive posterior; 'majority': those with a vote). */
  get count(): number {
    return this.steps;
  }

  /**
   * Feeds one window's posterior (C values >= 0, or logits for 'majority'; NaN and ±Infinity
   * count as 0, or as no value for 'majority'); returns the smoothed label (-1 until a window with
   * a positive posterior came, for 'none', or one with a non-zero value, for 'majority').
   */
  push(posterior: ArrayLike<number>): number {
    const C = this.classes;
    if (posterior === null || typeof posterior !== 'object' || posterior.length !== C) {
      const got = posterior !== null && typeof posterior === 'object' ? posterior.length : posterior === null ? 'null' : typeof posterior;
      throw new EdgeRnnError('SHAPE_MISMATCH', `har smoothing: expected ${C} posteriors, got ${got}`, { expected: C, got });
    }
    // argmax over the finite values (NaN or ±Infinity count as 0, as in the hmm): a NaN at
    // output 0 made every comparison false, so 'none' announced label 0 with confidence NaN and
    // 'majority' counted a vote for it.
    let top = -1;
    let topP = 0;
    // 'majority' votes over argmaxes, which logits give too (the gateway allows it on a model
    // without softmax): there any finite value may win, and only a window with no finite value or
    // all zeros (a failed step) carries no vote. Positives only, a window of negative logits had
    // no vote, and a stream of them never got a label.
    let vote = -1;
    let voteV = 0;
    let nonZero = false;
    for (let j = 0; j < C; j++) {
      const v = posterior[j]!;
      if (!Number.isFinite(v)) continue;
      if (v > topP) {
        top = j;
        topP = v;
      }
      if (vote < 0 || v > voteV) {
        vote = j;
        voteV = v;
      }
      if (v !== 0) nonZero = true;
    }
    const kind = this.options.kind;
    if (kind === 'majority') top = nonZero ? vote : -1;
    // A window with no finite positive posterior (all NaN, or the zeros a gateway passes for a
    // frame whose step failed; for 'majority' no finite value, or all zeros) carries no vote:
    // 'none' and 'majority' keep their label (it was label 0). The hmm takes it as a flat
    // emission, which keeps its label too.
    if (top < 0 && kind !== 'hmm') return this.current;
    this.steps++;
    if (kind === 'none') {
      this.current = top;
      this.conf = topP;
    } else if (kind === 'majority') {
      this.pushMajority(top);
    } else {
      this.pushHmm(posterior, top >= 0);
    }
    return this.current;
  }

  private pushMajority(top: number): void {
    const W = this.options.window;
    if (this.steps > W) this.counts[this.ring[this.head]!]!--;
    this.ring[this.head] = top;
    this.counts[top]!++;
    this.head = (this.head + 1) % W;
    // Newest to oldest: the first label reaching the highest count wins ties by recency.
    const n = Math.min(this.steps, W);
    let best = -1;
    let bestCount = 0;
    for (let k = 1; k <= n; k++) {
      const lab = this.ring[(this.head - k + W) % W]!;
      const c = this.counts[lab]!;
      if (c > bestCount) {
        best = lab;
        bestCount = c;
      }
    }
    this.current = best;
    this.conf = bestCount / n;
  }

  /** `evidence` false: a window with no finite positive posterior, a flat emission (the transition alone). */
  private pushHmm(p: ArrayLike<number>, evidence: boolean): void {
    const C = this.classes;
    const { stay, floor, temperature } = this.options;
    const move = (1 - stay) / (C - 1);
    const a = this.alpha;
    // Emissions in the log domain, scaled by the largest (the scale cancels in the normalization):
    // p^(1/T) / prior underflowed to 0 for every class at a small temperature (or a tiny floor or
    // prior overflowed), and 0/0 made α NaN for good: label 0 with confidence NaN ever after.
    const le = this.logE;
    let top = -Infinity;
    // Flat means flat: floored to the floor for every class, the window was still divided by the
    // prior, so with a non-uniform prior one failed step (all zeros) moved the label to a rare class.
    for (let j = 0; j < C; j++) {
      const pj = Math.max(Number.isFinite(p[j]!) ? p[j]! : 0, floor);
      le[j] = evidence ? Math.log(pj) / temperature + this.logInvPrior[j]! : 0;
      if (le[j]! > top) top = le[j]!;
    }
    let sum = 0;
    for (let j = 0; j < C; j++) {
      const pred = stay * a[j]! + move * (1 - a[j]!);
      a[j] = Math.exp(le[j]! - top) * pred;
      sum += a[j]!;
    }
    let best = 0;
    for (let j = 0; j < C; j++) {
      a[j] = a[j]! / sum;
      if (a[j]! > a[best]!) best = j;
    }
    this.current = best;
    this.conf = a[best]!;
  }

  reset(): void {
    this.ring.fill(0);
    this.counts.fill(0);
    this.alpha.set(this.prior);
    this.head = 0;
    this.steps = 0;
    this.current = -1;
    this.conf = 0;
  }

  exportState(): SmootherState {
    const kind = this.options.kind;
    return { kind, steps: this.steps, head: this.head, values: kind === 'hmm' ? Array.from(this.alpha) : kind === 'majority' ? Array.from(this.ring) : [this.current, this.conf] };
  }

  /** Restores exportState(); a state of another kind or size is a GATEWAY_STATE error. */
  importState(s: unknown): void {
    const o = s as SmootherState;
    const kind = this.options.kind;
    const want = kind === 'hmm' ? this.classes : kind === 'majority' ? this.options.window : 2;
    const bad = (why: string): EdgeRnnError => new EdgeRnnError('GATEWAY_STATE', `har smoothing: cannot import state: ${why}`, { expected: { kind, values: want } });
    if (typeof o !== 'object' || o === null) throw bad('not an object');
    if (o.kind !== kind) throw bad(`state is for '${String(o.kind)}', this smoother is '${kind}'`);
    if (!Array.isArray(o.values) || o.values.length !== want || !o.values.every((v) => typeof v === 'number' && Number.isFinite(v))) throw bad(`expected ${want} finite values`);
    if (!(Number.isInteger(o.steps) && o.steps >= 0)) throw bad('steps must be a non-negative integer');
    if (!(Number.isInteger(o.head) && o.head >= 0 && o.head < this.options.window)) throw bad(`head must be in [0, ${this.options.window})`);
    if (kind === 'majority' && !o.values.every((v) => Number.isInteger(v) && v >= 0 && v < this.classes)) throw bad(`labels must be integers in [0, ${this.classes})`);
    // The ring's head advances once per vote from 0: another head made the n most recent votes the wrong slots.
    if (kind === 'majority' && o.head !== o.steps % this.options.window) throw bad(`head must be ${o.steps % this.options.window} (steps ${o.steps} mod window ${this.options.window}), got ${o.head}`);
    // α is a distribution, and 'none' holds [label, confidence]: an α of [-1, 2, 0] was taken
    // (confidence 2, then negative or NaN filtering), as was a label of 7 of 3 classes.
    if (kind === 'hmm' && !(o.values.every((v) => v >= 0) && Math.abs(o.values.reduce((a, b) => a + b, 0) - 1) <= 1e-9)) throw bad('α must be probabilities >= 0 summing to 1');
    if (kind === 'none' && o.steps > 0 && !(Number.isInteger(o.values[0]) && o.values[0]! >= 0 && o.values[0]! < this.classes && o.values[1]! >= 0)) throw bad(`expected [label in [0, ${this.classes}), confidence >= 0]`);
    if (kind === 'none' && o.steps === 0 && !(o.values[0] === -1 && o.values[1] === 0)) throw bad(`a fresh state (steps 0) must hold [-1, 0], got [${o.values.join(', ')}]`);
    // Everything is checked: a refused state leaves the smoother as it was.
    this.reset();
    this.steps = o.steps;
    this.head = o.head;
    if (kind === 'hmm') {
      this.alpha.set(o.values);
      let best = 0;
      for (let j = 1; j < this.classes; j++) if (this.alpha[j]! > this.alpha[best]!) best = j;
      this.current = o.steps > 0 ? best : -1;
      this.conf = o.steps > 0 ? this.alpha[best]! : 0;
    } else if (kind === 'majority') {
      this.ring.set(o.values);
      const W = this.options.window;
      const n = Math.min(o.steps, W);
      // The n most recent ring slots hold the votes.
      for (let k = 1; k <= n; k++) this.counts[this.ring[(this.head - k + W) % W]!]!++;
      if (n > 0) {
        let best = -1;
        let bestCount = 0;
        for (let k = 1; k <= n; k++) {
          const lab = this.ring[(this.head - k + W) % W]!;
          if (this.counts[lab]! > bestCount) {
            best = lab;
            bestCount = this.counts[lab]!;
          }
        }
        this.current = best;
        this.conf = bestCount / n;
      }
    } else {
      this.current = o.steps > 0 ? o.values[0]! : -1;
      this.conf = o.values[1]!;
    }
  }
}
