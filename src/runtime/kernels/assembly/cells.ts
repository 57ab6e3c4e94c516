// GRU, LSTM, RNN and Dense steps on prepared descriptors.
// Twin of gruStepRef / lstmStepRef / rnnStepRef / denseRef in src/runtime/int/reference.ts;
// the formulas are written there, next to the reference.
import {
  PART_MAX,
  cellToGate,
  clampi,
  lookupRun,
  lookupSigmoid4,
  lutOffsets8,
  mulShiftRound,
  q15mulr,
  requant4,
  requantPart,
  sat16,
  sigmoid8,
  sigmoid8Split,
  sigmoidMirror8,
  sigmoidQ15,
  tanh8,
  tanh8Split,
  tanhMirror8,
  tanhQ15,
} from './fixed';
import { matvecBias, pairable, project, projectPair } from './matvec';

// Recurrent layer descriptor, byte offsets (must match src/runtime/wasm/layout.ts).
export const L_KIND = 0;
export const L_HP = 4;
export const L_G = 8;
export const L_IP = 12;
export const L_CLIP = 16;
export const L_FLAGS = 20;
export const L_NDIR = 24;
export const L_OUTW = 28;
export const L_DIR0 = 32;
export const DIR_BYTES = 128;
// Direction block: the input matrix W and recurrent matrix R (matrix descriptors, see matvec.ts),
// then the peephole multipliers and the initial state.
const D_WMAT = 0;
const D_RMAT = 48;
const D_MP = 96;
const D_MPS = 100;
const D_MPC = 104;
export const D_H0 = 108;
export const D_C0 = 112;
const FLAG_LBR = 1;
const FLAG_INPUT_FORGET = 2;
// Dense descriptor.
export const N_IP = 4;
export const N_OP = 8;
const N_ACT = 12;
export const N_FINAL = 16;
export const N_OUTW = 20;
const N_MAT = 32;

@inline function ld(p: usize, off: usize): i32 {
  return load<i32>(p + off);
}
@inline function ldp(p: usize, off: usize): usize {
  return <usize>load<u32>(p + off);
}

/** px[j] = P(W x + bx) for the G*Hp gate rows of direction block `dir`. */
export function inputProjection(desc: usize, dir: usize, x: usize, px: usize): void {
  project(dir + D_WMAT, 0, ld(desc, L_G) * ld(desc, L_HP), x, px);
}

/** inputProjection() of two inputs x0, x1 into px0, px1 (both time steps at once when W is pairable()). */
export function inputProjection2(desc: usize, dir: usize, x0: usize, x1: usize, px0: usize, px1: usize): void {
  const rows = ld(desc, L_G) * ld(desc, L_HP);
  if (pairable(dir + D_WMAT)) {
    projectPair(dir + D_WMAT, rows, x0, x1, px0, px1);
  } else {
    project(dir + D_WMAT, 0, rows, x0, px0);
    project(dir + D_WMAT, 0, rows, x1, px1);
  }
}

/** ph[row0..row0+rows) = P(R v + bh) over those rows. */
@inline function recurrentProjection(dir: usize, row0: i32, rows: i32, v: usize, ph: usize): void {
  project(dir + D_RMAT, row0, rows, v, ph + (<usize>row0 << 2));
}

/**
 * floor((r * p + 2^14) / 2^15) for |r| <= 2^15 and |p| < 2^30 (a requantized part, an LSTM cell) without a
 * 64-bit product: with p = 2^15 * ph + pl (ph = p >> 15, so |ph| <= 2^15; 0 <= pl < 2^15) it is
 * r * ph + ((r * pl + 2^14) >> 15) exactly, both products below 2^30 in magnitude. Equals
 * mulShiftRound(r, p, 15); i32x4.mul and shifts instead of mulShiftRound4's 64-bit lanes and
 * shuffles.
 */
@inline function rMulQ15(r: v128, p: v128): v128 {
  const ph = i32x4.shr_s(p, 15);
  const pl = v128.and(p, i32x4.splat(0x7fff));
  return i32x4.add(i32x4.mul(r, ph), i32x4.shr_s(i32x4.add(i32x4.mul(r, pl), i32x4.splat(16384)), 15));
}

