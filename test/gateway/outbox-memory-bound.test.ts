/**
 * Alerts held in memory because the outbox's disk failed during the run are bounded by the same
 * outbox.maxAlerts / outbox.maxBytes as the outbox: the oldest are dropped (counted in
 * outbox_dropped_total, never published afterwards), with one warning per episode. Unbounded, a
 * disk that failed during a long broker outage filled the memory instead. The outbox is a real
 * FileOutbox behind a switch that makes its writes fail (as in outbox-failure.test.ts: a disk
 * cannot be failed for real here, tests run as root); the transport is the in-process one,
 * refusing alerts while the "broker" is away.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { FileOutbox } from '../../src/gateway/outbox.js';
import { topicMatches } from '../../src/gateway/transport.js';
import { failingDiskRig } from './failing-disk.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts, waitFor } from './fixtures.js';

let model: Model;
const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
  model?.dispose();
});

describe('alerts held in memory after a disk failure', () => {
  it('are bounded by outbox.maxAlerts: the oldest dropped and counted, one warning, the newest delivered (they used to pile up without bound)', { timeout: 30_000 }, async () => {
    model = await (await createRuntime()).load(imuModelBytes());
    const MAX = 2;
    const { inner, sw, clock, tr, logger, gw } = await failingDiskRig(model, { outbox: { retryMs: 1000, maxAlerts: MAX } });
    gateways.push(gw);
    const raised: string[] = [];
    gw.on('alert', (a) => raised.push(a.id));

    sw.failing = true;
    tr.refuse = true;
    const x = imuSignal(600, 5, [[50, 60], [150, 160], [250, 260], [350, 360], [450, 460]]);
    const want = oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: clock.now() }).map((a) => a.id);
    expect(want.length).toBeGreaterThanOrEqual(MAX + 2);
    for (let m = 0; m * 20 * IMU_CHANNELS < x.length; m++) {
      tr.deliver(gw.topics.sensor('d1', 'imu'), encodeJson(x.subarray(m * 20 * IMU_CHANNELS, (m + 1) * 20 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
      clock.advance(5);
      await gw.settled();
    }
    await waitFor(() => raised.length === want.length, 'every alert raised', 10_000);
    expect(raised).toEqual(want);
    expect(inner.depth).toBe(0); // nothing reached the disk
    expect(gw.outboxDepth).toBe(MAX);
    expect(gw.metrics.counters.outbox_dropped_total).toBe(want.length - MAX);
    const warnings = logger.lines.filter((l) => l.msg === 'outbox full: dropping the oldest unacknowledged alerts');
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', heldInMemory: true, limit: 'outbox.maxAlerts', maxAlerts: MAX });

    // The broker accepts again: only the newest MAX alerts go out; the dropped ones never do.
    tr.refuse = false;
    const before = tr.published.length;
    clock.advance(1000);
    await waitFor(() => gw.outboxDepth === 0, 'the alerts held in memory to be acknowledged', 10_000);
    const published = tr.published.slice(before).filter((p) => topicMatches(tr.alertsFilter, p.topic)).map((p) => (JSON.parse(new TextDecoder().decode(p.payload)) as Alert).id);
    expect([...new Set(published)].sort()).toEqual(want.slice(-MAX).sort());
  });
});
