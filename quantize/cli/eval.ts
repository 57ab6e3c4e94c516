import fs from 'node:fs';
import path from 'node:path';
import { AUDIO_FRONTEND_KINDS, BACKENDS, createRuntime, SeriesFrontend, validateAudioSpec, validateSeriesSpec, durationModelOf, EdgeRnnError, SEGMENT_DURATION_KEY, type BackendChoice, type ImuFrontendSpec, type ModelSpec } from '../../src/index.js';
import type { CliContext } from '../../src/cli/framework.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { choiceFlag, parseFlags, type Command } from '../../src/cli/framework.js';
import { Progress } from '../../src/cli/progress.js';
import { dataTaskOf, type Dataset, type Sample } from '../data/dataset.js';
import { evaluateModel, type ModelEvaluation } from '../eval/evaluate-model.js';
import { checkDataFlags, csvOptions, DATA_FLAGS, dataHelp, loadData, readModel, requireString } from './common.js';
import { evaluateKwsFile, formatKwsEval } from '../jobs/kws/eval-job.js';
import { clipProgress } from '../jobs/kws/cli.js';
import { loadHmp } from '../jobs/har/hmp.js';
import { harReports, scoreRecordings } from '../jobs/har/score.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'score a model on labelled data (accuracy, P/R/F1, confusion; MSE/MAE)',
  help: `usage: edgernn eval MODEL.ern -d|--data D [--json] [-b|--backend auto|simd|scalar|reference|float]

Runs the model through the runtime, one session per sequence, as on the device.
  classify     accuracy, per-class precision/recall/F1, confusion matrix (rows = truth)
  forecast     MSE, MAE, RMSE over every step and output (raw units)
  autoencoder  reconstruction MSE/MAE; per-sequence errors with --json
  --json       one JSON object; classifiers have an "accuracy" field

Each job's own data format, chosen by the model's front end (otherwise the formats below):
  mfcc/logmel  a folder of <label>/<clip>.wav (Speech Commands layout; _unknown_, _silence_
  (kws)        included) or a corpus split of npm run data:kws: clip accuracy, per class and voice
               (keyword models, with extra.kws; a classifier \`train\` made from WAV clips is
               scored clip by clip through its front end, as below)
  imu (har)    an HMP dataset root (<Activity>/Accelerometer-...-<volunteer>.txt): accuracy per
               recording (mean window posterior) and per window; with the recording's length
               too when the manifest has a duration model (extra.segmentDuration)
  series       one CSV series (a NAB file, timestamp,value) through the front end, forecast
  (anomaly)    of the next frame in its units (MSE, MAE); NAB's folder, windows and
               normalized scores: edgernn nab
Data in the formats below are the model's input frames as they are: for a model with an mfcc,
logmel or imu front end, that front end's output (MFCCs, standardized axes), not raw samples
(a note on stderr says so).

${dataHelp([['--data', '--labels']])}`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(args, { data: { type: 'string', short: 'd' }, json: { type: 'boolean' }, backend: { type: 'string', short: 'b' }, ...DATA_FLAGS }, { min: 1, max: 1, names: 'MODEL.ern' });
    const dataPath = requireString(values.data, '--data');
    checkDataFlags(values, [['--data', '--labels']]);
    const backend = choiceFlag(values.backend, 'backend', [...BACKENDS, 'auto'] as const) ?? 'auto';
    const { spec, bytes } = readModel(positionals[0]!, ctx);
    const kind = (spec.input.frontend as { kind?: unknown } | undefined)?.kind;
    const folder = fs.existsSync(path.resolve(ctx.cwd, dataPath)) && fs.statSync(path.resolve(ctx.cwd, dataPath)).isDirectory();
    const audio = (AUDIO_FRONTEND_KINDS as readonly unknown[]).includes(kind);
    // A keyword model (its tuned detector in extra.kws) is scored as the kws job does. An audio
    // classifier made by `edgernn train` on a WAV folder has no detector: it went the same way and
    // stopped with "extra.kws must be an object", so a model just trained could not be evaluated.
    // It is scored clip by clip, as trained, through its own front end.
    if (folder && audio && spec.extra?.kws !== undefined) return evalAudioFolder(positionals[0]!, dataPath, backend, values.json === true, ctx);
    // One recording where the job's folder is read: it was "unknown data format '.txt'
    // (or '.wav'): expected .jsonl, .csv, .npy or a folder of WAV clips", naming neither.
    const ext = path.extname(dataPath).toLowerCase();
    if (!folder && kind === 'imu' && ext === '.txt') {
      throw new EdgeRnnError('BAD_DATA', `${dataPath}: a model with an 'imu' front end is scored on an HMP dataset root (the folder holding <Activity>/Accelerometer-...txt recordings), not one recording; for one: node examples/har-recording.mjs ${dataPath} ${positionals[0]}`);
    }
    if (!folder && audio && ext === '.wav') {
      throw new EdgeRnnError('BAD_DATA', `${dataPath}: a model with a '${String(kind)}' front end is scored on a folder of <label>/<clip>.wav clips, not one recording; a keyword model on one: node examples/kws-wav.mjs ${dataPath} ${positionals[0]}`);
    }
    if (folder && kind === 'imu') return evalHmpFolder(positionals[0]!, spec, dataPath, backend, values.json === true, ctx);
    // Data of the general formats are the model's input frames, not the samples its front end
    // reads: a CSV of accelerometer samples given to models/har.ern scored 23 % without a word.
    if (!folder && (kind === 'imu' || audio)) {
      const raw = kind === 'imu' ? 'sensor samples; recordings are scored through it on an HMP dataset root (edgernn eval MODEL --data HMP_ROOT)' : 'audio; clips are scored through it from a folder of <label>/<clip>.wav';
      ctx.stderr.write(`edgernn eval: note: the front end of ${positionals[0]} is '${String(kind)}': ${dataPath} is read as that front end's output, ${spec.input.size} values per frame, not as ${raw}\n`);
    }
    const task = dataTaskOf(spec);
    // A classifier without class names (an imported one) has classes "0".."C-1", its outputs:
    // read against its empty list, every label of the data was unknown ("the model knows ").
    const classes = spec.labels.length ? spec.labels : Array.from({ length: modelOutputSize(spec) }, (_, c) => String(c));
    const data =
      kind === 'series'
        ? await seriesCsvData(dataPath, spec, values, ctx)
        : await loadData(dataPath, values, ctx, task, {
            ...(task === 'classify' ? { labels: classes } : {}),
            features: spec.input.size,
            ...(spec.extra?.data && typeof spec.extra.data === 'object' ? { csv: spec.extra.data as Record<string, unknown> } : {}),
            ...(folder && audio ? { wav: { frontendSpec: validateAudioSpec(spec.input.frontend) } } : {}),
          });
    const rt = await createRuntime();
    const progress = new Progress(ctx.stderr, 'eval', data.samples.length);
    const e = await evaluateModel(rt, spec, data, { backend, bytes, onProgress: () => progress.tick() });
    progress.done();
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(evaluationJson(positionals[0]!, spec.name, e, data.source))}\n`);
      return 0;
    }
    ctx.stdout.write(`${formatEvaluation(positionals[0]!, e)}\n`);
    return 0;
  },
};

/**
 * A model with a `series` front end (the anomaly forecaster) on one CSV series (NAB's
 * timestamp,value): the rows run through the front end from a fresh state, in file order, as a
 * gateway feeds them; the frames are cut into windows of --seq-len (64) every --stride (half),
 * target = the frame --horizon (1) steps ahead. Errors are in the front end's units (running
 * standard deviations for models/anomaly.ern), as the manifest's metrics are.
 */
async function seriesCsvData(dataPath: string, spec: ModelSpec, values: Parameters<typeof loadData>[1], ctx: CliContext): Promise<Dataset> {
  if (path.extname(dataPath).toLowerCase() !== '.csv') {
    throw new EdgeRnnError('BAD_DATA', `${dataPath}: a model with a 'series' front end is scored on one CSV series (e.g. a NAB data file, timestamp,value); for NAB's folder and windows use edgernn nab`);
  }
  const frontend = validateSeriesSpec(spec.input.frontend);
  const recorded = (spec.extra?.data && typeof spec.extra.data === 'object' ? spec.extra.data : {}) as Record<string, unknown>;
  const { seqLen, stride, horizon, ...columns } = csvOptions(values, recorded);
  // One row per sample first (the front end needs the whole series in order), then the windows.
  const rows = await loadData(dataPath, { ...values, 'seq-len': '1', stride: '1', horizon: undefined }, ctx, 'autoencoder', { features: spec.input.size, csv: columns });
  const F = spec.input.size;
  const N = rows.samples.length;
  const raw = new Float32Array(N * F);
  rows.samples.forEach((r, i) => raw.set(r.x.subarray(0, F), i * F));
  const frames = new SeriesFrontend(frontend).batch(raw).data;
  const L = seqLen ?? 64;
  const step = stride ?? Math.max(1, Math.floor(L / 2));
  const h = horizon ?? 1;
  if (N < L + h) throw new EdgeRnnError('BAD_DATA', `${dataPath}: ${N} rows: too short for one window of ${L} steps plus a horizon of ${h} (--seq-len)`);
  const samples: Sample[] = [];
  for (let st = 0; st + L + h <= N; st += step) {
    samples.push({ x: frames.slice(st * F, (st + L) * F), T: L, target: frames.slice((st + h) * F, (st + L + h) * F), where: `${rows.samples[st]!.where}` });
  }
  return { ...rows, samples, targetSize: F, frontend: { ...frontend } };
}

