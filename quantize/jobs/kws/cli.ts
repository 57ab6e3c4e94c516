/**
 * Node-only: the keyword-spotting job's commands, `Command` objects like every other CLI command.
 *   npm run train:kws -- [options]   (train-kws): corpora -> features -> train -> int8 -> thresholds -> models/kws.ern
 *   npm run eval:kws -- [options]    (eval-kws):  held-out clip accuracy and stream false accepts / misses
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKENDS, decodeModel, EdgeRnnError, type WindowSpec } from '../../../src/index.js';
import { choiceFlag, numberFlag, parseFlags, readFileArg, usageError, type CliContext, type Command } from '../../../src/cli/framework.js';
import { Progress } from '../../../src/cli/progress.js';
import { checkOutputPath, createdAt } from '../../cli/common.js';
import { KWS_JOB_DEFAULTS, withFestival, type KwsJobOptions } from './config.js';
import { DEFAULT_SWEEP, evaluateKwsFile, formatKwsEval } from './eval-job.js';
import { runKwsJob } from './pipeline.js';
import { readStreamDir, retuneKwsModel } from './retune.js';
import { readCorpusIndex } from './features.js';
import { jobStream } from './streams.js';
import type { StreamScore } from './stream-eval.js';
import { fliteF0Flag } from '../../data/kws/cli.js';
import { TRAINVAL_FESTIVAL_VOICES } from '../../data/kws/voices.js';

const D = KWS_JOB_DEFAULTS;

/**
 * The model eval-kws and tune-kws read when no MODEL.ern is given: models/kws.ern in the current
 * folder (a checkout, or a train-kws run there), else the one the package ships (an npm user
 * outside the repository was told "no such model file" for a model the package holds).
 */
export function defaultKwsModel(cwd: string): { path: string; packaged: boolean } {
  const local = path.resolve(cwd, D.out);
  if (fs.existsSync(local)) return { path: local, packaged: false };
  // The package root: the nearest folder up from this module whose package.json names edgernn.
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    try {
      if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'edgernn') return { path: path.join(dir, 'models', 'kws.ern'), packaged: true };
    } catch {
      // no package.json here, or not JSON: look further up
    }
    if (path.dirname(dir) === dir) return { path: local, packaged: false };
  }
}

/** train-kws's flags → the job's options and the flags left for output (usage errors, exit 2, before any work). */
export function trainKwsOptionsFromFlags(args: string[]): { o: KwsJobOptions; values: { json?: boolean; 'created-at'?: string } } {
  const { values } = parseFlags(
    args,
    {
      out: { type: 'string', short: 'o' },
      arch: { type: 'string' },
      hidden: { type: 'string' },
      compare: { type: 'string' },
      epochs: { type: 'string' },
      'qat-epochs': { type: 'string' },
      seed: { type: 'string' },
      cmn: { type: 'string' },
      festival: { type: 'string' },
      'flite-f0': { type: 'string' },
      'cache-dir': { type: 'string' },
      windows: { type: 'string' },
      negatives: { type: 'string' },
      jobs: { type: 'string' },
      'created-at': { type: 'string' },
      json: { type: 'boolean' },
    },
    { min: 0, max: 0, names: '' },
  );
  const o: KwsJobOptions = structuredClone(D);
  if (typeof values.out === 'string') o.out = values.out;
  o.arch = choiceFlag(values.arch, 'arch', ['gru', 'lstm'] as const) ?? o.arch;
  o.hidden = numberFlag(values.hidden, 'hidden', { min: 1, max: 1024, integer: true }) ?? o.hidden;
  if (typeof values.compare === 'string') {
    const list = values.compare === 'none' ? [] : values.compare.split(',').map((s) => s.trim());
    for (const a of list) if (a !== 'gru' && a !== 'lstm') throw usageError(`--compare takes gru, lstm or none, got '${a}'`);
    o.compare = list as KwsJobOptions['compare'];
  }
  o.epochs = numberFlag(values.epochs, 'epochs', { min: 1, integer: true }) ?? o.epochs;
  o.seed = numberFlag(values.seed, 'seed', { integer: true, min: 0 }) ?? o.seed;
  o.qatEpochs = numberFlag(values['qat-epochs'], 'qat-epochs', { min: 0, integer: true }) ?? o.qatEpochs;
  const cmn = numberFlag(values.cmn, 'cmn', { min: 1e-6, max: 1 });
  if (cmn !== undefined) o.frontend = { ...o.frontend, cmn: { alpha: cmn } };
  if (typeof values.festival === 'string') {
    o.festivalVoices = values.festival === 'none' ? [] : values.festival === 'all' ? [...TRAINVAL_FESTIVAL_VOICES] : values.festival.split(',').map((s) => s.trim()).filter(Boolean);
    if (values.festival !== 'none') withFestival(o.corpora.extra, o.festivalVoices); // checks the voices (at least one) before any work
  }
  const p = fliteF0Flag(values['flite-f0']);
  if (p !== undefined) {
    // The extra corpus (awb, rms and festival) in a folder of its own, so the default one stays cached.
    const args = [...o.corpora.extra, '--flite-f0', `${p[0]},${p[1]}`];
    const i = args.indexOf('--out');
    args[i + 1] = `${args[i + 1]}-f0-${p[0]}-${p[1]}`;
    o.corpora.extra = args;
  }
  if (typeof values['cache-dir'] === 'string') o.cacheDir = values['cache-dir'];
  const windows = windowsFlag(values.windows);
  if (windows !== undefined) o.slidingWindows = windows;
  o.windows.negatives = numberFlag(values.negatives, 'negatives', { min: 0, max: 100000, integer: true }) ?? o.windows.negatives;
  o.jobs = numberFlag(values.jobs, 'jobs', { min: 1, max: 64, integer: true }) ?? o.jobs;
  return { o, values };
}

