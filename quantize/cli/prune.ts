import { createRuntime, encodeModel, type ModelSpec } from '../../src/index.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { choiceFlag, numberFlag, parseFlags, usageError, type Command } from '../../src/cli/framework.js';
import { Progress } from '../../src/cli/progress.js';
import { dataTaskOf } from '../data/dataset.js';
import { evaluateModel, headline, type ModelEvaluation } from '../eval/evaluate-model.js';
import { DEFAULT_BLOCK, type BlockShape } from '../prune/pruner.js';
import { pruneModel } from '../prune/prune-model.js';
import { CALIBRATION_METHODS, calibrateAndQuantize } from '../quant/calibrate.js';
import { writeRunReport } from '../report/run-report.js';
import { checkDataFlags, checkOutputPath, checkOutputsDistinct, codeCommit, createdAt, DATA_FLAGS, dataHelp, epochProgress, loadData, loadInputs, modelWavOptions, noteUnresolvedInputs, readModel, requireString, round, writeFile } from './common.js';
import { summaryTable } from './quantize.js';

export function parseBlock(v: unknown): BlockShape | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'none' || v === 'unstructured') return null;
  const m = typeof v === 'string' ? /^(\d+)x(\d+)$/.exec(v) : null;
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw usageError(`--block must be ROWSxCOLS (e.g. ${DEFAULT_BLOCK.rows}x${DEFAULT_BLOCK.cols}) or none, got '${String(v)}'`);
  return { rows: Number(m[1]), cols: Number(m[2]) };
}

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'magnitude-prune a float32 model while fine-tuning (Zhu & Gupta schedule)',
  help: `usage: edgernn prune MODEL.ern -d|--data D --sparsity S -o OUT.ern [--epochs N] [--block RxC|none]
                     [--scope layer|global] [--val V] [--int8 --calib D] [--json] [--report FILE]

Fine-tunes while raising sparsity on the cubic schedule of Zhu & Gupta (2017) over the first
--ramp of the epochs, then recovers at the final sparsity and keeps the best of those epochs.
Pruned weights are exact zeros; the manifest lists the sparsity of every matrix.
  --sparsity S        final fraction of zero weights, 0 <= S <= 0.99 (e.g. 0.75)
  -o, --output FILE   the .ern to write (float32; int8 with --int8)
  --epochs N          fine-tuning epochs                                          [30]
  --ramp F            fraction of the epochs that ramps the sparsity              [0.6]
  --block RxC         prune whole blocks of R output rows × C inputs, tiled like the
                      runtime's block-sparse kernel, or 'none' for single weights  [${DEFAULT_BLOCK.rows}x${DEFAULT_BLOCK.cols}]
  --scope S           layer: every matrix at S; global: one magnitude ranking     [layer]
  --min-weights N     matrices with fewer weights stay dense                      [1024]
  --lr X              fine-tuning learning rate (constant)                        [0.002]
  --int8              also quantize (calibration on --calib, default --data; --calib-method);
                      --calib needs no labels (its inputs alone set the ranges)
  --created-at ISO, --seed N, --batch-size N

${dataHelp([['--data', '--labels'], ['--val', '--val-labels'], ['--calib', '--calib-labels']])}`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        data: { type: 'string', short: 'd' },
        val: { type: 'string' },
        'val-labels': { type: 'string' },
        sparsity: { type: 'string' },
        output: { type: 'string', short: 'o' },
        epochs: { type: 'string' },
        ramp: { type: 'string' },
        block: { type: 'string' },
        scope: { type: 'string' },
        'min-weights': { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
        'batch-size': { type: 'string' },
        int8: { type: 'boolean' },
        calib: { type: 'string' },
        'calib-labels': { type: 'string' },
        'calib-method': { type: 'string' },
        'created-at': { type: 'string' },
        report: { type: 'string' },
        json: { type: 'boolean' },
        ...DATA_FLAGS,
      },
      { min: 1, max: 1, names: 'MODEL.ern' },
    );
    const dataPath = requireString(values.data, '--data');
    checkDataFlags(values, [['--data', '--labels'], ['--val', '--val-labels'], ['--calib', '--calib-labels']]);
    const out = requireString(values.output, '-o/--output');
    checkOutputPath(out, ctx, '-o/--output');
    if (typeof values.report === 'string') checkOutputPath(values.report, ctx, '--report');
    checkOutputsDistinct(
      [['-o/--output', out], ['--report', values.report]],
      [['MODEL.ern', positionals[0]], ['--data', dataPath], ['--labels', values.labels], ['--val', values.val], ['--val-labels', values['val-labels']], ['--calib', values.calib], ['--calib-labels', values['calib-labels']]],
      ctx,
    );
    const sparsity = numberFlag(values.sparsity, 'sparsity', { min: 0, max: 0.99 });
    if (sparsity === undefined) throw usageError('--sparsity is required');
    const epochs = numberFlag(values.epochs, 'epochs', { min: 1, integer: true }) ?? 30;
    const ramp = numberFlag(values.ramp, 'ramp', { min: 0.05, max: 1 });
    const lr = numberFlag(values.lr, 'lr', { min: 1e-9, max: 1 });
    const seed = numberFlag(values.seed, 'seed', { min: 0, max: 2 ** 31, integer: true }); // as train: the generator reads 32 bits, 2^32 ran as 0
    const batchSize = numberFlag(values['batch-size'], 'batch-size', { min: 1, integer: true });
    const block = parseBlock(values.block);
    const minWeights = numberFlag(values['min-weights'], 'min-weights', { min: 1, integer: true });
    const scope = choiceFlag(values.scope, 'scope', ['layer', 'global'] as const) ?? 'layer';
    const calibMethod = choiceFlag(values['calib-method'], 'calib-method', CALIBRATION_METHODS) ?? 'mse';
    for (const flag of ['calib', 'calib-labels', 'calib-method']) {
      if (values[flag] !== undefined && !values.int8) throw usageError(`--${flag} applies to --int8 (quantizing the pruned model)`);
    }
    const created = createdAt(values); // checked before the fine-tuning, not after it
    const { spec } = readModel(positionals[0]!, ctx);
    if (spec.precision !== 'float32') throw usageError(`${positionals[0]} is ${spec.precision}: prune the float32 model, then quantize (an int8 file's float32 weights: edgernn export it, then edgernn convert --float the .onnx)`);
    const task = dataTaskOf(spec);
    const extra = {
      // A classifier without class names (an imported one): its classes are "0".."C-1", as in eval.
      ...(task === 'classify' ? { labels: spec.labels.length ? spec.labels : Array.from({ length: modelOutputSize(spec) }, (_, c) => String(c)) } : {}),
      features: spec.input.size,
      ...(spec.extra?.data && typeof spec.extra.data === 'object' ? { csv: spec.extra.data as Record<string, unknown> } : {}),
      ...modelWavOptions(spec),
    };
    const data = await loadData(dataPath, values, ctx, task, extra);
    const val = typeof values.val === 'string' ? await loadData(values.val, values, ctx, task, { ...extra, labelsFlag: 'val-labels' }) : undefined;
    // Read before the fine-tuning (a mistyped --calib stopped the run only after every epoch),
    // inputs only: calibration needs no labels.
    const calibData = values.int8 && typeof values.calib === 'string' ? await loadInputs(values.calib, values, ctx, { features: extra.features, labelsFlag: 'calib-labels', ...(extra.csv ? { csv: extra.csv } : {}), ...modelWavOptions(spec) }) : undefined;
    const progress = new Progress(ctx.stderr, `prune to ${(100 * sparsity).toFixed(0)}%`, epochs);
    const r = pruneModel(
      spec,
      data,
      {
        sparsity,
        epochs,
        scope,
        ...(block !== undefined ? { block } : {}),
        ...(ramp !== undefined ? { rampFraction: ramp } : {}),
        ...(minWeights !== undefined ? { minWeights } : {}),
        ...(lr !== undefined ? { lr } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(batchSize !== undefined ? { batchSize } : {}),
      },
      val,
      epochProgress(progress, (e) => `sparsity ${(100 * (e.note?.sparsity ?? 0)).toFixed(0)}% val ${e.valLoss.toFixed(4)}`),
    );
    progress.done(`best epoch ${r.fit.bestEpoch}, ${(100 * r.overall).toFixed(1)}% zeros`);
    const evalData = val ?? data;
    const rt = await createRuntime();
    // Two or four passes over the evaluation data: long work of its own on a large set, which
    // ran without a word after the fine-tuning's progress (quantize had it).
    const evalProgress = new Progress(ctx.stderr, 'evaluate', (values.int8 ? 4 : 2) * evalData.samples.length);
    const tick = { onProgress: () => evalProgress.tick() };
    const rows: [string, ModelEvaluation][] = [
      ['float32', await evaluateModel(rt, spec, evalData, { backend: 'float', ...tick })],
      ['pruned float32', await evaluateModel(rt, r.spec, evalData, { backend: 'float', ...tick })],
    ];
    let final: ModelSpec = r.spec;
    if (values.int8) {
      const calib = calibData ?? data;
      rows.push(['int8', await evaluateModel(rt, calibrateAndQuantize(spec, calib.samples, { method: calibMethod }), evalData, tick)]);
      final = calibrateAndQuantize(r.spec, calib.samples, { method: calibMethod });
      noteUnresolvedInputs(ctx, 'prune', final, calib.samples);
      rows.push(['pruned int8', await evaluateModel(rt, final, evalData, tick)]);
    }
    evalProgress.done();
    const metrics = Object.fromEntries(rows.map(([k, e]) => [k, { [headline(e).name]: round(headline(e).value) }]));
    final.training = {
      ...final.training,
      pruning: { dataset: data.source, datasetSha256: data.sha256, epochs: r.fit.epochsRun, bestEpoch: r.fit.bestEpoch, metrics, data: evalData.source },
      ...(codeCommit() ? { codeCommit: codeCommit()! } : {}),
      createdAt: created,
    };
    const bytes = encodeModel(final);
    writeFile(out, ctx, bytes);
    if (typeof values.report === 'string') {
      writeFile(values.report, ctx, await writeRunReport({ title: `edgernn prune: ${final.name}`, spec: final, floatSpec: r.spec, history: r.fit.history, evaluations: Object.fromEntries(rows), samples: evalData.samples, scoredOn: val ? `${evalData.source} (--val)` : `${evalData.source}, the --data it fine-tuned on` }));
    }
    if (values.json) {
      const m = Object.fromEntries(rows.map(([k, e]) => [k, headline(e).value]));
      ctx.stdout.write(`${JSON.stringify({ output: out, bytes: bytes.length, precision: final.precision, sparsity: r.overall, layers: r.sparsity, metric: headline(rows[0]![1]).name, metrics: m, ...(headline(rows[0]![1]).name === 'accuracy' ? { accuracy: headline(rows[rows.length - 1]![1]).value } : {}) })}\n`);
    } else {
      const layerLines = r.sparsity.map((s) => `  ${s.name.padEnd(14)} [${s.shape.join('x')}]`.padEnd(32) + ` ${(100 * s.sparsity).toFixed(1).padStart(5)}% zeros, ${(100 * s.blockSparsity).toFixed(1).padStart(5)}% empty ${DEFAULT_BLOCK.rows}x${DEFAULT_BLOCK.cols} blocks`);
      const on = `  scored on ${evalData.source}, ${evalData.samples.length} sequences${val ? '' : ': the --data it fine-tuned on (--val scores other data)'}`;
      ctx.stdout.write(`${on}\n${summaryTable(rows)}\n\nsparsity per matrix:\n${layerLines.join('\n')}\nwrote ${out} (${final.precision}, ${bytes.length} bytes)\n`);
    }
    return 0;
  },
};
