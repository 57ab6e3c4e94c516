/** `train-kws` argument handling that stops before any work: usage errors (exit 2) and the festival corpus arguments. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { desktopCommands } from '../../../../quantize/cli/index.js';
import { withFestival } from '../../../../quantize/jobs/kws/cli.js';
import { KWS_JOB_DEFAULTS } from '../../../../quantize/jobs/kws/config.js';
import { runCaptured } from '../../../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');

describe('train-kws arguments', () => {
  for (const [args, msg] of [
    [['--seed', '-1'], /--seed/],
    [['--seed', 'x'], /--seed/],
    [['--festival', 'kal'], /--festival takes voices of ked, .*got 'kal'/],
    [['--festival', ','], /--festival needs at least one voice/],
    [['--compare', 'cnn'], /--compare takes gru, lstm or none, got 'cnn'/],
  ] as const) {
    it(`${args.join(' ')}: usage error, exit 2, nothing trained`, async () => {
      const r = await runCaptured(['train-kws', ...args], desktopCommands, ROOT);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
    });
  }

  it('--festival adds the voices to the extra corpus, in a cache directory of its own', () => {
    const args = withFestival(KWS_JOB_DEFAULTS.corpora.extra, ['ked', 'it_lp']);
    expect(args.slice(-2)).toEqual(['--festival', 'ked,it_lp']);
    expect(args[args.indexOf('--out') + 1]).toBe('.cache/kws-extra-festival-ked-it_lp');
    expect(KWS_JOB_DEFAULTS.corpora.extra[KWS_JOB_DEFAULTS.corpora.extra.indexOf('--out') + 1]).toBe('.cache/kws-extra');
  });
});
