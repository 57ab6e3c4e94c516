/**
 * prepareIntModel's placement of every logical row, column and per-row constant in the padded
 * arrays the integer kernels (and the TypeScript reference) read, against a plain loop over the
 * logical rows: both engines run on these arrays, so their bit-exactness cannot catch a
 * misplaced row. Random GRU, LSTM (with peepholes) and RNN layers, bidirectional ones, widths
 * that are and are not multiples of 8, and dense heads.
 */
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/index.js';
import { quantizeMultipliers } from '../../src/runtime/fixed-point.js';
import { prepareIntModel, roundUp, LANE } from '../../src/runtime/int/prepare.js';
import { GATES, isRecurrent, numDirections } from '../../src/model/spec.js';
import { randomQuantModel } from '../helpers/random-model.js';

describe('prepareIntModel', () => {
  it('places each row, column, bias and multiplier where a row-by-row placement does', () => {
    for (let seed = 0; seed < 40; seed++) {
      const spec = randomQuantModel(seed, { offline: seed % 2 === 1, maxHidden: seed % 3 === 0 ? 16 : 37 }).int8;
      const P = prepareIntModel(spec);
      let inMap = Array.from({ length: spec.input.size }, (_, k) => k);
      let inWidth = roundUp(spec.input.size, LANE);
      P.layers.forEach((L, li) => {
        const layer = spec.layers[li]!;
        if (L.kind === 'dense') {
          if (layer.kind !== 'dense') throw new Error(`layer ${li}: dense prepared from ${layer.kind}`);
          const q = layer.quant!;
          const W = new Int8Array(L.Op * inWidth);
          for (let j = 0; j < layer.outputSize; j++) for (let k = 0; k < layer.inputSize; k++) W[j * inWidth + inMap[k]!] = q.Wq[j * layer.inputSize + k]!;
          expect(L.W, `seed ${seed} layer ${li} W`).toEqual(W);
          inMap = Array.from({ length: layer.outputSize }, (_, j) => j);
          inWidth = L.outWidth;
          return;
        }
        if (!isRecurrent(layer)) throw new Error(`layer ${li}: recurrent prepared from ${layer.kind}`);
        const q = layer.quant!;
        const H = layer.hiddenSize;
        const I = layer.inputSize;
        const G = GATES[layer.kind];
        const rows = G * H;
        const at = (j: number) => Math.floor(j / H) * L.Hp + (j % H);
        for (let d = 0; d < numDirections(layer); d++) {
          const W = new Int8Array(G * L.Hp * inWidth);
          const R = new Int8Array(G * L.Hp * L.Hp);
          const bx = new Int32Array(G * L.Hp);
          const bh = new Int32Array(G * L.Hp);
          const realX = new Float64Array(G * L.Hp);
          const realH = new Float64Array(G * L.Hp);
          for (let j = 0; j < rows; j++) {
            for (let k = 0; k < I; k++) W[at(j) * inWidth + inMap[k]!] = q.Wq[(d * rows + j) * I + k]!;
            for (let k = 0; k < H; k++) R[at(j) * L.Hp + k] = q.Rq[(d * rows + j) * H + k]!;
            bx[at(j)] = q.Bx[d * rows + j]!;
            bh[at(j)] = q.Bh[d * rows + j]!;
            realX[at(j)] = q.Wscale[d * rows + j]! * 4096;
            realH[at(j)] = q.Rscale[d * rows + j]! * 4096;
          }
          const got = L.directions[d]!;
          const where = `seed ${seed} layer ${li} direction ${d}`;
          expect(got.W, `${where} W`).toEqual(W);
          expect(got.R, `${where} R`).toEqual(R);
          expect(got.bx, `${where} bx`).toEqual(bx);
          expect(got.bh, `${where} bh`).toEqual(bh);
          expect(got.mx, `${where} mx`).toEqual(quantizeMultipliers(realX));
          expect(got.mh, `${where} mh`).toEqual(quantizeMultipliers(realH));
        }
        inMap = Array.from(L.outMap);
        inWidth = L.outWidth;
      });
    }
  });
});

describe('prepareIntModel on a spec built by hand (2026-11-27 review)', () => {
  const cases: [layer: number, tensor: string, edit: (a: ArrayLike<number>) => unknown, message: RegExp][] = [
    // JSON gives plain arrays: since the gates were placed by blocks, Bx, Bh, Wscale and Rscale
    // were a TypeError (subarray is not a function), where encodeModel() named the tensor.
    [0, 'Bx', (a) => Array.from(a), /layers\.0\.Bx must be an Int32Array of 12 values, got an Array/],
    [0, 'Wscale', (a) => Array.from(a), /layers\.0\.Wscale must be a Float32Array of 12 values, got an Array/],
    [0, 'Wq', (a) => Array.from(a), /layers\.0\.Wq must be an Int8Array of 264 values, got an Array/],
    [1, 'Wq', (a) => Array.from(a), /layers\.1\.Wq must be an Int8Array of 4 values, got an Array/],
    // A scale row short: its multiplier was NaN (a RangeError) before, 0 (a silent zero gate) after.
    [0, 'Rscale', (a) => (a as Float32Array).slice(1), /layers\.0\.Rscale must be a Float32Array of 12 values, got 11/],
    [0, 'Bh', (a) => (a as Int32Array).slice(1), /layers\.0\.Bh must be an Int32Array of 12 values, got 11/],
  ];
  it.each(cases)('layer %i %s of the wrong type or length: ERN_TENSOR naming it, from prepareIntModel and encodeModel', (li, tensor, edit, message) => {
    const spec = randomQuantModel(4).int8; // GRU 22 -> 4, dense 4 -> 1
    const q = (spec.layers[li] as { quant?: unknown }).quant as Record<string, ArrayLike<number>>;
    q[tensor] = edit(q[tensor]!) as ArrayLike<number>;
    expect(() => prepareIntModel(spec)).toThrow(expect.objectContaining({ code: 'ERN_TENSOR', message: expect.stringMatching(message) }));
    expect(() => encodeModel(spec)).toThrow(expect.objectContaining({ code: 'ERN_TENSOR' }));
  });
});