/** Eight gate inputs: clip(sat16(a + b)) from two i32 arrays at element j. */
@inline function gateIn8(a: usize, b: usize, j: i32, clipQ: v128): v128 {
  const o = <usize>j << 2;
  const lo = i32x4.add(v128.load(a + o), v128.load(b + o));
  const hi = i32x4.add(v128.load(a + o, 16), v128.load(b + o, 16));
  const v = i16x8.narrow_i32x4_s(lo, hi);
  return i16x8.max_s(i16x8.min_s(v, clipQ), i16x8.neg(clipQ));
}

@inline function gateIn(a: i32, b: i32, clipQ: i32): i32 {
  return clampi(sat16(a + b), -clipQ, clipQ);
}

/** GRU step. px: i32 [3Hp] input projection; h: i16 [Hp] updated in place. */
export function gruStep(desc: usize, dir: usize, px: usize, h: usize, ph: usize, gate: usize, rh: usize): void {
  const Hp = ld(desc, L_HP);
  const clipQ = ld(desc, L_CLIP);
  const lbr = (ld(desc, L_FLAGS) & FLAG_LBR) != 0;
  recurrentProjection(dir, 0, lbr ? 3 * Hp : 2 * Hp, h, ph);
  if (ASC_FEATURE_SIMD) {
    const cv = i16x8.splat(<i16>clipQ);
    // z by vector lane loads (sigmoid8), r beside it by scalar table loads: the entry of |x|
    // stored at gate, the gate input kept at pre, mirrored where r is used; both kinds of load
    // run side by side. n likewise by scalar loads, mirrored in the update.
    const pre = gate + (<usize>(3 * Hp) << 1);
    for (let j = 0; j < Hp; j += 8) {
      const o = <usize>j << 1;
      v128.store(gate + o, sigmoid8(gateIn8(px, ph, j, cv)));
      const x = gateIn8(px, ph, Hp + j, cv);
      const ro = <usize>(Hp + j) << 1;
      v128.store(pre + ro, x);
      const off = lutOffsets8(x);
      lookupSigmoid4(i64x2.extract_lane(off, 0), gate + ro);
      lookupSigmoid4(i64x2.extract_lane(off, 1), gate + ro + 8);
    }
    const n = gate + (<usize>(2 * Hp) << 1);
    const preN = pre + (<usize>(2 * Hp) << 1);
    if (lbr) {
      for (let j = 0; j < Hp; j += 8) {
        const ro = <usize>(Hp + j) << 1;
        const r = sigmoidMirror8(v128.load(gate + ro), v128.load(pre + ro));
        const o = <usize>(2 * Hp + j) << 2;
        const lo = rMulQ15(i32x4.extend_low_i16x8_s(r), v128.load(ph + o));
        const hi = rMulQ15(i32x4.extend_high_i16x8_s(r), v128.load(ph + o, 16));
        const x = i16x8.max_s(i16x8.min_s(i16x8.narrow_i32x4_s(i32x4.add(v128.load(px + o), lo), i32x4.add(v128.load(px + o, 16), hi)), cv), i16x8.neg(cv));
        const no = <usize>j << 1;
        v128.store(preN + no, x);
        v128.store(n + no, lutOffsets8(x));
      }
    } else {
      for (let j = 0; j < Hp; j += 8) {
        const ro = <usize>(Hp + j) << 1;
        const r = sigmoidMirror8(v128.load(gate + ro), v128.load(pre + ro));
        v128.store(rh + (<usize>j << 1), i16x8.q15mulr_sat_s(r, v128.load(h + (<usize>j << 1))));
      }
      recurrentProjection(dir, 2 * Hp, Hp, rh, ph);
      const px2 = px + (<usize>(2 * Hp) << 2);
      const ph2 = ph + (<usize>(2 * Hp) << 2);
      for (let j = 0; j < Hp; j += 8) {
        const x = gateIn8(px2, ph2, j, cv);
        const no = <usize>j << 1;
        v128.store(preN + no, x);
        v128.store(n + no, lutOffsets8(x));
      }
    }
    lookupRun(n, Hp, true);
    // h' = n + ((z * (h - n) + 2^14) >> 15)
    const half = i32x4.splat(16384);
    for (let j = 0; j < Hp; j += 8) {
      const o = <usize>j << 1;
      const z = v128.load(gate + o);
      const hv = v128.load(h + o);
      const nv = tanhMirror8(v128.load(n + o), v128.load(preN + o));
      const nlo = i32x4.extend_low_i16x8_s(nv);
      const nhi = i32x4.extend_high_i16x8_s(nv);
      const dlo = i32x4.sub(i32x4.extend_low_i16x8_s(hv), nlo);
      const dhi = i32x4.sub(i32x4.extend_high_i16x8_s(hv), nhi);
      const lo = i32x4.add(nlo, i32x4.shr_s(i32x4.add(i32x4.mul(i32x4.extend_low_i16x8_s(z), dlo), half), 15));
      const hi = i32x4.add(nhi, i32x4.shr_s(i32x4.add(i32x4.mul(i32x4.extend_high_i16x8_s(z), dhi), half), 15));
      v128.store(h + o, i16x8.narrow_i32x4_s(lo, hi));
    }
  } else {
    for (let j = 0; j < 2 * Hp; j++) {
      const o = <usize>j << 2;
      store<i16>(gate + (<usize>j << 1), <i16>sigmoidQ15(gateIn(load<i32>(px + o), load<i32>(ph + o), clipQ)));
    }
    const n = gate + (<usize>(2 * Hp) << 1);
    if (lbr) {
      for (let j = 0; j < Hp; j++) {
        const r = <i32>load<i16>(gate + (<usize>(Hp + j) << 1));
        const o = <usize>(2 * Hp + j) << 2;
        const rPart = mulShiftRound(r, load<i32>(ph + o), 15);
        store<i16>(n + (<usize>j << 1), <i16>tanhQ15(gateIn(load<i32>(px + o), rPart, clipQ)));
      }
    } else {
      for (let j = 0; j < Hp; j++) {
        const r = <i32>load<i16>(gate + (<usize>(Hp + j) << 1));
        store<i16>(rh + (<usize>j << 1), <i16>q15mulr(r, <i32>load<i16>(h + (<usize>j << 1))));
      }
      recurrentProjection(dir, 2 * Hp, Hp, rh, ph);
      for (let j = 0; j < Hp; j++) {
        const o = <usize>(2 * Hp + j) << 2;
        store<i16>(n + (<usize>j << 1), <i16>tanhQ15(gateIn(load<i32>(px + o), load<i32>(ph + o), clipQ)));
      }
    }
    for (let j = 0; j < Hp; j++) {
      const o = <usize>j << 1;
      const z = <i32>load<i16>(gate + o);
      const hv = <i32>load<i16>(h + o);
      const nv = <i32>load<i16>(n + o);
      store<i16>(h + o, <i16>(nv + ((z * (hv - nv) + 16384) >> 15)));
    }
  }
}

