/**
 * An alert's frameIndex is the stream's position (1-based) of the frame that raised it, so a user
 * can map it back to the data: frames a full queue dropped count too. (Counting only the frames
 * stepped, an alert after a flood named a frame thousands of samples before the one that raised
 * it.) Windowed front ends: tested in features.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { encodeJson } from '../../src/gateway/codecs.js';
import { IMU_CHANNELS, imuModelAndGateways, imuSignal } from './fixtures.js';

describe('frameIndex under backpressure', () => {
  const ctx = imuModelAndGateways();

  it('counts the frames a full queue dropped (front end "none": frameIndex i + 1 for sample i)', async () => {
    const { gw, tr, clock } = await ctx.onTrace({ limits: { maxQueuedFrames: 16 } });
    const x = imuSignal(100, 3, [[90, 96]]);
    tr.deliver(gw.topics.sensor('arm', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    clock.advance(10);
    const c = gw.metrics.counters;
    expect([c.frames_total, c.dropped_frames_total]).toEqual([16, 84]);
    expect(gw.streams.get('arm/imu')!.frameIndex).toBe(100);
    // The next sample is sample 100: frameIndex 101.
    tr.deliver(gw.topics.sensor('arm', 'imu'), encodeJson(imuSignal(1, 4), IMU_CHANNELS, { seq: 1 }));
    clock.advance(10);
    expect(gw.streams.get('arm/imu')!.frameIndex).toBe(101);
  });
});
