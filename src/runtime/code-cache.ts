/**
 * The runtime with a V8 code cache (Node only; `edgernn/runtime/cached`).
 *
 * Most of a cold start is V8 compiling the runtime's JavaScript, function by function, the first
 * time the load path calls it (README, Benchmark). Node 22 can keep compiled ES modules between
 * processes, but only what was compiled when the module loaded, and Node 20 cannot at all. This
 * entry compiles the CommonJS build of the runtime (dist/runtime.cjs, the same code as
 * dist/runtime.js) through node:vm with the bytecode an earlier process saved after it had run
 * the load path, so a later process skips that compiling (kws-gru: about 14 ms → 8 ms on Node 20,
 * `npx tsx test/bench/cold-start.ts`).
 *
 *   import { importCachedRuntime } from 'edgernn/runtime/cached';
 *   const { createRuntime, codeCache } = importCachedRuntime();   // codeCache.state: 'hit' | ...
 *   const model = await (await createRuntime()).load(bytes);
 *
 * The cache file is written when the process exits (or on codeCache.save()) if it was missing or
 * did not fit. V8 checks a code cache's version, flags and length but not its content, and runs a
 * damaged one (a flipped bit can crash the process), so the file carries a 64-bit checksum of
 * V8's data, checked before V8 sees it; V8 then rejects a file of another Node, V8 or set of V8
 * flags. A rejected file is compiled over and rewritten. The cache is code: it lives in a
 * directory only its owner can write (created 0700; a directory others can write is refused).
 *
 * File: "ERNC", u32 format 1, u64 checksum (little-endian), then V8's code cache.
 *
 * Each Node upgrade or flag change keys a new file (~170 KB). A write removes this entry's other
 * files that no start has read or written for 30 days (STALE_MS); a start that reads one marks it
 * used (its mtime, at most once a day: no write per start). Age alone decides, so processes
 * started at once, or with other flags on purpose, never remove each other's files in use.
 *
 * The runtime it returns is its own copy of the module: use its EdgeRnnError and isEdgeRnnError.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import type * as RuntimeModule from './index.js';
import { EdgeRnnError } from '../errors.js';
import { makeDirs } from '../io/files.js';

/** Set by scripts/build.mjs when this entry is bundled: the runtime.cjs built beside it. */
declare const __EDGERNN_RUNTIME_CJS__: { bytes: number } | undefined;

export type CodeCacheState = 'hit' | 'miss' | 'rejected' | 'off';

export interface CodeCacheOptions {
  /**
   * Directory of the cache file. Default: $EDGERNN_CODE_CACHE, else node_modules/.cache/edgernn
   * of the project that installed edgernn (the convention of babel, eslint and others).
   */
  dir?: string;
  /** Write the cache when the process exits, if it was missing or rejected (default true). */
  saveOnExit?: boolean;
}

export interface CodeCache {
  /** The cache file (null when off). */
  readonly file: string | null;
  /**
   * hit: compiled from the cache; miss: no cache file yet; rejected: the file did not fit (another
   * Node, V8 or V8 flags, damaged, truncated) and was ignored; off: no cache (see `reason`).
   */
  readonly state: CodeCacheState;
  /** Why the state is not 'hit' (the read error, the directory problem, ...). */
  readonly reason?: string;
  /**
   * Writes what V8 has compiled of the runtime so far (everything the process ran: load and step
   * paths), atomically. Never throws: the outcome is returned.
   */
  save(): { saved: boolean; bytes?: number; error?: string };
}

export type CachedRuntime = typeof RuntimeModule & { readonly codeCache: CodeCache };

let loaded: CachedRuntime | null = null;

/**
 * The runtime module, compiled with the code cache. Synchronous; the first call decides, later
 * calls return the same module (one copy of the runtime per process).
 */
