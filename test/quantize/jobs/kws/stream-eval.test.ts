/**
 * Stream scoring and threshold tuning of the keyword job on synthetic posteriors whose right
 * answer is known; training windows cut from a stream with ground truth.
 */
import { describe, expect, it } from 'vitest';
import { detectEvents, manifestLambda, scoreEvents, tuneThresholds, type StreamTruthLike } from '../../../../quantize/jobs/kws/stream-eval.js';
import { decodeModel, encodeModel } from '../../../../src/model/codec.js';
import { randomQuantModel } from '../../../helpers/random-model.js';
import { errorMessage } from '../../../helpers/errors.js';
import { labelAt, streamWindows, WINDOW_DEFAULTS } from '../../../../quantize/jobs/kws/windows.js';

const LABELS = ['yes', 'no', '_unknown_', '_silence_'];
const KEYWORDS = ['yes', 'no'];

describe('scoreEvents', () => {
  const truth: StreamTruthLike = {
    durationSec: 1800, // half an hour
    keywords: [
      { word: 'yes', onsetSec: 10, offsetSec: 10.5 },
      { word: 'no', onsetSec: 20, offsetSec: 20.4 },
      { word: 'yes', onsetSec: 30, offsetSec: 30.5 },
    ],
  };

  it('counts a hit inside [onset, offset + 1 s], misses, and every other event as a false accept', () => {
    const ev = (label: string, t: number) => ({ label, timeMs: t * 1000, score: 0.9 });
    const s = scoreEvents(
      [
        ev('yes', 10.7), // hit (0.2 s after the end)
        ev('yes', 11.2), // second event on the same keyword: false accept
        ev('yes', 20.3), // wrong word during 'no': false accept; 'no' is missed
        ev('no', 25), // during noise: false accept
        ev('yes', 31.6), // 1.1 s after the end: too late, false accept; keyword missed
      ],
      truth,
      KEYWORDS,
    );
    expect([s.hits, s.misses, s.falseAccepts]).toEqual([1, 2, 4]);
    expect(s.missRate).toBeCloseTo(2 / 3, 12);
    expect(s.falseAcceptsPerHour).toBeCloseTo(8, 12); // 4 in half an hour
    expect(s.medianDelayMs).toBeCloseTo(200, 6);
    expect(s.perKeyword).toEqual({ yes: { keywords: 2, hits: 1, falseAccepts: 3 }, no: { keywords: 1, hits: 0, falseAccepts: 1 } });
    expect(s.falseAcceptEvents.map((e) => e.during)).toEqual(["after 'yes' at 10.00 s", "after 'no' at 20.00 s", 'noise or non-keyword speech', 'noise or non-keyword speech']);
  });

  it('counts an event at the very end of the window as a hit', () => {
    const s = scoreEvents([{ label: 'no', timeMs: 21_400, score: 1 }], truth, KEYWORDS);
    expect(s.hits).toBe(1);
  });

  it('median delay of an even number of hits is the mean of the two middle ones', () => {
    // delays 200 ms and 100 ms: the median is 150 ms (it was the upper one, 200 ms)
    const s = scoreEvents([{ label: 'yes', timeMs: 10_700, score: 1 }, { label: 'yes', timeMs: 30_600, score: 1 }], truth, KEYWORDS);
    expect(s.hits).toBe(2);
    expect(s.medianDelayMs).toBeCloseTo(150, 6);
  });

  it('overlapping keywords of one word: an event hits the one whose window closes first', () => {
    // 'yes' [0, 3] (window to 4 s) and a short 'yes' [0.5, 0.7] inside it (window to 1.7 s); events
    // at 1.0 s and 3.5 s: both keywords are hit (the first rule gave the long one the 1.0 s event,
    // then counted 3.5 s as a false accept and the short one as missed: 1 hit, 1 FA)
    const overlap: StreamTruthLike = { durationSec: 3600, keywords: [{ word: 'yes', onsetSec: 0, offsetSec: 3 }, { word: 'yes', onsetSec: 0.5, offsetSec: 0.7 }] };
    const s = scoreEvents([{ label: 'yes', timeMs: 1000, score: 1 }, { label: 'yes', timeMs: 3500, score: 1 }], overlap, KEYWORDS);
    expect([s.hits, s.misses, s.falseAccepts]).toEqual([2, 0, 0]);
  });

  it('a hit on a keyword outside keywordLabels is counted, not a crash', () => {
    const s = scoreEvents([{ label: 'stop', timeMs: 1000, score: 1 }], { durationSec: 3600, keywords: [{ word: 'stop', onsetSec: 0.5, offsetSec: 0.8 }] }, KEYWORDS);
    expect([s.hits, s.misses, s.falseAccepts]).toEqual([1, 0, 0]);
  });
});