export const trainKwsCommand: Command = {
  name: 'train-kws',
  summary: 'train, quantize and tune the keyword-spotting model (models/kws.ern)',
  help: `usage: npm run train:kws -- [options]      (or: edgernn train-kws [options])

Builds or reuses the synthetic corpora (npm run data:kws), computes features through the model's
audio front end (cached in ${D.cacheDir}), trains a ${D.arch.toUpperCase()} ${D.hidden} classifier over 12 classes on the
train voices (clips + windows of a train-voice stream), quantizes it to int8 (post-training +
quantization-aware fine-tuning), tunes the detector thresholds on a validation-voice stream,
scores the held-out voices (flite kal16, slt) and writes the model with its metrics.

options:
  -o, --out FILE       model file (default ${D.out})
  --arch gru|lstm      shipped architecture (default ${D.arch})
  --hidden N           hidden units (default ${D.hidden})
  --compare A,B|none   architectures also trained for comparison (default ${D.compare.join(',')})
  --epochs N           most training epochs (default ${D.epochs}; early stopping patience ${D.patience})
  --seed N             training seed: initial weights and batch order (default ${D.seed})
  --qat-epochs N       quantization-aware fine-tuning epochs, 0 = post-training only (default ${D.qatEpochs})
  --cmn ALPHA          streaming mean normalization in the front end, newest frame's weight
                       (0.01 = a 2 s time constant at 20 ms hops; default: none)
  --festival V,W|all|none
                       festival voices in the extra training corpus (default
                       ${D.festivalVoices.join(',')}; all: ${TRAINVAL_FESTIVAL_VOICES.join(',')};
                       Debian festival and the voices' festvox packages, see npm run data:kws --
                       --help; none: without festival)
  --flite-f0 LOW,HIGH  mean-F0 factors of the flite training voices awb and rms in the extra
                       corpus (default 0.85,1.2; 1.9: a woman's pitch, ~200 Hz)
  --windows F,H|none   serve the model sliding windows of F frames every H, each from a reset
                       state (default ${D.slidingWindows ? `${D.slidingWindows.frames},${D.slidingWindows.hop}` : 'none'}); none: one never-reset session
  --cache-dir DIR      feature, stream and results cache (default ${D.cacheDir}); give concurrent
                       trainings their own
  --negatives N        non-keyword 1.5 s windows drawn from the training-voice stream (default ${D.windows.negatives})
  --jobs N             concurrent synthesis jobs if a corpus must be built (default ${D.jobs})
  --created-at ISO     creation time in the manifest (default SOURCE_DATE_EPOCH or now)
  --json               print the metrics as JSON`,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { o, values } = trainKwsOptionsFromFlags(args);
    checkOutputPath(o.out, ctx, '--out'); // before the hour of training
    const created = createdAt(values);
    const t0 = Date.now();
    const r = await runKwsJob(o, { cwd: ctx.cwd, log: (l) => ctx.stderr.write(`${l}\n`), createdAt: created });
    const rows = [r.shipped, ...r.compared];
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify({ out: o.out, seconds: (Date.now() - t0) / 1000, results: rows.map((x) => ({ arch: x.arch, hidden: x.hidden, shipped: x === r.shipped, metrics: x.metrics })) })}\n`);
      return 0;
    }
    const lines = [`wrote ${o.out} (${r.shipped.metrics.fileBytes} bytes) in ${((Date.now() - t0) / 60000).toFixed(1)} min`, '', '  model      bytes   held-out acc float / int8   FA/h (held-out)   miss rate   val acc int8'];
    for (const x of rows) {
      const m = x.metrics;
      lines.push(
        `  ${`${x.arch}${x.hidden}`.padEnd(8)} ${String(m.fileBytes).padStart(7)}   ${(100 * m.test.clipAccuracyFloat).toFixed(2).padStart(6)}% / ${(100 * m.test.clipAccuracyInt8).toFixed(2).padStart(6)}%   ${m.test.stream.falseAcceptsPerHour.toFixed(2).padStart(15)}   ${(100 * m.test.stream.missRate).toFixed(1).padStart(8)}%   ${(100 * m.validation.clipAccuracyInt8).toFixed(2).padStart(10)}%${x === r.shipped ? '   (shipped)' : ''}`,
      );
    }
    ctx.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

/**
 * A bar over the clips of a `<label>/<clip>.wav` folder (evaluateKwsFile's onClip), made once
 * their number is known; `done()` after the scoring. The clips' features took minutes on a large
 * folder without a word.
 */
export function clipProgress(stderr: CliContext['stderr']): { onClip: (done: number, total: number) => void; done(): void } {
  let bar: Progress | undefined;
  return {
    onClip: (done, total) => {
      bar ??= new Progress(stderr, 'clips', total);
      bar.update(done);
    },
    done: () => bar?.done(),
  };
}

/** --sweep: 'all' → DEFAULT_SWEEP; else thresholds in (0, 1]. */
export function sweepFlag(v: unknown): number[] | undefined {
  if (v === undefined) return undefined;
  if (v === 'all') return [...DEFAULT_SWEEP];
  const t = String(v).split(',').map((x) => (/^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(x.trim()) ? Number(x.trim()) : NaN)); // decimal only ('0x1' read as 1)
  if (t.length === 0 || !t.every((x) => Number.isFinite(x) && x > 0 && x <= 1)) throw usageError(`--sweep takes thresholds in (0, 1], comma-separated, got '${String(v)}'`);
  return t;
}

export const evalKwsCommand: Command = {
  name: 'eval-kws',
  summary: 'score a keyword model on WAV clips and the held-out stream (accuracy, false accepts per hour, misses)',
  help: `usage: edgernn eval-kws [MODEL.ern] [--data DIR] [--stream DIR|none] [--json]
       npm run eval:kws -- [MODEL.ern] [options]

