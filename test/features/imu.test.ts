import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  EdgeRnnError,
  fitImuNormalization,
  HMP_ACCEL_DECODE,
  ImuFrontend,
  planResampler,
  resampleBatch,
  Rng,
  STANDARD_GRAVITY,
  unitFactor,
  validateImuSpec,
  type ImuFrontendSpec,
} from '../../src/index.js';
import { expectCode } from '../helpers/errors.js';

/** Polyphase passband error on a tone well below cutoff (measured 1.1e-3 at 32 → 50 Hz, 8e-5 at 100 → 32 Hz). */
const POLYPHASE_PASSBAND_TOL = 2e-3;

function spec(over: Partial<ImuFrontendSpec> = {}): ImuFrontendSpec {
  return {
    kind: 'imu',
    inputRateHz: 32,
    rateHz: 50,
    resampler: 'polyphase',
    channels: [
      { name: 'ax', unit: 'g', decode: { ...HMP_ACCEL_DECODE } },
      { name: 'ay', unit: 'g', decode: { ...HMP_ACCEL_DECODE } },
      { name: 'az', unit: 'g', decode: { ...HMP_ACCEL_DECODE } },
    ],
    accelUnit: 'm/s2',
    gyroUnit: 'rad/s',
    windowSize: 64,
    hop: 16,
    ...over,
  };
}

function codes(n: number, channels: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * channels }, (_, i) => Math.round(31 + 20 * Math.sin(i * 0.013 * ((i % channels) + 1)) + 4 * rng.normal()));
}

function streamed(fe: ImuFrontend, x: Float32Array, rng: Rng, maxSamples: number): { data: number[]; indices: number[] } {
  const C = fe.inputChannels;
  const data: number[] = [];
  const indices: number[] = [];
  for (let off = 0; off < x.length; ) {
    const n = rng.int(0, maxSamples) * C;
    const chunk = x.subarray(off, Math.min(x.length, off + n));
    fe.push(chunk, (w, i) => {
      data.push(...w);
      indices.push(i);
    });
    off += chunk.length;
  }
  return { data, indices };
}

describe('units and raw codes', () => {
  it('g ↔ m/s² use standard gravity; deg/s ↔ rad/s use π/180', () => {
    expect(unitFactor('g', 'm/s2')).toBe(9.80665);
    expect(unitFactor('m/s2', 'g') * STANDARD_GRAVITY).toBeCloseTo(1, 15);
    expect(unitFactor('deg/s', 'rad/s') * 180).toBeCloseTo(Math.PI, 15);
    expect(unitFactor('rad/s', 'deg/s')).toBeCloseTo(57.29577951308232, 12);
    expect(unitFactor('g', 'g')).toBe(1);
    expect(() => unitFactor('g', 'rad/s')).toThrow(/no conversion from g to rad\/s/);
  });

  it("HMP codes decode as g = -1.5 + code/63·3, then convert to the model's unit", () => {
    const fe = new ImuFrontend(spec({ rateHz: 32, windowSize: 1, hop: 1, accelUnit: 'g' }));
    const got = fe.batch(Float32Array.from([0, 63, 21, 42, 31.5, 0]));
    expect(Array.from(got.data)).toEqual([-1.5, 1.5, -0.5, 0.5, 0, -1.5].map(Math.fround));
    const ms2 = new ImuFrontend(spec({ rateHz: 32, windowSize: 1, hop: 1 })).batch(Float32Array.from([63, 0, 21]));
    expect(Array.from(ms2.data)).toEqual([1.5 * 9.80665, -1.5 * 9.80665, -0.5 * 9.80665].map(Math.fround));
  });

  it('gyro channels convert deg/s → rad/s and unit-less channels pass through', () => {
    const fe = new ImuFrontend(
      spec({ rateHz: 32, windowSize: 1, hop: 1, channels: [{ name: 'gx', unit: 'deg/s' }, { name: 'mx', unit: 'none' }] }),
    );
    expect(Array.from(fe.batch([180, 7]).data)).toEqual([Math.fround(Math.PI), 7]);
  });
});

