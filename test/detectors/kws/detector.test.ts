/**
 * KwsDetector on synthetic posterior sequences: smoothing, per-keyword thresholds, refractory
 * period, re-arming, background labels, event times, state round trip, and every bad input.
 */
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError, KwsDetector, type KwsDetectorOptions, type KwsEvent } from '../../../src/index.js';

const LABELS = ['yes', 'no', '_unknown_', '_silence_'];

/** Posterior rows: `bumps` place a keyword's probability p over [from, to); the rest is silence. */
function sequence(T: number, bumps: { label: string; from: number; to: number; p: number }[]): number[][] {
  return Array.from({ length: T }, (_, t) => {
    const row = [0, 0, 0, 1];
    for (const b of bumps) {
      if (t >= b.from && t < b.to) {
        const i = LABELS.indexOf(b.label);
        row[i] = b.p;
        row[3] = 1 - b.p;
      }
    }
    return row;
  });
}

const opts = (o: Partial<KwsDetectorOptions> = {}): KwsDetectorOptions => ({
  labels: LABELS,
  hopMs: 10,
  frameMs: 25,
  windowMs: 40, // W = 4 steps
  refractoryMs: 100, // R = 10 steps
  rearm: 1,
  thresholds: { yes: 0.6, no: 0.6 },
  ...o,
});

function run(d: KwsDetector, rows: number[][]): (KwsEvent | null)[] {
  return rows.map((r) => d.step(Float64Array.from(r)));
}
const events = (d: KwsDetector, rows: number[][]): KwsEvent[] => run(d, rows).filter((e): e is KwsEvent => e !== null);

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isEdgeRnnError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an EdgeRnnError');
}

describe('KwsDetector smoothing', () => {
  it('averages each label over the last W steps (fewer at the start)', () => {
    const d = new KwsDetector(opts());
    expect(d.windowSteps).toBe(4);
    const ys = [0.1, 0.5, 0.2, 0.9, 0.4, 0.0];
    const got: number[] = [];
    for (const y of ys) {
      d.step([y, 0, 0, 1 - y]);
      got.push(d.lastSmoothed[0]!);
    }
    // Window means: [0.1], [0.1,0.5], [0.1,0.5,0.2], [0.1..0.9], [0.5,0.2,0.9,0.4], [0.2,0.9,0.4,0.0]
    const want = [0.1, 0.3, 0.8 / 3, 1.7 / 4, 2.0 / 4, 1.5 / 4];
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 12));
    expect(d.lastScore).toBeCloseTo(1.5 / 4, 12); // the largest smoothed keyword posterior
  });

  it('does not fire on a one-step spike that the window averages away', () => {
    const d = new KwsDetector(opts());
    // A single step at 1.0 after silence: smoothed 1/4 < 0.6.
    expect(events(d, sequence(30, [{ label: 'yes', from: 10, to: 11, p: 1 }]))).toEqual([]);
    // Sustained for 3 steps: smoothed reaches 3/4 at the third step.
    d.reset();
    const ev = events(d, sequence(30, [{ label: 'yes', from: 10, to: 13, p: 1 }]));
    expect(ev.map((e) => [e.label, e.step])).toEqual([['yes', 12]]);
    expect(ev[0]!.score).toBeCloseTo(0.75, 12);
  });
});

