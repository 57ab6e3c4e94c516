// int8 x int16 matrix-vector products into int32, with the requantization fused in.
// Twin of matvecRef / inputProjectionRef in src/runtime/int/reference.ts.
// Shapes: rows % 4 == 0, cols % 8 == 0 (prepare() pads with zeros).
import { requantPart } from './fixed';

/** Sums of four consecutive rows starting at w (row stride cols) against x, as an i32x4. */
@inline function dot4(w: usize, cols: i32, x: usize): v128 {
  let a0 = i32x4.splat(0);
  let a1 = i32x4.splat(0);
  let a2 = i32x4.splat(0);
  let a3 = i32x4.splat(0);
  const c = <usize>cols;
  for (let k: usize = 0; k < c; k += 8) {
    // v128.load8x8_s sign-extends eight int8 weights to i16; dot_i16x8_s multiplies and adds pairs.
    const xv = v128.load(x + (k << 1));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(w + k), xv));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(w + c + k), xv));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(w + 2 * c + k), xv));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(w + 3 * c + k), xv));
  }
  // Transpose-add: lane r of the result is the total of a_r.
  const s01 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const s23 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(s01, s23, 0, 1, 4, 5), i32x4.shuffle(s01, s23, 2, 3, 6, 7));
}

@inline function dot1(w: usize, cols: i32, x: usize): i32 {
  let acc: i32 = 0;
  for (let k = 0; k < cols; k++) acc += <i32>load<i8>(w + <usize>k) * <i32>load<i16>(x + (<usize>k << 1));
  return acc;
}

/** out[j] = sum_k W[j][k] x[k] + bias[j]  (int32, wrapping adds; prepare() proves no wrap). */
export function matvecBias(w: usize, rows: i32, cols: i32, x: usize, bias: usize, out: usize): void {
  if (ASC_FEATURE_SIMD) {
    for (let r = 0; r < rows; r += 4) {
      const o = <usize>r << 2;
      v128.store(out + o, i32x4.add(dot4(w + <usize>(r * cols), cols, x), v128.load(bias + o)));
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const o = <usize>r << 2;
      store<i32>(out + o, dot1(w + <usize>(r * cols), cols, x) + load<i32>(bias + o));
    }
  }
}

/** out[j] = requantPart(sum_k W[j][k] x[k], bias[j], m[j], shift, clamp): Q3.12 units, |.| < 2^30. */
export function project(w: usize, rows: i32, cols: i32, x: usize, bias: usize, m: usize, shift: i32, clamp: i32, out: usize): void {
  if (ASC_FEATURE_SIMD) {
    // Loop invariants of requant4/mulShiftRound4, hoisted by hand.
    const hi = i32x4.splat(clamp);
    const lo = i32x4.splat(-clamp);
    const offset = i64x2.splat(((<i64>1) << 62) + ((<i64>1) << (shift - 1)));
    const back = i32x4.splat(<i32>(((<i64>1) << 62) >> shift));
    for (let r = 0; r < rows; r += 4) {
      const o = <usize>r << 2;
      const acc = i32x4.max_s(i32x4.min_s(i32x4.add(dot4(w + <usize>(r * cols), cols, x), v128.load(bias + o)), hi), lo);
      const mv = v128.load(m + o);
      const p0 = i64x2.shr_u(i64x2.add(i64x2.extmul_low_i32x4_s(acc, mv), offset), shift);
      const p1 = i64x2.shr_u(i64x2.add(i64x2.extmul_high_i32x4_s(acc, mv), offset), shift);
      v128.store(out + o, i32x4.sub(i32x4.shuffle(p0, p1, 0, 2, 4, 6), back));
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const o = <usize>r << 2;
      store<i32>(out + o, requantPart(dot1(w + <usize>(r * cols), cols, x), load<i32>(bias + o), load<i32>(m + o), shift, clamp));
    }
  }
}

/**
 * The bare loop for the benchmark's "matvec-bound": reps products of a rows x cols int8 matrix
 * with an int16 vector, nothing else. Same inner loop as project().
 */
export function bench_matvec(w: usize, rows: i32, cols: i32, x: usize, out: usize, reps: i32): void {
  for (let i = 0; i < reps; i++) {
    if (ASC_FEATURE_SIMD) {
      for (let r = 0; r < rows; r += 4) v128.store(out + (<usize>r << 2), dot4(w + <usize>(r * cols), cols, x));
    } else {
      for (let r = 0; r < rows; r++) store<i32>(out + (<usize>r << 2), dot1(w + <usize>(r * cols), cols, x));
    }
  }
}
