/**
 * The file state store (stateDir/streams) on a real file system: keys of any characters and any
 * length round trip (a device name over ~185 bytes lost its state on eviction: ENAMETOOLONG),
 * files of the previous naming are still read, writes leave no temporary files; the store keeps
 * at most limits.maxSavedStates states, the oldest saved dropped first; and a state the gateway
 * cannot read (a directory in the place of the file: EISDIR even as root) does not stop its
 * device: counted, logged, fresh stream.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, isEdgeRnnError, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { fileStateStore, memoryStateStore, saveStates } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, imuModelBytes, imuSignal, publishAsync, tmpDir, waitFor } from './fixtures.js';
import { watchDurability } from './fs-watch.js';

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

describe('fileStateStore', () => {
  it('round-trips keys of any characters, lists and deletes them, leaves no temporary files', async () => {
    const dir = path.join(tmpDir('edgernn-states-'), 'streams');
    const st = fileStateStore(dir);
    const keys = ['dev-1/imu', 'halle/3/ü€', '../escape', 'a'.repeat(150), `${'ü'.repeat(3000)}/imu`];
    keys.forEach((k, i) => st.save(k, Uint8Array.of(i, 1, 2, 3)));
    st.save(keys[0]!, Uint8Array.of(9)); // overwritten in place
    expect(st.keys().sort()).toEqual([...keys].sort());
    expect(Array.from(st.load(keys[0]!)!)).toEqual([9]);
    expect(Array.from(st.load(keys[1]!)!)).toEqual([1, 1, 2, 3]);
    expect(st.load('never/saved')).toBeUndefined();
    st.delete(keys[1]!);
    st.delete('never/saved');
    expect(st.keys().sort()).toEqual([keys[0], keys[2], keys[3], keys[4]].sort());
    // (A deleted state is renamed aside and unlinked off the event loop: state-store-removal.test.ts.)
    await waitFor(() => fs.readdirSync(dir).every((f) => /^[0-9a-f]{64}\.st$/.test(f)), 'only state files left');
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['streams']); // nothing escaped the folder
  });
});

describe('fileStateStore: durable saves', () => {
  // A save was written to a temp file and renamed, never fsynced: after a power cut the rename
  // could be on disk before the data, leaving an empty or partial state under the final name.
  it('fsyncs the temp file before the rename and the folder after it; with fsync false, neither', () => {
    for (const fsync of [true, false]) {
      const root = tmpDir('edgernn-states-');
      const dir = path.join(root, 'streams');
      const st = fileStateStore(dir, { fsync });
      const watch = watchDurability(root);
      try {
        st.save('dev-1/imu', Uint8Array.of(7, 8, 9));
      } finally {
        watch.restore();
      }
      const [name] = fs.readdirSync(dir);
      const file = `streams/${name}`;
      const tmp = `${file}.tmp`;
      expect(watch.events).toEqual(fsync ? [`write ${tmp}`, `fsync ${tmp}`, `rename ${tmp} -> ${file}`, 'fsync streams'] : [`write ${tmp}`, `rename ${tmp} -> ${file}`]);
      // The real file: magic, key length, key, state.
      const bytes = fs.readFileSync(path.join(root, file));
      expect(bytes.subarray(0, 8).toString('latin1')).toBe('ERNSTAT1');
      expect(bytes.readUInt32LE(8)).toBe('dev-1/imu'.length);
      expect(bytes.subarray(12).toString('latin1')).toBe('dev-1/imu\x07\x08\x09');
      expect(Array.from(fileStateStore(dir).load('dev-1/imu')!)).toEqual([7, 8, 9]);
    }
  });

  it('the gateway passes outbox.fsync to its state store', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    for (const fsync of [true, false]) {
      const stateDir = tmpDir('edgernn-states-');
      const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir, outbox: { fsync }, metrics: { intervalMs: 0 } });
      const gw = await Gateway.create({ config, models: { imu: model }, transport: new TraceTransport(), logger: memoryLogger('silent') });
      const watch = watchDurability(stateDir);
      try {
        gw.stateStore.save('d/imu', Uint8Array.of(1));
      } finally {
        watch.restore();
        await gw.stop();
      }
      expect(watch.events.filter((e) => e.startsWith('fsync'))).toHaveLength(fsync ? 2 : 0);
    }
    model.dispose();
  });
});

describe('fileStateStore: unusable folders and corrupt files', () => {
  it('a file in the place of the folder is GATEWAY_STATE naming it (the gateway start failed with a bare EEXIST)', async () => {
    const stateDir = tmpDir('edgernn-states-');
    fs.writeFileSync(path.join(stateDir, 'streams'), 'x');
    let err: unknown;
    try {
      fileStateStore(path.join(stateDir, 'streams'));
    } catch (e) {
      err = e;
    }
    expect(isEdgeRnnError(err, 'GATEWAY_STATE')).toBe(true);
    expect((err as Error).message).toMatch(/cannot open the stream state store in .*streams/);
    // Through the gateway: the typed error, and nothing left open.
    const model = await (await createRuntime()).load(imuModelBytes());
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir, metrics: { intervalMs: 0 } });
    await expect(Gateway.create({ config, models: { imu: model }, transport: new TraceTransport(), logger: memoryLogger('silent') })).rejects.toMatchObject({ code: 'GATEWAY_STATE' });
    model.dispose();
  });

  it('opens past a leftover that is not a file; a truncated or foreign state file is GATEWAY_STATE', () => {
    const dir = path.join(tmpDir('edgernn-states-'), 'streams');
    fs.mkdirSync(path.join(dir, 'odd.tmp'), { recursive: true });
    const st = fileStateStore(dir);
    st.save('d1/imu', Uint8Array.of(1, 2, 3));
    st.save('d2/imu', Uint8Array.of(4));
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.st'));
    // A crash mid-write of a file system without rename ordering: the file is cut short.
    const f1 = files.find((f) => fs.readFileSync(path.join(dir, f)).includes('d1/imu'))!;
    fs.truncateSync(path.join(dir, f1), 14);
    expect(() => st.load('d1/imu')).toThrow(expect.objectContaining({ code: 'GATEWAY_STATE', message: expect.stringMatching(/truncated/) }));
    fs.writeFileSync(path.join(dir, f1), 'garbage');
    expect(() => st.load('d1/imu')).toThrow(expect.objectContaining({ code: 'GATEWAY_STATE', message: expect.stringMatching(/not a stream state file/) }));
    expect(Array.from(st.load('d2/imu')!)).toEqual([4]);
  });
});

describe('a saved stream state the gateway cannot read', () => {
  it('is counted and logged, and the device starts a fresh stream; other devices are untouched', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const stateDir = tmpDir('edgernn-unreadable-');
    // A directory where the state of d1/imu would be: reading it fails with EISDIR.
    const streams = path.join(stateDir, 'streams');
    fs.mkdirSync(path.join(streams, `${Buffer.from('d1/imu').toString('base64url')}.state`), { recursive: true });
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('info');
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir, metrics: { intervalMs: 0 } });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger });
    gateways.push(gw);
    const x = imuSignal(40, 3);
    for (const device of ['d1', 'd2']) {
      for (let m = 0; m < 4; m++) tr.deliver(gw.topics.sensor(device, 'imu'), encodeJson(x.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
    }
    clock.advance(5);
    const c = gw.metrics.counters;
    expect(c.state_errors_total).toBe(1);
    expect(c.frames_total).toBe(80); // both devices, every frame
    expect(gw.streams.size).toBe(2);
    const warn = logger.lines.find((l) => l.msg === 'saved stream state not used');
    expect(warn).toMatchObject({ device: 'd1', sensor: 'imu' });
    expect(String(warn!.error)).toMatch(/cannot read it: EISDIR/);
    expect(logger.lines.some((l) => l.msg === 'message handler failed')).toBe(false);
    model.dispose();
  });
});

// ---- long device names, files of the previous naming, the bound ---------------------------------

const T0 = 1_700_000_000_000;
const clients: MqttClient[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.end(true);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

let imu: Model;
beforeAll(async () => {
  imu = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => imu?.dispose());

/** A gateway on the embedded broker keeping its states in stateDir, and a device client. */
async function brokerGateway(stateDir: string, limits: Record<string, unknown> = {}) {
  const clock = new ManualClock(T0);
  const logger = memoryLogger('info');
  const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir, limits, metrics: { intervalMs: 0 } });
  const gw = await Gateway.create({ config, models: { imu }, clock, logger });
  gateways.push(gw);
  const dev = await connectClient(gw.broker!.url);
  clients.push(dev);
  let sent = 0;
  return {
    gw,
    logger,
    /** Publishes (QoS 1, in order) and waits until the gateway took every message so far. */
    async send(msgs: Array<[device: string, samples: Float32Array, seq: number]>) {
      for (const [device, x, seq] of msgs) await publishAsync(dev, gw.topics.sensor(device, 'imu'), encodeJson(x, IMU_CHANNELS, { seq }));
      sent += msgs.length;
      await waitFor(() => gw.metrics.counters.messages_total === sent, `${sent} messages at the gateway`);
    },
  };
}

