import { describe, expect, it } from 'vitest';
import { EdgeRnnError, createRuntime, decodeErn, encodeModel, resealErn, type ModelSpec } from '../../src/index.js';
import { BLOCK_SPARSE_MAX_DENSE_BYTES, blockSparseBytes, decodeBlockSparse, encodeBlockSparse } from '../../src/format/block-sparse.js';
import { Rng } from '../../src/util/rng.js';
import { withManifest } from '../helpers/ern.js';
import { thrownBy } from '../helpers/errors.js';
import { randomQuantModel, randomSequences } from '../helpers/random-model.js';

function sparseMatrix(rng: Rng, shape: number[], blockFraction: number): Int8Array {
  const cols = shape[shape.length - 1]!;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const a = new Int8Array(rows * cols);
  for (let i = 0; i < rows; i += 4) {
    for (let j = 0; j < cols; j += 8) {
      if (rng.next() < blockFraction) continue;
      for (let r = i; r < Math.min(i + 4, rows); r++) for (let c = j; c < Math.min(j + 8, cols); c++) a[r * cols + c] = rng.int(-127, 127);
    }
  }
  return a;
}

function pruned(spec: ModelSpec, fraction: number, seed: number): ModelSpec {
  const rng = new Rng(seed);
  for (const l of spec.layers) {
    if ((l.kind === 'gru' || l.kind === 'lstm' || l.kind === 'rnn') && l.quant) {
      l.quant.Rq.set(sparseMatrix(rng, [l.quant.Wscale.length, l.hiddenSize], fraction).map((v, i) => (v === 0 ? 0 : l.quant!.Rq[i]!)));
      l.quant.Wq.set(sparseMatrix(rng, [l.quant.Wscale.length, l.inputSize], fraction).map((v, i) => (v === 0 ? 0 : l.quant!.Wq[i]!)));
    }
  }
  return spec;
}

