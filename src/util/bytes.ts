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

/**
 * A view TextDecoder takes: browsers refuse a view of a SharedArrayBuffer ("must not be
 * shared"; Node takes it), so that is copied.
 */
export function unshared(b: Uint8Array): Uint8Array {
  return Object.prototype.toString.call(b.buffer) === '[object SharedArrayBuffer]' ? b.slice() : b;
}

/*
 * UTF-8 also where there is no TextEncoder/TextDecoder: an AudioWorkletGlobalScope, where a page
 * runs a keyword model on the audio thread, has neither. escape() writes each char above 0x7f as
 * %XX; (en|de)codeURIComponent convert between code points and UTF-8 bytes, and
 * decodeURIComponent throws a URIError on malformed bytes, as the fatal TextDecoder does.
 */

/** Strict UTF-8 decoding (malformed bytes throw). */
export function decodeUtf8(b: Uint8Array): string {
  if (typeof TextDecoder === 'function') return new TextDecoder('utf-8', { fatal: true }).decode(unshared(b));
  let latin1 = '';
  for (let i = 0; i < b.length; i += 8192) latin1 += String.fromCharCode(...b.subarray(i, i + 8192));
  return decodeURIComponent(escape(latin1));
}

/** UTF-8 encoding. */
export function encodeUtf8(s: string): Uint8Array<ArrayBuffer> {
  if (typeof TextEncoder === 'function') return new TextEncoder().encode(s);
  const latin1 = unescape(encodeURIComponent(s));
  const out = new Uint8Array(latin1.length);
  for (let i = 0; i < latin1.length; i++) out[i] = latin1.charCodeAt(i);
  return out;
}
