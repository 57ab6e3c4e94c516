/**
 * Inputs of test/fixtures/nab/numpy-oracle.json, regenerated bit for bit (see the generator
 * test/fixtures/nab/gen-numpy-oracle.py): x_{k+1} = (1103515245 x_k + 12345) mod 2^31,
 * value = (x mod 2000001 - 1000000) / 997 * scale[(x >> 8) mod 7].
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCALES = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0];

export function lcgValues(seed: number, n: number): Float64Array {
  const out = new Float64Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    // mod 2^31 of a product below 2^62: the low 32 bits (imul) carry it exactly.
    x = ((Math.imul(1103515245, x) + 12345) >>> 0) & 0x7fffffff;
    out[i] = (((x % 2000001) - 1000000) / 997) * SCALES[(x >> 8) % 7]!;
  }
  return out;
}

export interface NumpyOracle {
  numpy: string;
  sums: { seed: number; n: number; sum: number; mean: number; var: number; std: number }[];
  erfc: { x: number; erfc: number }[];
  random: Record<string, number[]>;
  windowedGaussianSmall: { seed: number; n: number; windowSize: number; stepSize: number; scores: number[] };
  windowedGaussianDefault: { seed: number; n: number; windowSize: number; stepSize: number; every: number; scores: number[] };
}

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/nab');

export function loadOracle(): NumpyOracle {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, 'numpy-oracle.json'), 'utf8')) as NumpyOracle;
}

/** Distance in units in the last place between two doubles of the same sign. */
export function ulpDistance(a: number, b: number): number {
  if (a === b) return 0;
  const buf = new DataView(new ArrayBuffer(16));
  buf.setFloat64(0, a);
  buf.setFloat64(8, b);
  return Number(buf.getBigInt64(0) - buf.getBigInt64(8) < 0n ? buf.getBigInt64(8) - buf.getBigInt64(0) : buf.getBigInt64(0) - buf.getBigInt64(8));
}
