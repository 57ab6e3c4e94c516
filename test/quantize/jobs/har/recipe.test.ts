/**
 * `--recipe JSON` of train:har / eval:har: a partial `augment` keeps the default of every field it
 * leaves out (it used to replace the whole object, and the missing fields trained on NaN), and
 * values no recipe can train with are usage errors before the dataset is read.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../../src/index.js';
import { augmentRecording, DEFAULT_AUGMENT } from '../../../../quantize/jobs/har/augment.js';
import { recipeFrom } from '../../../../quantize/jobs/har/cli.js';
import { caughtEdgeRnnError as err } from '../../../helpers/errors.js';

describe('--recipe', () => {
  it('a partial augment overrides only its own fields', () => {
    const r = recipeFrom('{"augment":{"rotationDeg":10}}');
    expect(r.augment).toEqual({ ...DEFAULT_AUGMENT, rotationDeg: 10 });
    // What training then reads: finite codes that still move (not NaN cast to 0).
    const codes = Uint8Array.from({ length: 3 * 64 }, (_, i) => 20 + ((i * 7) % 23));
    const aug = augmentRecording({ activity: 'walk', volunteer: 'f1', file: 'x', startTime: '', codes, samples: 64 }, r.augment!, new Rng(1));
    expect(new Set(aug.codes).size).toBeGreaterThan(5);
    expect(recipeFrom('{"augment":null}').augment).toBeNull();
  });

  it.each([
    ['{"augment":{"rotation":10}}', /unknown augment field 'rotation': expected rotationDeg, intensity, speed/],
    ['{"augment":{"speed":-1}}', /augment.speed must be a number >= 0, got -1/],
    ['{"hidden":-5}', /field 'hidden' must be an integer >= 1, got -5/],
    ['{"epochs":1.5}', /field 'epochs' must be an integer >= 1, got 1.5/],
    ['{"windowSize":0}', /field 'windowSize' must be an integer >= 1, got 0/],
    ['{"arch":"cnn"}', /field 'arch' must be one of 'gru', 'lstm', 'rnn', got "cnn"/],
    ['{"classWeights":"equal"}', /field 'classWeights' must be 'none' or 'balanced', got "equal"/],
    ['{"valFraction":1}', /field 'valFraction' must be in \[0, 1\), got 1/],
    ['{"lr":0}', /field 'lr' must be a number > 0, got 0/],
    ['{"volunteerBalance":0}', /field 'volunteerBalance' must be an integer >= 1, got 0/],
    ['{"denseHidden":[16,0]}', /field 'denseHidden' must be a list of integers >= 1, got \[16,0\]/],
  ])('%s is a usage error', (json, message) => {
    const e = err(() => recipeFrom(json));
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(message);
  });
});
