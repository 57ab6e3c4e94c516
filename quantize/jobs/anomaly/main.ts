#!/usr/bin/env node
/**
 * `npm run train:anomaly`: trains models/anomaly.ern (see shipped.ts) and records its metrics.
 *
 *   npm run train:anomaly -- [--data DIR] [--labels FILE] [-o FILE] [--seed N] [--epochs N]
 *                            [--created-at ISO] [--skip-nab]
 *
 * Defaults: ../shared/datasets/nab (data/ and labels/combined_windows.json), -o models/anomaly.ern,
 * created-at SOURCE_DATE_EPOCH or 2026-01-01T00:00:00.000Z (fixed, so the same code, seed and data
 * give the same bytes). The labels file only selects the 58 series and is used for the NAB score
 * in the manifest (the detector never sees it). Node-only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForecastModelDetector, FORECAST_ANOMALY_DEFAULTS, SyncModelLoader, encodeModel, isEdgeRnnError } from '../../../src/index.js';
import { numberFlag, parseFlags } from '../../../src/cli/framework.js';
import { checkOutputPath, createdAt } from '../../cli/common.js';
import { evaluateRun, loadNabCorpus, runDetector, type NabCorpus } from '../../eval/nab/index.js';
import { encodeShipped, forecastErrors, SHIPPED_TRAIN_DEFAULTS, trainShippedModel } from './shipped.js';
import { makeDirs } from '../../../src/io/files.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url)); // import.meta.dirname needs Node 20.11

function fail(message: string): never {
  process.stderr.write(`train:anomaly: ${message}\n`);
  process.exit(1);
}

/** The header comment above, as the help text. */
const HELP = fs.readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]!.replace(/^#!.*\n\/\*\*\n/, '').replace(/^ \* ?/gm, '').trimEnd() + '\n';

/**
 * The arguments, with the desktop commands' own checks (src/cli/framework.ts, quantize/cli/common.ts):
 * a bad one prints the message and the usage, exit code 2 (an unknown flag printed a stack trace,
 * exit 1; -o naming a folder failed only when written, after the training).
 */
function parseArguments() {
  try {
    const { values } = parseFlags(
      process.argv.slice(2),
      {
        data: { type: 'string' },
        labels: { type: 'string' },
        output: { type: 'string', short: 'o' },
        seed: { type: 'string' },
        epochs: { type: 'string' },
        'created-at': { type: 'string' },
        'skip-nab': { type: 'boolean' },
      },
      { min: 0, max: 0, names: '' },
    );
    if (values.help) {
      process.stdout.write(HELP);
      process.exit(0);
    }
    const ctx = { cwd: process.cwd() };
    if (typeof values.output === 'string') checkOutputPath(values.output, ctx, '-o');
    return {
      values,
      seed: numberFlag(values.seed, 'seed', { min: 1, integer: true }) ?? SHIPPED_TRAIN_DEFAULTS.seed,
      epochs: numberFlag(values.epochs, 'epochs', { min: 1, integer: true }) ?? SHIPPED_TRAIN_DEFAULTS.epochs,
      // Fixed by default (not the time of the run): the same code, seed and data give the same bytes.
      createdAt: createdAt(values, () => Date.parse('2026-01-01T00:00:00.000Z')),
    };
  } catch (e) {
    if (!isEdgeRnnError(e, 'USAGE')) throw e;
    process.stderr.write(`train:anomaly: ${e.message}\n\n${HELP}`);
    process.exit(2);
  }
}
const { values, seed, epochs, createdAt: createdAtIso } = parseArguments();
const nabRoot = path.resolve(REPO, '../shared/datasets/nab');
const dataDir = path.resolve((values.data as string | undefined) ?? path.join(nabRoot, 'data'));
const labelsPath = path.resolve((values.labels as string | undefined) ?? path.join(nabRoot, 'labels/combined_windows.json'));
const output = path.resolve((values.output as string | undefined) ?? path.join(REPO, 'models/anomaly.ern'));
// The arguments are checked first (usage errors, exit 2), then the data (exit 1).
if (!fs.existsSync(dataDir) || !fs.existsSync(labelsPath)) {
  fail(`NAB corpus not found (${dataDir}, ${labelsPath}): get it from https://github.com/numenta/NAB (data/ and labels/) and pass --data DIR --labels FILE`);
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const t0 = performance.now();
const corpus: NabCorpus = loadNabCorpus({ dataDir, labelsPath });
log(`corpus: ${corpus.series.length} series; training on their probationary periods`);
const options = { ...SHIPPED_TRAIN_DEFAULTS, seed, epochs };
const trained = trainShippedModel(corpus, options);
log(`trained: ${trained.train.length} training + ${trained.val.length} validation windows (the last ${Math.round(options.valFraction * 100)}% of each series held out) from ${trained.data.records} records, best epoch ${trained.bestEpoch} of ${trained.epochsRun} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);

const simd = new SyncModelLoader({ backend: 'simd' });
const floatBytes = encodeModel(trained.float);
const int8Bytes = encodeModel(trained.int8);
const valFloat = forecastErrors(simd, floatBytes, trained.val);
const valInt8 = forecastErrors(simd, int8Bytes, trained.val);
const round = (x: number, d = 5): number => Number(x.toPrecision(d));
const metrics: Record<string, unknown> = {
  trainingWindows: trained.train.length,
  validationWindows: trained.val.length,
  validationSplit: `by time: the last ${Math.round(options.valFraction * 100)}% of each series' frames after the warm-up; no validation window shares a frame with a training window`,
  validationMse: { float32: round(valFloat.model), int8: round(valInt8.model), persistence: round(valFloat.persistence), runningMean: round(valFloat.zero) },
  bestEpoch: trained.bestEpoch,
  epochsRun: trained.epochsRun,
};
log(`validation MSE (next frame, running-std units): float ${valFloat.model.toFixed(4)}, int8 ${valInt8.model.toFixed(4)}, persistence ${valFloat.persistence.toFixed(4)}, running mean ${valFloat.zero.toFixed(4)}`);

const detector = {
  errorGain: FORECAST_ANOMALY_DEFAULTS.errorGain,
  ...FORECAST_ANOMALY_DEFAULTS.likelihood,
  ...FORECAST_ANOMALY_DEFAULTS.alert,
};
if (!values['skip-nab']) {
  // The gateway path on NAB: front end → model → ForecastAnomalyDetector, same model for every file.
  const nab: Record<string, Record<string, number>> = {};
  for (const [precision, bytes] of [['float32', floatBytes], ['int8', int8Bytes]] as const) {
    const model = simd.load(bytes, 'anomaly.ern');
    const run = runDetector(corpus, { name: 'gru-shipped', summary: '', create: () => new ForecastModelDetector('gru-shipped', model) });
    const ev = evaluateRun(corpus, run);
    nab[precision] = Object.fromEntries(ev.profiles.map((p) => [p.profile, round(p.normalizedScore, 4)]));
    log(`NAB (${precision}, gateway detector with this model on every file): ${ev.profiles.map((p) => `${p.profile} ${p.normalizedScore.toFixed(2)}`).join(', ')}`);
  }
  metrics.nab = { ...nab, note: 'normalized NAB scores (sweep thresholds over the corpus) of ForecastModelDetector with this model; the model was trained on the probationary periods of these same 58 series (never on scored records or labels)' };
}

const hyperparameters: Record<string, unknown> = { ...options, arch: 'gru', task: 'forecast', calibration: 'minmax, input range ±clip' };
const bytes = encodeShipped(trained.int8, { metrics, hyperparameters, detector, createdAt: createdAtIso });
makeDirs(path.dirname(output));
fs.writeFileSync(output, bytes);
log(`wrote ${path.relative(process.cwd(), output)} (${bytes.length} bytes) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
