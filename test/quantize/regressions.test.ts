/**
 * Regression tests of the desktop numerics defect hunt; each failed before its fix:
 *   - QAT keeps a pruned model's zeros (it grew them back);
 *   - non-finite calibration/training data, empty sets, sequences without steps, data of another
 *     width than the model: typed BAD_DATA errors naming where (were NaN ranges, TRAINING_DIVERGED,
 *     or silently misread with the wrong stride); a percentile outside (0, 100] is refused;
 *   - FitResult.bestValLoss is the loss of the restored weights;
 *   - normalization judges constant channels by their values, not by an absolute variance;
 *   - pruning and QAT keep the model's output tail and work on a forecaster without stored
 *     normalization (an ONNX import);
 *   - a one-step pruning ramp reaches its sparsity on schedule.
 */
import { describe, expect, it } from 'vitest';
import { Rng, isEdgeRnnError, isRecurrent, referenceEngine, type ModelSpec } from '../../src/index.js';
import type { Dataset, Sample } from '../../quantize/data/dataset.js';
import { firstStepsTask, sineForecast } from '../../quantize/data/synthetic.js';
import { pruneModel } from '../../quantize/prune/prune-model.js';
import { sparsityAt } from '../../quantize/prune/pruner.js';
import { calibrate, calibrateAndQuantize } from '../../quantize/quant/calibrate.js';
import { quantizationAwareFineTune } from '../../quantize/quant/qat.js';
import { computeNormalization, makeBatch } from '../../quantize/train/batches.js';
import { trainModel } from '../../quantize/train/train-model.js';
import { decodeModel, encodeModel } from '../../src/model/codec.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

function withValue(samples: readonly Sample[], n: number, i: number, v: number, field: 'x' | 'target' = 'x'): Sample[] {
  return samples.map((s, k) => {
    if (k !== n) return s;
    const a = Float32Array.from(s[field]!);
    a[i] = v;
    return { ...s, [field]: a };
  });
}

describe('quantization-aware fine-tuning keeps a pruned model pruned', () => {
  it('the zeros of every pruned matrix stay exact zeros in the float and int8 results', () => {
    const data = firstStepsTask({ count: 40, steps: 8, seed: 1 });
    const spec = trainModel({ data, options: { epochs: 2, hidden: 16 } }).spec;
    const pruned = pruneModel(spec, data, { sparsity: 0.5, epochs: 1, block: null, minWeights: 100 }).spec;
    const zerosOf = (s: ModelSpec): number[] => {
      const l = s.layers[0]!;
      if (!isRecurrent(l) || !l.float) throw new Error('expected a float recurrent layer');
      return [...l.float.R.keys()].filter((i) => l.float!.R[i] === 0);
    };
    const zeros = zerosOf(pruned);
    expect(zeros.length).toBe(384); // half of R [48 x 16]
    // A learning rate that moves every weight well past int8 resolution in a few steps.
    const r = quantizationAwareFineTune(pruned, data, { epochs: 2, lr: 0.02, calibration: { method: 'mse' }, valSplit: 0 });
    // Before the fix: 0 zeros in the float result (every pruned weight grew back).
    expect(zerosOf(r.float)).toEqual(zeros);
    const q = r.int8.layers[0]!;
    if (!isRecurrent(q) || !q.quant) throw new Error('expected an int8 recurrent layer');
    for (const i of zeros) expect(q.quant.Rq[i]).toBe(0);
  });
});

describe('calibration data with NaN or an infinity is a typed error naming where', () => {
  const data = firstStepsTask({ count: 12, steps: 6, seed: 2 });
  const spec = trainModel({ data, options: { epochs: 1, hidden: 3 } }).spec;
  for (const v of [NaN, Infinity, -Infinity]) {
    it(`${v}`, () => {
      // Step 2, feature 1 of the fourth sequence.
      const bad = withValue(data.samples, 3, 2 * 2 + 1, v);
      for (const method of ['minmax', 'percentile', 'mse'] as const) {
        // Before the fix: calibrate returned a NaN/Infinity range and quantizing said
        // UNSUPPORTED_MODEL "input range 1 is NaN" (or went on with an infinite one).
        const e = thrown(() => calibrate(spec, bad, { method }));
        expect(isEdgeRnnError(e, 'BAD_DATA'), String(e)).toBe(true);
        expect((e as Error).message).toContain(`${data.samples[3]!.where}: x[2][1] is ${v}`);
        expect(isEdgeRnnError(thrown(() => calibrateAndQuantize(spec, bad, { method })), 'BAD_DATA')).toBe(true);
      }
      const raw = bad.map((s) => s.x);
      expect((thrown(() => calibrate(spec, raw, { method: 'minmax' })) as Error).message).toContain('calibration sequence 3: x[2][1]');
    });
  }
});

