/**
 * Node-only: builds the synthetic Speech Commands-style keyword corpus.
 *
 *   <outDir>/train/<label>/<speaker>_<word>_<n>.wav     1 s, 16 kHz, 16-bit mono
 *   <outDir>/val/<label>/...                             (speaker-disjoint from train)
 *   <outDir>/test/<label>/...                            held-out voices flite kal16 + slt only
 *   <outDir>/stream/stream.wav + stream.json             long false-accept stream (stream.ts)
 *   <outDir>/manifest.json                               config, counts, one record per clip
 *
 * Labels: yes no up down left right on off stop go, _unknown_ (Speech Commands' auxiliary words),
 * _silence_ (noise only). A word clip is: TTS (random speaking rate and pitch per clip) → sox
 * speed, pitch, optional band limit (sinc) and reverb, resampled to 16 kHz → trimmed to its active
 * span → gain to a random speech level → placed in 1 s with a random time shift → noise added at a
 * random SNR in [5, 30] dB (white/pink/brown from sox synth, or babble of non-keyword sentences).
 * Every random choice comes from an Rng seeded by hash(seed, clip path), so the corpus is
 * byte-identical for a seed however the worker pool interleaves. Noise beds are split by role
 * (train/val draw from the first 80 % of each synthetic bed, test from the last 20 %; babble beds
 * are built per role from that role's voices only).
 */
import { existsSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { EdgeRnnError, encodeWav, isEdgeRnnError, Rng } from '../../../src/index.js';
import { activeSpan, bedSegment, dbToGain, normalizeUnitRms, rms, type NoiseBed } from './dsp.js';
import { runPool } from './pool.js';
import { generateStream, type StreamManifest } from './stream.js';
import { assertTools, soxNoise, speak, unknownEspeakVariants, type EspeakProsody, type FliteProsody } from './tools.js';
import { assertSplitIntegrity, assignSplits, ESPEAK_ACCENTS, ESPEAK_VARIANTS, fnv1a, speakersOfRole, spokenText, SPLITS, FESTIVAL_VOICES, TRAINVAL_FESTIVAL_VOICES, type Speaker, type SpeakerRole, type Split } from './voices.js';
import { FILLER_WORDS, KEYWORDS, KWS_LABELS, SILENCE_LABEL, UNKNOWN_LABEL, UNKNOWN_WORDS } from './words.js';
import { makeDirs } from '../../../src/io/files.js';
import { takeLockFile } from '../../../src/util/lock-file.js';

export const SAMPLE_RATE_HZ = 16000;
export const CLIP_SAMPLES = SAMPLE_RATE_HZ; // 1 s
export const NOISE_KINDS = ['white', 'pink', 'brown', 'babble'] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];
/** Fractions of each synthetic (white/pink/brown) bed a role may draw from. */
export const BED_REGIONS: Readonly<Record<SpeakerRole, [number, number]>> = { trainval: [0, 0.8], test: [0.8, 1] };

export interface KwsCorpusOptions {
  /** Cache directory the corpus is written to (never inside git: .cache/ is ignored). */
  outDir: string;
  /** Seed of every random choice. */
  seed: number;
  /** Clips per keyword per train/val speaker. */
  clipsPerWord: number;
  /** _unknown_ clips per train/val speaker (words drawn from UNKNOWN_WORDS). */
  unknownPerSpeaker: number;
  /** Clips per keyword per held-out test voice (kal16, slt). */
  testClipsPerWord: number;
  /** _unknown_ clips per held-out test voice. */
  testUnknownPerSpeaker: number;
  /** espeak-ng accents (train/val). */
  espeakAccents: string[];
  /** espeak-ng voice variants (train/val); speakers = accents × variants. */
  espeakVariants: string[];
  /** Festival voices (train only; `ked`). Empty by default: festival is an optional Debian package. */
  festivalVoices: string[];
  /**
   * Range of the mean-F0 factor drawn per utterance for the train/val flite voices (awb, rms;
   * 100-110 Hz as they come); absent: FLITE_F0_SCALE. The held-out voices always keep the default.
   */
  fliteF0Scale?: [number, number];
  /** Share of espeak-ng speakers held out for validation (speaker-disjoint). */
  valFraction: number;
  /** SNR range of the added noise, dB (speech active-span RMS over noise RMS). */
  snrDb: [number, number];
  /** Speech level range, dBFS RMS over the active span. */
  speechLevelDb: [number, number];
  /** Level range of _silence_ clips, dBFS RMS. */
  silenceLevelDb: [number, number];
  /** Length of each noise bed, seconds. */
  bedSeconds: number;
  /** Simultaneous talkers in the babble beds. */
  babbleTalkers: number;
  /** Length of the false-accept evaluation stream, minutes (0: none). */
  streamMinutes: number;
  /** Concurrent synthesis jobs (each runs its own TTS and sox processes). */
  jobs: number;
}