/**
 * A 1-hour stream at 20 ms hops: 'yes' at 60 keywords (posterior 0.9 for 20 steps), 'no' at 60
 * keywords (0.8), and distractors where 'yes' reaches 0.72 (12 of them) and 'no' 0.62 (30 of them).
 */
function syntheticStream(): { post: Float32Array; truth: StreamTruthLike; hopMs: number; frameMs: number } {
  const hopMs = 20;
  const frameMs = 40;
  const T = (3600 * 1000) / hopMs;
  const C = LABELS.length;
  const post = new Float32Array(T * C);
  for (let t = 0; t < T; t++) post[t * C + 3] = 1;
  const put = (label: string, t0: number, steps: number, p: number) => {
    const i = LABELS.indexOf(label);
    for (let t = t0; t < t0 + steps; t++) {
      post[t * C + i] = p;
      post[t * C + 3] = 1 - p;
    }
  };
  const keywords: StreamTruthLike['keywords'][number][] = [];
  let sec = 5;
  for (let n = 0; n < 120; n++, sec += 25) {
    const word = n % 2 === 0 ? 'yes' : 'no';
    keywords.push({ word, onsetSec: sec, offsetSec: sec + 0.5 });
    // The posterior rises once the word is over: steps from offset to offset + 0.4 s.
    put(word, Math.round(((sec + 0.5) * 1000 - frameMs) / hopMs), 20, word === 'yes' ? 0.9 : 0.8);
    if (n < 12) put('yes', Math.round(((sec + 10) * 1000) / hopMs), 20, 0.72);
    if (n < 30) put('no', Math.round(((sec + 15) * 1000) / hopMs), 20, 0.62);
  }
  return { post, truth: { durationSec: 3600, keywords }, hopMs, frameMs };
}

