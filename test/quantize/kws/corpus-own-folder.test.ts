/**
 * `npm run data:kws -- --out DIR` on a folder it did not make: the build deleted DIR's train/,
 * val/, test/ and stream/ (and manifest.json) whatever they held, someone's own clips included.
 * Such a folder is refused before anything is deleted (no TTS tool is needed to get there).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { generateKwsCorpus, KWS_CORPUS_DEFAULTS, type KwsCorpusOptions } from '../../../quantize/data/kws/corpus.js';

const root = mkdtempSync(join(tmpdir(), 'edgernn-kws-own-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** No clips, no stream (a build, were it to start, takes seconds). */
const tiny = (outDir: string): KwsCorpusOptions => ({ ...KWS_CORPUS_DEFAULTS, outDir, jobs: 2, espeakAccents: ['en-us'], espeakVariants: ['m3'], clipsPerWord: 0, unknownPerSpeaker: 0, testClipsPerWord: 0, testUnknownPerSpeaker: 0, streamMinutes: 0, bedSeconds: 5, babbleTalkers: 1 });

it('a folder holding train/ (or val/, test/) without a corpus manifest is refused, its files kept', async () => {
  const out = join(root, 'mine');
  mkdirSync(join(out, 'train', 'yes'), { recursive: true });
  writeFileSync(join(out, 'train', 'yes', 'take1.wav'), 'my recording');
  await expect(generateKwsCorpus(tiny(out))).rejects.toMatchObject({
    code: 'USAGE',
    message: expect.stringMatching(/mine holds train\/ but no manifest\.json: it is no corpus of data:kws, and building one there deletes it; give an empty or new folder \(--out\)/),
  });
  expect(existsSync(join(out, 'train', 'yes', 'take1.wav'))).toBe(true);
  expect(readdirSync(out)).toEqual(['train']); // the lock file is gone too
  // A manifest.json of another tool is no corpus of this one either.
  writeFileSync(join(out, 'manifest.json'), JSON.stringify({ dataset: 'mine' }));
  await expect(generateKwsCorpus(tiny(out))).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/holds train\/, a manifest\.json of another generator \(undefined\): it is no corpus of data:kws, and building one there deletes them;/) });
  expect(existsSync(join(out, 'train', 'yes', 'take1.wav'))).toBe(true);
});
