/**
 * Shared test fixtures for the gateway: a small IMU event-detector model built in code, device
 * signals, an offline oracle (a plain Session + the same detector), brokers (embedded aedes,
 * mosquitto started on a free port), and waits on events with generous timeouts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createRuntime, encodeModel, quantizeModel, defaultActivations, Rng, type ModelSpec, type Model } from '../../src/index.js';
import { alertId } from '../../src/gateway/alert.js';
import { createThresholdDetector } from '../../src/gateway/detectors.js';
import { parseGatewayConfig, type GatewayConfigInput, type ThresholdDetectorConfig } from '../../src/gateway/config.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { partitionOwner } from '../../src/gateway/cluster.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/gateway/broker.js';
import { devicePartition } from '../../src/gateway/topics.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';

export const IMU_CHANNELS = 6;

/**
 * GRU 6->H + dense H->1 sigmoid: an "impact" detector. The update gate is closed (bias -6),
 * so h follows tanh(W_h x + r * (R_h h)); hidden unit 0 sees 2 * x0; the output is
 * sigmoid(6 h0 - 3): ~0.95 while x0 ~ 3 (an impact), <= ~0.65 for x0 ~ N(0, 0.3).
 * The other weights are small and random so the state matters (hand-offs must carry it).
 */
export function imuModelSpec(hidden = 32, seed = 7): ModelSpec {
  const I = IMU_CHANNELS;
  const H = hidden;
  const rng = new Rng(seed);
  const W = new Float32Array(3 * H * I).map(() => rng.uniform(-0.1, 0.1));
  const R = new Float32Array(3 * H * H).map(() => rng.uniform(-0.1, 0.1));
  const B = new Float32Array(6 * H);
  for (let j = 0; j < H; j++) B[j] = -6; // Wb_z: update gate closed
  W[(2 * H + 0) * I + 0] = 2; // candidate of unit 0 <- 2 * x0
  const DW = new Float32Array(H).map(() => rng.uniform(-0.02, 0.02));
  DW[0] = 6;
  const spec: ModelSpec = {
    name: 'imu-impact',
    version: '1.0.0',
    task: 'anomaly',
    labels: ['impact'],
    input: { size: I, names: ['ax', 'ay', 'az', 'gx', 'gy', 'gz'], rateHz: 50, frontend: { kind: 'none' } },
    precision: 'float32',
    layers: [
      { kind: 'gru', inputSize: I, hiddenSize: H, direction: 'forward', activations: defaultActivations('gru', 1), linearBeforeReset: false, float: { W, R, B } },
      { kind: 'dense', inputSize: H, outputSize: 1, activation: 'sigmoid', float: { W: DW, B: new Float32Array([-3]) } },
    ],
    training: { dataset: 'synthetic (test fixture)' },
  };
  return spec;
}

/** The int8 .ern bytes of imuModelSpec. */
export function imuModelBytes(hidden = 32, seed = 7): Uint8Array {
  return encodeModel(quantizeModel(imuModelSpec(hidden, seed), { inputAbsMax: new Array(IMU_CHANNELS).fill(4) }));
}

export const IMU_DETECTOR: ThresholdDetectorConfig = { kind: 'threshold', output: 'impact', score: 'output', on: 0.9, off: 0.7, minSteps: 2, refractorySteps: 0 };

/** IMU samples [n][6]: noise N(0, 0.3), with impacts (x0 = 3) during the given sample ranges. */
export function imuSignal(n: number, seed: number, impacts: Array<[number, number]> = []): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * IMU_CHANNELS);
  for (let i = 0; i < n * IMU_CHANNELS; i++) x[i] = 0.3 * rng.normal();
  for (const [a, b] of impacts) for (let i = a; i < Math.min(b, n); i++) x[i * IMU_CHANNELS] = 3 + 0.1 * rng.normal();
  return x;
}

export interface OracleAlert {
  id: string;
  frameIndex: number;
  score: number;
}

/**
 * What the gateway must raise for one device stream fed these samples in order from a fresh
 * state: a plain Session stepping every frame and the same detector, ids computed the same way.
 */
