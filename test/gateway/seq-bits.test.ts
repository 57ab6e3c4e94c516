/**
 * Devices with 8- or 16-bit sequence counters (routes[].seqBits). Without it, each wrap (0 after 255
 * or 65535) was taken for a restarted counter: one reset of the model state, front end and detector
 * per wrap (a u8 counter at 100 messages/s: every 2.5 s), a new alert epoch each time.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { seqDistance } from '../../src/gateway/stream.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { connectClient, IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts, publishAsync, subscribeAsync, tmpDir, waitFor } from './fixtures.js';

const T0 = 1_700_000_000_000;
/** 4 samples per message. */
const N = 4;

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

const route = (extra: Record<string, unknown> = {}) => ({ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR, ...extra });
const configOf = (r: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  parseGatewayConfig({ site: 'home', gatewayId: 'gw1', models: { imu: 'imu.ern' }, routes: [r], metrics: { intervalMs: 0 }, stateDir: '', ...more });

describe('routes[].seqBits', () => {
  it('an 8-bit counter wrapping three times through the embedded broker (evicted at a wrap, reordered and redelivered across one): no reset, nothing dropped, the alerts of one uninterrupted stream', { timeout: 60_000 }, async () => {
    const config = parseGatewayConfig({
      site: 'home',
      gatewayId: 'gw1',
      broker: { url: 'embedded' },
      models: { imu: 'imu.ern' },
      routes: [route({ seqBits: 8 })],
      // One stream in memory: another device's message evicts the counting one (its state saved and restored).
      limits: { maxDevices: 1 },
      stateDir: tmpDir(),
      metrics: { intervalMs: 0, httpPort: 0 },
    });
    const clock = new ManualClock(T0);
    const gw = await Gateway.create({ config, models: { imu: model }, clock, logger: memoryLogger('warn') });
    const received: Alert[] = [];
    const consumer = await connectClient(gw.broker!.url, { clientId: 'consumer' });
    consumer.on('message', (_t, p) => received.push(JSON.parse(p.toString()) as Alert));
    await subscribeAsync(consumer, gw.topics.alertsFilter());
    const dev = await connectClient(gw.broker!.url, { clientId: 'devices' });
    try {
      const M = 600;
      const x = imuSignal(M * N, 21, [[100, 112], [700, 712], [1250, 1262], [2300, 2312]]);
      const seqOf = (m: number) => (200 + m) % 256; // wraps at m = 56, 312 and 568
      const send = async (device: string, m: number) => {
        const before = gw.metrics.counters.messages_total;
        await publishAsync(dev, gw.topics.sensor(device, 'imu'), encodeJson(x.subarray(m * N * IMU_CHANNELS, (m + 1) * N * IMU_CHANNELS), IMU_CHANNELS, { seq: seqOf(m) }));
        await waitFor(() => gw.metrics.counters.messages_total > before, 'the message at the gateway');
        clock.advance(5);
      };
      const order: Array<[string, number]> = [];
      for (let m = 0; m < M; m++) {
        if (m === 56 || m === 300) order.push(['other', m === 56 ? 0 : 1]); // evicts 'wrap8' (at 255, just before its wrap)
        if (m === 311) continue;
        order.push(['wrap8', m]);
        if (m === 312) order.push(['wrap8', 311]); // 0 arrives before 255: held, then put in order
        if (m === 314) order.push(['wrap8', 310]); // 254 redelivered after 2: a duplicate
      }
      for (const [device, m] of order) await send(device, m);
      const c = gw.metrics.counters;
      expect(c.resets_total).toBe(0);
      expect(c.missing_total).toBe(0);
      expect(c.duplicates_total).toBe(1);
      expect(c.evictions_total).toBeGreaterThanOrEqual(4);
      expect(c.frames_total).toBe(M * N + 2 * N);
      expect(gw.streams.get('wrap8/imu')?.lastSeq ?? -1).toBe(seqOf(M - 1));
      const expected = oracleAlerts(model, x, IMU_DETECTOR, { site: 'home', device: 'wrap8', sensor: 'imu', streamStartMs: T0 });
      expect(expected.length).toBeGreaterThanOrEqual(3);
      await waitFor(() => received.filter((a) => a.device === 'wrap8').length >= expected.length, 'the alerts');
      const got = received.filter((a) => a.device === 'wrap8');
      expect(got.map((a) => a.id)).toEqual(expected.map((a) => a.id));
      got.forEach((a, i) => expect(a.score).toBeCloseTo(expected[i]!.score, 5));
    } finally {
      dev.end(true);
      consumer.end(true);
      await gw.stop();
      fs.rmSync(config.stateDir, { recursive: true, force: true });
    }
  });

  it('a 16-bit counter: 0 after 65535 is the next message, a restart far from the wrap still is one', async () => {
    const config = configOf(route({ seqBits: 16 }));
    const tr = new TraceTransport();
    const gw = await Gateway.create({ config, models: { imu: model }, clock: new ManualClock(T0), transport: tr, logger: memoryLogger('error'), stateStore: memoryStateStore() });
    try {
      const x = imuSignal(N, 3);
      const send = (seq: number) => tr.deliver(gw.topics.sensor('d16', 'imu'), encodeJson(x, IMU_CHANNELS, { seq }));
      for (const seq of [65533, 65534, 65535, 0, 1, 2]) send(seq);
      expect(gw.metrics.counters).toMatchObject({ resets_total: 0, duplicates_total: 0, missing_total: 0 });
      for (let seq = 3; seq < 40; seq++) send(seq);
      // The device reboots and counts from 0 again: one reset.
      send(0);
      send(1);
      expect(gw.metrics.counters).toMatchObject({ resets_total: 1, duplicates_total: 0 });
      expect(gw.streams.get('d16/imu')!.lastSeq).toBe(1);
    } finally {
      await gw.stop();
    }
  });

  it('refuses a width it does not know, a reorderWindow too large for 8 bits, and a seq wider than the route says (dead letter)', async () => {
    expect(() => configOf(route({ seqBits: 12 }))).toThrow(expect.objectContaining({ code: 'GATEWAY_CONFIG', message: expect.stringMatching(/routes\[0\]\.seqBits must be 8, 16, 32 or 53 .*got 12$/) }));
    expect(() => configOf(route({ seqBits: '8' }))).toThrow(/routes\[0\]\.seqBits must be 8, 16, 32 or 53/);
    expect(() => configOf(route({ seqBits: 8 }), { limits: { reorderWindow: 64 } })).toThrow(expect.objectContaining({ code: 'GATEWAY_CONFIG', message: expect.stringMatching(/limits\.reorderWindow must be below 64 \(a quarter of routes\[0\]\.seqBits 8.*got 64$/) }));
    expect(configOf(route({ seqBits: 8 }), { limits: { reorderWindow: 63 } }).routes[0]!.seqBits).toBe(8);
    expect(configOf(route()).routes[0]!.seqBits).toBeUndefined();

    const tr = new TraceTransport();
    const gw = await Gateway.create({ config: configOf(route({ seqBits: 8 })), models: { imu: model }, clock: new ManualClock(T0), transport: tr, logger: memoryLogger('error'), stateStore: memoryStateStore() });
    try {
      tr.deliver(gw.topics.sensor('wide', 'imu'), encodeJson(imuSignal(N, 4), IMU_CHANNELS, { seq: 256 }));
      expect(gw.metrics.counters.dead_letters_total).toBe(1);
      expect(gw.streams.has('wide/imu')).toBe(false);
      const dead = tr.published.find((p) => p.topic.includes('dead'));
      expect((JSON.parse(new TextDecoder().decode(dead?.payload)) as { reason: string }).reason).toMatch(/"seq" 256 does not fit the route's seqBits 8: expected 0\.\.255/);
    } finally {
      await gw.stop();
    }
  });

  it('a saved state whose sequence numbers do not fit the route (its seqBits lowered) is not used: the stream starts fresh', async () => {
    const store = memoryStateStore();
    const clock = new ManualClock(T0);
    const topic = (gw: Gateway) => gw.topics.sensor('d', 'imu');
    const tr1 = new TraceTransport();
    const gw1 = await Gateway.create({ config: configOf(route()), models: { imu: model }, clock, transport: tr1, logger: memoryLogger('error'), stateStore: store });
    tr1.deliver(topic(gw1), encodeJson(imuSignal(N, 5), IMU_CHANNELS, { seq: 70_000 }));
    clock.advance(100);
    await gw1.stop();
    const tr2 = new TraceTransport();
    const logger = memoryLogger('warn');
    const gw2 = await Gateway.create({ config: configOf(route({ seqBits: 16 })), models: { imu: model }, clock, transport: tr2, logger, stateStore: store });
    try {
      tr2.deliver(topic(gw2), encodeJson(imuSignal(N, 6), IMU_CHANNELS, { seq: 4465 }));
      expect(gw2.metrics.counters.state_errors_total).toBe(1);
      expect(JSON.stringify(logger.lines)).toMatch(/lastSeq 70000 \(saved with seqBits null\): expected -1 or an integer in 0\.\.65535/);
      expect(gw2.streams.get('d/imu')!.lastSeq).toBe(4465);
    } finally {
      await gw2.stop();
    }
  });

  it('seqDistance by width', () => {
    expect(seqDistance(255, 0, 8)).toBe(1);
    expect(seqDistance(0, 255, 8)).toBe(-1);
    expect(seqDistance(250, 5, 8)).toBe(11);
    expect(seqDistance(100, 0, 8)).toBe(-100);
    expect(seqDistance(65535, 0, 16)).toBe(1);
    expect(seqDistance(65535, 0)).toBe(-65535);
    expect(seqDistance(2 ** 32 - 1, 0)).toBe(1);
    expect(seqDistance(2 ** 32 - 1, 0, 32)).toBe(1);
    expect(seqDistance(2 ** 32 - 1, 0, 53)).toBe(-(2 ** 32 - 1));
  });
});
