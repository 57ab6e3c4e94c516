/**
 * Writes a prepared int8 model into kernel memory: weights as tiles, constants, descriptors,
 * scratch. The byte offsets below must match src/runtime/kernels/assembly/{index,cells,matvec}.ts.
 *
 * Matrices are stored in tiles of 4 rows x 8 inputs (32 bytes, row by row), grouped by 4 rows:
 * the unit one pass of the SIMD loop consumes. A matrix whose all-zero tiles reach
 * SPARSE_MIN_ZERO_TILES of the total is stored block-sparse: only non-zero tiles, each with the
 * byte offset of its 8 inputs, plus the first tile index of every group.
 */
import type { RowMultipliers } from '../fixed-point.js';
import { DENSE_ACT_ID, KERNEL_KIND, type PreparedIntModel, type PreparedRecurrent } from '../int/prepare.js';
import { inverseScalesF32 } from '../int/reference.js';
import type { WasmArena } from './arena.js';
import type { KernelExports } from './kernels.js';

/** Model descriptor words. */
const M = { nLayers: 0, inW: 1, outW: 2, px: 3, ph: 4, gate: 5, rh: 6, bufA: 7, bufB: 8, layers: 9, stateOff: 10, inSize: 11, inv: 12, xq: 13, oscale: 14, orelu: 15, acc: 16 } as const;
const MODEL_WORDS = 20;
/** Recurrent layer descriptor words; direction blocks of 32 words start at word 8. */
const L = { kind: 0, Hp: 1, G: 2, Ip: 3, clip: 4, flags: 5, nDir: 6, outW: 7, dir0: 8 } as const;
const DIR_WORDS = 32;
/** Direction block words: W matrix (12 words), R matrix (12), then peepholes and initial state. */
const D = { wmat: 0, rmat: 12, mp: 24, mps: 25, mpc: 26, h0: 27, c0: 28 } as const;
/** Dense descriptor words; its matrix descriptor starts at word 8. */
const N = { kind: 0, Ip: 1, Op: 2, act: 3, final: 4, outW: 5, mat: 8 } as const;
const DENSE_WORDS = 20;
/** Matrix descriptor words. */
const MAT = { tiles: 0, index: 1, gstart: 2, kb: 3, bias: 4, m: 5, shift: 6, consts: 7, clamp: 8, flags: 9 } as const;
/** MAT.flags bit: |acc + bias| <= clamp for every input, so the SIMD requantization skips the clamp. */
const MAT_CLAMP_FREE = 1;

/** Fraction of all-zero 4x8 tiles from which a matrix is stored block-sparse. */
export const SPARSE_MIN_ZERO_TILES = 0.15;

export interface LayoutOptions {
  /** 'auto' (by SPARSE_MIN_ZERO_TILES), or force one storage for every matrix (tests, benchmarks). */
  storage?: 'auto' | 'dense' | 'sparse';
}

export interface ModelLayout {
  model: number;
  /** Descriptor address per layer. */
  layers: number[];
  /** Largest gate-row count (G*Hp or Op) and widest activation row. */
  maxRows: number;
  widest: number;
  /** Bytes of weights and constants copied in. */
  weightBytes: number;
  /** Matrices stored block-sparse, and tiles kept / total over them. */
  sparse: { matrices: number; keptTiles: number; totalTiles: number };
  /** Requantized matrices, and how many of them provably never reach the clamp (MAT.flags). */
  requant: { matrices: number; clampFree: number };
}

type LayoutStats = ModelLayout['sparse'] & { requantized: number; clampFree: number };

/** Addresses reach 4 GiB: indices into the arena's views are taken with >>> (>> turns 2 GiB and up negative). */
function writeWords(arena: WasmArena, ptr: number, words: Record<number, number>): void {
  const i32 = arena.i32();
  for (const [k, v] of Object.entries(words)) i32[(ptr >>> 2) + Number(k)] = v;
}

interface MatrixInput {
  /** Row-major padded int8 matrix [rows][cols]; rows % 4 == 0, cols % 8 == 0. */
  W: Int8Array;
  rows: number;
  cols: number;
  bias: Int32Array;
  /** Requantization multipliers (absent for a final dense layer). */
  mult: RowMultipliers | null;
}

