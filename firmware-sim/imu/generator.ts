/**
 * Seeded synthetic wrist-accelerometer streams from a fitted model (model.ts): single-activity
 * recordings (`synthesizeRecording`, like one HMP file) and a continuous stream that follows a
 * scenario of activities with ground-truth labels (`ImuGenerator`).
 *
 * Signal chain, per segment of activity a lasting n samples at the model rate (32 Hz for HMP):
 *   posture(τ) = mean_a + Σ_k z_k · scale_k · component_k      z_k ~ N(0, 1), τ = t / (n - 1)
 *   u[t]       = Σ_j A_j u[t-j] + L e[t]                       (VAR, burn-in from 0)
 *   x[t]       = posture(τ) + level · envelope(τ) · u[t]        level ~ logN
 * Between segments the posture moves from where the last one ended to the new curve over
 * `blendSeconds` (raised cosine), so gravity never jumps. The stream is then resampled to the
 * requested rate (polyphase, src/features/resample.ts), gets white sensor noise (σ = sensor.noiseG)
 * and is quantized like the sensor: code = clamp(round((x + range) / (2·range) · (2^bits - 1))).
 *
 * Determinism: segment i draws from its own generator seeded by (seed, i), sensor noise from
 * another seeded by seed, consumed one output sample at a time, so the samples do not depend on
 * how reads are chunked.
 */
import { EdgeRnnError, isEdgeRnnError, planResampler, Rng, StreamResampler } from '../../src/index.js';
import { knotValue } from './fit.js';
import type { ImuActivityModel, ImuGeneratorModel } from './model.js';

/** Plausible successors of each HMP activity (posture: standing/walking, sitting, lying). */
export const HMP_TRANSITIONS: Readonly<Record<string, readonly string[]>> = {
  walk: ['walk', 'climb_stairs', 'descend_stairs', 'sitdown_chair', 'liedown_bed', 'drink_glass', 'pour_water'],
  climb_stairs: ['walk'],
  descend_stairs: ['walk'],
  sitdown_chair: ['drink_glass', 'pour_water', 'standup_chair'],
  drink_glass: ['pour_water', 'drink_glass', 'standup_chair', 'walk'],
  pour_water: ['drink_glass', 'standup_chair', 'walk'],
  standup_chair: ['walk'],
  liedown_bed: ['getup_bed'],
  getup_bed: ['walk'],
};

export interface ScenarioSegment {
  activity: string;
  /** Start time, s from the stream start. */
  startS: number;
  durationS: number;
}

export interface Scenario {
  segments: ScenarioSegment[];
  /** End of the last segment, s. */
  durationS: number;
}

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * The 32-bit word a seed is hashed with. Any safe integer: one within 32 bits as it always was,
 * a wider or negative one with its high word mixed in (they wrapped: 2^32 gave seed 0's stream,
 * -1 that of 2^32 - 1). NaN, ±Infinity and fractions are refused: they were truncated silently,
 * NaN and Infinity to seed 0, 1.5 to seed 1.
 */
function seedWord(seed: number, where: string): number {
  if (!Number.isSafeInteger(seed)) throw new EdgeRnnError('BAD_DATA', `${where}: seed must be an integer (a safe one, |seed| < 2^53), got ${seed}`, { got: seed });
  const hi = Math.floor(seed / 2 ** 32);
  return hi === 0 ? seed >>> 0 : hash32(seed >>> 0, hi ^ 0x5eed5eed);
}

/** Models whose numbers were checked (the walk is done once per model object). */
const checkedModels = new WeakSet<ImuGeneratorModel>();

/**
 * Refuses a model with a number that is not finite (a fit on an empty recording writes NaN, saved
 * as null): with one, every sample came out as code 0 (quantizeSensor(NaN) stored as 0), silently.
 */
