import { createRuntime, encodeModel, type ModelSpec } from '../../src/index.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { choiceFlag, numberFlag, parseFlags, usageError, type Command } from '../../src/cli/framework.js';
import { Progress } from '../../src/cli/progress.js';
import { dataTaskOf } from '../data/dataset.js';
import { evaluateModel, headline, type ModelEvaluation } from '../eval/evaluate-model.js';
import { CALIBRATION_METHODS, calibrateAndQuantize } from '../quant/calibrate.js';
import { quantizationAwareFineTune } from '../quant/qat.js';
import { writeRunReport } from '../report/run-report.js';
import { fmt } from './train.js';
import { checkDataFlags, checkOutputPath, checkOutputsDistinct, codeCommit, createdAt, DATA_FLAGS, dataHelp, epochProgress, loadData, loadInputs, modelWavOptions, noteUnresolvedInputs, readModel, requireString, round, writeFile } from './common.js';

export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'float32 model -> int8 (calibration, optional quantization-aware fine-tuning)',
  help: `usage: edgernn quantize MODEL.ern --calib D -o OUT.ern [--method minmax|percentile|mse]
                        [--percentile P] [--weight-clip on|off] [--qat-epochs N] [--eval D]
                        [--report FILE.html] [--json]

Post-training quantization to the runtime's int8 scheme (int8 per-row weights, int16
activations). Calibration data sets the input and intermediate ranges:
  -o, --output FILE   the int8 .ern to write
  --method M          minmax: max |v|; percentile: the P-th percentile of |v|;
                      mse: the range with the least quantization error (default)
  --percentile P      for --method percentile                                     [99.99]
  --weight-clip W     clip weight rows to their MSE-optimal int8 range (default: on for mse)
  --qat-epochs N      then fine-tune N epochs with fake quantization that reproduces the
                      integer kernels bit for bit (straight-through estimator), on --calib
  --lr X              QAT learning rate                                           [5e-4]
  --eval D            data to compare float vs int8 on (default: the --calib data)
  --report FILE       HTML report;  --json: one JSON object;  --created-at ISO
Works on pruned models too: zeros stay zeros. --calib needs labels (or targets) only when it
is also the data scored (no --eval) or fine-tuned on (--qat-epochs): with --eval D, unlabelled
calibration sequences do.

${dataHelp([['--calib', '--labels'], ['--eval', '--eval-labels']])}`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        calib: { type: 'string' },
        output: { type: 'string', short: 'o' },
        method: { type: 'string' },
        percentile: { type: 'string' },
        'weight-clip': { type: 'string' },
        'qat-epochs': { type: 'string' },
        lr: { type: 'string' },
        eval: { type: 'string' },
        'eval-labels': { type: 'string' },
        report: { type: 'string' },
        'created-at': { type: 'string' },
        json: { type: 'boolean' },
        ...DATA_FLAGS,
      },
      { min: 1, max: 1, names: 'MODEL.ern' },
    );
    const calibPath = requireString(values.calib, '--calib');
    checkDataFlags(values, [['--calib', '--labels'], ['--eval', '--eval-labels']]);
    const out = requireString(values.output, '-o/--output');
    checkOutputPath(out, ctx, '-o/--output');
    if (typeof values.report === 'string') checkOutputPath(values.report, ctx, '--report');
    checkOutputsDistinct(
      [['-o/--output', out], ['--report', values.report]],
      [['MODEL.ern', positionals[0]], ['--calib', calibPath], ['--labels', values.labels], ['--eval', values.eval], ['--eval-labels', values['eval-labels']]],
      ctx,
    );
    const method = choiceFlag(values.method, 'method', CALIBRATION_METHODS) ?? 'mse';
    const percentile = numberFlag(values.percentile, 'percentile', { min: 50, max: 100 });
    const clip = choiceFlag(values['weight-clip'], 'weight-clip', ['on', 'off'] as const);
    const qatEpochs = numberFlag(values['qat-epochs'], 'qat-epochs', { min: 0, integer: true }) ?? 0;
    const lr = numberFlag(values.lr, 'lr', { min: 1e-9, max: 1 });
    // Options of a step that will not run are mistakes, not no-ops.
    if (percentile !== undefined && method !== 'percentile') throw usageError(`--percentile applies to --method percentile, not ${method}`);
    if (lr !== undefined && qatEpochs === 0) throw usageError('--lr is the QAT learning rate: it needs --qat-epochs N');
    const created = createdAt(values); // checked before calibration and fine-tuning, not after them
    const { spec } = readModel(positionals[0]!, ctx);
    if (spec.precision !== 'float32') throw usageError(`${positionals[0]} is already ${spec.precision}: quantize a float32 model`);
    const task = dataTaskOf(spec);
    const dataExtra = {
      // A classifier without class names (an imported one): its classes are "0".."C-1", as in eval.
      ...(task === 'classify' ? { labels: spec.labels.length ? spec.labels : Array.from({ length: modelOutputSize(spec) }, (_, c) => String(c)) } : {}),
      features: spec.input.size,
      ...(spec.extra?.data && typeof spec.extra.data === 'object' ? { csv: spec.extra.data as Record<string, unknown> } : {}),
      ...modelWavOptions(spec),
    };
    // Calibration reads inputs only; its labels or targets are needed just when it is also the
    // data scored (no --eval) or fine-tuned on (--qat-epochs).
    const calibScored = qatEpochs > 0 || typeof values.eval !== 'string';
    const calib = calibScored ? await loadData(calibPath, values, ctx, task, dataExtra) : await loadInputs(calibPath, values, ctx, { features: dataExtra.features, ...(dataExtra.csv ? { csv: dataExtra.csv } : {}), ...modelWavOptions(spec) });
    const evalData = typeof values.eval === 'string' ? await loadData(values.eval, values, ctx, task, { ...dataExtra, labelsFlag: 'eval-labels' }) : calib;
    const copts = { method, ...(percentile !== undefined ? { percentile } : {}), ...(clip ? { weightClipping: clip === 'on' } : {}) };
    let q: ModelSpec = calibrateAndQuantize(spec, calib.samples, copts);
    const rt = await createRuntime();
    let qat: Record<string, unknown> | undefined;
    if (qatEpochs > 0) {
      const progress = new Progress(ctx.stderr, 'qat', qatEpochs);
      const r = quantizationAwareFineTune(spec, calib, { epochs: qatEpochs, calibration: copts, ...(lr !== undefined ? { lr } : {}) }, epochProgress(progress, (e) => `val ${e.valLoss.toFixed(4)}`));
      progress.done();
      q = r.int8;
      qat = { epochs: qatEpochs, bestEpoch: r.fit.bestEpoch, history: r.fit.history.map((h) => round(h.valLoss, 5)) };
    }
    noteUnresolvedInputs(ctx, 'quantize', q, calib.samples);
    const progress = new Progress(ctx.stderr, 'evaluate', 2 * evalData.samples.length);
    const floatEval = await evaluateModel(rt, spec, evalData, { backend: 'float', onProgress: () => progress.tick() });
    const intEval = await evaluateModel(rt, q, evalData, { onProgress: () => progress.tick() });
    progress.done();
    const f = headline(floatEval);
    const i = headline(intEval);
    q.training = {
      ...q.training,
      metrics: { ...(q.training.metrics as Record<string, unknown> | undefined), quantization: { data: evalData.source, float: { [f.name]: round(f.value) }, int8: { [i.name]: round(i.value) } } },
      calibrationDataset: calib.source,
      calibrationSha256: calib.sha256,
      ...(qat ? { qat } : {}),
      ...(codeCommit() ? { codeCommit: codeCommit()! } : {}),
      createdAt: created,
    };
    const bytes = encodeModel(q);
    writeFile(out, ctx, bytes);
    if (typeof values.report === 'string') {
      writeFile(values.report, ctx, await writeRunReport({ title: `edgernn quantize: ${q.name}`, spec: q, floatSpec: spec, evaluations: { float: floatEval, int8: intEval }, samples: evalData.samples, scoredOn: typeof values.eval === 'string' ? `${evalData.source} (--eval)` : `${evalData.source}, the --calib data` }));
    }
    const diff = f.name === 'accuracy' ? 100 * (i.value - f.value) : i.value - f.value;
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify({ output: out, bytes: bytes.length, method, metric: f.name, float: f.value, int8: i.value, ...(f.name === 'accuracy' ? { accuracy: i.value, deltaPoints: diff } : { delta: diff }), ...(qat ? { qat } : {}) })}\n`);
    } else {
      const on = `  scored on ${evalData.source}, ${evalData.samples.length} sequences${typeof values.eval === 'string' ? '' : ': the --calib data (--eval scores other data)'}`;
      ctx.stdout.write(`${on}\n${summaryTable([['float32', floatEval], ['int8', intEval]])}\nwrote ${out} (int8, ${bytes.length} bytes, calibration ${method})\n`);
    }
    return 0;
  },
};

/** Side-by-side table of evaluations (float vs int8 vs pruned+int8...). */
export function summaryTable(rows: [string, ModelEvaluation][]): string {
  const first = rows[0]![1];
  const name = headline(first).name;
  const base = headline(first).value;
  const lines = [`  ${'model'.padEnd(16)} ${name.padStart(10)}  ${'vs first'.padStart(9)}`];
  for (const [label, e] of rows) {
    const v = headline(e).value;
    const d = name === 'accuracy' ? `${(100 * (v - base)).toFixed(2)} pp` : `${((100 * (v - base)) / (base || 1)).toFixed(1)} %`;
    lines.push(`  ${label.padEnd(16)} ${fmt(name, v).padStart(10)}  ${d.padStart(9)}`);
  }
  return lines.join('\n');
}