describe('KwsDetector thresholds', () => {
  it('uses each keyword its own threshold', () => {
    const d = new KwsDetector(opts({ thresholds: { yes: 0.9, no: 0.5 } }));
    const rows = sequence(60, [
      { label: 'yes', from: 5, to: 15, p: 0.8 }, // below 0.9: never fires
      { label: 'no', from: 35, to: 45, p: 0.8 }, // above 0.5
    ]);
    const ev = events(d, rows);
    expect(ev.map((e) => e.label)).toEqual(['no']);
    // 'no' crosses 0.5 when the window holds 3 of 4 steps at 0.8 (0.6): step 37.
    expect(ev[0]!.step).toBe(37);
  });

  it('fires the keyword with the larger smoothed posterior when two qualify', () => {
    const d = new KwsDetector(opts({ thresholds: { yes: 0.3, no: 0.3 } }));
    const rows = Array.from({ length: 10 }, () => [0.45, 0.55, 0, 0]);
    expect(events(d, rows).map((e) => e.label)).toEqual(['no']);
  });

  it('never fires background labels, however high', () => {
    const d = new KwsDetector(opts());
    const rows = Array.from({ length: 50 }, (_, t) => (t % 2 ? [0, 0, 1, 0] : [0, 0, 0, 1]));
    expect(events(d, rows)).toEqual([]);
    // An explicit background list silences a keyword too.
    const d2 = new KwsDetector(opts({ background: ['no', '_unknown_', '_silence_'], thresholds: { yes: 0.6 } }));
    expect(events(d2, sequence(40, [{ label: 'no', from: 5, to: 30, p: 1 }]))).toEqual([]);
    expect(d2.keywordIndices).toEqual([0]);
  });
});

describe('KwsDetector refractory period and re-arming', () => {
  it('suppresses every keyword for R steps after an event', () => {
    const d = new KwsDetector(opts({ rearm: 1 }));
    // 'yes' fires at step 7 (window 5..8 has 3 of 4 at 1.0); 'no' qualifies from step 12 but R = 10
    // keeps the detector quiet through step 17; 'no' fires at step 18.
    const rows = sequence(40, [
      { label: 'yes', from: 5, to: 8, p: 1 },
      { label: 'no', from: 10, to: 30, p: 1 },
    ]);
    const ev = events(d, rows);
    expect(ev.map((e) => [e.label, e.step])).toEqual([
      ['yes', 7],
      ['no', 18],
    ]);
  });

  it('fires a long keyword once: it must fall below rearm·θ before it can fire again', () => {
    const d = new KwsDetector(opts());
    // 'yes' held for 60 steps: fires once (step 7), refractory ends at 17, but it stays disarmed.
    const long = sequence(100, [{ label: 'yes', from: 5, to: 65, p: 1 }]);
    expect(events(d, long).map((e) => e.step)).toEqual([7]);
    // Two separate utterances after the refractory period both fire.
    d.reset();
    const two = sequence(100, [
      { label: 'yes', from: 5, to: 10, p: 1 },
      { label: 'yes', from: 40, to: 45, p: 1 },
    ]);
    expect(events(d, two).map((e) => e.step)).toEqual([7, 42]);
  });

  it('re-arms below rearm·θ, not below θ, when rearm < 1', () => {
    // θ = 0.6, rearm 0.5: must drop below 0.3. A dip to 0.4 does not re-arm.
    const d = new KwsDetector(opts({ rearm: 0.5, refractoryMs: 0 }));
    const rows = [
      ...Array.from({ length: 10 }, () => [1, 0, 0, 0]),
      ...Array.from({ length: 10 }, () => [0.4, 0, 0, 0.6]),
      ...Array.from({ length: 10 }, () => [1, 0, 0, 0]),
      ...Array.from({ length: 10 }, () => [0, 0, 0, 1]),
      ...Array.from({ length: 10 }, () => [1, 0, 0, 0]),
    ];
    // The dip to 0.4 (>= 0.3) leaves it disarmed through steps 20-29; silence re-arms it, and the
    // window reaches 0.75 >= 0.6 at step 42.
    expect(events(d, rows).map((e) => e.step)).toEqual([0, 42]);
  });

  it('with refractory 0 and rearm 1 a keyword can fire again right after it dips below θ', () => {
    const d = new KwsDetector(opts({ refractoryMs: 0, windowMs: 10 }));
    const rows = [1, 1, 0.5, 1, 0.2, 0.7].map((p) => [p, 0, 0, 1 - p]);
    expect(run(d, rows).map((e) => (e ? e.step : null))).toEqual([0, null, null, 3, null, 5]);
  });
});

