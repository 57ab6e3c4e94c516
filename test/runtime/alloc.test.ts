/**
 * Budget enforced as a fact, not a timing: Session.step() on the WASM backends allocates nothing.
 * A child process with a 1 MiB young generation counts V8's scavenges over 300,000 steps: even
 * 8 bytes of garbage per step would force at least two; we allow one for whatever the runtime
 * itself allocates in the background.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('step() allocates nothing', () => {
  for (const backend of ['simd', 'scalar']) {
    it(`${backend}: 300,000 steps, no allocation-driven garbage collection`, () => {
      const out = execFileSync(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', 'test/runtime/fixtures/alloc-probe.ts', backend, '300000'], { encoding: 'utf8' });
      const r = JSON.parse(out.trim().split('\n').pop()!);
      expect(r.backend).toBe(backend);
      expect(r.sink).toBe(true);
      expect(r.gcs).toBeLessThanOrEqual(1);
    });
  }

  it('the probe counts allocation: the same loop keeping a small array per step forces collections', () => {
    const out = execFileSync(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', 'test/runtime/fixtures/alloc-probe.ts', 'simd', '300000', 'control'], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.gcs).toBeGreaterThanOrEqual(2);
  });
});