/** The model session's bytes inside saved stream state bytes (DeviceStream.exportState layout). */
function sessionBytes(state: Uint8Array): Uint8Array {
  const hl = new DataView(state.buffer, state.byteOffset, state.length).getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(state.subarray(4, 4 + hl))) as { sessionBytes: number };
  return state.slice(4 + hl, 4 + hl + h.sessionBytes);
}

/** A plain session's state after stepping these frames in order. */
function oracleState(x: Float32Array): Uint8Array {
  const s = imu.session();
  for (let t = 0; t < x.length / IMU_CHANNELS; t++) s.step(x.subarray(t * IMU_CHANNELS, (t + 1) * IMU_CHANNELS));
  const st = s.exportState();
  s.dispose();
  return st;
}

const chunk = (x: Float32Array, m: number) => x.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS);

describe('device names of any length', () => {
  it('a 5005-byte UTF-8 device name keeps its state across every eviction, and keys() names it', async () => {
    const stateDir = tmpDir('edgernn-longname-');
    dirs.push(stateDir);
    const g = await brokerGateway(stateDir, { maxDevices: 1 });
    const long = `ü${'ß'.repeat(2000)}€${'x'.repeat(1000)}`; // 2 + 4000 + 3 + 1000 bytes
    expect(Buffer.byteLength(long)).toBe(5005);
    const xs = { [long]: imuSignal(40, 1, [[12, 30]]), short: imuSignal(40, 2) };
    // maxDevices 1: each message evicts the other device (state saved) and restores its own.
    const msgs: Array<[string, Float32Array, number]> = [];
    for (let m = 0; m < 4; m++) for (const d of [long, 'short']) msgs.push([d, chunk(xs[d]!, m), m]);
    await g.send(msgs);
    g.gw.drainNow();
    const c = g.gw.metrics.counters;
    expect(g.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(c.state_errors_total).toBe(0);
    expect(c.state_restores_total).toBe(6); // every message after the first of each device
    expect(c.frames_total).toBe(80);
    // The long-named device, evicted by the last message: its saved state is the uninterrupted stream's.
    const key = `${long}/imu`;
    expect(g.gw.stateStore.keys()).toEqual([key]);
    expect(sessionBytes(g.gw.stateStore.load(key)!)).toEqual(oracleState(xs[long]!));
    expect(g.gw.streams.get('short/imu')!.session.exportState()).toEqual(oracleState(xs.short!));
  });

  it('reads states saved under the previous file naming (<base64url(key)>.state), and moves them on the next save', async () => {
    const stateDir = tmpDir('edgernn-legacy-');
    dirs.push(stateDir);
    const streams = path.join(stateDir, 'streams');
    const x = imuSignal(40, 5, [[15, 35]]);
    const g1 = await brokerGateway(stateDir);
    await g1.send([0, 1].map((m) => ['d1', chunk(x, m), m]));
    await g1.gw.stop();
    // What a gateway before hashed names left behind: the state bytes alone, the key in the name.
    const bytes = fileStateStore(streams).load('d1/imu')!;
    for (const f of fs.readdirSync(streams)) fs.rmSync(path.join(streams, f));
    const legacy = path.join(streams, `${Buffer.from('d1/imu').toString('base64url')}.state`);
    fs.writeFileSync(legacy, bytes);
    expect(fileStateStore(streams).keys()).toEqual(['d1/imu']);

    const g2 = await brokerGateway(stateDir);
    await g2.send([2, 3].map((m) => ['d1', chunk(x, m), m]));
    g2.gw.drainNow();
    expect(g2.gw.metrics.counters.state_restores_total).toBe(1);
    expect(g2.gw.metrics.counters.state_errors_total).toBe(0);
    expect(g2.gw.streams.get('d1/imu')!.session.exportState()).toEqual(oracleState(x));
    expect(fs.existsSync(legacy)).toBe(false); // deleted once restored

    // At the store: a legacy file is listed and loaded, and a save supersedes it.
    fs.writeFileSync(legacy, Uint8Array.of(7, 7));
    const st = fileStateStore(streams);
    expect(Array.from(st.load('d1/imu')!)).toEqual([7, 7]);
    st.save('d1/imu', Uint8Array.of(8));
    expect(fs.existsSync(legacy)).toBe(false);
    expect(st.keys()).toEqual(['d1/imu']);
    expect(Array.from(st.load('d1/imu')!)).toEqual([8]);
  });
});

describe('limits.maxSavedStates', () => {
  it('keeps the newest saved states: a flood of device names leaves at most maxSavedStates files, oldest evicted dropped first', async () => {
    const stateDir = tmpDir('edgernn-bound-');
    dirs.push(stateDir);
    const streams = path.join(stateDir, 'streams');
    const g = await brokerGateway(stateDir, { maxDevices: 2, maxSavedStates: 3 });
    const x = imuSignal(10, 3);
    // d0..d7 each once: d0..d5 are evicted in that order (maxDevices 2); the store keeps d3, d4, d5.
    await g.send(Array.from({ length: 8 }, (_, i) => [`d${i}`, x, 0]));
    const c = g.gw.metrics.counters;
    expect(c.evictions_total).toBe(6);
    expect(c.states_dropped_total).toBe(3);
    expect(g.gw.stateStore.keys().sort()).toEqual(['d3/imu', 'd4/imu', 'd5/imu']);
    expect(fs.readdirSync(streams).filter((f) => f.endsWith('.st'))).toHaveLength(3); // (and the dropped ones renamed aside, until their unlink)
    // d3 comes back with its state (evicting d6: d4, d5, d6 kept); d0's was dropped: it starts fresh.
    await g.send([['d3', x, 1]]);
    expect(c.state_restores_total).toBe(1);
    expect(g.gw.streams.get('d3/imu')!.lastSeq).toBe(1);
    expect(g.gw.stateStore.keys().sort()).toEqual(['d4/imu', 'd5/imu', 'd6/imu']);
    await g.send([['d0', x, 1]]);
    expect(c.state_restores_total).toBe(1);
    expect(c.states_dropped_total).toBe(4);
    expect(g.gw.stateStore.keys().sort()).toEqual(['d5/imu', 'd6/imu', 'd7/imu']);
    expect(g.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('orders the states already on disk by modification time when the store opens; removes leftovers of interrupted saves', () => {
    const dir = path.join(tmpDir('edgernn-bound-open-'), 'streams');
    dirs.push(path.dirname(dir));
    const first = fileStateStore(dir);
    for (const k of ['k0', 'k1', 'k2']) first.save(k, Uint8Array.of(1));
    // Saved at t + 2 s, t, t + 1 s (a restart in between: the index is rebuilt from the files).
    const t = Date.now() / 1000 - 100;
    const fileOf = (k: string) => fs.readdirSync(dir).find((f) => fs.readFileSync(path.join(dir, f)).includes(Buffer.from(k)))!;
    [['k0', 2], ['k1', 0], ['k2', 1]].forEach(([k, dt]) => fs.utimesSync(path.join(dir, fileOf(k as string)), t + (dt as number), t + (dt as number)));
    fs.writeFileSync(path.join(dir, `${'0'.repeat(64)}.st.tmp`), 'half a save');
    const dropped: string[] = [];
    const st = fileStateStore(dir, { maxStates: 3, onDrop: (k) => dropped.push(k) });
    expect(fs.readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
    st.save('k3', Uint8Array.of(2));
    st.save('k4', Uint8Array.of(3));
    expect(dropped).toEqual(['k1', 'k2']);
    expect(st.keys().sort()).toEqual(['k0', 'k3', 'k4']);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.st'))).toHaveLength(3);
    // The memory store (stateDir "") is bounded the same way.
    const mem = memoryStateStore({ maxStates: 2, onDrop: (k) => dropped.push(k) });
    for (const k of ['a', 'b', 'a', 'c']) mem.save(k, Uint8Array.of(0));
    expect(mem.keys()).toEqual(['a', 'c']);
    expect(dropped.at(-1)).toBe('b');
  });

  it('drops the states beyond a bound lowered since they were saved when it opens, not in the first save (that save deleted them all, in a device\'s message handler: 14 s for 4,900 states here)', () => {
    const dir = path.join(tmpDir('edgernn-bound-lowered-'), 'streams');
    dirs.push(path.dirname(dir));
    const first = fileStateStore(dir, { fsync: false });
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}/imu`);
    saveStates(first, keys.map((k) => [k, Uint8Array.of(1)] as const));
    // Saved one second apart, k0 first.
    const t = Date.now() / 1000 - 100;
    const fileOf = (k: string) => fs.readdirSync(dir).find((f) => fs.readFileSync(path.join(dir, f)).includes(Buffer.from(k)))!;
    keys.forEach((k, i) => fs.utimesSync(path.join(dir, fileOf(k)), t + i, t + i));
    const dropped: string[] = [];
    const st = fileStateStore(dir, { maxStates: 4, onDrop: (k) => dropped.push(k) });
    expect(dropped).toEqual(keys.slice(0, 8));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.st'))).toHaveLength(4);
    expect(st.keys().sort()).toEqual(keys.slice(8).sort());
    // The next save drops one, as always.
    st.save('new/imu', Uint8Array.of(2));
    expect(dropped).toEqual(keys.slice(0, 9));
  });
});
