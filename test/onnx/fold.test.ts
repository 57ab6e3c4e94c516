/**
 * Constant folding (src/onnx/fold.ts) against onnxruntime-node: every op the importer folds, run
 * on the same constants as a one-node ONNX model in onnxruntime, must give the same shape, type
 * and elements (integer ops exactly; float ops within a float32 rounding of the op, since ORT
 * computes in float32 where the folder rounds a float64 result once).
 */
import { describe, expect, it } from 'vitest';
import { Attrs } from '../../src/onnx/attrs.js';
import { CONST_OPS, tensorToConst } from '../../src/onnx/fold.js';
import { attrFloat, attrInt, attrInts, attrTensor, ONNX_DTYPES, tensor, valueInfo, type AttributeProto, type NodeProto } from '../../src/onnx/proto.js';
import { ort, TestGraph } from './helpers.js';

const { FLOAT, INT64, INT32, BOOL, DOUBLE, UINT8, INT8 } = ONNX_DTYPES;

interface In {
  dtype: number;
  dims: number[];
  data: number[];
}
interface Case {
  name: string;
  op: string;
  opset: number;
  inputs: (In | null)[];
  attrs?: AttributeProto[];
  /** Output element types (ORT needs them declared). */
  out: number[];
}

const f = (dims: number[], data: number[]): In => ({ dtype: FLOAT, dims, data });
const i64 = (dims: number[], data: number[]): In => ({ dtype: INT64, dims, data });
const range = (n: number, k = 1, off = 0) => Array.from({ length: n }, (_, i) => off + i * k);
const X234 = f([2, 3, 4], range(24, 0.5, -6));

