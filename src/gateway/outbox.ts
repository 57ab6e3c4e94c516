/**
 * The durable alert outbox (Node-only module): a write-ahead log that holds every alert until the
 * broker acknowledged it (PUBACK), across broker outages, crashes and restarts.
 *
 * File `<dir>/outbox.wal`, one record per line:  <crc32 as 8 hex digits> <JSON>\n
 *   {"op":"add","alert":{...}}   written and fsynced before the alert counts as raised
 *   {"op":"ack","id":"..."}      written when the broker acknowledged (not fsynced: losing an ack
 *                                only re-sends the alert, and consumers drop duplicates by id)
 *   {"op":"ack","id":"...","dropped":true}
 *                                the alert was dropped to keep the outbox within maxAlerts and
 *                                maxBytes (written with the add that made room, so fsynced with
 *                                it; an ack record, so that older gateways read it as one too)
 * Opening replays the log; a torn last line (crash mid-write: no newline) is cut off, a corrupt
 * line (the last one too, when whole) is skipped and reported. Compaction writes the pending
 * alerts to outbox.wal.tmp, fsyncs it, renames it over the log and fsyncs the directory, so a
 * crash at any point leaves either the old or the new log (with fsync off, none of these fsyncs
 * is made); one that fails before the rename removes outbox.wal.tmp.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError } from '../errors.js';
import type { Alert } from './alert.js';
import type { Logger } from './logger.js';
import { makeDirs } from '../io/files.js';

export interface Outbox {
  /** Makes alerts durable now, synchronously (one write + fsync for the batch). */
  add(alerts: readonly Alert[]): void;
  /**
   * Makes alerts durable without blocking the event loop: null when that already happened
   * (synchronous stores), else a promise resolved once the alerts are on disk. Commits that
   * arrive while a write is in flight share the next write + fsync (group commit).
   */
  commit(alerts: readonly Alert[]): Promise<void> | null;
  /** The broker acknowledged this alert: forget it. Unknown ids are ignored. */
  ack(id: string): void;
  /** Alerts not yet acknowledged, oldest first. */
  pending(): IterableIterator<Alert>;
  has(id: string): boolean;
  readonly depth: number;
  /** Waits for commits in flight, then closes. */
  close(): Promise<void>;
}

/**
 * Bounds of the alerts an outbox holds unacknowledged (while the broker is away they pile up).
 * Beyond either, the oldest alerts are dropped to make room (of a batch being added, its older
 * ones too, unwritten); never the newest alert added, even one that alone is over maxBytes.
 */
export interface OutboxBounds {
  /** Most alerts held (default 100,000). */
  maxAlerts?: number;
  /** Most bytes held, counted as the alerts' log records (default 64 MiB). */
  maxBytes?: number;
  /** Called with the alerts dropped for the bounds, oldest first; they are never published after that. */
  onDrop?: (alerts: readonly Alert[]) => void;
  /** Says when dropping starts (warn, once) and stops (info). */
  logger?: Logger;
}

export interface FileOutboxOptions extends OutboxBounds {
  /**
   * fsync after each add batch, and the compaction's temp file before its rename and the
   * directory after it (default true). false trades durability for latency: a crash may lose
   * the latest alerts.
   */
  fsync?: boolean;
  /** Compact once this many acknowledged or dropped records accumulated (default 1000). */
  compactAfter?: number;
}

