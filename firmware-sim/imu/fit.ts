/**
 * Fits the generator's per-activity model (model.ts) to real recordings: Gaussian low-pass split
 * into posture and motion, PCA of the posture curves over normalized time, the motion's RMS
 * envelope and level, and a least-squares vector autoregression of the normalized motion (with a
 * stability guard). Pure computation; the caller reads the files.
 */
import { EdgeRnnError } from '../../src/index.js';
import { cholesky, solveSpd, symmetricEigen } from './linalg.js';
import type { ImuActivityModel, ImuGeneratorModel } from './model.js';

export interface FitRecording {
  activity: string;
  /** Samples in g, interleaved [n][3]. */
  g: Float32Array;
}

export interface FitOptions {
  /** Rate of the recordings, Hz. */
  rateHz: number;
  /** Knots per axis of the posture curve and envelope (default 24). */
  knots: number;
  /** σ of the posture low-pass, s (default 0.25: half amplitude near 0.75 Hz). */
  lowpassSeconds: number;
  /** VAR order (default 12: 0.375 s of memory at 32 Hz). */
  order: number;
  /** Posture principal components kept at most (default 8; the rest becomes residualStd). */
  components: number;
  /** Ridge added to the VAR normal equations, relative to their mean diagonal (default 1e-4). */
  ridge: number;
  /** Sensor of the recordings: ±rangeG full scale, bits per axis. */
  sensor: { rangeG: number; bits: number };
}

export const FIT_DEFAULTS: Omit<FitOptions, 'rateHz' | 'sensor'> = { knots: 24, lowpassSeconds: 0.25, order: 12, components: 8, ridge: 1e-4 };

/** Largest spectral radius allowed for the VAR (the guard scales lag j by λ^j to stay below). */
const MAX_RADIUS = 0.995;

/** Gaussian low-pass of one axis (edge hold), σ in samples; kernel truncated at 4σ. */
export function gaussianLowpass(x: Float32Array, C: number, c: number, sigma: number): Float64Array {
  const n = x.length / C;
  const R = Math.ceil(4 * sigma);
  const w = new Float64Array(2 * R + 1);
  let sum = 0;
  for (let k = -R; k <= R; k++) sum += w[k + R] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < w.length; k++) w[k] = w[k]! / sum;
  const out = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    let acc = 0;
    for (let k = -R; k <= R; k++) {
      const j = Math.min(n - 1, Math.max(0, t + k));
      acc += w[k + R]! * x[j * C + c]!;
    }
    out[t] = acc;
  }
  return out;
}

/** Value of a curve sampled at `knots` evenly spaced points of [0, 1], at τ ∈ [0, 1] (linear). */
export function knotValue(curve: ArrayLike<number>, offset: number, knots: number, tau: number): number {
  const pos = Math.min(1, Math.max(0, tau)) * (knots - 1);
  const i = Math.min(knots - 2, Math.floor(pos));
  const f = pos - i;
  return curve[offset + i]! + f * (curve[offset + i + 1]! - curve[offset + i]!);
}

/** Spectral radius of the VAR companion matrix, by power iteration (growth rate of ‖Mᵏv‖). */
export function varSpectralRadius(A: readonly number[][], p: number): number {
  const D = 3 * p;
  let v = new Float64Array(D);
  for (let i = 0; i < D; i++) v[i] = Math.sin(1 + i * 0.7) + 0.1;
  let logGrowth = 0;
  const steps = 600;
  const burn = 100;
  for (let s = 0; s < steps; s++) {
    const next = new Float64Array(D);
    for (let i = 0; i < 3; i++) {
      let acc = 0;
      for (let k = 0; k < D; k++) acc += A[i]![k]! * v[k]!;
      next[i] = acc;
    }
    for (let i = 3; i < D; i++) next[i] = v[i - 3]!;
    let norm = 0;
    for (let i = 0; i < D; i++) norm += next[i]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    if (s >= burn) logGrowth += Math.log(norm);
    for (let i = 0; i < D; i++) next[i] = next[i]! / norm;
    v = next;
  }
  return Math.exp(logGrowth / (steps - burn));
}

