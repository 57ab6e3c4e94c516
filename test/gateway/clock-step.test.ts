/**
 * The wall clock stepping back while the gateway runs (NTP correcting a clock that ran ahead, a
 * Raspberry Pi without a real-time clock, `date -s`). Timers keep their pace, but times compared
 * with the clock's now() come from the future: a gap held for a late message waited until the
 * wall clock caught up again (an hour later for a one-hour step), not `reorderTimeoutMs`, and the
 * device's messages behind it waited with it. An alert the broker refused (sent again `retryMs`
 * after the refusal) waited the same way: hours for an alert, whose whole point is to go out.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock, type TimerHandle } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { TraceTransport, type PublishOptions } from '../../src/gateway/transport.js';
import { EdgeRnnError } from '../../src/errors.js';
import { IMU_CHANNELS, imuGatewayConfig, imuModelAndGateways, imuSignal } from './fixtures.js';

/** A wall clock that can be stepped, over monotonic timers (as Date.now() over setTimeout). */
class SteppedClock implements Clock {
  readonly timers = new ManualClock(1_700_000_000_000);
  offsetMs = 0;
  now(): number {
    return this.timers.now() + this.offsetMs;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.timers.setTimeout(fn, ms);
  }
  clearTimeout(h: TimerHandle | null | undefined): void {
    this.timers.clearTimeout(h);
  }
}

describe('the wall clock stepping back', () => {
  const ctx = imuModelAndGateways();

  it('a held gap is still given up reorderTimeoutMs after the step, not when the clock catches up', async () => {
    const clock = new SteppedClock();
    const tr = new TraceTransport();
    const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '', limits: { reorderWindow: 8, reorderTimeoutMs: 500 } });
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr, logger: memoryLogger('error'), stateStore: memoryStateStore() });
    ctx.gateways.push(gw);
    const x = imuSignal(30, 9);
    const topic = gw.topics.sensor('pump-7', 'imu');
    tr.deliver(topic, encodeJson(x.subarray(0, 10 * IMU_CHANNELS), IMU_CHANNELS, { seq: 0 }));
    clock.timers.advance(50);
    tr.deliver(topic, encodeJson(x.subarray(20 * IMU_CHANNELS), IMU_CHANNELS, { seq: 2 }));
    clock.timers.advance(50);
    expect(gw.metrics.counters.frames_total).toBe(10); // seq 2 waits for seq 1
    clock.offsetMs = -3_600_000; // NTP steps the clock back an hour
    clock.timers.advance(2000);
    expect(gw.metrics.counters.missing_total).toBe(1);
    expect(gw.metrics.counters.frames_total).toBe(20);
  });

  it('an alert the broker refused is sent again retryMs after the refusal, not when the clock catches up', async () => {
    const clock = new SteppedClock();
    /** Refuses the first alert publish, as a broker's 0x87 Not authorized. */
    class RefusingOnce extends TraceTransport {
      refused = 0;
      override publish(topic: string, payload: Uint8Array | string, opts: PublishOptions): Promise<void> {
        if (topic.endsWith('/alerts') && this.refused++ === 0) return Promise.reject(new EdgeRnnError('GATEWAY_TRANSPORT', 'publish: Not authorized'));
        return super.publish(topic, payload, opts);
      }
    }
    const tr = new RefusingOnce();
    const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '', outbox: { retryMs: 1000 } });
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr, logger: memoryLogger('error'), stateStore: memoryStateStore() });
    ctx.gateways.push(gw);
    tr.deliver(gw.topics.sensor('pump-7', 'imu'), encodeJson(imuSignal(40, 3, [[10, 25]]), IMU_CHANNELS, { seq: 0 }));
    for (let i = 0; i < 20 && tr.refused === 0; i++) {
      clock.timers.advance(10);
      await gw.settled();
      await new Promise((r) => setImmediate(r));
    }
    expect(tr.refused).toBe(1);
    await new Promise((r) => setImmediate(r)); // the refusal is handled
    clock.offsetMs = -3_600_000; // NTP steps the clock back an hour
    for (let i = 0; i < 30 && gw.metrics.counters.alerts_acked_total === 0; i++) {
      clock.timers.advance(100);
      await new Promise((r) => setImmediate(r));
    }
    expect(gw.metrics.counters.alerts_acked_total).toBeGreaterThan(0);
  });
});
