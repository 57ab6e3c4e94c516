/**
 * Calibration data need no labels: quantize (with --eval and no QAT) and prune --int8 read
 * --calib's inputs only, and prune reads it before its fine-tuning, not after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, writeNpy } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { firstStepsTask, toJsonl } from '../../quantize/data/synthetic.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-calib-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(...argv: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(argv, desktopCommands, dir);
}

const created = ['--created-at', '2026-01-01T00:00:00Z'];

beforeAll(async () => {
  const train = firstStepsTask({ count: 48, steps: 10, signalSteps: 3, seed: 1 });
  fs.writeFileSync(path.join(dir, 'train.jsonl'), toJsonl(train));
  fs.writeFileSync(path.join(dir, 'val.jsonl'), toJsonl(firstStepsTask({ count: 24, steps: 10, signalSteps: 3, seed: 2 })));
  // The same sequences without labels, as JSONL lines of {"x"} and as one .npy with no companion.
  const lines = toJsonl(train).trim().split('\n').map((l) => JSON.stringify({ x: (JSON.parse(l) as { x: number[][] }).x }));
  fs.writeFileSync(path.join(dir, 'unlabelled.jsonl'), `${lines.join('\n')}\n`);
  const xs = lines.map((l) => (JSON.parse(l) as { x: number[][] }).x);
  const F = xs[0]![0]!.length;
  fs.writeFileSync(path.join(dir, 'unlabelled.npy'), writeNpy(Float32Array.from(xs.flat(2)), [xs.length, xs[0]!.length, F]));
  const r = await cli('train', '--data', 'train.jsonl', '--val', 'val.jsonl', '--hidden', '32', '--epochs', '2', ...created, '-o', 'f32.ern');
  expect(r.code, r.err).toBe(0);
});

describe('quantize --calib without labels', () => {
  it('with --eval: calibrates on the inputs alone, the same bytes as the labelled set', async () => {
    const a = await cli('quantize', 'f32.ern', '--calib', 'unlabelled.jsonl', '--eval', 'val.jsonl', ...created, '-o', 'q-unlabelled.ern');
    expect(a.code, a.err).toBe(0);
    const n = await cli('quantize', 'f32.ern', '--calib', 'unlabelled.npy', '--eval', 'val.jsonl', ...created, '-o', 'q-npy.ern');
    expect(n.code, n.err).toBe(0);
    const b = await cli('quantize', 'f32.ern', '--calib', 'train.jsonl', '--eval', 'val.jsonl', ...created, '-o', 'q-labelled.ern');
    expect(b.code, b.err).toBe(0);
    const weights = (f: string): unknown => decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, f)))).spec.layers;
    expect(weights('q-unlabelled.ern')).toEqual(weights('q-labelled.ern'));
    expect(weights('q-npy.ern')).toEqual(weights('q-labelled.ern'));
  });

  it('without --eval (the calibration set is then scored) or with --qat-epochs, labels are still needed', async () => {
    const a = await cli('quantize', 'f32.ern', '--calib', 'unlabelled.jsonl', '-o', 'q1.ern');
    expect(a.code).toBe(1);
    expect(a.err).toMatch(/BAD_DATA.*unlabelled\.jsonl:1: no label/);
    const b = await cli('quantize', 'f32.ern', '--calib', 'unlabelled.jsonl', '--eval', 'val.jsonl', '--qat-epochs', '1', '-o', 'q2.ern');
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/no label/);
  });
});

describe('a CSV-trained classifier calibrated on a CSV without its label column', () => {
  it('quantize --eval and prune --int8 read the unlabelled CSV (the label column is not looked for)', async () => {
    // One channel whose sign is the class, the label in the last column; the same rows without it.
    const rows = Array.from({ length: 160 }, (_, i) => {
      const cls = Math.floor(i / 16) % 2 === 0 ? 'up' : 'down';
      return [(cls === 'up' ? 1 : -1) + 0.1 * Math.sin(i), 0.05 * Math.cos(3 * i), cls] as const;
    });
    fs.writeFileSync(path.join(dir, 'labelled.csv'), `a,b,activity\n${rows.map((r) => r.join(',')).join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'nolabel.csv'), `a,b\n${rows.map((r) => `${r[0]},${r[1]}`).join('\n')}\n`);
    const t = await cli('train', '--data', 'labelled.csv', '--label-column', 'activity', '--seq-len', '8', '--hidden', '8', '--epochs', '2', ...created, '-o', 'csv-f32.ern');
    expect(t.code, t.err).toBe(0);
    const q = await cli('quantize', 'csv-f32.ern', '--calib', 'nolabel.csv', '--eval', 'labelled.csv', ...created, '-o', 'csv-q.ern');
    expect(q.code, q.err).toBe(0);
    const ql = await cli('quantize', 'csv-f32.ern', '--calib', 'labelled.csv', '--eval', 'labelled.csv', ...created, '-o', 'csv-ql.ern');
    expect(ql.code, ql.err).toBe(0);
    const weights = (f: string): unknown => decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, f)))).spec.layers;
    expect(weights('csv-q.ern')).toEqual(weights('csv-ql.ern'));
    const p = await cli('prune', 'csv-f32.ern', '--data', 'labelled.csv', '--sparsity', '0.5', '--min-weights', '16', '--epochs', '1', '--int8', '--calib', 'nolabel.csv', ...created, '-o', 'csv-p8.ern');
    expect(p.code, p.err).toBe(0);
  });
});

describe('prune --int8 --calib', () => {
  it('takes unlabelled calibration data', async () => {
    const r = await cli('prune', 'f32.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--epochs', '2', '--int8', '--calib', 'unlabelled.jsonl', ...created, '-o', 'p8.ern');
    expect(r.code, r.err).toBe(0);
    expect(decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'p8.ern')))).spec.precision).toBe('int8');
  });

  it('a missing --calib file stops the command before the fine-tuning, not after it', async () => {
    const r = await cli('prune', 'f32.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--epochs', '2', '--int8', '--calib', 'no-such.jsonl', ...created, '-o', 'p9.ern');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/BAD_DATA.*no-such\.jsonl: no such file/);
    // The fine-tuning's progress line ("prune to 50%: ...") would come first.
    expect(r.err).not.toMatch(/prune to/);
  });
});
