/**
 * The gateway with many devices over time: work that grows with the number of streams is done in
 * bounded slices, so one event (a site whose devices all go quiet at once) cannot hold the event
 * loop, and with it every other device, the broker connection's keepalive and the metrics
 * endpoint, for as long as it takes to save thousands of states.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway, IDLE_EVICT_BATCH } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { fileStateStore, memoryStateStore, saveStates, type StateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { QUEUE_INITIAL_FRAMES } from '../../src/gateway/stream.js';
import { IMU_CHANNELS, imuGatewayConfig, imuModelAndGateways, imuSessionState, imuSignal, tmpDir } from './fixtures.js';

/** A memory store that records the size of every batch the gateway saves at once. */
function recordingStore(): StateStore & { batches: number[]; map: Map<string, Uint8Array>; saveMany: NonNullable<StateStore['saveMany']> } {
  const inner = memoryStateStore();
  const batches: number[] = [];
  return {
    map: inner.map,
    batches,
    load: (k) => inner.load(k),
    save: (k, b) => {
      batches.push(1);
      inner.save(k, b);
    },
    saveMany: (entries) => {
      batches.push(entries.length);
      for (const [k, b] of entries) inner.save(k, b);
      return [];
    },
    delete: (k) => inner.delete(k),
    keys: () => inner.keys(),
  };
}

describe('idle eviction at scale', () => {
  const ctx = imuModelAndGateways();
  /** A gateway evicting streams idle for 60 s into a store that records its batches, and a 4-sample message. */
  const idleSite = async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const store = recordingStore();
    const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '', limits: { idleEvictMs: 60_000 } });
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr, logger: memoryLogger('error'), stateStore: store });
    ctx.gateways.push(gw);
    return { clock, tr, store, gw, x: imuSignal(4, 1) };
  };

  it('saves the streams of a site that went quiet in slices of IDLE_EVICT_BATCH, yielding between them (one batch of every stream held the event loop: 12 s for 3,000 streams measured)', { timeout: 60_000 }, async () => {
    const DEVICES = 300;
    const { clock, tr, store, gw, x } = await idleSite();
    for (let d = 0; d < DEVICES; d++) tr.deliver(gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    clock.advance(10);
    expect(gw.streams.size).toBe(DEVICES);
    expect(store.batches).toEqual([]);

    // Every device goes quiet; the sweep that finds them idle saves one slice and schedules the next.
    clock.advance(61_000);
    expect(gw.streams.size).toBe(0);
    expect(gw.metrics.counters.evictions_total).toBe(DEVICES);
    expect(store.map.size).toBe(DEVICES);
    expect(Math.max(...store.batches)).toBeLessThanOrEqual(IDLE_EVICT_BATCH);
    expect(store.batches.reduce((a, b) => a + b, 0)).toBe(DEVICES);

    // A device that comes back is restored from its slice's state.
    tr.deliver(gw.topics.sensor('dev-7', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 1 }));
    clock.advance(10);
    expect(gw.metrics.counters.state_restores_total).toBe(1);
    expect(gw.streams.get('dev-7/imu')!.lastSeq).toBe(1);
  });

  it('a device that sends between two slices is not evicted by the later slice', { timeout: 60_000 }, async () => {
    const { clock, tr, store, gw, x } = await idleSite();
    const n = IDLE_EVICT_BATCH + 10;
    for (let d = 0; d < n; d++) tr.deliver(gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    clock.advance(10);
    // The first slice runs from the maintenance tick; the last device (still in memory, next
    // slice) sends before the next slice runs.
    const last = `dev-${n - 1}`;
    const onFirstSlice = store.saveMany;
    store.saveMany = (entries) => {
      store.saveMany = onFirstSlice;
      const r = onFirstSlice(entries);
      tr.deliver(gw.topics.sensor(last, 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 1 }));
      return r;
    };
    clock.advance(61_000);
    expect(store.batches[0]).toBe(IDLE_EVICT_BATCH);
    expect([...gw.streams.keys()]).toEqual([`${last}/imu`]);
    expect(gw.metrics.counters.evictions_total).toBe(n - 1);
    expect(gw.metrics.counters.state_restores_total).toBe(0);
  });
});

/** Bytes a queued IMU frame takes: 6 float32 values, three float64 times and a flags byte. */
const FRAME_BYTES = IMU_CHANNELS * 4 + 3 * 8 + 1;

