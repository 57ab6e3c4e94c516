/**
 * The float engine computes in float32 semantics of its inputs, like the integer engines (which
 * stage frames as float32): a Float64Array, a plain array or nested arrays of numbers give
 * exactly what the same values rounded to a Float32Array give.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateAbsMax, createRuntime, defaultActivations, encodeModel, quantizeModel, type ModelSpec, type Runtime } from '../../src/index.js';
import { Rng } from '../../src/util/rng.js';
import { randomFloatModel } from '../helpers/random-model.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Doubles that float32 cannot hold (so rounding them changes the input's last bits). */
function doubles(seed: number, n: number): Float64Array {
  const rng = new Rng(seed);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (rng.next() * 2 - 1) * 3 + rng.next() * 1e-9;
  return x;
}

describe('float engine inputs are float32 (regression: a Float64Array frame was read at full precision)', () => {
  // Seeds with bidirectional/reverse layers (run() only) and without (step() too).
  for (const [seed, offline] of [[3, false], [1011, false], [1005, true], [1009, true]] as const) {
    it(`random ${offline ? 'offline' : 'streaming'} model ${seed}: Float64Array, arrays and Float32Array of the same values agree`, async () => {
      const spec = randomFloatModel(seed, { offline: seed >= 1000 });
      const m = await rt.load(encodeModel(spec), { backend: 'float' });
      expect(m.backend).toBe('float');
      expect(m.streamable).toBe(!offline);
      const I = m.inputSize;
      const T = 40;
      const x64 = doubles(seed, T * I);
      const x32 = Float32Array.from(x64);
      expect(x32.some((v, i) => v !== x64[i])).toBe(true);
      const nested = Array.from({ length: T }, (_, t) => Array.from(x64.subarray(t * I, (t + 1) * I)));
      const want = m.session().run(x32);
      expect(sameBits(m.session().run(x64), want), 'run(Float64Array)').toBe(true);
      expect(sameBits(m.session().run(Array.from(x64)), want), 'run(number[])').toBe(true);
      expect(sameBits(m.session().run(nested), want), 'run(number[][])').toBe(true);
      if (!m.streamable) return;
      const steps = (frame: (t: number) => ArrayLike<number>) => {
        const s = m.session();
        const out = new Float32Array(T * m.outputSize);
        for (let t = 0; t < T; t++) out.set(s.step(frame(t)), t * m.outputSize);
        return out;
      };
      expect(sameBits(steps((t) => x32.subarray(t * I, (t + 1) * I)), want), 'step(Float32Array)').toBe(true);
      expect(sameBits(steps((t) => x64.subarray(t * I, (t + 1) * I)), want), 'step(Float64Array)').toBe(true);
      expect(sameBits(steps((t) => nested[t]!), want), 'step(number[])').toBe(true);
      // Two streams a call: stepMany rounds its frames the same way.
      const a = m.session();
      const b = m.session();
      const many = new Float32Array(T * m.outputSize);
      for (let t = 0; t < T; t++) many.set(m.stepMany([a, b], [...nested[t]!, ...nested[t]!]).subarray(0, m.outputSize), t * m.outputSize);
      expect(sameBits(many, want), 'stepMany(number[])').toBe(true);
      // 'zero' policy: a NaN becomes 0, the other values are still rounded.
      const z = m.session({ nonFinite: 'zero' });
      const frame = Array.from(x64.subarray(0, I));
      frame[0] = NaN;
      const got = z.step(frame).slice();
      const ref = m.session({ nonFinite: 'zero' });
      expect(sameBits(got, ref.step(Float32Array.from(frame))), "step under 'zero'").toBe(true);
    });
  }
});

/**
 * The ONNX equations written out once more, independently of src/runtime/float/cells.ts, for
 * one recurrent layer of any kind and direction (mutation-testing review, 2026-11-27: the float
 * cells were checked only against themselves in this folder; a swapped z, Rbh moved outside
 * r ⊙ (.) or a peephole on the old cell survived here).
 */