describe('resampling', () => {
  it('linear: a ramp x[j] = j resamples to y[n] = n · 32/50 (exact interpolation)', () => {
    const p = planResampler('linear', 1, 32, 50);
    expect([p.up, p.down]).toEqual([25, 16]);
    const y = resampleBatch(p, Float64Array.from({ length: 320 }, (_, j) => j));
    expect(y.length).toBe(499);
    for (let n = 0; n < y.length; n++) expect(y[n]).toBeCloseTo((n * 16) / 25, 10);
  });

  for (const [fin, fout, tone] of [[32, 50, 2], [100, 32, 3], [25, 50, 5]] as const) {
    it(`polyphase ${fin} → ${fout} Hz keeps a ${tone} Hz tone within ${POLYPHASE_PASSBAND_TOL}`, () => {
      const y = resampleBatch(planResampler('polyphase', 1, fin, fout), Float64Array.from({ length: fin * 20 }, (_, j) => Math.sin((2 * Math.PI * tone * j) / fin)));
      for (let n = Math.floor(y.length * 0.2); n < y.length * 0.8; n++) expect(Math.abs(y[n]! - Math.sin((2 * Math.PI * tone * n) / fout))).toBeLessThan(POLYPHASE_PASSBAND_TOL);
    });
  }

  it('polyphase 100 → 32 Hz removes a 40 Hz tone that linear interpolation aliases', () => {
    const x = Float64Array.from({ length: 2000 }, (_, j) => Math.sin((2 * Math.PI * 40 * j) / 100));
    const rms = (y: Float64Array): number => Math.sqrt(y.slice(100, -100).reduce((s, v) => s + v * v, 0) / (y.length - 200));
    expect(rms(resampleBatch(planResampler('polyphase', 1, 100, 32), x))).toBeLessThan(0.01);
    expect(rms(resampleBatch(planResampler('linear', 1, 100, 32), x))).toBeGreaterThan(0.3);
  });

  it('constant input (gravity) stays constant from the first output on, both resamplers', () => {
    for (const kind of ['linear', 'polyphase'] as const) {
      const y = resampleBatch(planResampler(kind, 2, 32, 50), Float64Array.from({ length: 400 }, (_, i) => (i % 2 ? 9.80665 : -1)));
      for (let i = 0; i < y.length; i += 2) {
        expect(y[i]).toBeCloseTo(-1, 12);
        expect(y[i + 1]).toBeCloseTo(9.80665, 12);
      }
    }
  });
});

describe('imu streaming = batch, bit for bit', () => {
  const cases: [string, Partial<ImuFrontendSpec>][] = [
    ['polyphase 32 → 50, window 64 hop 16', {}],
    ['linear 32 → 50, hop = window', { resampler: 'linear', windowSize: 32, hop: 32 }],
    ['polyphase 100 → 32, hop > window', { inputRateHz: 100, rateHz: 32, windowSize: 8, hop: 20 }],
    ['same rate, normalized', { rateHz: 32, normalization: { mean: [1, -2, 3], std: [2, 3, 4] } }],
  ];
  const x = codes(1500, 3, 5);
  for (const [name, over] of cases) {
    it(name, () => {
      const fe = new ImuFrontend(spec(over));
      const ref = fe.batch(x);
      expect(ref.count).toBeGreaterThan(5);
      for (const [seed, max] of [[1, 1], [2, 7], [3, 200]] as const) {
        fe.reset();
        const s = streamed(fe, x, new Rng(seed), max);
        expect(s.indices).toEqual(Array.from({ length: ref.count }, (_, i) => i));
        expect(Float32Array.from(s.data)).toEqual(ref.data);
      }
    });
  }

  it('a chunk that is not whole samples is rejected (SHAPE_MISMATCH) and the stream is unchanged', () => {
    const fe = new ImuFrontend(spec());
    const ref = fe.batch(x);
    fe.reset();
    const out: number[] = [];
    fe.push(x.subarray(0, 300), (w) => out.push(...w));
    expect(() => fe.push(x.subarray(300, 301), () => {})).toThrow(/1 values are not whole samples of 3 interleaved channels/);
    fe.push(x.subarray(300), (w) => out.push(...w));
    expect(Float32Array.from(out)).toEqual(ref.data);
  });
});

