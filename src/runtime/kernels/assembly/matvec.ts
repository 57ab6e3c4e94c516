// int8 x int16 matrix-vector products into int32, with the requantization fused in.
// Twin of matvecRef / inputProjectionRef in src/runtime/int/reference.ts (which works on the
// plain row-major matrix; the sums are the same integers in any order).
//
// Weights are stored in tiles of 4 rows x 8 inputs (32 bytes: row 0's eight int8, then rows 1,
// 2, 3), the unit one pass of the SIMD loop consumes: a group of 4 rows is a run of tiles, so
// the loop reads weights at fixed offsets from one pointer. A matrix is either dense (every tile
// of every group, in input order) or block-sparse (only the non-zero tiles, each with the byte
// offset of its 8 inputs, and a start index per group); the layout is chosen when the model is
// prepared (src/runtime/wasm/layout.ts).
import { requantPart } from './fixed';

// Matrix descriptor, byte offsets (must match src/runtime/wasm/layout.ts).
export const MAT_TILES = 0;
export const MAT_INDEX = 4; // 0: dense
export const MAT_GSTART = 8;
export const MAT_KB = 12; // tiles per group when dense (inputs / 8)
export const MAT_BIAS = 16;
export const MAT_M = 20;
export const MAT_SHIFT = 24;
export const MAT_CONSTS = 28; // 64 bytes: i32x4 clamp, i32x4 -clamp, i64x2 2^62 + 2^(shift-1), i32x4 low half of 2^62 >> shift
export const MAT_CLAMP = 32;
export const MAT_FLAGS = 36; // bit 0: no accumulator can reach the clamp (proved when laid out)
export const MAT_BYTES = 48;
const FLAG_CLAMP_FREE = 1;

@inline function ld(p: usize, off: usize): i32 {
  return load<i32>(p + off);
}
@inline function ldp(p: usize, off: usize): usize {
  return <usize>load<u32>(p + off);
}

/** Lane r of the result is the total of a_r (transpose and add). */
@inline function reduce4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const s01 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const s23 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(s01, s23, 0, 1, 4, 5), i32x4.shuffle(s01, s23, 2, 3, 6, 7));
}

/** Four row sums over n consecutive tiles against consecutive inputs. */
@inline function dotDense(t: usize, n: i32, x: usize): v128 {
  let a0 = i32x4.splat(0);
  let a1 = i32x4.splat(0);
  let a2 = i32x4.splat(0);
  let a3 = i32x4.splat(0);
  const end = t + (<usize>n << 5);
  let xp = x;
  for (; t < end; t += 32) {
    // v128.load8x8_s sign-extends eight int8 weights to i16; dot_i16x8_s multiplies and adds pairs.
    const xv = v128.load(xp);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(t), xv));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(t, 8), xv));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(t, 16), xv));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(t, 24), xv));
    xp += 16;
  }
  return reduce4(a0, a1, a2, a3);
}

/** Four row sums over the kept tiles [t0, t1) of a block-sparse matrix. */
@inline function dotSparse(tiles: usize, index: usize, t0: i32, t1: i32, x: usize): v128 {
  let a0 = i32x4.splat(0);
  let a1 = i32x4.splat(0);
  let a2 = i32x4.splat(0);
  let a3 = i32x4.splat(0);
  let t = tiles + (<usize>t0 << 5);
  let ip = index + (<usize>t0 << 2);
  const end = tiles + (<usize>t1 << 5);
  for (; t < end; t += 32) {
    const xv = v128.load(x + <usize>load<u32>(ip));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(t), xv));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(t, 8), xv));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(t, 16), xv));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(t, 24), xv));
    ip += 4;
  }
  return reduce4(a0, a1, a2, a3);
}

/** Sum of row r (0..3) of group g, scalar, over the same tiles. */
function rowSum(mat: usize, g: i32, r: i32, x: usize): i32 {
  const tiles = ldp(mat, MAT_TILES);
  const index = ldp(mat, MAT_INDEX);
  let t0: i32;
  let t1: i32;
  if (index == 0) {
    t0 = g * ld(mat, MAT_KB);
    t1 = t0 + ld(mat, MAT_KB);
  } else {
    const gs = ldp(mat, MAT_GSTART) + (<usize>g << 2);
    t0 = load<i32>(gs);
    t1 = load<i32>(gs, 4);
  }
  let acc: i32 = 0;
  for (let t = t0; t < t1; t++) {
    const w = tiles + (<usize>t << 5) + (<usize>r << 3);
    const xv = x + (index == 0 ? <usize>((t - t0) << 4) : <usize>load<u32>(index + (<usize>t << 2)));
    for (let k = 0; k < 8; k++) acc += <i32>load<i8>(w + <usize>k) * <i32>load<i16>(xv + (<usize>k << 1));
  }
  return acc;
}

