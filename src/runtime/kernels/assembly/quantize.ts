// Frame quantization: float32 features -> int16 model input, with the non-finite check.
// Twin of quantizeFrameRef in src/runtime/int/reference.ts:
//   q = clamp(floor_f32(f32(x * inv) + 0.5), -32767, 32767)      (f32 arithmetic throughout)
// Returns 1 (and the caller must not use q) when any value is NaN or ±Infinity, else 0.

/** x: f32 [n]; inv: f32 [roundUp(n, 4)]; q: i16 [n] (padding beyond n is left alone). */
export function quantizeFrame(x: usize, inv: usize, n: i32, q: usize): i32 {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const half = f32x4.splat(0.5);
    const hi = i32x4.splat(32767);
    const lo = i32x4.splat(-32767);
    const zero = f32x4.splat(0);
    let bad = v128.splat<i32>(0);
    for (; k + 4 <= n; k += 4) {
      const v = v128.load(x + (<usize>k << 2));
      // v - v is 0 for finite values and NaN for NaN and ±Infinity.
      bad = v128.or(bad, f32x4.ne(f32x4.sub(v, v), zero));
      const f = f32x4.floor(f32x4.add(f32x4.mul(v, v128.load(inv + (<usize>k << 2))), half));
      const i = i32x4.max_s(i32x4.min_s(i32x4.trunc_sat_f32x4_s(f), hi), lo);
      v128.store64_lane(q + (<usize>k << 1), i16x8.narrow_i32x4_s(i, i), 0);
    }
    if (v128.any_true(bad)) return 1;
  }
  for (; k < n; k++) {
    const v = load<f32>(x + (<usize>k << 2));
    if (v - v != 0) return 1;
    const f = Mathf.floor(v * load<f32>(inv + (<usize>k << 2)) + 0.5);
    store<i16>(q + (<usize>k << 1), <i16>(f > 32767 ? 32767 : f < -32767 ? -32767 : <i32>f));
  }
  return 0;
}