/** Keyword model on a <label>/<clip>.wav folder, through the manifest's front end. */
async function evalAudioFolder(model: string, data: string, backend: BackendChoice | 'float', json: boolean, ctx: CliContext): Promise<number> {
  const file = path.resolve(ctx.cwd, model);
  // 'float' goes through as asked: an int8 model refuses it (it ran int8 silently before).
  const progress = clipProgress(ctx.stderr);
  const r = await evaluateKwsFile(file, { data: path.resolve(ctx.cwd, data), cacheDir: path.resolve(ctx.cwd, '.cache/kws-job/features'), backend, onClip: progress.onClip });
  progress.done();
  const { spec } = readModel(model, ctx);
  if (json) {
    const c = r.clips;
    // labels and confusion[truth][predicted] as in every other task's --json
    ctx.stdout.write(`${JSON.stringify({ model, task: 'kws', backend: r.backend, data, samples: c.samples, accuracy: c.accuracy, perClass: c.perClass, perGroup: c.perGroup, labels: spec.labels, confusion: c.confusion })}\n`);
  } else {
    ctx.stdout.write(`${formatKwsEval(r, spec.labels)}\n`);
  }
  return 0;
}

/** Activity model on an HMP-format folder: one session per window, recording = mean posterior. */
async function evalHmpFolder(model: string, spec: ModelSpec, data: string, backend: BackendChoice | 'float', json: boolean, ctx: CliContext): Promise<number> {
  const root = path.resolve(ctx.cwd, data);
  const folders = fs.readdirSync(root).filter((d) => fs.statSync(path.join(root, d)).isDirectory()).map((d) => d.toLowerCase());
  // An HMP root also holds activities outside the model's classes (brush_teeth, ...): those are skipped.
  const activities = spec.labels.filter((l) => folders.includes(l));
  if (activities.length === 0) throw new EdgeRnnError('BAD_DATA', `${data}: no activity folder of the model's classes (${spec.labels.join(', ')}); found ${folders.join(', ') || 'no folders'}`);
  const skipped = folders.filter((f) => !spec.labels.includes(f));
  // On stderr, so --json stays one object: the accuracy is over the model's classes only.
  if (skipped.length) ctx.stderr.write(`eval: skipped ${skipped.length} folder${skipped.length === 1 ? '' : 's'} not among the model's classes: ${skipped.join(', ')}\n`);
  const rt = await createRuntime();
  // What runs, said as it is ('auto' resolved); 'float' on an int8 model is refused, before the
  // data are read (it ran int8 silently and reported "auto").
  const used = rt.resolveBackend(spec, backend);
  const ds = loadHmp(root, { activities });
  const scores = await scoreRecordings(rt, spec, spec.input.frontend as unknown as ImuFrontendSpec, ds.recordings, { backend: used });
  const duration = durationModelOf(spec);
  const rep = harReports(scores, duration);
  const e: ModelEvaluation = { task: spec.task, precision: spec.precision, backend: used, samples: rep.recording.samples, classification: rep.recording };
  const L = rep.withLength;
  if (json) {
    ctx.stdout.write(
      `${JSON.stringify({
        ...evaluationJson(model, spec.name, e, data),
        windows: { samples: rep.window.samples, accuracy: rep.window.accuracy, macroF1: rep.window.macroF1 },
        ...(L ? { withLength: { accuracy: L.accuracy, macroF1: L.macroF1, perClass: L.perClass, confusion: L.confusion } } : {}),
      })}\n`,
    );
  } else {
    const length = L
      ? `\n  with each recording's length (the manifest's ${SEGMENT_DURATION_KEY}): accuracy ${(100 * L.accuracy).toFixed(2)}%, macro F1 ${L.macroF1.toFixed(3)}`
      : '';
    ctx.stdout.write(`${formatEvaluation(model, e)}\n  per window: accuracy ${(100 * rep.window.accuracy).toFixed(2)}% over ${rep.window.samples} windows${length}\n`);
  }
  return 0;
}

