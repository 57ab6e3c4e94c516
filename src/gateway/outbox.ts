/**
 * The durable alert outbox (Node-only module): a write-ahead log that holds every alert until the
 * broker acknowledged it (PUBACK), across broker outages, crashes and restarts.
 *
 * File `<dir>/outbox.wal`, one record per line:  <crc32 as 8 hex digits> <JSON>\n
 *   {"op":"add","alert":{...}}   written and fsynced before the alert counts as raised
 *   {"op":"ack","id":"..."}      written when the broker acknowledged (not fsynced: losing an ack
 *                                only re-sends the alert, and consumers drop duplicates by id)
 * Opening replays the log; a torn last line (crash mid-write) is cut off, a corrupt line in
 * the middle is skipped and reported. Compaction writes the pending alerts to outbox.wal.tmp,
 * fsyncs it, renames it over the log and fsyncs the directory, so a crash at any point leaves
 * either the old or the new log.
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

export interface FileOutboxOptions {
  /** fsync after each add batch (default true). */
  fsync?: boolean;
  /** Compact once this many acknowledged records accumulated (default 1000). */
  compactAfter?: number;
  logger?: Logger;
}

export interface OutboxOpenReport {
  /** Alerts found pending in the log (to be re-sent). */
  replayed: number;
  /** Bytes cut off the end (a torn write). */
  truncatedBytes: number;
  /** Corrupt records skipped in the middle of the log. */
  corrupt: number;
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

type Rec = { op: 'add'; alert: Alert } | { op: 'ack'; id: string };

function parseRecord(line: Buffer): Rec | null {
  if (line.length < 10 || line[8] !== 0x20) return null;
  const want = parseInt(line.subarray(0, 8).toString('ascii'), 16);
  const json = line.subarray(9);
  if (!Number.isFinite(want) || crc32(json) !== want) return null;
  try {
    const r = JSON.parse(json.toString('utf8')) as Rec;
    if (r.op === 'add' && typeof r.alert?.id === 'string') return r;
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
  private readonly map = new Map<string, Alert>();
  private readonly doFsync: boolean;
  private readonly compactAfter: number;
  private readonly logger: Logger | undefined;
  private acksSinceCompact = 0;
  private closed = false;
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
    this.report = { replayed: 0, truncatedBytes: 0, corrupt: 0 };
    this.fd = -1;
  }

  /** Opens (creating) the outbox in dir and replays its log. */
  static open(dir: string, opts: FileOutboxOptions = {}): FileOutbox {
    const ob = new FileOutbox(dir, opts);
    try {
      makeDirs(dir);
      ob.load();
      ob.compact();
    } catch (e) {
      if (e instanceof EdgeRnnError) throw e;
      throw new EdgeRnnError('GATEWAY_OUTBOX', `cannot open the alert outbox in ${dir}: ${(e as Error).message}`, { dir });
    }
    return ob;
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
        if (data.indexOf(0x0a, nl + 1) < 0 && nl + 1 >= data.length) break; // torn last line
        this.report.corrupt++;
        this.logger?.error('outbox: corrupt record skipped', { file: this.file, offset: off });
      } else if (rec.op === 'add') {
        this.map.set(rec.alert.id, rec.alert);
      } else {
        this.map.delete(rec.id);
      }
      off = nl + 1;
      good = off;
    }
    this.report.truncatedBytes = data.length - good;
    if (this.report.truncatedBytes > 0) this.logger?.warn('outbox: torn record at the end of the log cut off', { file: this.file, bytes: this.report.truncatedBytes });
    this.report.replayed = this.map.size;
  }

  /** Rewrites the log with only the pending alerts (atomic: tmp, fsync, rename, fsync dir). */
  compact(): void {
    const tmp = `${this.file}.tmp`;
    const chunks: Buffer[] = [];
    for (const a of this.map.values()) chunks.push(record({ op: 'add', alert: a }));
    const tfd = fs.openSync(tmp, 'w');
    try {
      if (chunks.length) fs.writeSync(tfd, Buffer.concat(chunks));
      fs.fsyncSync(tfd);
    } finally {
      fs.closeSync(tfd);
    }
    if (this.fd >= 0) fs.closeSync(this.fd);
    fs.renameSync(tmp, this.file);
    const dfd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
    this.fd = fs.openSync(this.file, 'a');
    this.acksSinceCompact = 0;
  }

  add(alerts: readonly Alert[]): void {
    if (alerts.length === 0) return;
    this.assertOpen();
    try {
      fs.writeSync(this.fd, Buffer.concat(alerts.map((a) => record({ op: 'add', alert: a }))));
      if (this.doFsync) fs.fsyncSync(this.fd);
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_OUTBOX', `cannot write the alert outbox ${this.file}: ${(e as Error).message}`);
    }
    for (const a of alerts) this.map.set(a.id, a);
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
      const bytes = Buffer.concat([...acks, ...batch.flatMap((b) => b.alerts.map((a) => record({ op: 'add', alert: a })))]);
      try {
        await new Promise<void>((res, rej) => fs.write(this.fd, bytes, (e) => (e ? rej(e) : res())));
        if (this.doFsync && batch.length > 0) await new Promise<void>((res, rej) => fs.fsync(this.fd, (e) => (e ? rej(e) : res())));
        for (const b of batch) for (const a of b.alerts) this.map.set(a.id, a);
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
    // that arrive while it is written name alerts in it, and follow it.
    this.acks = [];
    const body = Buffer.concat([...this.map.values()].map((a) => record({ op: 'add', alert: a })));
    const h = await fs.promises.open(tmp, 'w');
    try {
      await h.write(body);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.promises.rename(tmp, this.file);
    const d = await fs.promises.open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    const old = this.fd;
    this.fd = fs.openSync(this.file, 'a');
    fs.closeSync(old);
    this.acksSinceCompact = 0;
  }

  ack(id: string): void {
    if (this.closed || !this.map.delete(id)) return;
    this.acks.push(record({ op: 'ack', id }));
    this.acksSinceCompact++;
    if (this.writing === null) this.writing = this.writeQueued();
  }

  pending(): IterableIterator<Alert> {
    return this.map.values();
  }

  has(id: string): boolean {
    return this.map.has(id);
  }

  get depth(): number {
    return this.map.size;
  }

  /** Resolves when every queued commit and ack record has been written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing) await this.writing;
    this.closed = true;
    try {
      if (this.doFsync) fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new EdgeRnnError('GATEWAY_OUTBOX', `the outbox ${this.file} is closed`);
  }
}

/** An outbox in memory (replay, tests of other parts): same contract, no durability. */
export class MemoryOutbox implements Outbox {
  private readonly map = new Map<string, Alert>();

  add(alerts: readonly Alert[]): void {
    for (const a of alerts) this.map.set(a.id, a);
  }

  commit(alerts: readonly Alert[]): null {
    this.add(alerts);
    return null;
  }

  ack(id: string): void {
    this.map.delete(id);
  }

  pending(): IterableIterator<Alert> {
    return this.map.values();
  }

  has(id: string): boolean {
    return this.map.has(id);
  }

  get depth(): number {
    return this.map.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
