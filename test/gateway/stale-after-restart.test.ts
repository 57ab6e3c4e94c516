/**
 * An old message (a redelivery of the run before a device restarted its counter) arriving after
 * the restart was confirmed, more than reorderWindow + 1 ahead of the new run: it was held as a
 * message ahead of a gap, and when the gap was given up (reorderTimeoutMs) the stream jumped to
 * it (a reset, the gap counted missing) and the device's next message looked like a restart
 * again (a second reset).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal } from './fixtures.js';

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

describe('a stale message after a confirmed restart', () => {
  it('is dropped as a duplicate once the new run goes on: one reset in all, nothing counted missing', async () => {
    const config = parseGatewayConfig({ site: 'home', models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], metrics: { intervalMs: 0 }, stateDir: '' });
    const tr = new TraceTransport();
    const clock = new ManualClock(1_700_000_000_000);
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger: memoryLogger('error'), stateStore: memoryStateStore() });
    try {
      const x = imuSignal(4, 1);
      const send = (seq: number) => {
        tr.deliver(gw.topics.sensor('d', 'imu'), encodeJson(x, IMU_CHANNELS, { seq }));
        clock.advance(500);
      };
      for (let seq = 0; seq <= 300; seq++) send(seq);
      send(0); // the device restarts its counter ...
      send(1); // ... confirmed: one reset
      expect(gw.metrics.counters.resets_total).toBe(1);
      send(295); // a redelivery of the old run
      for (let seq = 2; seq < 20; seq++) send(seq); // 9 s of the new run: past reorderTimeoutMs
      const c = gw.metrics.counters;
      expect({ resets: c.resets_total, missing: c.missing_total, duplicates: c.duplicates_total }).toEqual({ resets: 1, missing: 0, duplicates: 1 });
      expect(gw.streams.get('d/imu')!.lastSeq).toBe(19);
      expect(gw.streams.get('d/imu')!.heldCount).toBe(0);
      // A real jump of the new run into the old run's numbers (its messages 20..249 lost) is still a gap: given up, one reset, nothing dropped.
      const framesBefore = c.frames_total;
      for (let seq = 250; seq < 256; seq++) send(seq);
      expect({ resets: c.resets_total, missing: c.missing_total, duplicates: c.duplicates_total }).toEqual({ resets: 2, missing: 230, duplicates: 1 });
      expect(c.frames_total - framesBefore).toBe(6 * 4);
      expect(gw.streams.get('d/imu')!.lastSeq).toBe(255);
    } finally {
      await gw.stop();
    }
  });

  it('a redelivery of the new run, once it has passed where the old run stopped, is a duplicate: not stepped again (the old run was never forgotten)', async () => {
    const config = parseGatewayConfig({ site: 'home', models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], metrics: { intervalMs: 0 }, stateDir: '' });
    const tr = new TraceTransport();
    const clock = new ManualClock(1_700_000_000_000);
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger: memoryLogger('error'), stateStore: memoryStateStore() });
    try {
      const x = imuSignal(4, 2);
      const send = (seq: number) => {
        tr.deliver(gw.topics.sensor('d', 'imu'), encodeJson(x, IMU_CHANNELS, { seq }));
        clock.advance(20);
      };
      for (let seq = 0; seq <= 300; seq++) send(seq);
      // The device restarts its counter and sends 302 messages: its new run passes 300.
      for (let seq = 0; seq <= 301; seq++) send(seq);
      const c = gw.metrics.counters;
      expect(c.resets_total).toBe(1);
      const frames = c.frames_total;
      send(301); // a QoS 1 redelivery of the new run's last message
      send(300); // and of the one before
      expect({ duplicates: c.duplicates_total, frames: c.frames_total - frames, resets: c.resets_total }).toEqual({ duplicates: 2, frames: 0, resets: 1 });
      send(302);
      expect(c.frames_total - frames).toBe(4);
      expect(gw.streams.get('d/imu')!.lastSeq).toBe(302);
    } finally {
      await gw.stop();
    }
  });
});
