/**
 * The trainer's math against independent oracles, for what layers.test.ts and train.test.ts do
 * not cover: the losses' gradients (class-weighted cross-entropy at the last step, masked MSE)
 * against finite differences through a whole network, a padded batch against each sequence
 * alone (through makeBatch, all three tasks), Adam over several steps against a hand-written
 * step (bias correction, L2 decay, clipping), the float64 forward with every dense activation
 * against the runtime's float reference at 1e-6, and the ONNX options the backward pass does
 * not model being refused rather than ignored.
 */
import { describe, expect, it } from 'vitest';
import { Rng, referenceEngine, type RecurrentKind } from '../../src/index.js';
import type { Sample } from '../../quantize/data/dataset.js';
import { Network, type LayerPlan } from '../../quantize/nn/network.js';
import { makeParam } from '../../quantize/nn/tensor.js';
import { IDENTITY_NORMALIZATION, makeBatch } from '../../quantize/train/batches.js';
import { classifyLoss, mseLoss } from '../../quantize/train/loss.js';
import { Adam, DEFAULT_OPTIMIZER } from '../../quantize/train/optimizer.js';
import { randomBatch, sequenceOf, specOf } from './helpers.js';
import { centralDifference } from '../helpers/gradients.js';

const KINDS: RecurrentKind[] = ['gru', 'lstm', 'rnn'];
const EPS = 1e-6;

function randomNet(kind: RecurrentKind, I: number, O: number, rng: Rng, bidirectional = true): Network {
  const net = new Network(I, [{ kind, hidden: 3, bidirectional }, { kind: 'dense', size: O, activation: 'none' }], 'f64');
  net.init(rng);
  for (const p of net.params()) if (p.kind === 'bias') for (let i = 0; i < p.value.length; i++) p.value[i] = rng.uniform(-0.5, 0.5);
  return net;
}

describe('loss gradients match finite differences through the network (float64, mixed lengths)', () => {
  const lengths = [4, 2, 3, 1];
  const C = 3;
  for (const kind of KINDS) {
    for (const loss of ['classify', 'mse'] as const) {
      it(`${kind} bidirectional, ${loss === 'classify' ? 'class-weighted cross-entropy at the last step' : 'MSE on real steps'}`, () => {
        const rng = new Rng(7);
        const net = randomNet(kind, 2, C, rng);
        const { x, shape } = randomBatch(rng, lengths, 2);
        const { T, B } = shape;
        const y = Int32Array.from([0, 2, 1, 2]);
        const target = Float64Array.from({ length: T * B * C }, () => rng.uniform(-1, 1));
        // Weight 1 on real steps, except a few real entries at 0 (the autoencoder's missing frames).
        const weight = new Float64Array(T * B * C);
        for (let r = 0; r < T * B; r++) if (shape.mask[r]) for (let j = 0; j < C; j++) weight[r * C + j] = (r + j) % 5 === 0 ? 0 : 1;
        const run = (wantGrad: boolean) => {
          const out = net.forward(x, shape, true);
          return loss === 'classify' ? classifyLoss(out, T, B, C, lengths, y, [0.5, 2, 1.5], 'f64', wantGrad) : mseLoss(out, target, weight, T * B * C, 'f64', wantGrad);
        };
        net.zeroGrad();
        net.backward(run(true).grad);
        let checked = 0;
        for (const p of net.params()) {
          for (let i = 0; i < p.value.length; i++) {
            const num = centralDifference(p.value, i, EPS, () => run(false).loss);
            const a = p.grad[i]!;
            // Relative error, with an absolute floor at the finite differences' rounding noise.
            expect(Math.abs(a - num) / Math.max(Math.abs(a) + Math.abs(num), 1e-7), `${p.name}[${i}]: ${a} vs ${num}`).toBeLessThan(1e-4);
            checked++;
          }
        }
        expect(checked).toBeGreaterThan(50);
      });
    }
  }

  it('cross-entropy is the class-weighted mean Σ w_y (−log p_y) / Σ w_y, finite on saturated logits', () => {
    const C2 = 2;
    // Two sequences of lengths 1 and 2; logits at each last step.
    const out = new Float64Array(2 * 2 * C2);
    out.set([1, -1], (0 * 2 + 0) * C2);
    out.set([800, -800], (1 * 2 + 1) * C2);
    const r = classifyLoss(out, 2, 2, C2, [1, 2], Int32Array.from([0, 1]), [3, 0.25], 'f64');
    const l0 = Math.log(1 + Math.exp(-2));
    expect(r.loss).toBeCloseTo((3 * l0 + 0.25 * 1600) / 3.25, 10);
    expect(r.weight).toBe(3.25);
    for (const g of r.grad) expect(Number.isFinite(g)).toBe(true);
    // Only the last real steps carry a gradient.
    expect(r.grad[(1 * 2 + 0) * C2]).toBe(0);
    expect(r.grad[(0 * 2 + 1) * C2]).toBe(0);
  });
});

