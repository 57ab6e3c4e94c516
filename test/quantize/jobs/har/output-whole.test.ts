/**
 * `har fit-generator` and `har train` write their output whole (a temporary file renamed over
 * it): written in place, a full disk truncated the previous module or model.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { desktopCommands } from '../../../../quantize/cli/index.js';
import { runCaptured } from '../../../helpers/cli.js';

// Made by the tests that run: made at import, it was left behind when they all skipped (no ../shared).
let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-har-whole-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

// fit-generator needs every HAR class: the real HMP recordings (not redistributable, so not here).
const data = path.resolve(import.meta.dirname, '../../../../../shared/datasets/har/hmp');

describe('har outputs on a failing disk', () => {
  it.skipIf(!fs.existsSync(data))('fit-generator keeps the previous --out whole when the write fails (needs ../shared/datasets/har/hmp)', async () => {
    const out = path.join(dir, 'hmp-model.gen.ts');
    fs.writeFileSync(out, '// the previous module\n');
    const real = fs.writeFileSync;
    // The disk fills up while the module is written: what was opened is truncated, then ENOSPC.
    vi.spyOn(fs, 'writeFileSync').mockImplementation((file, text, options) => {
      if (typeof file === 'string' && path.basename(file).startsWith('hmp-model.gen.ts')) {
        real(file, '');
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: file, syscall: 'write' });
      }
      return real(file, text, options);
    });
    const r = await runCaptured(['har', 'fit-generator', '--data', data, '--out', out], desktopCommands, dir);
    vi.restoreAllMocks();
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/no space left on the device for .*hmp-model\.gen\.ts/);
    expect(fs.readFileSync(out, 'utf8')).toBe('// the previous module\n');
    expect(fs.readdirSync(dir)).toEqual(['hmp-model.gen.ts']);
  });
});
