/**
 * The learned anomaly detectors on the full NAB corpus (58 files, 365,558 rows, 116 windows),
 * scored with the NAB scorer's normal pipeline: full-precision scores, one threshold per profile
 * optimized over the corpus (sweep), normalized between the null and perfect detectors.
 *
 *   npx tsx test/bench/nab-gru.ts [--data DIR --labels FILE] [--detector NAMES] [--seed N] [--results-dir OUT] [--json FILE]
 *
 * Default detectors: gru-predict (int8, SIMD kernels) and its float twin (the same trained models
 * before quantization: trained once, shared through the learner memo), gru-autoencoder,
 * gru-combined, the two ablations and NAB's windowed Gaussian for reference. Prints per detector
 * the three profile scores and wall time, then per category (at the corpus threshold), the
 * float vs int8 difference, and the published scoreboard anchors. Long: minutes per learned
 * detector (each series trains its own model); run it in the background on a shared machine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { baselineDetectorRegistry } from '../../src/index.js';
import { gruDetectorEntries, NAB_GRU_OPTIONS } from '../../quantize/jobs/anomaly/detectors.js';
import { evaluateRun, loadNabCorpus, nabDetectorRegistry, runDetector, writeResults, NAB_PROFILES, type DetectorRun, type NabCorpus, type NabEvaluation } from '../../quantize/eval/nab/index.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { data: { type: 'string' }, labels: { type: 'string' }, detector: { type: 'string' }, seed: { type: 'string' }, 'results-dir': { type: 'string' }, json: { type: 'string' } } });
const nabRoot = path.resolve(REPO, '../shared/datasets/nab');
const dataDir = values.data ?? path.join(nabRoot, 'data');
const labelsPath = values.labels ?? path.join(nabRoot, 'labels/combined_windows.json');
if (!fs.existsSync(dataDir) || !fs.existsSync(labelsPath)) {
  console.log(`NAB corpus not found (${dataDir}, ${labelsPath}); pass --data DIR --labels FILE (github.com/numenta/NAB)`);
  process.exit(0);
}
const DEFAULT = ['gru-predict', 'gru-predict-float', 'gru-autoencoder', 'gru-autoencoder-float', 'gru-combined', 'gru-combined-float', 'ablation-persistence', 'ablation-spatial', 'windowedGaussian'];
const names = (values.detector ?? DEFAULT.join(',')).split(',').map((s) => s.trim()).filter(Boolean);

/** NAB scoreboard (README, standard / reward low FP / reward low FN). */
const ANCHORS: Array<[string, number, number, number]> = [
  ['ARTime', 74.9, 65.1, 80.4],
  ['Numenta HTM', 70.5, 62.6, 75.2],
  ['CAD OSE', 69.9, 67.0, 73.2],
  ['Random Cut Forest', 51.7, 38.4, 59.7],
  ['Twitter ADVec', 47.1, 33.6, 53.5],
  ['Windowed Gaussian', 39.6, 20.9, 47.4],
  ['Random', 11.0, 1.2, 19.5],
];

console.log(`# nab-gru  ${new Date().toISOString()}  node ${process.version}  ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}  load ${os.loadavg()[0]!.toFixed(1)}`);
console.log(`# command: npx tsx test/bench/nab-gru.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`);
const corpus: NabCorpus = loadNabCorpus({ dataDir, labelsPath });
const rows = corpus.series.reduce((a, s) => a + s.values.length, 0);
console.log(`corpus: ${corpus.series.length} files, ${rows} rows, ${corpus.windowCount} windows\n`);

