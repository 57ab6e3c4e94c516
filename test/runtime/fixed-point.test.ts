import { describe, expect, it } from 'vitest';
import {
  INT32_MAX,
  PART_LIMIT,
  cellToGate,
  mulShiftRound,
  q15MulR,
  quantizeMultipliers,
  requantize,
  requantizePart,
  sat16,
  sigmoidQ15,
  tanhQ15,
} from '../../src/runtime/fixed-point.js';
import { Rng } from '../../src/util/rng.js';

/** BigInt oracle: floor((a*b + 2^(s-1)) / 2^s), what an i64 multiply and arithmetic shift give. */
function requantizeBig(acc: number, m: number, s: number): number {
  return Number((BigInt(acc) * BigInt(m) + (1n << BigInt(s - 1))) >> BigInt(s));
}

/** Activation max error in Q0.15 LSB over every int16 input. */
const ACT_MAX_ERR_LSB = 2;

describe('requantize (64-bit product through 16-bit limbs)', () => {
  it('matches the BigInt oracle on the corner cases', () => {
    const accs = [0, 1, -1, 2, -2, 32767, -32768, 65535, -65536, 2 ** 30, -(2 ** 30), INT32_MAX, -INT32_MAX, -(2 ** 31)];
    const ms = [0, 1, -1, 65535, 65536, -65536, 2 ** 30, INT32_MAX, -INT32_MAX, 1234567, -7654321];
    for (const s of [1, 2, 15, 16, 17, 18, 30, 31, 32, 45, 62]) {
      for (const a of accs) {
        for (const m of ms) {
          const want = requantizeBig(a, m, s);
          if (Math.abs(want) >= 2 ** 52) continue; // outside the documented precondition
          expect(requantize(a, m, s), `acc=${a} m=${m} s=${s}`).toBe(want);
        }
      }
    }
  });

  it('matches the BigInt oracle on 200k random triples', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 200_000; i++) {
      const a = rng.int(-(2 ** 31), INT32_MAX);
      const m = rng.int(-INT32_MAX, INT32_MAX);
      const s = rng.int(20, 62);
      const want = requantizeBig(a, m, s);
      if (Math.abs(want) >= 2 ** 52) continue;
      expect(requantize(a, m, s)).toBe(want);
    }
  });

  it('rounds half up, like an arithmetic shift after adding half', () => {
    expect(requantize(1, 1, 1)).toBe(1); // 0.5 -> 1
    expect(requantize(-1, 1, 1)).toBe(0); // -0.5 -> 0
    expect(requantize(3, 1, 1)).toBe(2); // 1.5 -> 2
    expect(requantize(-3, 1, 1)).toBe(-1); // -1.5 -> -1
  });
});

describe('quantizeMultipliers', () => {
  it('keeps every multiplier below 2^31 with one shared shift and high precision for the largest', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const real = Array.from({ length: 16 }, () => rng.uniform(0, 1) * 10 ** rng.uniform(-8, 3));
      const q = quantizeMultipliers(real);
      const maxReal = Math.max(...real);
      for (let j = 0; j < real.length; j++) {
        expect(Math.abs(q.m[j]!)).toBeLessThanOrEqual(INT32_MAX);
        const approx = q.m[j]! / 2 ** q.shift;
        // absolute error at most half an LSB of the shared scale
        expect(Math.abs(approx - real[j]!)).toBeLessThanOrEqual(0.5 / 2 ** q.shift + 1e-18);
      }
      const top = q.m[real.indexOf(maxReal)]!;
      // Either the largest multiplier keeps 31 significant bits, or the shift is capped at 32 and
      // rounding M costs at most |acc| / 2^33 (a quarter LSB of the result).
      if (q.shift < 32) expect(top).toBeGreaterThanOrEqual(2 ** 30);
      else expect(q.shift).toBe(32);
    }
  });

  it('clamp guarantees |requantizePart| < 2^30 for any int32 accumulator', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 500; trial++) {
      const real = Array.from({ length: 4 }, () => 10 ** rng.uniform(-9, 4) * (rng.next() < 0.5 ? -1 : 1));
      const q = quantizeMultipliers(real);
      for (const acc of [INT32_MAX, -INT32_MAX, q.clamp, -q.clamp, rng.int(-(2 ** 31), INT32_MAX)]) {
        for (let j = 0; j < 4; j++) {
          const v = requantizePart(acc, 0, q.m[j]!, q.shift, q.clamp);
          expect(Math.abs(v)).toBeLessThan(PART_LIMIT);
        }
      }
    }
  });

  it('a multiplier too large for shift 1 saturates the part instead of zeroing the matrix', () => {
    // One accumulator unit worth 2^30 Q3.12 units or more (a row scale of 2^18 and up: an input
    // range times a weight beyond about 10^12). M = 2^31 - 1 at shift 1 gave clamp 0, so every
    // accumulator was clamped to 0 and the matrix contributed nothing, not a saturated part.
    for (const real of [2 ** 30 - 1, 2 ** 30, 2 ** 31, 1e15]) {
      const q = quantizeMultipliers([real, -real / 3, 0.25]);
      expect(q.shift).toBe(1);
      expect(q.clamp).toBeGreaterThanOrEqual(1);
      for (const acc of [1, 7, INT32_MAX]) {
        expect(requantizePart(acc, 0, q.m[0]!, q.shift, q.clamp), `real ${real}, acc ${acc}`).toBe(PART_LIMIT - 1);
        expect(requantizePart(-acc, 0, q.m[0]!, q.shift, q.clamp), `real ${real}, acc ${-acc}`).toBe(-(PART_LIMIT - 1));
      }
      expect(requantizePart(0, 0, q.m[0]!, q.shift, q.clamp)).toBe(0);
    }
  });

  it('all-zero multipliers give zero output', () => {
    const q = quantizeMultipliers([0, 0, 0]);
    expect(requantizePart(123456, 7, q.m[0]!, q.shift, q.clamp)).toBe(0);
  });

  it('rejects non-finite multipliers', () => {
    expect(() => quantizeMultipliers([1, NaN])).toThrow(RangeError);
  });
});

