/**
 * `edgernn eval models/kws.ern --data DIR` (and eval-kws) on a <label>/<clip>.wav folder as users
 * have one: the Speech Commands layout carries a `_background_noise_` folder (long noise
 * recordings, not a class), and copies from other systems leave hidden entries (`.git`,
 * macOS `._clip.wav` resource forks, which end in .wav but are no WAV files) and empty folders.
 * These are skipped, as the trainer's WAV-folder loader skips them; a folder of clips named
 * after no label of the model is still an error.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { desktopCommands } from '../../../../quantize/cli/index.js';
import { runCaptured } from '../../../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/kws');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-kws-eval-folder-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A folder with the fixture clips of yes and stop, plus what `extra` adds. */
function folder(name: string, extra: (dir: string) => void): string {
  const dir = path.join(work, name);
  for (const label of ['yes', 'stop']) {
    fs.mkdirSync(path.join(dir, label), { recursive: true });
    for (const f of fs.readdirSync(path.join(FIXTURES, label))) fs.copyFileSync(path.join(FIXTURES, label, f), path.join(dir, label, f));
  }
  extra(dir);
  return dir;
}

describe('eval of a keyword model on a <label>/<clip>.wav folder', () => {
  it("skips Speech Commands' _background_noise_, hidden entries and empty folders; scores the clips", async () => {
    const dir = folder('speech-commands', (d) => {
      fs.mkdirSync(path.join(d, '_background_noise_'));
      fs.copyFileSync(path.join(FIXTURES, '_silence_/noise_0.wav'), path.join(d, '_background_noise_', 'white_noise.wav'));
      fs.writeFileSync(path.join(d, 'yes', '._flite-kal16_yes_0.wav'), new Uint8Array([0, 5, 22, 7, 0, 2, 0, 0])); // AppleDouble
      fs.mkdirSync(path.join(d, '.git'));
      fs.writeFileSync(path.join(d, '.git', 'x.wav'), 'not audio');
      fs.mkdirSync(path.join(d, 'empty'));
      fs.mkdirSync(path.join(d, 'stop', 'takes.wav')); // a folder, not a clip (a bare EISDIR)
      fs.writeFileSync(path.join(d, 'README.md'), 'Speech Commands');
    });
    const r = await runCaptured(['eval', 'models/kws.ern', '--data', dir, '--json'], desktopCommands, ROOT);
    // Only the clip count on stderr (the progress line; a bar on a terminal): nothing about the
    // skipped entries. The clips were read without a word, minutes on a large folder.
    expect(r.err).toMatch(/^clips: 4\/4 in \d+\.\ds\n$/);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { samples: number; perClass: Record<string, { clips: number }> };
    expect(j.samples).toBe(4);
    expect([j.perClass.yes!.clips, j.perClass.stop!.clips, j.perClass._silence_!.clips]).toEqual([2, 2, 0]);
  });

  it('eval-kws says how many clips it read, as eval does (it read them without a word)', async () => {
    const dir = folder('progress', () => {});
    const r = await runCaptured(['eval-kws', 'models/kws.ern', '--data', dir, '--stream', 'none', '--json'], desktopCommands, ROOT);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^clips: 4\/4 in \d+\.\ds\n$/);
    expect(JSON.parse(r.out).clips.samples).toBe(4);
  });

  it('a folder of clips named after no label is still a BAD_DATA error (exit 1)', async () => {
    const dir = folder('unknown', (d) => {
      fs.mkdirSync(path.join(d, 'backward'));
      fs.copyFileSync(path.join(FIXTURES, '_unknown_/flite-slt_backward_14.wav'), path.join(d, 'backward', 'a.wav'));
    });
    const r = await runCaptured(['eval', 'models/kws.ern', '--data', dir], desktopCommands, ROOT);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/BAD_DATA.*backward: unknown label 'backward': the model knows yes, no/);
  });
});
