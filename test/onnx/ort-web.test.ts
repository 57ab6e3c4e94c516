/**
 * The onnxruntime-web backend (WebAssembly, one thread) behind the session API: streaming with
 * fed-back states, history mode for graphs without state I/O, whole-sequence models, and a model
 * edgernn cannot compile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/errors.js';
import { encodeModel } from '../../src/model/codec.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { exportOnnx, nonZeroInitialState, onnxInitialState } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { OrtWebModel, runNodeTestOrtWeb, type OrtWebOptions } from '../../src/onnx/ort-web-backend.js';
import { ONNX_DTYPES, attrInt, attrInts, decodeTensorProto, encodeModelProto, encodeTensorProto, tensor, valueInfo } from '../../src/onnx/proto.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { Rng } from '../../src/util/rng.js';
import { FIXTURES_PYTORCH, REPO, TestGraph, maxAbsDiff, ortSession, ortTensor, randomSpec } from './helpers.js';

async function rejects(p: Promise<unknown>, code: string): Promise<Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(isEdgeRnnError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  return err as Error;
}

describe('OrtWebModel', () => {
  it('streams an exported model frame by frame, feeding hN/cN back, like an edgernn session', async () => {
    const spec = randomSpec(4242, { forwardOnly: true, maxLayers: 3 });
    const rt = await createRuntime();
    const ern = await rt.load(encodeModel(spec), { backend: 'float' });
    const init: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(onnxInitialState(spec))) init[k] = v.data;
    // The module passed as { ort } (typed as OrtModule, what the backend uses of it: tsc in
    // `npm test` checks that onnxruntime-web's own module fits).
    const ort: OrtWebOptions['ort'] = await import('onnxruntime-web');
    const m = await OrtWebModel.create(exportOnnx(spec), { initialState: init, ort });
    expect(m.backend).toBe('ort-web');
    expect(Object.keys(m.statePairs).length).toBeGreaterThan(0);
    for (const [i, o] of Object.entries(m.statePairs)) expect(o).toBe(i.replace('0_', 'N_'));
    expect(m.inputSize).toBe(spec.input.size);
    expect(m.outputSize).toBe(modelOutputSize(spec));
    expect(m.perStep).toBe(true);
    const s = m.session();
    const e = ern.session();
    const rng = new Rng(3);
    for (let t = 0; t < 12; t++) {
      const f = rng.float32(spec.input.size, -2, 2);
      const want = Float32Array.from(e.step(f));
      expect(maxAbsDiff(await s.step(f), want).max, `step ${t}`).toBeLessThanOrEqual(1e-5);
    }
    // run() continues from the state; reset() starts over.
    const seq = rng.float32(5 * spec.input.size, -2, 2);
    expect(maxAbsDiff(await s.run(seq), e.run(seq)).max).toBeLessThanOrEqual(1e-5);
    s.reset();
    e.reset();
    expect(maxAbsDiff(await s.run(seq), e.run(seq)).max).toBeLessThanOrEqual(1e-5);
    expect(s.steps).toBe(5);
    await rejects(s.step(new Float32Array(spec.input.size + 1)), 'SHAPE_MISMATCH');
    const nan = new Float32Array(spec.input.size).fill(NaN);
    await rejects(s.step(nan), 'NON_FINITE_INPUT');
    const huge = Array.from(nan, () => 0);
    huge[0] = 1e39;
    await expect(s.step(huge)).rejects.toThrow(/feature 0 is 1e\+39, beyond float32's range/);
    await m.dispose();
    expect(() => m.session()).toThrow(/disposed/);
  });

  it("an edgernn export's non-zero initial state (metadata 'edgernn.initial_state') is the default first state", async () => {
    // Without it, `edgernn run X.onnx` started from zeros: 0.09 off `edgernn run X.ern`.
    const spec = randomSpec(4242, { forwardOnly: true, maxLayers: 3 });
    expect(nonZeroInitialState(spec).length).toBeGreaterThan(0);
    const ern = (await (await createRuntime()).load(encodeModel(spec), { backend: 'float' })).session();
    const m = await OrtWebModel.create(exportOnnx(spec));
    const seq = new Rng(4).float32(6 * spec.input.size, -2, 2);
    expect(maxAbsDiff(await m.session().run(seq), ern.run(seq)).max).toBeLessThanOrEqual(1e-5);
    await m.dispose();
  });

  it('bidirectional models: step() is NOT_STREAMABLE, run() covers the whole sequence', async () => {
    let spec = randomSpec(1);
    for (let seed = 2; !spec.layers.some((l) => 'direction' in l && l.direction === 'bidirectional'); seed++) spec = randomSpec(seed);
    const rt = await createRuntime();
    const ern = await rt.load(encodeModel(spec), { backend: 'float' });
    const m = await OrtWebModel.create(exportOnnx(spec, { stateInputs: false }));
    expect(m.streamable).toBe(false);
    const s = m.session();
    await rejects(s.step(new Float32Array(spec.input.size)), 'NOT_STREAMABLE');
    const x = new Rng(9).float32(7 * spec.input.size, -1, 1);
    expect(maxAbsDiff(await s.run(x), ern.session().run(x)).max).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(await s.run(x), ern.session().run(x)).max).toBeLessThanOrEqual(1e-5);
    await m.dispose();
  });

  it('a PyTorch export without state I/O streams in history mode and matches PyTorch', async () => {
    const dir = path.join(FIXTURES_PYTORCH, 'lstm_two_layers_every_step');
    const x = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, 'test_data_set_0/input_0.pb'))));
    const y = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, 'test_data_set_0/output_0.pb'))));
    // Exported with fixed shapes [9, 1, 3]: run() takes exactly 9 frames, step() refuses.
    const m = await OrtWebModel.create(new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx'))));
    expect(m.statePairs).toEqual({});
    // Y is [9, 1, 2]: a row of 2 per step (it was one row of 18, so `edgernn run` printed [[18 values]]).
    expect(m.perStep).toBe(true);
    expect(m.outputSize).toBe(2);
    const s = m.session();
    await rejects(s.step(new Float32Array(3)), 'NOT_STREAMABLE');
    expect(maxAbsDiff(await s.run(Float32Array.from(x.data)), y.data).max).toBeLessThanOrEqual(1e-5);
    // A second run cannot continue a fixed-length stream (it fed 18 frames to a 9-step model): it starts over.
    expect(maxAbsDiff(await s.run(Float32Array.from(x.data)), y.data).max).toBeLessThanOrEqual(1e-5);
    await m.dispose();
    // A fixed-length last-step model ([1, 8, 4] -> [1, 3]) keeps one row.
    const last = await OrtWebModel.create(new Uint8Array(fs.readFileSync(path.join(FIXTURES_PYTORCH, 'lstm_h_n_head_softmax/model.onnx'))));
    expect([last.perStep, last.outputSize]).toEqual([false, 3]);
    await last.dispose();

    // With dynamic axes the same kind of graph streams: each step re-runs the history.
    const dyn = path.join(FIXTURES_PYTORCH, 'lstm_bidirectional_every_step_batch_first');
    const bytes = new Uint8Array(fs.readFileSync(path.join(dyn, 'model.onnx')));
    const m2 = await OrtWebModel.create(bytes, { inputLayout: 'BTF' });
    expect(m2.streamable).toBe(false); // bidirectional
    const x2 = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dyn, 'test_data_set_0/input_0.pb'))));
    const y2 = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dyn, 'test_data_set_0/output_0.pb'))));
    const [, T, F] = x2.dims as [number, number, number];
    const O = y2.dims[2]!;
    // Batch element 1 of the fixture.
    const got = await m2.session().run(Float32Array.from(x2.data.subarray(T * F, 2 * T * F)));
    expect(maxAbsDiff(got, y2.data.subarray(T * O, 2 * T * O)).max).toBeLessThanOrEqual(1e-5);
    await m2.dispose();
  });

  it("a batch_first PyTorch export with dynamic axes is [batch, seq, F] without inputLayout (it was run as [seq, batch, F]: T sequences of one step, silently wrong); a fixed batch above 1 is refused by name", async () => {
    const multi = path.join(REPO, 'test/fixtures/pytorch-multilayer');
    // Declared ['batch', 'seq', F]: only the graph (Transpose(1, 0, 2) into a layout-0 node) says which axis is time.
    for (const dir of [path.join(multi, 'rnn3_h_n_slice_dynamic'), path.join(multi, 'gru2_index_last_dynamic'), path.join(FIXTURES_PYTORCH, 'rnn_bidirectional_last_step')]) {
      const x = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, 'test_data_set_0/input_0.pb'))));
      const y = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, 'test_data_set_0/output_0.pb'))));
      const m = await OrtWebModel.create(new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx'))));
      expect(m.layout, dir).toBe('BTF');
      const [B, T, F] = x.dims as [number, number, number];
      const O = y.dims[1]!;
      for (let b = 0; b < B; b++) {
        const got = await m.session().run(Float32Array.from(x.data.subarray(b * T * F, (b + 1) * T * F)));
        expect(maxAbsDiff(got, y.data.subarray(b * O, (b + 1) * O)).max, `${dir} batch ${b}`).toBeLessThanOrEqual(1e-5);
      }
      await m.dispose();
    }
    // Exported with a fixed batch of 2 ([2, 7, 4]): onnxruntime only said "index 1 Got: 1 Expected: 7".
    const fixed = new Uint8Array(fs.readFileSync(path.join(FIXTURES_PYTORCH, 'gru_batch_first_last_step/model.onnx')));
    const err = await rejects(OrtWebModel.create(fixed, { source: 'fixed.onnx' }), 'UNSUPPORTED_MODEL');
    expect(err.message).toMatch(/^fixed\.onnx: sequence input 'X' is \[2, 7, 4\] \(\[batch, seq, features\]\): a fixed batch of 2, and sessions run one sequence at a time; export with a batch of 1 or a dynamic batch axis/);
  });

  it('a double export (PyTorch model.double()) is fed float64 and answers float32 (it was fed float32: "Unexpected input data type"); float16 inputs are refused by name', async () => {
    const g = new TestGraph().input('X', ['seq', 1, 2], ONNX_DTYPES.DOUBLE);
    g.init('C', [2], [2, -0.5], ONNX_DTYPES.DOUBLE);
    g.node('Mul', ['X', 'C'], ['Y']);
    const model = g.model(13);
    model.graph.output = [valueInfo('Y', ONNX_DTYPES.DOUBLE, ['seq', 1, 2])];
    const m = await OrtWebModel.create(encodeModelProto(model));
    const y = await m.session().run([1, 2, 3, 4]);
    expect(y).toBeInstanceOf(Float32Array);
    expect(Array.from(y)).toEqual([2, -1, 6, -2]);
    await m.dispose();

    const h = new TestGraph().input('X', ['seq', 1, 2], ONNX_DTYPES.FLOAT16);
    h.node('Identity', ['X'], ['Y']);
    const half = h.model(13);
    half.graph.output = [valueInfo('Y', ONNX_DTYPES.FLOAT16, ['seq', 1, 2])];
    const err = await rejects(OrtWebModel.create(encodeModelProto(half), { source: 'half.onnx' }), 'UNSUPPORTED_MODEL');
    expect(err.message).toBe("half.onnx: input 'X' is float16; this backend feeds float32 or float64 inputs");
  });

  it('an int64 output (an argmax head) comes back as numbers (it crashed: "Cannot convert a BigInt value to a number"); a string output is refused by name', async () => {
    const g = new TestGraph().input('X', ['seq', 1, 3]);
    g.node('ArgMax', ['X'], ['Y'], [attrInt('axis', 2), attrInt('keepdims', 1)]);
    const model = g.model(13);
    model.graph.output = [valueInfo('Y', ONNX_DTYPES.INT64, ['seq', 1, 1])];
    const m = await OrtWebModel.create(encodeModelProto(model));
    expect([m.perStep, m.outputSize]).toEqual([true, 1]);
    const y = await m.session().run([0, 5, 1, 7, 2, 3]);
    expect(Array.from(y)).toEqual([1, 0]);
    await m.dispose();

    const t = new TestGraph().input('X', ['seq', 1, 3]);
    t.node('Cast', ['X'], ['Y'], [attrInt('to', ONNX_DTYPES.STRING)]);
    const text = t.model(13);
    text.graph.output = [valueInfo('Y', ONNX_DTYPES.STRING, ['seq', 1, 3])];
    const err = await rejects(OrtWebModel.create(encodeModelProto(text), { source: 'text.onnx' }), 'UNSUPPORTED_MODEL');
    expect(err.message).toBe("text.onnx: output 'Y' is a string tensor; sessions return numbers");
  });

  it('history mode: a forward graph without state inputs gives the same rows step by step', async () => {
    const spec = randomSpec(77, { forwardOnly: true });
    // No state inputs and the hN outputs dropped: nothing to feed back.
    const proto = exportOnnx(spec, { stateInputs: false });
    const rt = await createRuntime();
    const ern = await rt.load(encodeModel(spec), { backend: 'float' });
    const m = await OrtWebModel.create(proto, { state: {} });
    expect(m.statePairs).toEqual({});
    const s = m.session();
    const e = ern.session();
    const rng = new Rng(5);
    for (let t = 0; t < 6; t++) {
      const f = rng.float32(spec.input.size, -1, 1);
      expect(maxAbsDiff(await s.step(f), Float32Array.from(e.step(f))).max).toBeLessThanOrEqual(1e-5);
    }
    await m.dispose();
  });

  it('history mode stops at maxHistory with NOT_STREAMABLE (step and run alike), changing nothing; reset() starts over', async () => {
    const spec = randomSpec(78, { forwardOnly: true });
    const m = await OrtWebModel.create(exportOnnx(spec, { stateInputs: false }), { state: {}, maxHistory: 5 });
    const F = spec.input.size;
    const rng = new Rng(6);
    const frames = Array.from({ length: 6 }, () => rng.float32(F, -1, 1));
    const s = m.session();
    const rows: Float32Array[] = [];
    for (let t = 0; t < 5; t++) rows.push(await s.step(frames[t]!));
    const e = await rejects(s.step(frames[5]!), 'NOT_STREAMABLE');
    expect(e.message).toMatch(/maxHistory \(5\)/);
    // run() continuing the stream is capped too; a fresh session may run any length at once.
    const r = m.session();
    await r.run(Float32Array.from([...frames[0]!, ...frames[1]!, ...frames[2]!]));
    expect((await rejects(r.run(Float32Array.from([...frames[3]!, ...frames[4]!, ...frames[5]!])), 'NOT_STREAMABLE')).message).toMatch(/3 \+ 3 frames would pass maxHistory \(5\)/);
    // Nothing changed by the refusals: the streams continue where they were.
    expect(Array.from(await r.run(frames[3]!))).toEqual(Array.from(rows[3]!));
    s.reset();
    expect(Array.from(await s.step(frames[0]!))).toEqual(Array.from(rows[0]!));
    expect((await m.session().run(Float32Array.from(frames.flatMap((f) => [...f])))).length).toBe(6 * m.outputSize);
    await m.dispose();
  });

  it('runs a graph edgernn cannot compile (GRU -> ReduceMean over time -> Gemm), which the importer rejects with a pointer here', async () => {
    const rng = new Rng(11);
    const I = 3;
    const H = 4;
    const nodes = [
      { name: 'gru', opType: 'GRU', domain: '', input: ['X', 'W', 'R'], output: ['Y', ''], attribute: [attrInt('hidden_size', H)] },
      { name: 'sq', opType: 'Squeeze', domain: '', input: ['Y', 'axes1'], output: ['Ys'], attribute: [] },
      { name: 'pool', opType: 'ReduceMean', domain: '', input: ['Ys'], output: ['P'], attribute: [attrInts('axes', [0]), attrInt('keepdims', 0)] },
      { name: 'head', opType: 'Gemm', domain: '', input: ['P', 'Wh', 'Bh'], output: ['Z'], attribute: [attrInt('transB', 1)] },
    ];
    const bytes = encodeModelProto({
      irVersion: 8,
      producerName: 'test',
      producerVersion: '',
      domain: '',
      modelVersion: 0,
      docString: '',
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'pooled',
        node: nodes,
        initializer: [
          tensor('W', 1, [1, 3 * H, I], rng.float32(3 * H * I)),
          tensor('R', 1, [1, 3 * H, H], rng.float32(3 * H * H)),
          tensor('axes1', ONNX_DTYPES.INT64, [1], [1]),
          tensor('Wh', 1, [2, H], rng.float32(2 * H)),
          tensor('Bh', 1, [2], rng.float32(2)),
        ],
        input: [valueInfo('X', 1, ['seq', 1, I])],
        output: [valueInfo('Z', 1, [1, 2])],
        valueInfo: [],
        sparseInitializerCount: 0,
      },
      metadataProps: [],
      functionCount: 0,
    });
    let err: unknown;
    try {
      importOnnx(bytes, { source: 'pooled.onnx' });
    } catch (e) {
      err = e;
    }
    expect(isEdgeRnnError(err, 'ONNX_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toMatch(/node 2 'pool' \(ReduceMean\)/);
    expect((err as Error).message).toMatch(/onnxruntime-web/);

    const m = await OrtWebModel.create(bytes);
    expect(m.perStep).toBe(false);
    expect(m.outputSize).toBe(2);
    const x = rng.float32(6 * I, -1, 1);
    const got = await m.session().run(x);
    const oracle = await ortSession(bytes);
    const want = (await oracle.run({ X: ortTensor(x, [6, 1, I]) })).Z!.data as Float32Array;
    expect(maxAbsDiff(got, want).max).toBeLessThanOrEqual(1e-6);
    await m.dispose();
  });

  it('malformed bytes are ONNX_PARSE before onnxruntime-web sees them', async () => {
    await rejects(OrtWebModel.create(new Uint8Array([0x08, 0x96])), 'ONNX_PARSE');
  });

  it('arguments of the wrong kind are named (they were TypeErrors); an ArrayBuffer is bytes too', async () => {
    expect((await rejects(OrtWebModel.create(undefined as never, { source: 'x.onnx' }), 'INVALID_ARGUMENT')).message).toBe("x.onnx: OrtWebModel.create() takes the file's bytes (a Uint8Array, Buffer or ArrayBuffer), got undefined");
    const spec = randomSpec(77, { forwardOnly: true, maxLayers: 1 });
    const bytes = exportOnnx(spec);
    const m = await OrtWebModel.create(bytes.slice().buffer, { source: 'm.onnx' });
    const s = m.session();
    const I = spec.input.size;
    expect((await rejects(s.step(undefined as never), 'SHAPE_MISMATCH')).message).toBe(`m.onnx: a frame needs ${I} values, got undefined`);
    expect((await rejects(s.run(undefined as never), 'SHAPE_MISMATCH')).message).toBe(`m.onnx: run() takes the frames flat, ${I}·steps numbers; got undefined`);
    expect((await rejects(s.run([new Float32Array(I), new Float32Array(I)] as never), 'SHAPE_MISMATCH')).message).toBe(`m.onnx: run() takes the frames flat, ${I}·steps numbers; got 2 objects`);
    expect(await s.step(new Float32Array(I))).toHaveLength(m.outputSize);
    await m.dispose();
  });
});

describe('runNodeTestOrtWeb', () => {
  it('NaN against NaN and equal infinities agree, as on the edgernn backends; NaN against a number fails', async () => {
    const g = new TestGraph().input('X', [3]);
    g.node('Identity', ['X'], ['Y']);
    const model = g.output('Y', [3]).bytes(13);
    const x = [NaN, Infinity, 1];
    const tc = (want: number[]) => ({ name: 'identity', model, dataSets: [{ name: 'test_data_set_0', inputs: [encodeTensorProto(tensor('X', 1, [3], x))], outputs: [encodeTensorProto(tensor('Y', 1, [3], want))] }] });
    const same = await runNodeTestOrtWeb(tc(x));
    expect(same.error).toBeUndefined();
    expect(same.maxDiff).toBe(0);
    expect(same.passed).toBe(true);
    const differ = await runNodeTestOrtWeb(tc([0, Infinity, 1]));
    expect(differ.passed).toBe(false);
    expect(differ.outputs[0]).toMatchObject({ maxDiff: Infinity, at: 0 });
  });
});