describe('block-sparse int8 tensors (i8bs)', () => {
  it('round-trips any shape, edges included, and costs 1 bit per block plus the kept blocks', () => {
    const rng = new Rng(3);
    for (const shape of [[1, 1], [3, 5], [4, 8], [7, 13], [1, 96, 40], [2, 192, 64], [17, 9]]) {
      for (const f of [0, 0.5, 0.75, 1]) {
        const a = sparseMatrix(rng, shape, f);
        const enc = encodeBlockSparse(a, shape);
        expect(enc.length).toBe(blockSparseBytes(a, shape));
        expect(Array.from(decodeBlockSparse(enc, shape, 't', 'x.ern'))).toEqual(Array.from(a));
      }
    }
  });

  it('rejects inconsistent encodings with a typed error naming the tensor', () => {
    const shape = [8, 16];
    const enc = encodeBlockSparse(sparseMatrix(new Rng(1), shape, 0.5), shape);
    const bad = (b: Uint8Array) => {
      try {
        decodeBlockSparse(b, shape, 'layers.0.Rq', 'x.ern');
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(EdgeRnnError);
        expect((e as EdgeRnnError).message).toContain("'layers.0.Rq'");
        return (e as EdgeRnnError).code;
      }
    };
    expect(bad(enc.subarray(0, enc.length - 1))).toBe('ERN_TENSOR');
    expect(bad(new Uint8Array(0))).toBe('ERN_TENSOR');
    const extraBit = enc.slice();
    extraBit[0] = 0xff; // marks more blocks than the data holds
    expect(bad(extraBit)).toBe('ERN_TENSOR');
    const odd = encodeBlockSparse(new Int8Array(3 * 5).fill(1), [3, 5]);
    const outside = odd.slice();
    outside[1 + 31] = 9; // row 3, column 7: outside the 3x5 matrix
    expect(() => decodeBlockSparse(outside, [3, 5], 't', 'x.ern')).toThrow(/outside the 3x5 matrix/);
  });

  it('round-trips 300 random shapes (rank 1 to 4, partial edge blocks, any block fraction)', () => {
    const rng = new Rng(11);
    for (let n = 0; n < 300; n++) {
      const rank = rng.int(1, 4);
      const shape = Array.from({ length: rank }, (_, i) => (i < rank - 2 ? rng.int(1, 3) : rng.int(0, 41)));
      const a = sparseMatrix(rng, shape.length === 1 ? [1, ...shape] : shape, rng.next());
      const enc = encodeBlockSparse(a, shape);
      expect(enc.length).toBe(blockSparseBytes(a, shape));
      expect(Array.from(decodeBlockSparse(enc, shape, 't', 'x.ern')), `shape [${shape}]`).toEqual(Array.from(a));
    }
  });

  it('every truncation, extension and bitmap bit flip of random tensors is ERN_TENSOR or the same-sized weights, never a crash', () => {
    const rng = new Rng(12);
    for (let n = 0; n < 60; n++) {
      const shape = [rng.int(1, 13), rng.int(1, 21)];
      const enc = encodeBlockSparse(sparseMatrix(rng, shape, rng.next()), shape);
      const variants = [enc.subarray(0, rng.int(0, enc.length - 1)), Uint8Array.from([...enc, ...new Uint8Array(rng.int(1, 40))])];
      const mapBytes = Math.ceil((Math.ceil(shape[0]! / 4) * Math.ceil(shape[1]! / 8)) / 8);
      for (let bit = 0; bit < mapBytes * 8; bit++) {
        const b = enc.slice();
        b[bit >> 3] = b[bit >> 3]! ^ (1 << (bit & 7));
        variants.push(b);
      }
      for (const v of variants) {
        const e = thrownBy(() => {
          const d = decodeBlockSparse(v, shape, 'layers.0.Wq', 'x.ern');
          expect(d.length).toBe(shape[0]! * shape[1]!);
        });
        if (e) expect([e.code, e.message]).toEqual(['ERN_TENSOR', expect.stringContaining("block-sparse tensor 'layers.0.Wq'")]);
      }
    }
  });

  it('a shape that expands past what a dense tensor could hold is ERN_TENSOR, not a RangeError', () => {
    // [4, 2^30 + 8]: 2^27 + 1 blocks of 32 weights, a 16 MiB all-zero bitmap, 2^32 + 32 dense bytes.
    const shape = [4, 2 ** 30 + 8];
    const bitmap = new Uint8Array(Math.ceil((2 ** 27 + 1) / 8));
    const e = thrownBy(() => decodeBlockSparse(bitmap, shape, 'layers.0.Rq', 'x.ern'));
    expect(e?.code, e?.message).toBe('ERN_TENSOR');
    expect(e?.message).toContain(`expands to ${2 ** 32 + 32} bytes, at most ${BLOCK_SPARSE_MAX_DENSE_BYTES}`);
  });

  it('a 75% block-pruned model is stored block-sparse, loads with identical outputs, and is smaller', async () => {
    const rt = await createRuntime();
    const spec = pruned(randomQuantModel(42, { maxHidden: 64, maxInput: 40 }).int8, 0.75, 5);
    const dense = encodeModel(spec, { blockSparse: 'never' });
    const sparse = encodeModel(spec);
    const c = decodeErn(sparse);
    expect([...c.tensors.values()].some((t) => t.stored === 'i8bs')).toBe(true);
    expect(sparse.length).toBeLessThan(dense.length);
    const seq = randomSequences(1, spec.input.size, 1, 9)[0]!;
    const a = (await rt.load(dense)).session().run(seq);
    const b = (await rt.load(sparse)).session().run(seq);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it("a block-sparse tensor's table entry that lies (bytes, offset, shape) is ERN_TENSOR naming it, on decode and on load", async () => {
    const rt = await createRuntime({ backend: 'reference' });
    const spec = pruned(randomQuantModel(44, { maxHidden: 40, maxInput: 20 }).int8, 0.75, 7);
    const bytes = encodeModel(spec, { blockSparse: 'always' });
    type Entry = { name: string; dtype: string; shape: number[]; offset: number; bytes: number };
    const name = (decodeErn(bytes).manifest.tensors as Entry[]).find((t) => t.dtype === 'i8bs')!.name;
    const edits: [string, (t: Entry) => void][] = [
      ['one byte fewer', (t) => (t.bytes -= 1)],
      ['32 bytes more (a block the bitmap does not mark)', (t) => (t.bytes += 32)],
      ['no bytes', (t) => (t.bytes = 0)],
      ['negative bytes', (t) => (t.bytes = -32)],
      ['bytes past the data section', (t) => (t.bytes = 1e9)],
      ['offset past the data section', (t) => (t.offset += 1 << 20)],
      ['more rows than the bitmap covers', (t) => (t.shape[t.shape.length - 2]! += 64)],
      ['a dense size past 2^32 - 1', (t) => (t.shape = [4, 2 ** 30 + 8])],
    ];
    for (const [what, edit] of edits) {
      const bad = withManifest(bytes, (m) => edit((m.tensors as Entry[]).find((t) => t.name === name)!));
      const e = thrownBy(() => decodeErn(bad, 'x.ern'));
      expect([what, e?.code], e?.message).toEqual([what, 'ERN_TENSOR']);
      expect(e?.message).toContain(`'${name}'`);
      await expect(rt.load(bad), what).rejects.toMatchObject({ code: 'ERN_TENSOR' });
    }
  });

  it('a corrupt block-sparse tensor behind a valid checksum is a typed error', async () => {
    const rt = await createRuntime();
    const spec = pruned(randomQuantModel(43, { maxHidden: 48, maxInput: 24 }).int8, 0.75, 6);
    const bytes = encodeModel(spec, { blockSparse: 'always' });
    const c = decodeErn(bytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const dOff = dv.getUint32(24, true);
    const entry = (c.manifest.tensors as { name: string; dtype: string; offset: number }[]).find((t) => t.dtype === 'i8bs')!;
    const b = bytes.slice();
    b[dOff + entry.offset] = b[dOff + entry.offset]! ^ 0x01; // flip one bitmap bit
    await expect(rt.load(resealErn(b))).rejects.toMatchObject({ code: 'ERN_TENSOR' });
  });
});
