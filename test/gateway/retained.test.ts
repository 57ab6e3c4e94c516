/**
 * Sensor data a device publishes with the retain flag. The broker keeps the last such message
 * and sends it again, RETAIN set, to every new subscription (MQTT-3.3.1-9): at each gateway start
 * and each reconnect (a clean session subscribes again). The gateway stepped it every time: a
 * stale sample fed into the restored state, a new stream started from data hours old; `record`
 * wrote it into the trace as if it had arrived at the start. Both skip it now (live messages
 * arrive with RETAIN cleared, whatever the device set), counted in `retained_total`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/gateway/broker.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { parseTrace, recordTrace } from '../../src/gateway/trace.js';
import { IMU_CHANNELS, connectClient, imuGatewayConfig, imuModelAndGateways, imuSignal, tmpDir, waitFor } from './fixtures.js';

const work = tmpDir('edgernn-retained-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function publishRetained(c: Awaited<ReturnType<typeof connectClient>>, topic: string, payload: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => c.publish(topic, Buffer.from(payload), { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve())));
}

describe('retained sensor messages', () => {
  const ctx = imuModelAndGateways();
  const x = imuSignal(20, 5);

  it('are not stepped when the broker sends them on subscribing; live ones are', async () => {
    const { gw, tr, clock } = await ctx.onTrace();
    const topic = gw.topics.sensor('pump-7', 'imu');
    tr.deliver(topic, encodeJson(x, IMU_CHANNELS), true);
    clock.advance(100);
    expect(gw.metrics.counters.retained_total).toBe(1);
    expect(gw.metrics.counters.frames_total).toBe(0);
    expect(gw.streams.size).toBe(0);
    tr.deliver(topic, encodeJson(x, IMU_CHANNELS), false);
    clock.advance(100);
    expect(gw.metrics.counters.frames_total).toBe(20);
  });

  it('through a broker: the retained copy is skipped at start, the live message (published with retain) is stepped', { timeout: 30_000 }, async () => {
    const broker = await startEmbeddedBroker();
    const dev = await connectClient(broker.url);
    try {
      const site = 'ret';
      const topic = `edgernn/${site}/pump-7/imu`;
      await publishRetained(dev, topic, encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      const config = imuGatewayConfig(broker.url, { site, stateDir: '', broker: { url: broker.url, protocolVersion: 4 } });
      const gw = await Gateway.create({ config, models: { imu: ctx.model }, logger: memoryLogger('error') });
      ctx.gateways.push(gw);
      await waitFor(() => gw.metrics.counters.retained_total === 1, 'the retained copy', 10_000);
      expect(gw.metrics.counters.messages_total).toBe(0);
      await publishRetained(dev, topic, encodeJson(x, IMU_CHANNELS, { seq: 1 }));
      await waitFor(() => gw.metrics.counters.frames_total === 20, 'the live message stepped');
      expect(gw.metrics.counters.retained_total).toBe(1);
      expect(gw.streams.get('pump-7/imu')?.lastSeq).toBe(1);
      await gw.stop();
    } finally {
      dev.end(true);
      await broker.close();
    }
  });

  it('record leaves the retained copies out of the trace and counts them', { timeout: 30_000 }, async () => {
    const broker = await startEmbeddedBroker();
    const dev = await connectClient(broker.url);
    try {
      await publishRetained(dev, 'edgernn/rec/d/imu', '{"seq":0,"values":[[0,0,0,0,0,0]]}');
      const cfg = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
      const file = path.join(work, 'retained.ndjson');
      const res = await recordTrace({
        url: broker.url,
        broker: cfg.broker,
        topics: ['edgernn/rec/+/imu'],
        file,
        maxMessages: 1,
        onReady: () => void publishRetained(dev, 'edgernn/rec/d/imu', '{"seq":1,"values":[[0,0,0,0,0,0]]}'),
      });
      expect(res).toMatchObject({ messages: 1, retained: 1 });
      const recs = parseTrace(fs.readFileSync(file)).records;
      expect(recs.map((r) => JSON.parse(Buffer.from(r.payload).toString()).seq)).toEqual([1]);
    } finally {
      dev.end(true);
      await broker.close();
    }
  });
});
