/**
 * Gradients of every trainable layer against central finite differences (float64 storage), and
 * the float forward against the runtime's float reference (the oracle for exported models).
 */
import { describe, expect, it } from 'vitest';
import { Rng, referenceEngine, type RecurrentKind } from '../../src/index.js';
import { matmulNN, matmulNNRef, matmulNT, matmulNTRef, matmulTN, matmulTNRef } from '../../quantize/nn/matmul.js';
import { Network, type LayerPlan } from '../../quantize/nn/network.js';
import { RecurrentTrainLayer } from '../../quantize/nn/recurrent.js';
import type { Arr } from '../../quantize/nn/tensor.js';
import { randomBatch, sequenceOf, specOf } from './helpers.js';
import { centralDifference } from '../helpers/gradients.js';

/** Relative error tolerated between analytic and finite-difference gradients (float64, eps 1e-6). */
const GRAD_RTOL = 1e-6;
const EPS = 1e-6;
/** Float32 trainer storage vs the runtime's float64 reference. */
const FLOAT_ATOL = 2e-5;

/** L = sum over real steps of c · y (c fixed random), so dL/dy = c on real steps, 0 on padding. */
function lossWeights(rng: Rng, n: number): Float64Array {
  const c = new Float64Array(n);
  for (let i = 0; i < n; i++) c[i] = rng.uniform(-1, 1);
  return c;
}

function maskedDot(y: Arr, c: Float64Array, mask: Uint8Array, O: number): number {
  let s = 0;
  for (let r = 0; r < mask.length; r++) if (mask[r]) for (let j = 0; j < O; j++) s += y[r * O + j]! * c[r * O + j]!;
  return s;
}

function maskedGrad(c: Float64Array, mask: Uint8Array, O: number): Float64Array {
  const g = new Float64Array(c.length);
  for (let r = 0; r < mask.length; r++) if (mask[r]) for (let j = 0; j < O; j++) g[r * O + j] = c[r * O + j]!;
  return g;
}

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-7, Math.abs(a) + Math.abs(b));
}

