/**
 * Integer reference kernels in TypeScript: the plain twin of the WASM kernels
 * (src/runtime/kernels/assembly). Same prepared arrays, same formulas, same rounding; the
 * kernel suites require the three to agree bit for bit.
 *
 * Notation: P(acc) is requantizePart (clamp, multiply, round-shift) into Q3.12 units;
 * σ, tanh are the fixed-point activations; q15(a, b) = sat16((a*b + 2^14) >> 15).
 */
import {
  PART_LIMIT,
  Q15_ONE,
  cellToGate,
  clampInt,
  dequantizeOutput,
  mulShiftRound,
  q15MulR,
  quantizeInput,
  requantizePart,
  sat16,
  sigmoidQ15,
  tanhQ15,
} from '../fixed-point.js';
import type { PreparedDense, PreparedDirection, PreparedIntModel, PreparedRecurrent } from './prepare.js';

const PART_MAX = PART_LIMIT - 1;

/** 1 / inputScale as float32, padded to a multiple of 4 (the kernels read it in f32x4 blocks). */
export function inverseScalesF32(P: PreparedIntModel): Float32Array {
  const inv = new Float32Array(Math.ceil(P.inputSize / 4) * 4);
  for (let k = 0; k < P.inputSize; k++) inv[k] = P.inputInvScale[k]!;
  return inv;
}

/**
 * Frame quantization, all in float32 arithmetic (Math.fround after each operation, as f32x4
 * does): q[k] = clamp(floor(f32(f32(x[k] * inv[k]) + 0.5)), -32767, 32767).
 * Returns 1 when a value is NaN or ±Infinity (q is then unusable), else 0.
 */
export function quantizeFrameRef(x: Float32Array, xOff: number, inv: Float32Array, n: number, q: Int16Array, qOff: number): number {
  for (let k = 0; k < n; k++) {
    const v = x[xOff + k]!;
    if (!(v - v === 0)) return 1;
    q[qOff + k] = quantizeInput(v, inv[k]!);
  }
  return 0;
}

/** out[outOff + j] = sum_k W[(row0 + j) * cols + k] * x[xOff + k], int32 wrap-around like i32 adds. */
export function matvecRef(W: Int8Array, row0: number, rows: number, cols: number, x: Int16Array, xOff: number, out: Int32Array, outOff: number): void {
  for (let j = 0; j < rows; j++) {
    let acc = 0;
    const base = (row0 + j) * cols;
    for (let k = 0; k < cols; k++) acc = (acc + W[base + k]! * x[xOff + k]!) | 0;
    out[outOff + j] = acc;
  }
}

/**
 * Dequantization in float32 arithmetic, as the kernels do it (f32x4.convert_i32x4_s, f32x4.mul,
 * f32x4.max): out[p] = f32(acc[p]) * scale[p], then max(0, .) for a ReLU head.
 */
export function dequantizeRef(acc: Int32Array, aOff: number, scale: Float32Array, n: number, relu: boolean, out: Float32Array, oOff: number): void {
  for (let p = 0; p < n; p++) out[oOff + p] = dequantizeOutput(acc[aOff + p]!, scale[p]!, relu);
}

/** Scratch for one step of any prepared layer (sized for the largest). */
export interface IntScratch {
  px: Int32Array;
  ph: Int32Array;
  gate: Int32Array;
  rh: Int16Array;
}

export function intScratch(maxRows: number, maxHp: number): IntScratch {
  return { px: new Int32Array(maxRows), ph: new Int32Array(maxRows), gate: new Int32Array(maxRows), rh: new Int16Array(maxHp) };
}

/** Gate input: clip(sat16(a + b)) in Q3.12. */
function gateIn(a: number, b: number, clipQ: number): number {
  return clampInt(sat16(a + b), -clipQ, clipQ);
}

/** px[j] = P(W x + bx) for all G*Hp rows (the input projection). */
export function inputProjectionRef(L: PreparedRecurrent, dir: PreparedDirection, x: Int16Array, xOff: number, px: Int32Array, pxOff: number): void {
  const rows = L.G * L.Hp;
  matvecRef(dir.W, 0, rows, L.Ip, x, xOff, px, pxOff);
  const m = dir.mx;
  for (let j = 0; j < rows; j++) px[pxOff + j] = requantizePart(px[pxOff + j]!, dir.bx[j]!, m.m[j]!, m.shift, m.clamp);
}

