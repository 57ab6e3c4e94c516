/**
 * Sensor payload codecs (Node-only module). Each decoder turns a payload into a SampleBatch
 * (interleaved samples [n][channels]) or throws PAYLOAD_DECODE naming what is wrong. Encoders
 * are here too, for devices, tests and the benchmark.
 *
 * JSON     {"ts": 1714560000000, "seq": 12, "rateHz": 50, "values": [[ax, ay, az], ...]}
 *          "values" holds samples (arrays of `channels` numbers), or a flat interleaved list;
 *          a top-level array is the samples alone. ts (ms since epoch, or an ISO date), seq, rateHz are optional;
 *          null stands for a missing value (NaN).
 * binary   24-byte little-endian header, then samples:
 *            0  u8[2]  magic "EF" (0x45 0x46)
 *            2  u8     version = 1
 *            3  u8     sample type: 1 = int16, 2 = float32
 *            4  u16    channels
 *            6  u16    flags: bit 0 = seq present, bit 1 = ts present (other bits 0)
 *            8  u32    seq
 *           12  f32    sample rate, Hz (0 = not given)
 *           16  f64    ts, ms since epoch
 *           24  n * channels samples, interleaved, int16 or float32 LE
 *          int16 samples are scaled by the route's int16Scale (default 1/32768).
 * csv      one sample per line, `channels` comma-separated numbers; an optional first line
 *          "# seq=12 ts=1714560000000 rateHz=50" carries the metadata.
 */
import { EdgeRnnError } from '../errors.js';
import type { CodecName, NonFiniteSamplePolicy } from './config.js';

export interface SampleBatch {
  /** Sequence number of this message in its device stream, when the device sends one. */
  seq?: number;
  /** Time of the first sample, ms since epoch. */
  tsMs?: number;
  /** Sampling rate the payload declares, Hz. */
  rateHz?: number;
  channels: number;
  /** Samples in this message. */
  n: number;
  /** [n][channels] interleaved. */
  values: Float32Array;
}

export interface DecodeOptions {
  /** Values per sample the route expects. */
  channels: number;
  /** Scale of binary int16 samples. */
  int16Scale: number;
  /** Most samples accepted in one message. */
  maxSamples: number;
}

export const BINARY_MAGIC = [0x45, 0x46] as const;
export const BINARY_VERSION = 1;
export const BINARY_HEADER_BYTES = 24;
export const BINARY_INT16 = 1;
export const BINARY_FLOAT32 = 2;
const FLAG_SEQ = 1;
const FLAG_TS = 2;

/** Stateless (no `stream` option), so one instance serves every call. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function bad(message: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('PAYLOAD_DECODE', message, details);
}

/**
 * The start of a payload value for an error message. JSON.stringify recurses: a value nested some
 * thousands of levels deep (a 64 KiB payload holds 32,000) threw a RangeError, which was no
 * PAYLOAD_DECODE, so the message was logged as a handler failure, with a stack, instead of dead-lettered.
 */
function show(v: unknown): string | undefined {
  try {
    return JSON.stringify(v)?.slice(0, 40);
  } catch {
    return Array.isArray(v) ? 'a list nested too deep to show' : 'an object nested too deep to show';
  }
}

function checkSeq(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  // Up to 2^53 - 1, the integers a JSON number holds exactly: 1.7e18 (a ns time as seq) is an
  // integer too, but not the one the device sent, and "must be a non-negative integer" said nothing.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${where} "seq" must be a non-negative integer up to 2^53 - 1, got ${show(v)}`);
  return v;
}

/**
 * Latest time a JavaScript Date holds (ECMA-262 21.4.1.1: ±8.64e15 ms). Beyond it the alert's ISO
 * time cannot be written (a device sending nanoseconds, 1.7e18, crashed the gateway's pump).
 */
export const MAX_TS_MS = 8.64e15;

/**
 * The latest payload `ts` taken, the end of the year 9999 (ms since epoch, 2.5e14): a device sending
 * µs (1.7e15 in 2024) is refused like one sending ns. Taken up to MAX_TS_MS, its alerts were
 * stamped in the year 56,000, and under routes[].maxSilenceMs each message was 1000 times further
 * from the last than it was, a new stream epoch per message.
 */
export const MAX_DEVICE_TS_MS = Date.UTC(10000, 0, 1) - 1;

/**
 * An ISO 8601 date, optionally with a time and offset. Date.parse alone also takes V8's legacy
 * formats: "5" and "-5" were May 2001, "May 1 2024" local time; "1969-12-31" a negative time.
 */
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

