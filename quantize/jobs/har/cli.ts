/**
 * Node-only: `edgernn har <action>`, the activity-recognition job on the HMP dataset.
 *   stats           recordings per class and volunteer (the class-set justification)
 *   train           leave-subjects-out CV (cached fold models) + the final model on every
 *                   volunteer → models/har.ern with the CV metrics in its manifest (npm run train:har)
 *   eval            the CV report: per-class P/R/F1 float vs int8, confusion, per fold, streaming
 *                   accuracy with and without smoothing; --synthetic adds models trained only on
 *                   generator output (npm run eval:har)
 *   fit-generator   fits the IMU generator to HMP → firmware-sim/imu/hmp-model.gen.ts
 */
import path from 'node:path';
import { parseFlags, numberFlag, usageError, writeOutputFile, type CliContext, type Command } from '../../../src/cli/framework.js';
import { classifySegment, createRuntime, SEGMENT_DURATION_KEY, decodeModel, encodeModel, type DurationModel, type ModelSpec } from '../../../src/index.js';
import { checkOutputPath, codeCommit, createdAt, round } from '../../cli/common.js';
import { HAR_CLASSES, HAR_EXCLUDED } from './classes.js';
import { crossValidationModels, defaultCacheDir, recordingDurations, scoreFolds, summarizeCv, type CvOptions, type CvSummary, type FoldModels } from './cv.js';
import { HMP_RATE_HZ, HMP_SOURCE, loadHmp, type HmpDataset } from './hmp.js';
import { DEFAULT_HAR_RECIPE, trainHar, type HarRecipe } from './pipeline.js';
import { DEFAULT_AUGMENT, type AugmentOptions } from './augment.js';
import { argmax, meanPosterior } from './score.js';
import { confusionTable, foldTable, headlineTable, perClassTable, statsTable, streamTable } from './report.js';
import { continuousAccuracy, smoothedRecordingAccuracy, SMOOTHING_VARIANTS, type StreamAccuracy } from './streaming.js';
import { fitHmpGenerator, synthesizeLike } from './synthetic.js';
import { writeGeneratorModule } from '../../../firmware-sim/imu/gen-module.js';
import { makeDirs } from '../../../src/io/files.js';

/** The recipe of the shipped model (docs/har.md explains each choice). */
export const HAR_RECIPE: HarRecipe = { ...DEFAULT_HAR_RECIPE };

/** Named in every manifest trained on it. */
export const HMP_DATASET_NAME = 'HMP: Dataset for ADL Recognition with Wrist-worn Accelerometer (Bruno, Mastrogiovanni, Sgorbissa 2014; UCI; research use only)';

const HELP = `usage: edgernn har <stats|train|eval|fit-generator> [options]
       npm run train:har [-- options]      npm run eval:har [-- options]

Activity recognition on the HMP wrist-accelerometer dataset (${HAR_CLASSES.length} classes:
${HAR_CLASSES.join(', ')}). The dataset may not be redistributed: it is read from --data
(default: the shared copy ../shared/datasets/har/hmp). Get it from ${HMP_SOURCE}.

actions:
  stats            recordings per class and volunteer, median length, total minutes
  train            leave-subjects-out CV (fold models cached in .cache/har), then the final model
                   on every volunteer, written to --out with the CV metrics in its manifest
  eval             CV report (per class, confusion, per fold, float vs int8) and streaming
                   accuracy with and without smoothing (trains missing fold models)
  fit-generator    fit the synthetic IMU generator to HMP and write --out (a .gen.ts module)

options:
  --data DIR       HMP root (the folder holding Walk/, Climb_stairs/, ...)
  --out FILE       train: model path (default models/har.ern);
                   fit-generator: module path (default firmware-sim/imu/hmp-model.gen.ts)
  --folds N        leave-subjects-out folds by volunteer (default 8)
  --only 0,3       only these folds (quick looks; train then skips the final model)
  --skip-cv        train: the final model only (its manifest then has no CV metrics)
  --synthetic      eval: also train each fold on generator output only and score it on real data
  --seeds 1,2,3    eval: the CV once per seed (the recipe's seed replaced), then each seed's int8
                   accuracy, their mean and spread, and the ensemble (mean posterior of the seeds)
  --cache DIR      fold-model cache (default .cache/har)
  --recipe JSON    train/eval: override fields of the recipe, e.g. '{"hidden":48,"windowSize":96}'
                   (fold models are cached per recipe, so variants do not overwrite each other)
  --created-at T   manifest time (default SOURCE_DATE_EPOCH, else now)
  --json           machine-readable summary`;

