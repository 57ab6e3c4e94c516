/**
 * Seeded synthetic datasets for tests, benchmarks and docs (no files needed).
 *
 * firstStepsTask: the hard case. Each sequence is `steps` frames of 2 features of
 * N(0, 1) noise; in the first `signalSteps` frames the features carry ±amplitude, and the class
 * (4 of them) is the pair of signs. Everything after that is noise, so the network must carry
 * two bits across the whole sequence. The loss typically sits at ln 4 for many epochs before
 * the gradient through the long noisy stretch finds the signal.
 *
 * sineForecast: noisy sums of sines; target = the value `horizon` steps ahead.
 */
import { Rng } from '../../src/index.js';
import type { Dataset, Sample } from './dataset.js';

export interface FirstStepsOptions {
  count: number;
  steps?: number;
  signalSteps?: number;
  amplitude?: number;
  seed?: number;
  /** Vary lengths in [steps/2, steps] (exercises masks). */
  variableLength?: boolean;
}

export function firstStepsTask(o: FirstStepsOptions): Dataset {
  const rng = new Rng(o.seed ?? 7);
  const steps = o.steps ?? 40;
  const sig = o.signalSteps ?? 3;
  const amp = o.amplitude ?? 2;
  const samples: Sample[] = [];
  for (let n = 0; n < o.count; n++) {
    const y = n % 4;
    const T = o.variableLength ? rng.int(Math.ceil(steps / 2), steps) : steps;
    const x = new Float32Array(T * 2);
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < 2; k++) {
        const sign = ((y >> k) & 1) === 1 ? 1 : -1;
        x[t * 2 + k] = rng.normal() + (t < sig ? sign * amp : 0);
      }
    }
    samples.push({ x, T, y, where: `synthetic[${n}]` });
  }
  return { source: 'synthetic:first-steps', sha256: '0'.repeat(64), features: 2, labels: ['--', '+-', '-+', '++'], targetSize: 0, samples };
}

export function sineForecast(o: { count: number; steps?: number; horizon?: number; seed?: number; noise?: number }): Dataset {
  const rng = new Rng(o.seed ?? 11);
  const T = o.steps ?? 48;
  const h = o.horizon ?? 1;
  const samples: Sample[] = [];
  for (let n = 0; n < o.count; n++) {
    const f1 = rng.uniform(0.05, 0.2);
    const f2 = rng.uniform(0.2, 0.4);
    const p1 = rng.uniform(0, 6.3);
    const p2 = rng.uniform(0, 6.3);
    const a2 = rng.uniform(0.2, 0.6);
    const series = new Float64Array(T + h);
    for (let t = 0; t < T + h; t++) series[t] = Math.sin(f1 * t + p1) + a2 * Math.sin(f2 * t + p2) + (o.noise ?? 0.05) * rng.normal();
    const x = new Float32Array(T);
    const target = new Float32Array(T);
    for (let t = 0; t < T; t++) {
      x[t] = series[t]!;
      target[t] = series[t + h]!;
    }
    samples.push({ x, T, target, where: `synthetic[${n}]` });
  }
  return { source: 'synthetic:sine', sha256: '0'.repeat(64), features: 1, labels: [], targetSize: 1, samples };
}

/** Writes a dataset as JSON Lines (what `edgernn train --data` reads). */
export function toJsonl(ds: Dataset): string {
  return ds.samples
    .map((s) => {
      const rows = (a: Float32Array, w: number): number[][] => Array.from({ length: s.T }, (_, t) => Array.from(a.subarray(t * w, (t + 1) * w)));
      const o: Record<string, unknown> = { x: rows(s.x, ds.features) };
      if (s.y !== undefined) o.y = ds.labels[s.y];
      if (s.target) o.target = rows(s.target, ds.targetSize);
      return JSON.stringify(o);
    })
    .join('\n');
}
