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