/** Defaults: 130 train/val speakers × 10 keywords × 2 clips, 600 held-out keyword clips, a 10-minute stream. */
export const KWS_CORPUS_DEFAULTS: Readonly<KwsCorpusOptions> = {
  outDir: '.cache/kws',
  seed: 1,
  clipsPerWord: 2,
  unknownPerSpeaker: 3,
  testClipsPerWord: 30,
  testUnknownPerSpeaker: 30,
  espeakAccents: [...ESPEAK_ACCENTS],
  espeakVariants: [...ESPEAK_VARIANTS],
  festivalVoices: [],
  valFraction: 0.15,
  snrDb: [5, 30],
  speechLevelDb: [-32, -14],
  silenceLevelDb: [-65, -25],
  bedSeconds: 60,
  babbleTalkers: 5,
  streamMinutes: 10,
  jobs: availableParallelism(),
};

/** `--small`: a corpus of about a hundred clips and a 20 s stream, for tests. */
export const KWS_CORPUS_SMALL: Partial<KwsCorpusOptions> = {
  outDir: '.cache/kws-small',
  clipsPerWord: 1,
  unknownPerSpeaker: 1,
  testClipsPerWord: 1,
  testUnknownPerSpeaker: 1,
  espeakAccents: ['en-us', 'en-gb', 'en-gb-scotland'],
  espeakVariants: ['m3', 'f2'],
  bedSeconds: 8,
  babbleTalkers: 2,
  streamMinutes: 1 / 3,
};

export interface ClipRecord {
  /** Relative to outDir: `<split>/<label>/<file>.wav`. */
  path: string;
  split: Split;
  label: string;
  /** The spoken word (absent for _silence_). */
  word?: string;
  speaker?: string;
  /** Every speaker whose audio is in the clip (the word's speaker and any babble talkers). */
  sources: string[];
  tts?: Record<string, number>;
  aug: {
    speed?: number;
    pitchCents?: number;
    bandHz?: [number, number];
    reverb?: { reverberance: number; roomScale: number };
    levelDb: number;
    shiftMs?: number;
    snrDb?: number;
    noise: NoiseKind | 'none';
    noiseOffset?: number;
    /** Extra gain applied to avoid clipping, dB (0 when none). */
    clipGuardDb: number;
    /** The word was longer than 1 s and was cut. */
    truncated?: boolean;
  };
}

/**
 * Version of what the generator writes for given options (manifest layout, clip rendering). Bump
 * it when either changes: a corpus of another version is rebuilt, never reused.
 */
export const KWS_CORPUS_VERSION = 1;

export interface KwsCorpusManifest {
  generator: 'quantize/data/kws';
  version: typeof KWS_CORPUS_VERSION;
  configHash: string;
  options: Omit<KwsCorpusOptions, 'outDir' | 'jobs'>;
  sampleRateHz: number;
  labels: readonly string[];
  speakers: Record<Split, string[]>;
  counts: Record<Split, Record<string, number>>;
  clips: ClipRecord[];
  stream?: StreamManifest;
  complete: true;
}

