/**
 * PyTorch classifiers on stacked recurrent layers (test/fixtures/pytorch-multilayer, made by its
 * generate.py): the head on h_n[-1] (a Gather or Slice of the Concat of the layers' Y_h), the
 * bidirectional h_n[-2] / h_n[-1], and fixed-length exports that pick step T-1 by number.
 * Accepted models are compared with onnxruntime-node (and with what PyTorch computed) on the
 * float reference, the int8 backends, and the convert path (spec -> .ern -> session, whole
 * sequence and step by step); refused ones must name the node and the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { runNodeTest } from '../../src/onnx/conformance.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { readNodeTestDir } from '../../src/onnx/node-test-files.js';
import { ONNX_DTYPES, attrInt, attrInts, attrString } from '../../src/onnx/proto.js';
import { FLOAT_ATOL, INT8_ATOL } from '../../src/onnx/tolerance.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { Rng } from '../../src/util/rng.js';
import { REPO, TestGraph, diffRecorder, fixtureRegenerationTest, maxAbsDiff, oracleNodeTest, ortSession, ortTensor, readTensorFile, expectFixturesListed } from './helpers.js';
import { caughtEdgeRnnError } from '../helpers/errors.js';

const DIR = path.join(REPO, 'test/fixtures/pytorch-multilayer');

interface FixtureInfo {
  name: string;
  opset: number;
  input: number[];
  note: string;
  refused?: string;
}
const manifest = JSON.parse(fs.readFileSync(path.join(DIR, 'fixtures.json'), 'utf8')) as { torch: string; fixtures: FixtureInfo[] };
const accepted = manifest.fixtures.filter((f) => f.refused === undefined);
const refused = manifest.fixtures.filter((f) => f.refused !== undefined);

/** Accepted by the importer (the conformance runner computes them) but not streaming models. */
const CONVERT_REFUSED: Record<string, RegExp> = {
  lstm2_bidirectional_h_n_backward: /final state of a bidirectional layer.*h_n\[-1\] of a bidirectional layer is its backward direction/,
  gru2_bidirectional_h_n_cat: /final state of a bidirectional layer/,
};

const read = readTensorFile;
/** max |edgernn - onnxruntime-node| per fixture and path, printed at the end (docs/onnx.md). */
const record = diffRecorder();

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

