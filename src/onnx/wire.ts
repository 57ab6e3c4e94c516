/**
 * Protocol Buffers wire format, the small part ONNX needs: varints (int32/int64/enums), fixed32
 * floats, fixed64 doubles, length-delimited bytes/strings/messages, packed and unpacked repeated
 * scalars. Browser-safe, no dependencies.
 *
 * Wire types (protobuf encoding spec): 0 VARINT, 1 I64, 2 LEN, 3 SGROUP, 4 EGROUP, 5 I32.
 * A tag is (field_number << 3) | wire_type, itself a varint.
 *
 * int64 values come back as JS numbers: exact up to 2^53, rounded beyond (ONNX uses
 * INT64_MAX/INT64_MIN as "to the end" markers in Slice, where rounding changes nothing).
 *
 * Every defect throws ONNX_PARSE naming the message path and the byte offset.
 */
import { EdgeRnnError } from '../errors.js';
import { decodeUtf8, unshared } from '../util/bytes.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** One decoder for every string field: a TextDecoder per field was most of the decoding time of large graphs. */
const utf8 = typeof TextDecoder === 'function' ? new TextDecoder('utf-8', { fatal: true }) : null;

export function parseError(path: string, offset: number, message: string): EdgeRnnError {
  return new EdgeRnnError('ONNX_PARSE', `malformed ONNX protobuf at byte ${offset} (${path}): ${message}`, { path, offset });
}

/** Reads one message's bytes [start, end) of a shared buffer. */
export class WireReader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
  /** Message path for errors, e.g. "ModelProto.graph.node[3]". */
  readonly path: string;
  private readonly dv: DataView;

  constructor(buf: Uint8Array, start: number, end: number, path: string) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.path = path;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string, at = this.pos): EdgeRnnError {
    return parseError(this.path, at, message);
  }

  /** A varint as two uint32 halves (low 32 bits, high 32 bits). */
  private varintParts(): [number, number] {
    let lo = 0;
    let hi = 0;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint', start);
      const b = this.buf[this.pos++]!;
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw this.fail('varint longer than 10 bytes', start);
  }

  /** Unsigned varint that must fit a safe integer (lengths, tags). */
  uint(): number {
    const at = this.pos;
    const [lo, hi] = this.varintParts();
    const v = hi * 4294967296 + lo;
    if (!Number.isSafeInteger(v)) throw this.fail(`varint ${v} is too large here`, at);
    return v;
  }

  /** int64 / int32 / enum as a signed number (two's complement 64-bit). */
  int64(): number {
    const [lo, hi] = this.varintParts();
    return (hi | 0) * 4294967296 + lo;
  }

  float32(): number {
    if (this.pos + 4 > this.end) throw this.fail('truncated fixed32');
    const v = this.dv.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  float64(): number {
    if (this.pos + 8 > this.end) throw this.fail('truncated fixed64');
    const v = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The [start, end) range of a length-delimited field's payload. */
  lenRange(): [number, number] {
    const at = this.pos;
    const n = this.uint();
    if (this.pos + n > this.end) throw this.fail(`length ${n} runs past the end of the enclosing message (${this.end - this.pos} bytes left)`, at);
    const r: [number, number] = [this.pos, this.pos + n];
    this.pos += n;
    return r;
  }

  bytes(): Uint8Array {
    const [s, e] = this.lenRange();
    return this.buf.subarray(s, e);
  }

  string(): string {
    const [s, e] = this.lenRange();
    try {
      const b = this.buf.subarray(s, e);
      return utf8 ? utf8.decode(unshared(b)) : decodeUtf8(b);
    } catch {
      throw this.fail('string field is not valid UTF-8', s);
    }
  }

  /** A reader over a nested message. */
  message(path: string): WireReader {
    const [s, e] = this.lenRange();
    return new WireReader(this.buf, s, e, path);
  }

  /** Next tag: [field number, wire type]. */
  tag(): [number, number] {
    const at = this.pos;
    const t = this.uint();
    const field = Math.floor(t / 8);
    const wire = t & 7;
    if (field === 0) throw this.fail('field number 0 is invalid', at);
    if (wire === 3 || wire === 4) throw this.fail(`field ${field} uses the deprecated group wire type ${wire}`, at);
    if (wire === 6 || wire === 7) throw this.fail(`field ${field} has invalid wire type ${wire}`, at);
    return [field, wire];
  }

  /** Skips a field of an unknown number. */
  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varintParts();
    else if (wire === WIRE_I64) this.advance(8);
    else if (wire === WIRE_I32) this.advance(4);
    else if (wire === WIRE_LEN) this.lenRange();
    else throw this.fail(`cannot skip wire type ${wire}`);
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw this.fail(`truncated field (${n} bytes needed)`);
    this.pos += n;
  }

  /** Checks a known field's wire type. */
  expect(field: string, wire: number, want: number | readonly number[]): void {
    const ok = typeof want === 'number' ? wire === want : want.includes(wire);
    if (!ok) throw this.fail(`field '${field}' has wire type ${wire}, expected ${typeof want === 'number' ? want : want.join(' or ')}`);
  }

  /** Repeated varint field, packed (LEN) or one element (VARINT). */
  repeatedInt64(field: string, wire: number, out: number[]): void {
    this.expect(field, wire, [WIRE_VARINT, WIRE_LEN]);
    if (wire === WIRE_VARINT) {
      out.push(this.int64());
      return;
    }
    const [s, e] = this.lenRange();
    const sub = new WireReader(this.buf, s, e, `${this.path}.${field}`);
    while (!sub.done) out.push(sub.int64());
  }

  /** Repeated float field, packed (LEN) or one element (I32). */
  repeatedFloat32(field: string, wire: number, out: number[]): void {
    this.expect(field, wire, [WIRE_I32, WIRE_LEN]);
    if (wire === WIRE_I32) {
      out.push(this.float32());
      return;
    }
    const [s, e] = this.lenRange();
    if ((e - s) % 4 !== 0) throw this.fail(`packed '${field}' of ${e - s} bytes is not a multiple of 4`, s);
    for (let p = s; p < e; p += 4) out.push(this.dv.getFloat32(p, true));
  }

  /** Repeated double field, packed (LEN) or one element (I64). */
  repeatedFloat64(field: string, wire: number, out: number[]): void {
    this.expect(field, wire, [WIRE_I64, WIRE_LEN]);
    if (wire === WIRE_I64) {
      out.push(this.float64());
      return;
    }
    const [s, e] = this.lenRange();
    if ((e - s) % 8 !== 0) throw this.fail(`packed '${field}' of ${e - s} bytes is not a multiple of 8`, s);
    for (let p = s; p < e; p += 8) out.push(this.dv.getFloat64(p, true));
  }

  /** Repeated uint64 field (varints read as unsigned). */
  repeatedUint64(field: string, wire: number, out: number[]): void {
    this.expect(field, wire, [WIRE_VARINT, WIRE_LEN]);
    const one = (r: WireReader) => {
      const [lo, hi] = r.varintParts();
      out.push(hi * 4294967296 + lo);
    };
    if (wire === WIRE_VARINT) {
      one(this);
      return;
    }
    const [s, e] = this.lenRange();
    const sub = new WireReader(this.buf, s, e, `${this.path}.${field}`);
    while (!sub.done) one(sub);
  }
}

