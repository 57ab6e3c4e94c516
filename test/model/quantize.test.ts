/** quantizeModel and calibrateAbsMax (src/model/quantize.ts) on degenerate calibration data. */
import { describe, expect, it } from 'vitest';
import { Rng, calibrateAbsMax, createRuntime, defaultActivations, encodeModel, quantizeModel, type ModelSpec } from '../../src/index.js';
import { thrownBy } from '../helpers/errors.js';
import { reluFeedsDenseSpec } from '../quantize/helpers.js';

/** The test model: its relu layer (index 1) feeds another layer; `reluBias` < 0 keeps it at 0. */
const reluFeedsDense = (reluBias: number): ModelSpec => reluFeedsDenseSpec(2, 1, reluBias);

describe('calibrateAbsMax + quantizeModel on degenerate data', () => {
  it('a relu layer that stays at zero on the calibration data quantizes (it was UNSUPPORTED_MODEL, "needs a calibrated output range")', async () => {
    const spec = reluFeedsDense(-0.3);
    const seqs = [new Float32Array(10 * 2)];
    const ranges = calibrateAbsMax(spec, seqs);
    expect(ranges.denseAbsMax[1]).toBe(0);
    const q = quantizeModel(spec, ranges);
    const relu = q.layers[1]!;
    expect(relu.kind === 'dense' && relu.quant!.outputScale).toBe(Math.fround(1 / 32767));
    const rt = await createRuntime({ backend: 'reference' });
    expect(Array.from((await rt.load(encodeModel(q))).session().run(seqs[0]!)).every(Number.isFinite)).toBe(true);
  });

  it('NaN and infinities are missing samples: no NaN dense range (quantizeModel refused it as missing)', () => {
    const spec = reluFeedsDense(0.3);
    const clean = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
    for (const bad of [NaN, Infinity, -Infinity]) {
      const dirty = clean.slice();
      dirty[4] = bad;
      const ranges = calibrateAbsMax(spec, [dirty]);
      expect(Number.isFinite(ranges.denseAbsMax[1]), `${bad}: ${ranges.denseAbsMax[1]}`).toBe(true);
      // As if the value were 0.
      const zeroed = clean.slice();
      zeroed[4] = 0;
      expect(ranges).toEqual(calibrateAbsMax(spec, [zeroed]));
      expect(quantizeModel(spec, ranges).precision).toBe('int8');
    }
  });

  it('an int8 model or a sequence that is not one is a typed error (an Error without code, a TypeError)', () => {
    const spec = reluFeedsDense(0.3);
    const seq = new Float32Array(4).fill(0.5);
    const q = quantizeModel(spec, calibrateAbsMax(spec, [seq]));
    const e = thrownBy(() => calibrateAbsMax(q, [seq]));
    expect([e?.code, e?.message]).toEqual(['UNSUPPORTED_MODEL', "calibrateAbsMax() needs a float32 model, 'test' is int8"]);
    for (const [bad, what] of [[null, 'null'], [undefined, 'undefined'], [7, 'number']] as const) {
      const b = thrownBy(() => calibrateAbsMax(spec, [seq, bad as unknown as Float32Array]));
      expect([b?.code, b?.message]).toEqual(['INVALID_ARGUMENT', `calibrateAbsMax(): sequence 1 is ${what}, expected a Float32Array of 2-feature frames`]);
    }
  });

  it('ranges so small their scale underflowed (0: ERN_QUANT_PARAMS from encodeModel) load and run, bit-exact on every backend', async () => {
    const spec = reluFeedsDense(0.3);
    const rt = await createRuntime();
    for (const tiny of [1e-38, 1e-41, 1e-45]) {
      // Feature 0 holds nothing but float32 underflow; feature 1 is a real signal.
      const x = Float32Array.from({ length: 24 }, (_, i) => (i % 2 ? Math.sin(i) : tiny * Math.cos(i)));
      const ranges = calibrateAbsMax(spec, [x]);
      const q = quantizeModel(spec, { ...ranges, denseAbsMax: { 1: tiny } });
      const relu = q.layers[1]!;
      for (const s of [q.inputScale![0]!, relu.kind === 'dense' ? relu.quant!.outputScale! : 0]) {
        expect(s).toBe(2 ** -126);
        expect(Number.isFinite(Math.fround(1 / s))).toBe(true);
      }
      const bytes = encodeModel(q);
      const outs = [];
      for (const backend of ['reference', 'simd', 'scalar'] as const) outs.push(Array.from((await rt.load(bytes, { backend })).session().run(x)));
      expect(outs[1]).toEqual(outs[0]);
      expect(outs[2]).toEqual(outs[0]);
    }
  });

  it('a dense range that is missing, negative or not finite is refused naming the layer and the value', () => {
    const spec = reluFeedsDense(0.3);
    const inputAbsMax = [1, 1];
    expect(thrownBy(() => quantizeModel(spec, { inputAbsMax }))?.message).toBe('dense layer 1 feeds another layer: it needs a calibrated output range (denseAbsMax[1])');
    for (const v of [NaN, -1, Infinity]) {
      const e = thrownBy(() => quantizeModel(spec, { inputAbsMax, denseAbsMax: { 1: v } }));
      expect([e?.code, e?.message]).toEqual(['UNSUPPORTED_MODEL', `denseAbsMax[1] is ${v}, expected a finite range >= 0`]);
    }
  });
});

