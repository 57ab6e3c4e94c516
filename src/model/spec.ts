/**
 * The in-memory description of a model: what a .ern file holds once parsed, and what the
 * trainer and the ONNX importer build before writing one.
 *
 * Weight layouts follow ONNX (and therefore PyTorch after the importer's reorder), so import
 * and export are plain copies:
 *   W [numDirections][gates * hidden][input]     gates: GRU z,r,h · LSTM i,o,f,c · RNN i
 *   R [numDirections][gates * hidden][hidden]
 *   B [numDirections][2 * gates * hidden]        Wb then Rb
 *   P [numDirections][3 * hidden]                LSTM peepholes i,o,f
 *   initialH / initialC [numDirections][hidden]
 */

import { EdgeRnnError } from '../errors.js';

export const LAYER_KINDS = ['gru', 'lstm', 'rnn', 'dense', 'softmax', 'logSoftmax'] as const;
export type LayerKind = (typeof LAYER_KINDS)[number];
export type RecurrentKind = 'gru' | 'lstm' | 'rnn';
export type Direction = 'forward' | 'reverse' | 'bidirectional';

/** Gates per cell: the row-block count of W and R. */
export const GATES: Readonly<Record<RecurrentKind, number>> = { gru: 3, lstm: 4, rnn: 1 };
/** Activation functions per direction in the ONNX `activations` list. */
export const ACTIVATIONS_PER_DIRECTION: Readonly<Record<RecurrentKind, number>> = { gru: 2, lstm: 3, rnn: 1 };

/** ONNX recurrent activation functions (names as in the ONNX spec). */
export const ACTIVATION_NAMES = [
  'Sigmoid',
  'Tanh',
  'Relu',
  'Affine',
  'LeakyRelu',
  'ThresholdedRelu',
  'ScaledTanh',
  'HardSigmoid',
  'Elu',
  'Softsign',
  'Softplus',
] as const;
export type ActivationName = (typeof ACTIVATION_NAMES)[number];

export interface Activation {
  name: ActivationName;
  alpha?: number;
  beta?: number;
}

export const DENSE_ACTIVATIONS = ['none', 'relu', 'sigmoid', 'tanh'] as const;
export type DenseActivation = (typeof DENSE_ACTIVATIONS)[number];

export interface FloatRecurrentWeights {
  W: Float32Array;
  R: Float32Array;
  B?: Float32Array;
  P?: Float32Array;
  initialH?: Float32Array;
  initialC?: Float32Array;
}

/**
 * int8 weights with the layer's input scale folded in: the real weight is
 * W[j,k] = Wq[j,k] * Wscale[j] / inputScale[k], so the accumulator sum_k Wq[j,k] * xq[k] has the
 * real value acc * Wscale[j]. Bx / Bh are the two bias halves in accumulator units
 * (round(b / Wscale[j]) and round(b / Rscale[j])). P stays float: it becomes per-element
 * fixed-point multipliers when the model is prepared.
 */
export interface QuantRecurrentWeights {
  Wq: Int8Array;
  Wscale: Float32Array;
  Rq: Int8Array;
  Rscale: Float32Array;
  Bx: Int32Array;
  Bh: Int32Array;
  P?: Float32Array;
  initialH?: Float32Array;
  initialC?: Float32Array;
}

export interface RecurrentLayer {
  kind: RecurrentKind;
  inputSize: number;
  hiddenSize: number;
  direction: Direction;
  /** ONNX `clip`: gate pre-activations are clamped to [-clip, clip]. */
  clip?: number;
  /** ONNX `activations` (with alpha/beta), numDirections * ACTIVATIONS_PER_DIRECTION entries. */
  activations: Activation[];
  /** GRU only: ONNX `linear_before_reset`. */
  linearBeforeReset?: boolean;
  /** LSTM only: ONNX `input_forget` (f = 1 - i). */
  inputForget?: boolean;
  float?: FloatRecurrentWeights;
  quant?: QuantRecurrentWeights;
}

export interface DenseLayer {
  kind: 'dense';
  inputSize: number;
  outputSize: number;
  activation: DenseActivation;
  /** W [output][input], B [output]. */
  float?: { W: Float32Array; B?: Float32Array };
  /**
   * int8 rows with the input scale folded in, bias in accumulator units. Layers that feed
   * another layer requantize to int16: `outputScale` for none/relu (calibrated), Q3.12 into the
   * fixed-point sigmoid/tanh for those. The last layer's accumulators are dequantized.
   */
  quant?: { Wq: Int8Array; Wscale: Float32Array; Bq: Int32Array; outputScale?: number };
}

export interface SoftmaxLayer {
  kind: 'softmax' | 'logSoftmax';
  size: number;
}

export type Layer = RecurrentLayer | DenseLayer | SoftmaxLayer;

