/**
 * Stream states saved as one batch (fileStateStore's saveMany): every temporary file written and
 * fsynced, then all renamed, then one fsync of the folder, instead of two fsyncs per state, one
 * state after the other (10,000 streams on an SD card took minutes to stop). stop() and idle
 * eviction sweeps save that way. A batch cut short leaves each state old or new, whole, and its
 * temporary files are removed at the next open: a child process saving batches without end is
 * SIGKILLed in the middle of one. Real files throughout; the fsyncs are watched (fs-watch.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { fileStateStore, memoryStateStore, saveStates } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, imuGatewayConfig, imuModelAndGateways, imuSignal, tmpDir, waitFor } from './fixtures.js';
import { watchDurability } from './fs-watch.js';
import { batchStateBytes, batchStateVersion } from './state-batch-bytes.js';

const TSX_LOADER = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

describe('fileStateStore.saveMany', () => {
  it('fsyncs every temporary file before the first rename and the folder once after the last', () => {
    const dir = path.join(tmpDir('edgernn-batch-'), 'streams');
    const store = fileStateStore(dir);
    const N = 10;
    const w = watchDurability(dir);
    let failed;
    try {
      failed = store.saveMany!(Array.from({ length: N }, (_, i) => [`dev-${i}/imu`, batchStateBytes(i, 1)] as const));
    } finally {
      w.restore();
    }
    expect(failed).toEqual([]);
    const fsyncs = w.events.filter((e) => e.startsWith('fsync '));
    const renames = w.events.filter((e) => e.startsWith('rename '));
    expect(fsyncs.length).toBe(N + 1);
    expect(renames.length).toBe(N);
    expect(w.events.filter((e) => e === 'fsync .').length).toBe(1);
    const lastTmpFsync = Math.max(...fsyncs.filter((e) => e !== 'fsync .').map((e) => w.events.indexOf(e)));
    expect(lastTmpFsync).toBeLessThan(w.events.indexOf(renames[0]!));
    expect(w.events.indexOf('fsync .')).toBeGreaterThan(w.events.indexOf(renames[N - 1]!));
    for (let i = 0; i < N; i++) expect(batchStateVersion(i, store.load(`dev-${i}/imu`)!)).toBe(1);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('saves the others when one state cannot be saved, reports that one, and takes the last of a key given twice', () => {
    const dir = path.join(tmpDir('edgernn-batch-'), 'streams');
    const store = fileStateStore(dir);
    store.save('dev-1/imu', batchStateBytes(1, 1));
    // A directory where dev-1's file goes (EISDIR even as root): its rename fails.
    const file1 = fs.readdirSync(dir).find((n) => n.endsWith('.st'))!;
    fs.rmSync(path.join(dir, file1));
    fs.mkdirSync(path.join(dir, file1));
    fs.writeFileSync(path.join(dir, file1, 'x'), 'x');
    const failed = store.saveMany!([
      ['dev-0/imu', batchStateBytes(0, 1)],
      ['dev-1/imu', batchStateBytes(1, 2)],
      ['dev-2/imu', batchStateBytes(2, 1)],
      ['dev-0/imu', batchStateBytes(0, 2)],
    ]);
    expect(failed.map((f) => f.key)).toEqual(['dev-1/imu']);
    expect(batchStateVersion(0, store.load('dev-0/imu')!)).toBe(2);
    expect(batchStateVersion(2, store.load('dev-2/imu')!)).toBe(1);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('saveStates() falls back to save() for a store without saveMany', () => {
    const store = memoryStateStore();
    expect(store.saveMany).toBeUndefined();
    expect(saveStates(store, [['a/imu', Uint8Array.of(1)], ['b/imu', Uint8Array.of(2)]])).toEqual([]);
    expect([...store.map.keys()]).toEqual(['a/imu', 'b/imu']);
  });

  it('a batch killed midway leaves each state old or new, whole; its temporary files are removed at the next open', { timeout: 60_000 }, async () => {
    const dir = path.join(tmpDir('edgernn-batch-'), 'streams');
    const N = 200;
    expect(fileStateStore(dir).saveMany!(Array.from({ length: N }, (_, i) => [`dev-${i}/imu`, batchStateBytes(i, 0)] as const))).toEqual([]);
    const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(import.meta.dirname, 'state-batch-child.ts'), dir, String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      // Killed once it is past its first batch and has temporary files of the next on disk.
      await waitFor(() => out.includes('batch 1\n') && fs.readdirSync(dir).some((n) => n.endsWith('.tmp')), `the child to save a batch and start another (stderr: ${err})`, 30_000, 1);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // Almost always killed with temporary files on disk (between two batches there are none: a
    // valid crash point too, so not asserted).
    const store = fileStateStore(dir);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(store.keys().length).toBe(N);
    const versions = new Set<number>();
    for (let i = 0; i < N; i++) {
      const v = batchStateVersion(i, store.load(`dev-${i}/imu`)!);
      expect(v, `dev-${i}`).not.toBeNull();
      versions.add(v!);
    }
    // At most two batches in view: the last one finished and the one cut short.
    expect(versions.size).toBeLessThanOrEqual(2);
  });
});

describe('the gateway saves states in batches', () => {
  const ctx = imuModelAndGateways();
  const PER = 10;

  const withStreams = async (n: number, limits: Record<string, number> = {}) => {
    const stateDir = tmpDir('edgernn-batch-gw-');
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const gw = await Gateway.create({ config: imuGatewayConfig('mqtt://127.0.0.1:1', { site: 'home', stateDir, limits }), models: { imu: ctx.model }, clock, transport: tr, logger: memoryLogger('warn') });
    ctx.gateways.push(gw);
    for (let d = 0; d < n; d++) tr.deliver(gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(imuSignal(PER, d), IMU_CHANNELS, { seq: 0 }));
    clock.advance(10);
    expect(gw.streams.size).toBe(n);
    return { gw, clock, stateDir, streamsDir: path.join(stateDir, 'streams') };
  };
  const folderFsyncs = (events: readonly string[]) => events.filter((e) => e === 'fsync streams').length;

  it('stop() saves every stream with one folder fsync (it was one per stream)', { timeout: 30_000 }, async () => {
    const N = 20;
    const { gw, stateDir, streamsDir } = await withStreams(N);
    const w = watchDurability(stateDir);
    try {
      await gw.stop();
    } finally {
      w.restore();
    }
    expect(folderFsyncs(w.events)).toBe(1);
    expect(w.events.filter((e) => e.startsWith('fsync streams/')).length).toBe(N);
    expect(fileStateStore(streamsDir).keys().length).toBe(N);
  });

  it('an idle eviction sweep saves its streams with one folder fsync', { timeout: 30_000 }, async () => {
    const N = 12;
    const { gw, clock, stateDir, streamsDir } = await withStreams(N, { idleEvictMs: 4000 });
    const w = watchDurability(stateDir);
    try {
      clock.advance(5000); // past idleEvictMs: the next tick evicts them all
    } finally {
      w.restore();
    }
    expect(gw.streams.size).toBe(0);
    expect(gw.metrics.counters.evictions_total).toBe(N);
    expect(folderFsyncs(w.events)).toBe(1);
    expect(fileStateStore(streamsDir).keys().length).toBe(N);
  });
});
