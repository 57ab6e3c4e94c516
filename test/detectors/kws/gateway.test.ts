/**
 * The keyword detector as a gateway detector kind: config handling of kwsDetectorFactory (with
 * and without the model's manifest), and the shipped models/kws.ern in the MQTT gateway (built-in
 * kws detector kind and MFCC front end, settings from the manifest) on the
 * embedded aedes broker: a device publishes 16 kHz int16 audio (the committed held-out-voice
 * fixture clips between stretches of noise) in 20 ms binary frames; the gateway's alerts equal an
 * offline oracle (the manifest's front end and its sliding windows, the same detector) alert for alert.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import {
  createFrontend,
  createKwsDetectorForModel,
  createRuntime,
  decodeModel,
  encodeModel,
  isEdgeRnnError,
  kwsDetectorFactory,
  readWavMono,
  Rng,
  type Model,
  type ModelSpec,
} from '../../../src/index.js';
import { ManualClock } from '../../../src/gateway/clock.js';
import { parseGatewayConfig } from '../../../src/gateway/config.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { memoryLogger } from '../../../src/gateway/logger.js';
import { TraceTransport } from '../../../src/gateway/transport.js';
import { encodeBinary } from '../../../src/gateway/codecs.js';
import type { DetectorContext } from '../../../src/gateway/detectors.js';
import { expectAlertsLikeOracle, publishAsync, startJobGateway, waitFor, type JobGateway } from '../../gateway/fixtures.js';
import { errorMessage } from '../../helpers/errors.js';
import { joinedOnInt16Grid } from '../../helpers/kws-recording.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODEL_FILE = path.join(ROOT, 'models/kws.ern');
const FIXTURES = path.join(ROOT, 'test/fixtures/kws');
const T0 = 1_700_000_000_000;

const LABELS = ['yes', 'no', '_unknown_', '_silence_'];
const ctx = (o: Partial<DetectorContext> = {}): DetectorContext => ({ labels: LABELS, outputSize: 4, inputSize: 13, path: 'routes[0].detector', ...o });
const FULL = { kind: 'kws', hopMs: 20, frameMs: 40, windowMs: 60, refractoryMs: 200, rearm: 1, thresholds: { yes: 0.55, no: 0.7 } };

/** The error Gateway.create gives for a kws route on the shipped model edited by `edit` (null: none). */
async function kwsRouteError(kwsSpec: ModelSpec, what: string, edit: (s: ModelSpec) => void): Promise<unknown> {
  const spec = structuredClone(kwsSpec);
  edit(spec);
  const model = await (await createRuntime()).load(encodeModel(spec), { source: `kws (${what})` });
  const config = parseGatewayConfig({ site: 's', models: { kws: 'kws.ern' }, routes: [{ sensor: 'mic', model: 'kws', codec: 'binary', channels: 1, sampleRateHz: 16000, detector: { kind: 'kws' } }], stateDir: '', metrics: { intervalMs: 0 } });
  try {
    const gw = await Gateway.create({ config, models: { kws: model }, clock: new ManualClock(T0), transport: new TraceTransport(), logger: memoryLogger('silent') });
    await gw.stop();
    return null;
  } catch (e) {
    return e;
  } finally {
    model.dispose();
  }
}

function configError(fn: () => unknown): string {
  return errorMessage(fn, 'GATEWAY_CONFIG');
}

