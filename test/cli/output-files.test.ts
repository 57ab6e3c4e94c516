/**
 * What a new user hit writing files with export, convert and run: an output that is an input
 * destroyed it, --output meant something else (or nothing) there, and the trainer's JSONL could
 * not calibrate a converted model.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import { randomQuantModel, randomSequences } from '../helpers/random-model.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-cli-out-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(...argv: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(argv, runtimeCommands, tmp);
}

const read = (f: string): Buffer => fs.readFileSync(path.join(tmp, f));

let I = 0;
beforeAll(async () => {
  const { int8 } = randomQuantModel(8);
  I = int8.input.size;
  fs.writeFileSync(path.join(tmp, 'm.ern'), encodeModel({ ...int8, name: 'out-files', labels: [] }));
  const seqs = randomSequences(3, I, 4, 6);
  const frames = (s: Float32Array): number[][] => Array.from({ length: s.length / I }, (_, t) => Array.from(s.subarray(t * I, (t + 1) * I)));
  fs.writeFileSync(path.join(tmp, 'one.json'), JSON.stringify(frames(seqs[0]!)));
  // The trainer's JSONL: {"x": frames, "y": label} per line.
  fs.writeFileSync(path.join(tmp, 'train.jsonl'), `${seqs.map((s, i) => JSON.stringify({ x: frames(s), y: `c${i % 2}` })).join('\n')}\n`);
  fs.writeFileSync(path.join(tmp, 'bare.jsonl'), `${seqs.map((s) => JSON.stringify(frames(s))).join('\n')}\n`);
  const e = await cli('export', 'm.ern', '-o', 'm.onnx');
  expect(e.code, e.err).toBe(0);
});

describe('an output that is an input is refused before any work (exit 2), the input left as it was', () => {
  it('export -o MODEL.ern, convert -o MODEL.onnx, run --output MODEL or --input', async () => {
    const cases: [string[], string, RegExp][] = [
      [['export', 'm.ern', '-o', 'm.ern'], 'm.ern', /-o m\.ern is the MODEL\.ern file/],
      [['convert', 'm.onnx', '-o', 'm.onnx', '--float'], 'm.onnx', /-o m\.onnx is the MODEL\.onnx file/],
      [['convert', 'm.onnx', '-o', 'bare.jsonl', '--calib', 'bare.jsonl'], 'bare.jsonl', /-o bare\.jsonl is the --calib file/],
      [['run', 'm.ern', '-i', 'one.json', '-o', 'm.ern'], 'm.ern', /--output m\.ern is the MODEL file/],
      [['run', 'm.ern', '-i', 'one.json', '-o', 'one.json'], 'one.json', /--output one\.json is the --input file/],
    ];
    for (const [argv, file, msg] of cases) {
      const before = read(file);
      const r = await cli(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(msg);
      expect(Buffer.compare(read(file), before), `${file} changed`).toBe(0);
    }
    // A hard link is the same file under another name.
    fs.linkSync(path.join(tmp, 'm.ern'), path.join(tmp, 'link.ern'));
    const r = await cli('export', 'm.ern', '-o', 'link.ern');
    expect(r.code).toBe(2);
    // Standard output is no file of the command's.
    expect((await cli('run', 'm.ern', '-i', 'one.json', '-o', '-')).code).toBe(0);
  });
});

describe('--output where other commands write their file', () => {
  it('export takes --output FILE like -o (it was an unknown option)', async () => {
    const r = await cli('export', 'm.ern', '--output', 'via-output.onnx');
    expect(r.code, r.err).toBe(0);
    expect(Buffer.compare(read('via-output.onnx'), read('m.onnx'))).toBe(0);
    const both = await cli('export', 'm.ern', '-o', 'a.onnx', '--output', 'b.onnx');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/not both/);
  });

  it('convert --output model.ern without -o says that --output names a graph output', async () => {
    const r = await cli('convert', 'm.onnx', '--output', 'back.ern', '--float');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--output names the graph output to compile \(here 'back\.ern'\), write the file with -o back\.ern/);
    expect(fs.existsSync(path.join(tmp, 'back.ern'))).toBe(false);
  });
});

describe('convert --calib reads the trainer\'s JSONL', () => {
  it('{"x": frames, "y": label} lines calibrate as their x alone, like bare arrays', async () => {
    const a = await cli('convert', 'm.onnx', '-o', 'from-train.ern', '--calib', 'train.jsonl', '--json');
    expect(a.code, a.err).toBe(0);
    const b = await cli('convert', 'm.onnx', '-o', 'from-bare.ern', '--calib', 'bare.jsonl', '--json');
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(a.out).calibration).toMatchObject({ sequences: 4 });
    expect(Buffer.compare(read('from-train.ern'), read('from-bare.ern'))).toBe(0);
  });

  it('a line whose x is wrong is named with its line', async () => {
    fs.writeFileSync(path.join(tmp, 'bad.jsonl'), `${JSON.stringify({ x: [[1]], y: 'a' })}\n`);
    const r = await cli('convert', 'm.onnx', '-o', 'bad.ern', '--calib', 'bad.jsonl');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.jsonl:1: input\[0\] has 1 values, the model expects/);
  });
});

describe("'-o -' is not standard output for file outputs", () => {
  it('export and convert refuse it before any work (exit 2); they wrote a file named "-"', async () => {
    for (const argv of [['export', 'm.ern', '-o', '-'], ['convert', 'm.onnx', '--float', '-o', '-']]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/-o -: this output is a file, not standard output \(expected a path; \.\/- for a file named '-'\)/);
      expect(fs.existsSync(path.join(tmp, '-'))).toBe(false);
    }
    // `run --output -` is standard output, as its help says.
    const r = await cli('run', 'm.ern', '--input', 'one.json', '--output', '-');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toBeTruthy();
  });
});
