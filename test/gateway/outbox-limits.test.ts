/**
 * The outbox's bounds (outbox.maxAlerts, outbox.maxBytes): while the broker is away alerts pile
 * up, and without a bound they filled the disk (or, held in memory, the memory). Beyond either
 * bound the oldest unacknowledged alerts are dropped, never the newest; drops are counted, logged
 * once per episode, recorded in the log (so they stay dropped after a restart, and are never
 * published), and compacted away like acks. Real files; the gateway on the embedded aedes broker.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig, type GatewayConfigInput } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { FileOutbox, MemoryOutbox, type Outbox } from '../../src/gateway/outbox.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, imuGatewayConfig, imuSignal, oracleAlerts, publishAsync, subscribeAsync, tmpDir, waitFor, imuModelBrokerAndGateways } from './fixtures.js';

/** An alert whose evidence pads it to about `pad` more bytes. */
function alert(i: number, pad = 0): Alert {
  return {
    id: `id-${i}`,
    site: 's',
    device: 'd',
    sensor: 'imu',
    gateway: 'gw',
    model: { name: 'm', version: '1.0.0', sha256: '00' },
    detector: 'threshold',
    label: 'impact',
    score: 0.5,
    ts: new Date(1e12 + i).toISOString(),
    tsMs: 1e12 + i,
    frameIndex: i,
    evidence: { fromMs: 0, toMs: 1, inputs: [[i]], scores: [0.1], ...(pad > 0 ? { note: 'x'.repeat(pad) } : {}) } as Alert['evidence'],
  };
}

const ids = (ob: Outbox) => [...ob.pending()].map((a) => a.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => `id-${from + k}`);
const FULL = 'outbox full: dropping the oldest unacknowledged alerts';
const RECORDS = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);

/** A copy of the log as it is on disk now (what a crash leaves), opened with roomy bounds. */
function reopenCopy(ob: FileOutbox): FileOutbox {
  const copy = tmpDir();
  fs.copyFileSync(ob.file, path.join(copy, 'outbox.wal'));
  return FileOutbox.open(copy, { maxAlerts: 1_000_000 });
}

