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

  it('shows the quantization scheme of an int8 model, as its --help says (only --json had it), and none for a float32 one', async () => {
    const t = await cli('info', 'd.ern');
    expect(t.out).toContain('\n  quant     ern-a16w8-v1, weights int8 symmetric per output row, activations int16\n');
    fs.writeFileSync(path.join(tmp, 'f.ern'), encodeModel(randomQuantModel(4).float));
    const f = await cli('info', 'f.ern');
    expect(f.code).toBe(0);
    expect(f.out).toContain('(custom, float32)');
    expect(f.out).not.toContain('quant ');
  });

  it('the layout adds up to the file size, in the text and in --json', async () => {
    const o = JSON.parse((await cli('info', 'd.ern', '--json')).out);
    expect(Object.keys(o)).toEqual(['file', 'sha256', 'bytes', 'formatVersion', 'layout', 'manifest', 'tensors', 'sizes', 'serving', 'golden']);
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

describe('edgernn info: text from the file', () => {
  it('shows control and bidirectional-override characters as escapes: a description, input name, training or extra field cannot rewrite the terminal', async () => {
    const { int8 } = randomQuantModel(4);
    const I = int8.input.size;
    const spec = {
      ...int8,
      name: 'escapes',
      description: 'fine\x1b[2K\rgolden    ok\u202eevil',
      input: { ...int8.input, names: Array.from({ length: I }, (_, i) => (i === 0 ? 'a\x07b' : `ch${i}`)) },
      training: { dataset: 'x\x1b[31mred', note: 'line\nbreak' },
      extra: { title: '\x1b]0;owned\x07', c1: 'csi\u009bA' },
    };
    fs.writeFileSync(path.join(tmp, 'escapes.ern'), encodeModel(spec));
    const t = await cli('info', 'escapes.ern');
    expect(t.code).toBe(0);
    expect(t.out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(t.out).toContain('\n  about     fine\\u001b[2K\\u000dgolden    ok\\u202eevil\n');
    expect(t.out).toContain(': a\\u0007b, ch1');
    expect(t.out).toContain('x\\u001b[31mred');
    expect(t.out).toContain('line\\u000abreak');
    expect(t.out).toContain('\\u001b]0;owned\\u0007');
    expect(t.out).toContain('csi\\u009bA');
    // --json is JSON: the values as the file has them.
    const o = JSON.parse((await cli('info', 'escapes.ern', '--json')).out);
    expect(o.manifest.description).toBe(spec.description);
  });
});
