/**
 * Faults against a real mosquitto: the broker killed and restarted mid-stream, the gateway
 * killed (SIGKILL, a child process) while alerts are pending, a flood from one device with
 * garbage and NaN on the side. Asserted: every alert arrives (by id), streams continue exactly
 * (no reset, no gap), other devices are unaffected. Skipped, with the reason, without mosquitto.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createRuntime, type Model } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { fileStateStore } from '../../src/gateway/state-store.js';
import { Topics } from '../../src/gateway/topics.js';
import { connectClient, IMU_CHANNELS, IMU_DETECTOR, imuGatewayConfig, imuModelBytes, imuSessionState, imuSignal, type Mosquitto, mosquittoAvailable, oracleAlerts, publishAsync, startMosquitto, subscribeAsync, tmpDir, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
/** tsx's loader by absolute URL: the child runs in a temp directory. */
const TSX_LOADER = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
if (SKIP) console.log(`test/gateway/faults.test.ts skipped: ${SKIP}`);

const T0 = 1_700_000_000_000;
const PER = 10;
const chunk = (x: Float32Array, m: number) => x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS);

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

const sessionState = (x: Float32Array): Uint8Array => imuSessionState(model, x);

describe.skipIf(SKIP !== null)('faults against mosquitto', () => {
  it('broker killed and restarted mid-stream: alerts raised during the outage arrive, streams continue exactly', async () => {
    const mq = await startMosquitto();
    const clock = new ManualClock(T0);
    const config = imuGatewayConfig(mq.url, { site: 'plant', gatewayId: 'gw-a', stateDir: tmpDir() });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, logger: memoryLogger('warn') });
    const consumer = await connectClient(mq.url, { clientId: 'alerts-consumer' });
    const got = new Map<string, Alert>();
    consumer.on('message', (_t, p) => {
      const a = JSON.parse(p.toString()) as Alert;
      got.set(a.id, a);
    });
    await subscribeAsync(consumer, gw.topics.alertsFilter());
    const dev = await connectClient(mq.url, { clientId: 'devices' });
    const devices = ['m1', 'm2', 'm3'].map((d, i) => ({ d, x: imuSignal(600, 100 + i, [[40 + 30 * i, 60 + 30 * i], [400 + 20 * i, 430 + 20 * i]]) }));
    try {
      // Phase 1: the first 300 samples of every device.
      for (let m = 0; m < 30; m++) for (const { d, x } of devices) await publishAsync(dev, gw.topics.sensor(d, 'imu'), encodeJson(chunk(x, m), IMU_CHANNELS, { seq: m }));
      await waitFor(() => gw.metrics.counters.messages_total === 90, 'phase 1 at the gateway');
      await mq.kill();
      await waitFor(() => gw.metrics.gauges.connected === 0, 'the gateway to notice the broker is gone');
      // Stepping happens now, with no broker: the alerts wait in the outbox.
      clock.advance(5);
      await gw.settled();
      const phase1 = devices.flatMap(({ d, x }) => oracleAlerts(model, x.subarray(0, 300 * IMU_CHANNELS), IMU_DETECTOR, { site: 'plant', device: d, sensor: 'imu', streamStartMs: T0 }));
      expect(phase1.length).toBeGreaterThan(0);
      expect(gw.outboxDepth).toBe(phase1.length);
      await mq.restart();
      await waitFor(() => consumer.connected && dev.connected && gw.metrics.gauges.connected === 1, 'everyone to reconnect', 30_000);
      await subscribeAsync(consumer, gw.topics.alertsFilter());
      // The gateway resubscribed once a probe from a spare device gets through.
      const before = gw.metrics.counters.messages_total;
      await waitFor(
        () => {
          if (gw.metrics.counters.messages_total > before) return true;
          void publishAsync(dev, gw.topics.sensor('probe', 'imu'), encodeJson(new Float32Array(IMU_CHANNELS), IMU_CHANNELS), 1);
          return false;
        },
        'the gateway to resubscribe',
        30_000,
        100,
      );
      clock.advance(5); // publishes the outbox
      await waitFor(() => phase1.every((a) => got.has(a.id)), 'the phase 1 alerts after the outage');
      // Phase 2 continues the same streams.
      for (let m = 30; m < 60; m++) for (const { d, x } of devices) await publishAsync(dev, gw.topics.sensor(d, 'imu'), encodeJson(chunk(x, m), IMU_CHANNELS, { seq: m }));
      await waitFor(() => gw.metrics.counters.messages_total >= before + 90, 'phase 2 at the gateway');
      clock.advance(5);
      const all = devices.flatMap(({ d, x }) => oracleAlerts(model, x, IMU_DETECTOR, { site: 'plant', device: d, sensor: 'imu', streamStartMs: T0 }));
      expect(all.length).toBeGreaterThan(phase1.length);
      await waitFor(() => all.every((a) => got.has(a.id)), 'all alerts');
      expect(gw.metrics.counters.resets_total).toBe(0);
      expect(gw.metrics.counters.missing_total).toBe(0);
      for (const { d, x } of devices) expect(gw.streams.get(`${d}/imu`)!.session.exportState()).toEqual(sessionState(x));
      // No alert the oracle does not know (duplicates of a known id are allowed).
      const known = new Set(all.map((a) => a.id));
      expect([...got.keys()].filter((id) => !known.has(id))).toEqual([]);
    } finally {
      dev.end(true);
      consumer.end(true);
      await gw.stop();
      await mq.stop();
    }
  });

  it('a flood from one device with garbage and NaN: other devices unaffected, drops counted, dead letters published', async () => {
    const mq = await startMosquitto();
    const clock = new ManualClock(T0);
    const config = imuGatewayConfig(mq.url, { site: 'plant', gatewayId: 'gw-f', limits: { maxQueuedFrames: 100, maxPayloadBytes: 8192 }, stateDir: '' });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, logger: memoryLogger('error') });
    const watcher = await connectClient(mq.url);
    const dead: Array<{ reason: string }> = [];
    watcher.on('message', (_t, p) => dead.push(JSON.parse(p.toString()) as { reason: string }));
    await subscribeAsync(watcher, gw.topics.deadLetter, 0);
    const flooder = await connectClient(mq.url);
    const dev = await connectClient(mq.url);
    try {
      const quiet = ['q1', 'q2', 'q3', 'q4', 'q5'].map((d, i) => ({ d, x: imuSignal(100, 200 + i, [[50, 70]]) }));
      const flood = imuSignal(5000, 300);
      const floodTopic = gw.topics.sensor('flood', 'imu');
      const sends: Array<Promise<void>> = [];
      for (let m = 0; m < 500; m++) {
        sends.push(publishAsync(flooder, floodTopic, encodeJson(chunk(flood, m), IMU_CHANNELS, { seq: m }), 0));
        if (m % 25 === 0) {
          sends.push(publishAsync(flooder, floodTopic, '{"values": [[1, 2', 0));
          sends.push(publishAsync(flooder, floodTopic, new Uint8Array(10_000), 0));
          sends.push(publishAsync(flooder, floodTopic, encodeBinary(chunk(flood, m), IMU_CHANNELS), 0));
          sends.push(publishAsync(flooder, gw.topics.sensor('nan', 'imu'), encodeJson(Float32Array.from({ length: IMU_CHANNELS }, (_, k) => (k === 3 ? NaN : 0)), IMU_CHANNELS), 0));
        }
        // 10 messages = 100 frames each: exactly maxQueuedFrames, so nothing of theirs may drop.
        if (m % 50 === 0) for (const { d, x } of quiet) sends.push(publishAsync(dev, gw.topics.sensor(d, 'imu'), encodeJson(chunk(x, m / 50), IMU_CHANNELS, { seq: m / 50 })));
      }
      await Promise.all(sends);
      // QoS 0 from the flooder may be dropped by the broker under load: wait for the quiet
      // devices (QoS 1) and for the flood to stop arriving.
      await waitFor(() => quiet.every(({ d }) => gw.streams.get(`${d}/imu`)?.counters.messages === 10), 'the quiet devices');
      let last = -1;
      await waitFor(
        () => {
          const now = gw.metrics.counters.messages_total;
          const still = now === last;
          last = now;
          return still;
        },
        'the flood to end',
        30_000,
        300,
      );
      clock.advance(5);
      for (const { d, x } of quiet) {
        expect(gw.streams.get(`${d}/imu`)!.counters.droppedFrames).toBe(0);
        expect(gw.streams.get(`${d}/imu`)!.session.exportState()).toEqual(sessionState(x));
      }
      const c = gw.metrics.counters;
      const floodStream = gw.streams.get('flood/imu')!;
      expect(floodStream.counters.droppedFrames).toBeGreaterThan(0);
      expect(c.dropped_samples_total).toBe(floodStream.counters.droppedSamples);
      expect(floodStream.counters.frames).toBe(100); // the newest maxQueuedFrames survived
      expect(c.decode_errors_total).toBeGreaterThan(0);
      expect(c.oversized_total).toBeGreaterThan(0);
      expect(c.non_finite_total).toBeGreaterThan(0);
      await waitFor(() => dead.length === c.dead_letters_total, 'the dead letters at a subscriber');
      expect(dead.some((d) => /not JSON/.test(d.reason))).toBe(true);
      expect(dead.some((d) => /exceeds limits.maxPayloadBytes/.test(d.reason))).toBe(true);
      expect(dead.some((d) => /channel 3 is NaN/.test(d.reason))).toBe(true);
    } finally {
      flooder.end(true);
      dev.end(true);
      watcher.end(true);
      await gw.stop();
      await mq.stop();
    }
  });

  it('gateway killed (SIGKILL) with alerts pending: a restart delivers every alert it raised', { timeout: 180_000 }, async () => {
    // Phase A: the broker refuses the gateway's alert publishes (ACL; MQTT 5 PUBACK 0x87),
    // so every alert is pending in the outbox when the process is killed.
    const aclFile = (allowAlerts: boolean) => {
      // mosquitto started as root drops to user "mosquitto": the file must be world-readable.
      const dir = tmpDir();
      fs.chmodSync(dir, 0o755);
      const f = path.join(dir, 'acl');
      fs.writeFileSync(f, ['topic readwrite edgernn/plant/+/imu', 'topic readwrite edgernn/plant/_gateway/#', allowAlerts ? 'topic readwrite edgernn/plant/+/alerts' : 'topic read edgernn/plant/+/alerts', ''].join('\n'));
      fs.chmodSync(f, 0o644);
      return f;
    };
    const mq: Mosquitto = await startMosquitto(`allow_anonymous true\nacl_file ${aclFile(false)}`);
    const work = tmpDir();
    fs.writeFileSync(path.join(work, 'imu.ern'), imuModelBytes());
    fs.writeFileSync(
      path.join(work, 'gateway.json'),
      JSON.stringify({
        site: 'plant',
        gatewayId: 'gw-k',
        broker: { url: mq.url, reconnectMs: 100 },
        models: { imu: 'imu.ern' },
        routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }],
        stateDir: 'state',
        outbox: { retryMs: 200 },
        metrics: { intervalMs: 0 },
      }),
    );
    const topics = new Topics(parseGatewayConfig({ site: 'plant', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu' }] }));
    const consumer = await connectClient(mq.url, { clientId: 'consumer', protocolVersion: 5 });
    const got = new Set<string>();
    consumer.on('message', (_t, p) => got.add((JSON.parse(p.toString()) as Alert).id));
    await subscribeAsync(consumer, topics.alertsFilter());
    const dev = await connectClient(mq.url, { clientId: 'devices' });
    const children: ChildProcess[] = [];
    const start = () => {
      const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(import.meta.dirname, 'child-gateway.ts'), '--config', 'gateway.json', '--log-level', 'info', '--metrics-port', '0'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const out = { stdout: '', logs: [] as Array<Record<string, unknown>>, exit: null as number | null };
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            out.logs.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            out.logs.push({ msg: line });
          }
        }
      });
      child.on('exit', (code) => (out.exit = code ?? -1));
      return { child, out };
    };
    const kill9 = (c: ChildProcess) =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    const raised = (o: { logs: Array<Record<string, unknown>> }) => o.logs.filter((l) => l.msg === 'alert raised').map((l) => l.id as string);
    const devices = ['k1', 'k2'].map((d, i) => ({ d, x: imuSignal(800, 400 + i, [[30, 50], [120, 140], [500 + 10 * i, 520 + 10 * i], [650, 670]]) }));
    try {
      const run1 = start();
      await waitFor(() => run1.out.stdout.includes('connected to'), 'gateway run 1 to connect', 60_000).catch((e: Error) => {
        throw new Error(`${e.message}\nstdout: ${run1.out.stdout}\nlogs: ${JSON.stringify(run1.out.logs.slice(-5))}`);
      });
      for (let m = 0; m < 40; m++) for (const { d, x } of devices) await publishAsync(dev, topics.sensor(d, 'imu'), encodeJson(chunk(x, m), IMU_CHANNELS, { seq: m }));
      const expected1 = devices.reduce((n, { x }) => n + oracleAlerts(model, x.subarray(0, 400 * IMU_CHANNELS), IMU_DETECTOR, { site: 'p', device: 'd', sensor: 'imu', streamStartMs: 0 }).length, 0);
      expect(expected1).toBeGreaterThan(1);
      await waitFor(() => raised(run1.out).length === expected1 && run1.out.logs.some((l) => l.msg === 'alert not acknowledged, will retry'), 'run 1 to raise its alerts and see them refused', 30_000).catch((e: Error) => {
        throw new Error(`${e.message}: raised ${raised(run1.out).length} of ${expected1}; logs: ${JSON.stringify(run1.out.logs.slice(-8))}`);
      });
      await kill9(run1.child);
      const ids1 = raised(run1.out);
      expect(ids1.filter((id) => got.has(id))).toEqual([]);
      // Phase B: alerts allowed again; a fresh process replays the outbox.
      await mq.reload(`allow_anonymous true\nacl_file ${aclFile(true)}`);
      const run2 = start();
      await waitFor(() => ids1.every((id) => got.has(id)), 'run 2 to deliver every alert of run 1', 60_000);
      expect(run2.out.logs.find((l) => l.msg === 'outbox: alerts from a previous run will be re-sent')).toMatchObject({ replayed: ids1.length });
      // Phase C: killed in the middle of live traffic, right after its first new alert.
      for (let m = 40; m < 80; m++) for (const { d, x } of devices) await publishAsync(dev, topics.sensor(d, 'imu'), encodeJson(chunk(x, m), IMU_CHANNELS, { seq: m }));
      await waitFor(() => raised(run2.out).length > 0, 'run 2 to raise an alert');
      await kill9(run2.child);
      const ids2 = raised(run2.out);
      const run3 = start();
      await waitFor(() => ids2.every((id) => got.has(id)), 'run 3 to deliver every alert run 2 raised', 60_000);
      // A graceful stop drains the outbox and saves the device states (of devices it has seen).
      await waitFor(() => run3.out.stdout.includes('connected to'), 'run 3 to finish starting');
      const port = Number(/metrics on http:\/\/[^:]+:(\d+)/.exec(run3.out.stdout)![1]);
      for (let m = 80; m < 82; m++) for (const { d, x } of devices) await publishAsync(dev, topics.sensor(d, 'imu'), encodeJson(chunk(x, m % 80), IMU_CHANNELS, { seq: m }));
      let seen = 0;
      await waitFor(
        () => {
          void fetch(`http://127.0.0.1:${port}/metrics`)
            .then((r) => r.text())
            .then((t) => (seen = Number(/^edgernn_gateway_messages_total\{[^}]*\} (\d+)$/m.exec(t)?.[1] ?? 0)))
            .catch(() => {});
          return seen === 4;
        },
        'run 3 to take 4 messages',
        30_000,
        50,
      );
      run3.child.kill('SIGTERM');
      await waitFor(() => run3.out.exit !== null, 'run 3 to exit', 30_000);
      expect(run3.out.exit).toBe(0);
      expect(run3.out.stdout).toMatch(/stopped \(outbox depth 0\)/);
      // ... and saved both device streams for the next start.
      const saved = fileStateStore(path.join(work, 'state', 'streams')).keys();
      expect(saved.sort()).toEqual(['k1/imu', 'k2/imu']);
    } finally {
      for (const c of children) await kill9(c);
      dev.end(true);
      consumer.end(true);
      await mq.stop();
    }
  });
});