/** Appends protobuf fields to a growing buffer. */
export class WireWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /**
   * Varint of a signed integer; negatives take 10 bytes (two's complement 64-bit). Integers
   * beyond 2^53 are written exactly as the double they are, clamped to the int64 range
   * (INT64_MAX as a double is 2^63).
   */
  varint(v: number): void {
    if (!Number.isInteger(v)) throw new RangeError(`varint ${v} is not an integer`);
    let lo: number;
    let hi: number;
    if (!Number.isSafeInteger(v)) {
      const b = BigInt.asUintN(64, v >= 2 ** 63 ? 2n ** 63n - 1n : v <= -(2 ** 63) ? -(2n ** 63n) : BigInt(v));
      lo = Number(b & 0xffffffffn);
      hi = Number(b >> 32n);
    } else if (v >= 0) {
      lo = v % 4294967296 >>> 0;
      hi = Math.floor(v / 4294967296) >>> 0;
    } else {
      // 2^64 + v split in halves without leaving exact integer arithmetic.
      const a = -v;
      const alo = a % 4294967296;
      const ahi = Math.floor(a / 4294967296);
      lo = (4294967296 - alo) % 4294967296 >>> 0;
      hi = (4294967295 - ahi + (alo === 0 ? 1 : 0)) >>> 0;
    }
    while (hi !== 0 || lo > 0x7f) {
      this.byte((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    this.byte(lo);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, WIRE_I32);
    this.reserve(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: WireWriter): void {
    this.bytes(field, w.finish());
  }

  /** Packed repeated varints. */
  packedInt64(field: number, values: readonly number[]): void {
    const sub = new WireWriter();
    for (const v of values) sub.varint(v);
    this.bytes(field, sub.finish());
  }

  /** Packed repeated floats. */
  packedFloat(field: number, values: readonly number[]): void {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    this.bytes(field, b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
