/**
 * Models users train themselves (`edgernn train` on a CSV) on the gateway: the forecast error
 * honours the horizon and target columns the trainer records (extra.data), a kws route on a model
 * without keyword settings says what to do, and front end `none` serves a classifier's windows.
 */
import { describe, expect, it } from 'vitest';
import { createThresholdDetector, type Detector, type DetectorContext } from '../../src/gateway/detectors.js';
import { createNoneFrontEnd, FRAME_DETECT, FRAME_RESET } from '../../src/gateway/frontend.js';
import { JOB_DETECTORS } from '../../src/gateway/job-detectors.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { errorMessage } from '../helpers/errors.js';

/** A forecaster as `edgernn train --task forecast` on a CSV records it. */
function forecaster(inputs: string[], outputs: number, data: Record<string, unknown>): DetectorContext {
  const spec = { name: 'mine', labels: [], input: { size: inputs.length, names: inputs, frontend: { kind: 'none' } }, layers: [{ kind: 'gru' }, { kind: 'dense', activation: 'none' }], extra: { data } } as unknown as ModelSpec;
  return { labels: [], outputSize: outputs, inputSize: inputs.length, path: 'routes[0].detector', spec };
}
const cfg = { kind: 'threshold', output: 0, score: 'forecastError', on: 0.5, off: 0.5, minSteps: 1, refractorySteps: 0 } as const;
const scores = (d: Detector, outputs: number[][], inputs: number[][]): number[] =>
  outputs.map((o, t) => {
    d.step(Float32Array.from(o), Float32Array.from(inputs[t]!));
    return d.lastScore;
  });

describe('forecastError on a model trained with --horizon and --target-columns', () => {
  // Columns a, b, c; c(t) = t² (a and b are noise): a perfect forecaster of c three rows ahead.
  const T = 12;
  const inputs = Array.from({ length: T }, (_, t) => [Math.sin(t), Math.cos(3 * t), t * t]);

  it('compares the prediction made `horizon` frames ago with the target columns of this frame', () => {
    const ctx = forecaster(['a', 'b', 'c'], 1, { seqLen: 32, horizon: 3, columns: ['a', 'b', 'c'], targetColumns: ['c'] });
    // It was refused ('forecastError' needs 3 outputs), or with targets as wide as the inputs scored the next frame.
    const perfect = Array.from({ length: T }, (_, t) => [(t + 3) * (t + 3)]);
    expect(scores(createThresholdDetector(cfg, ctx), perfect, inputs)).toEqual(new Array(T).fill(0));
    // Off by 2 on every prediction: the error from the fourth frame on, when the first prediction is due.
    const off = perfect.map(([v]) => [v! + 2]);
    expect(scores(createThresholdDetector(cfg, ctx), off, inputs)).toEqual([0, 0, 0, ...new Array(T - 3).fill(2)]);
  });

  it('honours the horizon when the targets are the inputs, and their order', () => {
    const ctx = forecaster(['a', 'c'], 2, { horizon: 2, columns: ['a', 'c'] });
    const two = inputs.map(([a, , c]) => [a!, c!]);
    const perfect = two.map((_, t) => two[t + 2] ?? [0, 0]);
    // Scored as next-frame predictions, a perfect 2-ahead forecaster had errors of about t.
    expect(scores(createThresholdDetector(cfg, ctx), perfect, two).slice(0, T - 2)).toEqual(new Array(T - 2).fill(0));
    // Targets in another order than the inputs (c, a): output 0 predicts c.
    const swapped = forecaster(['a', 'c'], 2, { columns: ['a', 'c'], targetColumns: ['c', 'a'] });
    const next = two.map((_, t) => [two[t + 1]?.[1] ?? 0, two[t + 1]?.[0] ?? 0]);
    expect(scores(createThresholdDetector(cfg, swapped), next, two).slice(0, T - 1).every((s) => Math.abs(s) < 1e-6)).toBe(true);
  });

  it('continues exactly after a state round trip with a horizon', () => {
    const ctx = forecaster(['a', 'b', 'c'], 1, { horizon: 3, columns: ['a', 'b', 'c'], targetColumns: ['c'] });
    const outs = inputs.map(([a]) => [10 * a!]);
    const whole = scores(createThresholdDetector(cfg, ctx), outs, inputs);
    const first = createThresholdDetector(cfg, ctx);
    const head = scores(first, outs.slice(0, 5), inputs.slice(0, 5));
    const second = createThresholdDetector(cfg, ctx);
    second.importState(JSON.parse(JSON.stringify(first.exportState())));
    expect([...head, ...scores(second, outs.slice(5), inputs.slice(5))]).toEqual(whole);
  });

  it('refuses, naming the column, target columns the gateway does not see', () => {
    const ctx = forecaster(['a', 'b'], 1, { columns: ['a', 'b'], targetColumns: ['load'] });
    expect(errorMessage(() => createThresholdDetector(cfg, ctx), 'GATEWAY_CONFIG')).toMatch(/routes\[0\]\.detector\.score must be "output" for this model \('forecastError' needs outputs that predict the next input: it forecasts column 'load', not one of its inputs a, b \(the gateway sees only the inputs\)\), got "forecastError"/);
    const windowed = forecaster(['a', 'b'], 2, { columns: ['a', 'b'] });
    (windowed.spec!.input as { frontend: unknown }).frontend = { kind: 'none', windows: { frames: 8, hop: 4 } };
    expect(errorMessage(() => createThresholdDetector(cfg, windowed), 'GATEWAY_CONFIG')).toMatch(/its front end serves windows, and the detector sees only the last output of each/);
    const bad = forecaster(['a', 'b'], 2, { columns: ['a', 'b'], horizon: 0 });
    expect(errorMessage(() => createThresholdDetector(cfg, bad), 'GATEWAY_CONFIG')).toMatch(/model 'mine' records extra\.data\.horizon = 0, expected an integer in \[1, 100000\]/);
  });
});

