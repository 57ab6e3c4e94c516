/**
 * Calibration (quantize/quant/calibrate.ts) on degenerate and large data: ranges stay finite,
 * quantized models load and run, bad values are typed errors, minmax is the max of every value.
 */
import { describe, expect, it } from 'vitest';
import { Rng, createRuntime, encodeModel, isRecurrent, layerOutputSize, referenceEngine, type ModelSpec } from '../../src/index.js';
import { CALIBRATION_METHODS, calibrate, calibrateAndQuantize, chooseRange, type CalibrationMethod } from '../../quantize/quant/calibrate.js';
import { thrownBy } from '../helpers/errors.js';
import { reluFeedsDenseSpec } from './helpers.js';

/** The test model: its relu layer (positive biases) feeds another layer, so it is calibrated too. */
const smallSpec = (inputs: number, seed: number): ModelSpec => reluFeedsDenseSpec(inputs, seed, 0.3);

describe('calibration on degenerate data', () => {
  const data: [string, Float32Array[]][] = [
    ['all-zero inputs', [new Float32Array(20 * 2)]],
    ['constant inputs', [new Float32Array(20 * 2).fill(0.75)]],
    ['one sample of one step', [Float32Array.of(0.5, -2)]],
    ['one zero feature beside a live one', [Float32Array.from({ length: 40 }, (_, i) => (i % 2 ? 0 : Math.sin(i)))]],
  ];
  for (const [what, seqs] of data) {
    it(`${what}: every method gives finite ranges and an int8 model that loads and runs`, async () => {
      const rt = await createRuntime({ backend: 'reference' });
      const spec = smallSpec(2, 3);
      for (const method of CALIBRATION_METHODS) {
        const cal = calibrate(spec, seqs, { method });
        for (const r of [...Array.from(cal.ranges.inputAbsMax), ...Object.values(cal.ranges.denseAbsMax)]) expect(Number.isFinite(r) && r >= 0, `${method}: range ${r}`).toBe(true);
        const q = calibrateAndQuantize(spec, seqs, { method });
        for (const l of q.layers) {
          const scales = isRecurrent(l) ? [...l.quant!.Wscale, ...l.quant!.Rscale] : l.kind === 'dense' ? [...l.quant!.Wscale, l.quant!.outputScale ?? 0] : [];
          for (const s of scales) expect(Number.isFinite(s) && s >= 0, `${method}: scale ${s}`).toBe(true);
        }
        const out = (await rt.load(encodeModel(q))).session().run(seqs[0]!);
        expect(out.every(Number.isFinite)).toBe(true);
      }
    });
  }

  it('NaN or an infinity is BAD_DATA naming the sequence, step and feature', () => {
    const spec = smallSpec(2, 3);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = new Float32Array(6 * 2);
      x[7] = bad;
      for (const method of CALIBRATION_METHODS) {
        const e = thrownBy(() => calibrate(spec, [new Float32Array(4), x], { method }));
        expect(e?.code).toBe('BAD_DATA');
        expect(e?.message).toBe(`calibration sequence 1: x[3][1] is ${bad}, calibration needs finite values`);
      }
    }
  });

  it('an unknown method or a cap below one value is refused (they ran MSE, calibrated from no values, or threw a RangeError)', () => {
    const spec = smallSpec(2, 3);
    const seqs = [Float32Array.from({ length: 40 }, (_, i) => Math.sin(i))];
    const e = thrownBy(() => calibrate(spec, seqs, { method: 'kl' as 'mse' }));
    expect([e?.code, e?.message]).toEqual(['USAGE', 'calibration method must be one of minmax, percentile, mse, got "kl"']);
    for (const cap of [0, -1, 2.5, NaN]) {
      const c = thrownBy(() => calibrate(spec, seqs, { method: 'mse', maxValuesPerChannel: cap }));
      expect([c?.code, c?.message]).toEqual(['USAGE', `maxValuesPerChannel must be an integer >= 1, got ${cap}`]);
    }
    expect(() => calibrate(spec, seqs, { method: 'mse', maxValuesPerChannel: 1 })).not.toThrow();
  });

  it('no sequence, or a sequence of no steps, is refused', () => {
    const spec = smallSpec(2, 3);
    expect(thrownBy(() => calibrate(spec, [], { method: 'mse' }))?.code).toBe('BAD_DATA');
    expect(thrownBy(() => calibrate(spec, [new Float32Array(0)], { method: 'mse' }))?.code).toBe('SHAPE_MISMATCH');
  });
});

