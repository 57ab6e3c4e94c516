/**
 * A user's own stream (stream.wav + stream.json) scored by eval-kws or tuned on by tune-kws: a
 * truth that cannot belong to the model or to the recording is a BAD_DATA error naming the file
 * and the field. Before, a keyword spelled "Yes" was a miss no detector could avoid (and the real
 * event on it a false accept), and a durationSec of another recording divided the false accepts
 * per hour by the wrong length: 1 false accept in a 40 s stream read "1.00 per hour".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateKwsFile, formatKwsEval } from '../../../../quantize/jobs/kws/eval-job.js';
import { retuneKwsModel } from '../../../../quantize/jobs/kws/retune.js';
import { checkStreamDuration, checkStreamWords } from '../../../../quantize/jobs/kws/stream-eval.js';
import { fixtureStream } from './fixture-stream.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const MODEL = path.join(ROOT, 'models/kws.ern');
const FIXTURES = path.join(ROOT, 'test/fixtures/kws');
const KEYWORDS = ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-kws-truth-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A fixture stream in dir/name whose stream.json is edited by `edit`. */
function stream(name: string, edit: (truth: { durationSec: number; keywords: { word: string; onsetSec: number; offsetSec: number }[] }) => void): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fixtureStream(dir);
  const file = path.join(dir, 'stream.json');
  const truth = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(truth);
  fs.writeFileSync(file, JSON.stringify(truth));
  return dir;
}

describe('stream truth against the model and the recording', () => {
  it('checkStreamWords: a word the model cannot fire, or a keyword past the end, names the file and the keyword', () => {
    const truth = { durationSec: 10, keywords: [{ word: 'yes', onsetSec: 1, offsetSec: 1.5 }, { word: 'Yes', onsetSec: 3, offsetSec: 3.5 }] };
    expect(() => checkStreamWords(truth, KEYWORDS, 's/stream.json')).toThrow("s/stream.json: keywords[1]: 'Yes' is not a keyword of the model (yes, no, up, down, left, right, on, off, stop, go)");
    expect(() => checkStreamWords({ durationSec: 3, keywords: [{ word: 'go', onsetSec: 2.8, offsetSec: 3.2 }] }, KEYWORDS, 's/stream.json')).toThrow("keywords[0] ('go') ends at 3.2 s, after the stream's durationSec 3");
    expect(() => checkStreamWords({ durationSec: 10, keywords: truth.keywords.slice(0, 1) }, KEYWORDS, 's')).not.toThrow();
    expect(() => checkStreamDuration({ durationSec: 60, keywords: [] }, 6.9, 's/stream.json')).toThrow('s/stream.json: durationSec is 60, its stream.wav lasts 6.90 s');
    expect(() => checkStreamDuration({ durationSec: 7, keywords: [] }, 6.9, 's')).not.toThrow(); // hand-written, rounded
  });

  it('eval-kws refuses a stream.json of other words or of another length (BAD_DATA), and scores a right one', async () => {
    const eval_ = (dir: string) => evaluateKwsFile(MODEL, { data: FIXTURES, stream: dir, cacheDir: path.join(work, 'cache'), backend: 'auto' });
    const typo = stream('typo', (t) => (t.keywords[0]!.word = t.keywords[0]!.word.toUpperCase()));
    await expect(eval_(typo)).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringContaining(`${typo}/stream.json: keywords[0]: 'YES' is not a keyword of the model`) });
    const hour = stream('hour', (t) => (t.durationSec = 3600));
    await expect(eval_(hour)).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringMatching(/stream\.json: durationSec is 3600, its stream\.wav lasts \d+\.\d\d s/) });
    const ok = await eval_(stream('ok', () => {}));
    expect(ok.stream!.durationSec).toBeLessThan(60);
    // Nothing detected: no "median delay NaN ms".
    expect(formatKwsEval({ ...ok, stream: { ...ok.stream!, hits: 0, medianDelayMs: NaN } }, KEYWORDS)).not.toContain('NaN');
  }, 60_000);

  it("eval-kws on a model of another job names the model and what it lacks (it was a front-end error naming neither)", async () => {
    await expect(evaluateKwsFile(path.join(ROOT, 'models/har.ern'), { data: FIXTURES, cacheDir: path.join(work, 'cache'), backend: 'auto' })).rejects.toMatchObject({
      code: 'DETECTOR_OPTION',
      message: expect.stringMatching(/^model 'har': extra\.kws must be an object \(a keyword model/),
    });
  });

  it('tune-kws refuses a validation stream of other words before any features are computed', async () => {
    const bad = stream('tune-typo', (t) => t.keywords.push({ word: 'marvin', onsetSec: t.durationSec - 0.5, offsetSec: t.durationSec - 0.1 }));
    const good = stream('tune-good', () => {});
    const read = (dir: string) => ({ wav: path.join(dir, 'stream.wav'), truth: JSON.parse(fs.readFileSync(path.join(dir, 'stream.json'), 'utf8')) });
    const cacheDir = path.join(work, 'tune-cache');
    await expect(
      retuneKwsModel(new Uint8Array(fs.readFileSync(MODEL)), MODEL, { windows: null, valStream: read(bad), testStream: read(good), maxFalseAcceptsPerHour: 0.5, minThreshold: 0.3, cacheDir, at: '2026-11-27T00:00:00Z' }),
    ).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringContaining("'marvin' is not a keyword of the model") });
    expect(fs.existsSync(cacheDir)).toBe(false);
  });
});
