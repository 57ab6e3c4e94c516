/**
 * Corpus features of the keyword job: the manifest index (with _unknown_ and _silence_), the
 * feature cache (same numbers from disk as computed, computed by the front end's own batch path),
 * speed perturbation, and the batch augmentation. The corpus part uses the small corpus
 * (`npm run data:kws -- --small`, ~7 s) and skips with a reason when it is absent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AudioFrontend, audioFrontendSpec, readWavMono } from '../../../../src/index.js';
import { augmentingForward } from '../../../../quantize/jobs/kws/augment.js';
import { fitCentered, perturbedFeatures, readCorpusIndex, speedPerturb, splitFeatures } from '../../../../quantize/jobs/kws/features.js';
import type { Batch } from '../../../../quantize/train/batches.js';
import { errorMessage } from '../../../helpers/errors.js';

const SMALL = path.resolve(import.meta.dirname, '../../../../.cache/kws-small');
const haveSmall = fs.existsSync(path.join(SMALL, 'manifest.json'));
if (!haveSmall) console.log(`skipping the corpus feature tests: no small corpus in ${SMALL} (make it with: npm run data:kws -- --small)`);
const SPEC = audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024, nMfcc: 13 });
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'kws-features-'));

describe.skipIf(!haveSmall)('corpus features (small corpus)', () => {
  it('reads every split with all 12 labels, _unknown_ and _silence_ included', () => {
    const index = readCorpusIndex(SMALL);
    expect(index.labels).toEqual(['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go', '_unknown_', '_silence_']);
    for (const split of ['train', 'val', 'test'] as const) {
      const labels = new Set(index.clips.filter((c) => c.split === split).map((c) => c.label));
      expect(labels).toEqual(new Set(index.labels));
    }
    // The held-out rule, seen from here: test clips are spoken by kal16 or slt only.
    const testSpeakers = new Set(index.clips.filter((c) => c.split === 'test' && c.speaker).map((c) => c.speaker));
    expect([...testSpeakers].every((s) => s === 'flite-kal16' || s === 'flite-slt')).toBe(true);
  });

  it('computes the front end batch path per clip and reads the same numbers back from the cache', () => {
    const index = readCorpusIndex(SMALL);
    const dir = tmp();
    const a = splitFeatures(index, 'val', SPEC, dir);
    expect(a.cached).toBe(false);
    expect(a.clips.length).toBe(index.clips.filter((c) => c.split === 'val').length);
    const c = a.clips.find((x) => x.label === '_silence_')!;
    const { samples } = readWavMono(new Uint8Array(fs.readFileSync(path.join(SMALL, c.path))));
    const direct = new AudioFrontend(SPEC).batch(samples);
    expect(c.T).toBe(direct.count);
    expect(c.T).toBe(49); // 1 + floor((16000 - 640) / 320)
    expect(Array.from(c.x)).toEqual(Array.from(direct.data));
    const b = splitFeatures(index, 'val', SPEC, dir);
    expect(b.cached).toBe(true);
    expect(b.clips.map((x) => [x.path, x.y, x.speaker, Array.from(x.x)])).toEqual(a.clips.map((x) => [x.path, x.y, x.speaker, Array.from(x.x)]));
    // Another front end is another cache entry.
    expect(splitFeatures(index, 'val', audioFrontendSpec('logmel', { frameMs: 40, hopMs: 20, nfft: 1024 }), dir).cached).toBe(false);
  });

  it('perturbs only the chosen clips, once per factor, and caches them', () => {
    const index = readCorpusIndex(SMALL);
    const dir = tmp();
    const pick = (c: { speaker?: string }) => c.speaker === 'flite-awb';
    const n = index.clips.filter((c) => c.split === 'train' && pick(c)).length;
    expect(n).toBeGreaterThan(0);
    const p = perturbedFeatures(index, 'train', SPEC, dir, [0.9, 1.2], pick);
    expect(p.clips.length).toBe(2 * n);
    expect(p.clips.every((c) => /@(0\.9|1\.2)$/.test(c.path) && c.T === 49)).toBe(true);
    const again = perturbedFeatures(index, 'train', SPEC, dir, [0.9, 1.2], pick);
    expect(again.cached).toBe(true);
    expect(Array.from(again.clips[3]!.x)).toEqual(Array.from(p.clips[3]!.x));
  });
});

describe('corpus index errors', () => {
  it('names a missing or incomplete manifest', () => {
    const dir = tmp();
    const err = (fn: () => unknown): string => errorMessage(fn, 'BAD_DATA');
    expect(err(() => readCorpusIndex(dir))).toMatch(/manifest\.json: no corpus manifest: generate the corpus with `npm run data:kws`/);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ labels: ['a', 'b'], clips: [] }));
    expect(err(() => readCorpusIndex(dir))).toMatch(/the corpus is incomplete/);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ complete: true, labels: ['a', 'b'], clips: [{ path: 'x.wav', split: 'train', label: 'c' }] }));
    expect(err(() => readCorpusIndex(dir))).toMatch(/clips\[0\] has label 'c', not one of a, b/);
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{not json');
    expect(err(() => readCorpusIndex(dir))).toMatch(/not JSON/);
  });
});

describe('speedPerturb', () => {
  const SR = 16000;
  /** Frequency of a sine from its positive-going zero crossings over [a, b). */
  function frequency(x: Float32Array, a: number, b: number): number {
    const ups: number[] = [];
    for (let i = a + 1; i < b; i++) if (x[i - 1]! < 0 && x[i]! >= 0) ups.push(i - 1 + -x[i - 1]! / (x[i]! - x[i - 1]!));
    return ((ups.length - 1) * SR) / (ups[ups.length - 1]! - ups[0]!);
  }
  const tone = Float32Array.from({ length: SR }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / SR));

  it('scales frequencies by r and keeps the length', () => {
    for (const r of [0.8, 1.25]) {
      const y = speedPerturb(tone, r, SR, SR);
      expect(y.length).toBe(SR);
      expect(frequency(y, 2000, 14000)).toBeCloseTo(440 * r, 0);
    }
  });

  it('mirrors the edges of a shortened clip instead of padding silence', () => {
    expect(Array.from(fitCentered([1, 2, 3, 4], 8))).toEqual([2, 1, 1, 2, 3, 4, 4, 3]);
    expect(Array.from(fitCentered([1, 2, 3, 4, 5, 6], 3))).toEqual([2, 3, 4]);
    expect(Array.from(fitCentered([7, 8], 7))).toEqual([8, 8, 7, 7, 8, 8, 7]); // repeats when far too short
    expect(Array.from(fitCentered([], 2))).toEqual([0, 0]);
    const y = speedPerturb(tone, 1.25, SR, SR);
    let quiet = 0;
    for (let i = 0; i < SR - 1; i++) if (Math.abs(y[i]!) < 1e-3 && Math.abs(y[i + 1]!) < 1e-3) quiet++;
    expect(quiet).toBe(0); // no stretch of silence anywhere
  });
});

