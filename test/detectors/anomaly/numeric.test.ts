import { describe, expect, it } from 'vitest';
import { erfc, normalTailProbability, numpyMean, numpyStd, numpySum, numpyVar, pairwiseSum } from '../../../src/detectors/anomaly/numeric.js';
import { lcgValues, loadOracle, ulpDistance } from './oracle-data.js';

const oracle = loadOracle();

describe('numpy summation (oracle: numpy ' + oracle.numpy + ')', () => {
  it('reproduces np.sum / np.mean / np.var / np.std bit for bit, including the 8192-element chunking', () => {
    for (const s of oracle.sums) {
      const a = lcgValues(s.seed, s.n);
      const mean = numpyMean(a, 0, s.n);
      const scratch = new Float64Array(s.n);
      expect(numpySum(a, 0, s.n), `sum n=${s.n}`).toBe(s.sum);
      expect(mean, `mean n=${s.n}`).toBe(s.mean);
      expect(numpyVar(a, 0, s.n, mean, scratch), `var n=${s.n}`).toBe(s.var);
      expect(numpyStd(a, 0, s.n, mean, scratch), `std n=${s.n}`).toBe(s.std);
    }
  });

  it('differs from naive left-to-right summation (so the oracle test has teeth)', () => {
    const a = lcgValues(8, 1000);
    let naive = 0;
    for (const v of a) naive += v;
    expect(naive).not.toBe(oracle.sums.find((s) => s.n === 1000)!.sum);
    expect(pairwiseSum(a, 0, 1000)).toBe(oracle.sums.find((s) => s.n === 1000)!.sum);
  });
});

describe('erfc (fdlibm port; oracle: CPython math.erfc on glibc)', () => {
  it('is within 2 ulp of libm over [-10, 30] and at the branch edges', () => {
    for (const { x, erfc: want } of oracle.erfc) {
      const got = erfc(x);
      if (want === 0) expect(got).toBe(0);
      else expect(ulpDistance(got, want), `erfc(${x}) = ${got}, libm ${want}`).toBeLessThanOrEqual(2);
    }
  });

  it('handles the special values', () => {
    expect(erfc(0)).toBe(1);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(erfc(40)).toBe(0);
    expect(erfc(-40)).toBe(2);
    expect(Number.isNaN(erfc(NaN))).toBe(true);
  });
});

describe('normalTailProbability', () => {
  it('is 0.5 at the mean and mirrors values below it', () => {
    expect(normalTailProbability(3, 3, 2)).toBe(0.5);
    expect(normalTailProbability(1, 3, 2)).toBe(normalTailProbability(5, 3, 2));
    // One standard deviation above: Q(1) = 0.158655253931457...
    expect(normalTailProbability(5, 3, 2)).toBeCloseTo(0.15865525393145707, 15);
  });
});
