/**
 * Label smoothing (src/detectors/har/smoothing.ts) against plain reference implementations on
 * random posteriors, and on synthetic label sequences (segments of activities seen through a
 * noisy classifier) where smoothing must beat the raw argmax.
 */
import { describe, expect, it } from 'vitest';
import { EdgeRnnError, Rng } from '../../../src/index.js';
import { LabelSmoother } from '../../../src/detectors/har/index.js';
import { caughtEdgeRnnError } from '../../helpers/errors.js';

/** Majority over the last W argmax labels; ties go to the tied label seen most recently. */
function majorityRef(raw: readonly number[], W: number): number[] {
  return raw.map((_, t) => {
    const win = raw.slice(Math.max(0, t - W + 1), t + 1);
    const counts = new Map<number, number>();
    for (const l of win) counts.set(l, (counts.get(l) ?? 0) + 1);
    const top = Math.max(...counts.values());
    for (let k = win.length - 1; k >= 0; k--) if (counts.get(win[k]!) === top) return win[k]!;
    return -1;
  });
}

/** HMM forward filter with the full C×C transition matrix, float64. */
function hmmRef(post: number[][], C: number, stay: number, floor: number, prior: number[]): { label: number[]; conf: number[] } {
  const A = Array.from({ length: C }, (_, i) => Array.from({ length: C }, (_, j) => (i === j ? stay : (1 - stay) / (C - 1))));
  const ps = prior.reduce((a, b) => a + b, 0);
  const pr = prior.map((p) => p / ps);
  let alpha = [...pr];
  const label: number[] = [];
  const conf: number[] = [];
  for (const p of post) {
    const next = Array.from({ length: C }, (_, j) => {
      let pred = 0;
      for (let i = 0; i < C; i++) pred += alpha[i]! * A[i]![j]!;
      return (Math.max(p[j]!, floor) / pr[j]!) * pred;
    });
    const s = next.reduce((a, b) => a + b, 0);
    alpha = next.map((v) => v / s);
    let best = 0;
    for (let j = 1; j < C; j++) if (alpha[j]! > alpha[best]!) best = j;
    label.push(best);
    conf.push(alpha[best]!);
  }
  return { label, conf };
}

function randomPosteriors(rng: Rng, T: number, C: number): number[][] {
  return Array.from({ length: T }, () => {
    const v = Array.from({ length: C }, () => rng.next() ** 3);
    const s = v.reduce((a, b) => a + b, 0);
    return v.map((x) => x / s);
  });
}

const argmax = (v: readonly number[]): number => v.indexOf(Math.max(...v));

/**
 * Activities in segments of 8..40 windows, seen through a classifier that is right with
 * probability `pRight` (posterior 0.5..0.9 on the true class) and otherwise confident in a random
 * wrong class; returns truth and posteriors.
 */
function noisySequence(seed: number, C: number, segments: number, pRight: number): { truth: number[]; post: number[][] } {
  const rng = new Rng(seed);
  const truth: number[] = [];
  const post: number[][] = [];
  let cls = rng.int(0, C - 1);
  for (let s = 0; s < segments; s++) {
    const len = rng.int(8, 40);
    for (let t = 0; t < len; t++) {
      const right = rng.next() < pRight;
      const shown = right ? cls : (cls + rng.int(1, C - 1)) % C;
      const top = rng.uniform(0.5, 0.9);
      const p = Array.from({ length: C }, (_, j) => (j === shown ? top : (1 - top) / (C - 1)));
      truth.push(cls);
      post.push(p);
    }
    cls = (cls + rng.int(1, C - 1)) % C;
  }
  return { truth, post };
}

const accuracy = (a: readonly number[], b: readonly number[]): number => a.filter((v, i) => v === b[i]).length / a.length;

function run(sm: LabelSmoother, post: number[][]): number[] {
  return post.map((p) => sm.push(p));
}

