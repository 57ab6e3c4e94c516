/**
 * Float reference cells with ONNX operator semantics: the oracle every other path is checked
 * against. Plain loops in float64 over float32 weights; no cleverness.
 *
 * One call is one time step of one direction. State arrays are updated in place.
 */
import { activationFn, type ScalarFn } from './activations.js';
import { GATES, numDirections, type RecurrentLayer } from '../../model/spec.js';

/** One direction of a recurrent layer with its weights as views (no copies). */
export interface FloatDirection {
  kind: RecurrentLayer['kind'];
  inputSize: number;
  hiddenSize: number;
  /** [gates*H][I] */
  W: Float32Array;
  /** [gates*H][H] */
  R: Float32Array;
  /** [gates*H] each, zeros when the layer has no bias. */
  Wb: Float32Array;
  Rb: Float32Array;
  /** LSTM peepholes [3H] (i, o, f) or null. */
  P: Float32Array | null;
  f: ScalarFn;
  g: ScalarFn;
  h: ScalarFn;
  /** Gate pre-activations are clamped to [-clip, clip]; Infinity when unset. */
  clip: number;
  linearBeforeReset: boolean;
  inputForget: boolean;
}

/** Splits a float layer into its directions. */
export function floatDirections(layer: RecurrentLayer): FloatDirection[] {
  const w = layer.float;
  if (w === undefined) throw new Error(`layer ${layer.kind} has no float weights`);
  const H = layer.hiddenSize;
  const I = layer.inputSize;
  const G = GATES[layer.kind];
  const perDir = layer.kind === 'rnn' ? 1 : layer.kind === 'gru' ? 2 : 3;
  const out: FloatDirection[] = [];
  for (let d = 0; d < numDirections(layer); d++) {
    const acts = layer.activations.slice(d * perDir, (d + 1) * perDir).map(activationFn);
    const zeros = new Float32Array(G * H);
    out.push({
      kind: layer.kind,
      inputSize: I,
      hiddenSize: H,
      W: w.W.subarray(d * G * H * I, (d + 1) * G * H * I),
      R: w.R.subarray(d * G * H * H, (d + 1) * G * H * H),
      Wb: w.B ? w.B.subarray(d * 2 * G * H, d * 2 * G * H + G * H) : zeros,
      Rb: w.B ? w.B.subarray(d * 2 * G * H + G * H, (d + 1) * 2 * G * H) : zeros,
      P: layer.kind === 'lstm' && w.P ? w.P.subarray(d * 3 * H, (d + 1) * 3 * H) : null,
      f: acts[0]!,
      g: acts[1] ?? acts[0]!,
      h: acts[2] ?? acts[0]!,
      clip: layer.clip ?? Infinity,
      linearBeforeReset: layer.linearBeforeReset ?? false,
      inputForget: layer.inputForget ?? false,
    });
  }
  return out;
}

/** out[j] = sum_k M[(row0 + j) * cols + k] * v[vOff + k] for j < rows. */
function matvec(out: Float64Array, M: Float32Array, row0: number, rows: number, cols: number, v: ArrayLike<number>, vOff: number): void {
  for (let j = 0; j < rows; j++) {
    let acc = 0;
    const base = (row0 + j) * cols;
    for (let k = 0; k < cols; k++) acc += M[base + k]! * v[vOff + k]!;
    out[j] = acc;
  }
}

function clip(v: number, c: number): number {
  return v > c ? c : v < -c ? -c : v;
}

/** Scratch for one step of any cell: 8 blocks of H (LSTM uses them all). */
export function floatScratch(hiddenSize: number): Float64Array {
  return new Float64Array(8 * hiddenSize);
}

/**
 * ONNX GRU, gates z, r, h:
 *   z = f(Wz x + Rz h + Wbz + Rbz)
 *   r = f(Wr x + Rr h + Wbr + Rbr)
 *   linear_before_reset = 0:  n = g(Wh x + Rh (r ⊙ h) + Rbh + Wbh)
 *   linear_before_reset = 1:  n = g(Wh x + r ⊙ (Rh h + Rbh) + Wbh)
 *   h' = (1 - z) ⊙ n + z ⊙ h
 */
