/**
 * The audio front end against meyda 5.6 (a trusted JS implementation), stage by stage where the
 * two define the same thing. Where they differ by design the test says so instead of loosening a
 * tolerance:
 *  - power spectrum: same definition (|FFT|² of the windowed frame, no 1/N) when the frame is
 *    nfft samples long and the window is meyda's 'hamming' (periodic, like ours). meyda computes
 *    in float32: MEYDA_POWER_TOL is relative to the frame's peak bin.
 *  - mel triangles: meyda's are built on integer FFT bins floor((N + 1)·f / sr) from mel edges
 *    spaced on 1125·ln(1 + f/700); the Hz edges of that scale equal HTK's (the constant cancels
 *    out of the spacing), so the integer peak bins must equal floor((N + 1)·edge / sr) of ours.
 *    The triangle shapes themselves differ (meyda ramps over integer bins, librosa over Hz) and
 *    meyda logs ln(1 + E): the full pipeline is checked against the numpy reference instead.
 *  - DCT: meyda's MFCC is the `dct` package's unnormalized DCT-II (scale 2) of its log-mel
 *    bands; ours is orthonormal: ortho[k] = meyda[k] · s(k) / 2, s(0) = √(1/M), s(k) = √(2/M).
 */
import Meyda from 'meyda';
// meyda's own filterbank builder (a deep import: it is not re-exported by the package root).
import { createMelFilterBank } from 'meyda/dist/esm/utilities.js';
import { describe, expect, it } from 'vitest';
import { AudioFrameKernel, audioFrontendSpec, dctOrthoMatrix, melFilterbank, Rng } from '../../src/index.js';

const MEYDA_POWER_TOL = 1e-6;
const MEYDA_DCT_TOL = 1e-5;

interface MeydaLike {
  bufferSize: number;
  sampleRate: number;
  melBands: number;
  windowingFunction: string;
  numberOfMFCCCoefficients: number;
  extract(features: string[], signal: Float32Array): Record<string, Float32Array | number[]>;
}
const meyda = Meyda as unknown as MeydaLike;

function frameSignal(seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: 512 }, (_, i) => 0.4 * Math.sin(i * 0.3 + seed) + 0.2 * Math.sin(i * 1.7) + 0.05 * rng.normal());
}

describe('audio front end vs meyda', () => {
  const spec = audioFrontendSpec('logmel', { frameMs: 32, nfft: 512, window: 'hamming', preEmphasis: 0, fMinHz: 0, fMaxHz: 8000, nMels: 26 });
  meyda.bufferSize = 512;
  meyda.sampleRate = 16000;
  meyda.melBands = 26;
  meyda.windowingFunction = 'hamming';
  meyda.numberOfMFCCCoefficients = 13;

  for (const seed of [1, 2, 3]) {
    it(`power spectrum of a 512-sample Hamming frame matches meyda.powerSpectrum (seed ${seed})`, () => {
      const sig = frameSignal(seed);
      const k = new AudioFrameKernel(spec);
      k.compute(Float64Array.from(sig), 0, new Float32Array(26), 0);
      const ref = meyda.extract(['powerSpectrum'], sig).powerSpectrum!;
      expect(ref.length).toBe(256); // meyda drops the Nyquist bin
      let peak = 0;
      for (let i = 0; i < 256; i++) peak = Math.max(peak, ref[i]!);
      for (let i = 0; i < 256; i++) expect(Math.abs(k.power[i]! - ref[i]!)).toBeLessThanOrEqual(MEYDA_POWER_TOL * peak);
    });
  }

  it('HTK mel edges land on the same integer FFT bins as meyda.createMelFilterBank', () => {
    const fb = melFilterbank(spec);
    const meydaBank = createMelFilterBank(26, 16000, 512) as number[][];
    for (let m = 0; m < 26; m++) {
      const row = meydaBank[m]!;
      const meydaPeak = row.indexOf(1);
      expect(meydaPeak).toBe(Math.floor((513 * fb.edgesHz[m + 1]!) / 16000));
    }
  });

  it("orthonormal DCT-II equals meyda's MFCC DCT up to its documented scaling", () => {
    const r = meyda.extract(['melBands', 'mfcc'], frameSignal(4));
    const bands = Float64Array.from(r.melBands!);
    const M = bands.length;
    const D = dctOrthoMatrix(13, M);
    for (let k = 0; k < 13; k++) {
      let ours = 0;
      for (let m = 0; m < M; m++) ours += D[k * M + m]! * bands[m]!;
      const s = k === 0 ? Math.sqrt(1 / M) : Math.sqrt(2 / M);
      const theirs = (r.mfcc![k]! * s) / 2;
      expect(Math.abs(ours - theirs)).toBeLessThanOrEqual(MEYDA_DCT_TOL * Math.max(1, Math.abs(theirs)));
    }
  });
});