Scores a keyword model through the runtime with its own manifest: features through the front end
in input.frontend, the detector settings in extra.kws.detector.
  clips    accuracy, per class and per voice: --data is a corpus (its test split), a split folder
           (.cache/kws/test) or any folder of <label>/<clip>.wav (labels such as _unknown_ included)
  stream   a whole stream (stream.wav + stream.json) served as the manifest says (sliding windows
           from input.frontend.windows, else one session): keywords detected within 1 s of their
           end, false accepts per hour, miss rate

options:
  MODEL.ern        model (default ${D.out} in the current folder, else the packaged model)
  -d, --data DIR   clips (default .cache/kws/test)
  --stream DIR     stream folder (default .cache/kws-stream60/stream when it exists; none: skip)
  -b, --backend B  auto, simd, scalar, reference (default auto)
  --sweep T,T|all  also score the stream with every keyword at each threshold (all:
                   ${DEFAULT_SWEEP.join(',')}): the false accept / miss trade-off, for reading only
  --json           one JSON object`,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseFlags(args, { data: { type: 'string', short: 'd' }, stream: { type: 'string' }, backend: { type: 'string', short: 'b' }, sweep: { type: 'string' }, json: { type: 'boolean' } }, { min: 0, max: 1, names: 'MODEL.ern' });
    const sweep = sweepFlag(values.sweep);
    const abs = (p: string): string => path.resolve(ctx.cwd, p);
    const modelPath = positionals[0] !== undefined ? abs(positionals[0]) : defaultKwsModel(ctx.cwd).path;
    const backend = choiceFlag(values.backend, 'backend', [...BACKENDS.filter((b) => b !== 'float'), 'auto'] as const) ?? 'auto';
    const defaultStream = abs('.cache/kws-stream60/stream');
    const stream = values.stream === 'none' ? undefined : typeof values.stream === 'string' ? abs(values.stream) : fs.existsSync(path.join(defaultStream, 'stream.json')) ? defaultStream : undefined;
    const data = abs(typeof values.data === 'string' ? values.data : '.cache/kws/test');
    if (sweep && !stream) throw usageError('--sweep needs a stream: --stream DIR (the default .cache/kws-stream60/stream does not exist)');
    const progress = clipProgress(ctx.stderr);
    const r = await evaluateKwsFile(modelPath, { data, ...(stream ? { stream } : {}), ...(sweep ? { sweep } : {}), cacheDir: abs(path.join(D.cacheDir, 'features')), backend, onClip: progress.onClip });
    progress.done();
    if (values.json) {
      const { predictions: _p, ...clips } = r.clips;
      const { falseAcceptEvents: _f, ...stream } = r.stream ?? { falseAcceptEvents: [] };
      ctx.stdout.write(`${JSON.stringify({ ...r, accuracy: r.clips.accuracy, clips, ...(r.stream ? { stream } : {}) })}\n`);
      return 0;
    }
    const labels = decodeModel(new Uint8Array(readFileArg(process.cwd(), modelPath)), modelPath).spec.labels;
    ctx.stdout.write(`${formatKwsEval(r, labels)}\n`);
    return 0;
  },
};

/** --windows F,H | none → the sliding windows to serve with (null: one never-reset session). */
export function windowsFlag(v: unknown): WindowSpec | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'none') return null;
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(String(v));
  const frames = m ? Number(m[1]) : NaN;
  const hop = m ? Number(m[2]) : NaN;
  if (!m || frames < 1 || hop < 1 || hop > frames) throw usageError(`--windows takes FRAMES,HOP with 1 <= HOP <= FRAMES (e.g. 75,5), or none, got '${String(v)}'`);
  return { frames, hop };
}

export const tuneKwsCommand: Command = {
  name: 'tune-kws',
  summary: "re-tune a keyword model's streaming (sliding windows, detector thresholds) without training it again",
  help: `usage: npm run tune:kws -- [MODEL.ern] [options]      (or: edgernn tune-kws ...)

