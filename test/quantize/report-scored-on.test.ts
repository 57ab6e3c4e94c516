/**
 * The run report says what its metrics were measured on: it gave a number of sequences only, so
 * `train` on fewer than 10 sequences (nothing held out) reported its training accuracy as if it
 * were a validation score, and `quantize` without --eval its calibration data's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { decodeModel } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-report-scored-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('train, quantize and prune reports name the data their metrics are on', async () => {
  const line = (k: number): string => JSON.stringify({ x: Array.from({ length: 6 }, (_, t) => [k % 2 ? 1 + 0.1 * t : -1 - 0.1 * t]), y: k % 2 ? 'up' : 'down' });
  fs.writeFileSync(path.join(dir, 'few.jsonl'), `${Array.from({ length: 8 }, (_, k) => line(k)).join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'many.jsonl'), `${Array.from({ length: 40 }, (_, k) => line(k)).join('\n')}\n`);
  const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
  const opts = ['--hidden', '4', '--epochs', '1', '--created-at', '2026-01-01T00:00:00Z'];
  const scored = (file: string): string => /<h2>Metrics<\/h2><p>Scored on ([^<]*)\.<\/p>/.exec(fs.readFileSync(path.join(dir, file), 'utf8'))?.[1] ?? '(not said)';
  expect((await cli('train', '--data', 'few.jsonl', ...opts, '-o', 'few.ern', '--report', 'few.html')).code).toBe(0);
  expect(scored('few.html')).toBe('few.jsonl, the training data itself (nothing held out)');
  expect((await cli('train', '--data', 'many.jsonl', ...opts, '-o', 'many.ern', '--report', 'many.html')).code).toBe(0);
  expect(scored('many.html')).toBe('0.15 of many.jsonl, held out (seeded split)');
  expect((await cli('train', '--data', 'many.jsonl', '--val', 'few.jsonl', ...opts, '-o', 'v.ern', '--report', 'v.html')).code).toBe(0);
  expect(scored('v.html')).toBe('few.jsonl (--val)');
  expect((await cli('quantize', 'many.ern', '--calib', 'many.jsonl', '-o', 'q.ern', '--report', 'q.html')).code).toBe(0);
  expect(scored('q.html')).toBe('many.jsonl, the --calib data');
  expect((await cli('quantize', 'many.ern', '--calib', 'many.jsonl', '--eval', 'few.jsonl', '-o', 'q2.ern', '--report', 'q2.html')).code).toBe(0);
  expect(scored('q2.html')).toBe('few.jsonl (--eval)');
  const p = await cli('prune', 'many.ern', '--data', 'many.jsonl', '--sparsity', '0.5', '--epochs', '1', '--min-weights', '1', '-o', 'p.ern', '--report', 'p.html');
  expect(p.code, p.err).toBe(0);
  expect(scored('p.html')).toBe('many.jsonl, the --data it fine-tuned on');
});

it('train --int8 keeps the calibration record (weight clipping, sequences) and names its data as quantize does', async () => {
  const line = (k: number): string => JSON.stringify({ x: Array.from({ length: 6 }, (_, t) => [k % 2 ? 1 + 0.1 * t : -1 - 0.1 * t]), y: k % 2 ? 'up' : 'down' });
  fs.writeFileSync(path.join(dir, 'c.jsonl'), `${Array.from({ length: 12 }, (_, k) => line(k)).join('\n')}\n`);
  const t = await runCaptured(['train', '--data', 'c.jsonl', '--hidden', '4', '--epochs', '1', '--int8', '-o', 'c.ern', '--created-at', '2026-01-01T00:00:00Z'], desktopCommands, dir);
  expect(t.code, t.err).toBe(0);
  const training = decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'c.ern')))).spec.training;
  expect(training.calibration).toMatchObject({ method: 'mse', weightClipping: true, sequences: 10, dataset: 'c.jsonl' }); // the training split: 2 of 12 held out
  expect(training.calibration).toMatchObject({ method: 'mse' });
  expect(training.calibrationDataset).toBe('c.jsonl');
  expect(training.calibrationSha256).toBe(training.datasetSha256);
});
