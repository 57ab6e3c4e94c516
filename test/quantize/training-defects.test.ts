/**
 * Defects of the training loop found by the 2026-11-27 hunt, each named after what broke:
 * divergence that went unnoticed, early stopping that restored the wrong epoch, class weights
 * and data that trained nothing, and a report that printed 0 for undefined per-class metrics.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EdgeRnnError, Rng } from '../../src/index.js';
import type { Dataset } from '../../quantize/data/dataset.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { firstStepsTask, sineForecast, toJsonl } from '../../quantize/data/synthetic.js';
import type { ModelEvaluation } from '../../quantize/eval/evaluate-model.js';
import { classificationReport } from '../../quantize/eval/metrics.js';
import { Network } from '../../quantize/nn/network.js';
import { makeParam } from '../../quantize/nn/tensor.js';
import { writeRunReport } from '../../quantize/report/run-report.js';
import { Adam, DEFAULT_OPTIMIZER } from '../../quantize/train/optimizer.js';
import { trainModel } from '../../quantize/train/train-model.js';
import { runCaptured } from '../helpers/cli.js';
import { specOf } from './helpers.js';

function thrown(f: () => unknown): EdgeRnnError {
  try {
    f();
  } catch (e) {
    if (e instanceof EdgeRnnError) return e;
    throw e;
  }
  throw new Error('expected an EdgeRnnError, nothing was thrown');
}

function nonFiniteWeights(spec: { layers: readonly unknown[] }): number {
  let bad = 0;
  for (const l of spec.layers as { float?: Record<string, Float32Array> }[]) {
    for (const a of Object.values(l.float ?? {})) for (const v of a) if (!Number.isFinite(v)) bad++;
  }
  return bad;
}

describe('divergence is TRAINING_DIVERGED naming the epoch and batch, never a model with NaN weights', () => {
  it('a forecaster at lr 1e10 (NaN weights behind a relu layer kept the validation loss finite: the NaN model was returned as the best)', () => {
    const data = sineForecast({ count: 20, steps: 8, seed: 4 });
    const e = thrown(() => {
      const r = trainModel({ data, options: { task: 'forecast', arch: 'gru', hidden: 4, denseHidden: [8], epochs: 3, lr: 1e10 } });
      // What the defect returned: a "best" model whose weights are NaN.
      return nonFiniteWeights(r.spec);
    });
    expect(e.code).toBe('TRAINING_DIVERGED');
    expect(e.message).toMatch(/at epoch \d+, batch \d+ of \d+/);
    expect(e.details).toMatchObject({ epoch: expect.any(Number), batch: expect.any(Number) });
  });

  it('Adam leaves the weights untouched when the gradient is not finite', () => {
    const w = makeParam('f64', 'w', [1, 2], 'weight');
    w.value.set([0.5, -1]);
    w.grad.set([NaN, 1]);
    const opt = new Adam([w], DEFAULT_OPTIMIZER);
    expect(opt.step(0.1)).toBeNaN();
    expect([...w.value]).toEqual([0.5, -1]);
  });
});

/**
 * A forecaster whose validation loss is scripted per epoch: normalize off, targets 0, 2, 0, 2 in
 * every sequence (mean 1 everywhere, so the mean predictor's loss, the baseline, is exactly 1),
 * and in evaluation the output is the target + sqrt(L), giving a validation MSE of L. Training
 * itself runs the network as usual, so every epoch's weights differ.
 */
