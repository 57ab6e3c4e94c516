/**
 * HAR benchmark (not part of the test suite). Run after `npm run train:har` (it reads the cached
 * fold models and models/har.ern):
 *   npx tsx test/bench/har.ts [--data DIR] [--trees 100]
 * Prints, side by side under the same leave-subjects-out folds (8 by volunteer):
 *   1. accuracy per recording: the issue's anchor rebuilt (random forest on per-recording summary
 *      statistics) vs the GRU (float32 and int8, mean window posterior)
 *   2. cost of the shipped model per window and per second of signal on each backend, front end
 *      included, with ratios to the SIMD backend; file size
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRuntime, createFrontendForInput, type BackendName } from '../../src/index.js';
import { classificationReport } from '../../quantize/eval/metrics.js';
import { HAR_CLASSES } from '../../quantize/jobs/har/classes.js';
import { HAR_RECIPE } from '../../quantize/jobs/har/cli.js';
import { crossValidationModels, defaultCacheDir, scoreFolds, summarizeCv, volunteerCounts } from '../../quantize/jobs/har/cv.js';
import { groupKFold } from '../../quantize/jobs/har/folds.js';
import { RandomForest, summaryFeatures } from '../../quantize/jobs/har/forest.js';
import { loadHmp } from '../../quantize/jobs/har/hmp.js';
import { synthesizeRecording } from '../../firmware-sim/imu/generator.js';
import { HMP_GENERATOR_MODEL } from '../../firmware-sim/imu/hmp-model.gen.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

async function accuracy(): Promise<void> {
  const data = arg('--data');
  let ds;
  try {
    ds = loadHmp(data, { activities: HAR_CLASSES });
  } catch (e) {
    console.log(`1. accuracy: skipped (${(e as Error).message})`);
    return;
  }
  const folds = groupKFold(volunteerCounts(ds.recordings), 8);
  const trees = Number(arg('--trees') ?? 100);
  const X = ds.recordings.map(summaryFeatures);
  const y = ds.recordings.map((r) => HAR_CLASSES.indexOf(r.activity as (typeof HAR_CLASSES)[number]));
  const truth: number[] = [];
  const pred: number[] = [];
  const t0 = performance.now();
  for (const f of folds) {
    const tr = ds.recordings.flatMap((r, i) => (f.train.includes(r.volunteer) ? [i] : []));
    const te = ds.recordings.flatMap((r, i) => (f.test.includes(r.volunteer) ? [i] : []));
    const rf = RandomForest.fit(tr.map((i) => X[i]!), tr.map((i) => y[i]!), HAR_CLASSES.length, { trees, seed: 1 });
    for (const i of te) {
      truth.push(y[i]!);
      pred.push(rf.predict(X[i]!));
    }
  }
  const forest = classificationReport(HAR_CLASSES, truth, pred);
  console.log(`\n1. leave-subjects-out accuracy per recording, ${ds.recordings.length} recordings, 8 folds by volunteer`);
  console.log(`  random forest (${trees} trees, 33 summary statistics per recording): ${pct(forest.accuracy)}  (${((performance.now() - t0) / 1000).toFixed(0)} s; the issue reports 73.8% for its forest)`);
  const cacheDir = defaultCacheDir();
  let models;
  try {
    models = crossValidationModels(ds, HAR_RECIPE, { folds: 8, cacheDir, requireCached: true });
  } catch (e) {
    console.log(`  GRU: skipped (${(e as Error).message})`);
    return;
  }
  const s = summarizeCv(await scoreFolds(await createRuntime(), ds, models));
  console.log(`  ${HAR_RECIPE.arch.toUpperCase()} ${HAR_RECIPE.hidden} float32: ${pct(s.float.recording.accuracy)}   int8: ${pct(s.int8.recording.accuracy)}   (int8 - forest: ${(100 * (s.int8.recording.accuracy - forest.accuracy)).toFixed(1)} points)`);
  console.log('  recall per class       forest   GRU int8');
  forest.perClass.forEach((c, i) => console.log(`    ${c.label.padEnd(16)}  ${pct(c.recall).padStart(6)}   ${pct(s.int8.recording.perClass[i]!.recall).padStart(6)}`));
}

async function cost(): Promise<void> {
  const file = path.resolve(import.meta.dirname, '../../models/har.ern');
  if (!fs.existsSync(file)) {
    console.log(`\n2. cost: skipped (${file} not found: npm run train:har)`);
    return;
  }
  const bytes = new Uint8Array(fs.readFileSync(file));
  const rt = await createRuntime();
  // One hour-scale stream of synthetic codes (no dataset needed): 10 minutes of walking.
  const codes = synthesizeRecording(HMP_GENERATOR_MODEL, 'walk', 1, 32 * 600);
  console.log(`\n2. cost of models/har.ern (${bytes.length} bytes) on 600 s of 32 Hz codes, front end included (median of 5 runs)`);
  const rows: Array<[BackendName, number]> = [];
  for (const backend of ['simd', 'scalar', 'reference'] as const) {
    const model = await rt.load(bytes, { backend });
    const fe = createFrontendForInput(model.spec.input);
    const s = model.session();
    const C = model.outputSize;
    let windows = 0;
    const run = (): void => {
      fe.reset();
      windows = 0;
      fe.push(codes, (w) => {
        s.reset();
        const out = s.run(w);
        if (out[out.length - C]! < 0) throw new Error('negative posterior');
        windows++;
      });
    };
    run();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      run();
      times.push(performance.now() - t0);
    }
    const ms = times.sort((a, b) => a - b)[2]!;
    rows.push([backend, ms]);
    console.log(`  ${backend.padEnd(9)} ${((1000 * ms) / windows).toFixed(1)} µs per window, ${(ms / 600).toFixed(3)} ms per second of signal (${((100 * ms) / 600_000).toFixed(4)}% of real time), ${windows} windows`);
    s.dispose();
    model.dispose();
  }
  const simd = rows[0]![1];
  console.log(`  ratios to simd: ${rows.map(([b, ms]) => `${b} ${(ms / simd).toFixed(2)}x`).join(', ')}`);
}

console.log(`edgernn HAR benchmark · ${new Date().toISOString()} · node ${process.version} · ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · load ${os.loadavg()[0]!.toFixed(1)}`);
await accuracy();
await cost();
