// edgernn integer kernels. Built twice from this source (scripts/build-wasm.mjs): with SIMD
// (ASC_FEATURE_SIMD, v128) and without. The TypeScript side lays out the model in memory
// (src/runtime/wasm/layout.ts) and calls these entry points; nothing here allocates.
import { quantizeFrame } from './quantize';
import { DIR_BYTES, L_DIR0, L_G, L_HP, L_KIND, N_FINAL, N_OP, denseStep, gruStep, inputProjection, inputProjection2, lstmStep, rnnStep } from './cells';

export { activate_array } from './fixed';
export { bench_matvec } from './matvec';
export { sha256 } from './sha256';
export { tile_pack, tile_scan } from './tiles';

// Model descriptor, i32 words (must match src/runtime/wasm/layout.ts).
const M_NLAYERS = 0;
const M_OUTW = 8;
const M_PX = 12;
const M_PH = 16;
const M_GATE = 20;
const M_RH = 24;
const M_BUFA = 28;
const M_BUFB = 32;
const M_LAYERS = 36;
const M_STATEOFF = 40;
const M_INSIZE = 44;
const M_INV = 48;
const M_XQ = 52;
const M_OSCALE = 56;
const M_ORELU = 60;
const M_ACC = 64;
const M_INW = 4;

const KIND_GRU = 0;
const KIND_LSTM = 1;
const KIND_DENSE = 3;

@inline function ld(p: usize, off: usize): i32 {
  return load<i32>(p + off);
}
@inline function ldp(p: usize, off: usize): usize {
  return <usize>load<u32>(p + off);
}

export function heap_base(): usize {
  return __heap_base;
}

/** One recurrent step of direction block `dir` with a precomputed projection px. */
@inline function cellStep(model: usize, desc: usize, dir: usize, px: usize, h: usize, c: usize): void {
  const kind = ld(desc, L_KIND);
  if (kind == KIND_GRU) gruStep(desc, dir, px, h, ldp(model, M_PH), ldp(model, M_GATE), ldp(model, M_RH));
  else if (kind == KIND_LSTM) lstmStep(desc, dir, px, h, c, ldp(model, M_PH));
  else rnnStep(desc, dir, px, h, ldp(model, M_PH));
}

/** One step of every layer for one stream from an int16 input row. out: int32 [outputWidth]. */
function stepQuantized(model: usize, state: usize, x: usize, out: usize): void {
  const n = ld(model, M_NLAYERS);
  const layers = ldp(model, M_LAYERS);
  const offs = ldp(model, M_STATEOFF);
  const px = ldp(model, M_PX);
  let cur = x;
  let flip = false;
  let lastDense = false;
  for (let li = 0; li < n; li++) {
    const desc = ldp(layers, <usize>li << 2);
    if (ld(desc, L_KIND) == KIND_DENSE) {
      const y = ldp(model, flip ? M_BUFB : M_BUFA);
      denseStep(desc, cur, y, out, px);
      cur = y;
      flip = !flip;
      lastDense = true;
      continue;
    }
    const h = state + <usize>ld(offs, <usize>li << 2);
    const c = h + (<usize>ld(desc, L_HP) << 1);
    const dir = desc + L_DIR0;
    inputProjection(desc, dir, cur, px);
    cellStep(model, desc, dir, px, h, c);
    cur = h;
    lastDense = false;
  }
  if (!lastDense) {
    const w = ld(model, M_OUTW);
    for (let j = 0; j < w; j++) store<i32>(out + (<usize>j << 2), <i32>load<i16>(cur + (<usize>j << 1)));
  }
}

/**
 * Dequantizes one output row in float32 arithmetic: out[p] = f32(acc[p]) * scale[p], then
 * max(0, .) for a ReLU head. Twin of dequantizeRef.
 */
function dequantize(model: usize, acc: usize, out: usize): void {
  const w = ld(model, M_OUTW);
  const scale = ldp(model, M_OSCALE);
  const relu = ld(model, M_ORELU) != 0;
  let p = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; p + 4 <= w; p += 4) {
      const o = <usize>p << 2;
      let v = f32x4.mul(f32x4.convert_i32x4_s(v128.load(acc + o)), v128.load(scale + o));
      if (relu) v = f32x4.max(v, zero);
      v128.store(out + o, v);
    }
  }
  for (; p < w; p++) {
    const o = <usize>p << 2;
    let v = <f32>load<i32>(acc + o) * load<f32>(scale + o);
    if (relu) v = v > 0 ? v : 0;
    store<f32>(out + o, v);
  }
}

/** Dequantizes T int32 output rows [T][outputWidth] into float32 rows (sequence mode). */
export function dequantize_rows(model: usize, acc: usize, T: i32, out: usize): void {
  const w = ld(model, M_OUTW);
  for (let t = 0; t < T; t++) dequantize(model, acc + (<usize>(t * w) << 2), out + (<usize>(t * w) << 2));
}

