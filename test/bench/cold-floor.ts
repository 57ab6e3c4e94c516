/**
 * What a cold start cannot go below with this bundle on this Node, measured piece by piece in
 * fresh processes, round robin (medians, ms):
 *
 *   import-empty      importing an empty module (Node's own cost of an import)
 *   import-wasm       importing a module of the two kernel builds' base64 only
 *   import-runtime    importing the runtime bundle (dist/runtime.js's settings)
 *   import-twice      the same bundle with a second copy of its JavaScript inside a function that
 *                     is never called: V8 only pre-parses that copy, so the difference to
 *                     import-runtime is what pre-parsing the bundle's source costs
 *   base64, compile, instantiate, hash
 *                     the SIMD build decoded (Buffer), compiled, instantiated, and the model
 *                     file copied in and hashed, in a process that imported import-wasm only
 *   hash-no-tierup    the same hash with V8's WebAssembly tier-up out of reach
 *                     (--wasm-tiering-budget=1000000000): what the optimizing compiler, started
 *                     part-way through the file, costs the main thread
 *   load-first, load-again
 *                     Runtime.load() + the first step, then a second load of the same file and
 *                     its first step in the same process: the second runs the same JavaScript,
 *                     already compiled to bytecode, so the difference is compiling it (and
 *                     first-call costs: inline caches, lazily compiled kernel functions; the
 *                     second may also find the kernels' hash already optimized)
 *
 *   npx tsx test/bench/cold-floor.ts [--runs N]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { BENCH_SHAPES, benchSpec } from '../../src/cli/commands/bench.js';
import { encodeModel } from '../../src/model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { Rng } from '../../src/util/rng.js';
import { median } from '../../src/util/stats.js';

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] ?? 21) || 21;
const ROOT = path.resolve(import.meta.dirname, '../..');

const IMPORT_PROBE = `
const t0 = performance.now();
await import(process.argv[2]);
console.log(JSON.stringify({ import: performance.now() - t0 }));
`;

const WASM_PROBE = `
import { readFileSync } from 'node:fs';
const T = {};
let t = performance.now();
const mark = (k) => { const n = performance.now(); T[k] = n - t; t = n; };
const W = await import('./wasm.mjs');
mark('import');
const bin = new Uint8Array(Buffer.from(W.KERNELS_SIMD_BASE64, 'base64'));
mark('base64');
const mod = await WebAssembly.compile(bin);
mark('compile');
const bytes = new Uint8Array(readFileSync(process.argv[2]));
t = performance.now();
const k = (await WebAssembly.instantiate(mod, { env: { abort() {} } })).exports;
mark('instantiate');
const at = k.heap_base() + 32;
if (at + bytes.length > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((at + bytes.length - k.memory.buffer.byteLength) / 65536));
new Uint8Array(k.memory.buffer).set(bytes, at);
k.sha256(at, bytes.length, at - 32);
mark('hash');
console.log(JSON.stringify(T));
`;

const LOAD_PROBE = `
import { readFileSync } from 'node:fs';
const { createRuntime } = await import('./runtime.mjs');
const bytes = readFileSync(process.argv[2]);
const T = {};
for (const k of ['load-first', 'load-again']) {
  const t = performance.now();
  const rt = await createRuntime();
  const m = await rt.load(bytes);
  m.session().step(new Float32Array(m.inputSize));
  T[k] = performance.now() - t;
}
console.log(JSON.stringify(T));
`;


const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-floor-'));
try {
  const shape = BENCH_SHAPES.find((s) => s.name === 'kws-gru')!;
  const spec = benchSpec(shape);
  const model = path.join(dir, 'kws-gru.ern');
  fs.writeFileSync(model, encodeModel(quantizeModel(spec, calibrateAbsMax(spec, [new Rng(2).float32(shape.steps * shape.inputSize, -2, 2)]))));
  const common = { bundle: true, format: 'esm', target: 'es2022', platform: 'neutral', minify: true, logLevel: 'warning' } as const;
  await esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src/runtime/index.ts')], outfile: path.join(dir, 'runtime.mjs') });
  await esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src/runtime/kernels/wasm.gen.ts')], outfile: path.join(dir, 'wasm.mjs') });
  fs.writeFileSync(path.join(dir, 'empty.mjs'), 'export const x = 1;\n');
  // The bundle's JavaScript again, base64 strings left out, as the body of a function never called.
  const src = fs.readFileSync(path.join(dir, 'runtime.mjs'), 'utf8');
  const js = src.slice(0, src.lastIndexOf('export{')).replace(/"[A-Za-z0-9+/=]{200,}"/g, '""');
  fs.writeFileSync(path.join(dir, 'twice.mjs'), `${src}\nfunction unused(){${js}}\n`);
  for (const [f, body] of [['import-probe.mjs', IMPORT_PROBE], ['wasm-probe.mjs', WASM_PROBE], ['load-probe.mjs', LOAD_PROBE]] as const) fs.writeFileSync(path.join(dir, f), body);
  const run = (flags: string[], probe: string, arg: string): Record<string, number> =>
    JSON.parse(execFileSync(process.execPath, [...flags, path.join(dir, probe), arg], { encoding: 'utf8', cwd: dir }).trim().split('\n').pop()!);
  const samples = new Map<string, number[]>();
  const add = (k: string, v: number) => samples.set(k, [...(samples.get(k) ?? []), v]);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, f] of [['import-empty', 'empty.mjs'], ['import-wasm', 'wasm.mjs'], ['import-runtime', 'runtime.mjs'], ['import-twice', 'twice.mjs']]) add(k!, run([], 'import-probe.mjs', `./${f}`).import!);
    const w = run([], 'wasm-probe.mjs', model);
    for (const k of ['base64', 'compile', 'instantiate', 'hash']) add(k, w[k]!);
    add('hash-no-tierup', run(['--wasm-tiering-budget=1000000000'], 'wasm-probe.mjs', model).hash!);
    const l = run([], 'load-probe.mjs', model);
    add('load-first', l['load-first']!);
    add('load-again', l['load-again']!);
  }
  const kb = (f: string) => (fs.statSync(path.join(dir, f)).size / 1024).toFixed(1);
  console.log(`kws-gru.ern (${fs.statSync(model).size} B), node ${process.version}, ${RUNS} fresh processes each, round robin; runtime bundle ${kb('runtime.mjs')} KB (${(js.length / 1024).toFixed(1)} KB of it JavaScript), kernels module ${kb('wasm.mjs')} KB\n`);
  console.log('| measure | median ms |\n| --- | ---: |');
  for (const [k, v] of samples) console.log(`| ${k} | ${median(v).toFixed(2)} |`);
  const m = (k: string) => median(samples.get(k)!);
  console.log(`\npre-parsing the bundle's JavaScript (import-twice - import-runtime): ${(m('import-twice') - m('import-runtime')).toFixed(2)} ms, ${(((m('import-twice') - m('import-runtime')) / (js.length / 1024)) * 1000).toFixed(0)} µs per KB`);
  console.log(`compiling the load path on first use (load-first - load-again): ${(m('load-first') - m('load-again')).toFixed(2)} ms`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
