/**
 * The .ern container: a fixed header, a JSON manifest, and 64-byte-aligned little-endian tensors
 * that can be viewed in place. docs/model-format.md describes it byte by byte.
 *
 *   offset  size  field
 *   0       8     magic 89 45 52 4E 0D 0A 1A 0A  ("\x89ERN\r\n\x1a\n": catches text-mode mangling)
 *   8       2     format major (u16 LE)          readers refuse a major they do not know
 *   10      2     format minor (u16 LE)          additions only; older readers ignore them
 *   12      4     header bytes (64)
 *   16      4     manifest offset, 20: manifest bytes (UTF-8 JSON)
 *   24      4     data offset (multiple of 64), 28: data bytes; file length = data offset + bytes
 *   32      32    sha256 of the whole file with these 32 bytes zeroed
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { EdgeRnnError } from '../errors.js';
import { decodeUtf8 } from '../util/bytes.js';
import { decodeBlockSparse, encodeBlockSparse } from './block-sparse.js';
import { DTYPES, isDType, type DType, type TypedArray } from './dtypes.js';

export const ERN_MAGIC = Uint8Array.of(0x89, 0x45, 0x52, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a);
export const ERN_FORMAT_MAJOR = 1;
export const ERN_FORMAT_MINOR = 0;
export const ERN_HEADER_BYTES = 64;
export const ERN_ALIGN = 64;
/** Where the header keeps the content sha256 (32 bytes). */
export const ERN_SHA256_OFFSET = 32;
const SHA_OFFSET = ERN_SHA256_OFFSET;

export interface ErnTensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte offset inside the data section (multiple of 64). */
  offset: number;
  bytes: number;
}

export interface ErnTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
  /** How the file stores it, when not as dtype itself ('i8bs': block-sparse, expanded on load). */
  stored?: DType;
}

export interface ErnContainer {
  formatVersion: { major: number; minor: number };
  /** The manifest object as parsed (its `tensors` table included). */
  manifest: Record<string, unknown>;
  tensors: Map<string, ErnTensor>;
  /** Hex sha256 from the header (verified). */
  sha256: string;
  byteLength: number;
  /** True when tensors are views on the input bytes, false when they had to be copied for alignment. */
  zeroCopy: boolean;
  /** Where the sections are (header fields): manifest at [manifestOffset, +manifestBytes), data at [dataOffset, +dataBytes). */
  layout: ErnLayout;
}

export interface ErnLayout {
  /** The header's own size field (64 in format 1.0; a later minor may grow it). */
  headerBytes: number;
  manifestOffset: number;
  manifestBytes: number;
  dataOffset: number;
  dataBytes: number;
}

export interface TensorInput {
  name: string;
  data: TypedArray;
  shape: number[];
  /** Store an int8 tensor block-sparse (dtype i8bs, see block-sparse.ts). */
  encoding?: 'i8bs';
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * Deepest nesting of objects and arrays in a manifest (the shipped models use 4). JSON.parse takes
 * any depth, but JSON.stringify recurses and overflows the stack near 5,000 levels: a file that
 * decoded would crash `edgernn info --json` and the re-encoding of its spec.
 */
export const ERN_MANIFEST_MAX_DEPTH = 64;

/** The top-level field of a manifest under which objects and arrays nest deeper than `max`, or undefined. */
function tooDeep(manifest: Record<string, unknown>, max: number): string | undefined {
  const stack: [unknown, number, string][] = Object.entries(manifest).map(([k, v]) => [v, 1, k]);
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, depth, field] = item;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return field;
    for (const c of Object.values(v)) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1, field]);
  }
  return undefined;
}

/**
 * Where a manifest holds a value JSON.stringify would silently change, and what it is: NaN and
 * ±Infinity become null (a tuning result of Infinity was shipped as `"lambda":null`), a typed
 * array becomes an object of indices, a Map or Set `{}`, a function, symbol or undefined in an array
 * null. Also objects and arrays nested deeper than the reader takes (ERN_MANIFEST_MAX_DEPTH).
 * -0 is allowed: it is written as 0, an equal number. Cycles are left to JSON.stringify.
 */
