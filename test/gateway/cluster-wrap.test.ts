/**
 * A partition handed over while a device's binary u32 counter wraps (2^32 - 1 → 0), on mosquitto:
 * the new owner (a real gateway) processes the messages it held in serial-number order from the
 * stream's last seq. The previous owner is scripted: a plain MQTT client on the same broker with a
 * retained "online" status, answering the new owner's READY with a STATE (bytes exported by a real
 * stream), the forwarded messages and DONE on the new owner's hand-off topic. With two gateways,
 * which messages the new owner holds, and in which order, depends on timing; scripted, they are
 * exactly the ones a previous owner forwards across the wrap. Skipped, with the reason, without mosquitto.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { Topics } from '../../src/gateway/topics.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { connectClient, IMU_CHANNELS, mosquittoAvailable, publishAsync, subscribeAsync, waitFor, scriptedPeerCluster } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/cluster-wrap.test.ts skipped: ${SKIP}`);

const P = 4;
const PER = 10;
const MESSAGES = 40;
/** Message m carries seq 2^bits - 20 + m, wrapping to 0 at m = 20. */
const seqOfBits = (bits: number) => (m: number) => (2 ** bits - 20 + m) % 2 ** bits;

describe.skipIf(SKIP !== null)('cluster hand-off across the u32 wrap', () => {
  const rig = scriptedPeerCluster({ site: 'wrap', group: 'wrap', codec: 'binary', partitions: P });
  const { cluster, deviceOfGwB } = rig;
  // The binary frame's u32 counter (no seqBits), and a 16-bit counter in JSON (routes[].seqBits 16:
  // the new owner orders what it holds on the route's counter, as the stream does).
  const cases = [
    { what: 'a binary u32 counter', bits: 32, prefix: 'tag', base: rig.base, encode: (v: Float32Array, seq: number) => encodeBinary(v, IMU_CHANNELS, { seq }) },
    { what: 'a 16-bit counter (seqBits 16)', bits: 16, prefix: 'tag16', base: { ...rig.base, routes: [{ ...rig.base.routes[0]!, codec: 'json', seqBits: 16 }] }, encode: (v: Float32Array, seq: number) => encodeJson(v, IMU_CHANNELS, { seq }) },
  ];

  for (const { what, bits, prefix, base, encode } of cases) it(`the new owner orders held messages across the wrap of ${what} from the stream's last seq (raw seq order put 0..19 before 2^${bits} - 10 and lost 10 messages)`, { timeout: 60_000 }, async () => {
    const seqOf = seqOfBits(bits);
    // A device of a partition gw-b owns next to gw-a.
    const { device, partition } = deviceOfGwB(prefix);
    const key = `${device}/imu`;
    const x = new Float32Array(MESSAGES * PER * IMU_CHANNELS);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 0.8 + ((i * 7919) % 13) / 26;
    const chunk = (m: number) => x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS);

    // The state the previous owner hands over: a real stream that processed messages 0..9.
    const memCfg = parseGatewayConfig(base);
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const mem = await Gateway.create({ config: memCfg, models: { imu: rig.model }, clock, transport: tr, logger: memoryLogger('warn'), stateStore: memoryStateStore() });
    for (let m = 0; m < 10; m++) tr.deliver(mem.topics.sensor(device, 'imu'), encode(chunk(m), seqOf(m)));
    clock.advance(50);
    const state = mem.streams.get(key)!.exportState();
    await mem.stop();

    const cfgA = parseGatewayConfig({ ...base, gatewayId: 'gw-a', broker: { url: rig.mq.url }, cluster });
    const topicsA = new Topics(cfgA);
    const peer = await connectClient(rig.mq.url, { clientId: 'gw-a-scripted', protocolVersion: 5 });
    let gwB: Gateway | null = null;
    try {
      await subscribeAsync(peer, `${topicsA.cluster}/handoff`);
      const toB = `${topicsA.cluster}/gw-b/handoff`;
      const send = (msg: Record<string, unknown>) => publishAsync(peer, toB, JSON.stringify({ from: 'gw-a', partition, ...msg }));
      let script: Promise<void> | null = null;
      peer.on('message', (_topic, payload) => {
        const msg = JSON.parse(payload.toString()) as { kind: string; partition: string; from: string; waitFor?: string };
        if (msg.kind !== 'ready' || msg.from !== 'gw-b' || msg.waitFor !== 'gw-a') return;
        if (msg.partition !== partition) {
          void publishAsync(peer, toB, JSON.stringify({ kind: 'done', partition: msg.partition, from: 'gw-a', to: 'gw-b' }));
          return;
        }
        // What a releasing owner sends (cluster.ts doRelease): the stream's state, the messages it
        // held or that still reached it (here 10..39, across the wrap, newest first), then DONE.
        script ??= (async () => {
          await send({ kind: 'state', key, data: Buffer.from(state).toString('base64') });
          for (let m = MESSAGES - 1; m >= 10; m--) {
            await send({ kind: 'forward', topic: topicsA.sensor(device, 'imu', partition), data: Buffer.from(encode(chunk(m), seqOf(m))).toString('base64') });
          }
          await send({ kind: 'done', to: 'gw-b' });
        })();
      });
      // gw-a is a member (retained online status): gw-b waits for its hand-off.
      await new Promise<void>((r) => peer.publish(topicsA.status, JSON.stringify({ state: 'online', gateway: 'gw-a', site: 'wrap', cluster: { group: cluster.group, partitions: P } }), { qos: 1, retain: true }, () => r()));
      gwB = await Gateway.create({ config: parseGatewayConfig({ ...base, gatewayId: 'gw-b', broker: { url: rig.mq.url, reconnectMs: 100 }, cluster }), models: { imu: rig.model }, logger: memoryLogger('warn') });
      const b = gwB;
      await waitFor(() => script !== null, 'gw-b to announce READY for the partition');
      await script;
      await waitFor(() => b.streams.get(key)?.lastSeq === seqOf(MESSAGES - 1) && b.streams.get(key)!.queued === 0, 'gw-b to step every message', 30_000);
      const c = b.metrics.counters;
      expect(c.resets_total ?? 0).toBe(0);
      expect(c.missing_total ?? 0).toBe(0);
      expect(c.duplicates_total ?? 0).toBe(0);
      const s = rig.model.session();
      for (let t = 0; t < x.length / IMU_CHANNELS; t++) s.step(x.subarray(t * IMU_CHANNELS, (t + 1) * IMU_CHANNELS));
      expect(b.streams.get(key)!.session.exportState()).toEqual(s.exportState());
      s.dispose();
    } finally {
      // gw-a goes away first (its status cleared): gw-b then stops alone, handing nothing over.
      await new Promise<void>((r) => peer.publish(topicsA.status, '', { qos: 1, retain: true }, () => r()));
      if (gwB) {
        const b = gwB;
        await waitFor(() => !b.cluster!.members_().includes('gw-a'), 'gw-b to see gw-a gone', 10_000).catch(() => {});
        await b.stop();
      }
      peer.end(true);
    }
  });
});