describe('LabelSmoother', () => {
  it("'none' is the argmax and its posterior", () => {
    const rng = new Rng(1);
    const post = randomPosteriors(rng, 50, 5);
    const sm = new LabelSmoother(5, { kind: 'none' });
    for (const p of post) {
      expect(sm.push(p)).toBe(argmax(p));
      expect(sm.confidence).toBe(p[argmax(p)]);
    }
  });

  it('majority equals the reference vote on random sequences (windows 1..9)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Rng(seed);
      const C = rng.int(2, 9);
      const W = rng.int(1, 9);
      const post = randomPosteriors(rng, 200, C);
      const raw = post.map(argmax);
      const sm = new LabelSmoother(C, { kind: 'majority', window: W });
      expect(run(sm, post)).toEqual(majorityRef(raw, W));
    }
  });

  it('hmm equals the full-matrix forward filter on random posteriors (stay, floor, prior)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Rng(100 + seed);
      const C = rng.int(2, 9);
      const stay = rng.uniform(1 / C, 0.99);
      const floor = 10 ** rng.uniform(-6, -2);
      const prior = Array.from({ length: C }, () => rng.uniform(0.2, 2));
      const post = randomPosteriors(rng, 150, C);
      const sm = new LabelSmoother(C, { kind: 'hmm', stay, floor, prior });
      const ref = hmmRef(post, C, stay, floor, prior);
      post.forEach((p, t) => {
        expect(sm.push(p)).toBe(ref.label[t]);
        expect(sm.confidence).toBeCloseTo(ref.conf[t]!, 12);
      });
    }
  });

  it('hmm temperature T uses p^(1/T): T = 2 equals T = 1 on square-rooted posteriors', () => {
    const rng = new Rng(7);
    const post = randomPosteriors(rng, 100, 6);
    const a = new LabelSmoother(6, { kind: 'hmm', temperature: 2, floor: 1e-9 });
    const b = new LabelSmoother(6, { kind: 'hmm', temperature: 1, floor: Math.sqrt(1e-9) });
    for (const p of post) {
      expect(a.push(p)).toBe(b.push(p.map(Math.sqrt)));
      expect(a.confidence).toBeCloseTo(b.confidence, 12);
    }
  });

  it('on noisy synthetic activity sequences both smoothers beat the raw argmax', () => {
    let raw = 0;
    let maj = 0;
    let hmm = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const { truth, post } = noisySequence(seed, 9, 30, 0.7);
      raw += accuracy(post.map(argmax), truth) / 10;
      maj += accuracy(run(new LabelSmoother(9, { kind: 'majority', window: 5 }), post), truth) / 10;
      hmm += accuracy(run(new LabelSmoother(9, { kind: 'hmm', stay: 0.9 }), post), truth) / 10;
    }
    // 30 % of windows are confidently wrong: the raw argmax is right about 70 % of the time;
    // a 5-window vote or the sticky HMM recover most of the rest except a few windows after each change.
    expect(raw).toBeGreaterThan(0.65);
    expect(raw).toBeLessThan(0.75);
    expect(maj).toBeGreaterThan(raw + 0.1);
    expect(hmm).toBeGreaterThan(raw + 0.1);
  });

  it('a lone wrong window inside a steady activity is removed, a real change is followed within 3 windows', () => {
    const C = 4;
    const onehot = (j: number, top = 0.8): number[] => Array.from({ length: C }, (_, k) => (k === j ? top : (1 - top) / (C - 1)));
    const post = [...Array(10).fill(0).map(() => onehot(0)), onehot(2), ...Array(10).fill(0).map(() => onehot(0)), ...Array(10).fill(0).map(() => onehot(1))];
    for (const kind of ['majority', 'hmm'] as const) {
      const out = run(new LabelSmoother(C, { kind, window: 3, stay: 0.9 }), post);
      expect(out.slice(0, 21).every((l) => l === 0)).toBe(true);
      const firstB = out.indexOf(1);
      expect(firstB).toBeGreaterThanOrEqual(21);
      expect(firstB).toBeLessThanOrEqual(23);
      expect(out.slice(firstB).every((l) => l === 1)).toBe(true);
    }
  });

  it('exportState/importState continue the stream exactly (every kind), through JSON', () => {
    for (const kind of ['none', 'majority', 'hmm'] as const) {
      const rng = new Rng(3);
      const post = randomPosteriors(rng, 60, 5);
      const whole = new LabelSmoother(5, { kind, window: 4 });
      const expected = run(whole, post);
      const a = new LabelSmoother(5, { kind, window: 4 });
      const first = run(a, post.slice(0, 25));
      const b = new LabelSmoother(5, { kind, window: 4 });
      b.importState(JSON.parse(JSON.stringify(a.exportState())));
      expect(b.label).toBe(a.label);
      expect(b.confidence).toBeCloseTo(a.confidence, 12);
      expect([...first, ...run(b, post.slice(25))]).toEqual(expected);
    }
  });

  it('reset starts over', () => {
    const rng = new Rng(4);
    const post = randomPosteriors(rng, 30, 3);
    const sm = new LabelSmoother(3, { kind: 'majority', window: 5 });
    const a = run(sm, post);
    sm.reset();
    expect(sm.label).toBe(-1);
    expect(run(sm, post)).toEqual(a);
  });

  it('bad options, inputs and states are typed errors naming the problem', () => {
    const err = caughtEdgeRnnError;
    expect(err(() => new LabelSmoother(1)).message).toMatch(/classes must be an integer >= 2, got 1/);
    expect(err(() => new LabelSmoother(3, { kind: 'median' as never })).code).toBe('DETECTOR_OPTION');
    expect(err(() => new LabelSmoother(3, { window: 0 })).message).toMatch(/window must be an integer in \[1, 10000\], got 0/);
    expect(err(() => new LabelSmoother(4, { stay: 0.1 })).message).toMatch(/stay must be a number in \[1\/4, 1\), got 0.1/);
    expect(err(() => new LabelSmoother(4, { stay: 1 })).code).toBe('DETECTOR_OPTION');
    expect(err(() => new LabelSmoother(3, { temperature: 0 })).message).toMatch(/temperature/);
    expect(err(() => new LabelSmoother(3, { prior: [1, 2] })).message).toMatch(/prior must be 3 positive numbers/);
    // A misspelt field, or options that are not an object ('hmm' spread into the defaults), were
    // silently dropped for the defaults.
    expect(err(() => new LabelSmoother(3, { kind: 'majority', windw: 3 } as never)).message).toBe('har smoothing: windw must be a smoothing option (kind, window, stay, temperature, prior, floor), got 3');
    expect(err(() => new LabelSmoother(3, 'hmm' as never)).message).toBe('har smoothing: options must be an object {kind, window, stay, temperature, prior, floor}, got "hmm"');
    const sm = new LabelSmoother(3, { kind: 'hmm' });
    const e = err(() => sm.push([0.5, 0.5]));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toMatch(/expected 3 posteriors, got 2/);
    expect(err(() => sm.importState({ kind: 'majority', steps: 1, head: 0, values: [0, 0, 0, 0, 0] })).message).toMatch(/state is for 'majority', this smoother is 'hmm'/);
    expect(err(() => sm.importState({ kind: 'hmm', steps: 1, head: 0, values: [0.5, 0.5] })).code).toBe('GATEWAY_STATE');
    expect(err(() => sm.importState(null)).code).toBe('GATEWAY_STATE');
    const mj = new LabelSmoother(3, { kind: 'majority', window: 2 });
    expect(err(() => mj.importState({ kind: 'majority', steps: 1, head: 0, values: [0, 7] })).message).toMatch(/labels must be integers in \[0, 3\)/);
  });

  it('a refused majority state (a label out of range) leaves the smoother as it was (it used to reset it half-way)', () => {
    const posts = [
      [0.1, 0.8, 0.1],
      [0.1, 0.8, 0.1],
      [0.7, 0.2, 0.1],
      [0.1, 0.2, 0.7],
      [0.1, 0.8, 0.1],
    ];
    const ref = new LabelSmoother(3, { kind: 'majority', window: 3 });
    const sm = new LabelSmoother(3, { kind: 'majority', window: 3 });
    for (const p of posts.slice(0, 2)) {
      ref.push(p);
      sm.push(p);
    }
    const before = sm.exportState();
    expect(() => sm.importState({ kind: 'majority', steps: 5, head: 1, values: [0, 7, 1] })).toThrow(/labels must be integers in \[0, 3\)/);
    expect(sm.exportState()).toEqual(before);
    expect([sm.label, sm.confidence, sm.count]).toEqual([ref.label, ref.confidence, ref.count]);
    for (const p of posts.slice(2)) expect([sm.push(p), sm.confidence]).toEqual([ref.push(p), ref.confidence]);
  });

  it('NaN in a posterior counts as the floor, never poisons the filter', () => {
    const sm = new LabelSmoother(3, { kind: 'hmm' });
    sm.push([0.8, 0.1, 0.1]);
    sm.push([NaN, 0.5, 0.5]);
    expect(Number.isFinite(sm.confidence)).toBe(true);
    expect(sm.push([0.9, 0.05, 0.05])).toBe(0);
  });

  it("NaN in a posterior counts as 0 for 'none' and 'majority' too (a NaN at output 0 made label 0 win with confidence NaN)", () => {
    const none = new LabelSmoother(3, { kind: 'none' });
    expect(none.push([0.1, 0.8, 0.1])).toBe(1);
    expect(none.push([NaN, 0.1, 0.9])).toBe(2);
    expect(none.confidence).toBeCloseTo(0.9, 12);
    expect(none.push([0.2, Infinity, 0.7])).toBe(2);
    const maj = new LabelSmoother(3, { kind: 'majority', window: 3 });
    for (const p of [[0.1, 0.8, 0.1], [NaN, 0.1, 0.9], [NaN, 0.1, 0.9]]) maj.push(p);
    expect([maj.label, maj.confidence]).toEqual([2, 2 / 3]);
  });

  it('a window without a finite positive posterior (all NaN, all zeros) carries no vote: the label stays (it became label 0)', () => {
    for (const kind of ['none', 'majority', 'hmm'] as const) {
      const sm = new LabelSmoother(3, { kind, window: 1 });
      expect(sm.push([0, 0, 0])).toBe(kind === 'hmm' ? 0 : -1); // the hmm starts from its prior
      sm.push([0.1, 0.2, 0.7]);
      expect(sm.push([NaN, NaN, NaN])).toBe(2);
      expect(sm.push([0, 0, 0])).toBe(2);
      expect(Number.isFinite(sm.confidence)).toBe(true);
    }
  });

  it('hmm stays finite at extreme settings (a small temperature underflowed every emission: NaN for good)', () => {
    const post = [
      [0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05],
      [0.05, 0.05, 0, 0, 0, 0, 0.1, 0.1, 0.7],
      [0.05, 0.05, 0, 0, 0, 0, 0.1, 0.1, 0.7],
    ];
    const cold = new LabelSmoother(9, { kind: 'hmm', temperature: 0.0005 });
    expect(post.map((p) => [cold.push(p), Number.isFinite(cold.confidence)])).toEqual([
      [0, true],
      [8, true],
      [8, true],
    ]);
    // A prior of 1e-320 (its inverse is Infinity) and a floor of 1e-320 with all-zero posteriors.
    const odd = new LabelSmoother(3, { kind: 'hmm', prior: [1e-320, 1, 1], floor: 1e-320 });
    for (const p of [[0, 1, 0], [0, 0, 0], [0, 0, 1]]) {
      odd.push(p);
      expect(Number.isFinite(odd.confidence)).toBe(true);
    }
  });

  it('refuses an hmm state that is not a distribution and a none state with a label out of range (both were taken)', () => {
    const hmm = new LabelSmoother(3, { kind: 'hmm' });
    hmm.push([0.2, 0.7, 0.1]);
    const before = hmm.exportState();
    for (const values of [[-1, 2, 0], [0.5, 0.2, 0.1], [0, 0, 0]]) {
      expect(caughtEdgeRnnError(() => hmm.importState({ ...before, values })).message).toMatch(/α must be probabilities >= 0 summing to 1/);
    }
    expect(hmm.exportState()).toEqual(before);
    const none = new LabelSmoother(3, { kind: 'none' });
    for (const values of [[7, 0.9], [1.5, 0.9], [-1, 0.9], [1, -0.5]]) {
      expect(caughtEdgeRnnError(() => none.importState({ kind: 'none', steps: 4, head: 0, values })).code).toBe('GATEWAY_STATE');
    }
    none.importState({ kind: 'none', steps: 0, head: 0, values: [-1, 0] }); // a fresh smoother's state
    expect(none.label).toBe(-1);
  });
});

