/**
 * The kernels' tiling (tile_scan / tile_pack, src/runtime/kernels/assembly/tiles.ts), which lays
 * out every weight matrix when a model is loaded, against a plain JavaScript tiling of the same
 * prepared matrices: tiles, block-sparse index and group starts, on both builds, dense, sparse
 * and automatic storage, an all-zero matrix, and a matrix whose copy makes the memory grow.
 */
import { describe, expect, it } from 'vitest';
import { calibrateAbsMax, kernelBinaries, quantizeModel, type ModelSpec } from '../../src/index.js';
import { prepareIntModel, type PreparedIntModel, type PreparedRecurrent } from '../../src/runtime/int/prepare.js';
import { instantiateKernelsSync, WasmKernels } from '../../src/runtime/wasm/kernels.js';
import { SPARSE_MIN_ZERO_TILES } from '../../src/runtime/wasm/layout.js';
import { Rng } from '../../src/util/rng.js';
import { randomQuantModel, randomRecurrent } from '../helpers/random-model.js';

interface Tiled {
  tiles: number[];
  index: number[] | null;
  gstart: number[] | null;
}

/** The tiles of a padded [rows][cols] int8 matrix, as matvec.ts reads them. */
function tileInJs(W: Int8Array, rows: number, cols: number, storage: 'auto' | 'dense' | 'sparse'): Tiled {
  const groups = rows / 4;
  const kb = cols / 8;
  const tile = (g: number, b: number) => {
    const t: number[] = [];
    for (let r = 0; r < 4; r++) for (let i = 0; i < 8; i++) t.push(W[(4 * g + r) * cols + 8 * b + i]!);
    return t;
  };
  let zero = 0;
  for (let g = 0; g < groups; g++) for (let b = 0; b < kb; b++) if (tile(g, b).every((v) => v === 0)) zero++;
  const sparse = storage === 'sparse' || (storage === 'auto' && zero / (groups * kb) >= SPARSE_MIN_ZERO_TILES);
  const out: Tiled = { tiles: [], index: sparse ? [] : null, gstart: sparse ? [] : null };
  for (let g = 0; g < groups; g++) {
    out.gstart?.push(out.tiles.length / 32);
    for (let b = 0; b < kb; b++) {
      const t = tile(g, b);
      if (sparse && t.every((v) => v === 0)) continue;
      out.tiles.push(...t);
      out.index?.push(b * 16);
    }
  }
  out.gstart?.push(out.tiles.length / 32);
  return out;
}

/** What the kernels laid out for a matrix descriptor at `desc` (MAT words in layout.ts). */
function tilesInMemory(k: WasmKernels, desc: number, rows: number, kept: number, sparse: boolean): Tiled {
  const buf = k.arena.memory.buffer;
  const words = new Int32Array(buf, desc, 4);
  return {
    tiles: Array.from(new Int8Array(buf, words[0]!, kept * 32)),
    index: sparse ? Array.from(new Int32Array(buf, words[1]!, kept)) : null,
    gstart: sparse ? Array.from(new Int32Array(buf, words[2]!, rows / 4 + 1)) : null,
  };
}

/** Every matrix of a prepared model with its descriptor address in kernel memory. */
function matrices(k: WasmKernels, P: PreparedIntModel): { W: Int8Array; rows: number; cols: number; desc: number }[] {
  const out: { W: Int8Array; rows: number; cols: number; desc: number }[] = [];
  P.layers.forEach((L, li) => {
    const desc = k.layout.layers[li]!;
    if (L.kind === 'dense') out.push({ W: L.W, rows: L.Op, cols: L.Ip, desc: desc + 8 * 4 });
    else {
      L.directions.forEach((d, i) => {
        const base = desc + (8 + 32 * i) * 4;
        out.push({ W: d.W, rows: L.G * L.Hp, cols: L.Ip, desc: base });
        out.push({ W: d.R, rows: L.G * L.Hp, cols: L.Hp, desc: base + 12 * 4 });
      });
    }
  });
  return out;
}

/** Checks every matrix's layout; returns how many were stored block-sparse. */
function checkLayout(P: PreparedIntModel, build: 'simd' | 'scalar', storage: 'auto' | 'dense' | 'sparse'): number {
  const k = new WasmKernels(instantiateKernelsSync(new WebAssembly.Module(kernelBinaries()[build])), build, P, { storage });
  let sparse = 0;
  for (const m of matrices(k, P)) {
    const want = tileInJs(m.W, m.rows, m.cols, storage);
    const kept = want.tiles.length / 32;
    expect(tilesInMemory(k, m.desc, m.rows, kept, want.index !== null)).toEqual(want);
    if (want.index) sparse++;
  }
  expect(sparse).toBe(k.layout.sparse.matrices);
  return sparse;
}

