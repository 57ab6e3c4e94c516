/**
 * `{"kind": "anomaly"}` on a forecaster a user trained with `edgernn train` (front end none: raw
 * values, no detector settings in its manifest). With the shipped model's defaults (errorGain 8 in
 * running-std units, raw scores averaged over 10 records) it never alerted on obvious one-record
 * spikes (highest score 0.24); a model's own horizon and target columns were ignored.
 */
import { describe, expect, it } from 'vitest';
import { anomalyDetectorFactory } from '../../../src/detectors/anomaly/gateway.js';
import type { DetectorContext } from '../../../src/gateway/detectors.js';
import type { ModelSpec } from '../../../src/model/spec.js';
import { errorMessage } from '../../helpers/errors.js';

/** What `edgernn train --task forecast` writes for a CSV of temp, vibration (no anomalyDetector section). */
function userModel(scale: number, data: Record<string, unknown> = { seqLen: 64, columns: ['temp', 'vibration'] }, outputs = 2): DetectorContext {
  const spec = {
    name: 'mine',
    labels: [],
    input: { size: 2, names: ['temp', 'vibration'], frontend: { kind: 'none' } },
    layers: [{ kind: 'gru' }, { kind: 'dense', activation: 'none' }],
    extra: { normalization: { outputMean: [20 * scale, 1 * scale], outputStd: [3.5 * scale, 0.2 * scale].slice(0, outputs) }, data },
  } as unknown as ModelSpec;
  return { labels: [], outputSize: outputs, inputSize: 2, path: 'routes[0].detector', spec };
}

/** A daily cycle, forecast with errors of about 0.8 (a small GRU); +8 at two records. */
function series(scale: number, spikes: boolean): { x: number[][]; y: number[][] } {
  let seed = 17;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const x: number[][] = [];
  const y: number[][] = [];
  for (let t = 0; t < 1000; t++) {
    const base = 20 + 5 * Math.sin((2 * Math.PI * t) / 144);
    const spike = spikes && (t === 500 || t === 800) ? 8 : 0;
    x.push([scale * (base + gauss() + spike), scale * (1 + 0.2 * gauss())]);
    y.push([scale * (20 + 5 * Math.sin((2 * Math.PI * (t + 1)) / 144)), scale * 1]);
  }
  return { x, y };
}

function alerts(ctx: DetectorContext, scale: number, spikes: boolean, cfg: Record<string, unknown> = {}): number[] {
  const d = anomalyDetectorFactory(ctx.spec)({ kind: 'anomaly', ...cfg } as never, ctx);
  const { x, y } = series(scale, spikes);
  return x.flatMap((row, t) => (d.step(Float32Array.from(y[t]!), Float32Array.from(row)) ? [t] : []));
}

describe('anomaly detector defaults on a model trained with edgernn train', () => {
  it('alerts at one-record spikes and nowhere else, whatever the units of the data', () => {
    expect(alerts(userModel(1), 1, true)).toEqual([500, 800]);
    expect(alerts(userModel(1), 1, false)).toEqual([]);
    // The same data in other units (x1000): errorGain follows the training std of the channel.
    expect(alerts(userModel(1000), 1000, true)).toEqual([500, 800]);
  });

  it('keeps the shipped defaults for a route that sets them, and for a series front end', () => {
    // The route's own averagingWindow (the shipped 10): the spikes are averaged away again.
    expect(alerts(userModel(1), 1, true, { averagingWindow: 10, errorGain: 8, onThreshold: 0.5 })).toEqual([]);
    // Frames of a series front end are in running stds: the shipped defaults, as before.
    const series = userModel(1);
    (series.spec!.input as { frontend: unknown }).frontend = { kind: 'series', channels: 2, scaling: { kind: 'none' } };
    expect(alerts(series, 1, true)).toEqual([]);
  });

  it('reads the target columns, and refuses a horizon it cannot score', () => {
    // One output, forecasting temp: the input is mapped to that column.
    expect(alerts(userModel(1, { columns: ['temp', 'vibration'], targetColumns: ['temp'] }, 1), 1, true)).toEqual([500, 800]);
    const windowed = userModel(1);
    (windowed.spec!.input as { frontend: unknown }).frontend = { kind: 'none', windows: { frames: 8, hop: 4 } };
    expect(errorMessage(() => anomalyDetectorFactory(windowed.spec)({ kind: 'anomaly' } as never, windowed), 'GATEWAY_CONFIG')).toMatch(/is served in windows/);
    const ahead = userModel(1, { columns: ['temp', 'vibration'], horizon: 3 });
    expect(errorMessage(() => anomalyDetectorFactory(ahead.spec)({ kind: 'anomaly' } as never, ahead), 'GATEWAY_CONFIG')).toMatch(
      /routes\[0\]\.detector: an anomaly detector scores next-frame forecasts, and model 'mine' forecasts 3 frames ahead \(extra\.data\.horizon\): use \{"kind": "threshold", "score": "forecastError"\}/,
    );
  });
});
