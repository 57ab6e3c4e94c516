/**
 * A keyword corpus in the Speech Commands layout keeps its _unknown_ and _silence_ classes when
 * read for training; only _background_noise_ (noise recordings, not a class) is skipped.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/index.js';
import { loadDataset } from '../../quantize/data/load.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-wav-folder-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tone = (hz: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 16000));

/** A `<label>/<clip>.wav` folder: for each [label, hz], half-second tones named `clips`, each 40 Hz above the one before. */
function toneFolder(root: string, labels: ReadonlyArray<readonly [string, number]>, clips: readonly string[] = ['a']): void {
  for (const [label, hz] of labels) {
    fs.mkdirSync(path.join(root, label), { recursive: true });
    clips.forEach((clip, k) => fs.writeFileSync(path.join(root, label, `${clip}.wav`), encodeWav(tone(hz + 40 * k, 8000), 16000)));
  }
}

describe('WAV folder classes', () => {
  it('_unknown_ and _silence_ are classes; _background_noise_ and dot folders are not', async () => {
    const root = path.join(dir, 'corpus');
    toneFolder(root, [['yes', 800], ['_unknown_', 1500], ['_silence_', 0]]);
    for (const skipped of ['_background_noise_', '.cache']) {
      fs.mkdirSync(path.join(root, skipped), { recursive: true });
      fs.writeFileSync(path.join(root, skipped, 'noise.wav'), 'not a wav');
    }
    const ds = await loadDataset(root, { task: 'classify' });
    expect(ds.labels).toEqual(['_silence_', '_unknown_', 'yes']);
    expect(ds.samples.map((s) => ds.labels[s.y!])).toEqual(['_silence_', '_unknown_', 'yes']);
  });
});

describe('WAV folder clips', () => {
  it("macOS '._clip.wav' files and a folder named x.wav are not clips, as in edgernn eval (training stopped: 'not a WAV file', a bare EISDIR)", async () => {
    const root = path.join(dir, 'mac-copy');
    toneFolder(root, [['yes', 800], ['no', 300]]);
    const clean = await loadDataset(root, { task: 'classify' });
    const appleDouble = Buffer.from('0005160700020000' + Buffer.from('Mac OS X        ').toString('hex'), 'hex');
    fs.writeFileSync(path.join(root, 'yes', '._a.wav'), appleDouble);
    fs.mkdirSync(path.join(root, 'no', 'takes.wav'));
    fs.mkdirSync(path.join(root, 'maybe')); // only a resource fork: not a class
    fs.writeFileSync(path.join(root, 'maybe', '._b.wav'), appleDouble);
    const ds = await loadDataset(root, { task: 'classify' });
    expect(ds.labels).toEqual(['no', 'yes']);
    expect(ds.samples.map((s) => s.where)).toEqual(clean.samples.map((s) => s.where));
    expect(ds.sha256).toBe(clean.sha256);
  });

  it('a symlinked label folder is a class, as in edgernn eval (training dropped it without a word)', async () => {
    const store = path.join(dir, 'store', 'yes');
    fs.mkdirSync(store, { recursive: true });
    fs.writeFileSync(path.join(store, 'a.wav'), encodeWav(tone(800, 8000), 16000));
    const root = path.join(dir, 'linked');
    fs.mkdirSync(path.join(root, 'no'), { recursive: true });
    fs.writeFileSync(path.join(root, 'no', 'a.wav'), encodeWav(tone(300, 8000), 16000));
    fs.writeFileSync(path.join(root, 'no', 'b.wav'), encodeWav(tone(350, 8000), 16000));
    fs.symlinkSync(store, path.join(root, 'yes'), 'dir');
    const ds = await loadDataset(root, { task: 'classify', labels: ['no', 'yes'] });
    expect(ds.samples.map((s) => ds.labels[s.y!])).toEqual(['no', 'no', 'yes']);
  });

  it('a clip that is a symbolic link to a missing file is BAD_DATA naming it and its target (was a raw ENOENT with no path)', async () => {
    const root = path.join(dir, 'dangling-clip');
    toneFolder(root, [['yes', 800], ['no', 300]]);
    fs.symlinkSync(path.join(dir, 'gone', 'b.wav'), path.join(root, 'yes', 'b.wav'));
    await expect(loadDataset(root, { task: 'classify' })).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringMatching(/dangling-clip\/yes\/b\.wav: a symbolic link to '.*gone\/b\.wav', which does not exist \(ENOENT\)/) });
    // A dangling link where a class folder goes: named too, not a class dropped without a word.
    fs.unlinkSync(path.join(root, 'yes', 'b.wav'));
    fs.symlinkSync(path.join(dir, 'gone'), path.join(root, 'maybe'));
    await expect(loadDataset(root, { task: 'classify' })).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringMatching(/dangling-clip\/maybe: a symbolic link to /) });
    // Links that point at each other.
    fs.unlinkSync(path.join(root, 'maybe'));
    fs.symlinkSync('c.wav', path.join(root, 'no', 'b.wav'));
    fs.symlinkSync('b.wav', path.join(root, 'no', 'c.wav'));
    await expect(loadDataset(root, { task: 'classify' })).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringMatching(/dangling-clip\/no\/b\.wav: a symbolic link to 'c\.wav', which cannot be followed \(ELOOP\)/) });
  });

  it('a clip with no samples (a 44-byte header, a recording stopped at once) is BAD_DATA naming it, not a second of silence under its label', async () => {
    const root = path.join(dir, 'empty-clip');
    toneFolder(root, [['yes', 800], ['no', 300]]);
    fs.writeFileSync(path.join(root, 'yes', 'b.wav'), encodeWav(new Int16Array(0), 16000));
    await expect(loadDataset(root, { task: 'classify' })).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringMatching(/yes\/b\.wav: no samples/) });
  });
});

