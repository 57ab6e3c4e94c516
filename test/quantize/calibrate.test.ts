/**
 * Calibration (quantize/quant/calibrate.ts) on degenerate and large data: ranges stay finite,
 * quantized models load and run, bad values are typed errors, minmax is the max of every value.
 */
import { describe, expect, it } from 'vitest';
import { Rng, createRuntime, encodeModel, isRecurrent, type ModelSpec } from '../../src/index.js';
import { CALIBRATION_METHODS, calibrate, calibrateAndQuantize } from '../../quantize/quant/calibrate.js';
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