export function oracleAlerts(model: Model, samples: Float32Array, det: ThresholdDetectorConfig, ids: { site: string; device: string; sensor: string; streamStartMs: number; epoch?: number }): OracleAlert[] {
  const s = model.session();
  const d = createThresholdDetector(det, { labels: model.labels, outputSize: model.outputSize, inputSize: model.inputSize, path: 'oracle' });
  const I = model.inputSize;
  const out: OracleAlert[] = [];
  for (let t = 0; t < samples.length / I; t++) {
    const frame = samples.subarray(t * I, (t + 1) * I);
    const y = s.step(frame);
    const ev = d.step(y, frame);
    if (ev) {
      out.push({
        id: alertId({ site: ids.site, device: ids.device, sensor: ids.sensor, model: model.name, version: model.version, streamStartMs: ids.streamStartMs, epoch: ids.epoch ?? 0, frameIndex: t + 1 }),
        frameIndex: t + 1,
        score: ev.score,
      });
    }
  }
  s.dispose();
  return out;
}

/** Polls until pred() is true; throws with `what` after timeoutMs (generous: a wait, not a timing assertion). */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 30_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Temp folders the test file made: removed after its last test (tests need not, and many did not). */
const madeDirs: string[] = [];
try {
  afterAll(() => {
    for (const d of madeDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
} catch {
  // Imported outside a test run (test/bench/gateway.ts): the script removes what it made.
}

export function tmpDir(prefix = 'edgernn-gw-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export async function connectClient(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 100, connectTimeout: 10_000, ...opts });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

export function publishAsync(c: MqttClient, topic: string, payload: Uint8Array | string, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) => c.publish(topic, typeof payload === 'string' ? payload : Buffer.from(payload), { qos }, (e) => (e ? reject(e) : resolve())));
}

export function subscribeAsync(c: MqttClient, filter: string | string[], qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) => c.subscribe(filter, { qos }, (e) => (e ? reject(e) : resolve())));
}

// ---- mosquitto --------------------------------------------------------------------------------

export const MOSQUITTO = '/usr/sbin/mosquitto';

export function mosquittoAvailable(): string | null {
  return fs.existsSync(MOSQUITTO) ? null : `mosquitto not found at ${MOSQUITTO} (apt-get install mosquitto)`;
}

