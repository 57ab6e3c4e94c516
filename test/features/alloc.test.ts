/**
 * Budget enforced as a fact, not a timing: pushing samples allocates nothing per frame (after
 * construction). A child process counts V8's garbage collections over 200,000 frames; we allow
 * the one scheduled idle collection V8 may run anyway (as test/runtime/alloc.test.ts does).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('front ends allocate nothing per frame', () => {
  for (const kind of ['logmel', 'mfcc', 'imu', 'series']) {
    it(`${kind}: 200,000 frames, no allocation-driven garbage collection`, () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/features/fixtures/alloc-probe.ts', kind, '200000'], { encoding: 'utf8' });
      const r = JSON.parse(out.trim().split('\n').pop()!);
      expect(r.kind).toBe(kind);
      expect(r.sink).toBe(true);
      expect(r.frames).toBeGreaterThanOrEqual(200_000);
      expect(r.gcs).toBeLessThanOrEqual(1);
    });
  }
});