/** ph[j] = P(R v + bh) for rows [row0, row0 + rows). */
function recurrentProjectionRef(L: PreparedRecurrent, dir: PreparedDirection, row0: number, rows: number, v: Int16Array, vOff: number, ph: Int32Array): void {
  matvecRef(dir.R, row0, rows, L.Hp, v, vOff, ph, row0);
  const m = dir.mh;
  for (let j = row0; j < row0 + rows; j++) ph[j] = requantizePart(ph[j]!, dir.bh[j]!, m.m[j]!, m.shift, m.clamp);
}

/**
 * GRU step on a precomputed input projection px (gates z, r, n blocks of Hp):
 *   z = σ(px_z + P(Rz h)),  r = σ(px_r + P(Rr h))
 *   lbr=0: n = tanh(px_n + P(Rn q15(r, h)))
 *   lbr=1: n = tanh(px_n + ((r * P(Rn h)) >> 15, rounded))
 *   h' = n + ((z * (h - n)) >> 15, rounded)
 */
export function gruStepRef(L: PreparedRecurrent, dir: PreparedDirection, px: Int32Array, pxOff: number, h: Int16Array, hOff: number, s: IntScratch): void {
  const Hp = L.Hp;
  const { ph, gate, rh } = s;
  recurrentProjectionRef(L, dir, 0, L.linearBeforeReset ? 3 * Hp : 2 * Hp, h, hOff, ph);
  for (let j = 0; j < 2 * Hp; j++) gate[j] = sigmoidQ15(gateIn(px[pxOff + j]!, ph[j]!, L.clipQ));
  if (L.linearBeforeReset) {
    for (let j = 0; j < Hp; j++) {
      const rPart = mulShiftRound(gate[Hp + j]!, ph[2 * Hp + j]!, 15);
      gate[2 * Hp + j] = tanhQ15(gateIn(px[pxOff + 2 * Hp + j]!, rPart, L.clipQ));
    }
  } else {
    for (let j = 0; j < Hp; j++) rh[j] = q15MulR(gate[Hp + j]!, h[hOff + j]!);
    recurrentProjectionRef(L, dir, 2 * Hp, Hp, rh, 0, ph);
    for (let j = 0; j < Hp; j++) gate[2 * Hp + j] = tanhQ15(gateIn(px[pxOff + 2 * Hp + j]!, ph[2 * Hp + j]!, L.clipQ));
  }
  for (let j = 0; j < Hp; j++) {
    const n = gate[2 * Hp + j]!;
    h[hOff + j] = n + ((gate[j]! * (h[hOff + j]! - n) + 16384) >> 15);
  }
}

/**
 * LSTM step (gate blocks i, o, f, c; peephole rows i, o, f):
 *   i = σ(px_i + P(Ri h) + Pp_i(C)),  f = σ(px_f + P(Rf h) + Pp_f(C))  (input_forget: f = 1 - i)
 *   g = tanh(px_c + P(Rc h))
 *   C' = clamp(((f * C) >> 15) + ((i * g) >> 15), ±(2^30 - 1))     (both rounded)
 *   o = σ(px_o + P(Ro h) + Pp_o(C')),  h' = q15(o, tanh(C' / 8))
 * The sum of the two projections is clamped to ±(2^30 - 1) before the peephole term is added.
 */
