/**
 * The importer on hand-written graphs with the glue exporters emit (tf2onnx / Keras and
 * PyTorch idioms), every opset 7..22, export -> import round trips, and every kind of bad input:
 * malformed protobuf, unsupported operators, wrong shapes. Expected outputs come from
 * onnxruntime-node.
 */
import { describe, expect, it } from 'vitest';
import { EdgeRnnError, isEdgeRnnError } from '../../src/errors.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { FloatEngine } from '../../src/runtime/float/engine.js';
import { runNodeTest } from '../../src/onnx/conformance.js';
import { exportOnnx, onnxInitialState } from '../../src/onnx/export.js';
import { importOnnx, onnxToSpec, MAX_OPSET, MIN_OPSET } from '../../src/onnx/import.js';
import { ATTR_TYPES, ONNX_DTYPES, attrFloat, attrFloats, attrInt, attrInts, attrString, attrStrings, attrTensor, decodeModelProto, decodeTensorProto, encodeModelProto, encodeTensorProto, tensor, type AttributeProto } from '../../src/onnx/proto.js';
import { Rng } from '../../src/util/rng.js';
import { TestGraph, maxAbsDiff, oracleNodeTest, ortSession, ortTensor, randomSpec } from './helpers.js';

const INT64_MAX = 2 ** 63 - 1; // rounds to 2^63 in a double, as ONNX exporters' "to the end"

function thrown(f: () => unknown): EdgeRnnError {
  try {
    f();
  } catch (e) {
    if (isEdgeRnnError(e)) return e;
    throw new Error(`expected an EdgeRnnError, got ${String((e as Error)?.stack ?? e)}`);
  }
  throw new Error('expected an error, none was thrown');
}

