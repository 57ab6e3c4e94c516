/**
 * Small signal helpers for corpus assembly (Node-free). Levels are RMS; dB are 20·log10 of
 * amplitude ratios. The speech level of a word is the RMS over its active span (where it is
 * speaking), so an SNR means the same thing for a short "up" as for a long "forward".
 */
import type { Rng } from '../../../src/index.js';

export function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return to > from ? Math.sqrt(s / (to - from)) : 0;
}

export function dbToGain(db: number): number {
  return 10 ** (db / 20);
}

/**
 * Active span of speech: 10 ms frames whose energy is within `rangeDb` of the loudest frame,
 * from the first to the last such frame, padded by `padMs` on both sides. Empty ([0, 0)) when the
 * signal is silent.
 */
export function activeSpan(x: Float32Array, rateHz: number, rangeDb = 40, padMs = 20): [number, number] {
  const hop = Math.round(rateHz / 100);
  const n = Math.floor(x.length / hop);
  const e = new Float64Array(n);
  let peak = 0;
  for (let f = 0; f < n; f++) {
    let s = 0;
    for (let i = f * hop; i < (f + 1) * hop; i++) s += x[i]! * x[i]!;
    e[f] = s / hop;
    if (e[f]! > peak) peak = e[f]!;
  }
  if (peak < 1e-12) return [0, 0];
  const thr = peak * 10 ** (-rangeDb / 10);
  let first = -1;
  let last = -1;
  for (let f = 0; f < n; f++) {
    if (e[f]! >= thr) {
      if (first < 0) first = f;
      last = f;
    }
  }
  const pad = Math.round((padMs * rateHz) / 1000);
  return [Math.max(0, first * hop - pad), Math.min(x.length, (last + 1) * hop + pad)];
}

/** Removes the mean and scales to unit RMS (a silent input stays zero). */
export function normalizeUnitRms(x: Float32Array): Float32Array {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i]!;
  m /= Math.max(1, x.length);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - m;
  const r = rms(out);
  if (r > 0) for (let i = 0; i < out.length; i++) out[i]! /= r;
  return out;
}

/** A unit-RMS noise bed with the region each role may draw from. */
export interface NoiseBed {
  kind: 'white' | 'pink' | 'brown' | 'babble';
  samples: Float32Array;
  /** Speakers whose audio is in the bed (babble). */
  sources: string[];
}

/**
 * `n` samples of `bed` from its region [lo, hi) (fractions of the bed length), starting at a
 * random offset and wrapping around inside the region only, so roles drawing from disjoint
 * regions never share a sample.
 */
export function bedSegment(bed: NoiseBed, n: number, lo: number, hi: number, rng: Rng): { samples: Float32Array; offset: number } {
  const a = Math.floor(lo * bed.samples.length);
  const regionLen = Math.max(1, Math.floor(hi * bed.samples.length) - a);
  const start = rng.int(0, regionLen - 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = bed.samples[a + ((start + i) % regionLen)]!;
  return { samples: out, offset: a + start };
}
