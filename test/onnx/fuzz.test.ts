/**
 * Untrusted ONNX files: what a gateway or CI job running `edgernn convert` on users' uploads
 * meets. Seeded mutations of real files (an edgernn export, the PyTorch and onnx-node fixtures)
 * and hand-made hostile graphs must each compile or fail with an EdgeRnnError naming the defect:
 * never a RangeError/TypeError, a stack overflow, minutes of work or gigabytes from a tiny file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCommand } from '../../src/cli/commands/convert.js';
import { isEdgeRnnError, type EdgeRnnError } from '../../src/errors.js';
import { decodeModel } from '../../src/model/codec.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx, onnxToSpec, SUPPORTED_OPS } from '../../src/onnx/import.js';
import { attrInt, attrTensor, decodeModelProto, decodeTensorProto, encodeModelProto, ONNX_DTYPES, tensor, type ModelProto } from '../../src/onnx/proto.js';
import { WireWriter } from '../../src/onnx/wire.js';
import { Rng } from '../../src/util/rng.js';
import { runCaptured } from '../helpers/cli.js';
import { FIXTURES_ONNX_NODE, FIXTURES_PYTORCH, REPO, TestGraph } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-onnx-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The outcome of importing and converting bytes: 'ok', an EdgeRnnError, or the crash itself. */
function attempt(bytes: Uint8Array | ModelProto): 'ok' | EdgeRnnError | Error {
  try {
    onnxToSpec(importOnnx(bytes, { source: 'upload.onnx' }));
    return 'ok';
  } catch (e) {
    return isEdgeRnnError(e) ? e : (e as Error);
  }
}

function refusal(bytes: Uint8Array | ModelProto): EdgeRnnError {
  const r = attempt(bytes);
  if (r === 'ok') throw new Error('expected an EdgeRnnError, the model compiled');
  if (!isEdgeRnnError(r)) throw new Error(`expected an EdgeRnnError, got ${String(r.stack ?? r)}`);
  return r;
}

function fixtureFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((d) => path.join(dir, d, 'model.onnx'))
    .filter((f) => fs.existsSync(f));
}

function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  while (x > 0x7fn) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/** Bytes a hostile writer puts where a length or a number goes. */
const VARINT_BOMBS: readonly number[][] = [
  varint(2n ** 31n),
  varint(2n ** 32n - 1n),
  varint(2n ** 53n),
  varint(2n ** 63n),
  varint(-1n),
  Array(10).fill(0xff),
  [...Array(9).fill(0xff), 0x01],
];

/** One seeded mutation of `base`: flips, splices, duplicated or reordered ranges, varint bombs. */
function mutate(base: Uint8Array, rng: Rng): Uint8Array {
  const b = Array.from(base);
  const at = () => rng.int(0, b.length - 1);
  switch (rng.int(0, 5)) {
    case 0:
      for (let k = rng.int(1, 4); k > 0; k--) b[at()]! ^= 1 << rng.int(0, 7);
      break;
    case 1:
      for (let k = rng.int(1, 4); k > 0; k--) b[at()] = [0x00, 0xff, 0x7f, 0x80, 0x01, rng.int(0, 255)][rng.int(0, 5)]!;
      break;
    case 2: {
      // A duplicated range: repeated fields, a second graph / tensor / dims.
      const s = at();
      const e = Math.min(b.length, s + rng.int(1, 64));
      b.splice(at(), 0, ...b.slice(s, e));
      break;
    }
    case 3: {
      // Two ranges swapped: fields reordered (or cut mid-field).
      const s = at();
      const n = rng.int(1, 32);
      const piece = b.splice(s, n);
      b.splice(at(), 0, ...piece);
      break;
    }
    case 4:
      b.splice(at(), rng.int(0, 3), ...VARINT_BOMBS[rng.int(0, VARINT_BOMBS.length - 1)]!);
      break;
    default:
      b.splice(at(), rng.int(1, 16));
  }
  return Uint8Array.from(b);
}

