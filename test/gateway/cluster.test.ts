/**
 * Several gateways on one mosquitto: MQTT 5 shared subscriptions per device-hash partition, a
 * gateway joining and one leaving while devices keep publishing. Every frame is stepped exactly
 * once across the gateways, and every device ends with the state a single uninterrupted session
 * would have (byte for byte) and the oracle's alerts. Skipped, with the reason, without mosquitto.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { Model } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { partitionOwner } from '../../src/gateway/cluster.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { jsonLogger } from '../../src/gateway/logger.js';
import { devicePartition } from '../../src/gateway/topics.js';
import { peekStreamState } from '../../src/gateway/stream.js';
import { connectClient, IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, type Mosquitto, mosquittoAndImuModel, mosquittoAvailable, oracleAlerts, publishAsync, subscribeAsync, tmpDir, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
const TSX_LOADER = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
if (SKIP) console.log(`test/gateway/cluster.test.ts skipped: ${SKIP}`);

const P = 8;
const DEVICES = 12;
const PHASE = 20; // messages of 10 samples per device per phase
const PER = 10;

describe('partition ownership', () => {
  it('moves only the partitions of the member that came or went (rendezvous hashing)', () => {
    const parts = Array.from({ length: 64 }, (_, k) => `p${k}`);
    const two = parts.map((p) => partitionOwner(p, ['a', 'b']));
    const three = parts.map((p) => partitionOwner(p, ['a', 'b', 'c']));
    for (let k = 0; k < parts.length; k++) if (three[k] !== 'c') expect(three[k]).toBe(two[k]);
    expect(three.filter((o) => o === 'c').length).toBeGreaterThan(10);
    expect(partitionOwner('p0', [])).toBeUndefined();
    // Balanced enough between names that differ in one character.
    const eight = Array.from({ length: 8 }, (_, k) => partitionOwner(`p${k}`, ['gw-a', 'gw-b']));
    expect(eight.filter((o) => o === 'gw-b').length).toBeGreaterThan(0);
    expect(eight.filter((o) => o === 'gw-a').length).toBeGreaterThan(0);
  });
});

describe.skipIf(SKIP !== null)('cluster on mosquitto', () => {
  let mq: Mosquitto;
  let model: Model;
  mosquittoAndImuModel((m, md) => ((mq = m), (model = md)));

  const clusterConfig = (id: string, checkpointIntervalMs = 0) => ({
    site: 'farm',
    gatewayId: id,
    broker: { url: mq.url, reconnectMs: 100 },
    models: { imu: 'imu.ern' },
    routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }],
    limits: { reorderWindow: 8, reorderTimeoutMs: 10_000 },
    cluster: { group: 'farm', partitions: P, handoffTimeoutMs: 10_000, checkpointIntervalMs },
    stateDir: '',
    metrics: { intervalMs: 0 },
  });
  const logs: string[] = [];
  const makeGateway = (id: string, checkpointIntervalMs = 0) =>
    Gateway.create({
      config: parseGatewayConfig(clusterConfig(id, checkpointIntervalMs)),
      models: { imu: model },
      logger: jsonLogger({ level: 'debug', base: { gateway: id }, out: { write: (l: string) => logs.push(l) } }),
    });
  /** On failure, the gateways' logs say what happened. */
  const withLogs = async (f: () => Promise<void>) => {
    logs.length = 0;
    try {
      await f();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- gateway logs ---\n${logs.filter((l) => !/alert|stream restored|stream evicted/.test(l)).join('')}`);
    }
  };

  it('a gateway joins and another leaves mid-stream: states continue exactly, each frame stepped once', { timeout: 120_000 }, () => withLogs(async () => {
    const devices = Array.from({ length: DEVICES }, (_, i) => {
      const d = `cow-${i}`;
      return { d, partition: devicePartition(d, P), x: imuSignal(3 * PHASE * PER, 600 + i, [[30 + 7 * i, 50 + 7 * i], [250, 270], [480 + i, 500 + i]]) };
    });
    const alerts: Alert[] = [];
    const gwA = await makeGateway('gw-a');
    gwA.on('alert', (a) => alerts.push(a));
    const dev: MqttClient = await connectClient(mq.url, { clientId: 'herd', protocolVersion: 5 });
    const topicOf = (d: { d: string; partition: string }) => gwA.topics.sensor(d.d, 'imu', d.partition);
    // A round of messages (one per device, QoS 1, in flight together) every few ms: messages
    // keep arriving while partitions change hands.
    const publishPhase = async (phase: number) => {
      const sends: Array<Promise<void>> = [];
      for (let m = phase * PHASE; m < (phase + 1) * PHASE; m++) {
        for (const d of devices) sends.push(publishAsync(dev, topicOf(d), encodeJson(d.x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m })));
        await new Promise((r) => setTimeout(r, 10));
      }
      await Promise.all(sends);
    };
    let gwB: Gateway | null = null;
    const frames = () => gwA.metrics.counters.frames_total + (gwB?.metrics.counters.frames_total ?? 0);
    try {
      await waitFor(() => gwA.cluster!.owned().length === P, 'gw-a to own every partition');
      await publishPhase(0);
      await waitFor(() => frames() === DEVICES * PHASE * PER, 'phase 0 stepped');
      // gw-b joins while phase 1 is being published.
      const phase1 = publishPhase(1);
      gwB = await makeGateway('gw-b');
      gwB.on('alert', (a) => alerts.push(a));
      await phase1;
      await waitFor(() => gwA.cluster!.owned().length + gwB!.cluster!.owned().length === P && gwB!.cluster!.owned().length > 0, 'the partitions to be split');
      await waitFor(() => frames() === 2 * DEVICES * PHASE * PER, 'phase 1 stepped');
      expect(gwB.metrics.counters.handoffs_in_total).toBeGreaterThan(0);
      // gw-a leaves while phase 2 is being published.
      const phase2 = publishPhase(2);
      await gwA.stop();
      await phase2;
      await waitFor(() => gwB!.cluster!.owned().length === P, 'gw-b to own every partition');
      await waitFor(() => frames() >= 3 * DEVICES * PHASE * PER, 'phase 2 stepped');
      // Exactly once: no frame stepped twice, none lost.
      expect(frames()).toBe(3 * DEVICES * PHASE * PER);
      for (const g of [gwA, gwB]) {
        expect(g.metrics.counters.resets_total).toBe(0);
        expect(g.metrics.counters.missing_total).toBe(0);
        expect(g.metrics.counters.dropped_samples_total).toBe(0);
      }
      // A stream is live in gw-b, or (its last messages handled by gw-a before the hand-off)
      // waiting in gw-b's state store for the device's next message.
      const sessionBytes = (key: string): Uint8Array => {
        const live = gwB!.streams.get(key);
        if (live) return live.session.exportState();
        const saved = gwB!.stateStore.load(key)!;
        const hl = new DataView(saved.buffer, saved.byteOffset).getUint32(0, true);
        const h = JSON.parse(new TextDecoder().decode(saved.subarray(4, 4 + hl))) as { sessionBytes: number };
        return saved.slice(4 + hl, 4 + hl + h.sessionBytes);
      };
      for (const d of devices) {
        const s = model.session();
        for (let t = 0; t < d.x.length / IMU_CHANNELS; t++) s.step(d.x.subarray(t * IMU_CHANNELS, (t + 1) * IMU_CHANNELS));
        expect(sessionBytes(`${d.d}/imu`)).toEqual(s.exportState());
        s.dispose();
        const want = oracleAlerts(model, d.x, IMU_DETECTOR, { site: 'farm', device: d.d, sensor: 'imu', streamStartMs: 0 }).map((a) => a.frameIndex);
        expect(alerts.filter((a) => a.device === d.d).map((a) => a.frameIndex).sort((a, b) => a - b)).toEqual(want);
      }
      expect(new Set(alerts.map((a) => a.id)).size).toBe(alerts.length);
    } finally {
      dev.end(true);
      await gwA.stop();
      await gwB?.stop();
    }
  }));

  it('a gateway crashes (SIGKILL): its partitions resume from the retained checkpoints', { timeout: 120_000 }, () => withLogs(async () => {
    const work = tmpDir();
    fs.writeFileSync(path.join(work, 'imu.ern'), imuModelBytes());
    fs.writeFileSync(path.join(work, 'gateway.json'), JSON.stringify(clusterConfig('gw-c', 100)));
    const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(import.meta.dirname, 'child-gateway.ts'), '--config', 'gateway.json', '--log-level', 'debug'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    const devices = Array.from({ length: DEVICES }, (_, i) => {
      const d = `goat-${i}`;
      return { d, partition: devicePartition(d, P), x: imuSignal(2 * PHASE * PER, 700 + i, [[60, 80], [300, 320]]) };
    });
    const dev = await connectClient(mq.url, { clientId: 'goats', protocolVersion: 5 });
    const watcher = await connectClient(mq.url, { clientId: 'checkpoint-watcher', protocolVersion: 5 });
    const checkpointSeq = new Map<string, number>();
    watcher.on('message', (_t, p) => {
      const st = peekStreamState(new Uint8Array(p));
      if (st) checkpointSeq.set(st.device, st.lastSeq);
    });
    let gwD: Gateway | null = null;
    try {
      await waitFor(() => stdout.includes('connected to'), 'the child gateway to start', 60_000);
      gwD = await makeGateway('gw-d');
      await subscribeAsync(watcher, `${gwD.topics.cluster}/state/#`);
      const mine = new Set(Array.from({ length: P }, (_, k) => `p${k}`).filter((p) => partitionOwner(p, ['gw-c', 'gw-d']) === 'gw-d'));
      expect(mine.size).toBeGreaterThan(0);
      expect(mine.size).toBeLessThan(P);
      await waitFor(() => gwD!.cluster!.owned().sort().join() === [...mine].sort().join(), 'the partitions to be split');
      const theirs = devices.filter((d) => !mine.has(d.partition));
      expect(theirs.length).toBeGreaterThan(0);
      const publishPhase = async (phase: number) => {
        for (let m = phase * PHASE; m < (phase + 1) * PHASE; m++) {
          await Promise.all(devices.map((d) => publishAsync(dev, gwD!.topics.sensor(d.d, 'imu', d.partition), encodeJson(d.x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m }))));
        }
      };
      await publishPhase(0);
      // The child checkpoints its streams (retained) every 100 ms: wait for the ones after phase 0.
      await waitFor(() => theirs.every((d) => checkpointSeq.get(d.d) === PHASE - 1), 'checkpoints of the crashing gateway after phase 0');
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
      // Its last will says it is gone: gw-d takes every partition without waiting for a hand-off.
      await waitFor(() => gwD!.cluster!.owned().length === P, 'gw-d to take over every partition');
      await publishPhase(1);
      await waitFor(() => devices.every((d) => gwD!.streams.get(`${d.d}/imu`)?.lastSeq === 2 * PHASE - 1 && gwD!.streams.get(`${d.d}/imu`)!.queued === 0), 'phase 1 stepped');
      expect(gwD.metrics.counters.resets_total).toBe(0);
      expect(gwD.metrics.counters.missing_total).toBe(0);
      // Nothing arrived between the checkpoint and the crash: every device continues exactly.
      for (const d of devices) {
        const s = model.session();
        for (let t = 0; t < d.x.length / IMU_CHANNELS; t++) s.step(d.x.subarray(t * IMU_CHANNELS, (t + 1) * IMU_CHANNELS));
        expect(gwD.streams.get(`${d.d}/imu`)!.session.exportState()).toEqual(s.exportState());
        s.dispose();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      dev.end(true);
      watcher.end(true);
      await gwD?.stop();
    }
  }));
});
