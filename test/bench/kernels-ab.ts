/**
 * A/B of the SIMD kernels: the AssemblyScript sources of a git revision (default HEAD) against
 * those of the working tree, both compiled here, stepped on the same prepared model and timed
 * interleaved round by round in one process. Before timing, both builds step the same frames and
 * must agree bit for bit (a kernel change that moves a number is a bug, not a speed-up).
 *
 *   npx tsx test/bench/kernels-ab.ts [--rev HEAD~1] [--shapes kws-gru,kws-lstm] [--rounds N]
 *
 * Prints per shape the kernel step (model_step) of each build in ns and the ratio B / A; with
 * `--mode sequence`, the whole sequence from the initial state (IntEngine.run: the kernels'
 * layer_run, input projection of every step first) in µs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_SHAPES, benchSpec } from '../../src/cli/commands/bench.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
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
const REV = flag('rev') ?? 'HEAD';
const ROUNDS = Number(flag('rounds') ?? 40);
const SHAPES = (flag('shapes') ?? 'kws-gru,kws-lstm,har-gru').split(',');
const MODE = flag('mode') ?? 'step';
if (MODE !== 'step' && MODE !== 'sequence') throw new Error(`--mode is step or sequence, got '${MODE}'`);
const SRC = 'src/runtime/kernels/assembly';

async function buildRevision(rev: string): Promise<Uint8Array<ArrayBuffer>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-kernels-ab-'));
  try {
    const files = execFileSync('git', ['ls-tree', '--name-only', `${rev}:${SRC}`], { encoding: 'utf8' }).trim().split('\n');
    for (const f of files) fs.writeFileSync(path.join(dir, f), execFileSync('git', ['show', `${rev}:${SRC}/${f}`]));
    return new Uint8Array(await compileKernels(true, dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const A = await buildRevision(REV);
const B = new Uint8Array(await compileKernels(true));
console.log(`A: ${REV} (${A.length} B), B: working tree (${B.length} B)`);

for (const name of SHAPES) {
  const shape = BENCH_SHAPES.find((s) => s.name === name);
  if (!shape) throw new Error(`unknown shape '${name}' (${BENCH_SHAPES.map((s) => s.name).join(', ')})`);
  const spec = benchSpec(shape);
  const frames = new Rng(2).float32(shape.steps * shape.inputSize, -2, 2);
  const P = prepareIntModel(quantizeModel(spec, calibrateAbsMax(spec, [frames])));
  const builds = await Promise.all(
    [A, B].map(async (bin) => {
      const k = new WasmKernels(await instantiateKernels(await WebAssembly.compile(bin)), 'simd', P);
      const engine = new IntEngine(P, k);
      return { k, engine, state: engine.allocState() };
    }),
  );
  if (MODE === 'sequence') {
    const outs = builds.map(({ engine, state }) => {
      const out = new Float32Array(shape.steps * engine.outputSize);
      engine.run(state, frames, shape.steps, out, 'error');
      return { out, state: [...state.bytes()] };
    });
    const [x, y] = outs as [(typeof outs)[0], (typeof outs)[0]];
    if (x.out.some((v, i) => !Object.is(v, y.out[i])) || x.state.some((v, i) => v !== y.state[i])) throw new Error(`${name}: the builds differ over the sequence`);
    const [a, b] = interleavedMedians(
      builds.map(({ engine, state }) => {
        const out = new Float32Array(shape.steps * engine.outputSize);
        return () => {
          engine.resetState(state);
          engine.run(state, frames, shape.steps, out, 'error');
        };
      }),
      ROUNDS,
    ) as [number, number];
    console.log(`${name} sequence: A ${(a / 1000).toFixed(1)} µs, B ${(b / 1000).toFixed(1)} µs, B/A ${(b / a).toFixed(3)} (bit-exact over ${shape.steps} steps)`);
    continue;
  }
  // Bit-exactness first: the same frames through both builds, outputs and state compared.
  for (let t = 0; t < shape.steps; t++) {
    const outs = builds.map(({ k, state }) => {
      k.stepIn().set(frames.subarray(t * shape.inputSize, (t + 1) * shape.inputSize));
      if (k.step(state) !== 0) throw new Error(`${name}: step ${t} failed`);
      return [...k.stepOut(), ...state.bytes()];
    });
    if (outs[0]!.some((v, i) => !Object.is(v, outs[1]![i]))) throw new Error(`${name}: the builds differ at step ${t}: ${outs[0]!.slice(0, 4)} vs ${outs[1]!.slice(0, 4)}`);
  }
  const [a, b] = interleavedMedians(
    builds.map(({ k, state }) => () => k.step(state)),
    ROUNDS,
  ) as [number, number];
  console.log(`${name}: A ${a.toFixed(0)} ns, B ${b.toFixed(0)} ns, B/A ${(b / a).toFixed(3)} (bit-exact over ${shape.steps} steps)`);
}
