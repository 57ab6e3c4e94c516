/**
 * Generated files are current and within budget: the committed kernels (wasm.gen.ts) are what
 * the pinned AssemblyScript compiler builds from src/runtime/kernels/assembly, and the
 * activation coefficients are what scripts/fit-activations.mjs fits.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { kernelBinaries } from '../../src/index.js';

/** Issue budget: each .wasm at most 16 KiB. */
const WASM_BUDGET_BYTES = 16 * 1024;

describe('generated artifacts', () => {
  it('wasm.gen.ts matches a fresh AssemblyScript build', () => {
    const out = execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/current/);
  });

  it('activation coefficients match a fresh fit', () => {
    const out = execFileSync(process.execPath, ['scripts/fit-activations.mjs', '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/current/);
  });

  it(`each kernel build is at most ${WASM_BUDGET_BYTES} bytes`, () => {
    const { simd, scalar } = kernelBinaries();
    console.log(`kernels: simd ${simd.length} B, scalar ${scalar.length} B`);
    expect(simd.length).toBeLessThanOrEqual(WASM_BUDGET_BYTES);
    expect(scalar.length).toBeLessThanOrEqual(WASM_BUDGET_BYTES);
    expect(WebAssembly.validate(scalar)).toBe(true);
  });
});
