/** Tiny models (a classifier, a forecaster) for tests of what a gateway route watches. */
import { defaultActivations, type ModelSpec } from '../../src/index.js';

/**
 * A float GRU(4) classifier over 2 inputs with a background label first, as a model trained on a
 * WAV folder has (labels sorted: `_silence_` is output 0), then 'high' and 'low'.
 */
export function clipsClassifier(): ModelSpec {
  const H = 4;
  return {
    name: 'clips',
    version: '1.0.0',
    task: 'classify',
    labels: ['_silence_', 'high', 'low'],
    input: { size: 2, frontend: { kind: 'none' } },
    precision: 'float32',
    layers: [
      { kind: 'gru', inputSize: 2, hiddenSize: H, direction: 'forward', activations: defaultActivations('gru', 1), linearBeforeReset: false, float: { W: new Float32Array(3 * H * 2).fill(0.1), R: new Float32Array(3 * H * H), B: new Float32Array(6 * H) } },
      { kind: 'dense', inputSize: H, outputSize: 3, activation: 'none', float: { W: new Float32Array(3 * H).fill(0.1), B: new Float32Array(3) } },
      { kind: 'softmax', size: 3 },
    ],
    training: {},
  };
}

/**
 * A float forecaster, GRU(1 -> `hidden`) and a dense layer to one predicted value (task
 * `forecast`): zero weights unless given (`W`, `R` of the GRU, `head` the dense layer's).
 */
export function tinyForecaster(name: string, hidden: number, w: { W?: Float32Array; R?: Float32Array; head?: Float32Array } = {}): ModelSpec {
  const H = hidden;
  return {
    name,
    version: '1.0.0',
    task: 'forecast',
    labels: [],
    input: { size: 1, frontend: { kind: 'none' } },
    precision: 'float32',
    layers: [
      { kind: 'gru', inputSize: 1, hiddenSize: H, direction: 'forward', activations: defaultActivations('gru', 1), linearBeforeReset: false, float: { W: w.W ?? new Float32Array(3 * H), R: w.R ?? new Float32Array(3 * H * H), B: new Float32Array(6 * H) } },
      { kind: 'dense', inputSize: H, outputSize: 1, activation: 'none', float: { W: w.head ?? new Float32Array(H), B: new Float32Array(1) } },
    ],
    training: {},
  };
}
