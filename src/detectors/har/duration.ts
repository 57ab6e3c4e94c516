/**
 * How long one execution of each activity lasts, as evidence for labelling a segment whose
 * boundaries are known (an HMP recording; a segment a motion detector cut out of a stream).
 *
 * The window classifier sees 4 s at a time, so it cannot tell getting up from a bed (median
 * 14.2 s in HMP) from standing up from a chair (6.5 s), or lying down (12.7 s) from sitting down
 * (6.6 s), when the windows look alike. A per-class log-normal of the segment length, fitted on
 * the training recordings, adds that: the segment's label is
 *
 *   argmax_c  ln p̄_c + ln N(ln seconds; μ_c, σ_c)
 *
 * with p̄ the mean window posterior (the classifier is trained with balanced class weights, so p̄
 * carries no class prior, and the two terms are weighed one to one as independent evidence).
 * Browser-safe; the model travels in the manifest (`extra.segmentDuration`).
 */
import { EdgeRnnError } from '../../errors.js';
import type { ModelSpec } from '../../model/spec.js';

/** Where a model's manifest keeps its duration model (`extra.segmentDuration`). */
export const SEGMENT_DURATION_KEY = 'segmentDuration';

export interface DurationModel {
  /** Per class, in the model's label order: mean and standard deviation of ln(seconds). */
  mean: number[];
  sd: number[];
}

/** The smallest σ a fit keeps (ln units: ±10 %), so a class seen at one length is not a spike. */
export const DURATION_SD_FLOOR = 0.1;

/** Fits the per-class log-normal from labelled segment lengths. Every class needs one segment. */
export function fitDurationModel(segments: ReadonlyArray<{ y: number; seconds: number }>, classes: number): DurationModel {
  // (A class count of 2.5 or -1 threw a bare RangeError from the typed arrays.)
  if (!(Number.isInteger(classes) && classes >= 1)) throw new EdgeRnnError('BAD_DATA', `duration model: classes must be an integer >= 1, got ${JSON.stringify(classes)}`, { expected: 'an integer >= 1', got: classes });
  const sum = new Float64Array(classes);
  const sq = new Float64Array(classes);
  const n = new Float64Array(classes);
  for (const s of segments) {
    if (!Number.isInteger(s.y) || s.y < 0 || s.y >= classes) throw new EdgeRnnError('BAD_DATA', `segment class ${s.y}: expected an integer in 0..${classes - 1}`);
    if (!(s.seconds > 0) || !Number.isFinite(s.seconds)) throw new EdgeRnnError('BAD_DATA', `segment length ${s.seconds} s: expected a positive finite number`);
    const l = Math.log(s.seconds);
    sum[s.y]! += l;
    sq[s.y]! += l * l;
    n[s.y]! += 1;
  }
  const mean: number[] = [];
  const sd: number[] = [];
  for (let c = 0; c < classes; c++) {
    if (n[c] === 0) throw new EdgeRnnError('BAD_DATA', `no segment of class ${c}: cannot fit its duration`);
    const m = sum[c]! / n[c]!;
    const v = n[c]! > 1 ? Math.max(0, (sq[c]! - n[c]! * m * m) / (n[c]! - 1)) : 0;
    mean.push(m);
    sd.push(Math.max(DURATION_SD_FLOOR, Math.sqrt(v)));
  }
  return { mean, sd };
}

/** A manifest's duration model, checked against the number of classes (typed error naming the defect). */
export function parseDurationModel(x: unknown, classes: number): DurationModel {
  const o = x as Partial<DurationModel> | null;
  for (const k of ['mean', 'sd'] as const) {
    const v = o?.[k];
    if (!Array.isArray(v) || v.length !== classes) {
      throw new EdgeRnnError('ERN_MANIFEST', `segmentDuration.${k}: expected ${classes} numbers (one per label), got ${Array.isArray(v) ? `${v.length} entries` : JSON.stringify(v)}`);
    }
    v.forEach((e, c) => {
      if (typeof e !== 'number' || !Number.isFinite(e) || (k === 'sd' && e <= 0)) {
        throw new EdgeRnnError('ERN_MANIFEST', `segmentDuration.${k}[${c}]: expected a ${k === 'sd' ? 'positive' : 'finite'} number, got ${JSON.stringify(e)}`);
      }
    });
  }
  return { mean: [...o!.mean!], sd: [...o!.sd!] };
}

/** A model's duration model, or undefined when its manifest has none (typed error when malformed). */
export function durationModelOf(spec: Pick<ModelSpec, 'extra' | 'labels'>): DurationModel | undefined {
  const x = spec.extra?.[SEGMENT_DURATION_KEY];
  return x === undefined ? undefined : parseDurationModel(x, spec.labels.length);
}

/** ln N(ln seconds; μ_c, σ_c) per class, without the constant shared by all classes. */
export function durationLogLikelihood(m: DurationModel, seconds: number): Float64Array {
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new EdgeRnnError('DETECTOR_OPTION', `segment length ${seconds} s: expected a positive finite number`);
  const l = Math.log(seconds);
  return Float64Array.from(m.mean, (mu, c) => {
    const z = (l - mu) / m.sd[c]!;
    return -Math.log(m.sd[c]!) - 0.5 * z * z;
  });
}

/** The label of a segment: its mean window posterior, and its length when a model is given. */
export function classifySegment(meanPosterior: ArrayLike<number>, seconds: number, m?: DurationModel): number {
  // A posterior of another width than the duration model scored its extra classes NaN (never
  // chosen) or ignored the model's: a silent wrong label. NaN did the same to its class.
  const n = meanPosterior?.length;
  if (typeof n !== 'number' || n === 0 || (m && (m.mean.length !== n || m.sd.length !== n))) {
    const want = m ? `${m.mean.length} values (one per class of the duration model${m.sd.length !== m.mean.length ? `, which has ${m.mean.length} means and ${m.sd.length} sds` : ''})` : 'one value per class';
    throw new EdgeRnnError('SHAPE_MISMATCH', `segment posterior: expected ${want}, got ${typeof n === 'number' ? n : typeof meanPosterior}`, { expected: m ? m.mean.length : 'at least 1', got: n });
  }
  for (let c = 0; c < n; c++) {
    if (!Number.isFinite(meanPosterior[c])) throw new EdgeRnnError('NON_FINITE_INPUT', `segment posterior: class ${c} is ${meanPosterior[c]}`, { output: c });
  }
  const ll = m ? durationLogLikelihood(m, seconds) : undefined;
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < meanPosterior.length; c++) {
    // A posterior of exactly 0 stays possible (ln of 1e-12, not -Infinity), so a length can still decide.
    const s = Math.log(Math.max(meanPosterior[c]!, 1e-12)) + (ll ? ll[c]! : 0);
    if (s > bestScore) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}
