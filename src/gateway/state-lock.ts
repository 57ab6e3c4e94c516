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
import path from 'node:path';
import { EdgeRnnError } from '../errors.js';
import type { Logger } from './logger.js';
import { takeLockFile, type HeldLock } from '../util/lock-file.js';

export const LOCK_FILE = 'gateway.lock';

export type StateLock = HeldLock;

/** Takes stateDir for this gateway, or throws GATEWAY_STATE naming who holds it. */
export function lockStateDir(dir: string, gatewayId: string, logger?: Logger): StateLock {
  const file = path.join(path.resolve(dir), LOCK_FILE);
  return takeLockFile(
    file,
    { gateway: gatewayId },
    {
      refused(h) {
        const who = h ? `gateway '${String(h.gateway ?? '')}' (process ${h.pid} on ${h.host}, since ${h.startedAt})` : 'a gateway that is starting';
        return new EdgeRnnError(
          'GATEWAY_STATE',
          `stateDir ${dir} is in use by ${who}: two gateways must not share a stateDir (they would lose each other's alerts); give each its own. If that gateway is gone, delete ${file}`,
          { dir, file, holder: h },
        );
      },
      cannotCreate: (e, what) => new EdgeRnnError('GATEWAY_STATE', `stateDir ${dir}: cannot create ${what === 'file' ? `the lock ${file}` : 'it'}: ${e.message}`, { dir, file }),
      raced: () => new EdgeRnnError('GATEWAY_STATE', `stateDir ${dir}: another gateway took the lock ${file} while this one started`, { dir, file }),
      takenOver: (reason, holder) => logger?.warn('stateDir lock of a gateway that is gone taken over', { file, reason, holder }),
    },
  );
}
