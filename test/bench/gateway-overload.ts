/**
 * A gateway given more audio than it can compute (models/kws.ern, mosquitto with its default
 * max_queued_messages 1000): D microphones, each sending 1 s of 16 kHz int16 audio R times a
 * second for S seconds, from a child process. Run twice, side by side: reading bounded per
 * event-loop turn (transport.ts readInTurns, the default) and unbounded (MQTT.js handing over
 * everything the socket holds in one turn, as before 2026-11-27). Prints, for each, the frames
 * stepped and dropped, the messages read, the gateway's CPU seconds (this process), frames stepped
 * per CPU-second and the event-loop delay p99; then the ratios.
 *
 *   npx tsx test/bench/gateway-overload.ts [--devices 20] [--rate 8] [--seconds 15]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeBinary } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import type { MqttTransport } from '../../src/gateway/transport.js';
import { createRuntime, Rng } from '../../src/index.js';
import { mosquittoAvailable, startMosquitto, waitFor } from '../gateway/fixtures.js';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '20' }, rate: { type: 'string', default: '8' }, seconds: { type: 'string', default: '15' }, rounds: { type: 'string', default: '2' } } });
const D = Number(values.devices);
const R = Number(values.rate);
const S = Number(values.seconds);
const ROOT = path.resolve(import.meta.dirname, '../..');
const skip = mosquittoAvailable();
if (skip) {
  console.log(`skipped: ${skip}`);
  process.exit(0);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-overload-bench-'));
const rng = new Rng(1);
const audio = Float32Array.from({ length: 16000 }, () => 0.05 * rng.normal());
fs.writeFileSync(path.join(tmp, 'payload.bin'), encodeBinary(audio, 1, { type: 'int16', seq: 0, rateHz: 16000 }));
// The flood: every 1000/R ms one message per device, seq patched in (u32 LE at byte 8).
const PUBLISHER = `
const mqtt = require('mqtt'); const fs = require('fs');
const [url, dir, D, R, S, topic] = process.argv.slice(1); const p = fs.readFileSync(dir + '/payload.bin');
const c = mqtt.connect(url, { clientId: 'overload-bench-pub' });
c.on('connect', () => { let seq = 0; const t0 = Date.now();
  const iv = setInterval(() => { seq++; p.writeUInt32LE(seq, 8);
    for (let d = 0; d < +D; d++) c.publish(topic.replace('MIC', 'mic-' + d), Buffer.from(p), { qos: 0 });
    if (Date.now() - t0 > +S * 1000) { clearInterval(iv); c.end(false, {}, () => process.exit(0)); } }, 1000 / +R); });`;

async function run(bounded: boolean) {
  const mq = await startMosquitto('allow_anonymous true');
  const model = await (await createRuntime()).load(new Uint8Array(fs.readFileSync(path.join(ROOT, 'models/kws.ern'))), { source: 'kws.ern' });
  const config = parseGatewayConfig({
    site: 'bench',
    gatewayId: 'overload',
    broker: { url: mq.url, keepaliveS: 5 },
    models: { kws: 'kws.ern' },
    routes: [{ sensor: 'audio', model: 'kws', codec: 'binary', channels: 1, detector: { kind: 'kws' } }],
    stateDir: '',
    metrics: { intervalMs: 0 },
  });
  const gw = await Gateway.create({ config, models: { kws: model }, logger: memoryLogger('error') });
  const client = (gw.transport as MqttTransport).client!;
  if (!bounded) client.handleMessage = (_packet, callback) => callback();
  const c = gw.metrics.counters;
  const before = { ...c };
  const cpu0 = process.cpuUsage();
  const pub = spawn(process.execPath, ['-e', PUBLISHER, mq.url, tmp, String(D), String(R), String(S), gw.topics.sensor('MIC', 'audio')], { cwd: ROOT, stdio: 'inherit' });
  await new Promise((resolve) => pub.once('exit', resolve));
  const cpu = process.cpuUsage(cpu0);
  const p99 = gw.metrics.loopDelay?.percentile(99) ?? NaN;
  const r = {
    mode: bounded ? 'bounded' : 'unbounded',
    messagesSent: Math.floor(S * R) * D,
    messagesRead: c.messages_total - before.messages_total,
    stepped: c.frames_total - before.frames_total,
    dropped: c.dropped_frames_total - before.dropped_frames_total,
    cpuS: (cpu.user + cpu.system) / 1e6,
    loopP99Ms: p99 / 1e6,
  };
  await waitFor(() => gw.snapshot().gauges.queue_depth === 0, 'the queues to drain', 60_000).catch(() => {});
  await gw.stop();
  model.dispose();
  await mq.stop();
  return { ...r, steppedPerCpuS: r.stepped / r.cpuS };
}

try {
  type Row = Awaited<ReturnType<typeof run>>;
  const total = (rows: Row[]): Row => ({
    mode: rows[0]!.mode,
    messagesSent: rows.reduce((n, r) => n + r.messagesSent, 0),
    messagesRead: rows.reduce((n, r) => n + r.messagesRead, 0),
    stepped: rows.reduce((n, r) => n + r.stepped, 0),
    dropped: rows.reduce((n, r) => n + r.dropped, 0),
    cpuS: rows.reduce((n, r) => n + r.cpuS, 0),
    loopP99Ms: Math.max(...rows.map((r) => r.loopP99Ms)),
    steppedPerCpuS: rows.reduce((n, r) => n + r.stepped, 0) / rows.reduce((n, r) => n + r.cpuS, 0),
  });
  const runs: { unbounded: Row[]; bounded: Row[] } = { unbounded: [], bounded: [] };
  for (let i = 0; i < Number(values.rounds); i++) {
    runs.unbounded.push(await run(false));
    runs.bounded.push(await run(true));
  }
  const u = total(runs.unbounded);
  const b = total(runs.bounded);
  for (const r of [u, b]) console.log(`${r.mode.padEnd(9)} read ${r.messagesRead}/${r.messagesSent} messages, stepped ${r.stepped} frames, dropped ${r.dropped}, CPU ${r.cpuS.toFixed(1)} s, ${Math.round(r.steppedPerCpuS)} stepped frames/CPU-s, event-loop p99 (worst round) ${r.loopP99Ms.toFixed(0)} ms`);
  console.log(`bounded / unbounded: stepped frames per CPU-second x${(b.steppedPerCpuS / u.steppedPerCpuS).toFixed(2)}, dropped/stepped ${(u.dropped / u.stepped).toFixed(2)} -> ${(b.dropped / b.stepped).toFixed(2)}, event-loop p99 x${(b.loopP99Ms / u.loopP99Ms).toFixed(2)}; ${os.cpus()[0]?.model ?? ''} x ${os.cpus().length}, Node ${process.version}, ${D} devices at ${R}x real time, ${S} s, ${values.rounds} rounds`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
