/**
 * A stateDir the disk will not write (read-only, full, no permission): the gateway refused to
 * start. Now it starts with the outbox and stream states in memory, alerts still raised and
 * published, an error naming the stateDir and the OS error code, and outbox_persistent 0.
 * A stateDir that cannot be a folder (a file in the way) is a configuration mistake: refused.
 *
 * The disk is refused for real: a folder of mode 0555. Root writes there all the same, so as root
 * (CI) the gateway is created with the effective uid of nobody (65534), as a service user would
 * run it; the kernel then refuses its writes with EACCES.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createRuntime, isEdgeRnnError, type Model } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { FileOutbox, MemoryOutbox } from '../../src/gateway/outbox.js';
import { IMU_CHANNELS, IMU_DETECTOR, type OracleAlert, connectClient, imuGatewayConfig, imuModelBytes, imuSignal, oracleAlerts, publishAsync, subscribeAsync, tmpDir, waitFor, imuModelBrokerAndGateways } from './fixtures.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
/** Sets the effective uid (POSIX only; only called as root). */
const seteuid = (uid: number) => process.seteuid!(uid);

/** Gateway.create, as nobody when this process is root (root's writes are never refused). */
async function createUnprivileged(opts: GatewayOptions): Promise<Gateway> {
  if (!asRoot) return Gateway.create(opts);
  seteuid(NOBODY);
  try {
    return await Gateway.create(opts);
  } finally {
    seteuid(0);
  }
}

/** An alert of device 'old' as a previous run left it in its outbox (the oracle's id, frame and score). */
function previousAlert(o: OracleAlert, tsMs: number): Alert {
  const ts = new Date(tsMs).toISOString();
  return { id: o.id, site: 's', device: 'old', sensor: 'imu', gateway: 'gw', model: { name: 'imu-impact', version: '1.0.0', sha256: '00' }, detector: 'threshold', label: 'impact', score: o.score, ts, tsMs, frameIndex: o.frameIndex, evidence: { fromMs: tsMs, toMs: tsMs, inputs: [], scores: [] } };
}

