/**
 * `edgernn bench`: the runtime benchmark (test/bench/runtime.ts runs the same code).
 *
 * For each shape, in one process and interleaved round by round: edgernn simd / scalar /
 * reference on the int8 model, onnxruntime-web (wasm, 1 thread) and onnxruntime-node (1 thread)
 * on the same float model exported to ONNX, and the bare SIMD matrix-vector loop doing the step's
 * multiply-accumulates ("matvec-bound"), and the same loop over the step's own padded matrices
 * ("matvec-shape"). Streaming: one frame per call, state carried between
 * calls (ORT gets its state tensors fed back). Sequence: the whole sequence per call from the
 * initial state. Reports medians over rounds and ratios. Then, in fresh child processes: cold
 * start (import + instantiate + load model + first step) and resident memory growth, for the
 * plain and the code-cached runtime and for onnxruntime-web.
 * Node-only.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EdgeRnnError } from '../../errors.js';
import { calibrateAbsMax, quantizeModel } from '../../model/quantize.js';
import { encodeModel } from '../../model/codec.js';
import { defaultActivations, type ModelSpec, type RecurrentKind } from '../../model/spec.js';
import { exportOnnx, onnxInitialState, stateNames } from '../../onnx/export.js';
import { createRuntime, kernelBinaries, type Model } from '../../runtime/runtime.js';
import { prepareIntModel } from '../../runtime/int/prepare.js';
import { instantiateKernels, type KernelExports } from '../../runtime/wasm/kernels.js';
import { Rng } from '../../util/rng.js';
import { numberFlag, parseFlags, usageError, type CliContext, type Command } from '../framework.js';
import { Progress } from '../progress.js';
import { median } from '../../util/stats.js';

export interface BenchShape {
  name: string;
  cell: RecurrentKind;
  inputSize: number;
  hidden: number;
  steps: number;
  outputs: number;
}

/** The issue's shapes: keyword spotting, activity recognition, anomaly detection. */
export const BENCH_SHAPES: readonly BenchShape[] = [
  { name: 'kws-gru', cell: 'gru', inputSize: 40, hidden: 64, steps: 49, outputs: 12 },
  { name: 'kws-lstm', cell: 'lstm', inputSize: 40, hidden: 64, steps: 49, outputs: 12 },
  { name: 'har-gru', cell: 'gru', inputSize: 6, hidden: 32, steps: 128, outputs: 6 },
  { name: 'har-lstm', cell: 'lstm', inputSize: 6, hidden: 32, steps: 128, outputs: 6 },
  { name: 'anomaly-gru', cell: 'gru', inputSize: 4, hidden: 32, steps: 64, outputs: 4 },
];

type Mode = 'step' | 'sequence';
const BACKENDS = ['simd', 'scalar', 'reference', 'ort-web', 'ort-node', 'matvec-bound', 'matvec-shape'] as const;
type Backend = (typeof BACKENDS)[number];

/** One timed callable: runs `n` calls, returns nothing; the harness divides. */
type Runner = (n: number) => Promise<void> | void;

export interface BenchResult {
  shape: string;
  backend: Backend;
  mode: Mode;
  median_us: number;
}

/** A GRU/LSTM layer + dense head with trained-like weight scales (seeded). */
export function benchSpec(shape: BenchShape, seed = 1): ModelSpec {
  const rng = new Rng(seed);
  const { inputSize: I, hidden: H, outputs: O, cell } = shape;
  const G = cell === 'gru' ? 3 : 4;
  const s = 1 / Math.sqrt(H);
  return {
    name: shape.name,
    version: '1.0.0',
    task: 'custom',
    labels: [],
    input: { size: I, frontend: { kind: 'none' } },
    precision: 'float32',
    training: {},
    layers: [
      {
        kind: cell,
        inputSize: I,
        hiddenSize: H,
        direction: 'forward',
        activations: defaultActivations(cell, 1),
        ...(cell === 'gru' ? { linearBeforeReset: true } : {}),
        float: { W: rng.float32(G * H * I, -s, s), R: rng.float32(G * H * H, -s, s), B: rng.float32(2 * G * H, -0.1, 0.1) },
      },
      { kind: 'dense', inputSize: H, outputSize: O, activation: 'none', float: { W: rng.float32(O * H, -s, s), B: rng.float32(O, -0.1, 0.1) } },
    ],
  };
}