describe('a padded batch equals its sequences alone (loss and gradients, through makeBatch)', () => {
  for (const task of ['classify', 'forecast', 'autoencoder'] as const) {
    it(`${task}: bidirectional -> forward stack, lengths 5, 2, 4`, () => {
      for (const kind of KINDS) {
        const rng = new Rng(3);
        const F = 2;
        const window = 3;
        const O = task === 'classify' ? 3 : task === 'forecast' ? 2 : window * F;
        const plan: LayerPlan[] = [
          { kind, hidden: 4, bidirectional: true },
          { kind, hidden: 3, bidirectional: false },
          { kind: 'dense', size: O, activation: 'none' },
        ];
        const net = new Network(F, plan, 'f64');
        net.init(rng);
        for (const p of net.params()) if (p.kind === 'bias') for (let i = 0; i < p.value.length; i++) p.value[i] = rng.uniform(-0.5, 0.5);
        const samples: Sample[] = [5, 2, 4].map((T, i) => ({
          T,
          x: Float32Array.from({ length: T * F }, () => rng.uniform(-1, 1)),
          y: i,
          target: Float32Array.from({ length: T * 2 }, () => rng.uniform(-1, 1)),
          where: `seq ${i}`,
        }));
        const spec = { task, features: F, outputs: O, window, norm: IDENTITY_NORMALIZATION(F, task === 'classify' ? 0 : O), dtype: 'f64' as const };
        const classWeights = [0.5, 2, 1.5];
        const grads = (items: Sample[]) => {
          const b = makeBatch(items, spec);
          net.zeroGrad();
          const out = net.forward(b.x, b.shape, true);
          const { T, B } = b.shape;
          const r = task === 'classify' ? classifyLoss(out, T, B, O, b.lengths, b.y, classWeights, 'f64') : mseLoss(out, b.target!, b.weight!, T * B * O, 'f64');
          net.backward(r.grad);
          return { loss: r.loss, weight: r.weight, g: net.params().map((p) => Float64Array.from(p.grad)) };
        };
        const all = grads(samples);
        const alone = samples.map((s) => grads([s]));
        const sumW = alone.reduce((a, r) => a + r.weight, 0);
        expect(all.weight).toBeCloseTo(sumW, 12);
        expect(all.loss).toBeCloseTo(alone.reduce((a, r) => a + r.loss * r.weight, 0) / sumW, 12);
        all.g.forEach((g, pi) =>
          g.forEach((v, i) => {
            const ref = alone.reduce((a, r) => a + r.g[pi]![i]! * r.weight, 0) / sumW;
            expect(Math.abs(v - ref)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(ref)));
          }),
        );
      }
    });
  }
});

