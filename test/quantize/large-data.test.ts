/**
 * Data files too large to load get a BAD_DATA error saying so, before the read: they crashed
 * (V8's "heap out of memory" abort, a raw ERR_FS_FILE_TOO_LARGE stack trace) or were called
 * "not UTF-8 text". The files here are sparse (truncate): no disk space, nothing read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
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

  it('refuses a CSV whose parse needs more than the heap may hold (was a V8 out-of-memory abort)', async () => {
    // Six bytes of heap per byte of CSV at least; the file is under the 2 GiB read limit.
    const limit = v8.getHeapStatistics().heap_size_limit;
    const size = Math.ceil(limit / 6) + 2 ** 20;
    if (size >= 2 ** 31 - 1) return; // a heap above 12 GiB: the read limit applies first
    const p = sparse('big.csv', size);
    const msg = await failure(p, { task: 'classify', csv: { labelColumn: 'label' } });
    expect(msg).toContain('of CSV needs at least');
    expect(msg).toContain('NODE_OPTIONS=--max-old-space-size=');
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
