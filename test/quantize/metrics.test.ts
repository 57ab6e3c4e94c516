/**
 * Classification metrics against scikit-learn (fixtures written by test/fixtures/metrics/generate.py
 * with Debian's python3-sklearn; regenerated and compared when that version is installed), and
 * the regression accumulator against plain sums.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegressionAccumulator, classificationReport } from '../../quantize/eval/metrics.js';

const DIR = path.resolve(import.meta.dirname, '../fixtures/metrics');
interface Case {
  classes: number;
  truth: number[];
  predicted: number[];
  accuracy: number;
  macroF1: number;
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
}
const fixture = JSON.parse(fs.readFileSync(path.join(DIR, 'sklearn.json'), 'utf8')) as { _sklearn: string; cases: Case[] };

describe('classificationReport = scikit-learn', () => {
  it(`${fixture.cases.length} cases, some scoring a subset of the classes (scikit-learn ${fixture._sklearn})`, () => {
    let subsets = 0;
    for (const c of fixture.cases) {
      const labels = Array.from({ length: c.classes }, (_, k) => `c${k}`);
      const r = classificationReport(labels, c.truth, c.predicted);
      expect(r.samples).toBe(c.truth.length);
      expect(r.accuracy).toBeCloseTo(c.accuracy, 12);
      expect(r.macroF1).toBeCloseTo(c.macroF1, 12);
      r.perClass.forEach((m, k) => {
        expect([m.label, m.support]).toEqual([labels[k], c.support[k]]);
        expect(m.precision).toBeCloseTo(c.precision[k]!, 12);
        expect(m.recall).toBeCloseTo(c.recall[k]!, 12);
        expect(m.f1).toBeCloseTo(c.f1[k]!, 12);
      });
      if (labels.some((_, k) => c.support[k] === 0 && !c.predicted.includes(k))) subsets++;
    }
    // The cases that tell an average over every class from scikit-learn's are there.
    expect(subsets).toBeGreaterThan(5);
  });

  it('a class absent from truth and predictions does not pull the macro F1 down', () => {
    const all = classificationReport(['a', 'b'], [0, 1, 1], [0, 1, 0]);
    const withUnseen = classificationReport(['a', 'b', 'c'], [0, 1, 1], [0, 1, 0]);
    expect(withUnseen.macroF1).toBeCloseTo(all.macroF1, 15);
    expect(all.macroF1).toBeCloseTo((2 / 3 + 2 / 3) / 2, 15);
    expect(classificationReport(['a'], [], []).macroF1).toBe(0);
  });
});

const sklearn = spawnSync('/usr/bin/python3', ['-c', 'import sklearn; print(sklearn.__version__)'], { encoding: 'utf8' });
describe.skipIf(sklearn.status !== 0 || sklearn.stdout.trim() !== fixture._sklearn)('the fixtures', () => {
  it('are what generate.py writes with this scikit-learn', () => {
    const r = spawnSync('/usr/bin/python3', [path.join(DIR, 'generate.py')], { encoding: 'utf8', maxBuffer: 1 << 24 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(fixture);
  });
});

describe('RegressionAccumulator', () => {
  it('MSE, MAE and RMSE overall and per output; an output with no values reports 0', () => {
    const acc = new RegressionAccumulator(3);
    const pairs: [number, number, number][] = [
      [0, 1, 0],
      [0, -1, 1],
      [1, 2, 2],
      [1, 0.5, 0],
    ];
    for (const [o, p, t] of pairs) acc.add(o, p, t);
    const r = acc.report();
    expect(r.count).toBe(4);
    expect(r.mse).toBeCloseTo((1 + 4 + 0 + 0.25) / 4, 15);
    expect(r.mae).toBeCloseTo((1 + 2 + 0 + 0.5) / 4, 15);
    expect(r.rmse).toBeCloseTo(Math.sqrt(5.25 / 4), 15);
    expect(r.perOutput).toEqual([
      { mse: 2.5, mae: 1.5 },
      { mse: 0.125, mae: 0.25 },
      { mse: 0, mae: 0 },
    ]);
  });
});

describe('the eval table', () => {
  it("shows '-' where a metric is undefined (no samples: no recall; never predicted: no precision), not 0", async () => {
    const { formatEvaluation } = await import('../../quantize/cli/eval.js');
    const c = classificationReport(['walk', 'sit', 'lie'], [0, 0, 1], [0, 2, 1]);
    const text = formatEvaluation('m.ern', { task: 'classify', precision: 'int8', backend: 'simd', samples: 3, classification: c });
    const row = (label: string) => text.split('\n').find((l) => l.trimStart().startsWith(`${label} `))!.trim().split(/\s+/);
    expect(row('walk')).toEqual(['walk', '1.000', '0.500', '0.667', '2']);
    expect(row('sit')).toEqual(['sit', '1.000', '1.000', '1.000', '1']);
    expect(row('lie')).toEqual(['lie', '0.000', '-', '0.000', '0']);
    const unseen = formatEvaluation('m.ern', { task: 'classify', precision: 'int8', backend: 'simd', samples: 2, classification: classificationReport(['a', 'b', 'c'], [0, 1], [0, 0]) });
    expect(unseen.split('\n').find((l) => l.trimStart().startsWith('c '))!.trim().split(/\s+/)).toEqual(['c', '-', '-', '-', '0']);
  });
});

describe('defect hunt: the confusion matrix of labels alike in their first letters', () => {
  it('columns that would read the same when cut to their width are numbered, with the numbers on the rows', async () => {
    // "walking_upstairs" and "walking_downstairs" both headed a column "walk".
    const { formatEvaluation } = await import('../../quantize/cli/eval.js');
    const c = classificationReport(['still', 'walking_downstairs', 'walking_upstairs'], [0, 1, 2, 2], [0, 1, 1, 2]);
    const lines = formatEvaluation('m.ern', { task: 'classify', precision: 'int8', backend: 'simd', samples: 4, classification: c }).split('\n');
    const at = lines.findIndex((l) => l.includes('confusion'));
    expect(lines[at + 1]!.trim().split(/\s+/)).toEqual(['0', '1', '2']);
    expect(lines.slice(at + 2).map((l) => l.trim().split(/\s+/))).toEqual([
      ['0', 'still', '1', '0', '0'],
      ['1', 'walking_downstairs', '0', '1', '0'],
      ['2', 'walking_upstairs', '0', '1', '1'],
    ]);
    // Labels that stay distinct keep their names as headers.
    const plain = formatEvaluation('m.ern', { task: 'classify', precision: 'int8', backend: 'simd', samples: 2, classification: classificationReport(['run', 'walk'], [0, 1], [0, 1]) }).split('\n');
    expect(plain[plain.findIndex((l) => l.includes('confusion')) + 1]!.trim().split(/\s+/)).toEqual(['run', 'walk']);
  });
});

describe('defect hunt: classificationReport arguments', () => {
  it('class indices outside the labels, or predictions of another length, are INVALID_ARGUMENT naming the first', async () => {
    const { isEdgeRnnError } = await import('../../src/index.js');
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return isEdgeRnnError(e) ? `${e.code}: ${e.message}` : `untyped: ${(e as Error).message}`;
      }
      return 'no error';
    };
    // A prediction beyond the labels grew a column holding NaN; a truth beyond them crashed
    // (TypeError); a shorter prediction list counted 'undefined' and reported accuracy 2/3.
    expect(code(() => classificationReport(['a', 'b'], [0, 1], [0, 2]))).toMatch(/^INVALID_ARGUMENT: classificationReport: predicted\[1\] is 2, expected a class index in 0\.\.1/);
    expect(code(() => classificationReport(['a', 'b'], [0, 2], [0, 1]))).toMatch(/^INVALID_ARGUMENT: classificationReport: truth\[1\] is 2/);
    expect(code(() => classificationReport(['a', 'b'], [0, 1, 1], [0, 1]))).toMatch(/^INVALID_ARGUMENT: classificationReport: 3 true classes but 2 predictions/);
    expect(code(() => classificationReport(['a', 'b'], [0.5], [0]))).toMatch(/truth\[0\] is 0\.5/);
  });
});

describe('defect hunt: evaluateModel', () => {
  // An identity "classifier": 3 inputs, a linear dense layer with W = I, so the class is the argmax of the input.
  const spec = (): import('../../src/index.js').ModelSpec => ({
    name: 'argmax',
    version: '1.0.0',
    task: 'classify',
    labels: ['a', 'b', 'c'],
    input: { size: 3, frontend: { kind: 'none' } },
    precision: 'float32',
    layers: [{ kind: 'dense', inputSize: 3, outputSize: 3, activation: 'none', float: { W: Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) } }],
    training: {},
  });
  const onehot = (c: number): Float32Array => Float32Array.from([0, 1, 2], (k) => (k === c ? 1 : 0));

  it("a Dataset whose labels are in another order is scored by name (the confusion matrix was permuted: accuracy 0 for a perfect model)", async () => {
    const { createRuntime } = await import('../../src/index.js');
    const { evaluateModel } = await import('../../quantize/eval/evaluate-model.js');
    const rt = await createRuntime();
    // The data's own label order: c, a (b absent). Sample truths are indices into it.
    const ds = { source: 'perm.jsonl', sha256: '', features: 3, labels: ['c', 'a'], targetSize: 0, samples: [
      { x: onehot(2), T: 1, y: 0, where: 'perm.jsonl:1' },
      { x: onehot(0), T: 1, y: 1, where: 'perm.jsonl:2' },
      { x: onehot(0), T: 1, y: 1, where: 'perm.jsonl:3' },
    ] };
    const e = await evaluateModel(rt, spec(), ds, { backend: 'reference' });
    expect(e.classification!.accuracy).toBe(1);
    expect(e.classification!.confusion).toEqual([
      [2, 0, 0],
      [0, 0, 0],
      [0, 0, 1],
    ]);
    // A data label the model does not have is named.
    const other = { ...ds, labels: ['c', 'zebra'] };
    await expect(evaluateModel(rt, spec(), other, { backend: 'reference' })).rejects.toThrow(/perm\.jsonl:2: label "zebra" is not one of the model's classes \(a, b, c\)/);
  });

  it('no sequences is BAD_DATA, not accuracy 0 or MSE 0; a class index beyond the model is BAD_DATA naming the sample', async () => {
    const { createRuntime, isEdgeRnnError } = await import('../../src/index.js');
    const { evaluateModel } = await import('../../quantize/eval/evaluate-model.js');
    const rt = await createRuntime();
    const err = async (p: Promise<unknown>): Promise<string> => p.then(() => 'no error', (e: unknown) => (isEdgeRnnError(e) ? `${e.code}: ${e.message}` : `untyped: ${(e as Error).message}`));
    expect(await err(evaluateModel(rt, spec(), [], { backend: 'reference' }))).toMatch(/^BAD_DATA: argmax: no sequences to score/);
    const forecaster = { ...spec(), task: 'forecast' as const, labels: [] };
    expect(await err(evaluateModel(rt, forecaster, { source: 'empty.jsonl', sha256: '', features: 3, labels: [], targetSize: 3, samples: [] }, { backend: 'reference' }))).toMatch(/^BAD_DATA: empty\.jsonl: no sequences to score/);
    expect(await err(evaluateModel(rt, spec(), [{ x: onehot(0), T: 1, y: 3, where: 's[0]' }], { backend: 'reference' }))).toMatch(/^BAD_DATA: s\[0\]: class index 3, the model has 3 classes/);
  });
});

describe('defect hunt: many classes', () => {
  it('the eval table of 400 classes (160 000 confusion cells overflowed the call stack of Math.max(...cells))', async () => {
    const { formatEvaluation } = await import('../../quantize/cli/eval.js');
    const labels = Array.from({ length: 400 }, (_, i) => `c${i}`);
    const t = Array.from({ length: 800 }, (_, i) => i % 400);
    const text = formatEvaluation('m.ern', { task: 'classify', precision: 'float32', backend: 'reference', samples: 800, classification: classificationReport(labels, t, t) });
    expect(text).toMatch(/accuracy 100\.00%/);
    expect(text.split('\n').filter((l) => l.trimStart().startsWith('c399 '))).toHaveLength(2); // per-class row and confusion row
  });
});
