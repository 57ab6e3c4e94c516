/**
 * `edgernn eval` on each job's own data format, with the shipped models: a folder of
 * <label>/<clip>.wav for the keyword model, an HMP-layout folder for the activity model.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { writeSyntheticHmp } from './jobs/har/hmp-fixture.js';
import { runCaptured } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Temporary folders of these tests, removed at the end (they were left in the temp folder, 3 per run). */
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
}

function run(...argv: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(argv, desktopCommands, ROOT);
}

describe('edgernn eval models/kws.ern --data <label>/<clip>.wav folder', () => {
  const fixtures = (JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/kws/fixtures.json'), 'utf8')) as { clips: unknown[] }).clips;

  it('scores the held-out-voice fixture clips through the manifest front end (each was picked as correctly classified)', async () => {
    const r = await run('eval', 'models/kws.ern', '--data', 'test/fixtures/kws', '--json');
    expect(r.err).toBe(`clips: ${fixtures.length}/${fixtures.length} in ${/in (\d+\.\ds)/.exec(r.err)?.[1]}\n`); // the progress line alone
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { task: string; samples: number; accuracy: number; perClass: Record<string, { clips: number }>; labels: string[]; confusion: number[][] };
    expect(j.task).toBe('kws');
    expect(j.samples).toBe(fixtures.length);
    expect(j.accuracy).toBe(1);
    // confusion[truth][predicted], rows in label order: all on the diagonal here
    expect(j.labels).toEqual(Object.keys(j.perClass));
    expect(j.confusion.map((row, i) => row[i])).toEqual(j.labels.map((l) => j.perClass[l]!.clips));
    expect(j.confusion.flat().reduce((a, b) => a + b, 0)).toBe(fixtures.length);
    const text = await run('eval', 'models/kws.ern', '--data', 'test/fixtures/kws');
    expect(text.out).toMatch(/accuracy 100\.00%/);
    // The fixtures have no 'up' clip: no recall to show, not 0 %.
    expect(text.out).toMatch(/recall per class: yes 100%, no 100%, up - \(no clips\),/);
  });

  it('a folder named after no label of the model is a BAD_DATA error naming it (exit 1)', async () => {
    const dir = tempDir('edgernn-kws-eval-');
    fs.mkdirSync(path.join(dir, 'maybe'));
    fs.writeFileSync(path.join(dir, 'maybe', 'a.wav'), encodeWav(new Float32Array(16000), 16000));
    const r = await run('eval', 'models/kws.ern', '--data', dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/BAD_DATA.*unknown label 'maybe': the model knows yes, no/);
  });
});

describe('edgernn eval models/har.ern --data <HMP folder>', () => {
  it('scores every recording of the model classes present (synthetic recordings in HMP layout)', async () => {
    const root = writeSyntheticHmp(['walk', 'drink_glass', 'pour_water'], ['f1', 'm2'], 2, 5);
    temps.push(root);
    fs.mkdirSync(path.join(root, 'Brush_teeth')); // an activity outside the model's classes: skipped
    const r = await run('eval', 'models/har.ern', '--data', root, '--json', '--backend', 'scalar');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { samples: number; accuracy: number; labels: string[]; confusion: number[][]; windows: { samples: number; accuracy: number }; withLength: { accuracy: number; confusion: number[][] } };
    expect(j.samples).toBe(12);
    expect(j.confusion.flat().reduce((a, b) => a + b, 0)).toBe(12);
    // the manifest's recording-length model labels the same 12 recordings a second way
    expect(j.withLength.confusion.flat().reduce((a, b) => a + b, 0)).toBe(12);
    expect(j.withLength.accuracy).toBeGreaterThanOrEqual(0);
    const text = await run('eval', 'models/har.ern', '--data', root, '--backend', 'scalar');
    expect(text.out).toMatch(/with each recording's length \(the manifest's segmentDuration\): accuracy \d+\.\d\d%/);
    expect(j.windows.samples).toBeGreaterThan(12);
    expect(j.accuracy).toBeGreaterThanOrEqual(0);
    expect(j.labels).toContain('walk');
  });

  it('a folder with none of the model classes is a BAD_DATA error listing them', async () => {
    const dir = tempDir('edgernn-har-eval-');
    fs.mkdirSync(path.join(dir, 'Juggle'));
    const r = await run('eval', 'models/har.ern', '--data', dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/BAD_DATA.*no activity folder of the model's classes \(climb_stairs, .*found juggle/);
  });
});
