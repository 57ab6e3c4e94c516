import { describe, expect, it } from 'vitest';
import { AnomalyLikelihood, ForecastAnomalyDetector, isEdgeRnnError, Rng, StreamingLikelihood, type StreamingLikelihoodOptions } from '../../../src/index.js';
import { erfc } from '../../../src/detectors/anomaly/numeric.js';
import { errorMessage, expectCode } from '../../helpers/errors.js';

/**
 * Oracle written from the formulas, not from the class: the average re-summed from the kept raw
 * scores every step, the statistics as explicit weighted sums.
 */
function likelihoodOracle(o: StreamingLikelihoodOptions, raws: readonly number[]): number[] {
  const alpha = 1 - Math.pow(2, -1 / o.halfLifeRecords);
  const out: number[] = [];
  let mean = 0;
  let variance = 0;
  let prevTail = 1;
  for (let n = 0; n < raws.length; n++) {
    const window = raws.slice(Math.max(0, n - o.averagingWindow + 1), n + 1);
    const a = window.reduce((s, x) => s + x, 0) / window.length;
    if (n < o.learningPeriod) {
      out.push(0.5);
      continue;
    }
    let l = 0.5;
    if (n >= o.learningPeriod + o.estimationSamples) {
      const m = Math.max(0.03, mean);
      const sd = Math.sqrt(Math.max(0.0003, variance));
      const x = a < m ? 2 * m - a : a;
      const tail = 0.5 * erfc((x - m) / sd / 1.4142);
      l = 1 - (tail <= 1e-5 && prevTail <= 1e-5 ? 1e-3 : tail);
      prevTail = tail;
    }
    const w = Math.max(alpha, 1 / (n - o.learningPeriod + 1));
    const d = a - mean;
    mean += w * d;
    variance = (1 - w) * (variance + w * d * d);
    out.push(l);
  }
  return out;
}

function raws(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, t) => Math.min(1, Math.abs(0.05 * rng.normal()) + (t % 250 === 249 ? 0.9 : 0)));
}

describe('StreamingLikelihood', () => {
  const o: StreamingLikelihoodOptions = { learningPeriod: 20, estimationSamples: 50, averagingWindow: 10, halfLifeRecords: 100 };

  it('equals the formula oracle (moving average, exponentially forgetting Gaussian, red filter)', () => {
    const r = raws(1000, 1);
    const l = new StreamingLikelihood(o);
    const got = r.map((x) => l.update(x));
    const want = likelihoodOracle(o, r);
    for (let i = 0; i < r.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 12);
    expect(got.slice(0, 70).every((x) => x === 0.5)).toBe(true);
    // Each spike is red at its onset only (the filter turns the next red records yellow).
    expect(got.filter((x) => x > 1 - 1e-5).length).toBeGreaterThan(0);
    expect(Math.max(...got.slice(260, 300))).toBeLessThan(1 - 1e-4);
  });

  it('export/import continues exactly, and a bad state changes nothing', () => {
    const r = raws(800, 2);
    const whole = new StreamingLikelihood(o);
    const a = r.map((x) => whole.update(x));
    const first = new StreamingLikelihood(o);
    for (const x of r.slice(0, 333)) first.update(x);
    const saved = JSON.parse(JSON.stringify(first.exportState())) as unknown;
    const second = new StreamingLikelihood(o);
    second.importState(saved);
    expect(r.slice(333).map((x) => second.update(x))).toEqual(a.slice(333));
    const victim = new StreamingLikelihood(o);
    expectCode(() => victim.importState({ ...(saved as object), ring: [1, 2] }), 'STATE_MISMATCH', /expected a ring of 10 raw scores \(averagingWindow\), got 2/);
    expectCode(() => victim.importState({ ...(saved as object), variance: -1 }), 'STATE_MISMATCH', /variance must be >= 0/);
    expectCode(() => victim.importState(null), 'STATE_MISMATCH', /expected an object/);
    expect(victim.update(0.1)).toBe(0.5); // still fresh
  });

  it('refuses a non-finite raw score without changing its state (a NaN made every later likelihood NaN)', () => {
    const r = raws(300, 3);
    const clean = new StreamingLikelihood(o);
    const want = r.map((x) => clean.update(x));
    const l = new StreamingLikelihood(o);
    const got: number[] = [];
    for (let i = 0; i < r.length; i++) {
      if (i === 150) {
        for (const bad of [NaN, Infinity, -Infinity]) expectCode(() => l.update(bad), 'NON_FINITE_INPUT', new RegExp(`raw score must be finite, got ${bad}; nothing was changed`));
      }
      got.push(l.update(r[i]!));
    }
    expect(got).toEqual(want);
    expect(l.exportState()).toEqual(clean.exportState());
  });

  it('rejects bad options naming the field', () => {
    expectCode(() => new StreamingLikelihood({ averagingWindow: 0 }), 'DETECTOR_OPTION', /averagingWindow must be an integer in \[1, 100000\], got 0/);
    expectCode(() => new StreamingLikelihood({ halfLifeRecords: 0.5 }), 'DETECTOR_OPTION', /halfLifeRecords must be a finite number >= 1, got 0.5/);
    expectCode(() => new StreamingLikelihood({ estimationSamples: 0 }), 'DETECTOR_OPTION', /estimationSamples must be an integer in \[1, 1e9\], got 0/);
  });

  it('refuses an averaging window too long to hold per stream (it allocated 8 GB per stream at 1e9)', () => {
    expectCode(() => new StreamingLikelihood({ averagingWindow: 1e9 }), 'DETECTOR_OPTION', /averagingWindow must be an integer in \[1, 100000\], got 1000000000/);
    expect(new StreamingLikelihood({ averagingWindow: 100_000 }).update(0.5)).toBe(0.5);
  });
});

