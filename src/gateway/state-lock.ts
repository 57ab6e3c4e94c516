/**
 * One gateway per stateDir. Two gateways sharing a folder lose alerts: when one compacts the
 * outbox it drops the other's records, and the other keeps appending to a file that no longer
 * exists (reproduced with two `--id`s started from one config file). The first gateway to start
 * writes `stateDir/gateway.lock` (created exclusively) with its process, host and boot; a second
 * one is refused with a GATEWAY_STATE error naming the holder.
 *
 * A lock left by a gateway that died (SIGKILL, power loss) is taken over: its process is gone
 * (signal 0 fails with ESRCH) or the machine has rebooted since (another Linux boot id, so a
 * reused pid cannot hold the folder). A lock from another host is never taken over (its process
 * cannot be checked from here): the error says which file to delete if that gateway is gone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EdgeRnnError } from '../errors.js';
import type { Logger } from './logger.js';
import { makeDirs } from '../io/files.js';

export const LOCK_FILE = 'gateway.lock';

interface Holder {
  pid: number;
  host: string;
  bootId: string;
  gateway: string;
  startedAt: string;
}

export interface StateLock {
  readonly file: string;
  /** Deletes the lock if it is still this process's (idempotent). */
  release(): void;
}

/** Lock files held by this process: a second gateway in the same process is refused too. */
const held = new Set<string>();

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function readHolder(file: string): Holder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') {
      return { pid: h.pid, host: h.host, bootId: String(h.bootId ?? ''), gateway: String(h.gateway ?? ''), startedAt: String(h.startedAt ?? '') };
    }
  } catch {
    /* unreadable or not JSON */
  }
  return null;
}

/** Whether the holder may still be running; a reason when it is certainly gone. */
function goneBecause(file: string, h: Holder | null, me: Holder): string | null {
  if (h === null) {
    // Empty or garbage: a crash between creating the file and writing it, unless another gateway
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
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH' ? `process ${h.pid} is gone` : null;
  }
}

/** Takes stateDir for this gateway, or throws GATEWAY_STATE naming who holds it. */
export function lockStateDir(dir: string, gatewayId: string, logger?: Logger): StateLock {
  const file = path.join(path.resolve(dir), LOCK_FILE);
  const me: Holder = { pid: process.pid, host: os.hostname(), bootId: bootId(), gateway: gatewayId, startedAt: new Date().toISOString() };
  const body = JSON.stringify(me);
  try {
    // makeDirs, not Node 20's recursive mkdir, which spins forever under /proc (src/io/files.ts).
    makeDirs(path.dirname(file));
  } catch (e) {
    throw new EdgeRnnError('GATEWAY_STATE', `stateDir ${dir}: cannot create it: ${(e as Error).message}`, { dir });
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, body);
      } finally {
        fs.closeSync(fd);
      }
      held.add(file);
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          held.delete(file);
          const h = readHolder(file);
          if (h && h.pid === me.pid && h.startedAt === me.startedAt && h.host === me.host) fs.rmSync(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new EdgeRnnError('GATEWAY_STATE', `stateDir ${dir}: cannot create the lock ${file}: ${(e as Error).message}`, { dir, file });
      }
    }
    const h = readHolder(file);
    const gone = goneBecause(file, h, me);
    if (gone === null) {
      const who = h ? `gateway '${h.gateway}' (process ${h.pid} on ${h.host}, since ${h.startedAt})` : 'a gateway that is starting';
      throw new EdgeRnnError(
        'GATEWAY_STATE',
        `stateDir ${dir} is in use by ${who}: two gateways must not share a stateDir (they would lose each other's alerts); give each its own. If that gateway is gone, delete ${file}`,
        { dir, file, holder: h },
      );
    }
    logger?.warn('stateDir lock of a gateway that is gone taken over', { file, reason: gone, holder: h });
    fs.rmSync(file, { force: true });
  }
  throw new EdgeRnnError('GATEWAY_STATE', `stateDir ${dir}: another gateway took the lock ${file} while this one started`, { dir, file });
}
