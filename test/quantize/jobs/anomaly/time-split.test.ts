/**
 * The anomaly job's validation split is by time: no validation window shares a step with a
 * training window, for the per-series learner (gru-predict) and for the shipped model. A
 * regression: windows of 64 steps every 8 steps were split by a seeded 15% of the WINDOWS, so a
 * held-out window shared most of its steps with training windows and early stopping was nearly
 * in-sample.
 */
import { describe, expect, it } from 'vitest';
import { Rng, type LearnRequest } from '../../../../src/index.js';
import type { Sample } from '../../../../quantize/data/dataset.js';
import { makeNabSeries, type NabCorpus } from '../../../../quantize/eval/nab/corpus.js';
import { probationSplit, TRAINER_LEARNER_DEFAULTS, type TrainerLearnerOptions } from '../../../../quantize/jobs/anomaly/learner.js';
import { SHIPPED_TRAIN_DEFAULTS, trainShippedModel } from '../../../../quantize/jobs/anomaly/shipped.js';
import { splitByTime, type WindowRange } from '../../../../quantize/jobs/anomaly/time-split.js';

/** Steps a forecast window reads: its inputs and the target after its last input. */
function stepsRead(w: WindowRange, lookahead: number): [number, number] {
  return [w.start, w.start + w.length + lookahead];
}

/** Training/validation pairs of windows of the same series that read a common step. */
function overlaps(train: readonly Sample[], val: readonly Sample[], lookahead: number): string[] {
  const range = (s: Sample): { series: string; span: [number, number] } => {
    const at = s.where.lastIndexOf('@');
    return { series: s.where.slice(0, at), span: stepsRead({ start: Number(s.where.slice(at + 1)), length: s.T }, lookahead) };
  };
  const found: string[] = [];
  for (const v of val.map(range)) {
    for (const t of train.map(range)) {
      if (t.series === v.series && t.span[0] < v.span[1] && v.span[0] < t.span[1]) found.push(`${v.series}: val [${v.span}) / train [${t.span})`);
    }
  }
  return found;
}

function forecastRequest(steps: number, seed: number): LearnRequest {
  const rng = new Rng(seed);
  const frames = Float32Array.from({ length: steps }, (_, t) => Math.sin(t / 6) + 0.05 * rng.normal());
  return { task: 'forecast', frames, steps, features: 1, targets: frames.slice(1), name: 'test-series', frontend: { kind: 'none', channels: 1 } };
}

function syntheticCorpus(): NabCorpus {
  const series = [2000, 1200].map((n, k) => {
    const rng = new Rng(10 + k);
    const t0 = Date.UTC(2015, 0, 1);
    const timestamps = Float64Array.from({ length: n }, (_, t) => t0 + t * 300_000);
    const values = Float64Array.from({ length: n }, (_, t) => 50 + 10 * Math.sin(t / (8 + 4 * k)) + rng.normal());
    const data = {
      timestamps,
      timestampText: Array.from(timestamps, (ms) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ')),
      values,
      valueText: Array.from(values, String),
    };
    return makeNabSeries(`synthetic/s${k}.csv`, data, []);
  });
  return { series, windowCount: 0, unlabelled: [] };
}

describe('validation split by time (quantize/jobs/anomaly)', () => {
  it('holds out the last 15% of the steps; windows of each part stay inside it', () => {
    // gru-predict on a 750-record probationary period: 750 frames, 749 targets.
    const s = splitByTime({ first: 0, end: 750, length: 64, stride: 8, valFraction: 0.15, lookahead: 1 });
    expect(s.heldOut).toBe(true);
    expect(s.valStart).toBe(750 - 113);
    expect(s.train).toHaveLength(72); // starts 0 .. 568: the last reads its target at 632 < 637
    expect(s.val.map((w) => w.start)).toEqual([637, 645, 653, 661, 669, 677, 685]);
    for (const w of s.train) expect(w.start + w.length + 1).toBeLessThanOrEqual(s.valStart);
    for (const w of s.val) expect(w.start + w.length + 1).toBeLessThanOrEqual(750);
    // A tail shorter than a window: one shorter validation window (NAB's shortest period, 169).
    const short = splitByTime({ first: 0, end: 169, length: 64, stride: 8, valFraction: 0.15, lookahead: 1 });
    expect(short.val).toEqual([{ start: 144, length: 24 }]);
    expect(short.train.at(-1)).toEqual({ start: 72, length: 64 });
    // Too short for two parts: every window trains, validation is in-sample, and says so.
    const tiny = splitByTime({ first: 0, end: 12, length: 64, stride: 8, valFraction: 0.15, lookahead: 1 });
    expect(tiny.heldOut).toBe(false);
    expect(tiny.val).toEqual(tiny.train);
  });

  it('gru-predict learner: no validation window shares a step with a training window; same split every time', () => {
    const r = forecastRequest(750, 1);
    const split = probationSplit(r, TRAINER_LEARNER_DEFAULTS);
    expect(split.train).toHaveLength(72);
    expect(split.val).toHaveLength(7);
    expect(overlaps(split.train, split.val, 1)).toEqual([]);
    // Samples carry the frames and next-frame targets of their range.
    const v = split.val[0]!;
    expect(v.where).toBe('test-series@637');
    expect(Array.from(v.x)).toEqual(Array.from(r.frames.slice(637, 701)));
    expect(Array.from(v.target!)).toEqual(Array.from(r.frames.slice(638, 702)));
    // Deterministic, and the same for any seed (the split depends on the series length only).
    const seeded: TrainerLearnerOptions = { ...TRAINER_LEARNER_DEFAULTS, seed: 7 };
    const again = probationSplit(r, seeded);
    expect(again.train.map((s) => s.where)).toEqual(split.train.map((s) => s.where));
    expect(again.val.map((s) => s.where)).toEqual(split.val.map((s) => s.where));
    // Autoencoder windows read no step past their inputs.
    const ae = probationSplit({ ...r, task: 'autoencoder', window: 8 }, TRAINER_LEARNER_DEFAULTS);
    expect(overlaps(ae.train, ae.val, 0)).toEqual([]);
    expect(ae.val.length).toBeGreaterThan(0);
  });

  it('shipped model: no validation window shares a step with a training window; same seed, same split', () => {
    const corpus = syntheticCorpus();
    const options = { ...SHIPPED_TRAIN_DEFAULTS, hidden: 2, epochs: 1, seed: 3 };
    const a = trainShippedModel(corpus, options);
    expect(a.val.length).toBeGreaterThan(0);
    expect(a.train.length).toBeGreaterThan(a.val.length);
    expect(overlaps(a.train, a.val, 1)).toEqual([]);
    // Every series contributes held-out windows from its own tail.
    expect(new Set(a.val.map((s) => s.where.split('@')[0]))).toEqual(new Set(corpus.series.map((s) => s.relativePath)));
    const b = trainShippedModel(corpus, options);
    expect(b.train.map((s) => s.where)).toEqual(a.train.map((s) => s.where));
    expect(b.val.map((s) => s.where)).toEqual(a.val.map((s) => s.where));
  });
});