/** Frames y_t (a sine in running-std units) and outputs ŷ_{t+1} = a perfect forecaster, except at `bad`. */
function forecasterStream(n: number, bad: number[], seed: number): { inputs: Float32Array[]; outputs: Float32Array[] } {
  const rng = new Rng(seed);
  const y = Array.from({ length: n + 1 }, (_, t) => Math.sin(t / 10) + 0.05 * rng.normal() + (bad.includes(t) ? 6 : 0));
  const inputs = y.slice(0, n).map((v) => Float32Array.of(v));
  // The model predicts the noiseless next value.
  const outputs = y.slice(0, n).map((_, t) => Float32Array.of(Math.sin((t + 1) / 10)));
  return { inputs, outputs };
}

describe('ForecastAnomalyDetector', () => {
  const options = { errorGain: 4, likelihood: { learningPeriod: 10, estimationSamples: 100, averagingWindow: 10, halfLifeRecords: 500 }, alert: { onThreshold: 0.5, offThreshold: 0.3, minHoldSteps: 5 } };

  it('scores e_t = |y_t - ŷ_t| through the likelihood and raises one alert per anomaly', () => {
    const { inputs, outputs } = forecasterStream(1000, [400, 401, 402, 800, 801, 802], 5);
    const d = new ForecastAnomalyDetector(options);
    const l = new StreamingLikelihood(options.likelihood);
    const events: Array<{ t: number; score: number; error: number }> = [];
    for (let t = 0; t < inputs.length; t++) {
      const ev = d.step(outputs[t]!, inputs[t]!);
      const e = t === 0 ? 0 : Math.abs(inputs[t]![0]! - outputs[t - 1]![0]!);
      expect(d.lastError).toBeCloseTo(e, 6);
      expect(d.lastScore).toBe(AnomalyLikelihood.logLikelihood(l.update(Math.min(1, d.lastError / 4))));
      if (ev) events.push({ t, ...ev });
    }
    // One alert per burst, within the burst (the 10-record average may need a second bad record
    // once the first burst has widened the error distribution).
    expect(events).toHaveLength(2);
    expect(events[0]!.t).toBe(400);
    expect(events[1]!.t).toBeGreaterThanOrEqual(800);
    expect(events[1]!.t).toBeLessThanOrEqual(802);
    expect(events[0]!.error).toBeGreaterThan(5);
    expect(events[0]!.score).toBeGreaterThanOrEqual(0.5);
  });

  it('export/import mid-alert continues with the same scores and events', () => {
    const { inputs, outputs } = forecasterStream(1000, [400, 401, 402, 700], 6);
    const whole = new ForecastAnomalyDetector(options);
    const want = inputs.map((x, t) => [whole.step(outputs[t]!, x)?.score ?? null, whole.lastScore]);
    for (const cut of [402, 403, 650]) {
      const a = new ForecastAnomalyDetector(options);
      for (let t = 0; t < cut; t++) a.step(outputs[t]!, inputs[t]!);
      if (cut < 404) expect(a.alerting).toBe(true);
      const b = new ForecastAnomalyDetector(options);
      b.importState(JSON.parse(JSON.stringify(a.exportState())));
      expect(b.alerting).toBe(a.alerting);
      const got = inputs.slice(cut).map((x, i) => [b.step(outputs[cut + i]!, x)?.score ?? null, b.lastScore]);
      expect(got).toEqual(want.slice(cut));
    }
  });

  it('rejects bad options, frames without the channel, and bad states', () => {
    expectCode(() => new ForecastAnomalyDetector({ errorGain: -1 }), 'DETECTOR_OPTION', /errorGain must be a finite number > 0, got -1/);
    expectCode(() => new ForecastAnomalyDetector({ alert: { onThreshold: 0.3, offThreshold: 0.5, minHoldSteps: 1 } }), 'DETECTOR_OPTION', /offThreshold <= onThreshold/);
    // The score is in [0, 1]: above 1 an alert never rises, at 0 it never clears.
    expectCode(() => new ForecastAnomalyDetector({ alert: { onThreshold: 50, offThreshold: 30, minHoldSteps: 1 } }), 'DETECTOR_OPTION', /onThreshold must be in \(0, 1\] \(the score is in \[0, 1\]\), got 50/);
    expectCode(() => new ForecastAnomalyDetector({ alert: { onThreshold: 0, offThreshold: 0, minHoldSteps: 1 } }), 'DETECTOR_OPTION', /onThreshold must be in \(0, 1\]/);
    expectCode(() => new ForecastAnomalyDetector({ alert: { onThreshold: 0.5, offThreshold: 0, minHoldSteps: 1 } }), 'DETECTOR_OPTION', /offThreshold must be in \(0, onThreshold\]/);
    expect(new ForecastAnomalyDetector({ alert: { onThreshold: 1, offThreshold: 0.01, minHoldSteps: 1 } }).options.alert.onThreshold).toBe(1);
    const d = new ForecastAnomalyDetector({ channel: 2 });
    expectCode(() => d.step(new Float32Array(1), new Float32Array(1)), 'SHAPE_MISMATCH', /channel 2 needs frames and outputs with more than 2 values, got 1 inputs and 1 outputs/);
    const e = new ForecastAnomalyDetector();
    // Missing rows, and NaN in the frame or the forecast (it poisoned the likelihood): named, nothing changed.
    e.step(new Float32Array([0.5]), new Float32Array([0.4]));
    const before = JSON.stringify(e.exportState());
    expectCode(() => e.step(undefined as never, undefined as never), 'SHAPE_MISMATCH', /step\(output, input\) takes the model's output row and the frame it stepped, got undefined and undefined/);
    expectCode(() => e.step(new Float32Array([NaN]), new Float32Array([0.4])), 'NON_FINITE_INPUT', /step 1: the forecast is NaN \(channel 0\); nothing was changed/);
    expectCode(() => e.step(new Float32Array([0.5]), new Float32Array([Infinity])), 'NON_FINITE_INPUT', /step 1: the frame value is Infinity/);
    expect(JSON.stringify(e.exportState())).toBe(before);
    expect(Number.isFinite(e.step(new Float32Array([0.5]), new Float32Array([0.45])) === null ? e.lastScore : 0)).toBe(true);
    expectCode(() => e.importState({ ...e.exportState(), steps: -1 }), 'STATE_MISMATCH', /steps must be an integer >= 0/);
    expectCode(() => e.importState({ ...e.exportState(), likelihood: { n: 0 } }), 'STATE_MISMATCH', /ring/);
  });
});

describe('StreamingLikelihood and ForecastAnomalyDetector: long streams and saved states', () => {
  const o: StreamingLikelihoodOptions = { learningPeriod: 20, estimationSamples: 50, averagingWindow: 10, halfLifeRecords: 100 };

  it('the moving average does not drift: after 10^6 random scores a window of zeros sums to exactly 0 (it stayed ~1e-13 off)', () => {
    const l = new StreamingLikelihood(o);
    let s = 12345;
    for (let t = 0; t < 1_000_000; t++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      l.update((s / 2 ** 32) ** 2);
    }
    for (let t = 0; t < 2 * o.averagingWindow; t++) l.update(0);
    expect(l.exportState().ringSum).toBe(0);
  });

  it('export/import at any cut point (learning, estimation, scoring, mid-alert) gives the uninterrupted scores and events', () => {
    const options = { errorGain: 4, likelihood: { learningPeriod: 10, estimationSamples: 30, averagingWindow: 4, halfLifeRecords: 50 }, alert: { onThreshold: 0.5, offThreshold: 0.3, minHoldSteps: 3 } };
    const { inputs, outputs } = forecasterStream(300, [100, 101, 180, 250, 251, 252], 8);
    const whole = new ForecastAnomalyDetector(options);
    const want = inputs.map((x, t) => [whole.step(outputs[t]!, x)?.score ?? null, whole.lastScore, whole.alerting]);
    expect(want.some((w) => w[0] !== null)).toBe(true);
    for (let cut = 0; cut <= inputs.length; cut += 3) {
      const a = new ForecastAnomalyDetector(options);
      for (let t = 0; t < cut; t++) a.step(outputs[t]!, inputs[t]!);
      const b = new ForecastAnomalyDetector(options);
      b.importState(JSON.parse(JSON.stringify(a.exportState())));
      const got = inputs.slice(cut).map((x, i) => [b.step(outputs[cut + i]!, x)?.score ?? null, b.lastScore, b.alerting]);
      expect(got).toEqual(want.slice(cut));
    }
  });

  it('refuses likelihood states whose counters or sums contradict each other, naming the field (they were taken)', () => {
    const l = new StreamingLikelihood(o);
    for (const x of raws(37, 4)) l.update(x);
    const good = l.exportState();
    const before = JSON.stringify(good);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ringCount: 3 }, /ringCount must be 10 \(min\(n 37, averagingWindow 10\)\), got 3/],
      [{ ringHead: 2 }, /ringHead must be 7 \(n 37 mod averagingWindow 10\), got 2/],
      [{ ringSum: 5 }, /ringSum must be the sum of the ring's scores/],
      [{ prevTail: 2 }, /prevTail must be a tail probability in \[0, 1\], got 2/],
      [{ n: -1 }, /n must be an integer in \[0, 9007199254740991\], got -1/],
    ];
    for (const [patch, re] of cases) {
      expectCode(() => l.importState({ ...good, ...patch }), 'STATE_MISMATCH', re);
      expect(JSON.stringify(l.exportState())).toBe(before);
    }
  });

  it('refuses detector states whose alert or step fields contradict each other (an alert on for 0 records was taken)', () => {
    const d = new ForecastAnomalyDetector();
    for (let t = 0; t < 5; t++) d.step(Float32Array.of(0.1), Float32Array.of(0.1));
    const good = d.exportState();
    const before = JSON.stringify(good);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ alertOn: true, alertHeld: 0 }, /alertHeld must be >= 1 while alertOn \(the raising record counts\), got 0/],
      [{ alertOn: false, alertHeld: 4 }, /alertHeld must be 0 while the alert is off, got 4/],
      [{ steps: 9 }, /steps must equal likelihood.n \(5\), got 9/],
      [{ havePrediction: false }, /havePrediction must be true after 5 steps/],
    ];
    for (const [patch, re] of cases) {
      expectCode(() => d.importState({ ...good, ...patch }), 'STATE_MISMATCH', re);
      expect(JSON.stringify(d.exportState())).toBe(before);
    }
  });
});

