/**
 * The integer arithmetic of the "ern-a16w8-v1" scheme, written once. The TypeScript integer
 * reference, the trainer's fake-quant and the model preparer use these functions; the
 * AssemblyScript kernels (src/runtime/kernels/assembly) are their twin and must agree bit for
 * bit (test/runtime/fixed-point.test.ts and the kernel suites check it).
 *
 * Formats (docs/quantization.md):
 *   weights        int8, symmetric, per output row, values in [-127, 127]
 *   activations    int16; hidden state Q0.15 (value = q / 32768)
 *   gate inputs    int16 Q3.12 (value = q / 4096, range [-8, 8))
 *   gate outputs   int16 Q0.15
 *   LSTM cell      int32 Q16.15, clamped to ±(2^30 − 1)
 *   accumulators   int32
 *
 * Rounding is "half up" (floor(x + 1/2)) everywhere: an arithmetic right shift after adding
 * half the divisor. All functions take and return JS numbers holding integers.
 */
import { ACT_SEG_BITS, SIGMOID_COEFFS, SIGMOID_DEGREE, TANH_COEFFS, TANH_DEGREE } from './activation-coeffs.gen.js';

export const INT16_MIN = -32768;
export const INT16_MAX = 32767;
export const INT32_MAX = 2147483647;
/** Q0.15 one, as used in int32 arithmetic (not representable in int16). */
export const Q15_ONE = 32768;
/** Requantized partial sums and the LSTM cell are clamped to ±2^30 so that sums of two fit int32. */
export const PART_LIMIT = 1 << 30;
/** Fractional bits of the gate input format Q3.12. */
export const GATE_FRAC_BITS = 12;
/** Fractional bits of the hidden state and gate outputs (Q0.15). */
export const STATE_FRAC_BITS = 15;

export function sat16(v: number): number {
  return v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v;
}

export function clampInt(v: number, lo: number, hi: number): number {
  return v > hi ? hi : v < lo ? lo : v;
}

/** WASM `i16x8.q15mulr_sat_s` for one lane: sat16((a * b + 2^14) >> 15). a, b int16. */
export function q15MulR(a: number, b: number): number {
  return sat16((a * b + 16384) >> 15);
}

/** WASM `i16x8.add_sat_s` for one lane. */
export function addSat16(a: number, b: number): number {
  return sat16(a + b);
}

/**
 * floor((a * b + 2^(s-1)) / 2^s) for integers with |a * b| < 2^52 and 1 <= s <= 30.
 * Exact: the product and the sum are integers below 2^53, so doubles hold them exactly, and
 * dividing by a power of two is exact too. Used where one factor is at most 16 bits wide
 * (gate output times cell state, r times a requantized sum).
 */
export function mulShiftRound(a: number, b: number, s: number): number {
  return Math.floor((a * b + 2 ** (s - 1)) / 2 ** s);
}

/**
 * Fixed-point requantization: floor((acc * m + 2^(s-1)) / 2^s), what the kernels compute with a
 * 64-bit product (`i64x2.extmul_low_i32x4_s`, add, `i64x2.shr_s`).
 * Preconditions: |acc| <= 2^31, |m| < 2^31, 1 <= s <= 62, |result| < 2^52 (prepare() clamps acc
 * so that |result| <= 2^30).
 * The 62-bit product does not fit a double, so it is split into 16-bit limbs: m = mHi*2^16 + mLo
 * with 0 <= mLo < 2^16; every partial product and sum below stays under 2^53 and is exact.
 */
export function requantize(acc: number, m: number, s: number): number {
  const mHi = Math.floor(m / 65536);
  const mLo = m - mHi * 65536;
  const pHi = acc * mHi; // |.| < 2^46
  const pLo = acc * mLo; // |.| < 2^47
  if (s >= 17) {
    // total = (pHi + 2^(s-17)) * 2^16 + pLo; fold pLo's high part into the upper limb, the low
    // 16 bits cannot change floor(total / 2^s) because s >= 16.
    const q = Math.floor(pLo / 65536);
    return Math.floor((pHi + 2 ** (s - 17) + q) / 2 ** (s - 16));
  }
  // s <= 16: floor(total / 2^s) = pHi * 2^(16-s) + floor((pLo + 2^(s-1)) / 2^s), both exact.
  return pHi * 2 ** (16 - s) + Math.floor((pLo + 2 ** (s - 1)) / 2 ** s);
}

/** The preferred requantization shift (see quantizeMultipliers). */
export const REQUANT_SHIFT = 32;

/** Per-row multipliers sharing one shift, so SIMD lanes can shift together. */
export interface RowMultipliers {
  /** int32 multipliers, one per row: round(real[j] * 2^shift). */
  readonly m: Int32Array;
  /** Shared right shift, 1..62. */
  readonly shift: number;
  /** Accumulators are clamped to ±clamp before multiplying so |result| <= 2^30. */
  readonly clamp: number;
}