async function expectOracle(name: string, bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<void> {
  const tc = await oracleNodeTest(name, bytes, x, dims);
  const r = await runNodeTest(tc, { backend: 'reference' });
  expect(r.error, `${name}: ${r.error?.message}`).toBeUndefined();
  expect(r.passed, `${name}: ${JSON.stringify(r.outputs)}`).toBe(true);
  expect(r.outputs.length).toBe(tc.dataSets[0]!.outputs.length);
}

/** tf2onnx / Keras idioms around an LSTM: normalization, batch-major input, shape-computed state and lengths, last-step slice, TimeDistributed dense. */
function kerasLike(opset: number, rng: Rng): Uint8Array {
  const F = 3;
  const H = 5;
  const O = 4;
  const O2 = 2;
  const g = new TestGraph().input('X', ['batch', 'seq', F]);
  const axes = (name: string, a: number[]) => (opset >= 13 ? { inputs: [g.ints(name, a)], attrs: [] } : { inputs: [], attrs: [attrInts('axes', a)] });
  g.node('Sub', ['X', g.init('mean', [F], rng.float32(F))], ['xc']);
  g.node('Div', ['xc', g.init('std', [F], rng.float32(F, 0.5, 2))], ['xn']);
  g.node('Transpose', ['xn'], ['xt'], [attrInts('perm', [1, 0, 2])]);
  g.node('Shape', ['X'], ['shp']);
  g.node('Gather', ['shp', g.init('i0', [], [0], ONNX_DTYPES.INT64)], ['b'], [attrInt('axis', 0)]);
  g.node('Gather', ['shp', g.init('i1', [], [1], ONNX_DTYPES.INT64)], ['t'], [attrInt('axis', 0)]);
  const u0 = axes('u0', [0]);
  g.node('Unsqueeze', ['b', ...u0.inputs], ['bU'], u0.attrs);
  g.node('Unsqueeze', ['t', ...u0.inputs], ['tU'], u0.attrs);
  g.node('Concat', [g.ints('one', [1]), 'bU', g.ints('hsz', [H])], ['hshape'], [attrInt('axis', 0)]);
  g.node('ConstantOfShape', ['hshape'], ['h0'], [attrTensor('value', tensor('v', 1, [1], [0]))]);
  g.node('Cast', ['tU'], ['tI'], [attrInt('to', ONNX_DTYPES.INT32)]);
  g.node('Expand', ['tI', 'bU'], ['lens']);
  g.node('LSTM', ['xt', g.init('W', [1, 4 * H, F], rng.float32(4 * H * F)), g.init('R', [1, 4 * H, H], rng.float32(4 * H * H)), g.init('B', [1, 8 * H], rng.float32(8 * H)), 'lens', 'h0', 'h0'], ['Y', 'Yh', 'Yc'], [
    attrInt('hidden_size', H),
  ]);
  const s1 = axes('s1', [1]);
  g.node('Squeeze', ['Y', ...s1.inputs], ['ys'], s1.attrs);
  g.node('Transpose', ['ys'], ['yb'], [attrInts('perm', [1, 0, 2])]);
  if (opset >= 10) g.node('Slice', ['yb', g.ints('st', [-1]), g.ints('en', [INT64_MAX]), g.ints('ax', [1])], ['last']);
  else g.node('Slice', ['yb'], ['last'], [attrInts('starts', [-1]), attrInts('ends', [INT64_MAX]), attrInts('axes', [1])]);
  g.node('Reshape', ['last', g.ints('flat', [-1, H])], ['lastF']);
  g.node('MatMul', ['lastF', g.init('Wd', [H, O], rng.float32(H * O))], ['mm']);
  g.node('Add', ['mm', g.init('bd', [O], rng.float32(O))], ['logits']);
  g.node('Softmax', ['logits'], ['probs'], [attrInt('axis', opset >= 13 ? -1 : 1)]);
  // TimeDistributed(Dense) on every step: [T, B, H] -> [T*B, H] -> Gemm -> [T, B, O2].
  g.node('Reshape', ['ys', g.ints('toRows', [-1, H])], ['rows']);
  g.node('Gemm', ['rows', g.init('Wg', [O2, H], rng.float32(O2 * H)), g.init('bg', [O2], rng.float32(O2))], ['g'], [attrInt('transB', 1), attrFloat('alpha', 0.7)]);
  g.node('Shape', ['ys'], ['ysShape']);
  if (opset >= 10) g.node('Slice', ['ysShape', g.ints('z', [0]), g.ints('two', [2])], ['tb']);
  else g.node('Slice', ['ysShape'], ['tb'], [attrInts('starts', [0]), attrInts('ends', [2])]);
  g.node('Concat', ['tb', g.ints('o2', [O2])], ['tbo'], [attrInt('axis', 0)]);
  g.node('Reshape', ['g', 'tbo'], ['gs']);
  g.node('Tanh', ['gs'], ['every']);
  g.output('probs').output('every');
  return g.bytes(opset);
}

describe('importer: exporter glue', () => {
  for (const opset of [9, 11, 13, 17, 22]) {
    it(`Keras/tf2onnx idioms around an LSTM fold away (opset ${opset})`, async () => {
      const rng = new Rng(opset);
      const bytes = kerasLike(opset, rng);
      const x = rng.float32(1 * 6 * 3, -2, 2);
      await expectOracle(`keras-${opset}`, bytes, x, [1, 6, 3]);
      const imp = importOnnx(bytes);
      expect(imp.input.layout).toBe('BTF');
      expect(imp.outputs.map((o) => o.time)).toEqual(['last', 'seq']);
      // Normalization and the MatMul + Add head cost no extra layers: lstm, dense(+softmax).
      expect(imp.outputs[0]!.layers.map((l) => l.kind)).toEqual(['lstm', 'dense', 'softmax']);
      expect(imp.outputs[1]!.layers.map((l) => l.kind)).toEqual(['lstm', 'dense']);
      const spec = onnxToSpec(imp);
      expect(spec.extra!.onnx).toMatchObject({ step: 'last', output: 'probs', inputLayout: 'BTF' });
    });
  }

  it('features reshaped to a grid and transposed before the recurrent layer (a pending permutation of the input)', async () => {
    // [seq, 1, 6] -> [seq, 1, 2, 3] -> swap the grid axes -> [seq, 1, 6]: the GRU reads the
    // features in column order, which the importer must fold into W as a permutation.
    const rng = new Rng(8);
    const H = 4;
    const g = new TestGraph().input('X', ['seq', 1, 6]);
    g.node('Reshape', ['X', g.ints('grid', [0, 0, 2, 3])], ['xg']);
    g.node('Transpose', ['xg'], ['xt'], [attrInts('perm', [0, 1, 3, 2])]);
    g.node('Reshape', ['xt', g.ints('flat', [0, 0, 6])], ['xf']);
    g.node('GRU', ['xf', g.init('W', [1, 3 * H, 6], rng.float32(3 * H * 6)), g.init('R', [1, 3 * H, H], rng.float32(3 * H * H)), g.init('B', [1, 6 * H], rng.float32(6 * H))], ['Y'], [attrInt('hidden_size', H), attrInt('linear_before_reset', 1)]);
    g.node('Squeeze', ['Y', g.ints('ax', [1])], ['Ys']);
    g.output('Ys');
    const bytes = g.bytes(13);
    await expectOracle('feature-grid-transpose', bytes, rng.float32(5 * 6, -2, 2), [5, 1, 6]);
    expect(importOnnx(bytes).outputs[0]!.layers.map((l) => l.kind)).toEqual(['gru']);
  });

  it('bidirectional sum merge, Gather of the last step, Gemm + Sigmoid and per-step LogSoftmax', async () => {
    const rng = new Rng(5);
    const F = 4;
    const H = 3;
    const g = new TestGraph().input('X', ['seq', 1, F]);
    g.node('GRU', ['X', g.init('W', [2, 3 * H, F], rng.float32(2 * 3 * H * F)), g.init('R', [2, 3 * H, H], rng.float32(2 * 3 * H * H)), g.init('B', [2, 6 * H], rng.float32(12 * H))], ['Y'], [
      attrInt('hidden_size', H),
      attrString('direction', 'bidirectional'),
      attrInt('linear_before_reset', 1),
    ]);
    g.node('Slice', ['Y', g.ints('s0', [0]), g.ints('e1', [1]), g.ints('a1', [1])], ['fw']);
    g.node('Slice', ['Y', g.ints('s1', [1]), g.ints('e2', [2]), 'a1'], ['bw']);
    g.node('Add', ['fw', 'bw'], ['sum']);
    g.node('Squeeze', ['sum', 'a1'], ['sq']);
    g.node('Gather', ['sq', g.init('lastIdx', [], [-1], ONNX_DTYPES.INT64)], ['lastStep'], [attrInt('axis', 0)]);
    g.node('Gemm', ['lastStep', g.init('W2', [2, H], rng.float32(2 * H)), g.init('b2', [1, 2], rng.float32(2))], ['z'], [attrInt('transB', 1), attrFloat('beta', 0.5)]);
    g.node('Sigmoid', ['z'], ['p']);
    g.node('MatMul', ['sq', g.init('W3', [H, 5], rng.float32(5 * H))], ['m3']);
    g.node('Neg', ['m3'], ['n3']);
    g.node('LogSoftmax', ['n3'], ['ls'], [attrInt('axis', 2)]);
    g.output('p').output('ls');
    const bytes = g.bytes(15);
    await expectOracle('bidir-sum', bytes, rng.float32(7 * F, -1, 1), [7, 1, F]);
    const imp = importOnnx(bytes);
    // Slices, the sum and Neg are folded into the next dense layers.
    expect(imp.outputs[0]!.layers.map((l) => l.kind)).toEqual(['gru', 'dense']);
    expect(imp.outputs[1]!.layers.map((l) => l.kind)).toEqual(['gru', 'dense', 'logSoftmax']);
  });

  it('PyTorch idioms: stacked layers through Transpose/Reshape, Flatten, Relu head, Identity/Dropout', async () => {
    const rng = new Rng(6);
    const F = 2;
    const H = 4;
    const g = new TestGraph().input('X', ['seq', 1, F]);
    g.node('RNN', ['X', g.init('W0', [2, H, F], rng.float32(2 * H * F)), g.init('R0', [2, H, H], rng.float32(2 * H * H))], ['Y0'], [attrInt('hidden_size', H), attrString('direction', 'bidirectional')]);
    g.node('Transpose', ['Y0'], ['Y0t'], [attrInts('perm', [0, 2, 1, 3])]);
    g.node('Reshape', ['Y0t', g.ints('shape0', [0, 0, -1])], ['X1']);
    g.node('Dropout', ['X1'], ['X1d']);
    g.node('RNN', ['X1d', g.init('W1', [1, H, 2 * H], rng.float32(2 * H * H)), g.init('R1', [1, H, H], rng.float32(H * H))], ['Y1', 'Y1h'], [attrInt('hidden_size', H), attrString('direction', 'reverse'), attrInt('layout', 0)]);
    g.node('Identity', ['Y1h'], ['hn']);
    g.node('Flatten', ['hn'], ['hf'], [attrInt('axis', 1)]);
    g.node('Gemm', ['hf', g.init('Wh', [H, 3], rng.float32(3 * H))], ['z']);
    g.node('Relu', ['z'], ['out']);
    g.output('out');
    const bytes = g.bytes(14);
    await expectOracle('pytorch-idioms', bytes, rng.float32(5 * F, -1, 1), [5, 1, F]);
    // Y_h of a reverse layer is step 0's output: fine for the runner, not a streaming model.
    expect(thrown(() => onnxToSpec(importOnnx(bytes))).message).toMatch(/final state of a reverse layer/);
  });

  it("a bidirectional node with one direction's activations takes them, and their alphas and betas, for both (the backward one fell back to LeakyRelu's 0.01)", () => {
    // ONNX wants both directions' lists (onnxruntime refuses one): compared with the full list.
    const rng = new Rng(8);
    const F = 2;
    const H = 3;
    const W = rng.float32(2 * H * F);
    const R = rng.float32(2 * H * H);
    const specOf = (names: string[], alphas: number[], betas: number[]) => {
      const g = new TestGraph().input('X', ['seq', 1, F]);
      g.node('RNN', ['X', g.init('W', [2, H, F], W), g.init('R', [2, H, H], R)], ['Y'], [
        attrInt('hidden_size', H),
        attrString('direction', 'bidirectional'),
        attrStrings('activations', names),
        attrFloats('activation_alpha', alphas),
        ...(betas.length ? [attrFloats('activation_beta', betas)] : []),
      ]);
      g.node('Transpose', ['Y'], ['Yt'], [attrInts('perm', [0, 2, 1, 3])]);
      g.node('Reshape', ['Yt', g.ints('shape', [0, 0, -1])], ['out']);
      g.output('out');
      return onnxToSpec(importOnnx(g.bytes(14)));
    };
    const acts = (names: string[], alphas: number[], betas: number[] = []) => (specOf(names, alphas, betas).layers[0] as { activations: unknown[] }).activations;
    expect(acts(['LeakyRelu'], [0.3])).toEqual(acts(['LeakyRelu', 'LeakyRelu'], [0.3, 0.3]));
    expect(acts(['LeakyRelu'], [0.3])).toEqual([{ name: 'LeakyRelu', alpha: Math.fround(0.3) }, { name: 'LeakyRelu', alpha: Math.fround(0.3) }]);
    expect(acts(['ScaledTanh'], [0.5], [2])).toEqual(acts(['ScaledTanh', 'ScaledTanh'], [0.5, 0.5], [2, 2]));
  });

  for (let opset = MIN_OPSET; opset <= MAX_OPSET; opset++) {
    it(`opset ${opset}: GRU + Squeeze + Gemm head`, async () => {
      const rng = new Rng(100 + opset);
      const F = 3;
      const H = 4;
      const g = new TestGraph().input('X', ['seq', 1, F]);
      g.node('GRU', ['X', g.init('W', [1, 3 * H, F], rng.float32(3 * H * F)), g.init('R', [1, 3 * H, H], rng.float32(3 * H * H)), g.init('B', [1, 6 * H], rng.float32(6 * H))], ['', 'Yh'], [
        attrInt('hidden_size', H),
        attrInt('linear_before_reset', opset % 2),
      ]);
      if (opset >= 13) g.node('Squeeze', ['Yh', g.ints('ax', [0])], ['h']);
      else g.node('Squeeze', ['Yh'], ['h'], [attrInts('axes', [0])]);
      g.node('Gemm', ['h', g.init('Wo', [H, 2], rng.float32(2 * H)), g.init('bo', [2], rng.float32(2))], ['y']);
      g.output('y');
      const bytes = g.bytes(opset);
      await expectOracle(`opset-${opset}`, bytes, rng.float32(6 * F, -1, 1), [6, 1, F]);
      expect(importOnnx(bytes).opset).toBe(opset);
    });
  }

  it('export -> import round trip: same outputs, state inputs bound to the initial state', () => {
    for (let seed = 1; seed <= 15; seed++) {
      const spec = randomSpec(seed * 13, { maxLayers: 3 });
      const bind: Record<string, { dims: number[]; data: Float32Array }> = {};
      for (const [k, v] of Object.entries(onnxInitialState(spec))) bind[k] = v;
      const back = onnxToSpec(importOnnx(exportOnnx(spec), { bind, outputs: ['Y'] }));
      expect(back.layers.map((l) => l.kind)).toEqual(spec.layers.map((l) => l.kind));
      const T = 6;
      const x = new Rng(seed).float32(T * spec.input.size, -1, 1);
      const run = (s: typeof spec) => {
        const e = new FloatEngine(s);
        const out = new Float32Array(T * modelOutputSize(s));
        e.run(e.allocState(), x, T, out, 'error');
        return out;
      };
      expect(maxAbsDiff(run(back), run(spec)).max, `seed ${seed}`).toBeLessThanOrEqual(1e-6);
    }
  });

  it('unbound state inputs become zeros, with a note', () => {
    const spec = randomSpec(3, { forwardOnly: true });
    // Without the initial state an edgernn export keeps in metadata (another exporter's file).
    const m = decodeModelProto(exportOnnx(spec));
    m.metadataProps = m.metadataProps.filter((e) => e.key !== 'edgernn.initial_state');
    const imp = importOnnx(m, { outputs: ['Y'] });
    expect(imp.notes.some((n) => /h0_0.*using zeros/.test(n))).toBe(true);
    // All outputs of an LSTM export include cN_*, the final cell state, which sessions do not expose.
    if (spec.layers.some((l) => l.kind === 'lstm')) expect(thrown(() => importOnnx(exportOnnx(spec))).message).toMatch(/Y_c \(the final cell state\) is not available/);
  });

  it("PyTorch state inputs of stacked layers: h0 sliced per layer becomes zeros with a note (it was 'graph input h0 has no value'), and a state input listed first is not the sequence", () => {
    const rng = new Rng(13);
    const F = 3;
    const H = 4;
    const gru = (g: TestGraph, l: number, x: string, h: string, inSize: number) => {
      g.node('GRU', [x, g.init(`W${l}`, [1, 3 * H, inSize], rng.float32(3 * H * inSize)), g.init(`R${l}`, [1, 3 * H, H], rng.float32(3 * H * H)), '', '', h], [`Y${l}`], [attrInt('hidden_size', H), attrInt('linear_before_reset', 1)]);
      g.node('Squeeze', [`Y${l}`, g.ints(`ax${l}`, [1])], [`y${l}`]);
    };
    // forward(x, h0) and forward(h0, x): h0 [2, batch, H] sliced into each layer's initial_h, x transposed into X.
    for (const order of [['x', 'h0'], ['h0', 'x']]) {
      const g = new TestGraph();
      for (const name of order) g.input(name, name === 'x' ? ['batch', 'seq', F] : [2, 'batch', H]);
      g.node('Transpose', ['x'], ['xt'], [attrInts('perm', [1, 0, 2])]);
      g.node('Slice', ['h0', g.ints('s0', [0]), g.ints('e0', [1]), g.ints('a0', [0])], ['h0a']);
      g.node('Slice', ['h0', g.ints('s1', [1]), g.ints('e1', [2]), g.ints('a1', [0])], ['h0b']);
      gru(g, 0, 'xt', 'h0a', F);
      gru(g, 1, 'y0', 'h0b', H);
      const imp = importOnnx(g.output('y1').bytes(13), { source: 'state.onnx' });
      expect(imp.input, order.join(', ')).toMatchObject({ name: 'x', layout: 'BTF' });
      expect(imp.notes.filter((n) => /initial_h comes from unbound input 'h0'; using zeros/.test(n))).toHaveLength(2);
      expect(onnxToSpec(imp).layers.map((l) => l.kind)).toEqual(['gru', 'gru']);
    }
  });

  it('typed attributes without a value field hold the protobuf default 0 (proto3 writers omit it)', async () => {
    // An AttributeProto with type INT / FLOAT set and no i / f on the wire: onnxruntime reads 0.
    const rng = new Rng(12);
    const F = 3;
    const H = 4;
    const bare = (name: string, type: number): AttributeProto => ({ name, type, floats: [], ints: [], strings: [], tensors: [], graphCount: 0 });
    const cases: [string, number, string, number][] = [
      ['GRU', 3, 'linear_before_reset', ATTR_TYPES.INT],
      ['LSTM', 4, 'input_forget', ATTR_TYPES.INT],
      ['GRU', 3, 'layout', ATTR_TYPES.INT],
    ];
    for (const [op, G, attr, type] of cases) {
      const g = new TestGraph().input('X', ['seq', 1, F]);
      const B = g.init('B', [1, 2 * G * H], rng.float32(2 * G * H));
      g.node(op, ['X', g.init('W', [1, G * H, F], rng.float32(G * H * F)), g.init('R', [1, G * H, H], rng.float32(G * H * H)), B], ['Y'], [attrInt('hidden_size', H), bare(attr, type)]);
      await expectOracle(`${op}-${attr}-no-value`, g.output('Y').bytes(17), rng.float32(5 * F, -1, 1), [5, 1, F]);
    }
    // Gemm beta = 0 written without its value: C is ignored (it read as NaN before).
    const g = new TestGraph().input('X', ['seq', 1, F]);
    g.node('RNN', ['X', g.init('W', [1, H, F], rng.float32(H * F)), g.init('R', [1, H, H], rng.float32(H * H))], ['', 'Yh'], [attrInt('hidden_size', H)]);
    g.node('Squeeze', ['Yh', g.ints('ax', [0])], ['h']);
    g.node('Gemm', ['h', g.init('Wo', [H, 2], rng.float32(2 * H)), g.init('bo', [2], [5, 5])], ['z'], [bare('beta', ATTR_TYPES.FLOAT)]);
    await expectOracle('gemm-beta-no-value', g.output('z').bytes(17), rng.float32(5 * F, -1, 1), [5, 1, F]);
  });
});

describe('importer: bad input', () => {
  const good = exportOnnx(randomSpec(21));

  it('malformed protobuf: truncated, garbage, wrong wire type, empty, not a model', () => {
    for (const cut of [1, 7, 50, Math.floor(good.length / 2), good.length - 1]) {
      const e = thrown(() => importOnnx(good.subarray(0, cut), { source: 'cut.onnx' }));
      expect(e.code, `cut at ${cut}`).toBe('ONNX_PARSE');
      expect(e.message).toMatch(/cut\.onnx/);
    }
    expect(thrown(() => importOnnx(new Uint8Array(0))).message).toMatch(/empty file/);
    expect(thrown(() => importOnnx(new TextEncoder().encode('{"not": "onnx"}'))).code).toBe('ONNX_PARSE');
    // Field 7 (graph) as a varint instead of a message.
    expect(thrown(() => importOnnx(Uint8Array.from([0x08, 0x07, 0x38, 0x01]))).message).toMatch(/field 'graph' has wire type 0, expected 2/);
    // Deprecated group wire type.
    expect(thrown(() => importOnnx(Uint8Array.from([0x0b]))).message).toMatch(/group wire type/);
    // A varint that never ends.
    expect(thrown(() => importOnnx(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).message).toMatch(/longer than 10 bytes/);
    // A TensorProto whose raw_data does not match its dims.
    const t = encodeTensorProto(tensor('x', 1, [2, 3], [1, 2, 3, 4, 5, 6]));
    const bad = Uint8Array.from([...t.subarray(0, 1), ...t.subarray(1)]);
    bad[2] = 4; // dims [4, 3]
    expect(thrown(() => decodeTensorProto(bad, 'x.pb')).message).toMatch(/raw_data has 24 bytes, dims need 12 x 4 = 48/);
  });

  it('int32_data holds the element type: a 5-byte negative int32 and out-of-range int8 values wrap as protobuf and onnx.numpy_helper read them', () => {
    // dims [2], data_type, int32_data unpacked (field 5, varint). python3-onnx reads these as
    // [-1, 7] (protobuf keeps the low 32 bits) and [-1, -128] (numpy_helper casts to int8).
    const t = (dtype: number, field: number, ...varints: number[][]) => Uint8Array.from([0x08, 0x02, 0x10, dtype, ...varints.flatMap((v) => [(field << 3) | 0, ...v])]);
    expect(Array.from(decodeTensorProto(t(ONNX_DTYPES.INT32, 5, [0xff, 0xff, 0xff, 0xff, 0x0f], [0x07])).data)).toEqual([-1, 7]);
    expect(Array.from(decodeTensorProto(t(ONNX_DTYPES.INT8, 5, [0xff, 0x01], [0x80, 0x01])).data)).toEqual([-1, -128]);
    expect(Array.from(decodeTensorProto(t(ONNX_DTYPES.UINT8, 5, [0xff, 0x03], [0x02])).data)).toEqual([255, 2]);
    expect(Array.from(decodeTensorProto(t(ONNX_DTYPES.INT16, 5, [0xff, 0xff, 0x03], [0x01])).data)).toEqual([-1, 1]);
    expect(Array.from(decodeTensorProto(t(ONNX_DTYPES.BOOL, 5, [0x02], [0x00])).data)).toEqual([1, 0]);
    // UINT32 lives in uint64_data (field 11).
    expect(Array.from(decodeTensorProto(t(ONNX_DTYPES.UINT32, 11, [0xff, 0xff, 0xff, 0xff, 0x1f], [0x07])).data)).toEqual([2 ** 32 - 1, 7]);
  });

  it('byte fuzzing: every corruption is accepted or an EdgeRnnError, never a crash', () => {
    const rng = new Rng(99);
    let errors = 0;
    for (let i = 0; i < 400; i++) {
      const b = Uint8Array.from(good);
      for (let k = rng.int(1, 4); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      try {
        importOnnx(b);
      } catch (e) {
        if (!isEdgeRnnError(e)) throw new Error(`fuzz case ${i}: ${String((e as Error).stack ?? e)}`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });

  it('unsupported operators: every one is listed (index, name, op, in -> out) with a pointer to onnxruntime-web', () => {
    const g = new TestGraph().input('X', ['seq', 1, 2]);
    g.node('Mod', ['X', g.init('k', [1, 1, 1], [1])], ['c']);
    g.node('MyOp', ['c'], ['d'], [], 'com.example');
    g.node('LeakyRelu', ['d'], ['y']);
    g.node('Erf', ['X'], ['e']);
    g.output('y').output('e');
    const e = thrown(() => importOnnx(g.bytes(17), { source: 'odd.onnx' }));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/odd\.onnx: edgernn cannot compile 4 of 4 nodes/);
    expect(e.message).toMatch(/node 0 'Mod_0' \(Mod\), \[X, k\] -> \[c\]: operator Mod is not supported/);
    expect(e.message).toMatch(/node 1 'MyOp_1' \(com\.example\.MyOp\).*domain 'com\.example'/);
    expect(e.message).toMatch(/node 2 'LeakyRelu_2' \(LeakyRelu\)/);
    expect(e.message).toMatch(/node 3 'Erf_3' \(Erf\)/);
    expect(e.message).toMatch(/onnxruntime-web backend/);
    expect((e.details.nodes as unknown[]).length).toBe(4);
  });

  it('a graph without a recurrent node (PyTorch nn.GRUCell with a state input) says to export nn.GRU; one with a GRU does not get that line', () => {
    const rng = new Rng(14);
    const H = 3;
    // GRUCell(x, h): Gemm(x, W_ih) + Gemm(h, W_hh), then gate arithmetic; the report said only "graph input 'h' has no value".
    const g = new TestGraph().input('x', [1, 2]).input('h', [1, H]);
    g.node('Gemm', ['x', g.init('Wih', [3 * H, 2], rng.float32(6 * H)), g.init('bih', [3 * H], rng.float32(3 * H))], ['gi'], [attrInt('transB', 1)]);
    g.node('Gemm', ['h', g.init('Whh', [3 * H, H], rng.float32(3 * H * H)), g.init('bhh', [3 * H], rng.float32(3 * H))], ['gh'], [attrInt('transB', 1)]);
    g.node('Add', ['gi', 'gh'], ['y']);
    const e = thrown(() => importOnnx(g.output('y').bytes(13), { source: 'cell.onnx' }));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toContain("The graph has no GRU, LSTM or RNN node: PyTorch exports nn.GRUCell/nn.LSTMCell (and loops over them) as plain arithmetic. Export nn.GRU/nn.LSTM/nn.RNN instead; a cell's weights load into layer 0 (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0).");
    const withGru = new TestGraph().input('X', ['seq', 1, 2]);
    withGru.node('GRU', ['X', withGru.init('W', [1, 3 * H, 2], rng.float32(6 * H)), withGru.init('R', [1, 3 * H, H], rng.float32(3 * H * H))], ['Y'], [attrInt('hidden_size', H)]);
    withGru.node('Erf', ['Y'], ['z']);
    expect(thrown(() => importOnnx(withGru.output('z').bytes(13))).message).not.toMatch(/no GRU, LSTM or RNN node/);
  });

  it('supported operators used in unsupported ways are explained', () => {
    const H = 2;
    const rng = new Rng(1);
    const lstm = (g: TestGraph) => g.node('LSTM', ['X', g.init('W', [1, 4 * H, 2], rng.float32(8 * H)), g.init('R', [1, 4 * H, H], rng.float32(4 * H * H))], ['Y', 'Yh', 'Yc'], [attrInt('hidden_size', H)]);
    const cases: [string, (g: TestGraph) => void, RegExp][] = [
      ['Y_c', (g) => g.node('Identity', ['Yc'], ['out']), /Y_c.*not available/],
      ['step 2', (g) => g.node('Gather', ['Y', g.init('i', [], [2], ONNX_DTYPES.INT64)], ['out']), /picks step 2.*first or last step only/],
      ['time product', (g) => g.node('Mul', ['Y', 'Y'], ['out']), /multiplies two sequence values/],
      ['reshape time', (g) => g.node('Reshape', ['Y', g.ints('s', [-1])], ['out']), /merges the time axis/],
      ['const on left', (g) => g.node('MatMul', [g.init('M', [1, 3], [1, 2, 3]), 'Yh'], ['out']), /left operand/],
      // Attention pooling (softmax of scores over the steps) said only "axis 0 must be the only feature axis".
      ['softmax over time', (g) => g.node('Softmax', ['Y'], ['out'], [attrInt('axis', 0)]), /Softmax_\d+' \(Softmax\), \[Y\] -> \[out\]: softmax over the time axis \(axis 0\): weights across steps are not the output of one step; edgernn takes softmax over the features \(axis 3 here\)/],
      ['log_softmax over batch', (g) => g.node('LogSoftmax', ['Y'], ['out'], [attrInt('axis', 2)]), /log-softmax over the batch axis \(axis 2\); edgernn takes log-softmax over the features \(axis 3 here\), as one axis/],
    ];
    for (const [what, add, re] of cases) {
      const g = new TestGraph().input('X', ['seq', 1, 2]);
      lstm(g);
      add(g);
      g.output('out');
      const e = thrown(() => importOnnx(g.bytes(17)));
      expect(e.code, what).toBe('ONNX_UNSUPPORTED');
      expect(e.message, what).toMatch(re);
    }
  });

  it('Dropout: training_mode true is refused (onnxruntime drops random elements); in inference mode an unbound ratio is ignored', async () => {
    const rng = new Rng(12);
    const H = 3;
    const mk = (dropoutInputs: (g: TestGraph) => string[], extraInput = false) => {
      const g = new TestGraph().input('X', ['seq', 1, 2]);
      if (extraInput) g.input('ratio', []);
      g.node('GRU', ['X', g.init('W', [1, 3 * H, 2], rng.float32(6 * H)), g.init('R', [1, 3 * H, H], rng.float32(3 * H * H))], ['Y'], [attrInt('hidden_size', H)]);
      g.node('Dropout', ['Y', ...dropoutInputs(g)], ['out']);
      return g.output('out').bytes(13);
    };
    const train = mk((g) => [g.init('r', [], [0.5]), g.init('tm', [], [1], ONNX_DTYPES.BOOL)]);
    // onnxruntime really drops: its output differs from the GRU's (some elements are 0, the rest scaled by 2).
    const x = rng.float32(10, -1, 1);
    const tc = await oracleNodeTest('dropout-train', train, x, [5, 1, 2]);
    expect((await runNodeTest(tc, { backend: 'reference' })).error?.code).toBe('ONNX_UNSUPPORTED');
    const e = thrown(() => importOnnx(train));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/\(Dropout\), \[Y, r, tm\] -> \[out\]: training_mode is true \(ratio 0\.5\)/);
    // training_mode false, or a ratio of 0: the identity, as onnxruntime computes it.
    for (const [name, bytes] of [
      ['false', mk((g) => [g.init('r', [], [0.5]), g.init('tm', [], [0], ONNX_DTYPES.BOOL)])],
      ['ratio 0', mk((g) => [g.init('r', [], [0]), g.init('tm', [], [1], ONNX_DTYPES.BOOL)])],
    ] as const) {
      await expectOracle(`dropout-${name}`, bytes, x, [5, 1, 2]);
    }
    // The ratio from an unbound graph input, no training_mode: the identity (it used to become the
    // unbound ratio itself: "output 'out' is the unbound graph input 'ratio'").
    const imp = importOnnx(mk(() => ['ratio'], true));
    expect(imp.outputs[0]!.layers.map((l) => l.kind)).toEqual(['gru']);
    // A training_mode from an unbound graph input may be true: refused, naming it.
    expect(thrown(() => importOnnx(mk((g) => [g.init('r', [], [0.5]), 'ratio'], true))).message).toMatch(/graph input 'ratio' has no value/);
  });

  it('a constant that repeats a size-1 axis is valid ONNX: ONNX_UNSUPPORTED (not ONNX_INVALID), naming the node', async () => {
    const rng = new Rng(13);
    const H = 3;
    const g = new TestGraph().input('X', ['seq', 1, 2]);
    g.node('GRU', ['X', g.init('W', [1, 3 * H, 2], rng.float32(6 * H)), g.init('R', [1, 3 * H, H], rng.float32(3 * H * H))], ['Y'], [attrInt('hidden_size', H)]);
    g.node('Squeeze', ['Y', g.ints('ax', [1])], ['y']);
    g.node('Add', ['y', g.init('c', [2, 1, 1, H], rng.float32(2 * H))], ['out']);
    const bytes = g.output('out').bytes(13);
    // onnxruntime runs it: [2, seq, 1, H].
    const s = await ortSession(bytes);
    const r = await s.run({ X: ortTensor(rng.float32(10, -1, 1), [5, 1, 2]) });
    expect(r.out!.dims).toEqual([2, 5, 1, H]);
    const e = thrown(() => importOnnx(bytes));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/\(Add\), \[y, c\] -> \[out\]: operand \[2,1,1,3\] repeats the value 2 times along axis 0/);
  });

  it('a batch-first graph is refused for its real problem, not for the wrong layout guess', () => {
    // PyTorch batch_first idiom: h0 = zeros(1, x.size(0), H). Read as [seq, batch, F], that
    // shape depends on the sequence length; read as [batch, seq, F], the graph compiles up to
    // the Gather of step 2. Both fail at one node: the message must name the Gather.
    const rng = new Rng(3);
    const H = 2;
    const g = new TestGraph().input('X', ['batch', 'seq', 2]);
    g.node('Shape', ['X'], ['shp']);
    g.node('Gather', ['shp', g.ints('i0', [0])], ['b']);
    g.node('Concat', [g.ints('one', [1]), 'b', g.ints('h', [H])], ['h0shape'], [attrInt('axis', 0)]);
    g.node('ConstantOfShape', ['h0shape'], ['h0']);
    g.node('Transpose', ['X'], ['xt'], [attrInts('perm', [1, 0, 2])]);
    g.node('GRU', ['xt', g.init('W', [1, 3 * H, 2], rng.float32(6 * H)), g.init('R', [1, 3 * H, H], rng.float32(3 * H * H)), '', '', 'h0'], ['Y'], [attrInt('hidden_size', H)]);
    g.node('Gather', ['Y', g.init('two', [], [2], ONNX_DTYPES.INT64)], ['out']);
    const e = thrown(() => importOnnx(g.output('out').bytes(17)));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/node 6 .*picks step 2/);
    expect(e.message).not.toMatch(/\(ConstantOfShape\)/);
  });

  it('opsets outside 7..22 and missing default-domain imports are refused', () => {
    const m = decodeModelProto(good);
    for (const v of [6, 23]) {
      const e = thrown(() => importOnnx(encodeModelProto({ ...m, opsetImport: [{ domain: '', version: v }] })));
      expect(e.code).toBe('ONNX_UNSUPPORTED');
      expect(e.message).toMatch(new RegExp(`opset ${v} is outside the 7\\.\\.22 range`));
    }
    expect(thrown(() => importOnnx(encodeModelProto({ ...m, opsetImport: [{ domain: 'ai.onnx.ml', version: 3 }] }))).code).toBe('ONNX_INVALID');
  });

  it('wrong shapes: weights vs input, state batch, bound data, missing inputs', () => {
    const rng = new Rng(2);
    const H = 3;
    const mk = (wIn: number, rDims: number[], extra: (g: TestGraph) => string[] = () => []) => {
      const g = new TestGraph().input('X', ['seq', 2, 4]);
      const more = extra(g);
      g.node('GRU', ['X', g.init('W', [1, 3 * H, wIn], rng.float32(3 * H * wIn)), g.init('R', rDims, rng.float32(rDims.reduce((a, b) => a * b, 1))), ...more], ['Y'], [attrInt('hidden_size', H)]);
      return g.output('Y').bytes(17);
    };
    let e = thrown(() => importOnnx(mk(5, [1, 3 * H, H])));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toMatch(/W expects 5 input features, X has 4/);
    e = thrown(() => importOnnx(mk(4, [1, 3 * H, H + 1])));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toMatch(/R has shape \[1, 9, 4\], expected \[1, 9, 3\]/);
    e = thrown(() => importOnnx(mk(4, [1, 3 * H, H], (g) => ['', '', g.init('h0', [1, 3, H], rng.float32(3 * H))])));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toMatch(/initial_h has shape \[1, 3, 3\], expected \[1, 2, 3\]/);
    e = thrown(() => importOnnx(mk(4, [1, 3 * H, H]), { bind: { W: { dims: [1, 9, 4], data: [1, 2, 3] } } }));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toMatch(/bound input 'W' has 3 values for dims \[1,9,4\]/);
    const g = new TestGraph().input('X', ['seq', 1, 2]);
    g.node('Relu', ['nowhere'], ['out']);
    e = thrown(() => importOnnx(g.output('out').bytes(17)));
    expect(e.code).toBe('ONNX_INVALID');
    expect(e.message).toMatch(/reads 'nowhere', which no earlier node/);
  });

  it('corrupt shapes in the glue cannot exhaust memory', () => {
    for (const [shape, code] of [
      [[100000, 100000, 8], 'ONNX_UNSUPPORTED'],
      [[-3, 2], 'ONNX_INVALID'],
    ] as const) {
      const g = new TestGraph().input('X', ['seq', 1, 2]);
      g.node('ConstantOfShape', [g.ints('s', [...shape])], ['z']);
      g.node('Add', ['X', 'z'], ['Y']);
      const e = thrown(() => importOnnx(g.output('Y').bytes(17)));
      expect(e.code, JSON.stringify(shape)).toBe(code);
    }
  });

  it('constants that broadcast or multiply past the folding limit are refused at once, naming the node', () => {
    // 30000 x 1 and 1 x 30000 from two tiny ConstantOfShape nodes: 9e8 elements when folded
    // (minutes and gigabytes before the limit was checked here too).
    for (const op of ['Add', 'Mul', 'Where', 'MatMul'] as const) {
      const g = new TestGraph().input('X', ['seq', 1, 2]);
      g.node('ConstantOfShape', [g.ints('s1', [30000, 1])], ['a'], [attrTensor('value', tensor('v', 1, [1], [1]))]);
      g.node('ConstantOfShape', [g.ints('s2', [1, 30000])], ['b'], [attrTensor('value', tensor('v', 1, [1], [1]))]);
      if (op === 'Where') g.node('Where', [g.init('c', [1], [1], ONNX_DTYPES.BOOL), 'a', 'b'], ['z']);
      else g.node(op, ['a', 'b'], ['z']);
      g.node('Add', ['X', 'z'], ['Y']);
      const t0 = performance.now();
      const e = thrown(() => importOnnx(g.output('Y').bytes(17)));
      expect(performance.now() - t0, op).toBeLessThan(2000);
      expect(e.code, op).toBe('ONNX_UNSUPPORTED');
      expect(e.message, op).toMatch(new RegExp(`${op} node '${op}_2'.*\\[30000, 30000\\].*exceeds`));
    }
  });

  it('the node-test runner reports an output of the wrong shape', async () => {
    const rng = new Rng(4);
    const g = new TestGraph().input('X', ['seq', 1, 2]);
    g.node('RNN', ['X', g.init('W', [1, 3, 2], rng.float32(6)), g.init('R', [1, 3, 3], rng.float32(9))], ['Y'], [attrInt('hidden_size', 3)]);
    const bytes = g.output('Y').bytes(17);
    const tc = await oracleNodeTest('shape', bytes, rng.float32(8, -1, 1), [4, 1, 2]);
    const y = decodeTensorProto(tc.dataSets[0]!.outputs[0]!);
    const wrong = encodeTensorProto({ ...y, dims: [4, 3] });
    const r = await runNodeTest({ ...tc, dataSets: [{ ...tc.dataSets[0]!, outputs: [wrong] }] }, { backend: 'reference' });
    expect(r.passed).toBe(false);
    expect(r.error?.code).toBe('SHAPE_MISMATCH');
    expect(r.error?.message).toMatch(/has shape \[4,1,1,3\], the test expects \[4,3\]/);
  });
});
