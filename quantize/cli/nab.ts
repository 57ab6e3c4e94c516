/**
 * `edgernn nab`: the Numenta Anomaly Benchmark, scored exactly as NAB scores it. Node-only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Progress } from '../../src/cli/progress.js';
import { choiceFlag, numberFlag, parseFlags, readFileArg, usageError, type Command } from '../../src/cli/framework.js';
import { EdgeRnnError, type DetectorRegistry } from '../../src/index.js';
import {
  checkResultsSummaries,
  evaluateRun,
  loadNabCorpus,
  nabDetectorRegistry,
  NAB_PROFILES,
  parseThresholdsJson,
  readResultsRun,
  roundRun,
  runDetector,
  THRESHOLD_OPTIMIZERS,
  writeResults,
  type DetectorRun,
  type NabEvaluation,
  type NabProfileName,
  type NabThresholds,
} from '../eval/nab/index.js';

export interface NabCommandOptions {
  /** Where detector names are looked up (default: nabDetectorRegistry()). */
  registry?: () => DetectorRegistry;
}

const HELP = `usage: edgernn nab --data DIR --labels FILE [--detector NAME[,NAME...]] [--json]
                   [--results-dir OUT] [--from-results DIR] [--optimizer sweep|twiddle]
                   [--thresholds FILE] [--score-digits N]

Runs streaming anomaly detectors over the Numenta Anomaly Benchmark and scores them exactly as
NAB does: anomaly windows, scaled-sigmoid scoring, the standard / reward_low_FP_rate /
reward_low_FN_rate profiles, first 15% of each file (at most 750 rows) unscored, one threshold
per profile over the whole corpus, and 100 (raw - null) / (perfect - null).

  --data DIR          NAB data folder (<category>/<file>.csv, timestamp,value)
  --labels FILE       windows JSON (NAB labels/combined_windows.json); its files are scored
  --detector NAMES    comma-separated (default windowedGaussian); known: DETECTORS
  --results-dir OUT   write NAB's layout: OUT/<detector>/<category>/<detector>_<file>.csv
                      (timestamp,value,anomaly_score,label), OUT/<detector>/<detector>_<profile>_scores.csv,
                      and merge OUT/final_results.json and OUT/thresholds.json
  --from-results DIR  score results files already in NAB's layout instead of running detectors
  --optimizer O       threshold search: sweep (NAB >= 1.1, every distinct score; default) or
                      twiddle (NAB 1.0's hill climb; may stop at a local optimum)
  --thresholds FILE   score at fixed thresholds from a NAB thresholds.json instead
  --score-digits N    round scores to N significant digits first (NAB 1.0 stored 12: use 12
                      to reproduce its published scoreboard)
  --json              print {corpus, optimizer, detectors: {name: {profile: {...}}}}`;

function helpText(registry: DetectorRegistry): string {
  return HELP.replace('DETECTORS', registry.names().join(', '));
}

function thresholdsFor(all: NabThresholds | undefined, detector: string, file: string): Partial<Record<NabProfileName, number>> | undefined {
  if (!all) return undefined;
  const entry = all[detector];
  if (!entry) throw new EdgeRnnError('BAD_INPUT_FILE', `${file}: no thresholds for detector '${detector}' (has: ${Object.keys(all).join(', ') || 'none'})`, { file, detector });
  const out: Partial<Record<NabProfileName, number>> = {};
  for (const p of NAB_PROFILES) if (entry[p.name]) out[p.name] = entry[p.name]!.threshold;
  return out;
}

/** --results-dir must be a folder or become one: not an existing file, not below a file; its JSON summaries must be mergeable. */
function checkResultsDir(arg: string, dir: string): void {
  // '' (an unset variable in `--results-dir "$OUT"`) resolved to the working folder and wrote the results there.
  if (arg.trim() === '') throw usageError(`--results-dir needs a folder, got ${JSON.stringify(arg)}`);
  let existing = dir;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  if (!fs.statSync(existing).isDirectory()) {
    throw usageError(existing === dir ? `--results-dir ${arg}: is a file, expected a folder` : `--results-dir ${arg}: ${existing} is a file, not a folder`);
  }
  checkResultsSummaries(dir);
}

function profileJson(e: NabEvaluation): Record<string, unknown> {
  return Object.fromEntries(
    e.profiles.map((p) => [
      p.profile,
      { score: p.normalizedScore, threshold: p.threshold, rawScore: p.rawScore, nullScore: p.nullScore, perfectScore: p.perfectScore, ...p.counts },
    ]),
  );
}

