/**
 * `edgernn gateway` without --config or --model has nothing to run: a usage error (exit 2) naming
 * the two flags. It was exit 1 with `GATEWAY_CONFIG: (flags): models must be an object, got
 * nothing`, which named neither flag (docs/gateway.md: exit 2 for usage errors).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-gw-usage-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('neither --config nor --model: exit 2 naming both, with and without --print-config', async () => {
  for (const extra of [[], ['--print-config'], ['--site', 'plant1']]) {
    const r = await runCaptured(['gateway', ...extra], runtimeCommands, tmp);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/--config/);
    expect(r.err).toMatch(/--model/);
  }
});
