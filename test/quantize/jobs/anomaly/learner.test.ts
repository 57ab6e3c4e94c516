import { describe, expect, it } from 'vitest';
import { decodeModel, isEdgeRnnError, Rng, SyncModelLoader, type LearnRequest } from '../../../../src/index.js';
import { probationSamples, trainerLearner } from '../../../../quantize/jobs/anomaly/learner.js';

function forecastRequest(steps: number, seed: number): LearnRequest {
  const rng = new Rng(seed);
  const frames = Float32Array.from({ length: steps }, (_, t) => Math.sin(t / 6) + 0.05 * rng.normal());
  return { task: 'forecast', frames, steps, features: 1, targets: frames.slice(1), name: 'test-series', frontend: { kind: 'none', channels: 1 } };
}

describe('trainerLearner (quantize/jobs/anomaly)', () => {
  it('cuts the probationary frames into windows with next-frame targets', () => {
    const r = forecastRequest(100, 1);
    const w = probationSamples(r, 32, 8);
    // Windows end by frame 98 (frame 99 has no target): starts 0, 8, ..., 64.
    expect(w.map((s) => s.where)).toEqual([0, 8, 16, 24, 32, 40, 48, 56, 64].map((s) => `test-series@${s}`));
    expect(Array.from(w[2]!.x)).toEqual(Array.from(r.frames.slice(16, 48)));
    expect(Array.from(w[2]!.target!)).toEqual(Array.from(r.frames.slice(17, 49)));
    // Autoencoder windows may use the last frame; short series make one shorter window.
    const ae = probationSamples({ ...r, task: 'autoencoder', window: 4 }, 200, 8);
    expect(ae).toHaveLength(1);
    expect(ae[0]!.T).toBe(100);
    expect(ae[0]!.target).toBeUndefined();
  });

  it('returns loadable int8 and float32 .ern files; same seed, same bytes; int8 tracks float', () => {
    const r = forecastRequest(200, 2);
    const opts = { hidden: 6, epochs: 4, sequenceLength: 32, stride: 8, seed: 3 };
    const int8 = trainerLearner(opts).learn(r);
    expect(trainerLearner(opts).learn(r)).toEqual(int8);
    const f32 = trainerLearner({ ...opts, precision: 'float32' }).learn(r);
    const q = decodeModel(int8).spec;
    expect(q.precision).toBe('int8');
    expect(q.task).toBe('forecast');
    expect(q.input.frontend).toEqual({ kind: 'none', channels: 1 });
    expect((q.training.calibration as { method: string }).method).toBe('mse');
    // 'minmax-headroom': the int8 input range covers ±inputRange on the value channel.
    const wide = decodeModel(trainerLearner({ ...opts, calibration: 'minmax-headroom', inputRange: 8 }).learn(r)).spec;
    expect(wide.inputScale![0]! * 32767).toBeCloseTo(8, 4);
    expect(q.inputScale![0]! * 32767).toBeLessThan(3); // mse: about the data's own range (|sin| + noise)
    expect(decodeModel(f32).spec.precision).toBe('float32');
    const loader = new SyncModelLoader({ backend: 'simd' });
    const yq = loader.load(int8).session().run(r.frames);
    const yf = loader.load(f32).session().run(r.frames);
    let worst = 0;
    for (let i = 0; i < yq.length; i++) worst = Math.max(worst, Math.abs(yq[i]! - yf[i]!));
    // Outputs are about 1 in size; int8 weights and int16 activations stay within a few percent.
    expect(worst).toBeLessThan(0.05);
    expect(worst).toBeGreaterThan(0); // they are different models
  });

  it('rejects too few frames and missing targets with BAD_DATA naming the series', () => {
    const learner = trainerLearner({ hidden: 2, epochs: 1 });
    const tiny = forecastRequest(2, 3);
    expect(() => learner.learn(tiny)).toThrow(/test-series: 2 probationary frames are too few to train on/);
    const noTargets = { ...forecastRequest(50, 4) };
    delete noTargets.targets;
    try {
      learner.learn(noTargets);
      throw new Error('expected an error');
    } catch (e) {
      expect(isEdgeRnnError(e, 'BAD_DATA')).toBe(true);
      expect((e as Error).message).toMatch(/test-series: forecast needs 49 targets, got 0/);
    }
    expect(() => trainerLearner({ inputRange: 0 })).toThrow(/inputRange must be > 0, got 0/);
  });
});
