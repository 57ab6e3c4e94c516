/**
 * `edgernn gateway --model FILE` (the quick start without a config file): a model file that is
 * not there is named as the flag gave it, before anything starts; it was found only when the
 * gateway loaded it ("models.model.path: cannot read ..."), and --print-config printed a config
 * whose model did not exist (exit 0).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-gw-quick-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('a missing --model file: exit 1 naming the file, also with --print-config', async () => {
  for (const extra of [['--print-config'], ['--print-config', '--sensor', 'imu']]) {
    const r = await runCaptured(['gateway', '--model', 'no-such.ern', ...extra], runtimeCommands, tmp);
    expect(r.code, r.err).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/no such file: no-such\.ern/);
    expect(r.err).not.toMatch(/models\.model/);
  }
  // A model that is there still prints its config.
  fs.copyFileSync(path.resolve(import.meta.dirname, '../../models/anomaly.ern'), path.join(tmp, 'a.ern'));
  const ok = await runCaptured(['gateway', '--model', 'a.ern', '--print-config'], runtimeCommands, tmp);
  expect(ok.code, ok.err).toBe(0);
  expect(JSON.parse(ok.out).models.model.path).toBe(path.join(tmp, 'a.ern'));
});
