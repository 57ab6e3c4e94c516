/**
 * Training sets made by the IMU generator (firmware-sim/imu): fit it to a fold's real training
 * recordings, then synthesize recordings of each class (as many as the real set has, times
 * `multiplier`) with durations drawn from the fit. The model trained on them never sees a real
 * sample; it is scored on the held-out real volunteers like any other fold.
 */
import { fitImuGenerator, type FitOptions } from '../../../firmware-sim/imu/fit.js';
import { synthesizeRecording } from '../../../firmware-sim/imu/generator.js';
import type { ImuGeneratorModel } from '../../../firmware-sim/imu/model.js';
import { codesToG, HMP_MAX_CODE, HMP_RATE_HZ, sortVolunteers, type HmpRecording } from './hmp.js';

/** The HMP sensor: ±1.5 g in 6 bits. */
export const HMP_SENSOR = { rangeG: 1.5, bits: 6 } as const;

export function fitHmpGenerator(recs: readonly HmpRecording[], sha256: string, options: Partial<FitOptions> = {}): ImuGeneratorModel {
  return fitImuGenerator(
    recs.map((r) => ({ activity: r.activity, g: codesToG(r.codes) })),
    { rateHz: HMP_RATE_HZ, sensor: HMP_SENSOR, ...options },
    { dataset: 'HMP (Bruno et al. 2014, UCI ADL wrist accelerometer)', sha256, recordings: recs.length, volunteers: sortVolunteers(recs.map((r) => r.volunteer)) },
  );
}

/** Synthetic recordings shaped like `like` (same classes and counts × multiplier); volunteer 'synthetic'. */
export function synthesizeLike(model: ImuGeneratorModel, like: readonly HmpRecording[], seed: number, multiplier = 1): HmpRecording[] {
  const out: HmpRecording[] = [];
  const classes = [...new Set(like.map((r) => r.activity))].sort();
  for (const a of classes) {
    const n = Math.round(like.filter((r) => r.activity === a).length * multiplier);
    for (let i = 0; i < n; i++) {
      const codes = synthesizeRecording(model, a, seed * 100_003 + classes.indexOf(a) * 10_007 + i);
      if (codes.some((c) => c > HMP_MAX_CODE)) throw new RangeError('generator produced a code above the sensor range');
      out.push({ activity: a, volunteer: 'synthetic', file: `synthetic/${a}-${i}.txt`, startTime: '0000-00-00-00-00-00', codes, samples: codes.length / 3 });
    }
  }
  return out;
}
