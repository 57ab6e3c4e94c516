/**
 * Node-only: long streams spoken by the corpus's *train* or *validation* voices, made by the
 * corpus's own stream generator (quantize/data/kws/stream.ts) with the train/val noise beds.
 *
 * The held-out stream (`<corpus>/stream/`) uses the test voices kal16 and slt, so it can only
 * score. Thresholds are tuned on a validation stream of the validation voices (continuous
 * non-keyword sentences, keywords at 10 dB SNR: the same structure as the held-out stream), and
 * the classifier learns continuous speech from windows of a training stream of the training
 * voices. Every speaker is checked against its split before anything is synthesized.
 *
 * Cached in `<dir>/<split>-<key>/stream.{wav,json}`, key = corpus config hash, split, seed and
 * minutes; a `done.json` marks a complete stream.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeRnnError } from '../../../src/index.js';
import { KWS_CORPUS_DEFAULTS, makeBeds, planCorpus, type KwsCorpusOptions } from '../../data/kws/corpus.js';
import { generateStream, type StreamTruth } from '../../data/kws/stream.js';
import { assertTools } from '../../data/kws/tools.js';
import type { CorpusIndex } from './features.js';
import { makeDirs } from '../../../src/io/files.js';

export interface JobStreamOptions {
  split: 'train' | 'val';
  minutes: number;
  seed: number;
  /** Cache root (e.g. .cache/kws-job/streams). */
  dir: string;
  jobs: number;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
}

export interface JobStream {
  wav: string;
  truth: StreamTruth;
  cached: boolean;
}

/** The corpus options a corpus manifest was built with (for the beds and the speaker plan). */
export function corpusOptionsOf(index: CorpusIndex, work: string, jobs: number): KwsCorpusOptions {
  return { ...KWS_CORPUS_DEFAULTS, ...(index.options as Partial<KwsCorpusOptions>), outDir: work, jobs };
}

/**
 * The cache key of a job stream: the corpus's options (config hash) and generator version, split,
 * seed and minutes. Version 1 corpora keep the key they had before the version was part of it, so
 * their streams stay cached; a corpus of any other version gets streams of its own.
 */
export function jobStreamKey(index: Pick<CorpusIndex, 'configHash' | 'version'>, o: Pick<JobStreamOptions, 'split' | 'seed' | 'minutes'>): string {
  const version = index.version === 1 ? {} : { corpusVersion: index.version ?? null };
  return createHash('sha256').update(JSON.stringify({ corpus: index.configHash, ...version, split: o.split, seed: o.seed, minutes: o.minutes })).digest('hex').slice(0, 16);
}

export async function jobStream(index: CorpusIndex, o: JobStreamOptions): Promise<JobStream> {
  const key = jobStreamKey(index, o);
  const out = join(o.dir, `${o.split}-${key}`);
  const done = join(out, 'done.json');
  if (existsSync(done)) {
    o.log?.(`kws job: reusing the ${o.split} stream in ${out}`);
    return { wav: join(out, 'stream.wav'), truth: JSON.parse(readFileSync(join(out, 'stream.json'), 'utf8')) as StreamTruth, cached: true };
  }
  rmSync(out, { recursive: true, force: true });
  const work = join(out, '_work');
  makeDirs(work);
  const co = corpusOptionsOf(index, work, o.jobs);
  const { speakers } = planCorpus(co);
  const voices = speakers[o.split];
  // The held-out rule: a job stream never contains a test voice, and only voices of its split.
  const expected = new Set(index.clips.filter((c) => c.split === o.split && c.speaker !== undefined).map((c) => c.speaker!));
  for (const v of voices) {
    if (v.role !== 'trainval' || !expected.has(v.id)) throw new EdgeRnnError('DATASET_INTEGRITY', `${o.split} stream: voice ${v.id} is not a ${o.split} voice of the corpus`);
  }
  // All programs at once, before an hour of synthesis can fail on the first missing one.
  await assertTools(co.festivalVoices);
  o.log?.(`kws job: synthesizing a ${o.minutes}-minute ${o.split} stream (${voices.length} voices) in ${out}`);
  const beds = await makeBeds(co, work, { trainval: [...speakers.train, ...speakers.val], test: speakers.test });
  await generateStream({ outDir: out, work, seed: o.seed, minutes: o.minutes, speakers: voices, beds: beds.trainval, jobs: o.jobs }, o.onProgress);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(done, JSON.stringify({ corpus: index.configHash, split: o.split, seed: o.seed, minutes: o.minutes, voices: voices.map((v) => v.id) }, null, 1));
  return { wav: join(out, 'stream.wav'), truth: JSON.parse(readFileSync(join(out, 'stream.json'), 'utf8')) as StreamTruth, cached: false };
}
