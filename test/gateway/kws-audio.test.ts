/**
 * models/kws.ern through the MQTT gateway (embedded broker) as docs/gateway.md lets a microphone
 * node send it: 16 kHz int16 binary frames or JSON arrays, in chunks that do not divide the 20 ms
 * hop, with `ts`. The alerts equal an offline run of the same audio through the manifest's front
 * end, the model and the kws detector: labels, frame indices, scores, and times (the sample that
 * completed the alerting window; alerts were up to a chunk late).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFrontend, createKwsDetectorForModel, createRuntime, readWavMono, Rng, validateAudioSpec, type Model } from '../../src/index.js';
import { encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import { publishAsync, startJobGateway, waitFor } from './fixtures.js';
import { joinedOnInt16Grid } from '../helpers/kws-recording.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MODEL_FILE = path.join(ROOT, 'models/kws.ern');
const FIXTURES = path.join(ROOT, 'test/fixtures/kws');
const T0 = 1_700_000_000_000;

/** The fixture clips between 0.4–0.8 s of quiet noise, then 1 s of digital silence, on the int16 grid. */
function deviceAudio(): Float32Array {
  const { clips } = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8')) as { clips: { file: string }[] };
  const rng = new Rng(3);
  const parts: Float32Array[] = [];
  for (const c of clips) {
    parts.push(Float32Array.from({ length: Math.round(16000 * (0.4 + 0.4 * rng.next())) }, () => 0.003 * rng.normal()));
    parts.push(readWavMono(new Uint8Array(fs.readFileSync(path.join(FIXTURES, c.file)))).samples);
  }
  parts.push(new Float32Array(16000));
  return joinedOnInt16Grid(parts);
}

/** Offline: front end, a reset session per window, the detector; each alert at the window's last sample (frame t ends at t·H + L - 1). */
function oracle(model: Model, pcm: Float32Array) {
  const spec = validateAudioSpec(model.spec.input.frontend);
  const H = (spec.hopMs * spec.sampleRateHz) / 1000;
  const L = (spec.frameMs * spec.sampleRateHz) / 1000;
  const { frames, hop } = spec.windows!;
  const fe = createFrontend(spec);
  const session = model.session();
  const det = createKwsDetectorForModel(model.spec);
  const alerts: { label: string; score: number; frameIndex: number; tsMs: number }[] = [];
  fe.push(pcm, (block, index) => {
    session.reset();
    const y = session.run(block);
    const ev = det.step(y.subarray(y.length - model.outputSize));
    const last = (index * hop + frames - 1) * H + L - 1;
    if (ev) alerts.push({ label: ev.label, score: ev.score, frameIndex: index * hop + frames, tsMs: T0 + (last * 1000) / spec.sampleRateHz });
  });
  session.dispose();
  return alerts;
}

describe.skipIf(!fs.existsSync(MODEL_FILE))('models/kws.ern in the gateway, odd chunk sizes', () => {
  let model: Model;
  beforeAll(async () => {
    model = await (await createRuntime()).load(new Uint8Array(fs.readFileSync(MODEL_FILE)), { source: 'kws.ern' });
  });
  afterAll(() => model?.dispose());

  // rate: where the device's 16 kHz is said (payload, route), or nowhere (the model's front end's rate).
  for (const [codec, chunk, rate] of [
    ['binary', 333, 'payload'],
    ['binary', 16000, 'payload'],
    ['json', 333, 'route'],
    ['binary', 16000, 'nowhere'],
  ] as const) {
    it(`${codec} chunks of ${chunk} samples with ts, rate given by the ${rate}: the oracle's alerts, at the oracle's times`, async () => {
      const pcm = deviceAudio();
      const expected = oracle(model, pcm);
      expect(expected.length).toBeGreaterThanOrEqual(2);
      const job = await startJobGateway({ model, route: { sensor: 'mic', codec, channels: 1, ...(rate === 'route' ? { sampleRateHz: 16000 } : {}), detector: { kind: 'kws' } }, deviceId: 'mic', t0: T0 });
      try {
        const topic = job.gw.topics.sensor('kitchen', 'mic');
        let seq = 0;
        for (let i = 0; i < pcm.length; i += chunk) {
          const part = pcm.subarray(i, Math.min(pcm.length, i + chunk));
          const f = { seq: seq++, ...(rate === 'payload' ? { rateHz: 16000 } : {}), tsMs: T0 + (i * 1000) / 16000 };
          await publishAsync(job.dev, topic, codec === 'binary' ? encodeBinary(part, 1, { ...f, type: 'int16' }) : encodeJson(part, 1, f));
          // Drain about every 0.4 s of audio, as the scheduler does in real time (the queue holds 1.3 s).
          if (Math.floor((seq * chunk) / 6400) > Math.floor(((seq - 1) * chunk) / 6400)) {
            await waitFor(() => job.gw.metrics.counters.messages_total === seq, `${seq} messages`);
            job.gw.drainNow();
          }
        }
        await waitFor(() => job.gw.metrics.counters.messages_total === seq, `${seq} messages`);
        job.gw.drainNow();
        await waitFor(() => job.received.length >= expected.length, `${expected.length} alerts`);
        const got = [...job.received].sort((a, b) => a.frameIndex - b.frameIndex);
        expect(got.map((a) => [a.label, a.frameIndex, a.tsMs])).toEqual(expected.map((e) => [e.label, e.frameIndex, e.tsMs]));
        got.forEach((a, i) => expect(a.score).toBeCloseTo(expected[i]!.score, 6));
        expect(job.gw.metrics.counters.dropped_samples_total).toBe(0);
        expect(job.gw.metrics.counters.dead_letters_total).toBe(0);
      } finally {
        await job.stop();
      }
    }, 60_000);
  }
});
