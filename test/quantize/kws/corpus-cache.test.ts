/**
 * The corpus cache of `npm run data:kws`: a corpus written by another generator version is
 * rebuilt, not reused; a missing tool is reported (with the package to install) before the old
 * corpus is deleted; a second process on a folder being built is refused before it deletes anything. A corpus with no clips at all (noise beds only, ~2 s) keeps it quick.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKwsCorpus, KWS_CORPUS_DEFAULTS, KWS_CORPUS_LOCK, type KwsCorpusOptions } from '../../../quantize/data/kws/corpus.js';

function installed(cmd: string, args: string[]): string | null {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}
const espeak = installed('espeak-ng', ['--version']);
const tools = espeak !== null && installed('flite', ['-lv']) !== null && installed('sox', ['--version']) !== null;
if (!tools) console.log('skipping the kws corpus cache tests: espeak-ng, flite or sox not installed (Debian packages espeak-ng, flite, sox)');

const root = mkdtempSync(join(tmpdir(), 'edgernn-kws-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** No clips, no stream: only the noise beds are synthesized. */
function empty(outDir: string, seed = 1): KwsCorpusOptions {
  return { ...KWS_CORPUS_DEFAULTS, outDir, seed, jobs: 2, espeakAccents: ['en-us'], espeakVariants: ['m3'], clipsPerWord: 0, unknownPerSpeaker: 0, testClipsPerWord: 0, testUnknownPerSpeaker: 0, streamMinutes: 0, bedSeconds: 5, babbleTalkers: 1 };
}

describe.skipIf(!tools)('kws corpus cache', () => {
  it('a corpus made by another generator version is rebuilt, not reused', async () => {
    const o = empty(join(root, 'version'));
    expect((await generateKwsCorpus(o)).cached).toBe(false);
    expect((await generateKwsCorpus(o)).cached).toBe(true);
    const file = join(o.outDir, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...m, version: 0 }));
    const log: string[] = [];
    const r = await generateKwsCorpus(o, { log: (l) => log.push(l) });
    expect(r.cached).toBe(false);
    expect(r.manifest.version).toBe(1);
    expect(log.join('\n')).toMatch(/generator version 0, this is version 1: rebuilding/);
  }, 60_000);

  it('a missing tool is named with its package before anything is deleted (the old corpus stays)', async () => {
    const o = empty(join(root, 'tools'));
    await generateKwsCorpus(o);
    const manifest = readFileSync(join(o.outDir, 'manifest.json'), 'utf8');
    // A PATH holding espeak-ng only: flite and sox are missing.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    symlinkSync(espeak!, join(bin, 'espeak-ng'));
    const path = process.env.PATH;
    process.env.PATH = bin;
    try {
      await expect(generateKwsCorpus(empty(o.outDir, 2))).rejects.toMatchObject({ code: 'EXTERNAL_TOOL', message: expect.stringMatching(/missing flite, sox: install the Debian packages \(apt-get install espeak-ng flite sox\)/) });
    } finally {
      process.env.PATH = path;
    }
    expect(existsSync(join(o.outDir, 'manifest.json'))).toBe(true);
    expect(readFileSync(join(o.outDir, 'manifest.json'), 'utf8')).toBe(manifest);
  }, 60_000);
});

describe('a program missing from PATH', () => {
  it('is named with the Debian package that installs it (text2wave comes with festival), not a spawn ENOENT', async () => {
    const { run } = await import('../../../quantize/data/kws/tools.js');
    const empty = mkdtempSync(join(root, 'empty-path-'));
    const path = process.env.PATH;
    process.env.PATH = empty;
    try {
      await expect(run('text2wave', ['-h'])).rejects.toMatchObject({ code: 'EXTERNAL_TOOL', message: 'text2wave is not installed: apt-get install festival' });
      await expect(run('sox', ['--version'])).rejects.toMatchObject({ code: 'EXTERNAL_TOOL', message: 'sox is not installed: apt-get install sox' });
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('two processes on one corpus folder', () => {
  it('the second is refused with DATASET_BUSY naming the first, and deletes nothing; a dead holder\'s lock is taken over', async () => {
    const o = empty(join(root, 'busy'));
    mkdirSync(join(o.outDir, 'train', 'yes'), { recursive: true });
    writeFileSync(join(o.outDir, 'train', 'yes', 'clip.wav'), 'being written');
    // The first builder: a live process whose lock is in the folder.
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    const lock = join(o.outDir, KWS_CORPUS_LOCK);
    writeFileSync(lock, JSON.stringify({ pid: holder.pid, host: hostname(), bootId: '', startedAt: '2026-11-27T08:00:00.000Z', job: 'kws corpus' }));
    try {
      await expect(generateKwsCorpus(o)).rejects.toMatchObject({ code: 'DATASET_BUSY', message: expect.stringMatching(new RegExp(`is being built by process ${holder.pid} on .*If that process is gone, delete .*${KWS_CORPUS_LOCK}`)) });
      expect(readFileSync(join(o.outDir, 'train', 'yes', 'clip.wav'), 'utf8')).toBe('being written');
    } finally {
      holder.kill();
      await new Promise((r) => holder.once('exit', r));
    }
    // Its process gone, the lock is taken over: here the build stops at the missing tools, and
    // the lock is released on the way out.
    const path = process.env.PATH;
    process.env.PATH = mkdtempSync(join(root, 'no-tools-'));
    const log: string[] = [];
    try {
      await expect(generateKwsCorpus(o, { log: (l) => log.push(l) })).rejects.toMatchObject({ code: 'EXTERNAL_TOOL' });
    } finally {
      process.env.PATH = path;
    }
    expect(log.join('\n')).toMatch(new RegExp(`taking over the lock .* \\(process ${holder.pid} is gone\\)`));
    expect(existsSync(lock)).toBe(false);
  });

  it('two builds started in one process: the second is refused while the first holds the folder', async () => {
    const o = empty(join(root, 'same-process'));
    const path = process.env.PATH;
    process.env.PATH = mkdtempSync(join(root, 'no-tools-'));
    try {
      const first = generateKwsCorpus(o);
      const second = generateKwsCorpus(o);
      await expect(second).rejects.toMatchObject({ code: 'DATASET_BUSY', message: expect.stringMatching(`process ${process.pid}`) });
      await expect(first).rejects.toMatchObject({ code: 'EXTERNAL_TOOL' });
    } finally {
      process.env.PATH = path;
    }
    expect(existsSync(join(o.outDir, KWS_CORPUS_LOCK))).toBe(false);
  });
});
