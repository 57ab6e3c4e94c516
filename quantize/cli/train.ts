import fs from 'node:fs';
import path from 'node:path';
import { AUDIO_FRONTEND_KINDS, createRuntime, encodeModel, validateAudioSpec, type ModelSpec, type RecurrentKind } from '../../src/index.js';
import { choiceFlag, numberFlag, parseFlags, usageError, type Command } from '../../src/cli/framework.js';
import { Progress } from '../../src/cli/progress.js';
import { TRAIN_TASKS, type TrainTask } from '../data/dataset.js';
import { evaluateModel, headline, type ModelEvaluation } from '../eval/evaluate-model.js';
import { CALIBRATION_METHODS, calibrateAndQuantize } from '../quant/calibrate.js';
import { writeRunReport } from '../report/run-report.js';
import { SCHEDULES, DEFAULT_TRAIN_OPTIONS, type FitResult, type TrainOptions } from '../train/trainer.js';
import { trainModel } from '../train/train-model.js';
import { checkDataFlags, checkOutputPath, checkOutputsDistinct, codeCommit, createdAt, csvOptions, DATA_FLAGS, dataHelp, epochProgress, loadData, noteUnresolvedInputs, requireString, round, writeFile } from './common.js';

const D = DEFAULT_TRAIN_OPTIONS;
/**
 * Between the windows a classifier of WAV clips is served in: a decision every 100 ms, as the
 * keyword model's (models/kws.ern: 1.5 s every 100 ms). A spoken word lasts 300 to 800 ms, so
 * several windows hold it whole; a 1 s clip of 10 ms frames costs 98 / 10 ≈ 10 frames stepped
 * per frame of audio.
 */