describe('FileOutbox bounds', () => {
  it('maxAlerts: the oldest are dropped, never the newest; counted, warned once, and they stay dropped after a restart', async () => {
    const dir = tmpDir();
    const logger = memoryLogger();
    const dropped: string[] = [];
    const ob = FileOutbox.open(dir, { maxAlerts: 3, logger, onDrop: (as) => dropped.push(...as.map((a) => a.id)) });
    for (let i = 1; i <= 8; i++) ob.add([alert(i)]);
    expect(ids(ob)).toEqual(range(6, 8));
    expect(dropped).toEqual(range(1, 5));
    expect(ob.dropped).toBe(5);
    // The drop records are on disk with the adds that made room: a crash now keeps them dropped.
    expect(ids(reopenCopy(ob))).toEqual(range(6, 8));

    // A batch (group commit) larger than the bound: pending ones go first, then its own older
    // alerts (never written), never its newest.
    await ob.commit([alert(9), alert(10), alert(11), alert(12)]);
    expect(ids(ob)).toEqual(range(10, 12));
    expect(dropped).toEqual(range(1, 9));
    expect(fs.readFileSync(ob.file, 'utf8')).not.toContain('"id":"id-9","site"');
    expect(ids(reopenCopy(ob))).toEqual(range(10, 12));

    // One warning for the whole episode, naming the bound.
    const warns = logger.lines.filter((l) => l.msg === FULL);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 'warn', limit: 'outbox.maxAlerts', maxAlerts: 3, dropped: 1, droppedTotal: 1 });

    // Acks after drops: a dropped id is unknown (ignored), a kept one goes.
    ob.ack('id-2');
    ob.ack('id-11');
    await ob.close();
    // Restarted with a far larger bound: what was dropped does not come back.
    const again = FileOutbox.open(dir, { maxAlerts: 100_000 });
    expect(ids(again)).toEqual(['id-10', 'id-12']);
    expect(again.report).toEqual({ replayed: 2, truncatedBytes: 0, corrupt: 0 });
    await again.close();
  });

  it('maxBytes counts the log records: the oldest go first; the newest alert is kept even when it alone is larger', async () => {
    const dir = tmpDir();
    const logger = memoryLogger();
    const small = Buffer.byteLength(fs.readFileSync(path.join(writeOne(alert(1, 1000)), 'outbox.wal')));
    // Room for three such records, not four.
    const ob = FileOutbox.open(dir, { maxBytes: 3 * small + small / 2, logger });
    for (let i = 1; i <= 6; i++) await ob.commit([alert(i, 1000)]);
    expect(ids(ob)).toEqual(range(4, 6));
    expect(logger.lines.find((l) => l.msg === FULL)).toMatchObject({ limit: 'outbox.maxBytes', maxBytes: 3 * small + small / 2 });
    await ob.commit([alert(7, 10 * small)]);
    expect(ids(ob)).toEqual(['id-7']);
    expect(ob.dropped).toBe(6);
    await ob.close();
    expect(ids(FileOutbox.open(dir, { maxBytes: 1e12 }))).toEqual(['id-7']);
  });

  it('drops count toward compaction like acks: the log stays near its bound while alerts keep coming', async () => {
    const dir = tmpDir();
    const ob = FileOutbox.open(dir, { maxAlerts: 5, compactAfter: 10 });
    let most = 0;
    for (let i = 1; i <= 200; i++) {
      await ob.commit([alert(i)]);
      await ob.flush();
      most = Math.max(most, RECORDS(ob.file).length);
    }
    expect(ids(ob)).toEqual(range(196, 200));
    // At most the 5 pending adds plus what accumulates before a compaction (10 drop records and
    // their 10 adds); without compaction it would be 200 adds and 195 drop records.
    expect(most).toBeLessThanOrEqual(5 + 2 * 10 + 1);
    // Acks keep working after the compactions.
    ob.ack('id-198');
    await ob.close();
    expect(ids(FileOutbox.open(dir))).toEqual(['id-196', 'id-197', 'id-199', 'id-200']);
  });

  it('one warning per episode: the episode ends once acks bring the outbox to half its bounds, and the next drop warns again', async () => {
    const logger = memoryLogger();
    const ob = FileOutbox.open(tmpDir(), { maxAlerts: 4, logger });
    for (let i = 1; i <= 10; i++) ob.add([alert(i)]);
    expect(logger.lines.filter((l) => l.msg === FULL)).toHaveLength(1);
    ob.ack('id-7'); // 3 left: not yet half
    expect(logger.lines.filter((l) => l.msg === 'outbox: no longer full, dropping stopped')).toHaveLength(0);
    ob.ack('id-8'); // 2 left: half
    expect(logger.lines.find((l) => l.msg === 'outbox: no longer full, dropping stopped')).toMatchObject({ level: 'info', dropped: 6, droppedTotal: 6 });
    for (let i = 11; i <= 14; i++) ob.add([alert(i)]);
    const warns = logger.lines.filter((l) => l.msg === FULL);
    expect(warns).toHaveLength(2);
    expect(warns[1]).toMatchObject({ dropped: 1, droppedTotal: 7 });
    await ob.close();
  });

  it('bounds lowered since the log was written: the oldest are dropped at open, for good', async () => {
    const dir = writeOne(...range(1, 10).map((_, k) => alert(k + 1)));
    const logger = memoryLogger();
    const ob = FileOutbox.open(dir, { maxAlerts: 4, logger });
    expect(ob.report).toEqual({ replayed: 10, truncatedBytes: 0, corrupt: 0, dropped: 6 });
    expect(ids(ob)).toEqual(range(7, 10));
    expect(logger.lines.some((l) => l.msg === FULL)).toBe(true);
    await ob.close();
    expect(ids(FileOutbox.open(dir))).toEqual(range(7, 10));
  });
});

