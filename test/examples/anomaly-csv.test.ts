/**
 * examples/anomaly-csv.mjs (anomaly detection on a series with the public package API) run as a
 * user runs it, on a NAB-format CSV with a spike and a level shift. Its alerts must be the ones
 * the gateway raises on the same readings (a `meter` route with the `anomaly` detector, replayed
 * deterministically): same records, same scores.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { replayTrace } from '../../src/gateway/trace.js';
import { Rng } from '../../src/util/rng.js';
import { featureModelBytes } from '../gateway/feature-fixtures.js';
import { tmpDir } from '../gateway/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const work = tmpDir('edgernn-example-anomaly-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function example(...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'examples/anomaly-csv.mjs'), ...args], { encoding: 'utf8' });
}

describe('examples/anomaly-csv.mjs', () => {
  it('raises the alerts the gateway raises on the same readings', async () => {
    // Five-minute readings over 10 days: a daily cycle with noise, a spike on day 6, a level shift on day 8.
    const rng = new Rng(21);
    const t0 = Date.parse('2014-02-01T00:00:00Z');
    const n = 10 * 288;
    const values = Array.from({ length: n }, (_, i) => {
      let v = 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + rng.uniform(-1, 1);
      if (i === 6 * 288 + 100) v += 60;
      if (i >= 8 * 288 + 40) v += 25;
      return Number(v.toFixed(3));
    });
    const stamp = (i: number) => new Date(t0 + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    const csv = path.join(work, 'series.csv');
    fs.writeFileSync(csv, `timestamp,value\n${values.map((v, i) => `${stamp(i)},${v}`).join('\n')}\n`);

    const r = example(csv, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { records: number; alerts: { record: number; time: string; value: number; score: number }[] };
    expect(got.records).toBe(n);

    // The gateway, one JSON message per reading, replayed on a clock that follows the timestamps.
    const config = parseGatewayConfig({
      site: 'plant',
      broker: { url: 'embedded' },
      models: { anomaly: path.join(ROOT, 'models/anomaly.ern') },
      routes: [{ sensor: 'meter', model: 'anomaly', codec: 'json', channels: 1, detector: { kind: 'anomaly' } }],
      stateDir: '',
      metrics: { intervalMs: 0 },
    });
    const records = values.map((v, i) => ({ t: t0 + i * 300_000, topic: 'edgernn/plant/m1/meter', qos: 1 as const, payload: encodeJson([v], 1, { seq: i, tsMs: t0 + i * 300_000 }) }));
    const replay = await replayTrace({ config, records, speed: 'max' });
    const want = replay.alerts.map((a) => ({ record: a.frameIndex - 1, time: a.ts, value: values[a.frameIndex - 1], score: Number(a.score.toFixed(4)) }));
    expect(want.length).toBeGreaterThan(0);
    expect(got.alerts).toEqual(want);
    // The spike is among them, and nothing before it alerts (six normal days). The level shift
    // (+25) scores 0.45 with the shipped model, under its 0.5 threshold: not asserted, as it is a
    // property of the model rather than of the example (the model before 2026-11-27 scored 0.51).
    expect(got.alerts.some((a) => Math.abs(a.record - (6 * 288 + 100)) <= 2)).toBe(true);
    expect(got.alerts.filter((a) => a.record < 6 * 288 + 98)).toEqual([]);

    // The same readings stamped in epoch seconds, then milliseconds: the same alerts at the same times
    // (seconds were read as milliseconds: every alert in January 1970).
    for (const scale of [1000, 1]) {
      const epoch = path.join(work, `series-epoch-${scale}.csv`);
      fs.writeFileSync(epoch, `timestamp,value\n${values.map((v, i) => `${(t0 + i * 300_000) / scale},${v}`).join('\n')}\n`);
      const e = example(epoch, '--json');
      expect(e.status).toBe(0);
      expect((JSON.parse(e.stdout) as typeof got).alerts).toEqual(want);
    }

    expect(example(csv).stdout).toMatch(/series\.csv: 2880 readings, model anomaly-gru-forecaster 1\.0\.0 on simd\n( {2}\S+Z {2}record +\d+ {2}value [0-9.]+ {2}score [0-9.]+\n)+ {2}\d+ alerts?\n$/);
  });

  it('usage without a file (exit 2); a line that is not "timestamp,value" is named (exit 1)', () => {
    const usage = example();
    expect([usage.status, usage.stderr]).toEqual([2, 'usage: node examples/anomaly-csv.mjs SERIES.csv [MODEL.ern] [--json]\n']);
    const bad = path.join(work, 'bad.csv');
    fs.writeFileSync(bad, 'timestamp,value\n2014-02-01 00:00:00,1\n2014-02-01 00:05:00,x\n');
    const r = example(bad);
    expect([r.status, r.stderr]).toEqual([1, `${bad}:3: expected "timestamp,value", got "2014-02-01 00:05:00,x"\n`]);
    // A value beyond float32 (what the model reads) is named; it used to become Infinity and end in a stack trace.
    fs.writeFileSync(bad, 'timestamp,value\n2014-02-01 00:00:00,1\n2014-02-01 00:05:00,1e39\n');
    const big = example(bad);
    expect([big.status, big.stdout, big.stderr]).toEqual([1, '', `${bad}:3: expected "timestamp,value", got "2014-02-01 00:05:00,1e39"\n`]);
  });

  it('a file without a header whose first value is written with an exponent keeps that reading (it was taken for the header)', () => {
    const csv = path.join(work, 'exponent.csv');
    const lines = ['1391212800000,1.5e-3', '1391213100000,0.0016', '1391213400000,1.7E-3'];
    fs.writeFileSync(csv, `${lines.join('\n')}\n`);
    const r = example(csv, '--json');
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect((JSON.parse(r.stdout) as { records: number }).records).toBe(3);
    fs.writeFileSync(csv, `timestamp,value\n${lines.join('\n')}\n`); // the header is still skipped
    expect((JSON.parse(example(csv, '--json').stdout) as { records: number }).records).toBe(3);
  });

  it('a series model that is not a one-channel forecaster is refused (exit 1): a two-channel one crashed with a stack trace, a classifier ran as a forecaster', () => {
    const csv = path.join(work, 'short.csv');
    fs.writeFileSync(csv, 'timestamp,value\n2014-02-01 00:00:00,1\n2014-02-01 00:05:00,2\n');
    const series = (channels: number) => ({ kind: 'series' as const, channels, scaling: { kind: 'none' as const } });
    const calib = new Float32Array(64).map((_, i) => Math.sin(i));
    for (const [name, bytes, what] of [
      ['two-channel.ern', featureModelBytes(2, series(2), calib, 3), '2 input channel(s) and 2 output(s) for 2 input(s)'],
      ['classifier.ern', featureModelBytes(1, series(1), calib, 3), '1 input channel(s) and 2 output(s) for 1 input(s)'],
    ] as const) {
      const model = path.join(work, name);
      fs.writeFileSync(model, bytes);
      const r = example(csv, model);
      expect([r.status, r.stdout, r.stderr]).toEqual([1, '', `${model}: a model with ${what}; this example needs a one-channel forecaster (outputs predicting its next input, e.g. models/anomaly.ern)\n`]);
    }
  });
});
