/**
 * The embedded broker's port taken by another process: a GATEWAY_CONFIG error naming
 * broker.port, and `edgernn gateway` exits 1 at once (aedes' heartbeat timer, left running after
 * the failed listen, used to keep the process alive with the untyped "listen EADDRINUSE").
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/gateway/broker.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('embedded broker on a port in use', () => {
  let busy: net.Server;
  let port: number;
  beforeAll(async () => {
    busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    port = (busy.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => busy.close(() => r()));
  });

  it('startEmbeddedBroker rejects with GATEWAY_CONFIG naming broker.port', async () => {
    await expect(startEmbeddedBroker({ port })).rejects.toMatchObject({ code: 'GATEWAY_CONFIG', details: { field: 'broker.port' } });
  });

  it('edgernn gateway --port N: error [GATEWAY_CONFIG], exit 1, no hang', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'gateway', '--model', path.join(ROOT, 'models/har.ern'), '--sensor', 'imu', '--port', String(port), '--state-dir', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
      expect(code, stderr.slice(-2000)).toBe(1);
      expect(stderr).toContain(`error [GATEWAY_CONFIG]: broker.port: the embedded broker cannot listen on 127.0.0.1:${port}: listen EADDRINUSE`);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