export interface Mosquitto {
  port: number;
  url: string;
  dir: string;
  proc: ChildProcess;
  log: string[];
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** Starts again on the same port with the same config. */
  restart(extraConfig?: string): Promise<void>;
  /** Rewrites the config (same port) and reloads it with SIGHUP. */
  reload(extraConfig: string): Promise<void>;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on port. */
export async function waitListening(port: number, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts mosquitto on a free port with a temp config; resolves once it accepts connections. */
export async function startMosquitto(extraConfig = 'allow_anonymous true'): Promise<Mosquitto> {
  const port = await freePort();
  const dir = tmpDir('edgernn-mosq-');
  // Started as root, mosquitto drops to user "mosquitto": a reload (SIGHUP) must still read the config.
  fs.chmodSync(dir, 0o755);
  const conf = path.join(dir, 'mosquitto.conf');
  const log: string[] = [];
  const writeConf = (extra: string) => {
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\n${extra}\n`);
    fs.chmodSync(conf, 0o644);
  };
  const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;
  const launch = async (): Promise<ChildProcess> => {
    const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
    proc.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    await Promise.race([
      waitListening(port, 'mosquitto'),
      new Promise((_, reject) => proc.once('exit', () => reject(new Error(`mosquitto exited: ${log.join('')}`)))),
    ]);
    return proc;
  };
  const waitExit = (p: ChildProcess, sig: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (exited(p)) return resolve();
      p.once('exit', () => resolve());
      p.kill(sig);
    });
  writeConf(extraConfig);
  const m: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    proc: await launch(),
    log,
    kill: () => waitExit(m.proc, 'SIGKILL'),
    async restart(extra?: string) {
      if (extra !== undefined) writeConf(extra);
      m.proc = await launch();
    },
    async reload(extra: string) {
      writeConf(extra);
      const before = log.join('').length;
      m.proc.kill('SIGHUP');
      // mosquitto logs "Reloading config." on SIGHUP (log_dest stderr by default).
      await waitFor(() => log.join('').slice(before).includes('eloading'), 'mosquitto to reload its config', 10_000).catch(() => {});
    },
    stop: () => waitExit(m.proc, 'SIGTERM'),
  };
  return m;
}

/** A one-route gateway on the embedded broker with a device client and an alert consumer. */
export interface JobGateway {
  gw: Gateway;
  /** The device's client (publishes samples). */
  dev: MqttClient;
  /** Every alert the consumer received, in arrival order. */
  received: Alert[];
  stop(): Promise<void>;
}

/**
 * Starts `model` behind one route (site 'home', gateway 'gw1', a ManualClock at `t0`) with the
 * given detectors and front ends, and connects a device client and an alert consumer.
 */
export async function startJobGateway(o: {
  model: Model;
  route: Record<string, unknown>;
  /** Extra detector kinds and front ends (the job detectors and feature front ends are built in). */
  detectors?: NonNullable<GatewayOptions['detectors']>;
  frontends?: NonNullable<GatewayOptions['frontends']>;
  deviceId: string;
  t0: number;
}): Promise<JobGateway> {
  const name = o.model.spec.name;
  const config = parseGatewayConfig({
    site: 'home',
    gatewayId: 'gw1',
    broker: { url: 'embedded' },
    models: { [name]: `${name}.ern` },
    routes: [{ ...o.route, model: name }],
    stateDir: tmpDir(),
    metrics: { intervalMs: 0, httpPort: 0 },
  });
  const gw = await Gateway.create({ config, models: { [name]: o.model }, clock: new ManualClock(o.t0), logger: memoryLogger('warn'), ...(o.detectors ? { detectors: o.detectors } : {}), ...(o.frontends ? { frontends: o.frontends } : {}) });
  const received: Alert[] = [];
  const consumer = await connectClient(gw.broker!.url, { clientId: 'consumer' });
  consumer.on('message', (_t, p) => received.push(JSON.parse(p.toString()) as Alert));
  await subscribeAsync(consumer, gw.topics.alertsFilter());
  const dev = await connectClient(gw.broker!.url, { clientId: o.deviceId });
  return {
    gw,
    dev,
    received,
    async stop() {
      dev.end(true);
      consumer.end(true);
      await gw.stop();
    },
  };
}

/**
 * Waits for `expected.length` alerts and checks them against an offline oracle: same labels at
 * the same frames, same scores, raised by `detector` for model `model`; nothing undecodable or
 * dropped on the way.
 */
export async function expectAlertsLikeOracle(job: JobGateway, expected: readonly { label: string; score: number; frameIndex: number }[], detector: string, model: string): Promise<void> {
  const { expect } = await import('vitest');
  await waitFor(() => job.received.length >= expected.length, `${expected.length} alerts at the consumer`);
  const got = [...job.received].sort((a, b) => a.frameIndex - b.frameIndex);
  expect(got.map((a) => [a.label, a.frameIndex])).toEqual(expected.map((e) => [e.label, e.frameIndex]));
  got.forEach((a, i) => expect(a.score).toBeCloseTo(expected[i]!.score, 6));
  expect(got.every((a) => a.detector === detector && a.model.name === model)).toBe(true);
  expect(job.gw.metrics.counters.decode_errors_total).toBe(0);
  expect(job.gw.metrics.counters.dropped_samples_total).toBe(0);
}

/** The state a plain session of `model` holds after stepping every IMU frame of `x` (an oracle). */
export function imuSessionState(model: Model, x: Float32Array): Uint8Array {
  const s = model.session();
  for (let t = 0; t < x.length / IMU_CHANNELS; t++) s.step(x.subarray(t * IMU_CHANNELS, (t + 1) * IMU_CHANNELS));
  const b = s.exportState();
  s.dispose();
  return b;
}

/**
 * The config of a gateway serving the IMU test model (route `imu`, JSON, IMU_DETECTOR) from the
 * broker at `url` (reconnecting every 100 ms, metrics off), with `o` over it.
 */
export function imuGatewayConfig(url: string, o: GatewayConfigInput) {
  return parseGatewayConfig({
    models: { imu: 'imu.ern' },
    routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }],
    metrics: { intervalMs: 0 },
    ...o,
    broker: { url, reconnectMs: 100, ...o.broker },
  });
}

/**
 * A describe block's mosquitto and IMU test model: started before its tests and handed to `use`,
 * stopped and disposed after them (the broker's folder goes with the file's temp folders).
 */
export function mosquittoAndImuModel(use: (mq: Mosquitto, model: Model) => void): void {
  let mq: Mosquitto | undefined;
  let model: Model | undefined;
  beforeAll(async () => {
    mq = await startMosquitto();
    model = await (await createRuntime()).load(imuModelBytes());
    use(mq, model);
  });
  afterAll(async () => {
    await mq?.stop();
    model?.dispose();
  });
}

/**
 * The IMU test model (loaded before the file's tests) and a list of gateways stopped after each
 * test: push every gateway a test creates.
 */
export function imuModelAndGateways(): {
  readonly model: Model;
  readonly gateways: Gateway[];
  /** A gateway on the IMU model, site 'home', driven by a trace transport and a manual clock (state in memory; stopped after the test). */
  onTrace(o?: GatewayConfigInput): Promise<{ gw: Gateway; tr: TraceTransport; clock: ManualClock }>;
} {
  const r = {
    model: undefined as unknown as Model,
    gateways: [] as Gateway[],
    async onTrace(o: GatewayConfigInput = {}) {
      const clock = new ManualClock(1_700_000_000_000);
      const tr = new TraceTransport();
      const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '', ...o });
      const gw = await Gateway.create({ config, models: { imu: r.model }, clock, transport: tr, logger: memoryLogger('error'), stateStore: memoryStateStore() });
      r.gateways.push(gw);
      return { gw, tr, clock };
    },
  };
  beforeAll(async () => {
    r.model = await (await createRuntime()).load(imuModelBytes());
  });
  afterEach(async () => {
    for (const g of r.gateways.splice(0)) await g.stop();
  });
  return r;
}

/**
 * A cluster test against a scripted peer (mosquitto and the IMU model started for the file): the config of the gateway under test ("gw-b", next to
 * the scripted "gw-a") on `partitions` partitions, one IMU route, reordering held for a minute.
 */
export function scriptedPeerCluster(o: { site: string; group: string; codec: 'json' | 'binary'; partitions: number }) {
  const rig = {
    /** mosquitto and the IMU model, started before the file's tests (mosquittoAndImuModel). */
    mq: undefined as unknown as Mosquitto,
    model: undefined as unknown as Model,
    base: {
      site: o.site,
      models: { imu: 'imu.ern' },
      routes: [{ sensor: 'imu', model: 'imu', codec: o.codec, detector: IMU_DETECTOR }],
      limits: { reorderWindow: 4, reorderTimeoutMs: 60_000 },
      stateDir: '',
      metrics: { intervalMs: 0 },
    },
    cluster: { group: o.group, partitions: o.partitions, handoffTimeoutMs: 60_000, checkpointIntervalMs: 0 },
    /** The first device `${prefix}-i` whose partition gw-b owns (next to gw-a), and that partition. */
    deviceOfGwB(prefix: string): { device: string; partition: ReturnType<typeof devicePartition> } {
      const device = Array.from({ length: 64 }, (_, i) => `${prefix}-${i}`).find((d) => partitionOwner(devicePartition(d, o.partitions), ['gw-a', 'gw-b']) === 'gw-b')!;
      return { device, partition: devicePartition(device, o.partitions) };
    },
  };
  mosquittoAndImuModel((mq, model) => ((rig.mq = mq), (rig.model = model)));
  return rig;
}

/**
 * The IMU test model and an embedded broker (aedes) for the file's tests; the MQTT clients and
 * gateways a test pushes are closed and stopped after it.
 */
export function imuModelBrokerAndGateways(): { readonly model: Model; readonly broker: EmbeddedBroker; readonly gateways: Gateway[]; readonly clients: MqttClient[] } {
  const r = { model: undefined as unknown as Model, broker: undefined as unknown as EmbeddedBroker, gateways: [] as Gateway[], clients: [] as MqttClient[] };
  beforeAll(async () => {
    r.model = await (await createRuntime()).load(imuModelBytes());
    r.broker = await startEmbeddedBroker();
  });
  afterEach(async () => {
    for (const c of r.clients.splice(0)) c.end(true);
    for (const g of r.gateways.splice(0)) await g.stop();
  });
  afterAll(async () => {
    await r.broker?.close();
    r.model?.dispose();
  });
  return r;
}