// --seed N: the learned detectors with another training seed (everything else as registered).
const seed = values.seed === undefined ? undefined : Number(values.seed);
if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) throw new Error(`--seed needs an integer >= 0, got '${values.seed}'`);
const registry = seed === undefined ? nabDetectorRegistry() : baselineDetectorRegistry();
if (seed !== undefined) for (const e of gruDetectorEntries({ learner: { ...NAB_GRU_OPTIONS.learner, seed } })) registry.register(e);
if (seed !== undefined) console.log(`learned detectors trained with seed ${seed}\n`);
const fmt = (x: number): string => x.toFixed(2).padStart(7);
const results: Array<{ name: string; seconds: number; evaluation: NabEvaluation; run: DetectorRun }> = [];
console.log(`${'detector'.padEnd(24)} ${'standard'.padStart(8)} ${'low FP'.padStart(7)} ${'low FN'.padStart(7)}   seconds`);
for (const name of names) {
  const t0 = performance.now();
  const run = runDetector(corpus, registry.get(name));
  const seconds = (performance.now() - t0) / 1000;
  const evaluation = evaluateRun(corpus, run);
  results.push({ name, seconds, evaluation, run });
  console.log(`${name.padEnd(24)} ${evaluation.profiles.map((p) => fmt(p.normalizedScore)).join(' ')}   ${seconds.toFixed(0).padStart(5)}`);
  if (values['results-dir']) writeResults(path.resolve(values['results-dir']), corpus, run, evaluation);
}

// Per category at the corpus threshold: 100 (raw_c - null_c) / (perfect_c - null_c), with
// null_c = -fnWeight x windows_c (the null detector detects nothing at its optimum) and
// perfect_c = tpWeight x windows_c. Categories without windows: the raw score (false positives).
const categories = [...new Set(corpus.series.map((s) => s.category))];
console.log('\nper category (standard profile, corpus threshold; no-window categories show the raw score)');
console.log(`${'category'.padEnd(24)} ${'files'.padStart(5)} ${'windows'.padStart(7)} ${results.map((r) => r.name.slice(0, 14).padStart(15)).join('')}`);
const perCategory: Record<string, Record<string, number>> = {};
for (const c of categories) {
  const idx = corpus.series.map((s, i) => (s.category === c ? i : -1)).filter((i) => i >= 0);
  const windows = idx.reduce((a, i) => a + corpus.series[i]!.windows.length, 0);
  perCategory[c] = {};
  const cells = results.map((r) => {
    const p = r.evaluation.profiles[0]!;
    const prof = NAB_PROFILES[0]!;
    const raw = idx.reduce((a, i) => a + p.files[i]!.score, 0);
    const v = windows > 0 ? (100 * (raw + prof.fnWeight * windows)) / ((prof.tpWeight + prof.fnWeight) * windows) : raw;
    perCategory[c]![r.name] = v;
    return (windows > 0 ? v.toFixed(1) : `(${v.toFixed(2)})`).padStart(15);
  });
  console.log(`${c.padEnd(24)} ${String(idx.length).padStart(5)} ${String(windows).padStart(7)} ${cells.join('')}`);
}

const byName = new Map(results.map((r) => [r.name, r]));
const pairs = results.filter((r) => byName.has(`${r.name}-float`));
if (pairs.length) {
  console.log('\nint8 (SIMD kernels) minus float32 (same trained models), normalized score points');
  for (const r of pairs) {
    const f = byName.get(`${r.name}-float`)!;
    let maxDiff = 0;
    r.run.scores.forEach((s, i) => s.forEach((x, t) => (maxDiff = Math.max(maxDiff, Math.abs(x - f.run.scores[i]![t]!)))));
    console.log(`${r.name.padEnd(24)} ${r.evaluation.profiles.map((p, k) => (p.normalizedScore - f.evaluation.profiles[k]!.normalizedScore).toFixed(2).padStart(7)).join(' ')}   max |score difference| ${maxDiff.toFixed(4)}`);
  }
}

console.log('\nNAB scoreboard anchors (standard / low FP / low FN)');
for (const [n, s, fp, fn] of ANCHORS) console.log(`${n.padEnd(24)} ${fmt(s)} ${fmt(fp)} ${fmt(fn)}`);

if (values.json) {
  const out = {
    date: new Date().toISOString(),
    corpus: { files: corpus.series.length, rows, windows: corpus.windowCount },
    detectors: Object.fromEntries(results.map((r) => [r.name, { seconds: r.seconds, ...Object.fromEntries(r.evaluation.profiles.map((p) => [p.profile, { score: p.normalizedScore, threshold: p.threshold, ...p.counts }])) }])),
    perCategory,
  };
  fs.writeFileSync(values.json, `${JSON.stringify(out, null, 1)}\n`);
}
