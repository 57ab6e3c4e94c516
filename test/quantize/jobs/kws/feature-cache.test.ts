/**
 * The keyword job's feature cache against interrupted writes: an entry cut short (a process killed
 * while writing it) or with an unreadable index is computed again, never read as complete. Runs on
 * a hand-made two-clip corpus and a 3 s recording of seeded noise (no TTS needed).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { audioFrontendSpec, encodeWav, Rng } from '../../../../src/index.js';
import { readCorpusIndex, recordingFeatures, splitFeatures } from '../../../../quantize/jobs/kws/features.js';

const SPEC = audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024, nMfcc: 13 });
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'kws-feature-cache-'));

function noise(seconds: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: Math.round(seconds * 16000) }, () => 0.1 * rng.normal());
}

/** A corpus of two val clips in the layout `npm run data:kws` writes. */
function tinyCorpus(): string {
  const root = tmp();
  const clips = [
    { path: 'val/yes/a_yes_0.wav', split: 'val', label: 'yes', speaker: 'espeak-a' },
    { path: 'val/_silence_/noise_0.wav', split: 'val', label: '_silence_' },
  ];
  clips.forEach((c, i) => {
    fs.mkdirSync(path.join(root, path.dirname(c.path)), { recursive: true });
    fs.writeFileSync(path.join(root, c.path), encodeWav(noise(1, i + 1), 16000));
  });
  fs.writeFileSync(path.join(root, 'manifest.json'), JSON.stringify({ generator: 'quantize/data/kws', version: 1, configHash: 'test', sampleRateHz: 16000, labels: ['yes', '_unknown_', '_silence_'], clips, complete: true }));
  return root;
}

describe('kws feature cache', () => {
  it('a recording cache cut short by an interrupted write is computed again, not read as a shorter stream', () => {
    const dir = tmp();
    const wav = path.join(dir, 'stream.wav');
    fs.writeFileSync(wav, encodeWav(noise(3, 7), 16000));
    const cache = path.join(dir, 'features');
    const a = recordingFeatures(wav, SPEC, cache);
    expect(a.cached).toBe(false);
    expect(a.T).toBe(149); // 1 + floor((48000 - 640) / 320)
    const bin = fs.readdirSync(cache).find((f) => f.endsWith('.f32'))!;
    fs.truncateSync(path.join(cache, bin), 4 * a.featureSize * 60);
    const b = recordingFeatures(wav, SPEC, cache);
    expect(b.cached).toBe(false);
    expect(b.T).toBe(a.T);
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
    const c = recordingFeatures(wav, SPEC, cache);
    expect(c.cached).toBe(true);
    expect(c.T).toBe(a.T);
  });

  it('leaves no temporary files behind', () => {
    const dir = tmp();
    const wav = path.join(dir, 'stream.wav');
    fs.writeFileSync(wav, encodeWav(noise(1, 3), 16000));
    recordingFeatures(wav, SPEC, path.join(dir, 'features'));
    splitFeatures(readCorpusIndex(tinyCorpus()), 'val', SPEC, path.join(dir, 'features'));
    expect(fs.readdirSync(path.join(dir, 'features')).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a clip cache whose index was cut short is computed again instead of failing on its JSON', () => {
    const index = readCorpusIndex(tinyCorpus());
    expect(index.version).toBe(1); // the generator version, part of the job streams' key
    const cache = tmp();
    const a = splitFeatures(index, 'val', SPEC, cache);
    expect(a.cached).toBe(false);
    const idx = path.join(cache, fs.readdirSync(cache).find((f) => f.endsWith('.json'))!);
    fs.writeFileSync(idx, fs.readFileSync(idx, 'utf8').slice(0, 40));
    const b = splitFeatures(index, 'val', SPEC, cache);
    expect(b.cached).toBe(false);
    expect(b.clips.map((c) => [c.path, c.T, Array.from(c.x)])).toEqual(a.clips.map((c) => [c.path, c.T, Array.from(c.x)]));
    // A frame file cut short (its index intact) is a miss as well.
    const bin = path.join(cache, fs.readdirSync(cache).find((f) => f.endsWith('.f32'))!);
    fs.truncateSync(bin, fs.statSync(bin).size - 6);
    expect(splitFeatures(index, 'val', SPEC, cache).cached).toBe(false);
    expect(splitFeatures(index, 'val', SPEC, cache).cached).toBe(true);
  });
});
