/**
 * edgernn/runtime/cached (src/runtime/code-cache.ts): the runtime compiled with a V8 code cache.
 * Fresh Node processes on the built files: a first start writes the cache, later starts read it;
 * every start computes the same outputs as the runtime itself; damaged, foreign and unsafe caches
 * are refused with the reason, never run. And the checksum's WebAssembly against its reference.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheChecksum, cacheChecksumRef, cacheDamage, encodeCache, importCachedRuntime } from '../../src/runtime/code-cache.js';
import { createRuntime } from '../../src/runtime/index.js';
import { Rng } from '../../src/util/rng.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MODEL = path.join(ROOT, 'models/har.ern');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-code-cache-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the cache file checksum', () => {
  it('the WebAssembly checksum equals the BigInt reference, whole words or not, across memory pages', () => {
    const rng = new Rng(11);
    for (const n of [0, 1, 7, 8, 9, 63, 64, 65, 1000, 65536, 3 * 65536 + 5]) {
      const b = new Uint8Array(n).map(() => rng.int(0, 255));
      expect(cacheChecksum(b), `${n} bytes`).toBe(cacheChecksumRef(b));
    }
  });

  it.skipIf(!process.versions.node.startsWith('20.'))('a start\'s checksums (~300 KB) compile nothing with TurboFan in a fresh Node 20 process', async () => {
    // V8 tiers a function up past a budget of baseline code run (1.8 M bytes on Node 20); the
    // pages go round robin over the module's copies of the function (code-cache.ts).
    const esbuild = await import('esbuild');
    const out = path.join(tmp, 'checksum.mjs');
    await esbuild.build({ stdin: { contents: `export { cacheChecksum } from './src/runtime/code-cache.ts';`, resolveDir: ROOT, loader: 'ts' }, bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'silent' });
    const script = `import { cacheChecksum } from ${JSON.stringify(out)};
      const source = new Uint8Array(122_000).fill(1), cache = new Uint8Array(177_000).fill(2);
      console.log('sums', cacheChecksum(source) !== cacheChecksum(cache));`;
    const r = spawnSync(process.execPath, ['--trace-wasm-compilation-times', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stdout).toContain('sums true');
    expect(r.stdout).toContain('using Liftoff');
    expect(r.stdout.split('\n').filter((l) => l.includes('TurboFan'))).toEqual([]);
  });

  it('a changed byte anywhere changes it; cacheDamage names the defect of each kind of file', () => {
    const rng = new Rng(12);
    const data = new Uint8Array(5000).map(() => rng.int(0, 255));
    const file = encodeCache(data);
    expect(cacheDamage(file)).toBeUndefined();
    for (let k = 0; k < 40; k++) {
      const bad = file.slice();
      bad[16 + rng.int(0, data.length - 1)]! ^= 1 << rng.int(0, 7);
      expect(cacheDamage(bad)).toMatch(/^damaged \(checksum [0-9a-f]{16}, expected [0-9a-f]{16}\)$/);
    }
    expect(cacheDamage(file.subarray(0, 16))).toMatch(/truncated \(16 bytes/);
    expect(cacheDamage(new Uint8Array(0))).toMatch(/truncated \(0 bytes/);
    const magic = file.slice();
    magic[0] = 0;
    expect(cacheDamage(magic)).toMatch(/bad magic/);
    const format = file.slice();
    format[4] = 2;
    expect(cacheDamage(format)).toBe('format 2, expected 1');
  });
});

/** A fresh process on dist/runtime-cached.js: the cache state and a few steps' outputs. */
function start(dir: string, opts: { flags?: string[]; saveOnExit?: boolean; save?: boolean; entry?: string; cwd?: string; env?: Record<string, string>; chdir?: string; timeout?: number } = {}) {
  const entry = opts.entry ?? path.join(ROOT, 'dist/runtime-cached.js');
  const probe = path.join(tmp, 'probe.mjs');
  fs.writeFileSync(
    probe,
    `import { readFileSync } from 'node:fs';
const { importCachedRuntime } = await import(${JSON.stringify(entry)});
const R = importCachedRuntime({ dir: process.argv[2], saveOnExit: process.argv[3] !== 'no-save' });
const m = await (await R.createRuntime()).load(new Uint8Array(readFileSync(${JSON.stringify(MODEL)})));
const s = m.session(); const out = [];
for (let t = 0; t < 5; t++) out.push(Array.from(s.step(new Float32Array(m.inputSize).map((_, i) => Math.sin(t + i)))));
const saved = process.argv[4] === 'save' ? R.codeCache.save() : undefined;
if (process.argv[5]) process.chdir(process.argv[5]);
console.log(JSON.stringify({ state: R.codeCache.state, reason: R.codeCache.reason, file: R.codeCache.file, out, saved, disposedMessage: R.ERROR_CODES.SESSION_DISPOSED }));
`,
  );
  const args = [...(opts.flags ?? []), probe, dir, opts.saveOnExit === false ? 'no-save' : '', opts.save ? 'save' : '', opts.chdir ?? ''];
  const r = spawnSync(process.execPath, args, { cwd: opts.cwd ?? ROOT, encoding: 'utf8', timeout: opts.timeout ?? 60_000, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    state: string;
    reason?: string;
    file: string | null;
    out: number[][];
    saved?: { saved: boolean; bytes?: number };
    disposedMessage: string;
  };
}

/** The same steps on the runtime imported as usual (the oracle). */
async function expected(): Promise<number[][]> {
  const m = await (await createRuntime()).load(new Uint8Array(fs.readFileSync(MODEL)));
  const s = m.session();
  const out: number[][] = [];
  for (let t = 0; t < 5; t++) out.push(Array.from(s.step(new Float32Array(m.inputSize).map((_, i) => Math.sin(t + i)))));
  return out;
}

describe('importCachedRuntime() options', () => {
  // As load()'s: `{ saveonexit: false }` or `{ directory }` passed as the defaults, silently.
  it('a misspelt option, a dir that is not a path or a saveOnExit that is not a boolean is INVALID_ARGUMENT naming it', () => {
    for (const [opts, message] of [
      [{ saveonexit: false }, "importCachedRuntime(): unknown option 'saveonexit': the options are dir, saveOnExit"],
      [{ directory: '/tmp/x' }, "importCachedRuntime(): unknown option 'directory': the options are dir, saveOnExit"],
      [{ dir: 42 }, 'importCachedRuntime(): dir is a directory path, got 42'],
      [{ dir: '' }, 'importCachedRuntime(): dir is a directory path, got ""'],
      [{ saveOnExit: 'no' }, 'importCachedRuntime(): saveOnExit is true or false, got "no"'],
      [null, 'importCachedRuntime(): options are an object, got null'],
      ['/tmp/cache', 'importCachedRuntime(): options are an object, got string'],
    ] as const) {
      expect(() => importCachedRuntime(opts as never), JSON.stringify(opts)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message }));
    }
  });
});