describe('KwsDetector events', () => {
  it('reports time as the end of the step frame: step·hop + frame', () => {
    const d = new KwsDetector(opts({ hopMs: 20, frameMs: 40, windowMs: 20 }));
    const ev = events(d, sequence(20, [{ label: 'no', from: 7, to: 9, p: 0.9 }]));
    expect(ev).toEqual([{ label: 'no', index: 1, score: 0.9, step: 7, timeMs: 7 * 20 + 40 }]);
  });

  it('counts steps from the last reset', () => {
    const d = new KwsDetector(opts());
    run(d, sequence(25, []));
    expect(d.stepCount).toBe(25);
    d.reset();
    expect(d.stepCount).toBe(0);
    const ev = events(d, sequence(20, [{ label: 'yes', from: 2, to: 8, p: 1 }]));
    expect(ev[0]!.step).toBe(4);
  });

  it('continues exactly after exportState/importState through JSON', () => {
    const rng = (() => {
      let s = 7;
      return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    })();
    const rows = Array.from({ length: 400 }, () => {
      const a = rng() ** 3;
      const b = rng() ** 3;
      return [a, b * (1 - a), (1 - a) * (1 - b) / 2, (1 - a) * (1 - b) / 2];
    });
    const o = opts({ thresholds: { yes: 0.35, no: 0.3 }, windowMs: 50, refractoryMs: 80 });
    const whole = run(new KwsDetector(o), rows);
    expect(whole.filter(Boolean).length).toBeGreaterThan(3);
    for (const cut of [1, 3, 137, 399]) {
      const a = new KwsDetector(o);
      const first = run(a, rows.slice(0, cut));
      const b = new KwsDetector(o);
      b.importState(JSON.parse(JSON.stringify(a.exportState())));
      expect([...first, ...run(b, rows.slice(cut))]).toEqual(whole);
    }
  });
});