/** A fresh outbox folder holding these alerts. */
function writeOne(...alerts: Alert[]): string {
  const dir = tmpDir();
  const ob = FileOutbox.open(dir);
  ob.add(alerts);
  void ob.close();
  return dir;
}

describe('MemoryOutbox bounds', () => {
  it('are the same as the file outbox: the memory is bounded too (stateDir "", or a disk that refused writes)', () => {
    const dropped: string[] = [];
    const logger = memoryLogger();
    const ob = new MemoryOutbox({ maxAlerts: 3, logger, onDrop: (as) => dropped.push(...as.map((a) => a.id)) });
    for (let i = 1; i <= 5; i++) ob.add([alert(i)]);
    ob.add([alert(6), alert(7)]);
    expect(ids(ob)).toEqual(range(5, 7));
    expect(dropped).toEqual(range(1, 4));
    expect(ob.dropped).toBe(4);
    expect(logger.lines.filter((l) => l.msg === FULL)).toHaveLength(1);
    const one = Buffer.byteLength(JSON.stringify({ op: 'add', alert: alert(1, 600) })) + 10; // "<crc32> " and "\n"
    const byBytes = new MemoryOutbox({ maxBytes: 2 * one + one / 2 });
    for (let i = 1; i <= 4; i++) byBytes.add([alert(i, 600)]);
    expect(ids(byBytes)).toEqual(range(3, 4));
  });
});

describe('outbox.maxAlerts and outbox.maxBytes in the config', () => {
  const base = { models: { m: 'm.ern' }, routes: [{ sensor: 'imu', model: 'm' }] };
  it('default to 100,000 alerts and 64 MiB', () => {
    expect(parseGatewayConfig(base).outbox).toMatchObject({ maxAlerts: 100_000, maxBytes: 67_108_864 });
  });
  it('are checked like the other settings: the error names the field, the range and the value', () => {
    const cases: Array<[GatewayConfigInput['outbox'], string]> = [
      [{ maxAlerts: 0 }, 'gw.json: outbox.maxAlerts must be an integer in [1, 1000000000], got 0'],
      [{ maxAlerts: 2.5 }, 'gw.json: outbox.maxAlerts must be an integer in [1, 1000000000], got 2.5'],
      [{ maxBytes: 100 }, 'gw.json: outbox.maxBytes must be an integer in [1024, 1073741824], got 100'],
      [{ maxBytes: null as unknown as number }, 'gw.json: outbox.maxBytes must be an integer in [1024, 1073741824], got null'],
      // At most 1 GiB: the whole log is read at start (one readFileSync, which stops at 2 GiB) and
      // held in the heap (about 3 bytes per byte of log): 1e12 was accepted, then a crash loop.
      [{ maxBytes: 2 ** 31 }, 'gw.json: outbox.maxBytes must be an integer in [1024, 1073741824], got 2147483648'],
    ];
    for (const [outbox, message] of cases) {
      let err: unknown;
      try {
        parseGatewayConfig({ ...base, outbox }, 'gw.json');
      } catch (e) {
        err = e;
      }
      expect(isEdgeRnnError(err, 'GATEWAY_CONFIG')).toBe(true);
      expect((err as Error).message).toBe(message);
    }
  });
});

