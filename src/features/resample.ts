/**
 * Rational-rate resampling of interleaved multi-channel streams (IMU rates: 25 → 50 Hz,
 * 32 → 50 Hz, 100 → 32 Hz ...). outRate / inRate = up / down in lowest terms; output sample n
 * sits at input time t_n = n · down / up, written t_n = base + phase / up (base integer).
 *
 * linear     y[n] = x[base] + (phase / up) · (x[base+1] - x[base])
 * polyphase  y[n] = Σ_{i<2K} g_phase[i] · x[base - K + 1 + i]
 *            g_phase[i] ∝ h(t_n - j), j = base - K + 1 + i, with the windowed-sinc low-pass
 *              h(τ) = 2fc · sinc(2fc·τ) · hann(τ / (K + 1)),   fc = 0.45 · min(1, up/down)
 *            (cycles per input sample: 90 % of the lower Nyquist), K = ceil(ZEROS / (2fc)) taps
 *            per side with ZEROS = 8 zero crossings, each phase normalized to sum 1 (DC gain 1,
 *            so gravity passes unchanged).
 *
 * Causality: output n is emitted once x[base + K] (polyphase) or x[base + 1] (linear, when
 * phase > 0) has arrived, so polyphase delays the stream by K input samples. Samples before the
 * first are taken equal to the first (edge hold), so a constant input gives a constant output.
 * Equal rates pass samples through unchanged (either kind).
 * The streaming class and `resampleBatch` use the same formulas and summation order, so they
 * agree bit for bit.
 */
import { EdgeRnnError } from '../errors.js';
import type { StateReader, StateWriter } from './state.js';

export const RESAMPLERS = ['linear', 'polyphase'] as const;
export type ResamplerKind = (typeof RESAMPLERS)[number];

const POLYPHASE_ZEROS = 8;
const POLYPHASE_ROLLOFF = 0.9;
const MAX_RATIO_TERM = 10000;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** up / down = outRateHz / inRateHz in lowest terms, each <= 10000; undefined when no such ratio. */
export function rateRatio(inRateHz: number, outRateHz: number): { up: number; down: number } | undefined {
  for (let down = 1; down <= MAX_RATIO_TERM; down++) {
    const up = (outRateHz * down) / inRateHz;
    const r = Math.round(up);
    if (r >= 1 && Math.abs(up - r) <= 1e-9 * up) {
      if (r > MAX_RATIO_TERM) return undefined;
      const g = gcd(r, down);
      return { up: r / g, down: down / g };
    }
  }
  return undefined;
}

export interface ResamplerPlan {
  kind: ResamplerKind;
  channels: number;
  up: number;
  down: number;
  /** Taps per side (polyphase), 1 for linear. */
  K: number;
  /** up rows of 2K taps (polyphase only). */
  taps: Float64Array;
}

export function planResampler(kind: ResamplerKind, channels: number, inRateHz: number, outRateHz: number): ResamplerPlan {
  const ratio = rateRatio(inRateHz, outRateHz);
  if (!ratio) {
    throw new EdgeRnnError('FRONTEND_SPEC', `resampler: ${outRateHz} / ${inRateHz} Hz is not a ratio of integers <= ${MAX_RATIO_TERM}`, { inRateHz, outRateHz });
  }
  const { up, down } = ratio;
  // Equal rates: the linear plan with phase 0 passes every sample through unchanged, no delay.
  if (kind === 'linear' || (up === 1 && down === 1)) return { kind: 'linear', channels, up, down, K: 1, taps: new Float64Array(0) };
  const fc = 0.5 * POLYPHASE_ROLLOFF * Math.min(1, up / down);
  const K = Math.ceil(POLYPHASE_ZEROS / (2 * fc));
  const taps = new Float64Array(up * 2 * K);
  for (let p = 0; p < up; p++) {
    let sum = 0;
    for (let i = 0; i < 2 * K; i++) {
      const tau = p / up + K - 1 - i; // t_n - j
      const x = 2 * fc * tau;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const win = Math.abs(tau) < K + 1 ? 0.5 + 0.5 * Math.cos((Math.PI * tau) / (K + 1)) : 0;
      const h = 2 * fc * sinc * win;
      taps[p * 2 * K + i] = h;
      sum += h;
    }
    for (let i = 0; i < 2 * K; i++) taps[p * 2 * K + i]! /= sum;
  }
  return { kind, channels, up, down, K, taps };
}

/** A StreamResampler's position and input history, as read from a saved state. */
export interface ResamplerState {
  /** Input samples received. */
  count: number;
  /** Output time t_n = base + phase / up of the next output, in input samples. */
  base: number;
  phase: number;
  /** The first input sample (edge hold for j < 0), channels values. */
  first: Float64Array;
  /** Input ring, slot j mod (2K + 2), channels values per slot. */
  ring: Float64Array;
}

/** Streaming resampler: push one input sample (all channels) at a time. */
export class StreamResampler {
  readonly plan: ResamplerPlan;
  /** The emitted output sample (channels values), reused. */
  readonly out: Float64Array;
  private readonly ring: Float64Array;
  private readonly cap: number;
  private readonly first: Float64Array;
  /** Input samples received. */
  private count = 0;
  private base = 0;
  private phase = 0;

  constructor(plan: ResamplerPlan) {
    this.plan = plan;
    this.cap = 2 * plan.K + 2;
    this.ring = new Float64Array(this.cap * plan.channels);
    this.first = new Float64Array(plan.channels);
    this.out = new Float64Array(plan.channels);
  }