export function lstmStepRef(
  L: PreparedRecurrent,
  dir: PreparedDirection,
  px: Int32Array,
  pxOff: number,
  h: Int16Array,
  hOff: number,
  c: Int32Array,
  cOff: number,
  s: IntScratch,
): void {
  const Hp = L.Hp;
  const { ph } = s;
  recurrentProjectionRef(L, dir, 0, 4 * Hp, h, hOff, ph);
  const mp = dir.mp;
  const clipQ = L.clipQ;
  for (let j = 0; j < Hp; j++) {
    const cPrev = c[cOff + j]!;
    // Projections summed per gate block (i, o, f, c), clamped so a peephole term can be added.
    const preI = clampInt(px[pxOff + j]! + ph[j]!, -PART_MAX, PART_MAX);
    const preO = clampInt(px[pxOff + Hp + j]! + ph[Hp + j]!, -PART_MAX, PART_MAX);
    const preF = clampInt(px[pxOff + 2 * Hp + j]! + ph[2 * Hp + j]!, -PART_MAX, PART_MAX);
    const preC = clampInt(px[pxOff + 3 * Hp + j]! + ph[3 * Hp + j]!, -PART_MAX, PART_MAX);
    const peepI = mp ? requantizePart(cPrev, 0, mp.m[j]!, mp.shift, mp.clamp) : 0;
    const peepF = mp ? requantizePart(cPrev, 0, mp.m[2 * Hp + j]!, mp.shift, mp.clamp) : 0;
    const i = sigmoidQ15(clampInt(sat16(preI + peepI), -clipQ, clipQ));
    const f = L.inputForget ? Q15_ONE - i : sigmoidQ15(clampInt(sat16(preF + peepF), -clipQ, clipQ));
    const g = tanhQ15(clampInt(sat16(preC), -clipQ, clipQ));
    const cNew = clampInt(mulShiftRound(f, cPrev, 15) + ((i * g + 16384) >> 15), -PART_MAX, PART_MAX);
    const peepO = mp ? requantizePart(cNew, 0, mp.m[Hp + j]!, mp.shift, mp.clamp) : 0;
    const o = sigmoidQ15(clampInt(sat16(preO + peepO), -clipQ, clipQ));
    c[cOff + j] = cNew;
    h[hOff + j] = q15MulR(o, tanhQ15(cellToGate(cNew)));
  }
}

/** RNN step: h' = tanh(px + P(R h)). */
export function rnnStepRef(L: PreparedRecurrent, dir: PreparedDirection, px: Int32Array, pxOff: number, h: Int16Array, hOff: number, s: IntScratch): void {
  const Hp = L.Hp;
  recurrentProjectionRef(L, dir, 0, Hp, h, hOff, s.ph);
  for (let j = 0; j < Hp; j++) h[hOff + j] = tanhQ15(gateIn(px[pxOff + j]!, s.ph[j]!, L.clipQ));
}

/**
 * Dense: acc = W x + b. The final layer writes acc (int32); others requantize to int16:
 * none/relu with the output scale (relu: max(0, .)), sigmoid/tanh through Q3.12.
 */
export function denseRef(L: PreparedDense, x: Int16Array, xOff: number, y16: Int16Array, y16Off: number, y32: Int32Array, y32Off: number, s: IntScratch): void {
  const acc = s.gate;
  matvecRef(L.W, 0, L.Op, L.Ip, x, xOff, acc, 0);
  for (let j = 0; j < L.Op; j++) acc[j] = (acc[j]! + L.b[j]!) | 0;
  if (L.final) {
    for (let j = 0; j < L.Op; j++) y32[y32Off + j] = acc[j]!;
    return;
  }
  const m = L.mo!;
  for (let j = 0; j < L.Op; j++) {
    const v = sat16(requantizePart(acc[j]!, 0, m.m[j]!, m.shift, m.clamp));
    y16[y16Off + j] = L.act === 'relu' ? Math.max(0, v) : L.act === 'sigmoid' ? sigmoidQ15(v) : L.act === 'tanh' ? tanhQ15(v) : v;
  }
}

/** A stream's state as views on its bytes (same layout as the WASM backends). */
export interface RefState {
  bytes: Uint8Array;
  h: (Int16Array | null)[];
  c: (Int32Array | null)[];
}

export function refState(P: PreparedIntModel, bytes: Uint8Array): RefState {
  const h: (Int16Array | null)[] = [];
  const c: (Int32Array | null)[] = [];
  P.layers.forEach((L, li) => {
    const off = P.stateOffsets[li]!;
    if (L.kind === 'dense' || off < 0) {
      h.push(null);
      c.push(null);
      return;
    }
    h.push(new Int16Array(bytes.buffer, bytes.byteOffset + off, L.Hp));
    c.push(L.kind === 'lstm' ? new Int32Array(bytes.buffer, bytes.byteOffset + off + 2 * L.Hp, L.Hp) : null);
  });
  return { bytes, h, c };
}