describe('ForecastAnomalyDetector state: the last transition', () => {
  it('after importState, transition is what the exporting detector last did (it said raised, or none after a clear)', () => {
    const { inputs, outputs } = forecasterStream(700, [300, 301, 302, 500], 6);
    for (const minHoldSteps of [0, 1, 4]) {
      const options = { errorGain: 4, likelihood: { learningPeriod: 10, estimationSamples: 100, averagingWindow: 10, halfLifeRecords: 500 }, alert: { onThreshold: 0.5, offThreshold: 0.3, minHoldSteps } };
      const a = new ForecastAnomalyDetector(options);
      const seen = new Set<string>();
      for (let t = 0; t < inputs.length; t++) {
        a.step(outputs[t]!, inputs[t]!);
        const b = new ForecastAnomalyDetector(options);
        b.importState(JSON.parse(JSON.stringify(a.exportState())));
        expect([t, b.transition, b.alerting]).toEqual([t, a.transition, a.alerting]);
        seen.add(a.transition);
      }
      expect(seen).toEqual(new Set(['none', 'raised', 'cleared']));
    }
    const d = new ForecastAnomalyDetector();
    d.step(Float32Array.of(0.1), Float32Array.of(0.1));
    const good = d.exportState();
    expectCode(() => d.importState({ ...good, transition: 'raised' }), 'STATE_MISMATCH', /transition must be 'none' or 'cleared' while the alert is off, got "raised"/);
    expectCode(() => d.importState({ ...good, transition: undefined }), 'STATE_MISMATCH', /transition must be 'none' or 'cleared' while the alert is off, got undefined/);
    expectCode(() => d.importState({ ...good, alertOn: true, alertHeld: 3, transition: 'raised' }), 'STATE_MISMATCH', /transition must be 'none' while the alert is on for 3 records, got "raised"/);
  });
});

