/**
 * Node-only: `npm run data:kws -- [options]`, the command that builds the synthetic keyword
 * corpus (see corpus.ts). A `Command` object, so the desktop CLI can register it as well.
 */
import { resolve } from 'node:path';
import { choiceFlag, numberFlag, parseFlags, usageError, type CliContext, type Command } from '../../../src/cli/framework.js';
import { Progress } from '../../../src/cli/progress.js';
import { generateKwsCorpus, KWS_CORPUS_DEFAULTS, KWS_CORPUS_SMALL, planCorpus, type KwsCorpusOptions } from './corpus.js';
import { FESTIVAL_VOICES, SPLITS, TRAINVAL_FESTIVAL_VOICES } from './voices.js';

const HELP = `usage: npm run data:kws -- [options]      (or: edgernn data-kws [options])

Synthesizes a Speech Commands-style keyword corpus with espeak-ng, flite (optionally festival) and sox:
yes no up down left right on off stop go, _unknown_, _silence_; 1 s, 16 kHz, 16-bit mono WAV in
<out>/{train,val,test}/<label>/<clip>.wav, plus <out>/stream/stream.wav and stream.json (a long
stream of noise and non-keyword speech with keywords at 10 dB SNR) and <out>/manifest.json.
train/val: espeak-ng accents x variants and flite awb, rms (and festival voices with --festival).
test and stream: flite kal16, slt only.
A complete corpus with the same options is reused; different options rebuild it.

options:
  --out DIR                   cache directory (default ${KWS_CORPUS_DEFAULTS.outDir}; --small: ${KWS_CORPUS_SMALL.outDir})
  --seed N                    seed of every random choice (default ${KWS_CORPUS_DEFAULTS.seed})
  --small                     a tiny corpus for tests (3 accents x 2 variants, 1 clip per word, 20 s stream)
  --clips-per-word N          clips per keyword per train/val speaker (default ${KWS_CORPUS_DEFAULTS.clipsPerWord})
  --unknown-per-speaker N     _unknown_ clips per train/val speaker (default ${KWS_CORPUS_DEFAULTS.unknownPerSpeaker})
  --test-clips-per-word N     clips per keyword per held-out voice (default ${KWS_CORPUS_DEFAULTS.testClipsPerWord})
  --test-unknown-per-speaker N  _unknown_ clips per held-out voice (default ${KWS_CORPUS_DEFAULTS.testUnknownPerSpeaker})
  --accents A,B               espeak-ng accents (default all ${KWS_CORPUS_DEFAULTS.espeakAccents.length}: ${KWS_CORPUS_DEFAULTS.espeakAccents.join(',')})
  --variants A,B              espeak-ng variants (default ${KWS_CORPUS_DEFAULTS.espeakVariants.join(',')})
  --festival V,W              festival voices to add to training: ${TRAINVAL_FESTIVAL_VOICES.join(', ')}
                              (Debian festival and ${Object.values(FESTIVAL_VOICES).map((v) => v.package).join(', ')})
  --flite-f0 LOW,HIGH         mean-F0 factors drawn for the train/val flite voices awb and rms
                              (default 0.85,1.2; 1.9 gives them a woman's pitch, ~200 Hz)
  --val-fraction F            share of espeak-ng speakers held out for validation (default ${KWS_CORPUS_DEFAULTS.valFraction})
  --snr LOW,HIGH              noise SNR range in dB (default ${KWS_CORPUS_DEFAULTS.snrDb.join(',')})
  --stream-minutes M          length of the evaluation stream (default ${KWS_CORPUS_DEFAULTS.streamMinutes}; 0 for none)
  --jobs N                    concurrent synthesis jobs (default: the number of cores)
  --plan                      print the speakers and clip counts per split, synthesize nothing
  --json                      print the result as JSON`;

/** --flite-f0 LOW,HIGH: mean-F0 factors in (0, 3]. */
export function fliteF0Flag(v: unknown): [number, number] | undefined {
  if (v === undefined) return undefined;
  const p = String(v).split(',').map(Number);
  if (p.length !== 2 || !p.every((x) => Number.isFinite(x) && x > 0 && x <= 3) || p[0]! > p[1]!) throw usageError(`--flite-f0 needs LOW,HIGH mean-F0 factors in (0, 3], got '${String(v)}'`);
  return [p[0]!, p[1]!];
}

