/**
 * 10,000 streaming steps: the int8 state must track the float reference and its error must not
 * grow with time (quantization noise is absorbed by the contracting dynamics, not accumulated).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateAbsMax, createRuntime, defaultActivations, encodeModel, quantizeModel, type ModelSpec, type Runtime } from '../../src/index.js';
import type { RecurrentKind } from '../../src/model/spec.js';
import { Rng } from '../../src/util/rng.js';
import { randomRecurrent } from '../helpers/random-model.js';

const STEPS = 10_000;
const WINDOW = 1000;
/** Mean |h_int8 - h_float| over a window of steps, hidden values in [-1, 1]. */
const MAX_WINDOW_MEAN_ERR = 0.02;
/** Worst single-step, single-unit error over 320k-640k unit-steps (steep tanh regions). */
const MAX_ABS_ERR = 0.2;

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

/** A smooth multi-tone input stream with noise, like a sensor or a feature track. */
function stream(rng: Rng, I: number, T: number): Float32Array {
  const x = new Float32Array(T * I);
  const f = Array.from({ length: I }, () => rng.uniform(0.002, 0.05));
  const ph = Array.from({ length: I }, () => rng.uniform(0, 6.28));
  for (let t = 0; t < T; t++) for (let k = 0; k < I; k++) x[t * I + k] = 1.5 * Math.sin(f[k]! * t + ph[k]!) + 0.3 * rng.normal();
  return x;
}

function model(kind: RecurrentKind, I: number, H: number, seed: number): ModelSpec {
  const rng = new Rng(seed);
  const layer = randomRecurrent(rng, kind, I, H, 'forward', { weightScale: 1 / Math.sqrt(H) });
  // A plain cell, as trainers produce: no clip, no peepholes, default activations.
  delete layer.clip;
  delete layer.float!.P;
  delete layer.inputForget;
  layer.activations = defaultActivations(kind, 1);
  if (kind === 'lstm') {
    // A forget-gate bias of +1, as trainers initialize it: long memory, the hard case for drift.
    const B = layer.float!.B ?? new Float32Array(8 * H);
    for (let j = 0; j < H; j++) B[2 * H + j] = 1;
    layer.float!.B = B;
  }
  return { name: `${kind}-long`, version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', layers: [layer], training: {} };
}

describe('10,000-step streams: int8 state stays close to float', () => {
  for (const [kind, I, H] of [
    ['gru', 40, 64],
    ['lstm', 40, 64],
    ['gru', 6, 32],
    ['rnn', 4, 32],
  ] as const) {
    it(`${kind} ${I}->${H}`, async () => {
      const spec = model(kind, I, H, 42 + H);
      const x = stream(new Rng(9), I, STEPS);
      const int8 = quantizeModel(spec, calibrateAbsMax(spec, [x.subarray(0, 2000 * I)]));
      const f = (await rt.load(encodeModel(spec))).session();
      const q = (await rt.load(encodeModel(int8))).session();
      const windows: number[] = [];
      let sum = 0;
      let worst = 0;
      for (let t = 0; t < STEPS; t++) {
        const frame = x.subarray(t * I, (t + 1) * I);
        const hf = f.step(frame);
        const hq = q.step(frame);
        for (let j = 0; j < H; j++) {
          const e = Math.abs(hf[j]! - hq[j]!);
          sum += e;
          worst = Math.max(worst, e);
        }
        if ((t + 1) % WINDOW === 0) {
          windows.push(sum / (WINDOW * H));
          sum = 0;
        }
      }
      // Printed so the numbers can be quoted (docs/quantization.md).
      console.log(`${kind} ${I}->${H}: mean |dh| per 1000-step window ${windows.map((w) => w.toExponential(2)).join(' ')}; max ${worst.toFixed(4)}`);
      expect(Math.max(...windows)).toBeLessThan(MAX_WINDOW_MEAN_ERR);
      expect(worst).toBeLessThan(MAX_ABS_ERR);
      // No growth: the last thousand steps are no worse than twice the first thousand (plus noise floor).
      expect(windows[windows.length - 1]!).toBeLessThan(2 * windows[0]! + 1e-3);
    });
  }
});