interface Split {
  posture: Float64Array[];
  motion: Float64Array[];
  n: number;
}

function split(g: Float32Array, sigma: number): Split {
  const n = g.length / 3;
  const posture: Float64Array[] = [];
  const motion: Float64Array[] = [];
  for (let c = 0; c < 3; c++) {
    const lp = gaussianLowpass(g, 3, c, sigma);
    const m = new Float64Array(n);
    for (let t = 0; t < n; t++) m[t] = g[t * 3 + c]! - lp[t]!;
    posture.push(lp);
    motion.push(m);
  }
  return { posture, motion, n };
}

function meanStd(v: readonly number[]): { mean: number; std: number } {
  const mean = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, v.length - 1);
  return { mean, std: Math.sqrt(variance) };
}

const round = (x: number, digits = 6): number => Number(x.toPrecision(digits));

function fitActivity(activity: string, recs: readonly FitRecording[], o: FitOptions): ImuActivityModel {
  const K = o.knots;
  const sigma = o.lowpassSeconds * o.rateHz;
  const splits = recs.map((r) => split(r.g, sigma));
  // Durations and levels.
  const logN = meanStd(splits.map((s) => Math.log(s.n)));
  const levels = splits.map((s) => {
    let sq = 0;
    for (let c = 0; c < 3; c++) for (let t = 0; t < s.n; t++) sq += s.motion[c]![t]! ** 2;
    return Math.sqrt(sq / (3 * s.n)) + 1e-6;
  });
  const logLevel = meanStd(levels.map(Math.log));
  // Posture curves at K knots per axis; PCA over recordings.
  const D = 3 * K;
  const curves = splits.map((s) => {
    const v = new Float64Array(D);
    for (let c = 0; c < 3; c++) for (let k = 0; k < K; k++) {
      const pos = (k / (K - 1)) * (s.n - 1);
      const i = Math.min(s.n - 2, Math.floor(pos));
      const f = pos - i;
      const a = s.posture[c]!;
      v[c * K + k] = s.n === 1 ? a[0]! : a[i]! + f * (a[i + 1]! - a[i]!);
    }
    return v;
  });
  const mean = new Float64Array(D);
  for (const v of curves) for (let d = 0; d < D; d++) mean[d] = mean[d]! + v[d]! / curves.length;
  const cov = new Float64Array(D * D);
  for (const v of curves) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) cov[i * D + j] = cov[i * D + j]! + ((v[i]! - mean[i]!) * (v[j]! - mean[j]!)) / Math.max(1, curves.length - 1);
  const eig = symmetricEigen(cov, D);
  const kept = Math.max(0, Math.min(o.components, curves.length - 1));
  const components: number[][] = [];
  const scales: number[] = [];
  for (let k = 0; k < kept; k++) {
    if (!(eig.values[k]! > 1e-12)) break;
    components.push(Array.from(eig.vectors.subarray(k * D, (k + 1) * D), (x) => round(x, 4)));
    scales.push(round(Math.sqrt(eig.values[k]!)));
  }
  let leftOver = 0;
  for (let k = components.length; k < D; k++) leftOver += Math.max(0, eig.values[k]!);
  const residualStd = round(Math.sqrt(leftOver / D));
  // Envelope: RMS of the motion in K bins of normalized time, relative to the recording's level.
  const env = new Float64Array(K);
  for (let r = 0; r < splits.length; r++) {
    const s = splits[r]!;
    const sq = new Float64Array(K);
    const cnt = new Float64Array(K);
    for (let t = 0; t < s.n; t++) {
      const k = Math.min(K - 1, Math.round((t / Math.max(1, s.n - 1)) * (K - 1)));
      for (let c = 0; c < 3; c++) sq[k] = sq[k]! + s.motion[c]![t]! ** 2 / 3;
      cnt[k] = cnt[k]! + 1;
    }
    for (let k = 0; k < K; k++) env[k] = env[k]! + (cnt[k]! > 0 ? sq[k]! / cnt[k]! / levels[r]! ** 2 : 1) / splits.length;
  }
  let ms = 0;
  for (let k = 0; k < K; k++) ms += env[k]! / K;
  const envelope = Array.from(env, (v) => Math.sqrt(v / ms));
  // VAR(p) on u = motion / (level · envelope(τ)), pooled over recordings: least squares.
  const us: Float64Array[] = splits.map((s, r) => {
    const u = new Float64Array(s.n * 3);
    for (let t = 0; t < s.n; t++) {
      const e = knotValue(envelope, 0, K, t / Math.max(1, s.n - 1)) * levels[r]!;
      for (let c = 0; c < 3; c++) u[t * 3 + c] = s.motion[c]![t]! / e;
    }
    return u;
  });
  const motionVar = fitVar(us, o.order, o.ridge);
  // Wander: posture minus its knot curve, every `dec` samples (the low-pass leaves little above 1 Hz).
  const dec = Math.max(1, Math.round(o.rateHz / 4));
  const ws: Float64Array[] = splits.map((s, r) => {
    const m = Math.floor((s.n - 1) / dec) + 1;
    const w = new Float64Array(m * 3);
    for (let i = 0; i < m; i++) {
      const t = i * dec;
      for (let c = 0; c < 3; c++) w[i * 3 + c] = s.posture[c]![t]! - knotValue(curves[r]!, c * K, K, t / Math.max(1, s.n - 1));
    }
    return w;
  });
  const wanderOrder = 4;
  const wanderVar = fitVar(ws, wanderOrder, o.ridge);
  return {
    activity,
    recordings: recs.length,
    duration: { logMean: round(logN.mean), logStd: round(logN.std), min: Math.min(...splits.map((s) => s.n)), max: Math.max(...splits.map((s) => s.n)) },
    posture: { mean: Array.from(mean, (v) => round(v, 5)), components, scales, residualStd },
    level: { logMean: round(logLevel.mean), logStd: round(logLevel.std) },
    envelope: envelope.map((v) => round(v, 5)),
    order: o.order,
    ...motionVar,
    wander: { decimation: dec, order: wanderOrder, ...wanderVar },
  };
}