describe('StreamingLikelihood: values out of range', () => {
  const o: StreamingLikelihoodOptions = { learningPeriod: 20, estimationSamples: 50, averagingWindow: 10, halfLifeRecords: 100 };

  it('refuses a raw score outside [0, 1] without changing its state (it was averaged in)', () => {
    const l = new StreamingLikelihood(o);
    for (const x of raws(30, 5)) l.update(x);
    const before = JSON.stringify(l.exportState());
    for (const bad of [-0.1, 1.5, 1e300]) expectCode(() => l.update(bad), 'ANOMALY_SCORE', new RegExp(`raw score must be in \\[0, 1\\], got ${String(bad).replace('+', '\\+')}; nothing was changed`));
    expect(JSON.stringify(l.exportState())).toBe(before);
    expect(l.update(0)).toBe(0.5);
    expect(l.update(1)).toBe(0.5);
  });

  it('refuses a state with scores or statistics no stream of scores in [0, 1] can have, or statistics before the learning period ended (a huge mean made the variance infinite, or NaN)', () => {
    const early = new StreamingLikelihood(o);
    for (const x of raws(15, 6)) early.update(x); // n 15: still learning
    const learning = early.exportState();
    const late = new StreamingLikelihood(o);
    for (const x of raws(200, 6)) late.update(x);
    const scoring = late.exportState();
    const cases: [object, RegExp][] = [
      [{ ...scoring, ring: scoring.ring.map((v, i) => (i === 4 ? 7 : v)) }, /ring\[4\] must be a raw score in \[0, 1\], got 7/],
      [{ ...scoring, mean: 1e300 }, /mean must be in \[0, 1\] \(an average of scores in \[0, 1\]\), got 1e\+300/],
      [{ ...scoring, variance: 3 }, /variance must be in \[0, 1\], got 3/],
      [{ ...learning, mean: 0.2 }, /mean and variance must be 0 until the learning period \(20 records\) has passed \(n 15\), got 0.2 and 0/],
      [{ ...learning, prevTail: 0.5 }, /prevTail must be 1 until scoring starts \(after 70 records\), got 0.5/],
    ];
    for (const [state, re] of cases) {
      const l = new StreamingLikelihood(o);
      expectCode(() => l.importState(state), 'STATE_MISMATCH', re);
      expect(l.exportState()).toEqual(new StreamingLikelihood(o).exportState());
    }
  });
});

