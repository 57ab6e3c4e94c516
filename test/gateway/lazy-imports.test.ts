/**
 * MQTT.js, aedes, johnny-five and firmata-io are imported where they are used, not when the
 * gateway module or the CLI is loaded: together they took ~240 ms to import, which `edgernn
 * --help`, `info` and `run` paid on every call (350 ms → 120 ms; `edgernn/gateway` 235 → 24 ms).
 * Checked on the built files in fresh processes: a preloaded probe lists, at exit, which of these
 * packages Node's CommonJS loader (through which ESM imports them) has loaded.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { mqttTransport } from '../../src/gateway/transport.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-lazy-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PROBE = path.join(tmp, 'probe.cjs');
fs.writeFileSync(
  PROBE,
  `process.on('exit', () => {
  const pkgs = new Set();
  for (const k of Object.keys(require('node:module')._cache)) {
    const m = /node_modules[\\\\/](mqtt|aedes|johnny-five|firmata-io)[\\\\/]/.exec(k);
    if (m) pkgs.add(m[1]);
  }
  process.stderr.write('LOADED ' + JSON.stringify([...pkgs].sort()) + '\\n');
});
`,
);

/** Runs node with the probe preloaded; returns the packages loaded by exit. */
function loaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--require', PROBE, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  expect(line, r.stderr).toBeDefined();
  return JSON.parse(line!.slice('LOADED '.length)) as string[];
}

const script = (name: string, body: string): string => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, body);
  return f;
};

describe('the gateway packages load on use', () => {
  it('edgernn --help and edgernn info load none of them', () => {
    expect(loaded(['dist/cli.js', '--help'])).toEqual([]);
    expect(loaded(['dist/cli.js', 'info', 'models/har.ern'])).toEqual([]);
  });

  it('importing edgernn/gateway loads none of them; starting the embedded broker and a client loads aedes and mqtt', () => {
    const gw = JSON.stringify(path.join(ROOT, 'dist/gateway.js'));
    expect(loaded([script('import.mjs', `await import(${gw});\n`)])).toEqual([]);
    // The probe sees a package once it is used: the control that this test can fail.
    const use = script(
      'use.mjs',
      `const g = await import(${gw});
const broker = await g.startEmbeddedBroker();
const t = g.mqttTransport({ broker: { url: broker.url, host: '127.0.0.1', port: 0 }, url: broker.url, clientId: 'lazy-probe' });
await t.start({ message() {}, connect() {}, close() {} });
await t.end(true);
await broker.close();
`,
    );
    expect(loaded([use])).toEqual(['aedes', 'mqtt']);
  });

  it('a transport ended while MQTT.js loads never connects', async () => {
    // Port 1: nothing listens; a client that did connect would keep retrying.
    const url = 'mqtt://127.0.0.1:1';
    const { broker } = parseGatewayConfig({ broker: { url }, models: { m: 'm.ern' }, routes: [{ sensor: 's', model: 'm' }] });
    const t = mqttTransport({ broker, url, clientId: 'lazy-ended' });
    const started = t.start({ message() {}, connect() {}, close() {} });
    await t.end(true);
    await started;
    expect(t.client).toBeNull();
    expect(t.connected).toBe(false);
  });
});
