/**
 * `edgernn record -o /dev/stdout | ...` (documented: the trace piped on). The summary line
 * (`edgernn record: N messages ...`) went to stdout as well, after the trace: replay refused the
 * result (`not JSON` on the last line), and with stdout redirected to a file it overwrote the
 * trace's header. It goes to stderr when the trace is stdout.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/gateway/broker.js';
import { parseTrace } from '../../src/gateway/trace.js';
import { connectClient, publishAsync, waitFor } from './fixtures.js';

const TSX_LOADER = import.meta.resolve('tsx');

describe('edgernn record -o /dev/stdout', () => {
  it.skipIf(process.platform === 'win32' || !fs.existsSync('/bin/bash'))('writes the trace alone to stdout, the summary to stderr', { timeout: 60_000 }, async () => {
    const broker = await startEmbeddedBroker();
    // Through a real pipe, as a shell makes it (Node's 'pipe' stdio is a socket: /dev/stdout cannot be opened on one).
    const argv = [process.execPath, '--import', TSX_LOADER, path.join(import.meta.dirname, 'child-record.ts'), '--broker', broker.url, '--mqtt-version', '4', '--topics', 'edgernn/so/+/imu', '-o', '/dev/stdout', '--count', '2'];
    const c = spawn('bash', ['-c', 'set -o pipefail; "$@" | cat', 'record', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let exit: number | null | undefined;
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (code) => (exit = code));
    try {
      await waitFor(() => stderr.includes('recording'), 'the recorder to subscribe', 30_000).catch((e: Error) => {
        throw new Error(`${e.message}; exit ${exit}, stderr: ${stderr}, stdout: ${stdout}`);
      });
      const dev = await connectClient(broker.url);
      await publishAsync(dev, 'edgernn/so/d/imu', '{"seq":0,"values":[[0,0,0,0,0,0]]}');
      await publishAsync(dev, 'edgernn/so/d/imu', '{"seq":1,"values":[[0,0,0,0,0,0]]}');
      dev.end(true);
      await waitFor(() => exit !== undefined, 'the recorder to stop', 30_000);
      expect(exit, stderr).toBe(0);
      const trace = parseTrace(Buffer.from(stdout), 'stdout');
      expect(trace.tornLastLine).toBe(false);
      expect(trace.records).toHaveLength(2);
      expect(stderr).toMatch(/edgernn record: 2 messages, \d+ bytes -> \/dev\/stdout/);
    } finally {
      if (exit === undefined) c.kill('SIGKILL');
      await broker.close();
    }
  });
});