interface Loaded {
  ds: HmpDataset;
  cacheDir: string;
  folds: number;
  only: number[] | undefined;
}

function load(values: Record<string, unknown>, ctx: CliContext): Loaded {
  // Arguments first: a usage error is exit 2 whether or not the dataset is there.
  const folds = numberFlag(values.folds, 'folds', { integer: true, min: 2, max: 16 }) ?? 8;
  const only = typeof values.only === 'string' ? values.only.split(',').map((s) => numberFlag(s.trim(), 'only', { integer: true, min: 0, max: folds - 1 })!) : undefined;
  const cacheDir = typeof values.cache === 'string' ? path.resolve(ctx.cwd, values.cache) : defaultCacheDir();
  const data = typeof values.data === 'string' ? path.resolve(ctx.cwd, values.data) : undefined;
  const ds = loadHmp(data, { activities: HAR_CLASSES });
  return { ds, cacheDir, folds, only };
}

type CvExtra = Pick<CvOptions, 'kind' | 'trainSet'>;

function cv(l: Loaded, recipe: HarRecipe, ctx: CliContext, extra: CvExtra = {}): FoldModels[] {
  return crossValidationModels(l.ds, recipe, {
    folds: l.folds,
    cacheDir: l.cacheDir,
    ...(l.only ? { only: l.only } : {}),
    ...extra,
    log: (s) => ctx.stderr.write(`${s}\n`),
    onEpoch: (fold, stage, e) => ctx.stderr.write(`  fold ${fold} ${stage} epoch ${e.epoch}: loss ${e.trainLoss.toFixed(3)}, val loss ${e.valLoss.toFixed(3)}, val acc ${(100 * (e.valAccuracy ?? 0)).toFixed(1)}% (${e.seconds.toFixed(0)} s)\n`),
  });
}

interface CvRun {
  models: FoldModels[];
  summary: CvSummary;
  perRecording: StreamAccuracy[];
  continuous: StreamAccuracy[];
}

async function runCv(l: Loaded, recipe: HarRecipe, ctx: CliContext, extra: CvExtra = {}): Promise<CvRun> {
  const models = cv(l, recipe, ctx, extra);
  const rt = await createRuntime();
  const scores = await scoreFolds(rt, l.ds, models);
  const summary = summarizeCv(scores);
  const int8Scores = scores.flatMap((s) => s.int8);
  const perRecording = SMOOTHING_VARIANTS.map((v) => smoothedRecordingAccuracy(int8Scores, v));
  const continuous = await continuousAccuracy(
    models.map((m) => ({ int8: m.int8, test: l.ds.recordings.filter((r) => m.fold.test.includes(r.volunteer)) })),
    SMOOTHING_VARIANTS,
    rt,
  );
  return { models, summary, perRecording, continuous };
}

const r4 = (v: number): number => round(v, 4);

