/** Detectors: hysteresis, forecast error, posterior smoothing, state round trip, config errors. */
import { describe, expect, it } from 'vitest';
import { createSmoothingDetector, createThresholdDetector, type Detector, type DetectorContext } from '../../src/gateway/detectors.js';
import { JOB_DETECTORS } from '../../src/gateway/job-detectors.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { errorMessage } from '../helpers/errors.js';

const ctx = (o: Partial<DetectorContext> = {}): DetectorContext => ({ labels: ['bg', 'yes', 'no'], outputSize: 3, inputSize: 2, path: 'routes[0].detector', ...o });
const run = (d: Detector, rows: number[][], input: number[][] = []) => rows.map((r, t) => d.step(Float32Array.from(r), Float32Array.from(input[t] ?? [0, 0])));

describe('threshold detector', () => {
  it('fires after minSteps at or above on, once, and re-arms only below off', () => {
    const d = createThresholdDetector({ kind: 'threshold', output: 'yes', score: 'output', on: 0.8, off: 0.4, minSteps: 2, refractorySteps: 0 }, ctx());
    const s = [0.9, 0.5, 0.85, 0.9, 0.95, 0.6, 0.5, 0.3, 0.8, 0.8];
    const evs = run(d, s.map((x) => [0, x, 0]));
    expect(evs.map((e) => (e ? e.score : null))).toEqual([null, null, null, Math.fround(0.9), null, null, null, null, null, Math.fround(0.8)]);
    expect(evs[3]!.label).toBe('yes');
  });

  it('respects the refractory period', () => {
    const d = createThresholdDetector({ kind: 'threshold', output: 1, score: 'output', on: 0.5, off: 0.5, minSteps: 1, refractorySteps: 3 }, ctx());
    const evs = run(d, [1, 0, 1, 0, 1, 0, 1].map((x) => [0, x, 0]));
    expect(evs.map((e) => e !== null)).toEqual([true, false, false, false, true, false, false]);
  });

  it('blocks all refractorySteps steps after an alert (it blocked one fewer)', () => {
    const d = createThresholdDetector({ kind: 'threshold', output: 1, score: 'output', on: 0.5, off: 0.5, minSteps: 1, refractorySteps: 3 }, ctx());
    // Alert at 0; steps 1-3 are the refractory period, re-armed at step 1: the next alert at 4, not 3.
    const evs = run(d, [1, 0, 1, 1, 1, 0].map((x) => [0, x, 0]));
    expect(evs.map((e) => e !== null)).toEqual([true, false, false, false, true, false]);
  });

  it('scores a forecast model by |prediction(t-1) - input(t)|', () => {
    const d = createThresholdDetector({ kind: 'threshold', output: 0, score: 'forecastError', on: 1, off: 1, minSteps: 1, refractorySteps: 0 }, ctx({ outputSize: 2, labels: [] }));
    const evs = run(d, [[1, 1], [2, 2], [3, 3]], [[0, 0], [1, 1.5], [4, 4]]);
    expect(evs[0]).toBeNull();
    expect(evs[1]).toBeNull(); // |1-1| + |1-1.5| = 0.5, mean 0.25
    expect(evs[2]).toEqual({ label: 'anomaly', score: 2 }); // |2-4| + |2-4| = 4, mean 2
  });

  it('continues exactly after exportState/importState (JSON round trip)', () => {
    const cfg = { kind: 'threshold', output: 'yes', score: 'output', on: 0.7, off: 0.3, minSteps: 3, refractorySteps: 5 } as const;
    const rows = Array.from({ length: 40 }, (_, t) => [0, 0.5 + 0.5 * Math.sin(t / 2), 0]);
    const whole = run(createThresholdDetector(cfg, ctx()), rows);
    const a = createThresholdDetector(cfg, ctx());
    const first = run(a, rows.slice(0, 17));
    const b = createThresholdDetector(cfg, ctx());
    b.importState(JSON.parse(JSON.stringify(a.exportState())));
    expect([...first, ...run(b, rows.slice(17))]).toEqual(whole);
  });

  it('names a bad output in the config', () => {
    const bad = (o: Record<string, unknown>, c = ctx()) =>
      errorMessage(() => createThresholdDetector({ kind: 'threshold', output: 0, score: 'output', on: 0.5, off: 0.5, minSteps: 1, refractorySteps: 0, ...o } as never, c), 'GATEWAY_CONFIG');
    expect(bad({ output: 'maybe' })).toMatch(/routes\[0\].detector.output must be one of the model's labels \(bg, yes, no\), got "maybe"/);
    expect(bad({ output: 7 })).toMatch(/routes\[0\].detector.output must be an output index in \[0, 2\], got 7/);
    expect(bad({ score: 'forecastError' })).toMatch(/routes\[0\].detector.score must be "output" for this model/);
  });

  // `edgernn gateway --threshold 2` on a classifier was accepted and never fired.
  it('refuses a threshold the model\'s last layer cannot reach (softmax, logSoftmax, sigmoid/tanh dense)', () => {
    const head = (last: ModelSpec['layers'][number]) => ({ layers: [last] }) as unknown as ModelSpec;
    const dense = (activation: 'sigmoid' | 'tanh' | 'none') => head({ kind: 'dense', inputSize: 4, outputSize: 3, activation });
    const on = (value: number, spec: ModelSpec) =>
      errorMessage(() => createThresholdDetector({ kind: 'threshold', output: 0, score: 'output', on: value, off: value, minSteps: 1, refractorySteps: 0 }, ctx({ spec })), 'GATEWAY_CONFIG');
    expect(on(2, head({ kind: 'softmax', size: 3 }))).toBe('routes[0].detector.on must be at most 1 (the model ends in softmax: its outputs lie in [0, 1]), got 2');
    expect(on(0.5, head({ kind: 'logSoftmax', size: 3 }))).toMatch(/on must be at most 0 \(the model ends in logSoftmax/);
    expect(on(1.5, dense('sigmoid'))).toMatch(/on must be at most 1 \(the model ends in a sigmoid dense layer/);
    expect(on(1.01, dense('tanh'))).toMatch(/on must be at most 1 \(the model ends in a tanh dense layer/);
    // Reachable thresholds, and unbounded outputs, are accepted.
    expect(on(1, head({ kind: 'softmax', size: 3 }))).toBe('no error');
    expect(on(-2, head({ kind: 'logSoftmax', size: 3 }))).toBe('no error');
    expect(on(50, dense('none'))).toBe('no error');
  });

  it('shows a NaN output index as NaN (JSON said null)', () => {
    expect(errorMessage(() => createThresholdDetector({ kind: 'threshold', output: NaN, score: 'output', on: 0.5, off: 0.5, minSteps: 1, refractorySteps: 0 } as never, ctx()), 'GATEWAY_CONFIG')).toBe('routes[0].detector.output must be an output index in [0, 2], got NaN');
  });
});

describe('smoothing detector', () => {
  it('averages posteriors over the window, ignores background, fires once per refractory period', () => {
    const d = createSmoothingDetector({ kind: 'smoothing', window: 3, threshold: 0.6, background: ['bg'], refractorySteps: 4 }, ctx());
    const rows = [
      [1, 0, 0],
      [0.2, 0.8, 0],
      [0.1, 0.9, 0],
      [0.1, 0.9, 0], // mean of yes over 3 steps = (0.8+0.9+0.9)/3 = 0.867 -> fires
      [0, 1, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0, 0, 1],
      [0, 0, 1], // refractory over; no = 1.0 over the last 3 -> fires
    ];
    const evs = run(d, rows);
    const fired = evs.map((e, t) => (e ? `${t}:${e.label}` : '')).filter(Boolean);
    // Step 2: mean(yes) over [1, 0.2.., ] = (0 + 0.8 + 0.9) / 3 = 0.567 < 0.6.
    expect(fired).toEqual(['3:yes', '8:no']);
    expect(evs[3]!.score).toBeCloseTo((0.8 + 0.9 + 0.9) / 3, 6);
  });

  it('continues exactly after a state round trip', () => {
    const cfg = { kind: 'smoothing', window: 5, threshold: 0.55, background: [0], refractorySteps: 3 } as const;
    const rows = Array.from({ length: 60 }, (_, t) => [0.3, 0.35 + 0.3 * Math.sin(t / 3), 0.35 - 0.3 * Math.sin(t / 3)]);
    const whole = run(createSmoothingDetector(cfg, ctx()), rows);
    const a = createSmoothingDetector(cfg, ctx());
    const first = run(a, rows.slice(0, 23));
    const b = createSmoothingDetector(cfg, ctx());
    b.importState(JSON.parse(JSON.stringify(a.exportState())));
    expect([...first, ...run(b, rows.slice(23))]).toEqual(whole);
    expect(whole.filter(Boolean).length).toBeGreaterThan(2);
  });

  it('refuses states that do not fit (GATEWAY_STATE), for both detectors, and keeps working', () => {
    const th = createThresholdDetector({ kind: 'threshold', output: 'yes', score: 'output', on: 0.7, off: 0.3, minSteps: 1, refractorySteps: 0 }, ctx());
    const sm = createSmoothingDetector({ kind: 'smoothing', window: 3, threshold: 0.5, background: [0], refractorySteps: 0 }, ctx());
    const good = [th.exportState(), sm.exportState()] as Record<string, unknown>[];
    const cases: [Detector, unknown, RegExp][] = [
      [th, null, /threshold/],
      [th, { ...good[0], prev: [0, 0] }, /expected 3 previous outputs/],
      [th, { ...good[0], prev: [0, 'x', 0] }, /finite numbers/],
      [sm, 7, /smoothing/],
      [sm, { ...good[1], ring: [1, 2] }, /expected a ring of 9 values and 3 sums/],
      [sm, { ...good[1], sum: [0, null, 0] }, /finite numbers/],
    ];
    for (const [d, state, message] of cases) expect(errorMessage(() => d.importState(state), 'GATEWAY_STATE')).toMatch(message);
    expect(run(th, [[0, 0.9, 0]])[0]).toEqual({ label: 'yes', score: Math.fround(0.9) });
  });

  it('refuses a state whose head or count lies outside the ring (head -1 gave smoothed posteriors of 4/3)', () => {
    const sm = createSmoothingDetector({ kind: 'smoothing', window: 3, threshold: 0.5, background: [0], refractorySteps: 0 }, ctx());
    const good = sm.exportState() as Record<string, unknown>;
    for (const bad of [{ head: -1 }, { head: 2.5 }, { head: 3 }, { count: -2 }, { count: 4 }, { head: '1' }]) {
      expect(errorMessage(() => sm.importState({ ...good, ...bad }), 'GATEWAY_STATE')).toMatch(/head must be an integer in \[0, 2\] and count in \[0, 3\]/);
    }
    const evs = run(sm, [1, 1, 1, 1].map((x) => [0, x, 0]));
    expect(evs.map((e) => e?.score)).toEqual([1, 1, 1, 1]);
    expect(sm.lastScore).toBe(1);
  });

  it('refuses a background that covers every output', () => {
    expect(() => createSmoothingDetector({ kind: 'smoothing', window: 3, threshold: 0.5, background: [0, 1, 2], refractorySteps: 0 }, ctx())).toThrow(/background must be fewer than all 3 outputs/);
  });
});

describe('job detectors on models whose outputs are not probabilities', () => {
  const spec = (last: Record<string, unknown>) => ({ name: 'toy', labels: ['walk', 'run', 'sit'], layers: [{ kind: 'gru' }, last] }) as unknown as ModelSpec;
  const hctx = (last: Record<string, unknown>): DetectorContext => ({ labels: ['walk', 'run', 'sit'], outputSize: 3, inputSize: 6, path: 'routes[0].detector', spec: spec(last) });

  it('refuses har with hmm or none smoothing on logits (it announced "confidences" above 1), accepts majority, softmax and sigmoid', () => {
    const logits = { kind: 'dense', activation: 'none' };
    expect(errorMessage(() => JOB_DETECTORS.har!({ kind: 'har' }, hctx(logits)), 'GATEWAY_CONFIG')).toBe(
      `routes[0].detector.kind must be a detector for this model: "har" with smoothing "hmm" or "none" reads class posteriors, and model 'toy' ends in a dense layer with activation "none" (logits, not probabilities); end the model in softmax, or use "threshold", got "har"`,
    );
    expect(errorMessage(() => JOB_DETECTORS.har!({ kind: 'har', smoothing: 'none' }, hctx({ kind: 'logSoftmax', size: 3 })), 'GATEWAY_CONFIG')).toMatch(/ends in a logSoftmax layer \(log-probabilities\)/);
    // A wrong field is still named first.
    expect(errorMessage(() => JOB_DETECTORS.har!({ kind: 'har', smoothing: 'median' }, hctx(logits)), 'GATEWAY_CONFIG')).toMatch(/smoothing must be one of none, majority, hmm, got "median"/);
    const d = JOB_DETECTORS.har!({ kind: 'har', smoothing: 'majority' }, hctx(logits));
    expect(d.step(Float32Array.of(7.3, 0.1, -2), new Float32Array(6))).toMatchObject({ label: 'walk', score: 1 });
    expect(() => JOB_DETECTORS.har!({ kind: 'har' }, hctx({ kind: 'softmax', size: 3 }))).not.toThrow();
    expect(() => JOB_DETECTORS.har!({ kind: 'har' }, hctx({ kind: 'dense', activation: 'sigmoid' }))).not.toThrow();
  });

  it('refuses smoothing on logits and a threshold posteriors cannot reach: it fired at random, or never, silently', () => {
    const sm = (threshold: number) => ({ kind: 'smoothing', window: 3, threshold, background: ['sit'], refractorySteps: 0 }) as const;
    expect(errorMessage(() => createSmoothingDetector(sm(0.8), hctx({ kind: 'dense', activation: 'none' })), 'GATEWAY_CONFIG')).toBe(
      `routes[0].detector.kind must be a detector for this model: "smoothing" averages class posteriors (in [0, 1]), and model 'toy' ends in a dense layer with activation "none" (logits, not probabilities); end the model in softmax, or use "threshold", got "smoothing"`,
    );
    expect(errorMessage(() => createSmoothingDetector(sm(0.8), hctx({ kind: 'logSoftmax', size: 3 })), 'GATEWAY_CONFIG')).toMatch(/ends in logSoftmax;/);
    for (const t of [1.5, 0, -1]) {
      expect(errorMessage(() => createSmoothingDetector(sm(t), hctx({ kind: 'softmax', size: 3 })), 'GATEWAY_CONFIG')).toBe(`routes[0].detector.threshold must be in (0, 1] (the model ends in softmax: the mean of its posteriors lies in [0, 1]), got ${t}`);
    }
    expect(() => createSmoothingDetector(sm(1), hctx({ kind: 'softmax', size: 3 }))).not.toThrow();
    expect(() => createSmoothingDetector(sm(0.8), hctx({ kind: 'dense', activation: 'sigmoid' }))).not.toThrow();
    // Without a spec (a factory called directly), nothing is known: as before.
    expect(() => createSmoothingDetector({ ...sm(7), background: ['bg'] }, ctx())).not.toThrow();
  });
});