export function configHash(o: KwsCorpusOptions): string {
  const { outDir: _o, jobs: _j, festivalVoices, ...rest } = o;
  // Without festival voices the hash is the one corpora had before festival existed, so they stay valid.
  return fnv1a(JSON.stringify(festivalVoices.length > 0 ? { ...rest, festivalVoices } : rest)).toString(16).padStart(8, '0');
}

/** Usage errors (exit 2) for options out of range, before any work. */
export function checkKwsOptions(o: KwsCorpusOptions): void {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new EdgeRnnError('USAGE', `kws corpus: ${field} must be ${expected}, got ${JSON.stringify(got)}`, { field, expected, got });
  };
  for (const f of ['clipsPerWord', 'unknownPerSpeaker', 'testClipsPerWord', 'testUnknownPerSpeaker', 'babbleTalkers'] as const) {
    if (!Number.isInteger(o[f]) || o[f] < 0 || o[f] > 10000) fail(f, 'an integer in 0..10000', o[f]);
  }
  if (!Number.isInteger(o.jobs) || o.jobs < 1) fail('jobs', 'an integer >= 1', o.jobs);
  if (!Number.isInteger(o.seed)) fail('seed', 'an integer', o.seed);
  if (!(o.valFraction >= 0 && o.valFraction < 1)) fail('valFraction', 'in [0, 1)', o.valFraction);
  if (!(o.snrDb[0] <= o.snrDb[1])) fail('snrDb', 'a [low, high] range', o.snrDb);
  if (!(o.bedSeconds >= 5)) fail('bedSeconds', '>= 5 (the test region, 20 % of the bed, must hold a 1 s clip)', o.bedSeconds);
  if (!(o.streamMinutes >= 0)) fail('streamMinutes', '>= 0', o.streamMinutes);
  for (const a of o.espeakAccents) if (!(ESPEAK_ACCENTS as readonly string[]).includes(a)) fail('espeakAccents', `a subset of ${ESPEAK_ACCENTS.join(', ')}`, a);
  for (const v of o.espeakVariants) if (!/^[A-Za-z0-9]+$/.test(v)) fail('espeakVariants', 'names of espeak-ng variants (letters and digits)', v);
  for (const v of o.festivalVoices) if (!TRAINVAL_FESTIVAL_VOICES.includes(v)) fail('festivalVoices', `a subset of ${TRAINVAL_FESTIVAL_VOICES.join(', ')} (kal and slt are the held-out speakers)`, v);
  if (o.fliteF0Scale !== undefined && !(o.fliteF0Scale.length === 2 && o.fliteF0Scale[0] > 0 && o.fliteF0Scale[0] <= o.fliteF0Scale[1] && o.fliteF0Scale[1] <= 3)) fail('fliteF0Scale', 'a [low, high] range within (0, 3]', o.fliteF0Scale);
  if (o.espeakAccents.length * o.espeakVariants.length === 0) fail('espeakAccents × espeakVariants', 'at least one espeak-ng speaker', 0);
}

type WordJob = { kind: 'word'; split: Split; role: SpeakerRole; label: string; word: string; speaker: Speaker; path: string };
type SilenceJob = { kind: 'silence'; split: Split; role: SpeakerRole; path: string };
type Job = WordJob | SilenceJob;

