/**
 * examples/gateway/three-jobs.json: the shipped models behind one gateway from JSON alone (the
 * job detectors and front ends are built in). Loads the file the way `edgernn gateway --config`
 * does, starts it on the embedded broker, and streams a little of each sensor through it.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENCODERS, encodeBinary } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { loadGatewayConfig } from '../../src/gateway/load-config.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { connectClient, publishAsync, tmpDir, waitFor } from '../gateway/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('examples/gateway/three-jobs.json', () => {
  it('starts all three jobs from the config file and steps each sensor', async () => {
    const config = { ...loadGatewayConfig('examples/gateway/three-jobs.json', {}, ROOT), stateDir: tmpDir() };
    const logger = memoryLogger('info');
    const gw = await Gateway.create({ config, logger });
    const dev = await connectClient(gw.broker!.url, { clientId: 'dev' });
    try {
      const started = logger.lines.find((l) => l.msg === 'gateway started') as unknown as { routes: { sensor: string; detector: string }[] };
      expect(started.routes.map((r) => [r.sensor, r.detector])).toEqual([
        ['wrist', 'har'],
        ['mic', 'kws'],
        ['meter', 'anomaly'],
      ]);
      // 5 s of a still wrist (6-bit codes), 2 s of quiet audio (two messages), 50 meter readings.
      const wrist = Array.from({ length: 160 * 3 }, (_, i) => [31, 40, 21][i % 3]!);
      await publishAsync(dev, gw.topics.sensor('alice', 'wrist'), ENCODERS.json(wrist, 3, { seq: 0, rateHz: 32 }));
      const audio = new Float32Array(32000).map((_, i) => 0.01 * Math.sin(i / 7));
      for (const seq of [0, 1]) await publishAsync(dev, gw.topics.sensor('alice', 'mic'), encodeBinary(audio.subarray(seq * 16000, (seq + 1) * 16000), 1, { seq, rateHz: 16000, type: 'int16' }));
      await publishAsync(dev, gw.topics.sensor('alice', 'meter'), ENCODERS.json(Array.from({ length: 50 }, (_, i) => 10 + Math.sin(i / 5)), 1, { seq: 0 }));
      await waitFor(() => gw.metrics.counters.messages_total === 4, '4 messages at the gateway');
      gw.drainNow();
      // kws: 2 s → 99 MFCC frames → 5 sliding windows of 75 frames (1.5 s every 100 ms: the
      // model's input.frontend.windows); anomaly: 50 steps; har: one 4 s window of 64 frames (the
      // resampler's delay holds back the rest of the 5 s until more samples come).
      const expected = 5 * 75 + 50 + 64;
      await waitFor(() => gw.metrics.counters.frames_total >= expected, 'frames stepped on every route');
      expect(gw.metrics.counters.frames_total).toBe(expected);
      expect(gw.metrics.counters.decode_errors_total).toBe(0);
      expect(gw.metrics.counters.dropped_samples_total).toBe(0);
    } finally {
      dev.end(true);
      await gw.stop();
    }
  });
});
