/**
 * The shipped keyword model, models/kws.ern: size budget, manifest (front end, detector settings,
 * metrics), golden vector on every backend, bit-exact agreement of the integer backends, the
 * committed held-out-voice fixture clips classified end to end (WAV -> the manifest's front end ->
 * int8 model), and, when the corpus cache is present, the held-out clip accuracy recorded in the
 * manifest reproduced by `npm run eval:kws`'s code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  audioGeometry,
  createFrontendForInput,
  createRuntime,
  decodeModel,
  kwsDetectorConfigOf,
  KWS_EXTRA_KEY,
  readWavMono,
  validateAudioSpec,
  type Model,
  type Runtime,
} from '../../../../src/index.js';
import { evaluateKwsFile } from '../../../../quantize/jobs/kws/eval-job.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const MODEL = path.join(ROOT, 'models/kws.ern');
const FIXTURES = path.join(ROOT, 'test/fixtures/kws');
const CORPUS = path.join(ROOT, '.cache/kws');
const LABELS = ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go', '_unknown_', '_silence_'];

const bytes = new Uint8Array(fs.readFileSync(MODEL));
const { spec } = decodeModel(bytes, 'models/kws.ern');
const fixtures = (JSON.parse(fs.readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8')) as { clips: { file: string; label: string; source: string; cut: [number, number] }[] }).clips;

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

describe('models/kws.ern', () => {
  it('fits the 32 KiB budget', () => {
    expect(bytes.length).toBeLessThanOrEqual(32 * 1024);
  });

  it('is an int8 streaming classifier over the 12 keyword classes with its front end in the manifest', () => {
    expect(spec.precision).toBe('int8');
    expect(spec.labels).toEqual(LABELS);
    const fe = validateAudioSpec(spec.input.frontend);
    expect(audioGeometry(fe).featureSize).toBe(spec.input.size);
    expect(spec.layers.map((l) => l.kind)).toEqual(['gru', 'dense', 'softmax']);
    // The detector settings tuned on validation data, one threshold per keyword.
    const d = kwsDetectorConfigOf(spec);
    expect(Object.keys(d.thresholds).sort()).toEqual(LABELS.slice(0, 10).sort());
    const kws = spec.extra![KWS_EXTRA_KEY] as { metrics: { test: { clipAccuracyInt8: number; stream: { falseAcceptsPerHour: number } } }; tuning: { stream: string } };
    expect(kws.tuning.stream).toBe('validation voices');
    expect(kws.metrics.test.clipAccuracyInt8).toBeGreaterThan(1 / 12);
    expect(Number.isFinite(kws.metrics.test.stream.falseAcceptsPerHour)).toBe(true);
  });

  for (const backend of ['simd', 'scalar', 'reference'] as const) {
    it(`loads and reproduces its golden vector on the ${backend} backend`, async () => {
      const m = await rt.load(bytes, { backend, source: 'kws.ern' });
      try {
        expect(m.backend).toBe(backend);
        m.verifyGolden();
      } finally {
        m.dispose();
      }
    });
  }
});

describe('fixture clips (held-out voices) end to end', () => {
  function posteriors(m: Model, file: string): Float32Array {
    const { samples, info } = readWavMono(new Uint8Array(fs.readFileSync(path.join(FIXTURES, file))));
    expect(info.sampleRateHz).toBe(16000);
    const f = createFrontendForInput(spec.input, { windows: false }).batch(samples); // the clip as one sequence
    const s = m.session();
    try {
      return s.run(f.data.subarray(0, f.count * f.featureSize)).slice();
    } finally {
      s.dispose();
    }
  }

  it('has a handful of small clips, each from a held-out voice or noise', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
    for (const c of fixtures) {
      expect(fs.statSync(path.join(FIXTURES, c.file)).size).toBeLessThan(24 * 1024);
      expect(c.file.startsWith(`${c.label}/`)).toBe(true);
      expect(/^(flite-kal16|flite-slt|noise)_/.test(path.basename(c.file))).toBe(true);
    }
  });

  it('classifies every fixture as its folder label, with identical outputs on every integer backend', async () => {
    const models = await Promise.all((['simd', 'scalar', 'reference'] as const).map((backend) => rt.load(bytes, { backend })));
    try {
      const C = spec.labels.length;
      for (const c of fixtures) {
        const [simd, ...others] = models.map((m) => posteriors(m, c.file));
        for (const o of others) expect(Array.from(o!)).toEqual(Array.from(simd!));
        const T = simd!.length / C;
        const last = Array.from(simd!.subarray((T - 1) * C));
        expect(spec.labels[last.indexOf(Math.max(...last))]).toBe(c.label);
      }
    } finally {
      for (const m of models) m.dispose();
    }
  });

  it.skipIf(!fs.existsSync(CORPUS))('equals the cut of its source clip in the corpus', () => {
    for (const c of fixtures) {
      const src = readWavMono(new Uint8Array(fs.readFileSync(path.join(ROOT, c.source)))).samples.slice(c.cut[0], c.cut[1]);
      const got = readWavMono(new Uint8Array(fs.readFileSync(path.join(FIXTURES, c.file)))).samples;
      expect(Array.from(got)).toEqual(Array.from(src));
    }
  });
});

const haveCorpus = fs.existsSync(path.join(CORPUS, 'manifest.json'));
if (!haveCorpus) console.log(`skipping the held-out accuracy check: no corpus in ${CORPUS} (npm run data:kws)`);

describe.skipIf(!haveCorpus)('held-out accuracy recorded in the manifest', () => {
  it('is what the runtime measures on the test split now', async () => {
    const r = await evaluateKwsFile(MODEL, { data: path.join(CORPUS, 'test'), cacheDir: path.join(ROOT, '.cache/kws-job/features'), backend: 'auto' });
    const recorded = (spec.extra![KWS_EXTRA_KEY] as { metrics: { test: { clipAccuracyInt8: number } } }).metrics.test.clipAccuracyInt8;
    expect(r.clips.samples).toBe(720);
    expect(r.clips.accuracy).toBeCloseTo(recorded, 4);
  }, 120_000);
});
