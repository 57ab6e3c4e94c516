/**
 * Alerts larger than the broker takes (its MQTT 5 Maximum Packet Size): a long evidence window is
 * trimmed to fit, oldest frames first, and says so; the connection is never spent on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { alertJson, type Alert } from '../../src/gateway/alert.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, imuModelBytes, imuSignal, mosquittoAvailable, oracleAlerts, publishAsync, startMosquitto, subscribeAsync, waitFor } from './fixtures.js';

function alertWithEvidence(frames: number, device = 'pümpe-7'): Alert {
  return {
    id: '0123456789abcdef0123456789abcdef',
    site: 's',
    device,
    sensor: 'imu',
    gateway: 'gw',
    model: { name: 'm', version: '1.0.0', sha256: 'ab'.repeat(32) },
    detector: 'threshold',
    label: 'impact',
    score: 0.95,
    ts: '2024-05-01T12:00:00.000Z',
    tsMs: 1714564800000,
    frameIndex: 1000,
    evidence: { fromMs: 1714564700000, toMs: 1714564800000, inputs: Array.from({ length: frames }, (_, i) => [i, -1.25, 3.5, 0.125, 7, i / 3]), scores: Array.from({ length: frames }, (_, i) => i / frames) },
  };
}

describe('alertJson', () => {
  it('is JSON.stringify(alert) when it fits or no limit is known', () => {
    const a = alertWithEvidence(50);
    expect(alertJson(a)).toEqual({ json: JSON.stringify(a), droppedFrames: 0 });
    expect(alertJson(a, 1e6)).toEqual({ json: JSON.stringify(a), droppedFrames: 0 });
  });

  it('drops the oldest evidence frames until the UTF-8 bytes fit, and says how many', () => {
    const a = alertWithEvidence(2000);
    const full = Buffer.byteLength(JSON.stringify(a));
    for (const max of [full - 1, Math.floor(full / 2), 2000]) {
      const { json, droppedFrames } = alertJson(a, max);
      expect(Buffer.byteLength(json)).toBeLessThanOrEqual(max);
      const b = JSON.parse(json) as Alert & { evidence: { droppedFrames: number } };
      expect(droppedFrames).toBeGreaterThan(0);
      expect(b.evidence.droppedFrames).toBe(droppedFrames);
      expect(b.evidence.inputs).toEqual(a.evidence.inputs.slice(droppedFrames));
      expect(b.evidence.scores).toEqual(a.evidence.scores.slice(droppedFrames));
      // As many as fit: 200 bytes more keep more frames (each is about 40).
      expect(alertJson(a, max + 200).droppedFrames).toBeLessThan(droppedFrames);
      expect({ ...b, evidence: undefined }).toEqual({ ...a, evidence: undefined });
      expect(a.evidence.inputs.length).toBe(2000); // the alert itself is left as it was (the outbox keeps it whole)
    }
    // Not even without evidence: every frame dropped, the rest as it is (the broker will refuse it).
    const none = alertJson(a, 100);
    expect(none.droppedFrames).toBe(2000);
    expect(JSON.parse(none.json).evidence).toMatchObject({ inputs: [], scores: [], droppedFrames: 2000 });
  });
});

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

describe.skipIf(mosquittoAvailable() !== null)('a broker with a maximum packet size (mosquitto max_packet_size, MQTT 5)', () => {
  it('an alert over it goes out with its oldest evidence trimmed; the connection stays up and every alert arrives', async () => {
    // Published whole, the broker closed the connection at once ("disconnected due to oversize
    // packet"); the reconnect sent it again, and so on for ever: no sensor data, no other alert.
    const mq = await startMosquitto('allow_anonymous true\nmax_packet_size 20000');
    const logger = memoryLogger('info');
    const config = parseGatewayConfig({
      site: 's',
      models: { imu: 'x' },
      routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR, evidenceFrames: 2000 }],
      stateDir: '',
      metrics: { intervalMs: 0 },
      broker: { url: mq.url, protocolVersion: 5, reconnectMs: 100 },
    });
    const gw = await Gateway.create({ config, models: { imu: model }, logger });
    const dev = await connectClient(mq.url, { protocolVersion: 5 });
    const got: Array<Alert & { evidence: { droppedFrames?: number } }> = [];
    dev.on('message', (_t, p) => got.push(JSON.parse(p.toString()) as Alert));
    try {
      await subscribeAsync(dev, gw.topics.alertsFilter());
      const x = imuSignal(300, 5, [[200, 220], [260, 280]]);
      for (let m = 0; m < 5; m++) await publishAsync(dev, gw.topics.sensor('dev-ü', 'imu'), encodeJson(x.subarray(m * 360, (m + 1) * 360), IMU_CHANNELS, { seq: m }));
      const want = oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'dev-ü', sensor: 'imu', streamStartMs: 0 }).map((a) => a.frameIndex);
      expect(want.length).toBe(2);
      await waitFor(() => got.length === want.length && gw.outboxDepth === 0, 'every alert delivered and acknowledged');
      expect(got.map((a) => a.frameIndex)).toEqual(want);
      // The second carries 260 frames of evidence (over 20000 bytes): trimmed, and says so.
      expect(got[0]!.evidence.droppedFrames).toBeUndefined();
      expect(got[1]!.evidence.droppedFrames).toBeGreaterThan(0);
      // Kept and dropped make the whole window: every frame stepped so far (fewer than evidenceFrames).
      expect(got[1]!.evidence.inputs.length + got[1]!.evidence.droppedFrames!).toBe(want[1]!);
      expect(logger.lines.filter((l) => l.msg === 'broker connection lost')).toEqual([]);
      expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: "alert evidence trimmed to fit the broker's maximum packet size", id: got[1]!.id }));
      // The limit is the broker's to the byte: a payload of maxPayloadBytes is taken, one byte more
      // is refused before it is sent, and the connection stays.
      const topic = 'edgernn/s/size-probe';
      const max = gw.transport.maxPayloadBytes!(topic)!;
      expect(max).toBeGreaterThan(19_900);
      expect(max).toBeLessThan(20_000);
      await gw.transport.publish(topic, 'x'.repeat(max), { qos: 1 });
      await expect(gw.transport.publish(topic, 'x'.repeat(max + 1), { qos: 1 })).rejects.toMatchObject({
        code: 'GATEWAY_TRANSPORT',
        message: `publish to ${topic}: a packet of 20001 bytes, the broker takes at most 20000 (its Maximum Packet Size)`,
      });
      await gw.transport.publish(topic, 'still connected', { qos: 1 });
      expect(gw.transport.connected).toBe(true);
    } finally {
      dev.end(true);
      await gw.stop();
      await mq.stop();
    }
  });
});