describe('augmentingForward', () => {
  const F = 3;
  const norm = { inputMean: [1, 2, 3], inputStd: [2, 0.5, 1], outputMean: [], outputStd: [] };
  /** A batch of B=2 sequences, T=4 steps; the second is 2 steps long (padded). */
  function batch(): Batch {
    const T = 4;
    const B = 2;
    const mask = Uint8Array.from({ length: T * B }, (_, i) => (i % B === 1 && Math.floor(i / B) >= 2 ? 0 : 1));
    const x = Float32Array.from({ length: T * B * F }, (_, i) => Math.sin(i));
    const raw = Float32Array.from(x, (v, i) => v * norm.inputStd[i % F]! + norm.inputMean[i % F]!);
    return { x, raw, shape: { T, B, mask }, lengths: [4, 2], y: new Int32Array(B), target: null, weight: null };
  }
  const seen: Batch[] = [];
  const inner = (_n: unknown, b: Batch) => {
    seen.push(b);
    return new Float32Array(0);
  };
  const o = { offsetStd: 0.5, levelStd: 0.3, noiseStd: 0.1, maskProb: 1, maxMaskFrames: 1, seed: 3 };

  it('leaves evaluation batches alone', () => {
    const b = batch();
    const before = [Array.from(b.x), Array.from(b.raw)];
    augmentingForward(o, norm, inner)(null as never, b, false);
    expect([Array.from(b.x), Array.from(b.raw)]).toEqual(before);
  });

  it('changes training batches, keeps raw = x·σ + μ, never touches padding, and is seeded', () => {
    const b = batch();
    const orig = Array.from(b.x);
    augmentingForward(o, norm, inner)(null as never, b, true);
    expect(Array.from(b.x)).not.toEqual(orig);
    for (let i = 0; i < b.x.length; i++) {
      const step = Math.floor(i / F);
      if (b.shape.mask[step] === 0) {
        expect(b.x[i]).toBe(Math.fround(orig[i]!));
        continue;
      }
      expect(b.raw[i]).toBeCloseTo(b.x[i]! * norm.inputStd[i % F]! + norm.inputMean[i % F]!, 5);
    }
    const c = batch();
    augmentingForward(o, norm, inner)(null as never, c, true);
    expect(Array.from(c.x)).toEqual(Array.from(b.x));
    expect(seen.length).toBe(3);
  });
});