/**
 * Turns real multipliers (e.g. rowScale * 2^12) into int32 multipliers with one shared shift.
 * The shift is the largest that keeps every |m| below 2^31, capped at REQUANT_SHIFT (32): with
 * shift 32 the kernels take the high half of each 64-bit product and need no shift instruction,
 * and the rounding of M costs at most |acc| / 2^33 < 1/4 LSB of the result. Only multipliers of
 * 0.5 and more (very coarse scales) get a smaller shift and the general path.
 * `scale` multiplies every real first (the same doubles as a scaled copy, without the copy).
 */
export function quantizeMultipliers(real: ArrayLike<number>, scale = 1): RowMultipliers {
  let maxAbs = 0;
  for (let j = 0; j < real.length; j++) {
    const v = real[j]! * scale;
    if (!Number.isFinite(v)) throw new RangeError(`multiplier ${j} is ${v}`);
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  let shift = 31;
  if (maxAbs > 0) shift = clampInt(Math.floor(Math.log2(INT32_MAX / maxAbs)), 1, 62);
  // log2 can land one off at exact powers of two; step down until the largest fits.
  while (shift > 1 && Math.round(maxAbs * 2 ** shift) > INT32_MAX) shift--;
  shift = Math.min(shift, REQUANT_SHIFT);
  // The largest |M| for which an accumulator of ±1 stays within ±(2^30 − 1): INT32_MAX from shift
  // 2 up. A larger real multiplier (shift 1; one accumulator unit is 2^30 Q3.12 units or more)
  // is capped there, so any non-zero accumulator saturates the part as its real value would;
  // M = 2^31 − 1 gave clamp 0, and the whole matrix contributed nothing.
  const maxMult = Math.min(INT32_MAX, 2 ** shift * (PART_LIMIT - 1));
  const m = new Int32Array(real.length);
  const pow = 2 ** shift;
  let maxM = 0;
  for (let j = 0; j < real.length; j++) {
    const q = clampInt(Math.round(real[j]! * scale * pow), -maxMult, maxMult);
    m[j] = q;
    maxM = Math.max(maxM, Math.abs(q));
  }
  // |acc| <= clamp guarantees |acc * maxM / 2^shift| + 1/2 <= 2^30.
  const clamp = maxM === 0 ? INT32_MAX : Math.min(INT32_MAX, Math.floor((2 ** (30 + shift) - 2 ** shift) / maxM));
  return { m, shift, clamp };
}

/** acc + bias, clamped, requantized: one partial gate input in Q3.12 units, |result| <= 2^30. */
export function requantizePart(acc: number, bias: number, m: number, shift: number, clamp: number): number {
  return requantize(clampInt(acc + bias, -clamp, clamp), m, shift);
}

function activate(coeffs: readonly number[], degree: number, x: number, odd: boolean): number {
  const a = x < 0 ? Math.min(-x, INT16_MAX) : x;
  const seg = a >> ACT_SEG_BITS;
  const t = (a & ((1 << ACT_SEG_BITS) - 1)) << (15 - ACT_SEG_BITS);
  const nseg = 1 << (15 - ACT_SEG_BITS);
  let p = coeffs[degree * nseg + seg]!;
  for (let k = degree - 1; k >= 0; k--) p = addSat16(coeffs[k * nseg + seg]!, q15MulR(t, p));
  if (x >= 0) return p;
  // tanh(-x) = -tanh(x); sigmoid(-x) = 1 - sigmoid(x) (32768 - p, which fits int16 since p >= 2^14).
  return odd ? 0 - p : Q15_ONE - p;
}

/** Fixed-point sigmoid: Q3.12 int16 in, Q0.15 out (0..32767). Max error 2 LSB (tested). */
export function sigmoidQ15(x: number): number {
  return activate(SIGMOID_COEFFS, SIGMOID_DEGREE, x, false);
}

/** Fixed-point tanh: Q3.12 int16 in, Q0.15 out (-32767..32767). Max error 2 LSB (tested). */
export function tanhQ15(x: number): number {
  return activate(TANH_COEFFS, TANH_DEGREE, x, true);
}

/** Q16.15 cell state (int32) to the Q3.12 gate format: round(c / 8), saturated to int16. */
export function cellToGate(c: number): number {
  return sat16((c + 4) >> 3);
}

/**
 * Frame quantization of one value, in float32 arithmetic exactly as the kernels do it (frames are
 * staged as float32; f32x4.mul, f32x4.add, f32x4.floor): clamp(floor(f32(f32(x * inv) + 0.5)),
 * ±32767), with inv = f32(1 / inputScale). NaN and ±Infinity are the caller's business.
 */
export function quantizeInput(x: number, inv32: number): number {
  const f = Math.floor(Math.fround(Math.fround(Math.fround(x) * inv32) + 0.5));
  return f > INT16_MAX ? INT16_MAX : f < -INT16_MAX ? -INT16_MAX : f;
}

/**
 * Dequantization of one output, in float32 arithmetic as the kernels do it
 * (f32x4.convert_i32x4_s, f32x4.mul, f32x4.max): f32(acc) * scale32, then max(+0, .) for ReLU.
 */
export function dequantizeOutput(acc: number, scale32: number, relu: boolean): number {
  const v = Math.fround(Math.fround(acc) * scale32);
  return relu ? (v > 0 ? v : 0) : v;
}
