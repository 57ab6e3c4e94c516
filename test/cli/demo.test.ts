/**
 * `edgernn demo` ends with the commands to try next. `npm start` runs it in a clone of the
 * repository, where no `edgernn` is on the PATH: the suggested `edgernn info out/demo-kws.ern`
 * was "command not found". Under npm (npm start, npx) it suggests `npx edgernn`, which runs the
 * clone's or the project's own copy. Without WebAssembly SIMD the demo streamed on scalar and
 * "handed" the stream over to scalar again, reported as a hand-off between backends: it now
 * continues on the reference. A file named `out` where `npm start` ran was "--out out: is a
 * file" with the usage and exit 2, for a command given no arguments.
 */
import fs from 'node:fs';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { kernelBinaries } from '../../src/runtime/runtime.js';
import { runCaptured } from '../helpers/cli.js';
import { tmpDir } from '../gateway/fixtures.js';

const tmp = tmpDir('edgernn-demo-');
const saved = process.env.npm_command;
afterEach(() => {
  vi.restoreAllMocks();
  if (saved === undefined) delete process.env.npm_command;
  else process.env.npm_command = saved;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('suggests `npx edgernn` when npm runs it (npm start), `edgernn` otherwise', async () => {
  process.env.npm_command = 'start';
  const underNpm = await runCaptured(['demo'], runtimeCommands, tmp);
  expect(underNpm.code, underNpm.err).toBe(0);
  expect(underNpm.out).toMatch(/\nNext: npx edgernn info out\/demo-kws\.ern {3}npx edgernn bench {3}npx edgernn --help\n$/);
  delete process.env.npm_command;
  const direct = await runCaptured(['demo'], runtimeCommands, tmp);
  expect(direct.code, direct.err).toBe(0);
  expect(direct.out).toMatch(/\nNext: edgernn info out\/demo-kws\.ern {3}edgernn bench {3}edgernn --help\n$/);
});

it('without SIMD, hands the stream from scalar to another backend', async () => {
  // An engine without WebAssembly SIMD: the SIMD build neither validates nor compiles.
  const simdBytes = kernelBinaries().simd.byteLength;
  const { validate, compile } = WebAssembly;
  vi.spyOn(WebAssembly, 'validate').mockImplementation((b) => (b.byteLength === simdBytes ? false : validate(b)));
  vi.spyOn(WebAssembly, 'compile').mockImplementation(async (b) => {
    if (b.byteLength === simdBytes) throw new WebAssembly.CompileError('invalid simd opcode');
    return compile(b);
  });
  const r = await runCaptured(['demo'], runtimeCommands, tmp);
  expect(r.code, r.err).toBe(0);
  expect(r.out).toContain('SIMD not supported: default backend scalar');
  expect(r.out).toMatch(/handoff {3}stream 0 exported from scalar \(160 B\) and continued on reference: identical\n/);
});

it('a file named out, no --out: says so, exit 1 (not a usage error for a flag nobody gave)', async () => {
  const dir = tmpDir('edgernn-demo-file-');
  fs.writeFileSync(`${dir}/out`, 'notes');
  const r = await runCaptured(['demo'], runtimeCommands, dir);
  expect(r).toEqual({ code: 1, out: '', err: 'edgernn demo: out is a file; the demo writes its model into a folder of that name (--out DIR for another)\n' });
  expect(fs.readFileSync(`${dir}/out`, 'utf8')).toBe('notes');
  // Given as --out, it is the usage error it was.
  const given = await runCaptured(['demo', '--out', 'out'], runtimeCommands, dir);
  expect(given.code).toBe(2);
  expect(given.err).toMatch(/^edgernn demo: --out out: is a file, expected a folder\n\nusage: edgernn demo/);
  fs.rmSync(dir, { recursive: true, force: true });
});
