/**
 * What it costs to hand sinks and 'alert' listeners an immutable alert (src/gateway/gateway.ts
 * alertView): one deep-frozen structuredClone shared by every consumer, against one
 * structuredClone per consumer. Alerts as the gateway makes them, `--frames` evidence frames of
 * `--inputs` values.
 *
 *   npx tsx test/bench/gateway-alert-view.ts [--inputs 6] [--frames 32] [--n 20000]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Alert } from '../../src/gateway/alert.js';
import { alertView } from '../../src/gateway/gateway.js';

const { values } = parseArgs({ options: { inputs: { type: 'string', default: '6' }, frames: { type: 'string', default: '32' }, n: { type: 'string', default: '20000' } } });
const I = Number(values.inputs);
const K = Number(values.frames);
const N = Number(values.n);
const a: Alert = {
  id: '5f0c'.repeat(8), site: 'plant1', device: 'pump-7', sensor: 'imu', gateway: 'gw1',
  model: { name: 'har', version: '1.2.0', sha256: 'ab'.repeat(32) }, detector: 'threshold', label: 'fall', score: 0.93,
  ts: new Date(0).toISOString(), tsMs: 0, seq: 4711, frameIndex: 235551,
  evidence: { fromMs: 0, toMs: 640, inputs: Array.from({ length: K }, (_, t) => Array.from({ length: I }, (_, j) => Math.fround(Math.sin(t * I + j)))), scores: Array.from({ length: K }, (_, t) => Math.fround(t / K)) },
};
const bench = (name: string, f: () => unknown): void => {
  for (let i = 0; i < N / 10; i++) f();
  const t = performance.now();
  for (let i = 0; i < N; i++) f();
  console.log(`${name.padEnd(44)} ${(((performance.now() - t) * 1000) / N).toFixed(1)} µs/alert`);
};
console.log(`${os.cpus()[0]?.model ?? 'cpu'} x ${os.cpus().length}, Node ${process.version}; evidence ${K} x ${I}`);
bench('alertView (deep-frozen copy, shared)', () => alertView(a));
bench('structuredClone, 1 consumer', () => structuredClone(a));
bench('structuredClone, 2 consumers', () => (structuredClone(a), structuredClone(a)));
bench('structuredClone, 3 consumers', () => (structuredClone(a), structuredClone(a), structuredClone(a)));
bench('JSON.stringify (the publish, for scale)', () => JSON.stringify(a));