describe('untrusted ONNX: seeded mutations of real files', () => {
  const har = exportOnnx(decodeModel(fs.readFileSync(path.join(REPO, 'models/har.ern'))).spec);
  const bases: [string, Uint8Array][] = [
    ['har export', har],
    ...[...fixtureFiles(FIXTURES_PYTORCH), ...fixtureFiles(FIXTURES_ONNX_NODE)].map((f) => [path.relative(REPO, f), new Uint8Array(fs.readFileSync(f))] as [string, Uint8Array]),
  ];

  it('every mutation compiles or is an EdgeRnnError (about 3,500 cases, seeded)', () => {
    const rng = new Rng(20261127);
    const crashes: string[] = [];
    const codes = new Map<string, number>();
    let tried = 0;
    const check = (what: string, bytes: Uint8Array) => {
      tried++;
      const r = attempt(bytes);
      const code = r === 'ok' ? 'ok' : isEdgeRnnError(r) ? r.code : 'crash';
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (code === 'crash' && crashes.length < 5) crashes.push(`${what}: ${String((r as Error).stack ?? r)}`);
    };
    for (const [name, base] of bases) for (let i = 0; i < 150; i++) check(`${name} mutation ${i}`, mutate(base, rng));
    // Truncation at every length of the smallest files.
    const small = bases.filter(([, b]) => b.length < 400).slice(0, 4);
    for (const [name, base] of small) for (let n = 0; n < base.length; n++) check(`${name} cut at ${n}`, base.subarray(0, n));
    expect(crashes, crashes.join('\n\n')).toEqual([]);
    expect(tried).toBeGreaterThan(3000);
    // Most mutations are refused, in more than one way.
    expect(codes.get('ONNX_PARSE') ?? 0).toBeGreaterThan(500);
  }, 60_000);
});

describe('untrusted ONNX: seeded field mutations of decoded models', () => {
  it('changed values, dims, attributes, op types, wiring and opsets compile or are an EdgeRnnError (about 1,000 cases)', () => {
    const files = [...fixtureFiles(FIXTURES_PYTORCH), ...fixtureFiles(FIXTURES_ONNX_NODE)];
    const rng = new Rng(7);
    const pick = <T>(a: readonly T[]): T => a[rng.int(0, a.length - 1)]!;
    const values = [-1, 0, 1, 2, 3, 2 ** 31, -(2 ** 63), 2 ** 53, 1e9, 0.5, NaN, Infinity, 1e30];
    const ints = values.filter(Number.isInteger);
    const crashes: string[] = [];
    let tried = 0;
    for (const f of files) {
      const bytes = new Uint8Array(fs.readFileSync(f));
      for (let i = 0; i < 50; i++) {
        const m = decodeModelProto(bytes);
        const g = m.graph;
        for (let k = rng.int(1, 3); k > 0; k--) {
          const node = pick(g.node);
          const init = g.initializer.length ? pick(g.initializer) : undefined;
          const a = node.attribute.length ? pick(node.attribute) : undefined;
          switch (rng.int(0, 9)) {
            case 0: if (init && init.data.length) init.data[rng.int(0, init.data.length - 1)] = pick(values); break;
            case 1: if (init && init.dims.length) init.dims[rng.int(0, init.dims.length - 1)] = pick([0, 1, 2, -1, 1000]); break;
            case 2:
              if (a?.i !== undefined) a.i = pick(ints);
              if (a?.ints.length) a.ints[rng.int(0, a.ints.length - 1)] = pick(ints);
              if (a?.f !== undefined) a.f = pick(values);
              break;
            case 3: node.opType = pick(SUPPORTED_OPS); break;
            case 4: if (node.input.length) node.input[rng.int(0, node.input.length - 1)] = pick([...g.node.flatMap((n) => n.output), ...g.initializer.map((t) => t.name), '']); break;
            case 5: m.opsetImport = [{ domain: '', version: rng.int(7, 22) }]; break;
            case 6: { const v = g.input.length ? pick(g.input) : undefined; if (v?.shape?.length) v.shape[rng.int(0, v.shape.length - 1)] = pick([1, 2, 'seq', null, -1, 0, 1000]); break; }
            case 7: node.attribute = []; break;
            case 8: if (init) init.dataType = pick([1, 6, 7, 9, 10, 11, 16, 3]); break;
            default: g.node.splice(g.node.indexOf(node), 1);
          }
          if (g.node.length === 0) break;
        }
        tried++;
        const r = attempt(m);
        if (r !== 'ok' && !isEdgeRnnError(r) && crashes.length < 5) crashes.push(`${path.relative(REPO, f)} mutation ${i}: ${String(r.stack ?? r)}`);
      }
    }
    expect(crashes, crashes.join('\n\n')).toEqual([]);
    expect(tried).toBe(files.length * 50);
  }, 60_000);
});

