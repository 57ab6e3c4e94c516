/**
 * The shipped HAR model in the MQTT gateway on the embedded aedes broker, with nothing but a
 * route config: the 'har' detector kind and the IMU front end are built into the gateway; a device publishes 6-bit codes of a synthetic scenario (the IMU
 * generator) as JSON; the alerts equal an offline oracle (HarStream + the same detector).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createRuntime, HarStream, createHarDetector, type ImuFrontendSpec, type Model } from '../../../src/index.js';
import { ENCODERS } from '../../../src/gateway/codecs.js';
import type { Gateway } from '../../../src/gateway/gateway.js';
import { ImuGenerator, planScenario } from '../../../firmware-sim/imu/generator.js';
import { HMP_GENERATOR_MODEL } from '../../../firmware-sim/imu/hmp-model.gen.js';
import { expectAlertsLikeOracle, publishAsync, startJobGateway, waitFor, type JobGateway } from '../../gateway/fixtures.js';

const MODEL_FILE = path.resolve(import.meta.dirname, '../../../models/har.ern');
const T0 = 1_700_000_000_000;
const DETECTOR = { kind: 'har', smoothing: 'hmm', stay: 0.9, minSteps: 2 };

describe('HAR in the gateway (embedded aedes)', () => {
  let model: Model;
  let job: JobGateway;
  let gw: Gateway;
  let dev: MqttClient;

  beforeAll(async () => {
    model = await (await createRuntime()).load(new Uint8Array(fs.readFileSync(MODEL_FILE)), { source: 'har.ern' });
    job = await startJobGateway({ model, route: { sensor: 'wrist', codec: 'json', channels: 3, sampleRateHz: 32, detector: DETECTOR }, deviceId: 'wrist', t0: T0 });
    ({ gw, dev } = job);
  });

  afterAll(async () => {
    await job?.stop();
    model?.dispose();
  });

  it('announces the activities the offline oracle announces, window for window', async () => {
    const scenario = planScenario(HMP_GENERATOR_MODEL, { seed: 21, durationS: 240 });
    const codes = new ImuGenerator(HMP_GENERATOR_MODEL, { seed: 21, scenario }).read(1e9).codes;
    // Oracle: the same front end and model window by window, the same detector.
    const stream = new HarStream(model, { smoothing: { kind: 'none' } });
    const det = createHarDetector(DETECTOR, { labels: model.labels, outputSize: model.outputSize, inputSize: model.inputSize, path: 'oracle' });
    const expected: Array<{ label: string; score: number; frameIndex: number }> = [];
    const W = (model.spec.input.frontend as unknown as ImuFrontendSpec).windowSize;
    stream.push(codes, (w) => {
      const ev = det.step(w.posterior, w.posterior);
      // frameIndex: the stream's 16 Hz frame that ends the window (window k ends at frame k·hop + W).
      if (ev) expected.push({ ...ev, frameIndex: w.index * (model.spec.input.frontend as unknown as ImuFrontendSpec).hop + W });
    });
    stream.dispose();
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const n = codes.length / 3;
    let seq = 0;
    for (let i = 0; i < n; i += 32) {
      const chunk = Array.from(codes.subarray(i * 3, Math.min(n, i + 32) * 3));
      await publishAsync(dev, gw.topics.sensor('alice', 'wrist'), ENCODERS.json(chunk, 3, { seq: seq++, rateHz: 32 }));
      // A wrist node sends one message a second; each drain runs what arrived, as the gateway's
      // scheduler does in real time (all 4 minutes at once would overflow the device queue).
      await waitFor(() => gw.metrics.counters.messages_total === seq, `${seq} messages at the gateway`);
      gw.drainNow();
    }
    await expectAlertsLikeOracle(job, expected, 'har', 'har');
  });
});