const CASES: Case[] = [
  { name: 'Identity', op: 'Identity', opset: 13, inputs: [X234], out: [FLOAT] },
  { name: 'Cast float to int64 (truncates)', op: 'Cast', opset: 13, inputs: [f([5], [-2.7, -0.5, 0.4, 1.5, 2.9])], attrs: [attrInt('to', INT64)], out: [INT64] },
  { name: 'Cast int64 to float', op: 'Cast', opset: 13, inputs: [i64([3], [-3, 0, 16777217])], attrs: [attrInt('to', FLOAT)], out: [FLOAT] },
  { name: 'Cast float to double', op: 'Cast', opset: 13, inputs: [f([2], [0.1, -1e-3])], attrs: [attrInt('to', DOUBLE)], out: [DOUBLE] },
  { name: 'Cast float to bool', op: 'Cast', opset: 13, inputs: [f([4], [0, -0.5, 2, 0])], attrs: [attrInt('to', BOOL)], out: [BOOL] },
  { name: 'Cast int64 to int32 (wraps)', op: 'Cast', opset: 13, inputs: [i64([3], [2 ** 31, -(2 ** 31) - 1, 5])], attrs: [attrInt('to', INT32)], out: [INT32] },
  { name: 'Add int32 wraps', op: 'Add', opset: 13, inputs: [{ dtype: INT32, dims: [2], data: [2 ** 31 - 1, -(2 ** 31)] }, { dtype: INT32, dims: [1], data: [1] }], out: [INT32] },
  { name: 'Cast int64 to int8 (wraps)', op: 'Cast', opset: 13, inputs: [i64([4], [1, -1, 127, 300])], attrs: [attrInt('to', INT8)], out: [INT8] },
  { name: 'Cast float to uint8', op: 'Cast', opset: 13, inputs: [f([3], [0, 1.9, 255])], attrs: [attrInt('to', UINT8)], out: [UINT8] },
  { name: 'Constant tensor', op: 'Constant', opset: 13, inputs: [], attrs: [attrTensor('value', tensor('', INT64, [2, 2], [1, -2, 3, -4]))], out: [INT64] },
  { name: 'Constant value_float', op: 'Constant', opset: 13, inputs: [], attrs: [attrFloat('value_float', 0.25)], out: [FLOAT] },
  { name: 'Constant value_ints', op: 'Constant', opset: 13, inputs: [], attrs: [attrInts('value_ints', [3, 1, 2])], out: [INT64] },
  { name: 'ConstantOfShape float', op: 'ConstantOfShape', opset: 13, inputs: [i64([2], [2, 3])], attrs: [attrTensor('value', tensor('', FLOAT, [1], [1.5]))], out: [FLOAT] },
  { name: 'ConstantOfShape default 0', op: 'ConstantOfShape', opset: 13, inputs: [i64([1], [4])], out: [FLOAT] },
  { name: 'ConstantOfShape int64', op: 'ConstantOfShape', opset: 13, inputs: [i64([1], [3])], attrs: [attrTensor('value', tensor('', INT64, [1], [-7]))], out: [INT64] },
  { name: 'Shape', op: 'Shape', opset: 13, inputs: [X234], out: [INT64] },
  { name: 'Shape start/end (opset 15)', op: 'Shape', opset: 15, inputs: [X234], attrs: [attrInt('start', 1), attrInt('end', -1)], out: [INT64] },
  { name: 'Shape negative start (opset 15)', op: 'Shape', opset: 15, inputs: [X234], attrs: [attrInt('start', -2)], out: [INT64] },
  { name: 'Size', op: 'Size', opset: 13, inputs: [X234], out: [INT64] },
  { name: 'Gather axis 0, scalar index', op: 'Gather', opset: 13, inputs: [X234, i64([], [1])], out: [FLOAT] },
  { name: 'Gather axis 1, negative indices', op: 'Gather', opset: 13, inputs: [X234, i64([2, 2], [-1, 0, 2, 1])], attrs: [attrInt('axis', 1)], out: [FLOAT] },
  { name: 'Gather axis -1 of int64', op: 'Gather', opset: 13, inputs: [i64([2, 3], [4, 5, 6, 7, 8, 9]), i64([2], [2, 0])], attrs: [attrInt('axis', -1)], out: [INT64] },
  { name: 'Concat axis 1', op: 'Concat', opset: 13, inputs: [f([2, 1, 2], [1, 2, 3, 4]), f([2, 2, 2], range(8, 1, 10))], attrs: [attrInt('axis', 1)], out: [FLOAT] },
  { name: 'Concat int64 axis -1', op: 'Concat', opset: 13, inputs: [i64([1], [3]), i64([2], [-1, 5]), i64([0], [])], attrs: [attrInt('axis', -1)], out: [INT64] },
  { name: 'Unsqueeze axes input (opset 13)', op: 'Unsqueeze', opset: 13, inputs: [f([2, 3], range(6)), i64([2], [0, -1])], out: [FLOAT] },
  { name: 'Unsqueeze axes attribute (opset 11)', op: 'Unsqueeze', opset: 11, inputs: [f([2, 3], range(6))], attrs: [attrInts('axes', [1, 3])], out: [FLOAT] },
  { name: 'Squeeze all ones', op: 'Squeeze', opset: 13, inputs: [f([1, 3, 1], range(3))], out: [FLOAT] },
  { name: 'Squeeze axes input', op: 'Squeeze', opset: 13, inputs: [f([1, 3, 1], range(3)), i64([1], [-1])], out: [FLOAT] },
  { name: 'Squeeze axes attribute (opset 11)', op: 'Squeeze', opset: 11, inputs: [f([1, 3, 1], range(3))], attrs: [attrInts('axes', [0])], out: [FLOAT] },
  { name: 'Reshape with 0 and -1', op: 'Reshape', opset: 13, inputs: [X234, i64([3], [0, -1, 2])], out: [FLOAT] },
  { name: 'Reshape allowzero (opset 14)', op: 'Reshape', opset: 14, inputs: [f([0, 3], []), i64([2], [3, 0])], attrs: [attrInt('allowzero', 1)], out: [FLOAT] },
  { name: 'Flatten default axis', op: 'Flatten', opset: 13, inputs: [X234], out: [FLOAT] },
  { name: 'Flatten axis 0', op: 'Flatten', opset: 13, inputs: [X234], attrs: [attrInt('axis', 0)], out: [FLOAT] },
  { name: 'Flatten axis -1', op: 'Flatten', opset: 13, inputs: [X234], attrs: [attrInt('axis', -1)], out: [FLOAT] },
  { name: 'Transpose default (reverse)', op: 'Transpose', opset: 13, inputs: [X234], out: [FLOAT] },
  { name: 'Transpose perm', op: 'Transpose', opset: 13, inputs: [X234], attrs: [attrInts('perm', [1, 0, 2])], out: [FLOAT] },
  { name: 'Slice steps and clamping', op: 'Slice', opset: 13, inputs: [X234, i64([2], [0, -1]), i64([2], [100, 0]), i64([2], [0, 2]), i64([2], [1, -2])], out: [FLOAT] },
  { name: 'Slice negative step from the end', op: 'Slice', opset: 13, inputs: [X234, i64([1], [-1]), i64([1], [-1000]), i64([1], [1]), i64([1], [-1])], out: [FLOAT] },
  { name: 'Slice negative step with a start before the first element (clamped to 0)', op: 'Slice', opset: 13, inputs: [X234, i64([1], [-1000]), i64([1], [-2000]), i64([1], [2]), i64([1], [-1])], out: [FLOAT] },
  { name: 'Slice empty result', op: 'Slice', opset: 13, inputs: [X234, i64([1], [2]), i64([1], [1])], out: [FLOAT] },
  { name: 'Slice attributes (opset 9)', op: 'Slice', opset: 9, inputs: [X234], attrs: [attrInts('starts', [1, 1]), attrInts('ends', [2, 3]), attrInts('axes', [0, 2])], out: [FLOAT] },
  { name: 'Slice int64 shape vector', op: 'Slice', opset: 13, inputs: [i64([3], [5, 1, 40]), i64([1], [1]), i64([1], [3])], out: [INT64] },
  { name: 'Expand broadcast', op: 'Expand', opset: 13, inputs: [f([3, 1], [1, 2, 3]), i64([3], [2, 1, 4])], out: [FLOAT] },
  { name: 'Expand to a smaller shape keeps the input', op: 'Expand', opset: 13, inputs: [f([2, 3], range(6)), i64([1], [3])], out: [FLOAT] },
  { name: 'Range int64', op: 'Range', opset: 13, inputs: [i64([], [10]), i64([], [1]), i64([], [-3])], out: [INT64] },
  { name: 'Range float', op: 'Range', opset: 13, inputs: [f([], [0.5]), f([], [2.1]), f([], [0.4])], out: [FLOAT] },
  { name: 'Range empty', op: 'Range', opset: 13, inputs: [i64([], [3]), i64([], [3]), i64([], [1])], out: [INT64] },
  { name: 'Add broadcast', op: 'Add', opset: 13, inputs: [X234, f([4], [0.1, 0.2, 0.3, 0.4])], out: [FLOAT] },
  { name: 'Sub int64', op: 'Sub', opset: 13, inputs: [i64([3], [5, -5, 0]), i64([1], [7])], out: [INT64] },
  { name: 'Mul broadcast both ways', op: 'Mul', opset: 13, inputs: [f([2, 1], [2, -3]), f([1, 3], [0.1, 1, 10])], out: [FLOAT] },
  { name: 'Div float', op: 'Div', opset: 13, inputs: [f([3], [1, -7, 0.3]), f([3], [3, 2, 0.1])], out: [FLOAT] },
  { name: 'Div int64 truncates toward zero', op: 'Div', opset: 13, inputs: [i64([4], [7, -7, 7, -7]), i64([4], [2, 2, -2, -2])], out: [INT64] },
  { name: 'Equal int64', op: 'Equal', opset: 13, inputs: [i64([3], [1, 2, 3]), i64([1], [2])], out: [BOOL] },
  { name: 'Where broadcast', op: 'Where', opset: 13, inputs: [{ dtype: BOOL, dims: [3], data: [1, 0, 1] }, f([2, 3], range(6)), f([1], [-1])], out: [FLOAT] },
  { name: 'Neg int64', op: 'Neg', opset: 13, inputs: [i64([3], [1, -2, 0])], out: [INT64] },
  { name: 'Relu', op: 'Relu', opset: 13, inputs: [X234], out: [FLOAT] },
  { name: 'Sigmoid', op: 'Sigmoid', opset: 13, inputs: [X234], out: [FLOAT] },
  { name: 'Tanh', op: 'Tanh', opset: 13, inputs: [X234], out: [FLOAT] },
  { name: 'Sqrt', op: 'Sqrt', opset: 13, inputs: [f([4], [0, 0.25, 2, 1e6])], out: [FLOAT] },
  { name: 'Reciprocal', op: 'Reciprocal', opset: 13, inputs: [f([3], [3, -0.5, 7])], out: [FLOAT] },
  { name: 'MatMul 2-D', op: 'MatMul', opset: 13, inputs: [f([2, 3], [0.1, 0.2, 0.3, -1, 2, -3]), f([3, 2], [1, 0.5, -0.25, 2, 3, 0.125])], out: [FLOAT] },
  { name: 'Dropout (inference)', op: 'Dropout', opset: 13, inputs: [X234], out: [FLOAT] },
  { name: 'Split sizes attribute (opset 11)', op: 'Split', opset: 11, inputs: [X234], attrs: [attrInt('axis', 2), attrInts('split', [1, 3])], out: [FLOAT, FLOAT] },
  { name: 'Split equal parts (opset 11)', op: 'Split', opset: 11, inputs: [X234], attrs: [attrInt('axis', 1)], out: [FLOAT, FLOAT, FLOAT] },
  { name: 'Split sizes input (opset 13)', op: 'Split', opset: 13, inputs: [X234, i64([2], [3, 1])], attrs: [attrInt('axis', -1)], out: [FLOAT, FLOAT] },
  { name: 'Split default axis 0 of int64 (opset 13)', op: 'Split', opset: 13, inputs: [i64([6], [4, -1, 7, 0, 2, 9])], out: [INT64, INT64] },
  { name: 'Split num_outputs, last part smaller (opset 18)', op: 'Split', opset: 18, inputs: [X234], attrs: [attrInt('axis', 1), attrInt('num_outputs', 2)], out: [FLOAT, FLOAT] },
  { name: 'ReduceSum axes attribute (opset 11)', op: 'ReduceSum', opset: 11, inputs: [X234], attrs: [attrInts('axes', [0, 2])], out: [FLOAT] },
  { name: 'ReduceSum axes input, keepdims 0 (opset 13)', op: 'ReduceSum', opset: 13, inputs: [X234, i64([1], [-2])], attrs: [attrInt('keepdims', 0)], out: [FLOAT] },
  { name: 'ReduceSum of every axis (opset 13)', op: 'ReduceSum', opset: 13, inputs: [X234], attrs: [attrInt('keepdims', 0)], out: [FLOAT] },
  { name: 'ReduceSum noop_with_empty_axes (opset 13)', op: 'ReduceSum', opset: 13, inputs: [X234], attrs: [attrInt('noop_with_empty_axes', 1)], out: [FLOAT] },
  { name: 'ReduceSum int64', op: 'ReduceSum', opset: 13, inputs: [i64([2, 3], [1, -2, 3, 40, 5, -6]), i64([1], [1])], out: [INT64] },
  { name: 'ReduceMean axes attribute (opset 13)', op: 'ReduceMean', opset: 13, inputs: [X234], attrs: [attrInts('axes', [1])], out: [FLOAT] },
  { name: 'ReduceProd of a shape, keepdims 0 (opset 13)', op: 'ReduceProd', opset: 13, inputs: [i64([3], [2, 3, 4])], attrs: [attrInt('keepdims', 0)], out: [INT64] },
  { name: 'ReduceProd axes input (opset 18)', op: 'ReduceProd', opset: 18, inputs: [X234, i64([1], [1])], out: [FLOAT] },
  // pack_padded_sequence(enforce_sorted=False) sorts the lengths (TopK) and inverts the order (ScatterElements).
  { name: 'TopK largest, ties lower index first (opset 11)', op: 'TopK', opset: 11, inputs: [f([2, 4], [3, 1, 3, 2, -1, 5, 0, 5]), i64([1], [3])], out: [FLOAT, INT64] },
  { name: 'TopK smallest on axis 0 of int64 (opset 13)', op: 'TopK', opset: 13, inputs: [i64([3, 2], [4, -1, 2, 7, 4, 0]), i64([1], [2])], attrs: [attrInt('axis', 0), attrInt('largest', 0)], out: [INT64, INT64] },
  { name: 'TopK k attribute (opset 9)', op: 'TopK', opset: 9, inputs: [f([5], [0.5, 2, -1, 2, 9])], attrs: [attrInt('k', 2)], out: [FLOAT, INT64] },
  { name: 'ScatterElements axis 0 (opset 13)', op: 'ScatterElements', opset: 13, inputs: [i64([3], [0, 0, 0]), i64([3], [2, 0, 1]), i64([3], [0, 1, 2])], out: [INT64] },
  { name: 'ScatterElements axis 1, negative index (opset 13)', op: 'ScatterElements', opset: 13, inputs: [f([2, 3], range(6)), i64([2, 2], [0, -1, 2, 1]), f([2, 2], [10, 11, 12, 13])], attrs: [attrInt('axis', 1)], out: [FLOAT] },
  { name: 'ReduceMean axes input, keepdims 0 (opset 18)', op: 'ReduceMean', opset: 18, inputs: [X234, i64([2], [0, -1])], attrs: [attrInt('keepdims', 0)], out: [FLOAT] },
];

