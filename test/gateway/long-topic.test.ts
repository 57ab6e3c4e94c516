/**
 * Devices whose names make topics MQTT cannot carry (a topic is at most 65535 bytes). A sensor
 * topic the broker delivered can still be a few bytes short of that, and its alerts topic
 * (`.../<device>/alerts` against `.../<device>/imu`) then longer: the first alert went to MQTT.js,
 * which wrote half a packet, the broker dropped the connection, and MQTT.js threw, uncaught, when
 * it resent the packet after reconnecting. The gateway crashed, and again after each restart
 * (the alert waited in the outbox). Now such a device's messages are dead letters, and a
 * publish on a topic that long is refused with GATEWAY_TRANSPORT before MQTT.js sees it.
 */
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/errors.js';
import { startEmbeddedBroker } from '../../src/gateway/broker.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { MAX_TOPIC_BYTES } from '../../src/gateway/topics.js';
import { mqttTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, imuModelAndGateways, imuSignal } from './fixtures.js';

describe('device names near the MQTT topic limit', () => {
  const ctx = imuModelAndGateways();

  it('dead-letters the messages of a device whose alerts topic would pass 65535 bytes (its first alert crashed the gateway)', async () => {
    const { gw, tr, clock } = await ctx.onTrace();
    // The longest device name whose sensor topic fits: its alerts topic is 3 bytes longer.
    const fixed = Buffer.byteLength(gw.topics.sensor('', 'imu'));
    const long = 'é'.repeat(Math.floor((MAX_TOPIC_BYTES - fixed) / 2));
    expect(Buffer.byteLength(gw.topics.sensor(long, 'imu'))).toBeLessThanOrEqual(MAX_TOPIC_BYTES);
    expect(Buffer.byteLength(gw.topics.alerts(long, 'imu'))).toBeGreaterThan(MAX_TOPIC_BYTES);
    const x = imuSignal(20, 3);
    tr.deliver(gw.topics.sensor(long, 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    tr.deliver(gw.topics.sensor('pump-7', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    clock.advance(100);
    expect(gw.metrics.counters.dead_letters_total).toBe(1);
    expect(gw.streams.has(`${long}/imu`)).toBe(false);
    expect(gw.streams.get('pump-7/imu')?.queued).toBe(0);
    expect(gw.metrics.counters.frames_total).toBe(20);
    const dl = tr.published.filter((p) => p.topic === gw.topics.deadLetter).map((p) => JSON.parse(Buffer.from(p.payload).toString()) as { reason: string });
    expect(dl).toHaveLength(1);
    expect(dl[0]!.reason).toMatch(/alerts topic would be \d+ bytes, MQTT allows at most 65535/);
    // alertsBytes() agrees with the topic it stands for.
    expect(gw.topics.alertsBytes(long, 'imu')).toBe(Buffer.byteLength(gw.topics.alerts(long, 'imu')));
    expect(gw.topics.alertsBytes('ポンプ', 'imu')).toBe(Buffer.byteLength(gw.topics.alerts('ポンプ', 'imu')));
  });

  it('refuses to publish on a topic over 65535 bytes, and the connection goes on', { timeout: 20_000 }, async () => {
    const broker = await startEmbeddedBroker();
    const { broker: cfg } = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'm.ern' }, routes: [{ sensor: 's', model: 'm' }] });
    const t = mqttTransport({ broker: cfg, url: broker.url, clientId: 'long-topic', endTimeoutMs: 500 });
    try {
      await t.start({ message() {}, connect() {}, close() {} });
      const err = await t.publish(`a/${'x'.repeat(MAX_TOPIC_BYTES)}`, 'hi', { qos: 1 }).catch((e: unknown) => e);
      expect(isEdgeRnnError(err, 'GATEWAY_TRANSPORT'), String(err)).toBe(true);
      expect((err as Error).message).toContain(`a topic of ${MAX_TOPIC_BYTES + 2} bytes, MQTT allows at most ${MAX_TOPIC_BYTES}`);
      // Nothing half-written: the next publish is acknowledged on the same connection.
      await t.publish('a/b', 'ok', { qos: 1 });
      expect(t.connected).toBe(true);
    } finally {
      await t.end(true);
      await broker.close();
    }
  });
});