/** Multiply-accumulates of one step (recurrent layer + head). */
export function stepMacs(shape: BenchShape): number {
  const G = shape.cell === 'gru' ? 3 : 4;
  return G * shape.hidden * (shape.inputSize + shape.hidden) + shape.outputs * shape.hidden;
}

interface OrtLike {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(bytes: Uint8Array, opts: Record<string, unknown>): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>> }> };
}

const notInstalled = (pkg: string): string => `${pkg} not installed (npm install ${pkg})`;

/** onnxruntime-web or -node, or why it could not be imported (not installed, or broken). */
async function loadOrt(which: 'web' | 'node'): Promise<OrtLike | string> {
  try {
    if (which === 'web') {
      const ort = (await import('onnxruntime-web')) as unknown as OrtLike & { env: { wasm: { numThreads: number }; logLevel: string } };
      ort.env.wasm.numThreads = 1;
      ort.env.logLevel = 'error';
      return ort;
    }
    return (await import('onnxruntime-node')) as unknown as OrtLike;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === 'ERR_MODULE_NOT_FOUND' ? 'not installed' : `could not be loaded: ${(e as Error).message.split('\n')[0]}`;
  }
}

async function ortRunners(ort: OrtLike, which: 'web' | 'node', spec: ModelSpec, shape: BenchShape, frames: Float32Array): Promise<Record<Mode, Runner>> {
  const opts = which === 'web' ? { executionProviders: ['wasm'] } : { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = await ort.InferenceSession.create(exportOnnx(spec), opts);
  const init = onnxInitialState(spec);
  const names = stateNames(0);
  const I = shape.inputSize;
  const stateFeeds = (src: Record<string, { dims: number[]; data: Float32Array }>) => {
    const f: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(src)) f[k] = new ort.Tensor('float32', v.data, v.dims);
    return f;
  };
  const stepX = Array.from({ length: shape.steps }, (_, t) => new ort.Tensor('float32', frames.slice(t * I, (t + 1) * I), [1, 1, I]));
  const seqX = new ort.Tensor('float32', frames, [shape.steps, 1, I]);
  let state = stateFeeds(init);
  let t = 0;
  return {
    step: async (n) => {
      for (let i = 0; i < n; i++) {
        const out = await session.run({ X: stepX[t]!, ...state });
        // Carry the state: the final states become the next call's initial states.
        state = { [names.h0]: out[names.hN], ...(shape.cell === 'lstm' ? { [names.c0]: out[names.cN] } : {}) };
        t = (t + 1) % shape.steps;
      }
    },
    sequence: async (n) => {
      const fresh = stateFeeds(init);
      for (let i = 0; i < n; i++) await session.run({ X: seqX, ...fresh });
    },
  };
}

function edgernnRunners(model: Model, shape: BenchShape, frames: Float32Array): Record<Mode, Runner> {
  const s = model.session();
  const I = shape.inputSize;
  const views = Array.from({ length: shape.steps }, (_, t) => frames.subarray(t * I, (t + 1) * I));
  let t = 0;
  const seq = model.session();
  // Streaming the way a front end feeds the runtime: each frame written into the model's input
  // frame (kernel memory), then step() with no copy in between. The view is fetched per round:
  // sequence runs in between grow kernel memory, which detaches it.
  return {
    step: (n) => {
      const input = model.inputFrame();
      for (let i = 0; i < n; i++) {
        input.set(views[t]!);
        s.step();
        t = t + 1 === shape.steps ? 0 : t + 1;
      }
    },
    sequence: (n) => {
      for (let i = 0; i < n; i++) {
        seq.reset();
        seq.run(frames);
      }
    },
  };
}

/**
 * The bare SIMD int8 x int16 matvec loop with the step's MAC count, repeated inside WASM: the
 * kernels' own inner loop over 4x8 tiles, without requantization, gates, calls or copies.
 */
async function matvecBound(shape: BenchShape): Promise<Runner> {
  const x = await instantiateKernels(await WebAssembly.compile(kernelBinaries().simd));
  const kb = Math.ceil((shape.inputSize + shape.hidden) / 8);
  const m = placeMatrix(x, Math.ceil(stepMacs(shape) / (kb * 32)), kb);
  const REPS = 100;
  return (n) => {
    // n calls of REPS products each; the harness divides by n * REPS.
    x.bench_matvec(m.w, m.groups, m.kb, m.xv, m.out, n * REPS);
  };
}