  reset(): void {
    this.count = 0;
    this.base = 0;
    this.phase = 0;
    // Old samples are never read again (first and the ring are rewritten before use), but
    // writeState() writes them: cleared, a reset stream's state is a fresh one's.
    this.ring.fill(0);
    this.first.fill(0);
  }

  /** Float64 values writeState() writes: count, base, phase, first[channels], ring[(2K + 2) · channels]. */
  get stateValues(): number {
    return 3 + this.plan.channels + this.ring.length;
  }

  /** Appends the position and the input history (part of the owning front end's exportState). */
  writeState(w: StateWriter): void {
    w.f64(this.count);
    w.f64(this.base);
    w.f64(this.phase);
    w.f64s(this.first);
    w.f64s(this.ring);
  }

  /**
   * Reads what writeState() wrote and checks it is a position this stream can be at: between
   * pushes, the next output needs an input sample that has not arrived (need >= count), or, when
   * emit() threw (the front end's callback), the last sample received (need = count - 1: its
   * remaining outputs come with the next push); base runs at most ceil(down / up) samples ahead.
   * Changes nothing; restoreState() commits.
   */
  readState(r: StateReader): ResamplerState {
    const { up, down, K, kind } = this.plan;
    const count = r.int('resampler.count', 0);
    const base = r.int('resampler.base', 0, count + Math.ceil(down / up));
    const phase = r.int('resampler.phase', 0, up - 1);
    const first = r.f64s('resampler.first', this.first.length);
    const ring = r.f64s('resampler.ring', this.ring.length);
    const need = kind === 'linear' ? (phase === 0 ? base : base + 1) : base + K;
    // need >= count - 1, not >= count: upsampling makes several outputs per input sample, and an
    // emit() that threw on the first left the others due; that state was refused, so a stream
    // whose model had thrown could not be saved and resumed.
    if (need < count - 1) throw r.invalid('resampler.base', `+ phase leave an output computable from the first ${count - 1} of the ${count} samples received (only the last sample's outputs can still be due)`, `${base} (phase ${phase})`);
    if (count === 0 && (base !== 0 || phase !== 0)) throw r.invalid('resampler.base', 'must be 0 (phase 0) before the first sample', `${base} (phase ${phase})`);
    return { count, base, phase, first, ring };
  }

  restoreState(s: ResamplerState): void {
    this.count = s.count;
    this.base = s.base;
    this.phase = s.phase;
    this.first.set(s.first);
    this.ring.set(s.ring);
  }

  private at(j: number, c: number): number {
    return j < 0 ? this.first[c]! : this.ring[(j % this.cap) * this.plan.channels + c]!;
  }

  /**
   * Adds input sample `frame[offset .. offset + channels)`; calls emit() once per output
   * sample that became computable (read it from `this.out`). Returns the outputs emitted.
   */
  push(frame: ArrayLike<number>, offset: number, emit: () => void): number {
    const { channels: C, up, down, K, kind, taps } = this.plan;
    const j = this.count;
    const slot = (j % this.cap) * C;
    for (let c = 0; c < C; c++) this.ring[slot + c] = frame[offset + c]!;
    if (j === 0) for (let c = 0; c < C; c++) this.first[c] = frame[offset + c]!;
    this.count++;
    let emitted = 0;
    for (;;) {
      const need = kind === 'linear' ? (this.phase === 0 ? this.base : this.base + 1) : this.base + K;
      if (need > j) break;
      if (kind === 'linear') {
        const f = this.phase / up;
        for (let c = 0; c < C; c++) {
          const x0 = this.at(this.base, c);
          this.out[c] = this.phase === 0 ? x0 : x0 + f * (this.at(this.base + 1, c) - x0);
        }
      } else {
        const row = this.phase * 2 * K;
        const j0 = this.base - K + 1;
        for (let c = 0; c < C; c++) {
          let acc = 0;
          for (let i = 0; i < 2 * K; i++) acc += taps[row + i]! * this.at(j0 + i, c);
          this.out[c] = acc;
        }
      }
      // Advance to the next output before emit(): an emit that throws (the front end's callback)
      // used to leave the position here, and the next push emitted this output a second time.
      this.phase += down;
      while (this.phase >= up) {
        this.phase -= up;
        this.base++;
      }
      emitted++;
      emit();
    }
    return emitted;
  }
}

/** The whole signal at once (interleaved, n samples × channels); same outputs as the stream. */
export function resampleBatch(plan: ResamplerPlan, x: ArrayLike<number>): Float64Array {
  const { channels: C, up, down, K, kind, taps } = plan;
  const n = x.length / C;
  if (n === 0) return new Float64Array(0);
  const at = (j: number, c: number): number => x[(j < 0 ? 0 : j) * C + c]!;
  const out: number[] = [];
  let base = 0;
  let phase = 0;
  for (;;) {
    const need = kind === 'linear' ? (phase === 0 ? base : base + 1) : base + K;
    if (need > n - 1) break;
    for (let c = 0; c < C; c++) {
      if (kind === 'linear') {
        const x0 = at(base, c);
        out.push(phase === 0 ? x0 : x0 + (phase / up) * (at(base + 1, c) - x0));
      } else {
        let acc = 0;
        const row = phase * 2 * K;
        for (let i = 0; i < 2 * K; i++) acc += taps[row + i]! * at(base - K + 1 + i, c);
        out.push(acc);
      }
    }
    phase += down;
    while (phase >= up) {
      phase -= up;
      base++;
    }
  }
  return Float64Array.from(out);
}
