import { describe, expect, it } from 'vitest';
import { audioFrontendSpec, AudioFrontend, hzToMel, makeWindow, melFilterbank, melFilterbankDense, melToHz, dctOrthoMatrix, Rng, type MelFilterbankOptions } from '../../src/index.js';

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

describe('filterbank construction cost', () => {
  /** librosa's formula evaluated at every bin for every filter: the weights melFilterbank must give. */
  function denseReference(o: MelFilterbankOptions): Float64Array {
    const nBins = Math.floor(o.nfft / 2) + 1;
    const lo = hzToMel(o.fMinHz, o.melScale);
    const hi = hzToMel(o.fMaxHz, o.melScale);
    const edges = Array.from({ length: o.nMels + 2 }, (_, i) => melToHz(i === o.nMels + 1 ? hi : i * ((hi - lo) / (o.nMels + 1)) + lo, o.melScale));
    const d = new Float64Array(o.nMels * nBins);
    for (let m = 0; m < o.nMels; m++) {
      const [f0, f1, f2] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
      const enorm = o.melNorm === 'slaney' ? 2 / (f2 - f0) : 1;
      for (let k = 0; k < nBins; k++) {
        const fk = (k * o.sampleRateHz) / o.nfft;
        const w = Math.max(0, Math.min((fk - f0) / (f1 - f0), (f2 - fk) / (f2 - f1))) * enorm;
        if (w > 0) d[m * nBins + k] = w;
      }
    }
    return d;
  }

  it('scans only the bins under each triangle: the same weights as every bin for every filter', () => {
    const rng = new Rng(21);
    let compared = 0;
    for (let t = 0; t < 300; t++) {
      const nfft = 2 ** rng.int(1, 9);
      const sampleRateHz = [1000, 8000, 16000, 22050, 44100, 384000][rng.int(0, 5)]!;
      const fMinHz = rng.uniform(0, 1) < 0.3 ? 0 : rng.uniform(0, 0.45 * sampleRateHz);
      const fMaxHz = rng.uniform(0, 1) < 0.3 ? sampleRateHz / 2 : rng.uniform(fMinHz + 1e-3, sampleRateHz / 2);
      const o: MelFilterbankOptions = { sampleRateHz, nfft, nMels: rng.int(1, nfft / 2 + 1), fMinHz, fMaxHz, melScale: rng.uniform(0, 1) < 0.5 ? 'htk' : 'slaney', melNorm: rng.uniform(0, 1) < 0.5 ? 'none' : 'slaney' };
      const got = melFilterbankDense(melFilterbank(o));
      const want = denseReference(o);
      const bad = want.findIndex((w, i) => !Object.is(w, got[i]));
      expect(bad, JSON.stringify(o)).toBe(-1);
      compared += want.length;
    }
    expect(compared).toBeGreaterThan(100000);
  });

  it('a valid spec with many mels builds in well under a second (it took O(nMels · nBins): ~8 s here, ~30 min at nfft 2^20 with 2^19 mels)', () => {
    const t0 = performance.now();
    const fe = new AudioFrontend(audioFrontendSpec('logmel', { nfft: 2 ** 16, nMels: 2 ** 15, fMinHz: 0, fMaxHz: 8000 }));
    expect(fe.featureSize).toBe(2 ** 15);
    expect(performance.now() - t0).toBeLessThan(2000); // measured 0.1 s
  });
});
