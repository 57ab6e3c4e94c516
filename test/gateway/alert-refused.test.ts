/**
 * Alerts a real broker refuses (mosquitto's ACL, MQTT 5 PUBACK 0x87): each refused topic is tried
 * again with one alert, backing off, and its alerts go out in order once allowed. Every pending
 * alert used to be sent again retryMs after its own refusal, for ever: with 50,000 pending, 39,000
 * refused publishes and 5.7 s of gateway CPU in 10 s, and they arrived out of order once allowed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { MemoryOutbox } from '../../src/gateway/outbox.js';
import { connectClient, imuGatewayConfig, imuModelBytes, mosquittoAvailable, startMosquitto, subscribeAsync, tmpDir, waitFor } from './fixtures.js';

/** `n` pending alerts over `devices` devices (one alerts topic each), oldest first. */
function pendingAlerts(n: number, devices: number): Alert[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `a${String(i).padStart(6, '0')}`,
    site: 'home',
    device: `d${i % devices}`,
    sensor: 'imu',
    gateway: 'gw',
    model: { name: 'imu', version: '1', sha256: 'x' },
    detector: 'threshold',
    label: 'impact',
    score: 1,
    ts: new Date(i).toISOString(),
    tsMs: i,
    frameIndex: i,
    evidence: { fromMs: i, toMs: i, inputs: [], scores: [] },
  }));
}

describe.skipIf(mosquittoAvailable() !== null)('alerts mosquitto refuses (ACL, MQTT 5)', () => {
  it('a few probes per topic while refused, not every alert at every retry; once allowed, every alert once, each topic in order', { timeout: 60_000 }, async () => {
    const dir = tmpDir();
    fs.chmodSync(dir, 0o755);
    const acl = path.join(dir, 'acl');
    const conf = (allowAlerts: boolean) => {
      // mosquitto started as root drops to user "mosquitto": the file must be world-readable.
      fs.writeFileSync(acl, `topic readwrite edgernn/home/+/imu\ntopic readwrite edgernn/home/_gateway/#\ntopic ${allowAlerts ? 'readwrite' : 'read'} edgernn/home/+/alerts\n`);
      fs.chmodSync(acl, 0o644);
      return `allow_anonymous true\nacl_file ${acl}`;
    };
    const mq = await startMosquitto(conf(false));
    const model = await (await createRuntime()).load(imuModelBytes());
    const alerts = pendingAlerts(600, 3);
    const outbox = new MemoryOutbox({});
    outbox.add(alerts);
    const consumer = await connectClient(mq.url, { clientId: 'consumer', protocolVersion: 5 });
    const got: Alert[] = [];
    consumer.on('message', (_t, p) => got.push(JSON.parse(p.toString()) as Alert));
    await subscribeAsync(consumer, 'edgernn/home/+/alerts');
    const gw = await Gateway.create({ config: imuGatewayConfig(mq.url, { site: 'home', stateDir: '', outbox: { retryMs: 300 } }), models: { imu: model }, logger: memoryLogger('error'), outbox });
    try {
      const refused = () => gw.metrics.counters.alerts_publish_errors_total;
      await waitFor(() => refused() > 0, 'the first refusals');
      // 2 s of refusals: the first round (at most maxInFlight, 64) and then one alert per topic
      // 300, 600, 1200... ms after each refusal: about 3 per topic. Sent again every 300 ms, it
      // was all 600 alerts, about 7 times.
      await new Promise((r) => setTimeout(r, 2000));
      // (Bounded loosely: a PUBACK slower than retryMs on a busy machine has its alert sent again.)
      expect(refused()).toBeLessThanOrEqual(2 * 64 + 3 * 8);
      expect(got).toEqual([]);
      expect(gw.outboxDepth).toBe(600);
      await mq.reload(conf(true));
      await waitFor(() => gw.outboxDepth === 0, 'every alert to be delivered once allowed', 20_000);
      await waitFor(() => got.length >= 600, 'the consumer to receive them');
      // (A PUBACK slower than retryMs on a busy machine has its alert sent again: copies are allowed.)
      const first = [...new Map(got.map((a) => [a.id, a])).keys()];
      expect(first).toHaveLength(600);
      for (const d of ['d0', 'd1', 'd2']) {
        const ids = first.filter((id) => alerts[Number(id.slice(1))]!.device === d);
        expect(ids).toEqual(alerts.filter((a) => a.device === d).map((a) => a.id));
      }
    } finally {
      consumer.end(true);
      await gw.stop();
      await mq.stop();
      model.dispose();
    }
  });
});