describe('minmax and percentile 100 read every value', () => {
  it('a peak the subsample stride skips is still the range (input and dense layer)', () => {
    const spec = smallSpec(1, 4);
    const rng = new Rng(5);
    // 25 values, 10 kept: the stride of 2.5 keeps indices 0, 2, 5, 7 ... and skips 1.
    const x = Float32Array.from({ length: 25 }, () => rng.uniform(-1, 1));
    x[1] = 40;
    const all = calibrate(spec, [x], { method: 'minmax' });
    const capped = calibrate(spec, [x], { method: 'minmax', maxValuesPerChannel: 10 });
    expect(all.ranges.inputAbsMax[0]).toBe(40);
    expect(capped.ranges.inputAbsMax).toEqual(all.ranges.inputAbsMax);
    expect(capped.ranges.denseAbsMax).toEqual(all.ranges.denseAbsMax);
    // Percentile 100 is the same rule.
    const p100 = calibrate(spec, [x], { method: 'percentile', percentile: 100, maxValuesPerChannel: 10 });
    expect(p100.ranges).toEqual(all.ranges);
  });
});

/**
 * The calibration as it was before values were sampled while reading (kept as the oracle): every
 * value of a channel in one array, then an even-stride subsample of `cap` for the statistics.
 */
function calibrateKeepingEveryValue(spec: ModelSpec, seqs: Float32Array[], method: CalibrationMethod, cap: number, percentile?: number): { inputAbsMax: number[]; denseAbsMax: Record<number, number> } {
  const range = (values: number[]): number => {
    if (method === 'minmax' || (method === 'percentile' && percentile === 100)) return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    let sub = Float64Array.from(values);
    if (values.length > cap) {
      sub = new Float64Array(cap);
      const stride = values.length / cap;
      for (let i = 0; i < cap; i++) sub[i] = values[Math.floor(i * stride)]!;
    }
    return chooseRange(sub, method, 32767, percentile);
  };
  const I = spec.input.size;
  const perFeature: number[][] = Array.from({ length: I }, () => []);
  for (const x of seqs) for (let i = 0; i < x.length; i++) perFeature[i % I]!.push(x[i]!);
  const vals: number[] = [];
  const engine = referenceEngine({ ...spec, layers: spec.layers.slice(0, 2) }); // up to the relu layer (index 1)
  for (const x of seqs) {
    const out = new Float32Array((x.length / I) * layerOutputSize(spec.layers[1]!));
    engine.run(engine.allocState(), x, x.length / I, out, 'zero');
    for (const v of out) vals.push(v);
  }
  return { inputAbsMax: perFeature.map(range), denseAbsMax: { 1: range(vals) } };
}