export function importCachedRuntime(opts: CodeCacheOptions = {}): CachedRuntime {
  checkOptions(opts);
  if (loaded) return loaded;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundle = path.join(here, 'runtime.cjs');
  let source: Buffer;
  try {
    source = fs.readFileSync(bundle);
  } catch (e) {
    throw new Error(`edgernn/runtime/cached needs ${bundle} (built by npm run build): ${(e as Error).message}`);
  }
  const built = typeof __EDGERNN_RUNTIME_CJS__ === 'undefined' ? undefined : __EDGERNN_RUNTIME_CJS__;
  let file: string | null = null;
  let state: CodeCacheState = 'off';
  let reason: string | undefined;
  let cached: Buffer | undefined;
  // Absolute now: the file is written at exit, when the working directory may be another. An
  // empty $EDGERNN_CODE_CACHE counts as unset (as a shell's `EDGERNN_CODE_CACHE= cmd` means).
  const dir = path.resolve(opts.dir ?? (process.env.EDGERNN_CODE_CACHE || defaultDir(here)));
  if (!built) reason = 'not a build of scripts/build.mjs (no fingerprint of runtime.cjs)';
  else if (source.length !== built.bytes) reason = `runtime.cjs has ${source.length} bytes, built with ${built.bytes}: not the file this entry was built with`;
  else {
    const problem = unsafeDir(dir);
    if (problem) reason = problem;
    else {
      // V8 checks its version and flags, and the source's length only: the name keys the content
      // (its checksum as read now, not the build's sha256: a runtime.cjs edited in place keeps
      // its length, and V8 would run the old file's code; 0.2 ms for 100 KB), and the command-line
      // flags, so processes started with different flags keep a file each instead of rejecting
      // and rewriting one another's.
      const flags = fnv1a32([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join('\0'));
      try {
        // The checksum runs on WebAssembly, which a process may not have (node --jitless): then
        // no cache, never a failed import.
        file = path.join(dir, `runtime-${hex(cacheChecksum(source))}-${process.version}-${process.arch}-${flags}.v8cache`);
      } catch (e) {
        reason = `cannot checksum runtime.cjs (${(e as Error).message}): code cache off`;
      }
      if (file !== null) {
        try {
          const raw = readRegularFile(file);
          const damage = typeof raw === 'string' ? raw : cacheDamage(raw);
          if (typeof raw === 'string' || damage) {
            state = 'rejected';
            reason = `${file}: ${damage}: compiled from source`;
          } else {
            cached = raw.subarray(HEADER_BYTES);
            state = 'hit';
            markUsed(file);
          }
        } catch (e) {
          state = 'miss';
          reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no cache file yet' : (e as Error).message;
        }
      }
    }
  }
  // The bundle is platform-neutral: it requires nothing, so the wrapper passes no require.
  const script = new vm.Script(`(function (exports, module) {${source.toString('utf8')}\n})`, {
    filename: bundle,
    ...(cached ? { cachedData: cached } : {}),
  });
  if (cached && script.cachedDataRejected) {
    state = 'rejected';
    reason = 'V8 rejected the file (another Node, V8 or V8 flags, or a damaged file): compiled from source';
  }
  const module = { exports: {} as typeof RuntimeModule };
  (script.runInThisContext() as (e: object, m: object) => void)(module.exports, module);

  const codeCache: CodeCache = {
    file,
    state,
    ...(reason !== undefined ? { reason } : {}),
    save() {
      if (file === null) return { saved: false, error: reason ?? 'code cache off' };
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        const out = encodeCache(script.createCachedData());
        makeDirs(dir, 0o700);
        fs.writeFileSync(tmp, out, { mode: 0o600 });
        fs.renameSync(tmp, file);
        removeStale(dir, file);
        return { saved: true, bytes: out.length };
      } catch (e) {
        // A full disk leaves part of the file written, a failed rename all of it: one more file per
        // start, each taking what space was left, unless removed.
        try {
          fs.unlinkSync(tmp);
        } catch {
          // never written, or not ours to remove
        }
        return { saved: false, error: (e as Error).message };
      }
    },
  };
  if ((opts.saveOnExit ?? true) && (state === 'miss' || state === 'rejected')) process.once('exit', () => codeCache.save());
  loaded = Object.freeze({ ...module.exports, codeCache });
  return loaded;
}

/**
 * The options, checked as load()'s are: a misspelt name (`saveonexit`, `directory`) passed as
 * the default, silently, and a `dir` that is not a string was a TypeError from node:path.
 */
function checkOptions(opts: unknown): void {
  const where = 'importCachedRuntime()';
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: options are an object, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`);
  }
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (o[k] !== undefined && k !== 'dir' && k !== 'saveOnExit') {
      throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: unknown option '${k}': the options are dir, saveOnExit`, { got: k, expected: ['dir', 'saveOnExit'] });
    }
  }
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir === '')) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: dir is a directory path, got ${JSON.stringify(o.dir) ?? typeof o.dir}`, { got: o.dir });
  }
  if (o.saveOnExit !== undefined && typeof o.saveOnExit !== 'boolean') {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: saveOnExit is true or false, got ${JSON.stringify(o.saveOnExit) ?? typeof o.saveOnExit}`, { got: o.saveOnExit });
  }
}