/**
 * Requantizes the four row sums of one group and stores them: floor((clamp(acc + bias) * m +
 * 2^(shift-1)) / 2^shift). The clamp is skipped for matrices whose every accumulator provably
 * stays inside it (MAT_FLAGS). With shift 32 (the usual case, see quantizeMultipliers) the result
 * is the high word of the 64-bit p + 2^31, which for two's complement is exactly the floor
 * division, taken by a shuffle. Otherwise x86 has no 64-bit arithmetic right shift below
 * AVX-512: the products are offset by 2^62 so they are non-negative, shifted logically (psrlq),
 * and the offset 2^(62-shift) comes back out in the low 32 bits.
 */
@inline function requantStore(sums: v128, bias: usize, m: usize, consts: usize, shift: i32, clampFree: bool, out: usize): void {
  let acc = i32x4.add(sums, v128.load(bias));
  if (!clampFree) acc = i32x4.max_s(i32x4.min_s(acc, v128.load(consts)), v128.load(consts, 16));
  const mv = v128.load(m);
  if (shift == 32) {
    const half = i64x2.splat(<i64>1 << 31);
    const p0 = i64x2.add(i64x2.extmul_low_i32x4_s(acc, mv), half);
    const p1 = i64x2.add(i64x2.extmul_high_i32x4_s(acc, mv), half);
    v128.store(out, i32x4.shuffle(p0, p1, 1, 3, 5, 7));
    return;
  }
  const offset = v128.load(consts, 32);
  const p0 = i64x2.add(i64x2.extmul_low_i32x4_s(acc, mv), offset);
  const p1 = i64x2.add(i64x2.extmul_high_i32x4_s(acc, mv), offset);
  const r = i32x4.shuffle(i64x2.shr_u(p0, shift), i64x2.shr_u(p1, shift), 0, 2, 4, 6);
  v128.store(out, i32x4.sub(r, v128.load(consts, 48)));
}

/** out[j] = sum_k W[row0 + j][k] x[k] + bias[row0 + j] for j < rows (int32; prepare() proves no wrap). */
export function matvecBias(mat: usize, row0: i32, rows: i32, x: usize, out: usize): void {
  const bias = ldp(mat, MAT_BIAS) + (<usize>row0 << 2);
  const g0 = row0 >> 2;
  const n = rows >> 2;
  if (ASC_FEATURE_SIMD) {
    const tiles = ldp(mat, MAT_TILES);
    const index = ldp(mat, MAT_INDEX);
    if (index == 0) {
      const kb = ld(mat, MAT_KB);
      const step = <usize>kb << 5;
      let t = tiles + <usize>g0 * step;
      for (let g = 0; g < n; g++) {
        const o = <usize>g << 4;
        v128.store(out + o, i32x4.add(dotDense(t, kb, x), v128.load(bias + o)));
        t += step;
      }
    } else {
      let gs = ldp(mat, MAT_GSTART) + (<usize>g0 << 2);
      let t0 = load<i32>(gs);
      for (let g = 0; g < n; g++) {
        const o = <usize>g << 4;
        gs += 4;
        const t1 = load<i32>(gs);
        v128.store(out + o, i32x4.add(dotSparse(tiles, index, t0, t1, x), v128.load(bias + o)));
        t0 = t1;
      }
    }
  } else {
    for (let j = 0; j < rows; j++) {
      const o = <usize>j << 2;
      store<i32>(out + o, rowSum(mat, g0 + (j >> 2), j & 3, x) + load<i32>(bias + o));
    }
  }
}

/**
 * out[j] = requantPart(sum_k W[row0 + j][k] x[k], bias, m, shift, clamp) for j < rows: Q3.12
 * units, |.| < 2^30. The requantization constants are precomputed per matrix (MAT_CONSTS).
 */
export function project(mat: usize, row0: i32, rows: i32, x: usize, out: usize): void {
  const bias = ldp(mat, MAT_BIAS) + (<usize>row0 << 2);
  const m = ldp(mat, MAT_M) + (<usize>row0 << 2);
  const shift = ld(mat, MAT_SHIFT);
  const g0 = row0 >> 2;
  const n = rows >> 2;
  if (ASC_FEATURE_SIMD) {
    const consts = ldp(mat, MAT_CONSTS);
    const free = (ld(mat, MAT_FLAGS) & FLAG_CLAMP_FREE) != 0;
    const tiles = ldp(mat, MAT_TILES);
    const index = ldp(mat, MAT_INDEX);
    if (index == 0) {
      const kb = ld(mat, MAT_KB);
      const step = <usize>kb << 5;
      let t = tiles + <usize>g0 * step;
      if (free && shift == 32) {
        // The usual case (every trained model here), in a loop of its own: no per-group tests
        // of the flag and shift, and fewer registers spilled around the multiply-accumulates.
        for (let g = 0; g < n; g++) {
          const o = <usize>g << 4;
          requantStore(dotDense(t, kb, x), bias + o, m + o, consts, 32, true, out + o);
          t += step;
        }
        return;
      }
      for (let g = 0; g < n; g++) {
        const o = <usize>g << 4;
        requantStore(dotDense(t, kb, x), bias + o, m + o, consts, shift, free, out + o);
        t += step;
      }
    } else {
      let gs = ldp(mat, MAT_GSTART) + (<usize>g0 << 2);
      let t0 = load<i32>(gs);
      for (let g = 0; g < n; g++) {
        const o = <usize>g << 4;
        gs += 4;
        const t1 = load<i32>(gs);
        requantStore(dotSparse(tiles, index, t0, t1, x), bias + o, m + o, consts, shift, free, out + o);
        t0 = t1;
      }
    }
  } else {
    const clamp = ld(mat, MAT_CLAMP);
    for (let j = 0; j < rows; j++) {
      const o = <usize>j << 2;
      store<i32>(out + o, requantPart(rowSum(mat, g0 + (j >> 2), j & 3, x), load<i32>(bias + o), load<i32>(m + o), shift, clamp));
    }
  }
}

