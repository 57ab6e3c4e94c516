/**
 * Taking a state out of the file store (a device's first message after eviction, the
 * maxSavedStates bound, a cluster hand-off) without unlinking it on the event loop: freeing the
 * blocks of a fsynced state file cost 0.1-2 ms per restore here, tens of ms at times, so
 * thousands of devices waking at once (a broker restart) held the gateway for seconds
 * (test/bench/state-restore.ts). The file is renamed aside at once and unlinked later; these
 * tests hold those unlinks back to prove that no state is lost or comes back: a save of the same
 * key in the meantime, a crash before the unlink (a new store opened on the folder), the bound.
 * Also the store on a disk that fails: full (no temporary file left behind), read-only (a device
 * whose state cannot be deleted is still restored, and keeps running).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { fileStateStore, saveStates, type StateStore } from '../../src/gateway/state-store.js';
import { peekStreamState } from '../../src/gateway/stream.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, connectClient, imuGatewayConfig, imuModelAndGateways, imuModelBrokerAndGateways, imuSessionState, imuSignal, publishAsync, tmpDir, waitFor } from './fixtures.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const STATE_FILE = /^[0-9a-f]{64}\.st$/;
const stateFiles = (dir: string) => fs.readdirSync(dir).filter((n) => STATE_FILE.test(n));
/** Waits until the folder holds state files only (the removals under way finished). */
const settled = (dir: string) => waitFor(() => fs.readdirSync(dir).every((n) => STATE_FILE.test(n)), `only state files in ${dir}`);

/** Holds back the store's unlinks (fs.unlink) until release(); a store whose process dies before then leaves them undone. */
function holdUnlinks() {
  const real = fs.unlink;
  const held: Array<() => void> = [];
  const spy = vi.spyOn(fs, 'unlink').mockImplementation(((p: fs.PathLike, cb: fs.NoParamCallback) => void held.push(() => real(p, cb))) as typeof fs.unlink);
  return {
    held,
    release() {
      spy.mockRestore();
      for (const h of held.splice(0)) h();
    },
  };
}

/** Counts synchronous unlinks (fs.rmSync, fs.unlinkSync) of files in dir. */
function countSyncUnlinks(dir: string) {
  const calls: string[] = [];
  const inDir = (p: fs.PathLike) => path.dirname(path.resolve(String(p))) === path.resolve(dir);
  const rm = fs.rmSync;
  const unlink = fs.unlinkSync;
  vi.spyOn(fs, 'rmSync').mockImplementation((p, o) => {
    if (inDir(p)) calls.push(String(p));
    rm(p, o);
  });
  vi.spyOn(fs, 'unlinkSync').mockImplementation((p) => {
    if (inDir(p)) calls.push(String(p));
    unlink(p);
  });
  return calls;
}

const b = (...v: number[]) => Uint8Array.from(v);
const arr = (x: Uint8Array | undefined) => (x ? Array.from(x) : x);

