/**
 * Weight initialization (seeded through the caller's Rng, so a seed fixes every weight).
 *   Xavier/Glorot uniform (Glorot & Bengio 2010): U(-a, a), a = sqrt(6 / (fanIn + fanOut)).
 *   Orthogonal (Saxe et al. 2014): a square block with orthonormal rows, from Gram-Schmidt on
 *   a Gaussian matrix; keeps the recurrent Jacobian's singular values at 1 at initialization.
 */
import type { Rng } from '../../src/index.js';
import type { Arr } from './tensor.js';

/** Fills rows [row0, row0 + rows) of a [*][cols] matrix with Xavier-uniform values. */
export function xavierUniform(rng: Rng, out: Arr, row0: number, rows: number, cols: number, fanIn: number, fanOut: number): void {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = row0 * cols; i < (row0 + rows) * cols; i++) out[i] = rng.uniform(-a, a);
}

/**
 * Fills rows [row0, row0 + n) of a [*][n] matrix with an n×n orthogonal matrix times `gain`.
 * Modified Gram-Schmidt in float64; a rare degenerate draw is replaced by a fresh Gaussian row.
 */
export function orthogonal(rng: Rng, out: Arr, row0: number, n: number, gain = 1): void {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (;;) {
      for (let k = 0; k < n; k++) q[i * n + k] = rng.normal();
      for (let j = 0; j < i; j++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += q[i * n + k]! * q[j * n + k]!;
        for (let k = 0; k < n; k++) q[i * n + k] = q[i * n + k]! - dot * q[j * n + k]!;
      }
      let norm = 0;
      for (let k = 0; k < n; k++) norm += q[i * n + k]! ** 2;
      norm = Math.sqrt(norm);
      if (norm > 1e-6) {
        for (let k = 0; k < n; k++) q[i * n + k] = q[i * n + k]! / norm;
        break;
      }
    }
  }
  for (let i = 0; i < n * n; i++) out[row0 * n + i] = gain * q[i]!;
}
