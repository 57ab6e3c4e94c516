/**
 * Detectors on a classifier of audio clips as `edgernn train` writes it from a WAV folder: an mfcc
 * front end served in windows (the last 98 frames every 10, a decision every 100 ms) and no
 * keyword settings. Counted in 10 ms frames, a kws route's or a smoothing route's windows spanned
 * 10 times the time they said, and nothing ever fired.
 */
import { describe, expect, it } from 'vitest';
import { createSmoothingDetector, smoothingDefaults, type DetectorContext } from '../../src/gateway/detectors.js';
import { JOB_DETECTORS } from '../../src/gateway/job-detectors.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { errorMessage } from '../helpers/errors.js';

const labels = ['_silence_', 'no', 'yes'];
function clipModel(windows?: { frames: number; hop: number }): DetectorContext {
  const frontend = { kind: 'mfcc', sampleRateHz: 16000, frameMs: 25, hopMs: 10, nMfcc: 13, ...(windows ? { windows } : {}) };
  const spec = { name: 'clips', labels, input: { size: 13, frontend }, layers: [{ kind: 'gru' }, { kind: 'softmax', size: 3 }] } as unknown as ModelSpec;
  return { labels, outputSize: 3, inputSize: 13, path: 'routes[0].detector', spec };
}
const yes = Float32Array.of(0, 0, 1);
const quiet = Float32Array.of(1, 0, 0);
const input = new Float32Array(13);
/** Steps at which the detector fired, over `outputs`. */
const fired = (d: ReturnType<typeof createSmoothingDetector>, outputs: Float32Array[]): number[] => outputs.flatMap((o, t) => (d.step(o, input) ? [t] : []));

describe('kws route on a classifier of clips', () => {
  const route = { kind: 'kws', windowMs: 300, refractoryMs: 1000, rearm: 0.5, thresholds: { yes: 0.8, no: 0.8 } };

  it("takes the time base from the model's front end: a decision per window (100 ms), or per frame without windows", () => {
    // A word in 5 windows in a row (500 ms): a 300 ms mean of 3 decisions reaches 0.8.
    const stream = [quiet, quiet, yes, yes, yes, yes, yes, quiet, quiet, quiet];
    const d = JOB_DETECTORS.kws!(route, clipModel({ frames: 98, hop: 10 }));
    expect(fired(d, stream)).toEqual([4]);
    // Served as one session: a decision per 10 ms frame, 30 of them in 300 ms (24 of 30 reach 0.8).
    const s = JOB_DETECTORS.kws!(route, clipModel());
    expect(fired(s, [...Array(40).fill(quiet), ...Array(30).fill(yes)])).toEqual([63]);
  });

  it('refuses another hopMs or frameMs, naming the one of the model', () => {
    const ctx = clipModel({ frames: 98, hop: 10 });
    expect(errorMessage(() => JOB_DETECTORS.kws!({ ...route, hopMs: 10 }, ctx), 'GATEWAY_CONFIG')).toMatch(/routes\[0\]\.detector\.hopMs must be 100 \(the time base of model 'clips', from its front end: a window every 10 frames\) or absent, got 10/);
    expect(errorMessage(() => JOB_DETECTORS.kws!({ ...route, frameMs: 25 }, ctx), 'GATEWAY_CONFIG')).toMatch(/frameMs must be 995 /);
    expect(fired(JOB_DETECTORS.kws!({ ...route, hopMs: 100 }, ctx), [quiet, quiet, quiet, yes, yes, yes])).toEqual([5]);
    // What the route still needs, hopMs not among them.
    expect(errorMessage(() => JOB_DETECTORS.kws!({ kind: 'kws' }, ctx), 'GATEWAY_CONFIG')).toMatch(/a kws route needs windowMs, refractoryMs, rearm, thresholds; .*missing: windowMs, refractoryMs, rearm, thresholds$/);
  });
});

describe('smoothing route on a classifier of clips', () => {
  const defaults = { kind: 'smoothing', window: 30, threshold: 0.8, background: ['_silence_'], refractorySteps: 50 } as const;

  it('refuses a smoothing window longer than the windows a sound stays in, saying what to give', () => {
    const ctx = clipModel({ frames: 98, hop: 10 });
    expect(errorMessage(() => createSmoothingDetector({ ...defaults, background: ['_silence_'] }, ctx), 'GATEWAY_CONFIG')).toMatch(
      /routes\[0\]\.detector\.window must be at most 9 for model 'clips': it decides once per window of 98 frames every 10 \(100 ms\), so 30 decisions span 3 s, .*e\.g\. window 3 and refractorySteps 10.*, got 30$/,
    );
    const d = createSmoothingDetector({ ...defaults, background: ['_silence_'], window: 3, refractorySteps: 10 }, ctx);
    expect(fired(d, [quiet, yes, yes, yes, yes, yes, quiet])).toEqual([3]);
    // Served as one session (a decision per frame), the defaults are what they were made for.
    expect(() => createSmoothingDetector({ ...defaults, background: ['_silence_'] }, clipModel())).not.toThrow();
  });
});