/** Every clip of the corpus, before synthesis; the split of a word clip is its speaker's split. */
export function planCorpus(o: KwsCorpusOptions): { jobs: Job[]; speakers: Record<Split, Speaker[]> } {
  checkKwsOptions(o);
  const trainval = speakersOfRole('trainval', o.espeakAccents, o.espeakVariants, o.festivalVoices);
  const test = speakersOfRole('test', o.espeakAccents, o.espeakVariants);
  const splitOf = assignSplits([...trainval, ...test], o.valFraction);
  const speakers: Record<Split, Speaker[]> = { train: [], val: [], test: [] };
  for (const s of [...trainval, ...test]) speakers[splitOf.get(s.id)!].push(s);
  const jobs: Job[] = [];
  for (const split of SPLITS) {
    const role: SpeakerRole = split === 'test' ? 'test' : 'trainval';
    const perWord = split === 'test' ? o.testClipsPerWord : o.clipsPerWord;
    const perUnknown = split === 'test' ? o.testUnknownPerSpeaker : o.unknownPerSpeaker;
    for (const sp of speakers[split]) {
      if (sp.role !== role) throw new EdgeRnnError('DATASET_INTEGRITY', `speaker ${sp.id} (${sp.role}) was assigned to ${split}`);
      for (const word of KEYWORDS) {
        for (let n = 0; n < perWord; n++) jobs.push({ kind: 'word', split, role, label: word, word, speaker: sp, path: `${split}/${word}/${sp.id}_${word}_${n}.wav` });
      }
      const wordRng = new Rng(fnv1a(`${o.seed}|unknown|${sp.id}`));
      for (let n = 0; n < perUnknown; n++) {
        const word = wordRng.pick(UNKNOWN_WORDS);
        jobs.push({ kind: 'word', split, role, label: UNKNOWN_LABEL, word, speaker: sp, path: `${split}/${UNKNOWN_LABEL}/${sp.id}_${word}_${n}.wav` });
      }
    }
    // _silence_: as many clips as an average keyword class of this split.
    const silence = Math.round(speakers[split].length * perWord);
    for (let n = 0; n < silence; n++) jobs.push({ kind: 'silence', split, role, path: `${split}/${SILENCE_LABEL}/noise_${n}.wav` });
  }
  return { jobs, speakers };
}

/** Mean-F0 factors drawn for flite and festival utterances by default. */
export const FLITE_F0_SCALE: readonly [number, number] = [0.85, 1.2];

/** TTS prosody drawn for one utterance. */
export function drawProsody(sp: Speaker, rng: Rng, fliteF0Scale?: readonly [number, number]): EspeakProsody | FliteProsody {
  if (sp.engine === 'espeak-ng') return { wpm: rng.uniform(120, 200), pitch: rng.uniform(25, 75) };
  const [lo, hi] = sp.engine === 'flite' && sp.role === 'trainval' && fliteF0Scale ? fliteF0Scale : FLITE_F0_SCALE;
  const p = { durationStretch: rng.uniform(0.85, 1.25), f0Scale: rng.uniform(lo, hi) };
  // Festival voices without a settable target F0 record the scale they were actually given.
  return sp.engine === 'festival' && FESTIVAL_VOICES[sp.voice]!.f0Hz === undefined ? { ...p, f0Scale: 1 } : p;
}

export type Beds = Record<SpeakerRole, Record<NoiseKind, { bed: NoiseBed; region: [number, number] }>>;

/** The noise beds: white/pink/brown from sox synth (shared, split by region), babble per role. */
export async function makeBeds(o: KwsCorpusOptions, work: string, speakersByRole: Record<SpeakerRole, Speaker[]>): Promise<Beds> {
  const synth: Record<'white' | 'pink' | 'brown', NoiseBed> = {
    white: { kind: 'white', samples: normalizeUnitRms(await soxNoise('whitenoise', o.bedSeconds, SAMPLE_RATE_HZ)), sources: [] },
    pink: { kind: 'pink', samples: normalizeUnitRms(await soxNoise('pinknoise', o.bedSeconds, SAMPLE_RATE_HZ)), sources: [] },
    brown: { kind: 'brown', samples: normalizeUnitRms(await soxNoise('brownnoise', o.bedSeconds, SAMPLE_RATE_HZ)), sources: [] },
  };
  const babble: Record<SpeakerRole, NoiseBed> = {
    trainval: await makeBabble(o, work, 'trainval', speakersByRole.trainval),
    test: await makeBabble(o, work, 'test', speakersByRole.test),
  };
  const beds = {} as Beds;
  for (const role of ['trainval', 'test'] as const) {
    beds[role] = {
      white: { bed: synth.white, region: BED_REGIONS[role] },
      pink: { bed: synth.pink, region: BED_REGIONS[role] },
      brown: { bed: synth.brown, region: BED_REGIONS[role] },
      babble: { bed: babble[role], region: [0, 1] },
    };
  }
  return beds;
}