describe('per-row int8 weights: invariants over random rows', () => {
  it('|q| <= 127, each non-zero row reaches 127 unless its bias set the scale, zeros stay zeros, sum|q|·32768 + |b| < 2^31, bias within half a step', () => {
    const rng = new Rng(9);
    for (let n = 0; n < 300; n++) {
      const I = rng.int(1, 40);
      const O = rng.int(1, 12);
      const W = new Float32Array(O * I);
      const B = new Float32Array(O);
      const scale = 10 ** rng.uniform(-8, 3);
      for (let j = 0; j < O; j++) {
        // All zero (pruned), constant, one weight, ties at .5 steps, Gaussian.
        const kind = rng.int(0, 4);
        for (let k = 0; k < I; k++) W[j * I + k] = [0, scale, k === 0 ? scale : 0, (rng.int(-254, 254) / 2) * scale, rng.normal() * scale][kind]!;
        B[j] = rng.next() < 0.3 ? 0 : rng.normal() * 10 ** rng.uniform(-3, 9);
      }
      const spec: ModelSpec = { name: 't', version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', layers: [{ kind: 'dense', inputSize: I, outputSize: O, activation: 'none', float: { W, B } }], training: {} };
      const layer = quantizeModel(spec, { inputAbsMax: Array.from({ length: I }, () => 10 ** rng.uniform(-3, 3)) }).layers[0]!;
      if (layer.kind !== 'dense') throw new Error('expected a dense layer');
      const { Wq, Wscale, Bq } = layer.quant!;
      for (let j = 0; j < O; j++) {
        const row = Wq.subarray(j * I, (j + 1) * I);
        const s = Wscale[j]!;
        expect(Number.isFinite(s) && s >= 0).toBe(true);
        let sum = 0;
        let max = 0;
        row.forEach((v, k) => {
          if (W[j * I + k] === 0) expect(v).toBe(0);
          sum += Math.abs(v);
          max = Math.max(max, Math.abs(v));
        });
        expect(max).toBeLessThanOrEqual(127);
        if (W.subarray(j * I, (j + 1) * I).some((v) => v !== 0) && Math.abs(Bq[j]!) < 2 ** 24) expect(max).toBe(127);
        expect(sum * 32768 + Math.abs(Bq[j]!)).toBeLessThan(2 ** 31);
        expect(Math.abs(Bq[j]! * s - B[j]!)).toBeLessThanOrEqual(Math.abs(B[j]!) * 1e-6 + s / 2);
      }
    }
  });
});


describe('where quantizeModel puts each bias (mutation-testing review, 2026-11-27)', () => {
  it('GRU linear_before_reset: the whole candidate recurrent bias Rbh stays inside r ⊙ (Rh h + Rbh), its first row too', async () => {
    // r ≈ 0 (a large negative reset bias): the float candidate ignores Rbh; folded into the input
    // bias instead, a row's candidate saw Rbh = 3 in full.
    const I = 2;
    const H = 3;
    const rng = new Rng(4);
    const B = new Float32Array(6 * H);
    for (let j = 0; j < H; j++) {
      B[H + j] = -8; // Wb_r
      B[3 * H + 2 * H + j] = 3; // Rb_h
    }
    const spec: ModelSpec = {
      name: 'lbr', version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', training: {},
      layers: [{ kind: 'gru', inputSize: I, hiddenSize: H, direction: 'forward', activations: defaultActivations('gru', 1), linearBeforeReset: true, float: { W: rng.float32(3 * H * I, -0.5, 0.5), R: rng.float32(3 * H * H, -0.5, 0.5), B } }],
    };
    const x = rng.float32(8 * I, -1, 1);
    const int8 = quantizeModel(spec, calibrateAbsMax(spec, [x]));
    const rt = await createRuntime();
    const want = (await rt.load(encodeModel(spec))).session().run(x);
    const got = (await rt.load(encodeModel(int8), { backend: 'reference' })).session().run(x);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `output ${i}`).toBeLessThan(0.02);
  });
});

describe('calibrateAbsMax traces the model as the runtime runs it (mutation-testing review, 2026-11-27)', () => {
  it('the range of a dense layer after a reverse layer is the float model\'s own maximum', async () => {
    const I = 2;
    const H = 4;
    const rng = new Rng(12);
    const gru = { kind: 'gru' as const, inputSize: I, hiddenSize: H, direction: 'reverse' as const, activations: defaultActivations('gru', 1), float: { W: rng.float32(3 * H * I, -1.5, 1.5), R: rng.float32(3 * H * H, -1.5, 1.5), B: rng.float32(6 * H, -1, 1) } };
    const hidden = { kind: 'dense' as const, inputSize: H, outputSize: 3, activation: 'none' as const, float: { W: rng.float32(3 * H, -2, 2), B: rng.float32(3, -0.5, 0.5) } };
    const head = { kind: 'dense' as const, inputSize: 3, outputSize: 2, activation: 'none' as const, float: { W: rng.float32(6, -1, 1) } };
    const model = (layers: ModelSpec['layers']): ModelSpec => ({ name: 'rev', version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', training: {}, layers });
    const x = rng.float32(12 * I, -2, 2);
    const ranges = calibrateAbsMax(model([gru, hidden, head]), [x]);
    const rt = await createRuntime();
    const y = (await rt.load(encodeModel(model([gru, hidden])))).session().run(x);
    const want = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(Math.abs(ranges.denseAbsMax[1]! - want)).toBeLessThanOrEqual(1e-6 * want);
  });
});