function maxRows(P: PreparedIntModel): number {
  let m = 8;
  for (const L of P.layers) m = Math.max(m, L.kind === 'dense' ? L.Op : L.G * L.Hp);
  return m;
}

/** The integer reference engine for one prepared model. */
export class IntReference {
  readonly P: PreparedIntModel;
  private readonly s: IntScratch;
  private readonly px: Int32Array;
  private readonly bufs: [Int16Array, Int16Array];

  constructor(P: PreparedIntModel) {
    this.P = P;
    const rows = maxRows(P);
    let widest = P.inputWidth;
    for (const L of P.layers) widest = Math.max(widest, L.outWidth);
    this.s = intScratch(rows, widest);
    this.px = new Int32Array(rows);
    this.bufs = [new Int16Array(widest), new Int16Array(widest)];
  }

  /** One step of every layer. x: int16 [inputWidth]; out: int32 [outputWidth]. */
  step(st: RefState, x: Int16Array, xOff: number, out: Int32Array, outOff: number): void {
    const P = this.P;
    let cur = x;
    let curOff = xOff;
    let buf = 0;
    for (let li = 0; li < P.layers.length; li++) {
      const L = P.layers[li]!;
      if (L.kind === 'dense') {
        const y = this.bufs[buf]!;
        denseRef(L, cur, curOff, y, 0, out, outOff, this.s);
        cur = y;
        curOff = 0;
        buf ^= 1;
        continue;
      }
      const dir = L.directions[0]!;
      const h = st.h[li]!;
      inputProjectionRef(L, dir, cur, curOff, this.px, 0);
      if (L.kind === 'gru') gruStepRef(L, dir, this.px, 0, h, 0, this.s);
      else if (L.kind === 'lstm') lstmStepRef(L, dir, this.px, 0, h, 0, st.c[li]!, 0, this.s);
      else rnnStepRef(L, dir, this.px, 0, h, 0, this.s);
      cur = h;
      curOff = 0;
    }
    const last = P.layers[P.layers.length - 1]!;
    if (last.kind !== 'dense') for (let j = 0; j < P.outputWidth; j++) out[outOff + j] = cur[curOff + j]!;
  }

  /**
   * A whole sequence, layer by layer: x int16 [T][inputWidth] -> out int32 [T][outputWidth].
   * Forward layers continue from (and leave) the stream state; bidirectional and reverse layers
   * start from their initial state and leave no state.
   */
  run(st: RefState, x: Int16Array, T: number, out: Int32Array): void {
    const P = this.P;
    let cur = x;
    let curWidth = P.inputWidth;
    for (let li = 0; li < P.layers.length; li++) {
      const L = P.layers[li]!;
      const next = new Int16Array(T * L.outWidth);
      if (L.kind === 'dense') {
        for (let t = 0; t < T; t++) denseRef(L, cur, t * curWidth, next, t * L.outWidth, out, t * P.outputWidth, this.s);
      } else {
        L.directions.forEach((dir, d) => {
          const reverse = d === 1 || L.direction === 'reverse';
          const h = st.h[li] && d === 0 ? st.h[li]! : Int16Array.from(dir.h0);
          const c = st.c[li] && d === 0 ? st.c[li]! : Int32Array.from(dir.c0);
          for (let n = 0; n < T; n++) {
            const t = reverse ? T - 1 - n : n;
            inputProjectionRef(L, dir, cur, t * curWidth, this.px, 0);
            if (L.kind === 'gru') gruStepRef(L, dir, this.px, 0, h, 0, this.s);
            else if (L.kind === 'lstm') lstmStepRef(L, dir, this.px, 0, h, 0, c, 0, this.s);
            else rnnStepRef(L, dir, this.px, 0, h, 0, this.s);
            next.set(h, t * L.outWidth + d * L.Hp);
          }
        });
      }
      cur = next;
      curWidth = L.outWidth;
    }
    const last = P.layers[P.layers.length - 1]!;
    if (last.kind !== 'dense') for (let i = 0; i < T * P.outputWidth; i++) out[i] = cur[i]!;
  }
}