describe('PyTorch multi-layer fixtures', () => {
  it('fixtures.json lists every fixture, and the generator is kept', () => {
    expectFixturesListed(DIR, accepted, refused);
    // Opsets 11..17, both layouts, fixed and dynamic lengths are covered.
    expect(new Set(manifest.fixtures.map((f) => f.opset))).toEqual(new Set([11, 12, 13, 14, 15, 16, 17]));
  });

  fixtureRegenerationTest(DIR, manifest.torch, 'multi-layer fixtures');

  it('float reference: equal to onnxruntime-node and to PyTorch (atol 1e-5)', async () => {
    for (const f of accepted) {
      const dir = path.join(DIR, f.name);
      const tc = readNodeTestDir(dir);
      const pt = await runNodeTest(tc, { backend: 'reference' });
      expect(pt.error, `${f.name}: ${pt.error?.message}`).toBeUndefined();
      expect(pt.passed, `${f.name} vs PyTorch: ${pt.maxDiff}`).toBe(true);
      const x = read(dir, 'test_data_set_0/input_0.pb');
      const oracle = await oracleNodeTest(f.name, tc.model, Float32Array.from(x.data), x.dims);
      const r = await runNodeTest(oracle, { backend: 'reference' });
      expect(r.error, `${f.name}: ${r.error?.message}`).toBeUndefined();
      expect(r.passed, `${f.name} vs onnxruntime-node: ${r.maxDiff}`).toBe(true);
      record(f.name, 'reference', r.maxDiff);
    }
  });

  it('int8 (simd, scalar): within INT8_ATOL of onnxruntime-node, calibrated on the inputs', async () => {
    for (const f of accepted) {
      const dir = path.join(DIR, f.name);
      const tc = readNodeTestDir(dir);
      const x = read(dir, 'test_data_set_0/input_0.pb');
      const oracle = await oracleNodeTest(f.name, tc.model, Float32Array.from(x.data), x.dims);
      for (const backend of ['simd', 'scalar'] as const) {
        const r = await runNodeTest(oracle, { backend, runtime: rt });
        expect(r.error, `${backend} ${f.name}: ${r.error?.message}`).toBeUndefined();
        expect(r.maxDiff, `${backend} ${f.name}`).toBeLessThanOrEqual(INT8_ATOL);
        record(f.name, backend, r.maxDiff);
      }
    }
  });

  it('convert path: spec -> .ern -> session equals onnxruntime-node for every batch element, whole sequence and step by step (float and int8)', async () => {
    for (const f of accepted) {
      const dir = path.join(DIR, f.name);
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx')));
      const x = read(dir, 'test_data_set_0/input_0.pb');
      const imp = importOnnx(bytes, { source: f.name });
      if (CONVERT_REFUSED[f.name]) {
        const e = caughtEdgeRnnError(() => onnxToSpec(imp));
        expect(e.code).toBe('ONNX_UNSUPPORTED');
        expect(e.message, f.name).toMatch(CONVERT_REFUSED[f.name]!);
        continue;
      }
      const spec = onnxToSpec(imp, { name: f.name });
      expect((spec.extra!.onnx as { step: string }).step, f.name).toBe('last');
      const s = await ortSession(bytes);
      const want = (await s.run({ X: ortTensor(Float32Array.from(x.data), x.dims) })).Y!.data as Float32Array;
      const layout = imp.input.layout;
      const [T, B, I] = layout === 'BTF' ? [x.dims[1]!, x.dims[0]!, x.dims[2]!] : [x.dims[0]!, x.dims[1]!, x.dims[2]!];
      const O = modelOutputSize(spec);
      const seqs: Float32Array[] = [];
      for (let b = 0; b < B; b++) {
        const frames = new Float32Array(T * I);
        for (let t = 0; t < T; t++) for (let k = 0; k < I; k++) frames[t * I + k] = x.data[(layout === 'BTF' ? b * T + t : t * B + b) * I + k]!;
        seqs.push(frames);
      }
      const q = quantizeModel(spec, calibrateAbsMax(spec, seqs));
      for (const [what, m, backend, atol] of [
        ['convert float', spec, 'float', FLOAT_ATOL],
        ['convert int8', q, 'simd', INT8_ATOL],
      ] as const) {
        const model = await rt.load(encodeModel(m), { backend, source: f.name });
        seqs.forEach((frames, b) => {
          const ses = model.session();
          const whole = ses.run(frames).slice((T - 1) * O);
          const d = maxAbsDiff(whole, want.subarray(b * O, (b + 1) * O)).max;
          expect(d, `${what} ${f.name} batch ${b}`).toBeLessThanOrEqual(atol);
          record(f.name, what, d);
          // Streaming: one frame per step, the state carried, ends where the whole run does
          // (forward layers only: the runtime refuses step() with a backward direction).
          if (m.layers.some((l) => 'direction' in l && l.direction !== 'forward')) return;
          const st = model.session();
          let last = new Float32Array(O);
          for (let t = 0; t < T; t++) last = Float32Array.from(st.step(frames.subarray(t * I, (t + 1) * I)));
          expect(maxAbsDiff(last, whole).max, `${what} ${f.name} streaming`).toBeLessThanOrEqual(1e-6);
        });
        model.dispose();
      }
    }
  });

  it('refused models name the node and why', () => {
    const expected: Record<string, { opType: string; reason: RegExp }> = {
      gru2_h_n_first: { opType: 'Gather', reason: /picks h_n\[0\] of '[^']+' \(Concat node '[^']+': the final states of 2 stacked recurrent layers.*layer 1 of 2, not of the last layer/ },
      lstm2_c_n_last: { opType: 'Concat', reason: /LSTM node '[^']+', LSTM node '[^']+': output Y_c \(the final cell state\) is not available.*c_n/ },
      gru2_h_n_all_flattened: { opType: 'Transpose', reason: /reads all of '[^']+' \(Concat node '[^']+': the final states of 2 stacked recurrent layers.*several layers at once/ },
      gru2_literal_step_dynamic: { opType: 'Gather', reason: /picks step 4 \(the sequence length is not fixed in the graph/ },
    };
    expect(Object.keys(expected).sort()).toEqual(refused.map((f) => f.name).sort());
    for (const f of refused) {
      const e = caughtEdgeRnnError(() => importOnnx(new Uint8Array(fs.readFileSync(path.join(DIR, 'refused', `${f.name}.onnx`))), { source: f.name }));
      expect(e.code, f.name).toBe('ONNX_UNSUPPORTED');
      const nodes = e.details.nodes as { name: string; opType: string; reason: string }[];
      expect(nodes.length, f.name).toBe(1);
      expect(nodes[0]!.opType, f.name).toBe(expected[f.name]!.opType);
      expect(nodes[0]!.reason, f.name).toMatch(expected[f.name]!.reason);
      expect(e.message, f.name).toContain(`'${nodes[0]!.name}' (${nodes[0]!.opType})`);
    }
  });
});

describe('h_n of stacked layers: hand-written graphs', () => {
  const rng = new Rng(77);
  /** Three stacked GRUs (forward), their Y_h joined on axis 0 as PyTorch does. */
  function stacked(g: TestGraph, opset: number, F: number, H: number, layers = 3): string {
    let x = 'X';
    const yh: string[] = [];
    for (let l = 0; l < layers; l++) {
      const I = l === 0 ? F : H;
      g.node('GRU', [x, g.init(`W${l}`, [1, 3 * H, I], rng.float32(3 * H * I)), g.init(`R${l}`, [1, 3 * H, H], rng.float32(3 * H * H)), g.init(`B${l}`, [1, 6 * H], rng.float32(6 * H))], [`Y${l}`, `Yh${l}`], [
        attrInt('hidden_size', H),
        attrInt('linear_before_reset', 1),
      ]);
      if (opset >= 13) g.node('Squeeze', [`Y${l}`, g.ints(`ax${l}`, [1])], [`S${l}`]);
      else g.node('Squeeze', [`Y${l}`], [`S${l}`], [attrInts('axes', [1])]);
      x = `S${l}`;
      yh.push(`Yh${l}`);
    }
    g.node('Concat', yh, ['h_n'], [attrInt('axis', 0)]);
    return 'h_n';
  }

  it('opset 9 (Slice attributes): h_n[-1:] of three layers, squeezed, into a Gemm head; equals onnxruntime-node', async () => {
    const [F, H, T] = [3, 4, 6];
    const g = new TestGraph().input('X', ['seq', 1, F]);
    stacked(g, 9, F, H);
    g.node('Slice', ['h_n'], ['last'], [attrInts('starts', [-1]), attrInts('ends', [2 ** 31 - 1]), attrInts('axes', [0])]);
    g.node('Squeeze', ['last'], ['h'], [attrInts('axes', [0])]);
    g.node('Gemm', ['h', g.init('Wo', [2, H], rng.float32(2 * H)), g.init('bo', [2], rng.float32(2))], ['Y'], [attrInt('transB', 1)]);
    g.output('Y');
    const bytes = g.bytes(9);
    const x = rng.float32(T * F, -1, 1);
    const r = await runNodeTest(await oracleNodeTest('slice9', bytes, x, [T, 1, F]), { backend: 'reference' });
    expect(r.error?.message).toBeUndefined();
    expect(r.passed, String(r.maxDiff)).toBe(true);
    record('hand: h_n[-1:] opset 9', 'reference', r.maxDiff);
    const spec = onnxToSpec(importOnnx(bytes));
    expect(spec.layers.map((l) => l.kind)).toEqual(['gru', 'gru', 'gru', 'dense']);
  });

  it('h_n as a graph output, h_n[[0, -1]] and a slice across layers are refused; another output still compiles', () => {
    const [F, H] = [2, 3];
    const g = new TestGraph().input('X', ['seq', 1, F]);
    stacked(g, 13, F, H, 2);
    g.node('Gather', ['h_n', g.ints('both', [0, -1])], ['two'], [attrInt('axis', 0)]);
    g.node('Slice', ['h_n', g.ints('s0', [0]), g.ints('s1', [2]), g.ints('a0', [0])], ['sl']);
    g.node('Gather', ['h_n', g.init('m1', [], [-1], ONNX_DTYPES.INT64)], ['ok'], [attrInt('axis', 0)]);
    g.output('h_n').output('two').output('sl').output('ok');
    const bytes = g.bytes(13);
    const e = caughtEdgeRnnError(() => importOnnx(bytes));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    const reasons = (e.details.nodes as { reason: string }[]).map((n) => n.reason);
    expect(reasons).toHaveLength(3);
    expect(reasons[0]).toMatch(/picks h_n\[\[0, -1\]\] .*entries of 2 different layers/);
    expect(reasons[1]).toMatch(/picks h_n\[0:2\] .*entries of 2 different layers/);
    expect(reasons[2]).toMatch(/graph output 'h_n' .*several layers at once.*--output/);
    const imp = importOnnx(bytes, { outputs: ['ok'] });
    expect(imp.outputs[0]!.time).toBe('final');
    expect(imp.outputs[0]!.finalAt).toBe(1);
  });

  it('one bidirectional layer: Y_h[0] (PyTorch h_n[-2], the forward direction) converts; Y_h[1] (backward) does not', async () => {
    const [F, H, T] = [2, 3, 5];
    const mk = (index: number): Uint8Array => {
      const r = new Rng(5);
      const g = new TestGraph().input('X', ['seq', 1, F]);
      g.node('GRU', ['X', g.init('W', [2, 3 * H, F], r.float32(6 * H * F)), g.init('R', [2, 3 * H, H], r.float32(6 * H * H))], ['', 'Yh'], [attrInt('hidden_size', H), attrString('direction', 'bidirectional')]);
      g.node('Gather', ['Yh', g.init('i', [], [index], ONNX_DTYPES.INT64)], ['h'], [attrInt('axis', 0)]);
      g.node('Gemm', ['h', g.init('Wo', [2, H], r.float32(2 * H)), g.init('bo', [2], r.float32(2))], ['Y'], [attrInt('transB', 1)]);
      g.output('Y');
      return g.bytes(13);
    };
    const x = rng.float32(T * F, -1, 1);
    const fwd = mk(0);
    const spec = onnxToSpec(importOnnx(fwd));
    const s = await ortSession(fwd);
    const want = (await s.run({ X: ortTensor(x, [T, 1, F]) })).Y!.data as Float32Array;
    const model = await rt.load(encodeModel(spec), { backend: 'float' });
    const d = maxAbsDiff(model.session().run(x).slice((T - 1) * 2), want).max;
    expect(d).toBeLessThanOrEqual(FLOAT_ATOL);
    record('hand: one bidirectional layer, Y_h[0]', 'convert float', d);
    model.dispose();
    expect(caughtEdgeRnnError(() => onnxToSpec(importOnnx(mk(1)))).message).toMatch(/final state of a bidirectional layer.*backward direction/);
  });

  it('a fixed-length step other than the first or last stays refused, naming the length', () => {
    const g = new TestGraph().input('X', [6, 1, 2]);
    g.node('RNN', ['X', g.init('W', [1, 3, 2], rng.float32(6)), g.init('R', [1, 3, 3], rng.float32(9))], ['Y'], [attrInt('hidden_size', 3), attrString('direction', 'forward')]);
    g.node('Gather', ['Y', g.init('i', [], [3], ONNX_DTYPES.INT64)], ['a'], [attrInt('axis', 0)]);
    g.node('Slice', ['Y', g.ints('s', [2]), g.ints('e', [4]), g.ints('ax', [0])], ['b']);
    g.output('a').output('b');
    const e = caughtEdgeRnnError(() => importOnnx(g.bytes(13)));
    const reasons = (e.details.nodes as { reason: string }[]).map((n) => n.reason);
    expect(reasons[0]).toMatch(/picks step 3 of 6; edgernn can select the first or last step only/);
    expect(reasons[1]).toMatch(/slices steps 2\.\.4 by 1 of 6/);
  });
});