function jsonDefect(manifest: Record<string, unknown>): { path: string; what: string } | undefined {
  const stack: [unknown, string, number][] = Object.entries(manifest).map(([k, v]) => [v, k, 1]);
  // Each object once: shared references cost nothing twice, and a cycle ends here (JSON.stringify reports it).
  const seen = new Set<object>();
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, path, depth] = item;
    if (typeof v === 'number' && !Number.isFinite(v)) return { path, what: `${v} (JSON writes it as null)` };
    if (typeof v === 'function' || typeof v === 'symbol') return { path, what: `a ${typeof v} (JSON drops it)` };
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (depth > ERN_MANIFEST_MAX_DEPTH) return { path, what: `objects and arrays nested more than ${ERN_MANIFEST_MAX_DEPTH} levels deep (readers refuse it)` };
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Map || v instanceof Set) {
      return { path, what: `a ${v.constructor.name} (JSON does not keep it: use a plain array or object)` };
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (v[i] === undefined) return { path: `${path}[${i}]`, what: 'undefined (JSON writes it as null)' };
        stack.push([v[i], `${path}[${i}]`, depth + 1]);
      }
    } else if (typeof (v as { toJSON?: unknown }).toJSON !== 'function') {
      // (An object with toJSON, a Date, says itself how it is written.) Undefined fields are absent.
      for (const [k, x] of Object.entries(v)) if (x !== undefined) stack.push([x, `${path}.${k}`, depth + 1]);
    }
  }
  return undefined;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function fail(code: ConstructorParameters<typeof EdgeRnnError>[0], source: string, message: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError(code, `${source}: ${message}`, { source, ...details });
}

