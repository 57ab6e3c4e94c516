/**
 * A/B of the SIMD kernels: the AssemblyScript sources of a git revision (default HEAD) against
 * those of the working tree, both compiled here, stepped on the same prepared model and timed
 * back to back round by round in one process. Before timing, both builds step the same frames and
 * must agree bit for bit (a kernel change that moves a number is a bug, not a speed-up).
 *
 *   npx tsx test/bench/kernels-ab.ts [--rev HEAD~1] [--shapes kws-gru,kws-lstm] [--rounds N]
 *     [--mode step|sequence] [--ts] [--steps N] [--bidirectional]
 *
 * Prints per shape the kernel step (model_step) of each build in ns and the ratio B / A (the
 * median of the rounds' ratios, with their interquartile range); with `--mode sequence`, the
 * whole sequence from the initial state (IntEngine.run: the kernels' layer_run, input projection
 * of every step of a chunk first) in µs. On a loaded machine the first shape can read a few
 * per cent off for either side (tiering still under way): list it twice and read the second.
 *
 *   --ts             A runs the revision's TypeScript side too (its src/, from `git archive`):
 *                    IntEngine, WasmKernels, layout, prepare; for changes outside the kernels
 *                    (chunking, buffers), which otherwise both builds share. B then loads a
 *                    copy of the working tree's src/ the same way
 *   --steps N        sequence length instead of the shape's own
 *   --bidirectional  the shape's recurrent layer made bidirectional (a model that needs whole
 *                    sequences: run() takes another path)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_SHAPES, benchSpec, type BenchShape } from '../../src/cli/commands/bench.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { defaultActivations } from '../../src/model/spec.js';
import type { ModelSpec } from '../../src/model/spec.js';
import * as engineB from '../../src/runtime/int/engine.js';
import * as prepareB from '../../src/runtime/int/prepare.js';
import * as kernelsB from '../../src/runtime/wasm/kernels.js';
import { Rng } from '../../src/util/rng.js';
// @ts-expect-error: a plain .mjs build script without type declarations
import { compileKernels } from '../../scripts/build-wasm.mjs';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  // The usage is this file's header comment.
  const header = fs.readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]!;
  console.log(header.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, '').trim());
  process.exit(0);
}
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const REV = flag('rev') ?? 'HEAD';
const ROUNDS = Number(flag('rounds') ?? 40);
const SHAPES = (flag('shapes') ?? 'kws-gru,kws-lstm,har-gru').split(',');
const MODE = flag('mode') ?? 'step';
if (MODE !== 'step' && MODE !== 'sequence') throw new Error(`--mode is step or sequence, got '${MODE}'`);
const TS = args.includes('--ts');
const STEPS = flag('steps') === undefined ? undefined : Number(flag('steps'));
const BIDIRECTIONAL = args.includes('--bidirectional');
if (BIDIRECTIONAL && MODE !== 'sequence') throw new Error('--bidirectional needs --mode sequence (the model is not streamable)');
const SRC = 'src/runtime/kernels/assembly';

/** The TypeScript side that drives the kernels: the working tree's, or a revision's (--ts). */
interface RuntimeSide {
  IntEngine: typeof engineB.IntEngine;
  prepareIntModel: typeof prepareB.prepareIntModel;
  WasmKernels: typeof kernelsB.WasmKernels;
  instantiateKernels: typeof kernelsB.instantiateKernels;
}

/**
 * Imports src/ of a revision, or of the working tree (rev null), from a temporary copy
 * (node_modules linked for its imports). Both sides of --ts load from copies: modules the
 * harness itself imports (quantizeModel and what it uses) then belong to neither, and an A/A run
 * of two copies of one tree measures 1.00 (the working tree's own modules against a copy: 1.01).
 */
