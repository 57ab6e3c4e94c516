/**
 * Shutdown with the broker gone: SIGTERM/stop() while mosquitto is down, with alerts published
 * and never acknowledged (the broker died with them in flight), must not wait for a reconnect
 * that never comes (MQTT.js holds QoS 1 publishes until it is connected again). It returns,
 * every device's state is saved locally and every alert stays in the outbox for the next start.
 * Skipped, with the reason, without mosquitto.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { FileOutbox } from '../../src/gateway/outbox.js';
import { mqttTransport } from '../../src/gateway/transport.js';
import { connectClient, IMU_CHANNELS, imuGatewayConfig, imuModelBytes, imuSignal, type Mosquitto, mosquittoAvailable, publishAsync, startMosquitto, tmpDir, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/shutdown-offline.test.ts skipped: ${SKIP}`);

const DEVICES = ['d1', 'd2', 'd3', 'd4', 'd5'];

/**
 * stop() returns (within stopOrHang's guard) having saved these streams' states, and the outbox,
 * opened again as the next start would, holds the `raised` alerts the broker never acknowledged.
 */
async function expectStopKeeps(gw: Gateway, stateDir: string, states: string[], raised: number): Promise<void> {
  await stopOrHang(gw);
  expect(gw.stateStore.keys().sort()).toEqual([...states].sort());
  const reopened = FileOutbox.open(path.join(stateDir, 'outbox'));
  expect(reopened.depth).toBe(raised);
  await reopened.close();
}

/** Stops the gateway and the broker (in either state) and removes their folders. */
async function cleanUp(gw: Gateway, mq: Mosquitto, stateDir: string): Promise<void> {
  await mq.kill();
  await gw.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
  fs.rmSync(mq.dir, { recursive: true, force: true });
}

/** stop(), or a rejection after a generous hang guard. */
function stopOrHang(gw: Gateway): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    gw.stop().finally(() => clearTimeout(t)),
    new Promise<void>((_, reject) => (t = setTimeout(() => reject(new Error('gateway.stop() hung with the broker down')), 15_000))),
  ]);
}

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

describe.skipIf(SKIP !== null)('stop() with the broker down', () => {
  for (const mode of ['single', 'cluster'] as const) {
    it(`returns with alerts in flight, saves every stream state, keeps every alert in the outbox (${mode})`, async () => {
      const mq = await startMosquitto();
      const stateDir = tmpDir();
      const clock = new ManualClock(1_700_000_000_000);
      const config = imuGatewayConfig(mq.url, {
        site: 'farm',
        gatewayId: 'gw-a',
        ...(mode === 'cluster' ? { cluster: { group: 'farm', partitions: 4, handoffTimeoutMs: 1000, checkpointIntervalMs: 0 } } : {}),
        stateDir,
      });
      const gw = await Gateway.create({ config, models: { imu: model }, clock, logger: memoryLogger('silent') });
      let raised = 0;
      gw.on('alert', () => raised++);
      try {
        if (gw.cluster) await waitFor(() => gw.cluster!.owned().length === 4, 'the gateway to own every partition');
        const dev = await connectClient(mq.url, { clientId: 'devices' });
        // Impacts: every device raises alerts when its frames are stepped.
        for (const d of DEVICES) await publishAsync(dev, gw.topics.sensor(d, 'imu', gw.cluster ? gw.partitionOf(d) : undefined), encodeJson(imuSignal(20, 1, [[5, 15]]), IMU_CHANNELS, { seq: 0 }));
        await waitFor(() => gw.metrics.counters.messages_total === DEVICES.length, 'the messages at the gateway');
        dev.end(true);
        // The broker freezes, the alerts go out (no PUBACK comes), then the broker dies.
        mq.proc.kill('SIGSTOP');
        clock.advance(5);
        await gw.settled();
        expect(raised).toBeGreaterThan(0);
        await mq.kill();
        await waitFor(() => gw.metrics.gauges.connected === 0, 'the gateway to notice the broker is gone');
        await expectStopKeeps(gw, stateDir, DEVICES.map((d) => `${d}/imu`), raised);
      } finally {
        await cleanUp(gw, mq, stateDir);
      }
    }, 60_000);
  }

  it('returns when the broker is connected but frozen (no UNSUBACK, PUBACK or close ever comes); the alert stays in the outbox', async () => {
    const mq = await startMosquitto();
    const stateDir = tmpDir();
    const clock = new ManualClock(1_700_000_000_000);
    const config = imuGatewayConfig(mq.url, { site: 'farm', gatewayId: 'gw-f', stateDir });
    // The gateway's own MQTT transport, with short bounds so that the test is fast.
    const transport = mqttTransport({ broker: config.broker, url: mq.url, clientId: 'gw-f', endTimeoutMs: 300, unsubscribeTimeoutMs: 300 });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport, logger: memoryLogger('silent'), drainTimeoutMs: 300 });
    let raised = 0;
    gw.on('alert', () => raised++);
    try {
      const dev = await connectClient(mq.url, { clientId: 'devices' });
      await publishAsync(dev, gw.topics.sensor('d1', 'imu'), encodeJson(imuSignal(20, 1, [[5, 15]]), IMU_CHANNELS, { seq: 0 }));
      await waitFor(() => gw.metrics.counters.messages_total === 1, 'the message at the gateway');
      dev.end(true);
      // The broker freezes: the TCP connection stays up, nothing is answered.
      mq.proc.kill('SIGSTOP');
      clock.advance(5);
      await gw.settled();
      expect(raised).toBeGreaterThan(0);
      expect(gw.transport.connected).toBe(true);
      await expectStopKeeps(gw, stateDir, ['d1/imu'], raised);
    } finally {
      await cleanUp(gw, mq, stateDir);
    }
  }, 60_000);

  it('the MQTT transport: end() with nothing in flight returns when a frozen broker never closes the connection after DISCONNECT', async () => {
    const mq = await startMosquitto();
    const config = imuGatewayConfig(mq.url, { stateDir: '' });
    const t = mqttTransport({ broker: config.broker, url: mq.url, clientId: 'end-frozen', endTimeoutMs: 300 });
    try {
      await t.start({ message: () => {}, connect: () => {}, close: () => {} });
      mq.proc.kill('SIGSTOP');
      const t0 = Date.now();
      let guard: NodeJS.Timeout | undefined;
      await Promise.race([t.end().finally(() => clearTimeout(guard)), new Promise((_, reject) => (guard = setTimeout(() => reject(new Error('end() hung')), 10_000)))]);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await mq.kill();
      fs.rmSync(mq.dir, { recursive: true, force: true });
    }
  }, 30_000);
});
