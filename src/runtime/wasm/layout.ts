/**
 * Writes a prepared int8 model into kernel memory: weights, constants, descriptors, scratch.
 * The word offsets below must match src/runtime/kernels/assembly/{index,cells}.ts.
 */
import { DENSE_ACT_ID, KERNEL_KIND, type PreparedIntModel, type PreparedRecurrent } from '../int/prepare.js';
import { inverseScalesF32 } from '../int/reference.js';
import type { WasmArena } from './arena.js';

/** Model descriptor words. */
const M = { nLayers: 0, inW: 1, outW: 2, px: 3, ph: 4, gate: 5, rh: 6, bufA: 7, bufB: 8, layers: 9, stateOff: 10, inSize: 11, inv: 12, xq: 13, oscale: 14, orelu: 15, acc: 16 } as const;
const MODEL_WORDS = 20;
/** Recurrent layer descriptor words; direction blocks of 16 words start at word 8. */
const L = { kind: 0, Hp: 1, G: 2, Ip: 3, clip: 4, flags: 5, nDir: 6, outW: 7, dir0: 8 } as const;
const DIR_WORDS = 16;
const D = { W: 0, R: 1, bx: 2, bh: 3, mx: 4, mxs: 5, mxc: 6, mh: 7, mhs: 8, mhc: 9, mp: 10, mps: 11, mpc: 12, h0: 13, c0: 14 } as const;
/** Dense descriptor words. */
const N = { kind: 0, Ip: 1, Op: 2, act: 3, final: 4, W: 5, b: 6, mo: 7, mos: 8, moc: 9, outW: 10 } as const;

export interface ModelLayout {
  model: number;
  /** Descriptor address per layer. */
  layers: number[];
  /** Largest gate-row count (G*Hp or Op) and widest activation row. */
  maxRows: number;
  widest: number;
  /** Bytes of weights and constants copied in. */
  weightBytes: number;
}

function writeWords(arena: WasmArena, ptr: number, words: Record<number, number>): void {
  const i32 = arena.i32();
  for (const [k, v] of Object.entries(words)) i32[(ptr >> 2) + Number(k)] = v;
}

function writeRecurrent(arena: WasmArena, P: PreparedRecurrent): { ptr: number; bytes: number } {
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
  P.directions.forEach((d, i) => {
    const base = L.dir0 + i * DIR_WORDS;
    const words: Record<number, number> = {
      [base + D.W]: arena.put(d.W),
      [base + D.R]: arena.put(d.R),
      [base + D.bx]: arena.put(d.bx),
      [base + D.bh]: arena.put(d.bh),
      [base + D.mx]: arena.put(d.mx.m),
      [base + D.mxs]: d.mx.shift,
      [base + D.mxc]: d.mx.clamp,
      [base + D.mh]: arena.put(d.mh.m),
      [base + D.mhs]: d.mh.shift,
      [base + D.mhc]: d.mh.clamp,
      [base + D.mp]: d.mp ? arena.put(d.mp.m) : 0,
      [base + D.mps]: d.mp ? d.mp.shift : 1,
      [base + D.mpc]: d.mp ? d.mp.clamp : 0,
      [base + D.h0]: arena.put(d.h0),
      [base + D.c0]: arena.put(d.c0),
    };
    writeWords(arena, ptr, words);
  });
  return { ptr, bytes: arena.used - before };
}

export function writeModel(arena: WasmArena, P: PreparedIntModel): ModelLayout {
  const model = arena.alloc(MODEL_WORDS * 4);
  let maxRows = 8;
  let maxHp = 8;
  let widest = P.inputWidth;
  let weightBytes = 0;
  const layers: number[] = [];
  for (const layer of P.layers) {
    widest = Math.max(widest, layer.outWidth);
    if (layer.kind === 'dense') {
      maxRows = Math.max(maxRows, layer.Op);
      const ptr = arena.alloc(12 * 4);
      const before = arena.used;
      writeWords(arena, ptr, {
        [N.kind]: KERNEL_KIND.dense,
        [N.Ip]: layer.Ip,
        [N.Op]: layer.Op,
        [N.act]: DENSE_ACT_ID[layer.act],
        [N.final]: layer.final ? 1 : 0,
        [N.W]: arena.put(layer.W),
        [N.b]: arena.put(layer.b),
        [N.mo]: layer.mo ? arena.put(layer.mo.m) : 0,
        [N.mos]: layer.mo ? layer.mo.shift : 1,
        [N.moc]: layer.mo ? layer.mo.clamp : 0,
        [N.outW]: layer.outWidth,
      });
      weightBytes += arena.used - before;
      layers.push(ptr);
    } else {
      maxRows = Math.max(maxRows, layer.G * layer.Hp);
      maxHp = Math.max(maxHp, layer.Hp);
      const { ptr, bytes } = writeRecurrent(arena, layer);
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
    [M.gate]: arena.alloc(maxRows * 2),
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
  return { model, layers, maxRows, widest, weightBytes };
}

/** Address of a direction's h0 / c0 arrays inside a recurrent descriptor. */
export function directionInit(arena: WasmArena, desc: number, d: number): { h0: number; c0: number } {
  const i32 = arena.i32();
  const base = (desc >> 2) + L.dir0 + d * DIR_WORDS;
  return { h0: i32[base + D.h0]!, c0: i32[base + D.c0]! };
}