/**
 * A file's bytes, or what it is if it is not a regular file: a FIFO or a device at the cache
 * path (a symlink to /dev/zero, say) made the start block forever or read without end.
 */
function readRegularFile(file: string): Buffer | string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const st = fs.fstatSync(fd);
    // A directory fails the read with EISDIR (a miss: the save says why it cannot write there).
    if (!st.isFile() && !st.isDirectory()) return `not a regular file (${st.isFIFO() ? 'a FIFO' : 'a device or socket'})`;
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const MAGIC = 0x434e5245; // "ERNC"
const FORMAT = 1;
const HEADER_BYTES = 16;

/** A cache file: header, then V8's data. */
export function encodeCache(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, FORMAT, true);
  dv.setBigUint64(8, cacheChecksum(data), true);
  out.set(data, HEADER_BYTES);
  return out;
}

/** What is wrong with a cache file's framing or checksum, or undefined. */
export function cacheDamage(file: Uint8Array): string | undefined {
  if (file.length <= HEADER_BYTES) return `truncated (${file.length} bytes, expected a ${HEADER_BYTES}-byte header and data)`;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) return 'not an edgernn code cache (bad magic)';
  if (dv.getUint32(4, true) !== FORMAT) return `format ${dv.getUint32(4, true)}, expected ${FORMAT}`;
  const want = dv.getBigUint64(8, true);
  const got = cacheChecksum(file.subarray(HEADER_BYTES));
  return got === want ? undefined : `damaged (checksum ${hex(got)}, expected ${hex(want)})`;
}

function fnv1a32(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

const hex = (v: bigint): string => v.toString(16).padStart(16, '0');

/**
 * A 64-bit checksum of bytes, zero-padded to whole 8-byte words: h = ((h ^ w) * P) and
 * h ^= h >>> 29 per little-endian word w, from FNV-1a 64's offset basis and prime. Every step is
 * a bijection of h, so a change of any one word always changes the result. In JavaScript it
 * would cost 3 ms in a fresh process (a cold loop over 145 KB); a hand-assembled WebAssembly
 * function (below) runs it over one 64 KiB page at a time. Plain twin: cacheChecksumRef.
 *
 * The module has CHECKSUM_COPIES identical copies of the function, and the pages go round robin
 * over them: V8 compiles a WebAssembly function with TurboFan once the baseline code it has run
 * passes a budget (1.8 M bytes on Node 20, about three pages of this loop), and a start checksums
 * runtime.cjs and the cache file, ~300 KB, five pages. One function tiered up in every cached
 * start and paged ~2.7 MiB of the optimizing compiler in (README, Benchmark); each copy now runs
 * at most two pages per start.
 */
export function cacheChecksum(bytes: Uint8Array): bigint {
  checksumModule ??= new WebAssembly.Module(CHECKSUM_WASM);
  const exports = new WebAssembly.Instance(checksumModule).exports as Record<string, unknown>;
  const page = new Uint8Array((exports.m as WebAssembly.Memory).buffer);
  let acc = 0xcbf29ce484222325n;
  for (let at = 0; at < bytes.length; at += PAGE) {
    const chunk = bytes.subarray(at, at + PAGE);
    page.set(chunk);
    const words = Math.ceil(chunk.length / 8);
    page.fill(0, chunk.length, words * 8); // the last word's padding
    const h = exports[`h${checksumPages++ % CHECKSUM_COPIES}`] as (ptr: number, words: number, h: bigint) => bigint;
    acc = h(0, words, acc);
  }
  return BigInt.asUintN(64, acc);
}

const PAGE = 65536;
/** Pages checksummed in this process: the next one goes to copy checksumPages % CHECKSUM_COPIES. */
let checksumPages = 0;

/** cacheChecksum in plain BigInt arithmetic (the reference its test compares with). */
export function cacheChecksumRef(bytes: Uint8Array): bigint {
  const padded = new Uint8Array(Math.ceil(bytes.length / 8) * 8);
  padded.set(bytes);
  const dv = new DataView(padded.buffer);
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < padded.length; i += 8) {
    h = BigInt.asUintN(64, (h ^ dv.getBigUint64(i, true)) * 0x100000001b3n);
    h ^= h >> 29n;
  }
  return h;
}

let checksumModule: WebAssembly.Module | undefined;

/**
 * (module (memory (export "m") 1)
 *   (func (export "h0") (param $p i32) (param $n i32) (param $h i64) (result i64)
 *     (block (loop
 *       (br_if 1 (i32.eqz (local.get $n)))
 *       (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load (local.get $p))) (i64.const 0x100000001b3)))
 *       (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))))
 *       (local.set $p (i32.add (local.get $p) (i32.const 8)))
 *       (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *       (br 0)))
 *     (local.get $h))
 *   ... the same function exported as "h1", "h2", "h3")
 */
