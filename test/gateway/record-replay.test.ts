/**
 * record -> replay: live traffic captured from a broker, replayed twice through the pipeline
 * (same alerts, ids included, byte for byte), equal to the oracle; scored against ground truth.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Model } from '../../src/index.js';
import { recordCommand } from '../../src/cli/commands/record.js';
import { replayCommand } from '../../src/cli/commands/replay.js';
import { runCli } from '../../src/cli/framework.js';
import type { Alert } from '../../src/gateway/alert.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/gateway/broker.js';
import { encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import { parseTrace } from '../../src/gateway/trace.js';
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
    expect(bad(`${head}{"t":5,"topic":"a","qos":1,"payload":"AA=="}\n{"t":4,"topic":"a","qos":1,"payload":"AA=="}\n`)).toMatch(/t.ndjson:3: "t" goes back in time/);
    expect(bad(`${head}{"t":5,"topic":"","qos":1,"payload":"AA=="}\n`)).toMatch(/t.ndjson:2: "topic" must be a non-empty string/);
    expect(bad(`${head}{"t":5,"topic":"a","qos":1,"payload":"***"}\n`)).toMatch(/t.ndjson:2: "payload" must be base64/);
    expect(bad(`${head}nope\n{"t":5,"topic":"a","qos":1,"payload":""}\n`)).toMatch(/t.ndjson:2: not JSON/);
    // A recorder killed mid-line leaves a torn last line: ignored, reported.
    expect(parseTrace(`${head}{"t":5,"topic":"a","qos":1,"payload":""}\n{"t":6,"top`).tornLastLine).toBe(true);
    const r = cli();
    expect(await runCli(['replay', 'missing.ndjson', '--config', 'gateway.json'], [replayCommand], r.ctx)).toBe(1);
    expect(r.out.stderr).toMatch(/no such file/);
    expect(await runCli(['replay', 'trace.ndjson'], [replayCommand], r.ctx)).toBe(2);
    expect(r.out.stderr).toMatch(/--config gateway.json is required/);
  });
});
