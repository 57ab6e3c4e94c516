/**
 * Regressions found in a defect hunt over the gateway-side commands: a closed stdout pipe, '-' as
 * --output, empty file names, '--help' after '--'.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import { writeNpy } from '../../src/io/npy.js';
import { randomQuantModel } from '../helpers/random-model.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-cli-hunt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cli = (...argv: string[]) => runCaptured(argv, runtimeCommands, tmp);

let I = 0;
beforeAll(() => {
  const { int8 } = randomQuantModel(8);
  I = int8.input.size;
  fs.writeFileSync(path.join(tmp, 'm.ern'), encodeModel({ ...int8, name: 'hunt', labels: [] }));
  fs.writeFileSync(path.join(tmp, 'one.npy'), writeNpy(new Float32Array(3 * I).fill(0.5), [3, I]));
  // Big enough that stdout is still being written when the reader has gone.
  fs.writeFileSync(path.join(tmp, 'big.npy'), writeNpy(new Float32Array(4000 * 2 * I).fill(0.25), [4000, 2, I]));
});

describe('edgernn run --output -', () => {
  it("'-' writes the JSON result to stdout (it wrote a file named '-')", async () => {
    const r = await cli('run', 'm.ern', '-i', 'one.npy', '-o', '-');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).model).toBe('hunt');
    expect(fs.existsSync(path.join(tmp, '-'))).toBe(false);
  });

  it('an empty --output is a usage error', async () => {
    const r = await cli('run', 'm.ern', '-i', 'one.npy', '--output=');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--output needs a file name/);
  });
});

describe('empty file names', () => {
  it("info '' and run --input '' are usage errors (they read the folder: ' is a folder')", async () => {
    const a = await cli('info', '');
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/empty file name/);
    const b = await cli('run', 'm.ern', '--input=');
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/empty file name/);
  });
});

describe("'--help' after '--'", () => {
  it('is a positional, not a request for help', async () => {
    const r = await cli('info', '--', '--help');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no such file: --help/);
    expect(r.out).toBe('');
  });
});

describe('the built executable with its stdout closed early', () => {
  const bin = path.resolve('dist/cli.js');
  it.skipIf(!fs.existsSync(bin))('run | head -c 10 ends quietly: no EPIPE stack trace, exit 0', async () => {
    const child = spawn(process.execPath, [bin, 'run', path.join(tmp, 'm.ern'), '-i', path.join(tmp, 'big.npy')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled|at /);
    expect(code).toBe(0);
  }, 20000);
});

describe('edgernn demo --out', () => {
  it('an empty --out is a usage error (it wrote into the working folder)', async () => {
    const r = await cli('demo', '--out=');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out needs a folder name/);
    expect(fs.existsSync(path.join(tmp, 'demo-kws.ern'))).toBe(false);
  });

  it('--out naming a file is a usage error in words (it was "EEXIST: /abs/path")', async () => {
    const r = await cli('demo', '--out', 'one.npy');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out one\.npy: is a file, expected a folder/);
  });

  it('EEXIST from the file system is said in words', async () => {
    const { fileErrorText } = await import('../../src/cli/framework.js');
    expect(fileErrorText('EEXIST', 'o', tmp)).toBe('o already exists');
  });
});

describe('numeric flags', () => {
  it("take decimal numbers only ('--rounds 0x5' ran 5 rounds)", async () => {
    const { numberFlag } = await import('../../src/cli/framework.js');
    for (const bad of ['0x5', '0b101', '0o5', ' 5', '5 ', '', '1_000', 'Infinity', 'NaN', '-']) {
      expect(() => numberFlag(bad, 'rounds', { min: 1, integer: true }), bad).toThrow(/--rounds needs an integer/);
    }
    expect(numberFlag('5', 'rounds', { integer: true })).toBe(5);
    expect(numberFlag('-2.5', 'x')).toBe(-2.5);
    expect(numberFlag('.5', 'x')).toBe(0.5);
    expect(numberFlag('1e3', 'x')).toBe(1000);
    expect(numberFlag('+4', 'x')).toBe(4);
    const r = await cli('bench', '--quick', '--rounds', '0x5');
    expect(r.code).toBe(2);
  });
});

describe('edgernn run --output errors', () => {
  it('name the path as the user gave it (they named the absolute path)', async () => {
    fs.mkdirSync(path.join(tmp, 'folder'), { recursive: true });
    const a = await cli('run', 'm.ern', '-i', 'one.npy', '-o', 'folder');
    expect(a.code).toBe(1);
    expect(a.err).toBe('edgernn run: folder is a folder, expected a file\n');
    const b = await cli('run', 'm.ern', '-i', 'one.npy', '-o', 'nodir/x.npy');
    expect(b.code).toBe(1);
    expect(b.err).toBe('edgernn run: no such folder: nodir (for nodir/x.npy)\n');
  });
});

describe('edgernn help COMMAND', () => {
  it('an unknown command is a usage error (it printed the command list with exit 0)', async () => {
    const r = await cli('help', 'bogus');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/unknown command 'bogus'/);
    const ok = await cli('help', 'run');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^usage: edgernn run/);
  });
});

describe('edgernn run on a damaged .ern', () => {
  it('says what is wrong with it as an .ern (it was parsed as ONNX: "malformed ONNX protobuf")', async () => {
    fs.writeFileSync(path.join(tmp, 'garbage.ern'), 'this is not a model\n');
    const a = await cli('run', 'garbage.ern', '-i', 'one.npy');
    expect(a.code).toBe(1);
    // Not an .ern file at all, short as it is (it was "file has 20 bytes": ERN_TRUNCATED).
    expect(a.err).toMatch(/error \[ERN_BAD_MAGIC\]: .*it starts "this is ": text/);
    fs.writeFileSync(path.join(tmp, 'garbage2.ern'), 'x'.repeat(200));
    const b = await cli('run', 'garbage2.ern', '-i', 'one.npy');
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/error \[ERN_BAD_MAGIC\]/);
  });
});

describe('quietOnClosedPipe', () => {
  it('ends quietly on EPIPE and EIO (a hung-up terminal), with code 1 and a line on other errors, and listens once per stream however often runCli runs', async () => {
    const { EventEmitter } = await import('node:events');
    const { quietOnClosedPipe } = await import('../../src/cli/framework.js');
    const stream = new EventEmitter();
    let exits = 0;
    for (let i = 0; i < 20; i++) quietOnClosedPipe(stream, () => exits++);
    expect(stream.listenerCount('error')).toBe(1);
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(exits).toBe(1);
    // A full disk is no reader that went away: the output is incomplete, so it is a failure, in
    // one line (it was thrown from the 'error' event: a stack trace).
    const failed: [number, string | undefined][] = [];
    const full = new EventEmitter();
    quietOnClosedPipe(full, (code, message) => failed.push([code, message]));
    full.emit('error', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    expect(failed).toEqual([[1, 'edgernn: the output could not be written: ENOSPC: no space left on device, write']]);
  });
});

describe('Progress on a narrow terminal', () => {
  it('draws lines no wider than the terminal (a wrapped line cannot be redrawn with \\r)', async () => {
    const { Progress } = await import('../../src/cli/progress.js');
    vi.stubEnv('TERM', 'xterm'); // not drawn where TERM=dumb
    onTestFinished(() => {
      vi.unstubAllEnvs();
    });
    const writes: string[] = [];
    const p = new Progress({ isTTY: true, columns: 40, write: (s: string) => writes.push(s) }, 'bench', 2);
    p.tick(1, 'kws-gru simd scalar reference ort-web');
    p.tick(1, 'kws-gru simd scalar reference ort-web');
    p.done();
    const drawn = writes.filter((w) => w.startsWith('\r') && w.length > 5);
    expect(drawn.length).toBeGreaterThan(0);
    for (const w of drawn) expect(w.replace('\r', '').replace('\x1b[K', '').length).toBeLessThanOrEqual(39);
  });
});
