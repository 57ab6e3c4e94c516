/**
 * A gateway stopped while a stream holds messages ahead of a gap saves them with the stream's
 * state (as eviction does) instead of giving the gap up: after a restart on the same stateDir,
 * the late message still fills the gap, and a gap nobody fills is given up reorderTimeoutMs after
 * it began (before the stop), not after the restart. On the embedded broker (aedes), real state
 * files, a manual clock.
 */
import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { connectClient, IMU_CHANNELS, imuGatewayConfig, imuModelAndGateways, imuSessionState, imuSignal, publishAsync, tmpDir, waitFor } from './fixtures.js';

const PER = 10;
const T0 = 1_700_000_000_000;
const TIMEOUT_MS = 10_000;

describe('stop() with a held gap', () => {
  const ctx = imuModelAndGateways();
  const x = imuSignal(10 * PER, 5, [[30, 45]]);
  const message = (m: number) => encodeJson(x.subarray(m * PER * IMU_CHANNELS, (m + 1) * PER * IMU_CHANNELS), IMU_CHANNELS, { seq: m });
  const clients: MqttClient[] = [];

  const start = async (stateDir: string, clock: ManualClock) => {
    const config = imuGatewayConfig('embedded', { site: 'home', gatewayId: 'gw1', stateDir, limits: { reorderWindow: 4, reorderTimeoutMs: TIMEOUT_MS, maxGap: 2 } });
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, logger: memoryLogger('warn') });
    ctx.gateways.push(gw);
    const dev = await connectClient(gw.broker!.url, { clientId: 'dev' });
    clients.push(dev);
    return { gw, dev, send: (m: number) => publishAsync(dev, gw.topics.sensor('pump', 'imu'), message(m)) };
  };
  const end = async (gw: Gateway) => {
    for (const c of clients.splice(0)) c.end(true);
    await gw.stop();
    ctx.gateways.splice(ctx.gateways.indexOf(gw), 1);
  };

  it('saves the messages ahead of the gap; the late message after a restart fills it (the gap used to be given up at stop)', { timeout: 30_000 }, async () => {
    const stateDir = tmpDir();
    const a = await start(stateDir, new ManualClock(T0));
    for (const m of [0, 1, 2, 3, 4, 6, 7]) await a.send(m);
    await waitFor(() => a.gw.streams.get('pump/imu')?.lastSeq === 4 && a.gw.streams.get('pump/imu')!.heldCount === 2, 'messages 0..4 taken, 6 and 7 held');
    await end(a.gw);
    expect(a.gw.metrics.counters.missing_total ?? 0).toBe(0);

    // Restarted within the timeout of the gap: message 5 comes late and fills it.
    const clock = new ManualClock(T0 + TIMEOUT_MS / 2);
    const b = await start(stateDir, clock);
    await b.send(5);
    await waitFor(() => b.gw.streams.get('pump/imu')?.lastSeq === 7, 'messages 5..7 taken');
    for (const m of [8, 9]) await b.send(m);
    await waitFor(() => b.gw.streams.get('pump/imu')?.lastSeq === 9, 'messages 8, 9 taken');
    b.gw.drainNow();
    const c = b.gw.metrics.counters;
    expect(c.state_restores_total).toBe(1);
    expect(c.missing_total ?? 0).toBe(0);
    expect(c.duplicates_total ?? 0).toBe(0);
    expect(b.gw.streams.get('pump/imu')!.session.exportState()).toEqual(imuSessionState(ctx.model, x));
  });

  it('a saved gap nobody fills is given up reorderTimeoutMs after it began, counting the time before the stop', { timeout: 30_000 }, async () => {
    const stateDir = tmpDir();
    const a = await start(stateDir, new ManualClock(T0));
    for (const m of [0, 1, 2, 3, 4, 6, 7]) await a.send(m);
    await waitFor(() => a.gw.streams.get('pump/imu')?.heldCount === 2, '6 and 7 held');
    await end(a.gw);

    // Restarted past the gap's timeout: the device's next message brings the stream back, and the
    // next maintenance tick gives the gap up (counted), without waiting another timeout.
    const clock = new ManualClock(T0 + TIMEOUT_MS + 1);
    const b = await start(stateDir, clock);
    await b.send(8);
    await waitFor(() => b.gw.streams.get('pump/imu')?.heldCount === 3, '8 held behind the saved gap', 10_000);
    clock.advance(1000); // one tick (reorderTimeoutMs / 2 at most 1 s)
    const s = b.gw.streams.get('pump/imu')!;
    expect(s.heldCount).toBe(0);
    expect(s.lastSeq).toBe(8);
    expect(b.gw.metrics.counters.missing_total).toBe(1);
  });
});
