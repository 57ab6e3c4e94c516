/** The data:kws command line: flags, usage errors, and --plan (no synthesis needed). */
import { describe, expect, it } from 'vitest';
import { dataKwsCommand, kwsOptionsFromFlags } from '../../../quantize/data/kws/cli.js';
import { runCaptured } from '../../helpers/cli.js';

function cli(args: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(['data-kws', ...args], [dataKwsCommand], '/work/x');
}

describe('data:kws command line', () => {
  it('defaults write to .cache/kws under the working directory; --small to .cache/kws-small', () => {
    expect(kwsOptionsFromFlags([], '/repo').options.outDir).toBe('/repo/.cache/kws');
    const s = kwsOptionsFromFlags(['--small', '--seed', '9', '--snr', '10,20', '--accents', 'en-us, en-gb'], '/repo').options;
    expect([s.outDir, s.seed, s.snrDb, s.espeakAccents, s.clipsPerWord]).toEqual(['/repo/.cache/kws-small', 9, [10, 20], ['en-us', 'en-gb'], 1]);
  });

  it('--plan --json lists speakers per split without synthesizing; test holds only kal16 and slt', async () => {
    const r = await cli(['--plan', '--json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out) as Record<string, { speakers: string[]; clips: number }>;
    expect(plan.test!.speakers).toEqual(['flite-kal16', 'flite-slt']);
    expect(plan.train!.speakers).toContain('flite-awb');
    expect(plan.train!.speakers.length + plan.val!.speakers.length).toBe(8 * 16 + 2);
  });

  for (const [args, msg] of [
    [['--seed', 'x'], /--seed needs an integer, got 'x'/],
    [['--snr', '30,5'], /--snr needs LOW,HIGH in dB, got '30,5'/],
    [['--jobs', '0'], /--jobs needs an integer >= 1/],
    [['--bogus'], /Unknown option '--bogus'/],
  ] as const) {
    it(`${args.join(' ')} is a usage error (exit 2)`, async () => {
      const r = await cli([...args]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
    });
  }

  it('an accent espeak-ng does not have is refused before any work', async () => {
    const r = await cli(['--plan', '--accents', 'en-au']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/espeakAccents must be a subset of en-us, en-gb/);
  });
});