type Rec = Extract<ModelSpec['layers'][number], { hiddenSize: number }>;
function oracle(layer: Rec, x: Float32Array, T: number): Float64Array {
  const { kind, hiddenSize: H, inputSize: I } = layer;
  const G = kind === 'gru' ? 3 : kind === 'lstm' ? 4 : 1;
  const D = layer.direction === 'bidirectional' ? 2 : 1;
  const w = layer.float!;
  const clip = (v: number) => (layer.clip === undefined ? v : Math.min(layer.clip, Math.max(-layer.clip, v)));
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out = new Float64Array(T * D * H);
  for (let d = 0; d < D; d++) {
    const Wm = (g: number, j: number, k: number) => w.W[((d * G + g) * H + j) * I + k]!;
    const Rm = (g: number, j: number, k: number) => w.R[((d * G + g) * H + j) * H + k]!;
    const Wb = (g: number, j: number) => (w.B ? w.B[d * 2 * G * H + g * H + j]! : 0);
    const Rb = (g: number, j: number) => (w.B ? w.B[d * 2 * G * H + G * H + g * H + j]! : 0);
    const P = (g: number, j: number) => (w.P ? w.P[d * 3 * H + g * H + j]! : 0);
    let h = Array.from({ length: H }, (_, j) => (w.initialH ? w.initialH[d * H + j]! : 0));
    let c = Array.from({ length: H }, (_, j) => (w.initialC ? w.initialC[d * H + j]! : 0));
    const reverse = d === 1 || layer.direction === 'reverse';
    for (let n = 0; n < T; n++) {
      const t = reverse ? T - 1 - n : n;
      const xt = (k: number) => x[t * I + k]!;
      const wx = (g: number, j: number) => { let s = 0; for (let k = 0; k < I; k++) s += Wm(g, j, k) * xt(k); return s; };
      const rv = (g: number, j: number, v: number[]) => { let s = 0; for (let k = 0; k < H; k++) s += Rm(g, j, k) * v[k]!; return s; };
      const next = new Array<number>(H);
      const nextC = new Array<number>(H);
      for (let j = 0; j < H; j++) {
        if (kind === 'rnn') {
          next[j] = Math.tanh(clip(wx(0, j) + rv(0, j, h) + Wb(0, j) + Rb(0, j)));
        } else if (kind === 'gru') {
          const z = sig(clip(wx(0, j) + rv(0, j, h) + Wb(0, j) + Rb(0, j)));
          const r = (i: number) => sig(clip(wx(1, i) + rv(1, i, h) + Wb(1, i) + Rb(1, i)));
          const cand = layer.linearBeforeReset
            ? wx(2, j) + r(j) * (rv(2, j, h) + Rb(2, j)) + Wb(2, j)
            : wx(2, j) + rv(2, j, h.map((hk, k) => r(k) * hk)) + Rb(2, j) + Wb(2, j);
          next[j] = (1 - z) * Math.tanh(clip(cand)) + z * h[j]!;
        } else {
          const i = sig(clip(wx(0, j) + rv(0, j, h) + P(0, j) * c[j]! + Wb(0, j) + Rb(0, j)));
          const f = layer.inputForget ? 1 - i : sig(clip(wx(2, j) + rv(2, j, h) + P(2, j) * c[j]! + Wb(2, j) + Rb(2, j)));
          const g = Math.tanh(clip(wx(3, j) + rv(3, j, h) + Wb(3, j) + Rb(3, j)));
          nextC[j] = f * c[j]! + i * g;
          const o = sig(clip(wx(1, j) + rv(1, j, h) + P(1, j) * nextC[j]! + Wb(1, j) + Rb(1, j)));
          next[j] = o * Math.tanh(nextC[j]!);
        }
      }
      h = next;
      if (kind === 'lstm') c = nextC;
      for (let j = 0; j < H; j++) out[t * D * H + d * H + j] = h[j]!;
    }
  }
  return out;
}

