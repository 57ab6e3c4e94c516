/**
 * Cluster mode with src/features front ends on mosquitto: devices stream audio (MFCC) and IMU
 * samples (polyphase resampling, windows) while a gateway joins and another leaves (hand-offs),
 * and while a gateway is SIGKILLed (its partitions resume from retained checkpoints). Message
 * boundaries fall mid-frame and mid-window, so the front ends' buffered samples must travel with
 * the hand-off and the checkpoints: every stream's detector steps, across the gateways, equal
 * the uninterrupted stream's frame for frame, bit for bit. Skipped, with the reason, without
 * mosquitto.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createFrontend, createRuntime, FRONTEND_STATE_HEADER_BYTES, type Model } from '../../src/index.js';
import { partitionOwner } from '../../src/gateway/cluster.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { jsonLogger } from '../../src/gateway/logger.js';
import { peekStreamState } from '../../src/gateway/stream.js';
import { devicePartition } from '../../src/gateway/topics.js';
import { concat, expectSameAsReference, kindModelBytes, KINDS, messages, recordingDetector, referenceSteps, type Kind, type Message, type RecordedStep, type ReferenceStream } from './feature-fixtures.js';
import { connectClient, mosquittoAvailable, publishAsync, startMosquitto, subscribeAsync, tmpDir, waitFor, type Mosquitto } from './fixtures.js';

const SKIP = mosquittoAvailable();
const TSX_LOADER = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
if (SKIP) console.log(`test/gateway/cluster-frontends.test.ts skipped: ${SKIP}`);

const P = 8;
const DEVICES = 8;
/** The two front ends under test: audio MFCC (binary int16) and IMU windows (JSON codes). */
const SENSORS: Array<{ sensor: string; kind: Kind }> = [
  { sensor: 'mic', kind: KINDS[0]! },
  { sensor: 'imu', kind: KINDS[1]! },
];
/** Threshold detectors in the config (the crash test's child runs them); in-process gateways record instead. */
const DETECTOR = { kind: 'threshold', output: 'event', on: 0.9, off: 0.5 };

interface Stream {
  name: string;
  device: string;
  partition: string;
  sensor: string;
  model: Model;
  msgs: Message[];
}

