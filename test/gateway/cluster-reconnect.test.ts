/**
 * A member whose connection dropped and came back takes its partitions back by hand-off even when
 * it never sees its own last will retained. Over a real connection that is common: a gateway
 * paused past its keepalive (SIGSTOP, a VM freeze, a long GC) wakes up, fires its overdue metrics
 * tick, and MQTT.js sends that retained `online` status again on the new connection before it
 * resubscribes, so the will the broker published (and the others acted on: they took the
 * partitions from the checkpoints) is gone by the time the status subscription is back. The
 * member went on processing its partitions while the others did too: both stepped parts of the
 * same streams and raised alerts on them until the others' hand-off timeout (reproduced with
 * mosquitto, two gateways and `kill -STOP` for 13 s: no rejoin, handoffTimeoutMs of split brain).
 *
 * Driven without a broker: a loopback transport (one client's view of a broker: retained store,
 * subscriptions, its own publishes coming back) and a scripted peer gw-a; no timers, no sleeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { DeviceStream } from '../../src/gateway/stream.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { devicePartition } from '../../src/gateway/topics.js';
import { partitionOwner } from '../../src/gateway/cluster.js';
import { topicMatches, type GatewayTransport, type PublishOptions, type TransportHandlers } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal } from './fixtures.js';

/** One client's view of a broker: retained messages, subscriptions, and its own publishes delivered back (on a microtask, as a broker would, later). */
class LoopbackTransport implements GatewayTransport {
  private h: TransportHandlers | null = null;
  private readonly filters = new Set<string>();
  readonly retained = new Map<string, Uint8Array>();
  readonly published: Array<{ topic: string; body: string }> = [];
  /** The scripted peer: sees every publish. */
  onPublish: ((topic: string, body: string) => void) | null = null;

  get connected(): boolean {
    return this.h !== null;
  }
  start(h: TransportHandlers): Promise<void> {
    this.h = h;
    h.connect();
    return Promise.resolve();
  }
  subscribe(filters: string[]): Promise<void> {
    for (const f of filters) {
      this.filters.add(f);
      for (const [t, p] of this.retained) if (topicMatches(f, t)) queueMicrotask(() => this.h?.message(t, p, true));
    }
    return Promise.resolve();
  }
  unsubscribe(filters: string[]): Promise<void> {
    for (const f of filters) this.filters.delete(f);
    return Promise.resolve();
  }
  /** A message from another client. */
  deliver(topic: string, payload: Uint8Array | string, retain = false): void {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    if (retain) this.retained.set(topic, bytes);
    if (this.h && [...this.filters].some((f) => topicMatches(f, topic))) this.h.message(topic, bytes, false);
  }
  publish(topic: string, payload: Uint8Array | string, opts: PublishOptions): Promise<void> {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload.slice();
    const body = new TextDecoder().decode(bytes);
    this.published.push({ topic, body });
    if (opts.retain) this.retained.set(topic, bytes);
    queueMicrotask(() => {
      if (this.h && [...this.filters].some((f) => topicMatches(f, topic))) this.h.message(topic, bytes, false);
      this.onPublish?.(topic, body);
    });
    return Promise.resolve();
  }
  /** The connection drops (the broker publishes the will; what it holds as retained is up to the test). */
  drop(): void {
    const h = this.h;
    this.h = null;
    h?.close();
  }
  /** The client reconnects and resubscribes (MQTT.js resubscribe): retained messages come again. */
  reconnect(h: TransportHandlers): void {
    this.h = h;
    h.connect();
    for (const f of this.filters) for (const [t, p] of this.retained) if (topicMatches(f, t)) queueMicrotask(() => this.h?.message(t, p, true));
  }
  end(): Promise<void> {
    this.drop();
    return Promise.resolve();
  }
}

