/**
 * Saved state of a streaming front end (browser-safe): the samples and filter memory it holds
 * between pushes, so that a front end built from the same spec continues the stream exactly
 * (bit for bit) where another one stopped: after a gateway evicts a device, restarts, or hands
 * the device to another gateway.
 *
 * Layout, little-endian: a 24-byte header, then the body.
 *   offset size
 *    0      4   magic 0x464e5245 ("ERNF")
 *    4      2   version (FRONTEND_STATE_VERSION)
 *    6      1   front-end kind id (FRONTEND_STATE_KIND_IDS)
 *    7      1   0 (reserved)
 *    8      8   spec fingerprint: the first 8 bytes of sha256(canonical JSON of the validated spec)
 *   16      4   body length in bytes
 *   20      4   checksum: FNV-1a 32 over header bytes 0..20, continued over the body
 *   24      -   body: per kind (see each front end's exportState), float64 values first (counters
 *               are integers < 2^53 and stored exactly), then any float32 arrays
 * The body holds no lengths of its own: they follow from the spec, which the fingerprint pins.
 *
 * Import checks, in order, each a FRONTEND_STATE error whose details.reason names it:
 * 'truncated', 'magic', 'version', 'kind', 'spec', 'length' (longer than its header says, or a
 * body of another size than this front end needs), 'checksum', 'field' (a counter out of range).
 * Everything is read and checked before the front end changes, so a refused state leaves the
 * stream as it was.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { EdgeRnnError } from '../errors.js';
import { encodeUtf8 } from '../util/bytes.js';
import type { FrontendKind } from './types.js';

export const FRONTEND_STATE_MAGIC = 0x464e5245; // "ERNF" little-endian
export const FRONTEND_STATE_VERSION = 1;
export const FRONTEND_STATE_HEADER_BYTES = 24;

/** Stable ids of the front-end kinds in saved states (never renumber; a removed kind keeps its id as a comment). */
export const FRONTEND_STATE_KIND_IDS: Readonly<Record<FrontendKind, number>> = { none: 1, logmel: 2, mfcc: 3, imu: 4, series: 5 };

/** What went wrong with a state, as `details.reason` of the FRONTEND_STATE error (stable strings). */
export type FrontendStateProblem = 'truncated' | 'magic' | 'version' | 'kind' | 'spec' | 'length' | 'checksum' | 'field';

function kindName(id: number): string {
  for (const [k, v] of Object.entries(FRONTEND_STATE_KIND_IDS)) if (v === id) return k;
  return `unknown kind id ${id}`;
}

/** FNV-1a 32 over bytes[start, end), continuing from h (offset basis 0x811c9dc5, prime 0x01000193). */
function fnv1a(bytes: Uint8Array, start: number, end: number, h = 0x811c9dc5): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h >>> 0;
}

