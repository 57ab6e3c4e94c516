/**
 * exportOnnx against onnxruntime-node: random float specs (every recurrent feature), int8 specs
 * (dequantized), and frame-by-frame streaming with the state inputs fed back.
 */
import { describe, expect, it } from 'vitest';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { modelOutputSize, isStreamable, type ModelSpec } from '../../src/model/spec.js';
import { referenceEngine } from '../../src/model/codec.js';
import { FloatEngine } from '../../src/runtime/float/engine.js';
import { INITIAL_STATE_KEY, exportOnnx, onnxInitialState } from '../../src/onnx/export.js';
import { dequantizeModel } from '../../src/onnx/dequantize.js';
import { decodeModelProto } from '../../src/onnx/proto.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { Rng } from '../../src/util/rng.js';
import { maxAbsDiff, ort, ortSession, ortTensor, randomRecurrent, randomSpec } from './helpers.js';
import { INT8_KERNEL_ATOL } from '../../src/onnx/tolerance.js';

/** Float reference (float64 inside) vs ORT float32. */
const FLOAT_ATOL = 1e-5;

function runEngine(spec: ModelSpec, x: Float32Array, T: number): Float32Array {
  const e = spec.precision === 'float32' ? new FloatEngine(spec) : referenceEngine(spec);
  const out = new Float32Array(T * modelOutputSize(spec));
  const bad = e.run(e.allocState(), x, T, out, 'error');
  expect(bad).toBe(-1);
  return out;
}

function initialFeeds(spec: ModelSpec): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(onnxInitialState(spec))) feeds[k] = ortTensor(v.data, v.dims);
  return feeds;
}

