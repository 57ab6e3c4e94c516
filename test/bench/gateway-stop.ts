/**
 * How long Gateway.stop() takes to save N device streams (one small IMU GRU each) to a stateDir
 * on the disk under --dir: with the batch save (fileStateStore.saveMany: every temporary file
 * fsynced, all renamed, one folder fsync) and, with --one-by-one, the way stop() saved before
 * (save() per stream: two fsyncs each, one stream after the other).
 *
 *   npx tsx test/bench/gateway-stop.ts [--streams 2000] [--dir /var/tmp] [--one-by-one]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRuntime } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { fileStateStore, type StateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, imuGatewayConfig, imuModelBytes, imuSignal } from '../gateway/fixtures.js';

const { values } = parseArgs({ options: { streams: { type: 'string', default: '2000' }, dir: { type: 'string', default: os.tmpdir() }, 'one-by-one': { type: 'boolean', default: false } } });
const N = Number(values.streams);
const stateDir = fs.mkdtempSync(path.join(values.dir, 'edgernn-stop-bench-'));
try {
  const model = await (await createRuntime()).load(imuModelBytes());
  const clock = new ManualClock(1_700_000_000_000);
  const tr = new TraceTransport();
  let stateStore: StateStore = fileStateStore(path.join(stateDir, 'streams'), { maxStates: N });
  // The store without saveMany: saveStates() falls back to save() per stream, as stop() did.
  if (values['one-by-one']) stateStore = { load: stateStore.load, save: stateStore.save, delete: stateStore.delete, keys: stateStore.keys };
  const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'bench', stateDir, limits: { maxDevices: N } });
  const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger: memoryLogger('warn'), stateStore });
  for (let d = 0; d < N; d++) tr.deliver(gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(imuSignal(10, d), IMU_CHANNELS, { seq: 0 }));
  clock.advance(10);
  const t = performance.now();
  await gw.stop();
  const ms = performance.now() - t;
  console.log(`${values['one-by-one'] ? 'one by one' : 'batch'}: stop() with ${N} streams ${ms.toFixed(0)} ms (${((ms * 1000) / N).toFixed(0)} µs/stream); ${fs.readdirSync(path.join(stateDir, 'streams')).length} state files; ${os.cpus()[0]?.model ?? ''} x ${os.cpus().length}, Node ${process.version}, dir ${values.dir}`);
  model.dispose();
} finally {
  fs.rmSync(stateDir, { recursive: true, force: true });
}
