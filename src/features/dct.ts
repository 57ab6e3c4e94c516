/**
 * Orthonormal DCT-II as scipy.fft.dct(x, type=2, norm='ortho') and librosa.feature.mfcc use it:
 *   c[k] = s(k) · Σ_n x[n] cos(π k (2n + 1) / (2N)),   s(0) = √(1/N), s(k>0) = √(2/N)
 * Only the first `nOut` rows are kept (MFCC keeps the low quefrencies).
 */
export function dctOrthoMatrix(nOut: number, nIn: number): Float64Array {
  const m = new Float64Array(nOut * nIn);
  for (let k = 0; k < nOut; k++) {
    const s = k === 0 ? Math.sqrt(1 / nIn) : Math.sqrt(2 / nIn);
    for (let n = 0; n < nIn; n++) m[k * nIn + n] = s * Math.cos((Math.PI * k * (2 * n + 1)) / (2 * nIn));
  }
  return m;
}
