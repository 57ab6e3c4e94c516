/** The desktop commands end to end: exit codes, files written, JSON output. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { firstStepsTask, sineForecast, toJsonl } from '../../quantize/data/synthetic.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, 'train.jsonl'), toJsonl(firstStepsTask({ count: 48, steps: 10, signalSteps: 3, seed: 1 })));
fs.writeFileSync(path.join(dir, 'val.jsonl'), toJsonl(firstStepsTask({ count: 24, steps: 10, signalSteps: 3, seed: 2 })));
fs.writeFileSync(path.join(dir, 'sine.jsonl'), toJsonl(sineForecast({ count: 24, steps: 16, seed: 1 })));

export function cli(...argv: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(argv, desktopCommands, dir);
}

const small = ['--hidden', '8', '--epochs', '3', '--created-at', '2026-01-01T00:00:00Z'];

describe('edgernn train / eval', () => {
  it('trains, writes a float model with provenance, and evaluates it (--json has accuracy)', async () => {
    const r = await cli('train', '--data', 'train.jsonl', '--val', 'val.jsonl', '--arch', 'gru', '--task', 'classify', ...small, '-o', 'a.ern');
    expect(r.code, r.err).toBe(0);
    const { spec } = decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'a.ern'))));
    expect(spec.precision).toBe('float32');
    expect(spec.training.datasetSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(spec.training.createdAt).toBe('2026-01-01T00:00:00.000Z');
    expect((spec.training.hyperparameters as { hidden: number }).hidden).toBe(8);
    expect(spec.training.metrics).toHaveProperty('float.accuracy');
    const e = await cli('eval', 'a.ern', '--data', 'val.jsonl', '--json');
    expect(e.code, e.err).toBe(0);
    const j = JSON.parse(e.out) as { accuracy: number; confusion: number[][]; perClass: unknown[] };
    expect(j.accuracy).toBeGreaterThanOrEqual(0);
    expect(j.confusion.flat().reduce((a, b) => a + b, 0)).toBe(24);
    expect(j.perClass).toHaveLength(4);
  });

  it('same seed and time: byte-identical files', async () => {
    const a = await cli('train', '--data', 'train.jsonl', '--arch', 'lstm', '--seed', '9', ...small, '-o', 'r1.ern', '--int8');
    const b = await cli('train', '--data', 'train.jsonl', '--arch', 'lstm', '--seed', '9', ...small, '-o', 'r2.ern', '--int8');
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(Buffer.compare(fs.readFileSync(path.join(dir, 'r1.ern')), fs.readFileSync(path.join(dir, 'r2.ern')))).toBe(0);
  });

  it('forecast: eval prints MSE/MAE', async () => {
    expect((await cli('train', '--data', 'sine.jsonl', '--task', 'forecast', ...small, '-o', 'f.ern')).code).toBe(0);
    const e = await cli('eval', 'f.ern', '--data', 'sine.jsonl', '--json');
    const j = JSON.parse(e.out) as { mse: number; mae: number };
    expect(j.mse).toBeGreaterThan(0);
    expect(j.mae).toBeGreaterThan(0);
  });

  it('exit codes: 2 for usage errors, 1 for bad data naming file and line', async () => {
    expect((await cli('train', '-o', 'x.ern')).code).toBe(2);
    expect((await cli('train', '--data', 'train.jsonl', '--arch', 'transformer', '-o', 'x.ern')).code).toBe(2);
    expect((await cli('train', '--data', 'train.jsonl', '--hidden', '0', '-o', 'x.ern')).code).toBe(2);
    fs.writeFileSync(path.join(dir, 'bad.jsonl'), '{"x": [[1, 2]], "y": "a"}\n{"x": [[1, 2], [3]], "y": "b"}\n');
    const bad = await cli('train', '--data', 'bad.jsonl', '-o', 'x.ern');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/BAD_DATA.*bad\.jsonl:2/);
    const missing = await cli('eval', 'nope.ern', '--data', 'val.jsonl');
    expect(missing.code).toBe(1);
    const sineOnClassifier = await cli('eval', 'a.ern', '--data', 'sine.jsonl');
    expect(sineOnClassifier.code).toBe(1);
    expect(sineOnClassifier.err).toMatch(/sine\.jsonl:1/);
  });

  it('a bad --created-at is a usage error before any data is read or any training runs', async () => {
    // It used to be checked when the manifest was written, after the training (for `har train`,
    // an hour of it).
    for (const argv of [
      ['train', '--data', 'missing.jsonl', '--arch', 'gru', '-o', 'x.ern', '--created-at', 'yesterday'],
      ['quantize', 'missing.ern', '--calib', 'missing.jsonl', '-o', 'x.ern', '--created-at', 'yesterday'],
      ['prune', 'missing.ern', '--data', 'missing.jsonl', '--sparsity', '0.5', '-o', 'x.ern', '--created-at', 'yesterday'],
    ]) {
      const r = await cli(...argv);
      expect(r.code, argv[0]).toBe(2);
      expect(r.err, argv[0]).toMatch(/--created-at needs an ISO date, got 'yesterday'/);
    }
  });
});

describe('--report', () => {
  it('writes one self-contained HTML file with curves, confusion matrix, sparsity, histograms, quantization error, heatmap', async () => {
    const r = await cli('train', '--data', 'train.jsonl', '--val', 'val.jsonl', ...small, '--int8', '-o', 'rep.ern', '--report', 'out/rep.html');
    expect(r.code, r.err).toBe(0);
    const html = fs.readFileSync(path.join(dir, 'out/rep.html'), 'utf8');
    for (const h of ['Metrics', 'Training curves', 'Confusion matrices', 'Sparsity per matrix', 'Weight histograms', 'Quantization error', 'Hidden state over one sequence']) {
      expect(html).toContain(`<h2>${h}</h2>`);
    }
    // Offline: nothing fetched, no scripts.
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/);
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(8);
    // The heatmap: 8 hidden units × 10 steps of one sequence.
    expect((html.match(/<title>unit \d+, step \d+:/g) ?? []).length).toBe(80);
    // Two confusion matrices (float32, int8), each counting every validation sequence once.
    const confusion = html.slice(html.indexOf('<h2>Confusion matrices</h2>'), html.indexOf('<h2>Sparsity per matrix</h2>'));
    const cells = [...confusion.matchAll(/background:rgba\([^)]*\)">(\d+)</g)].map((m) => Number(m[1]));
    expect(cells.reduce((a, b) => a + b, 0)).toBe(2 * 24);
  });
});