function checkTs(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    // A date-time without an offset is UTC, as the alerts' "ts" and truth files: Date.parse took it
    // as the gateway's local time, so the same payload gave alerts hours apart under another TZ
    // (a Raspberry Pi set to local time, the replay on a laptop).
    // So is one with a lower-case "t" ("2024-05-01t10:00:00"), which Date.parse took as local time too.
    const t = ISO_DATE.test(v) ? Date.parse(/[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?$/i.test(v) ? `${v.replace(/[t ]/i, 'T')}Z` : v) : NaN;
    if (!Number.isFinite(t) || t < 0 || t > MAX_DEVICE_TS_MS) throw bad(`${where} "ts" must be ms since epoch or an ISO date, got ${JSON.stringify(v.slice(0, 40))}`);
    return t;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`${where} "ts" must be ms since epoch or an ISO date, got ${show(v)}`);
  if (v > MAX_DEVICE_TS_MS) throw bad(`${where} "ts" ${v} is after the year 9999: expected ms since epoch (not µs or ns)`);
  return v;
}

function checkRate(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(`${where} "rateHz" must be a positive number, got ${show(v)}`);
  return v;
}

function numOrNaN(x: unknown, where: () => string): number {
  if (typeof x === 'number') return x;
  if (x === null) return NaN;
  throw bad(`${where()} must be a number or null, got ${show(x)}`);
}

/** Samples from a JSON list: nested [n][channels] or flat interleaved. */
function jsonSamples(list: unknown[], o: DecodeOptions): { n: number; values: Float32Array } {
  const C = o.channels;
  if (list.length === 0) return { n: 0, values: new Float32Array(0) };
  if (Array.isArray(list[0])) {
    if (list.length > o.maxSamples) throw bad(`${list.length} samples in one message, the limit is ${o.maxSamples}`);
    const values = new Float32Array(list.length * C);
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (!Array.isArray(s) || s.length !== C) throw bad(`sample ${i} must be a list of ${C} values, got ${Array.isArray(s) ? `${s.length} values` : show(s)}`, { sample: i, expected: C });
      for (let k = 0; k < C; k++) values[i * C + k] = numOrNaN(s[k], () => `sample ${i} value ${k}`);
    }
    return { n: list.length, values };
  }
  if (list.length % C !== 0) throw bad(`a flat list of ${list.length} values is not a whole number of ${C}-channel samples`, { expected: C, got: list.length });
  const n = list.length / C;
  if (n > o.maxSamples) throw bad(`${n} samples in one message, the limit is ${o.maxSamples}`);
  const values = new Float32Array(list.length);
  for (let i = 0; i < list.length; i++) values[i] = numOrNaN(list[i], () => `value ${i}`);
  return { n, values };
}

