/**
 * `edgernn info` says how `edgernn gateway` serves a model: in sliding windows (each from a reset
 * state) or as one never-reset session per device stream, how often its detector decides, the
 * detector a route without one gets (or that one must be named), and what a forecaster predicts.
 * It printed a "serving" line only for models with `input.frontend.windows`: a classifier served
 * as one session (trained before windows, or with --serve session), and the HAR model (windows
 * from its IMU front end), said nothing, so a user could not tell which models changed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import type { FrontendSpec, ModelSpec } from '../../src/model/spec.js';
import { Rng } from '../../src/util/rng.js';
import { randomRecurrent } from '../helpers/random-model.js';
import { runCaptured } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-info-serving-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const cli = (...argv: string[]) => runCaptured(argv, runtimeCommands, ROOT);

/** A small float GRU model: 2 inputs, `labels.length` outputs (softmax unless `head` says). */
function model(name: string, o: { labels?: string[]; outputs?: number; frontend?: FrontendSpec; rateHz?: number; task?: ModelSpec['task']; extra?: Record<string, unknown>; names?: string[]; direction?: 'forward' | 'bidirectional'; head?: 'softmax' | 'logSoftmax' } = {}): string {
  const rng = new Rng(7);
  const O = o.labels?.length ?? o.outputs ?? 3;
  const rec = randomRecurrent(rng, 'gru', 2, 4, o.direction ?? 'forward');
  const H = o.direction === 'bidirectional' ? 8 : 4;
  const spec: ModelSpec = {
    name,
    version: '1.0.0',
    task: o.task ?? 'classify',
    labels: o.labels ?? [],
    input: { size: 2, frontend: o.frontend ?? { kind: 'none' }, ...(o.rateHz ? { rateHz: o.rateHz } : {}), ...(o.names ? { names: o.names } : {}) },
    precision: 'float32',
    layers: [rec, { kind: 'dense', inputSize: H, outputSize: O, activation: 'none', float: { W: rng.float32(O * H, -0.5, 0.5), B: rng.float32(O, -0.1, 0.1) } }, ...(o.labels ? [{ kind: o.head ?? 'softmax', size: O }] : [])],
    training: {},
    ...(o.extra ? { extra: o.extra } : {}),
  };
  const file = path.join(tmp, `${name}.ern`);
  fs.writeFileSync(file, encodeModel(spec));
  return file;
}

async function info(file: string): Promise<{ text: string; serving: Record<string, unknown> }> {
  const t = await cli('info', file);
  expect(t.code, t.err).toBe(0);
  const j = await cli('info', file, '--json');
  expect(j.code, j.err).toBe(0);
  return { text: t.out, serving: JSON.parse(j.out).serving };
}