/**
 * A smoothing route that leaves `window` and `refractorySteps` out gets them from the model: they
 * count decisions, and the defaults 30 and 50 were meant for 10 ms frames of a model served as one
 * session. On a model served in windows they spanned 3 s and 5 s of 100 ms decisions (refused), or
 * tens of a CSV classifier's windows (never checked: an event seen in 2 windows in a row never
 * reached the threshold, silently).
 */
describe('smoothing defaults resolve per model', () => {
  const route = { kind: 'smoothing', threshold: 0.8, background: ['_silence_'] } as const;
  /** A CSV classifier served in windows: the last `frames` rows every `hop` (front end none). */
  function csvModel(frames: number, hop: number): DetectorContext {
    const spec = { name: 'rows', labels, input: { size: 4, frontend: { kind: 'none', windows: { frames, hop } } }, layers: [{ kind: 'gru' }, { kind: 'softmax', size: 3 }] } as unknown as ModelSpec;
    return { labels, outputSize: 3, inputSize: 4, path: 'routes[0].detector', spec };
  }
  const ringOf = (d: ReturnType<typeof createSmoothingDetector>) => (d.exportState() as { ring: number[] }).ring.length / 3;

  it('audio in windows: 300 ms of decisions, 1 s refractory (3 and 10 windows of 100 ms), not refused', () => {
    const d = createSmoothingDetector(route, clipModel({ frames: 98, hop: 10 }));
    expect(ringOf(d)).toBe(3);
    // A word in 5 windows fires at its third; the next, 800 ms later, is within the 1 s refractory
    // period, the one after is not.
    const word = [yes, yes, yes, yes, yes];
    expect(fired(d, [quiet, ...word, quiet, quiet, quiet, ...word, ...Array(5).fill(quiet), ...word])).toEqual([3, 21]);
  });

  it('a CSV classifier in windows: as many decisions as windows hold one row (frames / hop), not 30', () => {
    // --seq-len 64, default --stride 32: a row is in 2 windows; an event seen in 2 windows in a row fires.
    const d = createSmoothingDetector(route, csvModel(64, 32));
    expect(ringOf(d)).toBe(2);
    expect(fired(d, [quiet, yes, yes, quiet, quiet, quiet, yes, yes, quiet])).toEqual([2, 7]);
    // --stride 1: at most 30 and 50, as for a model served as one session.
    expect(ringOf(createSmoothingDetector(route, csvModel(64, 1)))).toBe(30);
  });

  it('an IMU front end that windows by itself (windowSize, hop; no windows field): frames / hop decisions, not 30 (a 30 s mean)', () => {
    // models/har.ern: 64-frame windows every 16 frames, a decision a second; an activity is in at most 4 windows.
    const spec = { name: 'imu', labels, input: { size: 3, rateHz: 16, frontend: { kind: 'imu', inputRateHz: 16, rateHz: 16, channels: ['ax', 'ay', 'az'], windowSize: 64, hop: 16 } }, layers: [{ kind: 'gru' }, { kind: 'softmax', size: 3 }] } as unknown as ModelSpec;
    const imu: DetectorContext = { labels, outputSize: 3, inputSize: 3, path: 'routes[0].detector', spec };
    expect(smoothingDefaults(imu)).toEqual({ window: 4, refractorySteps: 4 });
    expect(ringOf(createSmoothingDetector(route, imu))).toBe(4);
    // A route that gives its own keeps them (not refused).
    expect(ringOf(createSmoothingDetector({ ...route, window: 30, refractorySteps: 50 }, imu))).toBe(30);
  });

  it('a model served as one session keeps 30 and 50; a route that gives them keeps its own', () => {
    const stream = Array.from({ length: 400 }, (_, t) => (t % 97 < 40 && t % 97 > 5 ? yes : quiet));
    const session = clipModel();
    const explicit = fired(createSmoothingDetector({ ...route, window: 30, refractorySteps: 50 }, session), stream);
    expect(fired(createSmoothingDetector(route, session), stream)).toEqual(explicit);
    expect(ringOf(createSmoothingDetector(route, session))).toBe(30);
    const own = createSmoothingDetector({ ...route, window: 2, refractorySteps: 0 }, csvModel(64, 1));
    expect(ringOf(own)).toBe(2);
  });
});