/** Whether projectPair() takes this matrix: dense, clamp-free, shift 32 (every trained model here). */
export function pairable(mat: usize): bool {
  return ASC_FEATURE_SIMD && ld(mat, MAT_INDEX) == 0 && (ld(mat, MAT_FLAGS) & FLAG_CLAMP_FREE) != 0 && ld(mat, MAT_SHIFT) == 32;
}

/**
 * project() of all rows for two input vectors at once (whole-sequence mode: two time steps of the
 * input projection), for pairable() matrices on the SIMD build only: each weight tile is loaded
 * and widened once for both vectors. The sums, and so the results, are those of two project()
 * calls. Only the clamp-free shift-32 requantization is compiled in (other matrices take two
 * project() calls): no per-group tests, and fewer bytes.
 */
export function projectPair(mat: usize, rows: i32, x0: usize, x1: usize, out0: usize, out1: usize): void {
  if (!ASC_FEATURE_SIMD) return;
  const bias = ldp(mat, MAT_BIAS);
  const m = ldp(mat, MAT_M);
  const consts = ldp(mat, MAT_CONSTS);
  const kb = ld(mat, MAT_KB);
  let t = ldp(mat, MAT_TILES);
  const n = rows >> 2;
  for (let g = 0; g < n; g++) {
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    let b0 = i32x4.splat(0);
    let b1 = i32x4.splat(0);
    let b2 = i32x4.splat(0);
    let b3 = i32x4.splat(0);
    const end = t + (<usize>kb << 5);
    let p0 = x0;
    let p1 = x1;
    for (; t < end; t += 32) {
      const u = v128.load(p0);
      const v = v128.load(p1);
      let w = v128.load8x8_s(t);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(w, u));
      b0 = i32x4.add(b0, i32x4.dot_i16x8_s(w, v));
      w = v128.load8x8_s(t, 8);
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(w, u));
      b1 = i32x4.add(b1, i32x4.dot_i16x8_s(w, v));
      w = v128.load8x8_s(t, 16);
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(w, u));
      b2 = i32x4.add(b2, i32x4.dot_i16x8_s(w, v));
      w = v128.load8x8_s(t, 24);
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(w, u));
      b3 = i32x4.add(b3, i32x4.dot_i16x8_s(w, v));
      p0 += 16;
      p1 += 16;
    }
    const o = <usize>g << 4;
    requantStore(reduce4(a0, a1, a2, a3), bias + o, m + o, consts, 32, true, out0 + o);
    requantStore(reduce4(b0, b1, b2, b3), bias + o, m + o, consts, 32, true, out1 + o);
  }
}

/**
 * The bare loop for the benchmark's "matvec-bound": reps products of a dense tiled matrix
 * (groups x tiles-per-group tiles) with an int16 vector, nothing else: the same inner loop as
 * project(), without requantization, gates or calls.
 */
export function bench_matvec(tiles: usize, groups: i32, kb: i32, x: usize, out: usize, reps: i32): void {
  for (let i = 0; i < reps; i++) {
    if (ASC_FEATURE_SIMD) {
      for (let g = 0; g < groups; g++) v128.store(out + (<usize>g << 4), dotDense(tiles + (<usize>(g * kb) << 5), kb, x));
    } else {
      for (let g = 0; g < groups; g++) {
        for (let r = 0; r < 4; r++) {
          let acc: i32 = 0;
          for (let k = 0; k < kb * 8; k++) acc += <i32>load<i8>(tiles + (<usize>((g * kb + (k >> 3)) << 5)) + (<usize>r << 3) + <usize>(k & 7)) * <i32>load<i16>(x + (<usize>k << 1));
          store<i32>(out + (<usize>(g * 4 + r) << 2), acc);
        }
      }
    }
  }
}
