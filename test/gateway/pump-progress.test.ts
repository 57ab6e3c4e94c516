/**
 * Every stepping round makes progress, whatever its time budget: with the budget already spent
 * when a round begins (stepBudgetMs 0 here; 1 ms on a loaded machine), a round used to step
 * nothing and reschedule itself at once, forever; on a manual clock, whose zero-delay timers fire
 * within the same advance(), that advance() never returned. The clock below counts the timers it
 * is asked for and throws past a bound, so the old behaviour fails the test instead of hanging it.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type TimerHandle } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, imuGatewayConfig, imuModelAndGateways, imuSessionState, imuSignal } from './fixtures.js';

/** A manual clock that refuses more than `max` timers: a round that never makes progress sets them without end. */
class BoundedClock extends ManualClock {
  set = 0;
  constructor(
    startMs: number,
    private readonly max: number,
  ) {
    super(startMs);
  }
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    if (++this.set > this.max) throw new Error(`more than ${this.max} timers set: a stepping round that makes no progress reschedules itself forever`);
    return super.setTimeout(fn, ms);
  }
}

describe('pump progress', () => {
  const ctx = imuModelAndGateways();

  it('steps every queued frame with a time budget of 0 on a manual clock (a round used to step nothing, forever)', { timeout: 30_000 }, async () => {
    const PER = 20;
    const DEVICES = 5;
    const MESSAGES = 4;
    const clock = new BoundedClock(1_700_000_000_000, 10_000);
    const tr = new TraceTransport();
    // maxBatch 2: several kernel calls per pass.
    const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir: '', limits: { maxBatch: 2 } });
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, transport: tr, logger: memoryLogger('warn'), stateStore: memoryStateStore(), stepBudgetMs: 0 });
    ctx.gateways.push(gw);
    const xs = Array.from({ length: DEVICES }, (_, d) => imuSignal(MESSAGES * PER, 40 + d, [[10, 25]]));
    for (let m = 0; m < MESSAGES; m++) {
      for (let d = 0; d < DEVICES; d++) tr.deliver(gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(xs[d]!.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
    }
    clock.advance(100);
    expect(gw.metrics.counters.frames_total).toBe(DEVICES * MESSAGES * PER);
    for (let d = 0; d < DEVICES; d++) {
      const s = gw.streams.get(`dev-${d}/imu`)!;
      expect(s.queued).toBe(0);
      expect(s.session.exportState(), `dev-${d}`).toEqual(imuSessionState(ctx.model, xs[d]!));
    }
  });
});
