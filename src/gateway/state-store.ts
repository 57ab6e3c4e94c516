/**
 * Where evicted and shut-down device streams keep their state (Node-only module). Synchronous:
 * a load happens when a device's first message after eviction arrives, a save when it is
 * evicted; both are small (a few KB) and rare. A state taken out of the file store is renamed
 * aside and unlinked off the event loop (see fileStateStore). Also probeStateDir: whether the
 * disk under stateDir takes writes at all (the gateway runs from memory when it does not).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError } from '../errors.js';
import { makeDirs } from '../io/files.js';

export interface StateStore {
  load(key: string): Uint8Array | undefined;
  save(key: string, bytes: Uint8Array): void;
  /**
   * Saves many states at once (a shutdown, an eviction sweep), each as save() would, but paying
   * the durability cost once for the batch where the store can; the same key twice: the last
   * counts. Returns the states that could not be saved (the others are saved). Optional: without
   * it, saveStates() calls save() for each.
   */
  saveMany?(entries: ReadonlyArray<readonly [string, Uint8Array]>): StateSaveFailure[];
  delete(key: string): void;
  keys(): string[];
}

/** A state that saveMany() or saveStates() could not save, with why. */
export interface StateSaveFailure {
  key: string;
  error: Error;
}

/** Saves many states through store.saveMany, or save() one by one; never throws: returns the states not saved. */
export function saveStates(store: StateStore, entries: ReadonlyArray<readonly [string, Uint8Array]>): StateSaveFailure[] {
  if (entries.length === 0) return [];
  if (store.saveMany) {
    try {
      return store.saveMany(entries);
    } catch (e) {
      // A store's saveMany should report, not throw; if it does, no state of the batch is known saved.
      return entries.map(([key]) => ({ key, error: e as Error }));
    }
  }
  const failed: StateSaveFailure[] = [];
  for (const [key, bytes] of entries) {
    try {
      store.save(key, bytes);
    } catch (e) {
      failed.push({ key, error: e as Error });
    }
  }
  return failed;
}

export interface StateStoreOptions {
  /**
   * Most states kept: a save beyond drops the oldest saved ones (default: no bound). A flood of
   * distinct device names left one state per name forever.
   */
  maxStates?: number;
  /** Called with the key of each state dropped for maxStates. */
  onDrop?: (key: string) => void;
  /**
   * fsync each state file before it is renamed into place, and the folder after (default true;
   * the gateway passes outbox.fsync). Without, a crash soon after a save could leave an empty or
   * partial file under the final name: the rename can reach the disk before the data.
   */
  fsync?: boolean;
}

/** OS error codes of a disk that refuses writes (read-only, full, no permission, failing), as opposed to a wrong path. */
export const DISK_REFUSED_CODES: ReadonlySet<string> = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'EIO']);

/** Written, fsynced and deleted by probeStateDir. */
const PROBE_FILE = 'write-test.tmp';

/**
 * Checks that stateDir can hold the gateway's files: makes it, then writes, fsyncs and deletes a
 * small file in it. Returns null when it can, or the OS error of a disk that refuses writes
 * (DISK_REFUSED_CODES). A path that cannot be a folder is a mistake in the configuration, the
 * same at every start, and throws: GATEWAY_CONFIG when something that is not a directory is in
 * the way (EEXIST, ENOTDIR), else GATEWAY_STATE with the OS error (a path under /proc: ENOENT).
 */