/**
 * The same bare loop over the step's own matrices at their padded sizes (input, recurrent and
 * dense products of the prepared int8 model): what the step costs when nothing but its
 * multiply-accumulates runs. Between it and matvec-bound is the price of short rows (more
 * four-row reductions per MAC); between it and simd, requantization, gates and the call.
 */
async function matvecShape(int8: ModelSpec): Promise<Runner> {
  const x = await instantiateKernels(await WebAssembly.compile(kernelBinaries().simd));
  const mats: { rows: number; cols: number }[] = [];
  for (const L of prepareIntModel(int8).layers) {
    if (L.kind === 'dense') mats.push({ rows: L.Op, cols: L.Ip });
    else mats.push({ rows: L.G * L.Hp, cols: L.Ip }, { rows: L.G * L.Hp, cols: L.Hp });
  }
  const REPS = 100;
  const calls = mats.map((m) => placeMatrix(x, m.rows / 4, m.cols / 8));
  return (n) => {
    for (const c of calls) x.bench_matvec(c.w, c.groups, c.kb, c.xv, c.out, n * REPS);
  };
}

/** Random weights and inputs for bench_matvec: `groups` groups of four rows, `kb` tiles of eight inputs each. */
function placeMatrix(x: KernelExports, groups: number, kb: number): { w: number; xv: number; out: number; groups: number; kb: number } {
  const base = Math.ceil(x.memory.buffer.byteLength / 16) * 16;
  const need = groups * kb * 32 + kb * 16 + groups * 16 + 64;
  x.memory.grow(Math.ceil(need / 65536));
  const w = base;
  const xv = w + groups * kb * 32;
  const out = xv + kb * 16;
  const rng = new Rng(5);
  const u8 = new Uint8Array(x.memory.buffer);
  for (let i = 0; i < groups * kb * 32; i++) u8[w + i] = rng.int(0, 255);
  const i16 = new Int16Array(x.memory.buffer, xv, kb * 8);
  for (let i = 0; i < kb * 8; i++) i16[i] = rng.int(-32768, 32767);
  return { w, xv, out, groups, kb };
}

interface Timed {
  backend: Backend;
  mode: Mode;
  run: Runner;
  /** Calls per round, set by calibration so a round takes about `roundMs`. */
  calls: number;
  /** Divisor per call (matvec-bound runs REPS products per call). */
  per: number;
  samples: number[];
}

/** How long each backend runs before it is timed (see measureShape). */
const WARMUP_MS = 150;

async function timeOnce(r: Timed, calls: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await r.run(calls);
  return Number(process.hrtime.bigint() - t0) / 1000;
}

async function measureShape(shape: BenchShape, opts: { rounds: number; roundMs: number; backends: Set<Backend> }, ort: { web: OrtLike | null; node: OrtLike | null }, progress: Progress): Promise<BenchResult[]> {
  const spec = benchSpec(shape);
  const rng = new Rng(2);
  const frames = rng.float32(shape.steps * shape.inputSize, -2, 2);
  const int8 = quantizeModel(spec, calibrateAbsMax(spec, [frames]));
  const bytes = encodeModel(int8);
  const rt = await createRuntime();
  const timed: Timed[] = [];
  const add = (backend: Backend, runners: Record<Mode, Runner>) => {
    for (const mode of ['step', 'sequence'] as const) timed.push({ backend, mode, run: runners[mode], calls: 1, per: 1, samples: [] });
  };
  for (const b of ['simd', 'scalar', 'reference'] as const) if (opts.backends.has(b)) add(b, edgernnRunners(await rt.load(bytes, { backend: b }), shape, frames));
  if (opts.backends.has('ort-web') && ort.web) add('ort-web', await ortRunners(ort.web, 'web', spec, shape, frames));
  if (opts.backends.has('ort-node') && ort.node) add('ort-node', await ortRunners(ort.node, 'node', spec, shape, frames));
  if (opts.backends.has('matvec-bound')) timed.push({ backend: 'matvec-bound', mode: 'step', run: await matvecBound(shape), calls: 1, per: 100, samples: [] });
  if (opts.backends.has('matvec-shape')) timed.push({ backend: 'matvec-shape', mode: 'step', run: await matvecShape(int8), calls: 1, per: 100, samples: [] });
  // Warm up and calibrate the number of calls per round. The warm-up runs each backend for
  // WARMUP_MS whatever the round length: V8 optimizes a WebAssembly function (TurboFan, on a
  // background thread) only after it has run a while, and --quick's calibration alone (200 µs of
  // calls) left the kernels unoptimized for most of its rounds (har-gru's step 0.56-1.16 µs
  // against 0.41 with 21 rounds; onnxruntime's native kernels need no warm-up).
  for (const r of timed) {
    await timeOnce(r, 3);
    for (let spent = 0, n = 1; spent < WARMUP_MS * 1000; n = Math.min(n * 2, 1 << 16)) spent += await timeOnce(r, n);
    let calls = 1;
    for (;;) {
      const us = await timeOnce(r, calls);
      if (us > opts.roundMs * 200 || calls > 1 << 20) break;
      calls *= 2;
    }
    const us = await timeOnce(r, calls);
    r.calls = Math.max(1, Math.round((calls * opts.roundMs * 1000) / Math.max(us, 1)));
  }
  // Interleaved rounds: every backend once per round, so drift hits all of them alike.
  for (let round = 0; round < opts.rounds; round++) {
    for (const r of timed) r.samples.push((await timeOnce(r, r.calls)) / (r.calls * r.per));
    progress.tick(1, shape.name);
  }
  return timed.map((r) => ({ shape: shape.name, backend: r.backend, mode: r.mode, median_us: median(r.samples) }));
}

