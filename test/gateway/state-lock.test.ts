/**
 * One gateway per stateDir (src/gateway/state-lock.ts): two gateways sharing one lost alerts (one
 * compacting the outbox dropped the other's records). A second gateway is refused, naming the
 * holder; a lock whose gateway is gone (process ended, machine rebooted, unreadable and old) is
 * taken over; a lock of another host is not.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { LOCK_FILE, lockStateDir } from '../../src/gateway/state-lock.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_DETECTOR, imuModelAndGateways, tmpDir } from './fixtures.js';

const rig = imuModelAndGateways();

async function start(stateDir: string, id: string): Promise<Gateway> {
  const config = parseGatewayConfig({
    site: 's',
    gatewayId: id,
    models: { imu: 'imu.ern' },
    routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }],
    stateDir,
    metrics: { intervalMs: 0 },
  });
  const gw = await Gateway.create({ config, models: { imu: rig.model }, clock: new ManualClock(1_700_000_000_000), transport: new TraceTransport(), logger: memoryLogger('error') });
  rig.gateways.push(gw);
  return gw;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(isEdgeRnnError(e, 'GATEWAY_STATE')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected a GATEWAY_STATE error');
}

const bootId = (() => {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
})();

function writeLock(dir: string, holder: Record<string, unknown>, ageMs = 0): string {
  const file = path.join(dir, LOCK_FILE);
  fs.writeFileSync(file, typeof holder.raw === 'string' ? holder.raw : JSON.stringify(holder));
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs);
    fs.utimesSync(file, t, t);
  }
  return file;
}

describe('one gateway per stateDir', () => {
  it('a second gateway on the same stateDir is refused, naming the first; it starts once the first stopped', async () => {
    const dir = tmpDir();
    const first = await start(dir, 'gw-a');
    const msg = await refusal(start(dir, 'gw-b'));
    expect(msg).toMatch(new RegExp(`stateDir ${dir} is in use by gateway 'gw-a' \\(process ${process.pid} on ${os.hostname()}`));
    expect(msg).toMatch(/two gateways must not share a stateDir/);
    await first.stop();
    rig.gateways.splice(rig.gateways.indexOf(first), 1);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    await start(dir, 'gw-b');
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, gateway: 'gw-b' });
  });

  it('a lock of a live process is kept; once that process is gone (SIGKILL) it is taken over', async () => {
    const dir = tmpDir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const file = writeLock(dir, { pid: child.pid, host: os.hostname(), bootId, gateway: 'other', startedAt: 'then' });
      expect(() => lockStateDir(dir, 'me')).toThrow(new RegExp(`in use by gateway 'other' \\(process ${child.pid} on`));
      expect(fs.readFileSync(file, 'utf8')).toContain('"other"');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const logger = memoryLogger('warn');
      const lock = lockStateDir(dir, 'me', logger);
      expect(logger.lines[0]).toMatchObject({ msg: 'stateDir lock of a gateway that is gone taken over', reason: `process ${child.pid} is gone` });
      lock.release();
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a lock of a gateway that has exited but is not reaped yet (a zombie) is taken over', async () => {
    if (!fs.existsSync('/proc/self/stat') || spawnSync('python3', ['-c', '0']).status !== 0) return; // Linux /proc and python3 make the zombie
    const dir = tmpDir();
    // The parent forks a child that exits at once and is never waited for: a zombie while the parent sleeps.
    const parent = spawn('python3', ['-c', 'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout!.once('data', (d: Buffer) => r(d.toString()))));
      for (let i = 0; i < 100 && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(() => process.kill(pid, 0)).not.toThrow(); // signal 0 still answers
      writeLock(dir, { pid, host: os.hostname(), bootId, gateway: 'killed', startedAt: 'then' });
      const logger = memoryLogger('warn');
      lockStateDir(dir, 'me', logger).release();
      expect(logger.lines[0]).toMatchObject({ reason: `process ${pid} has exited` });
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('after a reboot (another boot id) a reused pid does not hold the folder', () => {
    if (bootId === '') return; // no boot id on this system: the pid check alone applies
    const dir = tmpDir();
    writeLock(dir, { pid: process.ppid, host: os.hostname(), bootId: '00000000-0000-0000-0000-000000000000', gateway: 'old', startedAt: 'then' });
    const logger = memoryLogger('warn');
    lockStateDir(dir, 'me', logger).release();
    expect(logger.lines[0]).toMatchObject({ reason: 'the machine rebooted since' });
  });

  it('a lock of another host is never taken over, even with a pid that does not exist here', () => {
    const dir = tmpDir();
    const file = writeLock(dir, { pid: 2 ** 30, host: 'elsewhere', bootId: 'x', gateway: 'far', startedAt: 'then' });
    expect(() => lockStateDir(dir, 'me')).toThrow(new RegExp(`in use by gateway 'far' \\(process ${2 ** 30} on elsewhere.*If that gateway is gone, delete ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('an unreadable lock is taken over when it is old, not while another gateway may be writing it', () => {
    const dir = tmpDir();
    writeLock(dir, { raw: '' });
    expect(() => lockStateDir(dir, 'me')).toThrow(/in use by a gateway that is starting/);
    writeLock(dir, { raw: '{"pi' }, 60_000);
    const lock = lockStateDir(dir, 'me');
    expect(JSON.parse(fs.readFileSync(lock.file, 'utf8'))).toMatchObject({ gateway: 'me' });
    lock.release();
  });

  it("release() leaves another gateway's lock alone", () => {
    const dir = tmpDir();
    const lock = lockStateDir(dir, 'me');
    const file = writeLock(dir, { pid: 2 ** 30, host: 'elsewhere', gateway: 'far', startedAt: 'then' });
    lock.release();
    expect(fs.existsSync(file)).toBe(true);
  });

  // Node 20's recursive mkdir spins forever under /proc, in a loop no signal handler can break: a
  // gateway whose stateDir was there never started (the lock made the folder that way). In a child
  // process with a deadline, so a regression fails instead of hanging the test run.
  it.skipIf(!fs.existsSync('/proc/self'))('a stateDir under /proc is GATEWAY_STATE at once (it spun forever making the folder)', () => {
    const loader = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
    const lockModule = new URL('../../src/gateway/state-lock.ts', import.meta.url).href;
    const script = `import { lockStateDir } from ${JSON.stringify(lockModule)};\ntry { lockStateDir('/proc/edgernn-state-lock-test', 'gw'); console.log('locked'); } catch (e) { console.log(e.code + ': ' + e.message); }`;
    const r = spawnSync(process.execPath, ['--import', loader, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.stdout.trim()).toMatch(/^GATEWAY_STATE: stateDir \/proc\/edgernn-state-lock-test: cannot create it: ENOENT/);
  });
});
