/**
 * A persistent session across a graceful restart (broker.persistentSession): the broker keeps
 * the gateway's subscription and queues what devices send while it is away. stop() must not
 * unsubscribe (it did: every message sent between the stop and the next start was lost), and
 * nothing acknowledged during the stop may be dropped. A device publishing throughout a stop
 * and a restart ends with the state of one uninterrupted session, nothing missing. Skipped, with
 * the reason, without mosquitto.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { connectClient, IMU_CHANNELS, imuGatewayConfig, imuModelBytes, imuSessionState, imuSignal, mosquittoAvailable, publishAsync, startMosquitto, tmpDir, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/persistent-session.test.ts skipped: ${SKIP}`);

const T0 = 1_700_000_000_000;
const PER = 10;
const MESSAGES = 60;

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

const sessionState = (x: Float32Array): Uint8Array => imuSessionState(model, x);

describe.skipIf(SKIP !== null)('persistent session on mosquitto', () => {
  it('messages sent while the gateway stops and restarts are all processed, in order', async () => {
    const mq = await startMosquitto();
    const stateDir = tmpDir();
    const config = imuGatewayConfig(mq.url, { site: 'plant', gatewayId: 'gw-p', broker: { persistentSession: true }, stateDir });
    const make = () => Gateway.create({ config, models: { imu: model }, clock: new ManualClock(T0), logger: memoryLogger('silent') });
    const x = imuSignal(MESSAGES * PER, 11, [[100, 120], [450, 470]]);
    const topic = 'edgernn/plant/d1/imu';
    const dev = await connectClient(mq.url, { clientId: 'device' });
    let gw = await make();
    try {
      for (let m = 0; m < 10; m++) await publishAsync(dev, topic, encodeJson(x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
      await waitFor(() => gw.metrics.counters.messages_total === 10, 'the first messages at the gateway');
      // The device goes on publishing during the stop and while the gateway is away.
      let next = 10;
      const publishing = (async () => {
        for (; next < 40; next++) await publishAsync(dev, topic, encodeJson(x.subarray(next * PER * IMU_CHANNELS, (next + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: next }));
      })();
      await waitFor(() => gw.metrics.counters.messages_total >= 15, 'more messages at the gateway');
      await gw.stop();
      await publishing;
      gw = await make();
      for (let m = 40; m < MESSAGES; m++) await publishAsync(dev, topic, encodeJson(x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
      await waitFor(() => gw.streams.get('d1/imu')?.lastSeq === MESSAGES - 1, 'the last message at the restarted gateway');
      gw.drainNow();
      const s = gw.streams.get('d1/imu')!;
      expect(s.heldCount).toBe(0);
      expect(gw.metrics.counters.missing_total).toBe(0);
      expect(gw.metrics.counters.resets_total).toBe(0);
      expect(s.frameIndex).toBe(MESSAGES * PER);
      expect(s.session.exportState()).toEqual(sessionState(x));
    } finally {
      dev.end(true);
      await gw.stop();
      await mq.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
      fs.rmSync(mq.dir, { recursive: true, force: true });
    }
  }, 60_000);
});
