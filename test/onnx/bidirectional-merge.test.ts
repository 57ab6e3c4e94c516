/**
 * Bidirectional layers whose two directions are merged by sum, average or product (Keras
 * `Bidirectional(merge_mode='sum' | 'ave' | 'mul')`, exported by tf2onnx, keras2onnx or by hand):
 * the GRU/LSTM node's Y [seq, 2, batch, hidden] is split on the direction axis (Slice, Split) and
 * added, or reduced over it (ReduceSum, ReduceMean). Sum and average are linear, so they fold
 * into the next dense layer (W (f + b) = [W W] [f; b]) or become one; the product is refused.
 *
 * The graphs are written here with TestGraph, in the shapes those exporters emit (opsets 11..18,
 * the attribute and input forms of `split` / `axes`, keepdims 0 and 1, Keras' batch-major
 * Transposes). onnxruntime-node is the oracle: the float reference within FLOAT_ATOL, the int8
 * backends and the convert path (spec -> .ern -> session) within INT8_ATOL, as in the other
 * ONNX suites. The worst differences are printed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { isRecurrent, modelOutputSize, type DenseLayer } from '../../src/model/spec.js';
import { runNodeTest } from '../../src/onnx/conformance.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { ONNX_DTYPES, attrInt, attrInts, attrString } from '../../src/onnx/proto.js';
import { FLOAT_ATOL, INT8_ATOL } from '../../src/onnx/tolerance.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { Rng } from '../../src/util/rng.js';
import { TestGraph, maxAbsDiff, oracleNodeTest, ortSession, ortTensor } from './helpers.js';
import { caughtEdgeRnnError } from '../helpers/errors.js';

type Merge =
  | 'slice-add' // tf2onnx: Slice [0:1] / [1:2] on axis 1, Squeeze, Add
  | 'gather-add' // Gather of 0 and 1 on axis 1 (drops the axis), Add
  | 'split-add' // Split on axis 1 (sizes as attribute < 13, input 13..17, num_outputs 18+), Squeeze, Add
  | 'split-add-equal' // Split without sizes (equal parts)
  | 'reducesum' // ReduceSum over axis 1, keepdims 0
  | 'reducesum-keep' // ReduceSum keepdims 1, then Squeeze
  | 'ave-mul' // Split, Squeeze, Add, Mul by 0.5
  | 'ave-div' // Keras' (y + y_rev) / 2: Slice, Squeeze, Add, Div by 2
  | 'reducemean' // ReduceMean over axis 1, keepdims 0
  | 'reducemean-keep'
  | 'mul'; // Keras 'mul': Split, Squeeze, Mul (refused)

type Head = 'dense' | 'none' | 'last';

interface Case {
  kind: 'gru' | 'lstm';
  opset: number;
  merge: Merge;
  head: Head;
  /** Keras order: X [batch, seq, F], Transposes around the recurrent node. */
  batchMajor: boolean;
}

const F = 3;
const H = 4;
const O = 3;

/** The scale the merge applies to each direction (ave: 1/2). */
function mergeScale(m: Merge): number {
  return m.startsWith('ave') || m.startsWith('reducemean') ? 0.5 : 1;
}