describe('the float cells follow the ONNX equations (an independent oracle)', () => {
  const I = 3;
  const H = 4;
  const layerOf = (seed: number, kind: Rec['kind'], direction: Rec['direction'], extra: Partial<Rec> = {}, inputs = I): Rec => {
    const rng = new Rng(seed);
    const D = direction === 'bidirectional' ? 2 : 1;
    const G = kind === 'gru' ? 3 : kind === 'lstm' ? 4 : 1;
    const float: NonNullable<Rec['float']> = {
      W: rng.float32(D * G * H * inputs, -1, 1),
      R: rng.float32(D * G * H * H, -1, 1),
      B: rng.float32(D * 2 * G * H, -1, 1),
      initialH: rng.float32(D * H, -0.9, 0.9),
    };
    if (kind === 'lstm') {
      float.P = rng.float32(D * 3 * H, -1.5, 1.5);
      float.initialC = rng.float32(D * H, -2, 2);
    }
    return { kind, inputSize: inputs, hiddenSize: H, direction, activations: defaultActivations(kind, D), float, ...extra };
  };
  const cases: Array<[string, Rec]> = [
    ['gru', layerOf(1, 'gru', 'forward')],
    ['gru linear_before_reset, bidirectional', layerOf(2, 'gru', 'bidirectional', { linearBeforeReset: true })],
    ['gru clip 0.5, reverse', layerOf(3, 'gru', 'reverse', { clip: 0.5 })],
    ['lstm peepholes, bidirectional', layerOf(4, 'lstm', 'bidirectional')],
    ['lstm input_forget, clip 0.8', layerOf(5, 'lstm', 'forward', { inputForget: true, clip: 0.8 })],
    ['rnn bidirectional', layerOf(6, 'rnn', 'bidirectional')],
  ];
  for (const [name, layer] of cases) {
    it(name, async () => {
      const spec: ModelSpec = { name: 'oracle', version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', training: {}, layers: [layer] };
      const T = 6;
      const x = new Rng(99).float32(T * I, -2, 2);
      const want = oracle(layer, x, T);
      const m = await rt.load(encodeModel(spec), { backend: 'float' });
      const got = m.session().run(x);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `output ${i}`).toBeLessThan(1e-6);
      // A second run() gives the same (offline: from the initial state; forward: a new session).
      expect(Array.from(m.session().run(x))).toEqual(Array.from(got));
    });
  }

  it('softmax and logSoftmax heads, written out: exp(logits − max) / sum and logits − log(sum(exp(logits)))', async () => {
    // Logits up to ±40 (exp(40) ~ 2e17): a log-softmax without the max was off by it.
    const O = 4;
    const W = Float32Array.from({ length: O * I }, (_, i) => ((i * 5) % 7) - 3);
    const x = new Rng(3).float32(5 * I, -4, 4);
    const logits = Array.from({ length: 5 }, (_, t) => Array.from({ length: O }, (_, j) => { let s = 0; for (let k = 0; k < I; k++) s += W[j * I + k]! * x[t * I + k]!; return s; }));
    for (const post of ['softmax', 'logSoftmax'] as const) {
      const spec: ModelSpec = { name: 'head', version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', training: {}, layers: [{ kind: 'dense', inputSize: I, outputSize: O, activation: 'none', float: { W } }, { kind: post, size: O }] };
      const got = (await rt.load(encodeModel(spec), { backend: 'float' })).session().run(x);
      logits.forEach((z, t) => {
        const max = Math.max(...z);
        const sum = z.reduce((a, v) => a + Math.exp(v - max), 0);
        z.forEach((v, j) => {
          const want = post === 'softmax' ? Math.exp(v - max) / sum : v - max - Math.log(sum);
          expect(Math.abs(got[t * O + j]! - want), `${post} ${t} ${j}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
        });
      });
    }
  });

  it('run() of a model with a forward layer before a bidirectional one starts from the initial state every time', async () => {
    // The forward layer has state; an offline model must not carry it from one run() to the next.
    const fwd = layerOf(7, 'lstm', 'forward');
    const bi = layerOf(8, 'gru', 'bidirectional', {}, H);
    const spec: ModelSpec = { name: 'mixed', version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', training: {}, layers: [fwd, bi] };
    const x = new Rng(5).float32(5 * I, -2, 2);
    const int8 = quantizeModel(spec, calibrateAbsMax(spec, [x]));
    for (const [s, backend] of [[spec, 'float'], [int8, 'reference'], [int8, 'scalar'], [int8, 'simd']] as const) {
      const session = (await rt.load(encodeModel(s), { backend })).session();
      const first = Array.from(session.run(x));
      expect(Array.from(session.run(x)), backend).toEqual(first);
    }
  });
});
