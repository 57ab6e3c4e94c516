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