export function decodeJson(payload: Uint8Array, o: DecodeOptions): SampleBatch {
  let doc: unknown;
  try {
    doc = JSON.parse(UTF8.decode(payload));
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message.slice(0, 120)}`);
  }
  if (Array.isArray(doc)) return { channels: o.channels, ...jsonSamples(doc, o) };
  if (typeof doc !== 'object' || doc === null) throw bad(`JSON payload must be an object {"values": [...]} or a list of samples, got ${show(doc)}`);
  const obj = doc as Record<string, unknown>;
  if (!Array.isArray(obj.values)) throw bad(`JSON payload needs "values": a list of samples, got ${show(obj.values) ?? 'nothing'}`);
  const b: SampleBatch = { channels: o.channels, ...jsonSamples(obj.values, o) };
  const seq = checkSeq(obj.seq, 'JSON');
  const ts = checkTs(obj.ts, 'JSON');
  const rate = checkRate(obj.rateHz, 'JSON');
  if (seq !== undefined) b.seq = seq;
  if (ts !== undefined) b.tsMs = ts;
  if (rate !== undefined) b.rateHz = rate;
  return b;
}

export function decodeBinary(payload: Uint8Array, o: DecodeOptions): SampleBatch {
  if (payload.length < BINARY_HEADER_BYTES) throw bad(`binary frame of ${payload.length} bytes is shorter than the ${BINARY_HEADER_BYTES}-byte header`, { got: payload.length });
  if (payload[0] !== BINARY_MAGIC[0] || payload[1] !== BINARY_MAGIC[1]) {
    throw bad(`binary frame must start with "EF" (0x45 0x46), got 0x${payload[0]!.toString(16)} 0x${payload[1]!.toString(16)}`);
  }
  if (payload[2] !== BINARY_VERSION) throw bad(`binary frame version ${payload[2]}, this gateway reads version ${BINARY_VERSION}`);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const type = payload[3]!;
  if (type !== BINARY_INT16 && type !== BINARY_FLOAT32) throw bad(`binary frame sample type ${type}: expected 1 (int16) or 2 (float32)`);
  const C = dv.getUint16(4, true);
  if (C !== o.channels) throw bad(`binary frame has ${C} channels, this route expects ${o.channels}`, { expected: o.channels, got: C });
  const flags = dv.getUint16(6, true);
  if (flags & ~(FLAG_SEQ | FLAG_TS)) throw bad(`binary frame flags 0x${flags.toString(16)} has unknown bits`);
  const width = type === BINARY_INT16 ? 2 : 4;
  const body = payload.length - BINARY_HEADER_BYTES;
  if (body % (C * width) !== 0) {
    throw bad(`binary frame body of ${body} bytes is not a whole number of ${C}-channel ${type === BINARY_INT16 ? 'int16' : 'float32'} samples (${C * width} bytes each)`);
  }
  const n = body / (C * width);
  if (n > o.maxSamples) throw bad(`${n} samples in one message, the limit is ${o.maxSamples}`);
  const values = new Float32Array(n * C);
  if (type === BINARY_INT16) for (let i = 0; i < n * C; i++) values[i] = dv.getInt16(BINARY_HEADER_BYTES + 2 * i, true) * o.int16Scale;
  else for (let i = 0; i < n * C; i++) values[i] = dv.getFloat32(BINARY_HEADER_BYTES + 4 * i, true);
  const b: SampleBatch = { channels: C, n, values };
  if (flags & FLAG_SEQ) b.seq = dv.getUint32(8, true);
  const rate = dv.getFloat32(12, true);
  if (rate !== 0) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw bad(`binary frame sample rate ${rate} Hz is not a positive number`);
    b.rateHz = rate;
  }
  if (flags & FLAG_TS) {
    const ts = dv.getFloat64(16, true);
    if (!Number.isFinite(ts) || ts < 0 || ts > MAX_DEVICE_TS_MS) throw bad(`binary frame ts ${ts} is not a time in ms since epoch up to the year 9999 (not µs or ns)`);
    b.tsMs = ts;
  }
  return b;
}

/**
 * A CSV sample value: a decimal number with an optional exponent, or ±Infinity. Each digit has one
 * way to match: `\d+\.?\d*` split a run of digits between its two groups in every way, so a long
 * run followed by a letter backtracked quadratically (64 KiB of digits and an "x", one payload
 * under limits.maxPayloadBytes, held the event loop, and every device, for 8 s).
 */
const CSV_NUMBER = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|Infinity)$/;

export function decodeCsv(payload: Uint8Array, o: DecodeOptions): SampleBatch {
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    throw bad('CSV payload is not UTF-8 text');
  }
  // Lone CR too (old Mac line endings): they were one line, "has 6 values, expected 3".
  const lines = text.split(/\r\n|\r|\n/);
  const meta: Record<string, string> = {};
  const rows: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (rows.length > 0) throw bad(`CSV line ${i + 1}: a "#" metadata line must come before the samples`);
      for (const kv of line.slice(1).trim().split(/\s+/)) {
        if (kv === '') continue;
        const m = /^([A-Za-z]+)=(\S+)$/.exec(kv);
        if (!m) throw bad(`CSV line ${i + 1}: metadata must be key=value pairs (seq=, ts=, rateHz=), got ${JSON.stringify(kv.slice(0, 40))}`);
        meta[m[1]!] = m[2]!;
      }
      continue;
    }
    rows.push(line);
  }
  const C = o.channels;
  if (rows.length > o.maxSamples) throw bad(`${rows.length} samples in one message, the limit is ${o.maxSamples}`);
  const values = new Float32Array(rows.length * C);
  for (let i = 0; i < rows.length; i++) {
    const cells = rows[i]!.split(',');
    if (cells.length !== C) throw bad(`CSV sample ${i} has ${cells.length} values, expected ${C}`, { sample: i, expected: C, got: cells.length });
    for (let k = 0; k < C; k++) {
      const cell = cells[k]!.trim();
      const missing = cell === '' || /^nan$/i.test(cell);
      // Decimal notation only (and Infinity, which the non-finite policy handles): Number() also
      // took "0x10", "0b11" and "0o7" as 16, 3 and 7, and "  " as 0.
      if (!missing && !CSV_NUMBER.test(cell)) throw bad(`CSV sample ${i} value ${k} is not a decimal number: ${JSON.stringify(cell.slice(0, 40))}`, { sample: i, value: k });
      const x = missing ? NaN : Number(cell);
      values[i * C + k] = x;
    }
  }
  const b: SampleBatch = { channels: C, n: rows.length, values };
  for (const k of Object.keys(meta)) if (!['seq', 'ts', 'rateHz'].includes(k)) throw bad(`CSV metadata key "${k}" is unknown (seq, ts, rateHz)`);
  // Finite decimal numbers as in the samples, else the text (refused below, naming it, or an ISO date
  // for ts): Number() read seq=0x10 as 16, and ts=1.7e12 (a device printing %g) was refused as no ISO date.
  const num = (k: string) => {
    const v = meta[k];
    return v === undefined ? undefined : CSV_NUMBER.test(v) && Number.isFinite(Number(v)) ? Number(v) : v;
  };
  const seq = checkSeq(num('seq'), 'CSV');
  const ts = checkTs(num('ts'), 'CSV');
  const rate = checkRate(num('rateHz'), 'CSV');
  if (seq !== undefined) b.seq = seq;
  if (ts !== undefined) b.tsMs = ts;
  if (rate !== undefined) b.rateHz = rate;
  return b;
}

export const DECODERS: Readonly<Record<CodecName, (payload: Uint8Array, o: DecodeOptions) => SampleBatch>> = {
  json: decodeJson,
  binary: decodeBinary,
  csv: decodeCsv,
};

/**
 * Applies a route's non-finite policy in place. Returns null when the batch is clean (or was
 * repaired), or a reason for the dead-letter topic. `last` holds each channel's last finite
 * value (updated here; 'hold' repeats it, 0 before the first one).
 */
export function applyNonFinite(b: SampleBatch, policy: NonFiniteSamplePolicy, last: Float32Array): string | null {
  const C = b.channels;
  const v = b.values;
  for (let i = 0; i < b.n; i++) {
    for (let k = 0; k < C; k++) {
      const x = v[i * C + k]!;
      if (x - x === 0) {
        last[k] = x;
        continue;
      }
      if (policy === 'deadLetter') return `sample ${i} channel ${k} is ${x} (not finite); policy nonFinite=deadLetter`;
      v[i * C + k] = policy === 'zero' ? 0 : last[k]!;
    }
  }
  return null;
}

// ---- encoders -------------------------------------------------------------------------------

export interface EncodeFields {
  seq?: number;
  tsMs?: number;
  rateHz?: number;
}

/** JSON payload: samples as nested lists. */
export function encodeJson(samples: ArrayLike<number>, channels: number, f: EncodeFields = {}): Uint8Array {
  const rows: number[][] = [];
  for (let i = 0; i < samples.length / channels; i++) rows.push(Array.from({ length: channels }, (_, k) => samples[i * channels + k]!));
  const doc: Record<string, unknown> = {};
  if (f.tsMs !== undefined) doc.ts = f.tsMs;
  if (f.seq !== undefined) doc.seq = f.seq;
  if (f.rateHz !== undefined) doc.rateHz = f.rateHz;
  doc.values = rows;
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Binary frame (see the layout above). int16 samples are round(x / int16Scale), saturated. */
export function encodeBinary(samples: ArrayLike<number>, channels: number, f: EncodeFields & { type?: 'int16' | 'float32'; int16Scale?: number } = {}): Uint8Array {
  const type = f.type ?? 'float32';
  const width = type === 'int16' ? 2 : 4;
  const out = new Uint8Array(BINARY_HEADER_BYTES + samples.length * width);
  const dv = new DataView(out.buffer);
  out[0] = BINARY_MAGIC[0];
  out[1] = BINARY_MAGIC[1];
  out[2] = BINARY_VERSION;
  out[3] = type === 'int16' ? BINARY_INT16 : BINARY_FLOAT32;
  dv.setUint16(4, channels, true);
  dv.setUint16(6, (f.seq !== undefined ? FLAG_SEQ : 0) | (f.tsMs !== undefined ? FLAG_TS : 0), true);
  dv.setUint32(8, f.seq ?? 0, true);
  dv.setFloat32(12, f.rateHz ?? 0, true);
  dv.setFloat64(16, f.tsMs ?? 0, true);
  const scale = f.int16Scale ?? 1 / 32768;
  for (let i = 0; i < samples.length; i++) {
    if (type === 'int16') dv.setInt16(BINARY_HEADER_BYTES + 2 * i, Math.max(-32768, Math.min(32767, Math.round(samples[i]! / scale))), true);
    else dv.setFloat32(BINARY_HEADER_BYTES + 4 * i, samples[i]!, true);
  }
  return out;
}

/** CSV payload with an optional "#" metadata line. */
export function encodeCsv(samples: ArrayLike<number>, channels: number, f: EncodeFields = {}): Uint8Array {
  const lines: string[] = [];
  const meta = [f.seq !== undefined ? `seq=${f.seq}` : '', f.tsMs !== undefined ? `ts=${f.tsMs}` : '', f.rateHz !== undefined ? `rateHz=${f.rateHz}` : ''].filter(Boolean);
  if (meta.length) lines.push(`# ${meta.join(' ')}`);
  for (let i = 0; i < samples.length / channels; i++) lines.push(Array.from({ length: channels }, (_, k) => String(samples[i * channels + k]!)).join(','));
  return new TextEncoder().encode(`${lines.join('\n')}\n`);
}

export const ENCODERS: Readonly<Record<CodecName, (samples: ArrayLike<number>, channels: number, f?: EncodeFields) => Uint8Array>> = {
  json: encodeJson,
  binary: encodeBinary,
  csv: encodeCsv,
};
