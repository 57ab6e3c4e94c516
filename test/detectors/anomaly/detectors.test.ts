import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  baselineDetectorRegistry,
  DetectorRegistry,
  isEdgeRnnError,
  NullDetector,
  PythonRandom,
  RandomDetector,
  WindowedGaussianDetector,
} from '../../../src/index.js';
import { FIXTURES, lcgValues, loadOracle, ulpDistance } from './oracle-data.js';
import { expectCode } from '../../helpers/errors.js';

const oracle = loadOracle();

/** Rows of a CSV as string arrays (header dropped, CRLF tolerated). */
function csvRows(file: string): string[][] {
  return fs.readFileSync(path.join(FIXTURES, file), 'utf8').split(/\r?\n/).filter(Boolean).slice(1).map((l) => l.split(','));
}

describe('WindowedGaussianDetector (NAB windowedGaussian)', () => {
  it('reproduces the numpy evaluation of NAB\'s definition (small window: growing, buffering, sliding)', () => {
    const cfg = oracle.windowedGaussianSmall;
    const values = lcgValues(cfg.seed, cfg.n);
    const d = new WindowedGaussianDetector({ windowSize: cfg.windowSize, stepSize: cfg.stepSize });
    let exact = 0;
    values.forEach((v, i) => {
      const got = d.update(i * 300_000, v);
      const want = cfg.scores[i]!;
      // Identical up to erfc's last-bit differences between fdlibm and glibc.
      expect(ulpDistance(got, want), `row ${i}: ${got} vs ${want}`).toBeLessThanOrEqual(2);
      if (got === want) exact++;
    });
    expect(exact).toBeGreaterThan(cfg.n * 0.95);
  });

  it('reproduces it with NAB\'s defaults (6400-value window sliding by 100) past the first slide', () => {
    const cfg = oracle.windowedGaussianDefault;
    const values = lcgValues(cfg.seed, cfg.n);
    const d = new WindowedGaussianDetector();
    let k = 0;
    values.forEach((v, i) => {
      const got = d.update(i, v);
      if (i % cfg.every === 0) expect(ulpDistance(got, cfg.scores[k++]!), `row ${i}`).toBeLessThanOrEqual(2);
    });
    expect(k).toBe(cfg.scores.length);
  });

  it("matches NAB's own results file (12 significant digits, as NAB v1.0 stored them)", () => {
    const data = csvRows('excerpts/exchange-3_cpc_results.head60.csv');
    const nab = csvRows('excerpts/windowedGaussian_exchange-3_cpc_results.head60.csv');
    const d = new WindowedGaussianDetector();
    data.forEach(([, value], i) => {
      const got = d.update(i, Number(value));
      expect(Number(got.toPrecision(12)), `row ${i + 1}`).toBe(Number(nab[i]![2]));
    });
  });

  it('scores the first record 0 and a constant series 0.5 (std 0 becomes 1e-6)', () => {
    const d = new WindowedGaussianDetector();
    expect(d.update(0, 20)).toBe(0);
    for (let i = 1; i < 50; i++) expect(d.update(i, 20)).toBe(0.5);
    expect(d.update(50, 20.001)).toBe(1); // 1000 std away
  });

  it('rejects bad options and non-finite values with typed errors', () => {
    expect(() => new WindowedGaussianDetector({ windowSize: 0 })).toThrow(/windowSize must be an integer >= 1, got 0/);
    expect(() => new WindowedGaussianDetector({ windowSize: 10, stepSize: 11 })).toThrow(/stepSize must be an integer in \[1, windowSize=10\], got 11/);
    // A window too long to hold threw a bare RangeError (1e10), or took gigabytes per series (1e8).
    for (const windowSize of [1e8, 1e10]) {
      expect(() => new WindowedGaussianDetector({ windowSize })).toThrow(`windowedGaussian: windowSize must be an integer in [1, 1000000], got ${windowSize}`);
    }
    expect(() => new WindowedGaussianDetector({ windowSize: 1_000_000 })).not.toThrow();
    try {
      new WindowedGaussianDetector().update(0, NaN);
      expect.unreachable();
    } catch (e) {
      expect(isEdgeRnnError(e, 'NON_FINITE_INPUT')).toBe(true);
    }
  });
});

describe('RandomDetector and PythonRandom (NAB random: random.seed(42), uniform(0, 1))', () => {
  it('matches CPython random for several seeds', () => {
    for (const [seed, want] of Object.entries(oracle.random)) {
      const r = new PythonRandom(Number(seed));
      for (const w of want) expect(r.uniform(0, 1)).toBe(w);
    }
  });

  it("reproduces NAB's random results file value for value (12 digits)", () => {
    const nab = csvRows('excerpts/random_exchange-2_cpc_results.head30.csv');
    const d = new RandomDetector();
    nab.forEach((row, i) => {
      const got = d.update(i, Number(row[1]));
      // NAB re-read its 12-digit CSV with a parser that is sometimes 1 ulp off, then rewrote it.
      expect(Math.abs(Number(got.toPrecision(12)) - Number(row[2])), `row ${i + 1}`).toBeLessThanOrEqual(Number.EPSILON);
    });
  });

  it('restarts the sequence for every detector (NAB seeds each file) and rejects bad seeds', () => {
    const a = new RandomDetector();
    const b = new RandomDetector();
    a.update(0, 1);
    expect(b.update(0, 1)).toBe(0.6394267984578837);
    expect(new RandomDetector({ seed: 7 }).update(0, 1)).toBe(oracle.random['7']![0]);
    expect(() => new PythonRandom(-1)).toThrow(/seed must be a non-negative safe integer, got -1/);
  });
});

describe('NullDetector', () => {
  it('always scores 0.5', () => {
    const d = new NullDetector();
    for (const v of [0, -5, 1e9]) expect(d.update(0, v)).toBe(0.5);
  });
});

describe('DetectorRegistry', () => {
  it('holds the NAB baselines under their NAB names and makes fresh detectors', () => {
    const r = baselineDetectorRegistry();
    expect(r.names()).toEqual(['null', 'random', 'windowedGaussian']);
    const d = r.get('windowedGaussian').create({ probationaryLength: 10 });
    expect(d.name).toBe('windowedGaussian');
    expect(r.get('random').create({ probationaryLength: 0 }).update(0, 0)).toBe(0.6394267984578837);
  });

  it('plugs in new detectors by name and rejects unknown, duplicate and malformed names', () => {
    const r = new DetectorRegistry().register({ name: 'gru-error', summary: 'test', create: () => new NullDetector() });
    expect(r.has('gru-error')).toBe(true);
    try {
      r.get('nope');
      expect.unreachable();
    } catch (e) {
      expect(isEdgeRnnError(e, 'UNKNOWN_DETECTOR')).toBe(true);
      expect((e as Error).message).toBe("unknown detector 'nope', expected one of: gru-error");
    }
    expect(() => r.register({ name: 'gru-error', summary: '', create: () => new NullDetector() })).toThrow(/already registered/);
    expect(() => r.register({ name: 'bad name', summary: '', create: () => new NullDetector() })).toThrow(/must match/);
  });
});

describe('WindowedGaussianDetector options: unknown fields', () => {
  it('refuses a misspelt or unknown field by name, and options that are not an object', () => {
    // window for windowSize was silently dropped for the default 6400.
    expectCode(() => new WindowedGaussianDetector({ window: 100 } as never), 'DETECTOR_OPTION', /windowedGaussian: window is not an option \(windowSize, stepSize\)/);
    expectCode(() => new WindowedGaussianDetector(null as never), 'DETECTOR_OPTION', /windowedGaussian: options must be an object/);
  });
});