describe('tuneThresholds', () => {
  it('finds the thresholds that separate keywords from distractors, per keyword', () => {
    const { post, truth, hopMs, frameMs } = syntheticStream();
    const r = tuneThresholds(post, LABELS, KEYWORDS, truth, { windowMs: 100, refractoryMs: 1000, rearm: 1, hopMs, frameMs, maxFalseAcceptsPerHour: 0.5 });
    // yes: distractors reach 0.72, keywords 0.9 -> a threshold in (0.72, 0.9]; no: (0.62, 0.8].
    expect(r.config.thresholds.yes).toBeGreaterThan(0.72);
    expect(r.config.thresholds.yes).toBeLessThanOrEqual(0.9);
    expect(r.config.thresholds.no).toBeGreaterThan(0.62);
    expect(r.config.thresholds.no).toBeLessThanOrEqual(0.8);
    expect([r.score.hits, r.score.falseAccepts]).toEqual([120, 0]);
    // The real detector with these settings scores the same.
    const again = scoreEvents(detectEvents(post, LABELS, r.config, hopMs, frameMs), truth, KEYWORDS);
    expect([again.hits, again.falseAccepts]).toEqual([120, 0]);
  });

  it("a keyword the tuning stream never says keeps its threshold (it got the lowest candidate), raised only against its false accepts", () => {
    const { post, truth, hopMs, frameMs } = syntheticStream();
    // A stream with no 'no' in its truth: only the 30 'no' distractors (0.62) remain as evidence, and
    // the 60 'no' keywords' posteriors (0.8) are taken out.
    const C = LABELS.length;
    for (let t = 0; t < post.length / C; t++) if (post[t * C + 1]! === Math.fround(0.8)) post[t * C + 1] = 0;
    const yesOnly: StreamTruthLike = { ...truth, keywords: truth.keywords.filter((k) => k.word === 'yes') };
    const o = { windowMs: 100, refractoryMs: 1000, rearm: 1, hopMs, frameMs, maxFalseAcceptsPerHour: 0.5, minThreshold: 0.5 };
    // Without the model's thresholds: the lowest candidate above the distractors, nothing more to go on.
    const bare = tuneThresholds(post, LABELS, KEYWORDS, yesOnly, o);
    expect(bare.absent).toEqual(['no']);
    expect(bare.config.thresholds.no).toBeLessThan(0.7);
    // With them: 'no' keeps 0.97; 'yes' is tuned as before.
    const kept = tuneThresholds(post, LABELS, KEYWORDS, yesOnly, { ...o, keep: { yes: 0.99, no: 0.97 } });
    expect(kept.config.thresholds.no).toBe(0.97);
    expect(kept.config.thresholds.yes).toBeGreaterThan(0.72);
    expect(kept.config.thresholds.yes).toBeLessThanOrEqual(0.9);
    // A kept threshold that false-accepts on the stream is raised above its false accepts.
    const low = tuneThresholds(post, LABELS, KEYWORDS, yesOnly, { ...o, keep: { no: 0.55 } });
    expect(low.config.thresholds.no).toBeGreaterThan(0.62);
    expect(low.score.falseAccepts).toBe(0);
  });

  it('trades misses for false accepts within the budget', () => {
    const { post, truth, hopMs, frameMs } = syntheticStream();
    // Make 'no' keywords as weak as its distractors: catching them costs 30 false accepts per hour.
    const C = LABELS.length;
    for (let t = 0; t < post.length / C; t++) if (post[t * C + 1]! === Math.fround(0.8)) post[t * C + 1] = 0.62;
    const strict = tuneThresholds(post, LABELS, KEYWORDS, truth, { windowMs: 100, refractoryMs: 1000, rearm: 1, hopMs, frameMs, maxFalseAcceptsPerHour: 1 });
    expect(strict.score.falseAccepts).toBeLessThanOrEqual(1);
    expect(strict.score.misses).toBe(60); // every 'no' given up
    const loose = tuneThresholds(post, LABELS, KEYWORDS, truth, { windowMs: 100, refractoryMs: 1000, rearm: 1, hopMs, frameMs, maxFalseAcceptsPerHour: 40 });
    expect(loose.score.misses).toBe(0);
    expect(loose.score.falseAccepts).toBe(30);
  });

  it('when no threshold meets the budget, only the keyword with false accepts goes to the top', () => {
    const { post, truth, hopMs, frameMs } = syntheticStream();
    // One distractor where 'yes' is certain: a false accept at every threshold.
    const C = LABELS.length;
    const t0 = Math.round((5 * 60 * 1000) / hopMs) + 3;
    for (let t = t0; t < t0 + 20; t++) [post[t * C], post[t * C + 3]] = [1, 0];
    const r = tuneThresholds(post, LABELS, KEYWORDS, truth, { windowMs: 100, refractoryMs: 1000, rearm: 1, hopMs, frameMs, maxFalseAcceptsPerHour: 0.5 });
    expect(r.lambda).toBe(Infinity);
    expect(r.score.falseAccepts).toBe(1);
    // 'yes' takes its fewest false accepts (1) with its fewest misses; 'no' keeps a threshold that catches every 'no'.
    expect(r.config.thresholds.yes).toBeGreaterThan(0.72);
    expect(r.config.thresholds.no).toBeLessThanOrEqual(0.8);
    expect(r.score.hits).toBe(120);
    // The manifest stores that as null: the model writer refuses Infinity (a training or retune
    // that took this path used to fail at its last step, when the model was written).
    expect(manifestLambda(r.lambda)).toBeNull();
    expect(manifestLambda(2.51188643)).toBe(2.512);
    const spec = randomQuantModel(3).int8;
    const bytes = encodeModel({ ...spec, extra: { kws: { tuning: { lambda: manifestLambda(r.lambda) } } } });
    expect(decodeModel(bytes).spec.extra).toEqual({ kws: { tuning: { lambda: null } } });
    expect(() => encodeModel({ ...spec, extra: { kws: { tuning: { lambda: r.lambda } } } })).toThrow(/lambda/);
  });

  it('respects the lowest threshold allowed', () => {
    const { post, truth, hopMs, frameMs } = syntheticStream();
    const r = tuneThresholds(post, LABELS, KEYWORDS, truth, { windowMs: 100, refractoryMs: 1000, rearm: 1, hopMs, frameMs, maxFalseAcceptsPerHour: 0.5, minThreshold: 0.85 });
    expect(r.config.thresholds.no).toBeGreaterThanOrEqual(0.85);
    expect(r.score.hits).toBe(60); // only 'yes' (0.9) can still fire
  });

  it('a lowest threshold above every candidate is a DETECTOR_OPTION error, not a crash', () => {
    const { post, truth, hopMs, frameMs } = syntheticStream();
    expect(errorMessage(() => tuneThresholds(post, LABELS, KEYWORDS, truth, { windowMs: 100, refractoryMs: 1000, rearm: 1, hopMs, frameMs, maxFalseAcceptsPerHour: 0.5, minThreshold: 0.9995 }), 'DETECTOR_OPTION')).toMatch(/no candidate threshold >= minThreshold 0\.9995/);
  });
});