/**
 * Babble: `babbleTalkers` simultaneous voices of one role saying sentences of non-keyword words,
 * each sentence at unit RMS over its active span, summed circularly into a bed of bedSeconds.
 */
async function makeBabble(o: KwsCorpusOptions, work: string, role: SpeakerRole, speakers: Speaker[]): Promise<NoiseBed> {
  const rng = new Rng(fnv1a(`${o.seed}|babble|${role}`));
  const len = Math.round(o.bedSeconds * SAMPLE_RATE_HZ);
  // About 2 s per sentence: enough sentences to keep babbleTalkers going for the whole bed.
  const count = Math.max(2, Math.ceil((o.bedSeconds * Math.max(1, o.babbleTalkers)) / 2));
  const plan = Array.from({ length: count }, (_, i) => {
    const sp = rng.pick(speakers);
    const words = Array.from({ length: rng.int(4, 8) }, () => rng.pick(FILLER_WORDS)).join(' ');
    return { sp, words, prosody: drawProsody(sp, rng, o.fliteF0Scale), offset: rng.int(0, len - 1), i };
  });
  const audio = await runPool(plan, o.jobs, (p) => speak(p.sp, p.words, p.prosody, [], join(work, `babble-${role}-${p.i}.wav`)));
  const bed = new Float32Array(len);
  plan.forEach((p, k) => {
    const x = audio[k]!;
    const [a, b] = activeSpan(x, SAMPLE_RATE_HZ);
    const g = 1 / Math.max(rms(x, a, b), 1e-9);
    for (let i = a; i < b; i++) bed[(p.offset + i - a) % len]! += x[i]! * g;
  });
  return { kind: 'babble', samples: normalizeUnitRms(bed), sources: [...new Set(plan.map((p) => p.sp.id))].sort() };
}

/** Keeps the peak at or under -0.2 dBFS; returns the gain applied (dB, <= 0). */
function clipGuard(x: Float32Array): number {
  let peak = 0;
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]!));
  const limit = 0.977;
  if (peak <= limit) return 0;
  const g = limit / peak;
  for (let i = 0; i < x.length; i++) x[i]! *= g;
  return 20 * Math.log10(g);
}

