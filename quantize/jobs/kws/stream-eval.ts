/**
 * Scoring keyword detection on a long stream with ground truth, and tuning the detector's
 * per-keyword thresholds on a validation stream (never on the held-out one). Node-free.
 *
 * Matching (one rule for tuning and for the reported numbers):
 *   an event (keyword k at time t_e) is a hit of a ground-truth keyword i when word_i = k and
 *   onset_i <= t_e <= offset_i + maxDelaySec; each keyword is hit at most once (the earliest
 *   event; of two overlapping keywords of one word, the event hits the one whose window closes
 *   first). Every other event is a false accept: a wrong word, a second event on the same
 *   keyword, or an event during noise or non-keyword speech.
 *   miss rate = keywords without a hit / keywords;  false accepts per hour = FA / stream hours.
 */
import { EdgeRnnError, KwsDetector, type KwsDetectorConfig, type KwsEvent } from '../../../src/index.js';

export interface TruthKeyword {
  word: string;
  onsetSec: number;
  offsetSec: number;
}

export interface StreamTruthLike {
  durationSec: number;
  keywords: readonly TruthKeyword[];
}

/** Latest an event may come after the keyword's end and still count, seconds. */
export const MAX_DELAY_SEC = 1.0;

export interface StreamScore {
  keywords: number;
  hits: number;
  misses: number;
  falseAccepts: number;
  durationSec: number;
  missRate: number;
  falseAcceptsPerHour: number;
  /** Median delay from keyword end to its event, ms. */
  medianDelayMs: number;
  perKeyword: Record<string, { keywords: number; hits: number; falseAccepts: number }>;
  /** The false accepts (for reports): label, time, and what was there. */
  falseAcceptEvents: { label: string; timeSec: number; score: number; during: string }[];
}

export function scoreEvents(events: readonly Pick<KwsEvent, 'label' | 'timeMs' | 'score'>[], truth: StreamTruthLike, keywordLabels: readonly string[], maxDelaySec = MAX_DELAY_SEC): StreamScore {
  const kws = truth.keywords;
  const hit = new Array<boolean>(kws.length).fill(false);
  const delays: number[] = [];
  const perKeyword: StreamScore['perKeyword'] = Object.fromEntries(keywordLabels.map((k) => [k, { keywords: 0, hits: 0, falseAccepts: 0 }]));
  for (const k of kws) if (perKeyword[k.word]) perKeyword[k.word]!.keywords++;
  const fa: StreamScore['falseAcceptEvents'] = [];
  // Keywords are sorted by onset and never overlap (the generator places them one after another).
  let first = 0;
  for (const e of events) {
    const t = e.timeMs / 1000;
    while (first < kws.length && kws[first]!.offsetSec + maxDelaySec < t) first++;
    // Among the keywords this event may hit, the one whose window closes first (overlapping
    // keywords of one word: a later event can still hit the other; the greedy rule that matches
    // the most keywords with events in time order).
    let matched = -1;
    let during = '';
    for (let i = first; i < kws.length && kws[i]!.onsetSec <= t; i++) {
      const k = kws[i]!;
      if (t > k.offsetSec + maxDelaySec) continue;
      during = `after '${k.word}' at ${k.onsetSec.toFixed(2)} s`;
      if (k.word === e.label && !hit[i] && (matched < 0 || k.offsetSec < kws[matched]!.offsetSec)) matched = i;
    }
    if (matched >= 0) {
      hit[matched] = true;
      delays.push(Math.max(0, t - kws[matched]!.offsetSec) * 1000);
      if (perKeyword[e.label]) perKeyword[e.label]!.hits++;
    } else {
      if (perKeyword[e.label]) perKeyword[e.label]!.falseAccepts++;
      fa.push({ label: e.label, timeSec: Math.round(t * 1000) / 1000, score: e.score, during: during || 'noise or non-keyword speech' });
    }
  }
  const hits = hit.filter(Boolean).length;
  delays.sort((a, b) => a - b);
  return {
    keywords: kws.length,
    hits,
    misses: kws.length - hits,
    falseAccepts: fa.length,
    durationSec: truth.durationSec,
    missRate: kws.length > 0 ? (kws.length - hits) / kws.length : 0,
    falseAcceptsPerHour: fa.length / (truth.durationSec / 3600),
    medianDelayMs: median(delays),
    perKeyword,
    falseAcceptEvents: fa,
  };
}

/**
 * A stream's truth checked against the model it scores: every keyword of the truth must be one
 * the model can fire (a word it cannot, or a typo such as "Yes", was a miss that no detector
 * could avoid, and the real event on it a false accept), and end within the stream. Cheap: run
 * it before any features are computed. BAD_DATA naming the file and the keyword otherwise.
 */