/**
 * Least-squares VAR(p) of 3-channel sequences (pooled, each from its own start):
 * y[t] = Σ_{j=1..p} A_j y[t-j] + e[t], with a ridge on the normal equations, the stability guard,
 * and the Cholesky factor of the innovation covariance of the guarded model.
 */
export function fitVar(seqs: readonly Float64Array[], p: number, ridge: number): { coefficients: number[][]; innovation: number[][]; spectralRadius: number } {
  const P = 3 * p;
  const XtX = new Float64Array(P * P);
  const XtY = new Float64Array(P * 3);
  // The regressors are a sliding window of the sequence, so every normal-equation entry is a
  // lagged cross product over a shifted range: with prefix sums
  //   S_L[c][d](s) = Σ_{s' < s, s' >= L} u[s'][c] · u[s' - L][d]
  //   XtX[(j,c),(k,d)] = Σ_{t=p}^{n-1} u[t-j][c] u[t-k][d] = S_{k-j}[c][d](n-j) - S_{k-j}[c][d](p-j)   (j <= k)
  //   XtY[(j,c), e]     = Σ_{t=p}^{n-1} u[t-j][c] u[t][e]   = S_j[e][c](n) - S_j[e][c](p)
  const longest = Math.max(0, ...seqs.map((u) => u.length / 3));
  const store = new Float64Array(9 * (p + 1) * (longest + 1));
  for (const u of seqs) {
    const n = u.length / 3;
    if (n <= p) continue;
    const pre: Float64Array[] = [];
    for (let L = 0; L <= p; L++) {
      for (let c = 0; c < 3; c++) {
        for (let d = 0; d < 3; d++) {
          const idx = (L * 3 + c) * 3 + d;
          const a = store.subarray(idx * (n + 1), (idx + 1) * (n + 1));
          a[0] = 0;
          for (let q = 0; q < n; q++) a[q + 1] = a[q]! + (q >= L ? u[q * 3 + c]! * u[(q - L) * 3 + d]! : 0);
          pre[idx] = a;
        }
      }
    }
    for (let j = 1; j <= p; j++) {
      for (let k = j; k <= p; k++) {
        const L = k - j;
        for (let c = 0; c < 3; c++) {
          for (let d = 0; d < 3; d++) {
            const a = pre[(L * 3 + c) * 3 + d]!;
            const v = a[n - j]! - a[p - j]!;
            const r = (j - 1) * 3 + c;
            const q = (k - 1) * 3 + d;
            XtX[r * P + q] = XtX[r * P + q]! + v;
            if (j !== k) XtX[q * P + r] = XtX[q * P + r]! + v;
          }
        }
      }
      for (let c = 0; c < 3; c++) {
        for (let e = 0; e < 3; e++) {
          const a = pre[(j * 3 + e) * 3 + c]!;
          XtY[((j - 1) * 3 + c) * 3 + e] = XtY[((j - 1) * 3 + c) * 3 + e]! + a[n]! - a[p]!;
        }
      }
    }
  }
  let diag = 0;
  for (let a = 0; a < P; a++) diag += XtX[a * P + a]! / P;
  for (let a = 0; a < P; a++) XtX[a * P + a] = XtX[a * P + a]! + ridge * diag + 1e-12;
  const B = solveSpd(XtX, P, XtY, 3); // [P][3]
  let A: number[][] = [0, 1, 2].map((i) => Array.from({ length: P }, (_, a) => B[a * 3 + i]!));
  let radius = varSpectralRadius(A, p);
  if (radius >= MAX_RADIUS) {
    // Scaling lag j by λ^j scales every root of the characteristic polynomial by λ.
    const lambda = (MAX_RADIUS - 0.005) / radius;
    A = A.map((row) => row.map((v, a) => v * lambda ** (Math.floor(a / 3) + 1)));
    radius = varSpectralRadius(A, p);
  }
  // Innovation covariance of the (guarded) model on the same data.
  const S = new Float64Array(9);
  let count = 0;
  const e = new Float64Array(3);
  for (const u of seqs) {
    const n = u.length / 3;
    for (let t = p; t < n; t++) {
      for (let i = 0; i < 3; i++) {
        let acc = u[t * 3 + i]!;
        for (let j = 1; j <= p; j++) for (let c = 0; c < 3; c++) acc -= A[i]![3 * (j - 1) + c]! * u[(t - j) * 3 + c]!;
        e[i] = acc;
      }
      for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) S[i * 3 + k] = S[i * 3 + k]! + e[i]! * e[k]!;
      count++;
    }
  }
  for (let i = 0; i < 9; i++) S[i] = S[i]! / Math.max(1, count) + 1e-12;
  const L = cholesky(S, 3);
  return {
    coefficients: A.map((row) => row.map((v) => round(v))),
    innovation: [0, 1, 2].map((i) => [0, 1, 2].map((k) => round(L[i * 3 + k]!))),
    spectralRadius: round(radius),
  };
}

