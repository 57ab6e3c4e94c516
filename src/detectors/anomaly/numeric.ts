/**
 * Numeric building blocks shared by the anomaly detectors, written to reproduce the exact
 * floating-point results of the Python stack NAB's reference detectors ran on:
 *
 * - `numpySum`: numpy's float64 `add.reduce` (pairwise summation inside 8192-element blocks,
 *   blocks added left to right onto the identity 0). Checked bit-exactly against numpy 1.24 by
 *   test/detectors/anomaly/numeric.test.ts with a fixture made by
 *   test/fixtures/nab/gen-numpy-oracle.py.
 * - `numpyMean`, `numpyVar`, `numpyStd`: `np.mean`, `np.var`, `np.std` (ddof = 0) built on it.
 * - `erfc`: the fdlibm complementary error function (what C libraries and Python's `math.erfc`
 *   descend from), accurate to < 1 ulp.
 * - `normalTailProbability`: the Gaussian Q-function as NAB and HTM compute it.
 *
 * Browser-safe, allocation-free.
 */

/** numpy's unroll block for pairwise summation (PW_BLOCKSIZE in loops_utils.h). */
const PAIRWISE_BLOCK = 128;
/** numpy's iterator buffer size (NPY_BUFSIZE): a contiguous reduction is fed in chunks this long. */
const NUMPY_BUFFER = 8192;

/**
 * numpy's pairwise sum of `a[start .. start+n)`:
 * n < 8: left-to-right from -0; n <= 128: eight interleaved accumulators combined as
 * ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the tail; otherwise split at n2 = floor(n/2)
 * rounded down to a multiple of 8 and recurse.
 */
