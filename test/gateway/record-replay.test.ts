/**
 * record -> replay: live traffic captured from a broker, replayed twice through the pipeline
 * (same alerts, ids included, byte for byte), equal to the oracle; scored against ground truth.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { recordCommand } from '../../src/cli/commands/record.js';
import { replayCommand } from '../../src/cli/commands/replay.js';
import { runCli } from '../../src/cli/framework.js';
import type { Alert } from '../../src/gateway/alert.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/gateway/broker.js';
import { encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { parseTrace, parseTruth, recordTrace, replayTrace, scoreAlerts, traceHeaderLine, traceRecordLine, type TraceRecord } from '../../src/gateway/trace.js';
import { isEdgeRnnError } from '../../src/errors.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, imuModelBytes, imuSignal, oracleAlerts, publishAsync, tmpDir, waitFor } from './fixtures.js';
import { errorMessage } from '../helpers/errors.js';

const TS0 = 1_714_560_000_000;
const DT = 20; // 50 Hz

function cli() {
  const out = { stdout: '', stderr: '' };
  return { ctx: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, cwd: work }, out };
}

let work: string;
let broker: EmbeddedBroker;
let model: Model;
const devices = [
  { d: 'lift-1', x: imuSignal(500, 51, [[40, 60], [300, 320]]), impacts: [[40, 60], [300, 320]] },
  { d: 'lift-2', x: imuSignal(500, 52, [[150, 175]]), impacts: [[150, 175]] },
];

beforeAll(async () => {
  work = tmpDir();
  broker = await startEmbeddedBroker();
  model = await (await createRuntime()).load(imuModelBytes());
  fs.writeFileSync(path.join(work, 'imu.ern'), imuModelBytes());
  fs.writeFileSync(
    path.join(work, 'gateway.json'),
    JSON.stringify({ site: 'yard', models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }, { sensor: 'imub', model: 'imu', codec: 'binary', detector: IMU_DETECTOR }] }),
  );
  fs.writeFileSync(
    path.join(work, 'truth.json'),
    JSON.stringify(devices.flatMap(({ d, impacts }) => impacts.map(([a, b]) => ({ device: d, startMs: TS0 + a! * DT, endMs: TS0 + b! * DT, label: 'impact' })))),
  );
});

afterAll(async () => {
  await broker?.close();
  model?.dispose();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('record and replay', () => {
  it('records live traffic through the CLI', async () => {
    const rec = cli();
    const done = runCli(['record', '--broker', broker.url, '--topics', 'edgernn/yard/+/imu,edgernn/yard/+/imub', '-o', 'trace.ndjson', '--count', '102', '--mqtt-version', '4'], [recordCommand], rec.ctx);
    await waitFor(() => rec.out.stderr.includes('recording'), 'the recorder to subscribe');
    const dev = await connectClient(broker.url);
    for (let m = 0; m < 50; m++) {
      for (const { d, x } of devices) {
        const chunk = x.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS);
        await publishAsync(dev, `edgernn/yard/${d}/imu`, encodeJson(chunk, IMU_CHANNELS, { seq: m, tsMs: TS0 + m * 10 * DT, rateHz: 50 }));
      }
    }
    // Two messages on the binary route, one garbage: the trace holds what the wire carried.
    await publishAsync(dev, 'edgernn/yard/lift-3/imub', encodeBinary(devices[0]!.x.subarray(0, 60), IMU_CHANNELS, { seq: 0, tsMs: TS0 }));
    await publishAsync(dev, 'edgernn/yard/lift-3/imu', '{"values": oops');
    dev.end(true);
    expect(await done).toBe(0);
    expect(rec.out.stdout).toMatch(/102 messages/);
    const trace = parseTrace(fs.readFileSync(path.join(work, 'trace.ndjson'), 'utf8'));
    expect(trace.records.length).toBe(102);
    expect(trace.header.topics).toEqual(['edgernn/yard/+/imu', 'edgernn/yard/+/imub']);
  });

  it('replays to the same alerts twice (byte for byte), equal to the oracle, and scores them', async () => {
    const runs: string[] = [];
    for (const extra of [['--as-fast-as-possible'], ['--speed', '1000']]) {
      const r = cli();
      const out = `alerts-${runs.length}.ndjson`;
      expect(await runCli(['replay', 'trace.ndjson', '--config', 'gateway.json', '--alerts', out, '--truth', 'truth.json', '--json', ...extra], [replayCommand], r.ctx)).toBe(0);
      runs.push(fs.readFileSync(path.join(work, out), 'utf8'));
      const summary = JSON.parse(r.out.stdout) as { alerts: number; messages: number; counters: { deadLetters: number }; score: { hits: number; misses: number; falseAlarms: number; events: number } };
      expect(summary.messages).toBe(102);
      expect(summary.counters.deadLetters).toBe(1);
      expect(summary.score).toMatchObject({ events: 3, hits: 3, misses: 0, falseAlarms: 0 });
    }
    expect(runs[1]).toBe(runs[0]);
    const alerts = runs[0]!.trim().split('\n').map((l) => JSON.parse(l) as Alert);
    const trace = parseTrace(fs.readFileSync(path.join(work, 'trace.ndjson'), 'utf8'));
    const firstT = (topic: string) => trace.records.find((r) => r.topic === topic)!.t;
    const expected = [
      ...devices.flatMap(({ d, x }) => oracleAlerts(model, x, IMU_DETECTOR, { site: 'yard', device: d, sensor: 'imu', streamStartMs: firstT(`edgernn/yard/${d}/imu`) })),
      ...oracleAlerts(model, devices[0]!.x.subarray(0, 60), IMU_DETECTOR, { site: 'yard', device: 'lift-3', sensor: 'imub', streamStartMs: firstT('edgernn/yard/lift-3/imub') }),
    ];
    expect(alerts.map((a) => a.id).sort()).toEqual(expected.map((e) => e.id).sort());
    // Alert times are device times (payload ts + sample index / rate).
    for (const a of alerts.filter((x) => x.sensor === 'imu')) expect((a.tsMs - TS0) % DT).toBe(0);
  });

  it('names what is wrong in a trace', async () => {
    const bad = (text: string) => errorMessage(() => parseTrace(text, 't.ndjson'), 'GATEWAY_TRACE');
    const head = '{"format":"edgernn.trace","version":1,"recordedAt":"x"}\n';
    expect(bad('')).toMatch(/t.ndjson:1: empty file/);
    expect(bad('{"format":"other"}\n')).toMatch(/t.ndjson:1: format must be "edgernn.trace"/);
    expect(bad(`${head}{"t":${TS0 + 5},"topic":"a","qos":1,"payload":"AA=="}\n{"t":${TS0 + 4},"topic":"a","qos":1,"payload":"AA=="}\n`)).toMatch(/t.ndjson:3: "t" goes back in time/);
    expect(bad(`${head}{"t":${TS0 + 5},"topic":"","qos":1,"payload":"AA=="}\n`)).toMatch(/t.ndjson:2: "topic" must be a non-empty string/);
    expect(bad(`${head}{"t":${TS0 + 5},"topic":"a","qos":1,"payload":"***"}\n`)).toMatch(/t.ndjson:2: "payload" must be base64/);
    expect(bad(`${head}nope\n{"t":${TS0 + 5},"topic":"a","qos":1,"payload":""}\n`)).toMatch(/t.ndjson:2: not JSON/);
    // A recorder killed mid-line leaves a torn last line: ignored, reported.
    expect(parseTrace(`${head}{"t":${TS0 + 5},"topic":"a","qos":1,"payload":""}\n{"t":${TS0 + 6},"top`).tornLastLine).toBe(true);
    const r = cli();
    expect(await runCli(['replay', 'missing.ndjson', '--config', 'gateway.json'], [replayCommand], r.ctx)).toBe(1);
    expect(r.out.stderr).toMatch(/no such file/);
    expect(await runCli(['replay', 'trace.ndjson'], [replayCommand], r.ctx)).toBe(2);
    expect(r.out.stderr).toMatch(/--config gateway.json is required/);
  });

  it('a config error raised when the replayed gateway starts names the config file', async () => {
    const config = JSON.parse(fs.readFileSync(path.join(work, 'gateway.json'), 'utf8'));
    config.routes[0].detector = { kind: 'nope' };
    fs.writeFileSync(path.join(work, 'bad-detector.json'), JSON.stringify(config));
    const r = cli();
    expect(await runCli(['replay', 'trace.ndjson', '--config', 'bad-detector.json'], [replayCommand], r.ctx)).toBe(1);
    expect(r.out.stderr).toMatch(/bad-detector\.json: routes\[0\]\.detector\.kind must be/);
  });
});

describe('record and replay: defects found on site data', () => {
  const record = (t: number, topic: string, payload: Uint8Array | string) => traceRecordLine({ t, topic, qos: 1, payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : payload });

  it('replays a trace over 512 MiB (a day of a site); it died with "Cannot create a string longer than 0x1fffffe8 characters"', async () => {
    const head = Buffer.from(`${traceHeaderLine({ recordedAt: 'x' })}${record(TS0, 'edgernn/yard/lift-1/imu', '{"values":[[0,0,0,0,0,0]]}')}`);
    const tail = Buffer.from(`${record(TS0 + 20, 'edgernn/yard/lift-1/imu', '{"values":[[0,0,0,0,0,0]]}')}{"t":${TS0 + 40},"top`);
    // Blank lines of 1 MiB (an edited file: they carry nothing) take it past the longest string.
    const filler = 0x1fffffe8 + 4096 - head.length - tail.length;
    const buf = Buffer.alloc(head.length + filler + tail.length, ' ');
    head.copy(buf, 0);
    for (let i = head.length + (1 << 20); i < head.length + filler; i += 1 << 20) buf[i] = 10;
    buf[head.length + filler - 1] = 10;
    tail.copy(buf, head.length + filler);
    const file = path.join(work, 'big.ndjson');
    fs.writeFileSync(file, buf);
    try {
      const r = cli();
      expect(await runCli(['replay', 'big.ndjson', '--config', 'gateway.json', '--json'], [replayCommand], r.ctx), r.out.stderr).toBe(0);
      expect(JSON.parse(r.out.stdout)).toMatchObject({ messages: 2, tornLastLine: true, counters: { frames: 2 } });
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('names a "t" outside the range of a Date (a log converted in µs or ns); the replay threw RangeError', () => {
    const head = traceHeaderLine({ recordedAt: 'x' });
    for (const t of [1.7e18, -1e16]) {
      expect(errorMessage(() => parseTrace(`${head}${record(TS0, 'a', '')}${record(t, 'a', '')}`, 't.ndjson'), 'GATEWAY_TRACE')).toMatch(/^t\.ndjson:3: "t" must be the arrival time in ms since epoch, from 2000-01-01 to the end of the year 9999 \(946684800000 to 253402300799999\), got /);
    }
    // The first and last ms taken (a device's ts has the same range).
    expect(parseTrace(`${head}${record(946_684_800_000, 'a', '')}${record(253_402_300_799_999, 'a', '')}`).records.length).toBe(2);
  });

  it('refuses a "t" in seconds, µs, or before 2000, naming the line (a trace in seconds was scored with 1000 times too high false-alarm rates)', async () => {
    const head = traceHeaderLine({ recordedAt: 'x' });
    const s = Math.floor(TS0 / 1000);
    expect(errorMessage(() => parseTrace(`${head}${record(s, 'a', '')}`, 't.ndjson'), 'GATEWAY_TRACE')).toBe(
      't.ndjson:2: "t" must be the arrival time in ms since epoch, from 2000-01-01 to the end of the year 9999 (946684800000 to 253402300799999), got 1714560000: a time in seconds? (× 1000: 2024-05-01T10:40:00.000Z)',
    );
    expect(errorMessage(() => parseTrace(`${head}${record(TS0, 'a', '')}${record(TS0 * 1000, 'a', '')}`, 't.ndjson'), 'GATEWAY_TRACE')).toMatch(/^t\.ndjson:3: .*got 1714560000000000: a time in µs\? \(÷ 1000: 2024-05-01T10:40:00\.000Z\)$/);
    for (const t of [-5, 0, 5, 946_684_799_999]) expect(errorMessage(() => parseTrace(`${head}${record(t, 'a', '')}`, 't.ndjson'), 'GATEWAY_TRACE')).toMatch(new RegExp(`^t\\.ndjson:2: "t" must be .*, got ${t}$`));
    // Records given to replayTrace in code are checked the same way, before anything is replayed.
    const config = parseGatewayConfig({ site: 'yard', models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], metrics: { intervalMs: 0 } });
    const records = [0, 1].map((m) => ({ t: s + m, topic: 'edgernn/yard/lift-1/imu', qos: 1 as const, payload: new TextEncoder().encode(`{"seq":${m},"values":[[0,0,0,0,0,0]]}`) }));
    const e = await replayTrace({ config, records, speed: 'max', source: 'site.ndjson' }).then(() => null, (err: unknown) => err);
    expect(e).toMatchObject({ code: 'GATEWAY_TRACE', message: expect.stringMatching(/^site\.ndjson: record 1: "t" must be the arrival time in ms since epoch.*a time in seconds\?/) });
  });

  it('credits an alert to the nearest event: inside an event is a hit even when the tolerance also reaches the event before', () => {
    // Hand count: two falls 3 s apart, tolerance 4 s; one alert inside each (the second also
    // within 4 s of the first fall's end), a repeat inside the first, one on another device.
    const alert = (tsMs: number, device = 'd1') => ({ tsMs, device, label: 'fall' }) as Alert;
    const truth = [
      { device: 'd1', startMs: 10_000, endMs: 11_000, label: 'fall' },
      { device: 'd1', startMs: 14_000, endMs: 15_000, label: 'fall' },
    ];
    const s = scoreAlerts([alert(10_500), alert(10_800), alert(14_500), alert(20_000, 'd2')], truth, { fromMs: 0, toMs: 3_600_000, toleranceMs: 4000, devices: 2 });
    expect(s).toMatchObject({ events: 2, hits: 2, misses: 0, repeats: 1, falseAlarms: 1, hours: 1, falseAlarmsPerHour: 1, falseAlarmsPerDeviceHour: 0.5, meanDelayMs: 500 });
    // Between the two, nearer the second: early for the second, not a repeat of the first.
    expect(scoreAlerts([alert(10_500), alert(13_500)], truth, { fromMs: 0, toMs: 3_600_000, toleranceMs: 4000, devices: 1 })).toMatchObject({ hits: 2, misses: 0, repeats: 0 });
  });

  it('counts false alarms per device-hour over every device of the trace, not only the devices with events', async () => {
    // Four lifts, one impact each, over exactly one hour of trace; the truth has lift-1's impact only.
    const lines = [traceHeaderLine({ recordedAt: 'x' })];
    const x = imuSignal(100, 61, [[40, 60]]);
    for (let m = 0; m < 10; m++) {
      for (let d = 1; d <= 4; d++) lines.push(record(TS0 + m * 200, `edgernn/yard/lift-${d}/imu`, encodeJson(x.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS), IMU_CHANNELS, { seq: m, tsMs: TS0 + m * 200, rateHz: 50 })));
    }
    // Not devices of this gateway: another site, the gateway's own status topic.
    lines.push(record(TS0 + 5000, 'edgernn/other/pump-9/imu', '{"values":[[0,0,0,0,0,0]]}'));
    lines.push(record(TS0 + 6000, 'edgernn/yard/_gateway/gw1/status', '{"state":"online"}'));
    lines.push(record(TS0 + 3_600_000, 'edgernn/yard/lift-1/imu', encodeJson(new Float32Array(10 * IMU_CHANNELS), IMU_CHANNELS, { seq: 10, tsMs: TS0 + 2000, rateHz: 50 })));
    fs.writeFileSync(path.join(work, 'four.ndjson'), lines.join(''));
    fs.writeFileSync(path.join(work, 'one-event.json'), JSON.stringify([{ device: 'lift-1', startMs: TS0 + 800, endMs: TS0 + 1200, label: 'impact' }]));
    const r = cli();
    expect(await runCli(['replay', 'four.ndjson', '--config', 'gateway.json', '--truth', 'one-event.json', '--json'], [replayCommand], r.ctx), r.out.stderr).toBe(0);
    const summary = JSON.parse(r.out.stdout) as { alerts: number; devices: number; score: AlertScoreLike };
    expect(summary.alerts).toBe(4);
    expect(summary.devices).toBe(4);
    expect(summary.score).toMatchObject({ events: 1, hits: 1, falseAlarms: 3, hours: 1, falseAlarmsPerHour: 3, falseAlarmsPerDeviceHour: 0.75 });
  });

  it('reads the truth file before replaying (a typo in it used to surface only after the whole replay)', async () => {
    fs.writeFileSync(path.join(work, 'bad-truth.json'), '[{"device": "lift-1", "startMs": 1,');
    const r = cli();
    expect(await runCli(['replay', 'trace.ndjson', '--config', 'gateway.json', '--truth', 'bad-truth.json', '--alerts', 'never.ndjson'], [replayCommand], r.ctx)).toBe(1);
    expect(r.out.stderr).toMatch(/GATEWAY_TRACE.*bad-truth\.json is not JSON/);
    expect(fs.existsSync(path.join(work, 'never.ndjson'))).toBe(false);
  });

  it('--count N records N messages of a burst (it recorded what was already on the wire too); without --mqtt-version, a 3.1.1 broker (the embedded aedes) is recorded with 3.1.1', async () => {
    const rec = cli();
    // No --mqtt-version: MQTT 5 first, refused by aedes, then 3.1.1 (it failed with "Unacceptable protocol version").
    const done = runCli(['record', '--broker', broker.url, '--topics', 'edgernn/burst/+/imu', '-o', 'burst.ndjson', '--count', '5'], [recordCommand], rec.ctx);
    await waitFor(() => rec.out.stderr.includes('recording'), 'the recorder to subscribe');
    const dev = await connectClient(broker.url);
    for (let i = 0; i < 2000; i++) dev.publish('edgernn/burst/d/imu', `{"seq":${i},"values":[[0,0,0,0,0,0]]}`, { qos: 0 });
    expect(await done).toBe(0);
    dev.end(true);
    expect(rec.out.stdout).toMatch(/: 5 messages/);
    expect(rec.out.stderr).toMatch(/the broker speaks MQTT 3\.1\.1, not 5: recording with --mqtt-version 4/);
    const trace = parseTrace(fs.readFileSync(path.join(work, 'burst.ndjson')));
    expect(trace.records.map((x) => (JSON.parse(Buffer.from(x.payload).toString()) as { seq: number }).seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('stops on a signal while connecting to a broker that never answers (it ignored Ctrl-C for the 30 s connect timeout)', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `mqtt://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const cfg = parseGatewayConfig({ broker: { url }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
      const file = path.join(work, 'silent.ndjson');
      // The signal has come: the recorder must return at once (the hang guard is the test timeout).
      const res = await recordTrace({ url, broker: cfg.broker, topics: ['edgernn/yard/+/imu'], file, stop: Promise.resolve() });
      expect(res.messages).toBe(0);
      expect(parseTrace(fs.readFileSync(file)).records).toEqual([]);
    } finally {
      silent.close();
    }
  }, 20_000);
});

describe('record and replay: the second defect hunt', () => {
  it('records arrival times that never go back when the wall clock steps back (an NTP step); the trace was refused by replay', async () => {
    const cfg = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
    const file = path.join(work, 'ntp.ndjson');
    let back = 0;
    let dev: Awaited<ReturnType<typeof connectClient>> | undefined;
    const done = recordTrace({
      url: broker.url,
      broker: cfg.broker,
      topics: ['edgernn/ntp/+/imu'],
      file,
      maxMessages: 3,
      now: () => Date.now() - back,
      onReady: () => {
        void (async () => {
          dev = await connectClient(broker.url);
          await publishAsync(dev, 'edgernn/ntp/d/imu', '{"seq":0,"values":[[0,0,0,0,0,0]]}');
          await waitFor(() => fs.readFileSync(file, 'utf8').split('\n').length >= 3, 'the first message recorded');
          back = 60_000; // the clock steps a minute back
          await publishAsync(dev, 'edgernn/ntp/d/imu', '{"seq":1,"values":[[0,0,0,0,0,0]]}');
          await publishAsync(dev, 'edgernn/ntp/d/imu', '{"seq":2,"values":[[0,0,0,0,0,0]]}');
        })();
      },
    });
    expect((await done).messages).toBe(3);
    dev?.end(true);
    const ts = parseTrace(fs.readFileSync(file), 'ntp.ndjson').records.map((r) => r.t);
    expect(ts).toHaveLength(3);
    expect(ts[1]).toBe(ts[0]); // held at the last arrival time until the clock catches up
    expect(ts[2]).toBeGreaterThanOrEqual(ts[1]!);
  });

  it('syncs the trace to disk while recording, not only at stop (a gateway that lost power kept what the kernel had written back)', async () => {
    const cfg = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
    const file = path.join(work, 'synced.ndjson');
    const syncs: number[] = [];
    const spy = vi.spyOn(fs, 'fsyncSync').mockImplementation(() => void syncs.push(fs.statSync(file).size));
    let dev: Awaited<ReturnType<typeof connectClient>> | undefined;
    try {
      const done = recordTrace({
        url: broker.url,
        broker: cfg.broker,
        topics: ['edgernn/sync/+/imu'],
        file,
        maxMessages: 3,
        syncEveryMs: 0,
        onReady: () => {
          void (async () => {
            dev = await connectClient(broker.url);
            for (let i = 0; i < 3; i++) await publishAsync(dev, 'edgernn/sync/d/imu', `{"seq":${i},"values":[[0,0,0,0,0,0]]}`);
          })();
        },
      });
      expect((await done).messages).toBe(3);
    } finally {
      spy.mockRestore();
      dev?.end(true);
    }
    // After the first and second message (the third ends the recording), then at stop.
    expect(syncs).toHaveLength(3);
    expect(syncs[0]!).toBeLessThan(syncs[1]!);
    expect(syncs[2]).toBe(fs.statSync(file).size);
  });

  it('reads ISO times without an offset in the truth file as UTC, whatever the TZ (they were local time: another score under another TZ)', () => {
    const tz = process.env.TZ;
    try {
      for (const zone of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
        process.env.TZ = zone;
        const [e] = parseTruth('[{"device":"d","start":"2024-05-01T10:40:00.800","end":"2024-05-01 10:40:01"}]');
        expect([zone, e!.startMs, e!.endMs]).toEqual([zone, Date.parse('2024-05-01T10:40:00.800Z'), Date.parse('2024-05-01T10:40:01Z')]);
        // With an offset, or a date alone (UTC by the standard), as before.
        const [f] = parseTruth('[{"device":"d","start":"2024-05-01T12:40:00+02:00","end":"2024-05-02"}]');
        expect([f!.startMs, f!.endMs]).toEqual([Date.parse('2024-05-01T10:40:00Z'), Date.parse('2024-05-02T00:00:00Z')]);
      }
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('names a truth label that is not a string (a number matched any alert label, silently)', () => {
    for (const label of ['3', '["fall"]', 'true']) {
      expect(errorMessage(() => parseTruth(`[{"device":"d","startMs":1,"endMs":2,"label":${label}}]`, 't.json'), 'GATEWAY_TRACE')).toBe(`t.json: [0].label must be a string (or absent: any label), got ${label}`);
    }
    expect(parseTruth('[{"device":"d","startMs":1,"endMs":2,"label":null}]')).toEqual([{ device: 'd', startMs: 1, endMs: 2 }]);
  });

  it('refuses --alerts naming the trace, the truth file or the config (the recording was truncated after it had been read)', async () => {
    fs.writeFileSync(path.join(work, 'keep.ndjson'), `${traceHeaderLine({ recordedAt: 'x' })}${traceRecordLine({ t: TS0, topic: 'edgernn/yard/lift-1/imu', qos: 1, payload: new TextEncoder().encode('{"values":[[0,0,0,0,0,0]]}') })}`);
    const before = fs.readFileSync(path.join(work, 'keep.ndjson'));
    for (const [alerts, what] of [['keep.ndjson', 'the trace'], ['./sub/../truth.json', 'the truth file'], ['gateway.json', 'the config']] as const) {
      fs.mkdirSync(path.join(work, 'sub'), { recursive: true });
      const r = cli();
      expect(await runCli(['replay', 'keep.ndjson', '--config', 'gateway.json', '--truth', 'truth.json', '--alerts', alerts], [replayCommand], r.ctx)).toBe(2);
      expect(r.out.stderr).toContain(`edgernn replay: --alerts ${alerts} is ${what}: it would be overwritten`);
    }
    expect(fs.readFileSync(path.join(work, 'keep.ndjson')).equals(before)).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(work, 'truth.json'), 'utf8'))).toHaveLength(3);
    fs.rmSync(path.join(work, 'keep.ndjson'));
  });

  it('--speed paces against the trace from one start: --speed 100 over 1 ms gaps took real time (a timer per gap)', async () => {
    const lines = [traceHeaderLine({ recordedAt: 'x' })];
    for (let i = 0; i < 400; i++) lines.push(traceRecordLine({ t: TS0 + i, topic: 'edgernn/yard/lift-1/imu', qos: 1, payload: new TextEncoder().encode(`{"seq":${i},"values":[[0,0,0,0,0,0]]}`) }));
    fs.writeFileSync(path.join(work, 'dense.ndjson'), lines.join(''));
    const timed = async (...extra: string[]) => {
      const r = cli();
      const t0 = performance.now();
      expect(await runCli(['replay', 'dense.ndjson', '--config', 'gateway.json', '--alerts', `dense${extra.join('')}.ndjson`, ...extra], [replayCommand], r.ctx), r.out.stderr).toBe(0);
      return performance.now() - t0;
    };
    const max = await timed('--as-fast-as-possible');
    const fast = await timed('--speed', '100'); // 399 ms of trace: 4 ms
    const real = await timed('--speed', '1');
    expect(fast - max).toBeLessThan(200);
    expect(real).toBeGreaterThanOrEqual(399);
    expect(fs.readFileSync(path.join(work, 'dense--speed100.ndjson'))).toEqual(fs.readFileSync(path.join(work, 'dense--as-fast-as-possible.ndjson')));
  });

  it('keeps the file already at -o when the broker cannot be reached (it was truncated before connecting); a bad path still fails first', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const url = `mqtt://127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r())); // nothing listens there now: connection refused
    const precious = path.join(work, 'yesterday.ndjson');
    fs.writeFileSync(precious, 'a day of a site\n');
    for (const file of ['yesterday.ndjson', 'new.ndjson']) {
      const r = cli();
      expect(await runCli(['record', '--broker', url, '--topics', 'edgernn/yard/+/imu', '-o', file, '--mqtt-version', '4'], [recordCommand], r.ctx)).toBe(1);
      expect(r.out.stderr).toMatch(/GATEWAY_TRANSPORT.*cannot connect/);
    }
    expect(fs.readFileSync(precious, 'utf8')).toBe('a day of a site\n');
    expect(fs.existsSync(path.join(work, 'new.ndjson'))).toBe(false); // none left behind
    // Nor does Ctrl-C while connecting touch it.
    const cfgDown = parseGatewayConfig({ broker: { url, protocolVersion: 4 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
    expect(await recordTrace({ url, broker: cfgDown.broker, topics: ['edgernn/yard/+/imu'], file: precious, stop: Promise.resolve() })).toMatchObject({ messages: 0 });
    expect(fs.readFileSync(precious, 'utf8')).toBe('a day of a site\n');
    const r = cli();
    expect(await runCli(['record', '--broker', url, '--topics', 'edgernn/yard/+/imu', '-o', 'no-such-dir/t.ndjson'], [recordCommand], r.ctx)).toBe(1);
    expect(r.out.stderr).toMatch(/no such folder/);
    // Connected, it is replaced by the new trace.
    const cfg = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
    expect(await recordTrace({ url: broker.url, broker: cfg.broker, topics: ['edgernn/yard/+/imu'], file: precious, maxMessages: 0 })).toMatchObject({ messages: 0 });
    expect(parseTrace(fs.readFileSync(precious)).records).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')('records to a device or a pipe (-o /dev/null, /dev/stdout): it ended in "EINVAL: invalid argument, fsync", exit 1', async () => {
    const r = cli();
    expect(await runCli(['record', '--broker', broker.url, '--topics', 'edgernn/yard/+/imu', '-o', '/dev/null', '--count', '0', '--mqtt-version', '4'], [recordCommand], r.ctx), r.out.stderr).toBe(0);
    expect(r.out.stdout).toMatch(/^edgernn record: 0 messages, \d+ bytes -> \/dev\/null\n$/);
  });

  it('records for a --duration over 24.8 days (a setTimeout past 2^31 - 1 ms fired at once: it stopped at the start)', async () => {
    const cfg = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
    let stopNow: () => void = () => {};
    const stop = new Promise<void>((r) => (stopNow = r));
    let stoppedBySignal = false;
    const t0 = performance.now();
    const done = recordTrace({ url: broker.url, broker: cfg.broker, topics: ['edgernn/month/+/imu'], file: path.join(work, 'month.ndjson'), durationMs: 30 * 86_400_000, stop, onReady: () => setTimeout(() => ((stoppedBySignal = true), stopNow()), 300) });
    await done;
    expect(stoppedBySignal).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('warns of truth events no alert can match: a label the models do not raise, a time outside the trace (they were silent misses)', async () => {
    const head = traceHeaderLine({ recordedAt: 'x' });
    const lines = [head];
    for (let m = 0; m < 3; m++) lines.push(traceRecordLine({ t: TS0 + m * 200, topic: 'edgernn/yard/lift-1/imu', qos: 1, payload: new TextEncoder().encode(`{"seq":${m},"values":[[0,0,0,0,0,0]]}`) }));
    fs.writeFileSync(path.join(work, 'short.ndjson'), lines.join(''));
    const events = [
      { device: 'lift-1', startMs: TS0, endMs: TS0 + 100, label: 'impact' }, // fine
      { device: 'lift-1', startMs: TS0, endMs: TS0 + 100, label: 'fall' }, // not a label of imu.ern
      { device: 'lift-1', startMs: TS0, endMs: TS0 + 100, label: 'fall' },
      { device: 'lift-1', startMs: TS0 + 7_200_000, endMs: TS0 + 7_200_100, label: 'impact' }, // two hours later (an offset)
    ];
    fs.writeFileSync(path.join(work, 'odd-truth.json'), JSON.stringify(events));
    const r = cli();
    expect(await runCli(['replay', 'short.ndjson', '--config', 'gateway.json', '--truth', 'odd-truth.json', '--json'], [replayCommand], r.ctx), r.out.stderr).toBe(0);
    expect(r.out.stderr).toBe(
      "edgernn replay: warning: odd-truth.json: 2 events labelled 'fall', a label the config's models do not raise (impact; anomaly, output<i>): always missed\n" +
        `edgernn replay: warning: odd-truth.json: 1 of 4 events lie outside the trace (${new Date(TS0).toISOString()} to ${new Date(TS0 + 400).toISOString()}): missed unless the devices' clocks are that far from the recorder's\n`,
    );
    expect((JSON.parse(r.out.stdout) as { score: { events: number; misses: number } }).score).toMatchObject({ events: 4, misses: 4 });
    // A truth that fits says nothing.
    const ok = cli();
    fs.writeFileSync(path.join(work, 'ok-truth.json'), JSON.stringify(events.slice(0, 1)));
    expect(await runCli(['replay', 'short.ndjson', '--config', 'gateway.json', '--truth', 'ok-truth.json'], [replayCommand], ok.ctx)).toBe(0);
    expect(ok.out.stderr).toBe('');
  });

  it('a malformed --topics filter is a usage error before connecting (it was GATEWAY_TRANSPORT after, exit 1, the output replaced)', async () => {
    fs.writeFileSync(path.join(work, 'kept.ndjson'), 'kept\n');
    for (const filter of ['edgernn/#/imu', 'edgernn/yard+/imu', 'edgernn/yard/#x']) {
      const r = cli();
      expect(await runCli(['record', '--broker', broker.url, '--topics', `edgernn/ok/+/imu,${filter}`, '-o', 'kept.ndjson'], [recordCommand], r.ctx)).toBe(2);
      expect(r.out.stderr).toContain(`edgernn record: --topics: '${filter}' is not an MQTT topic filter`);
    }
    expect(fs.readFileSync(path.join(work, 'kept.ndjson'), 'utf8')).toBe('kept\n');
  });

  it('says in the text summary that a torn last line was not replayed (only --json said it)', async () => {
    const head = traceHeaderLine({ recordedAt: 'x' });
    fs.writeFileSync(path.join(work, 'torn.ndjson'), `${head}${traceRecordLine({ t: TS0, topic: 'edgernn/yard/lift-1/imu', qos: 1, payload: new TextEncoder().encode('{"values":[[0,0,0,0,0,0]]}') })}{"t":${TS0 + 20},"top`);
    const r = cli();
    expect(await runCli(['replay', 'torn.ndjson', '--config', 'gateway.json'], [replayCommand], r.ctx), r.out.stderr).toBe(0);
    expect(r.out.stdout).toMatch(/^torn\.ndjson: 1 messages .*\n.*\n {2}the last line is torn \(the recorder stopped mid-write\): not replayed\n/);
  });
});

describe('record and replay: device names that are not topic levels (2026-11-27 review)', () => {
  const head = traceHeaderLine({ recordedAt: 'x' });
  const x = imuSignal(100, 62, [[40, 60]]);
  const payload = (m: number) => encodeJson(x.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS), IMU_CHANNELS, { seq: m, tsMs: TS0 + m * 200, rateHz: 50 });

  it('refuses a trace whose topic has a wildcard level (a device "+" or "#"), naming the file, the line and the level, before anything is replayed', async () => {
    for (const bad of ['+', '#', 'a+b', 'x\u0000y']) {
      const lines = [head];
      for (let m = 0; m < 10; m++) lines.push(traceRecordLine({ t: TS0 + m * 200, topic: 'edgernn/yard/lift-1/imu', qos: 1, payload: payload(m) }));
      const name = bad;
      lines.push(traceRecordLine({ t: TS0 + 2000, topic: `edgernn/yard/${name}/imu`, qos: 1, payload: payload(0) }));
      fs.writeFileSync(path.join(work, 'wild.ndjson'), lines.join(''));
      const msg = errorMessage(() => parseTrace(fs.readFileSync(path.join(work, 'wild.ndjson')), 'wild.ndjson'), 'GATEWAY_TRACE');
      expect(msg).toContain(`wild.ndjson:12: "topic" ${JSON.stringify(`edgernn/yard/${name}/imu`)}: level 3, ${JSON.stringify(name)}, is not a valid MQTT topic level`);
    }
  });

  it('edgernn replay names the device or sensor of a wildcard topic the config\'s template matches, with the file and line (it said "level 3"), before anything is replayed', async () => {
    const cases: Array<[topic: string, named: string]> = [
      ['edgernn/yard/+/imu', 'device "+" (topic "edgernn/yard/+/imu"): expected a valid MQTT topic level without wildcards, got a wildcard'],
      ['edgernn/yard/#/imu', 'device "#" (topic "edgernn/yard/#/imu"): expected a valid MQTT topic level without wildcards, got a wildcard'],
      ['edgernn/yard/a+b/imu', 'device "a+b" (topic "edgernn/yard/a+b/imu"): expected a valid MQTT topic level without wildcards, got a name with a wildcard character ("+" or "#") in it'],
      ['edgernn/yard/x\u0000y/imu', 'device "x\\u0000y" (topic "edgernn/yard/x\\u0000y/imu"): expected a valid MQTT topic level without wildcards, got a name with U+0000 in it'],
      ['edgernn/yard/lift-1/+', 'sensor "+" (topic "edgernn/yard/lift-1/+"): expected a valid MQTT topic level without wildcards, got a wildcard'],
      // Not the config's template (another site): no device to name, so the level is named.
      ['edgernn/dock/+/imu', '"topic" "edgernn/dock/+/imu": level 3, "+", is not a valid MQTT topic level'],
    ];
    for (const [topic, named] of cases) {
      const lines = [head];
      for (let m = 0; m < 10; m++) lines.push(traceRecordLine({ t: TS0 + m * 200, topic: 'edgernn/yard/lift-1/imu', qos: 1, payload: payload(m) }));
      lines.push(traceRecordLine({ t: TS0 + 2000, topic, qos: 1, payload: payload(0) }));
      fs.writeFileSync(path.join(work, 'wild.ndjson'), lines.join(''));
      // The CLI stops before the replay: exit 1, no alert file, no alert of the ten good records.
      const r = cli();
      expect(await runCli(['replay', 'wild.ndjson', '--config', 'gateway.json', '--alerts', 'wild-alerts.ndjson'], [replayCommand], r.ctx)).toBe(1);
      expect(r.out.stderr).toContain(`edgernn replay: error [GATEWAY_TRACE]: wild.ndjson:12: ${named}`);
      expect(r.out.stdout).toBe('');
      expect(fs.existsSync(path.join(work, 'wild-alerts.ndjson'))).toBe(false);
      // parseTrace given the config names the same; without one it can only name the level.
      const config = parseGatewayConfig(JSON.parse(fs.readFileSync(path.join(work, 'gateway.json'), 'utf8')) as unknown);
      expect(errorMessage(() => parseTrace(fs.readFileSync(path.join(work, 'wild.ndjson')), 'wild.ndjson', { config }), 'GATEWAY_TRACE')).toContain(`wild.ndjson:12: ${named}`);
    }
  });

  it('replayTrace refuses records with a device that is not a topic level, naming the trace, the record and the device, before delivering any record', async () => {
    const config = parseGatewayConfig({ site: 'yard', models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir: '' });
    const records: TraceRecord[] = [];
    for (let m = 0; m < 10; m++) records.push({ t: TS0 + m * 200, topic: 'edgernn/yard/lift-1/imu', qos: 1, payload: payload(m) });
    for (const device of ['+', '#']) {
      const alerts: Alert[] = [];
      const bad = [...records, { t: TS0 + 2000, topic: `edgernn/yard/${device}/imu`, qos: 1 as const, payload: payload(0), line: 12 }];
      const e = await replayTrace({ config, records: bad, speed: 'max', gateway: { models: { imu: model } }, onAlert: (a) => alerts.push(a), source: 'site.ndjson' }).then(() => null, (err: unknown) => err);
      expect(isEdgeRnnError(e, 'GATEWAY_TRACE'), String(e)).toBe(true);
      expect((e as Error).message).toBe(`site.ndjson: record 11 (line 12): device ${JSON.stringify(device)} (topic "edgernn/yard/${device}/imu"): expected a valid MQTT topic level without wildcards, got a wildcard`);
      expect(alerts).toEqual([]);
    }
    // The same records without the bad one raise the impact's alert: the refusal above came first.
    expect((await replayTrace({ config, records, speed: 'max', gateway: { models: { imu: model } } })).alerts.length).toBeGreaterThan(0);
  });
});

type AlertScoreLike = Record<string, number>;