describe('fileStateStore: a state taken out is not unlinked on the event loop', () => {
  it('delete() and the maxStates bound rename the file aside at once; it is unlinked after (the folder ends with the live states only)', async () => {
    const dir = path.join(tmpDir('edgernn-removal-'), 'streams');
    const dropped: string[] = [];
    const st = fileStateStore(dir, { maxStates: 2, onDrop: (k) => dropped.push(k) });
    const sync = countSyncUnlinks(dir);
    st.save('a/imu', b(1));
    st.save('b/imu', b(2));
    st.delete('a/imu');
    st.save('c/imu', b(3));
    st.save('d/imu', b(4)); // beyond the bound: b/imu dropped
    expect(sync).toEqual([]);
    expect(dropped).toEqual(['b/imu']);
    expect(st.load('a/imu')).toBeUndefined();
    expect(st.load('b/imu')).toBeUndefined();
    expect(st.keys().sort()).toEqual(['c/imu', 'd/imu']);
    await settled(dir);
    expect(stateFiles(dir)).toHaveLength(2);
    expect(fs.readdirSync(dir)).toHaveLength(2);
  });

  it('a key saved again before the removal of its previous file ran keeps the new state, now and after a crash-like reopen', async () => {
    const dir = path.join(tmpDir('edgernn-removal-'), 'streams');
    const st = fileStateStore(dir);
    st.save('k/imu', b(1));
    const hold = holdUnlinks();
    st.delete('k/imu'); // a restore
    expect(st.load('k/imu')).toBeUndefined();
    st.save('k/imu', b(2)); // evicted again before the unlink ran
    expect(hold.held.length).toBeGreaterThan(0);
    // A crash now: the next process finds the new state, once, and not the old one.
    const reopened = fileStateStore(dir);
    expect(arr(reopened.load('k/imu'))).toEqual([2]);
    expect(reopened.keys()).toEqual(['k/imu']);
    // No crash: the held unlink runs and takes only the old file.
    hold.release();
    await settled(dir);
    expect(arr(st.load('k/imu'))).toEqual([2]);
    expect(st.keys()).toEqual(['k/imu']);
    expect(arr(fileStateStore(dir).load('k/imu'))).toEqual([2]);
    expect(fs.readdirSync(dir)).toHaveLength(1);
  });

  it('a crash between the rename and the unlink: the deleted state does not come back, and the leftover is removed at the next open', async () => {
    const dir = path.join(tmpDir('edgernn-removal-'), 'streams');
    const st = fileStateStore(dir, { maxStates: 3 });
    saveStates(st, ['a', 'b', 'c'].map((k) => [`${k}/imu`, b(k.charCodeAt(0))] as const));
    const hold = holdUnlinks();
    st.delete('a/imu');
    st.delete('never-saved/imu');
    st.save('d/imu', b(100)); // b, c, d: at the bound
    st.save('e/imu', b(101)); // beyond it: b dropped
    expect(fs.readdirSync(dir).length).toBeGreaterThan(3); // the renamed files still there
    // The process dies here: its held unlinks never run. A new store on the folder:
    const dropped: string[] = [];
    const next = fileStateStore(dir, { maxStates: 3, onDrop: (k) => dropped.push(k) });
    expect(dropped).toEqual([]); // nothing beyond the bound: the renamed files are not states
    expect(next.keys().sort()).toEqual(['c/imu', 'd/imu', 'e/imu']);
    expect(next.load('a/imu')).toBeUndefined();
    expect(next.load('b/imu')).toBeUndefined();
    expect(arr(next.load('c/imu'))).toEqual([99]);
    hold.release(); // (the dead process's unlinks: find nothing, or the files the open removes)
    await settled(dir);
    expect(fs.readdirSync(dir)).toHaveLength(3);
  });

  it('thousands of keys of any kind (unicode, path-like, 5,000 bytes long): taken out and saved again in turns, reopened, none lost or back', async () => {
    const dir = path.join(tmpDir('edgernn-removal-'), 'streams');
    const names = ['dev', 'hällé/€', '../../etc/passwd', '.', 'a/b/c', 'x'.repeat(5000), '😀', 'tab\tnew\nline', 'space name'];
    const keys = Array.from({ length: 2000 }, (_, i) => `${names[i % names.length]}-${i}/imu`);
    const st = fileStateStore(dir, { fsync: false });
    expect(saveStates(st, keys.map((k, i) => [k, b(i & 255, 0)] as const))).toEqual([]);
    const hold = holdUnlinks();
    // Every other key restored (taken out); of those, every fourth evicted again with a new state.
    for (let i = 0; i < keys.length; i += 2) {
      expect(arr(st.load(keys[i]!))).toEqual([i & 255, 0]);
      st.delete(keys[i]!);
      if (i % 4 === 0) st.save(keys[i]!, b(i & 255, 1));
    }
    const expected = new Map(keys.flatMap((k, i) => (i % 2 === 1 ? [[k, [i & 255, 0]]] : i % 4 === 0 ? [[k, [i & 255, 1]]] : [])));
    const check = (s: StateStore) => {
      expect(s.keys().sort()).toEqual([...expected.keys()].sort());
      for (const k of keys) expect(arr(s.load(k)), k.slice(0, 40)).toEqual(expected.get(k));
    };
    check(fileStateStore(dir)); // crash-like: the removals not done
    hold.release();
    await settled(dir);
    check(st);
    check(fileStateStore(dir));
    expect(stateFiles(dir)).toHaveLength(expected.size);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['streams']); // nothing escaped the folder
  });
});

