/**
 * SIGHUP (the terminal of an ssh session closing, with the gateway in the foreground) ended
 * `edgernn gateway` on the spot, Node's default: no drain, the device states of every stream in
 * memory unsaved, the stateDir lock left behind. `edgernn record` ended without closing its trace.
 * Both stop gracefully on it now, as on SIGINT and SIGTERM. On the terminal that hung up, the
 * gateway's log lines then fail with EIO, which was thrown as an unhandled 'error' at the first
 * line of the shutdown, before any state was saved; it is taken as a closed output now.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/gateway/broker.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseTrace } from '../../src/gateway/trace.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, freePort, imuModelBytes, imuSignal, publishAsync, tmpDir, waitFor } from './fixtures.js';

const TSX_LOADER = import.meta.resolve('tsx');
const work = tmpDir('edgernn-sighup-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function child(script: string, args: string[]) {
  const c = spawn(process.execPath, ['--import', TSX_LOADER, path.join(import.meta.dirname, script), ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '', exit: undefined as number | null | undefined, signal: null as NodeJS.Signals | null };
  c.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  c.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  c.on('exit', (code, signal) => {
    out.exit = code;
    out.signal = signal;
  });
  return { c, out };
}

describe('SIGHUP', () => {
  it('stops edgernn gateway gracefully: exit 0, the stream states saved, the lock released', { timeout: 60_000 }, async () => {
    const port = await freePort();
    fs.writeFileSync(path.join(work, 'imu.ern'), imuModelBytes());
    fs.writeFileSync(
      path.join(work, 'gateway.json'),
      JSON.stringify({ site: 'plant', broker: { url: 'embedded', port }, models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir: 'state', metrics: { intervalMs: 0 } }),
    );
    const { c, out } = child('child-gateway.ts', ['--config', 'gateway.json', '--metrics-port', '0']);
    try {
      await waitFor(() => /metrics on (\S+)\/metrics/.test(out.stdout), 'the gateway to start', 30_000);
      const health = `${/metrics on (\S+)\/metrics/.exec(out.stdout)![1]}/healthz`;
      const dev = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'dev' });
      await publishAsync(dev, 'edgernn/plant/d1/imu', encodeJson(imuSignal(40, 3), IMU_CHANNELS, { seq: 0 }));
      await publishAsync(dev, 'edgernn/plant/d2/imu', encodeJson(imuSignal(40, 4), IMU_CHANNELS, { seq: 0 }));
      dev.end(true);
      let devices = 0;
      const poll = setInterval(() => void fetch(health).then(async (r) => (devices = ((await r.json()) as { devices: number }).devices), () => {}), 50);
      await waitFor(() => devices === 2, 'both devices to have streams', 30_000).finally(() => clearInterval(poll));
      c.kill('SIGHUP');
      await waitFor(() => out.exit !== undefined, 'the gateway to stop', 30_000);
      expect({ exit: out.exit, signal: out.signal }, out.stderr.slice(-2000)).toEqual({ exit: 0, signal: null });
      expect(out.stderr).toMatch(/"msg":"signal received, shutting down".*"signal":"SIGHUP"/);
      expect(fs.readdirSync(path.join(work, 'state', 'streams'))).toHaveLength(2);
      expect(fs.existsSync(path.join(work, 'state', 'gateway.lock'))).toBe(false);
    } finally {
      if (out.exit === undefined) c.kill('SIGKILL');
    }
  });

  it('stops edgernn record gracefully: exit 0, the summary printed, the trace whole', { timeout: 60_000 }, async () => {
    const broker = await startEmbeddedBroker();
    const { c, out } = child('child-record.ts', ['--broker', broker.url, '--mqtt-version', '4', '--topics', 'edgernn/hup/+/imu', '-o', 'hup.ndjson']);
    try {
      await waitFor(() => out.stderr.includes('recording'), 'the recorder to subscribe', 30_000);
      const dev = await connectClient(broker.url);
      await publishAsync(dev, 'edgernn/hup/d/imu', '{"seq":0,"values":[[0,0,0,0,0,0]]}');
      await waitFor(() => fs.readFileSync(path.join(work, 'hup.ndjson'), 'utf8').split('\n').length >= 3, 'the message recorded');
      dev.end(true);
      c.kill('SIGHUP');
      await waitFor(() => out.exit !== undefined, 'the recorder to stop', 30_000);
      expect({ exit: out.exit, signal: out.signal }, out.stderr).toEqual({ exit: 0, signal: null });
      expect(out.stdout).toMatch(/edgernn record: 1 messages/);
      expect(parseTrace(fs.readFileSync(path.join(work, 'hup.ndjson'))).records).toHaveLength(1);
    } finally {
      if (out.exit === undefined) c.kill('SIGKILL');
      await broker.close();
    }
  });
});

describe('a terminal that hangs up', () => {
  const python = spawnSync('python3', ['-c', 'import pty'], { encoding: 'utf8' }).status === 0;
  // Node itself then aborts at exit (ResetStdio cannot restore a terminal that is gone: a Node
  // bug, nodejs/node#51519), so the exit status is not checked: what matters was done before.
  it.skipIf(!python)('edgernn gateway in a terminal that closes: the states saved, the lock released (python3 makes the terminal)', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const dir = path.join(work, 'pty');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'imu.ern'), imuModelBytes());
    fs.writeFileSync(
      path.join(dir, 'gateway.json'),
      JSON.stringify({ site: 'plant', broker: { url: 'embedded', port }, models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir: 'state', metrics: { intervalMs: 0 } }),
    );
    // The gateway runs on a pseudo-terminal (stdout and stderr); once a device has a stream, the
    // terminal's master side is closed: the kernel sends SIGHUP, and writes fail with EIO.
    const script = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
buf = b''
while b'/metrics' not in buf:
    buf += os.read(fd, 4096)
print('started', ' '.join(buf.decode(errors='replace').split()), flush=True)
sys.stdin.readline()
os.close(fd)
_, status = os.waitpid(pid, 0)
print('exit', os.waitstatus_to_exitcode(status), flush=True)
`;
    const c = spawn('python3', ['-c', script, process.execPath, '--import', TSX_LOADER, path.join(import.meta.dirname, 'child-gateway.ts'), '--config', 'gateway.json', '--metrics-port', '0'], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      await waitFor(() => /metrics on (\S+)\/metrics/.test(stdout), 'the gateway to start', 30_000);
      const health = `${/metrics on (\S+)\/metrics/.exec(stdout)![1]}/healthz`;
      const dev = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'dev' });
      await publishAsync(dev, 'edgernn/plant/d1/imu', encodeJson(imuSignal(40, 3), IMU_CHANNELS, { seq: 0 }));
      dev.end(true);
      let devices = 0;
      const poll = setInterval(() => void fetch(health).then(async (r) => (devices = ((await r.json()) as { devices: number }).devices), () => {}), 50);
      await waitFor(() => devices === 1, 'the device to have a stream', 30_000).finally(() => clearInterval(poll));
      c.stdin.write('\n');
      await waitFor(() => /exit -?\d+/.test(stdout), 'the gateway to exit', 30_000);
      expect(fs.existsSync(path.join(dir, 'state', 'gateway.lock'))).toBe(false);
      expect(fs.readdirSync(path.join(dir, 'state', 'streams'))).toHaveLength(1);
    } finally {
      c.kill('SIGKILL');
    }
  });
});
