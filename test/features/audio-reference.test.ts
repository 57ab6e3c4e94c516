/**
 * The audio front end against a librosa-style numpy reference (test/fixtures/features/
 * generate.py: librosa's mel/window/DCT formulas, numpy's pocketfft), stored as float32.
 * Both sides compute in float64 and round once to float32, so they may differ by the rounding of
 * either side: REF_TOL_ABS + REF_TOL_REL · |x| covers that with margin (measured: identical on
 * log-mel, <= 5e-14 on MFCC).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { audioFrontendSpec, computeFeatures, melFilterbank, melFilterbankDense, readNpy, Rng, validateAudioSpec, type AudioFrontendSpec } from '../../src/index.js';

const REF_TOL_ABS = 1e-5;
const REF_TOL_REL = 1e-6;
/** Filterbank weights are stored as float32: half an ulp relative. */
const FB_TOL_REL = 1e-7;

const dir = new URL('../fixtures/features/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8')) as {
  input: string;
  configs: Record<string, { spec: Record<string, unknown>; features: string; shape: [number, number]; filterbank?: string }>;
};
const pcm = Int16Array.from(readNpy(readFileSync(new URL(manifest.input, dir))).data);

describe('audio front end vs the numpy/librosa-formula reference', () => {
  it('the fixture input is the 0.6 s test signal with a stretch of digital silence', () => {
    expect(pcm.length).toBe(9600);
    expect(pcm.slice(7300, 8400).every((v) => v === 0)).toBe(true);
  });

  for (const [name, c] of Object.entries(manifest.configs)) {
    it(`${name}: every feature within ${REF_TOL_ABS} + ${REF_TOL_REL}·|x|`, () => {
      const ref = readNpy(readFileSync(new URL(c.features, dir)));
      const got = computeFeatures(c.spec, pcm);
      expect([got.count, got.featureSize]).toEqual(c.shape);
      let worst = 0;
      for (let i = 0; i < ref.data.length; i++) {
        const err = Math.abs(got.data[i]! - ref.data[i]!);
        worst = Math.max(worst, err - REF_TOL_REL * Math.abs(ref.data[i]!));
      }
      expect(worst).toBeLessThanOrEqual(REF_TOL_ABS);
    });

    if (c.filterbank) {
      it(`${name}: the mel filterbank matches librosa.filters.mel weight for weight`, () => {
        const ref = readNpy(readFileSync(new URL(c.filterbank!, dir)));
        const fb = melFilterbank(validateAudioSpec(c.spec));
        const dense = melFilterbankDense(fb);
        expect(ref.shape).toEqual([fb.nMels, fb.nBins]);
        const peak = ref.data.reduce((m, v) => Math.max(m, v), 0);
        for (let i = 0; i < dense.length; i++) expect(Math.abs(dense[i]! - ref.data[i]!)).toBeLessThanOrEqual(FB_TOL_REL * peak);
      });
    }
  }

  it('the floor holds: frames inside the digital silence are ln(logFloor) without pre-emphasis', () => {
    const c = manifest.configs['mfcc-slaney-hamming']!;
    const spec = { ...c.spec, kind: 'logmel' } as Record<string, unknown>;
    delete spec.nMfcc;
    const got = computeFeatures(spec, pcm);
    // Frame t spans samples [160t, 160t + 400): frames 46..48 lie inside the zeros [7300, 8400).
    for (const t of [46, 47, 48]) for (let m = 0; m < 40; m++) expect(got.data[t * 40 + m]).toBe(Math.fround(Math.log(1e-10)));
  });
});

/**
 * A second, independent oracle for parameters the fixtures do not cover: every stage written out
 * the slow, obvious way (direct DFT of the windowed frame, a dense triangle for every bin from
 * the mel formulas, the DCT-II formula), sharing no code with src/features. Both sides compute in
 * float64 and round once, so the REF_TOL_* bounds above apply.
 */