/**
 * What the numbers depend on: the CPU, its widest x86 vector extension (onnxruntime's MLAS
 * kernels use AVX-512 where it exists, ours stay 128-bit WebAssembly SIMD, so ratios move between
 * machines), core count, Node version and date. The vector extension is read from
 * /proc/cpuinfo (Linux x86); elsewhere it is null.
 */
export function machineInfo(): { cpu: string; cores: number; vector: string | null; node: string; date: string } {
  let vector: string | null = null;
  try {
    const flags = ` ${/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? ''} `;
    vector = flags.includes(' avx512f ') ? 'AVX-512' : flags.includes(' avx2 ') ? 'AVX2' : flags.includes(' avx ') ? 'AVX' : flags.includes(' sse4_1 ') ? 'SSE4.1' : null;
  } catch {
    // not Linux, or no /proc: leave it out
  }
  return { cpu: os.cpus()[0]?.model.trim() ?? 'unknown cpu', cores: os.cpus().length, vector, node: process.version, date: new Date().toISOString().slice(0, 10) };
}

/** The edgernn package directory (where package.json names it), from this module's location. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'edgernn') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the edgernn package root');
    dir = up;
  }
}

interface ColdStart {
  /** edgernn-cached: edgernn/runtime/cached, the later starts (its code cache written by a first start). */
  tool: 'edgernn' | 'edgernn-cached' | 'ort-web';
  median_ms: number;
  rss_growth_mib: number;
  /**
   * The same growth split by Linux (/proc/self/status RssAnon, RssFile): memory the process
   * allocated, and pages of files it mapped, mostly the node executable's own code (V8's
   * optimizing compiler, paged in once something runs hot). Absent elsewhere.
   */
  rss_anon_mib?: number;
  rss_file_mib?: number;
}

/** A tool whose probe process failed (not installed, crashed, or timed out), with the reason. */
interface ColdStartFailure {
  tool: ColdStart['tool'];
  /** Starts measured before the failure (the medians above use them). */
  runs: number;
  reason: string;
}

/** A probe that has not printed its result by then is killed: a hung start must not hang the bench. */
const PROBE_TIMEOUT_MS = 120_000;

/**
 * The last line a failed probe wrote to stderr (its error), or how it ended. A package the probe
 * could not import is "not installed", as the other probes say (it was a raw
 * "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'onnxruntime-web' imported from /tmp/...").
 */
export function probeFailure(e: unknown): string {
  const err = e as { stderr?: string; signal?: string | null; message?: string };
  if (err.signal === 'SIGTERM') return `no result within ${PROBE_TIMEOUT_MS / 1000} s (killed)`;
  const missing = /\[ERR_MODULE_NOT_FOUND\]: Cannot find package '([^']+)'/.exec(String(err.stderr ?? ''));
  if (missing) return notInstalled(missing[1]!);
  // Node prints an uncaught error's source line, the error, its stack and then its own version.
  const lines = String(err.stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^Node\.js v\d/.test(l));
  const error = lines.find((l) => /^[\w.]*(Error|Exception)\b.*:/.test(l)) ?? lines.pop();
  return (error ?? err.message ?? String(e)).slice(0, 300);
}