describe('KwsDetector errors', () => {
  it('names the bad option, what it expected and what it got', () => {
    const cases: [Partial<KwsDetectorOptions>, RegExp][] = [
      [{ labels: ['yes'] }, /labels must be at least 2 non-empty label names, got \["yes"\]/],
      [{ labels: ['yes', 'yes', '_silence_', '_unknown_'] }, /labels must be distinct names/],
      [{ hopMs: 0 }, /hopMs must be a positive number of ms, got 0/],
      [{ frameMs: -1 }, /frameMs must be a number of ms >= 0, got -1/],
      [{ windowMs: Number.NaN }, /windowMs must be a positive number of ms, got null/],
      [{ refractoryMs: -5 }, /refractoryMs must be a number of ms >= 0, got -5/],
      [{ rearm: 1.5 }, /rearm must be a number in \(0, 1\], got 1.5/],
      [{ thresholds: { yes: 0.5 } }, /thresholds.no must be a smoothed posterior in \(0, 1\], got undefined/],
      [{ thresholds: { yes: 0.5, no: 1.2 } }, /thresholds.no must be a smoothed posterior in \(0, 1\], got 1.2/],
      [{ thresholds: { yes: 0.5, no: 0.5, maybe: 0.5 } }, /thresholds.maybe must be a keyword of the model \(yes, no\), got "maybe"/],
      [{ background: ['never'] }, /background must be labels of the model \(yes, no, _unknown_, _silence_\), got "never"/],
      [{ background: LABELS }, /background must be fewer labels than the model has/],
    ];
    for (const [o, re] of cases) {
      const e = errorOf(() => new KwsDetector(opts(o)));
      expect(e.code).toBe('DETECTOR_OPTION');
      expect(e.message).toMatch(re);
    }
  });

  it('refuses a smoothing window too long to hold (it threw a bare RangeError, or allocated gigabytes per stream)', () => {
    for (const o of [{ windowMs: 1e12 }, { hopMs: 1e-9 }, { windowMs: 86_400_000 }]) {
      const e = errorOf(() => new KwsDetector(opts(o)));
      expect(e.code).toBe('DETECTOR_OPTION');
      expect(e.message).toMatch(/windowMs must be at most 100000 steps of hopMs/);
    }
    expect(new KwsDetector(opts({ windowMs: 1_000_000 })).windowSteps).toBe(100_000); // the largest allowed
  });

  it('rejects a posterior vector of the wrong length or with NaN, leaving the state unchanged', () => {
    const d = new KwsDetector(opts());
    d.step([0.5, 0, 0, 0.5]);
    const before = JSON.stringify(d.exportState());
    const e1 = errorOf(() => d.step([1, 0, 0]));
    expect(e1.code).toBe('SHAPE_MISMATCH');
    expect(e1.message).toMatch(/3 posteriors, the model has 4 labels/);
    const e2 = errorOf(() => d.step([0.5, Number.NaN, 0, 0.5]));
    expect(e2.code).toBe('NON_FINITE_INPUT');
    expect(e2.message).toMatch(/posterior 1 \(no\) at step 1 is NaN/);
    const e3 = errorOf(() => d.step(undefined as never));
    expect(e3.code).toBe('SHAPE_MISMATCH');
    expect(e3.message).toMatch(/undefined for the posteriors, the model has 4 labels/);
    expect(JSON.stringify(d.exportState())).toBe(before);
  });

  it('refuses state from a detector of another shape, or garbage', () => {
    const a = new KwsDetector(opts());
    a.step([0.2, 0.2, 0.3, 0.3]);
    const b = new KwsDetector(opts({ windowMs: 80 }));
    const e = errorOf(() => b.importState(a.exportState()));
    expect(e.code).toBe('STATE_MISMATCH');
    expect(e.message).toMatch(/expected a ring of 32 values \(window 8 × 4 labels\), got 16/);
    expect(errorOf(() => a.importState(null)).code).toBe('STATE_MISMATCH');
    expect(errorOf(() => a.importState({ ...a.exportState(), head: 9 })).message).toMatch(/head must be an integer in \[0, 3\], got 9/);
    expect(errorOf(() => a.importState({ ...a.exportState(), sum: [0, 0, Number.NaN, 0] })).message).toMatch(/finite/);
  });
});

