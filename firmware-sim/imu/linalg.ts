/** Small dense linear algebra for fitting the IMU generator (row-major Float64Array matrices). */

/** Cholesky factor L (lower, row-major) of a symmetric positive-definite n×n matrix; adds `jitter`·mean(diag) on failure until it succeeds. */
export function cholesky(a: Float64Array, n: number): Float64Array {
  let jitter = 0;
  let meanDiag = 0;
  for (let i = 0; i < n; i++) meanDiag += a[i * n + i]! / n;
  for (let attempt = 0; attempt < 20; attempt++) {
    const L = new Float64Array(n * n);
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      for (let j = 0; j <= i; j++) {
        let s = a[i * n + j]! + (i === j ? jitter : 0);
        for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
        if (i === j) {
          if (!(s > 0)) {
            ok = false;
            break;
          }
          L[i * n + i] = Math.sqrt(s);
        } else {
          L[i * n + j] = s / L[j * n + j]!;
        }
      }
    }
    if (ok) return L;
    jitter = jitter === 0 ? 1e-10 * Math.max(meanDiag, 1e-300) : jitter * 10;
  }
  throw new RangeError('cholesky: matrix is not positive definite');
}

/** Solves A X = B for SPD A (n×n) and B (n×m), through Cholesky. */
export function solveSpd(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  const L = cholesky(a, n);
  const x = Float64Array.from(b);
  for (let c = 0; c < m; c++) {
    // L y = b (forward), then Lᵀ x = y (backward).
    for (let i = 0; i < n; i++) {
      let s = x[i * m + c]!;
      for (let k = 0; k < i; k++) s -= L[i * n + k]! * x[k * m + c]!;
      x[i * m + c] = s / L[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i * m + c]!;
      for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k * m + c]!;
      x[i * m + c] = s / L[i * n + i]!;
    }
  }
  return x;
}

/**
 * Eigen-decomposition of a symmetric n×n matrix by cyclic Jacobi rotations. Returns eigenvalues
 * in descending order and the matching unit eigenvectors as rows ([n][n]).
 */
export function symmetricEigen(a: Float64Array, n: number, sweeps = 60): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < sweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        // Rotation angle that zeroes A[p][q]: tan(2θ) = 2 apq / (aqq - app).
        const theta = (A[q * n + q]! - A[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!;
          const akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!;
          const aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!;
          const vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[j * n + j]! - A[i * n + i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((col, r) => {
    values[r] = A[col * n + col]!;
    for (let k = 0; k < n; k++) vectors[r * n + k] = V[k * n + col]!;
  });
  return { values, vectors };
}