describe('LabelSmoother saved states that contradict themselves', () => {
  it("refuses a majority ring whose head is not steps mod window, and a fresh 'none' state holding a label (both were taken)", () => {
    const maj = new LabelSmoother(3, { kind: 'majority', window: 4 });
    for (const p of [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]]) maj.push(p);
    const before = maj.exportState();
    const e = caughtEdgeRnnError(() => maj.importState({ ...before, head: 1 }));
    expect(e.code).toBe('GATEWAY_STATE');
    expect(e.message).toMatch(/head must be 3 \(steps 3 mod window 4\), got 1/);
    expect(maj.exportState()).toEqual(before);
    const none = new LabelSmoother(3, { kind: 'none' });
    expect(caughtEdgeRnnError(() => none.importState({ kind: 'none', steps: 0, head: 0, values: [2, 0.5] })).message).toMatch(/a fresh state \(steps 0\) must hold \[-1, 0\]/);
  });
});

describe('majority over logits (2026-11-27 review)', () => {
  it('votes for the largest logit, negative ones included; NaN and all-zero windows still carry no vote', () => {
    // The gateway allows "majority" on a model without softmax: a window of negative logits
    // carried no vote, so such a stream never got a label (-1 for good).
    const sm = new LabelSmoother(3, { kind: 'majority', window: 3 });
    expect(sm.push([-1, -3, -0.5])).toBe(2);
    expect(sm.push([-2, -0.1, -4])).toBe(1);
    expect(sm.push([-2, -0.1, -4])).toBe(1);
    expect(sm.confidence).toBeCloseTo(2 / 3, 12);
    expect(sm.push([NaN, NaN, NaN])).toBe(1);
    expect(sm.push([0, 0, 0])).toBe(1);
    expect(sm.count).toBe(3);
    expect(sm.push([NaN, -5, -7])).toBe(1); // -5 wins over -7: its vote
    expect(sm.push([NaN, -9, -7])).toBe(1); // votes 1, 1, 2: still 1
    expect(sm.push([3, -9, NaN])).toBe(0); // votes 1, 2, 0: all tied, the most recent wins
  });
});

describe('hmm on a window without evidence (2026-11-27 review)', () => {
  it('an all-zero or all-NaN window is a flat emission with a prior too: the label stays', () => {
    // It was floored and divided by the prior: one failed step moved the label to a rare class.
    for (const empty of [[0, 0, 0], [NaN, NaN, NaN]]) {
      const sm = new LabelSmoother(3, { kind: 'hmm', prior: [0.8, 0.1, 0.1] });
      expect(sm.push([0.9, 0.05, 0.05])).toBe(0);
      const labels = [1, 2, 3, 4].map(() => sm.push(empty));
      expect(labels).toEqual([0, 0, 0, 0]);
      // The transition alone: α(0) decays towards uniform, never below it.
      expect(sm.confidence).toBeGreaterThan(1 / 3);
    }
  });
});