Sets how the model reads a live stream (input.frontend.windows), tunes the detector thresholds
on the validation-voice stream as train:kws does, scores the held-out stream with them, and
writes the model with the new settings and stream metrics. Weights, clip metrics and the golden
input are kept (the golden outputs are checked to be unchanged).

options:
  MODEL.ern          model (default ${D.out} in the current folder, else the packaged
                     model, which then needs -o)
  -o, --out FILE     where to write (default: MODEL.ern itself)
  --windows F,H|none sliding windows of F frames every H frames, each from a reset state
                     (default ${D.slidingWindows ? `${D.slidingWindows.frames},${D.slidingWindows.hop}` : 'none'}); none: one never-reset session
  --val-stream DIR   validation-voice stream (default: the training job's, built if missing)
  --stream DIR       held-out stream (default .cache/kws-stream60/stream)
  --max-fa-per-hour N  tuning budget on the validation stream (default ${D.detector.maxFalseAcceptsPerHour})
  --cache-dir DIR    the training job's cache: streams and features (default ${D.cacheDir})
  --json             print the result as JSON`,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseFlags(
      args,
      { out: { type: 'string', short: 'o' }, windows: { type: 'string' }, 'val-stream': { type: 'string' }, stream: { type: 'string' }, 'max-fa-per-hour': { type: 'string' }, 'cache-dir': { type: 'string' }, json: { type: 'boolean' } },
      { min: 0, max: 1, names: 'MODEL.ern' },
    );
    const abs = (p: string): string => path.resolve(ctx.cwd, p);
    const windows = windowsFlag(values.windows);
    const maxFa = numberFlag(values['max-fa-per-hour'], 'max-fa-per-hour', { min: 0 }) ?? D.detector.maxFalseAcceptsPerHour;
    const model = positionals[0] !== undefined ? { path: abs(positionals[0]), packaged: false } : defaultKwsModel(ctx.cwd);
    const modelPath = model.path;
    // Written back by default: never into the package's own copy.
    if (model.packaged && typeof values.out !== 'string') throw usageError(`without MODEL.ern tune-kws reads the packaged model ${modelPath}: give -o FILE for the re-tuned model (the package's copy is not overwritten)`);
    const out = abs(typeof values.out === 'string' ? values.out : modelPath);
    checkOutputPath(out, ctx, '--out'); // before the posteriors of two streams are computed
    const cacheDir = abs(typeof values['cache-dir'] === 'string' ? values['cache-dir'] : D.cacheDir);
    if (!fs.existsSync(modelPath)) throw new EdgeRnnError('BAD_INPUT_FILE', `${modelPath}: no such model file`);
    const testDir = abs(typeof values.stream === 'string' ? values.stream : '.cache/kws-stream60/stream');
    const testStream = readStreamDir(testDir);
    let valStream;
    if (typeof values['val-stream'] === 'string') {
      valStream = readStreamDir(abs(values['val-stream']));
      // Thresholds tuned on the held-out stream would make its score a tuning result, not a test one.
      const same = (a: string, b: string): boolean => fs.realpathSync(a) === fs.realpathSync(b);
      if (same(valStream.wav, testStream.wav) || fs.readFileSync(valStream.wav).equals(fs.readFileSync(testStream.wav))) {
        throw usageError(`--val-stream ${values['val-stream']} is the held-out stream (${testDir}): thresholds must be tuned on another stream than the one they are scored on`);
      }
    } else {
      // The default validation stream is built from the training job's corpus: without one, say which flag replaces it.
      if (!fs.existsSync(abs('.cache/kws/manifest.json'))) throw new EdgeRnnError('BAD_DATA', `no validation stream: pass --val-stream DIR (a folder with stream.wav and stream.json), or build the corpus it is made from with npm run data:kws (${abs('.cache/kws')} has none)`);
      const main = readCorpusIndex(abs('.cache/kws'));
      const s = await jobStream(main, { split: 'val', ...D.valStream, dir: path.join(cacheDir, 'streams'), jobs: D.jobs, log: (l) => ctx.stderr.write(`${l}\n`) });
      valStream = { wav: s.wav, truth: s.truth };
    }
    const r = await retuneKwsModel(new Uint8Array(readFileArg(process.cwd(), modelPath)), modelPath, {
      windows: windows === undefined ? D.slidingWindows : windows,
      valStream,
      testStream,
      maxFalseAcceptsPerHour: maxFa,
      minThreshold: D.detector.minThreshold,
      cacheDir: path.join(cacheDir, 'features'),
      at: createdAt({}),
    });
    fs.writeFileSync(out, r.bytes);
    const line = (s: StreamScore) => ({ falseAcceptsPerHour: s.falseAcceptsPerHour, missRate: s.missRate, hits: s.hits, keywords: s.keywords });
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify({ out, bytes: r.bytes.length, detector: r.detector, validation: line(r.validation), test: line(r.test), absent: r.absent })}\n`);
      return 0;
    }
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    ctx.stdout.write(
      [
        `wrote ${out} (${r.bytes.length} bytes)`,
        `  thresholds: ${Object.entries(r.detector.thresholds).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        ...(r.absent.length > 0 ? [`  not in the validation stream, so not tuned (thresholds kept, raised only against false accepts): ${r.absent.join(', ')}`] : []),
        `  validation stream: ${r.validation.falseAcceptsPerHour.toFixed(2)} false accepts/h, miss rate ${pct(r.validation.missRate)}`,
        `  held-out stream:   ${r.test.falseAcceptsPerHour.toFixed(2)} false accepts/h, miss rate ${pct(r.test.missRate)}`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};
