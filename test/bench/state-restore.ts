/**
 * What restoring evicted device streams costs the gateway's event loop: N devices evicted (an
 * idle sweep saves their states, fsynced), then each sends once more (a mosquitto restart, a
 * sleep cycle: all wake at once) and its state is loaded and taken out of the store, inside the
 * message handler. Two gateways side by side in one process, rounds interleaved: one with the
 * store's own delete(), one with the delete the store had before (a synchronous unlink of each
 * state file: freeing the blocks of a file that was fsynced costs the caller 0.1-2 ms, tens of
 * ms at times, on ext4).
 *
 * With --thrash, maxDevices is half the devices: each message of the wake evicts the least
 * recently active stream (its state saved: two fsyncs) to make room for the restored one.
 *
 *   npx tsx test/bench/state-restore.ts [--devices 2000] [--rounds 3] [--dir /var/tmp] [--thrash]
 */
import { createHash } from 'node:crypto';
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

const { values } = parseArgs({ options: { devices: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' }, dir: { type: 'string', default: os.tmpdir() }, thrash: { type: 'boolean', default: false } } });
const N = Number(values.devices);
const ROUNDS = Number(values.rounds);
const IDLE_MS = 60_000;
const root = fs.mkdtempSync(path.join(values.dir, 'edgernn-restore-bench-'));

/** The delete() of the store before: both possible files of the key unlinked on the spot (the names as state-store.ts makes them). */
function syncUnlinkDelete(dir: string, store: StateStore): StateStore {
  return {
    load: (k) => store.load(k),
    save: (k, b) => store.save(k, b),
    saveMany: (e) => store.saveMany!(e),
    keys: () => store.keys(),
    delete(key) {
      fs.rmSync(path.join(dir, `${createHash('sha256').update(key, 'utf8').digest('hex')}.st`), { force: true });
      fs.rmSync(path.join(dir, `${Buffer.from(key, 'utf8').toString('base64url')}.state`), { force: true });
    },
  };
}

/** Files in dir that are not state files (removals still under way). */
const pending = (dir: string) => fs.readdirSync(dir).filter((n) => !n.endsWith('.st')).length;

try {
  const model = await (await createRuntime()).load(imuModelBytes());
  const x = imuSignal(10, 1);
  const variants = await Promise.all(
    (['store delete()', 'sync unlink'] as const).map(async (name, v) => {
      const stateDir = path.join(root, String(v));
      const streams = path.join(stateDir, 'streams');
      const clock = new ManualClock(1_700_000_000_000);
      const tr = new TraceTransport();
      const store = fileStateStore(streams);
      const config = imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'bench', stateDir, limits: { maxDevices: values.thrash ? N >> 1 : N + 1, idleEvictMs: IDLE_MS } });
      const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger: memoryLogger('warn'), stateStore: v === 0 ? store : syncUnlinkDelete(streams, store) });
      let seq = 0;
      const wake = () => {
        const per: number[] = [];
        for (let d = 0; d < N; d++) {
          const t = performance.now();
          tr.deliver(gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(x, IMU_CHANNELS, { seq }));
          per.push(performance.now() - t);
        }
        seq++;
        return per;
      };
      return { name, gw, clock, streams, wake, totals: [] as number[], p99: [] as number[], max: [] as number[] };
    }),
  );
  // Every device seen once, then evicted: N saved states each.
  for (const v of variants) {
    v.wake();
    v.clock.advance(IDLE_MS + 1000);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(j + r) % variants.length]!;
      if (v.gw.streams.size !== 0 || v.gw.stateStore.keys().length !== N) throw new Error(`${v.name}: ${v.gw.streams.size} streams, ${v.gw.stateStore.keys().length} states before the wake`);
      // The disk settles first: removals of the previous round finished, no journal commit pending.
      while (pending(v.streams) > 0) await new Promise((r) => setTimeout(r, 20));
      const restoresBefore = v.gw.metrics.counters.state_restores_total ?? 0;
      const per = v.wake();
      if ((v.gw.metrics.counters.state_restores_total ?? 0) - restoresBefore !== N) throw new Error(`${v.name}: not every device restored`);
      per.sort((a, b) => a - b);
      v.totals.push(per.reduce((a, b) => a + b, 0));
      v.p99.push(per[Math.floor(N * 0.99)]!);
      v.max.push(per[N - 1]!);
      v.clock.advance(IDLE_MS + 1000); // evicted again (saved: setup of the next round, not timed)
    }
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
  console.log(`${N} devices waking at once${values.thrash ? `, maxDevices ${N >> 1}` : ''}, ${ROUNDS} rounds (medians); ${os.cpus()[0]?.model ?? ''} x ${os.cpus().length}, Node ${process.version}, dir ${values.dir}`);
  for (const v of variants) console.log(`  ${v.name.padEnd(15)} all ${med(v.totals).toFixed(0).padStart(6)} ms  ${((med(v.totals) * 1000) / N).toFixed(0).padStart(5)} µs/restore  p99 ${med(v.p99).toFixed(2)} ms  max ${med(v.max).toFixed(1)} ms`);
  console.log(`  sync unlink / store delete(): ${(med(variants[1]!.totals) / med(variants[0]!.totals)).toFixed(2)}x`);
  for (const v of variants) await v.gw.stop();
  model.dispose();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
