/**
 * The whole pipeline on the embedded aedes broker: three devices on three codecs, alerts equal
 * to an offline oracle (a plain Session + the same detector), ids included; metrics over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createRuntime, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { ENCODERS } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import type { Alert } from '../../src/gateway/alert.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, imuModelBytes, imuSignal, oracleAlerts, publishAsync, subscribeAsync, tmpDir, waitFor } from './fixtures.js';

const T0 = 1_700_000_000_000;
const SAMPLES = 400;
const PER_MSG = 10;

describe('gateway pipeline on embedded aedes', () => {
  let model: Model;
  let gw: Gateway;
  let clock: ManualClock;
  let dev: MqttClient;
  let consumer: MqttClient;
  const received: Alert[] = [];
  const logger = memoryLogger('debug');

  beforeAll(async () => {
    const rt = await createRuntime();
    model = await rt.load(imuModelBytes());
    clock = new ManualClock(T0);
    const config = parseGatewayConfig({
      site: 'plant',
      gatewayId: 'gw1',
      broker: { url: 'embedded' },
      models: { imu: 'imu.ern' },
      routes: [
        { sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR },
        { sensor: 'imub', model: 'imu', codec: 'binary', detector: IMU_DETECTOR },
        { sensor: 'imuc', model: 'imu', codec: 'csv', detector: IMU_DETECTOR },
      ],
      stateDir: tmpDir(),
      metrics: { intervalMs: 0, httpPort: 0 },
    });
    gw = await Gateway.create({ config, models: { imu: model }, clock, logger });
    expect(gw.broker).not.toBeNull();
    consumer = await connectClient(gw.broker!.url, { clientId: 'consumer' });
    consumer.on('message', (_t, p) => received.push(JSON.parse(p.toString()) as Alert));
    await subscribeAsync(consumer, gw.topics.alertsFilter());
    dev = await connectClient(gw.broker!.url, { clientId: 'devices' });
  });

  afterAll(async () => {
    dev?.end(true);
    consumer?.end(true);
    await gw?.stop();
    model?.dispose();
  });

  it('raises exactly the alerts the oracle computes, on json, binary and csv payloads', async () => {
    const devices = [
      { device: 'press-1', sensor: 'imu', codec: 'json' as const, x: imuSignal(SAMPLES, 1, [[50, 60], [200, 230]]) },
      { device: 'press-2', sensor: 'imub', codec: 'binary' as const, x: imuSignal(SAMPLES, 2, [[120, 140]]) },
      { device: 'press-3', sensor: 'imuc', codec: 'csv' as const, x: imuSignal(SAMPLES, 3, [[300, 320], [340, 360]]) },
    ];
    let sent = 0;
    for (let m = 0; m < SAMPLES / PER_MSG; m++) {
      for (const d of devices) {
        const chunk = d.x.subarray(m * PER_MSG * IMU_CHANNELS, (m + 1) * PER_MSG * IMU_CHANNELS);
        await publishAsync(dev, gw.topics.sensor(d.device, d.sensor), ENCODERS[d.codec](chunk, IMU_CHANNELS, { seq: m, rateHz: 50 }));
        sent++;
      }
    }
    await waitFor(() => gw.metrics.counters.messages_total === sent, `${sent} messages at the gateway`);
    expect(gw.metrics.counters.decode_errors_total).toBe(0);
    clock.advance(5);
    gw.drainNow();
    clock.advance(5);
    const expected = devices.flatMap((d) => oracleAlerts(model, d.x, IMU_DETECTOR, { site: 'plant', device: d.device, sensor: d.sensor, streamStartMs: T0 }).map((o) => ({ ...o, device: d.device })));
    expect(expected.length).toBeGreaterThanOrEqual(5);
    await waitFor(() => received.length >= expected.length, `${expected.length} alerts at the consumer`);
    expect(received.map((a) => a.id).sort()).toEqual(expected.map((e) => e.id).sort());
    for (const e of expected) {
      const a = received.find((r) => r.id === e.id)!;
      expect(a.device).toBe(e.device);
      expect(a.model).toEqual({ name: model.name, version: model.version, sha256: model.sha256 });
      expect(a.label).toBe('impact');
      expect(a.score).toBeCloseTo(e.score, 6);
      expect(a.frameIndex).toBe(e.frameIndex);
      expect(a.evidence.inputs.length).toBe(Math.min(32, e.frameIndex));
      expect(a.evidence.inputs[0]!.length).toBe(IMU_CHANNELS);
      expect(a.evidence.scores.at(-1)).toBeCloseTo(e.score, 6);
    }
    expect(gw.metrics.counters.frames_total).toBe(3 * SAMPLES);
    // Batched: fewer kernel calls than frames.
    expect(gw.metrics.counters.kernel_calls_total).toBeLessThan(gw.metrics.counters.frames_total);
    await waitFor(() => gw.outboxDepth === 0, 'the outbox to empty (acks)');
    expect(gw.metrics.counters.alerts_acked_total).toBe(expected.length);
  });

  it('serves Prometheus metrics over HTTP', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^edgernn_gateway_messages_total\{gateway="gw1",site="plant"\} \d+$/m);
    expect(text).toMatch(/^# TYPE edgernn_gateway_inference_seconds summary$/m);
    expect(text).toMatch(/^edgernn_gateway_inference_seconds\{gateway="gw1",site="plant",quantile="0.99"\} [0-9.e-]+$/m);
    expect(text).toMatch(/^edgernn_gateway_outbox_depth\{gateway="gw1",site="plant"\} 0$/m);
    // A query string (Prometheus federation adds one) is the same page; HEAD has no body.
    const withQuery = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics?name[]=up`);
    expect([withQuery.status, (await withQuery.text()).includes('edgernn_gateway_messages_total')]).toEqual([200, true]);
    const head = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('serves /healthz (200 while connected, with devices and outbox depth); other methods and paths are refused', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ connected: true, outboxDepth: expect.any(Number), devices: expect.any(Number) });
    const post = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const other = await fetch(`http://127.0.0.1:${gw.httpPort}/`);
    expect([other.status, await other.text()]).toEqual([404, 'edgernn gateway: GET /metrics or /healthz\n']);
  });
});

describe('a failed start', () => {
  it('leaves nothing behind: the embedded broker port is free again', async () => {
    const { freePort } = await import('./fixtures.js');
    const port = await freePort();
    const model = await (await createRuntime()).load(imuModelBytes());
    const base = { site: 'p', broker: { url: 'embedded', port }, models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: tmpDir(), metrics: { intervalMs: 0 } };
    // The board has no port and no stream: the start fails after the broker is up.
    await expect(Gateway.create({ config: parseGatewayConfig({ ...base, board: { led: 13 } }), models: { imu: model }, logger: memoryLogger('silent') })).rejects.toThrow(/board.port must name a serial port/);
    const gw = await Gateway.create({ config: parseGatewayConfig(base), models: { imu: model }, logger: memoryLogger('silent') });
    expect(gw.broker!.port).toBe(port);
    await gw.stop();
    // The model was given by the caller: still usable.
    expect(model.session().step(new Float32Array(IMU_CHANNELS)).length).toBe(1);
    model.dispose();
  });
});

describe('Gateway.create checks its config', () => {
  it('a plain object works, with the defaults filled in; a wrong one is GATEWAY_CONFIG naming the field', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const raw = { broker: { url: 'embedded' }, models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '' };
    const gw = await Gateway.create({ config: raw, models: { imu: model }, logger: memoryLogger('silent') });
    expect(gw.config).toMatchObject({ site: 'site', limits: { maxBatch: expect.any(Number) }, routes: [{ sensor: 'imu', codec: 'json' }] });
    await gw.stop();
    await expect(Gateway.create({ config: { ...raw, routes: [{ sensor: 'imu', model: 'imu', codec: 'xml', detector: IMU_DETECTOR }] } as never, models: { imu: model }, logger: memoryLogger('silent') })).rejects.toMatchObject({
      code: 'GATEWAY_CONFIG',
      message: expect.stringMatching(/^Gateway\.create: config: routes\[0\]\.codec must be one of json, binary, csv, got "xml"/),
    });
    model.dispose();
  });
});
