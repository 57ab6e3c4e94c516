/**
 * A lock file for a folder that one process at a time may write (Node only): a gateway's
 * stateDir (src/gateway/state-lock.ts), a corpus being built (quantize/data/kws/corpus.ts).
 *
 * The first process creates the file exclusively and writes who it is (process, host, boot, and
 * the caller's own fields). A lock whose holder is certainly gone is taken over: its process has
 * ended (signal 0 fails with ESRCH), the machine has rebooted since (another Linux boot id, so a
 * reused pid cannot hold it), or the file is unreadable and more than 5 s old (a crash between
 * creating and writing it). A holder that has exited but not been reaped yet (a zombie) is gone
 * too. A lock from another host is never taken over: its process cannot be
 * checked from here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDirs } from '../io/files.js';

/** Who holds a lock: the common fields, plus the caller's own (e.g. `gateway`). */
export interface LockHolder {
  pid: number;
  host: string;
  bootId: string;
  startedAt: string;
  [field: string]: unknown;
}

export interface HeldLock {
  readonly file: string;
  /** Deletes the lock if it is still this process's (idempotent). */
  release(): void;
}

export interface LockFileHandlers {
  /** The error to throw when a live holder has the lock (`null`: one that is starting right now). */
  refused(holder: LockHolder | null): Error;
  /** The error to throw when the lock's folder or the file cannot be created (permissions, read-only disk). */
  cannotCreate(cause: Error, what: 'folder' | 'file'): Error;
  /** The error to throw when other processes kept taking the lock over at the same time. */
  raced(): Error;
  /** Told before a gone holder's lock is taken over. */
  takenOver?(reason: string, holder: LockHolder | null): void;
}

/** Lock files held by this process: a second taker in the same process is refused too. */
const held = new Set<string>();

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') {
      return { ...h, pid: h.pid, host: h.host, bootId: String(h.bootId ?? ''), startedAt: String(h.startedAt ?? '') };
    }
  } catch {
    /* unreadable or not JSON */
  }
  return null;
}

/** Null while the holder may still be running; the reason when it is certainly gone. */
function goneBecause(file: string, h: LockHolder | null, me: LockHolder): string | null {
  if (h === null) {
    // Empty or garbage: a crash between creating the file and writing it, unless another process
    // is creating it right now (the same instant): only an old one is taken over.
    let age = Infinity;
    try {
      age = Date.now() - fs.statSync(file).mtimeMs;
    } catch {
      return 'gone';
    }
    return age > 5000 ? 'unreadable lock' : null;
  }
  if (h.host !== me.host) return null;
  if (h.bootId !== '' && me.bootId !== '' && h.bootId !== me.bootId) return 'the machine rebooted since';
  if (h.pid === me.pid) return held.has(file) ? null : 'left by this process';
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH' ? `process ${h.pid} is gone` : null;
  }
  // A process that has exited but whose parent has not collected it yet (a zombie: a supervisor
  // that restarts a killed gateway before reaping it) still answers signal 0, and holds nothing.
  return zombie(h.pid) ? `process ${h.pid} has exited` : null;
}

/** Whether Linux lists the process as a zombie (state Z; false where /proc is missing). */
function zombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Takes `file` (its folder is made if missing), or throws the handlers' error naming the holder. */
export function takeLockFile(file: string, fields: Record<string, string>, on: LockFileHandlers): HeldLock {
  const abs = path.resolve(file);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), bootId: bootId(), ...fields, startedAt: new Date().toISOString() };
  try {
    // makeDirs, not Node 20's recursive mkdir, which spins forever under /proc (src/io/files.ts).
    makeDirs(path.dirname(abs));
  } catch (e) {
    throw on.cannotCreate(e as Error, 'folder');
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(abs, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(me));
      } finally {
        fs.closeSync(fd);
      }
      held.add(abs);
      let released = false;
      return {
        file: abs,
        release() {
          if (released) return;
          released = true;
          held.delete(abs);
          const h = readHolder(abs);
          if (h && h.pid === me.pid && h.startedAt === me.startedAt && h.host === me.host) fs.rmSync(abs, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw on.cannotCreate(e as Error, 'file');
    }
    const h = readHolder(abs);
    const gone = goneBecause(abs, h, me);
    if (gone === null) throw on.refused(h);
    on.takenOver?.(gone, h);
    fs.rmSync(abs, { force: true });
  }
  throw on.raced();
}