function build(c: Case, seed: number): { bytes: Uint8Array; Wd: Float32Array } {
  const rng = new Rng(seed);
  const { opset } = c;
  const g = new TestGraph().input('X', c.batchMajor ? ['batch', 'seq', F] : ['seq', 'batch', F]);
  const axes = (a: number[]) => (opset >= 13 ? { inputs: [g.ints(`ax${a.join('_')}`, a)], attrs: [] } : { inputs: [], attrs: [attrInts('axes', a)] });
  const squeeze = (from: string, to: string) => {
    const a = axes([1]);
    g.node('Squeeze', [from, ...a.inputs], [to], a.attrs);
  };
  let x = 'X';
  if (c.batchMajor) {
    g.node('Transpose', ['X'], ['xt'], [attrInts('perm', [1, 0, 2])]);
    x = 'xt';
  }
  const G = c.kind === 'gru' ? 3 : 4;
  const op = c.kind === 'gru' ? 'GRU' : 'LSTM';
  g.node(op, [x, g.init('W', [2, G * H, F], rng.float32(2 * G * H * F, -0.6, 0.6)), g.init('R', [2, G * H, H], rng.float32(2 * G * H * H, -0.6, 0.6)), g.init('B', [2, 2 * G * H], rng.float32(4 * G * H, -0.3, 0.3))], ['Y'], [
    attrInt('hidden_size', H),
    attrString('direction', 'bidirectional'),
  ]);
  const split = (equal: boolean) => {
    if (opset < 13) g.node('Split', ['Y'], ['fw4', 'bw4'], [attrInt('axis', 1), ...(equal ? [] : [attrInts('split', [1, 1])])]);
    else if (opset < 18 || !equal) g.node('Split', ['Y', ...(equal ? [] : [g.ints('sizes', [1, 1])])], ['fw4', 'bw4'], [attrInt('axis', 1)]);
    else g.node('Split', ['Y'], ['fw4', 'bw4'], [attrInt('axis', 1), attrInt('num_outputs', 2)]);
    squeeze('fw4', 'fw');
    squeeze('bw4', 'bw');
  };
  const slices = () => {
    const one = g.ints('one', [1]);
    g.node('Slice', ['Y', g.ints('zero', [0]), one, one], ['fw4']);
    g.node('Slice', ['Y', one, g.ints('two', [2]), one], ['bw4']);
    squeeze('fw4', 'fw');
    squeeze('bw4', 'bw');
  };
  const reduce = (name: 'ReduceSum' | 'ReduceMean', keep: boolean) => {
    // axes: an attribute until opset 12 (ReduceSum) / 17 (ReduceMean), an input after.
    const asInput = opset >= (name === 'ReduceSum' ? 13 : 18);
    const ax = asInput ? { inputs: [g.ints('rax', [1])], attrs: [] } : { inputs: [], attrs: [attrInts('axes', [1])] };
    g.node(name, ['Y', ...ax.inputs], [keep ? 'm4' : 'm'], [...ax.attrs, attrInt('keepdims', keep ? 1 : 0)]);
    if (keep) squeeze('m4', 'm');
  };
  switch (c.merge) {
    case 'slice-add':
      slices();
      g.node('Add', ['fw', 'bw'], ['m']);
      break;
    case 'gather-add':
      g.node('Gather', ['Y', g.init('d0', [], [0], ONNX_DTYPES.INT64)], ['fw'], [attrInt('axis', 1)]);
      g.node('Gather', ['Y', g.init('d1', [], [1], ONNX_DTYPES.INT64)], ['bw'], [attrInt('axis', 1)]);
      g.node('Add', ['fw', 'bw'], ['m']);
      break;
    case 'split-add':
    case 'split-add-equal':
      split(c.merge === 'split-add-equal');
      g.node('Add', ['fw', 'bw'], ['m']);
      break;
    case 'reducesum':
    case 'reducesum-keep':
      reduce('ReduceSum', c.merge === 'reducesum-keep');
      break;
    case 'ave-mul':
      split(false);
      g.node('Add', ['fw', 'bw'], ['s']);
      g.node('Mul', ['s', g.init('half', [], [0.5])], ['m']);
      break;
    case 'ave-div':
      slices();
      g.node('Add', ['fw', 'bw'], ['s']);
      g.node('Div', ['s', g.init('twoF', [], [2])], ['m']);
      break;
    case 'reducemean':
    case 'reducemean-keep':
      reduce('ReduceMean', c.merge === 'reducemean-keep');
      break;
    case 'mul':
      split(false);
      g.node('Mul', ['fw', 'bw'], ['m']);
      break;
  }
  let m = 'm';
  if (c.batchMajor) {
    g.node('Transpose', ['m'], ['mb'], [attrInts('perm', [1, 0, 2])]);
    m = 'mb';
  }
  const Wd = rng.float32(H * O, -0.7, 0.7);
  if (c.head === 'none') g.node('Identity', [m], ['out']);
  else {
    let h = m;
    if (c.head === 'last') {
      g.node('Gather', [m, g.init('last', [], [-1], ONNX_DTYPES.INT64)], ['lastStep'], [attrInt('axis', c.batchMajor ? 1 : 0)]);
      h = 'lastStep';
    }
    g.node('MatMul', [h, g.init('Wd', [H, O], Wd)], ['mm']);
    g.node('Add', ['mm', g.init('bd', [O], rng.float32(O, -0.2, 0.2))], c.head === 'last' ? ['logits'] : ['out']);
    if (c.head === 'last') g.node('Softmax', ['logits'], ['out'], [attrInt('axis', opset >= 13 ? -1 : 1)]);
  }
  g.output('out');
  return { bytes: g.bytes(opset), Wd };
}