describe('the frame queue after a backlog', () => {
  const ctx = imuModelAndGateways();

  it('gives a grown queue back once the backlog is stepped and messages are small again (a backlog left every stream at maxQueuedFrames for good: 49 KB per IMU device)', { timeout: 60_000 }, async () => {
    const { gw, tr, clock } = await ctx.onTrace();
    const PER = 10;
    const DEVICES = 20;
    const BACKLOG = 90; // messages per device queued before a stepping round: 900 frames
    const total = BACKLOG + 12;
    const xs = Array.from({ length: DEVICES }, (_, d) => imuSignal(total * PER, 60 + d));
    const send = (d: number, m: number) => tr.deliver(gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(xs[d]!.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
    // A backlog (a stalled loop, a persistent session's queue delivered at once): every queue grows to 1024 frames' room (capped at maxQueuedFrames, 1000).
    for (let m = 0; m < BACKLOG; m++) for (let d = 0; d < DEVICES; d++) send(d, m);
    for (let d = 0; d < DEVICES; d++) expect(gw.streams.get(`dev-${d}/imu`)!.queueBytes).toBe(1000 * FRAME_BYTES);
    clock.advance(10);
    // Back to normal: one 10-frame message per device per round.
    for (let m = BACKLOG; m < total; m++) {
      for (let d = 0; d < DEVICES; d++) send(d, m);
      clock.advance(10);
    }
    expect(gw.metrics.counters.dropped_frames_total).toBe(0);
    for (let d = 0; d < DEVICES; d++) {
      const s = gw.streams.get(`dev-${d}/imu`)!;
      expect(s.queued).toBe(0);
      // At most 4 times what a message needs, in the queue's sizes (16 doubling): 16 frames for 10-frame messages.
      expect(s.queueBytes, `dev-${d}`).toBeLessThanOrEqual(4 * QUEUE_INITIAL_FRAMES * FRAME_BYTES);
      // Nothing lost or reordered on the way.
      expect(s.session.exportState(), `dev-${d}`).toEqual(imuSessionState(ctx.model, xs[d]!));
    }
  });

  it('keeps a queue that each message fills (no allocation per message once grown)', { timeout: 60_000 }, async () => {
    const { gw, tr, clock } = await ctx.onTrace();
    const PER = 60; // each message queues 60 frames: the queue grows to 64 and stays
    const x = imuSignal(20 * PER, 3);
    const s = () => gw.streams.get('dev/imu')!;
    const sizes: number[] = [];
    for (let m = 0; m < 20; m++) {
      tr.deliver(gw.topics.sensor('dev', 'imu'), encodeJson(x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
      sizes.push(s().queueBytes);
      clock.advance(10);
    }
    expect(new Set(sizes)).toEqual(new Set([64 * FRAME_BYTES]));
    expect(s().session.exportState()).toEqual(imuSessionState(ctx.model, x));
  });
});

describe('a flooding device', () => {
  const ctx = imuModelAndGateways();

  it('is named in the log when its queue drops frames, once a minute with the count since (the counters alone did not say which device)', { timeout: 60_000 }, async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '', limits: { maxQueuedFrames: 100 } });
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr, logger, stateStore: memoryStateStore() });
    ctx.gateways.push(gw);
    const x = imuSignal(50, 1);
    let seq = 0;
    const flood = (messages: number) => {
      // 50 frames a message, none stepped in between: beyond 100 queued, the oldest go.
      for (let m = 0; m < messages; m++) tr.deliver(gw.topics.sensor('flooder', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: seq++ }));
      tr.deliver(gw.topics.sensor('quiet', 'imu'), encodeJson(x.subarray(0, IMU_CHANNELS), IMU_CHANNELS, { seq: seq }));
    };
    const lines = () => logger.lines.filter((l) => l.msg.startsWith('device queue full'));
    flood(4); // 200 frames: 100 dropped
    expect(gw.metrics.counters.dropped_frames_total).toBe(100);
    expect(lines()).toEqual([expect.objectContaining({ level: 'warn', device: 'flooder', sensor: 'imu', droppedFrames: 50, maxQueuedFrames: 100 })]);
    clock.advance(10);
    flood(4);
    clock.advance(30_000);
    flood(4);
    expect(lines()).toHaveLength(1); // within the minute: counted, not logged
    clock.advance(30_000);
    flood(4);
    expect(gw.metrics.counters.dropped_frames_total).toBe(400);
    expect(lines()).toHaveLength(2);
    // The second line carries every drop since the first.
    expect(lines()[1]).toEqual(expect.objectContaining({ device: 'flooder', droppedFrames: 300 }));
    expect(lines().every((l) => l.device === 'flooder')).toBe(true);
  });
});

describe('limits.maxSavedStates lowered between runs', () => {
  const ctx = imuModelAndGateways();

  it('drops the oldest states at start, counted in states_dropped_total and logged once', { timeout: 60_000 }, async () => {
    const stateDir = tmpDir('edgernn-scale-');
    try {
      const before = fileStateStore(path.join(stateDir, 'streams'), { fsync: false });
      saveStates(before, Array.from({ length: 30 }, (_, i) => [`old-${i}/imu`, Uint8Array.of(1)] as const));
      const logger = memoryLogger('info');
      const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir, outbox: { fsync: false }, limits: { maxDevices: 10, maxSavedStates: 10 } });
      const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock: new ManualClock(1_700_000_000_000), transport: new TraceTransport(), logger });
      ctx.gateways.push(gw);
      expect(gw.metrics.counters.states_dropped_total).toBe(20);
      expect(fs.readdirSync(path.join(stateDir, 'streams')).filter((f) => f.endsWith('.st'))).toHaveLength(10); // (the dropped renamed aside until their unlink)
      expect(logger.lines.filter((l) => l.msg.includes('limits.maxSavedStates'))).toEqual([expect.objectContaining({ level: 'info', dropped: 20, maxSavedStates: 10 })]);
      await gw.stop();
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
