/**
 * The gateway-facing HAR detector: config validation against the model, one event per announced
 * change of activity, minSteps / minConfidence / background, state hand-off.
 */
import { describe, expect, it } from 'vitest';
import { EdgeRnnError, Rng } from '../../../src/index.js';
import { createHarDetector, HAR_DETECTORS, LabelSmoother } from '../../../src/detectors/har/index.js';
import type { DetectorContext } from '../../../src/gateway/detectors.js';
import { caughtEdgeRnnError as err } from '../../helpers/errors.js';

const LABELS = ['sit', 'stand', 'walk', 'idle'];
const ctx: DetectorContext = { labels: LABELS, outputSize: 4, inputSize: 3, path: 'routes[0].detector' };
const p = (j: number, top = 0.85): Float32Array => Float32Array.from(LABELS, (_, k) => (k === j ? top : (1 - top) / 3));
const none = new Float32Array(3);

describe('har detector', () => {
  it('registers under "har"', () => {
    expect(HAR_DETECTORS.har).toBe(createHarDetector);
  });

  it('fires once per change of the announced activity (unsmoothed)', () => {
    const d = createHarDetector({ kind: 'har', smoothing: 'none' }, ctx);
    const seq = [0, 0, 0, 2, 2, 1, 1, 1];
    const events = seq.map((j) => d.step(p(j), none));
    expect(events.map((e) => e?.label ?? null)).toEqual(['sit', null, null, 'walk', null, 'stand', null, null]);
    expect(events[0]!.score).toBeCloseTo(0.85, 6);
    expect(d.lastScore).toBeCloseTo(0.85, 6);
  });

  it('events follow the smoother: what a LabelSmoother announces, in order', () => {
    const rng = new Rng(5);
    const seq: Float32Array[] = [];
    for (let s = 0; s < 20; s++) {
      const j = rng.int(0, 3);
      for (let t = 0; t < rng.int(3, 12); t++) seq.push(rng.next() < 0.75 ? p(j) : p(rng.int(0, 3)));
    }
    const d = createHarDetector({ kind: 'har', smoothing: 'hmm', stay: 0.85 }, ctx);
    const sm = new LabelSmoother(4, { kind: 'hmm', stay: 0.85 });
    let last = -1;
    for (const x of seq) {
      const ev = d.step(x, none);
      const l = sm.push(x);
      if (l !== last) {
        expect(ev).toEqual({ label: LABELS[l], score: sm.confidence });
        last = l;
      } else {
        expect(ev).toBeNull();
      }
    }
  });

  it('minSteps waits for a change to persist; minConfidence holds back weak ones; background is silent', () => {
    const d = createHarDetector({ kind: 'har', smoothing: 'none', minSteps: 3 }, ctx);
    const out = [0, 0, 0, 1, 0, 1, 1, 1, 1].map((j) => d.step(p(j), none)?.label ?? null);
    expect(out).toEqual([null, null, 'sit', null, null, null, null, 'stand', null]);
    const c = createHarDetector({ kind: 'har', smoothing: 'none', minConfidence: 0.6 }, ctx);
    expect(c.step(p(0, 0.5), none)).toBeNull();
    expect(c.step(p(0, 0.7), none)?.label).toBe('sit');
    const b = createHarDetector({ kind: 'har', smoothing: 'none', background: ['idle'] }, ctx);
    expect([2, 3, 3, 2].map((j) => b.step(p(j), none)?.label ?? null)).toEqual(['walk', null, null, 'walk']);
  });

  it('minSteps counts only windows at or above minConfidence, consecutive (weak windows counted toward it)', () => {
    const d = createHarDetector({ kind: 'har', smoothing: 'none', minSteps: 3, minConfidence: 0.6 }, ctx);
    // 'stand' at 0.5, 0.5, then 0.7: one confident window, not three.
    const tops = [0.5, 0.5, 0.7, 0.7, 0.5, 0.7, 0.7, 0.7];
    expect(tops.map((t) => d.step(p(1, t), none)?.label ?? null)).toEqual([null, null, null, null, null, null, null, 'stand']);
  });

  it('a NaN posterior or an all-zero output (a failed step) announces nothing (it announced label 0, score NaN)', () => {
    for (const smoothing of ['none', 'majority'] as const) {
      const d = createHarDetector({ kind: 'har', smoothing, window: 1 }, ctx);
      expect(d.step(p(2), none)?.label).toBe('walk');
      expect(d.step(Float32Array.of(NaN, 0.05, 0.9, 0.05), none)).toBeNull();
      expect(d.step(new Float32Array(4), none)).toBeNull();
      expect(d.step(Float32Array.of(NaN, 0.8, 0.1, 0.1), none)).toEqual({ label: 'stand', score: smoothing === 'none' ? Math.fround(0.8) : 1 });
    }
  });

  it('exportState/importState through JSON continue the event stream exactly', () => {
    const rng = new Rng(9);
    const seq = Array.from({ length: 80 }, () => p(rng.int(0, 3), rng.uniform(0.4, 0.9)));
    const cfg = { kind: 'har', smoothing: 'majority', window: 5, minSteps: 2 };
    const whole = createHarDetector(cfg, ctx);
    const expected = seq.map((x) => whole.step(x, none));
    const a = createHarDetector(cfg, ctx);
    const first = seq.slice(0, 37).map((x) => a.step(x, none));
    const b = createHarDetector(cfg, ctx);
    b.importState(JSON.parse(JSON.stringify(a.exportState())));
    expect([...first, ...seq.slice(37).map((x) => b.step(x, none))]).toEqual(expected);
    b.reset();
    expect(seq.map((x) => b.step(x, none))).toEqual(expected);
  });

  it('refuses null fields (they silently meant the default) and shows NaN as NaN (it said null)', () => {
    const cases: Array<[string, unknown, string]> = [
      ['smoothing', null, 'routes[0].detector.smoothing must be one of none, majority, hmm, got null'],
      ['window', null, 'routes[0].detector.window must be a number, got null'],
      ['stay', null, 'routes[0].detector.stay must be a number, got null'],
      ['minSteps', null, 'routes[0].detector.minSteps must be a number, got null'],
      ['minConfidence', null, 'routes[0].detector.minConfidence must be a number, got null'],
      ['background', null, "routes[0].detector.background must be a list of the model's labels (sit, stand, walk, idle), got null"],
      ['temperature', NaN, 'routes[0].detector.temperature must be a number, got NaN'],
      ['prior', [NaN, 1, 1, 1], 'routes[0].detector.prior must be 4 positive numbers (one per class), got [NaN,1,1,1]'],
    ];
    for (const [field, value, message] of cases) {
      const e = err(() => createHarDetector({ kind: 'har', [field]: value }, ctx));
      expect(e.code, field).toBe('GATEWAY_CONFIG');
      expect(e.message, field).toBe(message);
    }
  });

  it('config errors name the field, what was expected and what was found', () => {
    expect(err(() => createHarDetector({ kind: 'har', smoothin: 'hmm' }, ctx)).message).toMatch(/routes\[0\]\.detector\.smoothin must be absent/);
    const e = err(() => createHarDetector({ kind: 'har', smoothing: 'median' }, ctx));
    expect(e.code).toBe('GATEWAY_CONFIG');
    expect(e.message).toMatch(/routes\[0\]\.detector\.smoothing must be one of none, majority, hmm, got "median"/);
    expect(err(() => createHarDetector({ kind: 'har', minSteps: 0 }, ctx)).message).toMatch(/minSteps must be an integer in \[1, 100000\], got 0/);
    expect(err(() => createHarDetector({ kind: 'har', minConfidence: 2 }, ctx)).message).toMatch(/minConfidence/);
    expect(err(() => createHarDetector({ kind: 'har', background: ['run'] }, ctx)).message).toMatch(/background must be a list of the model's labels \(sit, stand, walk, idle\), got \["run"\]/);
    expect(err(() => createHarDetector({ kind: 'har', stay: 0.1 }, ctx)).message).toMatch(/routes\[0\]\.detector\.stay must be a number in \[1\/4, 1\), got 0.1/);
    expect(err(() => createHarDetector({ kind: 'har', window: 'x' }, ctx)).message).toMatch(/window must be a number, got "x"/);
    expect(err(() => createHarDetector({ kind: 'har', prior: [1] }, ctx)).message).toMatch(/prior must be 4 positive numbers/);
    expect(err(() => createHarDetector({ kind: 'har' }, { ...ctx, outputSize: 1, labels: ['x'] })).message).toMatch(/needs at least 2 outputs, this model has 1/);
    const d = createHarDetector({ kind: 'har' }, ctx);
    expect(err(() => d.importState({ announced: 9, pending: -1, pendingSteps: 0, smoother: {} })).code).toBe('GATEWAY_STATE');
    expect(err(() => d.importState({ announced: 1, pending: -1, pendingSteps: 0, smoother: { kind: 'none' } })).code).toBe('GATEWAY_STATE');
  });
});

describe('har detector saved states', () => {
  it('export/import at every cut point continues exactly, for every smoothing and minSteps', () => {
    const rng = new Rng(21);
    let mode = 0;
    const seq = Array.from({ length: 90 }, () => {
      if (rng.uniform(0, 1) < 0.15) mode = rng.int(0, 3);
      return p(mode, rng.uniform(0.3, 0.95));
    });
    for (const smoothing of ['none', 'majority', 'hmm']) {
      for (const minSteps of [1, 3]) {
        const cfg = { kind: 'har', smoothing, window: 3, minSteps, minConfidence: 0.4 };
        const whole = createHarDetector(cfg, ctx);
        const expected = seq.map((x) => [whole.step(x, none), whole.lastScore]);
        for (let cut = 0; cut <= seq.length; cut += 5) {
          const a = createHarDetector(cfg, ctx);
          const first = seq.slice(0, cut).map((x) => [a.step(x, none), a.lastScore]);
          const b = createHarDetector(cfg, ctx);
          b.importState(JSON.parse(JSON.stringify(a.exportState())));
          expect(b.lastScore).toBe(a.lastScore);
          expect([...first, ...seq.slice(cut).map((x) => [b.step(x, none), b.lastScore])]).toEqual(expected);
        }
      }
    }
  });

  it('refuses a state whose pending run contradicts itself or this minSteps, naming the field (it announced at once)', () => {
    const d = createHarDetector({ kind: 'har', smoothing: 'none', minSteps: 3 }, ctx);
    d.step(p(0), none);
    d.step(p(0), none);
    d.step(p(0), none); // announced sit
    d.step(p(2), none); // walk pending, 1 of 3
    const good = d.exportState() as Record<string, unknown>;
    const before = JSON.stringify(good);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ pendingSteps: 3 }, /pendingSteps must be an integer in \[1, 2\] \(below minSteps 3\) while a label is pending, got 3/],
      [{ pending: -1, pendingSteps: 1 }, /pendingSteps must be 0 when no label is pending \(pending -1\), got 1/],
      [{ pending: 0 }, /pending must be a label other than announced \(0\), got 0/],
      [{ pending: 7 }, /pending must be an integer in \[-1, 4\), got 7/],
      [{ announced: 'sit' }, /announced must be an integer in \[-1, 4\), got "sit"/],
    ];
    for (const [patch, re] of cases) {
      const e = err(() => d.importState({ ...good, ...patch }));
      expect(e.code).toBe('GATEWAY_STATE');
      expect(e.message).toMatch(re);
      expect(JSON.stringify(d.exportState())).toBe(before);
    }
    // A state from a detector with minSteps 5 (a run of 4 pending) does not fit one with minSteps 3.
    const five = createHarDetector({ kind: 'har', smoothing: 'none', minSteps: 5 }, ctx);
    for (const j of [0, 0, 0, 0, 0, 2, 2, 2, 2]) five.step(p(j), none);
    expect(err(() => d.importState(five.exportState())).message).toMatch(/pendingSteps must be an integer in \[1, 2\] \(below minSteps 3\) while a label is pending, got 4/);
    const one = createHarDetector({ kind: 'har', smoothing: 'none', minSteps: 1 }, ctx);
    expect(err(() => one.importState(d.exportState())).message).toMatch(/pending must be -1 \(with minSteps 1 a change is announced at once, nothing stays pending\), got 2/);
  });
});
