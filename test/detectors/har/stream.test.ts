/**
 * HarStream on another sensor than HMP's (docs/har.md, "Another sensor"): the same model through
 * a front end for the sensor's rate and units, given as `opts.frontend`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, encodeModel, HarStream, planResampler, resampleBatch, STANDARD_GRAVITY, type HarWindowResult, type ImuFrontendSpec, type Model } from '../../../src/index.js';
import { ImuGenerator, planScenario } from '../../../firmware-sim/imu/generator.js';
import { HMP_GENERATOR_MODEL } from '../../../firmware-sim/imu/hmp-model.gen.js';
import { caughtEdgeRnnError as err } from '../../helpers/errors.js';

const MODEL_FILE = path.resolve(import.meta.dirname, '../../../models/har.ern');

function labels(stream: HarStream, samples: ArrayLike<number>, which: 'raw' | 'label' = 'raw'): number[] {
  const out: number[] = [];
  stream.push(samples, (w) => out.push(w[which]));
  return out;
}

describe('HarStream with a front end for another sensor', () => {
  let model: Model;
  let fe: ImuFrontendSpec;
  beforeAll(async () => {
    model = await (await createRuntime()).load(new Uint8Array(fs.readFileSync(MODEL_FILE)), { source: 'har.ern' });
    fe = model.spec.input.frontend as unknown as ImuFrontendSpec;
  });
  afterAll(() => model?.dispose());

  it('m/s² at 50 Hz, one axis mounted the other way round: the windows the 6-bit codes at 32 Hz give', () => {
    const scenario = planScenario(HMP_GENERATOR_MODEL, { seed: 5, durationS: 120 });
    const codes = new ImuGenerator(HMP_GENERATOR_MODEL, { seed: 5, scenario }).read(1e9).codes;
    // The same motion as another sensor sees it: decoded to g, resampled to 50 Hz, in m/s², its y axis reversed.
    const g = Float64Array.from(codes, (c) => fe.channels[0]!.decode!.offset + fe.channels[0]!.decode!.scale * c);
    const at50 = resampleBatch(planResampler('polyphase', 3, 32, 50), g);
    const ms2 = Float32Array.from(at50, (v, i) => v * STANDARD_GRAVITY * (i % 3 === 1 ? -1 : 1));
    const mine: ImuFrontendSpec = {
      ...fe,
      inputRateHz: 50,
      channels: fe.channels.map((c) => (c.name === 'ay' ? { name: c.name, unit: 'm/s2', decode: { offset: 0, scale: -1 } } : { name: c.name, unit: 'm/s2' })),
    };
    const ref = labels(new HarStream(model), codes);
    const got = labels(new HarStream(model, { frontend: mine }), ms2);
    expect(ref.length).toBeGreaterThan(100);
    // The resamplers' delays differ (18 input samples at 32 Hz, 28 at 50 Hz): at most a window fewer.
    expect(got.length).toBeGreaterThanOrEqual(ref.length - 1);
    expect(got.length).toBeLessThanOrEqual(ref.length);
    const agree = got.filter((l, i) => l === ref[i]).length / got.length;
    expect(agree).toBeGreaterThan(0.95);
  });

  it("a replacement that changes what the model reads is a FRONTEND_SPEC error naming the field; the sample side may change", () => {
    for (const [k, v] of [['rateHz', 32], ['windowSize', 128], ['accelUnit', 'm/s2'], ['normalization', { mean: [0, 0, 0], std: [1, 1, 1] }]] as const) {
      const e = err(() => new HarStream(model, { frontend: { ...fe, [k]: v } }));
      expect([e.code, e.details.field]).toEqual(['FRONTEND_SPEC', `frontend.${k}`]);
      expect(e.message).toContain(`opts.frontend.${k} must be the model's`);
    }
    // normalization's fields in another order, another hop, rate and resampler: taken.
    const n = fe.normalization!;
    expect(() => new HarStream(model, { frontend: { ...fe, inputRateHz: 100, resampler: 'linear', hop: 8, normalization: { std: n.std, mean: n.mean } } })).not.toThrow();
    // A channel count other than the model's input size: the registry's error.
    expect(err(() => new HarStream(model, { frontend: { ...fe, channels: [...fe.channels, { name: 'gx', unit: 'rad/s' }] } })).code).toBe('FRONTEND_SPEC');
  });

  it("a model that ends in logits: 'hmm' and 'none' are UNSUPPORTED_MODEL (as the gateway's har route refuses them), 'majority' runs", async () => {
    // The hmm floored every negative logit to its floor: a flat, meaningless filter, silently.
    const spec = { ...model.spec, layers: model.spec.layers.slice(0, -1) };
    expect(model.spec.layers.at(-1)!.kind).toBe('softmax');
    const logits = await (await createRuntime()).load(encodeModel(spec), { source: 'har-logits.ern' });
    try {
      for (const kind of [undefined, 'hmm', 'none'] as const) {
        const e = err(() => new HarStream(logits, kind ? { smoothing: { kind } } : {}));
        expect(e.code).toBe('UNSUPPORTED_MODEL');
        expect(e.message).toBe(`har: smoothing '${kind ?? 'hmm'}' reads class posteriors, and the model ends in a dense layer (activation none: logits); end it in softmax, or use smoothing 'majority'`);
      }
      const codes = new ImuGenerator(HMP_GENERATOR_MODEL, { seed: 8, scenario: planScenario(HMP_GENERATOR_MODEL, { seed: 8, durationS: 30 }) }).read(1e9).codes;
      // The same votes as on its softmax posteriors (the argmax is the same), smoothed the same.
      const byLogits = labels(new HarStream(logits, { smoothing: { kind: 'majority' } }), codes, 'label');
      expect(byLogits.length).toBeGreaterThan(20);
      expect(byLogits).toEqual(labels(new HarStream(model, { smoothing: { kind: 'majority' } }), codes, 'label'));
    } finally {
      logits.dispose();
    }
  });
});


describe('HarStream: chunking, reset, and a stream saved and restored (docs/har.md, "Streaming")', () => {
  let model: Model;
  let codes: Float32Array;
  beforeAll(async () => {
    model = await (await createRuntime()).load(new Uint8Array(fs.readFileSync(MODEL_FILE)), { source: 'har.ern' });
    codes = Float32Array.from(new ImuGenerator(HMP_GENERATOR_MODEL, { seed: 5, scenario: planScenario(HMP_GENERATOR_MODEL, { seed: 5, durationS: 60 }) }).read(1e9).codes);
  });
  afterAll(() => model?.dispose());

  /** index:raw:label:confidence of every window, fed `chunk` samples (3 values) at a time; saved and restored in a new stream at sample `cut`. */
  function windows(chunk: number, cut?: number): string[] {
    let stream = new HarStream(model);
    const out: string[] = [];
    const sink = (w: HarWindowResult) => out.push(`${w.index}:${w.raw}:${w.label}:${w.confidence}`);
    const C = 3 * chunk;
    for (let i = 0; i < codes.length; i += C) {
      const part = codes.subarray(i, i + C);
      if (cut !== undefined && i <= 3 * cut && 3 * cut < i + C) {
        stream.push(part.subarray(0, 3 * cut - i), sink);
        // What a process keeps across a restart: the front end's bytes and the smoother's JSON.
        const saved = { frontend: Array.from(stream.frontend.exportState()), smoother: JSON.stringify(stream.smoother.exportState()) };
        stream.dispose();
        stream = new HarStream(model);
        stream.frontend.importState(Uint8Array.from(saved.frontend));
        stream.smoother.importState(JSON.parse(saved.smoother));
        stream.push(part.subarray(3 * cut - i), sink);
      } else stream.push(part, sink);
    }
    stream.dispose();
    return out;
  }

  it('the windows of one push, whatever the chunks (1 sample, odd sizes, all at once), and after a restore at any sample', () => {
    const all = windows(codes.length / 3);
    expect(all.length).toBeGreaterThan(50);
    for (const chunk of [1, 7, 33, 1001]) expect(windows(chunk)).toEqual(all);
    for (const cut of [1, 150, 1001, 1500]) expect(windows(101, cut)).toEqual(all);
  });

  it('reset() starts over (window index 0); a saved state of another front end or smoother is refused by name', () => {
    const stream = new HarStream(model);
    const first: string[] = [];
    stream.push(codes.subarray(0, 3 * 400), (w) => first.push(`${w.index}:${w.label}:${w.confidence}`));
    stream.reset();
    const again: string[] = [];
    stream.push(codes.subarray(0, 3 * 400), (w) => again.push(`${w.index}:${w.label}:${w.confidence}`));
    expect(again).toEqual(first);
    expect(first[0]).toMatch(/^0:/);
    const fe = model.spec.input.frontend as unknown as ImuFrontendSpec;
    const other = new HarStream(model, { frontend: { ...fe, inputRateHz: 50 }, smoothing: { kind: 'majority' } });
    expect(err(() => other.frontend.importState(stream.frontend.exportState())).code).toBe('FRONTEND_STATE');
    expect(err(() => other.smoother.importState(stream.smoother.exportState())).code).toBe('GATEWAY_STATE');
    stream.dispose();
    other.dispose();
  });

  it("refuses options it would not use, naming them: the har route config's flat fields were dropped for the defaults", () => {
    const opts = (o: object) => o as ConstructorParameters<typeof HarStream>[1];
    // { smoothing: 'majority' } spread the string into the defaults: an hmm, silently.
    expect(err(() => new HarStream(model, opts({ smoothing: 'majority' }))).message).toBe('har smoothing: options must be an object {kind, window, stay, temperature, prior, floor}, got "majority"');
    expect(err(() => new HarStream(model, opts({ stay: 0.95 }))).message).toBe('har: opts.stay is a smoothing option ({ smoothing: { stay: 0.95 } })');
    expect(err(() => new HarStream(model, opts({ minSteps: 2 }))).message).toBe('har: opts.minSteps is not an option of HarStream (smoothing, frontend)');
    expect(err(() => new HarStream(model, opts({ minSteps: 2 }))).code).toBe('DETECTOR_OPTION');
  });
});
