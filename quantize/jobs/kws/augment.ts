/**
 * Feature-domain augmentation applied to each training batch, fresh every epoch (a FitHooks
 * `forward` wrapper; evaluation batches pass through untouched). Node-free.
 *
 * On cepstra (MFCC = DCT of log-mel energies), a fixed linear filter on the audio (microphone,
 * room, a voice's average spectral envelope) adds one constant vector to every frame. The
 * held-out voices differ from the training voices mostly in such long-term envelopes, so each
 * sequence gets:
 *   channel offset   x[t][k] += δ_k for all t, δ_k ~ N(0, offsetStd²) (normalized units, k >= 1),
 *                    δ_0 ~ N(0, levelStd²) (level)
 *   frame noise      x[t][k] += N(0, noiseStd²)
 *   time mask        up to `maxMaskFrames` consecutive frames set to the training mean (0 in
 *                    normalized units), SpecAugment (Park et al., 2019), with probability maskProb
 *   mel warp         (MFCC inputs, `warp` set) vocal tract length perturbation in the cepstral
 *                    domain: c' = D·S_δ·Dᵀ·c, where Dᵀ turns the cepstrum back into a smoothed
 *                    log-mel spectrum (D = the front end's orthonormal DCT rows, D·Dᵀ = I), S_δ
 *                    shifts it by δ ~ U(-maxBands, maxBands) mel bands (linear interpolation, edge
 *                    bands held), and D returns to cepstra. Above ~1 kHz mel is close to log
 *                    frequency, so a shift of δ bands scales formants by a near-constant factor
 *                    (Jaitly & Hinton 2013 warp the filterbank; this warps its output).
 * Both views of the batch change consistently: x (normalized) and raw = x·σ + μ (what fake
 * quantization reads).
 */
import { dctOrthoMatrix, Rng } from '../../../src/index.js';
import type { FitHooks } from '../../train/trainer.js';
import type { Normalization } from '../../train/batches.js';

export interface AugmentOptions {
  offsetStd: number;
  levelStd: number;
  noiseStd: number;
  maskProb: number;
  maxMaskFrames: number;
  seed: number;
  /** Mel-warp augmentation of MFCC inputs: mel bands of the front end and the largest shift (0 = off). */
  warp?: { nMels: number; maxBands: number };
}

export const AUGMENT_DEFAULTS: AugmentOptions = { offsetStd: 0.35, levelStd: 0.3, noiseStd: 0.1, maskProb: 0.5, maxMaskFrames: 4, seed: 11 };

type Forward = NonNullable<FitHooks['forward']>;

/** Wraps a forward (default: the network's own) with augmentation of training batches. */
export function augmentingForward(o: AugmentOptions, norm: Normalization, inner?: Forward): Forward {
  const rng = new Rng(o.seed);
  const F = norm.inputMean.length;
  const delta = new Float64Array(F);
  const warp = o.warp && o.warp.maxBands > 0 ? melWarper(F, o.warp.nMels) : null;
  const frame = new Float64Array(F);
  return (net, b, train) => {
    if (train) {
      const { T, B, mask } = b.shape;
      for (let bi = 0; bi < B; bi++) {
        for (let k = 0; k < F; k++) delta[k] = rng.normal() * (k === 0 ? o.levelStd : o.offsetStd);
        let len = 0;
        for (let t = 0; t < T; t++) len += mask[t * B + bi]!;
        const shift = warp ? (2 * rng.next() - 1) * o.warp!.maxBands : 0;
        let m0 = -1;
        let m1 = -1;
        if (o.maxMaskFrames > 0 && rng.next() < o.maskProb && len > o.maxMaskFrames) {
          const w = rng.int(1, o.maxMaskFrames);
          m0 = rng.int(0, len - w);
          m1 = m0 + w;
        }
        for (let t = 0; t < T; t++) {
          if (!mask[t * B + bi]) continue;
          const base = (t * B + bi) * F;
          if (warp) {
            // Warp the raw cepstrum, then return to normalized units.
            for (let k = 0; k < F; k++) frame[k] = b.x[base + k]! * norm.inputStd[k]! + norm.inputMean[k]!;
            warp(frame, shift);
            for (let k = 0; k < F; k++) b.x[base + k] = (frame[k]! - norm.inputMean[k]!) / norm.inputStd[k]!;
          }
          for (let k = 0; k < F; k++) {
            const v = t >= m0 && t < m1 ? 0 : b.x[base + k]! + delta[k]! + (o.noiseStd > 0 ? o.noiseStd * rng.normal() : 0);
            b.x[base + k] = v;
            b.raw[base + k] = v * norm.inputStd[k]! + norm.inputMean[k]!;
          }
        }
      }
    }
    return inner ? inner(net, b, train) : net.forward(b.x, b.shape, train);
  };
}

/**
 * c <- D·S_δ·Dᵀ·c in place for cepstra of `nMfcc` coefficients from `nMels` bands. S_δ reads the
 * smoothed log-mel spectrum at band m + δ (linear interpolation, clamped to the edge bands).
 */
export function melWarper(nMfcc: number, nMels: number): (c: Float64Array, shift: number) => void {
  const D = dctOrthoMatrix(nMfcc, nMels);
  const spec = new Float64Array(nMels);
  const warped = new Float64Array(nMels);
  return (c, shift) => {
    if (shift === 0) return;
    for (let m = 0; m < nMels; m++) {
      let v = 0;
      for (let k = 0; k < nMfcc; k++) v += D[k * nMels + m]! * c[k]!;
      spec[m] = v;
    }
    for (let m = 0; m < nMels; m++) {
      const pos = Math.min(nMels - 1, Math.max(0, m + shift));
      const i = Math.min(nMels - 2, Math.floor(pos));
      const f = pos - i;
      warped[m] = spec[i]! * (1 - f) + spec[i + 1]! * f;
    }
    for (let k = 0; k < nMfcc; k++) {
      let v = 0;
      for (let m = 0; m < nMels; m++) v += D[k * nMels + m]! * warped[m]!;
      c[k] = v;
    }
  };
}
