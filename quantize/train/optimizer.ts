/**
 * Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019) with global-norm gradient
 * clipping (Pascanu et al. 2013). Moments are float64 regardless of the parameter storage.
 *
 *   g ← g · min(1, clipNorm / ||g||₂)                        (over all parameters together)
 *   m ← β1 m + (1-β1) g,   v ← β2 v + (1-β2) g²
 *   p ← p - lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε)
 *   adam:  g ← g + wd · p before the moments (L2 on weights)
 *   adamw: p ← p - lr · wd · p (decoupled; weights only, never biases)
 * Pruned weights (param.mask = 0) keep a zero gradient and stay exactly zero.
 * A gradient with NaN or an infinity is not applied: its Inf/Inf moments would turn every weight
 * NaN at once. step() returns the non-finite norm and the caller stops (TRAINING_DIVERGED).
 */
import type { Param } from '../nn/tensor.js';

export type OptimizerKind = 'adam' | 'adamw';

export interface OptimizerOptions {
  kind: OptimizerKind;
  /** Weight decay coefficient (0 = none). */
  weightDecay: number;
  /** Global gradient norm limit (0 or Infinity = no clipping). */
  clipNorm: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const DEFAULT_OPTIMIZER: OptimizerOptions = { kind: 'adam', weightDecay: 0, clipNorm: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export class Adam {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private t = 0;

  constructor(
    private readonly params: Param[],
    private readonly opts: OptimizerOptions,
  ) {
    this.m = params.map((p) => new Float64Array(p.value.length));
    this.v = params.map((p) => new Float64Array(p.value.length));
  }

  /**
   * Applies masks, clips, and takes one step. Returns the gradient norm before clipping; when it
   * is not finite, nothing (weights, moments, step count) changes.
   */
  step(lr: number): number {
    const { weightDecay: wd, beta1: b1, beta2: b2, eps, kind } = this.opts;
    let sq = 0;
    for (const p of this.params) {
      const g = p.grad;
      if (p.mask) for (let i = 0; i < g.length; i++) if (!p.mask[i]) g[i] = 0;
      for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
    }
    const norm = Math.sqrt(sq);
    if (!Number.isFinite(norm)) return norm;
    const clip = this.opts.clipNorm > 0 && norm > this.opts.clipNorm ? this.opts.clipNorm / norm : 1;
    this.t++;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    this.params.forEach((p, pi) => {
      const m = this.m[pi]!;
      const v = this.v[pi]!;
      const w = p.value;
      const g = p.grad;
      const decay = p.kind === 'weight' ? wd : 0;
      for (let i = 0; i < w.length; i++) {
        let gi = g[i]! * clip;
        if (kind === 'adam' && decay) gi += decay * w[i]!;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        let wi = w[i]! - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
        if (kind === 'adamw' && decay) wi -= lr * decay * w[i]!;
        w[i] = wi;
      }
      if (p.mask) for (let i = 0; i < w.length; i++) if (!p.mask[i]) w[i] = 0;
    });
    return norm;
  }
}
