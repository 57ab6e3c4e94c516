/**
 * Training-time augmentation of HMP recordings, in the sensor's own terms (the result is 6-bit
 * codes again, so the front end sees what a real sensor would send):
 *   rotation   the strap sits a little differently on every wrist: g' = R g, R a rotation by a
 *              uniform angle in [-rotationDeg, rotationDeg] about a uniformly random axis
 *              (Rodrigues: R = I + sinθ K + (1 - cosθ) K²)
 *   intensity  people move with more or less vigour: the motion around a 1 s moving average is
 *              scaled by a uniform factor in [1 - intensity, 1 + intensity]; gravity is kept
 *   speed      and at different speeds: the recording is resampled (linear) by a uniform factor
 *              in [1 - speed, 1 + speed] (1.1 = 10 % faster, fewer samples)
 * then codes = clamp(round((g + 1.5) / 3 · 63), 0, 63).
 */
import type { Rng } from '../../../src/index.js';
import { HMP_MAX_CODE, type HmpRecording } from './hmp.js';

export interface AugmentOptions {
  /** Largest rotation of the sensor frame, degrees. */
  rotationDeg: number;
  /** Largest relative change of the motion's amplitude (0.2 = ±20 %). */
  intensity: number;
  /** Largest relative change of speed (0.1 = ±10 %). */
  speed: number;
}

/**
 * Rotation up to 35°: people wear and hold the wrist differently (in HMP, the two men whose
 * descents train the fold that tests f1 climb with the wrist turned by ~20° against everyone
 * else); 15° left f1's descents to climbing (docs/har.md).
 */
export const DEFAULT_AUGMENT: AugmentOptions = { rotationDeg: 35, intensity: 0.2, speed: 0.1 };

/** Rotation matrix (row-major 3×3) by `angle` radians about the unit vector (x, y, z). */
export function rotationMatrix(x: number, y: number, z: number, angle: number): Float64Array {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const t = 1 - c;
  return Float64Array.of(t * x * x + c, t * x * y - s * z, t * x * z + s * y, t * x * y + s * z, t * y * y + c, t * y * z - s * x, t * x * z - s * y, t * y * z + s * x, t * z * z + c);
}

export function augmentRecording(rec: HmpRecording, o: AugmentOptions, rng: Rng): HmpRecording {
  const n = rec.samples;
  // Uniform axis on the sphere: z uniform in [-1, 1], azimuth uniform.
  const z = rng.uniform(-1, 1);
  const phi = rng.uniform(0, 2 * Math.PI);
  const r = Math.sqrt(1 - z * z);
  const R = rotationMatrix(r * Math.cos(phi), r * Math.sin(phi), z, (rng.uniform(-1, 1) * o.rotationDeg * Math.PI) / 180);
  const gain = 1 + rng.uniform(-1, 1) * o.intensity;
  const speed = 1 + rng.uniform(-1, 1) * o.speed;
  const g = new Float64Array(n * 3);
  for (let t = 0; t < n; t++) {
    const v0 = -1.5 + (rec.codes[t * 3]! / HMP_MAX_CODE) * 3;
    const v1 = -1.5 + (rec.codes[t * 3 + 1]! / HMP_MAX_CODE) * 3;
    const v2 = -1.5 + (rec.codes[t * 3 + 2]! / HMP_MAX_CODE) * 3;
    for (let i = 0; i < 3; i++) g[t * 3 + i] = R[i * 3]! * v0 + R[i * 3 + 1]! * v1 + R[i * 3 + 2]! * v2;
  }
  // Motion gain around a centred 1 s (33-sample) moving average, edge hold.
  if (gain !== 1) {
    const half = 16;
    const avg = new Float64Array(n * 3);
    for (let c = 0; c < 3; c++) {
      let acc = 0;
      for (let k = -half; k <= half; k++) acc += g[Math.min(n - 1, Math.max(0, k)) * 3 + c]!;
      for (let t = 0; t < n; t++) {
        avg[t * 3 + c] = acc / (2 * half + 1);
        acc += g[Math.min(n - 1, t + half + 1) * 3 + c]! - g[Math.max(0, t - half) * 3 + c]!;
      }
    }
    for (let i = 0; i < g.length; i++) g[i] = avg[i]! + gain * (g[i]! - avg[i]!);
  }
  // Speed: output sample j reads input time j · speed (linear interpolation).
  const m = Math.max(2, Math.floor((n - 1) / speed) + 1);
  const codes = new Uint8Array(m * 3);
  for (let j = 0; j < m; j++) {
    const pos = Math.min(n - 1, j * speed);
    const i = Math.min(n - 2, Math.floor(pos));
    const f = pos - i;
    for (let c = 0; c < 3; c++) {
      const v = n === 1 ? g[c]! : g[i * 3 + c]! + f * (g[(i + 1) * 3 + c]! - g[i * 3 + c]!);
      const q = Math.round(((v + 1.5) / 3) * HMP_MAX_CODE);
      codes[j * 3 + c] = q < 0 ? 0 : q > HMP_MAX_CODE ? HMP_MAX_CODE : q;
    }
  }
  return { ...rec, codes, samples: m };
}
