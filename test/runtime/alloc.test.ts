/**
 * Budget enforced as a fact, not a timing: Session.step() on the WASM backends allocates nothing.
 * A child process counts V8's garbage collections over 1,000,000 steps: 16 bytes of garbage per
 * step would force about 16 young-generation scavenges (1 MiB semispace); we allow the one
 * scheduled idle collection V8 may run anyway.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('step() allocates nothing', () => {
  for (const backend of ['simd', 'scalar']) {
    it(`${backend}: 1,000,000 steps, no allocation-driven garbage collection`, () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/runtime/fixtures/alloc-probe.ts', backend, '1000000'], { encoding: 'utf8' });
      const r = JSON.parse(out.trim().split('\n').pop()!);
      expect(r.backend).toBe(backend);
      expect(r.sink).toBe(true);
      expect(r.gcs).toBeLessThanOrEqual(1);
    });
  }
});