export function probeStateDir(dir: string): NodeJS.ErrnoException | null {
  const refusedOrThrow = (e: unknown, what: string): NodeJS.ErrnoException => {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== undefined && DISK_REFUSED_CODES.has(err.code)) return err;
    if (err.code === 'EEXIST' || err.code === 'ENOTDIR') {
      const blocker = firstNonDirectory(dir);
      const where = blocker === null || blocker === path.resolve(dir) ? 'not a directory' : `${blocker} on its path is not a directory`;
      throw new EdgeRnnError('GATEWAY_CONFIG', `stateDir must be a directory, got ${dir}: ${where} (${err.code})`, { field: 'stateDir', expected: 'a directory', got: blocker ?? dir, code: err.code });
    }
    throw new EdgeRnnError('GATEWAY_STATE', `stateDir ${dir}: ${what}: ${err.message}`, { dir, code: err.code });
  };
  try {
    makeDirs(dir);
  } catch (e) {
    return refusedOrThrow(e, 'cannot create it');
  }
  const probe = path.join(dir, PROBE_FILE);
  try {
    const fd = fs.openSync(probe, 'w');
    try {
      fs.writeSync(fd, 'x');
      fs.fsyncSync(fd); // a full disk may say so only here (delayed allocation)
    } finally {
      fs.closeSync(fd);
    }
    fs.rmSync(probe, { force: true });
  } catch (e) {
    try {
      fs.rmSync(probe, { force: true });
    } catch {
      // Left behind: harmless, overwritten by the next probe.
    }
    return refusedOrThrow(e, 'cannot write in it');
  }
  return null;
}

/** The first path from the root to dir that exists and is not a directory (null: none). */
function firstNonDirectory(dir: string): string | null {
  const full = path.resolve(dir);
  const parts = full.split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = path.sep + parts.slice(0, i).join(path.sep);
    try {
      if (!fs.statSync(p).isDirectory()) return p;
    } catch {
      return null;
    }
  }
  return null;
}