describe('a gateway whose broker turns it away: the outbox stays within outbox.maxAlerts (embedded aedes)', () => {
  const T0 = 1_700_000_000_000;
  const rig = imuModelBrokerAndGateways();
  const { gateways, clients } = rig;

  it('drops the oldest alerts raised offline, counts them, and only the kept ones are ever published, across restarts', async () => {
    const stateDir = tmpDir();
    const config = (maxAlerts: number) => imuGatewayConfig(rig.broker.url, { site: 's', stateDir, outbox: { maxAlerts }, broker: { protocolVersion: 4 } });
    const aedes = rig.broker.aedes;
    const brokerClients = () => (aedes as unknown as { clients: Record<string, { close(): void }> }).clients;
    const consumer = await connectClient(rig.broker.url, { clientId: 'consumer' });
    clients.push(consumer);
    const received: string[] = [];
    consumer.on('message', (_t, p) => received.push((JSON.parse(p.toString()) as Alert).id));
    await subscribeAsync(consumer, 'edgernn/s/+/alerts');
    const dev = await connectClient(rig.broker.url, { clientId: 'devices' });
    clients.push(dev);
    const clock = new ManualClock(T0);

    /**
     * A gateway run during the outage: it connects, a device's message (impacts) reaches it,
     * the broker turns it away (it keeps reconnecting, refused), then the frames are stepped
     * (the manual clock) and the alerts raised offline. Returns the alert ids, in order.
     */
    const offlineRun = async (device: string, logger = memoryLogger('debug')) => {
      aedes.authenticate = (_c, _u, _p, done) => done(null, true);
      const gw = await Gateway.create({ config: config(3), models: { imu: rig.model }, clock, logger, drainTimeoutMs: 100 });
      gateways.push(gw);
      expect(gw.metrics.gauges.outbox_persistent).toBe(1);
      const raised: string[] = [];
      gw.on('alert', (a) => raised.push(a.id));
      const x = imuSignal(200, 4, [[20, 30], [70, 80], [120, 130], [170, 180]]);
      const want = oracleAlerts(rig.model, x, IMU_DETECTOR, { site: 's', device, sensor: 'imu', streamStartMs: clock.now() }).map((a) => a.id);
      expect(want.length).toBeGreaterThanOrEqual(4);
      await publishAsync(dev, gw.topics.sensor(device, 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      await waitFor(() => gw.metrics.counters.messages_total === 1, 'the message at the gateway');
      aedes.authenticate = (client, _u, _p, done) => done(null, client.id !== 'edgernn-gw');
      brokerClients()['edgernn-gw']!.close();
      await waitFor(() => !gw.transport.connected, 'the gateway to lose its connection');
      clock.advance(5);
      gw.drainNow();
      await waitFor(() => raised.length === want.length, 'every alert raised');
      await gw.settled();
      expect(raised).toEqual(want);
      return { gw, want, logger };
    };

    // 1. Four or more alerts, room for three: the oldest go (never written).
    const run1 = await offlineRun('d1');
    expect([...run1.gw.outbox.pending()].map((a) => a.id)).toEqual(run1.want.slice(-3));
    expect(run1.gw.metrics.counters.outbox_dropped_total).toBe(run1.want.length - 3);
    await run1.gw.stop();

    // 2. Restarted during the outage: the new alerts push out the three on disk (drop records)
    //    and the oldest new ones. Counted, one warning naming the bound.
    const run2 = await offlineRun('d2');
    const kept = run2.want.slice(-3);
    expect([...run2.gw.outbox.pending()].map((a) => a.id)).toEqual(kept);
    expect(run2.gw.metrics.counters.outbox_dropped_total).toBe(run2.want.length);
    expect(run2.gw.metrics.prometheus({})).toContain(`edgernn_gateway_outbox_dropped_total{} ${run2.want.length}`);
    const warns = run2.logger.lines.filter((l) => l.msg === FULL);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 'warn', limit: 'outbox.maxAlerts', maxAlerts: 3 });
    expect(fs.readFileSync(path.join(stateDir, 'outbox', 'outbox.wal'), 'utf8')).toContain('"dropped":true');
    await run2.gw.stop();
    expect(received).toEqual([]);

    // 3. The broker takes the gateway again, the bound is far larger: exactly the kept alerts
    //    are sent, none of the dropped ones.
    aedes.authenticate = (_c, _u, _p, done) => done(null, true);
    const gw3 = await Gateway.create({ config: config(1000), models: { imu: rig.model }, clock, logger: memoryLogger('silent') });
    gateways.push(gw3);
    expect(gw3.outboxDepth).toBe(3);
    // Publishing runs on the gateway's (manual) clock.
    await waitFor(() => (clock.advance(1), gw3.outboxDepth === 0 && received.length >= kept.length), 'the kept alerts delivered and acknowledged');
    expect([...received].sort()).toEqual([...kept].sort());
  });
});
