/**
 * Where the SIMD kernels spend a step, instruction by instruction: Linux `perf` samples a process
 * that steps one bench shape (or runs its whole sequence) in a loop, with V8 writing its JIT code
 * out (`--perf-prof`), and prints the share of each wasm function and the hottest instructions of
 * the top one. The kernels are built with their function names (asc --debug: the code section is
 * byte-identical to the shipped build, only a name section is added).
 *
 *   npx tsx test/bench/perf-kernels.ts [--shape kws-gru] [--mode step|sequence] [--seconds 4] [--min 0.5] [--function gruStep]
 *
 * --function annotates the hottest function whose name contains it (default: the hottest of all).
 *
 * Needs `perf` (Debian: linux-perf) and a kernel that lets it sample (perf_event_paranoid <= 2;
 * a VM without hardware counters is fine: it samples the cpu-clock). Samples skid a few
 * instructions past the one that stalled, so read the listing by regions (the multiply-accumulate
 * loop, the reduction, the requantization), not by single lines.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { BENCH_SHAPES } from '../../src/cli/commands/bench.js';
// @ts-expect-error: a plain .mjs build script without type declarations
import { compileKernels } from '../../scripts/build-wasm.mjs';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const SHAPE = flag('shape') ?? 'kws-gru';
const MODE = flag('mode') ?? 'step';
const SECONDS = Number(flag('seconds') ?? 4);
const MIN = Number(flag('min') ?? 0.5);
const FUNCTION = flag('function') ?? '';
const ROOT = path.resolve(import.meta.dirname, '../..');
if (!BENCH_SHAPES.some((s) => s.name === SHAPE)) throw new Error(`unknown shape '${SHAPE}' (${BENCH_SHAPES.map((s) => s.name).join(', ')})`);
if (MODE !== 'step' && MODE !== 'sequence') throw new Error(`--mode is step or sequence, got '${MODE}'`);

/**
 * The profiled process: the same kernels (named build, `kernels.wasm` beside it) and model as
 * `edgernn bench`, stepped or run in a loop for SECONDS. Bundled by esbuild into the temporary
 * folder, so nothing but this loop and a short start runs under perf.
 */
const PROBE = `
import fs from 'node:fs';
import { BENCH_SHAPES, benchSpec } from '${ROOT}/src/cli/commands/bench.ts';
import { calibrateAbsMax, quantizeModel } from '${ROOT}/src/model/quantize.ts';
import { IntEngine } from '${ROOT}/src/runtime/int/engine.ts';
import { prepareIntModel } from '${ROOT}/src/runtime/int/prepare.ts';
import { instantiateKernels, WasmKernels } from '${ROOT}/src/runtime/wasm/kernels.ts';
import { Rng } from '${ROOT}/src/util/rng.ts';
const [name, mode, seconds] = process.argv.slice(2);
const shape = BENCH_SHAPES.find((s) => s.name === name);
const spec = benchSpec(shape);
const frames = new Rng(2).float32(shape.steps * shape.inputSize, -2, 2);
const P = prepareIntModel(quantizeModel(spec, calibrateAbsMax(spec, [frames])));
const k = new WasmKernels(await instantiateKernels(await WebAssembly.compile(fs.readFileSync(new URL('./kernels.wasm', import.meta.url)))), 'simd', P);
const engine = new IntEngine(P, k);
const st = engine.allocState();
k.stepIn().set(frames.subarray(0, shape.inputSize));
const out = new Float32Array(shape.steps * engine.outputSize);
// Session.run() is this call after its argument checks (src/runtime/runtime.ts).
const run = mode === 'step' ? () => k.step(st) : () => { engine.resetState(st); engine.run(st, frames, shape.steps, out, 'error'); };
const end = performance.now() + Number(seconds) * 1000;
let n = 0;
while (performance.now() < end) {
  for (let i = 0; i < 1000; i++) run();
  n += 1000;
}
console.log(n + (mode === 'step' ? ' steps' : ' sequences') + ' in ' + seconds + ' s');
`;

const perf = spawnSync('perf', ['--version'], { encoding: 'utf8' });
if (perf.status !== 0) throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-perf-'));
try {
  fs.writeFileSync(path.join(dir, 'kernels.wasm'), await compileKernels(true, undefined, ['--debug']));
  await esbuild.build({
    stdin: { contents: PROBE, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    external: ['onnxruntime-node', 'onnxruntime-web', 'playwright-core'],
    outfile: path.join(dir, 'probe.mjs'),
    logLevel: 'warning',
  });
  const rec = spawnSync('perf', ['record', '-e', 'cpu-clock', '-F', '10000', '-k', 'mono', '-o', 'perf.data', process.execPath, '--perf-prof', '--perf-prof-unwinding-info', 'probe.mjs', SHAPE, MODE, String(SECONDS)], { cwd: dir, encoding: 'utf8' });
  if (rec.status !== 0) throw new Error(`perf record failed:\n${rec.stderr}`);
  process.stdout.write(rec.stdout);
  execFileSync('perf', ['inject', '--jit', '-i', 'perf.data', '-o', 'jit.data'], { cwd: dir, stdio: 'ignore' });
  const report = execFileSync('perf', ['report', '-i', 'jit.data', '--stdio', '--sort', 'sym'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
  const rows = [...report.matchAll(/^\s+([\d.]+)%\s+\[.\]\s+(.*?)\s*$/gm)].map((m) => ({ pct: Number(m[1]), sym: m[2]! }));
  console.log(`\n${SHAPE} ${MODE}: share of all samples per function (>= ${MIN} %)`);
  for (const r of rows.filter((r) => r.pct >= MIN)) console.log(`${r.pct.toFixed(2).padStart(6)} %  ${r.sym}`);
  const top = rows.find((r) => r.sym.startsWith('JS:') && r.sym.includes('turbofan') && r.sym.includes(FUNCTION));
  if (top) {
    const ann = execFileSync('perf', ['annotate', '-i', 'jit.data', '--stdio', '-s', top.sym], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
    console.log(`\n${top.sym}: instructions with >= ${MIN} % of its samples`);
    for (const m of ann.matchAll(/^\s+([\d.]+)\s+:\s+([0-9a-f]+):\s+(.*)$/gm)) if (Number(m[1]) >= MIN) console.log(`${m[1]!.padStart(6)} %  ${m[2]!.padStart(4)}  ${m[3]}`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