/** Writes bytes to a new file (replacing one), fsynced before it is closed when asked. */
function writeFileDurably(file: string, bytes: Uint8Array, fsync: boolean): void {
  const fd = fs.openSync(file, 'w');
  try {
    // writeSync may write part of the buffer without an error (a full disk, a size limit).
    for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    if (fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncs a directory: makes the renames and creations in it durable. */
function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** File name of a key: sha256 (any key length fits a file name; the key is stored inside). */
const hashedName = (key: string) => `${createHash('sha256').update(key, 'utf8').digest('hex')}.st`;
const HASHED = /^[0-9a-f]{64}\.st$/;
/** Gateways before hashed names wrote <base64url(key)>.state: still read, moved on the next save. */
const LEGACY_EXT = '.state';
const legacyName = (key: string) => `${Buffer.from(key, 'utf8').toString('base64url')}${LEGACY_EXT}`;
/** Longest file name on the file systems we run on (ext4, xfs, btrfs, tmpfs: 255 bytes). */
const NAME_MAX = 255;
/** A state file taken out of the store, renamed to <random>-<n>.gone until it is unlinked: never read; removed at the next open if a crash came first. */
const GONE_EXT = '.gone';
/** Files renamed aside that are unlinked one after the other before the process may exit (see fileStateStore). */
const UNLINK_RUN = 16;
/** A hashed file: magic, u32 LE key length, the key (utf-8), the state bytes. */
const MAGIC = Buffer.from('ERNSTAT1', 'latin1');

/** The key a hashed state file holds (reads its header only). */
function readKey(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length + 4);
    if (fs.readSync(fd, head, 0, head.length, 0) !== head.length || !head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`${file}: not a stream state file`);
    const kb = Buffer.alloc(head.readUInt32LE(MAGIC.length));
    if (fs.readSync(fd, kb, 0, kb.length, head.length) !== kb.length) throw new Error(`${file}: truncated`);
    return kb.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * One file per stream in dir: <sha256(key)>.st holding the key and the state, written atomically
 * (tmp, fsync, rename, fsync the folder); files of the previous naming, <base64url(key)>.state, are read too. With
 * maxStates, the oldest saved states (file modification time across restarts) are dropped first.
 * saveMany() writes and fsyncs every temporary file, then renames them all, then fsyncs the folder
 * once: 2,000 states cost 2,001 fsyncs instead of 4,000, and a crash in the middle leaves each
 * state old or new, whole (a rename is atomic and only follows its file's fsync); the temporary
 * files it leaves are removed at the next open.
 *
 * A state taken out (delete(), the maxStates bound) is renamed aside and unlinked later, one file
 * at a time off the event loop: unlinking a fsynced file frees its blocks, 0.1-2 ms here and tens
 * of ms at times, and a device's first message after eviction paid it inside its handler (2,000
 * devices waking at once held the gateway for seconds; test/bench/state-restore.ts). The rename
 * frees the state's name at once: a save of the same key before the unlink ran is untouched (the
 * aside name is unique), and a crash before it leaves a file no load or keys() reads, removed at
 * the next open. Where the rename fails (a full disk refusing a new name), the file is unlinked
 * on the spot, as before. The store needs the folder to itself (stateDir's lock, state-lock.ts).
 */
export function fileStateStore(dir: string, opts: StateStoreOptions = {}): StateStore {
  let names: string[];
  try {
    makeDirs(dir);
    names = fs.readdirSync(dir);
  } catch (e) {
    // A file in the folder's place, no permission: the gateway's start failed with Node's bare error.
    throw new EdgeRnnError('GATEWAY_STATE', `cannot open the stream state store in ${dir}: ${(e as Error).message}`, { dir, expected: 'a directory', got: (e as NodeJS.ErrnoException).code });
  }
  const max = opts.maxStates ?? Infinity;
  const doFsync = opts.fsync ?? true;
  /** Every state file by name, oldest saved first, with its key once known. */
  const index = new Map<string, string | undefined>();
  /**
   * Files renamed aside, waiting for their unlink: one at a time, so a wave of them leaves the
   * thread pool to the outbox. Every UNLINK_RUN unlinks the next waits on an unref'd timer: a
   * process with nothing else to do (a gateway that stopped) exits there, the rest removed at the
   * next open (chained to the end, the unlinks of a bound lowered by 90,000 states would hold it a
   * minute or more; an unref'd setImmediate does not let it exit: it runs in the same turn of the loop).
   */
  let doomed: string[] = [];
  /** doomed[unlinking] is being unlinked (an index: shift() is linear in the length, 2.5 s for 200,000 here). */
  let unlinking = 0;
  /** This store's names for them: no other store's (a previous run's, left by a crash) are the same. */
  const goneTag = randomBytes(6).toString('hex');
  let goneCount = 0;
  const unlinkNext = () => {
    const file = doomed[unlinking];
    if (file === undefined) return;
    fs.unlink(file, () => {
      // Failed (not a file after all, a disk gone read-only): left, removed at the next open.
      if (++unlinking === doomed.length) [doomed, unlinking] = [[], 0];
      else if (unlinking % UNLINK_RUN === 0) setTimeout(unlinkNext, 0).unref();
      else unlinkNext();
    });
  };
  const found: Array<{ name: string; key: string | undefined; mtime: number }> = [];
  for (const name of names) {
    if (name.endsWith(GONE_EXT)) {
      doomed.push(path.join(dir, name)); // a removal a crash (or a stop) cut short
      continue;
    }
    if (name.endsWith('.tmp')) {
      try {
        fs.rmSync(path.join(dir, name), { force: true }); // a save cut short by a crash
      } catch {
        // Not a file (a directory by that name): not ours, left alone.
      }
      continue;
    }
    const legacy = name.endsWith(LEGACY_EXT);
    if (!legacy && !HASHED.test(name)) continue;
    let mtime = 0;
    try {
      mtime = fs.statSync(path.join(dir, name)).mtimeMs;
    } catch {
      continue;
    }
    found.push({ name, key: legacy ? Buffer.from(name.slice(0, -LEGACY_EXT.length), 'base64url').toString('utf8') : undefined, mtime });
  }
  found.sort((a, b) => a.mtime - b.mtime);
  for (const f of found) index.set(f.name, f.key);
  unlinkNext();

  const keyOf = (name: string): string | undefined => {
    let key = index.get(name);
    if (key === undefined) {
      try {
        key = readKey(path.join(dir, name));
      } catch {
        return undefined;
      }
      index.set(name, key);
    }
    return key;
  };
  /** Takes a state file out of the store: renamed aside now, unlinked later (see fileStateStore). */
  const remove = (name: string) => {
    const file = path.join(dir, name);
    const gone = path.join(dir, `${goneTag}-${goneCount++}${GONE_EXT}`);
    try {
      fs.renameSync(file, gone);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') fs.rmSync(file, { force: true });
      index.delete(name);
      return;
    }
    index.delete(name);
    doomed.push(gone);
    if (doomed.length === unlinking + 1) unlinkNext(); // none under way
  };
  const legacyFile = (key: string): string | null => {
    const name = legacyName(key);
    return Buffer.byteLength(name) <= NAME_MAX ? name : null;
  };
  const read = (name: string): Buffer | undefined => {
    try {
      return fs.readFileSync(path.join(dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };

  /** Drops the oldest states beyond maxStates. */
  const trim = () => {
    while (index.size > max) {
      const oldest = index.keys().next().value as string;
      const dropped = keyOf(oldest);
      try {
        remove(oldest);
      } catch {
        index.delete(oldest); // cannot be removed (a disk gone read-only): no longer counted, nor reported dropped
        continue;
      }
      if (dropped !== undefined) opts.onDrop?.(dropped);
    }
  };
  /** After the renames of saved states are durable: index them, remove their legacy files, keep the bound. */
  const saved = (keys: readonly string[]) => {
    for (const key of keys) {
      const name = hashedName(key);
      index.delete(name); // re-inserted: the most recently saved
      index.set(name, key);
      // The state under the old name is superseded (removed after the new one is in place).
      const legacy = legacyFile(key);
      if (legacy !== null && index.has(legacy)) {
        try {
          remove(legacy);
        } catch {
          // Not a file (a directory in its place): load() finds the new one first anyway.
        }
      }
    }
    trim();
  };
  // A bound lowered since the states were saved: the oldest go now, while the gateway starts. Left
  // to the first save, they all went in it, inside a device's message handler (the event loop
  // held for 14 s for 4,900 states here; minutes for the tens of thousands a lowered default leaves).
  trim();
  /** The file bytes of a state: magic, key length, key, state. */
  const fileBytes = (key: string, bytes: Uint8Array): Buffer => {
    const kb = Buffer.from(key, 'utf8');
    const head = Buffer.alloc(MAGIC.length + 4);
    MAGIC.copy(head);
    head.writeUInt32LE(kb.length, MAGIC.length);
    return Buffer.concat([head, kb, bytes]);
  };
  const removeTmp = (tmp: string) => {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // Left behind: removed at the next open.
    }
  };

  return {
    load(key) {
      const b = read(hashedName(key));
      if (b) {
        const file = path.join(dir, hashedName(key));
        const kl = b.length >= MAGIC.length + 4 && b.subarray(0, MAGIC.length).equals(MAGIC) ? b.readUInt32LE(MAGIC.length) : -1;
        const at = MAGIC.length + 4 + kl;
        if (kl < 0) throw new EdgeRnnError('GATEWAY_STATE', `${file}: not a stream state file (${b.length} bytes, no ERNSTAT1 header)`, { file, expected: 'ERNSTAT1', got: b.subarray(0, MAGIC.length).toString('latin1') });
        if (at > b.length) throw new EdgeRnnError('GATEWAY_STATE', `${file}: truncated (its key needs ${at} bytes, the file has ${b.length})`, { file, expected: at, got: b.length });
        if (b.toString('utf8', MAGIC.length + 4, at) !== key) throw new EdgeRnnError('GATEWAY_STATE', `${file}: holds another key`, { file, expected: key, got: b.toString('utf8', MAGIC.length + 4, at) });
        return new Uint8Array(b.subarray(at));
      }
      const legacy = legacyFile(key);
      const lb = legacy === null ? undefined : read(legacy);
      return lb ? new Uint8Array(lb) : undefined;
    },
    save(key, bytes) {
      const f = path.join(dir, hashedName(key));
      // A crash leaves the old state or the new one, whole: the data is on disk before the
      // rename, and the rename is on disk before save() returns.
      try {
        writeFileDurably(`${f}.tmp`, fileBytes(key, bytes), doFsync);
        fs.renameSync(`${f}.tmp`, f);
      } catch (e) {
        removeTmp(`${f}.tmp`); // a full disk: what was written of it held the last blocks until the next start
        throw e;
      }
      if (doFsync) fsyncDir(dir);
      saved([key]);
    },
    saveMany(entries) {
      const failed: StateSaveFailure[] = [];
      const last = new Map<string, Uint8Array>();
      for (const [key, bytes] of entries) {
        last.delete(key); // the same key twice: the last counts
        last.set(key, bytes);
      }
      // 1. Every temporary file written and fsynced: nothing is renamed before its data is on disk.
      const written: string[] = [];
      for (const [key, bytes] of last) {
        const tmp = `${path.join(dir, hashedName(key))}.tmp`;
        try {
          writeFileDurably(tmp, fileBytes(key, bytes), doFsync);
          written.push(key);
        } catch (e) {
          removeTmp(tmp);
          failed.push({ key, error: e as Error });
        }
      }
      // 2. Each renamed into place (atomic: a crash between two renames leaves each state old or new).
      const renamed: string[] = [];
      for (const key of written) {
        const f = path.join(dir, hashedName(key));
        try {
          fs.renameSync(`${f}.tmp`, f);
          renamed.push(key);
        } catch (e) {
          removeTmp(`${f}.tmp`);
          failed.push({ key, error: e as Error });
        }
      }
      // 3. One folder fsync makes every rename durable.
      if (doFsync && renamed.length > 0) {
        try {
          fsyncDir(dir);
        } catch (e) {
          // The renames may not survive a crash: each file is still whole (old or new).
          for (const key of renamed) failed.push({ key, error: e as Error });
        }
      }
      saved(renamed);
      return failed;
    },
    delete(key) {
      remove(hashedName(key));
      const legacy = legacyFile(key);
      if (legacy !== null) remove(legacy);
    },
    keys() {
      // The directory is the truth (and the index learns what it did not know).
      const out = new Set<string>();
      const names = new Set<string>();
      for (const name of fs.readdirSync(dir)) {
        if (!name.endsWith(LEGACY_EXT) && !HASHED.test(name)) continue;
        names.add(name);
        if (!index.has(name)) index.set(name, name.endsWith(LEGACY_EXT) ? Buffer.from(name.slice(0, -LEGACY_EXT.length), 'base64url').toString('utf8') : undefined);
        const key = keyOf(name);
        if (key !== undefined) out.add(key);
      }
      for (const name of [...index.keys()]) if (!names.has(name)) index.delete(name);
      return [...out];
    },
  };
}

export function memoryStateStore(opts: StateStoreOptions = {}): StateStore & { readonly map: Map<string, Uint8Array> } {
  const map = new Map<string, Uint8Array>();
  const max = opts.maxStates ?? Infinity;
  return {
    map,
    load: (k) => map.get(k),
    save: (k, b) => {
      map.delete(k); // re-inserted: the most recently saved
      map.set(k, b.slice());
      while (map.size > max) {
        const oldest = map.keys().next().value as string;
        map.delete(oldest);
        opts.onDrop?.(oldest);
      }
    },
    delete: (k) => void map.delete(k),
    keys: () => [...map.keys()],
  };
}