export function pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = -0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= PAIRWISE_BLOCK) {
    let r0 = a[start]!, r1 = a[start + 1]!, r2 = a[start + 2]!, r3 = a[start + 3]!;
    let r4 = a[start + 4]!, r5 = a[start + 5]!, r6 = a[start + 6]!, r7 = a[start + 7]!;
    let i = 8;
    const end8 = n - (n % 8);
    for (; i < end8; i += 8) {
      const p = start + i;
      r0 += a[p]!;
      r1 += a[p + 1]!;
      r2 += a[p + 2]!;
      r3 += a[p + 3]!;
      r4 += a[p + 4]!;
      r5 += a[p + 5]!;
      r6 += a[p + 6]!;
      r7 += a[p + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** `np.sum` of a contiguous float64 array: 0 + pairwise(chunk 1) + pairwise(chunk 2) + ... */
export function numpySum(a: ArrayLike<number>, start: number, n: number): number {
  let total = 0;
  for (let off = 0; off < n; off += NUMPY_BUFFER) total += pairwiseSum(a, start + off, Math.min(NUMPY_BUFFER, n - off));
  return total;
}

/** `np.mean`: numpySum / n. */
export function numpyMean(a: ArrayLike<number>, start: number, n: number): number {
  return numpySum(a, start, n) / n;
}

/**
 * `np.var(x)` (ddof 0): numpySum((x - mean)^2) / n with mean = numpyMean(x). `scratch` receives
 * the squared deviations (length >= n), so the call allocates nothing.
 */
export function numpyVar(a: ArrayLike<number>, start: number, n: number, mean: number, scratch: Float64Array): number {
  for (let i = 0; i < n; i++) {
    const d = a[start + i]! - mean;
    scratch[i] = d * d;
  }
  return numpySum(scratch, 0, n) / n;
}

/** `np.std(x)` (ddof 0) = sqrt(numpyVar(x)). */
export function numpyStd(a: ArrayLike<number>, start: number, n: number, mean: number, scratch: Float64Array): number {
  return Math.sqrt(numpyVar(a, start, n, mean, scratch));
}

/*
 * erfc below is a port of fdlibm's s_erf.c:
 * ====================================================
 * Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
 *
 * Developed at SunPro, a Sun Microsystems, Inc. business.
 * Permission to use, copy, modify, and distribute this
 * software is freely granted, provided that this notice
 * is preserved.
 * ====================================================
 */
const ERX = 8.45062911510467529297e-1;
// erf on [0, 0.84375]
const PP0 = 1.28379167095512558561e-1, PP1 = -3.25042107247001499370e-1, PP2 = -2.84817495755985104766e-2;
const PP3 = -5.77027029648944159157e-3, PP4 = -2.37630166566501626084e-5;
const QQ1 = 3.97917223959155352819e-1, QQ2 = 6.50222499887672944485e-2, QQ3 = 5.08130628187576562776e-3;
const QQ4 = 1.32494738004321644526e-4, QQ5 = -3.96022827877536812320e-6;
// erf on [0.84375, 1.25]
const PA0 = -2.36211856075265944077e-3, PA1 = 4.14856118683748331666e-1, PA2 = -3.72207876035701323847e-1;
const PA3 = 3.18346619901161753674e-1, PA4 = -1.10894694282396677476e-1, PA5 = 3.54783043256182359371e-2;
const PA6 = -2.16637559486879084300e-3;
const QA1 = 1.06420880400844228286e-1, QA2 = 5.40397917702171048937e-1, QA3 = 7.18286544141962662868e-2;
const QA4 = 1.26171219808761642112e-1, QA5 = 1.36370839120290507362e-2, QA6 = 1.19844998467991074170e-2;
// erfc on [1.25, 1/0.35]
const RA0 = -9.86494403484714822705e-3, RA1 = -6.93858572707181764372e-1, RA2 = -1.05586262253232909814e1;
const RA3 = -6.23753324503260060396e1, RA4 = -1.62396669462573470355e2, RA5 = -1.84605092906711035994e2;
const RA6 = -8.12874355063065934246e1, RA7 = -9.81432934416914548592;
const SA1 = 1.96512716674392571292e1, SA2 = 1.37657754143519042600e2, SA3 = 4.34565877475229228821e2;
const SA4 = 6.45387271733267880336e2, SA5 = 4.29008140027567833386e2, SA6 = 1.08635005541779435134e2;
const SA7 = 6.57024977031928170135, SA8 = -6.04244152148580987438e-2;
// erfc on [1/0.35, 28]
const RB0 = -9.86494292470009928597e-3, RB1 = -7.99283237680523006574e-1, RB2 = -1.77579549177547519889e1;
const RB3 = -1.60636384855821916062e2, RB4 = -6.37566443368389627722e2, RB5 = -1.02509513161107724954e3;
const RB6 = -4.83519191608651397019e2;
const SB1 = 3.03380607434824582924e1, SB2 = 3.25792512996573918826e2, SB3 = 1.53672958608443695994e3;
const SB4 = 3.19985821950859553908e3, SB5 = 2.55305040643316442583e3, SB6 = 4.74528541206955367215e2;
const SB7 = -2.24409524465858183362e1;
/** fdlibm compares the high word with 0x4006DB6D: that is the double 2 + 449389/2^19 (~1/0.35). */
const ERFC_RA_RB_SPLIT = 2 + 449389 / 524288;

/** x with the low 32 bits of its IEEE-754 pattern cleared, for 1 <= x < 32 (fdlibm SET_LOW_WORD(z, 0)). */
function clearLowWord(x: number): number {
  // High word keeps 20 mantissa bits: quantum 2^(e - 20) for x in [2^e, 2^(e+1)).
  const e = x < 2 ? 0 : x < 4 ? 1 : x < 8 ? 2 : x < 16 ? 3 : 4;
  const q = 2 ** (e - 20);
  return Math.floor(x / q) * q;
}

/** Complementary error function erfc(x) = 1 - erf(x) (fdlibm algorithm, < 1 ulp). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 0;
  if (x === -Infinity) return 2;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -56) return 1 - x;
    const z = x * x;
    const r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
    const s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
    const y = r / s;
    if (x < 0.25) return 1 - (x + x * y);
    let t = x * y;
    t += x - 0.5;
    return 0.5 - t;
  }
  if (ax < 1.25) {
    const s = ax - 1;
    const p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    const q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    if (x >= 0) return 1 - ERX - p / q;
    return 1 + (ERX + p / q);
  }
  if (ax < 28) {
    const s = 1 / (ax * ax);
    let r: number;
    let q: number;
    if (ax < ERFC_RA_RB_SPLIT) {
      r = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
      q = 1 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
    } else {
      if (x < 0 && ax >= 6) return 2;
      r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
      q = 1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
    }
    // exp(-x^2 - 0.5625 + R/S) split as exp(-z^2 - 0.5625) * exp((z - x)(z + x) + R/S), z = x rounded to 20 bits.
    const z = clearLowWord(ax);
    const e = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + r / q);
    return x > 0 ? e / ax : 2 - e / ax;
  }
  return x > 0 ? 0 : 2;
}

/**
 * Gaussian tail probability (Q-function) as NAB's windowed Gaussian detector computes it:
 * values below the mean are mirrored (x' = 2 mean - x), then Q = 0.5 erfc(z / sqrt(2)) with
 * z = (x' - mean) / std. Returns a probability in (0, 0.5].
 */
export function normalTailProbability(x: number, mean: number, std: number): number {
  const xr = x < mean ? 2 * mean - x : x;
  const z = (xr - mean) / std;
  return 0.5 * erfc(z / Math.SQRT2);
}
