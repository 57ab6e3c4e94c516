/**
 * `edgernn gateway` is a service: when the reader of its log (stderr) and stdout goes away, it
 * keeps serving and still stops gracefully on SIGTERM, saving its streams' states. It used to
 * exit at the first write to the closed pipe, in the middle of its shutdown, states unsaved.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeJson } from '../../src/gateway/codecs.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, freePort, imuModelBytes, imuSignal, publishAsync, tmpDir, waitFor } from '../gateway/fixtures.js';

const TSX_LOADER = import.meta.resolve('tsx');
const work = tmpDir('edgernn-closed-pipe-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('edgernn gateway with its output closed', () => {
  it('keeps running, and SIGTERM still stops it gracefully with the stream states saved', { timeout: 60_000 }, async () => {
    const port = await freePort();
    fs.writeFileSync(path.join(work, 'imu.ern'), imuModelBytes());
    fs.writeFileSync(
      path.join(work, 'gateway.json'),
      JSON.stringify({
        site: 'plant',
        broker: { url: 'embedded', port },
        models: { imu: 'imu.ern' },
        routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }],
        stateDir: 'state',
        metrics: { intervalMs: 0 },
      }),
    );
    const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(import.meta.dirname, '../gateway/child-gateway.ts'), '--config', 'gateway.json', '--log-level', 'debug'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let exit: number | null | undefined;
    child.on('exit', (code) => (exit = code));
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      await waitFor(() => stdout.includes('embedded broker listening'), 'the gateway to start', 30_000);
      const dev = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'dev' });
      const x = imuSignal(40, 3);
      await publishAsync(dev, 'edgernn/plant/d1/imu', encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      // The readers go away; the gateway logs on (debug: every message) into the closed pipes.
      child.stdout!.destroy();
      child.stderr!.destroy();
      for (let seq = 1; seq <= 5; seq++) await publishAsync(dev, 'edgernn/plant/d1/imu', encodeJson(x, IMU_CHANNELS, { seq }));
      dev.end(true);
      await new Promise((r) => setTimeout(r, 1000));
      expect(exit).toBeUndefined(); // still serving
      child.kill('SIGTERM');
      await waitFor(() => exit !== undefined, 'the gateway to stop', 30_000);
      expect(exit).toBe(0);
      // The graceful stop ran to its end: the stream's state is on disk.
      const saved = fs.readdirSync(path.join(work, 'state', 'streams'));
      expect(saved.length).toBe(1);
    } finally {
      if (exit === undefined) child.kill('SIGKILL');
    }
  });
});
