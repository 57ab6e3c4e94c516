/**
 * examples/kws-wav.mjs given an mfcc classifier without a tuned keyword detector (what
 * `edgernn train` makes from a WAV folder): one line naming what the model lacks, exit 1, no
 * stack trace (it ended in an uncaught EdgeRnnError with a stack). Needs the build (dist/).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { encodeWav } from '../../src/io/wav.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { runCaptured } from '../helpers/cli.js';
import { tmpDir } from '../gateway/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const work = tmpDir('edgernn-kws-wav-model-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

it('a keyword-less mfcc model: one line, exit 1, no stack', async () => {
  const tone = (hz: number): Float32Array => Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 16000));
  for (const [label, hz] of [
    ['low', 300],
    ['high', 2500],
  ] as const) {
    fs.mkdirSync(path.join(work, 'clips', label), { recursive: true });
    for (let k = 0; k < 2; k++) fs.writeFileSync(path.join(work, 'clips', label, `c${k}.wav`), encodeWav(tone(hz + 40 * k), 16000));
  }
  const t = await runCaptured(['train', '--data', 'clips', '--hidden', '4', '--epochs', '1', '-o', 'plain.ern'], desktopCommands, work);
  expect(t.code, t.err).toBe(0);
  fs.writeFileSync(path.join(work, 'rec.wav'), encodeWav(tone(300), 16000));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'examples/kws-wav.mjs'), 'rec.wav', 'plain.ern'], { encoding: 'utf8', cwd: work });
  expect(r.status, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^plain\.ern: .*extra\.kws must be an object.*; this example needs a keyword model with its detector settings/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});