const CHECKSUM_COPIES = 4;
// prettier-ignore
const CHECKSUM_BODY = [
  0, // no locals
  2, 64, 3, 64, 32, 1, 69, 13, 1, // block, loop, br_if n == 0
  32, 2, 32, 0, 41, 3, 0, 133, 66, 179, 131, 128, 128, 128, 32, 126, 33, 2, // h = (h ^ load(p)) * prime
  32, 2, 32, 2, 66, 29, 136, 133, 33, 2, // h ^= h >>> 29
  32, 0, 65, 8, 106, 33, 0, 32, 1, 65, 1, 107, 33, 1, // p += 8, n -= 1
  12, 0, 11, 11, 32, 2, 11, // br 0, end, end, h
];
const CHECKSUM_CODE_BYTES = 1 + CHECKSUM_COPIES * (1 + CHECKSUM_BODY.length); // < 128 per body, < 16384 in all
// prettier-ignore
const CHECKSUM_WASM = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, // magic, version
  1, 8, 1, 96, 3, 127, 127, 126, 1, 126, // type: (i32, i32, i64) -> i64
  3, 1 + CHECKSUM_COPIES, CHECKSUM_COPIES, ...Array<number>(CHECKSUM_COPIES).fill(0), // functions of type 0
  5, 3, 1, 0, 1, // memory: min 1 page
  7, 1 + 4 + 5 * CHECKSUM_COPIES, 1 + CHECKSUM_COPIES, 1, 109, 2, 0, // exports "m" (memory 0), "h0".. (functions)
  ...Array.from({ length: CHECKSUM_COPIES }, (_, i) => [2, 104, 48 + i, 0, i]).flat(),
  10, (CHECKSUM_CODE_BYTES & 127) | 128, CHECKSUM_CODE_BYTES >> 7, CHECKSUM_COPIES, // code: the bodies
  ...Array.from({ length: CHECKSUM_COPIES }, () => [CHECKSUM_BODY.length, ...CHECKSUM_BODY]).flat(),
]);

/** A file of this entry's, or its temporary file (left by a process killed while writing it). */
const CACHE_NAME = /^runtime-[0-9a-f]{16}-v[0-9][0-9A-Za-z.+-]*-[0-9a-f]{8}\.v8cache(\.[0-9]+\.tmp)?$/;
const DAY_MS = 86_400_000;
const STALE_MS = 30 * DAY_MS;

/** Sets a cache file's mtime to now when it is a day old or more. Never throws (a read-only directory). */
function markUsed(file: string): void {
  try {
    if (Date.now() - fs.statSync(file).mtimeMs >= DAY_MS) {
      const now = new Date();
      fs.utimesSync(file, now, now);
    }
  } catch {
    // the next write may then remove it after 30 days: one start compiles it again
  }
}

/**
 * Removes the files of this entry in dir, other than keep, unused for STALE_MS. Only regular
 * files named as cache files are removed (lstat: a symlink is never followed, nor removed).
 * Never throws: a file another process removed first, or one that cannot be, stays a file.
 */
function removeStale(dir: string, keep: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!CACHE_NAME.test(name) || name === path.basename(keep)) continue;
    const file = path.join(dir, name);
    try {
      const st = fs.lstatSync(file);
      if (st.isFile() && now - st.mtimeMs > STALE_MS) fs.unlinkSync(file);
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/** node_modules/.cache/edgernn of the installing project (or of this checkout). */
function defaultDir(distDir: string): string {
  const pkg = path.dirname(distDir);
  const parent = path.dirname(pkg);
  return path.basename(parent) === 'node_modules' ? path.join(parent, '.cache', 'edgernn') : path.join(pkg, 'node_modules', '.cache', 'edgernn');
}

/** Why a cache directory must not hold code, or undefined (a missing directory is created 0700). */
function unsafeDir(dir: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return `${dir} is not a directory`;
  // Windows reports no POSIX permission bits (every writable directory looks 0666): ACLs guard it there.
  if (process.platform === 'win32') return undefined;
  if ((st.mode & 0o002) !== 0) return `${dir} is writable by every user: a code cache there could be replaced by anyone`;
  if (process.getuid && st.uid !== process.getuid()) return `${dir} belongs to another user (uid ${st.uid})`;
  return undefined;
}
