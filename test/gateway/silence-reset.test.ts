/**
 * routes[].maxSilenceMs: a device that sleeps between bursts (a battery node awake 2 s every 10
 * minutes) had each burst stitched onto the last one's model state, front-end window and detector.
 * Two consecutive messages further apart than maxSilenceMs (device ts, else arrival time) now
 * start a new stream epoch, also when the stream was evicted and restored in between.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal } from './fixtures.js';

const T0 = 1_700_000_000_000;
let model: Model;
const gateways: Gateway[] = [];
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(async () => {
  for (const g of gateways) await g.stop();
  model?.dispose();
});

async function rig(route: Record<string, unknown>, limits: Record<string, unknown> = {}) {
  const clock = new ManualClock(T0);
  const tr = new TraceTransport();
  const logger = memoryLogger('info');
  const config = parseGatewayConfig({
    site: 's',
    models: { m: 'x' },
    routes: [{ sensor: 'imu', model: 'm', codec: 'json', detector: IMU_DETECTOR, ...route }],
    stateDir: '',
    metrics: { intervalMs: 0 },
    limits,
  });
  const gw = await Gateway.create({ config, models: { m: model }, clock, transport: tr, logger });
  gateways.push(gw);
  const x = imuSignal(4, 3);
  /** One message of 4 samples; `ts` as given (undefined: none), arriving `afterMs` after the previous one. */
  const send = (device: string, seq: number, tsMs: number | undefined, afterMs: number) => {
    clock.advance(afterMs);
    tr.deliver(gw.topics.sensor(device, 'imu'), encodeJson(x, IMU_CHANNELS, tsMs === undefined ? { seq } : { seq, tsMs }));
    clock.advance(5);
  };
  return { gw, logger, send, clock, resets: () => gw.metrics.counters.resets_total };
}

describe('routes[].maxSilenceMs', () => {
  it('device time: a message more than maxSilenceMs after the previous one resets the stream, once', async () => {
    const r = await rig({ maxSilenceMs: 60_000 });
    r.send('node', 0, T0, 0);
    r.send('node', 1, T0 + 1_000, 0); // arrives at once: device time decides
    expect(r.resets()).toBe(0);
    r.send('node', 2, T0 + 1_000 + 600_000, 0); // woke up 10 minutes later
    expect(r.resets()).toBe(1);
    r.send('node', 3, T0 + 602_000, 0);
    expect(r.resets()).toBe(1);
    expect(r.logger.lines.filter((l) => l.msg === 'stream reset after silence')).toEqual([expect.objectContaining({ device: 'node', sensor: 'imu', epoch: 1, silentMs: 600_000, maxSilenceMs: 60_000 })]);
  });

  it('arrival time when the messages carry no ts; exactly maxSilenceMs is not a silence', async () => {
    const r = await rig({ maxSilenceMs: 60_000 });
    r.send('node', 0, undefined, 0);
    r.send('node', 1, undefined, 59_995); // 60,000 ms after the previous one (which the rig followed by 5 ms)
    expect(r.resets()).toBe(0);
    r.send('node', 2, undefined, 120_000);
    expect(r.resets()).toBe(1);
  });

  it('holds across an eviction: the restored stream remembers its last message', async () => {
    const r = await rig({ maxSilenceMs: 60_000 }, { maxDevices: 1 });
    r.send('a', 0, T0, 0);
    r.send('b', 0, T0, 0); // evicts a (state saved)
    r.send('a', 1, T0 + 3_600_000, 0); // restored, an hour later in device time
    expect(r.gw.metrics.counters.state_restores_total).toBeGreaterThanOrEqual(1);
    expect(r.resets()).toBe(1);
  });

  it('a saved last ts before 2000 (saved by a gateway that took ts 0 as device time) is no device time: no 54-year silence after the restore', async () => {
    const r = await rig({ maxSilenceMs: 60_000 });
    r.send('node', 0, T0, 0);
    const s = r.gw.streams.get('node/imu')!;
    const bytes = s.exportState();
    const hl = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as Record<string, unknown>;
    const hj = new TextEncoder().encode(JSON.stringify({ ...h, lastMessageTsMs: 0 }));
    const old = new Uint8Array(4 + hj.length + bytes.length - 4 - hl);
    new DataView(old.buffer).setUint32(0, hj.length, true);
    old.set(hj, 4);
    old.set(bytes.subarray(4 + hl), 4 + hj.length);
    s.importState(old);
    r.send('node', 1, T0 + 1_000, 0);
    expect(r.resets()).toBe(0);
  });

  it('without it, a long silence is stitched on as before (and a sequence-gap reset is not doubled)', async () => {
    const r = await rig({});
    r.send('node', 0, T0, 0);
    r.send('node', 1, T0 + 3_600_000, 0);
    expect(r.resets()).toBe(0);
    const g = await rig({ maxSilenceMs: 60_000 });
    g.send('node', 0, T0, 0);
    g.send('node', 100, T0 + 3_600_000, 0); // past limits.maxGap (16) and silent: one reset
    g.send('node', 101, T0 + 3_601_000, 0);
    g.clock.advance(5_000); // past reorderTimeoutMs: the gap is given up
    expect(g.gw.metrics.counters.missing_total).toBe(99);
    expect(g.resets()).toBe(1);
  });

  it('is checked in the config', () => {
    const base = { models: { m: 'x' }, routes: [{ sensor: 'imu', model: 'm', detector: IMU_DETECTOR, maxSilenceMs: 0 }] };
    expect(() => parseGatewayConfig(base, 'gw.json')).toThrow('gw.json: routes[0].maxSilenceMs must be a number in [1, 1000000000000], got 0');
  });
});
