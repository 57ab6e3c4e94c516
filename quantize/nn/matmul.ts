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

/** Transposes rows × cols starting at `off` into a new float64 [cols][rows] (exact for f32 inputs). */
export function transpose(A: Arr, off: number, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const a = off + r * cols;
    for (let c = 0; c < cols; c++) t[c * rows + r] = A[a + c]!;
  }
  return t;
}

/**
 * NN and TN reuse the dot-product kernel on transposed copies: transposing costs O(MN + NK)
 * against O(MNK) multiply-adds, and the dot-product form keeps 8 sums in registers instead of
 * a load and store of C per multiply-add (measured 1.5-2.5x, test/bench/trainer.ts).
 */
export function matmulNN(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  // C[M][K] = A[M][N] · (Bᵀ[K][N])ᵀ
  matmulNT(M, K, N, A, aOff, transpose(B, bOff, N, K), 0, C, cOff, acc);
}

export function matmulTN(M: number, N: number, K: number, A: Arr, aOff: number, B: Arr, bOff: number, C: Arr, cOff: number, acc: boolean): void {
  // C[N][K] = Aᵀ[N][M] · (Bᵀ[K][M])ᵀ
  matmulNT(N, K, M, transpose(A, aOff, M, N), 0, transpose(B, bOff, M, K), 0, C, cOff, acc);
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
