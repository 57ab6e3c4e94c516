/**
 * The threshold detector's `score: "reconstructionError"`: an autoencoder made by `edgernn train
 * --task autoencoder` (docs/trainer.md: "the anomaly score is the reconstruction error") could not
 * be served, the gateway scoring only an output or a forecast's error.
 */
import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { createThresholdDetector, type Detector, type DetectorContext } from '../../src/gateway/detectors.js';
import { errorMessage } from '../helpers/errors.js';

// W = 3 frames of F = 2 features: 6 outputs, frames t-2, t-1, t (oldest first).
const ctx = (o: Partial<DetectorContext> = {}): DetectorContext => ({ labels: [], outputSize: 6, inputSize: 2, path: 'routes[0].detector', ...o });
const cfg = { kind: 'threshold', output: 0, score: 'reconstructionError', on: 1, off: 0.5, minSteps: 1, refractorySteps: 0 } as const;

/** Steps the detector; returns the score after each step and the events. */
function drive(d: Detector, inputs: number[][], outputs: number[][]): { scores: number[]; events: ({ label: string; score: number } | null)[] } {
  const scores: number[] = [];
  const events = inputs.map((x, t) => {
    const e = d.step(Float32Array.from(outputs[t]!), Float32Array.from(x));
    scores.push(d.lastScore);
    return e;
  });
  return { scores, events };
}

const inputs = [
  [1, 2],
  [3, 4],
  [5, 6],
  [7, 8],
  [9, 10],
];
// A perfect reconstruction of the frames seen so far (slots before the first frame hold junk,
// which must not count), then one frame off by 3 in both features at step 4.
const outputs = [
  [99, 99, 99, 99, 1, 2],
  [99, 99, 1, 2, 3, 4],
  [1, 2, 3, 4, 5, 6],
  [3, 4, 5, 6, 7, 8],
  [5, 6, 7, 8, 12, 13],
];

describe('threshold detector, score reconstructionError', () => {
  it('is the mean squared error over the frames seen so far, label anomaly', () => {
    const { scores, events } = drive(createThresholdDetector(cfg, ctx()), inputs, outputs);
    expect(scores.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(scores[4]).toBeCloseTo((3 * 3 + 3 * 3) / 6, 12); // one of three frames off by 3 in both features
    expect(events.slice(0, 4)).toEqual([null, null, null, null]);
    expect(events[4]).toEqual({ label: 'anomaly', score: 3 });
  });

  it('continues exactly after exportState/importState (JSON round trip), and starts afresh after reset', () => {
    const whole = drive(createThresholdDetector(cfg, ctx()), inputs, outputs);
    const a = createThresholdDetector(cfg, ctx());
    const first = drive(a, inputs.slice(0, 2), outputs.slice(0, 2));
    const b = createThresholdDetector(cfg, ctx());
    b.importState(JSON.parse(JSON.stringify(a.exportState())));
    const rest = drive(b, inputs.slice(2), outputs.slice(2));
    expect([...first.scores, ...rest.scores]).toEqual(whole.scores);
    b.reset();
    expect(drive(b, inputs.slice(0, 1), outputs.slice(0, 1)).scores).toEqual([0]);
  });

  it('refuses a model whose outputs are not whole input frames, and a damaged state', () => {
    expect(errorMessage(() => createThresholdDetector(cfg, ctx({ outputSize: 5 })), 'GATEWAY_CONFIG')).toMatch(/routes\[0\]\.detector\.score must be "output" for this model \('reconstructionError' needs an autoencoder's outputs/);
    const d = createThresholdDetector(cfg, ctx());
    const state = d.exportState() as Record<string, unknown>;
    expect(errorMessage(() => d.importState({ ...state, recent: [1, 2] }), 'GATEWAY_STATE')).toMatch(/expected the last 3 input frames/);
  });

  it('is accepted by the config', () => {
    const config = parseGatewayConfig({ models: { ae: 'ae.ern' }, routes: [{ sensor: 's', model: 'ae', detector: { kind: 'threshold', score: 'reconstructionError', on: 0.5 } }], stateDir: '' });
    expect(config.routes[0]!.detector).toMatchObject({ kind: 'threshold', score: 'reconstructionError', on: 0.5 });
  });
});