const WAV_WINDOW_HOP_MS = 100;

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a GRU/LSTM/RNN model on sequences and write a .ern file',
  help: `usage: edgernn train -d|--data D -o model.ern [--val V] [--task classify|forecast|autoencoder]
                     [--arch gru|lstm|rnn] [--hidden H] [--layers L] [--epochs N] [options]

Trains with BPTT and Adam, keeps the weights of the best validation epoch, and writes a float32
model (default) or, with --int8, an int8 model quantized after training with calibration on the
training data. The manifest records the dataset sha256, hyperparameters, metrics, code commit
and time. Inputs (and regression targets) are standardized during training and the statistics
are folded into the first and last layers, so the model takes raw features.

model:
  --task T            classify (one label per sequence, read at the last step), forecast
                      (per-step targets), autoencoder (reconstructs the last --window frames at
                      every step through a bottleneck; score = reconstruction error)  [${D.task}]
  --arch A            gru, lstm or rnn                                              [${D.arch}]
  --hidden H          units per recurrent layer                                     [${D.hidden}]
  --layers L          stacked recurrent layers                                      [${D.layers}]
  --bidirectional     both directions (offline: the model then needs whole sequences)
  --dense A,B         hidden dense (relu) layers before the output layer
  --window W          autoencoder frames per reconstruction                         [${D.window}]
  --bottleneck K      autoencoder code width (0: window*features/4)                 [auto]
  --serve S           how the gateway serves a classifier trained on a CSV or a WAV folder:
                      windows (as trained, each from a reset state: the last --seq-len rows
                      every --stride; the last clip's frames, 1 s, every 100 ms) or session
                      (one never-reset session, a decision per row or frame)        [windows]
optimization:
  --epochs N          maximum epochs                                                [${D.epochs}]
  --batch-size N                                                                    [${D.batchSize}]
  --lr X              peak learning rate                                            [${D.lr}]
  --optimizer O       adam or adamw                                                 [${D.optimizer}]
  --weight-decay X    L2 (adam) or decoupled (adamw) decay on weights               [${D.weightDecay}]
  --clip-norm X       global gradient-norm clip, 0 = off                            [${D.clipNorm}]
  --schedule S        plateau (halve on stalls), cosine, constant                   [${D.schedule}]
  --warmup N          linear warm-up epochs                                         [${D.warmupEpochs}]
  --dropout P         dropout between layers                                        [${D.dropout}]
  --tbptt K           truncated BPTT window in steps (0 = whole sequences)          [${D.tbptt}]
  --patience N        epochs without validation improvement before stopping; counts
                      only once the model beats the trivial predictor               [${D.patience}]
  --val-split F       held-out fraction when --val is not given (stratified)        [${D.valSplit}]
  --class-weights W   none, balanced, or a comma list per class                     [none]
  --forget-bias X     LSTM forget-gate / GRU update-gate bias at init               [${D.forgetBias}]
  --seed N            seeds init, shuffling, dropout, split: same seed, same weights
                      (the same bytes need --created-at too)                        [${D.seed}]
output:
  -o, --output FILE   the .ern to write (required)
  --int8              write int8 (post-training quantization, --calib-method)
  --calib-method M    minmax, percentile or mse                                     [mse]
  --name NAME         model name
  --created-at ISO    manifest time (default SOURCE_DATE_EPOCH or now)
  --report FILE       self-contained HTML report of the run
  --json              print one JSON object with the metrics

${dataHelp([['--data', '--labels'], ['--val', '--val-labels']])}`,
  async run(args, ctx) {
    const { values } = parseFlags(
      args,
      {
        data: { type: 'string', short: 'd' },
        val: { type: 'string' },
        'val-labels': { type: 'string' },
        task: { type: 'string' },
        arch: { type: 'string' },
        hidden: { type: 'string' },
        layers: { type: 'string' },
        bidirectional: { type: 'boolean' },
        dense: { type: 'string' },
        window: { type: 'string' },
        bottleneck: { type: 'string' },
        serve: { type: 'string' },
        epochs: { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        optimizer: { type: 'string' },
        'weight-decay': { type: 'string' },
        'clip-norm': { type: 'string' },
        schedule: { type: 'string' },
        warmup: { type: 'string' },
        dropout: { type: 'string' },
        tbptt: { type: 'string' },
        patience: { type: 'string' },
        'val-split': { type: 'string' },
        'class-weights': { type: 'string' },
        'forget-bias': { type: 'string' },
        seed: { type: 'string' },
        output: { type: 'string', short: 'o' },
        int8: { type: 'boolean' },
        'calib-method': { type: 'string' },
        name: { type: 'string' },
        'created-at': { type: 'string' },
        report: { type: 'string' },
        json: { type: 'boolean' },
        ...DATA_FLAGS,
      },
      { min: 0, max: 0, names: '' },
    );
    const dataPath = requireString(values.data, '--data');
    const out = requireString(values.output, '-o/--output');
    checkOutputPath(out, ctx, '-o/--output');
    if (typeof values.report === 'string') checkOutputPath(values.report, ctx, '--report');
    checkOutputsDistinct(
      [['-o/--output', out], ['--report', values.report]],
      [['--data', dataPath], ['--val', values.val], ['--labels', values.labels], ['--val-labels', values['val-labels']]],
      ctx,
    );
    const task = choiceFlag(values.task, 'task', TRAIN_TASKS) ?? D.task;
    // Options that would do nothing are usage errors (they were read and ignored).
    checkDataFlags(values, [['--data', '--labels'], ['--val', '--val-labels']]);
    if (values['val-split'] !== undefined && values.val !== undefined) throw usageError('--val-split holds out part of --data when there is no --val; with --val the validation data is that file');
    for (const flag of ['window', 'bottleneck']) {
      if (values[flag] !== undefined && task !== 'autoencoder') throw usageError(`--${flag} applies to --task autoencoder, not ${task}`);
    }
    if (values['class-weights'] !== undefined && task !== 'classify') throw usageError(`--class-weights applies to --task classify, not ${task}`);
    const serve = choiceFlag(values.serve, 'serve', ['windows', 'session'] as const) ?? 'windows';
    const wavFolder = fs.statSync(path.resolve(ctx.cwd, dataPath), { throwIfNoEntry: false })?.isDirectory() === true;
    if (values.serve !== undefined && (task !== 'classify' || (path.extname(dataPath).toLowerCase() !== '.csv' && !wavFolder))) throw usageError(`--serve applies to --task classify on CSV data (windows of --seq-len rows) or a WAV folder (windows of a clip's frames), not ${task} on ${dataPath}`);
    // An autoencoder's targets are its own input windows: labels were read and ignored.
    for (const flag of ['labels', 'val-labels']) {
      if (values[flag] !== undefined && task === 'autoencoder') throw usageError(`--${flag} applies to --task classify or forecast; an autoencoder's targets are its own input`);
    }
    for (const flag of ['horizon', 'target-columns']) {
      if (values[flag] !== undefined && task !== 'forecast') throw usageError(`--${flag} applies to --task forecast, not ${task}`);
    }
    const o: Partial<TrainOptions> = { task };
    const arch = choiceFlag(values.arch, 'arch', ['gru', 'lstm', 'rnn'] as const);
    if (arch) o.arch = arch as RecurrentKind;
    const num = (flag: string, key: keyof TrainOptions, opts: { min?: number; max?: number; integer?: boolean }): void => {
      const v = numberFlag(values[flag], flag, opts);
      if (v !== undefined) (o as Record<string, unknown>)[key] = v;
    };
    num('hidden', 'hidden', { min: 1, max: 1024, integer: true });
    num('layers', 'layers', { min: 1, max: 8, integer: true });
    num('window', 'window', { min: 1, max: 256, integer: true });
    num('bottleneck', 'bottleneck', { min: 0, integer: true });
    num('epochs', 'epochs', { min: 1, integer: true });
    num('batch-size', 'batchSize', { min: 1, integer: true });
    num('lr', 'lr', { min: 1e-9, max: 10 });
    num('weight-decay', 'weightDecay', { min: 0 });
    num('clip-norm', 'clipNorm', { min: 0 });
    num('warmup', 'warmupEpochs', { min: 0, integer: true });
    num('dropout', 'dropout', { min: 0, max: 0.95 });
    num('tbptt', 'tbptt', { min: 0, integer: true });
    num('patience', 'patience', { min: 1, integer: true });
    num('val-split', 'valSplit', { min: 0, max: 0.9 });
    num('forget-bias', 'forgetBias', {});
    num('seed', 'seed', { min: 0, max: 2 ** 31, integer: true });
    if (o.forgetBias !== undefined) o.updateBias = o.forgetBias;
    if (values.bidirectional) o.bidirectional = true;
    const opt = choiceFlag(values.optimizer, 'optimizer', ['adam', 'adamw'] as const);
    if (opt) o.optimizer = opt;
    const sched = choiceFlag(values.schedule, 'schedule', SCHEDULES);
    if (sched) o.schedule = sched;
    if (typeof values.dense === 'string') {
      o.denseHidden = values.dense.split(',').map((s) => {
        const n = /^\d+$/.test(s.trim()) ? Number(s) : NaN; // decimal only: Number('0x10') is 16
        if (!Number.isInteger(n) || n < 1) throw usageError(`--dense needs a comma list of positive integers, got '${values.dense}'`);
        return n;
      });
    }
    const cw = values['class-weights'];
    if (typeof cw === 'string') {
      if (cw === 'none' || cw === 'balanced') o.classWeights = cw;
      else {
        // Each entry a decimal number: Number('') is 0, so '1,,1' silently gave class 1 weight 0.
        o.classWeights = cw.split(',').map((entry) => {
          try {
            return numberFlag(entry, 'class-weights', { min: 0 })!;
          } catch {
            throw usageError(`--class-weights must be none, balanced or a comma list of weights >= 0, got '${cw}' (entry '${entry}')`);
          }
        });
      }
    }
    const calibMethod = choiceFlag(values['calib-method'], 'calib-method', CALIBRATION_METHODS) ?? 'mse';
    if (values['calib-method'] !== undefined && !values.int8) throw usageError('--calib-method applies to --int8 (quantizing after training)');
    const created = createdAt(values); // checked before the training, not after it
    // As the model file holds it (manifest.name): found when the model was encoded, after the training.
    if (typeof values.name === 'string' && !(values.name.length >= 1 && values.name.length <= 128)) throw usageError(`--name needs 1 to 128 characters, got ${values.name.length}`);

    const data = await loadData(dataPath, values, ctx, task as TrainTask);
    // The default CSV inputs are every numeric column but the label: a time or index column
    // among them only tells the model where in the file a window was. Said, not refused.
    for (const name of data.risingInputs ?? []) {
      ctx.stderr.write(`edgernn train: note: column '${name}' of ${dataPath} rises at every row (a time or index column?) and is a model input; --columns picks the inputs (now ${data.featureNames!.join(', ')})\n`);
    }
    // The input columns by name, given or found (every numeric column but the label): the
    // validation CSV, and later the calibration and evaluation CSVs (extra.data), are read by
    // them. Read by position, a file with its columns in another order was scored silently wrong.
    const csvColumns = /\.csv$/i.test(data.source) && data.featureNames ? { columns: data.featureNames } : undefined;
    const val = typeof values.val === 'string' ? await loadData(values.val, values, ctx, task as TrainTask, { ...(task === 'classify' ? { labels: data.labels } : {}), features: data.features, labelsFlag: 'val-labels', ...(csvColumns ? { csv: csvColumns } : {}) }) : undefined;
    const options = { ...D, ...o };
    const progress = new Progress(ctx.stderr, `train ${options.arch}${options.hidden}`, options.epochs);
    const result = trainModel({
      data,
      ...(val ? { val } : {}),
      options: o,
      ...(typeof values.name === 'string' ? { name: values.name } : {}),
      hooks: epochProgress(progress, (e) => `loss ${e.trainLoss.toFixed(4)} val ${e.valLoss.toFixed(4)}${e.valAccuracy !== undefined ? ` acc ${(100 * e.valAccuracy).toFixed(1)}%` : ''}`),
    });
    progress.done(`best epoch ${result.fit.bestEpoch}${result.fit.stoppedEarly ? ' (early stop)' : ''}`);

    const rt = await createRuntime();
    const evalProgress = new Progress(ctx.stderr, 'evaluate', result.val.length);
    const floatEval = await evaluateModel(rt, result.spec, result.val, { backend: 'float', onProgress: () => evalProgress.tick() });
    evalProgress.done();
    let final: ModelSpec = result.spec;
    let intEval: ModelEvaluation | undefined;
    if (values.int8) {
      final = calibrateAndQuantize(result.spec, result.train, { method: calibMethod });
      noteUnresolvedInputs(ctx, 'train', final, result.train);
      intEval = await evaluateModel(rt, final, result.val);
    }
    const metric = (e: ModelEvaluation): Record<string, number> => {
      const h = headline(e);
      const m: Record<string, number> = { [h.name]: round(h.value) };
      if (e.classification) m.macroF1 = round(e.classification.macroF1);
      if (e.regression) m.mae = round(e.regression.mae);
      return m;
    };
    const heldOut = !result.val.every((s, i) => s === result.train[i]);
    const metrics: Record<string, unknown> = {
      // splitValidation holds nothing out of fewer than 10 sequences or at --val-split 0.
      validation: val ? 'separate file' : heldOut ? `${options.valSplit} of the training data (seeded split)` : 'the training data itself (nothing held out)',
      validationSamples: result.val.length,
      float: metric(floatEval),
      ...(intEval ? { int8: metric(intEval) } : {}),
      bestEpoch: result.fit.bestEpoch,
      epochsRun: result.fit.epochsRun,
      stoppedEarly: result.fit.stoppedEarly,
      history: {
        trainLoss: result.fit.history.map((h) => round(h.trainLoss, 5)),
        valLoss: result.fit.history.map((h) => round(h.valLoss, 5)),
        ...(task === 'classify' ? { valAccuracy: result.fit.history.map((h) => round(h.valAccuracy ?? 0, 5)) } : {}),
      },
    };
    const commit = codeCommit();
    final.training = {
      ...final.training,
      dataset: data.source,
      datasetSha256: data.sha256,
      ...(val ? { validationDataset: val.source, validationSha256: val.sha256 } : {}),
      // calibrateAndQuantize's record (weight clipping, clipped rows, sequences) and the data it
      // read, as quantize writes them: the record was replaced by {method, dataset}.
      ...(values.int8 ? { calibration: { ...(final.training.calibration as Record<string, unknown>), dataset: data.source }, calibrationDataset: data.source, calibrationSha256: data.sha256 } : {}),
      metrics,
      ...(commit ? { codeCommit: commit } : {}),
      createdAt: created,
    };
    if (/\.csv$/i.test(data.source)) {
      const recorded = csvOptions(values);
      final.extra = { ...final.extra, data: { ...recorded, ...csvColumns } };
      // A classifier of CSV windows read its label at the last of --seq-len rows, from a reset
      // state: the gateway serves it so (the last --seq-len rows every --stride, each from a reset
      // state) instead of as one never-reset session with an output per row.
      if (task === 'classify' && serve === 'windows' && final.input.frontend.kind === 'none') {
        const frames = recorded.seqLen ?? 64;
        final.input = { ...final.input, frontend: { ...final.input.frontend, windows: { frames, hop: Math.min(frames, recorded.stride ?? Math.max(1, Math.floor(frames / 2))) } } };
      }
    }
    // A classifier of WAV clips read its label at the last frame of a clip (1 s), from a reset
    // state: the gateway serves it so, the last clip's frames every WAV_WINDOW_HOP_MS, each from a
    // reset state. As one never-reset session over a continuous stream (until 2026-11-27) it saw
    // what it was never trained on: state carried across words, and no clip boundaries.
    const audio = final.input.frontend;
    if (task === 'classify' && serve === 'windows' && data.frontend !== undefined && (AUDIO_FRONTEND_KINDS as readonly string[]).includes(audio.kind)) {
      const frames = data.samples[0]!.T;
      const hop = Math.max(1, Math.min(frames, Math.round(WAV_WINDOW_HOP_MS / validateAudioSpec(audio).hopMs)));
      final.input = { ...final.input, frontend: { ...audio, windows: { frames, hop } } };
    }
    const bytes = encodeModel(final);
    writeFile(out, ctx, bytes);
    if (typeof values.report === 'string') {
      writeFile(values.report, ctx, await writeRunReport({ title: `edgernn train: ${final.name}`, spec: final, floatSpec: result.spec, history: result.fit.history, evaluations: { float: floatEval, ...(intEval ? { int8: intEval } : {}) }, samples: result.val, scoredOn: val ? `${val.source} (--val)` : heldOut ? `${options.valSplit} of ${data.source}, held out (seeded split)` : `${data.source}, the training data itself (nothing held out)` }));
    }
    // The model written, as in quantize and prune: the float model's accuracy is in metrics.float.
    const written = intEval ?? floatEval;
    const summary = {
      output: out,
      bytes: bytes.length,
      precision: final.precision,
      task,
      ...(written.classification ? { accuracy: written.classification.accuracy } : {}),
      metrics,
    };
    if (values.json) ctx.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const f = headline(floatEval);
      const lines = [`wrote ${out} (${final.precision}, ${bytes.length} bytes)`, `  validation${val || heldOut ? '' : ' on the training data itself (nothing held out)'} ${f.name}: float ${fmt(f.name, f.value)}${intEval ? `, int8 ${fmt(f.name, headline(intEval).value)}` : ''}`, stopLine(result.fit, options)];
      ctx.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  },
};

/**
 * When training stopped, and why if patience ended it. "best epoch 59 of 59 (early stop)" hid the
 * --epochs asked for, and read as a contradiction when the last epoch was the best: the loss was
 * still falling, by less than minDelta of the trivial predictor's loss (near 0 that is all of it).
 */
function stopLine(fit: FitResult, o: Pick<TrainOptions, 'epochs' | 'patience' | 'minDelta'>): string {
  if (!fit.stoppedEarly) return `  best epoch ${fit.bestEpoch} of ${fit.epochsRun}`;
  const last = fit.history[fit.epochsRun - 1]!.valLoss;
  const p = (v: number) => Number(v.toPrecision(3));
  return `  best epoch ${fit.bestEpoch}; stopped at epoch ${fit.epochsRun} of ${o.epochs}: the validation loss (${p(last)}) improved by less than ${p(o.minDelta * fit.baselineLoss)} (minDelta ${o.minDelta} of the trivial predictor's ${p(fit.baselineLoss)}) for ${o.patience} epochs (--patience)`;
}

export function fmt(name: string, v: number): string {
  return name === 'accuracy' ? `${(100 * v).toFixed(2)}%` : v.toPrecision(4);
}
