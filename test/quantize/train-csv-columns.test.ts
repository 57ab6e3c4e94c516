/**
 * `edgernn train` on a CSV whose first column is a row index or a numeric time: the default
 * column choice takes it as a model input, which was silent; now a note names it and --columns.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { desktopCommands } from '../../quantize/cli/index.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-csv-cols-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('a column that rises at every row is named in a note; --columns (or no such column) gives none', async () => {
  const rows = ['t,ax,ay,activity'];
  for (let i = 0; i < 240; i++) {
    const c = Math.floor(i / 40) % 2;
    rows.push(`${1714560000000 + 20 * i},${(c ? Math.sin(i / 2) : 0.01 * Math.cos(i)).toFixed(4)},${(0.3 * c).toFixed(2)},${c ? 'walk' : 'still'}`);
  }
  fs.writeFileSync(path.join(dir, 'acc.csv'), `${rows.join('\n')}\n`);
  const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
  const common = ['--label-column', 'activity', '--seq-len', '20', '--hidden', '4', '--epochs', '1', '--created-at', '2026-01-01T00:00:00Z'];
  const a = await cli('train', '--data', 'acc.csv', ...common, '-o', 'a.ern');
  expect(a.code, a.err).toBe(0);
  expect(a.err).toContain("edgernn train: note: column 't' of acc.csv rises at every row (a time or index column?) and is a model input; --columns picks the inputs (now t, ax, ay)");
  const b = await cli('train', '--data', 'acc.csv', ...common, '--columns', 'ax,ay', '-o', 'b.ern');
  expect(b.code, b.err).toBe(0);
  expect(b.err).not.toContain('note:');
});

it('later CSVs are read by the input columns the model was trained on, not by position (columns in another order)', async () => {
  const header = ['a', 'b', 'label'];
  const rows: number[][] = [];
  const labels: string[] = [];
  for (let i = 0; i < 400; i++) {
    const c = Math.floor(i / 40) % 2;
    rows.push([(c ? 5 : 0) + Math.sin(i * 1.7), 100 + Math.cos(i * 2.3)]);
    labels.push(c ? 'hi' : 'lo');
  }
  const write = (file: string, order: number[]): void =>
    fs.writeFileSync(path.join(dir, file), `${[...order.map((k) => header[k]), 'label'].join(',')}\n${rows.map((r, i) => `${order.map((k) => r[k]!.toFixed(4)).join(',')},${labels[i]}`).join('\n')}\n`);
  write('ab.csv', [0, 1]);
  write('ba.csv', [1, 0]);
  const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
  const common = ['--label-column', 'label', '--seq-len', '20', '--hidden', '8', '--epochs', '10', '--created-at', '2026-01-01T00:00:00Z'];
  // --val in the other order: the same rows, so the same validation score as on the file itself.
  const own = await cli('train', '--data', 'ab.csv', '--val', 'ab.csv', ...common, '-o', 'own.ern', '--json');
  const swapped = await cli('train', '--data', 'ab.csv', '--val', 'ba.csv', ...common, '-o', 'm.ern', '--json');
  expect(own.code, own.err).toBe(0);
  expect(swapped.code, swapped.err).toBe(0);
  expect(JSON.parse(swapped.out).metrics.float).toEqual(JSON.parse(own.out).metrics.float);
  // eval and quantize read the recorded columns (extra.data.columns) by name.
  const e1 = await cli('eval', 'm.ern', '--data', 'ab.csv', '--json');
  const e2 = await cli('eval', 'm.ern', '--data', 'ba.csv', '--json');
  expect(e2.code, e2.err).toBe(0);
  expect(JSON.parse(e2.out).accuracy).toBe(JSON.parse(e1.out).accuracy);
  expect(JSON.parse(e1.out).accuracy).toBeGreaterThan(0.9);
  const q1 = await cli('quantize', 'm.ern', '--calib', 'ab.csv', '-o', 'q1.ern', '--json', '--created-at', '2026-01-01T00:00:00Z');
  const q2 = await cli('quantize', 'm.ern', '--calib', 'ba.csv', '-o', 'q2.ern', '--json', '--created-at', '2026-01-01T00:00:00Z');
  expect(q2.code, q2.err).toBe(0);
  expect(JSON.parse(q2.out).int8).toBe(JSON.parse(q1.out).int8);
});