/** Serializes a manifest (without `tensors`) and tensors into .ern bytes. */
export function encodeErn(manifest: Record<string, unknown>, tensors: readonly TensorInput[]): Uint8Array<ArrayBuffer> {
  const entries: ErnTensorEntry[] = [];
  const payloads: Uint8Array[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    // What parseEntries refuses, refused here: this writer is public and must not write a file
    // its reader cannot read (a fractional dimension, a ninth one, a Float64Array stored as u8).
    if (typeof t.name !== 'string' || t.name.length === 0) throw new EdgeRnnError('ERN_TENSOR', `tensor names must be non-empty strings, got ${JSON.stringify(t.name)}`);
    if (seen.has(t.name)) throw new EdgeRnnError('ERN_TENSOR', `duplicate tensor name '${t.name}'`);
    seen.add(t.name);
    if (!Array.isArray(t.shape) || t.shape.length > 8 || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new EdgeRnnError('ERN_TENSOR', `tensor '${t.name}': shape must be up to 8 non-negative integers, got ${JSON.stringify(t.shape)}`, { tensor: t.name });
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new EdgeRnnError('ERN_TENSOR', `tensor '${t.name}' shape [${t.shape}] has ${count} elements, data has ${t.data.length}`);
    let dtype: DType | undefined;
    for (const [k, v] of Object.entries(DTYPES)) if (k !== 'i8bs' && t.data instanceof v.array) dtype = k as DType;
    if (dtype === undefined) {
      const got = (t.data as object | null)?.constructor?.name ?? typeof t.data;
      throw new EdgeRnnError('ERN_TENSOR', `tensor '${t.name}': data must be a Float32Array, Int8Array, Int16Array, Int32Array or Uint8Array, got ${got}`, { tensor: t.name, got });
    }
    let payload = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (t.encoding === 'i8bs') {
      if (!(t.data instanceof Int8Array)) throw new EdgeRnnError('ERN_TENSOR', `tensor '${t.name}': only int8 tensors can be stored block-sparse`);
      payload = encodeBlockSparse(t.data, t.shape);
      dtype = 'i8bs';
    }
    entries.push({ name: t.name, dtype, shape: [...t.shape], offset, bytes: payload.length });
    payloads.push(payload);
    offset = alignUp(offset + payload.length, ERN_ALIGN);
  }
  const lastEntry = entries[entries.length - 1];
  const dataBytes = lastEntry ? lastEntry.offset + lastEntry.bytes : 0;
  // JSON.stringify writes these without complaint; the file would then say something else.
  const defect = jsonDefect(manifest);
  if (defect) throw new EdgeRnnError('ERN_MANIFEST', `manifest.${defect.path} is ${defect.what}: the manifest cannot be written as JSON exactly`, { path: defect.path });
  let text: string;
  try {
    text = JSON.stringify({ ...manifest, tensors: entries });
  } catch (e) {
    // A BigInt, a cycle or nesting too deep in free-form metadata (training, extra).
    throw new EdgeRnnError('ERN_MANIFEST', `the manifest cannot be written as JSON: ${(e as Error).message}`);
  }
  const json = new TextEncoder().encode(text);
  const dataOffset = alignUp(ERN_HEADER_BYTES + json.length, ERN_ALIGN);
  const total = dataOffset + dataBytes;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(ERN_MAGIC, 0);
  dv.setUint16(8, ERN_FORMAT_MAJOR, true);
  dv.setUint16(10, ERN_FORMAT_MINOR, true);
  dv.setUint32(12, ERN_HEADER_BYTES, true);
  dv.setUint32(16, ERN_HEADER_BYTES, true);
  dv.setUint32(20, json.length, true);
  dv.setUint32(24, dataOffset, true);
  dv.setUint32(28, dataBytes, true);
  out.set(json, ERN_HEADER_BYTES);
  out.fill(0x20, ERN_HEADER_BYTES + json.length, dataOffset); // pad with spaces: the manifest stays printable
  payloads.forEach((p, i) => out.set(p, dataOffset + entries[i]!.offset));
  out.set(sha256(out), SHA_OFFSET);
  return out;
}

/** Recomputes the header checksum in place (for tools and tests that edit files). */
export function resealErn(bytes: Uint8Array): Uint8Array {
  bytes.fill(0, SHA_OFFSET, SHA_OFFSET + 32);
  bytes.set(sha256(bytes), SHA_OFFSET);
  return bytes;
}

/** The bytes the checksum covers: the file with the checksum field zeroed. */
function hashedContent(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  copy.fill(0, SHA_OFFSET, SHA_OFFSET + 32);
  return copy;
}

function contentHash(bytes: Uint8Array): Uint8Array {
  return sha256(hashedContent(bytes));
}

function parseEntries(raw: unknown, dataBytes: number, source: string, newer: string): ErnTensorEntry[] {
  if (!Array.isArray(raw)) throw fail('ERN_MANIFEST', source, `manifest.tensors must be an array, got ${typeof raw}`);
  const out: ErnTensorEntry[] = [];
  const names = new Set<string>();
  raw.forEach((e: unknown, i) => {
    const where = `manifest.tensors[${i}]`;
    if (typeof e !== 'object' || e === null) throw fail('ERN_MANIFEST', source, `${where} must be an object`);
    const r = e as Record<string, unknown>;
    const { name, dtype, shape, offset, bytes } = r;
    if (typeof name !== 'string' || name.length === 0) throw fail('ERN_MANIFEST', source, `${where}.name must be a non-empty string`);
    if (names.has(name)) throw fail('ERN_TENSOR', source, `tensor '${name}' appears twice`, { tensor: name });
    names.add(name);
    if (!isDType(dtype)) throw fail('ERN_TENSOR', source, `tensor '${name}': dtype ${JSON.stringify(dtype)} is not one of ${Object.keys(DTYPES).join(', ')}${newer}`, { tensor: name });
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || shape.length > 8) {
      throw fail('ERN_TENSOR', source, `tensor '${name}': shape must be up to 8 non-negative integers, got ${JSON.stringify(shape)}`, { tensor: name });
    }
    if (!Number.isSafeInteger(offset) || (offset as number) < 0 || (offset as number) % ERN_ALIGN !== 0) {
      throw fail('ERN_TENSOR', source, `tensor '${name}': offset ${JSON.stringify(offset)} must be a non-negative multiple of ${ERN_ALIGN}`, { tensor: name });
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    // Block-sparse tensors have a data-dependent size, checked when they are decoded.
    const need = dtype === 'i8bs' ? (bytes as number) : count * DTYPES[dtype].bytes;
    if (!Number.isSafeInteger(bytes) || (bytes as number) < 0 || bytes !== need) {
      throw fail('ERN_TENSOR', source, `tensor '${name}' [${shape}] ${dtype} needs ${need} bytes, table says ${JSON.stringify(bytes)}`, { tensor: name });
    }
    if ((offset as number) + need > dataBytes) {
      throw fail('ERN_TENSOR', source, `tensor '${name}' needs bytes ${offset}..${(offset as number) + need} of the data section, which has ${dataBytes}`, { tensor: name });
    }
    out.push({ name, dtype, shape: shape as number[], offset: offset as number, bytes: need });
  });
  const sorted = [...out].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    if (p.offset + p.bytes > sorted[i]!.offset) throw fail('ERN_TENSOR', source, `tensors '${p.name}' and '${sorted[i]!.name}' overlap`);
  }
  return out;
}

