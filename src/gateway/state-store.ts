/**
 * Where evicted and shut-down device streams keep their state (Node-only module). Synchronous:
 * a load happens when a device's first message after eviction arrives, a save when it is
 * evicted; both are small (a few KB) and rare.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeDirs } from '../io/files.js';

export interface StateStore {
  load(key: string): Uint8Array | undefined;
  save(key: string, bytes: Uint8Array): void;
  delete(key: string): void;
  keys(): string[];
}

/** One file per stream in dir: <base64url(key)>.state, written atomically (tmp + rename). */
export function fileStateStore(dir: string): StateStore {
  makeDirs(dir);
  const file = (key: string) => path.join(dir, `${Buffer.from(key, 'utf8').toString('base64url')}.state`);
  return {
    load(key) {
      try {
        return new Uint8Array(fs.readFileSync(file(key)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    save(key, bytes) {
      const f = file(key);
      fs.writeFileSync(`${f}.tmp`, bytes);
      fs.renameSync(`${f}.tmp`, f);
    },
    delete(key) {
      fs.rmSync(file(key), { force: true });
    },
    keys() {
      return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.state'))
        .map((f) => Buffer.from(f.slice(0, -'.state'.length), 'base64url').toString('utf8'));
    },
  };
}

export function memoryStateStore(): StateStore & { readonly map: Map<string, Uint8Array> } {
  const map = new Map<string, Uint8Array>();
  return {
    map,
    load: (k) => map.get(k),
    save: (k, b) => void map.set(k, b.slice()),
    delete: (k) => void map.delete(k),
    keys: () => [...map.keys()],
  };
}