export type Precision = 'float32' | 'int8';
export type Task = 'classify' | 'forecast' | 'autoencoder' | 'kws' | 'har' | 'anomaly' | 'custom';

/** Front-end parameters so serving repeats training's preprocessing; validated by each front end. */
export interface FrontendSpec {
  kind: string;
  [key: string]: unknown;
}

export interface InputSpec {
  /** Features per frame (the first layer's input size). */
  size: number;
  /** Feature names, optional (e.g. ["ax","ay","az"]). */
  names?: string[];
  /** Frames per second, when the model expects a fixed rate. */
  rateHz?: number;
  frontend: FrontendSpec;
}

export interface TrainingInfo {
  dataset?: string;
  datasetSha256?: string;
  hyperparameters?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  codeCommit?: string;
  createdAt?: string;
  [key: string]: unknown;
}

export interface ModelSpec {
  name: string;
  /** Semantic version of this model (not of the file format). */
  version: string;
  task: Task;
  description?: string;
  labels: string[];
  input: InputSpec;
  precision: Precision;
  layers: Layer[];
  /** int8 models: per-feature scale of the int16 model input, xq = round(x / inputScale[k]). */
  inputScale?: Float32Array;
  training: TrainingInfo;
  /** Free-form extra fields a later tool needs (detector thresholds, deployment hints). */
  extra?: Record<string, unknown>;
}

export function isRecurrent(layer: Layer): layer is RecurrentLayer {
  return layer.kind === 'gru' || layer.kind === 'lstm' || layer.kind === 'rnn';
}

export function numDirections(layer: RecurrentLayer): number {
  return layer.direction === 'bidirectional' ? 2 : 1;
}

/** Width of a layer's per-step output. */
export function layerOutputSize(layer: Layer): number {
  if (isRecurrent(layer)) return layer.hiddenSize * numDirections(layer);
  if (layer.kind === 'dense') return layer.outputSize;
  return layer.size;
}

export function modelOutputSize(spec: Pick<ModelSpec, 'layers' | 'input'>): number {
  const last = spec.layers[spec.layers.length - 1];
  return last === undefined ? spec.input.size : layerOutputSize(last);
}

/** A model whose recurrent layers all run forward (none reverse or bidirectional) can be stepped frame by frame. */
export function isStreamable(spec: Pick<ModelSpec, 'layers'>): boolean {
  return spec.layers.every((l) => !isRecurrent(l) || l.direction === 'forward');
}

/** The default ONNX activations for a layer (f=Sigmoid, g=Tanh, h=Tanh; RNN Tanh). */
export function defaultActivations(kind: RecurrentKind, directions: number): Activation[] {
  const one: Activation[] =
    kind === 'rnn' ? [{ name: 'Tanh' }] : kind === 'gru' ? [{ name: 'Sigmoid' }, { name: 'Tanh' }] : [{ name: 'Sigmoid' }, { name: 'Tanh' }, { name: 'Tanh' }];
  const out: Activation[] = [];
  for (let d = 0; d < directions; d++) out.push(...one.map((a) => ({ ...a })));
  return out;
}

/**
 * Throws INVALID_ARGUMENT unless `spec` looks like a ModelSpec (an object with an input spec and a
 * layer list): the check for functions that take one from JavaScript callers, before any work.
 */
export function checkSpecArgument(spec: unknown, call: string): asserts spec is ModelSpec {
  const o = spec as Partial<ModelSpec> | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.layers) || typeof o.input !== 'object' || o.input === null) {
    const got = o === null ? 'null' : typeof o !== 'object' ? typeof o : `an object with ${Object.keys(o).slice(0, 6).join(', ') || 'no fields'}`;
    throw new EdgeRnnError('INVALID_ARGUMENT', `${call} takes a ModelSpec ({name, version, task, labels, input, precision, layers, ...}), got ${got}`, { got });
  }
}

/**
 * Throws ERN_TENSOR naming the first float weight of the spec's layers (W, R, B, P, initial
 * states) that is NaN or infinite: such a model computes NaN or saturates silently, and an int8
 * copy of it would hide the defect (a NaN weight quantizes to 0).
 */
export function checkFiniteWeights(spec: ModelSpec, call: string): void {
  spec.layers.forEach((layer, li) => {
    const f = (layer as { float?: Record<string, ArrayLike<number> | undefined> }).float;
    if (!f) return;
    for (const [name, data] of Object.entries(f)) {
      if (!data) continue;
      for (let i = 0; i < data.length; i++) {
        const x = data[i]!;
        if (!(x - x === 0)) {
          throw new EdgeRnnError('ERN_TENSOR', `${call}: layers[${li}].float.${name}[${i}] is ${x}: weights must be finite numbers`, { tensor: `layers.${li}.${name}`, index: i, value: String(x) });
        }
      }
    }
  });
}
