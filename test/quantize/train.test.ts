/**
 * The training loop: the hard case with default options, reproducibility, truncated
 * BPTT, class weights.
 */
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.js';
import { firstStepsTask, sineForecast } from '../../quantize/data/synthetic.js';
import { evaluateModel } from '../../quantize/eval/evaluate-model.js';
import { classWeightsFor, DEFAULT_TRAIN_OPTIONS } from '../../quantize/train/trainer.js';
import { trainModel } from '../../quantize/train/train-model.js';

describe('hard case: the class is decided by the first 3 of 40 noisy steps', () => {
  it('reaches ~100% with the default options, through a plateau that would stop naive early stopping', async () => {
    const data = firstStepsTask({ count: 240, seed: 1 });
    const val = firstStepsTask({ count: 200, seed: 2 });
    const r = trainModel({ data, val, options: { task: 'classify', arch: 'gru' } });
    const h = r.fit.history;
    // The plateau: validation loss stays at the class-prior level (ln 4) for several epochs.
    const plateau = h.findIndex((e) => e.valLoss < 0.9 * r.fit.baselineLoss);
    expect(plateau).toBeGreaterThanOrEqual(5);
    // A patience-5 rule on "no new best since epoch 1" would have stopped inside it.
    expect(h.slice(1, 6).every((e) => e.valLoss >= h[0]!.valLoss)).toBe(true);
    expect(r.valAccuracy!).toBeGreaterThanOrEqual(0.98);
    // The exported model (runtime float reference) agrees.
    const e = await evaluateModel(await createRuntime(), r.spec, val, { backend: 'float' });
    expect(e.classification!.accuracy).toBeGreaterThanOrEqual(0.98);
  });
});

describe('training options', () => {
  it('is reproducible: same seed, identical weights; another seed, different weights', () => {
    const data = firstStepsTask({ count: 40, steps: 12, seed: 3, variableLength: true });
    const run = (seed: number) => trainModel({ data, options: { task: 'classify', arch: 'lstm', hidden: 6, epochs: 2, dropout: 0.2, seed } }).spec;
    const a = run(5);
    const b = run(5);
    const c = run(6);
    const w = (s: typeof a) => Array.from((s.layers[0] as { float: { W: Float32Array } }).float.W);
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
  });

  it('truncated BPTT trains a forecaster well below the mean predictor', () => {
    const data = sineForecast({ count: 80, steps: 48, seed: 4 });
    const r = trainModel({ data, options: { task: 'forecast', arch: 'gru', hidden: 12, epochs: 12, tbptt: 12, batchSize: 16 } });
    expect(r.fit.bestValLoss).toBeLessThan(0.25 * r.fit.baselineLoss);
  });

  it('the regression baseline is the mean predictor also without normalization (targets far from 0)', () => {
    const data = sineForecast({ count: 24, steps: 16, seed: 4 });
    for (const s of data.samples) for (let i = 0; i < s.target!.length; i++) s.target![i] = s.target![i]! + 50;
    const targets = data.samples.flatMap((s) => Array.from(s.target!));
    const mean = targets.reduce((a, v) => a + v, 0) / targets.length;
    const variance = targets.reduce((a, v) => a + (v - mean) ** 2, 0) / targets.length;
    const r = trainModel({ data, val: data, options: { task: 'forecast', arch: 'gru', hidden: 4, epochs: 1, normalize: false } });
    // Before: the mean square of the targets, about 2,500, so any model beat "the baseline" at once.
    expect(r.fit.baselineLoss).toBeCloseTo(variance, 3);
  });

  it('rejects --tbptt with bidirectional layers', () => {
    const data = sineForecast({ count: 12, steps: 8, seed: 4 });
    expect(() => trainModel({ data, options: { task: 'forecast', bidirectional: true, tbptt: 4, epochs: 1 } })).toThrow(/--tbptt needs a unidirectional model/);
  });

  it('balanced class weights are N / (C n_c)', () => {
    const data = firstStepsTask({ count: 10, seed: 1 }); // classes 0..3 with 3, 3, 2, 2 samples
    const w = classWeightsFor({ ...DEFAULT_TRAIN_OPTIONS, classWeights: 'balanced' }, data.samples, 4);
    expect(w.map((v) => Number(v.toFixed(4)))).toEqual([0.8333, 0.8333, 1.25, 1.25]);
  });
});

describe('optimizer', () => {
  it('Adam/AdamW first step, global-norm clipping, masks keep pruned weights at zero', async () => {
    const { Adam, DEFAULT_OPTIMIZER } = await import('../../quantize/train/optimizer.js');
    const { makeParam } = await import('../../quantize/nn/tensor.js');
    const w = makeParam('f64', 'w', [1, 2], 'weight');
    const b = makeParam('f64', 'b', [1], 'bias');
    w.value.set([1, -2]);
    b.value.set([0.5]);
    // Gradient (3, 4 | 0): norm 5, clipped to 1 -> (0.6, 0.8 | 0).
    const step = (kind: 'adam' | 'adamw', wd: number) => {
      const ww = makeParam('f64', 'w', [1, 2], 'weight');
      const bb = makeParam('f64', 'b', [1], 'bias');
      ww.value.set(w.value);
      bb.value.set(b.value);
      ww.grad.set([3, 4]);
      const opt = new Adam([ww, bb], { ...DEFAULT_OPTIMIZER, kind, weightDecay: wd, clipNorm: 1 });
      expect(opt.step(0.1)).toBeCloseTo(5, 12);
      return [...ww.value, ...bb.value];
    };
    // First Adam step moves each weight by lr * sign(g) (bias-corrected m/sqrt(v) = ±1).
    const a = step('adam', 0);
    expect(a[0]).toBeCloseTo(0.9, 6);
    expect(a[1]).toBeCloseTo(-2.1, 6);
    expect(a[2]).toBe(0.5);
    // AdamW: decoupled decay lr*wd*w on weights only.
    const aw = step('adamw', 0.5);
    expect(aw[0]).toBeCloseTo(0.9 - 0.1 * 0.5 * 1, 6);
    expect(aw[1]).toBeCloseTo(-2.1 - 0.1 * 0.5 * -2, 6);
    expect(aw[2]).toBe(0.5);
    // A masked weight stays exactly zero whatever its gradient.
    w.mask = Uint8Array.from([0, 1]);
    w.value.set([0, 1]);
    w.grad.set([7, 1]);
    new Adam([w], DEFAULT_OPTIMIZER).step(0.1);
    expect(w.value[0]).toBe(0);
  });
});
