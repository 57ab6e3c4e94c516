/** Bytes arguments of the public API (browser-safe). */
import { EdgeRnnError } from '../errors.js';

/** The bytes of a file as a Uint8Array view (no copy): a Uint8Array (a Node Buffer), an ArrayBuffer (fetch's), any typed array or DataView. */
export function fileBytes(file: unknown, source: string, call: string): Uint8Array {
  if (file instanceof Uint8Array) return file;
  // (The tag, not instanceof: an ArrayBuffer from another realm, an iframe or a vm context, counts too.)
  const tag = Object.prototype.toString.call(file);
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') return new Uint8Array(file as ArrayBuffer);
  if (ArrayBuffer.isView(file)) return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const got = file === null ? 'null' : Array.isArray(file) ? 'an array' : typeof file === 'object' ? `a ${(file as object).constructor?.name ?? 'object'}` : typeof file;
  throw new EdgeRnnError('INVALID_ARGUMENT', `${source}: ${call} takes the file's bytes (a Uint8Array, Buffer or ArrayBuffer), got ${got}`, { got });
}