/** A graph of folded constants feeding the output (the sequence input is unused). */
function constGraph(build: (g: TestGraph) => string): Uint8Array {
  const g = new TestGraph().input('X', ['seq', 1, 2]);
  return g.output(build(g)).bytes(17);
}

const ones = (g: TestGraph, out: string, shape: number[], dataType: number = ONNX_DTYPES.FLOAT) => {
  g.node('ConstantOfShape', [g.ints(`${out}_shape`, shape)], [out], [attrTensor('value', tensor('v', dataType, [1], [dataType === ONNX_DTYPES.FLOAT ? 1 : 0]))]);
  return out;
};

describe('untrusted ONNX: amplification from a small file is refused at the node', () => {
  it('Concat of one folded constant with itself 100 times (was: a number[] of every element, heap exhaustion at 64 copies of 2^24)', () => {
    const bytes = constGraph((g) => {
      g.node('Concat', Array(100).fill(ones(g, 'c', [200_000])), ['o'], [attrInt('axis', 0)]);
      return 'o';
    });
    expect(bytes.length).toBeLessThan(2000);
    const e = refusal(bytes);
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/Concat node 'Concat_\d+': a constant of shape \[20000000\] \(20000000 elements\) exceeds the 16777216-element limit/);
  });

  it('Gather with more indices than the data has elements (was: unchecked output size, heap exhaustion)', () => {
    const bytes = constGraph((g) => {
      g.node('Gather', [ones(g, 'data', [1, 4096]), ones(g, 'idx', [4100], ONNX_DTYPES.INT64)], ['o'], [attrInt('axis', 0)]);
      return 'o';
    });
    const e = refusal(bytes);
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/Gather node 'Gather_\d+': a constant of shape \[4100, 4096\] \(16793600 elements\) exceeds/);
  });

  it('a constant MatMul of 1024^3 products is refused before it runs (2048^3 ran for minutes)', () => {
    const bytes = constGraph((g) => {
      g.node('MatMul', [ones(g, 'a', [1024, 1024]), ones(g, 'b', [1024, 1024])], ['o']);
      return 'o';
    });
    const e = refusal(bytes);
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/MatMul node 'MatMul_\d+': a constant MatMul of \[1024,1024\] x \[1024,1024\] takes 1073741824 products, over the 268435456/);
  });

  it('folded constants each below the limit cannot add up past it (30 Adds of 2^24 elements: gigabytes from 854 bytes)', () => {
    const g = new TestGraph().input('X', ['seq', 1, 2]);
    ones(g, 'a', [10_000_000]);
    ones(g, 'b', [10_000_000]);
    const bytes = g.output('a').output('b').bytes(17);
    const e = refusal(bytes);
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/upload\.onnx: ConstantOfShape node 'ConstantOfShape_\d+': the constants folded so far hold 20000000 elements, over the 16777216/);
  });

  it('a declared feature width of 2^40 is refused at the node that maps it (was: RangeError: Invalid typed array length)', () => {
    const relu = new TestGraph().input('X', ['seq', 1, 2 ** 40]).node('Relu', ['X'], ['Y']).output('Y').bytes(17);
    const e = refusal(relu);
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/node 0 'Relu_0' \(Relu\), \[X\] -> \[Y\]: a linear map of 1099511627776 x 1099511627776 weights on the features .* exceeds the 16777216-element limit/);
    // The input itself as the output: no node to name, the output is.
    const same = new TestGraph().input('X', ['seq', 1, 2 ** 40]).output('X').bytes(17);
    expect(refusal(same).message).toMatch(/upload\.onnx: output 'X': a linear map of 1099511627776 x 1099511627776 weights/);
    // Reshaped to [seq, 1, 2^19, 2] and multiplied by a 2 x 2 weight: a 2^40 map before composing.
    const mm = new TestGraph().input('X', ['seq', 1, 2 ** 20]);
    mm.node('Reshape', ['X', mm.ints('shape', [0, 0, 2 ** 19, 2])], ['r']);
    mm.node('MatMul', ['r', mm.init('W', [2, 2], [1, 0, 0, 1])], ['Y']);
    expect(refusal(mm.output('Y').bytes(17)).message).toMatch(/MatMul\), \[r, W\] -> \[Y\]: a linear map of 1048576 x 1048576 weights/);
  });

  it('a Concat of the input with itself 150,000 times (was: Maximum call stack size exceeded, then minutes in the feature map)', () => {
    const g = new TestGraph().input('X', ['seq', 1, 3]);
    g.node('Concat', Array(150_000).fill('X'), ['Y'], [attrInt('axis', 2)]);
    const e = refusal(g.output('Y').model(17));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/Concat\), \[X, X, .*: a linear map of 450000 x 450000 weights/);
  }, 30_000);
});