export function gruStepFloat(c: FloatDirection, x: ArrayLike<number>, xOff: number, h: Float64Array, s: Float64Array): void {
  const H = c.hiddenSize;
  const I = c.inputSize;
  const xs = s.subarray(0, 3 * H); // W x for all gates
  const hs = s.subarray(3 * H, 5 * H); // R h for z, r
  const t = s.subarray(5 * H, 6 * H);
  matvec(xs, c.W, 0, 3 * H, I, x, xOff);
  matvec(hs, c.R, 0, 2 * H, H, h, 0);
  // Gates z (stored in hs[0..H)) and r (hs[H..2H)).
  for (let j = 0; j < 2 * H; j++) hs[j] = c.f(clip(xs[j]! + hs[j]! + c.Wb[j]! + c.Rb[j]!, c.clip));
  // Candidate n (stored in xs[2H..3H)).
  if (c.linearBeforeReset) {
    matvec(t, c.R, 2 * H, H, H, h, 0);
    for (let j = 0; j < H; j++) {
      const pre = xs[2 * H + j]! + hs[H + j]! * (t[j]! + c.Rb[2 * H + j]!) + c.Wb[2 * H + j]!;
      xs[2 * H + j] = c.g(clip(pre, c.clip));
    }
  } else {
    const rh = s.subarray(6 * H, 7 * H);
    for (let j = 0; j < H; j++) rh[j] = hs[H + j]! * h[j]!;
    matvec(t, c.R, 2 * H, H, H, rh, 0);
    for (let j = 0; j < H; j++) {
      const pre = xs[2 * H + j]! + t[j]! + c.Rb[2 * H + j]! + c.Wb[2 * H + j]!;
      xs[2 * H + j] = c.g(clip(pre, c.clip));
    }
  }
  // Hidden update.
  for (let j = 0; j < H; j++) {
    const z = hs[j]!;
    h[j] = (1 - z) * xs[2 * H + j]! + z * h[j]!;
  }
}

/**
 * ONNX LSTM, gates i, o, f, c (peepholes i, o, f):
 *   i = f(Wi x + Ri h + Pi ⊙ C + Wbi + Rbi)
 *   f = f(Wf x + Rf h + Pf ⊙ C + Wbf + Rbf)      input_forget: f = 1 - i
 *   g = g(Wc x + Rc h + Wbc + Rbc)
 *   C' = f ⊙ C + i ⊙ g
 *   o = f(Wo x + Ro h + Po ⊙ C' + Wbo + Rbo)
 *   h' = o ⊙ h(C')
 */
export function lstmStepFloat(c: FloatDirection, x: ArrayLike<number>, xOff: number, h: Float64Array, cell: Float64Array, s: Float64Array): void {
  const H = c.hiddenSize;
  const xs = s.subarray(0, 4 * H);
  const hs = s.subarray(4 * H, 8 * H);
  matvec(xs, c.W, 0, 4 * H, c.inputSize, x, xOff);
  matvec(hs, c.R, 0, 4 * H, H, h, 0);
  const P = c.P;
  // Pre-activations without the peephole terms, gate blocks i, o, f, c.
  for (let k = 0; k < 4 * H; k++) xs[k] = xs[k]! + hs[k]! + c.Wb[k]! + c.Rb[k]!;
  for (let j = 0; j < H; j++) {
    const cPrev = cell[j]!;
    const i = c.f(clip(xs[j]! + (P ? P[j]! * cPrev : 0), c.clip));
    const f = c.inputForget ? 1 - i : c.f(clip(xs[2 * H + j]! + (P ? P[2 * H + j]! * cPrev : 0), c.clip));
    const g = c.g(clip(xs[3 * H + j]!, c.clip));
    const cNew = f * cPrev + i * g;
    const o = c.f(clip(xs[H + j]! + (P ? P[H + j]! * cNew : 0), c.clip));
    cell[j] = cNew;
    h[j] = o * c.h(cNew);
  }
}

/** ONNX RNN: h' = f(Wi x + Ri h + Wbi + Rbi). */
export function rnnStepFloat(c: FloatDirection, x: ArrayLike<number>, xOff: number, h: Float64Array, s: Float64Array): void {
  const H = c.hiddenSize;
  const xs = s.subarray(0, H);
  const hs = s.subarray(H, 2 * H);
  matvec(xs, c.W, 0, H, c.inputSize, x, xOff);
  matvec(hs, c.R, 0, H, H, h, 0);
  for (let j = 0; j < H; j++) h[j] = c.f(clip(xs[j]! + hs[j]! + c.Wb[j]! + c.Rb[j]!, c.clip));
}

/** Dense: y = act(W x + b), W [out][in]. */
export function denseFloat(
  W: Float32Array,
  B: Float32Array | undefined,
  inputSize: number,
  outputSize: number,
  activation: 'none' | 'relu' | 'sigmoid' | 'tanh',
  x: ArrayLike<number>,
  xOff: number,
  y: Float64Array,
  yOff: number,
): void {
  for (let j = 0; j < outputSize; j++) {
    let acc = B ? B[j]! : 0;
    for (let k = 0; k < inputSize; k++) acc += W[j * inputSize + k]! * x[xOff + k]!;
    y[yOff + j] =
      activation === 'relu' ? Math.max(0, acc) : activation === 'sigmoid' ? 1 / (1 + Math.exp(-acc)) : activation === 'tanh' ? Math.tanh(acc) : acc;
  }
}