export function checkStreamWords(truth: StreamTruthLike, keywords: readonly string[], source: string): void {
  truth.keywords.forEach((k, i) => {
    if (!keywords.includes(k.word)) throw new EdgeRnnError('BAD_DATA', `${source}: keywords[${i}]: '${k.word}' is not a keyword of the model (${keywords.join(', ')})`, { file: source, keyword: i });
    if (k.offsetSec > truth.durationSec) throw new EdgeRnnError('BAD_DATA', `${source}: keywords[${i}] ('${k.word}') ends at ${k.offsetSec} s, after the stream's durationSec ${truth.durationSec}`, { file: source, keyword: i });
  });
}

/** Largest difference between a truth's durationSec and its recording's length that passes (rounding in hand-written files). */
export const DURATION_TOLERANCE_SEC = 1;

/**
 * durationSec against the recording's length (frames · hop, known within one hop): false accepts
 * per hour are divided by it, and a stream.json of another recording (or minutes for seconds)
 * scaled them silently.
 */
export function checkStreamDuration(truth: StreamTruthLike, recordingSec: number, source: string): void {
  if (Math.abs(truth.durationSec - recordingSec) > DURATION_TOLERANCE_SEC) {
    throw new EdgeRnnError('BAD_DATA', `${source}: durationSec is ${truth.durationSec}, its stream.wav lasts ${recordingSec.toFixed(2)} s (false accepts per hour are divided by it)`, { file: source, expected: recordingSec, got: truth.durationSec });
  }
}

/** Median of sorted values (the mean of the two middle ones for an even count); NaN when empty. */
function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** Runs the detector over posteriors [T][labels] and returns its events. */
export function detectEvents(posteriors: Float32Array, labels: readonly string[], config: KwsDetectorConfig, hopMs: number, frameMs: number): KwsEvent[] {
  const d = new KwsDetector({ ...config, labels, hopMs, frameMs });
  const C = labels.length;
  const T = posteriors.length / C;
  const events: KwsEvent[] = [];
  for (let t = 0; t < T; t++) {
    const e = d.step(posteriors.subarray(t * C, (t + 1) * C));
    if (e) events.push(e);
  }
  return events;
}

/**
 * Candidate thresholds: 0.30, 0.31, ..., 0.99, then 0.995, 0.998, 0.999 (a model served in
 * sliding windows is confident on a few non-keywords even at 0.99).
 */
export const DEFAULT_THRESHOLD_GRID: readonly number[] = [...Array.from({ length: 70 }, (_, i) => Math.round((0.3 + i * 0.01) * 100) / 100), 0.995, 0.998, 0.999];

export interface TuneOptions {
  /** Smoothing window and refractory period (fixed while thresholds are tuned). */
  windowMs: number;
  refractoryMs: number;
  rearm: number;
  hopMs: number;
  frameMs: number;
  /** Most false accepts per hour allowed on the tuning stream. */
  maxFalseAcceptsPerHour: number;
  /** Candidate thresholds (default DEFAULT_THRESHOLD_GRID). */
  grid?: readonly number[];
  /** Lowest threshold allowed (guards against thresholds fitted to a quiet tuning stream). */
  minThreshold?: number;
  /**
   * Current thresholds, a floor for keywords the tuning stream never says: with no occurrence
   * every candidate misses nothing, and the tie went to the lowest (a user's short stream gave
   * seven absent keywords 0.5). Such a keyword keeps its threshold, raised only if it false-accepts.
   */
  keep?: Readonly<Record<string, number>>;
}

export interface TuneResult {
  config: KwsDetectorConfig;
  /** The tuning stream scored with the chosen thresholds (the real detector, all keywords at once). */
  score: StreamScore;
  /** Lagrange multiplier that produced the thresholds (false accepts are worth lambda misses). */
  lambda: number;
  /** Keywords the tuning stream never says (their thresholds: `keep`'s, or raised against false accepts). */
  absent: string[];
}

/**
 * The tuning's lambda as the manifest stores it: null when no lambda met the budget (the fallback
 * above returns Infinity, which JSON cannot hold: it was written as null silently until the model
 * writer began refusing non-finite values, and then a training or retune failed at its last step).
 */
export function manifestLambda(lambda: number): number | null {
  return Number.isFinite(lambda) ? Number(lambda.toPrecision(4)) : null;
}

/**
 * Per-keyword thresholds: for each keyword k alone (the others silenced) and each candidate θ,
 * the hits and false accepts of k on the tuning stream; then θ_k = argmin misses_k + λ·FA_k for
 * the smallest λ (from a log grid) whose total false accepts per hour fit the budget. Keyword
 * detections interact only through the shared refractory period, so the chosen set is scored
 * again with the real detector and λ is raised until that score fits too. When no λ fits (false
 * accepts even at the top of the grid), each keyword takes its fewest false accepts, then its
 * fewest misses.
 */
