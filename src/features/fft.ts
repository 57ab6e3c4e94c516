/**
 * Radix-2 real FFT, and the plain DFT it is tested against (`dftRef`).
 *
 * A real input of length N (a power of two) is packed into a complex sequence of length
 * M = N/2, z[n] = x[2n] + i·x[2n+1], transformed with an iterative radix-2 complex FFT, then
 * split into the N/2 + 1 non-redundant bins of X:
 *
 *   Zk = Z[k mod M],  Zc = conj(Z[(M - k) mod M])
 *   E[k] = (Zk + Zc) / 2                 (FFT of the even samples)
 *   O[k] = (Zk - Zc) / (2i)              (FFT of the odd samples)
 *   X[k] = E[k] + e^{-2πik/N} · O[k],    k = 0..N/2
 *
 * Sign convention as numpy.fft.rfft: X[k] = Σ_n x[n] e^{-2πikn/N}. Everything runs in float64;
 * tables and scratch buffers are allocated once in the constructor, so `forward` and `power`
 * allocate nothing.
 */
import { EdgeRnnError } from '../errors.js';

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

export class RealFft {
  /** Transform length N (real samples in). */
  readonly size: number;
  /** Output bins: N/2 + 1. */
  readonly bins: number;
  private readonly half: number;
  /** Bit-reversal permutation of 0..M-1. */
  private readonly rev: Uint32Array;
  /** cos/sin(2πj/M), j < M/2: twiddles of the complex FFT. */
  private readonly cosM: Float64Array;
  private readonly sinM: Float64Array;
  /** cos/sin(2πk/N), k <= M: twiddles of the real split. */
  private readonly cosN: Float64Array;
  private readonly sinN: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(size: number) {
    if (!isPowerOfTwo(size) || size < 2) {
      throw new EdgeRnnError('FRONTEND_SPEC', `RealFft: size must be a power of two >= 2, got ${size}`, { expected: 'power of two >= 2', got: size });
    }
    this.size = size;
    this.half = size >>> 1;
    this.bins = this.half + 1;
    const m = this.half;
    const bits = Math.round(Math.log2(m));
    this.rev = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.cosM = new Float64Array(Math.max(1, m >>> 1));
    this.sinM = new Float64Array(Math.max(1, m >>> 1));
    for (let j = 0; j < m >>> 1; j++) {
      this.cosM[j] = Math.cos((2 * Math.PI * j) / m);
      this.sinM[j] = Math.sin((2 * Math.PI * j) / m);
    }
    this.cosN = new Float64Array(m + 1);
    this.sinN = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.cosN[k] = Math.cos((2 * Math.PI * k) / size);
      this.sinN[k] = Math.sin((2 * Math.PI * k) / size);
    }
    this.zr = new Float64Array(m);
    this.zi = new Float64Array(m);
  }

  /** In-place iterative radix-2 decimation-in-time FFT of (zr, zi), length M. */
  private complexFft(): void {
    const m = this.half;
    const zr = this.zr;
    const zi = this.zi;
    const cosM = this.cosM;
    const sinM = this.sinM;
    // First stage (len 2): the twiddle is 1, so each butterfly is a sum and a difference.
    for (let a = 0; a + 1 < m; a += 2) {
      const br = zr[a + 1]!;
      const bi = zi[a + 1]!;
      const ar = zr[a]!;
      const ai = zi[a]!;
      zr[a + 1] = ar - br;
      zi[a + 1] = ai - bi;
      zr[a] = ar + br;
      zi[a] = ai + bi;
    }
    for (let len = 4; len <= m; len <<= 1) {
      const halfLen = len >>> 1;
      const step = (m / len) | 0; // twiddle stride: W_len^j = W_M^(j·step), an integer
      for (let j = 0; j < halfLen; j++) {
        const wr = cosM[j * step]!;
        const wi = -sinM[j * step]!; // e^{-2πi j/len}
        for (let a = j; a < m; a += len) {
          const b = a + halfLen;
          const br = zr[b]!;
          const bi = zi[b]!;
          const tr = br * wr - bi * wi;
          const ti = br * wi + bi * wr;
          const ar = zr[a]!;
          const ai = zi[a]!;
          zr[b] = ar - tr;
          zi[b] = ai - ti;
          zr[a] = ar + tr;
          zi[a] = ai + ti;
        }
      }
    }
  }

  /** X[k], k = 0..N/2, of the real `input` (length >= N; the first N values are used). */
  forward(input: Float64Array, re: Float64Array, im: Float64Array): void {
    this.load(input);
    this.complexFft();
    const m = this.half;
    const zr = this.zr;
    const zi = this.zi;
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k;
      const b = k === 0 ? 0 : m - k;
      const zkr = zr[a]!;
      const zki = zi[a]!;
      const zcr = zr[b]!;
      const zci = -zi[b]!;
      const er = 0.5 * (zkr + zcr);
      const ei = 0.5 * (zki + zci);
      // (Zk - Zc) / (2i) = ((di) - i(dr)) / 2 where d = Zk - Zc
      const or = 0.5 * (zki - zci);
      const oi = -0.5 * (zkr - zcr);
      const c = this.cosN[k]!;
      const s = -this.sinN[k]!; // e^{-2πik/N}
      re[k] = er + (or * c - oi * s);
      im[k] = ei + (or * s + oi * c);
    }
  }

  /** Power spectrum |X[k]|², k = 0..N/2, without keeping re/im (same arithmetic as forward). */
  power(input: Float64Array, out: Float64Array): void {
    this.load(input);
    this.complexFft();
    const m = this.half;
    const zr = this.zr;
    const zi = this.zi;
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k;
      const b = k === 0 ? 0 : m - k;
      const zkr = zr[a]!;
      const zki = zi[a]!;
      const zcr = zr[b]!;
      const zci = -zi[b]!;
      const er = 0.5 * (zkr + zcr);
      const ei = 0.5 * (zki + zci);
      const or = 0.5 * (zki - zci);
      const oi = -0.5 * (zkr - zcr);
      const c = this.cosN[k]!;
      const s = -this.sinN[k]!;
      const xr = er + (or * c - oi * s);
      const xi = ei + (or * s + oi * c);
      out[k] = xr * xr + xi * xi;
    }
  }

  /** z[n] = x[2n] + i·x[2n+1], stored in bit-reversed order for the in-place FFT. */
  private load(input: Float64Array): void {
    const m = this.half;
    for (let n = 0; n < m; n++) {
      const r = this.rev[n]!;
      this.zr[r] = input[2 * n]!;
      this.zi[r] = input[2 * n + 1]!;
    }
  }
}

/**
 * The reference: a direct O(N²) DFT of a real sequence of any length, bins 0..floor(N/2),
 * X[k] = Σ_n x[n] e^{-2πikn/N}. Phases come from (k·n mod N) so large N stays accurate.
 */
export function dftRef(input: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = input.length;
  const bins = Math.floor(n / 2) + 1;
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const phase = (2 * Math.PI * ((k * t) % n)) / n;
      sr += input[t]! * Math.cos(phase);
      si -= input[t]! * Math.sin(phase);
    }
    re[k] = sr;
    im[k] = si;
  }
  return { re, im };
}
