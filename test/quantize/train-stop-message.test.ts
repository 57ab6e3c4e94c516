/**
 * `edgernn train`'s summary of when training stopped. A run that patience ended one epoch short
 * of --epochs 60, its last epoch the best (validation loss still falling, by less than minDelta of
 * the trivial predictor's loss), printed "best epoch 59 of 59 (early stop)": the 60 asked for was
 * gone, and nothing said why a run that was still improving stopped.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { desktopCommands } from '../../quantize/cli/index.js';
import { encodeWav } from '../../src/index.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-train-stop-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tone = (hz: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 16000));
let seed = 5;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (const [label, hz] of [['low', 300], ['high', 2000], ['_silence_', 0]] as const) {
  fs.mkdirSync(path.join(dir, 'clips', label), { recursive: true });
  for (let k = 0; k < 6; k++) {
    const clip = hz === 0 ? Float32Array.from({ length: 8000 }, () => 0.01 * (rnd() - 0.5)) : tone(hz + 40 * k, 8000);
    fs.writeFileSync(path.join(dir, 'clips', label, `c${k}.wav`), encodeWav(clip, 16000));
  }
}

const train = (epochs: number) => runCaptured(['train', '--data', 'clips', '-o', `m${epochs}.ern`, '--hidden', '16', '--lr', '0.03', '--seed', '3', '--epochs', String(epochs), '--created-at', '2026-01-01T00:00:00Z'], desktopCommands, dir);

it('an early stop names the epochs asked for and why it stopped', async () => {
  const r = await train(60);
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(/validation accuracy: float 100\.00%/);
  expect(r.out).toMatch(/\n {2}best epoch 59; stopped at epoch 59 of 60: the validation loss \(0\.000992\) improved by less than 0\.0011 \(minDelta 0\.001 of the trivial predictor's 1\.1\) for 15 epochs \(--patience\)\n/);
});

it('a run of every epoch asked for says no more than its best epoch', async () => {
  const r = await train(40);
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(/\n {2}best epoch 40 of 40\n/);
});