describe('Adam matches a hand-written reference over several steps', () => {
  for (const kind of ['adam', 'adamw'] as const) {
    it(`${kind}: bias correction, weight decay (weights only), global-norm clipping`, () => {
      const w = makeParam('f64', 'w', [1, 3], 'weight');
      const b = makeParam('f64', 'b', [1], 'bias');
      w.value.set([0.3, -0.2, 1]);
      b.value.set([0.7]);
      const wd = 0.1;
      const lr = 0.01;
      const opt = new Adam([w, b], { ...DEFAULT_OPTIMIZER, kind, weightDecay: wd, clipNorm: 0.5 });
      const ref = [0.3, -0.2, 1, 0.7];
      const m = [0, 0, 0, 0];
      const v = [0, 0, 0, 0];
      const steps = [
        [1, 2, -0.5, 0.3],
        [0.1, -0.3, 0.2, 0.05],
        [-0.4, 0, 0.9, -0.2],
        [0.02, 0.01, -0.03, 0],
      ];
      steps.forEach((g, t) => {
        w.grad.set(g.slice(0, 3));
        b.grad.set(g.slice(3));
        const norm = Math.hypot(...g);
        expect(opt.step(lr)).toBeCloseTo(norm, 14);
        const s = norm > 0.5 ? 0.5 / norm : 1;
        for (let i = 0; i < 4; i++) {
          const decay = i < 3 ? wd : 0;
          const gi = g[i]! * s + (kind === 'adam' ? decay * ref[i]! : 0);
          m[i] = 0.9 * m[i]! + 0.1 * gi;
          v[i] = 0.999 * v[i]! + 0.001 * gi * gi;
          const mHat = m[i]! / (1 - 0.9 ** (t + 1));
          const vHat = v[i]! / (1 - 0.999 ** (t + 1));
          ref[i] = ref[i]! - (lr * mHat) / (Math.sqrt(vHat) + 1e-8) - (kind === 'adamw' ? lr * decay * ref[i]! : 0);
        }
        [...w.value, ...b.value].forEach((val, i) => expect(Math.abs(val - ref[i]!)).toBeLessThan(1e-15));
      });
    });
  }
});

describe('float64 forward equals the runtime float reference within 1e-6', () => {
  for (const kind of KINDS) {
    it(`${kind}: bidirectional -> forward -> dense with each activation, padded batch`, () => {
      for (const activation of ['relu', 'sigmoid', 'tanh', 'none'] as const) {
        const rng = new Rng(5);
        const net = new Network(3, [{ kind, hidden: 6, bidirectional: true }, { kind, hidden: 5, bidirectional: false }, { kind: 'dense', size: 4, activation }], 'f64');
        net.init(rng);
        // float32-representable weights and inputs: both sides then compute on the same numbers.
        for (const p of net.params()) for (let i = 0; i < p.value.length; i++) p.value[i] = Math.fround(p.kind === 'bias' ? rng.uniform(-0.5, 0.5) : p.value[i]!);
        const lengths = [7, 3, 5];
        const { x, shape } = randomBatch(rng, lengths, 3, 'f64', 2);
        for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i]!);
        const y = net.forward(x, shape, false);
        const engine = referenceEngine(specOf(net));
        lengths.forEach((len, b) => {
          const out = new Float32Array(len * 4);
          engine.run(engine.allocState(), sequenceOf(x, shape, b, len, 3), len, out, 'error');
          for (let t = 0; t < len; t++) for (let j = 0; j < 4; j++) expect(Math.abs(y[(t * shape.B + b) * 4 + j]! - out[t * 4 + j]!)).toBeLessThan(1e-6);
        });
      }
    });
  }
});

describe('ONNX options the backward pass does not model are refused, not ignored', () => {
  const cases: [RecurrentKind, string, (l: Record<string, unknown> & { float: Record<string, unknown> }) => void][] = [
    ['gru', 'clip', (l) => void (l.clip = 3)],
    ['gru', 'linear_before_reset = 0', (l) => void (l.linearBeforeReset = false)],
    ['lstm', 'peepholes', (l) => void (l.float.P = new Float32Array(9))],
    ['lstm', 'input_forget', (l) => void (l.inputForget = true)],
    ['lstm', 'clip', (l) => void (l.clip = 3)],
    ['rnn', 'non-default activations', (l) => void (l.activations = [{ name: 'Relu' }])],
  ];
  for (const [kind, what, mutate] of cases) {
    it(`${kind} with ${what}`, () => {
      const net = randomNet(kind, 2, 2, new Rng(1), false);
      const spec = specOf(net);
      mutate(spec.layers[0] as unknown as Parameters<typeof mutate>[0]);
      expect(() => Network.fromSpec(spec, 'f64')).toThrow(/UNSUPPORTED_MODEL|uses/);
    });
  }
});
