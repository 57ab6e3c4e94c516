/**
 * `eval-kws` and `tune-kws` on bad stream folders and without a corpus: typed errors naming the
 * file and field (exit 1), never a stack trace from the scorer. No corpus and no training: the
 * commands fail before any work, on a one-second stream written here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evalKwsCommand, tuneKwsCommand } from '../../../../quantize/jobs/kws/cli.js';
import { parseStreamTruth } from '../../../../quantize/jobs/kws/retune.js';
import { errorMessage } from '../../../helpers/errors.js';
import { runCaptured } from '../../../helpers/cli.js';

const model = path.resolve(import.meta.dirname, '../../../../models/kws.ern');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kws-cli-streams-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A 16 kHz mono 16-bit WAV of silence. */
function wav(seconds: number): Buffer {
  const n = Math.round(16000 * seconds);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(16000, 24);
  b.writeUInt32LE(32000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  return b;
}

function streamDir(name: string, json: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'stream.wav'), wav(1));
  fs.writeFileSync(path.join(dir, 'stream.json'), json);
  return dir;
}

fs.mkdirSync(path.join(tmp, 'clips', 'yes'), { recursive: true });
fs.writeFileSync(path.join(tmp, 'clips', 'yes', 'a_nohash_0.wav'), wav(1));

describe('eval-kws and tune-kws stream folders', () => {
  const bad: [string, string, RegExp][] = [
    ['not-json', '{bad', /stream\.json: not valid JSON/],
    ['no-keywords', '{"durationSec": 1}', /stream\.json: 'keywords' must be a list/],
    ['bad-keyword', '{"durationSec": 1, "keywords": [{"word": "yes", "onsetSec": 0.5}]}', /stream\.json: keywords\[0\]: expected/],
    ['no-duration', '{"keywords": []}', /stream\.json: 'durationSec' must be a number > 0/],
  ];
  for (const [name, json, msg] of bad) {
    it(`a stream.json that is ${name}: a BAD_DATA error naming the file, from eval-kws and tune-kws`, async () => {
      const dir = streamDir(name, json);
      const e = await runCaptured(['eval-kws', model, '--data', 'clips', '--stream', dir], [evalKwsCommand], tmp);
      expect(e.code).toBe(1);
      expect(e.err).toMatch(/error \[BAD_DATA\]/);
      expect(e.err).toMatch(msg);
      expect(e.err).not.toMatch(/unexpected error|\n\s+at /);
      const t = await runCaptured(['tune-kws', model, '--stream', dir, '--val-stream', dir, '-o', path.join(tmp, 'out.ern')], [tuneKwsCommand], tmp);
      expect(t.code).toBe(1);
      expect(t.err).toMatch(msg);
      expect(t.err).not.toMatch(/unexpected error|\n\s+at /);
      expect(fs.existsSync(path.join(tmp, 'out.ern'))).toBe(false);
    });
  }

  it('keywords out of onset order are refused (the scorer assumes them sorted)', () => {
    const json = JSON.stringify({ durationSec: 10, keywords: [{ word: 'yes', onsetSec: 5, offsetSec: 6 }, { word: 'no', onsetSec: 1, offsetSec: 2 }] });
    expect(errorMessage(() => parseStreamTruth(json, 's.json'), 'BAD_DATA')).toMatch(/s\.json: keywords\[1\]: onsetSec 1 before the previous/);
    expect(parseStreamTruth(JSON.stringify({ durationSec: 10, keywords: [{ word: 'yes', onsetSec: 1, offsetSec: 2 }] }), 's.json').keywords).toHaveLength(1);
  });

  it('tune-kws without --val-stream and without a corpus names the flag to use', async () => {
    const dir = streamDir('good', JSON.stringify({ durationSec: 1, keywords: [] }));
    const t = await runCaptured(['tune-kws', model, '--stream', dir], [tuneKwsCommand], tmp);
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/no validation stream: pass --val-stream DIR/);
    expect(t.err).not.toMatch(/--corpus/);
  });

  it('tune-kws refuses to tune the thresholds on the held-out stream (exit 2, nothing written)', async () => {
    const dir = streamDir('held-out', JSON.stringify({ durationSec: 1, keywords: [] }));
    const copy = streamDir('held-out-copy', JSON.stringify({ durationSec: 1, keywords: [] }));
    for (const val of [dir, copy]) {
      const out = path.join(tmp, 'tuned-on-test.ern');
      const t = await runCaptured(['tune-kws', model, '--stream', dir, '--val-stream', val, '-o', out], [tuneKwsCommand], tmp);
      expect(t.code).toBe(2);
      expect(t.err).toMatch(/--val-stream .* is the held-out stream/);
      expect(fs.existsSync(out)).toBe(false);
    }
  });

  it('tune-kws checks --out before any work (a file where its folder should be: exit 2)', async () => {
    const test = streamDir('out-test', JSON.stringify({ durationSec: 1, keywords: [] }));
    const val = path.join(tmp, 'out-val');
    fs.mkdirSync(val, { recursive: true });
    fs.writeFileSync(path.join(val, 'stream.wav'), wav(2));
    fs.writeFileSync(path.join(val, 'stream.json'), JSON.stringify({ durationSec: 2, keywords: [] }));
    fs.writeFileSync(path.join(tmp, 'a-file'), 'x');
    const t = await runCaptured(['tune-kws', model, '--stream', test, '--val-stream', val, '-o', path.join(tmp, 'a-file', 'out.ern')], [tuneKwsCommand], tmp);
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/--out .*a-file is a file, not a folder/);
  });

  // Outside the repository (an npm user), models/kws.ern is not in the current folder: the
  // commands said "no such model file" instead of using the model the package ships.
  it('eval-kws and tune-kws without MODEL.ern use the packaged model outside the repository', async () => {
    const away = fs.mkdtempSync(path.join(tmp, 'elsewhere-'));
    const e = await runCaptured(['eval-kws', '--stream', 'none'], [evalKwsCommand], away);
    expect(e.err).not.toMatch(/no such model file/);
    expect(e.err).toMatch(/\.cache\/kws\/test: no such folder/);
    const dir = streamDir('packaged', JSON.stringify({ durationSec: 1, keywords: [] }));
    // Written back by default, the package's own copy would change: -o is required then.
    const bare = await runCaptured(['tune-kws', '--stream', dir], [tuneKwsCommand], away);
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/without MODEL\.ern tune-kws reads the packaged model .*kws\.ern: give -o FILE/);
    const t = await runCaptured(['tune-kws', '--stream', dir, '-o', path.join(away, 'mine.ern')], [tuneKwsCommand], away);
    expect(t.err).not.toMatch(/no such model file/);
    expect(t.err).toMatch(/no validation stream: pass --val-stream DIR/);
  });

  it('eval-kws without a corpus says the default --data folder does not exist', async () => {
    const e = await runCaptured(['eval-kws', model, '--stream', 'none'], [evalKwsCommand], tmp);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/\.cache\/kws\/test: no such folder: expected a corpus of npm run data:kws/);
  });
});
