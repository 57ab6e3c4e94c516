// Bench-only AssemblyScript kernels (compiled by test/bench/activation-width.ts, never shipped):
// the same 4-rows-per-pass matrix-vector loop with int8 activations and with int16 activations.

/** int8 weights x int8 activations: extmul to i16 (|w*x| <= 16129, two fit in i16), pairwise add to i32. */
export function matvec_i8i8(w: usize, rows: i32, cols: i32, x: usize, out: usize, reps: i32): void {
  for (let rep = 0; rep < reps; rep++) {
    for (let r = 0; r < rows; r += 4) {
      let a0 = i32x4.splat(0);
      let a1 = i32x4.splat(0);
      let a2 = i32x4.splat(0);
      let a3 = i32x4.splat(0);
      const c = <usize>cols;
      const w0 = w + <usize>(r * cols);
      for (let k: usize = 0; k < c; k += 16) {
        const xv = v128.load(x + k);
        let v = v128.load(w0 + k);
        a0 = i32x4.add(a0, i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(v, xv), i16x8.extmul_high_i8x16_s(v, xv))));
        v = v128.load(w0 + c + k);
        a1 = i32x4.add(a1, i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(v, xv), i16x8.extmul_high_i8x16_s(v, xv))));
        v = v128.load(w0 + 2 * c + k);
        a2 = i32x4.add(a2, i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(v, xv), i16x8.extmul_high_i8x16_s(v, xv))));
        v = v128.load(w0 + 3 * c + k);
        a3 = i32x4.add(a3, i32x4.extadd_pairwise_i16x8_s(i16x8.add(i16x8.extmul_low_i8x16_s(v, xv), i16x8.extmul_high_i8x16_s(v, xv))));
      }
      const s01 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
      const s23 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
      v128.store(out + (<usize>r << 2), i32x4.add(i32x4.shuffle(s01, s23, 0, 1, 4, 5), i32x4.shuffle(s01, s23, 2, 3, 6, 7)));
    }
  }
}

/** int8 weights x int16 activations: the shipped kernel's loop (load8x8_s + dot_i16x8_s). */
export function matvec_i8i16(w: usize, rows: i32, cols: i32, x: usize, out: usize, reps: i32): void {
  for (let rep = 0; rep < reps; rep++) {
    for (let r = 0; r < rows; r += 4) {
      let a0 = i32x4.splat(0);
      let a1 = i32x4.splat(0);
      let a2 = i32x4.splat(0);
      let a3 = i32x4.splat(0);
      const c = <usize>cols;
      const w0 = w + <usize>(r * cols);
      for (let k: usize = 0; k < c; k += 8) {
        const xv = v128.load(x + (k << 1));
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + k), xv));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + c + k), xv));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + 2 * c + k), xv));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + 3 * c + k), xv));
      }
      const s01 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
      const s23 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
      v128.store(out + (<usize>r << 2), i32x4.add(i32x4.shuffle(s01, s23, 0, 1, 4, 5), i32x4.shuffle(s01, s23, 2, 3, 6, 7)));
    }
  }
}