/**
 * Fresh processes: import + instantiate + load + first step, and the RSS growth over the same
 * span (measured after the probe script itself has started, so Node's own loader is excluded
 * for both tools alike).
 */
/** onnxruntime-web's entry as a URL (the probes run from a temporary folder, where a bare import would not resolve). */
function ortWebUrl(): string {
  try {
    return import.meta.resolve('onnxruntime-web');
  } catch {
    return 'onnxruntime-web';
  }
}

function coldStarts(dir: string, shape: BenchShape, spec: ModelSpec, int8Bytes: Uint8Array, runs: number, ortWebMissing: string | null): { cold: ColdStart[]; failures: ColdStartFailure[] } {
  // The lean runtime entry (edgernn/runtime) is what a gateway imports.
  const indexUrl = pathToFileURL(path.join(packageRoot(), 'dist', 'runtime.js')).href;
  const cachedUrl = pathToFileURL(path.join(packageRoot(), 'dist', 'runtime-cached.js')).href;
  fs.writeFileSync(path.join(dir, 'model.ern'), int8Bytes);
  fs.writeFileSync(path.join(dir, 'model.onnx'), exportOnnx(spec));
  const init = onnxInitialState(spec);
  // Linux's /proc/self/status, in MiB: RssAnon, RssFile, and VmRSS (their sum with RssShmem), or {}
  // elsewhere. The growth is taken from VmRSS, not process.memoryUsage().rss: that one reads
  // /proc/self/stat, whose counters the kernel sums per CPU only approximately (up to ~0.75 MiB
  // off on this 2-core machine), so the total wandered by that much with the CPU the pages were
  // touched on (a bundle change moved it by 0.8 MiB while RssAnon + RssFile stayed put).
  const status = `const split = () => { try { return Object.fromEntries(readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^(RssAnon|RssFile|VmRSS):/.test(l)).map((l) => [l.split(':')[0], parseInt(l.split(':')[1]) / 1024])); } catch { return {}; } };`;
  const report = `const s1 = split(); console.log(JSON.stringify({ ms, rss: s1.VmRSS !== undefined ? (s1.VmRSS - s0.VmRSS) * 2 ** 20 : process.memoryUsage().rss - rss0, anon: s1.RssAnon - s0.RssAnon, file: s1.RssFile - s0.RssFile }));`;
  const edgernnProbe = (load: string) => `
const { readFileSync } = await import('node:fs');
${status}
const s0 = split(); const rss0 = process.memoryUsage().rss; const t0 = performance.now();
${load}
const rt = await createRuntime();
const m = await rt.load(new Uint8Array(readFileSync(${JSON.stringify(path.join(dir, 'model.ern'))})));
m.session().step(new Float32Array(${shape.inputSize}));
const ms = performance.now() - t0;
${report}`;
  const probe = {
    edgernn: edgernnProbe(`const { createRuntime } = await import(${JSON.stringify(indexUrl)});`),
    'edgernn-cached': edgernnProbe(
      `const { createRuntime, codeCache } = (await import(${JSON.stringify(cachedUrl)})).importCachedRuntime({ dir: ${JSON.stringify(path.join(dir, 'code-cache'))} });
if (process.argv[2] === 'hit' && codeCache.state !== 'hit') throw new Error('code cache ' + codeCache.state + ': ' + codeCache.reason);`,
    ),
    'ort-web': `
const { readFileSync } = await import('node:fs');
${status}
const s0 = split(); const rss0 = process.memoryUsage().rss; const t0 = performance.now();
const ort = await import(${JSON.stringify(ortWebUrl())}); ort.env.wasm.numThreads = 1; ort.env.logLevel = 'error';
const s = await ort.InferenceSession.create(new Uint8Array(readFileSync(${JSON.stringify(path.join(dir, 'model.onnx'))})), { executionProviders: ['wasm'] });
const feeds = { X: new ort.Tensor('float32', new Float32Array(${shape.inputSize}), [1, 1, ${shape.inputSize}]) };
${Object.entries(init)
  .map(([k, v]) => `feeds[${JSON.stringify(k)}] = new ort.Tensor('float32', new Float32Array(${v.data.length}), ${JSON.stringify(v.dims)});`)
  .join('\n')}
await s.run(feeds);
const ms = performance.now() - t0;
${report}`,
  };
  const out: ColdStart[] = [];
  const tools = ['edgernn', 'edgernn-cached', 'ort-web'] as const;
  const probeFile = (tool: (typeof tools)[number]) => path.join(dir, `${tool}-probe.mjs`);
  for (const tool of tools) fs.writeFileSync(probeFile(tool), probe[tool]);
  const runProbe = (tool: (typeof tools)[number], arg = '') =>
    JSON.parse(execFileSync(process.execPath, [probeFile(tool), arg], { encoding: 'utf8', cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], timeout: PROBE_TIMEOUT_MS }).trim().split('\n').pop()!);
  const samples = new Map(tools.map((t) => [t, { ms: [] as number[], rss: [] as number[], anon: [] as number[], file: [] as number[], failed: t === 'ort-web' && ortWebMissing ? ortWebMissing : '' }]));
  try {
    runProbe('edgernn-cached'); // the first start, which writes the code cache the others read
  } catch (e) {
    samples.get('edgernn-cached')!.failed = `the first start (writing the code cache): ${probeFailure(e)}`;
  }
  // Round robin, so a change in machine load touches every tool alike.
  for (let i = 0; i < runs; i++) {
    for (const tool of tools) {
      const x = samples.get(tool)!;
      if (x.failed) continue;
      try {
        const r = runProbe(tool, 'hit');
        x.ms.push(r.ms);
        x.rss.push(r.rss / 2 ** 20);
        if (Number.isFinite(r.anon) && Number.isFinite(r.file)) {
          x.anon.push(r.anon);
          x.file.push(r.file);
        }
      } catch (e) {
        x.failed = probeFailure(e); // tool not installed or probe failed: report what we have, and why
      }
    }
  }
  const failures: ColdStartFailure[] = [];
  for (const tool of tools) {
    const { ms, rss, anon, file: fileMib, failed } = samples.get(tool)!;
    if (failed !== '') failures.push({ tool, runs: ms.length, reason: failed });
    if (ms.length) {
      const c: ColdStart = { tool, median_ms: median(ms), rss_growth_mib: median(rss) };
      if (anon.length === ms.length) Object.assign(c, { rss_anon_mib: median(anon), rss_file_mib: median(fileMib) });
      out.push(c);
    }
  }
  return { cold: out, failures };
}