/** LSTM step. px: i32 [4Hp]; h: i16 [Hp]; c: i32 [Hp] (Q16.15), both updated in place. */
export function lstmStep(desc: usize, dir: usize, px: usize, h: usize, c: usize, ph: usize): void {
  const Hp = ld(desc, L_HP);
  const clipQ = ld(desc, L_CLIP);
  const inputForget = (ld(desc, L_FLAGS) & FLAG_INPUT_FORGET) != 0;
  const mp = ldp(dir, D_MP);
  const ps = ld(dir, D_MPS);
  const pc = ld(dir, D_MPC);
  recurrentProjection(dir, 0, 4 * Hp, h, ph);
  const bo = <usize>Hp << 2; // byte offset of one gate block of i32
  if (ASC_FEATURE_SIMD) {
    const cv = i16x8.splat(<i16>clipQ);
    const ncv = i16x8.neg(cv);
    const pmax = i32x4.splat(PART_MAX);
    const pmin = i32x4.splat(-PART_MAX);
    for (let j = 0; j < Hp; j += 8) {
      const o = <usize>j << 2;
      // Summed projections per gate, two i32x4 halves each. Clamped to ±(2^30 - 1) only where a
      // peephole part is added: narrowing saturates to int16 anyway, inside that range.
      const iLo0 = i32x4.add(v128.load(px + o), v128.load(ph + o));
      const iHi0 = i32x4.add(v128.load(px + o, 16), v128.load(ph + o, 16));
      const oLo0 = i32x4.add(v128.load(px + bo + o), v128.load(ph + bo + o));
      const oHi0 = i32x4.add(v128.load(px + bo + o, 16), v128.load(ph + bo + o, 16));
      const fLo0 = i32x4.add(v128.load(px + 2 * bo + o), v128.load(ph + 2 * bo + o));
      const fHi0 = i32x4.add(v128.load(px + 2 * bo + o, 16), v128.load(ph + 2 * bo + o, 16));
      const gLo = i32x4.add(v128.load(px + 3 * bo + o), v128.load(ph + 3 * bo + o));
      const gHi = i32x4.add(v128.load(px + 3 * bo + o, 16), v128.load(ph + 3 * bo + o, 16));
      const cLo = v128.load(c + o);
      const cHi = v128.load(c + o, 16);
      let iLo = iLo0;
      let iHi = iHi0;
      let fLo = fLo0;
      let fHi = fHi0;
      if (mp != 0) {
        iLo = i32x4.add(i32x4.max_s(i32x4.min_s(iLo, pmax), pmin), requant4(cLo, v128.load(mp + o), ps, pc));
        iHi = i32x4.add(i32x4.max_s(i32x4.min_s(iHi, pmax), pmin), requant4(cHi, v128.load(mp + o, 16), ps, pc));
        fLo = i32x4.add(i32x4.max_s(i32x4.min_s(fLo, pmax), pmin), requant4(cLo, v128.load(mp + 2 * bo + o), ps, pc));
        fHi = i32x4.add(i32x4.max_s(i32x4.min_s(fHi, pmax), pmin), requant4(cHi, v128.load(mp + 2 * bo + o, 16), ps, pc));
      }
      const ig = sigmoid8Split(i16x8.max_s(i16x8.min_s(i16x8.narrow_i32x4_s(iLo, iHi), cv), ncv));
      let fLoQ: v128;
      let fHiQ: v128;
      if (inputForget) {
        fLoQ = i32x4.sub(i32x4.splat(32768), i32x4.extend_low_i16x8_s(ig));
        fHiQ = i32x4.sub(i32x4.splat(32768), i32x4.extend_high_i16x8_s(ig));
      } else {
        const fg = sigmoid8Split(i16x8.max_s(i16x8.min_s(i16x8.narrow_i32x4_s(fLo, fHi), cv), ncv));
        fLoQ = i32x4.extend_low_i16x8_s(fg);
        fHiQ = i32x4.extend_high_i16x8_s(fg);
      }
      const gg = tanh8Split(i16x8.max_s(i16x8.min_s(i16x8.narrow_i32x4_s(gLo, gHi), cv), ncv));
      const igg = i16x8.q15mulr_sat_s(ig, gg);
      const cnLo = i32x4.max_s(i32x4.min_s(i32x4.add(rMulQ15(fLoQ, cLo), i32x4.extend_low_i16x8_s(igg)), pmax), pmin);
      const cnHi = i32x4.max_s(i32x4.min_s(i32x4.add(rMulQ15(fHiQ, cHi), i32x4.extend_high_i16x8_s(igg)), pmax), pmin);
      let oLo = oLo0;
      let oHi = oHi0;
      if (mp != 0) {
        oLo = i32x4.add(i32x4.max_s(i32x4.min_s(oLo, pmax), pmin), requant4(cnLo, v128.load(mp + bo + o), ps, pc));
        oHi = i32x4.add(i32x4.max_s(i32x4.min_s(oHi, pmax), pmin), requant4(cnHi, v128.load(mp + bo + o, 16), ps, pc));
      }
      const og = sigmoid8Split(i16x8.max_s(i16x8.min_s(i16x8.narrow_i32x4_s(oLo, oHi), cv), ncv));
      const four = i32x4.splat(4);
      const cg = i16x8.narrow_i32x4_s(i32x4.shr_s(i32x4.add(cnLo, four), 3), i32x4.shr_s(i32x4.add(cnHi, four), 3));
      v128.store(c + o, cnLo);
      v128.store(c + o, cnHi, 16);
      v128.store(h + (<usize>j << 1), i16x8.q15mulr_sat_s(og, tanh8Split(cg)));
    }
  } else {
    for (let j = 0; j < Hp; j++) {
      const o = <usize>j << 2;
      const cPrev = load<i32>(c + o);
      const preI = clampi(load<i32>(px + o) + load<i32>(ph + o), -PART_MAX, PART_MAX);
      const preO = clampi(load<i32>(px + bo + o) + load<i32>(ph + bo + o), -PART_MAX, PART_MAX);
      const preF = clampi(load<i32>(px + 2 * bo + o) + load<i32>(ph + 2 * bo + o), -PART_MAX, PART_MAX);
      const preC = clampi(load<i32>(px + 3 * bo + o) + load<i32>(ph + 3 * bo + o), -PART_MAX, PART_MAX);
      const peepI = mp != 0 ? requantPart(cPrev, 0, load<i32>(mp + o), ps, pc) : 0;
      const peepF = mp != 0 ? requantPart(cPrev, 0, load<i32>(mp + 2 * bo + o), ps, pc) : 0;
      const i = sigmoidQ15(clampi(sat16(preI + peepI), -clipQ, clipQ));
      const f = inputForget ? 32768 - i : sigmoidQ15(clampi(sat16(preF + peepF), -clipQ, clipQ));
      const g = tanhQ15(clampi(sat16(preC), -clipQ, clipQ));
      const cNew = clampi(mulShiftRound(f, cPrev, 15) + ((i * g + 16384) >> 15), -PART_MAX, PART_MAX);
      const peepO = mp != 0 ? requantPart(cNew, 0, load<i32>(mp + bo + o), ps, pc) : 0;
      const og = sigmoidQ15(clampi(sat16(preO + peepO), -clipQ, clipQ));
      store<i32>(c + o, cNew);
      store<i16>(h + (<usize>j << 1), <i16>q15mulr(og, tanhQ15(cellToGate(cNew))));
    }
  }
}

