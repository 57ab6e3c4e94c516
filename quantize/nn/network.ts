/**
 * A trainable network: a stack of recurrent, dense and dropout layers that maps one-to-one onto
 * the layers of a float32 ModelSpec (dropout leaves no trace; a classifier's softmax lives in
 * the loss). `toSpecLayers` and `Network.fromSpec` convert both ways without loss.
 */
import {
  EdgeRnnError,
  defaultActivations,
  isRecurrent,
  layerOutputSize,
  type DenseActivation,
  type Layer,
  type ModelSpec,
  type RecurrentKind,
  type Rng,
} from '../../src/index.js';
import { DenseTrainLayer, DropoutLayer } from './dense.js';
import { xavierUniform, orthogonal } from './init.js';
import type { BatchShape, TrainLayer } from './layer.js';
import { RecurrentTrainLayer, type RecurrentState } from './recurrent.js';
import type { Arr, DType, Param } from './tensor.js';

/** One entry of a network plan (what the CLI flags and the task builders produce). */
export type LayerPlan =
  | { kind: RecurrentKind; hidden: number; bidirectional: boolean }
  | { kind: 'dense'; size: number; activation: DenseActivation }
  | { kind: 'dropout'; p: number };

export interface InitOptions {
  /** LSTM forget-gate bias (Jozefowicz et al. 2015: 1.0 lets memory flow at the start). */
  forgetBias: number;
  /** GRU update-gate (z) bias: positive values make h' ≈ h at the start, the GRU analogue. */
  updateBias: number;
}

export const DEFAULT_INIT: InitOptions = { forgetBias: 1, updateBias: 1 };

export class Network {
  readonly inputSize: number;
  readonly plan: readonly LayerPlan[];
  readonly layers: TrainLayer[] = [];
  readonly dtype: DType;
  readonly outputSize: number;

  /** `random` drives dropout masks (the trainer's seeded Rng). */
  constructor(inputSize: number, plan: readonly LayerPlan[], dtype: DType, random: () => number = Math.random) {
    this.inputSize = inputSize;
    this.plan = plan;
    this.dtype = dtype;
    let width = inputSize;
    let segments = [inputSize];
    let li = 0;
    for (const p of plan) {
      if (p.kind === 'dropout') {
        if (!(p.p >= 0 && p.p < 1)) throw new EdgeRnnError('USAGE', `dropout must be in [0, 1), got ${p.p}`);
        this.layers.push(new DropoutLayer(width, p.p, random, dtype));
        continue;
      }
      if (p.kind === 'dense') {
        this.layers.push(new DenseTrainLayer({ inputSize: width, outputSize: p.size, activation: p.activation, inputSegments: segments }, dtype, `layers.${li}`));
        width = p.size;
        segments = [width];
      } else {
        const layer = new RecurrentTrainLayer({ kind: p.kind, inputSize: width, hiddenSize: p.hidden, bidirectional: p.bidirectional, inputSegments: segments }, dtype, `layers.${li}`);
        this.layers.push(layer);
        width = layer.outSize;
        segments = p.bidirectional ? [p.hidden, p.hidden] : [p.hidden];
      }
      li++;
    }
    this.outputSize = width;
  }

  /** Trainable layers in ModelSpec order (dropout excluded). */
  specLayers(): (RecurrentTrainLayer | DenseTrainLayer)[] {
    return this.layers.filter((l): l is RecurrentTrainLayer | DenseTrainLayer => l instanceof RecurrentTrainLayer || l instanceof DenseTrainLayer);
  }