describe('edgernn eval on an audio classifier trained from a WAV folder', () => {
  it('scores it clip by clip through its own front end (it stopped with "extra.kws must be an object")', async () => {
    const root = path.join(dir, 'tones');
    toneFolder(root, [['low', 300], ['high', 2500]], ['c0', 'c1', 'c2']);
    const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
    const t = await cli('train', '--data', 'tones', '--hidden', '4', '--epochs', '1', '--created-at', '2026-01-01T00:00:00Z', '-o', 'tones.ern');
    expect(t.code, t.err).toBe(0);
    const e = await cli('eval', 'tones.ern', '--data', 'tones', '--json');
    expect(e.code, e.err).toBe(0);
    const j = JSON.parse(e.out) as { samples: number; accuracy: number; labels: string[] };
    expect(j.samples).toBe(6);
    expect(j.labels).toEqual(['high', 'low']);
    expect(j.accuracy).toBeGreaterThanOrEqual(0);
  });
});

describe('WAV clips without a data size in their header', () => {
  it('are read to the end (they were "no samples"), the same features as the whole file, and said once for the folder', async () => {
    const root = path.join(dir, 'crashed');
    toneFolder(root, [['yes', 800], ['no', 1500]], ['a', 'b']);
    const plain = await loadDataset(root, { task: 'classify' });
    expect(plain.notes).toBeUndefined();
    // A recorder that stopped before it wrote the sizes: both are 0.
    for (const clip of ['yes/a.wav', 'no/b.wav']) {
      const bytes = fs.readFileSync(path.join(root, clip));
      bytes.writeUInt32LE(0, 4);
      bytes.writeUInt32LE(0, 40);
      fs.writeFileSync(path.join(root, clip), bytes);
    }
    const ds = await loadDataset(root, { task: 'classify' });
    expect(ds.samples.map((s) => Array.from(s.x))).toEqual(plain.samples.map((s) => Array.from(s.x)));
    expect(ds.notes).toEqual([`2 clips of ${root} (no/b.wav, yes/a.wav) give no data size in the WAV header (written into a pipe, or the recorder stopped before it wrote the sizes): read to the end of the file`]);
    const r = await runCaptured(['train', '-d', root, '-o', path.join(dir, 'crashed.ern'), '--epochs', '1', '--hidden', '4'], desktopCommands, dir);
    expect(r.err.match(/give no data size in the WAV header/g)).toHaveLength(1);
    expect(r.err).toContain('edgernn: note: 2 clips of');
  });
});
