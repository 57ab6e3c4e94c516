/**
 * PyTorch layers around the recurrent one (test/fixtures/pytorch-layers, made by its generate.py):
 * nn.BatchNorm1d, a pointwise nn.Conv1d and nn.Linear front ends, nn.Hardtanh / torch.clamp (Clip)
 * after or before the recurrent layer. Accepted models are compared with onnxruntime-node (and
 * with what PyTorch computed) on the float reference and the convert path (float and int8);
 * refused ones (nn.LayerNorm, nn.ReLU6, a Conv1d over time) must name the node, the PyTorch layer
 * and what to do. Hand-written graphs cover the Clip and BatchNormalization cases PyTorch does not
 * emit here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { modelOutputSize, type DenseLayer } from '../../src/model/spec.js';
import { runNodeTest } from '../../src/onnx/conformance.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { readNodeTestDir } from '../../src/onnx/node-test-files.js';
import { type AttributeProto, attrFloat, attrInt, attrInts, attrStrings } from '../../src/onnx/proto.js';
import { FLOAT_ATOL, INT8_ATOL } from '../../src/onnx/tolerance.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { Rng } from '../../src/util/rng.js';
import { REPO, TestGraph, diffRecorder, fixtureRegenerationTest, maxAbsDiff, oracleNodeTest, ortSession, ortTensor, readTensorFile, expectBatchAgrees, expectFixturesListed } from './helpers.js';
import { caughtEdgeRnnError } from '../helpers/errors.js';

const DIR = path.join(REPO, 'test/fixtures/pytorch-layers');

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

const read = readTensorFile;
/** max |edgernn - onnxruntime-node| per fixture and path, printed at the end (docs/onnx.md). */
const record = diffRecorder();

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

