/**
 * Block-sparse int8: file size and streaming step time against dense int8, in one process,
 * interleaved, for block shapes the SIMD kernel could skip and several sparsities.
 *
 *   npm run build && npx tsx test/bench/sparse.ts [--rounds N]
 *
 * The kernel skips a 4x8 tile (4 output rows x one i16x8 load of inputs) when it is all zero;
 * a coarser pruning block (4x16, 8x8, 8x16) is a union of such tiles. So the table compares,
 * at equal sparsity, what each pruning block shape costs the kernel: the same (work is per kept
 * tile) or more (a finer block keeps more partially-used tiles?), and picks the finest shape
 * that runs as fast, since finer blocks lose the least accuracy when pruning.
 */
import { calibrateAbsMax, createRuntime, encodeModel, quantizeModel, type ModelSpec } from '../../src/index.js';
import { benchSpec } from '../../src/cli/commands/bench.js';
import { Rng } from '../../src/util/rng.js';
import { median } from '../../src/util/stats.js';

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1] ?? 0) || 15;

/** Zeroes blocks of br x bc (aligned to the runtime's gate blocks) of every recurrent matrix, smallest mean |w| first. */
function prune(spec: ModelSpec, sparsity: number, br: number, bc: number): ModelSpec {
  const copy: ModelSpec = JSON.parse(JSON.stringify(spec, (_k, v) => (ArrayBuffer.isView(v) ? { __f32: Array.from(v as Float32Array) } : v)), (_k, v) =>
    v && typeof v === 'object' && '__f32' in v ? Float32Array.from(v.__f32) : v,
  );
  for (const l of copy.layers) {
    if (l.kind !== 'gru' && l.kind !== 'lstm') continue;
    const H = l.hiddenSize;
    const G = l.kind === 'gru' ? 3 : 4;
    for (const [W, cols] of [
      [l.float!.W, l.inputSize],
      [l.float!.R, H],
    ] as const) {
      const blocks: { score: number; r: number; c: number }[] = [];
      for (let g = 0; g < G; g++) {
        for (let r = g * H; r < (g + 1) * H; r += br) {
          for (let c = 0; c < cols; c += bc) {
            let s = 0;
            let n = 0;
            for (let i = r; i < Math.min(r + br, (g + 1) * H); i++) for (let j = c; j < Math.min(c + bc, cols); j++, n++) s += Math.abs(W[i * cols + j]!);
            blocks.push({ score: s / n, r, c });
          }
        }
      }
      blocks.sort((a, b) => a.score - b.score);
      for (const b of blocks.slice(0, Math.round(blocks.length * sparsity))) {
        const gEnd = (Math.floor(b.r / H) + 1) * H;
        for (let i = b.r; i < Math.min(b.r + br, gEnd); i++) for (let j = b.c; j < Math.min(b.c + bc, cols); j++) W[i * cols + j] = 0;
      }
    }
  }
  return copy;
}


const rt = await createRuntime();
console.log(`block-sparse int8 (${new Date().toISOString().slice(0, 10)}, Node ${process.version}); median of ${ROUNDS} interleaved rounds\n`);
console.log('| model | block | sparsity | file bytes | dense / file | step µs | dense step / step |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
for (const [name, cell, I, H, O] of [
  ['kws-gru', 'gru', 40, 64, 12],
  ['kws-lstm', 'lstm', 40, 64, 12],
  ['gru 40->128', 'gru', 40, 128, 12],
  ['gru 40->256', 'gru', 40, 256, 12],
] as const) {
  const spec = benchSpec({ name, cell, inputSize: I, hidden: H, steps: 49, outputs: O });
  const calib = new Rng(2).float32(49 * I, -2, 2);
  const variants: { block: string; sparsity: number; bytes: Uint8Array }[] = [];
  const quant = (s: ModelSpec) => encodeModel(quantizeModel(s, calibrateAbsMax(s, [calib])), { goldenSteps: 2 });
  variants.push({ block: '-', sparsity: 0, bytes: quant(spec) });
  for (const sparsity of [0.5, 0.75, 0.9]) {
    for (const [br, bc] of [
      [4, 8],
      [4, 16],
      [8, 8],
    ] as const) {
      if (sparsity !== 0.75 && (br !== 4 || bc !== 8)) continue;
      variants.push({ block: `${br}x${bc}`, sparsity, bytes: quant(prune(spec, sparsity, br, bc)) });
    }
  }
  const sessions = await Promise.all(variants.map(async (v) => (await rt.load(v.bytes, { backend: 'simd' })).session()));
  const frames = Array.from({ length: 64 }, (_, t) => calib.subarray((t % 49) * I, ((t % 49) + 1) * I));
  const samples = variants.map(() => [] as number[]);
  const calls = 4000;
  for (let round = 0; round < ROUNDS + 2; round++) {
    sessions.forEach((s, i) => {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < calls; k++) s.step(frames[k & 63]!);
      if (round >= 2) samples[i]!.push(Number(process.hrtime.bigint() - t0) / calls / 1000);
    });
  }
  const denseUs = median(samples[0]!);
  const denseBytes = variants[0]!.bytes.length;
  variants.forEach((v, i) => {
    const us = median(samples[i]!);
    console.log(`| ${name} | ${v.block} | ${(v.sparsity * 100).toFixed(0)}% | ${v.bytes.length} | ${(denseBytes / v.bytes.length).toFixed(2)}x | ${us.toFixed(2)} | ${(denseUs / us).toFixed(2)}x |`);
  });
}
