/** edgernn bench: a cold-start probe whose package is not installed says so, as the other probes do. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeFailure, renderTables } from '../../src/cli/commands/bench.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-bench-probe-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('bench cold start: onnxruntime-web not installed', () => {
  it('a probe that cannot import its package is "onnxruntime-web not installed", not a raw ERR_MODULE_NOT_FOUND', () => {
    // The probe as an installed package runs it: from a folder where onnxruntime-web does not resolve.
    const probe = path.join(dir, 'ort-web-probe.mjs');
    fs.writeFileSync(probe, "const ort = await import('onnxruntime-web');\n");
    let error: unknown;
    try {
      execFileSync(process.execPath, [probe], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      error = e;
    }
    expect(String((error as { stderr?: string }).stderr)).toContain('ERR_MODULE_NOT_FOUND');
    const reason = probeFailure(error);
    expect(reason).toBe('onnxruntime-web not installed (npm install onnxruntime-web)');
    const text = renderTables([], { wasm: { simd: 1, scalar: 1 }, cold: [], coldFailures: [{ tool: 'ort-web', runs: 0, reason }], state: {} });
    expect(text).toContain('Cold start, ort-web: onnxruntime-web not installed (npm install onnxruntime-web)');
  });

  it('another failure keeps its error line', () => {
    expect(probeFailure({ stderr: 'file:///x.mjs:1\nTypeError: boom\n    at x\n\nNode.js v20.0.0\n' })).toBe('TypeError: boom');
  });
});