export interface OutboxOpenReport {
  /** Alerts found pending in the log (to be re-sent). */
  replayed: number;
  /** Bytes cut off the end (a torn write). */
  truncatedBytes: number;
  /** Corrupt records skipped in the middle of the log. */
  corrupt: number;
  /**
   * With corrupt records: the log as it was found, kept beside it (outbox.wal.corrupt-<ms>) for
   * recovery by hand; the compaction at open rewrites the log without them.
   */
  keptCorrupt?: string;
  /** Alerts dropped at open to fit the bounds (lowered since the log was written); absent when none. */
  dropped?: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, the zlib one) of bytes. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function record(obj: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(obj), 'utf8');
  return Buffer.concat([Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} `, 'ascii'), json, Buffer.from('\n')]);
}

/** The record that says an alert was dropped for the outbox's bounds (see the header). */
const dropRecord = (id: string): Buffer => record({ op: 'ack', id, dropped: true });

/** Writes every byte (writeSync may write part of the buffer without an error: a full disk, a size limit). */
function writeAllSync(fd: number, bytes: Buffer): void {
  for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Removes the temp file of a compaction that failed before its rename. Left behind, its part of a
 * snapshot kept the space a full disk needed for the alerts that followed (they were held in
 * memory only) until a later compaction succeeded, or for good when it failed at open.
 */
function removeTemp(tmp: string): void {
  try {
    fs.unlinkSync(tmp);
  } catch {
    /* never made, or not ours to remove (a directory in its place) */
  }
}

/** Size of an alert's add record in the log: what maxBytes counts, for either outbox. */
function recordBytes(a: Alert): number {
  return Buffer.byteLength(JSON.stringify({ op: 'add', alert: a }), 'utf8') + 10; // "<crc32> " and "\n"
}

/**
 * The unacknowledged alerts, oldest first, each with the size of its add record, kept within the
 * bounds by dropping the oldest. Both outboxes use it: one held in memory (stateDir "", or a disk
 * that refused writes at start) fills the memory while the broker is away, as a log fills a disk.
 */
class PendingAlerts {
  private readonly map = new Map<string, { alert: Alert; bytes: number }>();
  private totalBytes = 0;
  private readonly maxAlerts: number;
  private readonly maxBytes: number;
  private readonly onDrop: ((alerts: readonly Alert[]) => void) | undefined;
  private readonly logger: Logger | undefined;
  /** Alerts dropped since this outbox opened. */
  droppedTotal = 0;
  /** Alerts dropped in the current episode (0: none running). */
  private episode = 0;

  constructor(b: OutboxBounds) {
    this.maxAlerts = b.maxAlerts ?? 100_000;
    this.maxBytes = b.maxBytes ?? 64 * 1024 * 1024;
    this.onDrop = b.onDrop;
    this.logger = b.logger;
  }

  get size(): number {
    return this.map.size;
  }

  has(id: string): boolean {
    return this.map.has(id);
  }

  *alerts(): IterableIterator<Alert> {
    for (const e of this.map.values()) yield e.alert;
  }

  set(alert: Alert, bytes: number): void {
    this.remove(alert.id);
    this.map.set(alert.id, { alert, bytes });
    this.totalBytes += bytes;
  }

  /** Forgets an alert (acknowledged); false when it was not pending. */
  delete(id: string): boolean {
    if (!this.remove(id)) return false;
    // An episode ends once acks brought the outbox down to half its bounds: at the bounds, each
    // ack followed by a new alert would otherwise start (and log) a new episode.
    if (this.episode > 0 && this.map.size <= this.maxAlerts / 2 && this.totalBytes <= this.maxBytes / 2) {
      this.logger?.info('outbox: no longer full, dropping stopped', { dropped: this.episode, droppedTotal: this.droppedTotal, depth: this.map.size });
      this.episode = 0;
    }
    return true;
  }

  private remove(id: string): boolean {
    const e = this.map.get(id);
    if (e === undefined) return false;
    this.map.delete(id);
    this.totalBytes -= e.bytes;
    return true;
  }

  /**
   * What appending `adds` (with their record sizes, oldest first) drops to stay within the bounds:
   * the oldest alerts first, pending ones before those being added, never the newest one added
   * (kept even when it alone is over maxBytes).
   */
  plan(adds: ReadonlyArray<{ alert: Alert; bytes: number }>): DropPlan {
    const incoming = new Map<string, { alert: Alert; bytes: number }>();
    for (const x of adds) {
      incoming.delete(x.alert.id); // the same alert twice: its last place counts
      incoming.set(x.alert.id, x);
    }
    let count = this.map.size;
    let bytes = this.totalBytes;
    for (const [id, x] of incoming) {
      const old = this.map.get(id);
      if (old === undefined) count++;
      bytes += x.bytes - (old?.bytes ?? 0);
    }
    const plan: DropPlan = { pending: [], incoming: [], limit: count > this.maxAlerts ? 'outbox.maxAlerts' : 'outbox.maxBytes' };
    const over = () => count > this.maxAlerts || bytes > this.maxBytes;
    for (const [id, e] of this.map) {
      if (!over()) break;
      if (incoming.has(id)) continue;
      plan.pending.push(id);
      count--;
      bytes -= e.bytes;
    }
    let left = incoming.size;
    for (const [id, x] of incoming) {
      if (!over() || left === 1) break;
      left--;
      // Pending already (added again): its older record needs a drop record too.
      if (this.map.has(id)) plan.pending.push(id);
      else plan.incoming.push(x.alert);
      count--;
      bytes -= x.bytes;
    }
    return plan;
  }

  /** Carries out a plan (after its drop records are written): counts the drops, warns when an episode starts. */
  drop(plan: DropPlan): void {
    const gone: Alert[] = [];
    for (const id of plan.pending) {
      const e = this.map.get(id);
      if (e !== undefined && this.remove(id)) gone.push(e.alert); // not acknowledged meanwhile
    }
    gone.push(...plan.incoming);
    if (gone.length === 0) return;
    this.droppedTotal += gone.length;
    if (this.episode === 0) {
      this.logger?.warn('outbox full: dropping the oldest unacknowledged alerts', {
        limit: plan.limit,
        maxAlerts: this.maxAlerts,
        maxBytes: this.maxBytes,
        dropped: gone.length,
        droppedTotal: this.droppedTotal,
        depth: this.map.size,
      });
    }
    this.episode += gone.length;
    this.onDrop?.(gone);
  }
}

/** What an append drops to stay within the outbox's bounds. */
interface DropPlan {
  /** Pending alerts to drop: each gets a drop record in the log. */
  pending: string[];
  /** Alerts being added that are dropped at once (older than the newest, no room left): never written. */
  incoming: Alert[];
  /** The bound that made the drops. */
  limit: string;
}

/** The alerts of `adds` a plan keeps (the ones to write and hold). */
function keptAdds<T extends { alert: Alert }>(adds: readonly T[], plan: DropPlan): readonly T[] {
  if (plan.pending.length === 0 && plan.incoming.length === 0) return adds;
  const gone = new Set([...plan.pending, ...plan.incoming.map((a) => a.id)]);
  return adds.filter((x) => !gone.has(x.alert.id));
}

type Rec = { op: 'add'; alert: Alert } | { op: 'ack'; id: string; dropped?: true };

function parseRecord(line: Buffer): Rec | null {
  if (line.length < 10 || line[8] !== 0x20) return null;
  const want = parseInt(line.subarray(0, 8).toString('ascii'), 16);
  const json = line.subarray(9);
  if (!Number.isFinite(want) || crc32(json) !== want) return null;
  try {
    const r = JSON.parse(json.toString('utf8')) as Rec;
    // What publishing needs (the topic is made of device and sensor): a record without them,
    // though its CRC holds (another program, another version), threw at every publish attempt,
    // in a timer, which took the gateway down at each start.
    if (r.op === 'add' && typeof r.alert?.id === 'string' && typeof r.alert.device === 'string' && typeof r.alert.sensor === 'string') return r;
    if (r.op === 'ack' && typeof r.id === 'string') return r;
  } catch {
    /* fall through */
  }
  return null;
}

export class FileOutbox implements Outbox {
  readonly file: string;
  readonly report: OutboxOpenReport;
  private readonly dir: string;
  private fd: number;
  private readonly pend: PendingAlerts;
  private readonly doFsync: boolean;
  private readonly compactAfter: number;
  private readonly logger: Logger | undefined;
  /** Ack and drop records since the last compaction (what a compaction removes). */
  private acksSinceCompact = 0;
  private closed = false;
  /**
   * Bytes of the log that hold whole records: where a failed or short append is cut back to.
   * A torn fragment left there was glued to the next record, and a later crash lost that one.
   */
  private size = 0;
  /** An append failed and the log could not be cut back: rewrite it before the next append. */
  private dirty = false;
  private closing: Promise<void> | null = null;
  /** Records add()ed while a compaction writes its snapshot (null when none runs). */
  private lateAdds: Buffer[] | null = null;
  /** Group commit: alerts waiting for the next write + fsync, and the one in flight. */
  private queued: Array<{ alerts: readonly Alert[]; resolve: () => void; reject: (e: Error) => void }> = [];
  private writing: Promise<void> | null = null;
  /** Ack records waiting for the writer. */
  private acks: Buffer[] = [];

  private constructor(dir: string, opts: FileOutboxOptions) {
    this.dir = dir;
    this.file = path.join(dir, 'outbox.wal');
    this.doFsync = opts.fsync ?? true;
    this.compactAfter = opts.compactAfter ?? 1000;
    this.logger = opts.logger;
    this.pend = new PendingAlerts(opts);
    this.report = { replayed: 0, truncatedBytes: 0, corrupt: 0 };
    this.fd = -1;
  }

  /** Opens (creating) the outbox in dir and replays its log. */
  static open(dir: string, opts: FileOutboxOptions = {}): FileOutbox {
    const ob = new FileOutbox(dir, opts);
    try {
      makeDirs(dir);
      ob.load();
      if (ob.report.corrupt > 0) ob.keepCorrupt();
      // Bounds lowered since the log was written: the compaction below makes the drops durable.
      const plan = ob.pend.plan([]);
      if (plan.pending.length > 0) {
        ob.pend.drop(plan);
        ob.report.dropped = plan.pending.length;
      }
      ob.compact();
    } catch (e) {
      if (e instanceof EdgeRnnError) throw e;
      // The OS error code (EROFS, ENOSPC, ...) tells a disk that refuses writes from a wrong path.
      throw new EdgeRnnError('GATEWAY_OUTBOX', `cannot open the alert outbox in ${dir}: ${(e as Error).message}`, { dir, code: (e as NodeJS.ErrnoException).code });
    }
    return ob;
  }

  /**
   * The pending alerts of the log in dir, read without writing anything (for a disk that refuses
   * writes: the gateway then sends them from memory); [] when there is no log.
   */
  static readPending(dir: string, opts: FileOutboxOptions = {}): Alert[] {
    const ob = new FileOutbox(dir, opts);
    ob.load();
    return [...ob.pending()];
  }

  private load(): void {
    let data: Buffer;
    try {
      data = fs.readFileSync(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    let off = 0;
    let good = 0;
    while (off < data.length) {
      const nl = data.indexOf(0x0a, off);
      if (nl < 0) break; // torn: no newline
      const rec = parseRecord(data.subarray(off, nl));
      if (rec === null) {
        // Corrupt, even as the last line: a torn write lacks the newline, which is written last
        // (cut off below). Taken for a torn write, a whole last record that failed its check (the
        // newest alert, one flipped bit) was cut off with no copy kept.
        this.report.corrupt++;
        this.logger?.error('outbox: corrupt record skipped', { file: this.file, offset: off });
      } else if (rec.op === 'add') {
        this.pend.set(rec.alert, nl + 1 - off);
      } else {
        this.pend.delete(rec.id);
      }
      off = nl + 1;
      good = off;
    }
    this.report.truncatedBytes = data.length - good;
    if (this.report.truncatedBytes > 0) this.logger?.warn('outbox: torn record at the end of the log cut off', { file: this.file, bytes: this.report.truncatedBytes });
    this.report.replayed = this.pend.size;
  }

  /**
   * A copy of a log with corrupt records, before the compaction drops them: a record whose CRC
   * fails may still hold the only copy of an alert (one flipped bit), and it was destroyed.
   */
  private keepCorrupt(): void {
    const kept = `${this.file}.corrupt-${Date.now()}`;
    try {
      fs.copyFileSync(this.file, kept);
    } catch (e) {
      // Not a reason to refuse to start: the good records are replayed all the same.
      this.logger?.error('outbox: cannot keep a copy of the log with corrupt records', { file: this.file, kept, error: (e as Error).message });
      return;
    }
    this.report.keptCorrupt = kept;
    this.logger?.warn('outbox: the log with corrupt records is kept for recovery', { file: this.file, kept, corrupt: this.report.corrupt });
  }

  /**
   * After a new log was renamed over the old one: fsyncs the directory (so the rename is durable)
   * and appends to the new log from now on. The old fd is closed once the new one is open: a
   * failure in between left a closed fd behind, and every later write and close failed on it
   * (EBADF), or reused its number for an unrelated file.
   */
  private reopenAfterRename(): void {
    if (this.doFsync) {
      const dfd = fs.openSync(this.dir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    }
    const old = this.fd;
    this.fd = fs.openSync(this.file, 'a');
    if (old >= 0) fs.closeSync(old);
  }

  /** Rewrites the log with only the pending alerts (atomic: tmp, fsync, rename, fsync dir). */
  compact(): void {
    const tmp = `${this.file}.tmp`;
    const chunks: Buffer[] = [];
    for (const a of this.pend.alerts()) chunks.push(record({ op: 'add', alert: a }));
    const body = Buffer.concat(chunks);
    const tfd = fs.openSync(tmp, 'w');
    try {
      try {
        writeAllSync(tfd, body);
        if (this.doFsync) fs.fsyncSync(tfd);
      } finally {
        fs.closeSync(tfd);
      }
      fs.renameSync(tmp, this.file);
    } catch (e) {
      removeTemp(tmp);
      throw e;
    }
    this.reopenAfterRename();
    this.size = body.length;
    this.dirty = false;
    this.acksSinceCompact = 0;
  }

  add(alerts: readonly Alert[]): void {
    if (alerts.length === 0) return;
    this.assertOpen();
    const all = alerts.map((a) => ({ alert: a, rec: record({ op: 'add', alert: a }) }));
    const plan = this.pend.plan(all.map((x) => ({ alert: x.alert, bytes: x.rec.length })));
    const adds = keptAdds(all, plan);
    try {
      if (this.dirty) this.compact();
      const bytes = Buffer.concat([...adds.map((x) => x.rec), ...plan.pending.map(dropRecord)]);
      try {
        writeAllSync(this.fd, bytes);
        if (this.doFsync) fs.fsyncSync(this.fd);
      } catch (e) {
        this.cutBack();
        throw e;
      }
      this.size += bytes.length;
      this.lateAdds?.push(bytes);
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_OUTBOX', `cannot write the alert outbox ${this.file}: ${(e as Error).message}`);
    }
    for (const x of adds) this.pend.set(x.alert, x.rec.length);
    this.applyDrops(plan);
  }

  /** After the drop records are written: forget those alerts; the records count toward a compaction. */
  private applyDrops(plan: DropPlan): void {
    this.pend.drop(plan);
    this.acksSinceCompact += plan.pending.length;
    if (this.acksSinceCompact >= this.compactAfter && this.writing === null) this.writing = this.writeQueued();
  }

  commit(alerts: readonly Alert[]): Promise<void> | null {
    if (alerts.length === 0) return null;
    this.assertOpen();
    const p = new Promise<void>((resolve, reject) => this.queued.push({ alerts, resolve, reject }));
    if (this.writing === null) this.writing = this.writeQueued();
    return p;
  }

  /**
   * The writer, off the event loop (libuv pool): queued ack records and add batches go out in
   * one write, fsynced when it holds adds; a compaction runs between writes when due. One
   * writer at a time, so records never interleave and a compaction never races an append.
   */
  private async writeQueued(): Promise<void> {
    while (this.queued.length > 0 || this.acks.length > 0 || this.acksSinceCompact >= this.compactAfter) {
      if (this.acksSinceCompact >= this.compactAfter) {
        try {
          await this.compactAsync();
        } catch (e) {
          this.acksSinceCompact = 0;
          this.logger?.error('outbox: compaction failed (the log keeps growing)', { error: (e as Error).message });
        }
        continue;
      }
      const batch = this.queued;
      const acks = this.acks;
      this.queued = [];
      this.acks = [];
      const all = batch.flatMap((b) => b.alerts.map((a) => ({ alert: a, rec: record({ op: 'add', alert: a }) })));
      // Decided before the write, so the drop records go out (and are fsynced) with the adds.
      const plan = this.pend.plan(all.map((x) => ({ alert: x.alert, bytes: x.rec.length })));
      const adds = keptAdds(all, plan);
      const bytes = Buffer.concat([...acks, ...adds.map((x) => x.rec), ...plan.pending.map(dropRecord)]);
      try {
        if (this.dirty) await this.compactAsync();
        try {
          // fs.write may write part of the buffer without an error (a full disk, a file size
          // limit): the rest is written, or the error of trying is.
          for (let off = 0; off < bytes.length; ) {
            off += await new Promise<number>((res, rej) => fs.write(this.fd, bytes, off, bytes.length - off, null, (e, n) => (e ? rej(e) : res(n))));
          }
          if (this.doFsync && batch.length > 0) await new Promise<void>((res, rej) => fs.fsync(this.fd, (e) => (e ? rej(e) : res())));
        } catch (e) {
          this.cutBack();
          throw e;
        }
        this.size += bytes.length;
        for (const x of adds) this.pend.set(x.alert, x.rec.length);
        this.applyDrops(plan);
        for (const b of batch) b.resolve();
      } catch (e) {
        const err = new EdgeRnnError('GATEWAY_OUTBOX', `cannot write the alert outbox ${this.file}: ${(e as Error).message}`);
        if (acks.length) this.logger?.error('outbox: cannot record acks (those alerts may be sent again)', { error: err.message });
        for (const b of batch) b.reject(err);
      }
    }
    this.writing = null;
  }

  /** compact(), without blocking: tmp file, fsync, rename, fsync the directory, reopen. */
  private async compactAsync(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    // The snapshot already lacks every acknowledged alert: queued ack records are moot. Acks
    // that arrive while it is written name alerts in it, and follow it. Should the compaction
    // fail, the log keeps its adds, and those acks are written after all (they were dropped,
    // and the alerts sent again after a restart).
    const moot = this.acks;
    this.acks = [];
    const body = Buffer.concat([...this.pend.alerts()].map((a) => record({ op: 'add', alert: a })));
    // Alerts add()ed while the snapshot is written went to the old log only, which the rename
    // then replaced (lost on a crash): they are appended to the snapshot before the rename.
    this.lateAdds = [];
    let h: fs.promises.FileHandle | undefined;
    let renamed = false;
    try {
      h = await fs.promises.open(tmp, 'w');
      for (let off = 0; off < body.length; ) off += (await h.write(body, off, body.length - off)).bytesWritten;
      if (this.doFsync) await h.sync();
      // From here to the new log's fd, synchronous: no add() can come in between.
      const late = Buffer.concat(this.lateAdds);
      if (late.length > 0) {
        writeAllSync(h.fd, late);
        if (this.doFsync) fs.fsyncSync(h.fd);
      }
      fs.renameSync(tmp, this.file);
      renamed = true;
      this.reopenAfterRename();
      this.size = body.length + late.length;
    } catch (e) {
      this.acks = [...moot, ...this.acks];
      if (renamed) {
        // Past the rename, the fd still names the replaced log: appends there would be lost.
        this.dirty = true;
      } else {
        await h?.close().catch(() => {});
        h = undefined;
        removeTemp(tmp);
      }
      throw e;
    } finally {
      this.lateAdds = null;
      await h?.close().catch(() => {});
    }
    this.dirty = false;
    // Acks that came while it was written still have their records to write.
    this.acksSinceCompact = this.acks.length;
  }

  /** After a failed append: cut the log back to its whole records, or have it rewritten. */
  private cutBack(): void {
    try {
      fs.ftruncateSync(this.fd, this.size);
    } catch (e) {
      this.dirty = true;
      this.logger?.error('outbox: cannot cut a failed append off the log (rewritten before the next one)', { file: this.file, error: (e as Error).message });
    }
  }

  ack(id: string): void {
    if (this.closed || !this.pend.delete(id)) return;
    this.acks.push(record({ op: 'ack', id }));
    this.acksSinceCompact++;
    if (this.writing === null) this.writing = this.writeQueued();
  }

  pending(): IterableIterator<Alert> {
    return this.pend.alerts();
  }

  has(id: string): boolean {
    return this.pend.has(id);
  }

  get depth(): number {
    return this.pend.size;
  }

  /** Alerts dropped for the bounds since the outbox opened (those at open included). */
  get dropped(): number {
    return this.pend.droppedTotal;
  }

  /** Resolves when every queued commit and ack record has been written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  close(): Promise<void> {
    // One close for every caller: a second close() while the first waited for the writer
    // fsynced and closed the fd again (EBADF, or another file's fd by then).
    this.closing ??= (async () => {
      while (this.writing) await this.writing;
      this.closed = true;
      try {
        if (this.doFsync) fs.fsyncSync(this.fd);
      } finally {
        fs.closeSync(this.fd);
      }
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw new EdgeRnnError('GATEWAY_OUTBOX', `the outbox ${this.file} is closed`);
  }
}

/**
 * An outbox in memory (stateDir "", a disk that refused writes at start, replay, tests of other
 * parts): same contract and bounds, no durability.
 */
export class MemoryOutbox implements Outbox {
  private readonly pend: PendingAlerts;

  constructor(bounds: OutboxBounds = {}) {
    this.pend = new PendingAlerts(bounds);
  }

  add(alerts: readonly Alert[]): void {
    const all = alerts.map((a) => ({ alert: a, bytes: recordBytes(a) }));
    const plan = this.pend.plan(all);
    for (const x of keptAdds(all, plan)) this.pend.set(x.alert, x.bytes);
    this.pend.drop(plan);
  }

  commit(alerts: readonly Alert[]): null {
    this.add(alerts);
    return null;
  }

  ack(id: string): void {
    this.pend.delete(id);
  }

  pending(): IterableIterator<Alert> {
    return this.pend.alerts();
  }

  has(id: string): boolean {
    return this.pend.has(id);
  }

  get depth(): number {
    return this.pend.size;
  }

  /** Alerts dropped for the bounds so far. */
  get dropped(): number {
    return this.pend.droppedTotal;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
