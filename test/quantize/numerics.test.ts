/**
 * The trainer's numerics end to end: the learning rate each epoch trains with, Adam/AdamW against
 * PyTorch (numbers from torch.optim, float64), and loss-level gradients (class-weighted softmax
 * cross-entropy, masked MSE) against finite differences with garbage in the padding.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/index.js';
import type { Sample } from '../../quantize/data/dataset.js';
import { Network, type LayerPlan } from '../../quantize/nn/network.js';
import { makeParam } from '../../quantize/nn/tensor.js';
import { IDENTITY_NORMALIZATION } from '../../quantize/train/batches.js';
import { classifyLoss, mseLoss } from '../../quantize/train/loss.js';
import { Adam, DEFAULT_OPTIMIZER } from '../../quantize/train/optimizer.js';
import { DEFAULT_TRAIN_OPTIONS, fit, planFor, type Schedule, type TrainOptions } from '../../quantize/train/trainer.js';
import { randomBatch } from './helpers.js';
import { centralDifference } from '../helpers/gradients.js';

function lrsOf(schedule: Schedule, epochs: number, warmupEpochs: number): number[] {
  const rng = new Rng(5);
  const samples: Sample[] = Array.from({ length: 12 }, (_, i) => {
    const x = new Float32Array(4).map(() => rng.uniform(-1, 1));
    return { x, T: 2, y: i % 2, where: `s${i}` };
  });
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, hidden: 2, epochs, batchSize: 12, schedule, warmupEpochs, patience: Infinity, lr: 0.01, minLrFraction: 0.1 };
  const net = new Network(2, planFor(o, 2, 2), 'f64');
  net.init(new Rng(1));
  const ctx = { task: 'classify' as const, features: 2, outputs: 2, window: 1, norm: IDENTITY_NORMALIZATION(2, 2), classWeights: [1, 1], dtype: 'f64' as const };
  return fit(net, samples, samples, ctx, o).history.map((h) => h.lr);
}

describe('learning-rate schedules, as trained', () => {
  it('cosine without warm-up: lr at epoch e is min + (lr - min)(1 + cos(πe/E))/2 (PyTorch CosineAnnealingLR)', () => {
    const got = lrsOf('cosine', 4, 0);
    const want = [0, 1, 2, 3].map((e) => 0.001 + 0.009 * 0.5 * (1 + Math.cos((Math.PI * e) / 4)));
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 15));
  });

  it('cosine after a warm-up starts at the peak --lr (the decay used to run under the warm-up)', () => {
    // Until 2026-11-27: 0.0033 0.0065 0.0092 0.0076 0.0055 0.0034 — the peak 0.01 never trained.
    const got = lrsOf('cosine', 6, 2);
    const want = [0.01 / 3, 0.02 / 3, ...[0, 1, 2, 3].map((e) => 0.001 + 0.009 * 0.5 * (1 + Math.cos((Math.PI * e) / 4)))];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 15));
    expect(Math.max(...got)).toBeCloseTo(0.01, 15);
  });

  it('constant and plateau warm up linearly to the peak', () => {
    for (const s of ['constant', 'plateau'] as const) expect(lrsOf(s, 4, 1)).toEqual([0.005, 0.01, 0.01, 0.01]);
  });
});

describe('Adam / AdamW against torch.optim (float64, global-norm clip 1, decay 0.1 on weights only)', () => {
  // torch.optim.Adam/AdamW(lr=0.01, betas=(0.9, 0.999), eps=1e-8), the bias in a group without
  // decay, 5 steps of grads w: [0.1(s+1), -0.2, 3], b: [0.05, -0.4s] after clip_grad_norm_(1.0).
  // torch's clip divides by norm + 1e-6, hence 9 digits rather than 15.
  const torch = {
    adam: [0.45007962766073845, -0.9500812247850837, 1.9501183504901005, 0.2501404723716266, -0.16637413283008673],
    adamw: [0.4488928838773956, -0.9452502614661437, 1.9402602443379235, 0.2501404723716266, -0.16637413283008673],
  };
  for (const kind of ['adam', 'adamw'] as const) {
    it(kind, () => {
      const w = makeParam('f64', 'w', [3], 'weight');
      w.value.set([0.5, -1, 2]);
      const b = makeParam('f64', 'b', [2], 'bias');
      b.value.set([0.3, -0.2]);
      const opt = new Adam([w, b], { ...DEFAULT_OPTIMIZER, kind, weightDecay: 0.1, clipNorm: 1 });
      for (let s = 0; s < 5; s++) {
        w.grad.set([0.1 * (s + 1), -0.2, 3]);
        b.grad.set([0.05, -0.4 * s]);
        opt.step(0.01);
      }
      [...w.value, ...b.value].forEach((v, i) => expect(v).toBeCloseTo(torch[kind][i]!, 9));
    });
  }
});

describe('loss gradients through the network match finite differences; padding never leaks', () => {
  const cases: [string, LayerPlan[], number, number[], 'classify' | 'mse'][] = [
    ['gru bidirectional, class-weighted cross-entropy, a length-1 sequence', [{ kind: 'gru', hidden: 3, bidirectional: true }, { kind: 'dense', size: 3, activation: 'none' }], 5, [4, 1, 3], 'classify'],
    ['lstm -> dense(tanh) -> rnn bidirectional, masked MSE', [{ kind: 'lstm', hidden: 3, bidirectional: false }, { kind: 'dense', size: 2, activation: 'tanh' }, { kind: 'rnn', hidden: 3, bidirectional: true }, { kind: 'dense', size: 4, activation: 'none' }], 3, [5, 2, 4], 'mse'],
  ];
  for (const [name, plan, I, lengths, task] of cases) {
    it(name, () => {
      const rng = new Rng(11);
      const net = new Network(I, plan, 'f64');
      net.init(rng);
      for (const p of net.params()) for (let i = 0; i < p.value.length; i++) p.value[i] = p.value[i]! + rng.uniform(-0.3, 0.3);
      const { x, shape } = randomBatch(rng, lengths, I);
      const { T, B, mask } = shape;
      const pad = (v: number): void => {
        for (let r = 0; r < mask.length; r++) if (!mask[r]) for (let k = 0; k < I; k++) x[r * I + k] = v;
      };
      pad(100);
      const O = net.outputSize;
      const y = Int32Array.from(lengths, (_, b) => b % O);
      const cw = Array.from({ length: O }, (_, c) => 0.5 + c);
      const target = new Float64Array(T * B * O).map(() => rng.uniform(-1, 1));
      const weight = new Float64Array(T * B * O).map((_, i) => (mask[Math.floor(i / O)] && i % 3 !== 0 ? 1 : 0));
      const loss = (g: boolean) => {
        const out = net.forward(x, shape, true);
        return task === 'classify' ? classifyLoss(out, T, B, O, lengths, y, cw, 'f64', g) : mseLoss(out, target, weight, T * B * O, 'f64', g);
      };
      net.zeroGrad();
      const l0 = loss(true);
      net.backward(l0.grad);
      const eps = 1e-6;
      for (const p of net.params()) {
        for (let i = 0; i < p.value.length; i++) {
          // Central differences at eps 1e-6 are good to ~1e-10 absolute here.
          expect(Math.abs(p.grad[i]! - centralDifference(p.value, i, eps, () => loss(false).loss)), `${p.name}[${i}]`).toBeLessThan(1e-9);
        }
      }
      pad(-7);
      expect(loss(false).loss).toBe(l0.loss);
    });
  }
});

describe('training accuracy with a class weighted 0', () => {
  it('counts every sequence, as validation does (same weights, same data: the same accuracy)', () => {
    const samples: Sample[] = Array.from({ length: 8 }, (_, i) => ({ x: new Float32Array([i % 2 ? 1 : -1]), T: 1, y: i % 2, where: `s${i}` }));
    // lr 0: the weights stay as set, predicting class 0 for everything (right on half the data).
    const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, hidden: 2, epochs: 1, batchSize: 1, lr: 0, patience: Infinity };
    const net = new Network(1, planFor(o, 1, 2), 'f64');
    net.init(new Rng(1));
    net.params().at(-1)!.value.set([5, -5]);
    const ctx = { task: 'classify' as const, features: 1, outputs: 2, window: 1, norm: IDENTITY_NORMALIZATION(1, 2), classWeights: [0, 1], dtype: 'f64' as const };
    const h = fit(net, samples, samples, ctx, o).history[0]!;
    // Until 2026-11-27 batches whose classes all weigh 0 were skipped before counting: 0 vs 0.5.
    expect([h.trainAccuracy, h.valAccuracy]).toEqual([0.5, 0.5]);
  });
});