/**
 * Sensor noise σ (g) before quantization, from the stillest seconds: for white noise of σ the
 * second difference has variance 6σ²; the 5th percentile over 1-s blocks of all recordings,
 * minus the quantization step's own share (Δ²/12 per sample, ·6 for the second difference).
 */
export function estimateSensorNoise(recs: readonly FitRecording[], rateHz: number, stepG: number): number {
  const block = Math.max(4, Math.round(rateHz));
  const vars: number[] = [];
  for (const r of recs) {
    const n = r.g.length / 3;
    for (let b = 0; b + block <= n; b += block) {
      let sq = 0;
      let cnt = 0;
      for (let t = b + 2; t < b + block; t++) {
        for (let c = 0; c < 3; c++) {
          const d2 = r.g[t * 3 + c]! - 2 * r.g[(t - 1) * 3 + c]! + r.g[(t - 2) * 3 + c]!;
          sq += d2 * d2;
          cnt++;
        }
      }
      vars.push(sq / cnt / 6);
    }
  }
  vars.sort((a, b) => a - b);
  const v = vars[Math.floor(0.05 * (vars.length - 1))] ?? 0;
  return Math.sqrt(Math.max(0, v - (stepG * stepG) / 12));
}

/** Fits every activity present in `recs` (sorted by name). */
/**
 * Refuses options the fit cannot use: a NaN rateHz wrote a model full of NaN (saved as null), a
 * rate, knot count, low-pass or ridge out of range threw a bare RangeError from deep inside, and a
 * sensor with 0 or more than 8 bits (the generator's codes are bytes) or a range of 0 g was kept.
 */