function listFlag(v: unknown): string[] | undefined {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

export function kwsOptionsFromFlags(args: string[], cwd: string): { options: KwsCorpusOptions; plan: boolean; json: boolean } {
  const { values: f } = parseFlags(
    args,
    {
      out: { type: 'string' },
      seed: { type: 'string' },
      small: { type: 'boolean' },
      'clips-per-word': { type: 'string' },
      'unknown-per-speaker': { type: 'string' },
      'test-clips-per-word': { type: 'string' },
      'test-unknown-per-speaker': { type: 'string' },
      accents: { type: 'string' },
      variants: { type: 'string' },
      festival: { type: 'string' },
      'flite-f0': { type: 'string' },
      'val-fraction': { type: 'string' },
      snr: { type: 'string' },
      'stream-minutes': { type: 'string' },
      jobs: { type: 'string' },
      plan: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    { min: 0, max: 0, names: '' },
  );
  const o: KwsCorpusOptions = { ...KWS_CORPUS_DEFAULTS, ...(f.small ? KWS_CORPUS_SMALL : {}) };
  const set = <K extends keyof KwsCorpusOptions>(k: K, v: KwsCorpusOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  set('seed', numberFlag(f.seed, 'seed', { integer: true }));
  set('clipsPerWord', numberFlag(f['clips-per-word'], 'clips-per-word', { integer: true, min: 0 }));
  set('unknownPerSpeaker', numberFlag(f['unknown-per-speaker'], 'unknown-per-speaker', { integer: true, min: 0 }));
  set('testClipsPerWord', numberFlag(f['test-clips-per-word'], 'test-clips-per-word', { integer: true, min: 0 }));
  set('testUnknownPerSpeaker', numberFlag(f['test-unknown-per-speaker'], 'test-unknown-per-speaker', { integer: true, min: 0 }));
  set('valFraction', numberFlag(f['val-fraction'], 'val-fraction', { min: 0, max: 0.9 }));
  set('streamMinutes', numberFlag(f['stream-minutes'], 'stream-minutes', { min: 0 }));
  set('jobs', numberFlag(f.jobs, 'jobs', { integer: true, min: 1, max: 64 }));
  set('espeakAccents', listFlag(f.accents));
  set('espeakVariants', listFlag(f.variants));
  set('festivalVoices', listFlag(f.festival));
  set('fliteF0Scale', fliteF0Flag(f['flite-f0']));
  if (f.snr !== undefined) {
    const p = String(f.snr).split(',').map(Number);
    if (p.length !== 2 || !p.every(Number.isFinite) || p[0]! > p[1]!) throw usageError(`--snr needs LOW,HIGH in dB, got '${String(f.snr)}'`);
    o.snrDb = [p[0]!, p[1]!];
  }
  o.outDir = resolve(cwd, typeof f.out === 'string' ? f.out : o.outDir);
  return { options: o, plan: f.plan === true, json: f.json === true };
}

export const dataKwsCommand: Command = {
  name: 'data-kws',
  summary: 'synthesize the keyword-spotting corpus (espeak-ng, flite, sox)',
  help: HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { options, plan, json } = kwsOptionsFromFlags(args, ctx.cwd);
    if (plan) {
      const p = planCorpus(options);
      const summary = Object.fromEntries(SPLITS.map((s) => [s, { speakers: p.speakers[s].map((x) => x.id), clips: p.jobs.filter((j) => j.split === s).length }]));
      ctx.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : SPLITS.map((s) => `${s}: ${summary[s]!.clips} clips from ${summary[s]!.speakers.length} speakers: ${summary[s]!.speakers.join(' ')}`).join('\n') + '\n');
      return 0;
    }
    let bar: Progress | undefined;
    let phase = '';
    let last = 0;
    const r = await generateKwsCorpus(options, {
      log: (line) => {
        bar?.clear(); // the line went on after the bar, on its row
        ctx.stderr.write(`${line}\n`);
      },
      onProgress: (done, total, ph) => {
        if (ph !== phase) {
          bar?.done();
          phase = ph;
          bar = new Progress(ctx.stderr, ph === 'clips' ? 'kws clips' : 'kws stream (samples)', total);
          last = 0;
        }
        bar!.tick(done - last);
        last = done;
      },
    });
    bar?.done();
    const m = r.manifest;
    if (json) {
      ctx.stdout.write(`${JSON.stringify({ outDir: options.outDir, cached: r.cached, seconds: r.seconds, configHash: m.configHash, counts: m.counts, speakers: m.speakers, stream: m.stream }, null, 2)}\n`);
      return 0;
    }
    const lines = [`kws corpus in ${options.outDir} (${r.cached ? 'cached' : `built in ${r.seconds.toFixed(1)} s`}, config ${m.configHash})`];
    for (const s of SPLITS) {
      const c = m.counts[s];
      const total = Object.values(c).reduce((a, b) => a + b, 0);
      lines.push(`  ${s.padEnd(5)} ${String(total).padStart(6)} clips, ${m.speakers[s].length} speakers  (${Object.entries(c).map(([l, n]) => `${l} ${n}`).join(', ')})`);
    }
    if (m.stream) lines.push(`  stream ${(m.stream.durationSec / 60).toFixed(1)} min, ${m.stream.keywords} keywords at 10 dB SNR, ${m.stream.distractorSentences} distractor sentences: ${m.stream.wav}, ${m.stream.truth}`);
    ctx.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