/** Checks every parameter entry of a network built from `plan` (dropout masks replayed). */
function checkNetworkGradients(plan: LayerPlan[], I: number, lengths: number[], seed: number): number {
  const rng = new Rng(seed);
  let dropRng = new Rng(99);
  const net = new Network(I, plan, 'f64', () => dropRng.next());
  net.init(rng);
  // Random biases too, so no gradient is trivially zero.
  for (const p of net.params()) if (p.kind === 'bias') for (let i = 0; i < p.value.length; i++) p.value[i] = rng.uniform(-0.5, 0.5);
  const { x, shape } = randomBatch(rng, lengths, I);
  const c = lossWeights(rng, shape.T * shape.B * net.outputSize);
  const loss = (): number => {
    dropRng = new Rng(99);
    return maskedDot(net.forward(x, shape, true), c, shape.mask, net.outputSize);
  };
  net.zeroGrad();
  loss();
  net.backward(maskedGrad(c, shape.mask, net.outputSize));
  let worst = 0;
  let checked = 0;
  for (const p of net.params()) {
    for (let i = 0; i < p.value.length; i++) {
      const num = centralDifference(p.value, i, EPS, loss);
      const err = relErr(p.grad[i]!, num);
      if (err > GRAD_RTOL && Math.abs(p.grad[i]! - num) > 1e-9) {
        throw new Error(`${p.name}[${i}]: analytic ${p.grad[i]} vs numeric ${num}`);
      }
      worst = Math.max(worst, Math.abs(p.grad[i]! - num) > 1e-9 ? err : 0);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(20);
  return worst;
}

describe('matmul kernels agree with their naive twins', () => {
  it('NT, NN, TN on odd sizes, with and without accumulation', () => {
    const rng = new Rng(1);
    for (const [M, N, K] of [
      [1, 1, 1],
      [3, 5, 7],
      [8, 12, 16],
      [17, 9, 33],
    ] as const) {
      for (const acc of [false, true]) {
        const A = rng.float32(M * K + M * N + 5);
        const B = rng.float32(N * K + M * K + 5);
        const C0 = rng.float32(Math.max(M * N, M * K, N * K) + 3);
        const kernels = [
          [matmulNT, matmulNTRef, 2, 1],
          [matmulNN, matmulNNRef, 1, 0],
          [matmulTN, matmulTNRef, 0, 2],
        ] as const;
        for (const [fast, ref] of kernels) {
          const c1 = Float64Array.from(C0);
          const c2 = Float64Array.from(C0);
          fast(M, N, K, A, 2, B, 1, c1, 3, acc);
          ref(M, N, K, A, 2, B, 1, c2, 3, acc);
          for (let i = 0; i < c1.length; i++) expect(Math.abs(c1[i]! - c2[i]!)).toBeLessThan(1e-9);
        }
      }
    }
  });
});

describe('gradients match finite differences (float64)', () => {
  const kinds: RecurrentKind[] = ['gru', 'lstm', 'rnn'];
  for (const kind of kinds) {
    for (const bidirectional of [false, true]) {
      it(`${kind}${bidirectional ? ' bidirectional' : ''} with a dense head, variable lengths`, () => {
        checkNetworkGradients([{ kind, hidden: 3, bidirectional }, { kind: 'dense', size: 2, activation: 'none' }], 2, [4, 2, 3], 7);
      });
    }
  }

  it('stacked gru -> dropout -> lstm -> dense(relu) -> dense(sigmoid) -> rnn -> dense(tanh)', () => {
    checkNetworkGradients(
      [
        { kind: 'gru', hidden: 4, bidirectional: true },
        { kind: 'dropout', p: 0.3 },
        { kind: 'lstm', hidden: 3, bidirectional: false },
        { kind: 'dense', size: 5, activation: 'relu' },
        { kind: 'dense', size: 3, activation: 'sigmoid' },
        { kind: 'rnn', hidden: 3, bidirectional: false },
        { kind: 'dense', size: 2, activation: 'tanh' },
      ],
      3,
      [5, 3, 1, 5],
      11,
    );
  });

  for (const kind of ['gru', 'lstm', 'rnn'] as const) {
    it(`${kind}: input gradient and a carried initial state (TBPTT)`, () => {
      const rng = new Rng(3);
      const layer = new RecurrentTrainLayer({ kind, inputSize: 2, hiddenSize: 3, bidirectional: false }, 'f64', 'l');
      for (const p of layer.params()) for (let i = 0; i < p.value.length; i++) p.value[i] = rng.uniform(-0.8, 0.8);
      const B = 2;
      layer.initialState = {
        h: [Float64Array.from({ length: B * 3 }, () => rng.uniform(-0.5, 0.5))],
        c: kind === 'lstm' ? [Float64Array.from({ length: B * 3 }, () => rng.uniform(-0.5, 0.5))] : [],
      };
      const { x, shape } = randomBatch(rng, [3, 2], 2);
      const c = lossWeights(rng, shape.T * B * 3);
      const loss = (): number => maskedDot(layer.forward(x, shape, true), c, shape.mask, 3);
      loss();
      const dx = Float64Array.from(layer.backward(maskedGrad(c, shape.mask, 3)));
      for (let i = 0; i < x.length; i++) {
        if (!shape.mask[Math.floor(i / 2)]) continue;
        expect(relErr(dx[i]!, centralDifference(x, i, EPS, loss))).toBeLessThan(GRAD_RTOL);
      }
    });
  }
});

describe('the float forward equals the runtime float reference of the exported spec', () => {
  for (const kind of ['gru', 'lstm', 'rnn'] as const) {
    it(`${kind} stack (bidirectional below forward), padded batch`, () => {
      const rng = new Rng(5);
      const plan: LayerPlan[] = [
        { kind, hidden: 6, bidirectional: true },
        { kind, hidden: 5, bidirectional: false },
        { kind: 'dense', size: 4, activation: 'tanh' },
        { kind: 'dense', size: 3, activation: 'none' },
      ];
      const net = new Network(3, plan, 'f32');
      net.init(rng);
      for (const p of net.params()) if (p.kind === 'bias') for (let i = 0; i < p.value.length; i++) p.value[i] = rng.uniform(-0.5, 0.5);
      const lengths = [7, 3, 5];
      const { x, shape } = randomBatch(rng, lengths, 3, 'f32', 2);
      const y = net.forward(x, shape, false);
      const engine = referenceEngine(specOf(net));
      lengths.forEach((len, b) => {
        const out = new Float32Array(len * 3);
        engine.run(engine.allocState(), sequenceOf(x, shape, b, len, 3), len, out, 'error');
        for (let t = 0; t < len; t++) for (let j = 0; j < 3; j++) expect(Math.abs(y[(t * shape.B + b) * 3 + j]! - out[t * 3 + j]!)).toBeLessThan(FLOAT_ATOL);
      });
      // And back: fromSpec reproduces the same network.
      const again = Network.fromSpec(specOf(net), 'f32');
      const y2 = again.forward(x, shape, false);
      for (let i = 0; i < y.length; i++) expect(y2[i]).toBe(y[i]);
    });
  }
});
