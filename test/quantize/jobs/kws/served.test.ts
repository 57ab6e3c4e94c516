/**
 * A keyword model served in sliding windows (`input.frontend.windows`): the job's window
 * posteriors are what the front end's window blocks give through a reset session (the gateway's
 * path), the detector's time base follows the windows, and `tune-kws` rewrites a model's
 * streaming settings without touching its weights.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioFrontend, createFrontend, createRuntime, decodeModel, kwsTimeBaseOf, readWavMono, validateAudioSpec, type Model } from '../../../../src/index.js';
import { desktopCommands } from '../../../../quantize/cli/index.js';
import { windowsFlag } from '../../../../quantize/jobs/kws/cli.js';
import { frameSpec, servedPosteriors, streamPosteriors, windowPosteriors } from '../../../../quantize/jobs/kws/evaluate.js';
import { DEFAULT_THRESHOLD_GRID } from '../../../../quantize/jobs/kws/stream-eval.js';
import { runCaptured } from '../../../helpers/cli.js';
import { errorMessage } from '../../../helpers/errors.js';
import { fixtureStream } from './fixture-stream.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const MODEL = path.join(ROOT, 'models/kws.ern');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-kws-served-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function load(bytes: Uint8Array): Promise<Model> {
  return (await createRuntime()).load(bytes, { source: 'kws.ern' });
}

describe('sliding-window serving of a keyword model', () => {
  it("windowPosteriors = the front end's window blocks through a reset session, bit for bit", async () => {
    const model = await load(new Uint8Array(fs.readFileSync(MODEL)));
    fixtureStream(tmp);
    const pcm = readWavMono(new Uint8Array(fs.readFileSync(path.join(tmp, 'stream.wav')))).samples.subarray(0, 16000 * 6);
    const spec = frameSpec(validateAudioSpec(model.spec.input.frontend));
    const w = { frames: 75, hop: 5 };
    const frames = new AudioFrontend(spec).batch(pcm);
    const offline = windowPosteriors(model, frames.data, w);
    const fe = createFrontend({ ...spec, windows: w });
    const s = model.session();
    const served: number[] = [];
    fe.push(pcm, (block) => {
      s.reset();
      const y = s.run(block);
      served.push(...y.subarray(y.length - model.outputSize));
    });
    expect(offline.length / model.outputSize).toBe(1 + Math.floor((frames.count - 75) / 5));
    expect(Float32Array.from(served)).toEqual(offline);
    // Without windows, servedPosteriors is the never-reset session.
    expect(servedPosteriors(model, frames.data, spec)).toEqual(streamPosteriors(model, frames.data));
    expect(servedPosteriors(model, frames.data, { ...spec, windows: w })).toEqual(offline);
    model.dispose();
  });

  it('the detector time base: one posterior per window hop, ending with the window', () => {
    const fe = { kind: 'mfcc', hopMs: 20, frameMs: 40 };
    expect(kwsTimeBaseOf({ name: 'k', input: { size: 13, frontend: fe } })).toEqual({ hopMs: 20, frameMs: 40 });
    expect(kwsTimeBaseOf({ name: 'k', input: { size: 13, frontend: { ...fe, windows: { frames: 75, hop: 5 } } } })).toEqual({ hopMs: 100, frameMs: 74 * 20 + 40 });
    expect(errorMessage(() => kwsTimeBaseOf({ name: 'k', input: { size: 13, frontend: { ...fe, windows: 3 } } }), 'DETECTOR_OPTION')).toMatch(/input\.frontend\.windows must be an object \{frames, hop\} of whole numbers with 1 <= hop <= frames, got 3/);
  });

  it('tune-kws: windows and thresholds rewritten from the validation stream, weights and golden input kept; --windows none undoes it', async () => {
    const streamDir = path.join(tmp, 'stream');
    fs.mkdirSync(streamDir, { recursive: true });
    fixtureStream(streamDir);
    // The validation stream: the same clips with other gaps (tuning on the held-out stream is refused).
    const valDir = path.join(tmp, 'val-stream');
    fs.mkdirSync(valDir, { recursive: true });
    fixtureStream(valDir, 0.8);
    const out = path.join(tmp, 'tuned.ern');
    const args = ['tune-kws', MODEL, '-o', out, '--val-stream', valDir, '--stream', streamDir, '--cache-dir', path.join(tmp, 'cache'), '--json'];
    const r = await runCaptured([...args, '--windows', '60,4'], desktopCommands, ROOT);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out) as { detector: { thresholds: Record<string, number> }; test: { keywords: number } };
    const before = decodeModel(new Uint8Array(fs.readFileSync(MODEL)));
    const after = decodeModel(new Uint8Array(fs.readFileSync(out)));
    expect(after.spec.input.frontend).toEqual({ ...frameSpec(validateAudioSpec(before.spec.input.frontend)), windows: { frames: 60, hop: 4 } });
    const kws = after.spec.extra!.kws as { detector: { thresholds: Record<string, number> }; tuning: { windows: unknown }; metrics: { test: { clipAccuracyInt8: number; stream: { keywords: number } } } };
    expect(kws.detector.thresholds).toEqual(res.detector.thresholds);
    for (const t of Object.values(kws.detector.thresholds)) expect(DEFAULT_THRESHOLD_GRID).toContain(t);
    expect(kws.tuning.windows).toEqual({ frames: 60, hop: 4 });
    expect(kws.metrics.test.stream.keywords).toBe(res.test.keywords);
    expect(kws.metrics.test.clipAccuracyInt8).toBe((before.spec.extra!.kws as typeof kws).metrics.test.clipAccuracyInt8);
    expect(after.golden.inputData).toEqual(before.golden.inputData);
    expect(after.golden.outputData).toEqual(before.golden.outputData);
    for (const [name, t] of before.container.tensors) expect(after.container.tensors.get(name)!.data, name).toEqual(t.data);
    // It loads and passes its golden check; --windows none serves it as one session again.
    (await load(new Uint8Array(fs.readFileSync(out)))).dispose();
    const none = await runCaptured([...args, '--windows', 'none'], desktopCommands, ROOT);
    expect(none.code).toBe(0);
    expect((decodeModel(new Uint8Array(fs.readFileSync(out))).spec.input.frontend as { windows?: unknown }).windows).toBeUndefined();
  }, 120_000);

  it('tune-kws usage errors exit 2 before any work', async () => {
    expect(windowsFlag('75,5')).toEqual({ frames: 75, hop: 5 });
    expect(windowsFlag('none')).toBeNull();
    for (const bad of ['5,75', '0,0', 'x', '75']) {
      const r = await runCaptured(['tune-kws', '--windows', bad], desktopCommands, ROOT);
      expect(r.code, bad).toBe(2);
      expect(r.err).toMatch(/--windows takes FRAMES,HOP with 1 <= HOP <= FRAMES/);
    }
  });
});