describe('ForecastAnomalyDetector options: single fields of likelihood and alert', () => {
  // The constructor fills every field it is not given, including single fields of `likelihood`
  // and `alert`, but its declared type wanted all of a group: a strict TypeScript project could
  // not write `alert: { onThreshold: 0.6 }` (tsc: missing offThreshold, minHoldSteps), and
  // copying FORECAST_ANOMALY_DEFAULTS.alert in replaced a model's own settings with the defaults
  // (ForecastModelDetector). This file compiles under `tsc --noEmit -p .` only with that type.
  it('takes one field of a group and keeps the rest of it', () => {
    const d = new ForecastAnomalyDetector({ alert: { onThreshold: 0.6 }, likelihood: { learningPeriod: 50 } });
    expect(d.options.alert).toEqual({ onThreshold: 0.6, offThreshold: 0.3, minHoldSteps: 10 });
    expect(d.options.likelihood).toEqual({ learningPeriod: 50, estimationSamples: 300, averagingWindow: 10, halfLifeRecords: 2000 });
  });

  it("refuses a field it would not use, naming it: the route config's flat names were silently dropped (the alert stayed at 0.5)", () => {
    // From JavaScript, or options read from a JSON file: TypeScript cannot see the fields.
    const opts = (o: object) => o as ConstructorParameters<typeof ForecastAnomalyDetector>[0];
    expect(errorMessage(() => new ForecastAnomalyDetector(opts({ onThreshold: 0.6 })), 'DETECTOR_OPTION')).toBe("ForecastAnomalyDetector: onThreshold is a field of alert ({ alert: { onThreshold: 0.6 } }; forecastAnomalyOptionsOf() reads flat settings)");
    expect(errorMessage(() => new ForecastAnomalyDetector(opts({ learningPeriod: 50 })), 'DETECTOR_OPTION')).toBe("ForecastAnomalyDetector: learningPeriod is a field of likelihood ({ likelihood: { learningPeriod: 50 } }; forecastAnomalyOptionsOf() reads flat settings)");
    expect(errorMessage(() => new ForecastAnomalyDetector(opts({ errorgain: 4 })), 'DETECTOR_OPTION')).toBe('ForecastAnomalyDetector: errorgain is not an option (errorGain, channel, likelihood, alert)');
    expect(errorMessage(() => new ForecastAnomalyDetector(opts({ alert: { onThreshhold: 0.6 } })), 'DETECTOR_OPTION')).toBe('ForecastAnomalyDetector: alert.onThreshhold is not an option (onThreshold, offThreshold, minHoldSteps)');
    expect(errorMessage(() => new ForecastAnomalyDetector(opts({ likelihood: { halfLife: 10 } })), 'DETECTOR_OPTION')).toBe('ForecastAnomalyDetector: likelihood.halfLife is not an option (learningPeriod, estimationSamples, averagingWindow, halfLifeRecords)');
    // Its own options, as they are, are taken.
    const d = new ForecastAnomalyDetector({ errorGain: 4, alert: { minHoldSteps: 3 } });
    expect(new ForecastAnomalyDetector(d.options).options).toEqual(d.options);
  });
});

describe('StreamingLikelihood options: unknown fields', () => {
  it('refuses a misspelt or unknown field by name, and options that are not an object', () => {
    // halfLife for halfLifeRecords was silently dropped for the default 2000.
    expectCode(() => new StreamingLikelihood({ halfLife: 50 } as unknown as StreamingLikelihoodOptions), 'DETECTOR_OPTION', /StreamingLikelihood: halfLife is not an option \(learningPeriod, estimationSamples, averagingWindow, halfLifeRecords\)/);
    expectCode(() => new StreamingLikelihood(null as unknown as StreamingLikelihoodOptions), 'DETECTOR_OPTION', /StreamingLikelihood: options must be an object/);
    expect(new StreamingLikelihood({ halfLifeRecords: 50 }).update(0.1)).toBe(0.5);
  });
});
