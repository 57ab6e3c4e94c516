/** edgernn run given a CSV: named, with the columns the model was trained on (was a JSON parse error). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import { randomQuantModel } from '../helpers/random-model.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-run-csv-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('edgernn run --input FILE.csv', () => {
  it('says run takes .npy or JSON, which commands read a CSV, and how to convert with the trained columns', async () => {
    const { int8 } = randomQuantModel(8);
    const columns = Array.from({ length: int8.input.size }, (_, i) => `ch${i}`);
    fs.writeFileSync(path.join(tmp, 'm.ern'), encodeModel({ ...int8, name: 'csv-model', labels: [], extra: { data: { columns, labelColumn: 'label' } } }));
    fs.writeFileSync(path.join(tmp, 'data.csv'), `${[...columns, 'label'].join(',')}\n${columns.map(() => '0.5').join(',')},a\n`);
    const r = await runCaptured(['run', 'm.ern', '--input', 'data.csv'], runtimeCommands, tmp);
    expect(r.code).toBe(1);
    expect(r.err).toContain('[BAD_INPUT_FILE]: data.csv: a CSV file: this command takes .npy or JSON frames');
    expect(r.err).toContain('`edgernn eval`, `train` and `quantize` read a CSV');
    expect(r.err).toContain(`pd.read_csv('data.csv')[[${columns.map((c) => `'${c}'`).join(', ')}]]`);
    expect(r.err).not.toMatch(/JSON: Unexpected token/);
  });
});
