/**
 * Upgrading a running gateway from release f549123: what it left on disk (saved stream states,
 * alerts pending in the outbox), a trace `edgernn record` wrote and models `edgernn train` wrote
 * there, read by this code. The fixtures (test/fixtures/upgrade-f549123, README.md) were made by
 * that release's build; these tests keep them readable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/gateway/clock.js';
import { parseGatewayConfig, resolveConfigPaths, type GatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { parseTrace, replayTrace } from '../../src/gateway/trace.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { decodeErn } from '../../src/format/ern.js';
import { tmpDir } from './fixtures.js';
// @ts-expect-error a plain .mjs module, shared with the fixtures' make.sh
import { AFTER_IDLE, BEFORE_IDLE, batch, T0 } from '../fixtures/upgrade-f549123/messages.mjs';

const FIXTURES = path.resolve(__dirname, '../fixtures/upgrade-f549123');
const batchOf = batch as (arg: string) => Array<[string, string]>;
/** What comes after the upgrade: d2's seq 15 releases the 16 the old gateway held in its saved state. */
const AFTER_UPGRADE = ['d1:15-24', 'd2:15-15', 'd2:17-24', 'f1/fc:21-40'];

function config(stateDir: string): GatewayConfig {
  const raw = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'gateway.json'), 'utf8')) as Record<string, unknown>;
  const c = resolveConfigPaths(parseGatewayConfig({ ...raw, stateDir: 'state', metrics: { intervalMs: 0 } }), FIXTURES, (b, p) => path.resolve(b, p));
  return { ...c, stateDir };
}

interface Published {
  id: string;
  device: string;
  sensor: string;
  tsMs: number;
  label: string;
  score: number;
}

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

/** A gateway of this code on `stateDir` ('' = memory), fed `batches` in order; its published alerts after stop(). */
async function run(stateDir: string, batches: readonly string[]) {
  const clock = new ManualClock(Date.UTC(2026, 10, 27));
  const tr = new TraceTransport();
  const logger = memoryLogger('info');
  const gw = await Gateway.create({ config: config(stateDir), clock, transport: tr, logger });
  gateways.push(gw);
  for (const b of batches) {
    for (const [topic, payload] of batchOf(b)) {
      tr.deliver(topic, new TextEncoder().encode(payload));
      clock.advance(5);
    }
  }
  clock.advance(5);
  await gw.stop();
  const counters = { ...gw.metrics.counters };
  gateways.splice(gateways.indexOf(gw), 1);
  const alerts = tr.published.filter((p) => p.topic.endsWith('/alerts')).map((p) => JSON.parse(new TextDecoder().decode(p.payload)) as Published);
  return { alerts, counters, logger };
}

const content = (a: Published) => JSON.stringify([a.device, a.sensor, a.tsMs, a.label, a.score]);

describe('upgrade from f549123', () => {
  it("restores the old gateway's saved states (one with a held message, one of a horizon-2 forecaster) and delivers its pending alerts once", async () => {
    const dir = tmpDir();
    fs.cpSync(path.join(FIXTURES, 'state'), dir, { recursive: true });
    const upgraded = await run(dir, AFTER_UPGRADE);
    // As if never stopped: one gateway of this code given everything.
    const reference = await run('', [...BEFORE_IDLE, ...AFTER_IDLE, ...AFTER_UPGRADE]);

    expect(upgraded.counters.state_restores_total).toBe(3);
    expect(upgraded.counters.state_errors_total).toBe(0);
    expect(upgraded.logger.lines.filter((l) => l.msg === 'saved stream state not used')).toEqual([]);
    expect(upgraded.counters.resets_total).toBe(0);

    // The 20 alerts the broker refused before the upgrade go out once, with their ids.
    const ids = upgraded.alerts.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    const pending = upgraded.alerts.slice(0, 20);
    expect(upgraded.alerts.length - pending.length).toBe(upgraded.counters.alerts_total);
    // The old build served the CSV classifier (no input.frontend.windows) as one session, a
    // decision per frame; this code serves it the same way: the same alerts, score for score.
    const after = T0 + 15 * 80;
    const pendingData = pending.filter((a) => a.sensor === 'data').map(content).sort();
    expect(pendingData.length).toBeGreaterThan(5);
    expect(pendingData).toEqual(reference.alerts.filter((a) => a.sensor === 'data' && a.tsMs < after).map(content).sort());

    // After the upgrade, the classifier streams go on exactly (d2's held seq 16 included).
    const newData = upgraded.alerts.slice(20).filter((a) => a.sensor === 'data').map(content).sort();
    expect(newData.length).toBeGreaterThan(3);
    expect(newData).toEqual(reference.alerts.filter((a) => a.sensor === 'data' && a.tsMs >= after).map(content).sort());
    // The forecaster's model state goes on; its prediction ring (one output in the old state,
    // compared with the next frame though the model predicts 2 ahead) restarts: from the third
    // frame after the upgrade, the same as never stopped.
    const fcFrom = T0 + 21 * 80 + 2 * 20;
    const fc = (r: { alerts: Published[] }) => r.alerts.filter((a) => a.sensor === 'fc' && a.tsMs >= fcFrom).map(content).sort();
    expect(fc(upgraded)).toEqual(fc(reference));
  });

  it('replays an old trace to the alerts the old build replayed (the classifier route)', async () => {
    const { records, header } = parseTrace(fs.readFileSync(path.join(FIXTURES, 'trace.ndjson')), 'trace.ndjson');
    expect(header.version).toBe(1);
    expect(records.length).toBe(47);
    const r = await replayTrace({ config: config(''), records, speed: 'max' });
    const old = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'replay-alerts.json'), 'utf8')) as Array<Omit<Published, 'tsMs'> & { ts: string }>;
    const pick = (a: { id: string; device: string; label: string; score: number }) => JSON.stringify([a.id, a.device, a.label, a.score]);
    // The forecaster route's scores changed on purpose (horizon 2 is now compared 2 frames on).
    expect(r.alerts.filter((a) => a.sensor === 'data').map(pick)).toEqual(old.filter((a) => a.sensor === 'data').map(pick));
    expect(old.filter((a) => a.sensor === 'data').length).toBeGreaterThan(5);
  });

  it('reads the old CSV and WAV-folder classifiers: no input.frontend.windows (served as one session), extra.data as written then', () => {
    const spec = (f: string) => decodeErn(fs.readFileSync(path.join(FIXTURES, 'models', f)), f).manifest as { input?: { frontend?: unknown }; extra?: { data?: unknown } };
    const cls = spec('cls.ern');
    expect(cls.input?.frontend).toEqual({ kind: 'none' });
    expect(cls.extra?.data).toEqual({ seqLen: 16, stride: 8, columns: ['a', 'b'], labelColumn: 'label' });
    expect((spec('wav.ern').input?.frontend as { kind: string; windows?: unknown }).windows).toBeUndefined();
    expect(spec('fc2.ern').extra?.data).toMatchObject({ horizon: 2, columns: ['a', 'b'] });
  });
});
