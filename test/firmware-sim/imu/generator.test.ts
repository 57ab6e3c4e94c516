/**
 * The synthetic IMU generator (firmware-sim/imu): seeded determinism independent of read
 * chunking, rates, ground truth, sensor quantization, and statistics against the model it was
 * fitted to and, when ../shared holds the HMP recordings, against the real data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EdgeRnnError, HMP_ACCEL_DECODE, Rng } from '../../../src/index.js';
import { fitImuGenerator, gaussianLowpass, varSpectralRadius } from '../../../firmware-sim/imu/fit.js';
import { HMP_TRANSITIONS, ImuGenerator, labelAt, planScenario, quantizeSensor, synthesizeRecording, synthesizeSegment, type Scenario } from '../../../firmware-sim/imu/generator.js';
import { HMP_GENERATOR_MODEL as MODEL } from '../../../firmware-sim/imu/hmp-model.gen.js';
import { formatModel } from '../../../firmware-sim/imu/gen-module.js';
import { HAR_CLASSES } from '../../../quantize/jobs/har/classes.js';
import { codesToG, loadHmp } from '../../../quantize/jobs/har/hmp.js';
import { fitHmpGenerator } from '../../../quantize/jobs/har/synthetic.js';

const HMP = path.resolve(import.meta.dirname, '../../../../shared/datasets/har/hmp');
const haveHmp = fs.existsSync(HMP);
if (!haveHmp) console.log(`skipping the real-data checks: ${HMP} not found (the HMP dataset is not redistributed)`);

const decode = (code: number): number => HMP_ACCEL_DECODE.offset + HMP_ACCEL_DECODE.scale * code;

/** Per-axis mean of decoded codes. */
function axisMeans(codes: Uint8Array): number[] {
  const n = codes.length / 3;
  const m = [0, 0, 0];
  for (let t = 0; t < n; t++) for (let c = 0; c < 3; c++) m[c]! += decode(codes[t * 3 + c]!) / n;
  return m;
}

/** RMS of the motion (signal minus its 0.25 s Gaussian low-pass), all axes. */
function motionRms(codes: Uint8Array, rateHz = 32): number {
  const g = codesToG(codes);
  const n = g.length / 3;
  let sq = 0;
  for (let c = 0; c < 3; c++) {
    const lp = gaussianLowpass(g, 3, c, 0.25 * rateHz);
    for (let t = 0; t < n; t++) sq += (g[t * 3 + c]! - lp[t]!) ** 2;
  }
  return Math.sqrt(sq / (3 * n));
}

