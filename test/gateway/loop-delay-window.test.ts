/**
 * event_loop_delay_seconds is over a recent window (LOOP_DELAY_WINDOW_MS, the last one to two of
 * them), as docs/gateway.md says of its summaries. It covered the whole run: after one overload
 * its p99 stayed high for the life of the process (0.4 s half a minute after a 30 s flood had
 * ended, the loop idle), so the metric never showed the gateway had recovered.
 */
import { describe, expect, it } from 'vitest';
import { LOOP_DELAY_WINDOW_MS } from '../../src/gateway/gateway.js';
import { imuModelAndGateways } from './fixtures.js';

const BLOCK_MS = 800;
const realMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event-loop delay metric', () => {
  const ctx = imuModelAndGateways();

  it('shows a stall for one to two windows, then forgets it', { timeout: 30_000 }, async () => {
    const { gw, clock } = await ctx.onTrace();
    const maxMs = () => gw.metrics.loopDelay!.percentile(100) / 1e6;
    // (The histogram records from its second tick on.)
    await realMs(50);
    const until = performance.now() + BLOCK_MS;
    while (performance.now() < until);
    await realMs(50);
    expect(maxMs()).toBeGreaterThan(BLOCK_MS / 2);
    const p99 = /event_loop_delay_seconds\{quantile="0.99"\} (\S+)/.exec(gw.metrics.prometheus({}))![1]!;
    expect(Number(p99)).toBeGreaterThan(BLOCK_MS / 2 / 1000);
    // The next window begins: the stall is still in the one before.
    clock.advance(LOOP_DELAY_WINDOW_MS);
    await realMs(50);
    expect(maxMs()).toBeGreaterThan(BLOCK_MS / 2);
    // And the one after: gone.
    clock.advance(LOOP_DELAY_WINDOW_MS);
    await realMs(50);
    expect(maxMs()).toBeLessThan(BLOCK_MS / 2);
    expect(gw.metrics.loopDelay!.count).toBeGreaterThan(0);
  });
});
