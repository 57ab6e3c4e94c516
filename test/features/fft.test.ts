import { describe, expect, it } from 'vitest';
import { dftRef, EdgeRnnError, RealFft, Rng } from '../../src/index.js';

/** float64 FFT vs the O(N²) DFT: error grows like log N · eps · Σ|x|. */
const FFT_TOL = 1e-11;

describe('RealFft (radix-2) against the direct DFT', () => {
  for (const n of [2, 4, 8, 16, 64, 256, 512, 1024]) {
    it(`n = ${n}: every bin matches dftRef`, () => {
      const rng = new Rng(n);
      const x = Float64Array.from({ length: n }, () => rng.uniform(-1, 1));
      const fft = new RealFft(n);
      const re = new Float64Array(fft.bins);
      const im = new Float64Array(fft.bins);
      fft.forward(x, re, im);
      const ref = dftRef(x);
      const scale = x.reduce((s, v) => s + Math.abs(v), 0);
      for (let k = 0; k < fft.bins; k++) {
        expect(Math.abs(re[k]! - ref.re[k]!)).toBeLessThan(FFT_TOL * scale);
        expect(Math.abs(im[k]! - ref.im[k]!)).toBeLessThan(FFT_TOL * scale);
      }
      // DC and Nyquist bins of a real signal are real.
      expect(Math.abs(im[0]!)).toBeLessThan(FFT_TOL * scale);
      expect(Math.abs(im[n / 2]!)).toBeLessThan(FFT_TOL * scale);
    });
  }

  it('power() equals re² + im² of forward(), bit for bit', () => {
    const rng = new Rng(7);
    const x = Float64Array.from({ length: 512 }, () => rng.normal());
    const fft = new RealFft(512);
    const re = new Float64Array(257);
    const im = new Float64Array(257);
    const p = new Float64Array(257);
    fft.forward(x, re, im);
    fft.power(x, p);
    for (let k = 0; k < 257; k++) expect(p[k]).toBe(re[k]! * re[k]! + im[k]! * im[k]!);
  });

  it("Parseval: Σx² = (P[0] + 2·Σ_{0<k<N/2} P[k] + P[N/2]) / N", () => {
    const rng = new Rng(3);
    const n = 256;
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const p = new Float64Array(n / 2 + 1);
    new RealFft(n).power(x, p);
    let energy = p[0]! + p[n / 2]!;
    for (let k = 1; k < n / 2; k++) energy += 2 * p[k]!;
    expect(energy / n).toBeCloseTo(x.reduce((s, v) => s + v * v, 0), 9);
  });

  it('a pure tone on bin 5 puts all its power there', () => {
    const n = 64;
    const x = Float64Array.from({ length: n }, (_, i) => Math.cos((2 * Math.PI * 5 * i) / n));
    const p = new Float64Array(33);
    new RealFft(n).power(x, p);
    expect(p[5]).toBeCloseTo((n / 2) ** 2, 8);
    for (let k = 0; k < 33; k++) if (k !== 5) expect(p[k]).toBeLessThan(1e-20);
  });

  for (const bad of [0, 1, 3, 100, 2.5, -8]) {
    it(`size ${bad} is rejected with FRONTEND_SPEC`, () => {
      expect(() => new RealFft(bad)).toThrow(EdgeRnnError);
      expect(() => new RealFft(bad)).toThrow(/power of two/);
    });
  }
});