describe('training windows from a stream', () => {
  const truth = {
    durationSec: 30,
    keywords: [{ word: 'yes', onsetSec: 5, offsetSec: 5.5 }],
    speech: [{ onsetSec: 12, offsetSec: 14 }],
  };
  const o = WINDOW_DEFAULTS;

  it('labels a window by what ended just before its end', () => {
    expect(labelAt(truth, 5.3, o)).toBeNull(); // inside the word
    expect(labelAt(truth, 5.55, o)).toBeNull(); // the word just ended (< posMinSec)
    expect(labelAt(truth, 5.62, o)).toBe('yes');
    expect(labelAt(truth, 5.93, o)).toBe('yes');
    expect(labelAt(truth, 6.1, o)).toBeNull(); // 0.6 s after: ambiguous
    expect(labelAt(truth, 6.3, o)).toBe('_unknown_'); // the word is within the last second
    expect(labelAt(truth, 7, o)).toBe('_silence_');
    expect(labelAt(truth, 13, o)).toBe('_unknown_');
    expect(labelAt(truth, 14.9, o)).toBe('_unknown_');
    expect(labelAt(truth, 15.1, o)).toBe('_silence_');
  });

  it('places positives after each keyword and keeps only unambiguous negatives', () => {
    const frameRateHz = 50;
    const frames = 30 * frameRateHz;
    const w = streamWindows(truth, frames, { ...o, negatives: 400, frameRateHz, frameOffsetSec: 0.04 });
    const timeOf = (f: number) => f / frameRateHz + 0.04;
    const pos = w.filter((x) => x.label === 'yes');
    expect(pos.length).toBeGreaterThanOrEqual(o.positivesPerKeyword);
    for (const x of w) {
      expect(x.T).toBe(Math.round(o.lengthSec * frameRateHz));
      expect(x.endFrame).toBeGreaterThanOrEqual(x.T - 1);
      expect(x.endFrame).toBeLessThan(frames);
      expect(labelAt(truth, timeOf(x.endFrame), o)).toBe(x.label);
    }
    expect(new Set(w.map((x) => x.label))).toEqual(new Set(['yes', '_unknown_', '_silence_']));
  });
});