describe('KwsDetector long streams and saved states', () => {
  const lcg = (seed: number) => {
    let s = seed;
    return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  };

  it('a running sum does not drift: after 10^6 random steps a window of silence smooths to exactly 0 (it stayed ±1e-13 off)', () => {
    const d = new KwsDetector(opts({ windowMs: 30, refractoryMs: 0 })); // W = 3
    const rng = lcg(12345);
    const row = new Float64Array(4);
    for (let t = 0; t < 1_000_000; t++) {
      const a = rng();
      const b = rng() * (1 - a);
      row[0] = a;
      row[1] = b;
      row[2] = (1 - a - b) / 2;
      row[3] = (1 - a - b) / 2;
      d.step(row);
    }
    for (let t = 0; t < 2 * d.windowSteps; t++) d.step([0, 0, 0, 0]);
    expect(Array.from(d.lastSmoothed)).toEqual([0, 0, 0, 0]);
    expect(d.exportState().sum).toEqual([0, 0, 0, 0]);
  });

  it('export/import at every cut point reproduces the uninterrupted events: mid-window, mid-refractory, disarmed', () => {
    const rng = lcg(99);
    for (let trial = 0; trial < 20; trial++) {
      const o = opts({ windowMs: 10 * (1 + Math.floor(rng() * 5)), refractoryMs: 10 * Math.floor(rng() * 6), rearm: 0.5 + rng() * 0.5, thresholds: { yes: 0.5, no: 0.6 } });
      let mode = 0;
      const rows = Array.from({ length: 120 }, () => {
        if (rng() < 0.1) mode = Math.floor(rng() * 4);
        const r = [0.1, 0.1, 0.1, 0.1];
        r[mode] = 0.7;
        return r;
      });
      const whole = run(new KwsDetector(o), rows);
      for (let cut = 0; cut <= rows.length; cut += 7) {
        const a = new KwsDetector(o);
        const first = run(a, rows.slice(0, cut));
        const b = new KwsDetector(o);
        b.importState(JSON.parse(JSON.stringify(a.exportState())));
        expect(b.lastScore).toBe(a.lastScore);
        expect([...first, ...run(b, rows.slice(cut))]).toEqual(whole);
      }
    }
  });

  it('refuses a corrupt state naming the field, and changes nothing (armed flags, score, sums that are not the ring, labels)', () => {
    const a = new KwsDetector(opts());
    run(a, sequence(6, [{ label: 'yes', from: 0, to: 6, p: 0.9 }]));
    const good = a.exportState();
    const before = JSON.stringify(good);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ armed: [true, 'yes', true, true] }, /armed\[1\] must be a boolean, got "yes"/],
      [{ armed: [true, 1, true, true] }, /armed\[1\] must be a boolean, got 1/],
      [{ score: Number.NaN }, /score must be a finite number, got NaN/],
      [{ score: '0.5' }, /score must be a finite number, got "0.5"/],
      [{ sum: [5, 0, 0, 0] }, /sum\[0\] must be the sum of the ring's values for label 0 \(yes\)/],
      [{ ring: [...good.ring.slice(0, -1), Number.POSITIVE_INFINITY] }, /ring\[15\] must be a finite number, got Infinity/],
      [{ count: 2 }, /count must be/],
      [{ head: 1, count: 4, step: 6 }, /head must be/],
      [{ refractory: -1 }, /refractory must be an integer in \[0, 10\], got -1/],
      [{ step: 1e300 }, /step must be an integer/],
      [{ labels: ['up', 'down', '_unknown_', '_silence_'] }, /labels must be \["yes","no","_unknown_","_silence_"\] \(this detector's\), got \["up","down","_unknown_","_silence_"\]/],
    ];
    for (const [patch, re] of cases) {
      const e = errorOf(() => a.importState({ ...good, ...patch }));
      expect(e.code).toBe('STATE_MISMATCH');
      expect(e.message).toMatch(re);
      expect(JSON.stringify(a.exportState())).toBe(before);
    }
  });
  it('fires at a smoothed posterior exactly equal to θ, and on an exact tie the keyword earlier in output order', () => {
    const d = new KwsDetector(opts({ windowMs: 10, refractoryMs: 0, thresholds: { yes: 0.5, no: 0.5 } })); // W = 1
    expect(d.step([0.25, 0.5, 0, 0.25])).toMatchObject({ label: 'no', score: 0.5, step: 0 });
    const e = new KwsDetector(opts({ windowMs: 10, refractoryMs: 0, thresholds: { yes: 0.4, no: 0.4 } }));
    expect(e.step([0.45, 0.45, 0, 0.1])).toMatchObject({ label: 'yes', index: 0, score: 0.45 });
  });
});

describe('KwsDetector options: unknown fields', () => {
  it('refuses a misspelt or unknown field by name, and options that are not an object', () => {
    // refractory for refractoryMs was silently dropped (here the detector would have used 100 ms).
    const e = errorOf(() => new KwsDetector({ ...opts(), refractory: 500 } as KwsDetectorOptions));
    expect(e.code).toBe('DETECTOR_OPTION');
    expect(e.message).toMatch(/keyword detector: refractory is not an option \(labels, hopMs, frameMs, windowMs, refractoryMs, rearm, thresholds, background\)/);
    const n = errorOf(() => new KwsDetector(null as unknown as KwsDetectorOptions));
    expect(n.code).toBe('DETECTOR_OPTION');
    expect(n.message).toMatch(/keyword detector: options must be an object/);
  });
});