describe('kwsDetectorFactory', () => {
  it('builds a detector from a complete route config and fires like KwsDetector', () => {
    const d = kwsDetectorFactory()(FULL, ctx());
    const rows = [0, 0, 0.9, 0.9, 0.9, 0.1, 0.1].map((p) => Float32Array.of(p, 0, 0, 1 - p));
    const ev = rows.map((r) => d.step(r, new Float32Array(13)));
    // W = 3 steps: the mean reaches 0.6 >= 0.55 at step 3 ((0 + 0.9 + 0.9) / 3).
    expect(ev.map((e) => (e ? e.label : null))).toEqual([null, null, null, 'yes', null, null, null]);
    expect(ev[3]).toMatchObject({ label: 'yes', step: 3, timeMs: 3 * 20 + 40 });
    expect(d.lastScore).toBeCloseTo(0.1 / 3 + 0.1 / 3 + 0.9 / 3, 6);
  });

  it('names what is missing or wrong, with the route path', () => {
    const f = kwsDetectorFactory();
    expect(configError(() => f({ kind: 'kws', windowMs: 60 }, ctx()))).toMatch(/^routes\[0\]\.detector\.hopMs is required \(not in the route config, and no model spec was given to kwsDetectorFactory\)/);
    expect(configError(() => f({ ...FULL, thresholds: { yes: 0.55, no: 1.5 } }, ctx()))).toBe('routes[0].detector.thresholds.no must be a smoothed posterior in (0, 1], got 1.5');
    expect(configError(() => f({ ...FULL, thresholds: { yes: 0.6, no: 0.5, maybe: 0.5 } }, ctx()))).toMatch(/thresholds\.maybe must be a keyword of the model \(yes, no\), got "maybe"/);
    expect(configError(() => f({ ...FULL, window: 3 }, ctx()))).toMatch(/^routes\[0\]\.detector\.window is not a field of a kws detector/);
    expect(configError(() => f({ ...FULL, thresholds: [0.5] }, ctx()))).toMatch(/thresholds must be an object \{keyword: threshold\}, got \[0.5\]/);
    expect(configError(() => f(FULL, ctx({ labels: ['a', 'b', 'c'], outputSize: 4 })))).toMatch(/one label per model output: 4 outputs, 3 labels/);
  });

  it('takes the settings of a model spec, lets the route override some, and refuses another model', () => {
    const spec = {
      name: 'toy',
      labels: LABELS,
      input: { size: 13, frontend: { kind: 'mfcc', hopMs: 20, frameMs: 40 } },
      extra: { kws: { keywords: ['yes', 'no'], detector: { windowMs: 60, refractoryMs: 200, rearm: 1, thresholds: { yes: 0.6, no: 0.7 } } } },
    };
    const f = kwsDetectorFactory(spec);
    const rows = [0.5, 0.5, 0.5, 0.5].map((p) => Float32Array.of(p, 0, 0, 1 - p));
    const plain = f({ kind: 'kws' }, ctx());
    expect(rows.map((r) => plain.step(r, r))).toEqual([null, null, null, null]); // 0.5 < 0.6
    const lowered = f({ kind: 'kws', thresholds: { yes: 0.45 } }, ctx());
    expect(rows.map((r) => lowered.step(r, r)?.label ?? null)).toEqual(['yes', null, null, null]);
    expect(configError(() => f({ kind: 'kws' }, ctx({ labels: ['yes', 'no', 'maybe', '_silence_'] })))).toMatch(/made for model 'toy' \(labels yes, no, _unknown_, _silence_\), this route's model has labels yes, no, maybe, _silence_/);
  });

  it('lets a route (or an override) silence a keyword of a model spec through background (it was refused: "thresholds.no must be a keyword")', () => {
    const spec = {
      name: 'toy',
      labels: LABELS,
      input: { size: 13, frontend: { kind: 'mfcc', hopMs: 20, frameMs: 40 } },
      extra: { kws: { keywords: ['yes', 'no'], detector: { windowMs: 20, refractoryMs: 0, rearm: 1, thresholds: { yes: 0.6, no: 0.7 }, background: ['_unknown_', '_silence_'] } } },
    };
    const rows = [
      [0.9, 0, 0, 0.1],
      [0, 0, 0, 1],
      [0, 0.9, 0, 0.1],
    ].map((r) => Float32Array.from(r));
    const f = kwsDetectorFactory(spec);
    const all = f({ kind: 'kws' }, ctx());
    expect(rows.map((r) => all.step(r, r)?.label ?? null)).toEqual(['yes', null, 'no']);
    const quiet = f({ kind: 'kws', background: ['no', '_unknown_', '_silence_'] }, ctx());
    expect(rows.map((r) => quiet.step(r, r)?.label ?? null)).toEqual(['yes', null, null]);
    // The route's own threshold for a label it made background is still an error.
    expect(configError(() => f({ kind: 'kws', background: ['no', '_unknown_', '_silence_'], thresholds: { no: 0.5 } }, ctx()))).toMatch(/thresholds\.no must be a keyword of the model \(yes\), got "no"/);
    const d = createKwsDetectorForModel(spec as unknown as ModelSpec, { background: ['no', '_unknown_', '_silence_'] });
    expect(d.keywordIndices).toEqual([0]);
    expect(rows.map((r) => d.step(r)?.label ?? null)).toEqual(['yes', null, null]);
  });

  it('a spec without an audio front end, or with windows that are not whole numbers, is a typed error naming the field (a bare TypeError, or a wrong time base)', () => {
    const detector = { windowMs: 60, refractoryMs: 200, rearm: 1, thresholds: { yes: 0.6, no: 0.7 } };
    const spec = (frontend: unknown) => ({ name: 'toy', labels: LABELS, input: { size: 13, frontend }, extra: { kws: { keywords: ['yes', 'no'], detector } } }) as unknown as ModelSpec;
    expect(errorMessage(() => kwsDetectorFactory(spec(undefined)), 'DETECTOR_OPTION')).toBe("model 'toy': input.frontend must be an audio front end (kind logmel or mfcc with hopMs and frameMs), got undefined");
    expect(errorMessage(() => createKwsDetectorForModel(spec(null)), 'DETECTOR_OPTION')).toMatch(/input\.frontend must be an audio front end/);
    // frames 0 gave frameMs 20 - 20 + 40 = 20 and a detector whose events were stamped 1.5 s early.
    for (const windows of [{ frames: 0, hop: 1 }, { frames: 75, hop: 0 }, { frames: 7.5, hop: 5 }, { frames: 5, hop: 75 }]) {
      expect(errorMessage(() => createKwsDetectorForModel(spec({ kind: 'mfcc', hopMs: 20, frameMs: 40, windows })), 'DETECTOR_OPTION')).toMatch(/input\.frontend\.windows must be an object \{frames, hop\} of whole numbers with 1 <= hop <= frames/);
    }
    expect(createKwsDetectorForModel(spec({ kind: 'mfcc', hopMs: 20, frameMs: 40, windows: { frames: 75, hop: 5 } }))).toMatchObject({ hopMs: 100, frameMs: 74 * 20 + 40 });
  });

  it("createKwsDetectorForModel refuses an override it would not use, naming it (a misspelt field or another time base was silently dropped)", () => {
    const detector = { windowMs: 60, refractoryMs: 200, rearm: 1, thresholds: { yes: 0.6, no: 0.7 } };
    const spec = { name: 'toy', labels: LABELS, input: { size: 13, frontend: { kind: 'mfcc', hopMs: 20, frameMs: 40 } }, extra: { kws: { keywords: ['yes', 'no'], detector } } } as unknown as ModelSpec;
    // Overrides read from a JSON file: TypeScript cannot see their fields.
    const overrides = (o: object) => o as Parameters<typeof createKwsDetectorForModel>[1];
    expect(errorMessage(() => createKwsDetectorForModel(spec, overrides({ refractory: 500 })), 'DETECTOR_OPTION')).toBe("model 'toy': overrides.refractory is not a detector setting (windowMs, refractoryMs, rearm, thresholds, background)");
    expect(errorMessage(() => createKwsDetectorForModel(spec, overrides({ hopMs: 10 })), 'DETECTOR_OPTION')).toBe("model 'toy': overrides.hopMs must be 20 (the model's time base, from its front end) or absent, got 10");
    expect(errorMessage(() => createKwsDetectorForModel(spec, overrides({ frameMs: 25 })), 'DETECTOR_OPTION')).toBe("model 'toy': overrides.frameMs must be 40 (the model's time base, from its front end) or absent, got 25");
    // The model's own time base, and every setting, are taken.
    expect(createKwsDetectorForModel(spec, overrides({ hopMs: 20, frameMs: 40, windowMs: 100, refractoryMs: 0, rearm: 0.5, thresholds: { yes: 0.9 }, background: ['_unknown_', '_silence_'] }))).toMatchObject({ hopMs: 20, frameMs: 40, windowSteps: 5, refractorySteps: 0 });
  });

  it.skipIf(!fs.existsSync(MODEL_FILE))("refuses at Gateway.create, as GATEWAY_CONFIG naming the route, a model whose extra.kws it cannot read (it was a bare DETECTOR_OPTION)", async () => {
    const kwsSpec = decodeModel(new Uint8Array(fs.readFileSync(MODEL_FILE))).spec;
    const variants: Array<[string, (s: ModelSpec) => void, RegExp]> = [
      ['no detector settings', (s) => void delete (s.extra!.kws as Record<string, unknown>).detector, /extra\.kws\.detector must be an object \{windowMs, refractoryMs, rearm, thresholds\}, got undefined/],
      ['no thresholds', (s) => void delete ((s.extra!.kws as Record<string, unknown>).detector as Record<string, unknown>).thresholds, /extra\.kws\.detector\.thresholds must be an object/],
    ];
    for (const [what, edit, message] of variants) {
      const err = await kwsRouteError(kwsSpec, what, edit);
      expect(isEdgeRnnError(err, 'GATEWAY_CONFIG'), `${what}: ${String(err)}`).toBe(true);
      expect((err as Error).message).toMatch(/^routes\[0\]\.detector: a kws detector takes its settings from the model's manifest: model 'kws': /);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('refuses a null background (it silently meant the default) and shows NaN as NaN (it said null)', () => {
    const f = kwsDetectorFactory();
    expect(configError(() => f({ ...FULL, background: null }, ctx()))).toBe('routes[0].detector.background must be a list of labels (leave it out for the default: every label starting with _), got null');
    expect(configError(() => f({ ...FULL, rearm: NaN }, ctx()))).toBe('routes[0].detector.rearm must be a number in (0, 1], got NaN');
    expect(configError(() => f({ ...FULL, thresholds: { yes: Infinity, no: 0.7 } }, ctx()))).toBe('routes[0].detector.thresholds.yes must be a smoothed posterior in (0, 1], got Infinity');
  });

  it("refuses a route hopMs or frameMs other than the model's time base (it rescaled the window, the refractory period and event times)", () => {
    const spec = {
      name: 'toy',
      labels: LABELS,
      input: { size: 13, frontend: { kind: 'mfcc', hopMs: 20, frameMs: 40, windows: { frames: 10, hop: 5 } } },
      extra: { kws: { keywords: ['yes', 'no'], detector: { windowMs: 300, refractoryMs: 1000, rearm: 1, thresholds: { yes: 0.6, no: 0.7 } } } },
    };
    const f = kwsDetectorFactory(spec);
    expect(configError(() => f({ kind: 'kws', hopMs: 20 }, ctx()))).toBe("routes[0].detector.hopMs must be 100 (the time base of model 'toy', from its front end) or absent, got 20");
    expect(configError(() => f({ kind: 'kws', frameMs: 40 }, ctx()))).toBe("routes[0].detector.frameMs must be 220 (the time base of model 'toy', from its front end) or absent, got 40");
    expect(() => f({ kind: 'kws', hopMs: 100, frameMs: 220 }, ctx())).not.toThrow();
  });

  it("refuses a manifest whose background is not a list of labels (it was dropped for the default)", () => {
    const spec = {
      name: 'toy',
      labels: LABELS,
      input: { size: 13, frontend: { kind: 'mfcc', hopMs: 20, frameMs: 40 } },
      extra: { kws: { keywords: ['yes', 'no'], detector: { windowMs: 60, refractoryMs: 200, rearm: 1, thresholds: { yes: 0.6, no: 0.7 }, background: '_silence_' } } },
    };
    expect(errorMessage(() => kwsDetectorFactory(spec), 'DETECTOR_OPTION')).toBe(`model 'toy': extra.kws.detector.background must be a list of labels (or absent: every label starting with _), got "_silence_"`);
  });

  it.skipIf(!fs.existsSync(MODEL_FILE))('refuses at Gateway.create a kws route on a model whose outputs are not probabilities (events fired with scores like 7.3)', async () => {
    const kwsSpec = decodeModel(new Uint8Array(fs.readFileSync(MODEL_FILE))).spec;
    const variants: Array<[string, (s: ModelSpec) => void, RegExp]> = [
      ['logits', (s) => void s.layers.pop(), /^routes\[0\]\.detector\.kind must be a detector for this model: "kws" thresholds smoothed posteriors \(in \(0, 1\]\), and model 'kws' ends in a dense layer with activation "none" \(logits, not probabilities\); end the model in softmax, or use "threshold", got "kws"$/],
      ['log-probabilities', (s) => void (s.layers[s.layers.length - 1]!.kind = 'logSoftmax'), /model 'kws' ends in a logSoftmax layer \(log-probabilities\)/],
      ['a manifest background that is a string', (s) => void (((s.extra!.kws as Record<string, unknown>).detector as Record<string, unknown>).background = '_silence_'), /extra\.kws\.detector\.background must be a list of labels/],
    ];
    for (const [what, edit, message] of variants) {
      const err = await kwsRouteError(kwsSpec, what, edit);
      expect(isEdgeRnnError(err, 'GATEWAY_CONFIG'), `${what}: ${String(err)}`).toBe(true);
      expect((err as Error).message, what).toMatch(message);
    }
  });

  it.skipIf(!fs.existsSync(MODEL_FILE))('refuses at Gateway.create a frame queue shorter than the model\'s windows (their reset frames were dropped and the detector saw partial windows)', async () => {
    const spec = decodeModel(new Uint8Array(fs.readFileSync(MODEL_FILE))).spec;
    const frames = (spec.input.frontend.windows as { frames: number }).frames;
    const model = await (await createRuntime()).load(encodeModel(spec), { source: 'kws' });
    const config = (maxQueuedFrames: number) =>
      parseGatewayConfig({ site: 's', models: { kws: 'kws.ern' }, routes: [{ sensor: 'mic', model: 'kws', codec: 'binary', channels: 1, sampleRateHz: 16000, detector: { kind: 'kws' } }], limits: { maxQueuedFrames }, stateDir: '', metrics: { intervalMs: 0 } });
    const start = (maxQueuedFrames: number) => Gateway.create({ config: config(maxQueuedFrames), models: { kws: model }, clock: new ManualClock(T0), transport: new TraceTransport(), logger: memoryLogger('silent') });
    try {
      const err = await start(frames - 1).then(
        async (gw) => {
          await gw.stop();
          return null;
        },
        (e: unknown) => e,
      );
      expect(isEdgeRnnError(err, 'GATEWAY_CONFIG'), String(err)).toBe(true);
      expect((err as Error).message).toBe(`limits.maxQueuedFrames must be at least ${frames} (routes[0]'s model reads windows of ${frames} frames, queued whole), got ${frames - 1}`);
      await (await start(frames)).stop();
    } finally {
      model.dispose();
    }
  });

  it('continues after exportState/importState and reports bad state as GATEWAY_STATE', () => {
    const f = kwsDetectorFactory();
    const rng = new Rng(5);
    const rows = Array.from({ length: 200 }, () => {
      const p = rng.next() ** 2;
      return Float32Array.of(p, (1 - p) * rng.next(), 0, 0);
    });
    const whole = f(FULL, ctx());
    const expected = rows.map((r) => whole.step(r, r));
    const a = f(FULL, ctx());
    const first = rows.slice(0, 77).map((r) => a.step(r, r));
    const b = f(FULL, ctx());
    b.importState(JSON.parse(JSON.stringify(a.exportState())));
    expect([...first, ...rows.slice(77).map((r) => b.step(r, r))]).toEqual(expected);
    try {
      b.importState({ ring: [1] });
      expect.unreachable();
    } catch (e) {
      expect(isEdgeRnnError(e, 'GATEWAY_STATE')).toBe(true);
    }
  });
});

/** Fixture clips separated by 0.4-0.8 s of quiet low-passed noise, twice over: ~10 s of audio. */
function deviceAudio(): Float32Array {
  const { clips } = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8')) as { clips: { file: string }[] };
  const rng = new Rng(3);
  const parts: Float32Array[] = [];
  let lp = 0;
  const noise = (n: number) =>
    Float32Array.from({ length: n }, () => {
      lp = 0.9 * lp + 0.1 * rng.normal();
      return 0.003 * lp;
    });
  for (let rep = 0; rep < 2; rep++) {
    for (const c of clips) {
      parts.push(noise(Math.round(16000 * (0.4 + 0.4 * rng.next()))));
      parts.push(readWavMono(new Uint8Array(fs.readFileSync(path.join(FIXTURES, c.file)))).samples);
    }
  }
  parts.push(noise(16000));
  return joinedOnInt16Grid(parts);
}

describe('models/kws.ern in the gateway (embedded aedes)', () => {
  let model: Model;
  let job: JobGateway;
  let gw: Gateway;
  let dev: MqttClient;

  beforeAll(async () => {
    model = await (await createRuntime()).load(new Uint8Array(fs.readFileSync(MODEL_FILE)), { source: 'kws.ern' });
    job = await startJobGateway({ model, route: { sensor: 'mic', codec: 'binary', channels: 1, sampleRateHz: 16000, detector: { kind: 'kws' } }, deviceId: 'mic', t0: T0 });
    ({ gw, dev } = job);
  });

  afterAll(async () => {
    await job?.stop();
    model?.dispose();
  });

  it('raises the keyword alerts the offline oracle raises, frame for frame', async () => {
    const pcm = deviceAudio();
    // Oracle: the manifest's front end and detector settings; one session over the stream, or,
    // with sliding windows (input.frontend.windows), each window run from a reset state and its
    // last output to the detector.
    const fe = createFrontend(model.spec.input.frontend);
    const W = fe.framesPerOutput;
    const session = model.session();
    const det = createKwsDetectorForModel(model.spec);
    const expected: { label: string; score: number; frameIndex: number }[] = [];
    fe.push(pcm, (block, index) => {
      if (W > 1) session.reset();
      const y = session.run(block);
      const ev = det.step(y.subarray(y.length - model.outputSize));
      // frameIndex: the stream's frame that ends the window (window k ends at frame k·hop + W).
      if (ev) expected.push({ label: ev.label, score: ev.score, frameIndex: W > 1 ? index * (model.spec.input.frontend.windows as { hop: number }).hop + W : index + 1 });
    });
    session.dispose();
    expect(expected.length).toBeGreaterThanOrEqual(2);

    const HOP = 320; // 20 ms of 16 kHz audio per message
    let seq = 0;
    for (let i = 0; i < pcm.length; i += HOP) {
      await publishAsync(dev, gw.topics.sensor('kitchen', 'mic'), encodeBinary(pcm.subarray(i, Math.min(pcm.length, i + HOP)), 1, { seq: seq++, rateHz: 16000, type: 'int16' }));
      // Drain every second of audio, as the gateway's scheduler does in real time (the whole
      // clip at once would overflow the device's queue and be dropped by backpressure).
      if (seq % 50 === 0) {
        await waitFor(() => gw.metrics.counters.messages_total === seq, `${seq} messages at the gateway`);
        gw.drainNow();
      }
    }
    await waitFor(() => gw.metrics.counters.messages_total === seq, `${seq} messages at the gateway`);
    gw.drainNow();
    await expectAlertsLikeOracle(job, expected, 'kws', 'kws');
  }, 60_000);
});
