/**
 * Who speaks in the synthetic keyword corpus, and which split each voice may appear in.
 *
 * The held-out rule of the issue: flite's `kal16` and `slt` are test-only; training and
 * validation use espeak-ng (accents × voice variants) and flite's `awb` and `rms`. The rule lives
 * here and only here: a speaker's role comes from `roleOfFliteVoice` / `roleOfFestivalVoice` / the
 * espeak table, a clip's
 * split is derived from its speaker (never passed separately), and `assertSplitIntegrity`
 * re-checks the whole manifest before it is written. flite's `kal` is the 8 kHz twin of `kal16`
 * (same speaker) and is never used; `awb_time` only speaks clock times and is not used.
 *
 * Festival (optional, Debian `festival` and its `festvox-*` voices) adds train-only voices:
 * `ked`, an American English diphone voice, and ten voices of other languages (Italian, Finnish,
 * Czech diphone voices, a Catalan HTS voice, a Russian unit-selection voice; four women, five men,
 * a boy) that say the keywords from respellings in their own orthography
 * (`KEYWORD_RESPELLINGS`): accented English, and the only natural-recording women's voices
 * available here besides the held-out slt. Festival's `kal` diphone voice is the held-out
 * kal16 speaker and its `slt` HTS voice the held-out slt speaker: both are banned.
 *
 * Available here (checked with `espeak-ng --voices=en`, `ls .../espeak-ng-data/voices/!v`,
 * `flite -lv`): 8 English espeak-ng accents, ~100 variants, flite kal awb_time kal16 awb rms slt.
 * MBROLA voices are listed by espeak-ng but the mbrola binary is not installed, so none are used.
 */
import { EdgeRnnError } from '../../../src/index.js';

export type SpeakerRole = 'trainval' | 'test';
export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export const TRAINVAL_FLITE_VOICES = ['awb', 'rms'] as const;
export const TEST_FLITE_VOICES = ['kal16', 'slt'] as const;
/** Never used: `kal` is the same speaker as the held-out `kal16`; `awb_time` is a limited-domain clock voice. */
export const BANNED_FLITE_VOICES = ['kal', 'awb_time'] as const;

export type FestivalLanguage = 'en' | 'it' | 'fi' | 'cs' | 'ca' | 'ru';

/** A festival voice: the scheme command that selects it, its language, and its Debian package. */
export interface FestivalVoice {
  command: string;
  language: FestivalLanguage;
  package: string;
  /** Directory under /usr/share/festival/voices (present when the package is installed). */
  dir: string;
  /** Mean F0 (Hz) of its linear-regression intonation model, where the target F0 can be set (ked). */
  f0Hz?: number;
  /** Text encoding the voice reads (default latin1; the Russian voice reads UTF-8). */
  encoding?: 'latin1' | 'utf8';
  /** How it was made: 'diphone' (one recorded diphone each), 'units' (unit selection from recordings), 'hts' (statistical parametric). */
  kind: 'diphone' | 'units' | 'hts';
  /** Who speaks: 'woman', 'man' or 'boy'. */
  speaker: 'woman' | 'man' | 'boy';
}

export const FESTIVAL_VOICES: Readonly<Record<string, FestivalVoice>> = {
  ked: { command: 'voice_ked_diphone', language: 'en', package: 'festvox-kdlpc16k', dir: 'english/ked_diphone', f0Hz: 105, kind: 'diphone', speaker: 'man' },
  it_lp: { command: 'voice_lp_diphone', language: 'it', package: 'festvox-italp16k', dir: 'italian/lp_diphone', kind: 'diphone', speaker: 'woman' },
  it_pc: { command: 'voice_pc_diphone', language: 'it', package: 'festvox-itapc16k', dir: 'italian/pc_diphone', kind: 'diphone', speaker: 'man' },
  fi_lj: { command: 'voice_suo_fi_lj_diphone', language: 'fi', package: 'festvox-suopuhe-lj', dir: 'finnish/suo_fi_lj_diphone', kind: 'diphone', speaker: 'woman' },
  fi_mv: { command: 'voice_hy_fi_mv_diphone', language: 'fi', package: 'festvox-suopuhe-mv', dir: 'finnish/hy_fi_mv_diphone', kind: 'diphone', speaker: 'man' },
  cs_dita: { command: 'voice_czech_dita', language: 'cs', package: 'festvox-czech-dita', dir: 'czech/czech_dita', kind: 'diphone', speaker: 'woman' },
  cs_ph: { command: 'voice_czech_ph', language: 'cs', package: 'festvox-czech-ph', dir: 'czech/czech_ph', kind: 'diphone', speaker: 'man' },
  cs_machac: { command: 'voice_czech_machac', language: 'cs', package: 'festvox-czech-machac', dir: 'czech/czech_machac', kind: 'diphone', speaker: 'man' },
  cs_krb: { command: 'voice_czech_krb', language: 'cs', package: 'festvox-czech-krb', dir: 'czech/czech_krb', kind: 'diphone', speaker: 'boy' },
  ca_ona: { command: 'voice_upc_ca_ona_hts', language: 'ca', package: 'festvox-ca-ona-hts', dir: 'catalan/upc_ca_ona_hts', kind: 'hts', speaker: 'woman' },
  ru_nsh: { command: 'voice_msu_ru_nsh_clunits', language: 'ru', package: 'festvox-ru', dir: 'russian/msu_ru_nsh_clunits', encoding: 'utf8', kind: 'units', speaker: 'man' },
};

