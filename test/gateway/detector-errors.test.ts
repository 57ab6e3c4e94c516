/**
 * A detector that throws (a plug-in's bug, an output it refuses) must not end the pump: the other
 * devices' streams go on, the throwing stream's detector is reset, and the error is counted.
 * Before, the exception left the pump (a timer callback under the system clock: the process ended).
 */
import { expect, it } from 'vitest';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import type { DetectorFactory } from '../../src/gateway/detectors.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, imuModelAndGateways } from './fixtures.js';

const T0 = 1_700_000_000_000;
const rig = imuModelAndGateways();

/** Fires on every frame whose first input is above 5; throws on frames whose first input is 42. */
const touchy: DetectorFactory = () => {
  let resets = 0;
  return {
    lastScore: 0,
    step(_output, input) {
      if (input[0] === 42) throw new Error('cannot score this frame');
      return input[0]! > 5 ? { label: 'high', score: 1 } : null;
    },
    reset() {
      resets++;
    },
    exportState: () => ({ resets }),
    importState() {},
  };
};

function frames(n: number, first: number): Float32Array {
  const x = new Float32Array(n * IMU_CHANNELS);
  for (let t = 0; t < n; t++) x[t * IMU_CHANNELS] = first;
  return x;
}

for (const maxBatch of [1, 64]) {
  it(`a detector that throws on one device's frames: the others are served, the error counted and logged (maxBatch ${maxBatch})`, async () => {
    const clock = new ManualClock(T0);
    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const config = parseGatewayConfig({
      site: 's',
      models: { imu: 'imu.ern' },
      routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: { kind: 'touchy' } }],
      stateDir: '',
      metrics: { intervalMs: 0 },
      limits: { maxBatch },
    });
    const gw = await Gateway.create({ config, models: { imu: rig.model }, clock, transport: tr, logger, stateStore: memoryStateStore(), detectors: { touchy } });
    rig.gateways.push(gw);
    const alerts: Alert[] = [];
    gw.on('alert', (a) => alerts.push(a));
    for (let i = 0; i < 3; i++) {
      tr.deliver(gw.topics.sensor('bad', 'imu'), encodeJson(frames(2, 42), IMU_CHANNELS, { seq: i }));
      tr.deliver(gw.topics.sensor('good', 'imu'), encodeJson(frames(2, 9), IMU_CHANNELS, { seq: i }));
      expect(() => clock.advance(5)).not.toThrow();
    }
    clock.advance(5);
    expect(gw.metrics.counters.detector_errors_total).toBe(6);
    expect(gw.metrics.counters.frames_total).toBe(12);
    expect(alerts.filter((a) => a.device === 'good').length).toBe(6);
    expect(alerts.filter((a) => a.device === 'bad').length).toBe(0);
    const errs = logger.lines.filter((l) => l.msg === 'detector failed, reset');
    expect(errs.length).toBe(6);
    expect(errs[0]).toMatchObject({ device: 'bad', sensor: 'imu', error: 'cannot score this frame' });
    const bad = [...gw.streams.values()].find((s) => s.device === 'bad')!;
    expect(bad.detector.exportState()).toEqual({ resets: 6 });
  });
}