/** The kernels' tiling functions (src/runtime/kernels/assembly/tiles.ts). */
export type TileKernels = Pick<KernelExports, 'tile_scan' | 'tile_pack'>;

/**
 * Bytes of a matrix's rows in kernel memory at a time while it is tiled. WebAssembly memory never
 * shrinks: the whole padded matrix copied past the allocated top kept that much committed for the
 * model's life (a GRU 64 -> 512: 30 pages of kernel memory where its weights take 17).
 */
const SLAB_BYTES = 16 * 1024;

/** Packs a matrix's tiles (`sparse`: zero tiles left out) into the memory allocated for them. */
type Pack = (sparse: boolean, tiles: number, index: number, gstart: number) => void;

/**
 * A big matrix scanned and then packed a slab of whole groups of four rows at a time, each copied
 * past the allocated top after a flag per tile (the scratch holds one slab, not the matrix).
 */
function tileInSlabs(arena: WasmArena, k: TileKernels, mi: MatrixInput): { zero: number; pack: Pack } {
  const { rows, cols } = mi;
  const kb = cols / 8;
  const total = (rows / 4) * kb;
  const slabRows = Math.min(rows, Math.max(4, Math.floor(SLAB_BYTES / cols / 4) * 4));
  const flagBytes = Math.ceil(total / 16) * 16;
  const W = new Uint8Array(mi.W.buffer, mi.W.byteOffset, mi.W.length);
  /** Flags at `at`, then rows r0 .. r0 + n copied in after them; returns where the rows are. */
  const slab = (at: number, r0: number, n: number): number => {
    arena.u8().set(W.subarray(r0 * cols, (r0 + n) * cols), at + flagBytes);
    return at + flagBytes;
  };
  const at0 = arena.scratch(0, flagBytes + slabRows * cols);
  let zero = 0;
  for (let r0 = 0; r0 < rows; r0 += slabRows) {
    const n = Math.min(slabRows, rows - r0);
    zero += k.tile_scan(slab(at0, r0, n), n, cols, at0 + (r0 / 4) * kb);
  }
  const flags = arena.u8().slice(at0, at0 + total); // the scratch is the tiles' place next
  const pack: Pack = (sparse, tiles, index, gstart) => {
    const at = arena.scratch(0, flagBytes + slabRows * cols);
    arena.u8().set(flags, at);
    let t = 0;
    for (let r0 = 0; r0 < rows; r0 += slabRows) {
      const n = Math.min(slabRows, rows - r0);
      const g0 = r0 / 4;
      const packed = k.tile_pack(slab(at, r0, n), n, cols, at + g0 * kb, sparse ? 1 : 0, tiles + t * 32, sparse ? index + t * 4 : 0, sparse ? gstart + g0 * 4 : 0);
      if (sparse && t > 0) {
        // The slab's group starts count from its first tile: from the matrix's first instead.
        const i32 = arena.i32();
        for (let g = g0; g <= g0 + n / 4; g++) i32[(gstart >>> 2) + g]! += t;
      }
      t += packed;
    }
  };
  return { zero, pack };
}

