/**
 * src/io/files.ts: reading files the user named, and making folders without Node's recursive
 * mkdir (which spins forever under /proc on Node 20; the processes that hit it are tested in
 * test/runtime/code-cache.test.ts and test/gateway/startup-abort.test.ts).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDirs, readFileArg } from '../../src/io/files.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-files-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('makeDirs', () => {
  it('makes every missing folder, with the mode; an existing one is fine; a file in the way is EEXIST', () => {
    const deep = path.join(tmp, 'a', 'b', 'c');
    makeDirs(deep, 0o700);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(tmp, 'a')).mode & 0o777).toBe(0o700 & ~process.umask());
    makeDirs(deep);
    fs.writeFileSync(path.join(tmp, 'file'), 'x');
    expect(() => makeDirs(path.join(tmp, 'file'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => makeDirs(path.join(tmp, 'file', 'sub'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it.skipIf(!fs.existsSync('/proc/self'))('under /proc it throws ENOENT at once (Node 20 recursive mkdir spins forever there)', () => {
    // In a child process with a deadline, so a regression fails instead of hanging the suite.
    const code = `import('${path.resolve(import.meta.dirname, '../../src/io/files.ts')}').then((f) => { try { f.makeDirs('/proc/edgernn-x/y'); console.log('made'); } catch (e) { console.log(e.code); } })`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    expect(r.signal).toBeNull();
    expect(r.stdout.trim()).toBe('ENOENT');
  });
});

describe('readFileArg', () => {
  it('names the path the user gave when Node does not (reading a folder)', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      readFileArg(tmp, 'a');
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect([err?.code, err?.path]).toEqual(['EISDIR', 'a']);
  });
});
