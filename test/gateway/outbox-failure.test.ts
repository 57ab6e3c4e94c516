/**
 * The disk under the alert outbox fails: alerts are still raised, published and held in memory
 * until the broker acknowledges them (retried while it refuses), the failure is logged with the
 * alert ids, and once the disk works again new alerts are written to it as before. The outbox is
 * a real FileOutbox behind a switch that makes its writes fail (a disk cannot be failed for
 * real here: tests run as root, and /dev/full cannot back a log that is read on open). A disk
 * filling up mid-append is real: a child process under a file size limit (ulimit -f), whose
 * writes past it are short, then fail with EFBIG.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { FileOutbox } from '../../src/gateway/outbox.js';
import { failingDiskRig } from './failing-disk.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts, tmpDir, waitFor } from './fixtures.js';

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

describe('the outbox disk fails', () => {
  it('alerts are still raised and delivered from memory, retried while refused; later alerts go to disk again', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const { inner, sw, clock, tr, logger, gw } = await failingDiskRig(model, { outbox: { retryMs: 1000 } });
    gateways.push(gw);
    const raised: Alert[] = [];
    gw.on('alert', (a) => raised.push(a));
    const published = () => tr.published.filter((p) => tr.isAlert(p.topic)).map((p) => (JSON.parse(new TextDecoder().decode(p.payload)) as Alert).id);
    // Each refused alert goes again retryMs after its own refusal (gateway clock), not later.
    const retryUntilEmpty = async () => {
      clock.advance(1000);
      await waitFor(() => gw.outboxDepth === 0, 'every alert to be acknowledged within retryMs of its refusal');
    };
    const send = (device: string, x: Float32Array) => {
      for (let m = 0; m * 20 * IMU_CHANNELS < x.length; m++) {
        tr.deliver(gw.topics.sensor(device, 'imu'), encodeJson(x.subarray(m * 20 * IMU_CHANNELS, (m + 1) * 20 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
        clock.advance(5);
      }
    };

    // 1. Disk failing and the broker refusing: alerts are raised all the same and wait in memory.
    sw.failing = true;
    tr.refuse = true;
    const x1 = imuSignal(300, 5, [[50, 60], [200, 215]]);
    const want1 = oracleAlerts(model, x1, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: clock.now() }).map((a) => a.id);
    expect(want1.length).toBeGreaterThanOrEqual(2);
    send('d1', x1);
    await waitFor(() => raised.length === want1.length && tr.refused >= want1.length, 'the alerts to be raised and refused once');
    expect(raised.map((a) => a.id)).toEqual(want1);
    const failed = logger.lines.filter((l) => l.msg === 'outbox write failed: alerts held in memory only');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.flatMap((l) => l.ids as string[]).sort()).toEqual([...want1].sort());
    expect(failed[0]!.level).toBe('error');
    expect(gw.outboxDepth).toBe(want1.length);
    expect(inner.depth).toBe(0); // nothing reached the disk

    // 2. The broker accepts again: the retry delivers every alert held in memory, once.
    tr.refuse = false;
    await retryUntilEmpty();
    expect([...new Set(published())].sort()).toEqual([...want1].sort());
    expect(logger.lines.some((l) => l.msg === 'alert not acknowledged, will retry')).toBe(true);

    // 3. The disk works again: the next alerts are durable before they are published, as usual.
    sw.failing = false;
    tr.refuse = true; // keep them pending so the log can be read
    const x2 = imuSignal(200, 9, [[100, 112]]);
    const want2 = oracleAlerts(model, x2, IMU_DETECTOR, { site: 's', device: 'd2', sensor: 'imu', streamStartMs: clock.now() }).map((a) => a.id);
    expect(want2.length).toBeGreaterThan(0);
    send('d2', x2);
    await waitFor(() => inner.depth === want2.length, 'the new alerts on disk');
    const log = fs.readFileSync(inner.file, 'utf8');
    for (const id of want2) expect(log).toContain(id);
    for (const id of want1) expect(log).not.toContain(id);
    tr.refuse = false;
    await retryUntilEmpty();
    expect([...new Set(published())].sort()).toEqual([...want1, ...want2].sort());
    model.dispose();
  });
});

describe('stop() with alerts held in memory only', () => {
  it('writes them to the outbox when the disk works again (they were lost with the process), or logs them as lost', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    for (const diskBack of [true, false]) {
      const { stateDir, inner, sw, clock, tr, logger, gw } = await failingDiskRig(model, {}, { drainTimeoutMs: 50 });
      const raised: string[] = [];
      gw.on('alert', (a) => raised.push(a.id));
      sw.failing = true;
      tr.refuse = true;
      tr.deliver(gw.topics.sensor('d1', 'imu'), encodeJson(imuSignal(100, 5, [[20, 40], [60, 80]]), IMU_CHANNELS, { seq: 0 }));
      clock.advance(5);
      await waitFor(() => raised.length > 0 && tr.refused >= raised.length, 'the alerts raised and refused');
      expect(inner.depth).toBe(0);
      sw.failing = !diskBack;
      await gw.stop();
      const again = FileOutbox.open(path.join(stateDir, 'outbox'));
      if (diskBack) {
        expect([...again.pending()].map((a) => a.id).sort()).toEqual([...raised].sort());
      } else {
        expect(again.depth).toBe(0);
        const lost = logger.lines.find((l) => l.msg === 'alerts held in memory only are lost: the outbox cannot be written');
        expect(lost?.level).toBe('error');
        expect([...(lost!.ids as string[])].sort()).toEqual([...raised].sort());
      }
      await again.close();
    }
    model.dispose();
  });
});

describe('alerts the outbox could not take are counted (2026-11-27 review)', () => {
  it('outbox_write_errors_total counts them: the metrics said nothing while alerts were held in memory only', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const { sw, clock, tr, gw } = await failingDiskRig(model);
    gateways.push(gw);
    const raised: Alert[] = [];
    gw.on('alert', (a) => raised.push(a));
    const x = imuSignal(300, 5, [[50, 60], [200, 215]]);
    const want = oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: 0 }).length;
    expect(want).toBeGreaterThanOrEqual(2);
    sw.failing = true;
    for (let m = 0; m * 20 * IMU_CHANNELS < x.length; m++) {
      tr.deliver(gw.topics.sensor('d1', 'imu'), encodeJson(x.subarray(m * 20 * IMU_CHANNELS, (m + 1) * 20 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
      clock.advance(5);
    }
    await waitFor(() => raised.length === want, 'the alerts to be raised');
    expect(gw.metrics.counters.outbox_write_errors_total).toBe(want);
    expect(gw.metrics.counters.alerts_total).toBe(want);
    model.dispose();
  });
});

describe('a broker that refuses every alert for good (an ACL, 2026-11-27 review)', () => {
  it("says so at most once a minute with the count, not a warning per alert at every retry; tries one alert per topic again, backing off", async () => {
    // Measured with mosquitto 2.0.11 denying the alerts topic (MQTT 5: PUBACK 0x87), 20,000
    // alerts pending and retryMs 1000: 81,000 warning lines in 20 s, about 4,000 a second. And
    // every pending alert was sent again retryMs after its refusal, for ever: with 50,000 pending
    // (retryMs 5000) 39,000 refused publishes and 5.7 s of CPU in 10 s.
    const model = await (await createRuntime()).load(imuModelBytes());
    // (stop() waits drainTimeoutMs for the acknowledgements that never come.)
    const { clock, tr, logger, gw } = await failingDiskRig(model, { outbox: { retryMs: 1000 } }, { drainTimeoutMs: 100 });
    gateways.push(gw);
    const sent: Array<{ device: string; id: string }> = [];
    const publish = tr.publish.bind(tr);
    tr.publish = (topic, payload, opts) => {
      if (tr.isAlert(topic)) sent.push({ device: topic.split('/')[2]!, id: (JSON.parse(String(payload)) as Alert).id });
      return publish(topic, payload, opts);
    };
    tr.refuse = true;
    const x = imuSignal(300, 5, [[50, 60], [200, 215]]);
    const raised: Alert[] = [];
    gw.on('alert', (a) => raised.push(a));
    for (const device of ['d1', 'd2', 'd3']) {
      for (let m = 0; m * 20 * IMU_CHANNELS < x.length; m++) {
        tr.deliver(gw.topics.sensor(device, 'imu'), encodeJson(x.subarray(m * 20 * IMU_CHANNELS, (m + 1) * 20 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
        clock.advance(5);
      }
    }
    const pending = 3 * oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: 0 }).length;
    expect(pending).toBeGreaterThanOrEqual(6);
    await waitFor(() => gw.outboxDepth === pending, 'the alerts to be raised');
    const refusals = (level: string) => logger.lines.filter((l) => l.msg === 'alert not acknowledged, will retry' && l.level === level);
    const handled = () => gw.metrics.counters.alerts_publish_errors_total;
    // Round 1: the alerts sent as they were written (a topic's later ones wait once it refused
    // one), refused. Then each topic is tried again with its oldest alert alone, 1 s, 2 s, 4 s,
    // then every 8 s (8 × retryMs) after the last refusal.
    await gw.settled();
    await new Promise((r) => setTimeout(r, 20));
    const round1 = handled();
    expect(round1).toBeGreaterThanOrEqual(3);
    expect(round1).toBeLessThanOrEqual(pending);
    const t0 = clock.now();
    const oldest = (device: string) => raised.find((a) => a.device === device)!.id;
    let probes = 0;
    for (const at of [1000, 3000, 7000, 15_000, 23_000, 31_000, 39_000, 47_000, 55_000]) {
      clock.advanceTo(t0 + at - 1);
      await new Promise((r) => setTimeout(r, 5));
      expect(handled()).toBe(round1 + 3 * probes); // not before its time
      clock.advanceTo(t0 + at);
      probes++;
      await waitFor(() => handled() === round1 + 3 * probes, `the probes ${at} ms after the first refusals`);
      expect(sent.slice(-3).map((p) => p.id).sort()).toEqual(['d1', 'd2', 'd3'].map(oldest).sort());
    }
    expect(refusals('warn').length).toBe(1);
    expect(refusals('warn')[0]).toMatchObject({ refused: 1, outboxDepth: expect.any(Number) });
    expect(refusals('debug').length).toBe(round1 + 3 * probes - 1);
    // A minute on: one more warning, counting the refusals since the first.
    clock.advance(60_000);
    await waitFor(() => refusals('warn').length === 2, 'the next warning, a minute later');
    const second = logger.lines.indexOf(refusals('warn')[1]!);
    const quiet = logger.lines.slice(0, second).filter((l) => l.msg === 'alert not acknowledged, will retry' && l.level === 'debug').length;
    expect(refusals('warn')[1]!.refused).toBe(quiet + 1);
    expect(refusals('warn')[1]!.retryMs).toBe(8000);
    // Every refusal is still counted.
    await waitFor(() => handled() === tr.refused, 'the refusals to be counted');
    // Accepted again: at the next probe (within 8 × retryMs) every alert goes, each topic's in order.
    tr.refuse = false;
    const mark = sent.length;
    clock.advance(8000);
    await waitFor(() => gw.outboxDepth === 0, 'every alert to be delivered');
    for (const device of ['d1', 'd2', 'd3']) {
      expect(sent.slice(mark).filter((p) => p.device === device).map((p) => p.id)).toEqual(raised.filter((a) => a.device === device).map((a) => a.id));
    }
    model.dispose();
  });

  it('one refused topic holds back only its own alerts: another topic the broker accepts is not delayed', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const { clock, tr, gw } = await failingDiskRig(model, { outbox: { retryMs: 1000 } }, { drainTimeoutMs: 100 });
    gateways.push(gw);
    // An ACL denying the alerts of device "locked" only.
    const publish = tr.publish.bind(tr);
    tr.publish = (topic, payload, opts) => (topic.includes('/locked/') ? Promise.reject(new Error('not authorized')) : publish(topic, payload, opts));
    const x = imuSignal(300, 5, [[50, 60], [200, 215]]);
    const per = oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'd1', sensor: 'imu', streamStartMs: 0 }).length;
    for (const device of ['locked', 'open']) {
      for (let m = 0; m * 20 * IMU_CHANNELS < x.length; m++) {
        tr.deliver(gw.topics.sensor(device, 'imu'), encodeJson(x.subarray(m * 20 * IMU_CHANNELS, (m + 1) * 20 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
        clock.advance(5);
      }
    }
    await waitFor(() => gw.metrics.counters.alerts_acked_total === per && gw.outboxDepth === per, "the open device's alerts to be delivered");
    expect(tr.published.filter((p) => p.topic.includes('/open/')).length).toBe(per);
    model.dispose();
  });
});

/** tsx's loader by absolute URL: the child runs in a temp directory. */
const TSX_LOADER = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const OUTBOX_MODULE = new URL('../../src/gateway/outbox.ts', import.meta.url).href;

