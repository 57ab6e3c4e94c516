import { describe, expect, it } from 'vitest';
import { EdgeRnnError, fitSeriesScaling, Rng, SeriesFrontend, validateSeriesSpec, type SeriesFrontendSpec } from '../../src/index.js';

function run(spec: SeriesFrontendSpec, x: ArrayLike<number>): Float32Array {
  return new SeriesFrontend(spec).batch(x).data;
}

describe('static scaling learned at training time', () => {
  it('standard: fitted mean/std make the training data zero-mean, unit-std per channel', () => {
    const rng = new Rng(1);
    const x = Float64Array.from({ length: 2 * 5000 }, (_, i) => (i % 2 ? 1000 + 5 * rng.normal() : -3 + 0.1 * rng.normal()));
    const scaling = fitSeriesScaling('standard', 2, [x.subarray(0, 6000), x.subarray(6000)]);
    const y = run({ kind: 'series', channels: 2, scaling }, x);
    for (let c = 0; c < 2; c++) {
      const v = Array.from(y.filter((_, i) => i % 2 === c));
      const mean = v.reduce((s, a) => s + a, 0) / v.length;
      const std = Math.sqrt(v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length);
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(std).toBeCloseTo(1, 4);
    }
  });

  it('minmax maps the training range onto [0, 1]', () => {
    const x = [3, 10, 5, 20, 4, 15];
    const scaling = fitSeriesScaling('minmax', 2, [x]);
    expect(scaling).toEqual({ kind: 'minmax', min: [3, 10], max: [5, 20] });
    expect(Array.from(run({ kind: 'series', channels: 2, scaling }, x))).toEqual([0, 0, 1, 1, 0.5, 0.5]);
  });

  it('a constant channel gets std 1 (and max = min + 1), not a division by zero', () => {
    expect(fitSeriesScaling('standard', 1, [[7, 7, 7]])).toEqual({ kind: 'standard', mean: [7], std: [1] });
    expect(fitSeriesScaling('minmax', 1, [[7, 7]])).toEqual({ kind: 'minmax', min: [7], max: [8] });
  });

  it('a channel in small units is standardized, not taken for a constant one (an absolute variance bound of 1e-12 gave it std 1)', () => {
    const scaling = fitSeriesScaling('standard', 2, [[1e-7, 1, 2e-7, 2, 3e-7, 3]]);
    if (scaling.kind !== 'standard') throw new Error('standard expected');
    expect(scaling.std[0]! / scaling.std[1]!).toBeCloseTo(1e-7, 15);
    expect(Array.from(run({ kind: 'series', channels: 2, scaling }, [3e-7, 3])).map((v) => Number(v.toFixed(5)))).toEqual([1.22474, 1.22474]);
    // Still 1 for a channel that is constant up to rounding.
    expect(fitSeriesScaling('standard', 1, [[0.1 + 0.2, 0.3, 0.30000000000000004]])).toEqual({ kind: 'standard', mean: [expect.closeTo(0.3, 15)], std: [1] });
  });

  it('a constant channel beyond 2^53 still gets a valid minmax scaling (min + 1 was min itself, a spec validation refused)', () => {
    for (const v of [1e17, -3e38, 2 ** 53]) {
      const scaling = fitSeriesScaling('minmax', 2, [[v, 1, v, 2]]);
      if (scaling.kind !== 'minmax') throw new Error('minmax expected');
      expect(scaling.min).toEqual([v, 1]);
      expect(scaling.max[0]!).toBeGreaterThan(v);
      expect(scaling.max[1]).toBe(2);
      const spec = validateSeriesSpec({ kind: 'series', channels: 2, scaling });
      expect(Array.from(run(spec, [v, 1.5]))).toEqual([0, 0.5]);
    }
  });
});