describe('edgernn info: how the gateway serves the model', () => {
  it('a classifier without windows (trained before them, or --serve session) is served as one never-reset session: it said nothing', async () => {
    const { text, serving } = await info(model('session', { labels: ['_noise_', 'tap', 'knock'], rateHz: 50 }));
    expect(text).toContain('\n  serving   one session per device stream, never reset: a decision per frame, 50 a second\n');
    expect(text).toContain('\n  detector  a route without one: threshold 0.5 on output 1 (tap)\n');
    expect(text).toContain('\n            smoothing without window or refractorySteps: window 30 (600 ms), refractorySteps 50 (1000 ms) (decisions)\n');
    expect(serving).toMatchObject({ mode: 'session', frontend: 'none', decisionsPerSecond: 50, defaultDetector: { kind: 'threshold', on: 0.5, output: 1, label: 'tap' }, smoothingDefaults: { window: 30, refractorySteps: 50 } });
    expect(serving.window).toBeUndefined();
  });

  it('the same classifier trained on CSV windows is served in windows, decides once per window, and smooths over frames / hop windows', async () => {
    const { text, serving } = await info(model('windows', { labels: ['_noise_', 'tap', 'knock'], frontend: { kind: 'none', windows: { frames: 20, hop: 10 } } }));
    expect(text).toContain('\n  serving   sliding windows of 20 frames every 10, each from a reset state: a decision per window, at the rate samples arrive (the model records none)\n');
    expect(serving).toMatchObject({ mode: 'windows', window: { frames: 20, hop: 10 }, decisionsPerSecond: null, smoothingDefaults: { window: 2, refractorySteps: 2 } });
  });

  it('windows of one frame (train --seq-len 1) are windows: each frame from a reset state, as the gateway serves them (it said "one session")', async () => {
    const { text, serving } = await info(model('one-frame', { labels: ['_noise_', 'tap', 'knock'], frontend: { kind: 'none', windows: { frames: 1, hop: 1 } } }));
    expect(text).toContain('\n  serving   sliding windows of 1 frames every 1, each from a reset state');
    expect(serving).toMatchObject({ mode: 'windows', window: { frames: 1, hop: 1 } });
  });

  it('the shipped models: kws in 1.5 s windows every 100 ms, har in its IMU front end windows (it said nothing), anomaly as one session that needs a named detector', async () => {
    const kws = await info(path.join(ROOT, 'models/kws.ern'));
    expect(kws.text).toContain('\n  serving   sliding windows of 75 frames (1500 ms) every 5 (100 ms), each from a reset state: a decision per window, 10 a second\n');
    expect(kws.serving).toMatchObject({ mode: 'windows', frontend: 'mfcc', window: { frames: 75, hop: 5, ms: 1500, hopMs: 100 }, decisionsPerSecond: 10, defaultDetector: { output: 0, label: 'yes' }, smoothingDefaults: { window: 3, refractorySteps: 10 } });
    const har = await info(path.join(ROOT, 'models/har.ern'));
    expect(har.text).toContain('\n  serving   sliding windows of 64 frames (4000 ms) every 16 (1000 ms), each from a reset state: a decision per window, 1 a second\n');
    expect(har.serving).toMatchObject({ mode: 'windows', frontend: 'imu', window: { frames: 64, hop: 16, ms: 4000, hopMs: 1000 }, decisionsPerSecond: 1, smoothingDefaults: { window: 4, refractorySteps: 4 } });
    const an = await info(path.join(ROOT, 'models/anomaly.ern'));
    expect(an.text).toContain('\n  serving   one session per device stream, never reset: a decision per frame');
    expect(an.text).toContain('\n  detector  a route must name one (task anomaly: its outputs are predictions, not scores), e.g. {"kind": "anomaly"}\n');
    expect(an.text).toContain('\n  forecast  1 frame ahead: value\n');
    expect(an.serving).toMatchObject({ mode: 'session', defaultDetector: { required: true, example: '{"kind": "anomaly"}' }, forecast: { horizon: 1, targets: ['value'] } });
    expect(an.serving.smoothingDefaults).toBeUndefined();
  });

  it('a forecaster trained with --horizon and --target-columns: what it predicts, and that a route must name its detector', async () => {
    const file = model('fc', { task: 'forecast', outputs: 1, names: ['temp', 'load'], extra: { data: { horizon: 3, columns: ['temp', 'load'], targetColumns: ['load'] } } });
    const { text, serving } = await info(file);
    expect(text).toContain('\n  forecast  3 frames ahead: load\n');
    expect(text).toMatch(/\n {2}detector {2}a route must name one \(task forecast: .*"score": "forecastError"/);
    expect(serving).toMatchObject({ mode: 'session', defaultDetector: { required: true }, forecast: { horizon: 3, targets: ['load'] } });
  });

  it('a model the gateway refuses says so (bidirectional layers), a default detector it refuses (log-softmax outputs), and a forecaster whose record is broken names it', async () => {
    const bi = await info(model('bi', { labels: ['a', 'b'], direction: 'bidirectional' }));
    expect(bi.text).toContain('\n  serving   not by the gateway: it has bidirectional layers and cannot run on a stream\n');
    expect(bi.serving).toMatchObject({ mode: 'refused' });
    // The default threshold (0.5) is beyond a log-softmax's outputs: the gateway refuses the route.
    const ls = await info(model('ls', { labels: ['a', 'b'], head: 'logSoftmax' }));
    expect(ls.text).toMatch(/\n {2}detector {2}a route without one is refused: \[GATEWAY_CONFIG\] .*must be at most 0 \(the model ends in logSoftmax/);
    expect(ls.serving).toMatchObject({ mode: 'session', defaultDetector: { refused: expect.stringContaining('logSoftmax') } });
    const fc = await info(model('fc-bad', { task: 'forecast', outputs: 1, extra: { data: { horizon: 0 } } }));
    expect(fc.text).toMatch(/\n {2}forecast {2}\[GATEWAY_CONFIG\] .*extra\.data\.horizon = 0, expected an integer/);
  });

  it('--json has serving between sizes and golden', async () => {
    const j = await cli('info', path.join(ROOT, 'models/kws.ern'), '--json');
    expect(Object.keys(JSON.parse(j.out))).toEqual(['file', 'sha256', 'bytes', 'formatVersion', 'layout', 'manifest', 'tensors', 'sizes', 'serving', 'golden']);
  });
});