async function runtimeOf(rev: string | null): Promise<RuntimeSide> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-runtime-ab-'));
  try {
    if (rev === null) fs.cpSync('src', path.join(dir, 'src'), { recursive: true });
    else execFileSync('tar', ['-x', '-C', dir], { input: execFileSync('git', ['archive', '--format=tar', rev, 'src'], { maxBuffer: 1 << 28 }) });
    fs.symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'));
    const load = (p: string) => import(pathToFileURL(path.join(dir, p)).href);
    const [e, p, k] = await Promise.all([load('src/runtime/int/engine.ts'), load('src/runtime/int/prepare.ts'), load('src/runtime/wasm/kernels.ts')]);
    return { IntEngine: e.IntEngine, prepareIntModel: p.prepareIntModel, WasmKernels: k.WasmKernels, instantiateKernels: k.instantiateKernels };
  } finally {
    // Everything is imported (ES modules link their imports before they run): the copy can go.
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** benchSpec() with its recurrent layer bidirectional (twice the weights, twice the dense input). */
function bidirectionalSpec(shape: BenchShape): ModelSpec {
  const rng = new Rng(1);
  const { inputSize: I, hidden: H, outputs: O, cell } = shape;
  const G = cell === 'gru' ? 3 : 4;
  const s = 1 / Math.sqrt(H);
  const spec = benchSpec(shape);
  spec.layers = [
    {
      kind: cell,
      inputSize: I,
      hiddenSize: H,
      direction: 'bidirectional',
      activations: defaultActivations(cell, 2),
      ...(cell === 'gru' ? { linearBeforeReset: true } : {}),
      float: { W: rng.float32(2 * G * H * I, -s, s), R: rng.float32(2 * G * H * H, -s, s), B: rng.float32(4 * G * H, -0.1, 0.1) },
    },
    { kind: 'dense', inputSize: 2 * H, outputSize: O, activation: 'none', float: { W: rng.float32(O * 2 * H, -s, s), B: rng.float32(O, -0.1, 0.1) } },
  ];
  return spec;
}

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
/**
 * A and B timed back to back in every round (the order alternating), calls per round calibrated
 * to about 2 ms as in interleave.ts. On a machine shared with other work the load drifts between rounds far
 * more than within one: the ratio B/A of each round cancels it, so the result is the median of
 * those ratios with its interquartile range, beside the medians of A and B in ns per call.
 */
function pairedRounds(a: () => unknown, b: () => unknown, rounds: number, roundNs = 2e6): { a: number; b: number; ratio: number; q1: number; q3: number } {
  // Short rounds: A and B of one round are timed close together (a whole sequence is 50-150 µs).
  let calls = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) a();
    if (Number(process.hrtime.bigint() - t0) > roundNs) break;
    calls *= 2;
  }
  const time = (f: () => unknown): number => {
    const t0 = process.hrtime.bigint();
    for (let c = 0; c < calls; c++) f();
    return Number(process.hrtime.bigint() - t0) / calls;
  };
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  // Warm-up rounds, not counted: each build is its own wasm module, tiered up to optimized code by
  // V8's background compiler when it gets a core; on a loaded machine one build can run its
  // baseline code for seconds after the other's is optimized (seen as a steady 4 % in the first shape).
  const warmup = Math.max(50, rounds >> 2);
  for (let r = -warmup; r < rounds; r++) {
    let ta: number;
    let tb: number;
    if (r % 2 === 0) {
      ta = time(a);
      tb = time(b);
    } else {
      tb = time(b);
      ta = time(a);
    }
    if (r < 0) continue;
    as.push(ta);
    bs.push(tb);
    ratios.push(tb / ta);
  }
  const q = (v: number[], p: number) => [...v].sort((x, y) => x - y)[Math.min(v.length - 1, Math.floor(p * v.length))]!;
  return { a: q(as, 0.5), b: q(bs, 0.5), ratio: q(ratios, 0.5), q1: q(ratios, 0.25), q3: q(ratios, 0.75) };
}