function directFeatures(spec: AudioFrontendSpec, x: Float64Array): number[][] {
  const sr = spec.sampleRateHz;
  const L = Math.round((spec.frameMs * sr) / 1000);
  const H = Math.round((spec.hopMs * sr) / 1000);
  const N = spec.nfft;
  const htk = spec.melScale === 'htk';
  const toMel = (f: number): number => (htk ? 2595 * Math.log10(1 + f / 700) : f < 1000 ? (3 * f) / 200 : 15 + (27 * Math.log(f / 1000)) / Math.log(6.4));
  const toHz = (m: number): number => (htk ? 700 * (10 ** (m / 2595) - 1) : m < 15 ? (200 * m) / 3 : 1000 * Math.exp(((m - 15) * Math.log(6.4)) / 27));
  const lo = toMel(spec.fMinHz);
  const hi = toMel(spec.fMaxHz);
  const edges = Array.from({ length: spec.nMels + 2 }, (_, i) => toHz(lo + ((hi - lo) * i) / (spec.nMels + 1)));
  const [a, b] = spec.window === 'hann' ? [0.5, 0.5] : [0.54, 0.46];
  const y = x.map((v, i) => v - spec.preEmphasis * (i > 0 ? x[i - 1]! : 0));
  const frames: number[][] = [];
  for (let t = 0; t + L <= x.length; t += H) {
    const u = Array.from({ length: L }, (_, n) => y[t + n]! * (a - b * Math.cos((2 * Math.PI * n) / L)));
    const power = Array.from({ length: N / 2 + 1 }, (_, k) => {
      let re = 0;
      let im = 0;
      for (let n = 0; n < L; n++) {
        const phase = (2 * Math.PI * ((k * n) % N)) / N;
        re += u[n]! * Math.cos(phase);
        im -= u[n]! * Math.sin(phase);
      }
      return re * re + im * im;
    });
    const logMel = Array.from({ length: spec.nMels }, (_, m) => {
      const [f0, f1, f2] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
      const norm = spec.melNorm === 'slaney' ? 2 / (f2 - f0) : 1;
      let e = 0;
      power.forEach((p, k) => {
        const f = (k * sr) / N;
        e += Math.max(0, Math.min((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1))) * norm * p;
      });
      return Math.log(Math.max(e, spec.logFloor));
    });
    if (spec.kind === 'logmel') {
      frames.push(logMel);
      continue;
    }
    const M = spec.nMels;
    frames.push(Array.from({ length: spec.nMfcc! }, (_, k) => Math.sqrt((k === 0 ? 1 : 2) / M) * logMel.reduce((s, v, m) => s + v * Math.cos((Math.PI * k * (2 * m + 1)) / (2 * M)), 0)));
  }
  return frames;
}

describe('audio front end vs a direct implementation, non-default parameters', () => {
  const rng = new Rng(21);
  const cases: [string, AudioFrontendSpec][] = [
    ['mfcc 20 of 32 mels, nfft 1024, 30/15 ms, 100–6000 Hz, hamming, a = 0.9', audioFrontendSpec('mfcc', { nMfcc: 20, nMels: 32, nfft: 1024, frameMs: 30, hopMs: 15, fMinHz: 100, fMaxHz: 6000, window: 'hamming', preEmphasis: 0.9 })],
    ['mfcc 5 of 10 mels at 8 kHz, hop 25 ms > frame 20 ms, 0 Hz to Nyquist, no pre-emphasis', audioFrontendSpec('mfcc', { sampleRateHz: 8000, nMfcc: 5, nMels: 10, nfft: 256, frameMs: 20, hopMs: 25, fMinHz: 0, fMaxHz: 4000, preEmphasis: 0 })],
    ['logmel 64 at 22.05 kHz, nfft 2048 (frame 882 < nfft), 300 Hz to Nyquist', audioFrontendSpec('logmel', { sampleRateHz: 22050, nMels: 64, nfft: 2048, frameMs: 40, hopMs: 20, fMinHz: 300, fMaxHz: 11025 })],
    ['mfcc all 40 coefficients, 32/8 ms, slaney scale and norm, floor 1e-12', audioFrontendSpec('mfcc', { nMfcc: 40, nMels: 40, nfft: 512, frameMs: 32, hopMs: 8, melScale: 'slaney', melNorm: 'slaney', logFloor: 1e-12 })],
  ];
  for (const [name, spec] of cases) {
    it(`${name}: within ${REF_TOL_ABS} + ${REF_TOL_REL}·|x|`, () => {
      // A tone, noise and a DC offset; then digital silence (the log floor) for the last 0.1 s.
      const n = Math.round(spec.sampleRateHz * 0.3);
      const x = Float64Array.from({ length: n }, (_, i) => (i < n - spec.sampleRateHz / 10 ? 0.3 * Math.sin(i * 0.05) + 0.1 * rng.normal() + 0.05 : 0));
      const ref = directFeatures(spec, x);
      const got = computeFeatures(spec, x);
      expect([got.count, got.featureSize]).toEqual([ref.length, spec.nMfcc ?? spec.nMels]);
      let worst = 0;
      ref.forEach((row, t) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(got.data[t * got.featureSize + j]! - v) - REF_TOL_REL * Math.abs(v)))));
      expect(worst).toBeLessThanOrEqual(REF_TOL_ABS);
    });
  }
});
