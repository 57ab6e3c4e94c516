/**
 * `edgernn eval models/anomaly.ern --data SERIES.csv`: the anomaly job's own data format. The rows
 * go through the model's `series` front end (running mean and standard deviation, clip) before
 * the model sees them, as on a gateway; the forecast error is in the front end's units. A
 * synthetic series, no training.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, decodeModel, SeriesFrontend, validateSeriesSpec } from '../../../../src/index.js';
import { evalCommand } from '../../../../quantize/cli/eval.js';
import { runCaptured } from '../../../helpers/cli.js';

const MODEL = path.resolve(import.meta.dirname, '../../../../models/anomaly.ern');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-series-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const N = 300;
const level = (t: number): number => 80 + 5 * Math.sin(t / 12) + ((t * 7919) % 13) / 13;
function writeSeries(name: string, f: (v: number) => number): string {
  const ts = (t: number): string => new Date(Date.UTC(2015, 0, 1) + t * 300_000).toISOString().slice(0, 19).replace('T', ' ');
  fs.writeFileSync(path.join(tmp, name), `timestamp,value\n${Array.from({ length: N }, (_, t) => `${ts(t)},${f(level(t))}`).join('\n')}\n`);
  return name;
}

interface EvalJson {
  samples: number;
  mse: number;
}

describe('edgernn eval on a series model', () => {
  it('scores the next frame of the front end, not the raw values (a regression: the front end was skipped)', async () => {
    const r = await runCaptured(['eval', MODEL, '--data', writeSeries('a.csv', (v) => v), '--json'], [evalCommand], tmp);
    expect(r.code, r.err).toBe(0);
    const got = JSON.parse(r.out) as EvalJson;

    // Oracle: the front end over the whole series, windows of 64 every 32, one session per window.
    const bytes = new Uint8Array(fs.readFileSync(MODEL));
    const spec = decodeModel(bytes, MODEL).spec;
    const frames = new SeriesFrontend(validateSeriesSpec(spec.input.frontend)).batch(Float32Array.from({ length: N }, (_, t) => level(t))).data;
    const model = await (await createRuntime()).load(bytes, { source: MODEL });
    let sq = 0;
    let n = 0;
    let windows = 0;
    for (let s = 0; s + 64 + 1 <= N; s += 32, windows++) {
      const session = model.session();
      const y = session.run(frames.subarray(s, s + 64));
      for (let t = 0; t < 64; t++, n++) sq += (y[t]! - frames[s + t + 1]!) ** 2;
      session.dispose();
    }
    model.dispose();
    expect(got.samples).toBe(windows);
    expect(got.mse).toBeCloseTo(sq / n, 6);
    // In running-std units the error does not depend on the sensor's unit and offset.
    const scaled = await runCaptured(['eval', MODEL, '--data', writeSeries('b.csv', (v) => 1000 * v + 5e4), '--json'], [evalCommand], tmp);
    expect(scaled.code, scaled.err).toBe(0);
    expect((JSON.parse(scaled.out) as EvalJson).mse).toBeCloseTo(got.mse, 3);
  });

  it('a folder or a non-CSV file is refused, pointing to edgernn nab', async () => {
    fs.mkdirSync(path.join(tmp, 'folder'), { recursive: true });
    const r = await runCaptured(['eval', MODEL, '--data', 'folder'], [evalCommand], tmp);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error \[BAD_DATA\]: folder: a model with a 'series' front end is scored on one CSV series .*use edgernn nab/);
    expect(r.err).not.toMatch(/WAV|clip/);
  });
});
