/**
 * The fake-quant forward is the integer kernels: its outputs equal the int8 reference backend's
 * bit for bit, on trained-like random models of every cell kind, stacked and bidirectional.
 */
import { describe, expect, it } from 'vitest';
import { Rng, prepareIntModel, quantizeModel, referenceEngine, type ModelSpec, type RecurrentKind } from '../../src/index.js';
import { Network, type LayerPlan } from '../../quantize/nn/network.js';
import { calibrate } from '../../quantize/quant/calibrate.js';
import { FakeQuantModel } from '../../quantize/quant/fake-quant.js';
import { randomBatch, sequenceOf, specOf } from './helpers.js';

function check(plan: LayerPlan[], I: number, softmax: boolean, seed: number): void {
  const rng = new Rng(seed);
  const net = new Network(I, plan, 'f32');
  net.init(rng);
  for (const p of net.params()) for (let i = 0; i < p.value.length; i++) p.value[i] = p.value[i]! * 1.5 + (p.kind === 'bias' ? rng.uniform(-0.5, 0.5) : 0);
  const lengths = [9, 4, 7, 1];
  const { x, shape } = randomBatch(rng, lengths, I, 'f32', 3);
  const fspec: ModelSpec = specOf(net, 'custom', softmax);
  const seqs = lengths.map((len, b) => sequenceOf(x, shape, b, len, I));
  const q = quantizeModel(fspec, calibrate(fspec, seqs, { method: 'minmax' }).ranges);
  const fq = new FakeQuantModel(q, prepareIntModel(q), null, null);
  const y = fq.forward(x, shape, false);
  const engine = referenceEngine(q);
  const O = net.outputSize;
  let compared = 0;
  lengths.forEach((len, b) => {
    const out = new Float32Array(len * O);
    engine.run(engine.allocState(), seqs[b]!, len, out, 'error');
    const mine = new Float32Array(len * O);
    for (let t = 0; t < len; t++) for (let j = 0; j < O; j++) mine[t * O + j] = y[(t * shape.B + b) * O + j]!;
    if (softmax) {
      // The engine's float tail; the fake-quant forward stops at the logits (the loss applies softmax).
      for (let t = 0; t < len; t++) {
        const row = Float64Array.from(mine.subarray(t * O, (t + 1) * O));
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const s = e.reduce((a, v) => a + v, 0);
        for (let j = 0; j < O; j++) expect(Math.abs(e[j]! / s - out[t * O + j]!)).toBeLessThan(1e-6);
      }
    } else {
      expect(Array.from(mine)).toEqual(Array.from(out));
    }
    compared += len * O;
  });
  expect(compared).toBeGreaterThan(0);
}

describe('fake-quant forward equals the int8 reference backend', () => {
  const kinds: RecurrentKind[] = ['gru', 'lstm', 'rnn'];
  for (const kind of kinds) {
    it(`${kind}: bidirectional -> forward -> dense relu -> dense tanh -> dense (bit-exact outputs)`, () => {
      check(
        [
          { kind, hidden: 5, bidirectional: true },
          { kind, hidden: 9, bidirectional: false },
          { kind: 'dense', size: 6, activation: 'relu' },
          { kind: 'dense', size: 4, activation: 'tanh' },
          { kind: 'dense', size: 3, activation: 'none' },
        ],
        3,
        false,
        21,
      );
    });
    it(`${kind}: classifier with softmax (probabilities equal)`, () => {
      check([{ kind, hidden: 16, bidirectional: false }, { kind: 'dense', size: 4, activation: 'none' }], 2, true, 22);
    });
  }
  it('autoencoder shape: rnn -> dense sigmoid bottleneck -> gru -> dense', () => {
    check(
      [
        { kind: 'rnn', hidden: 8, bidirectional: false },
        { kind: 'dense', size: 3, activation: 'sigmoid' },
        { kind: 'gru', hidden: 8, bidirectional: false },
        { kind: 'dense', size: 6, activation: 'none' },
      ],
      2,
      false,
      23,
    );
  });
});