function scriptedRun(script: readonly number[], patience: number, schedule: 'plateau' | 'constant' = 'constant', minLrFraction = 0.05) {
  const samples = Array.from({ length: 6 }, (_, i) => ({ x: Float32Array.from({ length: 4 }, (_, k) => Math.sin(i + k)), T: 4, target: Float32Array.from({ length: 4 }, (_, k) => 2 * (k % 2)), where: `s${i}` }));
  const data: Dataset = { source: 'scripted', sha256: '0'.repeat(64), features: 1, labels: [], targetSize: 1, samples };
  let evals = 0;
  let net: Network | null = null;
  const snapshots: number[][] = [];
  const r = trainModel({
    data,
    options: { task: 'forecast', normalize: false, hidden: 2, epochs: script.length, patience, schedule, minLrFraction, lr: 0.01, seed: 3 },
    hooks: {
      forward: (n, b, train) => {
        net = n;
        const out = n.forward(b.x, b.shape, train);
        if (!train) {
          const d = Math.sqrt(script[evals++]!);
          b.target!.forEach((t, k) => (out[k] = t + d));
        }
        return out;
      },
      onEpoch: () => snapshots.push(net!.params().flatMap((p) => Array.from(p.value))),
    },
  });
  const final = r.net.params().flatMap((p) => Array.from(p.value));
  const restored = snapshots.map((s, i) => (s.every((v, k) => v === final[k]) ? i + 1 : 0)).filter((e) => e > 0);
  return { fit: r.fit, restored };
}

describe('early stopping restores the epoch with the lowest validation loss', () => {
  it('a loss a little below the best (less than minDelta) is restored, though it does not reset patience', () => {
    // Epoch 3 is the lowest, by less than minDelta: patience counts from epoch 2, stops after 5.
    const { fit, restored } = scriptedRun([2, 0.8, 0.7995, 0.8, 0.8, 0.8, 0.8, 0.8], 3);
    expect(fit.epochsRun).toBe(5);
    expect(fit.stoppedEarly).toBe(true);
    expect(fit.bestEpoch).toBe(3);
    expect(restored).toEqual([3]);
    expect(fit.bestValLoss).toBeCloseTo(0.7995, 6);
  });

  it('a slow steady descent counts against the loss at the last improvement: it is not stopped as a stall', () => {
    // 0.0006 per epoch, below minDelta (0.001) per epoch but past it every second epoch. It was
    // stopped at epoch 9 with epoch 3's weights restored (each new low became the bar).
    const script = [2, 0.9, 0.8, ...Array.from({ length: 10 }, (_, k) => 0.8 - 0.0006 * (k + 1))];
    const { fit, restored } = scriptedRun(script, 3);
    expect(fit.stoppedEarly).toBe(false);
    expect(fit.epochsRun).toBe(script.length);
    expect(fit.bestEpoch).toBe(script.length);
    expect(restored).toEqual([script.length]);
  });

  it('patience running out at the last epoch is no early stop: every epoch asked for ran', () => {
    // Epochs 3, 4 and 5 are stale: patience 3 runs out at epoch 5 of 5. It said stoppedEarly, and
    // `edgernn train` printed "(early stop)" for a run that did all of --epochs.
    const { fit } = scriptedRun([2, 0.8, 0.8, 0.8, 0.8], 3);
    expect(fit.epochsRun).toBe(5);
    expect(fit.stoppedEarly).toBe(false);
  });

  it('plateau: the rate halves after max(3, floor(patience / 3)) epochs without improvement, patience stops at patience', () => {
    const { fit } = scriptedRun([2, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8], 6, 'plateau');
    expect(fit.history.map((h) => h.lr)).toEqual([0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005]);
    expect(fit.epochsRun).toBe(9);
    expect(fit.bestEpoch).toBe(3);
    // patience 15: a cut every 5 stale epochs, floored at minLrFraction of the rate.
    const long = scriptedRun([2, 0.9, 0.8, ...Array<number>(20).fill(0.8)], 15, 'plateau', 0.3).fit;
    expect(long.history.map((h) => h.lr)).toEqual([...Array<number>(8).fill(0.01), ...Array<number>(5).fill(0.005), ...Array<number>(5).fill(0.003)]);
    expect(long.epochsRun).toBe(18);
  });
});

