/**
 * Post-training calibration (minmax, percentile, MSE), quantization-aware fine-tuning, and the
 * quantize command: int8 stays within 0.5 points of float on a trained classifier, the QAT
 * export computes exactly what its last validation pass measured.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, createRuntime, decodeModel, encodeModel, type ModelSpec, type Runtime } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { firstStepsTask, sineForecast, toJsonl } from '../../quantize/data/synthetic.js';
import { evaluateModel } from '../../quantize/eval/evaluate-model.js';
import { CALIBRATION_METHODS, calibrate, calibrateAndQuantize, chooseRange } from '../../quantize/quant/calibrate.js';
import { quantizationAwareFineTune } from '../../quantize/quant/qat.js';
import { trainModel } from '../../quantize/train/train-model.js';
import { runCaptured } from '../helpers/cli.js';

/** The target: int8 within 0.5 accuracy points of float. */
const INT8_MAX_DROP_POINTS = 0.5;

const data = firstStepsTask({ count: 200, steps: 20, seed: 5 });
const val = firstStepsTask({ count: 200, steps: 20, seed: 6 });
let floatSpec: ModelSpec;
let rt: Runtime;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-quant-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  rt = await createRuntime();
  floatSpec = trainModel({ data, val, options: { task: 'classify', arch: 'gru', hidden: 16, epochs: 25, denseHidden: [12] } }).spec;
  fs.writeFileSync(path.join(dir, 'model.ern'), encodeModel(floatSpec));
  fs.writeFileSync(path.join(dir, 'calib.jsonl'), toJsonl(data));
  fs.writeFileSync(path.join(dir, 'val.jsonl'), toJsonl(val));
});

describe('range rules', () => {
  it('minmax takes the max; percentile drops a lone outlier; mse clips a heavy tail', () => {
    const rng = new Rng(1);
    const v = Float64Array.from({ length: 5000 }, () => rng.normal());
    v[17] = 1000;
    expect(chooseRange(v, 'minmax', 32767)).toBe(1000);
    expect(chooseRange(v, 'percentile', 32767, 99.9)).toBeLessThan(5);
    // Many Gaussian samples on the int8 grid: the max sits near 4.5σ, finer steps beat the rare tail.
    const lap = Float64Array.from({ length: 100_000 }, () => rng.normal());
    const max = chooseRange(lap, 'minmax', 127);
    const c = chooseRange(lap, 'mse', 127);
    expect(c).toBeLessThan(0.95 * max);
    const err = (r: number) => Array.from(lap).reduce((a, x) => a + (x - Math.max(-r, Math.min(r, Math.round((x * 127) / r) * (r / 127)))) ** 2, 0);
    expect(err(c)).toBeLessThan(err(max));
  });

  it('calibrates the input per feature and every dense layer that feeds another', () => {
    const cal = calibrate(floatSpec, data.samples, { method: 'minmax' });
    expect(cal.ranges.inputAbsMax).toHaveLength(2);
    const hidden = floatSpec.layers.findIndex((l) => l.kind === 'dense' && l.activation === 'relu');
    expect(cal.ranges.denseAbsMax[hidden]).toBeGreaterThan(0);
  });
});

describe('post-training quantization', () => {
  for (const method of CALIBRATION_METHODS) {
    it(`${method}: int8 accuracy within ${INT8_MAX_DROP_POINTS} points of float (runtime, SIMD/scalar backend)`, async () => {
      const q = calibrateAndQuantize(floatSpec, data.samples, { method });
      const f = await evaluateModel(rt, floatSpec, val, { backend: 'float' });
      const i = await evaluateModel(rt, q, val);
      expect(i.precision).toBe('int8');
      expect(f.classification!.accuracy).toBeGreaterThan(0.9);
      expect(100 * (f.classification!.accuracy - i.classification!.accuracy)).toBeLessThanOrEqual(INT8_MAX_DROP_POINTS);
    });
  }

  it('forecast: int8 MSE within 5% of float', async () => {
    const sine = sineForecast({ count: 60, steps: 32, seed: 2 });
    const spec = trainModel({ data: sine, options: { task: 'forecast', arch: 'lstm', hidden: 12, epochs: 8 } }).spec;
    const q = calibrateAndQuantize(spec, sine.samples, { method: 'mse' });
    const f = await evaluateModel(rt, spec, sine, { backend: 'float' });
    const i = await evaluateModel(rt, q, sine);
    expect(i.regression!.mse).toBeLessThan(1.05 * f.regression!.mse);
  });
});