/** JSON with object keys sorted at every level, so equal specs give equal text whatever their field order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** 8 bytes identifying a validated front-end spec: sha256 of its canonical JSON, truncated. */
export function frontendSpecFingerprint(spec: unknown): Uint8Array {
  return sha256(encodeUtf8(canonicalJson(spec))).slice(0, 8);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function frontendStateError(where: string, reason: FrontendStateProblem, why: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('FRONTEND_STATE', `${where}: cannot import state: ${why}`, { reason, ...details });
}

/** Writes a state: the header, then the body values in order; finish() seals it with the checksum. */
export class StateWriter {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  private pos = FRONTEND_STATE_HEADER_BYTES;

  constructor(kind: FrontendKind, fingerprint: Uint8Array, bodyBytes: number) {
    this.bytes = new Uint8Array(FRONTEND_STATE_HEADER_BYTES + bodyBytes);
    this.dv = new DataView(this.bytes.buffer);
    this.dv.setUint32(0, FRONTEND_STATE_MAGIC, true);
    this.dv.setUint16(4, FRONTEND_STATE_VERSION, true);
    this.bytes[6] = FRONTEND_STATE_KIND_IDS[kind];
    this.bytes.set(fingerprint, 8);
    this.dv.setUint32(16, bodyBytes, true);
  }

  f64(v: number): void {
    this.dv.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** a[start, end) as float64. */
  f64s(a: ArrayLike<number>, start = 0, end = a.length): void {
    for (let i = start; i < end; i++) this.f64(a[i]!);
  }

  /** a as float32 (exact for values already in float32). */
  f32s(a: Float32Array): void {
    for (let i = 0; i < a.length; i++) {
      this.dv.setFloat32(this.pos, a[i]!, true);
      this.pos += 4;
    }
  }

  /** Raw bytes (another front end's saved state, nested). */
  u8s(a: Uint8Array): void {
    this.bytes.set(a, this.pos);
    this.pos += a.length;
  }

  finish(): Uint8Array {
    if (this.pos !== this.bytes.length) throw new Error(`front-end state writer: wrote ${this.pos} of ${this.bytes.length} bytes (size computation out of step with the fields)`);
    this.dv.setUint32(20, fnv1a(this.bytes, FRONTEND_STATE_HEADER_BYTES, this.bytes.length, fnv1a(this.bytes, 0, 20)), true);
    return this.bytes;
  }
}

/**
 * Reads a state after checking its header against the importing front end (kind, spec
 * fingerprint, version, length, checksum). Field readers return copies and check ranges; none
 * touches the front end, which commits only once everything was read.
 */
export class StateReader {
  readonly where: string;
  private readonly bytes: Uint8Array;
  private readonly dv: DataView;
  private pos = FRONTEND_STATE_HEADER_BYTES;

  constructor(bytes: Uint8Array, kind: FrontendKind, fingerprint: Uint8Array, where: string) {
    this.where = where;
    const H = FRONTEND_STATE_HEADER_BYTES;
    const fail = (reason: FrontendStateProblem, why: string, details: Record<string, unknown> = {}) => frontendStateError(where, reason, why, details);
    if (!(bytes instanceof Uint8Array)) throw fail('magic', `not an edgernn front-end state: expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
    if (bytes.length < H) throw fail('truncated', `${bytes.length} bytes is shorter than the ${H}-byte header`, { expected: `>= ${H} bytes`, got: bytes.length });
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const magic = dv.getUint32(0, true);
    if (magic !== FRONTEND_STATE_MAGIC) {
      throw fail('magic', `not an edgernn front-end state (magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${FRONTEND_STATE_MAGIC.toString(16)} "ERNF")`, { expected: FRONTEND_STATE_MAGIC, got: magic });
    }
    const version = dv.getUint16(4, true);
    if (version !== FRONTEND_STATE_VERSION) throw fail('version', `state version ${version}, this build reads version ${FRONTEND_STATE_VERSION}`, { expected: FRONTEND_STATE_VERSION, got: version });
    const id = bytes[6]!;
    if (id !== FRONTEND_STATE_KIND_IDS[kind] || bytes[7] !== 0) {
      throw fail('kind', `it is the state of a ${kindName(id)} front end, this is a ${kind} front end`, { expected: kind, got: kindName(id) });
    }
    const fp = bytes.subarray(8, 16);
    for (let i = 0; i < 8; i++) {
      if (fp[i] !== fingerprint[i]) {
        throw fail('spec', `it was saved by a ${kind} front end with other parameters (spec fingerprint ${hex(fp)}, this one's is ${hex(fingerprint)})`, { expected: hex(fingerprint), got: hex(fp) });
      }
    }
    const body = dv.getUint32(16, true);
    if (bytes.length < H + body) throw fail('truncated', `${bytes.length} bytes, the header says ${H + body}`, { expected: H + body, got: bytes.length });
    if (bytes.length > H + body) throw fail('length', `${bytes.length} bytes, the header says ${H + body} (trailing data)`, { expected: H + body, got: bytes.length });
    const sum = dv.getUint32(20, true);
    const want = fnv1a(bytes, H, bytes.length, fnv1a(bytes, 0, 20));
    if (sum !== want) throw fail('checksum', 'checksum mismatch: the state is corrupt', { expected: want, got: sum });
    this.bytes = bytes;
    this.dv = dv;
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.bytes.length) {
      throw frontendStateError(this.where, 'length', `the body ends before '${field}' (${this.bytes.length - FRONTEND_STATE_HEADER_BYTES} body bytes)`, { field });
    }
  }

  f64(field: string): number {
    this.need(8, field);
    const v = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A counter: an integer in [min, max]. */
  int(field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.f64(field);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw frontendStateError(this.where, 'field', `'${field}' must be an integer in [${min}, ${max}], got ${v}`, { field, expected: `[${min}, ${max}]`, got: v });
    }
    return v;
  }

  /** n float64 values (a copy). */
  f64s(field: string, n: number): Float64Array {
    this.need(8 * n, field);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.dv.getFloat64(this.pos + 8 * i, true);
    this.pos += 8 * n;
    return out;
  }

  /** n float32 values (a copy). */
  f32s(field: string, n: number): Float32Array {
    this.need(4 * n, field);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.dv.getFloat32(this.pos + 4 * i, true);
    this.pos += 4 * n;
    return out;
  }

  /** n raw bytes (a copy). */
  u8s(field: string, n: number): Uint8Array {
    this.need(n, field);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Every body byte must have been read. */
  end(): void {
    if (this.pos !== this.bytes.length) {
      throw frontendStateError(this.where, 'length', `the body has ${this.bytes.length - this.pos} bytes more than this front end's state`, { expected: this.pos, got: this.bytes.length });
    }
  }

  /** A field-range refusal from the front end's own consistency checks. */
  invalid(field: string, why: string, got: unknown): EdgeRnnError {
    return frontendStateError(this.where, 'field', `'${field}' ${why}, got ${String(got)}`, { field, got });
  }
}