/**
 * How a speaker of each language would write the English keywords so that its own
 * letter-to-sound rules say them: /jɛs/ "iess" in Italian, "jes" in Finnish and Czech, "iès" in Catalan, "йес" in Russian; /aʊ/
 * "au"; /aɪ/ "ai"/"aj"; /oʊ/ "ou"; /ʌ/ "a". Other text (the _unknown_ words, babble) is read as
 * written: foreign-sounding words are still not keywords.
 */
export const KEYWORD_RESPELLINGS: Readonly<Record<Exclude<FestivalLanguage, 'en'>, Readonly<Record<string, string>>>> = {
  it: { yes: 'iess', no: 'nou', up: 'ap', down: 'daun', left: 'left', right: 'rait', on: 'on', off: 'of', stop: 'stop', go: 'gou' },
  fi: { yes: 'jes', no: 'nou', up: 'ap', down: 'daun', left: 'left', right: 'rait', on: 'on', off: 'of', stop: 'stop', go: 'gou' },
  cs: { yes: 'jes', no: 'nou', up: 'ap', down: 'daun', left: 'left', right: 'rajt', on: 'on', off: 'of', stop: 'stop', go: 'gou' },
  ca: { yes: 'iès', no: 'nou', up: 'ap', down: 'daun', left: 'left', right: 'rait', on: 'on', off: 'of', stop: 'stop', go: 'gou' },
  ru: { yes: 'йес', no: 'ноу', up: 'ап', down: 'даун', left: 'лефт', right: 'райт', on: 'он', off: 'офф', stop: 'стоп', go: 'гоу' },
};

/** The text a speaker is given to say `word`: a festival voice of another language gets the keyword's respelling. */
export function spokenText(sp: Speaker, word: string): string {
  if (sp.engine !== 'festival') return word;
  const lang = FESTIVAL_VOICES[sp.voice]!.language;
  return lang === 'en' ? word : (KEYWORD_RESPELLINGS[lang][word] ?? word);
}

export const TRAINVAL_FESTIVAL_VOICES = Object.keys(FESTIVAL_VOICES);
/** Never used: the same speakers as the held-out flite voices (kal16, slt). */
export const BANNED_FESTIVAL_VOICES = ['kal', 'slt'] as const;

export const ESPEAK_ACCENTS = ['en-us', 'en-gb', 'en-gb-scotland', 'en-gb-x-gbclan', 'en-gb-x-rp', 'en-gb-x-gbcwmd', 'en-029', 'en-us-nyc'] as const;
/** Human-sounding variants (men m1–m7, women f1–f5, Klatt-synthesizer and age variants). */
export const ESPEAK_VARIANTS = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt', 'klatt4', 'grandpa', 'aunty'] as const;

export interface Speaker {
  /** Stable id, also the file-name prefix: `espeak-en-us-m3`, `flite-awb`, `festival-ked`. */
  id: string;
  engine: 'espeak-ng' | 'flite' | 'festival';
  /** espeak-ng `-v` argument (`en-us+m3`), flite `-voice` name, or a key of FESTIVAL_VOICES. */
  voice: string;
  role: SpeakerRole;
}

export function roleOfFliteVoice(voice: string): SpeakerRole {
  if ((TEST_FLITE_VOICES as readonly string[]).includes(voice)) return 'test';
  if ((TRAINVAL_FLITE_VOICES as readonly string[]).includes(voice)) return 'trainval';
  throw new EdgeRnnError('DATASET_INTEGRITY', `flite voice '${voice}' has no role: train/val use ${TRAINVAL_FLITE_VOICES.join(', ')}, test uses ${TEST_FLITE_VOICES.join(', ')}`);
}