describe('edgernn/runtime/cached in fresh processes', () => {
  it('a first start writes the cache (0600 in a 0700 directory), later starts read it, all with the runtime outputs', async () => {
    const want = await expected();
    const dir = path.join(tmp, 'a', 'cache');
    const first = start(dir);
    expect(first.state).toBe('miss');
    expect(first.out).toEqual(want);
    expect(fs.statSync(first.file!).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (let i = 0; i < 2; i++) {
      const later = start(dir);
      expect(later).toMatchObject({ state: 'hit', file: first.file });
      expect(later.out).toEqual(want);
    }
  });

  it('a damaged cache is refused before V8 sees it, compiled over and rewritten', async () => {
    const want = await expected();
    const dir = path.join(tmp, 'b');
    const { file } = start(dir);
    const bytes = fs.readFileSync(file!);
    const rng = new Rng(13);
    for (let k = 0; k < 3; k++) {
      const bad = Buffer.from(bytes);
      bad[16 + rng.int(0, bytes.length - 17)]! ^= 1 << rng.int(0, 7);
      fs.writeFileSync(file!, bad);
      const r = start(dir);
      expect(r.state).toBe('rejected');
      expect(r.reason).toMatch(/damaged \(checksum/);
      expect(r.out).toEqual(want);
      expect(start(dir).state).toBe('hit'); // rewritten at exit
    }
    fs.writeFileSync(file!, bytes.subarray(0, 9));
    expect(start(dir)).toMatchObject({ state: 'rejected', reason: expect.stringMatching(/truncated/) });
  });

  it("a well-framed file V8 refuses (another V8, other flags, not a code cache) is compiled over", async () => {
    const dir = path.join(tmp, 'c');
    const { file } = start(dir);
    fs.writeFileSync(file!, encodeCache(new Uint8Array(fs.statSync(file!).size - 16).fill(7)));
    const r = start(dir);
    expect(r).toMatchObject({ state: 'rejected', reason: expect.stringMatching(/V8 rejected the file/) });
    expect(r.out).toEqual(await expected());
    expect(start(dir).state).toBe('hit');
  });

  it('processes started with other flags keep a cache file each', () => {
    const dir = path.join(tmp, 'd');
    const plain = start(dir);
    const flagged = start(dir, { flags: ['--stack-size=2000'] });
    expect(flagged.state).toBe('miss');
    expect(flagged.file).not.toBe(plain.file);
    expect(start(dir).state).toBe('hit');
    expect(start(dir, { flags: ['--stack-size=2000'] }).state).toBe('hit');
  });

  // Every Node upgrade or flag change added a file of ~170 KB, and none was ever removed.
  it('a write removes the cache files of this entry no start has used for 30 days, and nothing else', () => {
    const dir = path.join(tmp, 'stale');
    const { file } = start(dir, { saveOnExit: false });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const old = (Date.now() - 31 * 86_400_000) / 1000;
    const recent = (Date.now() - 29 * 86_400_000) / 1000;
    const at = (name: string) => path.join(dir, name);
    const make = (name: string, mtime: number) => {
      fs.writeFileSync(at(name), 'x');
      fs.utimesSync(at(name), mtime, mtime);
    };
    make('runtime-0123456789abcdef-v18.20.4-x64-01234567.v8cache', old); // an older Node: removed
    make('runtime-0123456789abcdef-v20.18.0-arm64-89abcdef.v8cache.4242.tmp', old); // a killed write: removed
    make('runtime-0123456789abcdef-v20.18.0-x64-89abcdef.v8cache', recent); // other flags, in use: kept
    make('notes.v8cache', old); // not ours: kept
    make('runtime-x.v8cache', old);
    const outside = path.join(tmp, 'stale-target');
    make('../stale-target', old);
    fs.symlinkSync(outside, at('runtime-1123456789abcdef-v18.20.4-x64-01234567.v8cache')); // a link: kept, and what it points to
    fs.mkdirSync(at('runtime-2123456789abcdef-v18.20.4-x64-01234567.v8cache')); // a directory: kept
    fs.utimesSync(at('runtime-2123456789abcdef-v18.20.4-x64-01234567.v8cache'), old, old);
    expect(start(dir, { saveOnExit: false, save: true }).saved).toMatchObject({ saved: true });
    expect(fs.readdirSync(dir).sort()).toEqual(
      [
        path.basename(file!),
        'notes.v8cache',
        'runtime-0123456789abcdef-v20.18.0-x64-89abcdef.v8cache',
        'runtime-1123456789abcdef-v18.20.4-x64-01234567.v8cache',
        'runtime-2123456789abcdef-v18.20.4-x64-01234567.v8cache',
        'runtime-x.v8cache',
      ].sort(),
    );
    expect(fs.existsSync(outside)).toBe(true);
  });

  it('a start that reads a cache file marks it used: a write of other flags 30 days after it was written keeps it', () => {
    const dir = path.join(tmp, 'stale-used');
    const plain = start(dir);
    const old = (Date.now() - 31 * 86_400_000) / 1000;
    fs.utimesSync(plain.file!, old, old);
    expect(start(dir).state).toBe('hit');
    expect(Date.now() - fs.statSync(plain.file!).mtimeMs).toBeLessThan(86_400_000);
    expect(start(dir, { flags: ['--stack-size=2000'] }).state).toBe('miss'); // writes, and cleans up
    expect(start(dir).state).toBe('hit');
  });

  it('saveOnExit: false writes nothing until codeCache.save()', () => {
    const dir = path.join(tmp, 'e');
    const r = start(dir, { saveOnExit: false });
    expect(r.state).toBe('miss');
    expect(fs.existsSync(r.file!)).toBe(false);
    const saved = start(dir, { saveOnExit: false, save: true });
    expect(saved.saved).toMatchObject({ saved: true });
    expect(fs.statSync(saved.file!).size).toBe(saved.saved!.bytes);
    expect(start(dir, { saveOnExit: false }).state).toBe('hit');
  });

  it('refuses a directory every user can write or another user owns, and keeps working without a cache', async () => {
    const dir = path.join(tmp, 'f');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o777);
    const r = start(dir);
    expect(r).toMatchObject({ state: 'off', file: null, reason: expect.stringMatching(/writable by every user/) });
    expect(r.out).toEqual(await expected());
    expect(fs.readdirSync(dir)).toEqual([]);
    const file = path.join(tmp, 'f-file');
    fs.writeFileSync(file, '');
    expect(start(file)).toMatchObject({ state: 'off', reason: expect.stringMatching(/is not a directory/) });
    if (process.getuid?.() === 0) {
      // as root (CI): a directory owned by nobody
      const theirs = path.join(tmp, 'f-theirs');
      fs.mkdirSync(theirs, { mode: 0o755 });
      fs.chownSync(theirs, 65534, 65534);
      expect(start(theirs)).toMatchObject({ state: 'off', reason: expect.stringMatching(/belongs to another user \(uid 65534\)/) });
    }
  });

  // Node 20's fs.mkdirSync(dir, { recursive: true }) spins forever under /proc (mkdir answers
  // ENOENT though the parent exists): the process could not exit, as the save runs at exit.
  it.skipIf(!fs.existsSync('/proc/self'))('a cache directory that cannot be made (under /proc): the save says why and the process exits', async () => {
    const r = start('/proc/edgernn-cache', { save: true });
    expect(r).toMatchObject({ state: 'miss', saved: { saved: false, error: expect.stringMatching(/ENOENT: no such file or directory, mkdir '\/proc\/edgernn-cache'/) } });
    expect(r.out).toEqual(await expected());
    // ... and again at exit, with the default saveOnExit.
    expect(start('/proc/edgernn-cache').state).toBe('miss');
  });

  it('is off, with the reason, when runtime.cjs is not the file it was built with', async () => {
    const dist = path.join(tmp, 'dist');
    fs.mkdirSync(dist);
    fs.copyFileSync(path.join(ROOT, 'dist/runtime-cached.js'), path.join(dist, 'runtime-cached.js'));
    fs.writeFileSync(path.join(dist, 'runtime.cjs'), `${fs.readFileSync(path.join(ROOT, 'dist/runtime.cjs'), 'utf8')}\n;`);
    const r = start(path.join(tmp, 'g'), { entry: path.join(dist, 'runtime-cached.js') });
    expect(r).toMatchObject({ state: 'off', file: null, reason: expect.stringMatching(/not the file this entry was built with/) });
    expect(r.out).toEqual(await expected());
  });

  it('a save that fails (a directory where the cache file goes) leaves no temporary file behind', () => {
    // The same path a full disk takes: the write or the rename fails after the temporary file exists.
    const dir = path.join(tmp, 'h');
    const { file } = start(dir, { saveOnExit: false });
    fs.mkdirSync(file!, { recursive: true });
    for (let i = 0; i < 2; i++) {
      expect(start(dir)).toMatchObject({ state: 'miss', reason: expect.stringMatching(/EISDIR/) });
      expect(fs.readdirSync(dir)).toEqual([path.basename(file!)]);
    }
  });

  it('a runtime.cjs edited in place, same length, is not run with the code cache of the file before', () => {
    const dist = path.join(tmp, 'dist-edited');
    fs.mkdirSync(dist);
    fs.copyFileSync(path.join(ROOT, 'dist/runtime-cached.js'), path.join(dist, 'runtime-cached.js'));
    const cjs = fs.readFileSync(path.join(ROOT, 'dist/runtime.cjs'), 'utf8');
    fs.writeFileSync(path.join(dist, 'runtime.cjs'), cjs);
    const entry = path.join(dist, 'runtime-cached.js');
    const dir = path.join(tmp, 'i');
    const before = start(dir, { entry });
    expect(start(dir, { entry })).toMatchObject({ state: 'hit', file: before.file, disposedMessage: 'the session was disposed' });
    const edited = cjs.replace('"the session was disposed"', '"THE SESSION WAS DISPOSED"');
    expect(edited.length).toBe(cjs.length);
    fs.writeFileSync(path.join(dist, 'runtime.cjs'), edited);
    const after = start(dir, { entry });
    expect(after).toMatchObject({ state: 'miss', disposedMessage: 'THE SESSION WAS DISPOSED' });
    expect(after.file).not.toBe(before.file);
    expect(start(dir, { entry })).toMatchObject({ state: 'hit', file: after.file, disposedMessage: 'THE SESSION WAS DISPOSED' });
  });

  it('a relative cache directory is where the process started, though it changes directory before exit', () => {
    const cwd = path.join(tmp, 'j');
    fs.mkdirSync(path.join(cwd, 'elsewhere'), { recursive: true });
    const first = start('cache', { cwd, chdir: 'elsewhere' });
    expect(first.state).toBe('miss');
    expect(path.dirname(first.file!)).toBe(path.join(cwd, 'cache'));
    expect(fs.existsSync(path.join(cwd, 'elsewhere', 'cache'))).toBe(false);
    expect(start('cache', { cwd })).toMatchObject({ state: 'hit', file: first.file });
  });

  it('an empty $EDGERNN_CODE_CACHE counts as unset', () => {
    const probe = path.join(tmp, 'env-probe.mjs');
    fs.writeFileSync(
      probe,
      `const { importCachedRuntime } = await import(${JSON.stringify(path.join(ROOT, 'dist/runtime-cached.js'))});
console.log(importCachedRuntime({ saveOnExit: false }).codeCache.file);`,
    );
    const r = spawnSync(process.execPath, [probe], { cwd: tmp, encoding: 'utf8', env: { ...process.env, EDGERNN_CODE_CACHE: '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(path.dirname(r.stdout.trim())).toBe(path.join(ROOT, 'node_modules', '.cache', 'edgernn'));
  });

  it('a process without WebAssembly (node --jitless): the import does not throw, the cache is off with the reason', () => {
    // The cache file's name is the checksum of runtime.cjs, computed in WebAssembly: it threw
    // "WebAssembly is not defined" out of importCachedRuntime.
    const probe = path.join(tmp, 'jitless-probe.mjs');
    fs.writeFileSync(
      probe,
      `const { importCachedRuntime } = await import(${JSON.stringify(path.join(ROOT, 'dist/runtime-cached.js'))});
const R = importCachedRuntime({ dir: process.argv[2] });
console.log(JSON.stringify({ state: R.codeCache.state, reason: R.codeCache.reason, file: R.codeCache.file, save: R.codeCache.save(), createRuntime: typeof R.createRuntime }));`,
    );
    const dir = path.join(tmp, 'jitless');
    const r = spawnSync(process.execPath, ['--jitless', probe, dir], { cwd: tmp, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ state: 'off', file: null, reason: expect.stringMatching(/WebAssembly/), save: { saved: false }, createRuntime: 'function' });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it.skipIf(process.platform === 'win32')('a FIFO or a device at the cache path is refused and compiled over (the start blocked forever on a FIFO)', async () => {
    const dir = path.join(tmp, 'fifo');
    fs.mkdirSync(dir, { mode: 0o700 });
    const { file } = start(dir, { saveOnExit: false });
    expect(spawnSync('mkfifo', [file!]).status).toBe(0);
    const r = start(dir, { timeout: 10_000 });
    expect(r).toMatchObject({ state: 'rejected', reason: expect.stringMatching(/not a regular file \(a FIFO\)/) });
    expect(r.out).toEqual(await expected());
    expect(fs.statSync(file!).isFile()).toBe(true);
    expect(start(dir).state).toBe('hit');
    fs.rmSync(file!);
    fs.symlinkSync('/dev/zero', file!);
    expect(start(dir, { timeout: 10_000 })).toMatchObject({ state: 'rejected', reason: expect.stringMatching(/a device or socket/) });
  });

  it("require('edgernn/runtime') gives the same runtime as CommonJS", async () => {
    const req = createRequire(path.join(ROOT, 'package.json'));
    const R = req('edgernn/runtime') as typeof import('../../src/runtime/index.js');
    const m = await (await R.createRuntime()).load(new Uint8Array(fs.readFileSync(MODEL)));
    const s = m.session();
    const out: number[][] = [];
    for (let t = 0; t < 5; t++) out.push(Array.from(s.step(new Float32Array(m.inputSize).map((_, i) => Math.sin(t + i)))));
    expect(out).toEqual(await expected());
  });
});