/**
 * One step for one stream: x is a float32 frame [inputSize], quantized here; recurrent layers
 * update their state in place inside `state`; out receives float32 [outputWidth].
 * Returns 1 without touching the state when the frame holds NaN or ±Infinity, else 0.
 */
export function model_step(model: usize, state: usize, x: usize, out: usize): i32 {
  const xq = ldp(model, M_XQ);
  if (quantizeFrame(x, ldp(model, M_INV), ld(model, M_INSIZE), xq) != 0) return 1;
  const acc = ldp(model, M_ACC);
  stepQuantized(model, state, xq, acc);
  dequantize(model, acc, out);
  return 0;
}

/**
 * Steps n streams at once: states is a u32 array of n state pointers, x is float32
 * [n][inputSize], xq int16 scratch [n][inputWidth], out int32 [n][outputWidth]. All frames are
 * quantized and checked first: returns i + 1 for the first bad frame i (nothing stepped), else 0.
 * out receives float32 [n][outputWidth].
 */
export function model_step_many(model: usize, states: usize, n: i32, x: usize, xq: usize, out: usize): i32 {
  const I = ld(model, M_INSIZE);
  const inW = ld(model, M_INW);
  const outW = ld(model, M_OUTW);
  const inv = ldp(model, M_INV);
  for (let i = 0; i < n; i++) {
    if (quantizeFrame(x + (<usize>(i * I) << 2), inv, I, xq + (<usize>(i * inW) << 1)) != 0) return i + 1;
  }
  const acc = ldp(model, M_ACC);
  for (let i = 0; i < n; i++) {
    stepQuantized(model, ldp(states, <usize>i << 2), xq + (<usize>(i * inW) << 1), acc);
    dequantize(model, acc, out + (<usize>(i * outW) << 2));
  }
  return 0;
}

/** Quantizes T float32 frames [T][inputSize] into int16 rows [T][inputWidth]; 0, or t + 1 for the first bad frame. */
export function quantize_rows(model: usize, x: usize, T: i32, xq: usize): i32 {
  const I = ld(model, M_INSIZE);
  const inW = ld(model, M_INW);
  const inv = ldp(model, M_INV);
  for (let t = 0; t < T; t++) {
    if (quantizeFrame(x + (<usize>(t * I) << 2), inv, I, xq + (<usize>(t * inW) << 1)) != 0) return t + 1;
  }
  return 0;
}

/**
 * One direction of one recurrent layer over T steps (whole-sequence mode).
 * x: int16 rows of stride xStride; the input projection of all T steps is computed first into
 * pxSeq (int32 [T][G*Hp]), then the recurrence runs; h (and c) hold the starting state and are
 * left at the final state; each step's h goes to y + (t*yStride + yOff) int16 elements.
 */
export function layer_run(
  model: usize,
  desc: usize,
  d: i32,
  h: usize,
  c: usize,
  x: usize,
  xStride: i32,
  T: i32,
  reverse: i32,
  y: usize,
  yStride: i32,
  yOff: i32,
  pxSeq: usize,
): void {
  const dir = desc + L_DIR0 + <usize>(d * DIR_BYTES);
  const Hp = ld(desc, L_HP);
  const rows = ld(desc, L_G) * Hp;
  let t0 = 0;
  for (; t0 + 1 < T; t0 += 2) {
    const xa = x + (<usize>(t0 * xStride) << 1);
    const pa = pxSeq + (<usize>(t0 * rows) << 2);
    inputProjection2(desc, dir, xa, xa + (<usize>xStride << 1), pa, pa + (<usize>rows << 2));
  }
  if (t0 < T) inputProjection(desc, dir, x + (<usize>(t0 * xStride) << 1), pxSeq + (<usize>(t0 * rows) << 2));
  for (let s = 0; s < T; s++) {
    const t = reverse != 0 ? T - 1 - s : s;
    cellStep(model, desc, dir, pxSeq + (<usize>(t * rows) << 2), h, c);
    memory.copy(y + (<usize>(t * yStride + yOff) << 1), h, <usize>Hp << 1);
  }
}

/** A dense layer over T rows: int16 input rows of stride xStride; output rows of its width. */
export function dense_run(model: usize, desc: usize, x: usize, xStride: i32, T: i32, y16: usize, y32: usize): void {
  const Op = ld(desc, N_OP);
  const final = ld(desc, N_FINAL) != 0;
  const px = ldp(model, M_PX);
  for (let t = 0; t < T; t++) {
    denseStep(desc, x + (<usize>(t * xStride) << 1), y16 + (<usize>(t * Op) << 1), final ? y32 + (<usize>(t * Op) << 2) : 0, px);
  }
}