function fmt(us: number | undefined): string {
  if (us === undefined) return '-';
  return us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined ? `${(a / b).toFixed(1)}x` : '-';
}

/** Markdown tables of the results (the README's format). */
export function renderTables(results: BenchResult[], extra: { wasm: { simd: number; scalar: number }; cold: ColdStart[]; coldFailures?: ColdStartFailure[]; state: Record<string, number> }): string {
  const get = (shape: string, backend: Backend, mode: Mode) => results.find((r) => r.shape === shape && r.backend === backend && r.mode === mode)?.median_us;
  const shapes = [...new Set(results.map((r) => r.shape))];
  const lines: string[] = [];
  lines.push('Streaming step (µs per call, state carried between calls; median over interleaved rounds)', '');
  lines.push('| shape | simd | scalar | reference | ort-web | ort-node | matvec-bound | matvec-shape | ort-web / simd | ort-node / simd | simd / bound | shape / bound |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of shapes) {
    const simd = get(s, 'simd', 'step');
    const bound = get(s, 'matvec-bound', 'step');
    const own = get(s, 'matvec-shape', 'step');
    lines.push(
      `| ${s} | ${fmt(simd)} | ${fmt(get(s, 'scalar', 'step'))} | ${fmt(get(s, 'reference', 'step'))} | ${fmt(get(s, 'ort-web', 'step'))} | ${fmt(get(s, 'ort-node', 'step'))} | ${fmt(bound)} | ${fmt(own)} | ${ratio(get(s, 'ort-web', 'step'), simd)} | ${ratio(get(s, 'ort-node', 'step'), simd)} | ${ratio(simd, bound)} | ${ratio(own, bound)} |`,
    );
  }
  lines.push('', 'Whole sequence (µs per sequence from the initial state)', '');
  lines.push('| shape | steps | simd | scalar | reference | ort-web | ort-node | ort-web / simd | ort-node / simd |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of shapes) {
    const simd = get(s, 'simd', 'sequence');
    const shape = BENCH_SHAPES.find((b) => b.name === s);
    lines.push(
      `| ${s} | ${shape?.steps ?? '-'} | ${fmt(simd)} | ${fmt(get(s, 'scalar', 'sequence'))} | ${fmt(get(s, 'reference', 'sequence'))} | ${fmt(get(s, 'ort-web', 'sequence'))} | ${fmt(get(s, 'ort-node', 'sequence'))} | ${ratio(get(s, 'ort-web', 'sequence'), simd)} | ${ratio(get(s, 'ort-node', 'sequence'), simd)} |`,
    );
  }
  lines.push('', `Kernels: simd ${extra.wasm.simd} B, scalar ${extra.wasm.scalar} B.`);
  lines.push(`Session state: ${Object.entries(extra.state).map(([k, v]) => `${k} ${v} B`).join(', ')}.`);
  for (const c of extra.cold) {
    const split = c.rss_anon_mib !== undefined ? ` (allocated ${c.rss_anon_mib.toFixed(1)} MiB, file pages ${c.rss_file_mib!.toFixed(1)} MiB)` : '';
    const tool = c.tool === 'edgernn-cached' ? 'edgernn/runtime/cached, its code cache written by an earlier start' : c.tool;
    lines.push(`Cold start (import + instantiate + load + first step, ${tool}): ${c.median_ms.toFixed(1)} ms median; RSS growth ${c.rss_growth_mib.toFixed(1)} MiB${split}.`);
  }
  for (const f of extra.coldFailures ?? []) lines.push(`Cold start, ${f.tool}: ${f.runs === 0 && / not installed /.test(f.reason) ? f.reason : `failed after ${f.runs} start${f.runs === 1 ? '' : 's'}: ${f.reason}`}`);
  return `${lines.join('\n')}\n`;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmark the runtime against onnxruntime-web and onnxruntime-node',
  help: `usage: edgernn bench [--json] [--shapes kws-gru,...] [--backends simd,ort-node,...] [--rounds N] [--round-ms MS] [--cold-runs N] [--quick]

Runs every shape (${BENCH_SHAPES.map((s) => s.name).join(', ')}) on edgernn simd, scalar
and reference, onnxruntime-web (wasm, 1 thread), onnxruntime-node (1 thread) and the bare SIMD
matvec loop (matvec-bound: the step's MAC count in long rows; matvec-shape: the step's own
padded matrices), interleaved round by round in one process; prints medians and ratios as
tables, then cold start and memory growth measured in fresh processes, round robin: the
runtime (edgernn/runtime), the runtime with its V8 code cache (edgernn/runtime/cached, the
cache written by a first start beforehand) and onnxruntime-web.

  --shapes LIST  only these shapes (comma-separated)
  --backends LIST
                 only these backends (comma-separated; default all: ${BACKENDS.join(', ')});
                 ratios need both of their backends, '-' otherwise; an onnxruntime
                 backend named here that is not installed is an error (in the default
                 set it is left out, noted in the header or a "backend_missing" JSON line)
  --json         one JSON object per line: {"shape","backend","mode","median_us"}, then
                 {"metric",...} lines for kernel sizes, state bytes, cold start and memory, and
                 the machine (cpu, cores, widest x86 vector extension, node, date)
  --rounds N     interleaved rounds per shape (default 21; --quick 5)
  --round-ms MS  target duration of one backend's share of a round (default 4; --quick 1)
  --cold-runs N  fresh processes per tool for cold start (default 9; --quick 3; 0 skips)`,
  async run(args, ctx: CliContext) {
    const { values } = parseFlags(
      args,
      {
        json: { type: 'boolean' },
        quick: { type: 'boolean' },
        shapes: { type: 'string' },
        backends: { type: 'string' },
        rounds: { type: 'string' },
        'round-ms': { type: 'string' },
        'cold-runs': { type: 'string' },
      },
      { min: 0, max: 0, names: '' },
    );
    const quick = values.quick === true;
    const rounds = numberFlag(values.rounds, 'rounds', { min: 1, max: 1000, integer: true }) ?? (quick ? 5 : 21);
    const roundMs = numberFlag(values['round-ms'], 'round-ms', { min: 0.1, max: 1000 }) ?? (quick ? 1 : 4);
    const coldRuns = numberFlag(values['cold-runs'], 'cold-runs', { min: 0, max: 100, integer: true }) ?? (quick ? 3 : 9);
    let shapes = [...BENCH_SHAPES];
    if (typeof values.shapes === 'string') {
      const names = values.shapes.split(',');
      for (const n of names) if (!BENCH_SHAPES.some((s) => s.name === n)) throw usageError(`unknown shape '${n}': choose from ${BENCH_SHAPES.map((s) => s.name).join(', ')}`);
      shapes = shapes.filter((s) => names.includes(s.name));
    }
    const backends = new Set<Backend>(BACKENDS);
    if (typeof values.backends === 'string') {
      backends.clear();
      for (const b of values.backends.split(',')) {
        if (!(BACKENDS as readonly string[]).includes(b)) throw usageError(`unknown backend '${b}': choose from ${BACKENDS.join(', ')}`);
        backends.add(b as Backend);
      }
    }
    // onnxruntime is imported only for the backends asked for (it takes a while, and may be absent:
    // onnxruntime-node is not a dependency of the package). Asked for by name, a missing one is an
    // error; in the default set it is left out and said so (header, or a JSON line).
    const loaded = { web: backends.has('ort-web') ? await loadOrt('web') : null, node: backends.has('ort-node') ? await loadOrt('node') : null };
    const missing: { backend: Backend; package: string; reason: string }[] = [];
    for (const [b, l] of [['ort-web', loaded.web], ['ort-node', loaded.node]] as const) {
      if (typeof l !== 'string') continue;
      const pkg = `onnxruntime-${b.slice(4)}`;
      if (typeof values.backends === 'string') throw new EdgeRnnError('BACKEND_UNAVAILABLE', `--backends ${b}: ${pkg} ${l}${l === 'not installed' ? ` (npm install ${pkg})` : ''}`);
      missing.push({ backend: b, package: pkg, reason: l });
    }
    const ort = { web: typeof loaded.web === 'string' ? null : loaded.web, node: typeof loaded.node === 'string' ? null : loaded.node };
    const progress = new Progress(ctx.stderr, 'bench', shapes.length * rounds);
    const results: BenchResult[] = [];
    const state: Record<string, number> = {};
    for (const shape of shapes) {
      results.push(...(await measureShape(shape, { rounds, roundMs, backends }, ort, progress)));
      const rt = await createRuntime();
      const spec = benchSpec(shape);
      const m = await rt.load(encodeModel(quantizeModel(spec, calibrateAbsMax(spec, [new Rng(2).float32(shape.steps * shape.inputSize, -2, 2)]))));
      state[shape.name] = m.sizes.stateBytes;
    }
    progress.done();
    const bins = kernelBinaries();
    let cold: ColdStart[] = [];
    let coldFailures: ColdStartFailure[] = [];
    if (coldRuns > 0) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-bench-'));
      try {
        const shape = shapes[0]!;
        const spec = benchSpec(shape);
        const int8 = encodeModel(quantizeModel(spec, calibrateAbsMax(spec, [new Rng(2).float32(shape.steps * shape.inputSize, -2, 2)])));
        // Known missing (imported above, when ort-web is benchmarked): said as the backend is, not probed.
        const webMissing = typeof loaded.web === 'string' ? (loaded.web === 'not installed' ? notInstalled('onnxruntime-web') : `onnxruntime-web ${loaded.web}`) : null;
        ({ cold, failures: coldFailures } = coldStarts(dir, shape, spec, int8, coldRuns, webMissing));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    if (values.json) {
      for (const r of results) ctx.stdout.write(`${JSON.stringify(r)}\n`);
      ctx.stdout.write(`${JSON.stringify({ metric: 'wasm_bytes', simd: bins.simd.length, scalar: bins.scalar.length })}\n`);
      for (const [k, v] of Object.entries(state)) ctx.stdout.write(`${JSON.stringify({ metric: 'state_bytes', shape: k, bytes: v })}\n`);
      for (const c of cold) ctx.stdout.write(`${JSON.stringify({ metric: 'cold_start', ...c })}\n`);
      for (const f of coldFailures) ctx.stdout.write(`${JSON.stringify({ metric: 'cold_start_failed', ...f })}\n`);
      ctx.stdout.write(`${JSON.stringify({ metric: 'machine', ...machineInfo() })}\n`);
      for (const m of missing) ctx.stdout.write(`${JSON.stringify({ metric: 'backend_missing', ...m })}\n`);
      return 0;
    }
    const m = machineInfo();
    const machine = `${m.cpu}, ${m.cores} cores${m.vector ? `, ${m.vector}` : ''}, Node ${m.node}, ${m.date}`;
    const notes = missing.map((m) => ` [${m.package} ${m.reason}]`).join('');
    ctx.stdout.write(`edgernn bench (${machine})${notes}\n\n`);
    ctx.stdout.write(renderTables(results, { wasm: { simd: bins.simd.length, scalar: bins.scalar.length }, cold, coldFailures, state }));
    return 0;
  },
};