export function evaluationJson(file: string, name: string, e: ModelEvaluation, data: string): Record<string, unknown> {
  const base = { model: file, name, task: e.task, precision: e.precision, backend: e.backend, data, samples: e.samples };
  if (e.classification) {
    const c = e.classification;
    return { ...base, accuracy: c.accuracy, macroF1: c.macroF1, perClass: c.perClass, confusion: c.confusion, labels: c.perClass.map((p) => p.label) };
  }
  const r = e.regression!;
  return { ...base, mse: r.mse, mae: r.mae, rmse: r.rmse, perOutput: r.perOutput, ...(e.sequenceErrors ? { sequenceErrors: e.sequenceErrors } : {}) };
}

export function formatEvaluation(file: string, e: ModelEvaluation): string {
  const head = `${file}: ${e.task}, ${e.precision} on ${e.backend}, ${e.samples} sequences`;
  if (e.classification) {
    const c = e.classification;
    const w = Math.max(5, ...c.perClass.map((p) => p.label.length));
    // A class with no samples has no recall, one never predicted no precision: '-', not 0.
    const rows = c.perClass.map((p, k) => {
      const predicted = c.confusion.some((row) => row[k]! > 0);
      const cell = (v: number, ok: boolean, width: number) => (ok ? v.toFixed(3) : '-').padStart(width);
      return `  ${p.label.padEnd(w)}  ${cell(p.precision, predicted, 9)}  ${cell(p.recall, p.support > 0, 6)}  ${cell(p.f1, predicted || p.support > 0, 6)}  ${String(p.support).padStart(7)}`;
    });
    // A loop, not Math.max(...cells): C² arguments overflowed the call stack past ~350 classes.
    const cw = c.confusion.reduce((m, row) => row.reduce((a, n) => Math.max(a, String(n).length), m), 4) + 1;
    // Column heads are the labels cut to the column width; where two cut labels read the same
    // ("walking_upstairs", "walking_downstairs": "walk" twice) the columns are numbered, and so are
    // the rows, in the same order.
    let heads = c.perClass.map((p) => p.label.slice(0, cw - 1));
    const numbered = new Set(heads).size < heads.length;
    if (numbered) heads = heads.map((_, k) => String(k).slice(0, cw - 1));
    const rowName = (i: number): string => (numbered ? `${String(i).padStart(String(heads.length - 1).length)} ${c.perClass[i]!.label}` : c.perClass[i]!.label);
    const rw = c.perClass.reduce((m, _, i) => Math.max(m, rowName(i).length), w);
    const conf = c.confusion.map((row, i) => `  ${rowName(i).padEnd(rw)} ${row.map((n) => String(n).padStart(cw)).join('')}`);
    return [
      head,
      `  accuracy ${(100 * c.accuracy).toFixed(2)}%   macro F1 ${c.macroF1.toFixed(3)}`,
      '',
      `  ${'class'.padEnd(w)}  precision  recall      f1  support`,
      ...rows,
      '',
      `  confusion (rows: truth, columns: predicted)`,
      `  ${''.padEnd(rw)} ${heads.map((h) => h.padStart(cw)).join('')}`,
      ...conf,
    ].join('\n');
  }
  const r = e.regression!;
  return [head, `  MSE ${r.mse.toPrecision(5)}   MAE ${r.mae.toPrecision(5)}   RMSE ${r.rmse.toPrecision(5)}   (${r.count} values)`].join('\n');
}