const P = 4;
const PER = 10;
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('cluster: a member whose connection came back', () => {
  let model: Model;
  beforeAll(async () => {
    model = await (await createRuntime()).load(imuModelBytes());
  });
  afterAll(() => model.dispose());

  const setup = async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new LoopbackTransport();
    const logger = memoryLogger('debug');
    const config = parseGatewayConfig({
      site: 'rc',
      gatewayId: 'gw-b',
      broker: { url: 'mqtt://127.0.0.1:1', protocolVersion: 5 },
      models: { imu: 'imu.ern' },
      routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }],
      limits: { reorderWindow: 4, reorderTimeoutMs: 60_000 },
      stateDir: '',
      metrics: { intervalMs: 0 },
      cluster: { group: 'rc', partitions: P, handoffTimeoutMs: 60_000, checkpointIntervalMs: 0 },
    });
    const base = 'edgernn/rc/_gateway';
    // gw-a is a member (its retained online status).
    tr.deliver(`${base}/gw-a/status`, JSON.stringify({ state: 'online', gateway: 'gw-a', site: 'rc', cluster: { group: 'rc', partitions: P } }), true);
    // gw-a, scripted: every READY of gw-b waiting for it is answered (DONE, or what `answer` says).
    let answer: (partition: string) => Array<Record<string, unknown>> = (partition) => [{ kind: 'done', partition, from: 'gw-a', to: 'gw-b' }];
    tr.onPublish = (topic, body) => {
      if (topic !== `${base}/cluster/handoff`) return;
      const m = JSON.parse(body) as { kind: string; partition: string; from: string; waitFor?: string | null };
      if (m.kind === 'ready' && m.from === 'gw-b' && m.waitFor === 'gw-a') for (const r of answer(m.partition)) tr.deliver(`${base}/cluster/gw-b/handoff`, JSON.stringify(r));
    };
    let handlers: TransportHandlers | null = null;
    const start = tr.start.bind(tr);
    tr.start = (h) => ((handlers = h), start(h));
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger, stateStore: memoryStateStore() });
    await settle();
    const device = Array.from({ length: 64 }, (_, i) => `cow-${i}`).find((d) => partitionOwner(devicePartition(d, P), ['gw-a', 'gw-b']) === 'gw-b')!;
    const partition = devicePartition(device, P);
    const x = imuSignal(20 * PER, 5);
    const send = (m: number) => {
      tr.deliver(`edgernn/rc/${partition}/${device}/imu`, encodeJson(x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
      clock.advance(50);
    };
    // gw-a goes first (its status cleared): gw-b then stops alone, handing nothing over.
    const leave = async () => {
      tr.deliver(`${base}/gw-a/status`, '', true);
      await settle();
      await gw.stop();
    };
    /** The connection drops and comes back (MQTT.js reconnecting), and what follows settles. */
    const reconnect = async () => {
      tr.drop();
      tr.reconnect(handlers!);
      await settle();
    };
    return { leave, gw, tr, clock, logger, device, partition, send, base, reconnect, handlers: () => handlers!, setAnswer: (f: typeof answer) => (answer = f) };
  };
  /** Runs `body` with gw-b in a cluster beside the scripted gw-a; gw-a leaves and gw-b stops after it, whatever happens. */
  const inCluster = async (body: (c: Awaited<ReturnType<typeof setup>>) => Promise<void>) => {
    const c = await setup();
    try {
      await body(c);
    } finally {
      await c.leave();
    }
  };

  it('takes its partitions back by hand-off after a reconnect even when its retained status says online (the will overwritten)', async () => {
    await inCluster(async ({ gw, tr, device, partition, send, handlers }) => {
      expect(gw.cluster!.owned()).toContain(partition);
      for (let m = 0; m < 5; m++) send(m);
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(4);

      // The connection drops; gw-a takes the partition on the will. gw-b's retained status is
      // `online` again when it resubscribes (its overdue status publish, re-sent first).
      tr.drop();
      const readiesBefore = tr.published.filter((p) => p.body.includes('"kind":"ready"')).length;
      tr.reconnect(handlers());
      await settle();
      // gw-b announces READY again (waiting for gw-a, who holds the partition now) ...
      const readies = tr.published.filter((p) => p.body.includes('"kind":"ready"')).length - readiesBefore;
      expect(readies).toBeGreaterThan(0);
      // ... and its partitions are handed back (gw-a answered DONE): owned again, the device goes on.
      expect(gw.cluster!.owned()).toContain(partition);
      send(5);
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(5);
    });
  });

  it("a partition taken over from a crashed member's retained checkpoints starts a new stream epoch (its alert ids cannot repeat the crashed owner's on frames now lost)", async () => {
    await inCluster(async ({ gw, tr, clock, base }) => {
      const device = Array.from({ length: 64 }, (_, i) => `calf-${i}`).find((d) => partitionOwner(devicePartition(d, P), ['gw-a', 'gw-b']) === 'gw-a')!;
      const partition = devicePartition(device, P);
      // gw-a's last checkpoint of the device's stream (epoch 0).
      const theirs = new DeviceStream(device, 'imu', gw.routeFor('imu')!, gw.config.limits, clock.now());
      const checkpoint = theirs.exportState();
      theirs.dispose();
      const x = imuSignal(PER, 6);
      tr.deliver(`${base}/cluster/state/${partition}/${Buffer.from(`${device}/imu`).toString('base64url')}`, checkpoint, true);
      // gw-a dies (its status cleared, as its will does): gw-b takes the partition from the checkpoint.
      tr.deliver(`${base}/gw-a/status`, '', true);
      await settle();
      expect(gw.cluster!.owned()).toContain(partition);
      tr.deliver(`edgernn/rc/${partition}/${device}/imu`, encodeJson(x.subarray(0, PER * IMU_CHANNELS), IMU_CHANNELS, { seq: 3 }));
      clock.advance(50);
      const s = gw.streams.get(`${device}/imu`)!;
      expect(s.lastSeq).toBe(3);
      expect(s.epoch).toBe(1);
    });
  });

  it('holds the partition while the member that took it over has not handed it back (no split brain)', async () => {
    await inCluster(async ({ gw, tr, device, partition, send, setAnswer, reconnect }) => {
      for (let m = 0; m < 5; m++) send(m);
      // gw-a (which took the partition on the will) has not answered yet.
      setAnswer(() => []);
      await reconnect();
      expect(gw.cluster!.owned()).not.toContain(partition);
      // A message arriving now is held, not stepped beside gw-a's stream.
      send(5);
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(4);
    });
  });

  it('keeps its live streams, not older retained checkpoints, when nobody had taken over (broker killed: no will)', async () => {
    await inCluster(async ({ gw, tr, device, partition, send, base, reconnect }) => {
      for (let m = 0; m < 3; m++) send(m);
      const checkpoint = gw.streams.get(`${device}/imu`)!.exportState();
      tr.deliver(`${base}/cluster/state/${partition}/${Buffer.from(`${device}/imu`).toString('base64url')}`, checkpoint, true);
      for (let m = 3; m < 6; m++) send(m);
      await reconnect();
      expect(gw.cluster!.owned()).toContain(partition);
      // The live state (through message 5) stands: the checkpoint (through 2) would have put the
      // stream back behind a gap of messages that will never come again.
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(5);
      send(6);
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(6);
      expect(gw.metrics.counters.missing_total ?? 0).toBe(0);
    });
  });

  it('says READY again when the member it waits for comes back online (it missed the first one while disconnected)', async () => {
    await inCluster(async ({ gw, tr, partition, send, setAnswer, base, reconnect }) => {
      for (let m = 0; m < 3; m++) send(m);
      // gw-b is back first (a killed broker restarted): gw-a is not connected yet and never sees
      // gw-b's first READY.
      setAnswer(() => []);
      await reconnect();
      expect(gw.cluster!.owned()).not.toContain(partition);
      // gw-a reconnects and says online again (it was a member all along): it answers what it gets now.
      setAnswer((p) => [{ kind: 'done', partition: p, from: 'gw-a', to: 'gw-b' }]);
      tr.deliver(`${base}/gw-a/status`, JSON.stringify({ state: 'online', gateway: 'gw-a', site: 'rc', cluster: { group: 'rc', partitions: P } }), true);
      await settle();
      // Owned again without waiting handoffTimeoutMs (a minute here; the manual clock never got there).
      expect(gw.cluster!.owned()).toContain(partition);
    });
  });

  it('says so (error, once) when a member routes other sensors: their messages in its partitions reach nobody', async () => {
    await inCluster(async ({ gw, tr, logger, base }) => {
      const status = (sensors: string[]) => JSON.stringify({ state: 'online', gateway: 'gw-a', site: 'rc', cluster: { group: 'rc', partitions: P, sensors } });
      const said = () => logger.lines.filter((l) => l.msg.startsWith('cluster: a member routes other sensors'));
      expect(JSON.parse(tr.published.filter((p) => p.topic === `${base}/gw-b/status`).at(-1)!.body).cluster.sensors).toEqual(['imu']);
      tr.deliver(`${base}/gw-a/status`, status(['imu']), true);
      expect(said()).toEqual([]);
      tr.deliver(`${base}/gw-a/status`, status(['imu', 'temp']), true);
      tr.deliver(`${base}/gw-a/status`, status(['temp', 'imu']), true); // its next metrics tick: not said again
      expect(said()).toHaveLength(1);
      expect(said()[0]).toMatchObject({ level: 'error', member: 'gw-a', onlyOurs: [], onlyTheirs: ['temp'] });
    });
  });

  it('keeps the messages a partition being acquired held when the connection drops again', async () => {
    await inCluster(async ({ gw, tr, device, partition, send, handlers, setAnswer, reconnect }) => {
      for (let m = 0; m < 5; m++) send(m);
      setAnswer(() => []);
      await reconnect();
      send(5); // held: the partition is being taken back
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(4);
      // The connection drops again before gw-a answered; then gw-a hands the partition back.
      tr.drop();
      setAnswer((p) => [{ kind: 'done', partition: p, from: 'gw-a', to: 'gw-b' }]);
      tr.reconnect(handlers());
      await settle();
      expect(gw.cluster!.owned()).toContain(partition);
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(5);
      send(6);
      expect(gw.streams.get(`${device}/imu`)?.lastSeq).toBe(6);
    });
  });
});
