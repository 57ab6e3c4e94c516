/** Bytes arguments of the public API (browser-safe). */
import { EdgeRnnError } from '../errors.js';

/** The bytes of a file as a Uint8Array view (no copy): a Uint8Array (a Node Buffer), an ArrayBuffer (fetch's), any typed array or DataView. */
export function fileBytes(file: unknown, source: string, call: string): Uint8Array {
  // (The tag, not instanceof: an ArrayBuffer from another realm, an iframe or a vm context, counts too.)
  const tag = Object.prototype.toString.call(file);
  const buffer = tag === '[object ArrayBuffer]' ? (file as ArrayBuffer) : ArrayBuffer.isView(file) ? file.buffer : null;
  if (buffer !== null && isDetached(buffer)) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${source}: ${call} got a detached ArrayBuffer: its bytes were transferred (postMessage with a transfer list, ArrayBuffer.transfer()); pass a copy made before sending (buffer.slice(0)), or use the bytes where they went`, { got: 'a detached ArrayBuffer' });
  }
  if (file instanceof Uint8Array) return file;
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') return new Uint8Array(file as ArrayBuffer);
  if (ArrayBuffer.isView(file)) return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const got = file === null ? 'null' : Array.isArray(file) ? 'an array' : typeof file === 'object' ? `a ${(file as object).constructor?.name ?? 'object'}` : typeof file;
  // What a page has before it has bytes: fetch()'s Response, an <input type=file>'s File (a Blob).
  // Reading them is asynchronous and can fail on the network: the caller's to await.
  const hint = tag === '[object Response]' ? ' (pass await response.arrayBuffer())' : tag === '[object File]' || tag === '[object Blob]' ? ' (pass await file.arrayBuffer())' : '';
  throw new EdgeRnnError('INVALID_ARGUMENT', `${source}: ${call} takes the file's bytes (a Uint8Array, Buffer or ArrayBuffer), got ${got}${hint}`, { got });
}

/**
 * A buffer whose bytes were transferred away reads as empty, and no view on it can be made (a
 * TypeError, "Cannot perform Construct on a detached ArrayBuffer"). Only an empty buffer can be
 * detached, so the check costs a length test on every other. (Node 20 has no
 * ArrayBuffer.prototype.detached.)
 */
function isDetached(buffer: ArrayBufferLike): boolean {
  if (buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}