describe('a percentile outside (0, 100] is refused', () => {
  it('0, -1, 150 and NaN (0 took the smallest |x| as the input range)', () => {
    const data = firstStepsTask({ count: 12, steps: 6, seed: 2 });
    const spec = trainModel({ data, options: { epochs: 1, hidden: 3 } }).spec;
    for (const percentile of [0, -1, 150, NaN]) {
      const e = thrown(() => calibrate(spec, data.samples, { method: 'percentile', percentile }));
      expect(isEdgeRnnError(e, 'USAGE'), `${percentile}: ${String(e)}`).toBe(true);
    }
    expect(calibrate(spec, data.samples, { method: 'percentile', percentile: 100 }).ranges.inputAbsMax).toEqual(calibrate(spec, data.samples, { method: 'minmax' }).ranges.inputAbsMax);
  });
});

describe('training on nothing or on non-finite values is a typed error', () => {
  const data = firstStepsTask({ count: 12, steps: 6, seed: 3 });
  const empty: Dataset = { ...data, samples: [] };

  it('an empty training or validation set is BAD_DATA (an empty validation set restored epoch 1)', () => {
    const a = thrown(() => trainModel({ data: empty, options: { epochs: 1, hidden: 2 } }));
    expect(isEdgeRnnError(a, 'BAD_DATA'), String(a)).toBe(true);
    expect((a as Error).message).toMatch(/no training sequences/);
    const b = thrown(() => trainModel({ data, val: empty, options: { epochs: 1, hidden: 2 } }));
    expect(isEdgeRnnError(b, 'BAD_DATA'), String(b)).toBe(true);
    expect((b as Error).message).toMatch(/no validation sequences/);
  });

  it('a sequence without steps is BAD_DATA naming it (it was scored by reading step -1)', () => {
    const samples = data.samples.map((s, i) => (i === 4 ? { ...s, T: 0, x: new Float32Array(0) } : s));
    const e = thrown(() => trainModel({ data: { ...data, samples }, options: { epochs: 1, hidden: 2, valSplit: 0 } }));
    expect(isEdgeRnnError(e, 'BAD_DATA'), String(e)).toBe(true);
    expect((e as Error).message).toContain(`${data.samples[4]!.where}: a sequence with 0 steps`);
  });

  it('NaN in an input or a forecast target names the sequence, step and feature (it was TRAINING_DIVERGED)', () => {
    const e = thrown(() => trainModel({ data: { ...data, samples: withValue(data.samples, 5, 3 * 2, NaN) }, options: { epochs: 1, hidden: 2, valSplit: 0 } }));
    expect(isEdgeRnnError(e, 'BAD_DATA'), String(e)).toBe(true);
    expect((e as Error).message).toContain(`${data.samples[5]!.where}: x[3][0] is NaN`);
    const sine = sineForecast({ count: 8, steps: 6, seed: 4 });
    const f = thrown(() => trainModel({ data: { ...sine, samples: withValue(sine.samples, 1, 4 * sine.targetSize, Infinity, 'target') }, options: { task: 'forecast', epochs: 1, hidden: 2 } }));
    expect(isEdgeRnnError(f, 'BAD_DATA'), String(f)).toBe(true);
    expect((f as Error).message).toContain(`${sine.samples[1]!.where}: target[4][0] is Infinity`);
  });
});

describe('early stopping reports the loss of the weights it restores', () => {
  it('bestValLoss is history[bestEpoch - 1].valLoss, the lowest, and what the restored model scores', () => {
    // Steady small improvements below minDelta × baseline. bestValLoss used to be the running
    // best (0.0152) while the restored weights (epoch 16) scored 0.0389; then (until 2026-11-27)
    // it was epoch 16's loss, but the weights restored were still epoch 16's, not those of the
    // lowest loss (0.0113 at epoch 22): patience now counts by minDelta, the weights kept are the
    // lowest loss's (training-defects.test.ts has the exact rules on scripted losses).
    const data = firstStepsTask({ count: 60, steps: 10, seed: 3 });
    const val = firstStepsTask({ count: 40, steps: 10, seed: 4 });
    const r = trainModel({ data, val, options: { epochs: 25, hidden: 8, patience: 4, lr: 0.03, minDelta: 0.01 } });
    const h = r.fit.history;
    const lowest = Math.min(...h.map((e) => e.valLoss));
    expect(r.fit.stoppedEarly).toBe(true);
    expect(h[r.fit.bestEpoch - 1]!.valLoss).toBe(lowest);
    expect(r.fit.bestValLoss).toBe(lowest);
    expect(r.valLoss).toBeCloseTo(r.fit.bestValLoss, 12);
  });
});

