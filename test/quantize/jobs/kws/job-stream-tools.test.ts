/**
 * A job stream that must be synthesized checks every program first: with none on PATH the error
 * names all of them and the packages to install (it was the first one the synthesis happened to
 * spawn, after the stream folder had been cleared).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KWS_CORPUS_DEFAULTS, KWS_CORPUS_SMALL, planCorpus } from '../../../../quantize/data/kws/corpus.js';
import type { CorpusIndex } from '../../../../quantize/jobs/kws/features.js';
import { jobStream, jobStreamKey } from '../../../../quantize/jobs/kws/streams.js';

describe('jobStream without the TTS programs', () => {
  it('names every missing program and its package before any synthesis', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kws-job-stream-'));
    const options = { ...KWS_CORPUS_DEFAULTS, ...KWS_CORPUS_SMALL, outDir: root, jobs: 1 };
    const { outDir: _o, jobs: _j, ...kept } = options;
    // An index whose val voices are the plan's (the held-out rule passes; synthesis is what remains).
    const { speakers } = planCorpus(options);
    const index: CorpusIndex = { root, labels: ['yes', '_unknown_', '_silence_'], sampleRateHz: 16000, clips: speakers.val.map((s) => ({ path: `val/yes/${s.id}_yes_0.wav`, split: 'val' as const, label: 'yes', speaker: s.id })), manifestSha256: 'x', options: kept, configHash: 'test' };
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-empty-path-'));
    const saved = process.env.PATH;
    process.env.PATH = empty;
    try {
      await expect(jobStream(index, { split: 'val', minutes: 1, seed: 1, dir: path.join(root, 'streams'), jobs: 1 })).rejects.toMatchObject({
        code: 'EXTERNAL_TOOL',
        message: 'missing espeak-ng, flite, sox: install the Debian packages (apt-get install espeak-ng flite sox)',
      });
    } finally {
      process.env.PATH = saved;
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('jobStreamKey', () => {
  const o = { split: 'val' as const, seed: 1001, minutes: 60 };
  it('a corpus of another generator version gets streams of its own (same options, same config hash)', () => {
    const v1 = jobStreamKey({ configHash: 'abc', version: 1 }, o);
    expect(jobStreamKey({ configHash: 'abc', version: 2 }, o)).not.toBe(v1);
    expect(jobStreamKey({ configHash: 'abc' }, o)).not.toBe(v1);
    // Version 1 keeps the key it had before the version was part of it: its cached streams stay valid.
    expect(v1).toBe(createHash('sha256').update(JSON.stringify({ corpus: 'abc', split: 'val', seed: 1001, minutes: 60 })).digest('hex').slice(0, 16));
  });
});