async function renderWord(o: KwsCorpusOptions, job: WordJob, beds: Beds, work: string): Promise<{ samples: Float32Array; record: ClipRecord }> {
  const rng = new Rng(fnv1a(`${o.seed}|${job.path}`));
  const prosody = drawProsody(job.speaker, rng, o.fliteF0Scale);
  const speed = rng.uniform(0.9, 1.1);
  const pitchCents = Math.round(rng.uniform(-200, 200));
  // speed and pitch change the rate inside sox: resample to 16 kHz before band limit and reverb.
  const effects = ['speed', speed.toFixed(4), 'pitch', String(pitchCents), 'rate', String(SAMPLE_RATE_HZ)];
  const aug: ClipRecord['aug'] = { speed: Number(speed.toFixed(4)), pitchCents, levelDb: 0, noise: 'none', clipGuardDb: 0 };
  if (rng.next() < 0.5) {
    const band: [number, number] = [Math.round(rng.uniform(50, 300)), Math.round(rng.uniform(3000, 7500))];
    effects.push('sinc', `${band[0]}-${band[1]}`);
    aug.bandHz = band;
  }
  if (rng.next() < 0.4) {
    const reverb = { reverberance: Math.round(rng.uniform(10, 60)), roomScale: Math.round(rng.uniform(20, 100)) };
    effects.push('reverb', String(reverb.reverberance), '50', String(reverb.roomScale));
    aug.reverb = reverb;
  }
  const x = await speak(job.speaker, spokenText(job.speaker, job.word), prosody, effects, join(work, `tts-${fnv1a(job.path).toString(16)}.wav`));
  let [a, b] = activeSpan(x, SAMPLE_RATE_HZ);
  if (b <= a) throw new EdgeRnnError('EXTERNAL_TOOL', `${job.speaker.engine} ${job.speaker.voice} produced silence for "${job.word}" (${job.path})`);
  if (b - a > CLIP_SAMPLES) {
    b = a + CLIP_SAMPLES;
    aug.truncated = true;
  }
  const levelDb = rng.uniform(o.speechLevelDb[0], o.speechLevelDb[1]);
  const speechRms = dbToGain(levelDb);
  const g = speechRms / Math.max(rms(x, a, b), 1e-9);
  const slack = CLIP_SAMPLES - (b - a);
  const maxShift = Math.round(0.1 * SAMPLE_RATE_HZ);
  const at = Math.min(slack, Math.max(0, Math.round(slack / 2) + rng.int(-maxShift, maxShift)));
  const clip = new Float32Array(CLIP_SAMPLES);
  for (let i = a; i < b; i++) clip[at + i - a] = x[i]! * g;
  const noise = rng.pick(NOISE_KINDS);
  const snrDb = rng.uniform(o.snrDb[0], o.snrDb[1]);
  const { bed, region } = beds[job.role][noise];
  const seg = bedSegment(bed, CLIP_SAMPLES, region[0], region[1], rng);
  const ng = speechRms / dbToGain(snrDb); // bed is unit RMS
  for (let i = 0; i < CLIP_SAMPLES; i++) clip[i]! += seg.samples[i]! * ng;
  Object.assign(aug, { levelDb: round3(levelDb), shiftMs: round3(((at - Math.round(slack / 2)) * 1000) / SAMPLE_RATE_HZ), snrDb: round3(snrDb), noise, noiseOffset: seg.offset });
  aug.clipGuardDb = round3(clipGuard(clip));
  const sources = [...new Set([job.speaker.id, ...(noise === 'babble' ? bed.sources : [])])].sort();
  const tts = Object.fromEntries(Object.entries(prosody).map(([k, v]) => [k, round3(v as number)]));
  return { samples: clip, record: { path: job.path, split: job.split, label: job.label, word: job.word, speaker: job.speaker.id, sources, tts, aug } };
}