const sideB: RuntimeSide = TS ? await runtimeOf(null) : { IntEngine: engineB.IntEngine, prepareIntModel: prepareB.prepareIntModel, WasmKernels: kernelsB.WasmKernels, instantiateKernels: kernelsB.instantiateKernels };
const sideA = TS ? await runtimeOf(REV) : sideB;
console.log(`A: ${REV} (${A.length} B${TS ? ', and its TypeScript runtime' : ''}), B: working tree (${B.length} B)`);

for (const name of SHAPES) {
  const shape = BENCH_SHAPES.find((s) => s.name === name);
  if (!shape) throw new Error(`unknown shape '${name}' (${BENCH_SHAPES.map((s) => s.name).join(', ')})`);
  const spec = BIDIRECTIONAL ? bidirectionalSpec(shape) : benchSpec(shape);
  const steps = STEPS ?? shape.steps;
  const frames = new Rng(2).float32(steps * shape.inputSize, -2, 2);
  const quantized = quantizeModel(spec, calibrateAbsMax(spec, [frames]));
  const builds = await Promise.all(
    ([[A, sideA], [B, sideB]] as const).map(async ([bin, side]) => {
      const P = side.prepareIntModel(quantized);
      const k = new side.WasmKernels(await side.instantiateKernels(await WebAssembly.compile(bin)), 'simd', P);
      const engine = new side.IntEngine(P, k);
      return { k, engine, state: engine.allocState() };
    }),
  );
  if (MODE === 'sequence') {
    const outs = builds.map(({ engine, state }) => {
      const out = new Float32Array(steps * engine.outputSize);
      engine.run(state, frames, steps, out, 'error');
      return { out, state: [...state.bytes()] };
    });
    const [x, y] = outs as [(typeof outs)[0], (typeof outs)[0]];
    if (x.out.some((v, i) => !Object.is(v, y.out[i])) || x.state.some((v, i) => v !== y.state[i])) throw new Error(`${name}: the builds differ over the sequence`);
    const [ra, rb] = builds.map(({ engine, state }) => {
      const out = new Float32Array(steps * engine.outputSize);
      return () => {
        engine.resetState(state);
        engine.run(state, frames, steps, out, 'error');
      };
    }) as [() => void, () => void];
    const r = pairedRounds(ra, rb, ROUNDS);
    console.log(`${name} sequence: A ${(r.a / 1000).toFixed(1)} µs, B ${(r.b / 1000).toFixed(1)} µs, B/A ${r.ratio.toFixed(3)} (IQR ${r.q1.toFixed(3)}–${r.q3.toFixed(3)}, ${ROUNDS} rounds; bit-exact over ${steps} steps)`);
    continue;
  }
  // Bit-exactness first: the same frames through both builds, outputs and state compared.
  for (let t = 0; t < steps; t++) {
    const outs = builds.map(({ k, engine, state }) => {
      k.stepIn().set(frames.subarray(t * shape.inputSize, (t + 1) * shape.inputSize));
      if (k.step(state) !== 0) throw new Error(`${name}: step ${t} failed`);
      // The outputs proper: the kernels' output row can carry padding, whose width may differ (--ts).
      return [...k.stepOut().subarray(0, engine.outputSize), ...state.bytes()];
    });
    if (outs[0]!.some((v, i) => !Object.is(v, outs[1]![i]))) throw new Error(`${name}: the builds differ at step ${t}: ${outs[0]!.slice(0, 4)} vs ${outs[1]!.slice(0, 4)}`);
  }
  const [sa, sb] = builds.map(({ k, state }) => () => k.step(state)) as [() => number, () => number];
  const r = pairedRounds(sa, sb, ROUNDS);
  console.log(`${name}: A ${r.a.toFixed(0)} ns, B ${r.b.toFixed(0)} ns, B/A ${r.ratio.toFixed(3)} (IQR ${r.q1.toFixed(3)}–${r.q3.toFixed(3)}, ${ROUNDS} rounds; bit-exact over ${steps} steps)`);
}