/** Runs `script` (TypeScript) with node in `dir`, its files limited to `limitKiB` (RLIMIT_FSIZE: writes past it are short, then EFBIG); returns its stdout. */
function runLimited(dir: string, script: string, limitKiB: number): Promise<string> {
  fs.writeFileSync(path.join(dir, 'child.mts'), script);
  return new Promise((resolve, reject) => {
    // tsx's cache off: under the limit it would write truncated entries into the shared cache.
    const child = spawn('bash', ['-c', `ulimit -f ${limitKiB} && exec "${process.execPath}" --import "${TSX_LOADER}" child.mts`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSX_DISABLE_CACHE: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited with ${code}: ${err}`))));
  });
}

describe('the disk fills up mid-append (a real file size limit)', () => {
  it('an alert whose commit resolved is on disk; a short write is cut back, not glued to the next record', async () => {
    const dir = tmpDir('edgernn-outbox-full-');
    // Alerts of ~1.2 KB; the file may grow to 8 KiB. Commits go one after the other: the fifth
    // and sixth cannot fit whole (the first of them is written in part), the seventh is small.
    const out = await runLimited(
      dir,
      `import { FileOutbox } from ${JSON.stringify(OUTBOX_MODULE)};
const alert = (i: number, pad: number) => ({ id: 'id-' + i, site: 's', device: 'd', sensor: 'imu', gateway: 'gw', model: { name: 'm', version: '1', sha256: '00' }, detector: 'threshold', label: 'impact', score: 1, ts: '', tsMs: i, frameIndex: i, evidence: { fromMs: 0, toMs: 0, inputs: [[1]], scores: ['x'.repeat(pad)] } });
const ob = FileOutbox.open('ob');
const results: Record<string, string> = {};
for (const [i, pad] of [[1, 1000], [2, 1000], [3, 1000], [4, 1000], [5, 3000], [6, 3000], [7, 100]] as const) {
  results['id-' + i] = await ob.commit([alert(i, pad)])!.then(() => 'ok', (e: Error & { code?: string }) => String(e.code));
}
await ob.close();
console.log(JSON.stringify(results));
`,
      8,
    );
    const results = JSON.parse(out.trim().split('\n').pop()!) as Record<string, string>;
    expect(results).toEqual({ 'id-1': 'ok', 'id-2': 'ok', 'id-3': 'ok', 'id-4': 'ok', 'id-5': 'GATEWAY_OUTBOX', 'id-6': 'GATEWAY_OUTBOX', 'id-7': 'ok' });
    const logger = memoryLogger();
    const again = FileOutbox.open(path.join(dir, 'ob'), { logger });
    // Exactly the alerts whose commit resolved, none lost, no torn or corrupt record.
    expect([...again.pending()].map((a) => a.id)).toEqual(['id-1', 'id-2', 'id-3', 'id-4', 'id-7']);
    expect(again.report).toEqual({ replayed: 5, truncatedBytes: 0, corrupt: 0 });
    await again.close();
  }, 30_000);
});