describe('calibration samples while reading (memory bounded by maxValuesPerChannel)', () => {
  const rng = new Rng(11);
  const spec = smallSpec(3, 7);
  const seqs = [40, 1, 77, 300, 12].map((T) => Float32Array.from({ length: T * 3 }, () => rng.normal() * 2 + rng.uniform(-0.2, 0.5)));
  const total = 40 + 1 + 77 + 300 + 12;
  const settings: Array<[CalibrationMethod, number | undefined]> = [['minmax', undefined], ['percentile', undefined], ['percentile', 99], ['percentile', 100], ['mse', undefined]];

  it('ranges are bit-identical to reading every value, under the cap and over it (same stride)', () => {
    expect(calibrate(spec, seqs, { method: 'mse' }).ranges.denseAbsMax[1]).toBeGreaterThan(1e-6); // the relu layer is live
    for (const [method, percentile] of settings) {
      for (const cap of [200_000, total * 4, total * 4 - 1, total, 97, 1]) {
        const got = calibrate(spec, seqs, { method, ...(percentile !== undefined ? { percentile } : {}), maxValuesPerChannel: cap });
        const want = calibrateKeepingEveryValue(spec, seqs, method, cap, percentile);
        expect({ input: Array.from(got.ranges.inputAbsMax), dense: got.ranges.denseAbsMax }, `${method} ${percentile ?? ''} cap ${cap}`).toEqual({ input: want.inputAbsMax, dense: want.denseAbsMax });
      }
    }
  });

  it('keeps at most maxValuesPerChannel values of each channel while reading 300,000 steps (it kept every value first)', () => {
    const big = spec.input.size;
    const long = [Float32Array.from({ length: 120_000 * big }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7))), Float32Array.from({ length: 180_000 * big }, (_, i) => Math.cos(i * 0.11))];
    long[1]![5 * big + 2] = 123; // one peak: minmax and percentile 100 still see it
    for (const [method, percentile] of [['mse', undefined], ['minmax', undefined], ['percentile', 100]] as const) {
      const cal = calibrate(spec, long, { method, ...(percentile !== undefined ? { percentile } : {}), maxValuesPerChannel: 1000 });
      expect(cal.sampled.inputs).toEqual([{ seen: 300_000, kept: 1000 }, { seen: 300_000, kept: 1000 }, { seen: 300_000, kept: 1000 }]);
      expect(cal.sampled.dense).toEqual({ 1: { seen: 1_200_000, kept: 1000 } });
      if (method !== 'mse') expect(cal.ranges.inputAbsMax[2]).toBe(123);
    }
    // Under the cap every value is kept.
    expect(calibrate(spec, seqs, { method: 'mse' }).sampled).toEqual({ inputs: [0, 1, 2].map(() => ({ seen: total, kept: total })), dense: { 1: { seen: total * 4, kept: total * 4 } } });
  });
});

describe('a relu layer the calibration data never made positive', () => {
  it('gets the scale of a range-0 layer (1/32767, as docs/quantization.md says), not a 1e-6 range that flattens it at run time', async () => {
    // h = relu(x0 + x1 - 10): the calibration frames keep x0 + x1 <= 0, so h is 0 throughout,
    // while both inputs span ±10. At run time x = (10, 0.5) makes h = 0.5; a range floored at
    // 1e-6 saturated it at 1e-6 and the int8 output read 0 instead of 0.5.
    const spec: ModelSpec = {
      name: 'dead-relu',
      version: '1.0.0',
      task: 'custom',
      labels: [],
      input: { size: 2, frontend: { kind: 'none' } },
      precision: 'float32',
      training: {},
      layers: [
        { kind: 'dense', inputSize: 2, outputSize: 1, activation: 'relu', float: { W: Float32Array.of(1, 1), B: Float32Array.of(-10) } },
        { kind: 'dense', inputSize: 1, outputSize: 1, activation: 'none', float: { W: Float32Array.of(1) } },
      ],
    };
    const calib = [Float32Array.of(10, -10, -10, 10, 3, -5, 0, 0)];
    const rt = await createRuntime();
    for (const method of CALIBRATION_METHODS) {
      const cal = calibrate(spec, calib, { method });
      expect(cal.ranges.denseAbsMax[0], method).toBe(0);
      const q = calibrateAndQuantize(spec, calib, { method });
      expect((q.layers[0] as { quant: { outputScale: number } }).quant.outputScale, method).toBe(Math.fround(1 / 32767));
      const out = (await rt.load(encodeModel(q))).session().run(Float32Array.of(10, 0.5));
      expect(Math.abs(out[0]! - 0.5), method).toBeLessThan(0.01);
    }
  });
});