/** The CV numbers the manifest keeps (rounded, no per-window arrays). */
function manifestMetrics(run: CvRun, folds: number): Record<string, unknown> {
  const cls = (rep: CvSummary['int8']['recording']) => ({
    accuracy: r4(rep.accuracy),
    macroF1: r4(rep.macroF1),
    perClass: Object.fromEntries(rep.perClass.map((c) => [c.label, { precision: r4(c.precision), recall: r4(c.recall), f1: r4(c.f1), support: c.support }])),
    confusion: rep.confusion,
  });
  return {
    protocol: `leave-subjects-out, ${folds} folds by volunteer (GroupKFold rule), every recording of the ${HAR_CLASSES.length} classes predicted once by a model that never saw its volunteer; recording label = argmax of the mean window posterior; withLength: argmax of ln(mean posterior) + ln N(ln seconds) of the fold's per-class recording-length model (fitted on its training volunteers)`,
    int8: {
      recording: cls(run.summary.int8.recording),
      withLength: cls(run.summary.int8.withLength),
      window: { accuracy: r4(run.summary.int8.window.accuracy), macroF1: r4(run.summary.int8.window.macroF1) },
    },
    float: { recording: { accuracy: r4(run.summary.float.recording.accuracy), macroF1: r4(run.summary.float.recording.macroF1) }, window: { accuracy: r4(run.summary.float.window.accuracy) } },
    perFold: run.summary.perFold.map((f) => ({ fold: f.fold, test: f.test, recordings: f.recordings, int8: r4(f.int8Recording), int8WithLength: r4(f.int8WithLength), float: r4(f.floatRecording) })),
    streaming: {
      perRecording: run.perRecording.map((s) => ({ smoothing: s.variant, window: r4(s.windowAccuracy), recording: r4(s.recordingAccuracy) })),
      continuous: run.continuous.map((s) => ({ smoothing: s.variant, window: r4(s.windowAccuracy), recording: r4(s.recordingAccuracy) })),
    },
    anchor: 'random forest on per-recording summary statistics: 73.8% (same nine classes, 8 folds by volunteer; issue 5)',
  };
}

function report(run: CvRun, title: string): string {
  return [
    `## ${title}`,
    '',
    headlineTable([{ name: title, s: run.summary }], { length: true }),
    '',
    '### Per class (recordings)',
    '',
    perClassTable(run.summary.float.recording, run.summary.int8.recording),
    '',
    '### Confusion (int8, recordings)',
    '',
    confusionTable(run.summary.int8.recording),
    '',
    "### Confusion (int8, recordings, with their length: each fold's duration model)",
    '',
    confusionTable(run.summary.int8.withLength),
    '',
    '### Per class (windows)',
    '',
    perClassTable(run.summary.float.window, run.summary.int8.window),
    '',
    '### Per fold',
    '',
    foldTable(run.summary),
    '',
    '### Streaming (int8)',
    '',
    streamTable(run.perRecording, run.continuous),
    '',
  ].join('\n');
}

/** Recipe fields absent from the default, with their type's default. */
const OPTIONAL_RECIPE_FIELDS: Record<string, unknown> = { syntheticMix: 0, bidirectional: false, volunteerBalance: 0 };

