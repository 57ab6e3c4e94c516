/**
 * The desktop commands on long work, as a user at a terminal sees them: a bar that moves within
 * an epoch, and a run stopped by a signal that leaves no output file behind.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/framework.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { firstStepsTask, toJsonl } from '../../quantize/data/synthetic.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-long-work-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, 'train.jsonl'), toJsonl(firstStepsTask({ count: 40, steps: 6, signalSteps: 2, seed: 1 })));
// A row index among the inputs: train says so on stderr once the data is loaded, before training.
const rows = Array.from({ length: 400 }, (_, i) => `${i},${Math.sin(i / 5).toFixed(4)},${Math.floor(i / 20) % 2 ? 'up' : 'down'}`);
fs.writeFileSync(path.join(dir, 'series.csv'), `index,v,label\n${rows.join('\n')}\n`);

/** runCli with stderr a terminal (isTTY): every write kept, in order. */
async function onTerminal(argv: string[]): Promise<{ code: number; writes: string[] }> {
  const writes: string[] = [];
  const code = await runCli(argv, desktopCommands, { stdout: { write: () => true }, stderr: { write: (s: string) => writes.push(s), isTTY: true }, cwd: dir });
  return { code, writes };
}

const small = ['--hidden', '4', '--epochs', '1', '--batch-size', '4', '--created-at', '2026-01-01T00:00:00Z'];

describe('progress within an epoch', () => {
  // Bars are not drawn where TERM=dumb (the escape codes would show as text).
  beforeAll(() => vi.stubEnv('TERM', 'xterm'));
  afterAll(() => vi.unstubAllEnvs());

  it('train --epochs 1 draws its bar by the batch (it sat at 0% until the only epoch ended)', async () => {
    const { code, writes } = await onTerminal(['train', '--data', 'train.jsonl', ...small, '-o', 'm.ern']);
    expect(code, writes.join('')).toBe(0);
    const end = writes.findIndex((w) => w.startsWith('train gru4: 1/1'));
    expect(end).toBeGreaterThan(0);
    // The first batch draws at once (later ones at most every 100 ms): before the epoch ends.
    expect(writes.slice(0, end).some((w) => /^\rtrain gru4 \[.*\] .*epoch 1 batch 1\/\d+/.test(w))).toBe(true);
  });

  it('prune draws its bar by the batch too', async () => {
    const { code, writes } = await onTerminal(['prune', 'm.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--min-weights', '1', '--epochs', '1', '--batch-size', '4', '-o', 'p.ern']);
    expect(code, writes.join('')).toBe(0);
    expect(writes.some((w) => /^\rprune to 50% \[.*\] .*epoch 1 batch 1\/\d+/.test(w))).toBe(true);
  });
});

describe('a run stopped by a signal', () => {
  const TSX_LOADER = import.meta.resolve('tsx');
  const entry = path.join(import.meta.dirname, '../../bin/edgernn.ts');

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} ends train at once, without an output file or a temporary one`, async () => {
      const out = `stopped-${signal}.ern`;
      // Epochs enough for hours: the signal comes during the training, never after it.
      const args = ['train', '--data', 'series.csv', '--label-column', 'label', '--seq-len', '8', '--hidden', '4', '--epochs', '1000000', '--patience', '1000000', '-o', out];
      const child = spawn(process.execPath, ['--import', TSX_LOADER, entry, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      // The note on the index column comes once the data is loaded, right before the training.
      await new Promise<void>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes("column 'index'")) resolve();
        });
        child.once('exit', () => resolve()); // failed before training: the expectations say how
      });
      child.kill(signal);
      const [code, sig] = (await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])))) as [number | null, NodeJS.Signals | null];
      // Killed by the signal (a shell reports 128 + its number: 130, 143), not an exit code of its own.
      expect([code, sig], err).toEqual([null, signal]);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith(out))).toEqual([]);
    });
  }
});

describe('a log whose reader went away', () => {
  it('train goes on and writes its model when stderr is closed (`2>&1 | grep -m1 ...`: it ended at exit code 0, nothing written)', async () => {
    const TSX_LOADER = import.meta.resolve('tsx');
    const entry = path.join(import.meta.dirname, '../../bin/edgernn.ts');
    const child = spawn(process.execPath, ['--import', TSX_LOADER, entry, 'train', '--data', 'train.jsonl', ...small, '-o', 'unlogged.ern'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    // The reader is gone before the child writes its first line (after loading and training).
    child.stderr.destroy();
    const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'unlogged.ern'))).toBe(true);
  });
});