describe('fileStateStore on a disk that fails', () => {
  it('a save the disk refuses (full) leaves no temporary file behind: it held the full disk\'s last blocks until the next start', () => {
    const dir = path.join(tmpDir('edgernn-removal-'), 'streams');
    const st = fileStateStore(dir);
    st.save('a/imu', b(1));
    const write = fs.writeSync;
    let first = true;
    // The disk fills up in the middle of the state: part written, then ENOSPC.
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Uint8Array, off: number, len: number) => {
      if (!first) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      first = false;
      return write(fd, buf, off, Math.min(len, 8));
    }) as typeof fs.writeSync);
    expect(() => st.save('a/imu', b(2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(() => st.save('b/imu', b(3))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    vi.restoreAllMocks();
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(arr(st.load('a/imu'))).toEqual([1]); // the old state, whole
    expect(st.keys()).toEqual(['a/imu']);
  });

  it('a rename aside the disk refuses (a full disk needing a new folder block): the file is unlinked on the spot instead', () => {
    const dir = path.join(tmpDir('edgernn-removal-'), 'streams');
    const st = fileStateStore(dir);
    st.save('a/imu', b(1));
    st.save('b/imu', b(2));
    const rename = fs.renameSync;
    // Renames into place (saves) work; renames of a state file to any other name fail.
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (STATE_FILE.test(path.basename(String(from))) && !STATE_FILE.test(path.basename(String(to)))) throw Object.assign(new Error('ENOSPC: no space left on device, rename'), { code: 'ENOSPC' });
      rename(from, to);
    });
    st.delete('a/imu');
    expect(st.load('a/imu')).toBeUndefined();
    expect(st.keys()).toEqual(['b/imu']);
    expect(fs.readdirSync(dir)).toHaveLength(1);
  });

  it('states beyond the bound that a read-only disk keeps are not reported dropped (states_dropped_total counted them)', () => {
    const dir = path.join(tmpDir('edgernn-removal-'), 'streams');
    saveStates(fileStateStore(dir), ['a', 'b', 'c'].map((k) => [`${k}/imu`, b(1)] as const));
    const erofs = () => {
      throw Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
    };
    vi.spyOn(fs, 'renameSync').mockImplementation(erofs);
    vi.spyOn(fs, 'rmSync').mockImplementation(erofs);
    vi.spyOn(fs, 'unlinkSync').mockImplementation(erofs);
    const dropped: string[] = [];
    fileStateStore(dir, { maxStates: 1, onDrop: (k) => dropped.push(k) });
    expect(dropped).toEqual([]);
    vi.restoreAllMocks();
    expect(stateFiles(dir)).toHaveLength(3);
  });
});

