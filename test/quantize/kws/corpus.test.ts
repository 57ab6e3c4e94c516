/**
 * Builds the --small keyword corpus with the real espeak-ng, flite and sox, then checks its
 * layout, audio format, split rule (on disk and in the manifest), determinism, caching, the long
 * stream's ground truth, and that the audio front end reads every clip. Skips, saying why, when
 * one of the three programs is missing.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioFrontendSpec, computeFeatures, readWavInfo, readWavMono } from '../../../src/index.js';
import { generateKwsCorpus, KWS_CORPUS_DEFAULTS, KWS_CORPUS_SMALL, planCorpus, type KwsCorpusManifest, type KwsCorpusOptions } from '../../../quantize/data/kws/corpus.js';
import type { StreamTruth } from '../../../quantize/data/kws/stream.js';
import { assertSplitIntegrity } from '../../../quantize/data/kws/voices.js';
import { KWS_LABELS, SILENCE_LABEL } from '../../../quantize/data/kws/words.js';

function missing(): string[] {
  const probes: [string, string[]][] = [['espeak-ng', ['--version']], ['flite', ['-lv']], ['sox', ['--version']]];
  return probes.filter(([cmd, args]) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  }).map(([cmd]) => cmd);
}
const absent = missing();
if (absent.length > 0) console.log(`skipping the kws corpus tests: ${absent.join(', ')} not installed (Debian packages espeak-ng, flite, sox)`);

const TEST_IDS = ['flite-kal16', 'flite-slt'];
const root = mkdtempSync(join(tmpdir(), 'edgernn-kws-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function small(over: Partial<KwsCorpusOptions>): KwsCorpusOptions {
  return { ...KWS_CORPUS_DEFAULTS, ...KWS_CORPUS_SMALL, jobs: 2, ...over };
}

function walk(dir: string, base = ''): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(dir, join(base, e.name)) : [join(base, e.name)]));
}

function digest(dir: string): Map<string, string> {
  return new Map(walk(dir).sort().map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
}

describe.skipIf(absent.length > 0)('--small keyword corpus from espeak-ng, flite and sox', () => {
  const opts = small({ outDir: join(root, 'a'), seed: 7 });
  let m: KwsCorpusManifest;
  beforeAll(async () => {
    m = (await generateKwsCorpus(opts)).manifest;
  }, 120_000);

  it('has every label in train, val and test, as the plan says', () => {
    const plan = planCorpus(opts);
    expect(m.clips.length).toBe(plan.jobs.length);
    for (const split of ['train', 'val', 'test'] as const) for (const l of KWS_LABELS) expect(m.counts[split][l]).toBeGreaterThan(0);
    expect(m.labels).toEqual(KWS_LABELS);
  });

  it('every clip is a 1 s, 16 kHz, 16-bit mono WAV at <split>/<label>/<clip>.wav', () => {
    const files = walk(opts.outDir).filter((f) => f.endsWith('.wav') && !f.startsWith('stream'));
    expect(files.sort()).toEqual(m.clips.map((c) => c.path).sort());
    for (const c of m.clips) {
      expect(c.path.split('/').slice(0, 2)).toEqual([c.split, c.label]);
      expect(readWavInfo(readFileSync(join(opts.outDir, c.path)))).toEqual({ sampleRateHz: 16000, channels: 1, bitsPerSample: 16, encoding: 'pcm', frames: 16000 });
    }
  });

  it('held-out voices: test holds only kal16/slt audio, train and val none of it (names, speakers, babble sources)', () => {
    expect(m.speakers.test).toEqual(TEST_IDS);
    expect([...m.speakers.train, ...m.speakers.val].some((s) => TEST_IDS.includes(s))).toBe(false);
    for (const c of m.clips) {
      const file = c.path.split('/')[2]!;
      const fromTest = TEST_IDS.some((id) => file.startsWith(`${id}_`));
      if (c.label !== SILENCE_LABEL) expect(fromTest).toBe(c.split === 'test');
      for (const s of c.sources) expect(TEST_IDS.includes(s)).toBe(c.split === 'test');
    }
    expect(() => assertSplitIntegrity(m.clips)).not.toThrow();
  });

  it('augmentation stays in its documented ranges and noise sits at 5–30 dB SNR', () => {
    for (const c of m.clips.filter((x) => x.word !== undefined)) {
      expect(c.aug.snrDb).toBeGreaterThanOrEqual(5);
      expect(c.aug.snrDb).toBeLessThanOrEqual(30);
      expect(c.aug.speed).toBeGreaterThanOrEqual(0.9);
      expect(c.aug.speed).toBeLessThanOrEqual(1.1);
      expect(Math.abs(c.aug.pitchCents!)).toBeLessThanOrEqual(200);
      expect(['white', 'pink', 'brown', 'babble']).toContain(c.aug.noise);
    }
  });

  it('word clips carry a word: the loudest 100 ms is well above the quietest (SNR >= 5 dB)', () => {
    for (const c of m.clips.filter((x) => x.word !== undefined)) {
      const x = readWavMono(readFileSync(join(opts.outDir, c.path))).samples;
      const e = Array.from({ length: 10 }, (_, k) => x.subarray(k * 1600, (k + 1) * 1600).reduce((s, v) => s + v * v, 0));
      expect(10 * Math.log10(Math.max(...e) / Math.max(Math.min(...e), 1e-12))).toBeGreaterThan(5);
    }
  });

  it('the audio front end reads every clip: 98 frames of 40 finite log-mels', () => {
    const spec = audioFrontendSpec('logmel');
    for (const c of m.clips) {
      const f = computeFeatures(spec, readWavMono(readFileSync(join(opts.outDir, c.path))).samples);
      expect(f.count).toBe(98);
      expect(f.data.every(Number.isFinite)).toBe(true);
    }
  });

  it('the long stream: held-out voices only, keywords at 10 dB inside the stream, louder than the noise before them', () => {
    const truth = JSON.parse(readFileSync(join(opts.outDir, 'stream', 'stream.json'), 'utf8')) as StreamTruth;
    const wav = readWavMono(readFileSync(join(opts.outDir, 'stream', 'stream.wav')));
    expect(wav.info.frames).toBe(Math.round(truth.durationSec * 16000));
    expect(truth.durationSec).toBe(20);
    expect(truth.keywords.length + truth.speech.length).toBeGreaterThan(3);
    const events = [...truth.keywords, ...truth.speech].sort((a, b) => a.onsetSec - b.onsetSec);
    for (let i = 1; i < events.length; i++) expect(events[i]!.onsetSec).toBeGreaterThanOrEqual(events[i - 1]!.offsetSec + 0.29); // gaps >= 0.3 s
    for (const e of events) expect(TEST_IDS).toContain(e.speaker);
    const power = (a: number, b: number): number => {
      const s = wav.samples.subarray(Math.round(a * 16000), Math.round(b * 16000));
      return s.reduce((acc, v) => acc + v * v, 0) / s.length;
    };
    for (const k of truth.keywords) {
      expect(k.snrDb).toBe(10);
      expect(k.offsetSec).toBeLessThanOrEqual(truth.durationSec);
      // speech + noise over noise alone: nominally 10·log10(10 + 1) = 10.4 dB
      expect(10 * Math.log10(power(k.onsetSec, k.offsetSec) / power(k.onsetSec - 0.28, k.onsetSec - 0.02))).toBeGreaterThan(5);
    }
    expect(m.stream).toMatchObject({ wav: 'stream/stream.wav', truth: 'stream/stream.json', keywords: truth.keywords.length });
  });

  it('a second run with the same options reuses the cache', async () => {
    const r = await generateKwsCorpus(opts);
    expect(r.cached).toBe(true);
    expect(r.manifest.configHash).toBe(m.configHash);
  });
});

describe.skipIf(absent.length > 0)('determinism', () => {
  const tiny = (dir: string, seed: number): KwsCorpusOptions =>
    small({ outDir: join(root, dir), seed, espeakAccents: ['en-us', 'en-gb'], espeakVariants: ['m3'], streamMinutes: 0.1, bedSeconds: 6 });

  it('the same seed gives byte-identical files; another seed different ones', async () => {
    await generateKwsCorpus(tiny('d1', 3));
    await generateKwsCorpus({ ...tiny('d2', 3), jobs: 1 }); // a different interleaving of the pool
    await generateKwsCorpus(tiny('d3', 4));
    const d1 = digest(join(root, 'd1'));
    const d2 = digest(join(root, 'd2'));
    const d3 = digest(join(root, 'd3'));
    expect(d1.size).toBeGreaterThan(40);
    expect([...d2]).toEqual([...d1]);
    const words = [...d1.keys()].filter((f) => f.endsWith('.wav') && !f.includes(SILENCE_LABEL) && !f.startsWith('stream'));
    const same = words.filter((f) => d3.get(f) === d1.get(f));
    expect(same).toEqual([]);
  }, 120_000);
});

describe.skipIf(absent.length > 0)('espeak-ng variants', () => {
  it('a variant espeak-ng does not have is a USAGE error before any synthesis (espeak-ng spoke it with the plain voice, exit 0)', async () => {
    const outDir = join(root, 'typo');
    await expect(generateKwsCorpus(small({ outDir, espeakVariants: ['m3', 'm33'] }))).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/espeakVariants must be espeak-ng variants installed here \(.*\bm3\b.*\), got "m33": espeak-ng would speak them with the plain voice/),
    });
    expect(() => readdirSync(outDir)).toThrow(); // nothing written
  });
});
