/**
 * Losses and their gradients with respect to the network output [T][B][O].
 *   classify: softmax cross-entropy at each sequence's last real step, class-weighted:
 *     L = Σ_b w_{y_b} · (-log softmax(z_b)[y_b]) / Σ_b w_{y_b},  dL/dz_b = w_{y_b} (p_b - onehot) / Σ w
 *   regression: weighted mean squared error L = Σ w (y - t)² / Σ w,  dL/dy = 2 w (y - t) / Σ w
 */
import { alloc, type Arr, type DType } from '../nn/tensor.js';

export interface LossResult {
  /** Mean loss of the batch (weighted as above). */
  loss: number;
  /** Sum of the weights the mean divides by (to combine batches). */
  weight: number;
  grad: Arr;
  /** classify: correctly predicted sequences (argmax at the last step). */
  correct: number;
}

export function classifyLoss(out: Arr, T: number, B: number, C: number, lengths: readonly number[], y: Int32Array, classWeights: readonly number[], dtype: DType, wantGrad = true): LossResult {
  const grad = alloc(dtype, wantGrad ? T * B * C : 0);
  let sumW = 0;
  let loss = 0;
  let correct = 0;
  const p = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    if (lengths[b]! === 0) continue;
    const t = lengths[b]! - 1;
    const o = (t * B + b) * C;
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < C; c++) {
      if (out[o + c]! > max) {
        max = out[o + c]!;
        arg = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < C; c++) {
      p[c] = Math.exp(out[o + c]! - max);
      sum += p[c]!;
    }
    const yb = y[b]!;
    const w = classWeights[yb] ?? 1;
    loss += w * -(out[o + yb]! - max - Math.log(sum));
    sumW += w;
    if (arg === yb) correct++;
    if (wantGrad) for (let c = 0; c < C; c++) grad[o + c] = w * (p[c]! / sum - (c === yb ? 1 : 0));
  }
  if (wantGrad && sumW > 0) for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! / sumW;
  return { loss: sumW > 0 ? loss / sumW : 0, weight: sumW, grad, correct };
}

export function mseLoss(out: Arr, target: Arr, weight: Arr, n: number, dtype: DType, wantGrad = true): LossResult {
  const grad = alloc(dtype, wantGrad ? n : 0);
  let sumW = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const w = weight[i]!;
    if (w === 0) continue;
    const d = out[i]! - target[i]!;
    loss += w * d * d;
    sumW += w;
    if (wantGrad) grad[i] = 2 * w * d;
  }
  if (wantGrad && sumW > 0) for (let i = 0; i < n; i++) grad[i] = grad[i]! / sumW;
  return { loss: sumW > 0 ? loss / sumW : 0, weight: sumW, grad, correct: 0 };
}