  recurrentLayers(): RecurrentTrainLayer[] {
    return this.layers.filter((l): l is RecurrentTrainLayer => l instanceof RecurrentTrainLayer);
  }

  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }

  zeroGrad(): void {
    for (const p of this.params()) p.grad.fill(0);
  }

  /** Xavier input weights, orthogonal recurrent blocks, gate biases (see InitOptions). */
  init(rng: Rng, opts: InitOptions = DEFAULT_INIT): void {
    for (const l of this.specLayers()) {
      if (l instanceof DenseTrainLayer) {
        xavierUniform(rng, l.W.value, 0, l.outSize, l.inSize, l.inSize, l.outSize);
        l.b.value.fill(0);
        continue;
      }
      const H = l.hidden;
      for (let d = 0; d < l.dirs; d++) {
        for (let g = 0; g < l.G; g++) {
          xavierUniform(rng, l.W[d]!.value, g * H, H, l.inSize, l.inSize, H);
          orthogonal(rng, l.R[d]!.value, g * H, H);
        }
        const b = l.b[d]!.value;
        b.fill(0);
        // ONNX gate order: LSTM i,o,f,c (f is block 2); GRU z,r,h (z is block 0).
        if (l.kind === 'lstm') b.fill(opts.forgetBias, 2 * H, 3 * H);
        if (l.kind === 'gru') b.fill(opts.updateBias, 0, H);
        l.bn[d]?.value.fill(0);
      }
    }
  }

  /** Sets (or clears) the initial state of every recurrent layer (TBPTT carry). */
  setInitialStates(states: (RecurrentState | null)[] | null): void {
    this.recurrentLayers().forEach((l, i) => {
      l.initialState = states ? (states[i] ?? null) : null;
    });
  }

  finalStates(): RecurrentState[] {
    return this.recurrentLayers().map((l) => l.finalState());
  }

  forward(x: Arr, shape: BatchShape, train: boolean): Arr {
    let cur = x;
    for (const l of this.layers) cur = l.forward(cur, shape, train);
    return cur;
  }

  backward(dy: Arr): void {
    let g = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) g = this.layers[i]!.backward(g);
  }

  /** The float32 ModelSpec layers of this network (weights copied). */
  toSpecLayers(): Layer[] {
    return this.specLayers().map((l): Layer => {
      if (l instanceof DenseTrainLayer) {
        return {
          kind: 'dense',
          inputSize: l.inSize,
          outputSize: l.outSize,
          activation: l.cfg.activation,
          float: { W: Float32Array.from(l.W.value), B: Float32Array.from(l.b.value) },
        };
      }
      const H = l.hidden;
      const GH = l.G * H;
      const W = new Float32Array(l.dirs * GH * l.inSize);
      const R = new Float32Array(l.dirs * GH * H);
      const B = new Float32Array(l.dirs * 2 * GH);
      for (let d = 0; d < l.dirs; d++) {
        W.set(l.W[d]!.value, d * GH * l.inSize);
        R.set(l.R[d]!.value, d * GH * H);
        B.set(l.b[d]!.value, d * 2 * GH);
        // ONNX B = [Wb; Rb]: only the GRU candidate's recurrent bias is kept apart.
        if (l.kind === 'gru') B.set(l.bn[d]!.value, d * 2 * GH + GH + 2 * H);
      }
      return {
        kind: l.kind,
        inputSize: l.inSize,
        hiddenSize: H,
        direction: l.dirs === 2 ? 'bidirectional' : 'forward',
        activations: defaultActivations(l.kind, l.dirs),
        ...(l.kind === 'gru' ? { linearBeforeReset: true } : {}),
        ...(l.kind === 'lstm' ? { inputForget: false } : {}),
        float: { W, R, B },
      };
    });
  }

  /**
   * Rebuilds a trainable network from a float32 spec (for pruning and quantization-aware
   * fine-tuning). Supports what the trainer itself produces: default activations, no clip,
   * no peepholes, zero initial state, GRU with linear_before_reset = 1, forward or bidirectional.
   */
  static fromSpec(spec: ModelSpec, dtype: DType, opts: { dropout?: number; random?: () => number } = {}): Network {
    if (spec.precision !== 'float32') {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `'${spec.name}' is ${spec.precision}: training, pruning and quantization start from a float32 model`);
    }
    const plan: LayerPlan[] = [];
    const trainable = spec.layers.filter((l) => l.kind !== 'softmax' && l.kind !== 'logSoftmax');
    trainable.forEach((l, i) => {
      const where = `layers.${i} (${l.kind})`;
      if (isRecurrent(l)) {
        const defaults = defaultActivations(l.kind, l.direction === 'bidirectional' ? 2 : 1);
        const same = l.activations.length === defaults.length && l.activations.every((a, k) => a.name === defaults[k]!.name && a.alpha === undefined && a.beta === undefined);
        const problems = [
          !same ? 'non-default activations' : '',
          l.clip !== undefined ? 'clip' : '',
          l.direction === 'reverse' ? 'direction reverse' : '',
          l.kind === 'gru' && !l.linearBeforeReset ? 'linear_before_reset = 0' : '',
          l.kind === 'lstm' && (l.inputForget || l.float?.P) ? 'peepholes or input_forget' : '',
          l.float?.initialH?.some((v) => v !== 0) || l.float?.initialC?.some((v) => v !== 0) ? 'a non-zero initial state' : '',
        ].filter(Boolean);
        if (problems.length) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${spec.name}: ${where} uses ${problems.join(', ')}; the trainer supports ONNX defaults, no clip, GRU with linear_before_reset = 1`);
        plan.push({ kind: l.kind, hidden: l.hiddenSize, bidirectional: l.direction === 'bidirectional' });
      } else if (l.kind === 'dense') {
        plan.push({ kind: 'dense', size: l.outputSize, activation: l.activation });
      }
      if (opts.dropout && i < trainable.length - 1) plan.push({ kind: 'dropout', p: opts.dropout });
    });
    if (spec.layers.slice(0, trainable.length).some((l) => l.kind === 'softmax' || l.kind === 'logSoftmax')) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `${spec.name}: softmax is supported only as the last layer`);
    }
    const net = new Network(spec.input.size, plan, dtype, opts.random);
    net.specLayers().forEach((l, i) => {
      const s = trainable[i]!;
      if (l instanceof DenseTrainLayer) {
        if (s.kind !== 'dense' || !s.float) throw new EdgeRnnError('ERN_TENSOR', `${spec.name}: layers.${i} has no float weights`);
        l.W.value.set(s.float.W);
        if (s.float.B) l.b.value.set(s.float.B);
        return;
      }
      if (!isRecurrent(s) || !s.float) throw new EdgeRnnError('ERN_TENSOR', `${spec.name}: layers.${i} has no float weights`);
      const H = l.hidden;
      const GH = l.G * H;
      for (let d = 0; d < l.dirs; d++) {
        l.W[d]!.value.set(s.float.W.subarray(d * GH * l.inSize, (d + 1) * GH * l.inSize));
        l.R[d]!.value.set(s.float.R.subarray(d * GH * H, (d + 1) * GH * H));
        const B = s.float.B;
        if (!B) continue;
        for (let j = 0; j < GH; j++) {
          const wb = B[d * 2 * GH + j]!;
          const rb = B[d * 2 * GH + GH + j]!;
          if (l.kind === 'gru' && j >= 2 * H) {
            l.b[d]!.value[j] = wb;
            l.bn[d]!.value[j - 2 * H] = rb;
          } else l.b[d]!.value[j] = wb + rb;
        }
      }
    });
    const out = trainable.length ? layerOutputSize(trainable[trainable.length - 1]!) : spec.input.size;
    if (out !== net.outputSize) throw new EdgeRnnError('ERN_MANIFEST', `${spec.name}: output size ${out} does not match the rebuilt network (${net.outputSize})`);
    return net;
  }
}
