/**
 * Data files too large to load get a BAD_DATA error saying so, before the read: they crashed
 * (V8's "heap out of memory" abort, a raw ERR_FS_FILE_TOO_LARGE stack trace) or were called
 * "not UTF-8 text". The files here are sparse (truncate): no disk space, nothing read. The heap
 * limit is mocked small where a test needs a file larger than it. A CSV is read outside the heap:
 * only its windows count against it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadDataset } from '../../quantize/data/load.js';
import { loadFailure } from '../helpers/datasets.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-large-data-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function sparse(name: string, size: number): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  return p;
}

const failure = loadFailure;

describe('data files too large to load', () => {
  it('refuses a file over 2 GiB, which a read cannot return (was a raw ERR_FS_FILE_TOO_LARGE)', async () => {
    const p = sparse('huge.npy', 3 * 2 ** 30);
    expect(await failure(p, { task: 'autoencoder' })).toMatch(/huge\.npy: 3072 MB: data files are read whole, at most 2048 MB/);
  });

  it('refuses a JSON Lines file whose parse needs more than the heap may hold (was a V8 out-of-memory abort)', async () => {
    // A byte of heap per byte of JSON Lines at least; a heap of 64 MB here, so the file is small.
    const stats = v8.getHeapStatistics();
    vi.spyOn(v8, 'getHeapStatistics').mockReturnValue({ ...stats, heap_size_limit: 64 * 2 ** 20 });
    const p = sparse('big.jsonl', 65 * 2 ** 20);
    const msg = await failure(p, { task: 'classify' });
    expect(msg).toContain('65 MB of JSON Lines needs at least 65 MB of memory to parse, and this process may use 64 MB');
    expect(msg).toContain('NODE_OPTIONS=--max-old-space-size=');
  });

  it('a CSV is not refused for the heap: it is parsed from its bytes into float32 arrays, outside the heap (it took 8 bytes of heap per byte)', async () => {
    const stats = v8.getHeapStatistics();
    vi.spyOn(v8, 'getHeapStatistics').mockReturnValue({ ...stats, heap_size_limit: 6 * 2 ** 20 });
    const p = path.join(dir, 'rows.csv');
    fs.writeFileSync(p, `a,b\n${Array.from({ length: 150000 }, (_, i) => `${i % 7}.25,${i % 3}.5`).join('\n')}\n`);
    expect(fs.statSync(p).size).toBeGreaterThan(2 ** 20); // over the 6 bytes of heap a byte it was refused at
    const ds = await loadDataset(p, { task: 'autoencoder', csv: { seqLen: 100 } });
    expect(ds.samples.length).toBe(2999);
  });

  it('a CSV cut into more windows than the heap holds is BAD_DATA saying what to do (was a V8 out-of-memory abort)', async () => {
    const p = path.join(dir, 'stride.csv');
    fs.writeFileSync(p, `a,b\n${Array.from({ length: 20000 }, (_, i) => `${i % 7}.25,${i % 3}.5`).join('\n')}\n`);
    const stats = v8.getHeapStatistics();
    vi.spyOn(v8, 'getHeapStatistics').mockReturnValue({ ...stats, heap_size_limit: 2 * 2 ** 20 });
    const msg = await failure(p, { task: 'autoencoder', csv: { seqLen: 10, stride: 1 } });
    expect(msg).toMatch(/stride\.csv: 19991 windows of 10 rows every 1 \(--seq-len, --stride\) need at least 4 MB of memory, and this process may use 2 MB: use a larger --stride/);
    expect((await loadDataset(p, { task: 'autoencoder', csv: { seqLen: 10, stride: 10 } })).samples.length).toBe(2000);
  });

  it('a CSV of one huge field (no line breaks, no commas) is BAD_DATA saying so, not a raw ERR_STRING_TOO_LONG', async () => {
    const p = sparse('one-field.csv', 65 * 2 ** 20);
    const msg = await failure(p, { task: 'autoencoder' });
    expect(msg).toMatch(/one-field\.csv:1: a field of 65 MB \(at most 64 MB\): not a CSV of numbers/);
  });

  it('says a valid text file is too long for one string, not "not UTF-8 text"', async () => {
    const p = path.join(dir, 'long.jsonl');
    fs.writeFileSync(p, '{"x": [[1]], "y": "a"}\n{"x": [[2]], "y": "b"}\n');
    // What TextDecoder throws past V8's longest string (about 512 M characters; a 600 MB file).
    vi.spyOn(TextDecoder.prototype, 'decode').mockImplementation(() => {
      throw Object.assign(new Error('Cannot create a string longer than 0x1fffffe8 characters'), { code: 'ERR_STRING_TOO_LONG' });
    });
    const msg = await failure(p, { task: 'classify' });
    expect(msg).toMatch(/long\.jsonl: .* of text is more than one string may hold/);
    expect(msg).not.toContain('not UTF-8');
  });
});
