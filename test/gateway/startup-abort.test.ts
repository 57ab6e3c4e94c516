/**
 * Start-up waits for an unreachable broker indefinitely (a broker that is down comes back); a
 * stop request during that wait must still stop the gateway: in process through an AbortSignal
 * (GATEWAY_STOPPED, everything opened is closed, the MQTT client stops retrying), and in the
 * `edgernn gateway` process through SIGTERM (exit 0 within seconds, not at the next SIGKILL).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { FileOutbox } from '../../src/gateway/outbox.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { IMU_DETECTOR, freePort, imuModelBytes, tmpDir, waitFor } from './fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function deadBrokerConfig(stateDir: string) {
  // A port nobody listens on: connections are refused, and the client retries every reconnectMs.
  const port = await freePort();
  return parseGatewayConfig({
    broker: { url: `mqtt://127.0.0.1:${port}`, reconnectMs: 200 },
    models: { imu: 'imu.ern' },
    routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }],
    stateDir,
    metrics: { intervalMs: 0 },
  });
}

describe('stopping a gateway that is still waiting for its broker', () => {
  it('in process: the AbortSignal rejects create() with GATEWAY_STOPPED and closes what it opened', async () => {
    const rt = await createRuntime();
    const model = await rt.load(imuModelBytes());
    const stateDir = tmpDir();
    const config = await deadBrokerConfig(stateDir);
    const logger = memoryLogger('debug');
    const waits = () => logger.lines.filter((l) => l.msg === 'waiting for the broker').length;
    const ac = new AbortController();
    const created = Gateway.create({ config, models: { imu: model }, logger, signal: ac.signal });
    await waitFor(() => waits() >= 2, 'two refused connection attempts', 10_000);
    ac.abort();
    await expect(created).rejects.toMatchObject({ code: 'GATEWAY_STOPPED', message: `stopped while waiting for the broker at ${config.broker.url}` });
    // The client no longer retries ...
    const after = waits();
    await new Promise((r) => setTimeout(r, 700));
    expect(waits()).toBe(after);
    // ... and the outbox was closed: it opens again, empty.
    const again = FileOutbox.open(path.join(stateDir, 'outbox'));
    expect(again.depth).toBe(0);
    await again.close();
    // The caller's model is the caller's: still usable.
    expect(model.session().step(new Float32Array(model.inputSize))).toHaveLength(model.outputSize);
    // Aborted before it started: refused at once.
    await expect(Gateway.create({ config, models: { imu: model }, logger, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'GATEWAY_STOPPED' });
    model.dispose();
  });

  it('edgernn gateway: SIGTERM while the broker is down exits 0 at once', async () => {
    const work = tmpDir();
    fs.writeFileSync(path.join(work, 'imu.ern'), imuModelBytes());
    const config = await deadBrokerConfig(path.join(work, 'state'));
    fs.writeFileSync(path.join(work, 'gateway.json'), JSON.stringify({ ...config, models: { imu: path.join(work, 'imu.ern') } }));
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'gateway', '--config', path.join(work, 'gateway.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => stderr.includes('"waiting for the broker"'), 'the gateway to wait for the broker', 15_000).catch((e: Error) => {
        throw new Error(`${e.message}; exit code ${child.exitCode}, stderr: ${stderr.slice(-2000)}`);
      });
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
      expect(code, stderr.slice(-2000)).toBe(0);
      expect(stdout).toMatch(/stopped while waiting for the broker at mqtt:\/\/127\.0\.0\.1:\d+/);
      expect(stderr).toMatch(/"msg":"signal received during start-up, stopped".*"signal":"SIGTERM"/);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('a state folder that cannot be made', () => {
  // Node 20's recursive mkdir spins forever under /proc, in a loop no signal handler can break.
  // The stateDir lock (state-lock.ts) makes the folder first, so its error comes before the outbox's.
  it.skipIf(!fs.existsSync('/proc/self'))('under /proc: GATEWAY_STATE naming it, exit 1 at once', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'gateway', '--model', path.join(ROOT, 'models/har.ern'), '--sensor', 'imu', '--state-dir', '/proc/edgernn-state'], {
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error \[GATEWAY_STATE\]: stateDir \/proc\/edgernn-state: cannot create it: ENOENT: no such file or directory, mkdir '\/proc\/edgernn-state'/);
  });
});