describe('normalization: constant means all values equal, not a variance below 1e-12', () => {
  /** Appends a channel of value c (and an optional tiny variation) to every frame. */
  function withChannel(samples: readonly Sample[], F: number, value: (n: number, t: number) => number): Sample[] {
    return samples.map((s, n) => {
      const x = new Float32Array(s.T * (F + 1));
      for (let t = 0; t < s.T; t++) {
        for (let k = 0; k < F; k++) x[t * (F + 1) + k] = s.x[t * F + k]!;
        x[t * (F + 1) + F] = value(n, t);
      }
      return { ...s, x };
    });
  }

  it('a constant channel of 1000.3 keeps scale 1 (it got std 6.4e-5 from rounding)', () => {
    const data = firstStepsTask({ count: 80, steps: 8, seed: 1 });
    const samples = withChannel(data.samples, 2, () => 1000.3);
    const norm = computeNormalization(samples, 3, 'classify', 0, 1);
    expect(norm.inputStd[2]).toBe(1);
    expect(norm.inputMean[2]).toBe(Math.fround(1000.3));
    // Ordinary channels: the one-pass statistics, bit for bit as before.
    const n = 640;
    for (let k = 0; k < 2; k++) {
      let s = 0;
      let q = 0;
      for (const smp of samples) for (let t = 0; t < smp.T; t++) (s += smp.x[t * 3 + k]!), (q += smp.x[t * 3 + k]! ** 2);
      expect(norm.inputMean[k]).toBe(s / n);
      expect(norm.inputStd[k]).toBe(Math.sqrt(q / n - (s / n) ** 2));
    }
  });

  it('the exported model computes what was trained when a channel is constant', () => {
    const data = firstStepsTask({ count: 40, steps: 8, seed: 1 });
    const d: Dataset = { ...data, features: 3, samples: withChannel(data.samples, 2, () => 1000.3) };
    const r = trainModel({ data: d, options: { epochs: 2, hidden: 8, valSplit: 0 } });
    const b = makeBatch(d.samples, { task: 'classify', features: 3, outputs: 4, window: 1, norm: r.norm, dtype: 'f32' });
    const y = r.net.forward(b.x, b.shape, false);
    const engine = referenceEngine({ ...r.spec, layers: r.spec.layers.filter((l) => l.kind !== 'softmax') });
    let worst = 0;
    d.samples.forEach((s, i) => {
      const out = new Float32Array(s.T * 4);
      engine.run(engine.allocState(), s.x, s.T, out, 'error');
      for (let t = 0; t < s.T; t++) for (let j = 0; j < 4; j++) worst = Math.max(worst, Math.abs(out[t * 4 + j]! - y[(t * b.shape.B + i) * 4 + j]!));
    });
    // Before the fix the fold made W/6.4e-5 and a bias of about -1.6e7·W: logits off by ~0.1-1.
    expect(worst).toBeLessThan(1e-3);
  });

  it('a channel whose spread float32 cannot carry once normalized (1e-38) is BAD_DATA before training (it trained, then overflowed when written)', () => {
    const data = firstStepsTask({ count: 40, steps: 8, seed: 1 });
    const tiny: Dataset = { ...data, features: 3, samples: withChannel(data.samples, 2, (n, t) => ((n * 7 + t * 3) % 5) * 1e-38) };
    expect(thrown(() => trainModel({ data: tiny, options: { epochs: 2, hidden: 4, valSplit: 0 } }))).toMatchObject({ code: 'BAD_DATA', message: expect.stringMatching(/^input feature 2 varies by only [0-9.]+e-3[89] \(standard deviation, at least 1e-30 expected\)/) });
  });

  it('a real channel with std 1.5e-7 is standardized (it got scale 1 and the model stayed at chance)', () => {
    const data = firstStepsTask({ count: 80, steps: 8, seed: 1 });
    const tiny = { ...data, samples: data.samples.map((s) => ({ ...s, x: s.x.map((v) => v * 1e-7) })) };
    const norm = computeNormalization(tiny.samples, 2, 'classify', 0, 1);
    const ref = computeNormalization(data.samples, 2, 'classify', 0, 1);
    for (let k = 0; k < 2; k++) expect(norm.inputStd[k]! / (1e-7 * ref.inputStd[k]!)).toBeCloseTo(1, 6);
    const r = trainModel({ data: tiny, options: { epochs: 15, hidden: 8, valSplit: 0 } });
    expect(r.valAccuracy!).toBeGreaterThan(0.6); // 0.25 (chance) before the fix, 0.875 after
  });

  it('forecast targets: a constant target keeps scale 1, a tiny varying one is standardized', () => {
    const rng = new Rng(2);
    const samples: Sample[] = [6, 5].map((T, i) => ({
      T,
      x: Float32Array.from({ length: T }, () => rng.normal()),
      target: Float32Array.from({ length: 2 * T }, (_, j) => (j % 2 === 0 ? 250.7 : 1e-8 * rng.normal())),
      where: `s${i}`,
    }));
    const norm = computeNormalization(samples, 1, 'forecast', 2, 1);
    expect(norm.outputStd[0]).toBe(1);
    expect(norm.outputStd[1]).toBeGreaterThan(1e-9);
    expect(norm.outputStd[1]).toBeLessThan(1e-7);
  });
});

