// Fixed-point primitives: AssemblyScript twin of src/runtime/fixed-point.ts.
// Every function here must give exactly what its TypeScript namesake gives.
import { SIGMOID_COEFFS, TANH_COEFFS } from './coeffs.gen';

export const PART_MAX: i32 = (1 << 30) - 1;
const SEG_BITS: i32 = 11;
const NSEG: i32 = 16;

@inline export function sat16(v: i32): i32 {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

@inline export function clampi(v: i32, lo: i32, hi: i32): i32 {
  return v > hi ? hi : v < lo ? lo : v;
}

/** sat16((a * b + 2^14) >> 15), as i16x8.q15mulr_sat_s. */
@inline export function q15mulr(a: i32, b: i32): i32 {
  return sat16((a * b + 16384) >> 15);
}

/** floor((a * b + 2^(s-1)) / 2^s) with a 64-bit product. */
@inline export function mulShiftRound(a: i32, b: i32, s: i32): i32 {
  return <i32>(((<i64>a) * (<i64>b) + ((<i64>1) << (s - 1))) >> s);
}

/** requantizePart: clamp(acc + bias), multiply, round-shift. */
@inline export function requantPart(acc: i32, bias: i32, m: i32, shift: i32, clamp: i32): i32 {
  return mulShiftRound(clampi(acc + bias, -clamp, clamp), m, shift);
}

@inline function activate(coeffs: StaticArray<i16>, x: i32, odd: bool): i32 {
  const a = x < 0 ? min(-x, 32767) : x;
  const seg = a >> SEG_BITS;
  const t = (a & ((1 << SEG_BITS) - 1)) << (15 - SEG_BITS);
  let p: i32;
  if (odd) {
    // tanh: quartic
    p = unchecked(coeffs[4 * NSEG + seg]);
    p = sat16(<i32>unchecked(coeffs[3 * NSEG + seg]) + q15mulr(t, p));
  } else {
    // sigmoid: cubic
    p = unchecked(coeffs[3 * NSEG + seg]);
  }
  p = sat16(<i32>unchecked(coeffs[2 * NSEG + seg]) + q15mulr(t, p));
  p = sat16(<i32>unchecked(coeffs[NSEG + seg]) + q15mulr(t, p));
  p = sat16(<i32>unchecked(coeffs[seg]) + q15mulr(t, p));
  if (x >= 0) return p;
  return odd ? -p : 32768 - p;
}

export function sigmoidQ15(x: i32): i32 {
  return activate(SIGMOID_COEFFS, x, false);
}

export function tanhQ15(x: i32): i32 {
  return activate(TANH_COEFFS, x, true);
}

@inline export function cellToGate(c: i32): i32 {
  return sat16((c + 4) >> 3);
}

// ---- SIMD twins -------------------------------------------------------------------------
// Lane constants, loaded rather than rebuilt in registers on every call:
// 0: 32767 x8, 16: -32768 x8.
const ACT_CONSTS: usize = memory.data(32);
for (let i = 0; i < 8; i++) {
  store<i16>(ACT_CONSTS + <usize>(i << 1), 32767);
  store<i16>(ACT_CONSTS + 16 + <usize>(i << 1), -32768);
}

// Full tables of both functions for |x| = 0 .. 32767 (int16 each, 64 KiB per function), filled
// once at instantiation by the polynomial above, so a lookup gives exactly what the polynomial
// gives. Only the SIMD build has them: eight lane loads beat the per-lane coefficient lookups
// and four Horner steps of the polynomial.
const LUT_N: i32 = 32768;
// sigmoid's table, then tanh's (LUT_N * 2 bytes each).
const LUT = memory.data(ASC_FEATURE_SIMD ? LUT_N * 4 : 16, 16);

/**
 * activate() for x = 0 .. LUT_N - 1, eight at a time: within one segment (2048 inputs) the
 * coefficients are the same for every lane, so they are splatted once per segment and the loop
 * is the Horner steps alone. Kept this small on purpose: V8 counts the code each wasm function
 * executes and recompiles a function with its optimizing compiler (TurboFan) past a budget; this
 * fill runs once, and a fill that crossed the budget (as the per-lane version did) paid for a
 * compilation it never used and paged in 2.7 MiB of the compiler's code on every load.
 */
@inline function fillLut(tab: usize, coeffs: StaticArray<i16>, odd: bool): void {
  const segLen = 1 << SEG_BITS;
  for (let seg = 0; seg < NSEG; seg++) {
    const c0 = i16x8.splat(unchecked(coeffs[seg]));
    const c1 = i16x8.splat(unchecked(coeffs[NSEG + seg]));
    const c2 = i16x8.splat(unchecked(coeffs[2 * NSEG + seg]));
    const c3 = i16x8.splat(unchecked(coeffs[3 * NSEG + seg]));
    const c4 = odd ? i16x8.splat(unchecked(coeffs[4 * NSEG + seg])) : i16x8.splat(0);
    // t = (x mod 2048) << 4 for the eight lanes; the last step leaves it at 32768 (wrapped), unused.
    let t = i16x8(0, 16, 32, 48, 64, 80, 96, 112);
    const step = i16x8.splat(128); // 8 << (15 - SEG_BITS)
    let dst = tab + (<usize>(seg * segLen) << 1);
    const end = dst + (<usize>segLen << 1);
    for (; dst < end; dst += 16) {
      let p = odd ? i16x8.add_sat_s(c3, i16x8.q15mulr_sat_s(t, c4)) : c3;
      p = i16x8.add_sat_s(c2, i16x8.q15mulr_sat_s(t, p));
      p = i16x8.add_sat_s(c1, i16x8.q15mulr_sat_s(t, p));
      p = i16x8.add_sat_s(c0, i16x8.q15mulr_sat_s(t, p));
      v128.store(dst, p);
      t = i16x8.add(t, step);
    }
  }
}
// One function per table: the budget is counted per function.
function fillSigmoidLut(): void {
  fillLut(LUT, SIGMOID_COEFFS, false);
}
function fillTanhLut(): void {
  fillLut(LUT + <usize>(LUT_N * 2), TANH_COEFFS, true);
}
if (ASC_FEATURE_SIMD) {
  fillSigmoidLut();
  fillTanhLut();
}

@inline function lookup8(x: v128, odd: bool): v128 {
  const neg = i16x8.shr_s(x, 15);
  const a = i16x8.min_u(i16x8.abs(x), v128.load(ACT_CONSTS));
  // Byte offsets of the eight |x| in the tables (tanh's after sigmoid's), four per i32x4; the
  // tables' address is the loads' constant offset.
  const table = i32x4.splat(odd ? LUT_N * 2 : 0);
  const lo = i32x4.add(i32x4.shl(i32x4.extend_low_i16x8_u(a), 1), table);
  const hi = i32x4.add(i32x4.shl(i32x4.extend_high_i16x8_u(a), 1), table);
  let p = v128.load16_lane(<usize>i32x4.extract_lane(lo, 0), i16x8.splat(0), 0, LUT);
  p = v128.load16_lane(<usize>i32x4.extract_lane(lo, 1), p, 1, LUT);
  p = v128.load16_lane(<usize>i32x4.extract_lane(lo, 2), p, 2, LUT);
  p = v128.load16_lane(<usize>i32x4.extract_lane(lo, 3), p, 3, LUT);
  p = v128.load16_lane(<usize>i32x4.extract_lane(hi, 0), p, 4, LUT);
  p = v128.load16_lane(<usize>i32x4.extract_lane(hi, 1), p, 5, LUT);
  p = v128.load16_lane(<usize>i32x4.extract_lane(hi, 2), p, 6, LUT);
  p = v128.load16_lane(<usize>i32x4.extract_lane(hi, 3), p, 7, LUT);
  const mirrored = odd ? i16x8.neg(p) : i16x8.sub(v128.load(ACT_CONSTS, 16), p);
  return v128.bitselect(mirrored, p, neg);
}

/**
 * lookup8 with the eight table offsets (lutOffsets8) taken out of the vector as two i64 (two
 * moves instead of eight lane extractions) and split by scalar shifts. Faster where the integer
 * units are otherwise idle (the LSTM's gates: whole sequences 1.5-2.5 % faster); slower beside
 * the GRU's scalar table loads, which keep those units busy (anomaly-gru 1.02x), so the GRU keeps
 * lookup8.
 */
@inline function lookup8Split(x: v128, odd: bool): v128 {
  const off = lutOffsets8(x);
  const a = i64x2.extract_lane(off, 0);
  const b = i64x2.extract_lane(off, 1);
  const t: usize = odd ? LUT_N * 2 : 0; // tanh's table follows sigmoid's
  let p = v128.load16_lane(<usize>(<u32>a & 0xffff) + t, i16x8.splat(0), 0, LUT);
  p = v128.load16_lane(<usize>(<u32>a >>> 16) + t, p, 1, LUT);
  p = v128.load16_lane(<usize>(<u32>(a >>> 32) & 0xffff) + t, p, 2, LUT);
  p = v128.load16_lane(<usize>(<u32>(a >>> 48)) + t, p, 3, LUT);
  p = v128.load16_lane(<usize>(<u32>b & 0xffff) + t, p, 4, LUT);
  p = v128.load16_lane(<usize>(<u32>b >>> 16) + t, p, 5, LUT);
  p = v128.load16_lane(<usize>(<u32>(b >>> 32) & 0xffff) + t, p, 6, LUT);
  p = v128.load16_lane(<usize>(<u32>(b >>> 48)) + t, p, 7, LUT);
  return odd ? tanhMirror8(p, x) : sigmoidMirror8(p, x);
}

/**
 * The table byte offsets of eight inputs, 2 * min(|x|, 32767) as u16 lanes, for lookupRun: the
 * first half of lookup8, stored to memory so that the loads can be scalar.
 */
@inline export function lutOffsets8(x: v128): v128 {
  return i16x8.shl(i16x8.min_u(i16x8.abs(x), v128.load(ACT_CONSTS)), 1);
}

/**
 * In place over n u16 table offsets at p (from lutOffsets8): each becomes its table entry, the
 * activation of |x|. Scalar loads: WebAssembly SIMD has no gather, and eight lane loads into one
 * vector form a serial chain, where plain loads and stores run side by side.
 */
@inline export function lookupRun(p: usize, n: i32, odd: bool): void {
  const end = p + (<usize>n << 1);
  for (; p < end; p += 8) {
    const a = <usize>load<u16>(p);
    const b = <usize>load<u16>(p, 2);
    const c = <usize>load<u16>(p, 4);
    const d = <usize>load<u16>(p, 6);
    if (odd) {
      store<u16>(p, load<u16>(a, LUT + LUT_N * 2));
      store<u16>(p, load<u16>(b, LUT + LUT_N * 2), 2);
      store<u16>(p, load<u16>(c, LUT + LUT_N * 2), 4);
      store<u16>(p, load<u16>(d, LUT + LUT_N * 2), 6);
    } else {
      store<u16>(p, load<u16>(a, LUT));
      store<u16>(p, load<u16>(b, LUT), 2);
      store<u16>(p, load<u16>(c, LUT), 4);
      store<u16>(p, load<u16>(d, LUT), 6);
    }
  }
}

/** Four sigmoid table entries at the u16 offsets packed in `off`, stored as int16 at dst. */
@inline export function lookupSigmoid4(off: i64, dst: usize): void {
  const lo = <u32>off;
  const hi = <u32>(off >>> 32);
  store<u16>(dst, load<u16>(<usize>(lo & 0xffff), LUT));
  store<u16>(dst, load<u16>(<usize>(lo >>> 16), LUT), 2);
  store<u16>(dst, load<u16>(<usize>(hi & 0xffff), LUT), 4);
  store<u16>(dst, load<u16>(<usize>(hi >>> 16), LUT), 6);
}

/** The second half of sigmoid8: p the table entries of |x|, mirrored where x < 0. */
@inline export function sigmoidMirror8(p: v128, x: v128): v128 {
  return v128.bitselect(i16x8.sub(v128.load(ACT_CONSTS, 16), p), p, i16x8.shr_s(x, 15));
}

/** The second half of tanh8. */
@inline export function tanhMirror8(p: v128, x: v128): v128 {
  return v128.bitselect(i16x8.neg(p), p, i16x8.shr_s(x, 15));
}

/** Eight fixed-point sigmoids: i16x8 Q3.12 -> i16x8 Q0.15. */
@inline export function sigmoid8(x: v128): v128 {
  return lookup8(x, false);
}

/** Eight fixed-point tanh: i16x8 Q3.12 -> i16x8 Q0.15. */
@inline export function tanh8(x: v128): v128 {
  return lookup8(x, true);
}

/** sigmoid8 and tanh8 through lookup8Split (the same numbers). */
@inline export function sigmoid8Split(x: v128): v128 {
  return lookup8Split(x, false);
}
@inline export function tanh8Split(x: v128): v128 {
  return lookup8Split(x, true);
}

/**
 * Four lanes of floor((a * b + 2^(s-1)) / 2^s) through 64-bit products, for |a * b| < 2^62 and
 * results that fit int32. x86 has no 64-bit arithmetic right shift below AVX-512, so instead of
 * i64x2.shr_s the products are offset by 2^62 (non-negative), shifted logically (psrlq), and the
 * offset 2^(62-s) is taken back out in the low 32 bits (exact modulo 2^32).
 */
@inline export function mulShiftRound4(a: v128, b: v128, s: i32): v128 {
  const bias = i64x2.splat(((<i64>1) << 62) + ((<i64>1) << (s - 1)));
  const p0 = i64x2.shr_u(i64x2.add(i64x2.extmul_low_i32x4_s(a, b), bias), s);
  const p1 = i64x2.shr_u(i64x2.add(i64x2.extmul_high_i32x4_s(a, b), bias), s);
  return i32x4.sub(i32x4.shuffle(p0, p1, 0, 2, 4, 6), i32x4.splat(<i32>(((<i64>1) << 62) >> s)));
}

/**
 * Four lanes of requantPart with the bias already added. Not inlined: only LSTM peepholes use
 * it, six times per step, and each inlined copy cost about 60 bytes of the 16 KiB budget.
 */
export function requant4(acc: v128, m: v128, shift: i32, clamp: i32): v128 {
  const c = i32x4.max_s(i32x4.min_s(acc, i32x4.splat(clamp)), i32x4.splat(-clamp));
  return mulShiftRound4(c, m, shift);
}

/** y[i] = sigmoid or tanh (which = 0 / 1) of x[i], int16 arrays; n a multiple of 8. For tests. */
export function activate_array(which: i32, x: usize, n: i32, y: usize): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 8) {
      const v = v128.load(x + (<usize>i << 1));
      v128.store(y + (<usize>i << 1), which == 0 ? sigmoid8(v) : tanh8(v));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = <i32>load<i16>(x + (<usize>i << 1));
      store<i16>(y + (<usize>i << 1), <i16>(which == 0 ? sigmoidQ15(v) : tanhQ15(v)));
    }
  }
}