const caseName = (c: Case) => `${c.kind} ${c.merge} opset ${c.opset} head ${c.head}${c.batchMajor ? ' batch-major' : ''}`;

const ACCEPTED: Case[] = [
  { kind: 'gru', opset: 11, merge: 'slice-add', head: 'dense', batchMajor: true },
  { kind: 'lstm', opset: 13, merge: 'gather-add', head: 'none', batchMajor: true },
  { kind: 'gru', opset: 11, merge: 'split-add', head: 'dense', batchMajor: true },
  { kind: 'lstm', opset: 11, merge: 'split-add-equal', head: 'none', batchMajor: false },
  { kind: 'gru', opset: 13, merge: 'split-add', head: 'none', batchMajor: false },
  { kind: 'lstm', opset: 13, merge: 'split-add-equal', head: 'last', batchMajor: true },
  { kind: 'gru', opset: 18, merge: 'split-add', head: 'dense', batchMajor: false },
  { kind: 'lstm', opset: 18, merge: 'split-add-equal', head: 'dense', batchMajor: true },
  { kind: 'gru', opset: 11, merge: 'reducesum', head: 'dense', batchMajor: false },
  { kind: 'lstm', opset: 13, merge: 'reducesum', head: 'none', batchMajor: true },
  { kind: 'gru', opset: 17, merge: 'reducesum-keep', head: 'last', batchMajor: false },
  { kind: 'lstm', opset: 12, merge: 'reducesum-keep', head: 'dense', batchMajor: true },
  { kind: 'gru', opset: 13, merge: 'ave-mul', head: 'dense', batchMajor: true },
  { kind: 'lstm', opset: 18, merge: 'ave-mul', head: 'none', batchMajor: false },
  { kind: 'gru', opset: 11, merge: 'ave-div', head: 'dense', batchMajor: true },
  { kind: 'lstm', opset: 15, merge: 'ave-div', head: 'last', batchMajor: false },
  { kind: 'gru', opset: 13, merge: 'reducemean', head: 'dense', batchMajor: false },
  { kind: 'lstm', opset: 17, merge: 'reducemean-keep', head: 'none', batchMajor: true },
  { kind: 'gru', opset: 18, merge: 'reducemean', head: 'last', batchMajor: true },
  { kind: 'lstm', opset: 18, merge: 'reducemean-keep', head: 'dense', batchMajor: false },
];

const STEPS = 6;
const BATCH = 2;

/** X for a case, in the graph's layout, and the same frames per batch element ([steps][F] flat). */
function inputs(c: Case, seed: number): { x: Float32Array; dims: number[]; seqs: Float32Array[] } {
  const x = new Rng(seed + 1000).float32(STEPS * BATCH * F, -1.5, 1.5);
  const dims = c.batchMajor ? [BATCH, STEPS, F] : [STEPS, BATCH, F];
  const seqs: Float32Array[] = [];
  for (let b = 0; b < BATCH; b++) {
    const frames = new Float32Array(STEPS * F);
    for (let t = 0; t < STEPS; t++) for (let k = 0; k < F; k++) frames[t * F + k] = x[(c.batchMajor ? b * STEPS + t : t * BATCH + b) * F + k]!;
    seqs.push(frames);
  }
  return { x, dims, seqs };
}