describe('data of another width than the model is refused, not read with the wrong stride', () => {
  const sine = sineForecast({ count: 12, steps: 6, seed: 5 });
  /** The same series with each target duplicated: two target values per step. */
  const wide: Dataset = { ...sine, targetSize: 2, samples: sine.samples.map((s) => ({ ...s, target: Float32Array.from({ length: 2 * s.T }, (_, i) => s.target![i >> 1]!) })) };
  /** Two features per frame. */
  const twoFeatures: Dataset = { ...sine, features: 2, samples: sine.samples.map((s) => ({ ...s, x: Float32Array.from({ length: 2 * s.T }, (_, i) => s.x[i >> 1]!) })) };
  const spec = trainModel({ data: sine, options: { task: 'forecast', epochs: 1, hidden: 3 } }).spec;
  const expectBadData = (f: () => unknown, re: RegExp) => {
    const e = thrown(f);
    expect(isEdgeRnnError(e, 'BAD_DATA'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(re);
  };

  it('train: a validation set with 2 target values per step for 1 (its val loss was computed on misread targets)', () => {
    expectBadData(() => trainModel({ data: sine, val: wide, options: { task: 'forecast', epochs: 1, hidden: 3 } }), /2 target values per step, the training data has 1/);
  });

  it('prune and QAT: data of another feature or target width than the model', () => {
    expectBadData(() => pruneModel(spec, wide, { sparsity: 0.5, epochs: 1, minWeights: 1 }), /2 target values per step, 'forecast-gru3' predicts 1/);
    expectBadData(() => pruneModel(spec, sine, { sparsity: 0.5, epochs: 1, minWeights: 1 }, twoFeatures), /2 features per frame, 'forecast-gru3' takes 1/);
    expectBadData(() => quantizationAwareFineTune(spec, wide, { epochs: 1, calibration: { method: 'minmax' } }), /2 target values per step/);
  });

  it('a sequence whose frames or targets are shorter than its steps', () => {
    const short = sine.samples.map((s, i) => (i === 2 ? { ...s, target: s.target!.subarray(0, s.T - 1) } : s));
    expectBadData(() => trainModel({ data: { ...sine, samples: short }, options: { task: 'forecast', epochs: 1, hidden: 2 } }), /"target" has 5 values, 6 steps of 1 need 6/);
  });
});

describe('pruning and QAT keep the output tail of the model they start from', () => {
  const data = firstStepsTask({ count: 24, steps: 6, seed: 6 });
  const trained = trainModel({ data, options: { epochs: 1, hidden: 4 } }).spec;
  const tailOf = (s: ModelSpec) => s.layers[s.layers.length - 1]!.kind;

  it('a logSoftmax classifier stays logSoftmax (it became softmax: log-probabilities turned into probabilities)', () => {
    const spec: ModelSpec = { ...trained, layers: trained.layers.map((l) => (l.kind === 'softmax' ? { kind: 'logSoftmax' as const, size: l.size } : l)) };
    expect(tailOf(spec)).toBe('logSoftmax');
    expect(tailOf(pruneModel(spec, data, { sparsity: 0.5, epochs: 1, block: null, minWeights: 1 }).spec)).toBe('logSoftmax');
    const q = quantizationAwareFineTune(spec, data, { epochs: 1, calibration: { method: 'minmax' }, valSplit: 0 });
    expect(tailOf(q.float)).toBe('logSoftmax');
    expect(tailOf(q.int8)).toBe('logSoftmax');
    // The runtime's outputs are log-probabilities: exp sums to 1, every value <= 0.
    const engine = referenceEngine(q.float);
    const s = data.samples[0]!;
    const out = new Float32Array(s.T * 4);
    engine.run(engine.allocState(), s.x, s.T, out, 'error');
    const last = Array.from(out.subarray((s.T - 1) * 4));
    expect(Math.max(...last)).toBeLessThanOrEqual(0);
    expect(last.reduce((a, v) => a + Math.exp(v), 0)).toBeCloseTo(1, 5);
  });

  it('a model without labels read as forecast keeps its softmax tail (it was dropped)', () => {
    const spec: ModelSpec = { ...trained, task: 'custom', labels: [] };
    const sine = { ...data, labels: [], targetSize: 4, samples: data.samples.map((smp) => ({ ...smp, target: new Float32Array(smp.T * 4).fill(0.25) })) };
    expect(tailOf(pruneModel(spec, sine, { sparsity: 0.5, epochs: 1, block: null, minWeights: 1 }).spec)).toBe('softmax');
  });
});

describe('pruning and QAT of a forecaster without stored normalization (an ONNX import)', () => {
  it('trains on raw targets (they were all NaN: TRAINING_DIVERGED in prune, NaN weights in QAT)', () => {
    const sine = sineForecast({ count: 20, steps: 8, seed: 1 });
    const r = trainModel({ data: sine, options: { task: 'forecast', epochs: 2, hidden: 4 } });
    const { normalization: _, ...extra } = r.spec.extra!;
    const imported: ModelSpec = { ...r.spec, extra };
    const p = pruneModel(imported, sine, { sparsity: 0.5, epochs: 1, block: null, minWeights: 1 });
    expect(p.fit.history.every((h) => Number.isFinite(h.valLoss))).toBe(true);
    const q = quantizationAwareFineTune(imported, sine, { epochs: 1, calibration: { method: 'minmax' } });
    expect(q.fit.history.every((h) => Number.isFinite(h.valLoss))).toBe(true);
    // Raw units: the fine-tuned float model forecasts about as well as the one it started from.
    const mse = (spec: ModelSpec) => {
      const engine = referenceEngine(spec);
      let sq = 0;
      let n = 0;
      for (const s of sine.samples) {
        const out = new Float32Array(s.T);
        engine.run(engine.allocState(), s.x, s.T, out, 'error');
        for (let t = 0; t < s.T; t++) (sq += (out[t]! - s.target![t]!) ** 2), n++;
      }
      return sq / n;
    };
    expect(mse(q.float)).toBeLessThan(1.5 * mse(imported));
  });
});

describe('a one-step pruning ramp reaches the final sparsity on schedule', () => {
  it('sparsityAt(t0) is s_f when t0 = t0 + nΔt; one epoch of one batch validates the pruned weights', () => {
    const o = { sparsity: 0.5, initialSparsity: 0.1, beginStep: 0, endStep: 0 };
    expect(sparsityAt(0, o)).toBe(0.5); // was s_i = 0.1
    expect(sparsityAt(-1, { ...o, beginStep: 3, endStep: 3 })).toBe(0);
    expect(sparsityAt(3, { ...o, beginStep: 3, endStep: 3 })).toBe(0.5);
    const data = firstStepsTask({ count: 24, steps: 6, seed: 6 });
    const spec = trainModel({ data, options: { epochs: 1, hidden: 16 } }).spec;
    const r = pruneModel(spec, data, { sparsity: 0.5, epochs: 1, block: null, minWeights: 100 });
    // Before: the epoch trained and validated dense weights (sparsity 0, bestEpoch -1), and the
    // masks were applied afterwards to weights nobody had measured.
    expect(r.fit.history[0]!.note!.sparsity).toBe(0.5);
    expect(r.fit.bestEpoch).toBe(1);
    expect(r.overall).toBeCloseTo(0.5, 12);
  });
});

// The trainer allows patience at Infinity (no early stopping); the manifest recorded them as
// hyperparameters, which the model writer now refuses (JSON wrote null): the model could not be saved.
describe('options the trainer allows as Infinity are recorded in a model that can be written', () => {
  it('patience Infinity (no early stopping)', () => {
    const data = firstStepsTask({ count: 12, steps: 6, seed: 2 });
    const spec = trainModel({ data, options: { epochs: 1, hidden: 3, patience: Infinity } }).spec;
    const back = decodeModel(encodeModel(spec)).spec;
    expect(back.training.hyperparameters).toMatchObject({ patience: 'Infinity', hidden: 3 });
  });
});