describe('untrusted ONNX: large graphs take time proportional to their size', () => {
  it('a chain of 40,000 Identity nodes from an input of symbolic width (feature inference scanned every node per name: 47 s)', () => {
    const g = new TestGraph().input('X', ['seq', 1, 'F']);
    let prev = 'X';
    for (let i = 0; i < 40_000; i++) {
      g.node('Identity', [prev], [`i${i}`]);
      prev = `i${i}`;
    }
    const e = refusal(g.output(prev).model(17));
    expect(e.message).toMatch(/cannot tell how many features 'X' has/);
  }, 20_000);

  it('20,000 graph inputs feeding a chain of 20,000 nodes (the sequence-input search walked the chain once per input: minutes)', () => {
    const g = new TestGraph();
    const names = Array.from({ length: 20_000 }, (_, i) => `in${i}`);
    for (const n of names) g.input(n, ['seq', 1, 3]);
    g.node('Sum', names, ['s0']);
    for (let i = 1; i < 20_000; i++) g.node('Relu', [`s${i - 1}`], [`s${i}`]);
    const e = refusal(g.output('s19999').model(17));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/operator Sum is not supported/);
  }, 20_000);

  it('Unsqueeze of 200,000 axes, folded and on the sequence (includes() per axis: 30 s each from a 1.6 MB file)', () => {
    const axes = Array.from({ length: 200_000 }, (_, i) => i + 3);
    const folded = new TestGraph().input('X', ['seq', 1, 4]);
    folded.node('Unsqueeze', [folded.init('c', [1], [1]), folded.ints('a', axes.map((a) => a - 3))], ['u']).node('Add', ['X', 'u'], ['Y']);
    expect(attempt(folded.output('Y').model(17))).toBe('ok');
    const seq = new TestGraph().input('X', ['seq', 1, 4]);
    seq.node('Unsqueeze', ['X', seq.ints('a', axes)], ['Y']);
    expect(refusal(seq.output('Y').model(17)).message).toMatch(/output 'Y' is the input itself/);
  }, 20_000);

  it('a report of 130,000 unsupported nodes (Math.min over the report overflowed the stack)', () => {
    const g = new TestGraph().input('X', ['seq', 1, 3]);
    const outs: string[] = [];
    for (let i = 0; i < 130_000; i++) {
      g.node('Foo', ['X'], [`f${i}`]);
      outs.push(`f${i}`);
    }
    g.node('Concat', outs, ['Y'], [attrInt('axis', 2)]);
    const e = refusal(g.output('Y').model(17));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/cannot compile 130000 of 130001 nodes/);
  }, 60_000);
});