/** Frequency (Hz) of the largest periodogram peak of |a| - mean in [lo, hi] Hz, by direct DFT. */
function dominantHz(codes: Uint8Array, rateHz: number, lo = 0.8, hi = 4): number {
  const g = codesToG(codes);
  const n = g.length / 3;
  const mag = new Float64Array(n);
  let mean = 0;
  for (let t = 0; t < n; t++) {
    mag[t] = Math.hypot(g[t * 3]!, g[t * 3 + 1]!, g[t * 3 + 2]!);
    mean += mag[t]! / n;
  }
  let best = 0;
  let bestP = -1;
  for (let f = lo; f <= hi; f += 0.02) {
    let re = 0;
    let im = 0;
    for (let t = 0; t < n; t++) {
      re += (mag[t]! - mean) * Math.cos((2 * Math.PI * f * t) / rateHz);
      im += (mag[t]! - mean) * Math.sin((2 * Math.PI * f * t) / rateHz);
    }
    if (re * re + im * im > bestP) {
      bestP = re * re + im * im;
      best = f;
    }
  }
  return best;
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('IMU generator', () => {
  it('the committed model covers the nine HAR classes with stable VARs', () => {
    expect(MODEL.activities.map((a) => a.activity)).toEqual([...HAR_CLASSES]);
    for (const a of MODEL.activities) {
      expect(a.spectralRadius).toBeLessThan(1);
      expect(varSpectralRadius(a.coefficients, a.order)).toBeLessThan(1);
      expect(varSpectralRadius(a.wander.coefficients, a.wander.order)).toBeLessThan(1);
    }
  });

  it('same seed, same samples, however the stream is read; another seed differs', () => {
    const scenario = planScenario(MODEL, { seed: 4, durationS: 90 });
    const whole = new ImuGenerator(MODEL, { seed: 4, scenario, rateHz: 50 }).read(10_000);
    const g = new ImuGenerator(MODEL, { seed: 4, scenario, rateHz: 50 });
    const rng = new Rng(1);
    const parts: Uint8Array[] = [];
    const labels: number[] = [];
    for (;;) {
      const c = g.read(rng.int(0, 97));
      parts.push(c.codes);
      labels.push(...c.labels);
      if (g.timeS >= scenario.durationS - 1e-9) break;
    }
    expect(whole.n).toBe(4500);
    expect(concat(parts)).toEqual(whole.codes);
    expect(labels).toEqual(Array.from(whole.labels));
    const other = new ImuGenerator(MODEL, { seed: 5, scenario, rateHz: 50 }).read(4500);
    expect(other.codes).not.toEqual(whole.codes);
    expect(synthesizeRecording(MODEL, 'walk', 7)).toEqual(synthesizeRecording(MODEL, 'walk', 7));
  });

  it('ground truth follows the scenario at any rate; activities follow the transition table', () => {
    const scenario = planScenario(MODEL, { seed: 11, durationS: 600 });
    expect(scenario.durationS).toBeCloseTo(600, 9);
    for (let i = 1; i < scenario.segments.length; i++) {
      const a = scenario.segments[i - 1]!;
      const b = scenario.segments[i]!;
      expect(HMP_TRANSITIONS[a.activity]).toContain(b.activity);
      expect(b.startS).toBeCloseTo(a.startS + a.durationS, 9);
    }
    for (const rateHz of [32, 50, 20]) {
      const g = new ImuGenerator(MODEL, { seed: 11, scenario, rateHz });
      const c = g.read(1e9);
      expect(c.n).toBe(Math.floor(600 * rateHz));
      const names = MODEL.activities.map((a) => a.activity);
      for (let i = 0; i < c.n; i += 37) expect(names[c.labels[i]!]).toBe(labelAt(scenario, (i + 0.5) / rateHz));
      expect(g.read(10).n).toBe(0);
    }
  });

  it('a 50 Hz stream carries the same motion as the 32 Hz one (resampled, not re-drawn)', () => {
    const scenario = planScenario(MODEL, { seed: 2, durationS: 60 });
    const a = new ImuGenerator(MODEL, { seed: 2, scenario }).read(1e9);
    const b = new ImuGenerator(MODEL, { seed: 2, scenario, rateHz: 64 }).read(1e9);
    // Every other 64 Hz sample sits on a 32 Hz sample: codes agree within the noise and one step.
    let far = 0;
    for (let t = 0; t < a.n; t++) for (let c = 0; c < 3; c++) if (Math.abs(a.codes[t * 3 + c]! - b.codes[2 * t * 3 + c]!) > 2) far++;
    expect(far / (a.n * 3)).toBeLessThan(0.02);
  });

  it('quantizes like the HMP sensor: 6-bit codes over ±1.5 g, clamped', () => {
    const s = MODEL.sensor;
    expect(s).toMatchObject({ rangeG: 1.5, bits: 6 });
    for (let code = 0; code <= 63; code++) expect(quantizeSensor(decode(code), s)).toBe(code);
    expect(quantizeSensor(-9, s)).toBe(0);
    expect(quantizeSensor(9, s)).toBe(63);
    const rng = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const g = rng.uniform(-1.5, 1.5);
      expect(Math.abs(decode(quantizeSensor(g, s)) - g)).toBeLessThanOrEqual(1.5 / 63 + 1e-12);
    }
  });

  it('posture never jumps at an activity change (blended over 1 s)', () => {
    const rng = new Rng(8);
    const a = synthesizeSegment(MODEL, 'walk', 200, rng);
    const b = synthesizeSegment(MODEL, 'sitdown_chair', 200, rng, a.end, 32);
    // The first samples of b start from a's final posture: only motion separates them.
    const first = [0, 1, 2].map((c) => b.g[c]!);
    for (let c = 0; c < 3; c++) expect(Math.abs(first[c]! - a.end[c]!)).toBeLessThan(0.5);
  });

  it('synthetic recordings reproduce the model: posture means and durations per class', () => {
    for (const a of MODEL.activities) {
      const recs = Array.from({ length: 40 }, (_, i) => synthesizeRecording(MODEL, a.activity, 100 + i));
      const K = MODEL.knots;
      const want = [0, 1, 2].map((c) => a.posture.mean.slice(c * K, (c + 1) * K).reduce((x, y) => x + y, 0) / K);
      const got = [0, 1, 2].map((c) => recs.reduce((s, r) => s + axisMeans(r)[c]!, 0) / recs.length);
      for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - want[c]!)).toBeLessThan(0.1);
      const medianS = recs.map((r) => r.length / 3 / 32).sort((x, y) => x - y)[20]!;
      expect(Math.abs(Math.log(medianS * 32) - a.duration.logMean)).toBeLessThan(0.3);
      for (const r of recs) expect(r.every((v) => v <= 63)).toBe(true);
    }
  });

  it('errors name the activity or option', () => {
    expect(() => synthesizeRecording(MODEL, 'juggle', 1)).toThrow(EdgeRnnError);
    expect(() => synthesizeRecording(MODEL, 'juggle', 1)).toThrow(/no model for activity 'juggle'/);
    expect(() => planScenario(MODEL, { seed: 1, durationS: 0 })).toThrow(/durationS must be a positive number, got 0/);
    expect(() => new ImuGenerator(MODEL, { seed: 1, rateHz: -5 })).toThrow(/rateHz must be positive, got -5/);
  });

  it("a seed that is not an integer is refused (NaN and Infinity gave seed 0's stream, 1.5 seed 1's); seeds past 32 bits no longer wrap", () => {
    const scenario = planScenario(MODEL, { seed: 1, durationS: 5 });
    const codes = (seed: number) => new ImuGenerator(MODEL, { seed, scenario }).read(1e9).codes;
    for (const seed of [Number.NaN, Number.POSITIVE_INFINITY, 1.5, 2 ** 53]) {
      expect(() => new ImuGenerator(MODEL, { seed, scenario })).toThrow(new RegExp(`^imu generator: seed must be an integer .*got ${seed}$`));
      expect(() => planScenario(MODEL, { seed, durationS: 5 })).toThrow(/^imu scenario: seed must be an integer/);
      expect(() => synthesizeRecording(MODEL, 'walk', seed, 10)).toThrow(/^imu recording: seed must be an integer/);
    }
    // 2^32 was seed 0, 2^32 + 1 seed 1, -1 the seed 2^32 - 1; within 32 bits the streams are as they were.
    const seed0 = codes(0);
    expect(codes(2 ** 32)).not.toEqual(seed0);
    expect(codes(2 ** 32 + 1)).not.toEqual(codes(1));
    expect(codes(-1)).not.toEqual(codes(2 ** 32 - 1));
    expect(synthesizeRecording(MODEL, 'walk', 2 ** 32, 64)).not.toEqual(synthesizeRecording(MODEL, 'walk', 0, 64));
    expect(codes(0)).toEqual(seed0);
  });

  it('blendSeconds, read sizes and recording lengths that are not what they say are refused with BAD_DATA', () => {
    const scenario = planScenario(MODEL, { seed: 1, durationS: 5 });
    // NaN and -1 left postures unblended (as 0 does), Infinity froze the first posture for good.
    for (const blendSeconds of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      expect(() => new ImuGenerator(MODEL, { seed: 1, scenario, blendSeconds })).toThrow(new RegExp(`^imu generator: blendSeconds must be a finite number >= 0, got ${blendSeconds}$`));
    }
    expect(new ImuGenerator(MODEL, { seed: 1, scenario, blendSeconds: 0 }).read(10).n).toBe(10);
    // read(1.5) returned n 2 with 4 codes; NaN and negatives read nothing, silently.
    const g = new ImuGenerator(MODEL, { seed: 1, scenario });
    for (const n of [1.5, Number.NaN, -3]) {
      const e = (() => {
        try {
          g.read(n);
        } catch (err) {
          return err;
        }
        return null;
      })();
      expect(e).toBeInstanceOf(EdgeRnnError);
      expect((e as EdgeRnnError).message).toBe(`imu generator: read(n) needs a whole number of samples >= 0, got ${n}`);
    }
    const all = g.read(Number.POSITIVE_INFINITY); // the rest of the stream
    expect([all.n, all.codes.length, all.labels.length]).toEqual([g.length, 3 * g.length, g.length]);
    // samples -1 threw RangeError from a typed array, 1.5 gave 4 codes.
    for (const samples of [-1, 1.5, Number.NaN]) expect(() => synthesizeRecording(MODEL, 'walk', 1, samples)).toThrow(/^imu recording: samples must be a non-negative integer/);
    expect(synthesizeRecording(MODEL, 'walk', 1, 0)).toEqual(new Uint8Array(0));
  });

  it('a model with a number that is not finite is refused naming it (every code came out 0, silently); so is a fit on an empty recording', () => {
    const scenario = { segments: [{ activity: 'walk', startS: 0, durationS: 1 }], durationS: 1 };
    for (const [field, value] of [['level', Number.NaN], ['sensor', Number.POSITIVE_INFINITY]] as const) {
      const bad = structuredClone(MODEL);
      if (field === 'level') bad.activities[bad.activities.findIndex((a) => a.activity === 'walk')]!.level.logMean = value;
      else bad.sensor.noiseG = value;
      const where = field === 'level' ? `activities[${MODEL.activities.findIndex((a) => a.activity === 'walk')}].level.logMean` : 'sensor.noiseG';
      expect(() => synthesizeRecording(bad, 'walk', 1, 32)).toThrow(`imu generator model: ${where} must be a finite number, got ${value}`);
      expect(() => new ImuGenerator(bad, { seed: 1, scenario }).read(32)).toThrow(EdgeRnnError);
    }
    // A model saved with NaN reads back with null there.
    const saved = JSON.parse(JSON.stringify({ ...MODEL, sensor: { ...MODEL.sensor, rangeG: Number.NaN } })) as typeof MODEL;
    expect(() => synthesizeRecording(saved, 'walk', 1, 32)).toThrow('imu generator model: sensor.rangeG must be a finite number, got null');
    const rec = (n: number) => ({ activity: 'walk', g: new Float32Array(n * 3).fill(0.5) });
    const fit = (n: number) => fitImuGenerator([rec(40), rec(n)], { rateHz: 32, sensor: { rangeG: 1.5, bits: 6 } }, { dataset: 't', sha256: '', recordings: 2, volunteers: [] });
    expect(() => fit(0)).toThrow('imu generator fit: recording 1 (walk) must hold whole [x, y, z] samples, at least one; got 0 values');
  });

  it('rejects malformed hand-built scenarios with BAD_DATA naming the field', () => {
    const seg = (activity: string, startS: number, durationS: number): Scenario['segments'][number] => ({ activity, startS, durationS });
    const cases: [Scenario, RegExp][] = [
      [{ segments: [], durationS: 10 }, /segments must be a non-empty array/],
      [{ segments: [seg('walk', 0, 5), seg('sitdown_chair', 5, 0), seg('drink_glass', 5, 5)], durationS: 10 }, /segments\[1\]\.durationS must be a positive finite number, got 0/],
      [{ segments: [seg('walk', 0, 5), seg('sitdown_chair', 5, -1), seg('drink_glass', 4, 6)], durationS: 10 }, /segments\[1\]\.durationS .* got -1/],
      [{ segments: [seg('walk', 0, 5), seg('sitdown_chair', 5, Number.NaN)], durationS: 10 }, /segments\[1\]\.durationS .* got NaN/],
      [{ segments: [seg('walk', 0, Number.POSITIVE_INFINITY)], durationS: Number.POSITIVE_INFINITY }, /segments\[0\]\.durationS .* got Infinity/],
      [{ segments: [seg('walk', 0, 5), seg('juggle', 5, 5)], durationS: 10 }, /no model for activity 'juggle'/],
      [{ segments: [seg('walk', 0, 5), seg('sitdown_chair', 3, 5)], durationS: 8 }, /segments\[1\]\.startS must be 5 .* got 3/],
      [{ segments: [seg('walk', 5, 5), seg('sitdown_chair', 0, 5)], durationS: 10 }, /segments\[0\]\.startS must be 0, got 5/],
      [{ segments: [seg('walk', 0, 5), seg('sitdown_chair', 7, 3)], durationS: 10 }, /segments\[1\]\.startS must be 5 .* got 7/],
      [{ segments: [seg('walk', 0, 5)], durationS: 10 }, /durationS must be 5 .* got 10/],
    ];
    for (const [scenario, message] of cases) {
      for (const rateHz of [32, 50]) {
        let err: unknown;
        try {
          new ImuGenerator(MODEL, { seed: 1, scenario, rateHz });
        } catch (e) {
          err = e;
        }
        expect(err, JSON.stringify(scenario)).toBeInstanceOf(EdgeRnnError);
        expect((err as EdgeRnnError).code).toBe('BAD_DATA');
        expect((err as EdgeRnnError).message).toMatch(message);
      }
    }
    // Hand-typed decimal times that do not add up exactly are still one stream.
    expect(new ImuGenerator(MODEL, { seed: 1, scenario: { segments: [seg('walk', 0, 0.1), seg('walk', 0.1, 0.2), seg('drink_glass', 0.3, 0.7)], durationS: 1 } }).read(100).n).toBe(32);
  });

  it('the resampled tail does not depend on read sizes (the held last sample outlives a read)', () => {
    const scenario = planScenario(MODEL, { seed: 9, durationS: 20 });
    for (const rateHz of [50, 20]) {
      const whole = new ImuGenerator(MODEL, { seed: 9, scenario, rateHz }).read(1e9);
      for (const size of [1, 3]) {
        const g = new ImuGenerator(MODEL, { seed: 9, scenario, rateHz });
        const parts: Uint8Array[] = [];
        for (let c = g.read(size); c.n > 0; c = g.read(size)) parts.push(c.codes);
        expect(concat(parts), `${rateHz} Hz, reads of ${size}`).toEqual(whole.codes);
      }
    }
  });

  it('a segment too short for a model-rate sample does not reset the posture to 0 g', () => {
    const seg = (activity: string, startS: number, durationS: number): Scenario['segments'][number] => ({ activity, startS, durationS });
    const scenario = { segments: [seg('walk', 0, 5), seg('sitdown_chair', 5, 0.01), seg('drink_glass', 5.01, 4.99)], durationS: 10 };
    const c = new ImuGenerator(MODEL, { seed: 3, scenario }).read(1e9);
    // |a| stays near 1 g through the change (the blend starts from walking's posture, not from 0).
    for (let t = 160; t < 176; t++) expect(Math.hypot(decode(c.codes[t * 3]!), decode(c.codes[t * 3 + 1]!), decode(c.codes[t * 3 + 2]!)), `sample ${t}`).toBeGreaterThan(0.4);
  });

  it('a segment boundary at half a model-rate sample: data and label of that sample come from the same segment', () => {
    const seg = (activity: string, startS: number, durationS: number): Scenario['segments'][number] => ({ activity, startS, durationS });
    const tie = 160.5 / 32;
    // labelAt gives sample 160 (midpoint 160.5 / 32 s) to liedown_bed, so the data must start it there too: same as a boundary at 160.
    const a = new ImuGenerator(MODEL, { seed: 3, scenario: { segments: [seg('walk', 0, tie), seg('liedown_bed', tie, 10 - tie)], durationS: 10 } }).read(1e9);
    const b = new ImuGenerator(MODEL, { seed: 3, scenario: { segments: [seg('walk', 0, 5), seg('liedown_bed', 5, 5)], durationS: 10 } }).read(1e9);
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(a.codes).toEqual(b.codes);
  });

  it.skipIf(!haveHmp)('matches the real recordings per class: posture means, motion RMS, walking cadence (../shared)', () => {
    const ds = loadHmp(HMP, { activities: HAR_CLASSES });
    for (const a of MODEL.activities) {
      const real = ds.recordings.filter((r) => r.activity === a.activity).map((r) => r.codes);
      const syn = Array.from({ length: real.length }, (_, i) => synthesizeRecording(MODEL, a.activity, 500 + i));
      const rm = axisMeans(concat(real));
      const sm = axisMeans(concat(syn));
      for (let c = 0; c < 3; c++) expect(Math.abs(rm[c]! - sm[c]!), `${a.activity} axis ${c} mean`).toBeLessThan(0.1);
      const rr = real.reduce((s, r) => s + motionRms(r), 0) / real.length;
      const sr = syn.reduce((s, r) => s + motionRms(r), 0) / syn.length;
      expect(Math.abs(sr / rr - 1), `${a.activity} motion RMS ${sr.toFixed(3)} vs real ${rr.toFixed(3)}`).toBeLessThan(0.25);
    }
    const walkReal = ds.recordings.filter((r) => r.activity === 'walk').slice(0, 30).map((r) => dominantHz(r.codes, 32));
    const walkSyn = Array.from({ length: 30 }, (_, i) => dominantHz(synthesizeRecording(MODEL, 'walk', 900 + i), 32));
    const med = (v: number[]): number => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
    expect(Math.abs(med(walkReal) - med(walkSyn)), `walking cadence: real ${med(walkReal)} Hz, synthetic ${med(walkSyn)} Hz`).toBeLessThan(0.3);
  });

  it.skipIf(!haveHmp)('refitting on ../shared reproduces the committed model file byte for byte', () => {
    const ds = loadHmp(HMP, { activities: HAR_CLASSES });
    const refit = fitHmpGenerator(ds.recordings, ds.sha256);
    expect(formatModel(refit)).toBe(formatModel(MODEL));
  });
});