/** Writes one matrix's tiles and its descriptor (12 words at `desc`). */
function writeMatrix(arena: WasmArena, k: TileKernels, desc: number, mi: MatrixInput, opts: LayoutOptions, stats: LayoutStats): void {
  const { rows, cols } = mi;
  const groups = rows / 4;
  const kb = cols / 8;
  const total = groups * kb;
  // The kernels find the zero tiles and copy the tiles out (a loop over every weight, which as
  // cold JavaScript cost a third of a millisecond per load), from a copy of the padded matrix past
  // the allocated top. WebAssembly memory never shrinks, so a matrix over SLAB_BYTES goes through
  // in slabs (tileInSlabs); a smaller one is copied once, past everything it allocates below
  // (tiles, index, group starts), and packed where it lies.
  let zero: number;
  let pack: Pack;
  if (mi.W.length > SLAB_BYTES) {
    ({ zero, pack } = tileInSlabs(arena, k, mi));
  } else {
    const room = Math.ceil((36 * total + 4 * (groups + 1) + 48) / 16) * 16;
    const src = arena.scratch(room, mi.W.length + total);
    const flags = src + mi.W.length;
    arena.u8().set(new Uint8Array(mi.W.buffer, mi.W.byteOffset, mi.W.length), src);
    zero = k.tile_scan(src, rows, cols, flags);
    pack = (sparse, tiles, index, gstart) => k.tile_pack(src, rows, cols, flags, sparse ? 1 : 0, tiles, index, gstart);
  }
  const sparse = opts.storage === 'sparse' || (opts.storage !== 'dense' && total > 0 && zero / total >= SPARSE_MIN_ZERO_TILES);
  const kept = sparse ? total - zero : total;
  const tiles = arena.alloc(Math.max(kept, 1) * 32);
  const index = sparse ? arena.alloc(Math.max(kept, 1) * 4) : 0;
  const gstart = sparse ? arena.alloc((groups + 1) * 4) : 0;
  pack(sparse, tiles, index, gstart);
  if (sparse) {
    stats.matrices++;
    stats.keptTiles += kept;
    stats.totalTiles += total;
  }
  // Requantization constants, precomputed: clamp, -clamp, 2^62 + 2^(shift-1), 2^62 >> shift.
  const consts = new Int32Array(16);
  const shift = mi.mult?.shift ?? 1;
  const clamp = mi.mult?.clamp ?? 0;
  consts.fill(clamp, 0, 4);
  consts.fill(-clamp, 4, 8);
  const off = 2n ** 62n + 2n ** BigInt(shift - 1);
  const lo = Number(off & 0xffffffffn) | 0;
  const hi = Number(off >> 32n) | 0;
  consts.set([lo, hi, lo, hi], 8);
  consts.fill(Number((2n ** 62n >> BigInt(shift)) & 0xffffffffn) | 0, 12, 16);
  // The clamp cannot bind when even a row of int8 weights at -128 against int16 inputs at
  // ±32768, plus the largest bias, stays inside it (for trained models by orders of magnitude:
  // the clamp bounds pre-activations to ±2^18 in real units). One bound for the matrix, no pass
  // over the weights; when it does not hold, the kernels clamp as the reference does.
  let maxBias = 0;
  for (let j = 0; j < rows; j++) maxBias = Math.max(maxBias, Math.abs(mi.bias[j]!));
  const clampFree = mi.mult !== null && 128 * cols * 32768 + maxBias <= clamp;
  if (mi.mult) stats.requantized++;
  if (clampFree) stats.clampFree++;
  writeWords(arena, desc, {
    [MAT.tiles]: tiles,
    [MAT.index]: index,
    [MAT.gstart]: gstart,
    [MAT.kb]: kb,
    [MAT.bias]: arena.put(mi.bias),
    [MAT.m]: mi.mult ? arena.put(mi.mult.m) : 0,
    [MAT.shift]: shift,
    [MAT.consts]: arena.put(consts),
    [MAT.clamp]: clamp,
    [MAT.flags]: clampFree ? MAT_CLAMP_FREE : 0,
  });
}

function writeRecurrent(arena: WasmArena, k: TileKernels, P: PreparedRecurrent, opts: LayoutOptions, stats: LayoutStats): { ptr: number; bytes: number } {
  const ptr = arena.alloc((L.dir0 + DIR_WORDS * P.directions.length) * 4);
  const before = arena.used;
  writeWords(arena, ptr, {
    [L.kind]: KERNEL_KIND[P.kind],
    [L.Hp]: P.Hp,
    [L.G]: P.G,
    [L.Ip]: P.Ip,
    [L.clip]: P.clipQ,
    [L.flags]: (P.linearBeforeReset ? 1 : 0) | (P.inputForget ? 2 : 0),
    [L.nDir]: P.directions.length,
    [L.outW]: P.outWidth,
  });
  const rows = P.G * P.Hp;
  P.directions.forEach((d, i) => {
    const base = ptr + (L.dir0 + i * DIR_WORDS) * 4;
    writeMatrix(arena, k, base + D.wmat * 4, { W: d.W, rows, cols: P.Ip, bias: d.bx, mult: d.mx }, opts, stats);
    writeMatrix(arena, k, base + D.rmat * 4, { W: d.R, rows, cols: P.Hp, bias: d.bh, mult: d.mh }, opts, stats);
    writeWords(arena, base, {
      [D.mp]: d.mp ? arena.put(d.mp.m) : 0,
      [D.mps]: d.mp ? d.mp.shift : 1,
      [D.mpc]: d.mp ? d.mp.clamp : 0,
      [D.h0]: arena.put(d.h0),
      [D.c0]: arena.put(d.c0),
    });
  });
  return { ptr, bytes: arena.used - before };
}