function renderSilence(o: KwsCorpusOptions, job: SilenceJob, beds: Beds): { samples: Float32Array; record: ClipRecord } {
  const rng = new Rng(fnv1a(`${o.seed}|${job.path}`));
  const noise = rng.pick(NOISE_KINDS);
  // One in ten is near-digital silence (-90 dBFS white noise): real microphones give both.
  const levelDb = rng.next() < 0.1 ? -90 : rng.uniform(o.silenceLevelDb[0], o.silenceLevelDb[1]);
  const { bed, region } = beds[job.role][noise];
  const seg = bedSegment(bed, CLIP_SAMPLES, region[0], region[1], rng);
  const g = dbToGain(levelDb);
  const clip = Float32Array.from(seg.samples, (v) => v * g);
  const clipGuardDb = round3(clipGuard(clip));
  return {
    samples: clip,
    record: { path: job.path, split: job.split, label: SILENCE_LABEL, sources: noise === 'babble' ? [...bed.sources] : [], aug: { levelDb: round3(levelDb), noise, noiseOffset: seg.offset, clipGuardDb } },
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export interface GenerateResult {
  manifest: KwsCorpusManifest;
  /** True when a complete corpus with the same configuration was already in outDir. */
  cached: boolean;
  seconds: number;
}

export interface GenerateHooks {
  /** Called after each clip is written (done, total). */
  onProgress?: (done: number, total: number, phase: 'clips' | 'stream') => void;
  /** Informational messages (cache hits, rebuild reasons). */
  log?: (line: string) => void;
}

const GENERATED_ENTRIES = ['train', 'val', 'test', 'stream', '_work', 'manifest.json'];

/** Held in the corpus folder while a process checks, deletes or writes it. */
export const KWS_CORPUS_LOCK = '.build.lock';

/**
 * Builds the corpus in o.outDir, or reuses it when a complete one with the same configuration is
 * there. One process at a time: a second one started on the same folder (another training, a
 * second terminal) would delete the clips the first is writing, so it is refused with
 * DATASET_BUSY naming the first; a lock left by a process that died is taken over.
 */
export async function generateKwsCorpus(options: KwsCorpusOptions, hooks: GenerateHooks = {}): Promise<GenerateResult> {
  const o = { ...options, snrDb: [...options.snrDb] as [number, number] };
  checkKwsOptions(o);
  const file = join(o.outDir, KWS_CORPUS_LOCK);
  // The lock makes the folder; a run refused before it writes anything takes the folder away again.
  const existed = existsSync(o.outDir);
  let tookOver = false; // a build of a process that died: the folder is this generator's
  const lock = takeLockFile(file, { job: 'kws corpus' }, {
    refused: (h) =>
      new EdgeRnnError(
        'DATASET_BUSY',
        `kws corpus: ${o.outDir} is being built by ${h ? `process ${h.pid} on ${h.host} (since ${h.startedAt})` : 'a process that is starting'}: wait for it to finish (it is reused then), or give this run its own folder. If that process is gone, delete ${file}`,
        { dir: o.outDir, file, holder: h },
      ),
    cannotCreate: (e) => new EdgeRnnError('DATASET_BUSY', `kws corpus: cannot create the lock ${file}: ${e.message}`, { dir: o.outDir, file }),
    raced: () => new EdgeRnnError('DATASET_BUSY', `kws corpus: another process took the lock ${file} at the same time`, { dir: o.outDir, file }),
    takenOver: (reason) => {
      tookOver = true;
      hooks.log?.(`kws corpus: taking over the lock ${file} (${reason})`);
    },
  });
  try {
    return await buildOrReuse(o, hooks, tookOver);
  } finally {
    lock.release();
    if (!existed) rmEmptyDir(o.outDir);
  }
}

function rmEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* not empty (the build wrote something), or gone */
  }
}

