import type { Activation, ActivationName } from '../../model/spec.js';

/** A scalar activation with its alpha/beta bound. */
export type ScalarFn = (x: number) => number;

/**
 * ONNX operator defaults for alpha/beta ("same as the corresponding ONNX operators"), written out
 * so no runtime's default can differ; the ONNX exporter writes them explicitly too.
 */
export const ACTIVATION_DEFAULTS: Readonly<Record<ActivationName, { alpha: number; beta: number }>> = {
  Sigmoid: { alpha: 0, beta: 0 },
  Tanh: { alpha: 0, beta: 0 },
  Relu: { alpha: 0, beta: 0 },
  Affine: { alpha: 1, beta: 0 },
  LeakyRelu: { alpha: 0.01, beta: 0 },
  ThresholdedRelu: { alpha: 1, beta: 0 },
  ScaledTanh: { alpha: 1, beta: 1 },
  HardSigmoid: { alpha: 0.2, beta: 0.5 },
  Elu: { alpha: 1, beta: 0 },
  Softsign: { alpha: 0, beta: 0 },
  Softplus: { alpha: 0, beta: 0 },
};

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Binds an ONNX activation (name, alpha, beta) to a plain function. */
export function activationFn(a: Activation): ScalarFn {
  const alpha = a.alpha ?? ACTIVATION_DEFAULTS[a.name].alpha;
  const beta = a.beta ?? ACTIVATION_DEFAULTS[a.name].beta;
  switch (a.name) {
    case 'Sigmoid':
      return sigmoid;
    case 'Tanh':
      return Math.tanh;
    case 'Relu':
      return (x) => (x > 0 ? x : 0);
    case 'Affine':
      return (x) => alpha * x + beta;
    case 'LeakyRelu':
      return (x) => (x >= 0 ? x : alpha * x);
    case 'ThresholdedRelu':
      return (x) => (x > alpha ? x : 0);
    case 'ScaledTanh':
      return (x) => alpha * Math.tanh(beta * x);
    case 'HardSigmoid':
      return (x) => Math.min(Math.max(alpha * x + beta, 0), 1);
    case 'Elu':
      return (x) => (x >= 0 ? x : alpha * (Math.exp(x) - 1));
    case 'Softsign':
      return (x) => x / (1 + Math.abs(x));
    case 'Softplus':
      return (x) => Math.log1p(Math.exp(x));
  }
}

/** In-place softmax over v[0..n). */
export function softmaxInPlace(v: Float32Array | Float64Array, offset = 0, n = v.length): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, v[offset + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(v[offset + i]! - max);
    v[offset + i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) v[offset + i] = v[offset + i]! / sum;
}

/** In-place log-softmax over v[0..n). */
export function logSoftmaxInPlace(v: Float32Array | Float64Array, offset = 0, n = v.length): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, v[offset + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(v[offset + i]! - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < n; i++) v[offset + i] = v[offset + i]! - lse;
}