export function writeModel(arena: WasmArena, k: TileKernels, P: PreparedIntModel, opts: LayoutOptions = {}): ModelLayout {
  const model = arena.alloc(MODEL_WORDS * 4);
  let maxRows = 8;
  let maxHp = 8;
  let widest = P.inputWidth;
  let weightBytes = 0;
  const stats: LayoutStats = { matrices: 0, keptTiles: 0, totalTiles: 0, requantized: 0, clampFree: 0 };
  const layers: number[] = [];
  for (const layer of P.layers) {
    widest = Math.max(widest, layer.outWidth);
    if (layer.kind === 'dense') {
      maxRows = Math.max(maxRows, layer.Op);
      const ptr = arena.alloc(DENSE_WORDS * 4);
      const before = arena.used;
      writeWords(arena, ptr, {
        [N.kind]: KERNEL_KIND.dense,
        [N.Ip]: layer.Ip,
        [N.Op]: layer.Op,
        [N.act]: DENSE_ACT_ID[layer.act],
        [N.final]: layer.final ? 1 : 0,
        [N.outW]: layer.outWidth,
      });
      writeMatrix(arena, k, ptr + N.mat * 4, { W: layer.W, rows: layer.Op, cols: layer.Ip, bias: layer.b, mult: layer.mo }, opts, stats);
      weightBytes += arena.used - before;
      layers.push(ptr);
    } else {
      maxRows = Math.max(maxRows, layer.G * layer.Hp);
      maxHp = Math.max(maxHp, layer.Hp);
      const { ptr, bytes } = writeRecurrent(arena, k, layer, opts, stats);
      weightBytes += bytes;
      layers.push(ptr);
    }
  }
  const layerTable = arena.put(Uint32Array.from(layers));
  const stateOff = arena.put(Int32Array.from(P.stateOffsets.map((o) => Math.max(o, 0))));
  writeWords(arena, model, {
    [M.nLayers]: P.layers.length,
    [M.inW]: P.inputWidth,
    [M.outW]: P.outputWidth,
    [M.px]: arena.alloc(maxRows * 4),
    [M.ph]: arena.alloc(maxRows * 4),
    [M.gate]: arena.alloc(maxRows * 4),
    [M.rh]: arena.alloc(maxHp * 2),
    [M.bufA]: arena.alloc(widest * 2),
    [M.bufB]: arena.alloc(widest * 2),
    [M.layers]: layerTable,
    [M.stateOff]: stateOff,
    [M.inSize]: P.inputSize,
    [M.inv]: arena.put(inverseScalesF32(P)),
    [M.xq]: arena.alloc(P.inputWidth * 2),
    [M.oscale]: arena.put(P.outputScaleF32),
    [M.orelu]: P.outputRelu ? 1 : 0,
    [M.acc]: arena.alloc(P.outputWidth * 4),
  });
  const { matrices, keptTiles, totalTiles, requantized, clampFree } = stats;
  return { model, layers, maxRows, widest, weightBytes, sparse: { matrices, keptTiles, totalTiles }, requant: { matrices: requantized, clampFree } };
}

/** Address of a direction's h0 / c0 arrays inside a recurrent descriptor. */
export function directionInit(arena: WasmArena, desc: number, d: number): { h0: number; c0: number } {
  const i32 = arena.i32();
  const base = (desc >>> 2) + L.dir0 + d * DIR_WORDS;
  // Words are int32: an address from 2 GiB up reads back negative.
  return { h0: i32[base + D.h0]! >>> 0, c0: i32[base + D.c0]! >>> 0 };
}