async function buildOrReuse(o: KwsCorpusOptions, hooks: GenerateHooks, tookOver: boolean): Promise<GenerateResult> {
  const t0 = Date.now();
  const hash = configHash(o);
  const manifestPath = join(o.outDir, 'manifest.json');
  // A folder this generator did not make (no manifest.json of its own, neither the _work folder
  // nor the lock of a build that was killed) may hold someone's own clips in train/, val/ or test/:
  // they were deleted with the generated entries.
  const foreign = (manifest: string): EdgeRnnError => {
    const found = GENERATED_ENTRIES.filter((e) => e !== '_work' && e !== 'manifest.json' && existsSync(join(o.outDir, e))).map((e) => `${e}/`);
    const what = [...found, ...(manifest ? [manifest] : [])].join(', ');
    return new EdgeRnnError('USAGE', `kws corpus: ${o.outDir} holds ${what}${manifest ? '' : ' but no manifest.json'}: it is no corpus of data:kws, and building one there deletes ${found.length + (manifest ? 1 : 0) === 1 ? 'it' : 'them'}; give an empty or new folder (--out)`, { dir: o.outDir, entries: found });
  };
  if (existsSync(manifestPath)) {
    try {
      const old = JSON.parse(readFileSync(manifestPath, 'utf8')) as KwsCorpusManifest;
      if (old?.generator !== 'quantize/data/kws') throw foreign(`a manifest.json of another generator (${JSON.stringify(old?.generator)})`);
      const sameVersion = old.generator === 'quantize/data/kws' && old.version === KWS_CORPUS_VERSION;
      if (sameVersion && old.configHash === hash && old.complete) {
        hooks.log?.(`kws corpus: ${o.outDir} already holds this configuration (${hash}), reusing it`);
        return { manifest: old, cached: true, seconds: (Date.now() - t0) / 1000 };
      }
      if (!sameVersion) hooks.log?.(`kws corpus: ${o.outDir} was made by generator version ${JSON.stringify(old.version)}, this is version ${KWS_CORPUS_VERSION}: rebuilding`);
      else hooks.log?.(`kws corpus: ${o.outDir} holds configuration ${old.configHash}, rebuilding for ${hash}`);
    } catch (e) {
      if (isEdgeRnnError(e, 'USAGE')) throw e;
      hooks.log?.(`kws corpus: ${manifestPath} is unreadable, rebuilding`);
    }
  } else if (!tookOver && !existsSync(join(o.outDir, '_work')) && GENERATED_ENTRIES.some((e) => existsSync(join(o.outDir, e)))) {
    throw foreign('');
  }
  // Every tool checked before anything is deleted: a missing one must not cost the old corpus.
  await assertTools(o.festivalVoices);
  const variants = await unknownEspeakVariants(o.espeakVariants);
  if (variants.unknown.length > 0) {
    throw new EdgeRnnError('USAGE', `kws corpus: espeakVariants must be espeak-ng variants installed here (${variants.installed.join(', ')}), got ${variants.unknown.map((v) => JSON.stringify(v)).join(', ')}: espeak-ng would speak them with the plain voice`, { field: 'espeakVariants', expected: variants.installed, got: variants.unknown });
  }
  for (const e of GENERATED_ENTRIES) rmSync(join(o.outDir, e), { recursive: true, force: true });
  const work = join(o.outDir, '_work');
  makeDirs(work);

  const { jobs, speakers } = planCorpus(o);
  const byRole: Record<SpeakerRole, Speaker[]> = { trainval: [...speakers.train, ...speakers.val], test: speakers.test };
  const beds = await makeBeds(o, work, byRole);
  for (const split of SPLITS) for (const label of KWS_LABELS) makeDirs(join(o.outDir, split, label));

  let done = 0;
  const records = await runPool(jobs, o.jobs, async (job) => {
    const { samples, record } = job.kind === 'word' ? await renderWord(o, job, beds, work) : renderSilence(o, job, beds);
    writeFileSync(join(o.outDir, job.path), encodeWav(samples, SAMPLE_RATE_HZ));
    hooks.onProgress?.(++done, jobs.length, 'clips');
    return record;
  });
  records.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  assertSplitIntegrity(records);

  let stream: StreamManifest | undefined;
  if (o.streamMinutes > 0) {
    stream = await generateStream({ outDir: join(o.outDir, 'stream'), work, seed: o.seed, minutes: o.streamMinutes, speakers: byRole.test, beds: beds.test, jobs: o.jobs }, (d, t) =>
      hooks.onProgress?.(d, t, 'stream'),
    );
  }
  rmSync(work, { recursive: true, force: true });

  const counts = Object.fromEntries(SPLITS.map((s) => [s, Object.fromEntries(KWS_LABELS.map((l) => [l, records.filter((r) => r.split === s && r.label === l).length]))])) as KwsCorpusManifest['counts'];
  const { outDir: _o, jobs: _j, ...kept } = o;
  const manifest: KwsCorpusManifest = {
    generator: 'quantize/data/kws',
    version: KWS_CORPUS_VERSION,
    configHash: hash,
    options: kept,
    sampleRateHz: SAMPLE_RATE_HZ,
    labels: KWS_LABELS,
    speakers: { train: speakers.train.map((s) => s.id), val: speakers.val.map((s) => s.id), test: speakers.test.map((s) => s.id) },
    counts,
    clips: records,
    ...(stream ? { stream } : {}),
    complete: true,
  };
  // Written last, whole or not at all: the manifest is what marks the corpus complete.
  writeFileSync(`${manifestPath}.tmp`, `${JSON.stringify(manifest, null, 1)}\n`);
  renameSync(`${manifestPath}.tmp`, manifestPath);
  return { manifest, cached: false, seconds: (Date.now() - t0) / 1000 };
}
