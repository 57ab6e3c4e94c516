/**
 * Memory per device stream: the frame queue grows on demand. It was allocated whole at stream
 * creation (maxQueuedFrames x (frame + times + flags): 49,000 bytes per IMU device at the default
 * 1000 frames, 490 MB at the default 10,000 devices; measured through the embedded broker: 65 KB
 * of RSS per stream, 50 KB of it array buffers). Growing keeps the same bound and the same
 * backpressure: a flooding device still loses its oldest frames, counted, the newest in order.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import type { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { QUEUE_INITIAL_FRAMES } from '../../src/gateway/stream.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, publishAsync, startJobGateway, waitFor } from './fixtures.js';

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

/** Bytes a queued IMU frame takes: 6 float32 values, three float64 times and a flags byte. */
const FRAME_BYTES = IMU_CHANNELS * 4 + 3 * 8 + 1;

describe('the per-stream frame queue', () => {
  it('holds QUEUE_INITIAL_FRAMES frames per device until one needs more; grows to maxQueuedFrames under a flood and drops the oldest, in order', async () => {
    const job = await startJobGateway({ model, route: { sensor: 'imu', codec: 'json', detector: IMU_DETECTOR }, deviceId: 'devices', t0: 1_700_000_000_000 });
    try {
      const { gw } = job;
      const x = imuSignal(10, 1);
      let sent = 0;
      const send = async (device: string, samples: Float32Array, seq: number) => {
        await publishAsync(job.dev, gw.topics.sensor(device, 'imu'), encodeJson(samples, IMU_CHANNELS, { seq }));
        sent++;
      };
      for (let d = 0; d < 100; d++) await send(`d${d}`, x, 0);
      await waitFor(() => gw.metrics.counters.messages_total === sent, '100 devices at the gateway');
      expect(gw.streams.size).toBe(100);
      for (const s of gw.streams.values()) {
        expect(s.queued).toBe(10);
        expect(s.queueBytes).toBe(QUEUE_INITIAL_FRAMES * FRAME_BYTES); // 784 bytes, was 49,000
      }
      (gw.clock as ManualClock).advance(5);
      expect(gw.metrics.counters.frames_total).toBe(1000);

      // A flood from d0 (its ring wrapped: 10 frames were taken from it): 1200 frames queued
      // without stepping; the queue grows to maxQueuedFrames (1000) and drops the oldest 200.
      const flood = imuSignal(1200, 2, [[1150, 1190]]);
      for (let m = 0; m < 12; m++) await send('d0', flood.subarray(m * 100 * IMU_CHANNELS, (m + 1) * 100 * IMU_CHANNELS), m + 1);
      await waitFor(() => gw.metrics.counters.messages_total === sent, 'the flood at the gateway');
      const s = gw.streams.get('d0/imu')!;
      expect(s.queued).toBe(1000);
      expect(s.queueBytes).toBe(1000 * FRAME_BYTES);
      expect(gw.metrics.counters.dropped_frames_total).toBe(200);
      gw.drainNow();
      // The frames stepped are the first message's and the newest 1000 of the flood, in order.
      const o = model.session();
      for (const [sig, from, to] of [[x, 0, 10], [flood, 200, 1200]] as const) for (let t = from; t < to; t++) o.step(sig.subarray(t * IMU_CHANNELS, (t + 1) * IMU_CHANNELS));
      expect(s.session.exportState()).toEqual(o.exportState());
      o.dispose();
      // Others keep their small queues.
      expect(gw.streams.get('d1/imu')!.queueBytes).toBe(QUEUE_INITIAL_FRAMES * FRAME_BYTES);
    } finally {
      await job.stop();
      fs.rmSync(job.gw.config.stateDir, { recursive: true, force: true });
    }
  });
});
