/**
 * Trainer benchmark (not part of the test suite). Run:
 *   npx tsx test/bench/trainer.ts            kernels + training throughput vs PyTorch
 *   npx tsx test/bench/trainer.ts --har      + float / int8 / 75%-pruned int8 on the HMP
 *                                              wrist-accelerometer dataset (../shared)
 *     --only-har                 skip sections 1 and 2
 *     --cache DIR                keep/reuse the trained float model there (DIR/har-float.ern)
 *     --prune '{"epochs":20}'    pruneModel options as JSON (default {"epochs": 30}, as the CLI)
 * Prints sequences per second and ratios side by side:
 *   1. blocked matmul kernels vs their naive twins (quantize/nn/matmul.ts)
 *   2. training steps (forward + BPTT + Adam) of the edgernn trainer vs PyTorch on CPU with one
 *      thread (/usr/bin/python3, Debian's python3-torch), same model, batch and length
 *   3. (--har) accuracy of float32, int8 (PTQ, MSE calibration) and 75% block-pruned + int8
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng, createRuntime, decodeModel, encodeModel, type ModelSpec, type RecurrentKind } from '../../src/index.js';
import type { Dataset, Sample } from '../../quantize/data/dataset.js';
import { firstStepsTask } from '../../quantize/data/synthetic.js';
import { evaluateModel } from '../../quantize/eval/evaluate-model.js';
import { matmulNN, matmulNNRef, matmulNT, matmulNTRef, matmulTN, matmulTNRef } from '../../quantize/nn/matmul.js';
import { pruneModel } from '../../quantize/prune/prune-model.js';
import { calibrateAndQuantize } from '../../quantize/quant/calibrate.js';
import { trainModel } from '../../quantize/train/train-model.js';

function time(fn: () => void, minMs = 400): number {
  fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    n++;
  }
  return (performance.now() - t0) / n;
}

function kernels(): void {
  console.log('\n1. matmul kernels, float32 storage (ms per call; ratio = naive / blocked)');
  const rng = new Rng(1);
  for (const [M, N, K] of [
    [32, 96, 32],
    [1280, 96, 32],
    [1280, 192, 64],
  ] as const) {
    const A = rng.float32(M * Math.max(K, N));
    const B = rng.float32(Math.max(N, M) * K);
    const C = new Float32Array(Math.max(M * N, M * K, N * K));
    const rows: [string, () => void, () => void][] = [
      ['NT (x·Wᵀ)', () => matmulNT(M, N, K, A, 0, B, 0, C, 0, false), () => matmulNTRef(M, N, K, A, 0, B, 0, C, 0, false)],
      ['NN (δ·W)', () => matmulNN(M, N, K, A, 0, B, 0, C, 0, false), () => matmulNNRef(M, N, K, A, 0, B, 0, C, 0, false)],
      ['TN (δᵀ·x)', () => matmulTN(M, N, K, A, 0, B, 0, C, 0, false), () => matmulTNRef(M, N, K, A, 0, B, 0, C, 0, false)],
    ];
    for (const [name, fast, ref] of rows) {
      const f = time(fast);
      const r = time(ref);
      const gflops = (2 * M * N * K) / (f * 1e6);
      console.log(`  ${name.padEnd(10)} M=${M} N=${N} K=${K}: blocked ${f.toFixed(3)} ms (${gflops.toFixed(2)} GFLOP/s), naive ${r.toFixed(3)} ms, ratio ${(r / f).toFixed(2)}x`);
    }
  }
}

const TORCH = `
import sys, time, torch
torch.set_num_threads(1); torch.manual_seed(0)
arch, H, T, B, I, C, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
cell = {'gru': torch.nn.GRU, 'lstm': torch.nn.LSTM, 'rnn': torch.nn.RNN}[arch](I, H)
head = torch.nn.Linear(H, C)
opt = torch.optim.Adam(list(cell.parameters()) + list(head.parameters()), lr=5e-3)
x = torch.randn(T, B, I); y = torch.randint(0, C, (B,))
def step():
    opt.zero_grad(); out, _ = cell(x); loss = torch.nn.functional.cross_entropy(head(out[-1]), y); loss.backward()
    torch.nn.utils.clip_grad_norm_(list(cell.parameters()) + list(head.parameters()), 1.0); opt.step()
for _ in range(3): step()
t0 = time.perf_counter()
for _ in range(steps): step()
print((steps * B) / (time.perf_counter() - t0))
`;

function torchRate(arch: RecurrentKind, H: number, T: number, B: number, I: number, C: number, steps: number): number | null {
  const r = spawnSync('/usr/bin/python3', ['-c', TORCH, arch, String(H), String(T), String(B), String(I), String(C), String(steps)], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return null;
  return Number(r.stdout.trim());
}

function throughput(): void {
  console.log('\n2. training throughput, sequences/s (forward + BPTT + clip + Adam; T=40, batch 32, 2 inputs, 4 classes)');
  const data = firstStepsTask({ count: 640, seed: 1 });
  for (const [arch, H] of [
    ['gru', 32],
    ['lstm', 32],
    ['gru', 64],
  ] as const) {
    const r = trainModel({ data, val: firstStepsTask({ count: 32, seed: 2 }), options: { task: 'classify', arch, hidden: H, epochs: 3, valSplit: 0, normalize: false } });
    const ours = Math.max(...r.fit.history.map((h) => (640 / h.seconds)));
    const torch = torchRate(arch, H, 40, 32, 2, 4, 20);
    console.log(`  ${arch}${H}: edgernn ${ours.toFixed(0)} seq/s, PyTorch 1-thread ${torch === null ? 'n/a' : torch.toFixed(0)} seq/s${torch ? `, ratio edgernn/PyTorch ${(ours / torch).toFixed(2)}` : ''}`);
  }
}

/** HMP recordings (../shared/datasets/har/hmp): 3 axes coded 0..63 for ±1.5 g at 32 Hz. */
function loadHmp(root: string, windowSteps: number, seed: number): { train: Dataset; test: Dataset } | null {
  if (!fs.existsSync(root)) return null;
  const activities = fs.readdirSync(root).filter((d) => fs.statSync(path.join(root, d)).isDirectory()).sort();
  const rng = new Rng(seed);
  const train: Sample[] = [];
  const test: Sample[] = [];
  activities.forEach((act, y) => {
    const files = fs.readdirSync(path.join(root, act)).filter((f) => f.endsWith('.txt')).sort();
    const order = files.map((f) => ({ f, r: rng.next() })).sort((a, b) => a.r - b.r).map((o) => o.f);
    order.forEach((f, i) => {
      const rows = fs.readFileSync(path.join(root, act, f), 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
      const into = i < Math.max(1, Math.round(order.length * 0.3)) ? test : train;
      for (let s = 0; s + windowSteps <= rows.length; s += windowSteps) {
        const x = new Float32Array(windowSteps * 3);
        for (let t = 0; t < windowSteps; t++) for (let k = 0; k < 3; k++) x[t * 3 + k] = -1.5 + (rows[s + t]![k]! / 63) * 3;
        into.push({ x, T: windowSteps, y, where: `${act}/${f}@${s}` });
      }
    });
  });
  const mk = (samples: Sample[]): Dataset => ({ source: root, sha256: '0'.repeat(64), features: 3, labels: activities, targetSize: 0, samples, rateHz: 32 });
  return { train: mk(train), test: mk(test) };
}

async function har(): Promise<void> {
  const root = path.resolve(import.meta.dirname, '../../../shared/datasets/har/hmp');
  const d = loadHmp(root, 64, 3);
  if (!d) {
    console.log(`\n3. HAR: skipped (${root} not found)`);
    return;
  }
  console.log(`\n3. HMP wrist accelerometer, 14 activities, 2 s windows (64 steps at 32 Hz), split by recording: ${d.train.samples.length} train / ${d.test.samples.length} test windows`);
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const cache = arg('--cache');
  const cached = cache ? path.join(cache, 'har-float.ern') : null;
  const t0 = performance.now();
  let spec: ModelSpec;
  let trainNote = 'cached';
  if (cached && fs.existsSync(cached)) spec = decodeModel(new Uint8Array(fs.readFileSync(cached))).spec;
  else {
    const r = trainModel({ data: d.train, options: { task: 'classify', arch: 'gru', hidden: 48, epochs: 40, seed: 1 } });
    spec = r.spec;
    trainNote = `${r.fit.epochsRun} epochs, best ${r.fit.bestEpoch}`;
    if (cached) {
      fs.mkdirSync(cache!, { recursive: true });
      fs.writeFileSync(cached, encodeModel(spec));
    }
  }
  const t1 = performance.now();
  const int8 = calibrateAndQuantize(spec, d.train.samples, { method: 'mse' });
  const pruneOpts = { epochs: 30, seed: 1, ...(JSON.parse(arg('--prune') ?? '{}') as object) };
  const pruned = pruneModel(spec, d.train, { sparsity: 0.75, ...pruneOpts });
  const t2 = performance.now();
  const prunedInt8 = calibrateAndQuantize(pruned.spec, d.train.samples, { method: 'mse' });
  const rt = await createRuntime();
  const rows: [string, number][] = [];
  for (const [name, model, backend] of [
    ['float32', spec, 'float'],
    ['int8', int8, 'auto'],
    ['pruned 75% float', pruned.spec, 'float'],
    ['pruned 75% int8', prunedInt8, 'auto'],
  ] as const) {
    const e = await evaluateModel(rt, model, d.test, { backend });
    rows.push([name, e.classification!.accuracy]);
  }
  const base = rows[0]![1];
  for (const [name, acc] of rows) console.log(`  ${name.padEnd(18)} ${(100 * acc).toFixed(2)}%  ${(100 * (acc - base)).toFixed(2)} pp`);
  console.log(`  (train ${((t1 - t0) / 1000).toFixed(0)} s, ${trainNote}; prune ${JSON.stringify(pruneOpts)} ${((t2 - t1) / 1000).toFixed(0)} s, best epoch ${pruned.fit.bestEpoch}; R sparsity ${pruned.sparsity.filter((s) => s.name.includes('.R.')).map((s) => (100 * s.sparsity).toFixed(1) + '%').join(', ')})`);
}

console.log(`edgernn trainer benchmark · ${new Date().toISOString()} · node ${process.version} · ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}`);
if (!process.argv.includes('--only-har')) {
  kernels();
  throughput();
}
if (process.argv.includes('--har') || process.argv.includes('--only-har')) await har();