export function createNabCommand(options: NabCommandOptions = {}): Command {
  const registryOf = options.registry ?? nabDetectorRegistry;
  return {
    name: 'nab',
    summary: 'run anomaly detectors on the Numenta Anomaly Benchmark and score them as NAB does',
    get help() {
      return helpText(registryOf());
    },
    async run(args, ctx) {
      const registry = registryOf();
      const { values } = parseFlags(
        args,
        {
          data: { type: 'string' },
          labels: { type: 'string' },
          detector: { type: 'string' },
          'results-dir': { type: 'string' },
          'from-results': { type: 'string' },
          optimizer: { type: 'string' },
          thresholds: { type: 'string' },
          'score-digits': { type: 'string' },
          json: { type: 'boolean' },
        },
        { min: 0, max: 0, names: '' },
      );
      if (typeof values.data !== 'string') throw usageError('--data DIR is required (the NAB data folder)');
      if (typeof values.labels !== 'string') throw usageError('--labels FILE is required (e.g. labels/combined_windows.json)');
      const detectors = (typeof values.detector === 'string' ? values.detector : 'windowedGaussian').split(',').map((s) => s.trim()).filter(Boolean);
      if (detectors.length === 0) throw usageError('--detector needs at least one name');
      const fromResults = typeof values['from-results'] === 'string' ? path.resolve(ctx.cwd, values['from-results']) : undefined;
      if (!fromResults) {
        for (const d of detectors) if (!registry.has(d)) throw usageError(`unknown detector '${d}', expected one of: ${registry.names().join(', ')}`);
      } else {
        // The name is a folder of the results layout: '../x' read results outside --from-results (and wrote outside --results-dir).
        for (const d of detectors) if (d === '.' || d === '..' || /[/\\]/.test(d)) throw usageError(`--detector '${d}': a detector name is a folder of the results layout, expected a name without '/', '\\', or '.'/'..'`);
      }
      const optimizer = choiceFlag(values.optimizer, 'optimizer', THRESHOLD_OPTIMIZERS) ?? 'sweep';
      const digits = numberFlag(values['score-digits'], 'score-digits', { min: 1, max: 17, integer: true });
      const thresholdsFile = typeof values.thresholds === 'string' ? path.resolve(ctx.cwd, values.thresholds) : undefined;
      const thresholds = thresholdsFile ? parseThresholdsJson(readFileArg(ctx.cwd, thresholdsFile).toString('utf8'), thresholdsFile) : undefined;
      // Every detector's fixed thresholds are looked up now, not after its run (minutes for the GRU detectors).
      const fixed = new Map(detectors.map((d) => [d, thresholdsFor(thresholds, d, thresholdsFile ?? '')]));
      const resultsDir = typeof values['results-dir'] === 'string' ? path.resolve(ctx.cwd, values['results-dir']) : undefined;
      // Checked before any detector runs (the GRU detectors train for minutes), not at the first write.
      if (resultsDir) checkResultsDir(values['results-dir'] as string, resultsDir);

      const corpus = loadNabCorpus({ dataDir: path.resolve(ctx.cwd, values.data), labelsPath: path.resolve(ctx.cwd, values.labels) });
      const rows = corpus.series.reduce((a, s) => a + s.values.length, 0);
      const evaluations: NabEvaluation[] = [];
      for (const name of detectors) {
        let run: DetectorRun;
        if (fromResults) {
          run = readResultsRun(fromResults, corpus, name);
        } else {
          const progress = new Progress(ctx.stderr, `nab ${name}`, rows);
          run = runDetector(corpus, registry.get(name), { onSeries: (_i, s) => progress.tick(s.values.length, s.relativePath) });
          progress.done();
        }
        if (digits !== undefined) run = roundRun(run, digits);
        const fixedThresholds = fixed.get(name);
        const evaluation = evaluateRun(corpus, run, { optimizer, ...(fixedThresholds ? { thresholds: fixedThresholds } : {}) });
        evaluations.push(evaluation);
        if (resultsDir) writeResults(resultsDir, corpus, run, evaluation, digits !== undefined ? { digits } : {});
      }

      const corpusInfo = { files: corpus.series.length, rows, windows: corpus.windowCount, unlabelled: corpus.unlabelled };
      // Profiles a thresholds file leaves out are optimized: say so rather than "fixed thresholds".
      const fixedCount = [...fixed.values()].reduce((a, t) => a + Object.keys(t ?? {}).length, 0);
      const selection = fixedCount === 0 ? optimizer : fixedCount === detectors.length * NAB_PROFILES.length ? 'fixed thresholds' : `fixed thresholds where given, else ${optimizer}`;
      if (values.json) {
        const out = {
          corpus: corpusInfo,
          optimizer: selection,
          scoreDigits: digits ?? null,
          ...(resultsDir ? { resultsDir } : {}),
          detectors: Object.fromEntries(evaluations.map((e) => [e.detector, profileJson(e)])),
        };
        ctx.stdout.write(`${JSON.stringify(out)}\n`);
        return 0;
      }
      const lines = [`NAB: ${corpus.series.length} files, ${rows} rows, ${corpus.windowCount} windows; thresholds: ${selection}${digits !== undefined ? `; scores rounded to ${digits} digits` : ''}`];
      if (corpus.unlabelled.length) lines.push(`  (not in the label file, skipped: ${corpus.unlabelled.join(', ')})`);
      for (const e of evaluations) {
        lines.push('', e.detector, `  ${'profile'.padEnd(20)} ${'score'.padStart(8)}  ${'threshold'.padEnd(20)} ${'raw'.padStart(11)} ${'TP'.padStart(6)} ${'FP'.padStart(6)}`);
        for (const p of e.profiles) {
          lines.push(`  ${p.profile.padEnd(20)} ${p.normalizedScore.toFixed(2).padStart(8)}  ${String(p.threshold).padEnd(20)} ${p.rawScore.toFixed(4).padStart(11)} ${String(p.counts.tp).padStart(6)} ${String(p.counts.fp).padStart(6)}`);
        }
      }
      lines.push('', 'score: 100 (raw - null) / (perfect - null); null = no detections, perfect = first row of every window');
      if (resultsDir) lines.push(`results: ${resultsDir}`);
      ctx.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    },
  };
}

export const nabCommand: Command = createNabCommand();
