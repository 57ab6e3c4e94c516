/**
 * Watches the file operations that make a write durable, in the order they happen, while the
 * real ones run (vi.spyOn passes every call through): which file was written, fsynced, renamed.
 * For checking fsync before rename and the folder's fsync after it; the files themselves are
 * real and checked by the tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { vi } from 'vitest';

export interface FsWatch {
  /** 'write <file>', 'fsync <file>', 'rename <from> -> <to>' with paths relative to `root`. */
  readonly events: string[];
  restore(): void;
}

export function watchDurability(root: string): FsWatch {
  const events: string[] = [];
  const fds = new Map<number, string>();
  const rel = (p: fs.PathLike) => path.relative(root, String(p)) || '.';
  const open = fs.openSync;
  const write = fs.writeSync;
  const fsync = fs.fsyncSync;
  const rename = fs.renameSync;
  const fsyncCb = fs.fsync;
  const popen = fs.promises.open;
  const spies = [
    vi.spyOn(fs, 'openSync').mockImplementation((...a: Parameters<typeof fs.openSync>) => {
      const fd = open(...a);
      fds.set(fd, rel(a[0]));
      return fd;
    }),
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
      events.push(`write ${fds.get(fd) ?? fd}`);
      return (write as (...x: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.writeSync),
    vi.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
      events.push(`fsync ${fds.get(fd) ?? fd}`);
      fsync(fd);
    }),
    // The outbox's appends off the event loop.
    vi.spyOn(fs, 'fsync').mockImplementation((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
      events.push(`fsync ${fds.get(fd) ?? fd}`);
      fsyncCb(fd, cb);
    }),
    vi.spyOn(fs, 'renameSync').mockImplementation((from: fs.PathLike, to: fs.PathLike) => {
      events.push(`rename ${rel(from)} -> ${rel(to)}`);
      rename(from, to);
    }),
    // The outbox's compaction off the event loop writes its temp file through a FileHandle.
    vi.spyOn(fs.promises, 'open').mockImplementation(async (...a: Parameters<typeof fs.promises.open>) => {
      const h = await popen(...a);
      const name = rel(a[0] as fs.PathLike);
      fds.set(h.fd, name);
      const hw = h.write.bind(h) as (...x: unknown[]) => Promise<unknown>;
      const hs = h.sync.bind(h);
      (h as { write: unknown }).write = (...x: unknown[]) => (events.push(`write ${name}`), hw(...x));
      h.sync = () => (events.push(`fsync ${name}`), hs());
      return h;
    }),
  ];
  return {
    events,
    restore: () => {
      for (const s of spies) s.mockRestore();
    },
  };
}