describe('normalization statistics', () => {
  it('fitImuNormalization makes the training frames zero-mean, unit-std per channel', () => {
    const recs = [codes(900, 3, 11), codes(700, 3, 12)];
    const fitted = fitImuNormalization(spec(), recs);
    expect(fitted.normalization!.mean).toHaveLength(3);
    const fe = new ImuFrontend({ ...fitted, windowSize: 1, hop: 1 });
    const all = recs.map((r) => fe.batch(r).data);
    for (let c = 0; c < 3; c++) {
      const v = all.flatMap((d) => Array.from(d.filter((_, i) => i % 3 === c)));
      const mean = v.reduce((s, a) => s + a, 0) / v.length;
      const std = Math.sqrt(v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length);
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(std).toBeCloseTo(1, 5);
    }
    // The statistics live in the spec and survive a JSON round trip (the manifest).
    expect(validateImuSpec(JSON.parse(JSON.stringify(fitted)))).toEqual(fitted);
  });

  it('a channel in small units keeps its spread; only a constant one gets std 1 (mutation-testing review)', () => {
    // Values 1e-7 apart in 'none' units: an absolute variance bound (1e-12) gave std 1, so the
    // normalized channel read ~0.
    const small = spec({ channels: [{ name: 'v', unit: 'none' }, { name: 'k', unit: 'none' }], rateHz: 32 });
    const rec = new Float32Array(2 * 200);
    for (let i = 0; i < 200; i++) {
      rec[2 * i] = 1e-7 * Math.sin(i / 3);
      rec[2 * i + 1] = 5;
    }
    const fitted = fitImuNormalization(small, [rec]);
    expect(fitted.normalization!.std[0]).toBeGreaterThan(5e-8);
    expect(fitted.normalization!.std[0]).toBeLessThan(1e-7);
    expect(fitted.normalization!.std[1]).toBe(1);
  });

  it('no recording long enough for a frame is an error, not NaN statistics', () => {
    expect(() => fitImuNormalization(spec(), [new Float32Array(0)])).toThrow(/give no frame/);
  });
});

const HMP = new URL('../../../shared/datasets/har/hmp/', import.meta.url);
describe('real HMP recordings (../shared/datasets/har/hmp)', () => {
  const present = existsSync(HMP);
  if (!present) console.log(`skipping HMP checks: ${HMP.pathname} is absent (the dataset is not redistributable; see docs/features.md)`);
  it.skipIf(!present)('decoded acceleration of quiet activities has a magnitude of about 1 g', () => {
    const dir = new URL('Sitdown_chair/', HMP);
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).slice(0, 5);
    expect(files.length).toBeGreaterThan(0);
    const fe = new ImuFrontend(spec({ rateHz: 32, accelUnit: 'g', windowSize: 1, hop: 1 }));
    for (const f of files) {
      const vals = readFileSync(new URL(f, dir), 'utf8').trim().split(/\s+/).map(Number);
      const { data, count } = fe.batch(vals);
      let mag = 0;
      for (let t = 0; t < count; t++) mag += Math.hypot(data[3 * t]!, data[3 * t + 1]!, data[3 * t + 2]!);
      expect(mag / count).toBeGreaterThan(0.8);
      expect(mag / count).toBeLessThan(1.25);
    }
  });
});