function checkFitOptions(o: FitOptions): void {
  const bad = (field: string, expected: string, got: unknown): EdgeRnnError => new EdgeRnnError('BAD_DATA', `imu generator fit: ${field} must be ${expected}, got ${String(got)}`, { field, expected, got });
  const whole = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min;
  if (!(o.rateHz > 0 && Number.isFinite(o.rateHz))) throw bad('rateHz', 'a positive finite number of Hz', o.rateHz);
  if (!whole(o.knots, 2)) throw bad('knots', 'an integer >= 2', o.knots);
  if (!(o.lowpassSeconds > 0 && Number.isFinite(o.lowpassSeconds))) throw bad('lowpassSeconds', 'a positive finite number of s', o.lowpassSeconds);
  if (!whole(o.order, 0)) throw bad('order', 'an integer >= 0', o.order);
  if (!whole(o.components, 0)) throw bad('components', 'an integer >= 0', o.components);
  if (!(o.ridge >= 0 && Number.isFinite(o.ridge))) throw bad('ridge', 'a finite number >= 0', o.ridge);
  if (typeof o.sensor !== 'object' || o.sensor === null) throw bad('sensor', 'an object {rangeG, bits}', o.sensor);
  if (!(o.sensor.rangeG > 0 && Number.isFinite(o.sensor.rangeG))) throw bad('sensor.rangeG', 'a positive finite number of g', o.sensor.rangeG);
  if (!(whole(o.sensor.bits, 1) && o.sensor.bits <= 8)) throw bad('sensor.bits', 'an integer in [1, 8] (codes are bytes)', o.sensor.bits);
}

export function fitImuGenerator(recs: readonly FitRecording[], options: Partial<FitOptions> & Pick<FitOptions, 'rateHz' | 'sensor'>, source: ImuGeneratorModel['source']): ImuGeneratorModel {
  const o: FitOptions = { ...FIT_DEFAULTS, ...options };
  checkFitOptions(o);
  // An empty recording fitted a duration of ln(0) = -Infinity and NaN statistics, written as null.
  recs.forEach((r, i) => {
    if (r.g.length < 3 || r.g.length % 3 !== 0) throw new EdgeRnnError('BAD_DATA', `imu generator fit: recording ${i} (${r.activity}) must hold whole [x, y, z] samples, at least one; got ${r.g.length} values`, { recording: i, values: r.g.length });
  });
  const activities = [...new Set(recs.map((r) => r.activity))].sort();
  const stepG = (2 * o.sensor.rangeG) / (2 ** o.sensor.bits - 1);
  return {
    format: 'edgernn-imu-generator/1',
    source,
    rateHz: o.rateHz,
    axes: ['ax', 'ay', 'az'],
    knots: o.knots,
    lowpassSeconds: o.lowpassSeconds,
    sensor: { rangeG: o.sensor.rangeG, bits: o.sensor.bits, noiseG: round(estimateSensorNoise(recs, o.rateHz, stepG)) },
    activities: activities.map((a) => fitActivity(a, recs.filter((r) => r.activity === a), o)),
  };
}
