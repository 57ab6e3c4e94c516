/**
 * Where a streaming step's time goes inside the SIMD kernels: the kernels rebuilt from their
 * sources with one part taken out at a time (the activations, all gate arithmetic, the
 * requantization of the projections), each variant timed on the same prepared model,
 * interleaved round by round in one process. The variants compute wrong numbers on purpose;
 * they exist only here, to price what they leave out.
 *
 *   npx tsx test/bench/step-breakdown.ts [--shapes kws-gru,kws-lstm] [--rounds N]
 *
 * Prints per shape: the full step through the public API (`session.step()` on the zero-copy
 * input frame), the kernel step alone, each variant, and the share of the kernel step each part
 * costs (compare with the bare matrix-vector loops of `edgernn bench`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_SHAPES, benchSpec } from '../../src/cli/commands/bench.js';
import { encodeModel } from '../../src/model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { IntEngine } from '../../src/runtime/int/engine.js';
import { prepareIntModel } from '../../src/runtime/int/prepare.js';
import { instantiateKernels, WasmKernels } from '../../src/runtime/wasm/kernels.js';
import { Rng } from '../../src/util/rng.js';
import { interleavedMedians } from './interleave.js';
// @ts-expect-error: a plain .mjs build script without type declarations
import { compileKernels } from '../../scripts/build-wasm.mjs';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const ROUNDS = Number(flag('rounds') ?? 40);
const SHAPES = (flag('shapes') ?? 'kws-gru,kws-lstm,har-gru').split(',');
const SRC = path.resolve('src/runtime/kernels/assembly');

/** Source edits per variant: [file, exact text, replacement]. A missing anchor is an error (the kernels changed: update here). */
type Patch = [string, string, string];
const NO_ACTIVATIONS: Patch[] = [
  ['fixed.ts', 'return lookup8(x, false);', 'return x;'],
  ['fixed.ts', 'return lookup8(x, true);', 'return x;'],
  // The GRU's scalar table loads (r and n): left out, the offsets stay where the entries would go.
  ['fixed.ts', 'const a = <usize>load<u16>(p);', 'if (n > 0) return;\n    const a = <usize>load<u16>(p);'],
  ['fixed.ts', '  const lo = <u32>off;\n  const hi = <u32>(off >>> 32);\n  store<u16>(dst, load<u16>(<usize>(lo & 0xffff), LUT));', '  if (off != 0) return;\n  const lo = <u32>off;\n  const hi = <u32>(off >>> 32);\n  store<u16>(dst, load<u16>(<usize>(lo & 0xffff), LUT));'],
];
const NO_GATES: Patch[] = [
  ['cells.ts', 'recurrentProjection(dir, 0, lbr ? 3 * Hp : 2 * Hp, h, ph);\n  if (ASC_FEATURE_SIMD) {', 'recurrentProjection(dir, 0, lbr ? 3 * Hp : 2 * Hp, h, ph);\n  if (ASC_FEATURE_SIMD) {\n    if (Hp > 0) return;'],
  ['cells.ts', 'const bo = <usize>Hp << 2; // byte offset of one gate block of i32\n  if (ASC_FEATURE_SIMD) {', 'const bo = <usize>Hp << 2;\n  if (ASC_FEATURE_SIMD) {\n    if (Hp > 0) return;'],
];
const NO_REQUANT: Patch[] = [
  ['matvec.ts', 'requantStore(dotDense(t, kb, x), bias + o, m + o, consts, 32, true, out + o);', 'v128.store(out + o, dotDense(t, kb, x));'],
  ['matvec.ts', 'requantStore(dotDense(t, kb, x), bias + o, m + o, consts, shift, free, out + o);', 'v128.store(out + o, dotDense(t, kb, x));'],
];
const VARIANTS: [string, Patch[]][] = [
  ['step', []],
  ['no activations', NO_ACTIVATIONS],
  ['no gates', NO_GATES],
  ['no requantization', NO_REQUANT],
  ['projections only', [...NO_GATES, ...NO_REQUANT]],
];

async function build(patches: Patch[]): Promise<Uint8Array<ArrayBuffer>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-kernels-'));
  try {
    for (const f of fs.readdirSync(SRC)) fs.copyFileSync(path.join(SRC, f), path.join(dir, f));
    for (const [file, from, to] of patches) {
      const p = path.join(dir, file);
      const text = fs.readFileSync(p, 'utf8');
      if (!text.includes(from)) throw new Error(`step-breakdown: anchor not found in ${file}: ${JSON.stringify(from.slice(0, 60))}`);
      fs.writeFileSync(p, text.replace(from, to));
    }
    return new Uint8Array(await compileKernels(true, dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const binaries = await Promise.all(VARIANTS.map(([, p]) => build(p)));

for (const name of SHAPES) {
  const shape = BENCH_SHAPES.find((s) => s.name === name);
  if (!shape) throw new Error(`unknown shape '${name}' (${BENCH_SHAPES.map((s) => s.name).join(', ')})`);
  const spec = benchSpec(shape);
  const frames = new Rng(2).float32(shape.steps * shape.inputSize, -2, 2);
  const int8 = quantizeModel(spec, calibrateAbsMax(spec, [frames]));
  const P = prepareIntModel(int8);
  const runners: (() => void)[] = [];
  const model = await (await createRuntime()).load(encodeModel(int8), { backend: 'simd' });
  const session = model.session();
  model.inputFrame().set(frames.subarray(0, shape.inputSize));
  for (const bin of binaries) {
    const k = new WasmKernels(await instantiateKernels(await WebAssembly.compile(bin)), 'simd', P);
    const st = new IntEngine(P, k).allocState();
    k.stepIn().set(frames.subarray(0, shape.inputSize));
    runners.push(() => k.step(st));
  }
  runners.push(() => session.step());
  // Calls per round calibrated to ~2 ms on the full step, then interleaved.
  const ns = interleavedMedians(runners, ROUNDS);
  const full = ns[0]!;
  const api = ns[VARIANTS.length]!;
  console.log(`\n${name}: ns per step, median of ${ROUNDS} interleaved rounds`);
  console.log('| variant | ns | share of the kernel step it leaves out |');
  console.log('| --- | ---: | ---: |');
  console.log(`| session.step() (public API, JavaScript around the kernel call) | ${api.toFixed(0)} | (JavaScript: ${((100 * (api - full)) / api).toFixed(1)} % of this) |`);
  VARIANTS.forEach(([v], i) => console.log(`| ${i === 0 ? 'kernel step (model_step)' : v} | ${ns[i]!.toFixed(0)} | ${i === 0 ? '-' : `${((100 * (full - ns[i]!)) / full).toFixed(1)} %`} |`));
}