describe('imu spec validation names the bad field', () => {
  const cases: [string, unknown, RegExp][] = [
    ['irrational rate ratio', { ...spec(), rateHz: 50.0001234567 }, /'rateHz' must be a rational multiple of inputRateHz 32/],
    ['no channels', { ...spec(), channels: [] }, /'channels' must be a non-empty array/],
    ['unknown unit', { ...spec(), channels: [{ name: 'ax', unit: 'G' }] }, /channels\[0\]: 'unit' must be one of 'g', 'm\/s2', 'deg\/s', 'rad\/s', 'none', got "G"/],
    ['zero decode scale', { ...spec(), channels: [{ name: 'ax', unit: 'g', decode: { offset: 0, scale: 0 } }] }, /decode: 'scale' must be non-zero/],
    ['std of wrong length', { ...spec(), normalization: { mean: [0, 0, 0], std: [1, 1] } }, /normalization: 'std' must be an array of 3 numbers/],
    ['zero std', { ...spec(), normalization: { mean: [0, 0, 0], std: [1, 0, 1] } }, /'std\[1\]' must be a finite number > 0, got 0/],
    ['window 0', { ...spec(), windowSize: 0 }, /'windowSize' must be an integer >= 1/],
    ['bad resampler', { ...spec(), resampler: 'cubic' }, /'resampler' must be one of 'linear', 'polyphase'/],
    ['gyro unit as accel unit', { ...spec(), accelUnit: 'rad/s' }, /'accelUnit' must be one of 'g', 'm\/s2'/],
  ];
  for (const [name, value, msg] of cases) {
    it(name, () => {
      expect(() => validateImuSpec(value)).toThrow(EdgeRnnError);
      expect(() => validateImuSpec(value)).toThrow(msg);
    });
  }

  it('a window or resampler history beyond 2^26 values is FRONTEND_SPEC (building the front end threw RangeError)', () => {
    const channels = Array.from({ length: 5000 }, (_, i) => ({ name: `c${i}`, unit: 'none' as const }));
    const big = { ...spec(), inputRateHz: 50, rateHz: 50, channels, windowSize: 2 ** 20, hop: 1 };
    expect(() => validateImuSpec(big)).toThrow(/'windowSize' must be an integer >= 1 <= 13421, got 1048576/);
    expect(() => new ImuFrontend({ ...big, windowSize: 13421 })).not.toThrow();
    const slow = { ...spec(), inputRateHz: 10000, rateHz: 1, channels, windowSize: 2, hop: 1 };
    expectCode(() => validateImuSpec(slow), 'FRONTEND_SPEC', /'channels' must be at most 377 channels for a polyphase resampler 10000 → 1 Hz \(it keeps 177780 samples per channel; at most 2\^26 values\), got "5000 channels"/);
    expect(() => validateImuSpec({ ...slow, channels: channels.slice(0, 377) })).not.toThrow();
  });

  it('a std whose inverse overflows, or a decode overflowing in unit conversion, is refused (they made every frame NaN)', () => {
    // Before: std 5e-324 passed ("> 0") and 1/std = Infinity gave NaN frames; decode scale 1e308
    // in g for a m/s2 model became Infinity (× 9.80665) and code 0 gave NaN.
    const bare = { ...spec(), inputRateHz: 50, resampler: 'linear' as const, windowSize: 2, hop: 1 };
    const cases: [unknown, RegExp][] = [
      [{ ...bare, normalization: { mean: [0, 0, 0], std: [1, 5e-324, 1] } }, /normalization: 'std\[1\]' must be > 5\.562684646268003e-309 \(its inverse must be finite\), got 5e-324/],
      [{ ...bare, channels: [{ name: 'ax', unit: 'g', decode: { offset: 0, scale: 1e308 } }] }, /decode: 'scale' must be a number whose conversion from g to m\/s2 \(× 9\.80665\) is finite, got 1e\+308/],
      [{ ...bare, channels: [{ name: 'gx', unit: 'deg/s', decode: { offset: -1e307, scale: 1 } }], gyroUnit: 'deg/s' }, null as unknown as RegExp],
      [{ ...bare, channels: [{ name: 'gx', unit: 'rad/s', decode: { offset: -1e307, scale: 1 } }], gyroUnit: 'deg/s' }, /decode: 'offset' must be a number whose conversion from rad\/s to deg\/s/],
    ];
    for (const [value, msg] of cases) {
      if (msg === null) {
        expect(() => validateImuSpec(value)).not.toThrow(); // no conversion: nothing overflows
        continue;
      }
      expectCode(() => validateImuSpec(value), 'FRONTEND_SPEC', msg);
    }
    // The smallest std that is accepted gives finite frames.
    const fe = new ImuFrontend({ ...bare, normalization: { mean: [0, 0, 0], std: [1, 2 ** -1023, 1] } });
    const { data } = fe.batch([31, 32, 33, 31, 32, 33]);
    expect(data.every((v) => !Number.isNaN(v))).toBe(true);
  });
});