/** RNN step: h' = tanh(clip(sat16(px + P(R h)))). */
export function rnnStep(desc: usize, dir: usize, px: usize, h: usize, ph: usize): void {
  const Hp = ld(desc, L_HP);
  const clipQ = ld(desc, L_CLIP);
  recurrentProjection(dir, 0, Hp, h, ph);
  if (ASC_FEATURE_SIMD) {
    const cv = i16x8.splat(<i16>clipQ);
    for (let j = 0; j < Hp; j += 8) v128.store(h + (<usize>j << 1), tanh8(gateIn8(px, ph, j, cv)));
  } else {
    for (let j = 0; j < Hp; j++) {
      const o = <usize>j << 2;
      store<i16>(h + (<usize>j << 1), <i16>tanhQ15(gateIn(load<i32>(px + o), load<i32>(ph + o), clipQ)));
    }
  }
}

/**
 * Dense: acc = W x + b. Final layer: acc to y32 (int32). Otherwise requantized to int16 into y16:
 * act none/relu with the output multipliers, sigmoid/tanh through Q3.12. acc: i32 scratch [Op].
 */
export function denseStep(desc: usize, x: usize, y16: usize, y32: usize, acc: usize): void {
  const Op = ld(desc, N_OP);
  if (ld(desc, N_FINAL) != 0) {
    matvecBias(desc + N_MAT, 0, Op, x, y32);
    return;
  }
  const act = ld(desc, N_ACT);
  project(desc + N_MAT, 0, Op, x, acc);
  if (ASC_FEATURE_SIMD) {
    for (let j = 0; j < Op; j += 8) {
      const o = <usize>j << 2;
      let v = i16x8.narrow_i32x4_s(v128.load(acc + o), v128.load(acc + o, 16));
      if (act == 1) v = i16x8.max_s(v, i16x8.splat(0));
      else if (act == 2) v = sigmoid8(v);
      else if (act == 3) v = tanh8(v);
      v128.store(y16 + (<usize>j << 1), v);
    }
  } else {
    for (let j = 0; j < Op; j++) {
      let v = sat16(load<i32>(acc + (<usize>j << 2)));
      if (act == 1) v = max(v, 0);
      else if (act == 2) v = sigmoidQ15(v);
      else if (act == 3) v = tanhQ15(v);
      store<i16>(y16 + (<usize>j << 1), <i16>v);
    }
  }
}
