/** `edgernn info`: every manifest field a user needs, and sizes that add up to the file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import { randomQuantModel } from '../helpers/random-model.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-info-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cli = (...argv: string[]) => runCaptured(argv, runtimeCommands, tmp);

beforeAll(() => {
  const { int8 } = randomQuantModel(4);
  const I = int8.input.size;
  const spec = {
    ...int8,
    name: 'described',
    description: 'a model with every optional field',
    labels: [],
    input: { ...int8.input, names: Array.from({ length: I }, (_, i) => `ch${i}`) },
    extra: { detector: { threshold: 0.75 } },
  };
  fs.writeFileSync(path.join(tmp, 'd.ern'), encodeModel(spec, { blockSparse: 'always' }));
});

describe('edgernn info', () => {
  it('shows the description, the input names, extra fields and the golden vector (they were missing)', async () => {
    const t = await cli('info', 'd.ern');
    expect(t.code).toBe(0);
    expect(t.out).toContain('\n  about     a model with every optional field\n');
    expect(t.out).toMatch(/\n {2}input {5}\d+ features: ch0, ch1/);
    expect(t.out).toMatch(/\n {2}extra {5}detector\.threshold 0\.75\n/);
    expect(t.out).toMatch(/\n {2}golden {4}ok on \w+ \(8 steps, atol 0(\.\d+)?\)\n/);
  });

  it('the layout adds up to the file size, in the text and in --json', async () => {
    const o = JSON.parse((await cli('info', 'd.ern', '--json')).out);
    expect(Object.keys(o)).toEqual(['file', 'sha256', 'bytes', 'formatVersion', 'layout', 'manifest', 'tensors', 'sizes', 'golden']);
    const l = o.layout;
    expect(l.header + l.manifest + l.manifestPadding + l.tensors + l.tensorPadding).toBe(o.bytes);
    expect(l.total).toBe(o.bytes);
    expect(l.header).toBe(64);
    expect(l.tensors).toBe(o.tensors.reduce((a: number, x: { bytes: number }) => a + x.bytes, 0));
    expect(l.manifestPadding).toBeGreaterThanOrEqual(0);
    expect(l.manifestPadding).toBeLessThan(64);
    expect(o.manifest.description).toBe('a model with every optional field');
    expect(o.manifest.extra).toEqual({ detector: { threshold: 0.75 } });
    const t = await cli('info', 'd.ern');
    expect(t.out).toContain(`  layout    header 64 + manifest ${l.manifest} + padding ${l.manifestPadding} + tensors ${l.tensors} + alignment ${l.tensorPadding} = ${o.bytes} bytes\n`);
  });
});