/** HAR_RECIPE with the --recipe overrides: known fields only, each of the default's type. */
export function recipeFrom(json: unknown): HarRecipe {
  if (json === undefined) return HAR_RECIPE;
  let o: unknown;
  try {
    o = JSON.parse(String(json));
  } catch (e) {
    throw usageError(`--recipe must be a JSON object, got ${JSON.stringify(json)} (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw usageError(`--recipe must be a JSON object, got ${JSON.stringify(json)}`);
  const r: Record<string, unknown> = { ...HAR_RECIPE };
  for (const [k, v] of Object.entries(o)) {
    if (!(k in HAR_RECIPE) && !(k in OPTIONAL_RECIPE_FIELDS)) throw usageError(`--recipe: unknown field '${k}': expected one of ${[...Object.keys(HAR_RECIPE), ...Object.keys(OPTIONAL_RECIPE_FIELDS)].join(', ')}`);
    const d = (HAR_RECIPE as unknown as Record<string, unknown>)[k] ?? OPTIONAL_RECIPE_FIELDS[k];
    const kindOf = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);
    if (kindOf(v) !== kindOf(d) && !(k === 'augment' && (v === null || kindOf(v) === 'object'))) throw usageError(`--recipe: field '${k}' must be ${kindOf(d)}, got ${JSON.stringify(v)}`);
    r[k] = k === 'augment' && v !== null ? augmentFrom(v as Record<string, unknown>) : v;
  }
  checkRecipeValues(r as unknown as HarRecipe);
  return r as unknown as HarRecipe;
}

/**
 * --recipe's augment: fields of DEFAULT_AUGMENT over its defaults. A partial object used to
 * replace the whole default, and the fields it left out trained on NaN codes without a word.
 */
function augmentFrom(v: Record<string, unknown>): AugmentOptions {
  const out: Record<string, number> = { ...DEFAULT_AUGMENT };
  for (const [k, x] of Object.entries(v)) {
    if (!(k in DEFAULT_AUGMENT)) throw usageError(`--recipe: unknown augment field '${k}': expected ${Object.keys(DEFAULT_AUGMENT).join(', ')}`);
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw usageError(`--recipe: augment.${k} must be a number >= 0, got ${JSON.stringify(x)}`);
    out[k] = x;
  }
  return out as unknown as AugmentOptions;
}

/** Values a recipe cannot train with: usage errors (exit 2) before the dataset is read. */
function checkRecipeValues(r: HarRecipe): void {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw usageError(`--recipe: field '${field}' must be ${expected}, got ${JSON.stringify(got)}`);
  };
  const positiveInts = ['rateHz', 'windowSize', 'hop', 'trainHop', 'hidden', 'layers', 'epochs', 'patience', 'batchSize'] as const;
  for (const f of positiveInts) if (!Number.isInteger(r[f]) || r[f] < 1) fail(f, 'an integer >= 1', r[f]);
  for (const f of ['maxWindowsPerRecording', 'pruneEpochs', 'qatEpochs', 'seed', 'syntheticMix'] as const) {
    const v = r[f];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) fail(f, 'an integer >= 0', v);
  }
  // 0 would not mean "off": every recording would get one window.
  if (r.volunteerBalance !== undefined && !(Number.isInteger(r.volunteerBalance) && r.volunteerBalance >= 1)) fail('volunteerBalance', 'an integer >= 1', r.volunteerBalance);
  for (const f of ['lr', 'padSeconds', 'dropout'] as const) if (!Number.isFinite(r[f]) || r[f] < 0) fail(f, 'a number >= 0', r[f]);
  if (!(r.lr > 0)) fail('lr', 'a number > 0', r.lr);
  if (!(r.dropout < 1)) fail('dropout', 'in [0, 1)', r.dropout);
  if (!(r.valFraction >= 0 && r.valFraction < 1)) fail('valFraction', 'in [0, 1)', r.valFraction);
  if (!(r.pruneSparsity >= 0 && r.pruneSparsity < 1)) fail('pruneSparsity', 'in [0, 1)', r.pruneSparsity);
  if (!['gru', 'lstm', 'rnn'].includes(r.arch)) fail('arch', "one of 'gru', 'lstm', 'rnn'", r.arch);
  if (r.classWeights !== 'none' && r.classWeights !== 'balanced') fail('classWeights', "'none' or 'balanced'", r.classWeights);
  if (!r.denseHidden.every((n) => Number.isInteger(n) && n >= 1)) fail('denseHidden', 'a list of integers >= 1', r.denseHidden);
}

async function train(values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const recipe = recipeFrom(values.recipe);
  const created = createdAt(values as Record<string, string | boolean | undefined>); // before the hour of training, not after it
  checkOutputPath(typeof values.out === 'string' ? values.out : 'models/har.ern', ctx, '--out');
  const l = load(values, ctx);
  let metrics: Record<string, unknown> | undefined;
  let run: CvRun | undefined;
  if (!values['skip-cv']) {
    run = await runCv(l, recipe, ctx);
    metrics = manifestMetrics(run, l.folds);
    if (!values.json) ctx.stdout.write(`${report(run, 'leave-subjects-out CV')}\n`); // --json: JSON alone
    if (l.only) {
      ctx.stdout.write(values.json ? `${JSON.stringify({ output: null, cv: metrics })}\n` : '--only given: a partial CV, no model written\n');
      return 0;
    }
  }
  ctx.stderr.write(`final model: training on all ${l.ds.recordings.length} recordings\n`);
  const tr = trainHar(l.ds.recordings, recipe, { source: HMP_DATASET_NAME, sha256: l.ds.sha256 }, {
    onEpoch: (stage, e) => ctx.stderr.write(`  final ${stage} epoch ${e.epoch}: loss ${e.trainLoss.toFixed(3)}, val loss ${e.valLoss.toFixed(3)}, val acc ${(100 * (e.valAccuracy ?? 0)).toFixed(1)}%\n`),
  });
  const commit = codeCommit();
  const spec: ModelSpec = {
    ...tr.int8,
    // How long each activity lasts, for labelling whole recordings or segments (src/detectors/har/duration.ts).
    extra: { ...tr.int8.extra, [SEGMENT_DURATION_KEY]: recordingDurations(l.ds.recordings, tr.frontend.inputRateHz) },
    name: 'har',
    version: '1.0.0',
    task: 'har',
    description: `Wrist activity recognition (${HAR_CLASSES.length} HMP motion primitives) from a 3-axis 6-bit accelerometer at 32 Hz: ${recipe.windowSize / recipe.rateHz} s windows every ${recipe.hop / recipe.rateHz} s, ${recipe.arch.toUpperCase()} ${recipe.hidden}, int8`,
    training: {
      ...tr.int8.training,
      dataset: HMP_DATASET_NAME,
      datasetSha256: l.ds.sha256,
      datasetSource: HMP_SOURCE,
      datasetLicense: 'research use; no redistribution (the model is shipped, never the data)',
      classes: { kept: [...HAR_CLASSES], excluded: HAR_EXCLUDED, why: 'the nine motion primitives of the dataset manual; the five complete gestures are left out (3-31 recordings from 1-5 volunteers each)' },
      recipe: { ...recipe },
      finalTraining: { recordings: tr.trainRecordings + tr.valRecordings, windows: tr.trainWindows, bestEpoch: tr.bestEpoch, epochsRun: tr.history.length },
      ...(metrics ? { metrics: { leaveSubjectsOut: metrics } } : {}),
      ...(commit ? { codeCommit: commit } : {}),
      createdAt: created,
    },
  };
  const bytes = encodeModel(spec, { goldenSteps: recipe.windowSize });
  const out = path.resolve(ctx.cwd, typeof values.out === 'string' ? values.out : 'models/har.ern');
  makeDirs(path.dirname(out));
  writeOutputFile(out, bytes); // whole or not at all: a full disk truncated the previous model
  // Decoding proves the file is well-formed before anyone ships it.
  decodeModel(bytes, out);
  const summary = { output: out, bytes: bytes.length, ...(run ? { int8RecordingAccuracy: run.summary.int8.recording.accuracy, floatRecordingAccuracy: run.summary.float.recording.accuracy } : {}) };
  if (values.json) ctx.stdout.write(`${JSON.stringify(summary)}\n`);
  else ctx.stdout.write(`wrote ${path.relative(ctx.cwd, out)} (${bytes.length} bytes, int8)${run ? `: leave-subjects-out int8 recording accuracy ${(100 * run.summary.int8.recording.accuracy).toFixed(1)}%` : ''}\n`);
  return 0;
}

async function evaluate(values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const recipe = recipeFrom(values.recipe);
  const seeds = typeof values.seeds === 'string' ? seedList(values.seeds) : null;
  const l = load(values, ctx);
  if (seeds) return seedReport(seeds, recipe, l, values.json === true, ctx);
  const run = await runCv(l, recipe, ctx);
  const out: Record<string, unknown> = { real: manifestMetrics(run, l.folds) };
  if (!values.json) ctx.stdout.write(`${report(run, 'trained on real recordings')}\n`);
  if (values.synthetic) {
    const syn = await runCv(l, recipe, ctx, {
      kind: 'synthetic',
      trainSet: (recs, fold) => synthesizeLike(fitHmpGenerator(recs, l.ds.sha256), recs, 1000 + fold.index),
    });
    out.synthetic = manifestMetrics(syn, l.folds);
    if (!values.json) {
      ctx.stdout.write(`${report(syn, 'trained only on generator output (fitted to the fold\'s training volunteers), scored on real held-out volunteers')}\n`);
      ctx.stdout.write(`${headlineTable([{ name: 'real training data', s: run.summary }, { name: 'synthetic only', s: syn.summary }])}\n`);
    }
  }
  if (values.json) ctx.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
}

function seedList(list: string): number[] {
  const seeds = list.split(',').map((x) => numberFlag(x.trim(), 'seeds', { integer: true, min: 0 })!);
  if (seeds.length < 2 || new Set(seeds).size !== seeds.length) throw usageError(`--seeds needs two or more different integers, got '${list}'`);
  return seeds;
}

/**
 * The recipe's spread over seeds: one CV per seed (cached like any recipe), each seed's int8
 * per-recording accuracy, and the ensemble that averages the seeds' mean posteriors.
 */
async function seedReport(seeds: number[], recipe: HarRecipe, l: Loaded, json: boolean, ctx: CliContext): Promise<number> {
  const rt = await createRuntime();
  const C = HAR_CLASSES.length;
  const pooled = new Map<string, { y: number; sum: Float64Array; seconds: number; duration: DurationModel }>();
  const rows: { seed: number; accuracy: number; withLength: number }[] = [];
  for (const seed of seeds) {
    const folds = await scoreFolds(rt, l.ds, cv(l, { ...recipe, seed }, ctx));
    let ok = 0;
    let okLength = 0;
    let n = 0;
    for (const f of folds) {
      for (const s of f.int8) {
        const m = meanPosterior(s, C);
        if (argmax(m) === s.y) ok++;
        if (classifySegment(m, s.seconds, f.duration) === s.y) okLength++;
        n++;
        const e = pooled.get(s.file) ?? { y: s.y, sum: new Float64Array(C), seconds: s.seconds, duration: f.duration };
        for (let c = 0; c < C; c++) e.sum[c] = e.sum[c]! + m[c]!;
        pooled.set(s.file, e);
      }
    }
    rows.push({ seed, accuracy: ok / n, withLength: okLength / n });
  }
  let ok = 0;
  let okLength = 0;
  for (const e of pooled.values()) {
    if (argmax(e.sum) === e.y) ok++;
    if (classifySegment(e.sum.map((v) => v / seeds.length), e.seconds, e.duration) === e.y) okLength++;
  }
  const spread = (accs: number[]) => {
    const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
    return { mean, sd: Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / (accs.length - 1)) };
  };
  const { mean, sd } = spread(rows.map((r) => r.accuracy));
  const length = spread(rows.map((r) => r.withLength));
  const ensemble = ok / pooled.size;
  const ensembleWithLength = okLength / pooled.size;
  if (json) {
    ctx.stdout.write(`${JSON.stringify({ seeds: rows, mean, sd, ensemble, withLength: { mean: length.mean, sd: length.sd, ensemble: ensembleWithLength }, recordings: pooled.size })}
`);
    return 0;
  }
  const pct = (x: number): string => (100 * x).toFixed(1);
  const lines = ['| seed | int8 recording accuracy | + recording length |', '| --- | ---: | ---: |', ...rows.map((r) => `| ${r.seed} | ${pct(r.accuracy)} | ${pct(r.withLength)} |`)];
  lines.push(`| mean ± sd | ${pct(mean)} ± ${pct(sd)} | ${pct(length.mean)} ± ${pct(length.sd)} |`, `| ensemble (mean posterior of the seeds) | ${pct(ensemble)} | ${pct(ensembleWithLength)} |`);
  ctx.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function fitGenerator(values: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const data = typeof values.data === 'string' ? path.resolve(ctx.cwd, values.data) : undefined;
  const outArg = typeof values.out === 'string' ? values.out : 'firmware-sim/imu/hmp-model.gen.ts';
  checkOutputPath(outArg, ctx, '--out'); // a usage error (exit 2) before the dataset is read and fitted
  const ds = loadHmp(data, { activities: HAR_CLASSES });
  const model = fitHmpGenerator(ds.recordings, ds.sha256);
  const out = path.resolve(ctx.cwd, outArg);
  makeDirs(path.dirname(out));
  writeOutputFile(out, writeGeneratorModule(model));
  ctx.stdout.write(`wrote ${path.relative(ctx.cwd, out)}: ${model.activities.length} activities from ${ds.recordings.length} recordings (sensor noise ${model.sensor.noiseG} g)\n`);
  return 0;
}

/** The flags each action reads; any other is a usage error, not silently ignored (`train --seeds 1,2` trained one seed for an hour). */
const ACTION_FLAGS: Record<string, readonly string[]> = {
  stats: ['data', 'json'],
  train: ['data', 'out', 'folds', 'only', 'skip-cv', 'cache', 'recipe', 'created-at', 'json'],
  eval: ['data', 'folds', 'only', 'synthetic', 'seeds', 'cache', 'recipe', 'json'],
  'fit-generator': ['data', 'out'],
};

function checkFlagsOf(action: string, values: Record<string, unknown>): void {
  const allowed = ACTION_FLAGS[action];
  if (!allowed) return; // an unknown action is reported by the dispatcher
  for (const [flag, v] of Object.entries(values)) {
    if (v !== undefined && flag !== 'help' && !allowed.includes(flag)) throw usageError(`--${flag} does not apply to ${action}: it takes ${allowed.map((f) => `--${f}`).join(', ')}`);
  }
}

export const harCommand: Command = {
  name: 'har',
  summary: 'activity recognition on HMP: class stats, leave-subjects-out CV, train models/har.ern, IMU generator fit',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        data: { type: 'string' },
        out: { type: 'string' },
        folds: { type: 'string' },
        only: { type: 'string' },
        'skip-cv': { type: 'boolean' },
        synthetic: { type: 'boolean' },
        seeds: { type: 'string' },
        cache: { type: 'string' },
        recipe: { type: 'string' },
        'created-at': { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1, names: 'an action (stats, train, eval, fit-generator)' },
    );
    const action = positionals[0]!;
    checkFlagsOf(action, values);
    if (action === 'stats') {
      const data = typeof values.data === 'string' ? path.resolve(ctx.cwd, values.data) : undefined;
      const all = loadHmp(data);
      if (values.json) ctx.stdout.write(`${JSON.stringify(all.recordings.map((r) => ({ activity: r.activity, volunteer: r.volunteer, samples: r.samples })))}\n`);
      else ctx.stdout.write(`${statsTable(all.recordings, HMP_RATE_HZ)}\n\nbold: the ${HAR_CLASSES.length} classes kept (${all.recordings.filter((r) => (HAR_CLASSES as readonly string[]).includes(r.activity)).length} recordings); dataset sha256 ${all.sha256}\n`);
      return 0;
    }
    if (action === 'train') return train(values, ctx);
    if (action === 'eval') return evaluate(values, ctx);
    if (action === 'fit-generator') return fitGenerator(values, ctx);
    throw usageError(`unknown action '${action}': expected stats, train, eval or fit-generator`);
  },
};