describe('online adaptive normalization (exponentially weighted mean/variance)', () => {
  const ewm = (alpha: number, extra: Partial<SeriesFrontendSpec> = {}): SeriesFrontendSpec => ({
    kind: 'series',
    channels: 1,
    scaling: { kind: 'none' },
    adaptive: { kind: 'ewm', alpha, epsilon: 1e-9 },
    ...extra,
  });

  it('before 1/alpha samples the statistics are the running mean and population variance of the past', () => {
    const x = [2, 4, 9, 1, 5, 7];
    const y = run(ewm(0.01), x);
    expect(y[0]).toBe(0);
    for (let t = 1; t < x.length; t++) {
      const past = x.slice(0, t);
      const m = past.reduce((s, a) => s + a, 0) / t;
      const v = past.reduce((s, a) => s + (a - m) ** 2, 0) / t;
      const want = (x[t]! - m) / Math.sqrt(v + 1e-9);
      expect(Math.abs(y[t]! - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want)); // float32 output
    }
  });

  it('after a level shift the output re-centres within a few time constants; a static scaling would not', () => {
    const rng = new Rng(4);
    const x = Float64Array.from({ length: 4000 }, (_, t) => (t < 2000 ? 10 : 60) + rng.normal());
    const y = run(ewm(0.02), x);
    const meanAbs = (a: Float32Array): number => a.reduce((s, v) => s + Math.abs(v), 0) / a.length;
    expect(meanAbs(y.subarray(2000, 2005))).toBeGreaterThan(5); // the shift is flagged...
    expect(meanAbs(y.subarray(2500, 4000))).toBeLessThan(1.2); // ...then absorbed (|N(0,1)| has mean 0.8)
    const fixed = run({ kind: 'series', channels: 1, scaling: fitSeriesScaling('standard', 1, [x.subarray(0, 2000)]) }, x);
    expect(meanAbs(fixed.subarray(2500, 4000))).toBeGreaterThan(40);
  });

  it('clip bounds the output', () => {
    const y = run(ewm(0.1, { clip: 3 }), [0, 1, 0, 1, 0, 1000, -1000]);
    expect(Math.max(...y)).toBe(3);
    expect(Math.min(...y)).toBe(-3);
  });

  it('streaming in any chunks = batch, bit for bit; reset() restarts', () => {
    const rng = new Rng(8);
    const x = Float64Array.from({ length: 3 * 1000 }, (_, i) => Math.sin(i * 0.001) * 50 + rng.normal());
    const spec: SeriesFrontendSpec = { kind: 'series', channels: 3, scaling: { kind: 'standard', mean: [1, 2, 3], std: [4, 5, 6] }, adaptive: { kind: 'ewm', alpha: 0.05, epsilon: 1e-6 }, clip: 8 };
    const fe = new SeriesFrontend(spec);
    const ref = fe.batch(x);
    for (const seed of [1, 2]) {
      fe.reset();
      const got: number[] = [];
      const r = new Rng(seed);
      for (let off = 0; off < x.length; ) {
        const n = 3 * r.int(0, 40);
        fe.push(x.subarray(off, off + n), (f) => got.push(...f));
        off += n;
      }
      expect(Float32Array.from(got)).toEqual(ref.data);
    }
  });

  it('NaN in a chunk is rejected before any state changes', () => {
    const fe = new SeriesFrontend(ewm(0.1));
    fe.push([1, 2, 3], () => {});
    expect(() => fe.push([4, NaN], () => {})).toThrow(/sample 1 channel 0 is NaN/);
    const a: number[] = [];
    fe.push([4], (f) => a.push(f[0]!));
    const b = run(ewm(0.1), [1, 2, 3, 4]);
    expect(a[0]).toBe(b[3]);
  });

  it('a sample beyond float32 is NON_FINITE_INPUT and the stream goes on (one 1e200 glitch used to zero every later output)', () => {
    // d² = 1e400 overflowed the EW variance to Infinity for good: (z - m) / √Infinity = 0 ever after.
    const x = Array.from({ length: 400 }, (_, t) => Math.sin(t / 5));
    const want = run(ewm(0.01), x);
    for (const glitch of [1e200, -1e300, 3.5e38]) {
      const fe = new SeriesFrontend(ewm(0.01));
      const got: number[] = [];
      fe.push(x.slice(0, 200), (f) => got.push(f[0]!));
      let err: unknown;
      try {
        fe.push([0.5, glitch], (f) => got.push(f[0]!));
      } catch (e) {
        err = e;
      }
      expect(err instanceof EdgeRnnError && err.code).toBe('NON_FINITE_INPUT');
      expect((err as Error).message).toMatch(/sample 1 channel 0 is -?[0-9.e+]+, beyond float32's range/);
      fe.push(x.slice(200), (f) => got.push(f[0]!));
      expect(Float32Array.from(got)).toEqual(want);
    }
    // The largest float32 is still a sample (the runtime takes it too).
    expect(() => new SeriesFrontend(ewm(0.01)).push([1, 3.4028234663852886e38, -3.4028234663852886e38], () => {})).not.toThrow();
  });

  it("float32's range ends where float32 rounding overflows, as in the runtime and readSequences: 3.4028235e38 is a sample", () => {
    // Before: anything above 3.4028234663852886e38 was refused, 3.4028235e38 (NumPy's float32 max
    // as printed, which rounds to it) included, with a message saying |x| <= 3.4028235e38 is fine.
    const got: number[] = [];
    const x = [1, 3.4028235e38, -3.4028235e38, 3.4028235677973362e38];
    new SeriesFrontend({ kind: 'series', channels: 1, scaling: { kind: 'none' } }).push(x, (f) => got.push(f[0]!));
    expect(got).toEqual([1, 3.4028234663852886e38, -3.4028234663852886e38, 3.4028234663852886e38]);
    expect(() => new SeriesFrontend(ewm(0.01)).push(x, () => {})).not.toThrow();
    for (const x of [3.4028235677973366e38, -3.4028235677973366e38]) {
      expect(Math.fround(x)).toBe(x > 0 ? Infinity : -Infinity);
      expect(() => new SeriesFrontend(ewm(0.01)).push([1, x], () => {})).toThrow(/sample 1 channel 0 is -?3\.4028235677973366e\+38, beyond float32's range/);
    }
  });
});

describe('series spec validation names the bad field', () => {
  const cases: [string, unknown, RegExp][] = [
    ['scaling arrays of the wrong length', { kind: 'series', channels: 2, scaling: { kind: 'standard', mean: [0], std: [1, 1] } }, /scaling: 'mean' must be an array of 2 numbers/],
    ['max not above min', { kind: 'series', channels: 1, scaling: { kind: 'minmax', min: [3], max: [3] } }, /'max\[0\]' must be > min\[0\] = 3, got 3/],
    ['alpha 0', { kind: 'series', channels: 1, scaling: { kind: 'none' }, adaptive: { kind: 'ewm', alpha: 0, epsilon: 1 } }, /adaptive: 'alpha' must be a finite number > 0 <= 1, got 0/],
    ['unknown scaling', { kind: 'series', channels: 1, scaling: { kind: 'robust' } }, /scaling: 'kind' must be one of 'none', 'standard', 'minmax'/],
    ['missing scaling', { kind: 'series', channels: 1 }, /series front end.scaling: expected an object, got nothing/],
    ['zero channels', { kind: 'series', channels: 0, scaling: { kind: 'none' } }, /'channels' must be an integer >= 1/],
    // These passed and gave NaN or ±Infinity outputs (gain 1/5e-324 = Infinity) or all zeros (gain 1/Infinity).
    ['a std whose inverse overflows', { kind: 'series', channels: 2, scaling: { kind: 'standard', mean: [0, 0], std: [1, 5e-324] } }, /scaling: 'std\[1\]' must be > 5\.562684646268003e-309 \(its inverse, the gain, must be finite\), got 5e-324/],
    ['a minmax range that overflows', { kind: 'series', channels: 1, scaling: { kind: 'minmax', min: [-1.7e308], max: [1.7e308] } }, /'max\[0\]' must be such that max - min is finite and > 5\.562684646268003e-309 \(min\[0\] = -1\.7e\+308\), got 1\.7e\+308/],
    ['a minmax range whose inverse overflows', { kind: 'series', channels: 1, scaling: { kind: 'minmax', min: [0], max: [1e-310] } }, /'max\[0\]' must be such that max - min is finite and > 5\.56/],
  ];
  for (const [name, value, msg] of cases) {
    it(name, () => {
      expect(() => validateSeriesSpec(value)).toThrow(EdgeRnnError);
      expect(() => validateSeriesSpec(value)).toThrow(msg);
    });
  }
});
