/**
 * The fold-model cache of the HAR cross-validation against interrupted writes: a fold model cut
 * short (a run killed while writing it) is trained again, not a decode error that needs the cache
 * deleted by hand. Tiny recipe on synthetic HMP files (seconds).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crossValidationModels } from '../../../../quantize/jobs/har/cv.js';
import { loadHmp } from '../../../../quantize/jobs/har/hmp.js';
import { DEFAULT_HAR_RECIPE } from '../../../../quantize/jobs/har/pipeline.js';
import { writeSyntheticHmp } from './hmp-fixture.js';

describe('HAR fold-model cache', () => {
  it('a fold model cut short by an interrupted write is trained again; complete entries are reused', () => {
    const ds = loadHmp(writeSyntheticHmp(['walk', 'sitdown_chair'], ['f1', 'm1'], 2, 50));
    const recipe = { ...DEFAULT_HAR_RECIPE, hidden: 8, epochs: 1, patience: 1, maxWindowsPerRecording: 2, augment: null };
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'har-cv-cache-'));
    const log: string[] = [];
    const o = { folds: 2, cacheDir, only: [0], log: (l: string) => log.push(l) };
    const [a] = crossValidationModels(ds, recipe, o);
    expect(a!.cached).toBe(false);
    const dir = path.join(cacheDir, 'cv', fs.readdirSync(path.join(cacheDir, 'cv'))[0]!);
    expect(fs.readdirSync(dir).sort()).toEqual(['fold0-float.ern', 'fold0-int8.ern']); // no temporary files left
    const int8File = path.join(dir, 'fold0-int8.ern');
    fs.truncateSync(int8File, Math.floor(fs.statSync(int8File).size / 2));
    const [b] = crossValidationModels(ds, recipe, o);
    expect(b!.cached).toBe(false);
    expect(log.some((l) => l.includes('unreadable'))).toBe(true);
    const [c] = crossValidationModels(ds, recipe, o);
    expect(c!.cached).toBe(true);
    expect(c!.int8.labels).toEqual(a!.int8.labels);
  });
});
