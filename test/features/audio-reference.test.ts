/**
 * The audio front end against a librosa-style numpy reference (test/fixtures/features/
 * generate.py: librosa's mel/window/DCT formulas, numpy's pocketfft), stored as float32.
 * Both sides compute in float64 and round once to float32, so they may differ by the rounding of
 * either side: REF_TOL_ABS + REF_TOL_REL · |x| covers that with margin (measured: identical on
 * log-mel, <= 5e-14 on MFCC).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeFeatures, melFilterbank, melFilterbankDense, readNpy, validateAudioSpec } from '../../src/index.js';

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
