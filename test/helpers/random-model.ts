/** Random float models for property tests: every layer option, odd sizes, seeded. */
import { calibrateAbsMax, defaultActivations, quantizeModel } from '../../src/index.js';
import type { DenseLayer, Direction, Layer, ModelSpec, RecurrentKind, RecurrentLayer } from '../../src/model/spec.js';
import { GATES } from '../../src/model/spec.js';
import { Rng } from '../../src/util/rng.js';

export interface RandomModelOptions {
  /** Allow bidirectional/reverse layers (not streamable). */
  offline?: boolean;
  maxHidden?: number;
  maxInput?: number;
  maxLayers?: number;
  kinds?: RecurrentKind[];
}

export function randomRecurrent(rng: Rng, kind: RecurrentKind, inputSize: number, hiddenSize: number, direction: Direction, opts: { weightScale?: number } = {}): RecurrentLayer {
  const D = direction === 'bidirectional' ? 2 : 1;
  const G = GATES[kind];
  const ws = opts.weightScale ?? rng.uniform(0.2, 1.2) / Math.sqrt(Math.max(inputSize, hiddenSize));
  const layer: RecurrentLayer = {
    kind,
    inputSize,
    hiddenSize,
    direction,
    activations: defaultActivations(kind, D),
    float: {
      W: rng.float32(D * G * hiddenSize * inputSize, -2 * ws, 2 * ws),
      R: rng.float32(D * G * hiddenSize * hiddenSize, -2 * ws, 2 * ws),
    },
  };
  if (rng.next() < 0.8) layer.float!.B = rng.float32(D * 2 * G * hiddenSize, -0.5, 0.5);
  if (rng.next() < 0.3) layer.clip = rng.uniform(0.5, 4);
  if (kind === 'gru') layer.linearBeforeReset = rng.next() < 0.5;
  if (kind === 'lstm') {
    if (rng.next() < 0.4) layer.float!.P = rng.float32(D * 3 * hiddenSize, -0.8, 0.8);
    if (rng.next() < 0.25) layer.inputForget = true;
    if (rng.next() < 0.3) layer.float!.initialC = rng.float32(D * hiddenSize, -1.5, 1.5);
  }
  if (rng.next() < 0.3) layer.float!.initialH = rng.float32(D * hiddenSize, -0.9, 0.9);
  return layer;
}

export function randomFloatModel(seed: number, opts: RandomModelOptions = {}): ModelSpec {
  const rng = new Rng(seed);
  const kinds = opts.kinds ?? ['gru', 'lstm', 'rnn'];
  const inputSize = rng.int(1, opts.maxInput ?? 23);
  const nRec = rng.int(1, opts.maxLayers ?? 2);
  const layers: Layer[] = [];
  let width = inputSize;
  for (let i = 0; i < nRec; i++) {
    const kind = rng.pick(kinds);
    const H = rng.int(1, opts.maxHidden ?? 37);
    const direction: Direction = opts.offline ? rng.pick(['forward', 'reverse', 'bidirectional'] as const) : 'forward';
    const l = randomRecurrent(rng, kind, width, H, direction);
    layers.push(l);
    width = H * (direction === 'bidirectional' ? 2 : 1);
    // Sometimes a dense projection between recurrent layers.
    if (i < nRec - 1 && rng.next() < 0.3) {
      const O = rng.int(2, 19);
      const act = rng.pick(['none', 'relu', 'sigmoid', 'tanh'] as const);
      layers.push(randomDense(rng, width, O, act));
      width = O;
    }
  }
  const head = rng.next();
  if (head < 0.75) {
    const O = rng.int(1, 13);
    if (rng.next() < 0.3) {
      const mid = rng.int(3, 17);
      layers.push(randomDense(rng, width, mid, rng.pick(['none', 'relu', 'tanh', 'sigmoid'] as const)));
      width = mid;
    }
    layers.push(randomDense(rng, width, O, rng.pick(['none', 'none', 'relu', 'sigmoid', 'tanh'] as const)));
    width = O;
    if (rng.next() < 0.4) layers.push({ kind: rng.pick(['softmax', 'logSoftmax'] as const), size: O });
  }
  return {
    name: `random-${seed}`,
    version: '0.0.1',
    task: 'custom',
    labels: [],
    input: { size: inputSize, frontend: { kind: 'none' } },
    precision: 'float32',
    layers,
    training: {},
  };
}

function randomDense(rng: Rng, I: number, O: number, activation: DenseLayer['activation']): DenseLayer {
  const s = 1.5 / Math.sqrt(I);
  return { kind: 'dense', inputSize: I, outputSize: O, activation, float: { W: rng.float32(O * I, -s, s), B: rng.float32(O, -0.3, 0.3) } };
}

/** Random input sequences with per-feature ranges spanning several orders of magnitude. */
export function randomSequences(seed: number, inputSize: number, count: number, steps: number): Float32Array[] {
  const rng = new Rng(seed);
  const ranges = Array.from({ length: inputSize }, () => 10 ** rng.uniform(-1.5, 1.5));
  return Array.from({ length: count }, () => {
    const x = new Float32Array(steps * inputSize);
    for (let t = 0; t < steps; t++) for (let k = 0; k < inputSize; k++) x[t * inputSize + k] = rng.uniform(-1, 1) * ranges[k]!;
    return x;
  });
}

/** A random float model and its int8 quantization calibrated on random sequences. */
export function randomQuantModel(seed: number, opts: RandomModelOptions = {}): { float: ModelSpec; int8: ModelSpec; calib: Float32Array[] } {
  const float = randomFloatModel(seed, opts);
  const calib = randomSequences(seed + 1000, float.input.size, 3, 12);
  return { float, int8: quantizeModel(float, calibrateAbsMax(float, calib)), calib };
}

/** A float32 classifier of 2 inputs: GRU 4 → dense over `labels` (the report tests' model). */
export function gruClassifier(rng: Rng, name: string, labels: string[], training: ModelSpec['training'] = {}): ModelSpec {
  const C = labels.length;
  return {
    name,
    version: '1.0.0',
    task: 'classify',
    labels,
    input: { size: 2, frontend: { kind: 'none' } },
    precision: 'float32',
    layers: [randomRecurrent(rng, 'gru', 2, 4, 'forward'), { kind: 'dense', inputSize: 4, outputSize: C, activation: 'none', float: { W: rng.float32(4 * C, -1, 1) } }],
    training,
  };
}
