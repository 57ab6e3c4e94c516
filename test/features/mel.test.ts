import { describe, expect, it } from 'vitest';
import { hzToMel, makeWindow, melFilterbank, melToHz, dctOrthoMatrix } from '../../src/index.js';

describe('mel scales (librosa definitions)', () => {
  it('HTK: 2595·log10(1 + f/700); 1000 Hz ≈ 1000 mel', () => {
    expect(hzToMel(700, 'htk')).toBeCloseTo(2595 * Math.log10(2), 12);
    expect(hzToMel(1000, 'htk')).toBeCloseTo(999.9855, 3);
  });
  it('Slaney: linear 3 mel per 200 Hz below 1 kHz, 27 mel per ln(6.4) above', () => {
    expect(hzToMel(200, 'slaney')).toBeCloseTo(3, 12);
    expect(hzToMel(1000, 'slaney')).toBeCloseTo(15, 12); // librosa: 1000 / (200/3) = 14.999999999999998
    expect(hzToMel(6400, 'slaney')).toBeCloseTo(42, 12);
  });
  it('melToHz inverts hzToMel on both scales', () => {
    for (const scale of ['htk', 'slaney'] as const) for (const f of [0, 20, 440, 999, 1000, 1001, 4000, 8000]) expect(melToHz(hzToMel(f, scale), scale)).toBeCloseTo(f, 8);
  });
  it('slaney-normalized triangles have unit area in Hz: Σ_k w·Δf ≈ 1 for filters wide enough', () => {
    const fb = melFilterbank({ sampleRateHz: 16000, nfft: 2048, nMels: 20, fMinHz: 0, fMaxHz: 8000, melScale: 'slaney', melNorm: 'slaney' });
    for (let m = 0; m < 20; m++) {
      let area = 0;
      for (let j = 0; j < fb.length[m]!; j++) area += fb.weights[fb.offset[m]! + j]! * (16000 / 2048);
      expect(area).toBeCloseTo(1, 1);
    }
  });
});

describe('windows and DCT', () => {
  it('periodic Hann: w[0] = 0, w[L/2] = 1, no second zero at the end', () => {
    const w = makeWindow('hann', 400);
    expect(w[0]).toBe(0);
    expect(w[200]).toBe(1);
    expect(w[399]).toBeGreaterThan(0);
  });
  it('orthonormal DCT-II rows are orthonormal', () => {
    const n = 16;
    const d = dctOrthoMatrix(n, n);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += d[a * n + i]! * d[b * n + i]!;
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 12);
      }
    }
  });
});