describe.skipIf(SKIP !== null)('cluster with feature front ends on mosquitto', () => {
  let mq: Mosquitto;
  const bytes = new Map<string, Uint8Array>();
  const models = new Map<string, Model>();
  beforeAll(async () => {
    mq = await startMosquitto();
    const rt = await createRuntime();
    SENSORS.forEach(({ sensor, kind }, i) => {
      bytes.set(sensor, kindModelBytes(kind, 70 + i));
    });
    for (const [sensor, b] of bytes) models.set(sensor, await rt.load(b));
  });
  afterAll(async () => {
    await mq?.stop();
    if (mq) fs.rmSync(mq.dir, { recursive: true, force: true });
    for (const m of models.values()) m.dispose();
  });

  const config = (site: string, id: string, checkpointIntervalMs = 0) => ({
    site,
    gatewayId: id,
    broker: { url: mq.url, reconnectMs: 100 },
    models: Object.fromEntries(SENSORS.map(({ sensor }) => [sensor, `${sensor}.ern`])),
    routes: SENSORS.map(({ sensor, kind }) => ({ sensor, model: sensor, codec: kind.codec, channels: kind.channels, detector: DETECTOR })),
    limits: { reorderWindow: 8, reorderTimeoutMs: 10_000 },
    cluster: { group: site, partitions: P, handoffTimeoutMs: 10_000, checkpointIntervalMs },
    stateDir: '',
    metrics: { intervalMs: 0 },
  });
  const logs: string[] = [];
  /** An in-process gateway whose threshold detectors record every step into `log`. */
  const makeGateway = (site: string, id: string, log: RecordedStep[]) =>
    Gateway.create({
      config: parseGatewayConfig(config(site, id)),
      models: Object.fromEntries(models),
      detectors: { threshold: recordingDetector(log) },
      logger: jsonLogger({ level: 'debug', base: { gateway: id }, out: { write: (l: string) => logs.push(l) } }),
    });
  const withLogs = async (f: () => Promise<void>) => {
    logs.length = 0;
    try {
      await f();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- gateway logs ---\n${logs.filter((l) => !/alert|stream restored|stream evicted/.test(l)).join('')}`);
    }
  };

  const streamsOf = (prefix: string, seed: number): Stream[] =>
    Array.from({ length: DEVICES }, (_, i) => `${prefix}-${i}`).flatMap((device, i) =>
      SENSORS.map(({ sensor, kind }, j) => ({ name: `${device}/${sensor}`, device, partition: devicePartition(device, P), sensor, model: models.get(sensor)!, msgs: messages(kind, kind.signal(kind.samples, seed + 10 * i + j)) })),
    );
  /** Messages [from, to) as fractions of each stream's messages. */
  const slice = (s: Stream, from: number, to: number) => s.msgs.slice(Math.floor(from * s.msgs.length), Math.floor(to * s.msgs.length));
  /** Publishes every stream's share of messages round by round (one per stream per round, QoS 1), `pauseMs` between rounds. */
  const publish = async (dev: MqttClient, topics: Gateway['topics'], streams: Stream[], from: number, to: number, pauseMs: number) => {
    const parts = streams.map((s) => ({ s, msgs: slice(s, from, to) }));
    const rounds = Math.max(...parts.map((p) => p.msgs.length));
    const sends: Array<Promise<void>> = [];
    for (let r = 0; r < rounds; r++) {
      for (const { s, msgs } of parts) if (msgs[r]) sends.push(publishAsync(dev, topics.sensor(s.device, s.sensor, s.partition), msgs[r]!.payload));
      if (pauseMs > 0) await new Promise((res) => setTimeout(res, pauseMs));
      else await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
  };
  /** Detector steps the uninterrupted streams make for messages [0, upTo) of each. */
  const stepsUpTo = (streams: Stream[], upTo: number) => streams.reduce((a, s) => a + referenceSteps(s.model, concat(slice(s, 0, upTo)), s.name).steps.length, 0);
  const references = (streams: Stream[]): ReferenceStream[] => streams.map((s) => referenceSteps(s.model, concat(s.msgs), s.name));

  it('a gateway joins and another leaves mid-stream: every stream frame for frame as uninterrupted', { timeout: 120_000 }, () => withLogs(async () => {
    const log: RecordedStep[] = [];
    const streams = streamsOf('cow', 1000);
    const gwA = await makeGateway('farm1', 'gw-a', log);
    let gwB: Gateway | null = null;
    const dev = await connectClient(mq.url, { clientId: 'herd1', protocolVersion: 5 });
    try {
      await waitFor(() => gwA.cluster!.owned().length === P, 'gw-a to own every partition');
      await publish(dev, gwA.topics, streams, 0, 1 / 3, 0);
      const phase0 = stepsUpTo(streams, 1 / 3);
      await waitFor(() => log.length === phase0, `phase 0 stepped (${phase0} detector steps)`);
      // gw-b joins while phase 1 is being published.
      const phase1 = publish(dev, gwA.topics, streams, 1 / 3, 2 / 3, 5);
      gwB = await makeGateway('farm1', 'gw-b', log);
      await phase1;
      await waitFor(() => gwA.cluster!.owned().length + gwB!.cluster!.owned().length === P && gwB!.cluster!.owned().length > 0, 'the partitions to be split');
      await waitFor(() => log.length === stepsUpTo(streams, 2 / 3), 'phase 1 stepped');
      expect(gwB.metrics.counters.handoffs_in_total).toBeGreaterThan(0);
      // gw-a leaves while phase 2 is being published.
      const phase2 = publish(dev, gwA.topics, streams, 2 / 3, 1, 5);
      await gwA.stop();
      await phase2;
      await waitFor(() => gwB!.cluster!.owned().length === P, 'gw-b to own every partition');
      const all = references(streams);
      const total = all.reduce((a, r) => a + r.steps.length, 0);
      await waitFor(() => log.length >= total, `every stream stepped (${total} detector steps)`);
      for (const g of [gwA, gwB]) {
        expect(g.metrics.counters.resets_total).toBe(0);
        expect(g.metrics.counters.missing_total).toBe(0);
        expect(g.metrics.counters.dropped_frames_total).toBe(0);
        expect(g.metrics.counters.state_errors_total).toBe(0);
      }
      expectSameAsReference(log, all);
    } finally {
      dev.end(true);
      await gwA.stop();
      await gwB?.stop();
    }
  }));

  it('a gateway crashes (SIGKILL) mid-frame: its streams resume from the retained checkpoints frame for frame', { timeout: 120_000 }, () => withLogs(async () => {
    const site = 'farm2';
    const work = tmpDir();
    for (const [sensor, b] of bytes) fs.writeFileSync(path.join(work, `${sensor}.ern`), b);
    fs.writeFileSync(path.join(work, 'gateway.json'), JSON.stringify(config(site, 'gw-c', 100)));
    const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(import.meta.dirname, 'child-gateway.ts'), '--config', 'gateway.json', '--log-level', 'debug'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    const log: RecordedStep[] = [];
    const streams = streamsOf('goat', 2000);
    const dev = await connectClient(mq.url, { clientId: 'goats2', protocolVersion: 5 });
    const watcher = await connectClient(mq.url, { clientId: 'checkpoint-watcher2', protocolVersion: 5 });
    const checkpointSeq = new Map<string, number>();
    watcher.on('message', (_t, p) => {
      const st = peekStreamState(new Uint8Array(p));
      if (st) checkpointSeq.set(`${st.device}/${st.sensor}`, st.lastSeq);
    });
    let gwD: Gateway | null = null;
    try {
      await waitFor(() => stdout.includes('connected to'), 'the child gateway to start', 60_000);
      gwD = await makeGateway(site, 'gw-d', log);
      await subscribeAsync(watcher, `${gwD.topics.cluster}/state/#`);
      const mine = new Set(Array.from({ length: P }, (_, k) => `p${k}`).filter((p) => partitionOwner(p, ['gw-c', 'gw-d']) === 'gw-d'));
      await waitFor(() => gwD!.cluster!.owned().sort().join() === [...mine].sort().join(), 'the partitions to be split');
      const theirs = streams.filter((s) => !mine.has(s.partition));
      expect(theirs.length).toBeGreaterThan(0);
      expect(theirs.length).toBeLessThan(streams.length);
      await publish(dev, gwD.topics, streams, 0, 1 / 2, 0);
      // Checkpoints every 100 ms: wait for the ones after the first half.
      await waitFor(() => theirs.every((s) => checkpointSeq.get(s.name) === slice(s, 0, 1 / 2).length - 1), 'checkpoints of the crashing gateway after the first half');
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
      await waitFor(() => gwD!.cluster!.owned().length === P, 'gw-d to take over every partition');
      await publish(dev, gwD.topics, streams, 1 / 2, 1, 0);
      await waitFor(() => streams.every((s) => gwD!.streams.get(s.name)?.lastSeq === s.msgs.length - 1 && gwD!.streams.get(s.name)!.queued === 0), 'the second half stepped');
      expect(gwD.metrics.counters.resets_total).toBe(0);
      expect(gwD.metrics.counters.missing_total).toBe(0);
      expect(gwD.metrics.counters.state_errors_total).toBe(0);
      // The crashed gateway's streams continue in gw-d from the checkpoint: their first step there
      // is the uninterrupted stream's next one. The first half ends mid-frame: the audio front end
      // held a partial frame (more than its 4 counters in the state body) when checkpointed.
      for (const s of theirs.filter((x) => x.sensor === 'mic')) {
        const fe = createFrontend(s.model.spec.input.frontend);
        fe.push(concat(slice(s, 0, 1 / 2)), () => {});
        expect(fe.exportState().length).toBeGreaterThan(FRONTEND_STATE_HEADER_BYTES + 8 * 4);
      }
      const start: Record<string, number> = {};
      for (const s of theirs) start[s.name] = referenceSteps(s.model, concat(slice(s, 0, 1 / 2)), s.name).steps.length;
      expectSameAsReference(log, references(streams), start);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      dev.end(true);
      watcher.end(true);
      await gwD?.stop();
    }
  }));
});
