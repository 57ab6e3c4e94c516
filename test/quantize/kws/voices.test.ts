/** The held-out rule, without synthesizing anything: kal16 and slt never reach train or validation. */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../helpers/errors.js';
import { checkKwsOptions, configHash, drawProsody, FLITE_F0_SCALE, KWS_CORPUS_DEFAULTS, KWS_CORPUS_SMALL, planCorpus } from '../../../quantize/data/kws/corpus.js';
import { Rng } from '../../../src/util/rng.js';
import {
  assertSplitIntegrity,
  assignSplits,
  ESPEAK_ACCENTS,
  FESTIVAL_VOICES,
  festivalSpeaker,
  fliteSpeaker,
  KEYWORD_RESPELLINGS,
  spokenText,
  roleOfFliteVoice,
  speakersOfRole,
  TEST_FLITE_VOICES,
  type ClipProvenance,
} from '../../../quantize/data/kws/voices.js';
import { FILLER_WORDS, KEYWORDS, UNKNOWN_WORDS } from '../../../quantize/data/kws/words.js';

const TEST_IDS = ['flite-kal16', 'flite-slt'];

describe('held-out voices', () => {
  it('the test voices are exactly flite kal16 and slt; awb and rms are train/val; kal and awb_time have no role', () => {
    expect([...TEST_FLITE_VOICES]).toEqual(['kal16', 'slt']);
    expect(roleOfFliteVoice('kal16')).toBe('test');
    expect(roleOfFliteVoice('slt')).toBe('test');
    expect(roleOfFliteVoice('awb')).toBe('trainval');
    expect(roleOfFliteVoice('rms')).toBe('trainval');
    for (const v of ['kal', 'awb_time', 'nonsense']) expect(errorMessage(() => fliteSpeaker(v), 'DATASET_INTEGRITY')).toMatch(/has no role/);
  });

  it('festival ked is train-only; festival kal and slt (the held-out speakers) have no role', () => {
    const ked = festivalSpeaker('ked');
    expect(ked).toEqual({ id: 'festival-ked', engine: 'festival', voice: 'ked', role: 'trainval' });
    for (const v of ['kal', 'slt']) expect(errorMessage(() => festivalSpeaker(v), 'DATASET_INTEGRITY')).toMatch(/same speaker as a held-out flite voice/);
    expect(errorMessage(() => festivalSpeaker('rab'), 'DATASET_INTEGRITY')).toMatch(/festival voice 'rab' has no role: train\/val use ked/);
    const o = { ...KWS_CORPUS_DEFAULTS, ...KWS_CORPUS_SMALL, festivalVoices: ['ked'] };
    const { speakers } = planCorpus(o);
    expect(speakers.train.map((s) => s.id)).toContain('festival-ked');
    expect(speakers.test.map((s) => s.id)).toEqual(TEST_IDS);
    expect(configHash(o)).not.toBe(configHash({ ...o, festivalVoices: [] }));
    expect(errorMessage(() => checkKwsOptions({ ...o, festivalVoices: ['slt'] }), 'USAGE')).toMatch(/festivalVoices must be a subset of ked, it_lp, .*\(kal and slt are the held-out speakers\), got "slt"/);
  });

  it('fliteF0Scale widens the pitch of the training flite voices only; the held-out voices keep the default', () => {
    const f0s = (voice: string, range?: [number, number]): number[] => {
      const rng = new Rng(3);
      return Array.from({ length: 400 }, () => (drawProsody(fliteSpeaker(voice), rng, range) as { f0Scale: number }).f0Scale);
    };
    const within = (v: number[], [lo, hi]: readonly [number, number]): boolean => v.every((x) => x >= lo && x <= hi);
    expect(within(f0s('awb'), FLITE_F0_SCALE)).toBe(true);
    const wide = f0s('rms', [0.85, 1.9]);
    expect(within(wide, [0.85, 1.9])).toBe(true);
    expect(wide.filter((x) => x > 1.5).length).toBeGreaterThan(100);
    // Same draws for the test voices with or without the option.
    for (const v of ['kal16', 'slt']) expect(f0s(v, [0.85, 1.9])).toEqual(f0s(v));
    expect(within(f0s('slt', [0.85, 1.9]), FLITE_F0_SCALE)).toBe(true);
    const o = { ...KWS_CORPUS_DEFAULTS, ...KWS_CORPUS_SMALL };
    // Absent, the corpus keeps the hash it had before the option existed.
    expect(configHash({ ...o, fliteF0Scale: [0.85, 1.9] })).not.toBe(configHash(o));
    expect(errorMessage(() => checkKwsOptions({ ...o, fliteF0Scale: [1.9, 0.85] }), 'USAGE')).toMatch(/fliteF0Scale must be a \[low, high\] range within \(0, 3\], got \[1.9,0.85\]/);
  });

  it('festival voices of other languages say the keywords from respellings; English voices and other words as written', () => {
    for (const lang of ['it', 'fi', 'cs'] as const) expect(Object.keys(KEYWORD_RESPELLINGS[lang]).sort()).toEqual([...KEYWORDS].sort());
    expect(spokenText(festivalSpeaker('it_lp'), 'yes')).toBe('iess');
    expect(spokenText(festivalSpeaker('cs_dita'), 'right')).toBe('rajt');
    expect(spokenText(festivalSpeaker('fi_mv'), 'go')).toBe('gou');
    expect(spokenText(festivalSpeaker('it_pc'), 'marvin')).toBe('marvin'); // an _unknown_ word
    expect(spokenText(festivalSpeaker('ked'), 'yes')).toBe('yes');
    expect(spokenText(fliteSpeaker('awb'), 'yes')).toBe('yes');
    expect(Object.values(FESTIVAL_VOICES).every((v) => v.f0Hz === undefined || v.language === 'en')).toBe(true);
  });

  it('no choice of espeak accents and variants brings a test voice into train/val', () => {
    const variants = ['m1', 'f5', 'kal16', 'slt', 'whisper'];
    const tv = speakersOfRole('trainval', [...ESPEAK_ACCENTS], variants);
    expect(tv.every((s) => s.role === 'trainval' && !TEST_IDS.includes(s.id))).toBe(true);
    expect(tv.filter((s) => s.engine === 'flite').map((s) => s.voice)).toEqual(['awb', 'rms']);
    expect(speakersOfRole('test', [...ESPEAK_ACCENTS], variants).map((s) => s.id)).toEqual(TEST_IDS);
  });

  it('validation is speaker-disjoint from training and never gets a test voice', () => {
    const all = [...speakersOfRole('trainval', ['en-us', 'en-gb'], ['m1', 'm2', 'f1']), ...speakersOfRole('test', [], [])];
    const split = assignSplits(all, 0.3);
    expect(TEST_IDS.map((id) => split.get(id))).toEqual(['test', 'test']);
    expect(split.get('flite-awb')).toBe('train');
    const val = [...split].filter(([, s]) => s === 'val').map(([id]) => id);
    expect(val).toHaveLength(2); // round(0.3 · 6)
    expect(val.every((id) => id.startsWith('espeak-'))).toBe(true);
  });

  for (const [name, opts] of [['defaults', KWS_CORPUS_DEFAULTS], ['--small', { ...KWS_CORPUS_DEFAULTS, ...KWS_CORPUS_SMALL }]] as const) {
    it(`the ${name} plan: every train/val clip has a train/val speaker, every test clip a test voice`, () => {
      const { jobs, speakers } = planCorpus({ ...opts });
      expect(speakers.test.map((s) => s.id)).toEqual(TEST_IDS);
      expect(speakers.val.length).toBeGreaterThan(0);
      for (const j of jobs) {
        expect(j.path.startsWith(`${j.split}/`)).toBe(true);
        if (j.kind !== 'word') continue;
        expect(TEST_IDS.includes(j.speaker.id)).toBe(j.split === 'test');
      }
    });
  }

  it('assertSplitIntegrity catches every way a held-out voice could leak', () => {
    const ok: ClipProvenance[] = [
      { path: 'train/yes/espeak-en-us-m1_yes_0.wav', split: 'train', speaker: 'espeak-en-us-m1', sources: ['espeak-en-us-m1', 'flite-awb'] },
      { path: 'test/yes/flite-slt_yes_0.wav', split: 'test', speaker: 'flite-slt', sources: ['flite-kal16', 'flite-slt'] },
    ];
    expect(() => assertSplitIntegrity(ok)).not.toThrow();
    const bad: [string, ClipProvenance, RegExp][] = [
      ['test voice speaking in train', { path: 'train/yes/x.wav', split: 'train', speaker: 'flite-slt', sources: ['flite-slt'] }, /train clip train\/yes\/x.wav contains held-out test voice flite-slt/],
      ['test voice in a validation clip', { path: 'val/go/x.wav', split: 'val', speaker: 'flite-kal16', sources: ['flite-kal16'] }, /val clip .* held-out test voice flite-kal16/],
      ['test voice in the babble of a train clip', { path: 'train/no/x.wav', split: 'train', speaker: 'flite-rms', sources: ['flite-rms', 'flite-kal16'] }, /held-out test voice flite-kal16/],
      ['train voice in a test clip', { path: 'test/no/x.wav', split: 'test', speaker: 'flite-awb', sources: ['flite-awb'] }, /test clip .* contains train\/val voice flite-awb/],
      ['banned kal (kal16 at 8 kHz)', { path: 'train/no/x.wav', split: 'train', speaker: 'flite-kal', sources: ['flite-kal'] }, /banned voice flite-kal/],
      ["banned festival kal (kal16's speaker)", { path: 'train/no/x.wav', split: 'train', speaker: 'festival-kal', sources: ['festival-kal'] }, /banned voice festival-kal/],
      ["banned festival slt in babble", { path: 'train/no/x.wav', split: 'train', speaker: 'festival-ked', sources: ['festival-ked', 'festival-slt'] }, /banned voice festival-slt/],
      ['a test clip filed under train/', { path: 'train/no/x.wav', split: 'test', speaker: 'flite-slt', sources: ['flite-slt'] }, /listed as test but lives elsewhere/],
      ['speaker missing from sources', { path: 'train/no/x.wav', split: 'train', speaker: 'flite-awb', sources: [] }, /does not list its speaker/],
    ];
    for (const [, clip, msg] of bad) expect(() => assertSplitIntegrity([...ok, clip])).toThrow(msg);
  });

  it('no filler or unknown word is a keyword', () => {
    const kw = new Set<string>(KEYWORDS);
    expect([...FILLER_WORDS, ...UNKNOWN_WORDS].filter((w) => kw.has(w))).toEqual([]);
    expect(UNKNOWN_WORDS).toHaveLength(25);
  });
});