export function roleOfFestivalVoice(voice: string): SpeakerRole {
  if (TRAINVAL_FESTIVAL_VOICES.includes(voice)) return 'trainval';
  const why = (BANNED_FESTIVAL_VOICES as readonly string[]).includes(voice) ? ' (the same speaker as a held-out flite voice)' : '';
  throw new EdgeRnnError('DATASET_INTEGRITY', `festival voice '${voice}' has no role${why}: train/val use ${TRAINVAL_FESTIVAL_VOICES.join(', ')}`);
}

export function espeakSpeaker(accent: string, variant: string): Speaker {
  return { id: `espeak-${accent}-${variant}`, engine: 'espeak-ng', voice: `${accent}+${variant}`, role: 'trainval' };
}

export function fliteSpeaker(voice: string): Speaker {
  return { id: `flite-${voice}`, engine: 'flite', voice, role: roleOfFliteVoice(voice) };
}

export function festivalSpeaker(voice: string): Speaker {
  return { id: `festival-${voice}`, engine: 'festival', voice, role: roleOfFestivalVoice(voice) };
}

/**
 * Every speaker of one role. espeak-ng and festival voices are always train/val; test voices
 * come only from TEST_FLITE_VOICES.
 */
export function speakersOfRole(role: SpeakerRole, accents: readonly string[], variants: readonly string[], festival: readonly string[] = []): Speaker[] {
  if (role === 'test') return TEST_FLITE_VOICES.map(fliteSpeaker);
  return [...accents.flatMap((a) => variants.map((v) => espeakSpeaker(a, v))), ...TRAINVAL_FLITE_VOICES.map(fliteSpeaker), ...festival.map(festivalSpeaker)];
}

/** FNV-1a, 32 bits: stable string hashing for seeds and split assignment. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Speaker-disjoint train/val assignment for train/val speakers: the espeak-ng speakers with the
 * lowest hash(id) go to validation (round(valFraction · n), at least 1 when there are 2 or more);
 * flite awb and rms (and festival ked) always train. Test speakers are always 'test'. Independent of the seed, so
 * a validation voice stays a validation voice across corpus rebuilds.
 */
export function assignSplits(speakers: readonly Speaker[], valFraction: number): Map<string, Split> {
  const out = new Map<string, Split>();
  const espeak = speakers.filter((s) => s.role === 'trainval' && s.engine === 'espeak-ng').sort((a, b) => fnv1a(a.id) - fnv1a(b.id) || (a.id < b.id ? -1 : 1));
  const nVal = espeak.length >= 2 ? Math.max(1, Math.round(valFraction * espeak.length)) : 0;
  espeak.forEach((s, i) => out.set(s.id, i < nVal ? 'val' : 'train'));
  for (const s of speakers) {
    if (s.role === 'test') out.set(s.id, 'test');
    else if (!out.has(s.id)) out.set(s.id, 'train');
  }
  return out;
}

/** What assertSplitIntegrity needs to know about a clip. */
export interface ClipProvenance {
  path: string;
  split: Split;
  /** The speaker of the clip's word (absent for _silence_). */
  speaker?: string;
  /** Every speaker whose audio is in the clip, babble included. */
  sources: string[];
}

function integrity(msg: string): EdgeRnnError {
  return new EdgeRnnError('DATASET_INTEGRITY', `split integrity: ${msg}`);
}

const TEST_IDS = new Set(TEST_FLITE_VOICES.map((v) => `flite-${v}`));
const BANNED_IDS = new Set([...BANNED_FLITE_VOICES.map((v) => `flite-${v}`), ...BANNED_FESTIVAL_VOICES.map((v) => `festival-${v}`)]);

/**
 * Throws unless: no train/val clip contains audio of a test voice (babble included), every test
 * clip's audio comes only from test voices, no banned voice appears anywhere, and every clip's
 * directory matches its split.
 */
export function assertSplitIntegrity(clips: readonly ClipProvenance[]): void {
  for (const c of clips) {
    if (!c.path.startsWith(`${c.split}/`)) throw integrity(`${c.path} is listed as ${c.split} but lives elsewhere`);
    for (const s of c.sources) {
      if (BANNED_IDS.has(s)) throw integrity(`${c.path} contains banned voice ${s}`);
      const isTest = TEST_IDS.has(s);
      if (c.split !== 'test' && isTest) throw integrity(`${c.split} clip ${c.path} contains held-out test voice ${s}`);
      if (c.split === 'test' && !isTest) throw integrity(`test clip ${c.path} contains train/val voice ${s}`);
    }
    if (c.speaker !== undefined && !c.sources.includes(c.speaker)) throw integrity(`${c.path} does not list its speaker ${c.speaker} among its sources`);
  }
}