/** max |edgernn - onnxruntime-node| per path over all cases, printed at the end (docs/onnx.md). */
const worst: Record<string, number> = {};
function record(what: string, d: number): void {
  worst[what] = Math.max(worst[what] ?? 0, d);
}
afterAll(() => {
  const rows = Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`);
  if (rows.length) console.log(`bidirectional merges, max |edgernn - onnxruntime-node|: ${rows.join(', ')}`);
});

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

describe('bidirectional sum / ave merges', () => {
  ACCEPTED.forEach((c, i) => {
    it(`${caseName(c)}: imports, the merge folded into one dense layer; reference, int8 and convert path match onnxruntime-node`, async () => {
      const seed = 40 + i;
      const { bytes, Wd } = build(c, seed);
      const { x, dims, seqs } = inputs(c, seed);
      const name = caseName(c);

      // The merge costs no layer of its own: it is the dense head, or a dense layer without one.
      const imp = importOnnx(bytes, { source: name });
      const layers = imp.outputs[0]!.layers;
      expect(layers.map((l) => l.kind)).toEqual([c.kind, 'dense', ...(c.head === 'last' ? ['softmax'] : [])]);
      const dense = layers[1] as DenseLayer;
      const W = dense.float!.W;
      const s = mergeScale(c.merge);
      // Exact fold: the dense layer reads both halves with the same weights, [s Wd^T, s Wd^T].
      for (let o = 0; o < dense.outputSize; o++) {
        for (let h = 0; h < H; h++) {
          const want = c.head === 'none' ? (o === h ? s : 0) : Math.fround(s * Wd[h * O + o]!);
          expect(W[o * 2 * H + h], `${name} W[${o}][${h}]`).toBe(want);
          expect(W[o * 2 * H + H + h], `${name} W[${o}][${H + h}]`).toBe(want);
        }
      }

      // Float reference and the int8 kernels (calibrated on the inputs), as the conformance runner runs them.
      const oracle = await oracleNodeTest(name, bytes, x, dims);
      const ref = await runNodeTest(oracle, { backend: 'reference' });
      expect(ref.error, `${name}: ${ref.error?.message}`).toBeUndefined();
      expect(ref.maxDiff, name).toBeLessThanOrEqual(FLOAT_ATOL);
      record('reference', ref.maxDiff);
      for (const backend of ['simd', 'scalar'] as const) {
        const r = await runNodeTest(oracle, { backend, runtime: rt });
        expect(r.error, `${backend} ${name}: ${r.error?.message}`).toBeUndefined();
        expect(r.maxDiff, `${backend} ${name}`).toBeLessThanOrEqual(INT8_ATOL);
        record(backend, r.maxDiff);
      }

      // Convert path: spec -> .ern -> session, float and int8, every batch element.
      const spec = onnxToSpec(imp, { name: 'merge' });
      expect((spec.extra!.onnx as { step: string }).step).toBe(c.head === 'last' ? 'last' : 'all');
      expect(spec.layers.filter(isRecurrent).map((l) => l.direction)).toEqual(['bidirectional']);
      const ses = await ortSession(bytes);
      const want = (await ses.run({ X: ortTensor(x, dims) })).out!.data as Float32Array;
      const outW = modelOutputSize(spec);
      const q = quantizeModel(spec, calibrateAbsMax(spec, seqs));
      for (const [what, m, backend, atol] of [
        ['convert float', spec, 'float', FLOAT_ATOL],
        ['convert int8', q, 'simd', INT8_ATOL],
      ] as const) {
        const model = await rt.load(encodeModel(m), { backend, source: name });
        seqs.forEach((frames, b) => {
          const got = model.session().run(frames);
          // The ONNX output of batch element b, as [steps][outW] (or its last step).
          const ref2 = new Float32Array(c.head === 'last' ? outW : STEPS * outW);
          if (c.head === 'last') ref2.set(want.subarray(b * outW, (b + 1) * outW));
          else for (let t = 0; t < STEPS; t++) ref2.set(want.subarray((c.batchMajor ? b * STEPS + t : t * BATCH + b) * outW, (c.batchMajor ? b * STEPS + t : t * BATCH + b) * outW + outW), t * outW);
          const d = maxAbsDiff(c.head === 'last' ? got.slice((STEPS - 1) * outW) : got, ref2).max;
          expect(d, `${what} ${name} batch ${b}`).toBeLessThanOrEqual(atol);
          record(what, d);
        });
        model.dispose();
      }
    });
  });
});

/**
 * Keras Bidirectional(return_sequences=False) as tf2onnx exports it: the forward half's last step
 * (Slice T-1..end) and the backward half's first step (Slice 0..1: the reversed direction ends
 * there), merged. That is the layer's final state, which the node-test runner computes; convert
 * refuses it (no one step of a streaming model outputs it).
 */
function finalStates(kind: 'gru' | 'lstm', merge: 'sum' | 'ave' | 'concat' | 'mul', seed: number): Uint8Array {
  const rng = new Rng(seed);
  const opset = 13;
  const g = new TestGraph().input('X', ['batch', 'seq', F]);
  g.node('Transpose', ['X'], ['xt'], [attrInts('perm', [1, 0, 2])]);
  const G = kind === 'gru' ? 3 : 4;
  const op = kind === 'gru' ? 'GRU' : 'LSTM';
  g.node(op, ['xt', g.init('W', [2, G * H, F], rng.float32(2 * G * H * F, -0.6, 0.6)), g.init('R', [2, G * H, H], rng.float32(2 * G * H * H, -0.6, 0.6))], ['Y'], [
    attrInt('hidden_size', H),
    attrString('direction', 'bidirectional'),
  ]);
  const zero = g.ints('zero', [0]);
  const one = g.ints('one', [1]);
  g.node('Slice', ['Y', zero, one, one], ['fw4']);
  g.node('Slice', ['Y', one, g.ints('two', [2]), one], ['bw4']);
  g.node('Squeeze', ['fw4', one], ['fw']);
  g.node('Squeeze', ['bw4', one], ['bw']);
  g.node('Slice', ['fw', g.ints('minus1', [-1]), g.ints('end', [2 ** 63 - 1]), zero], ['fwLast']);
  g.node('Slice', ['bw', zero, one, zero], ['bwFirst']);
  g.node('Squeeze', ['fwLast', zero], ['f']);
  g.node('Squeeze', ['bwFirst', zero], ['b']);
  if (merge === 'concat') g.node('Concat', ['f', 'b'], ['m'], [attrInt('axis', -1)]);
  else if (merge === 'mul') g.node('Mul', ['f', 'b'], ['m']);
  else {
    g.node('Add', ['f', 'b'], merge === 'ave' ? ['s'] : ['m']);
    if (merge === 'ave') g.node('Div', ['s', g.init('twoF', [], [2])], ['m']);
  }
  const width = merge === 'concat' ? 2 * H : H;
  g.node('MatMul', ['m', g.init('Wd', [width, O], rng.float32(width * O, -0.7, 0.7))], ['mm']);
  g.node('Add', ['mm', g.init('bd', [O], rng.float32(O, -0.2, 0.2))], ['out']);
  g.output('out');
  return g.bytes(opset);
}

describe('bidirectional merges of the final states (Keras return_sequences=False)', () => {
  for (const kind of ['gru', 'lstm'] as const) {
    for (const merge of ['sum', 'ave', 'concat'] as const) {
      it(`${kind} ${merge}: the node-test runner matches onnxruntime-node (reference and int8); convert refuses it, saying why`, async () => {
        const bytes = finalStates(kind, merge, 60);
        const name = `${kind} final ${merge}`;
        const x = new Rng(61).float32(BATCH * STEPS * F, -1.5, 1.5);
        const oracle = await oracleNodeTest(name, bytes, x, [BATCH, STEPS, F]);
        const ref = await runNodeTest(oracle, { backend: 'reference' });
        expect(ref.error, `${name}: ${ref.error?.message}`).toBeUndefined();
        expect(ref.maxDiff, name).toBeLessThanOrEqual(FLOAT_ATOL);
        record('final reference', ref.maxDiff);
        for (const backend of ['simd', 'scalar'] as const) {
          const r = await runNodeTest(oracle, { backend, runtime: rt });
          expect(r.error, `${backend} ${name}: ${r.error?.message}`).toBeUndefined();
          expect(r.maxDiff, `${backend} ${name}`).toBeLessThanOrEqual(INT8_ATOL);
          record(`final ${backend}`, r.maxDiff);
        }
        const imp = importOnnx(bytes);
        expect(imp.outputs[0]!.time).toBe('final');
        expect(imp.outputs[0]!.layers.map((l) => l.kind)).toEqual([kind, 'dense']);
        const e = caughtEdgeRnnError(() => onnxToSpec(imp));
        expect(e.code).toBe('ONNX_UNSUPPORTED');
        expect(e.message).toMatch(/final state of a bidirectional layer.*Keras: Bidirectional with return_sequences=False/);
      });
    }
  }
});

describe('bidirectional merges that do not compile', () => {
  /** The one refused node of an import: its op type and reason. */
  function refusal(bytes: Uint8Array): { opType: string; name: string; reason: string; message: string } {
    const e = caughtEdgeRnnError(() => importOnnx(bytes, { source: 'm.onnx' }));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    const nodes = e.details.nodes as { opType: string; name: string; reason: string }[];
    expect(nodes.length, e.message).toBe(1);
    return { ...nodes[0]!, message: e.message };
  }

  for (const opset of [11, 13, 18]) {
    it(`merge_mode 'mul' (the product of the two directions) is refused at the Mul, naming the recurrent node and the merges that import (opset ${opset})`, async () => {
      for (const kind of ['gru', 'lstm'] as const) {
        const { bytes } = build({ kind, opset, merge: 'mul', head: 'dense', batchMajor: opset !== 13 }, 7);
        // onnxruntime runs it: the graph is valid ONNX, edgernn cannot represent it.
        const x = inputs({ kind, opset, merge: 'mul', head: 'dense', batchMajor: opset !== 13 }, 7);
        await (await ortSession(bytes)).run({ X: ortTensor(x.x, x.dims) });
        const r = refusal(bytes);
        expect(r.opType).toBe('Mul');
        const op = kind === 'gru' ? 'GRU' : 'LSTM';
        expect(r.reason).toMatch(new RegExp(`multiplies the forward and backward directions of the bidirectional ${op} node '${op}_\\d+'`));
        expect(r.reason).toMatch(/merge_mode='mul'/);
        expect(r.reason).toMatch(/supported merges: concat .*, sum .*, ave /);
        expect(r.message).toMatch(/onnxruntime-web/);
      }
    });
  }

  it("merge_mode 'mul' of the final states (return_sequences=False) is refused the same way", () => {
    const r = refusal(finalStates('lstm', 'mul', 62));
    expect(r.opType).toBe('Mul');
    expect(r.reason).toMatch(/multiplies the forward and backward directions of the bidirectional LSTM node 'LSTM_\d+'.*merge_mode='mul'/);
  });

  it('a product of two sequence values that is not a direction merge keeps the general reason; a quotient says it divides', () => {
    const rng = new Rng(3);
    const g = new TestGraph().input('X', ['seq', 1, F]);
    g.node('GRU', ['X', g.init('W', [1, 3 * H, F], rng.float32(3 * H * F)), g.init('R', [1, 3 * H, H], rng.float32(3 * H * H))], ['Y'], [attrInt('hidden_size', H)]);
    g.node('Mul', ['Y', 'Y'], ['out']);
    g.output('out');
    const r = refusal(g.bytes(13));
    expect(r.opType).toBe('Mul');
    expect(r.reason).toMatch(/multiplies two sequence values/);
    // Div of two sequence values said "multiplies" before.
    const d = new TestGraph().input('X', ['seq', 1, F]);
    d.node('GRU', ['X', d.init('W', [1, 3 * H, F], rng.float32(3 * H * F)), d.init('R', [1, 3 * H, H], rng.float32(3 * H * H))], ['Y'], [attrInt('hidden_size', H)]);
    d.node('Div', ['Y', 'Y'], ['out']);
    d.output('out');
    const rd = refusal(d.bytes(13));
    expect(rd.opType).toBe('Div');
    expect(rd.reason).toMatch(/divides by a sequence value/);
  });

  /** A bidirectional GRU (X [seq, batch, F], batch fixed to `batch`) followed by `tail` on Y. */
  function afterY(opset: number, tail: (g: TestGraph) => void, batch: number | string = 'batch'): Uint8Array {
    const rng = new Rng(9);
    const g = new TestGraph().input('X', ['seq', batch, F]);
    g.node('GRU', ['X', g.init('W', [2, 3 * H, F], rng.float32(6 * H * F)), g.init('R', [2, 3 * H, H], rng.float32(6 * H * H))], ['Y'], [
      attrInt('hidden_size', H),
      attrString('direction', 'bidirectional'),
    ]);
    tail(g);
    g.output('out');
    return g.bytes(opset);
  }

  it('reductions over time (pooling) and over the batch are refused, naming the axis', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['ReduceSum over time', afterY(13, (g) => g.node('ReduceSum', ['Y', g.ints('a', [0])], ['out'], [attrInt('keepdims', 0)])), /sums over the time axis \(axis 0\)/],
      ['ReduceMean over time', afterY(13, (g) => g.node('ReduceMean', ['Y'], ['out'], [attrInts('axes', [0, 1])])), /averages over the time axis \(axis 0\)/],
      ['ReduceMean of everything', afterY(18, (g) => g.node('ReduceMean', ['Y'], ['out'], [attrInt('keepdims', 0)])), /averages over the time axis \(axis 0\)/],
      ['ReduceSum over the batch', afterY(13, (g) => g.node('ReduceSum', ['Y', g.ints('a', [2])], ['out']), 2), /sums over the batch axis \(axis 2\).*one sequence at a time/],
    ];
    for (const [what, bytes, reason] of cases) {
      const r = refusal(bytes);
      expect(r.reason, what).toMatch(reason);
    }
  });

  it('ReduceSum with noop_with_empty_axes and no axes is the identity', () => {
    const bytes = afterY(13, (g) => {
      g.node('ReduceSum', ['Y'], ['r'], [attrInt('noop_with_empty_axes', 1)]);
      g.node('Transpose', ['r'], ['t'], [attrInts('perm', [0, 2, 1, 3])]);
      g.node('Reshape', ['t', g.ints('s', [0, 0, -1])], ['out']);
    });
    expect(importOnnx(bytes).outputs[0]!.layers.map((l) => l.kind)).toEqual(['gru']);
  });

  it('Split of the time or batch axis is refused; split sizes that do not add up are invalid', () => {
    const splitOn = (axis: number, batch: number | string = 'batch') =>
      afterY(13, (g) => {
        g.node('Split', ['Y'], ['a', 'b'], [attrInt('axis', axis)]);
        g.node('Add', ['a', 'b'], ['out']);
      }, batch);
    expect(refusal(splitOn(0)).reason).toMatch(/splits the time axis \(axis 0\)/);
    expect(refusal(splitOn(2, 2)).reason).toMatch(/splits the batch axis \(axis 2\).*one sequence at a time/);
    const bad = afterY(13, (g) => {
      g.node('Split', ['Y', g.ints('sz', [1, 2])], ['a', 'b'], [attrInt('axis', 1)]);
      g.node('Add', ['a', 'b'], ['out']);
    });
    const e = caughtEdgeRnnError(() => importOnnx(bad));
    expect(e.code).toBe('ONNX_INVALID');
    expect(e.message).toMatch(/Split node 'Split_\d+'.*split sizes \[1, 2\] add up to 3, axis 1 has 2/);
    const uneven = afterY(13, (g) => {
      g.node('Split', ['Y'], ['a', 'b', 'c'], [attrInt('axis', 3)]);
      g.node('Concat', ['a', 'b', 'c'], ['out'], [attrInt('axis', 3)]);
    });
    expect(caughtEdgeRnnError(() => importOnnx(uneven)).message).toMatch(/axis 3 of size 4 does not split into 3 equal parts/);
  });

  it('Split into uneven parts (opset 18 num_outputs: the last part is smaller) selects the right features', async () => {
    // ONNX 18: parts of ceil(5 / 3) = 2 features, the last one 1. The parts are put back in
    // another order, a permutation the importer folds into W.
    const rng = new Rng(12);
    const g = new TestGraph().input('X', ['seq', 1, 5]);
    g.node('Split', ['X'], ['p', 'q', 'r'], [attrInt('axis', 2), attrInt('num_outputs', 3)]);
    g.node('Concat', ['r', 'p', 'q'], ['xr'], [attrInt('axis', 2)]);
    g.node('GRU', ['xr', g.init('W', [2, 3 * H, 5], rng.float32(6 * H * 5)), g.init('R', [2, 3 * H, H], rng.float32(6 * H * H))], ['Y'], [
      attrInt('hidden_size', H),
      attrString('direction', 'bidirectional'),
    ]);
    g.node('ReduceMean', ['Y', g.ints('a', [1])], ['out'], [attrInt('keepdims', 0)]);
    g.output('out');
    const bytes = g.bytes(18);
    const oracle = await oracleNodeTest('split-uneven', bytes, rng.float32(4 * 5, -1, 1), [4, 1, 5]);
    const r = await runNodeTest(oracle, { backend: 'reference' });
    expect(r.error, r.error?.message).toBeUndefined();
    expect(r.maxDiff).toBeLessThanOrEqual(FLOAT_ATOL);
    // The feature permutation folds into W: one GRU and the merge's dense layer.
    expect(importOnnx(bytes).outputs[0]!.layers.map((l) => l.kind)).toEqual(['gru', 'dense']);
  });

  it('the merged value keeps the float weights exactly (Mul by 0.5 and ReduceMean give the same layer)', () => {
    const a = onnxToSpec(importOnnx(build({ kind: 'gru', opset: 18, merge: 'ave-mul', head: 'dense', batchMajor: false }, 5).bytes));
    const b = onnxToSpec(importOnnx(build({ kind: 'gru', opset: 18, merge: 'reducemean', head: 'dense', batchMajor: false }, 5).bytes));
    expect(b.layers).toEqual(a.layers);
  });
});
