/** The write-ahead outbox: replay after a restart, torn and corrupt records, compaction. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { crc32, FileOutbox } from '../../src/gateway/outbox.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { tmpDir } from './fixtures.js';

function alert(i: number): Alert {
  return {
    id: `id-${i}`,
    site: 's',
    device: `d${i % 3}`,
    sensor: 'imu',
    gateway: 'gw',
    model: { name: 'm', version: '1.0.0', sha256: '00' },
    detector: 'threshold',
    label: 'impact',
    score: 0.5 + i / 1000,
    ts: new Date(1e12 + i).toISOString(),
    tsMs: 1e12 + i,
    frameIndex: i,
    evidence: { fromMs: 0, toMs: 1, inputs: [[i, 2, 3]], scores: [0.1] },
  };
}

describe('FileOutbox', () => {
  it('CRC-32 matches the IEEE check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('keeps unacknowledged alerts across a reopen, in order', async () => {
    const dir = tmpDir();
    const ob = FileOutbox.open(dir);
    ob.add([alert(1), alert(2), alert(3)]);
    ob.add([alert(4)]);
    ob.ack('id-2');
    ob.ack('id-unknown');
    await ob.close();
    const again = FileOutbox.open(dir);
    expect(again.report).toEqual({ replayed: 3, truncatedBytes: 0, corrupt: 0 });
    expect([...again.pending()]).toEqual([alert(1), alert(3), alert(4)]);
    again.close();
  });

  it('commits without blocking: concurrent commits share writes, and are on disk when they resolve', async () => {
    const dir = tmpDir();
    const ob = FileOutbox.open(dir);
    const commits = Array.from({ length: 20 }, (_, i) => ob.commit([alert(i)]));
    expect(ob.depth).toBe(0); // nothing counts before it is on disk
    await Promise.all(commits);
    expect(ob.depth).toBe(20);
    // A second reader sees all of them in the file now, in commit order.
    expect([...FileOutbox.open(tmpDir()).pending()].length).toBe(0);
    const copy = tmpDir();
    fs.copyFileSync(path.join(dir, 'outbox.wal'), path.join(copy, 'outbox.wal'));
    expect([...FileOutbox.open(copy).pending()].map((a) => a.id)).toEqual(Array.from({ length: 20 }, (_, i) => `id-${i}`));
    await ob.close();
  });

  it('cuts a torn last record (a crash mid-write) and keeps everything before it', () => {
    const dir = tmpDir();
    const ob = FileOutbox.open(dir);
    ob.add([alert(1), alert(2)]);
    ob.close();
    const file = path.join(dir, 'outbox.wal');
    const whole = fs.readFileSync(file);
    // Simulate a crash half-way through appending a third record.
    const third = whole.subarray(0, whole.indexOf(0x0a) + 1);
    fs.writeFileSync(file, Buffer.concat([whole, third.subarray(0, 40)]));
    const logger = memoryLogger();
    const again = FileOutbox.open(dir, { logger });
    expect(again.report.truncatedBytes).toBe(40);
    expect(again.report.replayed).toBe(2);
    expect(logger.lines.some((l) => l.msg.includes('torn record'))).toBe(true);
    // The torn tail is gone from the file: new records follow whole ones.
    again.add([alert(3)]);
    again.close();
    expect([...FileOutbox.open(dir).pending()].map((a) => a.id)).toEqual(['id-1', 'id-2', 'id-3']);
  });

  it('skips a corrupt record in the middle and reports it', () => {
    const dir = tmpDir();
    const ob = FileOutbox.open(dir, { compactAfter: 1_000_000 });
    ob.add([alert(1), alert(2), alert(3)]);
    ob.close();
    const file = path.join(dir, 'outbox.wal');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"id-2"', '"id-X"'); // payload no longer matches its CRC
    fs.writeFileSync(file, lines.join('\n'));
    const again = FileOutbox.open(dir);
    expect(again.report.corrupt).toBe(1);
    expect([...again.pending()].map((a) => a.id)).toEqual(['id-1', 'id-3']);
  });

  it('compacts: the log holds only pending alerts after compactAfter acks', async () => {
    const dir = tmpDir();
    const ob = FileOutbox.open(dir, { compactAfter: 10 });
    for (let i = 0; i < 25; i++) ob.add([alert(i)]);
    for (let i = 0; i < 20; i++) ob.ack(`id-${i}`);
    await ob.flush();
    const records = fs.readFileSync(path.join(dir, 'outbox.wal'), 'utf8').trim().split('\n');
    // 20 acks = two compactions: the 5 pending adds remain, no acks.
    expect(records.length).toBe(5);
    expect(records.every((r) => r.includes('"op":"add"'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'outbox.wal.tmp'))).toBe(false);
    await ob.close();
    expect([...FileOutbox.open(dir).pending()].map((a) => a.id)).toEqual(['id-20', 'id-21', 'id-22', 'id-23', 'id-24']);
  });

  it('reports an unusable directory as GATEWAY_OUTBOX', () => {
    const file = path.join(tmpDir(), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    try {
      FileOutbox.open(file);
      throw new Error('expected an error');
    } catch (e) {
      expect(isEdgeRnnError(e, 'GATEWAY_OUTBOX')).toBe(true);
      expect((e as Error).message).toMatch(/cannot open the alert outbox in .*not-a-dir/);
    }
  });
});