describe('PyTorch layers around the recurrent one', () => {
  it('fixtures.json lists every fixture, and the generator is kept', () => {
    expectFixturesListed(DIR, accepted, refused);
  });

  fixtureRegenerationTest(DIR, manifest.torch, 'layer fixtures');

  it('float reference: equal to onnxruntime-node and to PyTorch (atol 1e-5)', async () => {
    for (const f of accepted) {
      const dir = path.join(DIR, f.name);
      const tc = readNodeTestDir(dir);
      const pt = await runNodeTest(tc, { backend: 'reference' });
      expect(pt.error, `${f.name}: ${pt.error?.message}`).toBeUndefined();
      expect(pt.passed, `${f.name} vs PyTorch: ${pt.maxDiff}`).toBe(true);
      const x = read(dir, 'test_data_set_0/input_0.pb');
      const r = await runNodeTest(await oracleNodeTest(f.name, tc.model, Float32Array.from(x.data), x.dims), { backend: 'reference' });
      expect(r.error, `${f.name}: ${r.error?.message}`).toBeUndefined();
      expect(r.passed, `${f.name} vs onnxruntime-node: ${r.maxDiff}`).toBe(true);
      record(f.name, 'reference', r.maxDiff);
    }
  });

  it('convert path: spec -> .ern -> session equals onnxruntime-node for every batch element (float, and int8 within INT8_ATOL)', async () => {
    for (const f of accepted) {
      const dir = path.join(DIR, f.name);
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx')));
      const x = read(dir, 'test_data_set_0/input_0.pb');
      const imp = importOnnx(bytes, { source: f.name });
      const spec = onnxToSpec(imp, { name: f.name });
      const last = (spec.extra!.onnx as { step: string }).step === 'last';
      const s = await ortSession(bytes);
      const want = (await s.run({ X: ortTensor(Float32Array.from(x.data), x.dims) })).Y!.data as Float32Array;
      // Every fixture takes [batch, seq, F] (nn.LSTM with batch_first=False is fed a transpose),
      // or [batch, F, seq] (channels first, the *_channels_first_* ones): frames are [seq][F].
      const channelsFirst = f.name.includes('channels_first');
      expect(imp.input.layout, f.name).toBe(channelsFirst ? 'BFT' : 'BTF');
      const [B, T, I] = (channelsFirst ? [x.dims[0], x.dims[2], x.dims[1]] : x.dims) as [number, number, number];
      const O = modelOutputSize(spec);
      const seqs = Array.from({ length: B }, (_, b) => Float32Array.from({ length: T * I }, (_, j) => x.data[channelsFirst ? (b * I + (j % I)) * T + Math.floor(j / I) : b * T * I + j]!));
      const q = quantizeModel(spec, calibrateAbsMax(spec, seqs));
      for (const [what, m, backend, atol] of [
        ['convert float', spec, 'float', FLOAT_ATOL],
        ['convert int8', q, 'simd', INT8_ATOL],
      ] as const) {
        const model = await rt.load(encodeModel(m), { backend, source: f.name });
        expectBatchAgrees(model, seqs, want, { name: f.name, what, T, O, last, atol, record });
        model.dispose();
      }
    }
  });

  it('channels-first input ([batch, features, seq], permuted in the model): fixed and dynamic shapes convert; the onnxruntime-web backend feeds it too', async () => {
    for (const name of ['gru_channels_first_dynamic', 'lstm_channels_first_fixed', 'conv1x1_channels_first_gru']) {
      const bytes = new Uint8Array(fs.readFileSync(path.join(DIR, name, 'model.onnx')));
      const imp = importOnnx(bytes, { source: name });
      expect(imp.input.layout, name).toBe('BFT');
      expect(imp.input.features, name).toBe(onnxToSpec(imp).input.size);
    }
    // Before: TBF and BTF only, refused at PyTorch's shape glue ("shape depends on the sequence length").
    const dir = path.join(DIR, 'gru_channels_first_dynamic');
    const x = read(dir, 'test_data_set_0/input_0.pb');
    const want = read(dir, 'test_data_set_0/output_0.pb');
    const [, F, T] = x.dims as [number, number, number];
    const frames = Float32Array.from({ length: T * F }, (_, j) => x.data[(j % F) * T + Math.floor(j / F)]!);
    const { OrtWebModel } = await import('../../src/onnx/ort-web-backend.js');
    // The refused Conv1d(kernel 3) front end on channels-first data runs there, as the report says.
    const conv3 = await OrtWebModel.create(new Uint8Array(fs.readFileSync(path.join(DIR, 'refused/conv3_channels_first_gru.onnx'))), { source: 'conv3' });
    try {
      expect(conv3.layout).toBe('BFT');
      expect((await conv3.session().run(frames)).length).toBe(3);
    } finally {
      await conv3.dispose();
    }
    const m = await OrtWebModel.create(new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx'))), { source: 'gru_channels_first_dynamic' });
    try {
      expect(m.layout).toBe('BFT');
      expect(m.inputSize).toBe(F);
      const y = await m.session().run(frames);
      expect(maxAbsDiff(y.slice(-want.dims[1]!), want.data.subarray(0, want.dims[1]!)).max).toBeLessThanOrEqual(FLOAT_ATOL);
    } finally {
      await m.dispose();
    }
  });

  it('front ends fold: BatchNorm1d and Linear into the GRU input weights, Conv1d(kernel 1) + BatchNorm1d + ReLU into one dense layer', () => {
    const kinds = (name: string) => onnxToSpec(importOnnx(new Uint8Array(fs.readFileSync(path.join(DIR, name, 'model.onnx'))))).layers.map((l) => l.kind);
    expect(kinds('bn_linear_gru_every_step')).toEqual(['gru', 'dense']);
    expect(kinds('conv1x1_bn_lstm_last')).toEqual(['dense', 'lstm', 'dense']);
    expect(kinds('gru_hardtanh_head_opset10')).toEqual(['gru', 'dense']);
    expect(kinds('linear_clamp_gru')).toEqual(['dense', 'gru', 'dense']);
  });

  it('refused models name the node, the PyTorch layer and what to do', () => {
    const expected: Record<string, { opType: string; reason: RegExp; message?: RegExp }> = {
      gru_layernorm_opset17: { opType: 'LayerNormalization', reason: /LayerNormalization \(nn\.LayerNorm\) is not supported: .*Retrain without nn\.LayerNorm/ },
      gru_layernorm_opset13: { opType: 'Sub', reason: /normalizes each step over its features.*nn\.LayerNorm as PyTorch exports it before opset 17.*Retrain without nn\.LayerNorm/ },
      linear_relu6_gru: { opType: 'Clip', reason: /clamps a Gemm\/MatMul\/Add\/Mul output \(unbounded\) to \[0, 6\] \(nn\.ReLU6\): no edgernn layer clamps.*retrain with nn\.ReLU instead of nn\.ReLU6/ },
      // Was ONNX_INVALID "cannot tell how many features 'x' has (its dimension 2 is "t")".
      conv3_channels_first_gru: { opType: 'Conv', reason: /convolution over time with kernel 3 mixes neighbouring steps/ },
      conv3_gru: { opType: 'Conv', reason: /convolution over time with kernel 3 mixes neighbouring steps.*nn\.Linear/ },
      lstm_autoencoder_repeat: { opType: 'Tile', reason: /repeats one step of the sequence \(the final state\) over time \(a sequence autoencoder's RepeatVector.*decoder's first step needs the encoder's last/ },
      // PyTorch's dynamic .expand() computes its shape with Equal/Where on T: refused there; the report adds the cause.
      lstm_autoencoder_expand: { opType: 'Equal', reason: /computes with the sequence length/, message: /The input of LSTM node '\/dec\/LSTM' is a value repeated over time by Expand\/Tile \(a sequence autoencoder's RepeatVector/ },
    };
    expect(Object.keys(expected).sort()).toEqual(refused.map((f) => f.name).sort());
    for (const f of refused) {
      const e = caughtEdgeRnnError(() => importOnnx(new Uint8Array(fs.readFileSync(path.join(DIR, 'refused', `${f.name}.onnx`))), { source: f.name }));
      expect(e.code, f.name).toBe('ONNX_UNSUPPORTED');
      const nodes = e.details.nodes as { name: string; opType: string; reason: string }[];
      expect(nodes.length, `${f.name}: ${e.message}`).toBe(1);
      expect(nodes[0]!.opType, f.name).toBe(expected[f.name]!.opType);
      expect(nodes[0]!.reason, f.name).toMatch(expected[f.name]!.reason);
      expect(e.message, f.name).toMatch(expected[f.name]!.message ?? /Run this model unchanged/);
      expect(e.message.match(/RepeatVector/g)?.length ?? 0, f.name).toBeLessThanOrEqual(1);
    }
  });
});

describe('Clip and BatchNormalization: hand-written graphs', () => {
  const rng = new Rng(31);
  const [F, H, T] = [3, 4, 5];

  /** X [seq, 1, F] -> GRU (Y squeezed) -> `after` -> output. */
  function gru(opset: number, after: (g: TestGraph, y: string) => string, gruAttrs: AttributeProto[] = [], h0?: Float32Array): Uint8Array {
    const g = new TestGraph().input('X', ['seq', 1, F]);
    const ins = ['X', g.init('W', [1, 3 * H, F], rng.float32(3 * H * F)), g.init('R', [1, 3 * H, H], rng.float32(3 * H * H)), g.init('B', [1, 6 * H], rng.float32(6 * H))];
    if (h0) ins.push('', g.init('h0', [1, 1, H], h0));
    g.node('GRU', ins, ['Y4'], [attrInt('hidden_size', H), ...gruAttrs]);
    if (opset >= 13) g.node('Squeeze', ['Y4', g.ints('ax', [1])], ['Y3']);
    else g.node('Squeeze', ['Y4'], ['Y3'], [attrInts('axes', [1])]);
    g.output(after(g, 'Y3'));
    return g.bytes(opset);
  }

  async function agrees(bytes: Uint8Array, name: string): Promise<void> {
    const x = rng.float32(T * F, -2, 2);
    const r = await runNodeTest(await oracleNodeTest(name, bytes, x, [T, 1, F]), { backend: 'reference' });
    expect(r.error?.message, name).toBeUndefined();
    expect(r.passed, `${name}: ${r.maxDiff}`).toBe(true);
    record(`hand: ${name}`, 'reference', r.maxDiff);
  }

  it('Clip(0, no max) after a Gemm is a ReLU dense layer; Clip with no bounds is dropped (opset 11 and 13)', async () => {
    for (const opset of [11, 13]) {
      const relu = gru(opset, (g, y) => {
        g.node('MatMul', [y, g.init('Wo', [H, 2], rng.float32(2 * H))], ['m']);
        g.node('Clip', ['m', g.init('lo', [], [0])], ['Y']);
        return 'Y';
      });
      const layers = onnxToSpec(importOnnx(relu)).layers;
      expect(layers.map((l) => l.kind)).toEqual(['gru', 'dense']);
      expect((layers[1] as DenseLayer).activation).toBe('relu');
      await agrees(relu, `clip-min-0 opset ${opset}`);
      const none = gru(opset, (g, y) => {
        g.node('Clip', [y], ['Y']);
        return 'Y';
      });
      expect(onnxToSpec(importOnnx(none)).layers.map((l) => l.kind)).toEqual(['gru']);
      await agrees(none, `clip-unbounded opset ${opset}`);
    }
  });

  it('Clip(-1, 1) after a GRU is dropped, also after a selection of its features; after their sum it is refused', async () => {
    const direct = gru(13, (g, y) => {
      g.node('Clip', [y, g.init('lo', [], [-1]), g.init('hi', [], [1])], ['Y']);
      return 'Y';
    });
    expect(onnxToSpec(importOnnx(direct)).layers.map((l) => l.kind)).toEqual(['gru']);
    await agrees(direct, 'hardtanh after gru');
    const sliced = gru(13, (g, y) => {
      g.node('Slice', [y, g.ints('s', [1]), g.ints('e', [3]), g.ints('a', [2])], ['sl']);
      g.node('Clip', ['sl', g.init('lo', [], [-1]), g.init('hi', [], [1])], ['Y']);
      return 'Y';
    });
    await agrees(sliced, 'hardtanh after a feature slice');
    const summed = gru(13, (g, y) => {
      g.node('Add', [y, y], ['s']);
      g.node('Clip', ['s', g.init('lo', [], [-1]), g.init('hi', [], [1])], ['Y']);
      return 'Y';
    });
    expect(caughtEdgeRnnError(() => importOnnx(summed)).message).toMatch(/clamps a Gemm\/MatMul\/Add\/Mul output \(unbounded\) to \[-1, 1\] \(nn\.Hardtanh\)/);
  });

  it('Clip(-1, 1) after a GRU is refused when its h can leave [-1, 1]: Relu activations, an initial state of 3', () => {
    const clip = (g: TestGraph, y: string) => {
      g.node('Clip', [y, g.init('lo', [], [-1]), g.init('hi', [], [1])], ['Y']);
      return 'Y';
    };
    const relu = gru(13, clip, [attrStrings('activations', ['Sigmoid', 'Relu'])]);
    expect(caughtEdgeRnnError(() => importOnnx(relu)).message).toMatch(/clamps the GRU output \(with non-default activations\) \(unbounded\) to \[-1, 1\]/);
    const big = gru(13, clip, [], new Float32Array(H).fill(3));
    expect(caughtEdgeRnnError(() => importOnnx(big)).message).toMatch(/clamps the GRU output \(from an initial state outside \[-1, 1\]\) \(unbounded\) to \[-1, 1\]/);
  });

  it('Clip before opset 11 reads min/max attributes; the defaults (±FLT_MAX) are no bound', async () => {
    const relu = gru(10, (g, y) => {
      g.node('MatMul', [y, g.init('Wo', [H, 2], rng.float32(2 * H))], ['m']);
      g.node('Clip', ['m'], ['Y'], [attrFloat('min', 0)]);
      return 'Y';
    });
    expect((onnxToSpec(importOnnx(relu)).layers[1] as DenseLayer).activation).toBe('relu');
    await agrees(relu, 'clip opset 10 min 0');
    const six = gru(10, (g, y) => {
      g.node('MatMul', [y, g.init('Wo', [H, 2], rng.float32(2 * H))], ['m']);
      g.node('Clip', ['m'], ['Y'], [attrFloat('min', 0), attrFloat('max', 6)]);
      return 'Y';
    });
    expect(caughtEdgeRnnError(() => importOnnx(six)).message).toMatch(/to \[0, 6\] \(nn\.ReLU6\)/);
  });

  it('heads with other activations or an argmax are refused with the PyTorch layer and what to do', () => {
    const head = (op: string) =>
      gru(13, (g, y) => {
        g.node('MatMul', [y, g.init('Wo', [H, 2], rng.float32(2 * H))], ['m']);
        g.node(op, ['m'], ['Y']);
        return 'Y';
      });
    const reason = (op: string) => (caughtEdgeRnnError(() => importOnnx(head(op))).details.nodes as { reason: string }[])[0]!.reason;
    expect(reason('LeakyRelu')).toBe("operator LeakyRelu (nn.LeakyReLU) is not supported: edgernn's dense layers apply relu, sigmoid or tanh (or none); retrain with one of those");
    expect(reason('Erf')).toMatch(/operator Erf \(nn\.GELU, before opset 20\) is not supported/);
    expect(reason('ArgMax')).toMatch(/operator ArgMax is not supported: it outputs class indices.*export the logits/);
  });

  it('BatchNormalization in training mode is refused; over the batch axis it is refused; in inference it folds', async () => {
    const bn = (opset: number, training: boolean, channelsFirst = true) =>
      gru(opset, (g, y) => {
        g.node('Transpose', [y], ['t'], [attrInts('perm', channelsFirst ? [1, 2, 0] : [0, 1, 2])]);
        const c = (n: string, v: number[]) => g.init(n, [H], v);
        g.node('BatchNormalization', ['t', c('sc', [1, 2, 0.5, 1]), c('bi', [0.1, 0, -0.1, 0]), c('mu', [0, 0.2, 0, -0.2]), c('var', [1, 0.5, 2, 1])], ['n'], training ? [attrInt('training_mode', 1)] : []);
        g.node('Transpose', ['n'], ['Y'], [attrInts('perm', channelsFirst ? [2, 0, 1] : [0, 1, 2])]);
        return 'Y';
      });
    await agrees(bn(15, false), 'batchnorm inference');
    expect(caughtEdgeRnnError(() => importOnnx(bn(15, true))).message).toMatch(/training_mode is 1.*model\.eval\(\)/);
    // [seq, 1, H] given as [N, C, ...]: axis 1 is the batch, not features.
    expect(caughtEdgeRnnError(() => importOnnx(bn(15, false, false))).message).toMatch(/normalizes axis 1, which is the batch axis here/);
  });
});