/**
 * Parses and verifies an .ern container. Every defect gets an EdgeRnnError naming it; the
 * parser never reads outside `bytes` and runs in time linear in its length.
 */
export function decodeErn(bytes: Uint8Array, source = 'model.ern', opts: { digest?: Uint8Array } = {}): ErnContainer {
  return parseErn(bytes, source, () => opts.digest ?? contentHash(bytes));
}

/**
 * What a file that is not an .ern looks like, where a download commonly gets it wrong: a
 * server's HTML page (a 404, a single-page app's fallback) in place of the file, or the file
 * still gzip-compressed.
 */
function whatItIs(bytes: Uint8Array): string {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return '; it is gzip-compressed: decompress it first (a server should send it with Content-Encoding: gzip, which fetch() undoes)';
  const head = String.fromCharCode(...bytes.subarray(0, 8));
  return /^[\t\n\r\x20-\x7e]+$/.test(head) ? `; it starts ${JSON.stringify(head)}: text, such as a server's HTML page (a 404, a fallback) sent in place of the file` : '';
}

/**
 * decodeErn() with the content sha256 supplied by the caller: `digest()` is called once, after
 * the header checks, for the sha256 of the file with its checksum field zeroed. The runtime
 * passes its WebAssembly hash, so its bundle carries no JavaScript SHA-256 (a smaller, faster
 * import).
 */