/** Every file under dir with its bytes (what a run must leave untouched). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    out[name] = fs.statSync(p).isDirectory() ? '<dir>' : fs.readFileSync(p, 'base64');
  }
  return out;
}

describe('a stateDir the disk refuses to write', () => {
  const T0 = 1_700_000_000_000;
  const rig = imuModelBrokerAndGateways();
  const { gateways, clients } = rig;

  it('the gateway starts with the outbox in memory: an error naming stateDir and EACCES, outbox_persistent 0, alerts delivered, nothing written', async () => {
    // A stateDir from a previous run, with two alerts the broker never acknowledged, then made read-only.
    const parent = tmpDir('edgernn-ro-');
    fs.chmodSync(parent, 0o755);
    const stateDir = path.join(parent, 'state');
    const previous = FileOutbox.open(path.join(stateDir, 'outbox'));
    const old = oracleAlerts(rig.model, imuSignal(100, 3, [[20, 30], [60, 70]]), IMU_DETECTOR, { site: 's', device: 'old', sensor: 'imu', streamStartMs: T0 - 1e6 });
    expect(old.length).toBe(2);
    const oldAlerts = old.map((o, i) => previousAlert(o, T0 + i));
    previous.add(oldAlerts);
    await previous.close();
    for (const d of [path.join(stateDir, 'outbox'), stateDir]) fs.chmodSync(d, 0o555);
    // Writable again afterwards, so that the temp folders can be removed (as a user other than root).
    onTestFinished(() => {
      for (const d of [stateDir, path.join(stateDir, 'outbox')]) fs.chmodSync(d, 0o755);
    });
    const before = snapshot(stateDir);

    const consumer = await connectClient(rig.broker.url, { clientId: 'consumer' });
    clients.push(consumer);
    const received: string[] = [];
    consumer.on('message', (_t, p) => received.push((JSON.parse(p.toString()) as Alert).id));
    await subscribeAsync(consumer, 'edgernn/s/+/alerts');

    const clock = new ManualClock(T0);
    const logger = memoryLogger('debug');
    const config = imuGatewayConfig(rig.broker.url, { site: 's', stateDir, broker: { protocolVersion: 4 } });
    const gw = await createUnprivileged({ config, models: { imu: rig.model }, clock, logger });
    gateways.push(gw);

    const refused = logger.lines.find((l) => l.msg.startsWith('stateDir refuses writes'));
    expect(refused).toMatchObject({ level: 'error', stateDir, code: 'EACCES' });
    expect(refused!.msg).toContain('not retried');
    expect(gw.outbox).toBeInstanceOf(MemoryOutbox);
    expect(gw.metrics.gauges.outbox_persistent).toBe(0);
    expect(gw.metrics.prometheus({})).toContain('edgernn_gateway_outbox_persistent{} 0');

    // The previous run's alerts could still be read: sent from memory. New alerts flow as usual.
    const x = imuSignal(100, 5, [[40, 50]]);
    const fresh = oracleAlerts(rig.model, x, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: T0 }).map((a) => a.id);
    expect(fresh.length).toBe(1);
    const raised: string[] = [];
    gw.on('alert', (a) => raised.push(a.id));
    const dev = await connectClient(rig.broker.url, { clientId: 'devices' });
    clients.push(dev);
    await publishAsync(dev, gw.topics.sensor('d1', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    await waitFor(() => gw.metrics.counters.messages_total === 1, 'the message at the gateway');
    // Stepping and publishing run on the gateway's (manual) clock.
    await waitFor(() => (clock.advance(5), gw.outboxDepth === 0 && received.length >= 3), 'every alert delivered and acknowledged');
    expect(raised).toEqual(fresh);
    expect([...received].sort()).toEqual([...oldAlerts.map((a) => a.id), ...fresh].sort());

    await gw.stop();
    gateways.splice(0);
    // Nothing was written: no lock, no outbox record, no state file.
    expect(snapshot(stateDir)).toEqual(before);
  });
  it('the outbox refused at open though stateDir takes writes (the check passed): the same, in memory', async () => {
    const parent = tmpDir('edgernn-ro-');
    fs.chmodSync(parent, 0o755);
    const stateDir = path.join(parent, 'state');
    const outboxDir = path.join(stateDir, 'outbox');
    const previous = FileOutbox.open(outboxDir);
    const o = oracleAlerts(rig.model, imuSignal(100, 3, [[20, 30]]), IMU_DETECTOR, { site: 's', device: 'old', sensor: 'imu', streamStartMs: T0 - 1e6 })[0]!;
    previous.add([previousAlert(o, T0)]);
    await previous.close();
    fs.chmodSync(stateDir, 0o777); // the lock and the check's file can be written
    fs.chmodSync(outboxDir, 0o555); // the compaction at open cannot
    onTestFinished(() => fs.chmodSync(outboxDir, 0o755));
    const log = fs.readFileSync(path.join(outboxDir, 'outbox.wal'));

    const clock = new ManualClock(T0);
    const logger = memoryLogger('debug');
    const config = imuGatewayConfig(rig.broker.url, { site: 's', stateDir, broker: { protocolVersion: 4 } });
    const gw = await createUnprivileged({ config, models: { imu: rig.model }, clock, logger });
    gateways.push(gw);
    expect(logger.lines.find((l) => l.msg.startsWith('stateDir refuses writes'))).toMatchObject({ level: 'error', stateDir, code: 'EACCES' });
    expect(gw.outbox).toBeInstanceOf(MemoryOutbox);
    expect(gw.metrics.gauges.outbox_persistent).toBe(0);
    expect([...gw.outbox.pending()].map((a) => a.id)).toEqual([o.id]);
    await waitFor(() => (clock.advance(5), gw.outboxDepth === 0), 'the previous alert delivered from memory');
    await gw.stop();
    gateways.splice(0);
    expect(fs.readFileSync(path.join(outboxDir, 'outbox.wal'))).toEqual(log);
  });
});

describe('alerts of a previous run over the bounds, with the disk refusing writes (2026-11-27 review)', () => {
  const T0 = 1_700_000_000_000;
  const rig = imuModelBrokerAndGateways();
  const { gateways } = rig;

  it('the oldest are dropped as the outbox.maxAlerts says, and counted in outbox_dropped_total (they were not counted)', async () => {
    const parent = tmpDir('edgernn-ro-');
    fs.chmodSync(parent, 0o755);
    const stateDir = path.join(parent, 'state');
    const outboxDir = path.join(stateDir, 'outbox');
    const previous = FileOutbox.open(outboxDir);
    const old = oracleAlerts(rig.model, imuSignal(200, 3, [[20, 30], [80, 90], [150, 160]]), IMU_DETECTOR, { site: 's', device: 'old', sensor: 'imu', streamStartMs: T0 - 1e6 });
    expect(old.length).toBe(3);
    previous.add(old.map((o, i) => previousAlert(o, T0 + i)));
    await previous.close();
    fs.chmodSync(stateDir, 0o777);
    fs.chmodSync(outboxDir, 0o555); // the outbox cannot be opened for writing: held in memory
    onTestFinished(() => fs.chmodSync(outboxDir, 0o755));

    const logger = memoryLogger('debug');
    const config = imuGatewayConfig(rig.broker.url, { site: 's', stateDir, broker: { protocolVersion: 4 }, outbox: { maxAlerts: 1 } });
    const gw = await createUnprivileged({ config, models: { imu: rig.model }, clock: new ManualClock(T0), logger });
    gateways.push(gw);
    expect(gw.outbox).toBeInstanceOf(MemoryOutbox);
    expect([...gw.outbox.pending()].map((a) => a.id)).toEqual([old[2]!.id]);
    expect(gw.metrics.counters.outbox_dropped_total).toBe(2);
    expect(logger.lines.find((l) => l.msg === 'outbox: alerts from a previous run will be re-sent from memory')).toMatchObject({ replayed: 3, dropped: 2 });
  });
});

describe('a stateDir that cannot be a folder is a configuration mistake', () => {
  let model: Model;
  beforeAll(async () => {
    model = await (await createRuntime()).load(imuModelBytes());
  });
  afterAll(() => model?.dispose());

  async function startError(stateDir: string): Promise<unknown> {
    const config = imuGatewayConfig('mqtt://127.0.0.1:1', { stateDir });
    try {
      const gw = await Gateway.create({ config, models: { imu: model }, logger: memoryLogger('silent') });
      await gw.stop();
    } catch (e) {
      return e;
    }
    return null;
  }

  it('a file in its place, or on its path: refused with GATEWAY_CONFIG naming the file (also as root)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'state');
    fs.writeFileSync(file, 'x');
    const e1 = await startError(file);
    expect(isEdgeRnnError(e1, 'GATEWAY_CONFIG')).toBe(true);
    expect((e1 as Error).message).toBe(`stateDir must be a directory, got ${file}: not a directory (EEXIST)`);
    const e2 = await startError(path.join(file, 'sub'));
    expect(isEdgeRnnError(e2, 'GATEWAY_CONFIG')).toBe(true);
    expect((e2 as Error).message).toBe(`stateDir must be a directory, got ${path.join(file, 'sub')}: ${file} on its path is not a directory (ENOTDIR)`);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });
});