describe('imu generator parameters', () => {
  it('a transition table naming an activity the model lacks is refused naming it (a typo was dropped, and any activity followed)', () => {
    const t = (transitions: Record<string, readonly string[]>) => () => planScenario(MODEL, { seed: 1, durationS: 600, transitions });
    expect(t({ walk: ['wlak'] })).toThrow(EdgeRnnError);
    expect(t({ walk: ['wlak'] })).toThrow(/^imu scenario: transitions\.walk\[0\] must be an activity of the model \(climb_stairs, .*walk\), got wlak$/);
    expect(t({ walk: ['walk', 'juggle'] })).toThrow(/transitions\.walk\[1\] must be an activity of the model .*got juggle/);
    expect(t({ juggle: ['walk'] })).toThrow(/transitions\.juggle must be an activity of the model .*got juggle/);
    expect(t({ walk: 'walk' as never })).toThrow(/transitions\.walk must be a list of activities, got walk/);
    // A valid table is followed: after walk only climb_stairs, after climb_stairs only walk.
    const s = planScenario(MODEL, { seed: 1, durationS: 600, transitions: { walk: ['climb_stairs'], climb_stairs: ['walk'] } });
    expect(new Set(s.segments.map((g) => g.activity))).toEqual(new Set(['walk', 'climb_stairs']));
  });

  it('an output rate the resampler cannot reach is refused naming rateHz, as BAD_DATA like every other option (it was a resampler FRONTEND_SPEC)', () => {
    const scenario = planScenario(MODEL, { seed: 1, durationS: 5 });
    for (const rateHz of [0.001, 1e7]) {
      const e = (() => {
        try {
          new ImuGenerator(MODEL, { seed: 1, rateHz, scenario });
        } catch (err) {
          return err as EdgeRnnError;
        }
        throw new Error('expected an error');
      })();
      expect(e).toBeInstanceOf(EdgeRnnError);
      expect(e.code).toBe('BAD_DATA');
      expect(e.message).toMatch(new RegExp(`^imu generator: rateHz must be a rate the resampler reaches from the model's ${MODEL.rateHz} Hz .*got ${rateHz}`));
    }
    const c = new ImuGenerator(MODEL, { seed: 1, rateHz: 100_000, scenario }).read(1000).codes;
    expect(c.every((v) => v >= 0 && v <= 63)).toBe(true);
  });
  it('a scenario shorter than the join tolerance still has its one segment (it planned none, and the generator blamed segments)', () => {
    for (const durationS of [5e-10, 1e-300]) {
      const s = planScenario(MODEL, { seed: 3, durationS });
      expect(s.segments).toEqual([{ activity: 'walk', startS: 0, durationS }]);
      expect(s.durationS).toBe(durationS);
      expect(new ImuGenerator(MODEL, { seed: 3, scenario: s }).read(10).n).toBe(0);
    }
  });
  it('fit options out of range are refused naming the field (NaN rateHz wrote a model of nulls, others threw a bare RangeError)', () => {
    const rng = new Rng(1);
    const rec = (activity: string, n: number) => ({ activity, g: Float32Array.from({ length: 3 * n }, (_, i) => (i % 3 === 2 ? 1 : 0) + 0.1 * rng.normal()) });
    const recs = [rec('walk', 400), rec('walk', 500)];
    const source = { dataset: 't', sha256: '', recordings: 2, volunteers: [] };
    const fit = (o: Record<string, unknown>) => () => fitImuGenerator(recs, { rateHz: 32, sensor: { rangeG: 1.5, bits: 6 }, ...o } as never, source);
    const cases: [Record<string, unknown>, string][] = [
      [{ rateHz: Number.NaN }, 'rateHz must be a positive finite number of Hz, got NaN'],
      [{ rateHz: 0 }, 'rateHz must be a positive finite number of Hz, got 0'],
      [{ knots: 1 }, 'knots must be an integer >= 2, got 1'],
      [{ lowpassSeconds: 0 }, 'lowpassSeconds must be a positive finite number of s, got 0'],
      [{ order: 1.5 }, 'order must be an integer >= 0, got 1.5'],
      [{ components: -1 }, 'components must be an integer >= 0, got -1'],
      [{ ridge: -1 }, 'ridge must be a finite number >= 0, got -1'],
      [{ sensor: { rangeG: 0, bits: 6 } }, 'sensor.rangeG must be a positive finite number of g, got 0'],
      [{ sensor: { rangeG: 1.5, bits: 9 } }, 'sensor.bits must be an integer in [1, 8] (codes are bytes), got 9'],
    ];
    for (const [o, message] of cases) {
      expect(fit(o)).toThrow(EdgeRnnError);
      expect(fit(o)).toThrow(`imu generator fit: ${message}`);
    }
    expect(fit({})().sensor.bits).toBe(6);
  });

  it('a model whose sensor cannot make byte codes is refused (10 bits wrapped modulo 256, a range of 0 g gave code 0 for everything)', () => {
    for (const [sensor, message] of [
      [{ ...MODEL.sensor, bits: 10 }, 'sensor.bits must be an integer in [1, 8] (codes are bytes), got 10'],
      [{ ...MODEL.sensor, rangeG: 0 }, 'sensor.rangeG must be a positive number of g, got 0'],
    ] as const) {
      const bad = { ...MODEL, sensor };
      expect(() => synthesizeRecording(bad, 'walk', 1, 32)).toThrow(`imu generator model: ${message}`);
    }
  });
});