export function parseErn(bytes: Uint8Array, source: string, digest: () => Uint8Array): ErnContainer {
  const n = bytes.length;
  // The magic first, as far as the file goes: a short text file (a server's 404 page, a note)
  // is not an .ern file at all, which says more than "shorter than a header".
  for (let i = 0; i < Math.min(n, ERN_MAGIC.length); i++) {
    if (bytes[i] !== ERN_MAGIC[i]) {
      throw fail('ERN_BAD_MAGIC', source, `not an .ern file: starts with ${toHex(bytes.subarray(0, 8))}, expected ${toHex(ERN_MAGIC)}${whatItIs(bytes)}`);
    }
  }
  if (n < ERN_HEADER_BYTES) throw fail('ERN_TRUNCATED', source, `file has ${n} bytes, an .ern header alone needs ${ERN_HEADER_BYTES}`, { got: n, expected: ERN_HEADER_BYTES });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  const major = dv.getUint16(8, true);
  const minor = dv.getUint16(10, true);
  if (major !== ERN_FORMAT_MAJOR) {
    throw fail('ERN_UNSUPPORTED_VERSION', source, `file format ${major}.${minor}, this runtime reads ${ERN_FORMAT_MAJOR}.x`, { got: `${major}.${minor}`, expected: `${ERN_FORMAT_MAJOR}.x` });
  }
  const headerBytes = dv.getUint32(12, true);
  const mOff = dv.getUint32(16, true);
  const mLen = dv.getUint32(20, true);
  const dOff = dv.getUint32(24, true);
  const dLen = dv.getUint32(28, true);
  if (headerBytes < ERN_HEADER_BYTES) throw fail('ERN_BAD_HEADER', source, `header size ${headerBytes}, expected at least ${ERN_HEADER_BYTES}`);
  if (mOff < headerBytes || mOff + mLen > dOff || dOff % ERN_ALIGN !== 0) {
    throw fail('ERN_BAD_HEADER', source, `manifest at ${mOff}+${mLen} and data at ${dOff} (must follow the ${headerBytes}-byte header, in order, data 64-aligned)`);
  }
  const total = dOff + dLen;
  if (n < total) throw fail('ERN_TRUNCATED', source, `file has ${n} bytes, its header declares ${total}: truncated`, { got: n, expected: total });
  if (n > total) throw fail('ERN_TRAILING_DATA', source, `file has ${n} bytes, its header declares ${total}: ${n - total} unexpected bytes at the end`, { got: n, expected: total });
  const want = toHex(bytes.subarray(SHA_OFFSET, SHA_OFFSET + 32));
  const got = toHex(digest());
  if (want !== got) throw fail('ERN_CHECKSUM', source, `content sha256 ${got.slice(0, 16)}… does not match the header's ${want.slice(0, 16)}…: the file is corrupt`, { got, expected: want });
  let manifest: unknown;
  try {
    const text = decodeUtf8(bytes.subarray(mOff, mOff + mLen));
    manifest = JSON.parse(text);
  } catch (e) {
    throw fail('ERN_MANIFEST', source, `manifest is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw fail('ERN_MANIFEST', source, 'manifest must be a JSON object');
  const m = manifest as Record<string, unknown>;
  const deep = tooDeep(m, ERN_MANIFEST_MAX_DEPTH);
  if (deep !== undefined) throw fail('ERN_MANIFEST', source, `manifest.${deep} nests objects and arrays more than ${ERN_MANIFEST_MAX_DEPTH} levels deep`, { path: deep });
  // Said with an unknown dtype: a newer minor may add types (docs/model-format.md, versions).
  const newer = minor > ERN_FORMAT_MINOR ? ` (the file is format ${major}.${minor}, this reader knows ${ERN_FORMAT_MAJOR}.${ERN_FORMAT_MINOR})` : '';
  const entries = parseEntries(m.tensors, dLen, source, newer);
  // View in place when the caller's buffer keeps natural alignment; otherwise copy the data
  // section once, into a buffer of its own (offset 0). Not bytes.slice(): on a Node Buffer that
  // is a view at the same unaligned offset, and the tensors were read from the wrong bytes.
  const base = bytes.byteOffset + dOff;
  const zeroCopy = base % 8 === 0;
  const data = zeroCopy ? bytes : new Uint8Array(bytes.subarray(dOff, total));
  const dataBase = zeroCopy ? base : 0;
  const tensors = new Map<string, ErnTensor>();
  for (const e of entries) {
    if (e.dtype === 'i8bs') {
      const raw = new Uint8Array(data.buffer as ArrayBuffer, dataBase + e.offset, e.bytes);
      tensors.set(e.name, { dtype: 'i8', stored: 'i8bs', shape: e.shape, data: decodeBlockSparse(raw, e.shape, e.name, source) });
      continue;
    }
    const T = DTYPES[e.dtype].array;
    const count = e.bytes / DTYPES[e.dtype].bytes;
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: new T(data.buffer as ArrayBuffer, dataBase + e.offset, count) });
  }
  const layout = { headerBytes, manifestOffset: mOff, manifestBytes: mLen, dataOffset: dOff, dataBytes: dLen };
  return { formatVersion: { major, minor }, manifest: m, tensors, sha256: want, byteLength: n, zeroCopy, layout };
}