export function tuneThresholds(posteriors: Float32Array, labels: readonly string[], keywords: readonly string[], truth: StreamTruthLike, o: TuneOptions): TuneResult {
  const grid = o.grid ?? DEFAULT_THRESHOLD_GRID;
  const cands = grid.filter((g) => g >= (o.minThreshold ?? 0));
  if (cands.length === 0) throw new EdgeRnnError('DETECTOR_OPTION', `threshold tuning: no candidate threshold >= minThreshold ${o.minThreshold} (grid ${grid.length > 0 ? `${grid[0]} ... ${grid[grid.length - 1]}` : 'empty'})`, { minThreshold: o.minThreshold, grid: grid.length });
  const hours = truth.durationSec / 3600;
  const background = labels.filter((l) => !keywords.includes(l));
  const base = { windowMs: o.windowMs, refractoryMs: o.refractoryMs, rearm: o.rearm };
  // Smoothed posteriors, computed once by the real detector (nothing here depends on θ).
  const C = labels.length;
  const T = posteriors.length / C;
  const probe = new KwsDetector({ ...base, labels, hopMs: o.hopMs, frameMs: o.frameMs, thresholds: Object.fromEntries(keywords.map((k) => [k, 1])), background });
  const smoothed = keywords.map(() => new Float64Array(T));
  const kIndex = keywords.map((k) => labels.indexOf(k));
  for (let t = 0; t < T; t++) {
    probe.step(posteriors.subarray(t * C, (t + 1) * C));
    const sm = probe.lastSmoothed;
    kIndex.forEach((i, ki) => (smoothed[ki]![t] = sm[i]!));
  }
  // misses and false accepts of keyword k alone at each candidate θ: the detector's rules
  // (re-arm below rearm·θ, fire when armed and >= θ outside the refractory period) on one series.
  const R = probe.refractorySteps;
  const absent = keywords.filter((k) => !truth.keywords.some((t) => t.word === k));
  /** Candidates below a kept threshold are not open to an absent keyword. */
  const closed = (k: string, theta: number): boolean => absent.includes(k) && o.keep?.[k] !== undefined && theta < o.keep[k]! && theta < cands[cands.length - 1]!;
  const table = keywords.map((k, ki) => {
    const p = smoothed[ki]!;
    const kTruth = { ...truth, keywords: truth.keywords.filter((t) => t.word === k) };
    return cands.map((theta) => {
      const events: { label: string; timeMs: number; score: number }[] = [];
      let armed = true;
      let refractory = 0;
      const rearmAt = o.rearm * theta;
      for (let t = 0; t < T; t++) {
        const v = p[t]!;
        if (!armed && v < rearmAt) armed = true;
        if (refractory > 0) {
          refractory--;
          continue;
        }
        if (armed && v >= theta) {
          events.push({ label: k, timeMs: t * o.hopMs + o.frameMs, score: v });
          refractory = R;
          armed = false;
        }
      }
      const s = scoreEvents(events, kTruth, [k]);
      return closed(k, theta) ? { theta, misses: Infinity, fa: Infinity } : { theta, misses: s.misses, fa: s.falseAccepts };
    });
  });
  const pick = (lambda: number): number[] =>
    table.map((rows) => {
      let best = rows.length - 1;
      let bestCost = Infinity;
      rows.forEach((r, g) => {
        const cost = r.misses + lambda * r.fa;
        if (cost < bestCost - 1e-12) {
          bestCost = cost;
          best = g;
        }
      });
      return best;
    });
  const lambdas = Array.from({ length: 41 }, (_, i) => 10 ** (-1 + i * 0.1));
  let chosen: TuneResult | null = null;
  for (const lambda of lambdas) {
    const idx = pick(lambda);
    const totalFa = idx.reduce((n, g, k) => n + table[k]![g]!.fa, 0);
    if (totalFa / hours > o.maxFalseAcceptsPerHour) continue;
    const thresholds = Object.fromEntries(keywords.map((k, ki) => [k, cands[idx[ki]!]!]));
    const config: KwsDetectorConfig = { ...base, thresholds, background };
    const score = scoreEvents(detectEvents(posteriors, labels, config, o.hopMs, o.frameMs), truth, keywords);
    const r = { config, score, lambda, absent };
    if (score.falseAcceptsPerHour <= o.maxFalseAcceptsPerHour) return r;
    chosen = r;
  }
  if (chosen) return chosen;
  // No λ fits the budget: some false accepts happen at every threshold. Each keyword then takes
  // its fewest false accepts, and among thresholds with that many its fewest misses (λ → ∞):
  // as few false accepts as the grid allows, without raising keywords that have none to the top.
  const idx = table.map((rows) => {
    let best = rows.length - 1;
    rows.forEach((r, g) => {
      const b = rows[best]!;
      if (r.fa < b.fa || (r.fa === b.fa && r.misses < b.misses)) best = g;
    });
    return best;
  });
  const thresholds = Object.fromEntries(keywords.map((k, ki) => [k, cands[idx[ki]!]!]));
  const config: KwsDetectorConfig = { ...base, thresholds, background };
  return { config, score: scoreEvents(detectEvents(posteriors, labels, config, o.hopMs, o.frameMs), truth, keywords), lambda: Infinity, absent };
}