describe('kws route on a model without keyword settings', () => {
  it('says the model has no keyword settings and what to do (it blamed kwsDetectorFactory)', () => {
    const spec = { name: 'mine', labels: ['_silence', 'yes'], input: { size: 2, frontend: { kind: 'none' } }, layers: [{ kind: 'softmax', size: 2 }] } as unknown as ModelSpec;
    const ctx: DetectorContext = { labels: ['_silence', 'yes'], outputSize: 2, inputSize: 2, path: 'routes[0].detector', spec };
    const message = errorMessage(() => JOB_DETECTORS.kws!({ kind: 'kws' }, ctx), 'GATEWAY_CONFIG');
    expect(message).not.toMatch(/kwsDetectorFactory/);
    expect(message).toMatch(/model 'mine' has no keyword settings \(extra\.kws, written by edgernn train-kws\)/);
    expect(message).toMatch(/"smoothing"/);
  });
});

describe('front end "none" with sliding windows (a classifier trained on CSV windows)', () => {
  it('gives a window of `frames` samples every `hop`, reset before its first frame, detected on its last', () => {
    const fe = createNoneFrontEnd({ kind: 'none', windows: { frames: 3, hop: 2 } }, { inputSize: 2, rateHz: undefined, channels: 0, path: 'routes[0]' });
    expect(fe.framesPerWindow).toBe(3);
    expect(fe.hopSamples).toBe(2);
    const got: [number[], number][] = [];
    const samples = Float32Array.from({ length: 14 }, (_, i) => i); // 7 samples of 2 values: sample t is [2t, 2t+1]
    fe.push(samples, 7, (frame, _i, flags) => got.push([Array.from(frame), flags]));
    // Windows end at samples 2, 4, 6: [0,1,2], [2,3,4], [4,5,6].
    const first = (t: number) => [2 * t, 2 * t + 1];
    expect(got).toEqual([0, 1, 2, 2, 3, 4, 4, 5, 6].map((t, k) => [first(t), (k % 3 === 0 ? FRAME_RESET : 0) | (k % 3 === 2 ? FRAME_DETECT : 0)]));
    // Exported mid-window, a stream continues exactly.
    const a = createNoneFrontEnd({ kind: 'none', windows: { frames: 3, hop: 2 } }, { inputSize: 2, rateHz: undefined, channels: 0, path: 'routes[0]' });
    a.push(samples, 4, () => {});
    const b = createNoneFrontEnd({ kind: 'none', windows: { frames: 3, hop: 2 } }, { inputSize: 2, rateHz: undefined, channels: 0, path: 'routes[0]' });
    b.importState(a.exportState());
    const rest: number[][] = [];
    b.push(samples.subarray(8), 3, (frame) => rest.push(Array.from(frame)));
    expect(rest).toEqual(got.slice(3).map(([f]) => f));
  });
});