describe('class weights and data that train nothing are refused', () => {
  const data = firstStepsTask({ count: 20, steps: 6, seed: 1 });
  const opts = { hidden: 4, epochs: 2 };
  it('all-zero, negative or non-finite class weights are USAGE errors (all zeros trained nothing: loss 0 at every epoch; NaN gave NaN weights)', () => {
    for (const classWeights of [[0, 0, 0, 0], [-1, 1, 1, 1], [NaN, 1, 1, 1], [Infinity, 1, 1, 1]]) {
      const e = thrown(() => trainModel({ data, options: { ...opts, classWeights } }));
      expect(e.code, String(classWeights)).toBe('USAGE');
      expect(e.message).toMatch(/--class-weights/);
    }
    // Zero for some classes is allowed (they then carry no loss).
    expect(trainModel({ data, options: { ...opts, classWeights: [0, 1, 1, 1] } }).fit.epochsRun).toBe(2);
  });

  it("train --class-weights with an empty entry is a usage error (Number('') is 0: '1,,1,1' gave class 1 weight 0)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-cw-'));
    try {
      fs.writeFileSync(path.join(dir, 't.jsonl'), toJsonl(data));
      for (const cw of ['1,,1,1', '1, ,1,1', '1,0x1,1,1']) {
        const r = await runCaptured(['train', '--data', 't.jsonl', '--hidden', '2', '--epochs', '1', '--class-weights', cw, '-o', 'm.ern'], desktopCommands, dir);
        expect(r.code, cw).toBe(2);
        expect(r.err).toMatch(/--class-weights must be none, balanced or a comma list of weights >= 0/);
      }
      expect(fs.existsSync(path.join(dir, 'm.ern'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a classifier of one class is BAD_DATA (it trained every epoch at loss 0 and scored 100%)', () => {
    const one: Dataset = { ...data, labels: ['only'], samples: data.samples.map((s) => ({ ...s, y: 0 })) };
    const e = thrown(() => trainModel({ data: one, options: opts }));
    expect(e.code).toBe('BAD_DATA');
    expect(e.message).toMatch(/2 classes.*'only'/);
  });
});

describe('the report shows undefined per-class metrics as the eval table does', () => {
  it("'-' for the recall of a class without validation samples and the precision of a class never predicted, not 0.000", async () => {
    const net = new Network(2, [{ kind: 'gru', hidden: 3, bidirectional: false }, { kind: 'dense', size: 3, activation: 'none' }], 'f32');
    net.init(new Rng(1));
    const spec = { ...specOf(net, 'classify', true), labels: ['a', 'b', 'c'] };
    // Truth a, a, b; predicted a, b, b: class c has no samples and is never predicted.
    const classification = classificationReport(spec.labels, [0, 0, 1], [0, 1, 1]);
    const e: ModelEvaluation = { task: 'classify', precision: 'float32', backend: 'float', samples: 3, classification };
    const html = await writeRunReport({ title: 't', spec, evaluations: { float: e } });
    const row = (label: string): string[] => {
      const m = new RegExp(`<tr><th>${label}</th>(.*?)</tr>`).exec(html)!;
      return [...m[1]!.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((c) => c[1]!);
    };
    // confusion cells, then precision, recall, F1
    expect(row('a')).toEqual(['1', '1', '0', '1.000', '0.500', '0.667']);
    expect(row('c')).toEqual(['0', '0', '0', '-', '-', '-']);
  });
});

describe('a validation split with nothing to hold out validates on the training data', () => {
  it('12 sequences of 12 classes (each keeps its one sequence for training): trained, not "no validation sequences"', () => {
    const d = firstStepsTask({ count: 12, steps: 4, seed: 1 });
    const data: Dataset = { ...d, labels: Array.from({ length: 12 }, (_, i) => `c${String(i).padStart(2, '0')}`), samples: d.samples.map((s, i) => ({ ...s, y: i })) };
    const r = trainModel({ data, options: { hidden: 4, epochs: 1 } });
    // The same objects: what train's CLI reads as "the training data itself (nothing held out)".
    expect(r.val).toHaveLength(12);
    expect(r.val.every((s, i) => s === r.train[i])).toBe(true);
  });
});

describe('options the library took unchecked are USAGE errors', () => {
  const data = firstStepsTask({ count: 12, steps: 4, seed: 1 });
  it('patience 0 (stopped after epoch 1), negative minDelta, NaN clipNorm (clipping off), NaN weightDecay, valSplit 1, NaN minLrFraction', () => {
    const cases: [Record<string, number>, RegExp][] = [
      [{ patience: 0 }, /--patience must be a positive integer.*got 0/],
      [{ patience: 2.5 }, /--patience/],
      [{ minDelta: -0.1 }, /minDelta must be a finite number >= 0, got -0.1/],
      [{ clipNorm: NaN }, /--clip-norm must be a finite number >= 0 \(0 = off\), got NaN/],
      [{ weightDecay: NaN }, /--weight-decay/],
      [{ valSplit: 1 }, /--val-split must be in \[0, 1\), got 1/],
      [{ warmupEpochs: -1 }, /--warmup/],
      [{ minLrFraction: NaN }, /minLrFraction must be in \[0, 1\], got NaN/],
    ];
    for (const [options, message] of cases) {
      const e = thrown(() => trainModel({ data, options: { hidden: 2, epochs: 1, ...options } }));
      expect(e.code, JSON.stringify(options)).toBe('USAGE');
      expect(e.message).toMatch(message);
    }
    // No early stopping at all is allowed.
    expect(trainModel({ data, options: { hidden: 2, epochs: 1, patience: Infinity } }).fit.epochsRun).toBe(1);
  });
});

describe('a class index outside the outputs is BAD_DATA naming the sequence', () => {
  it('y = C read the next sequence\'s logits, y = -1 the previous one\'s, a missing y became class 0, 1.5 became 1', () => {
    const d = firstStepsTask({ count: 12, steps: 4, seed: 1 });
    for (const y of [4, -1, 1.5, undefined]) {
      const data: Dataset = { ...d, samples: d.samples.map((s, i) => (i === 5 ? { x: s.x, T: s.T, where: s.where, ...(y === undefined ? {} : { y }) } : s)) };
      const e = thrown(() => trainModel({ data, options: { hidden: 2, epochs: 1, valSplit: 0 } }));
      expect(e.code, String(y)).toBe('BAD_DATA');
      expect(e.message).toBe(`synthetic[5]: class index ${y}, training needs an integer in 0..3 (4 classes)`);
    }
  });
});

describe('the report escapes what comes from the data or the command line (checked, no defect)', () => {
  it('label names, the model name, the dataset path and the sequence name with <, &, quotes', async () => {
    const net = new Network(2, [{ kind: 'gru', hidden: 3, bidirectional: false }, { kind: 'dense', size: 2, activation: 'none' }], 'f32');
    net.init(new Rng(1));
    const evil = ['<img src=x onerror=alert(1)>', '"><script>alert(2)</script>'];
    const spec = { ...specOf(net, 'classify', true), name: '<b>m</b>', labels: evil, training: { dataset: 'a&b<c>.jsonl', createdAt: '"now"' } };
    const e: ModelEvaluation = { task: 'classify', precision: 'float32', backend: 'float', samples: 2, classification: classificationReport(evil, [0, 1], [1, 1]) };
    const samples = [{ x: new Float32Array(6), T: 3, y: 0, where: '<svg onload=alert(3)>' }];
    const html = await writeRunReport({ title: `edgernn train: ${spec.name}`, spec, evaluations: { float: e }, samples });
    for (const raw of ['<img', '<script', '<b>m', '<svg onload', 'a&b', '"now"']) expect(html, raw).not.toContain(raw);
    expect(html).toContain('&quot;now&quot;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&quot;&gt;&lt;script&gt;');
  });
});