/** Zeroes about 40 % of the 4x8 tiles of every prepared matrix (so that 'auto' stores them block-sparse). */
function withZeroTiles(P: PreparedIntModel, rng: Rng): PreparedIntModel {
  const zero = (W: Int8Array, rows: number, cols: number) => {
    for (let g = 0; g < rows; g += 4) for (let b = 0; b < cols; b += 8) if (rng.uniform(0, 1) < 0.4) for (let r = 0; r < 4; r++) W.fill(0, (g + r) * cols + b, (g + r) * cols + b + 8);
  };
  for (const L of P.layers) {
    if (L.kind === 'dense') zero(L.W, L.Op, L.Ip);
    else for (const d of L.directions) {
      zero(d.W, L.G * L.Hp, L.Ip);
      zero(d.R, L.G * L.Hp, L.Hp);
    }
  }
  return P;
}

describe.each(['simd', 'scalar'] as const)('weight tiles laid out by the %s kernels', (build) => {
  it.each(['auto', 'dense', 'sparse'] as const)('are the tiles of the prepared matrices (%s storage)', (storage) => {
    let sparse = 0;
    let total = 0;
    for (let seed = 0; seed < 12; seed++) {
      checkLayout(prepareIntModel(randomQuantModel(seed).int8), build, storage);
      const P = withZeroTiles(prepareIntModel(randomQuantModel(100 + seed).int8), new Rng(seed));
      sparse += checkLayout(P, build, storage);
      total += P.layers.reduce((n, L) => n + (L.kind === 'dense' ? 1 : 2 * L.directions.length), 0);
    }
    // 'auto' chose each storage somewhere (tiles of zeros are 40 % of these matrices, the threshold 15 %).
    if (storage === 'auto') expect(sparse).toBeGreaterThan(0);
    expect(sparse).toBe(storage === 'dense' ? 0 : storage === 'sparse' ? total : sparse);
  });

  it('keep no tile of an all-zero matrix when sparse (one zeroed tile allocated, every group empty)', () => {
    const P = prepareIntModel(randomQuantModel(3).int8);
    const L = P.layers.find((l): l is PreparedRecurrent => l.kind !== 'dense')!;
    L.directions[0]!.R.fill(0);
    checkLayout(P, build, 'sparse');
    checkLayout(P, build, 'auto');
  });

  it('grow the memory when the matrix copied in does not fit (and lay it out the same)', () => {
    const P = prepareIntModel(gru16(new Rng(5), 300));
    const exports = instantiateKernelsSync(new WebAssembly.Module(kernelBinaries()[build]));
    const before = exports.memory.buffer.byteLength;
    const k = new WasmKernels(exports, build, P, { storage: 'dense' });
    expect(exports.memory.buffer.byteLength).toBeGreaterThan(before);
    for (const m of matrices(k, P)) expect(tilesInMemory(k, m.desc, m.rows, (m.rows / 4) * (m.cols / 8), false)).toEqual(tileInJs(m.W, m.rows, m.cols, 'dense'));
  });

  it.each(['dense', 'sparse'] as const)('leave no copy of a big matrix committed past the weights (%s storage; 2026-11-27 review)', (storage) => {
    // WebAssembly memory never shrinks: the whole padded matrix copied past the allocated top
    // for tiling kept a GRU 64 -> 512 model at 30 pages of kernel memory where its weights need 17.
    const P = prepareIntModel(gru16(new Rng(6), 600));
    const R = (P.layers[0] as PreparedRecurrent).directions[0]!.R; // 1800 x 600: 1.08 MB
    if (storage === 'sparse') for (let i = 0; i < R.length; i += 1024) R.fill(0, i, i + 512); // half its tiles zero
    const exports = instantiateKernelsSync(new WebAssembly.Module(kernelBinaries()[build]));
    const k = new WasmKernels(exports, build, P, { storage });
    expect(exports.memory.buffer.byteLength - k.arena.used).toBeLessThan(256 * 1024);
    for (const m of matrices(k, P)) {
      const want = tileInJs(m.W, m.rows, m.cols, storage);
      expect(tilesInMemory(k, m.desc, m.rows, want.tiles.length / 32, storage === 'sparse')).toEqual(want);
    }
  });
});

/** An int8 GRU 16 -> `hidden` with random weights, calibrated on four random frames. */
function gru16(rng: Rng, hidden: number): ModelSpec {
  const float: ModelSpec = {
    name: `gru-16-${hidden}`,
    version: '1.0.0',
    task: 'custom',
    labels: [],
    input: { size: 16, frontend: { kind: 'none' } },
    precision: 'float32',
    training: {},
    layers: [randomRecurrent(rng, 'gru', 16, hidden, 'forward')],
  };
  return quantizeModel(float, calibrateAbsMax(float, [rng.float32(16 * 4, -1, 1)]));
}