describe('exportOnnx', () => {
  it('writes the documented I/O contract', async () => {
    const spec = randomSpec(7, { maxLayers: 2 });
    const m = decodeModelProto(exportOnnx(spec));
    expect(m.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(m.graph.input[0]).toEqual({ name: 'X', elemType: 1, shape: ['seq', 1, spec.input.size] });
    expect(m.graph.output[0]).toEqual({ name: 'Y', elemType: 1, shape: ['seq', 1, modelOutputSize(spec)] });
    const recurrent = spec.layers.flatMap((l, li) => (l.kind === 'gru' || l.kind === 'rnn' ? [`h0_${li}`] : l.kind === 'lstm' ? [`h0_${li}`, `c0_${li}`] : []));
    expect(m.graph.input.slice(1).map((v) => v.name)).toEqual(recurrent);
    expect(m.graph.output.slice(1).map((v) => v.name)).toEqual(recurrent.map((n) => n.replace('0_', 'N_')));
    const s = await ortSession(exportOnnx(spec, { stateInputs: false }));
    expect(s.inputNames).toEqual(['X']);
  });

  it('float specs: onnxruntime-node matches the float reference (60 random models)', async () => {
    let worst = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const spec = randomSpec(seed * 7919, { maxLayers: 3 });
      const rng = new Rng(seed);
      const T = rng.int(1, 12);
      const x = rng.float32(T * spec.input.size, -2, 2);
      const want = runEngine(spec, x, T);
      const s = await ortSession(exportOnnx(spec));
      const r = await s.run({ ...initialFeeds(spec), X: ortTensor(x, [T, 1, spec.input.size]) });
      expect(r.Y!.dims).toEqual([T, 1, modelOutputSize(spec)]);
      const d = maxAbsDiff(r.Y!.data as Float32Array, want);
      worst = Math.max(worst, d.max);
      expect(d.max, `seed ${seed}: ${JSON.stringify(spec.layers.map((l) => l.kind))} at ${d.at}`).toBeLessThanOrEqual(FLOAT_ATOL);
    }
    console.log(`export float: worst |ORT - float reference| = ${worst.toExponential(2)}`);
  });

  it('streaming: one frame per call with hN/cN fed back equals one call over the sequence', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const spec = randomSpec(seed * 104729, { forwardOnly: true, maxLayers: 3 });
      expect(isStreamable(spec)).toBe(true);
      const rng = new Rng(seed);
      const T = 9;
      const I = spec.input.size;
      const O = modelOutputSize(spec);
      const x = rng.float32(T * I, -2, 2);
      const want = runEngine(spec, x, T);
      const s = await ortSession(exportOnnx(spec));
      let state = initialFeeds(spec);
      const got = new Float32Array(T * O);
      for (let t = 0; t < T; t++) {
        const r = await s.run({ ...state, X: ortTensor(x.slice(t * I, (t + 1) * I), [1, 1, I]) });
        got.set(r.Y!.data as Float32Array, t * O);
        const next: Record<string, ort.Tensor> = {};
        for (const k of Object.keys(state)) next[k] = r[k.replace('0_', 'N_')]!;
        state = next;
      }
      expect(maxAbsDiff(got, want).max).toBeLessThanOrEqual(FLOAT_ATOL);
    }
  });

  it('int8 specs export dequantized: ORT equals the float reference of the dequantized spec, and approximates the integer kernels', async () => {
    let worstInt = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const f = randomSpec(seed * 31337, { intCompatible: true, forwardOnly: seed % 2 === 0 });
      const rng = new Rng(seed);
      const calib = Array.from({ length: 4 }, () => rng.float32(10 * f.input.size, -1.5, 1.5));
      const q = quantizeModel(f, calibrateAbsMax(f, calib));
      const T = 10;
      const x = calib[0]!;
      const s = await ortSession(exportOnnx(q));
      const r = await s.run({ ...initialFeeds(q), X: ortTensor(x, [T, 1, f.input.size]) });
      const y = r.Y!.data as Float32Array;
      expect(maxAbsDiff(y, runEngine(dequantizeModel(q), x, T)).max).toBeLessThanOrEqual(FLOAT_ATOL);
      const d = maxAbsDiff(y, runEngine(q, x, T));
      worstInt = Math.max(worstInt, d.max);
      expect(d.max, `seed ${seed}`).toBeLessThanOrEqual(INT8_KERNEL_ATOL);
    }
    console.log(`export int8: worst |ORT(dequantized) - int8 reference| = ${worstInt.toExponential(2)}`);
  });
  it("a non-zero initial state is in the file: metadata 'edgernn.initial_state' holds every state input's first value", async () => {
    // The state inputs carry no value: without the entry an ONNX user fed zeros and got other
    // outputs than `edgernn run` (0.085 off on a GRU 8 with a random initial_h).
    const rng = new Rng(3);
    for (const kind of ['gru', 'lstm'] as const) {
      const spec = randomSpec(11, { maxLayers: 1, forwardOnly: true });
      const l = randomRecurrent(rng, kind, spec.input.size, 5, 'forward');
      l.float!.initialH = rng.float32(5, -0.8, 0.8);
      const layers = [l, { kind: 'dense' as const, inputSize: 5, outputSize: 2, activation: 'none' as const, float: { W: rng.float32(10, -1, 1), B: rng.float32(2, -0.3, 0.3) } }];
      const withInit: ModelSpec = { ...spec, layers };
      const m = decodeModelProto(exportOnnx(withInit));
      const entry = m.metadataProps.find((e) => e.key === INITIAL_STATE_KEY);
      expect(entry, kind).toBeDefined();
      const values = JSON.parse(entry!.value) as Record<string, number[]>;
      const want = onnxInitialState(withInit);
      expect(Object.keys(values)).toEqual(Object.keys(want));
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(values)) feeds[k] = ortTensor(Float32Array.from(v), want[k]!.dims);
      const T = 6;
      const x = rng.float32(T * spec.input.size, -1, 1);
      const r = await (await ortSession(exportOnnx(withInit))).run({ ...feeds, X: ortTensor(x, [T, 1, spec.input.size]) });
      expect(maxAbsDiff(r.Y!.data as Float32Array, runEngine(withInit, x, T)).max, kind).toBeLessThanOrEqual(FLOAT_ATOL);
      // Zeros everywhere, or the initial state baked in: no entry.
      expect(decodeModelProto(exportOnnx(withInit, { stateInputs: false })).metadataProps.map((e) => e.key)).not.toContain(INITIAL_STATE_KEY);
      const { initialC: _c, ...zeroState } = l.float!;
      const zeros: ModelSpec = { ...spec, layers: [{ ...l, float: { ...zeroState, initialH: new Float32Array(5) } }] };
      expect(decodeModelProto(exportOnnx(zeros)).metadataProps.map((e) => e.key)).not.toContain(INITIAL_STATE_KEY);
    }
  });

  it("import (convert) reads 'edgernn.initial_state' back: the round trip keeps a non-zero initial state", () => {
    // It started such a model from zeros (0.085 off on a GRU 8): the entry was written but not read.
    const rng = new Rng(5);
    for (const kind of ['gru', 'lstm'] as const) {
      const spec = randomSpec(12, { maxLayers: 1, forwardOnly: true });
      const l = randomRecurrent(rng, kind, spec.input.size, 5, 'forward');
      l.float!.initialH = rng.float32(5, -0.8, 0.8);
      if (kind === 'lstm') l.float!.initialC = rng.float32(5, -0.5, 0.5);
      const withInit: ModelSpec = { ...spec, layers: [l] };
      const imp = importOnnx(exportOnnx(withInit), { outputs: ['Y'] });
      expect(imp.notes.join('\n'), kind).toMatch(/initial state of 'h0_0'.* from ONNX metadata 'edgernn.initial_state'/);
      const back = onnxToSpec(imp);
      const T = 5;
      const x = rng.float32(T * spec.input.size, -1, 1);
      expect(maxAbsDiff(runEngine(back, x, T), runEngine(withInit, x, T)).max, kind).toBeLessThanOrEqual(1e-6);
      // A malformed entry is ignored with a note (the state inputs start from zeros), never an error.
      const m = decodeModelProto(exportOnnx(withInit));
      m.metadataProps = m.metadataProps.map((e) => (e.key === INITIAL_STATE_KEY ? { key: e.key, value: '{"h0_0": [1, 2]}' } : e));
      expect(importOnnx(m, { outputs: ['Y'] }).notes.join('\n')).toMatch(/'edgernn.initial_state' ignored: 'h0_0' must be 5 finite numbers \(dims \[1,1,5\]\)/);
    }
  });
});
