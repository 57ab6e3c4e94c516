/** Reading files the user named (Node only). */
import fs from 'node:fs';
import path from 'node:path';

/**
 * The bytes of a file named on the command line (relative to the command's folder). Errors keep
 * the name as given: Node's own error for reading a folder names no path.
 */
export function readFileArg(cwd: string, file: string): Buffer {
  try {
    return fs.readFileSync(path.resolve(cwd, file));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string') err.path = file;
    throw e;
  }
}

/**
 * `mkdir -p`, without Node's `{ recursive: true }`: on Node 20 that loops forever, at full CPU,
 * where mkdir answers ENOENT although the parent exists (under /proc, for one). Here each
 * missing component is made once, and the error of one that cannot be is thrown. `mode` applies
 * to the folders it makes.
 */
export function makeDirs(dir: string, mode?: number): void {
  const make = (): boolean => {
    try {
      fs.mkdirSync(dir, mode === undefined ? undefined : { mode });
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && fs.statSync(dir).isDirectory()) return true;
      if (code !== 'ENOENT') throw e;
      return false;
    }
  };
  if (make()) return;
  const parent = path.dirname(dir);
  if (parent === dir) throw new Error(`cannot create ${dir}`);
  makeDirs(parent, mode);
  if (!make()) fs.mkdirSync(dir, mode === undefined ? undefined : { mode }); // throws the ENOENT once more
}