describe('small fixed-point helpers', () => {
  it('q15MulR matches i16x8.q15mulr_sat_s, including the one saturating case', () => {
    expect(q15MulR(16384, 16384)).toBe(8192);
    expect(q15MulR(-32768, -32768)).toBe(32767);
    expect(q15MulR(32767, -32768)).toBe(-32767);
    expect(q15MulR(1, 16384)).toBe(1); // 0.5 rounds up
    expect(q15MulR(-1, 16384)).toBe(0);
  });

  it('mulShiftRound is exact against BigInt for 16-bit x 31-bit products', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 100_000; i++) {
      const a = rng.int(-32768, 32768);
      const b = rng.int(-(2 ** 30), 2 ** 30);
      expect(mulShiftRound(a, b, 15)).toBe(requantizeBig(a, b, 15));
    }
  });

  it('sat16 and cellToGate saturate', () => {
    expect(sat16(40000)).toBe(32767);
    expect(sat16(-40000)).toBe(-32768);
    expect(cellToGate(2 ** 30 - 1)).toBe(32767);
    expect(cellToGate(-(2 ** 30 - 1))).toBe(-32768);
    expect(cellToGate(8 * 1000 + 3)).toBe(1000);
    expect(cellToGate(8 * 1000 + 4)).toBe(1001);
  });
});

describe('fixed-point sigmoid and tanh (piecewise quartic)', () => {
  it(`are within ${ACT_MAX_ERR_LSB} LSB of the true functions on every int16 input`, () => {
    let worstS = 0;
    let worstT = 0;
    for (let x = -32768; x <= 32767; x++) {
      const r = x / 4096;
      worstS = Math.max(worstS, Math.abs(sigmoidQ15(x) - 32768 / (1 + Math.exp(-r))));
      worstT = Math.max(worstT, Math.abs(tanhQ15(x) - 32768 * Math.tanh(r)));
    }
    expect(worstS).toBeLessThanOrEqual(ACT_MAX_ERR_LSB);
    expect(worstT).toBeLessThanOrEqual(ACT_MAX_ERR_LSB);
  });

  it('are symmetric, in range, and monotone up to 1 LSB of rounding jitter', () => {
    for (let x = -32767; x <= 32767; x++) {
      expect(tanhQ15(-x)).toBe(0 - tanhQ15(x));
      expect(sigmoidQ15(-x)).toBe(32768 - sigmoidQ15(x));
      if (x > -32767) {
        // Horner steps round to Q15, so neighbours can step back by one LSB, never more.
        expect(tanhQ15(x)).toBeGreaterThanOrEqual(tanhQ15(x - 1) - 1);
        expect(sigmoidQ15(x)).toBeGreaterThanOrEqual(sigmoidQ15(x - 1) - 1);
      }
    }
    expect(sigmoidQ15(0)).toBe(16384);
    expect(tanhQ15(0)).toBe(0);
    expect(tanhQ15(-32768)).toBe(0 - tanhQ15(32767));
    expect(Math.max(sigmoidQ15(32767), tanhQ15(32767))).toBeLessThanOrEqual(32767);
  });
});

describe('r · p >> 15 in 32-bit lanes (the SIMD kernels: GRU r · P(R_n h), LSTM f · c)', () => {
  // i32x4 twin of mulShiftRound(r, p, 15) for |r| <= 2^15, |p| <= 2^30 - 1: with ph = p >> 15 and
  // pl = p & 0x7fff, r · ph + ((r · pl + 2^14) >> 15), every product and sum within int32.
  const split = (r: number, p: number): number => (Math.imul(r, p >> 15) + ((Math.imul(r, p & 0x7fff) + 16384) >> 15)) | 0;
  it('equals the 64-bit product at the ends of both ranges and on random values', () => {
    const rs = [-32768, -32767, -16385, -1, 0, 1, 2, 16383, 16384, 32767, 32768];
    const ps = [-(2 ** 30 - 1), -(2 ** 30 - 2), -(2 ** 29), -32769, -32768, -32767, -1, 0, 1, 16383, 16384, 32767, 32768, 2 ** 29, 2 ** 30 - 2, 2 ** 30 - 1];
    for (const r of rs) for (const p of ps) expect(split(r, p), `${r} · ${p}`).toBe(mulShiftRound(r, p, 15));
    const rng = new Rng(7);
    for (let i = 0; i < 100000; i++) {
      const r = rng.int(-32768, 32768);
      const p = rng.int(-(2 ** 30 - 1), 2 ** 30 - 1);
      if (split(r, p) !== mulShiftRound(r, p, 15)) expect(split(r, p), `${r} · ${p}`).toBe(mulShiftRound(r, p, 15));
    }
  });
});
