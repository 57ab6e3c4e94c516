/**
 * `edgernn eval` of a shipped job model given one recording instead of the job's folder: the
 * error says what the model is scored on and which example takes one recording (it said
 * "unknown data format '.txt'", listing formats that do not apply).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { encodeWav } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { runCaptured } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-eval-one-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('har.ern on one HMP .txt, kws.ern on one .wav: exit 1 naming the folder it needs and the example', async () => {
  fs.writeFileSync(path.join(dir, 'walk.txt'), '31 40 21\n32 41 22\n');
  fs.writeFileSync(path.join(dir, 'yes.wav'), encodeWav(new Float32Array(1600), 16000));
  const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
  const har = await cli('eval', path.join(ROOT, 'models/har.ern'), '--data', 'walk.txt');
  expect(har.code).toBe(1);
  expect(har.err).toMatch(/BAD_DATA.*walk\.txt: a model with an 'imu' front end is scored on an HMP dataset root .*node examples\/har-recording\.mjs walk\.txt /);
  const kws = await cli('eval', path.join(ROOT, 'models/kws.ern'), '--data', 'yes.wav');
  expect(kws.code).toBe(1);
  expect(kws.err).toMatch(/BAD_DATA.*yes\.wav: a model with a 'mfcc' front end is scored on a folder of <label>\/<clip>\.wav clips.*node examples\/kws-wav\.mjs yes\.wav /);
});