/** A valid model followed by a second graph field (ModelProto 7) whose initializer is `tensorBytes`. */
function withInitializer(tensorBytes: Uint8Array): Uint8Array {
  const m = new TestGraph().input('X', ['seq', 1, 2]).node('Add', ['X', 'T'], ['Y']).output('Y').bytes(17);
  const graph = new WireWriter();
  graph.bytes(5, tensorBytes);
  const second = new WireWriter();
  second.bytes(7, graph.finish());
  return Uint8Array.from([...m, ...second.finish()]);
}

function rawTensor(fields: (w: WireWriter) => void): Uint8Array {
  const w = new WireWriter();
  fields(w);
  return w.finish();
}

describe('untrusted ONNX: hostile fields', () => {
  it('int4, float8, complex tensors are ONNX_UNSUPPORTED naming the type (was ONNX_PARSE "malformed protobuf" for a valid file)', () => {
    for (const [id, name] of [
      [22, 'INT4'],
      [21, 'UINT4'],
      [17, 'FLOAT8E4M3FN'],
      [14, 'COMPLEX64'],
    ] as const) {
      const t = rawTensor((w) => {
        w.packedInt64(1, [2]);
        w.int(2, id);
        w.string(8, 'q');
        w.bytes(9, new Uint8Array([0x12, 0x34]));
      });
      const e = (() => {
        try {
          decodeTensorProto(t, 'q.pb');
        } catch (err) {
          return err as EdgeRnnError;
        }
        throw new Error('decoded');
      })();
      expect(e.code, name).toBe('ONNX_UNSUPPORTED');
      expect(e.message, name).toContain(`tensor 'q' has element type ${name}`);
      expect(refusal(withInitializer(t)).code, name).toBe('ONNX_UNSUPPORTED');
    }
    // An id onnx.proto does not define stays a parse error.
    const bad = rawTensor((w) => {
      w.int(2, 99);
      w.bytes(9, new Uint8Array(0));
    });
    expect(() => decodeTensorProto(bad)).toThrow(/malformed ONNX protobuf.*unsupported data_type type 99/);
  });

  it('external data pointing outside the file is refused, never read', () => {
    const t = rawTensor((w) => {
      w.packedInt64(1, [2]);
      w.int(2, ONNX_DTYPES.FLOAT);
      w.string(8, 'T');
      const entry = new WireWriter();
      entry.string(1, 'location');
      entry.string(2, '../../../../etc/passwd');
      w.message(13, entry);
      w.int(14, 1);
    });
    const e = refusal(withInitializer(t));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect(e.message).toMatch(/tensor 'T' keeps its data in an external file/);
    expect(e.message).not.toContain('root:');
  });

  it('lengths of 2^31, 2^53, 2^63 and 10 bytes of 0xFF are ONNX_PARSE at their offset', () => {
    for (const bomb of VARINT_BOMBS) {
      // ir_version 8, then graph (field 7) with the bomb as its length.
      const e = refusal(Uint8Array.from([0x08, 0x08, 0x3a, ...bomb, 0x00]));
      expect(e.code, JSON.stringify(bomb)).toBe('ONNX_PARSE');
      expect(e.message).toMatch(/at byte 3 .*(runs past the end|too large|longer than 10 bytes)/);
    }
  });

  it('negative and overflowing dims, and raw_data of the wrong length', () => {
    const tensorWith = (dimsVarints: number[][], rawLen: number) =>
      Uint8Array.from([...dimsVarints.flatMap((v) => [0x08, ...v]), 0x10, ONNX_DTYPES.FLOAT, 0x4a, ...varint(BigInt(rawLen)), ...Array(rawLen).fill(0)]);
    expect(() => decodeTensorProto(tensorWith([varint(-3n)], 0))).toThrow(/has dimension -3/);
    expect(() => decodeTensorProto(tensorWith([varint(2n ** 62n)], 4))).toThrow(/has dimension/);
    // 2^26 x 2^26 x 2^26: the product overflows to a double far above any file.
    expect(() => decodeTensorProto(tensorWith([varint(2n ** 26n), varint(2n ** 26n), varint(2n ** 26n)], 8))).toThrow(/raw_data has 8 bytes, dims need/);
    expect(() => decodeTensorProto(tensorWith([varint(3n)], 8))).toThrow(/raw_data has 8 bytes, dims need 3 x 4 = 12/);
  });

  it('an attribute GRAPH nested 10,000 deep and 100,000 repeated strings are skipped, not recursed into', () => {
    // Graph { node: Node { op_type 'If', attribute: { name 'then_branch', g: <inner>, type GRAPH } } },
    // headers built from the inside out (nesting WireWriters copies the whole file per level).
    const text = (s: string) => Array.from(new TextEncoder().encode(s));
    const heads: number[][] = [];
    const tail = [0xa0, 0x01, 0x05];
    let inner = 0;
    for (let i = 0; i < 10_000; i++) {
      const attrHead = [0x0a, ...varint(11n), ...text('then_branch'), 0x32, ...varint(BigInt(inner))];
      const attrLen = attrHead.length + inner + tail.length;
      const nodeHead = [0x22, 0x02, ...text('If'), 0x2a, ...varint(BigInt(attrLen))];
      const nodeLen = nodeHead.length + attrLen;
      const head = [0x0a, ...varint(BigInt(nodeLen)), ...nodeHead, ...attrHead];
      heads.push(head);
      inner = head.length - attrHead.length + attrLen;
    }
    const graph = Uint8Array.from([...heads.reverse().flat(), ...heads.map(() => tail).flat()]);
    expect(graph.length).toBe(inner);
    const m = new WireWriter();
    m.int(1, 8);
    m.bytes(7, graph);
    const op = new WireWriter();
    op.int(2, 17);
    m.message(8, op);
    const e = refusal(m.finish());
    expect(isEdgeRnnError(e)).toBe(true);
    const many = new WireWriter();
    many.int(1, 8);
    const g = new WireWriter();
    const node = new WireWriter();
    for (let i = 0; i < 100_000; i++) node.string(1, 'X');
    g.message(1, node);
    many.message(7, g);
    expect(isEdgeRnnError(refusal(many.finish()))).toBe(true);
  });

  it('FLOAT indices, starts and shapes holding 0.5 or NaN are ONNX_INVALID (it was NaN weights or silent zeros, and convert wrote the model)', () => {
    const W = (g: TestGraph) => g.init('W', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const cases: [string, (g: TestGraph) => void, RegExp][] = [
      ['folded Gather', (g) => g.node('Gather', [W(g), g.init('i', [4], [0.5, 1, 2, 3])], ['w']).node('MatMul', ['X', 'w'], ['Y']), /Gather node 'Gather_0': indices must be integers \(FLOAT \[4\] holds 0\.5\)/],
      ['folded Gather, NaN', (g) => g.node('Gather', [W(g), g.init('i', [4], [NaN, 1, 2, 3])], ['w']).node('MatMul', ['X', 'w'], ['Y']), /indices must be integers \(FLOAT \[4\] holds NaN\)/],
      ['folded Slice', (g) => g.node('Slice', [W(g), g.init('s', [1], [0.5]), g.init('e', [1], [4.5])], ['w']).node('MatMul', ['X', 'w'], ['Y']), /Slice node 'Slice_0': starts must be integers/],
      ['Gather of the sequence', (g) => g.node('Gather', ['X', g.init('i', [2], [0.5, 1])], ['Y'], [attrInt('axis', 2)]), /Gather node 'Gather_0': indices must be integers/],
      ['Slice of the sequence', (g) => g.node('Slice', ['X', g.init('s', [1], [0.5]), g.init('e', [1], [2.5]), g.ints('a', [2])], ['Y']), /Slice node 'Slice_0': starts must be integers/],
      ['Reshape of the sequence', (g) => g.node('Reshape', ['X', g.init('s', [4], [0, 0, 0.5, 8])], ['Y']), /Reshape node 'Reshape_0': shape must be integers/],
    ];
    for (const [what, build, message] of cases) {
      const g = new TestGraph().input('X', ['seq', 1, 4]);
      build(g);
      const e = refusal(g.output('Y').bytes(17));
      expect(e.code, what).toBe('ONNX_INVALID');
      expect(e.message, what).toMatch(message);
    }
    // Range is the op whose inputs may be fractional: a FLOAT range still folds.
    const g = new TestGraph().input('X', ['seq', 1, 2]);
    g.node('Range', [g.init('a', [], [0]), g.init('b', [], [1]), g.init('d', [], [0.5])], ['r']);
    g.node('Add', ['X', 'r'], ['Y']);
    expect(attempt(g.output('Y').bytes(17))).toBe('ok');
  });

  it('a ModelProto built in code whose initializer data disagrees with its dims is ONNX_INVALID (it was "Error: internal: const of [2,3,2] with 6 elements")', () => {
    const g = new TestGraph().input('X', ['seq', 1, 3]);
    g.node('MatMul', ['X', g.init('W', [3, 2], [1, 2, 3, 4, 5, 6])], ['Y']);
    const model = g.output('Y').model(17);
    model.graph.initializer[0]!.dims = [2, 3, 2];
    expect(refusal(model).message).toMatch(/tensor 'W': 6 elements for shape \[2, 3, 2\] \(12\)/);
    model.graph.initializer[0]!.dims = [-1, 2];
    expect(refusal(model).message).toMatch(/tensor 'W': shape \[-1, 2\] has a negative or non-integer dimension/);
    expect(refusal(model).code).toBe('ONNX_INVALID');
  });

  it('opset imports missing, absurd or negative', () => {
    const g = new TestGraph().input('X', ['seq', 1, 2]).node('Relu', ['X'], ['Y']).output('Y');
    const model = (opsetImport: ModelProto['opsetImport']) => encodeModelProto({ ...g.model(17), opsetImport });
    expect(refusal(model([])).message).toMatch(/imports no version of the default ONNX domain/);
    expect(refusal(model([{ domain: '', version: 2 ** 60 }])).message).toMatch(/opset 1152921504606847000 is outside the 7\.\.22 range/);
    expect(refusal(model([{ domain: '', version: -1 }])).message).toMatch(/opset -1 is outside/);
    expect(refusal(model([{ domain: 'com.microsoft', version: 1 }])).code).toBe('ONNX_INVALID');
  });
});

describe('untrusted ONNX: the CLI', () => {
  it('edgernn convert of hostile files: exit 1 and an error line, no stack', async () => {
    const files: [string, Uint8Array][] = [
      ['truncated.onnx', exportOnnx(decodeModel(fs.readFileSync(path.join(REPO, 'models/har.ern'))).spec).subarray(0, 1000)],
      ['wide.onnx', new TestGraph().input('X', ['seq', 1, 2 ** 40]).node('Relu', ['X'], ['Y']).output('Y').bytes(17)],
      [
        'concat.onnx',
        constGraph((g) => {
          g.node('Concat', Array(100).fill(ones(g, 'c', [200_000])), ['o'], [attrInt('axis', 0)]);
          return 'o';
        }),
      ],
      ['bomb.onnx', Uint8Array.from([0x08, 0x08, 0x3a, ...Array(10).fill(0xff), 0x00])],
    ];
    for (const [name, bytes] of files) {
      fs.writeFileSync(path.join(tmp, name), bytes);
      const r = await runCaptured(['convert', name, '-o', 'out.ern', '--float'], [convertCommand], tmp);
      expect(r.code, name).toBe(1);
      expect(r.err, name).toMatch(/^edgernn convert: error \[ONNX_(PARSE|INVALID|UNSUPPORTED)\]: /);
      expect(r.err, name).not.toMatch(/\n\s+at /);
      expect(fs.existsSync(path.join(tmp, 'out.ern')), name).toBe(false);
    }
  });
});