describe('quantization-aware fine-tuning', () => {
  it('exports an int8 model whose runtime accuracy is what the fake-quant validation measured', async () => {
    const r = quantizationAwareFineTune(floatSpec, data, { epochs: 2, calibration: { method: 'mse' }, valSplit: 0 });
    // valSplit 0 validates on the training data: the last measured fake-quant accuracy at the best epoch.
    const best = r.fit.history[r.fit.bestEpoch - 1]!;
    const i = await evaluateModel(rt, r.int8, data);
    expect(i.classification!.accuracy).toBeCloseTo(best.valAccuracy!, 10);
    const ptq = await evaluateModel(rt, calibrateAndQuantize(floatSpec, data.samples, { method: 'mse' }), val);
    const qat = await evaluateModel(rt, r.int8, val);
    expect(qat.classification!.accuracy).toBeGreaterThanOrEqual(ptq.classification!.accuracy - 0.01);
  });
});

describe("quantization-aware fine-tuning's constant rate", () => {
  it("has no warm-up inherited from the trained model (it ramped from lr/5 under --warmup 4)", () => {
    const warmed = { ...floatSpec, training: { ...floatSpec.training, hyperparameters: { ...(floatSpec.training.hyperparameters as object), warmupEpochs: 4 } } };
    const r = quantizationAwareFineTune(warmed, data, { epochs: 2, calibration: { method: 'minmax' }, valSplit: 0 });
    expect(r.fit.history.map((h) => h.lr)).toEqual([5e-4, 5e-4]);
  });
});

describe('quantization-aware fine-tuning records its calibration', () => {
  it('the manifest keeps the percentile a percentile calibration used', () => {
    const r = quantizationAwareFineTune(floatSpec, data, { epochs: 1, calibration: { method: 'percentile', percentile: 99.5 }, valSplit: 0 });
    expect(r.int8.training.calibration).toMatchObject({ method: 'percentile', percentile: 99.5 });
  });
});

describe('edgernn quantize', () => {
  const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);

  it('an ONNX model is named as one, with the convert command to run first (it was a bare ERN_BAD_MAGIC)', async () => {
    fs.writeFileSync(path.join(dir, 'model.onnx'), exportOnnx(floatSpec));
    for (const argv of [['quantize', 'model.onnx', '--calib', 'calib.jsonl', '-o', 'o.ern'], ['prune', 'model.onnx', '--data', 'calib.jsonl', '--sparsity', '0.5', '-o', 'o.ern'], ['eval', 'model.onnx', '--data', 'val.jsonl']]) {
      const r = await cli(...argv);
      expect(r.code, argv[0]).toBe(1);
      expect(r.err, argv[0]).toMatch(/ERN_BAD_MAGIC.*it is an ONNX model: convert it first \(`edgernn convert model\.onnx --float -o MODEL\.ern`, or with --calib DATA for int8\)/);
    }
  });

  it('writes int8 and reports float vs int8 side by side', async () => {
    const r = await cli('quantize', 'model.ern', '--calib', 'calib.jsonl', '--eval', 'val.jsonl', '-o', 'q.ern', '--method', 'percentile', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { float: number; int8: number; accuracy: number; deltaPoints: number };
    expect(Math.abs(j.deltaPoints)).toBeLessThanOrEqual(INT8_MAX_DROP_POINTS);
    const { spec } = decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'q.ern'))));
    expect(spec.precision).toBe('int8');
    expect(spec.training.calibrationSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('exit codes: an int8 input is a usage error, missing --calib too', async () => {
    expect((await cli('quantize', 'q.ern', '--calib', 'calib.jsonl', '-o', 'qq.ern')).code).toBe(2);
    expect((await cli('quantize', 'model.ern', '-o', 'qq.ern')).code).toBe(2);
    expect((await cli('quantize', 'model.ern', '--calib', 'calib.jsonl', '--method', 'kl', '-o', 'qq.ern')).code).toBe(2);
  });

  it('an output that is a hard link of the model is refused before any work (it replaced the model)', async () => {
    const model = fs.readFileSync(path.join(dir, 'model.ern'));
    fs.linkSync(path.join(dir, 'model.ern'), path.join(dir, 'link.ern'));
    const r = await cli('quantize', 'model.ern', '--calib', 'calib.jsonl', '-o', 'link.ern');
    expect(r.code).toBe(2);
    expect(r.err).toContain('-o/--output link.ern is the MODEL.ern file');
    expect(fs.readFileSync(path.join(dir, 'model.ern')).equals(model)).toBe(true);
  });
});
