/** `train-kws` argument handling (the parser, before any work): usage errors and the festival corpus arguments. */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../../helpers/errors.js';
import { trainKwsOptionsFromFlags } from '../../../../quantize/jobs/kws/cli.js';
import { FESTIVAL_VOICES } from '../../../../quantize/data/kws/voices.js';
import { corpusArgs, KWS_JOB_DEFAULTS, withFestival } from '../../../../quantize/jobs/kws/config.js';

describe('train-kws arguments', () => {
  // The parser alone: a usage check that regressed must not start a 40-minute training inside the suite.
  for (const [args, msg] of [
    [['--seed', '-1'], /--seed/],
    [['--seed', 'x'], /--seed/],
    [['--festival', 'kal'], /--festival takes voices of ked, .*got 'kal'/],
    [['--festival', ','], /--festival needs at least one voice/],
    [['--compare', 'cnn'], /--compare takes gru, lstm or none, got 'cnn'/],
    [['--windows', '5,6'], /--windows takes FRAMES,HOP with 1 <= HOP <= FRAMES/],
    [['--negatives=-5'], /--negatives needs an integer >= 0/],
    [['--negatives', 'many'], /--negatives needs an integer >= 0 and <= 100000, got 'many'/],
    [['--flite-f0', '1.9,0.85'], /--flite-f0 needs LOW,HIGH mean-F0 factors in \(0, 3\], got '1.9,0.85'/],
    [['--flite-f0', '1.2'], /--flite-f0 needs LOW,HIGH/],
    [['extra'], /.+/],
  ] as const) {
    it(`${args.join(' ')}: a usage error (exit 2)`, () => {
      expect(errorMessage(() => trainKwsOptionsFromFlags([...args]), 'USAGE')).toMatch(msg);
    });
  }

  it('--festival none trains without festival; --seed and --festival V,W reach the options', () => {
    expect(trainKwsOptionsFromFlags([]).o.festivalVoices).toEqual(KWS_JOB_DEFAULTS.festivalVoices);
    expect(trainKwsOptionsFromFlags(['--festival', 'none']).o.festivalVoices).toEqual([]);
    const { o } = trainKwsOptionsFromFlags(['--festival', 'ked,cs_dita', '--seed', '3']);
    expect(o.festivalVoices).toEqual(['ked', 'cs_dita']);
    expect(o.seed).toBe(3);
    expect(trainKwsOptionsFromFlags(['--festival', 'all']).o.festivalVoices).toEqual(Object.keys(FESTIVAL_VOICES));
    expect(trainKwsOptionsFromFlags(['--cache-dir', '/tmp/kws-b']).o.cacheDir).toBe('/tmp/kws-b');
    expect(trainKwsOptionsFromFlags([]).o.cacheDir).toBe(KWS_JOB_DEFAULTS.cacheDir);
    expect(trainKwsOptionsFromFlags([]).o.slidingWindows).toEqual({ frames: 75, hop: 5 });
    expect(trainKwsOptionsFromFlags(['--windows', 'none']).o.slidingWindows).toBeNull();
    expect(trainKwsOptionsFromFlags(['--windows', '50,10']).o.slidingWindows).toEqual({ frames: 50, hop: 10 });
    expect(trainKwsOptionsFromFlags(['--negatives', '9000']).o.windows.negatives).toBe(9000);
    expect(trainKwsOptionsFromFlags([]).o.windows).toEqual(KWS_JOB_DEFAULTS.windows);
  });

  it('--flite-f0 reaches the extra corpus, in a cache directory of its own', () => {
    const { o } = trainKwsOptionsFromFlags(['--flite-f0', '0.85,1.9']);
    const extra = corpusArgs(o, 'extra');
    expect(extra[extra.indexOf('--flite-f0') + 1]).toBe('0.85,1.9');
    expect(extra[extra.indexOf('--out') + 1]).toBe(`.cache/kws-extra-f0-0.85-1.9-festival-${KWS_JOB_DEFAULTS.festivalVoices.join('-')}`);
    expect(corpusArgs(o, 'main')).toEqual(corpusArgs(KWS_JOB_DEFAULTS, 'main'));
    expect(corpusArgs(trainKwsOptionsFromFlags([]).o, 'extra')).not.toContain('--flite-f0');
  });

  it('festival voices go into the extra corpus, in a cache directory of its own; none leaves it as it was', () => {
    const args = withFestival(KWS_JOB_DEFAULTS.corpora.extra, ['ked', 'it_lp']);
    expect(args.slice(-2)).toEqual(['--festival', 'ked,it_lp']);
    expect(args[args.indexOf('--out') + 1]).toBe('.cache/kws-extra-festival-ked-it_lp');
    const out = (a: string[]): string => a[a.indexOf('--out') + 1]!;
    expect(out(corpusArgs(KWS_JOB_DEFAULTS, 'extra'))).toBe('.cache/kws-extra-festival-ked-it_lp-it_pc-fi_lj-fi_mv-cs_dita-cs_ph');
    expect(corpusArgs({ ...KWS_JOB_DEFAULTS, festivalVoices: [] }, 'extra')).toEqual(KWS_JOB_DEFAULTS.corpora.extra);
    expect(corpusArgs(KWS_JOB_DEFAULTS, 'main')).toEqual(KWS_JOB_DEFAULTS.corpora.main);
  });
});