function checkModel(model: ImuGeneratorModel): void {
  if (checkedModels.has(model)) return;
  const walk = (v: unknown, at: string): void => {
    if (typeof v === 'number' || v === null) {
      if (!Number.isFinite(v)) throw new EdgeRnnError('BAD_DATA', `imu generator model: ${at} must be a finite number, got ${v}`, { field: at, got: v });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`));
    else if (typeof v === 'object') for (const [k, x] of Object.entries(v as object)) if (k !== 'source') walk(x, at ? `${at}.${k}` : k);
  };
  walk(model, '');
  // The codes are bytes: 10 bits wrapped modulo 256 silently; a range of 0 g divided by 0 (code 0 throughout).
  const { bits, rangeG } = model.sensor;
  if (!(Number.isInteger(bits) && bits >= 1 && bits <= 8)) throw new EdgeRnnError('BAD_DATA', `imu generator model: sensor.bits must be an integer in [1, 8] (codes are bytes), got ${bits}`, { field: 'sensor.bits', got: bits });
  if (!(rangeG > 0)) throw new EdgeRnnError('BAD_DATA', `imu generator model: sensor.rangeG must be a positive number of g, got ${rangeG}`, { field: 'sensor.rangeG', got: rangeG });
  checkedModels.add(model);
}

function activityModel(model: ImuGeneratorModel, activity: string): ImuActivityModel {
  checkModel(model);
  const m = model.activities.find((a) => a.activity === activity);
  if (!m) throw new EdgeRnnError('BAD_DATA', `imu generator: no model for activity '${activity}' (has ${model.activities.map((a) => a.activity).join(', ')})`, { activity });
  return m;
}

/** A duration in samples at the model rate, log-normal, clamped to the fitted range. */
export function drawDuration(m: ImuActivityModel, rng: Rng): number {
  const n = Math.round(Math.exp(m.duration.logMean + m.duration.logStd * rng.normal()));
  return Math.min(m.duration.max, Math.max(m.duration.min, n));
}

/**
 * One segment at the model rate, in g, interleaved [n][3]. `from` is the posture the previous
 * segment ended in (blended into this one over `blend` samples), or null. Returns the samples and
 * the posture at the segment's end.
 */
export function synthesizeSegment(model: ImuGeneratorModel, activity: string, n: number, rng: Rng, from: Float64Array | null = null, blend = 0): { g: Float32Array; end: Float64Array } {
  const m = activityModel(model, activity);
  const K = model.knots;
  const D = 3 * K;
  const curve = Float64Array.from(m.posture.mean);
  for (let k = 0; k < m.posture.components.length; k++) {
    const z = rng.normal() * m.posture.scales[k]!;
    const comp = m.posture.components[k]!;
    for (let d = 0; d < D; d++) curve[d] = curve[d]! + z * comp[d]!;
  }
  for (let d = 0; d < D; d++) curve[d] = curve[d]! + m.posture.residualStd * rng.normal();
  const level = Math.exp(m.level.logMean + m.level.logStd * rng.normal());
  const motion = new VarProcess(m.coefficients, m.innovation, rng);
  // Wander at rateHz / dec, interpolated: slow samples a (before t) and b (after).
  const dec = m.wander.decimation;
  const wander = new VarProcess(m.wander.coefficients, m.wander.innovation, rng);
  const wa = Float64Array.from(wander.next());
  const wb = Float64Array.from(wander.next());
  const g = new Float32Array(n * 3);
  const end = new Float64Array(3);
  for (let t = 0; t < n; t++) {
    const tau = n > 1 ? t / (n - 1) : 0;
    const u = motion.next();
    if (t > 0 && t % dec === 0) {
      wa.set(wb);
      wb.set(wander.next());
    }
    const f = (t % dec) / dec;
    const env = knotValue(m.envelope, 0, K, tau) * level;
    // Raised-cosine weight of the new posture during the blend.
    const w = from && t < blend ? 0.5 - 0.5 * Math.cos((Math.PI * t) / blend) : 1;
    for (let c = 0; c < 3; c++) {
      let post = knotValue(curve, c * K, K, tau) + wa[c]! + f * (wb[c]! - wa[c]!);
      if (w < 1) post = (1 - w) * from![c]! + w * post;
      g[t * 3 + c] = post + env * u[c]!;
      if (t === n - 1) end[c] = post;
    }
  }
  return { g, end };
}

/** A running VAR(p) process u[t] = Σ_j A_j u[t-j] + L e[t], e ~ N(0, I₃), started from 0 with a burn-in of 8p steps. */
export class VarProcess {
  private readonly A: readonly number[][];
  private readonly L: readonly number[][];
  private readonly rng: Rng;
  private readonly p: number;
  /** u[t-1], u[t-2], ... (3 values each). */
  private readonly hist: Float64Array;
  private readonly u = new Float64Array(3);
  private readonly e = new Float64Array(3);

  constructor(coefficients: readonly number[][], innovation: readonly number[][], rng: Rng) {
    this.A = coefficients;
    this.L = innovation;
    this.rng = rng;
    this.p = coefficients[0]!.length / 3;
    this.hist = new Float64Array(3 * this.p);
    for (let t = 0; t < 8 * this.p; t++) this.next();
  }

  /** The next vector (a view reused by the next call). */
  next(): Float64Array {
    const { A, L, e, u, hist } = this;
    for (let i = 0; i < 3; i++) e[i] = this.rng.normal();
    for (let i = 0; i < 3; i++) {
      let acc = L[i]![0]! * e[0]! + L[i]![1]! * e[1]! + L[i]![2]! * e[2]!;
      const row = A[i]!;
      for (let k = 0; k < 3 * this.p; k++) acc += row[k]! * hist[k]!;
      u[i] = acc;
    }
    hist.copyWithin(3, 0, 3 * this.p - 3);
    hist.set(u, 0);
    return u;
  }
}

/** The sensor's code for a value in g: clamp(round((x + range) / (2·range) · (2^bits - 1)), 0, 2^bits - 1). */
export function quantizeSensor(x: number, sensor: ImuGeneratorModel['sensor']): number {
  const top = 2 ** sensor.bits - 1;
  const q = Math.round(((x + sensor.rangeG) / (2 * sensor.rangeG)) * top);
  return q < 0 ? 0 : q > top ? top : q;
}

/** A single-activity recording (like one HMP file) at the model rate: codes [n][3] with sensor noise. */
export function synthesizeRecording(model: ImuGeneratorModel, activity: string, seed: number, samples?: number): Uint8Array {
  if (samples !== undefined && !(Number.isInteger(samples) && samples >= 0)) throw new EdgeRnnError('BAD_DATA', `imu recording: samples must be a non-negative integer, got ${samples}`, { got: samples });
  const rng = new Rng(hash32(seedWord(seed, 'imu recording'), 0x5ec0));
  const n = samples ?? drawDuration(activityModel(model, activity), rng);
  const { g } = synthesizeSegment(model, activity, n, rng);
  const codes = new Uint8Array(g.length);
  for (let i = 0; i < g.length; i++) codes[i] = quantizeSensor(g[i]! + model.sensor.noiseG * rng.normal(), model.sensor);
  return codes;
}

export interface ScenarioOptions {
  seed: number;
  /** Total length, s (the last segment is cut to fit). */
  durationS: number;
  /** First activity (default 'walk' when the model has it, else its first activity). */
  start?: string;
  /** Successors per activity (default HMP_TRANSITIONS restricted to the model's activities; an activity without successors may follow any). */
  transitions?: Readonly<Record<string, readonly string[]>>;
}

/**
 * A caller's transition table names only the model's activities: a typo ('wlak') was filtered out
 * silently, and an activity left without successors may be followed by any. (The default table,
 * HMP_TRANSITIONS, is restricted to the model's activities on purpose: a model fitted on fewer classes.)
 */
function checkTransitions(names: readonly string[], transitions: Readonly<Record<string, readonly string[]>>): void {
  const bad = (field: string, expected: string, got: unknown): EdgeRnnError => new EdgeRnnError('BAD_DATA', `imu scenario: ${field} must be ${expected}, got ${String(got)}`, { field, got });
  const known = `an activity of the model (${names.join(', ')})`;
  if (typeof transitions !== 'object' || transitions === null) throw bad('transitions', 'an object {activity: [successors]}', transitions);
  for (const [from, next] of Object.entries(transitions)) {
    if (!names.includes(from)) throw bad(`transitions.${from}`, known, from);
    if (!Array.isArray(next)) throw bad(`transitions.${from}`, 'a list of activities', next);
    next.forEach((a, i) => {
      if (!names.includes(a)) throw bad(`transitions.${from}[${i}]`, known, a);
    });
  }
}

/** A seeded Markov chain of activities with durations drawn from the model. */
export function planScenario(model: ImuGeneratorModel, o: ScenarioOptions): Scenario {
  if (!(o.durationS > 0 && Number.isFinite(o.durationS))) throw new EdgeRnnError('BAD_DATA', `imu scenario: durationS must be a positive number, got ${o.durationS}`, { got: o.durationS });
  const names = model.activities.map((a) => a.activity);
  if (o.transitions !== undefined) checkTransitions(names, o.transitions);
  const trans = o.transitions ?? HMP_TRANSITIONS;
  let act = o.start ?? (names.includes('walk') ? 'walk' : names[0]!);
  activityModel(model, act);
  const rng = new Rng(hash32(seedWord(o.seed, 'imu scenario'), 0x5ce7));
  const segments: ScenarioSegment[] = [];
  let t = 0;
  // At least one segment: a durationS within the 1e-9 s tolerance below planned none.
  while (segments.length === 0 || t < o.durationS - 1e-9) {
    const n = drawDuration(activityModel(model, act), rng);
    const d = Math.min(n / model.rateHz, o.durationS - t);
    segments.push({ activity: act, startS: t, durationS: d });
    t += d;
    const next = (trans[act] ?? names).filter((a) => names.includes(a));
    act = rng.pick(next.length ? next : names);
  }
  return { segments, durationS: t };
}

/** Gap or overlap still taken as a join (segment to segment, last end to durationS), relative to the time (s/s): rounding of hand-typed decimal times. */
const JOIN_TOLERANCE = 1e-9;

/**
 * Checks a (hand-built or planned) scenario before it is generated: at least one segment, known
 * activities, finite start times and positive finite durations, the first starting at 0, each
 * starting where the previous ended (no gap, overlap or reordering), durationS the last end.
 */
export function checkScenario(model: ImuGeneratorModel, s: Scenario): void {
  const bad = (field: string, expected: string, got: unknown): EdgeRnnError => new EdgeRnnError('BAD_DATA', `imu scenario: ${field} must be ${expected}, got ${String(got)}`, { field, got });
  if (!Array.isArray(s.segments) || s.segments.length === 0) throw bad('segments', 'a non-empty array', Array.isArray(s.segments) ? 'an empty array' : s.segments);
  let end = 0;
  for (let i = 0; i < s.segments.length; i++) {
    const seg = s.segments[i]!;
    activityModel(model, seg.activity);
    if (!(seg.durationS > 0 && Number.isFinite(seg.durationS))) throw bad(`segments[${i}].durationS`, 'a positive finite number', seg.durationS);
    if (!(Math.abs(seg.startS - end) <= JOIN_TOLERANCE * Math.max(1, end))) throw bad(`segments[${i}].startS`, i === 0 ? '0' : `${end} (where segments[${i - 1}] ends: no gap, no overlap, in time order)`, seg.startS);
    end = seg.startS + seg.durationS;
  }
  if (!(Math.abs(s.durationS - end) <= JOIN_TOLERANCE * Math.max(1, end))) throw bad('durationS', `${end} (where the last segment ends)`, s.durationS);
}

/** The scenario's activity at time t (s), or undefined outside it. */
export function labelAt(s: Scenario, tS: number): string | undefined {
  let lo = 0;
  let hi = s.segments.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const seg = s.segments[mid]!;
    if (tS < seg.startS) hi = mid - 1;
    else if (tS >= seg.startS + seg.durationS) lo = mid + 1;
    else return seg.activity;
  }
  return undefined;
}

export interface ImuGeneratorOptions {
  seed: number;
  /** Output rate, Hz (default the model's; others go through the polyphase resampler). */
  rateHz?: number;
  /** What happens when; default: planScenario over one hour from the seed. */
  scenario?: Scenario;
  /** Posture blend at each activity change, s (default 1). */
  blendSeconds?: number;
}

export interface ImuChunk {
  /** Sensor codes [n][3]. */
  codes: Uint8Array;
  /** Activity index (into model.activities) of each sample: the ground truth at its time. */
  labels: Int16Array;
  /** Samples returned (fewer than asked only at the scenario's end). */
  n: number;
}

/** The polyphase resampler from the model's rate to rateHz; a ratio it cannot do is a BAD_DATA naming rateHz (it was the resampler's FRONTEND_SPEC). */
function planOutputResampler(modelRateHz: number, rateHz: number): StreamResampler {
  try {
    return new StreamResampler(planResampler('polyphase', 3, modelRateHz, rateHz));
  } catch (e) {
    if (!isEdgeRnnError(e, 'FRONTEND_SPEC')) throw e;
    throw new EdgeRnnError('BAD_DATA', `imu generator: rateHz must be a rate the resampler reaches from the model's ${modelRateHz} Hz (${e.message}), got ${rateHz}`, { field: 'rateHz', got: rateHz });
  }
}

/** Continuous stream of sensor codes at `rateHz` following a scenario. */
export class ImuGenerator {
  readonly model: ImuGeneratorModel;
  readonly rateHz: number;
  readonly scenario: Scenario;
  private readonly seed: number;
  private readonly blend: number;
  private readonly noise: Rng;
  private readonly resampler: StreamResampler | null;
  private readonly names: string[];
  /** Model-rate samples of the current segment and the read position in it. */
  private seg: Float32Array = new Float32Array(0);
  private segPos = 0;
  private segIndex = -1;
  private lastPosture: Float64Array | null = null;
  /** Output samples produced so far. */
  private produced = 0;
  /** Model-rate samples pushed into the resampler (or passed through). */
  private consumed = 0;
  private totalIn: number;
  private pending: number[] = [];
  /** The last model-rate sample read: held past the end to drain the resampler, so it must outlive a read(). */
  private readonly x = new Float64Array(3);

  constructor(model: ImuGeneratorModel, o: ImuGeneratorOptions) {
    this.model = model;
    this.rateHz = o.rateHz ?? model.rateHz;
    if (!(this.rateHz > 0 && Number.isFinite(this.rateHz))) throw new EdgeRnnError('BAD_DATA', `imu generator: rateHz must be positive, got ${o.rateHz}`, { got: o.rateHz });
    this.seed = seedWord(o.seed, 'imu generator');
    const blendS = o.blendSeconds ?? 1;
    // NaN or a negative blend left postures unblended; Infinity froze the first posture for good.
    if (!(blendS >= 0 && Number.isFinite(blendS))) throw new EdgeRnnError('BAD_DATA', `imu generator: blendSeconds must be a finite number >= 0, got ${o.blendSeconds}`, { got: o.blendSeconds });
    this.scenario = o.scenario ?? planScenario(model, { seed: o.seed, durationS: 3600 });
    this.blend = Math.round(blendS * model.rateHz);
    this.noise = new Rng(hash32(this.seed, 0x401e));
    this.names = model.activities.map((a) => a.activity);
    checkScenario(model, this.scenario);
    this.resampler = this.rateHz === model.rateHz ? null : planOutputResampler(model.rateHz, this.rateHz);
    this.totalIn = this.segmentEnd(this.scenario.segments.length - 1);
  }

  /**
   * Model-rate sample where segment i ends (exclusive): the first sample t with (t + 0.5) / rateHz
   * >= the end, so a tie at half a sample goes to the next segment, as in labelAt().
   */
  private segmentEnd(i: number): number {
    if (i < 0) return 0;
    const s = this.scenario.segments[i]!;
    return Math.ceil((s.startS + s.durationS) * this.model.rateHz - 0.5);
  }

  /** Output samples the scenario holds in all. */
  get length(): number {
    return Math.floor((this.scenario.durationS * this.rateHz) + 1e-9);
  }

  /** Time of the next output sample, s. */
  get timeS(): number {
    return this.produced / this.rateHz;
  }

  /** The next model-rate sample (3 values), or null after the scenario's end. */
  private nextInput(out: Float64Array): boolean {
    if (this.consumed >= this.totalIn) return false;
    while (this.segPos >= this.seg.length / 3) {
      this.segIndex++;
      const s = this.scenario.segments[this.segIndex]!;
      const n = this.segmentEnd(this.segIndex) - this.segmentEnd(this.segIndex - 1);
      const rng = new Rng(hash32(this.seed, this.segIndex + 1));
      const r = synthesizeSegment(this.model, s.activity, n, rng, this.lastPosture, this.blend);
      this.seg = r.g;
      this.segPos = 0;
      // A segment shorter than one model-rate sample may hold none: then it has no end posture either.
      if (n > 0) this.lastPosture = r.end;
    }
    for (let c = 0; c < 3; c++) out[c] = this.seg[this.segPos * 3 + c]!;
    this.segPos++;
    this.consumed++;
    return true;
  }

  /** Reads up to n output samples. */
  read(n: number): ImuChunk {
    // A fraction wrote past the typed arrays (read(1.5): n 2, 4 codes), NaN read nothing silently.
    if (!(n >= 0 && (Number.isInteger(n) || n === Infinity))) throw new EdgeRnnError('BAD_DATA', `imu generator: read(n) needs a whole number of samples >= 0, got ${n}`, { got: n });
    const want = Math.max(0, Math.min(n, this.length - this.produced));
    const codes = new Uint8Array(want * 3);
    const labels = new Int16Array(want);
    const x = this.x;
    let got = 0;
    const emit = (v: ArrayLike<number>): void => {
      for (let c = 0; c < 3; c++) codes[got * 3 + c] = quantizeSensor(v[c]! + this.model.sensor.noiseG * this.noise.normal(), this.model.sensor);
      const act = labelAt(this.scenario, (this.produced + 0.5) / this.rateHz) ?? this.scenario.segments[this.scenario.segments.length - 1]!.activity;
      labels[got] = this.names.indexOf(act);
      got++;
      this.produced++;
    };
    // Outputs the resampler already made beyond the last read.
    while (got < want && this.pending.length) emit(this.pending.splice(0, 3));
    const r = this.resampler;
    while (got < want) {
      if (!this.nextInput(x)) {
        // Past the end: hold the last sample so the resampler's delay line drains.
        if (!r) break;
      }
      if (!r) {
        emit(x);
        continue;
      }
      r.push(x, 0, () => {
        if (got < want) emit(r.out);
        else this.pending.push(r.out[0]!, r.out[1]!, r.out[2]!);
      });
    }
    return { codes: got === want ? codes : codes.subarray(0, got * 3), labels: got === want ? labels : labels.subarray(0, got), n: got };
  }
}
