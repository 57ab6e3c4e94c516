/**
 * Batch-major matrix products of the trainer, register-blocked plain TypeScript (no closures,
 * typed arrays, offsets instead of subarray views). Each has a naive twin with the suffix `Ref`
 * that the tests compare against and the benchmark times (test/bench/trainer.ts).
 *
 * All matrices are row-major and contiguous. `acc` = true adds into C, false overwrites it.
 *   matmulNT: C[M][N] = A[M][K] · B[N][K]^T   (activations times a weight matrix W[out][in])
 *   matmulNN: C[M][K] = A[M][N] · B[N][K]     (deltas times W: gradient w.r.t. the input)
 *   matmulTN: C[N][K] = A[M][N]^T · B[M][K]   (deltas^T times inputs: weight gradients)
 */
import type { Arr } from './tensor.js';

export function matmulNT(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  // 2 rows of A x 4 rows of B per block: 8 dot products share every load of A and B.
  let m = 0;
  for (; m + 2 <= M; m += 2) {
    const a0 = aOff + m * K;
    const a1 = a0 + K;
    const c0 = cOff + m * N;
    const c1 = c0 + N;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const b0 = bOff + n * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k]!;
        const x1 = A[a1 + k]!;
        const w0 = B[b0 + k]!;
        const w1 = B[b1 + k]!;
        const w2 = B[b2 + k]!;
        const w3 = B[b3 + k]!;
        s00 += x0 * w0; s01 += x0 * w1; s02 += x0 * w2; s03 += x0 * w3;
        s10 += x1 * w0; s11 += x1 * w1; s12 += x1 * w2; s13 += x1 * w3;
      }
      if (acc) {
        C[c0 + n] = C[c0 + n]! + s00; C[c0 + n + 1] = C[c0 + n + 1]! + s01; C[c0 + n + 2] = C[c0 + n + 2]! + s02; C[c0 + n + 3] = C[c0 + n + 3]! + s03;
        C[c1 + n] = C[c1 + n]! + s10; C[c1 + n + 1] = C[c1 + n + 1]! + s11; C[c1 + n + 2] = C[c1 + n + 2]! + s12; C[c1 + n + 3] = C[c1 + n + 3]! + s13;
      } else {
        C[c0 + n] = s00; C[c0 + n + 1] = s01; C[c0 + n + 2] = s02; C[c0 + n + 3] = s03;
        C[c1 + n] = s10; C[c1 + n + 1] = s11; C[c1 + n + 2] = s12; C[c1 + n + 3] = s13;
      }
    }
    for (; n < N; n++) {
      const b0 = bOff + n * K;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < K; k++) {
        const w = B[b0 + k]!;
        s0 += A[a0 + k]! * w;
        s1 += A[a1 + k]! * w;
      }
      if (acc) {
        C[c0 + n] = C[c0 + n]! + s0;
        C[c1 + n] = C[c1 + n]! + s1;
      } else {
        C[c0 + n] = s0;
        C[c1 + n] = s1;
      }
    }
  }
  for (; m < M; m++) {
    const a0 = aOff + m * K;
    const c0 = cOff + m * N;
    for (let n = 0; n < N; n++) {
      const b0 = bOff + n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[a0 + k]! * B[b0 + k]!;
      if (acc) C[c0 + n] = C[c0 + n]! + s;
      else C[c0 + n] = s;
    }
  }
}

export function matmulNN(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  for (let m = 0; m < M; m++) {
    const c0 = cOff + m * K;
    if (!acc) for (let k = 0; k < K; k++) C[c0 + k] = 0;
    const a0 = aOff + m * N;
    let n = 0;
    // Four rows of B per pass over the output row: one load/store of C per 4 multiply-adds.
    for (; n + 4 <= N; n += 4) {
      const x0 = A[a0 + n]!, x1 = A[a0 + n + 1]!, x2 = A[a0 + n + 2]!, x3 = A[a0 + n + 3]!;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const b0 = bOff + n * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      for (let k = 0; k < K; k++) C[c0 + k] = C[c0 + k]! + x0 * B[b0 + k]! + x1 * B[b1 + k]! + x2 * B[b2 + k]! + x3 * B[b3 + k]!;
    }
    for (; n < N; n++) {
      const x = A[a0 + n]!;
      if (x === 0) continue;
      const b0 = bOff + n * K;
      for (let k = 0; k < K; k++) C[c0 + k] = C[c0 + k]! + x * B[b0 + k]!;
    }
  }
}

export function matmulTN(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  for (let n = 0; n < N; n++) {
    const c0 = cOff + n * K;
    if (!acc) for (let k = 0; k < K; k++) C[c0 + k] = 0;
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const a = aOff + m * N + n;
      const x0 = A[a]!, x1 = A[a + N]!, x2 = A[a + 2 * N]!, x3 = A[a + 3 * N]!;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const b0 = bOff + m * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      for (let k = 0; k < K; k++) C[c0 + k] = C[c0 + k]! + x0 * B[b0 + k]! + x1 * B[b1 + k]! + x2 * B[b2 + k]! + x3 * B[b3 + k]!;
    }
    for (; m < M; m++) {
      const x = A[aOff + m * N + n]!;
      if (x === 0) continue;
      const b0 = bOff + m * K;
      for (let k = 0; k < K; k++) C[c0 + k] = C[c0 + k]! + x * B[b0 + k]!;
    }
  }
}

// ---- naive twins ---------------------------------------------------------------------------

export function matmulNTRef(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[aOff + m * K + k]! * B[bOff + n * K + k]!;
      C[cOff + m * N + n] = (acc ? C[cOff + m * N + n]! : 0) + s;
    }
  }
}

export function matmulNNRef(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += A[aOff + m * N + n]! * B[bOff + n * K + k]!;
      C[cOff + m * K + k] = (acc ? C[cOff + m * K + k]! : 0) + s;
    }
  }
}

export function matmulTNRef(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += A[aOff + m * N + n]! * B[bOff + m * K + k]!;
      C[cOff + n * K + k] = (acc ? C[cOff + n * K + k]! : 0) + s;
    }
  }
}
