/**
 * Stream states the gateway did not write: a hand-off or checkpoint comes over MQTT (any client
 * with publish rights may send one), a state file from disk. An evidence window count of 100,000
 * in a 32-frame window made the next alert carry 100,000 frames (1e9: a billion, the memory gone);
 * a head past the window threw a RangeError from every step of the stream.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, imuGatewayConfig, imuModelAndGateways, imuSignal, waitFor } from './fixtures.js';

/** The state bytes with their JSON header changed by `edit` (u32 LE header length, header, the rest). */
function editHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => void): Uint8Array {
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0, true);
  const h = JSON.parse(Buffer.from(bytes.subarray(4, 4 + hl)).toString('utf8')) as Record<string, unknown>;
  edit(h);
  const hj = Buffer.from(JSON.stringify(h));
  const out = new Uint8Array(4 + hj.length + bytes.length - 4 - hl);
  new DataView(out.buffer).setUint32(0, hj.length, true);
  out.set(hj, 4);
  out.set(bytes.subarray(4 + hl), 4 + hj.length);
  return out;
}

describe('untrusted stream states', () => {
  const ctx = imuModelAndGateways();

  for (const [what, evidence] of [
    ['a count of 100,000 in a 32-frame window', { count: 100_000 }],
    ['a head past the window', { head: 1_000_000 }],
    ['a head that is not a number', { head: 'x' }],
  ] as const) {
    it(`a saved state whose evidence window has ${what} is not used, and the device's alerts carry at most 32 frames`, async () => {
      const store = memoryStateStore();
      const clock = new ManualClock(1_700_000_000_000);
      const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '' });
      const topic = (gw: Gateway) => gw.topics.sensor('pump-7', 'imu');
      const tr1 = new TraceTransport();
      const gw1 = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr1, logger: memoryLogger('error'), stateStore: store });
      ctx.gateways.push(gw1);
      tr1.deliver(topic(gw1), encodeJson(imuSignal(40, 1), IMU_CHANNELS, { seq: 0 }));
      clock.advance(100);
      await gw1.stop();
      ctx.gateways.length = 0;
      const saved = store.map.get('pump-7/imu');
      expect(saved).toBeDefined();
      store.save('pump-7/imu', editHeader(saved!, (h) => Object.assign(h.evidence as object, evidence)));

      const tr = new TraceTransport();
      const logger = memoryLogger('warn');
      const gw2 = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr, logger, stateStore: store });
      ctx.gateways.push(gw2);
      const alerts: Alert[] = [];
      gw2.on('alert', (a) => alerts.push(a));
      tr.deliver(topic(gw2), encodeJson(imuSignal(40, 2, [[10, 30]]), IMU_CHANNELS, { seq: 1 }));
      clock.advance(100);
      expect(gw2.metrics.counters.state_errors_total).toBe(1);
      expect(logger.lines.find((l) => l.msg === 'saved stream state not used')?.error).toMatch(/evidence window head .* and count .*: expected integers in 0\.\.31 and 0\.\.32/);
      expect(gw2.metrics.counters.frames_total).toBe(40);
      await waitFor(() => alerts.length > 0, 'an alert');
      for (const a of alerts) expect(a.evidence.inputs.length).toBeLessThanOrEqual(32);
    });
  }
});

describe('untrusted stream states: the device rate', () => {
  const ctx = imuModelAndGateways();

  it('a saved state whose device rate would be resampled 5,000 times up (a hand-off with rateHz 0.01 to a 50 Hz model) is not used', async () => {
    // A payload announcing that rate is dead-lettered (upsampleError); the state carried it past
    // that check: each sample became 5,000 frames (1e-6 Hz: 5e7 frames, 1.2 GB allocated at once).
    const store = memoryStateStore();
    const clock = new ManualClock(1_700_000_000_000);
    const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '' });
    const tr1 = new TraceTransport();
    const gw1 = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr1, logger: memoryLogger('error'), stateStore: store });
    ctx.gateways.push(gw1);
    tr1.deliver(gw1.topics.sensor('pump-7', 'imu'), encodeJson(imuSignal(40, 1), IMU_CHANNELS, { seq: 0 }));
    clock.advance(100);
    await gw1.stop();
    ctx.gateways.length = 0;
    store.save('pump-7/imu', editHeader(store.map.get('pump-7/imu')!, (h) => (h.deviceRateHz = 0.01)));

    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const gw2 = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr, logger, stateStore: store });
    ctx.gateways.push(gw2);
    tr.deliver(gw2.topics.sensor('pump-7', 'imu'), encodeJson(imuSignal(40, 2), IMU_CHANNELS, { seq: 1 }));
    clock.advance(100);
    expect(gw2.metrics.counters.state_errors_total).toBe(1);
    expect(logger.lines.find((l) => l.msg === 'saved stream state not used')?.error).toMatch(/device rate 0\.01 Hz would be resampled to the front end's 50 Hz/);
    expect(gw2.metrics.counters.dropped_frames_total).toBe(0);
    expect(gw2.metrics.counters.frames_total).toBe(40);
  });
});