function model(c: Case): Uint8Array {
  const g = new TestGraph();
  const names = c.inputs.map((v, k) => (v === null ? '' : g.init(`in${k}`, v.dims, v.data, v.dtype)));
  g.node(c.op, names, c.out.map((_, k) => `out${k}`), c.attrs ?? []);
  g.outputs.push(...c.out.map((t, k) => valueInfo(`out${k}`, t, null)));
  return g.bytes(c.opset);
}

/** ORT's output as numbers (bigint and bool elements converted). */
function ortValues(t: { data: unknown }): number[] {
  return Array.from(t.data as ArrayLike<number | bigint | boolean>, (v) => Number(v));
}

describe('constant folding agrees with onnxruntime-node', () => {
  it('covers every folded op', () => {
    const tested = new Set(CASES.map((c) => c.op));
    expect(Object.keys(CONST_OPS).filter((op) => !tested.has(op))).toEqual([]);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const session = await ort.InferenceSession.create(model(c));
    const want = await session.run({});
    // Split makes one part per output: the node lists them.
    const node: NodeProto = { name: 'n', opType: c.op, domain: '', input: [], output: c.out.map((_, k) => `out${k}`), attribute: c.attrs ?? [] };
    const got = CONST_OPS[c.op]!({ node, attrs: new Attrs(node), opset: c.opset, label: c.name }, c.inputs.map((v) => (v === null ? undefined : tensorToConst(tensor('', v.dtype, v.dims, v.data)))));
    expect(got.length).toBe(c.out.length);
    got.forEach((g, k) => {
      const w = want[`out${k}`]!;
      expect(g.dims, 'dims').toEqual(w.dims);
      expect(g.dtype, 'element type').toBe(c.out[k]);
      const wv = ortValues(w);
      const gv = Array.from(g.data);
      if (g.dtype === FLOAT || g.dtype === DOUBLE) {
        expect(gv.length).toBe(wv.length);
        // One float32 rounding apart at most (ORT computes in float32; the folder rounds once);
        // ORT's float32 sigmoid and tanh are approximations (MLAS), within a few 1e-6.
        const rel = c.op === 'Sigmoid' || c.op === 'Tanh' ? 1e-5 : 2 ** -23;
        gv.forEach((v, j) => expect(Math.abs(v - wv[j]!), `element ${j}: ${v} vs ${wv[j]}`).toBeLessThanOrEqual(Math.abs(wv[j]!) * rel + 1e-30));
      } else expect(gv).toEqual(wv);
    });
  });
});