describe('the gateway restoring states from a disk that fails', () => {
  const ctx = imuModelAndGateways();

  it('a state the store cannot delete (the disk turned read-only: EROFS) is still restored; the device keeps running (every message of it failed in the handler)', async () => {
    const stateDir = tmpDir('edgernn-removal-gw-');
    const inner = fileStateStore(path.join(stateDir, 'streams'));
    const sw = { readOnly: false };
    const erofs = () => Object.assign(new Error('EROFS: read-only file system, unlink'), { code: 'EROFS' });
    const store: StateStore = {
      load: (k) => inner.load(k),
      save: (k, v) => (sw.readOnly ? (() => { throw erofs(); })() : inner.save(k, v)),
      saveMany: (e) => (sw.readOnly ? e.map(([key]) => ({ key, error: erofs() })) : inner.saveMany!(e)),
      delete: (k) => (sw.readOnly ? (() => { throw erofs(); })() : inner.delete(k)),
      keys: () => inner.keys(),
    };
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('info');
    const gw = await Gateway.create({ config: imuGatewayConfig('mqtt://127.0.0.1:1', { site: 's', stateDir, limits: { idleEvictMs: 60_000 } }), models: { imu: ctx.model }, clock, transport: tr, logger, stateStore: store });
    ctx.gateways.push(gw);
    const x = imuSignal(40, 3);
    const send = (m: number) => tr.deliver(gw.topics.sensor('d1', 'imu'), encodeJson(x.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
    send(0);
    clock.advance(61_000); // idle: evicted, state saved
    expect(gw.streams.size).toBe(0);
    sw.readOnly = true;
    for (let m = 1; m < 4; m++) {
      send(m);
      clock.advance(10);
    }
    const c = gw.metrics.counters;
    expect(logger.lines.filter((l) => l.msg === 'message handler failed')).toEqual([]);
    expect(c.state_restores_total).toBe(1);
    expect(c.frames_total).toBe(40); // every frame, the stream continued from its state
    expect(gw.streams.get('d1/imu')!.lastSeq).toBe(3);
    expect(c.state_errors_total ?? 0).toBe(0); // restored: not an error of the state
    expect(logger.lines.find((l) => l.msg === 'saved stream state restored but not deleted from the store')).toMatchObject({ device: 'd1', sensor: 'imu', error: expect.stringMatching(/EROFS/) });
    // The disk works again: the next eviction saves over the old file.
    sw.readOnly = false;
    clock.advance(61_000);
    expect(peekStreamState(inner.load('d1/imu')!)?.lastSeq).toBe(3);
  });
});

describe('devices waking at once through the broker', () => {
  const ctx = imuModelBrokerAndGateways();

  it('restored, evicted again, restored again: each stream continues exactly; a crash-like reopen between finds the newest states, and none of the live ones', { timeout: 60_000 }, async () => {
    const N = 150;
    const stateDir = tmpDir('edgernn-removal-wake-');
    const streamsDir = path.join(stateDir, 'streams');
    const clock = new ManualClock(1_700_000_000_000);
    const config = imuGatewayConfig(ctx.broker.url, { site: 's', stateDir, broker: { url: ctx.broker.url, protocolVersion: 4 }, limits: { idleEvictMs: 60_000 } });
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, clock, logger: memoryLogger('warn') });
    ctx.gateways.push(gw);
    const dev = await connectClient(ctx.broker.url);
    ctx.clients.push(dev);
    const xs = Array.from({ length: N }, (_, d) => imuSignal(30, d, d % 7 === 0 ? [[12, 20]] : []));
    let sent = 0;
    const wake = async (m: number) => {
      for (let d = 0; d < N; d++) await publishAsync(dev, gw.topics.sensor(`dev-${d}`, 'imu'), encodeJson(xs[d]!.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
      sent += N;
      await waitFor(() => gw.metrics.counters.messages_total === sent, `${sent} messages at the gateway`);
      gw.drainNow();
    };
    const sleep = async () => {
      clock.advance(61_000);
      // The sweep saves 64 streams at a time, the next slice on a timer of the (manual) clock.
      await waitFor(() => (clock.advance(1), gw.streams.size === 0), 'every stream evicted');
    };
    const lastSeqs = (st: StateStore) => new Map(st.keys().map((k) => [k, peekStreamState(st.load(k)!)?.lastSeq]));

    await wake(0);
    await sleep();
    const hold = holdUnlinks();
    await wake(1); // every device restored: its file renamed aside, the unlink held
    expect(gw.metrics.counters.state_restores_total).toBe(N);
    expect(hold.held.length).toBeGreaterThan(0);
    expect(fileStateStore(streamsDir).keys()).toEqual([]); // a crash now: nothing comes back
    await sleep(); // saved again, the old files not yet unlinked
    const reopened = lastSeqs(fileStateStore(streamsDir)); // a crash now: the newest states
    expect(reopened.size).toBe(N);
    expect([...reopened.values()].every((s) => s === 1)).toBe(true);
    hold.release();
    await wake(2);
    expect(gw.metrics.counters.state_restores_total).toBe(2 * N);
    expect(gw.metrics.counters.state_errors_total ?? 0).toBe(0);
    for (let d = 0; d < N; d++) expect(gw.streams.get(`dev-${d}/imu`)!.session.exportState(), `dev-${d}`).toEqual(imuSessionState(ctx.model, xs[d]!));
    await settled(streamsDir);
    expect(fs.readdirSync(streamsDir)).toEqual([]);
    await gw.stop();
    expect(lastSeqs(fileStateStore(streamsDir)).size).toBe(N);
  });
});
