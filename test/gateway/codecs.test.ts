/** Payload codecs: round trips, the documented binary layout, and a typed error for every defect. */
import { describe, expect, it } from 'vitest';
import { applyNonFinite, BINARY_HEADER_BYTES, decodeBinary, decodeCsv, decodeJson, encodeBinary, encodeCsv, encodeJson, type DecodeOptions } from '../../src/gateway/codecs.js';
import { errorMessage } from '../helpers/errors.js';

const O: DecodeOptions = { channels: 3, int16Scale: 1 / 32768, maxSamples: 1000 };
const enc = (s: string) => new TextEncoder().encode(s);
const samples = Float32Array.from([0.5, -1.25, 3, 0.125, 7, -0.0625]);

function decodeError(f: () => unknown): string {
  return errorMessage(f, 'PAYLOAD_DECODE');
}

describe('JSON codec', () => {
  it('round-trips samples, seq, ts and rate', () => {
    const b = decodeJson(encodeJson(samples, 3, { seq: 7, tsMs: 1714560000000, rateHz: 50 }), O);
    expect(b).toMatchObject({ seq: 7, tsMs: 1714560000000, rateHz: 50, n: 2, channels: 3 });
    expect(Array.from(b.values)).toEqual(Array.from(samples));
  });

  it('accepts a bare list of samples, a flat interleaved list, ISO times and null as NaN', () => {
    expect(decodeJson(enc('[[1,2,3],[4,5,6]]'), O).n).toBe(2);
    const flat = decodeJson(enc('{"values":[1,2,3,4,5,6],"ts":"2024-05-01T00:00:00Z"}'), O);
    expect(flat.n).toBe(2);
    expect(flat.tsMs).toBe(Date.parse('2024-05-01T00:00:00Z'));
    expect(Number.isNaN(decodeJson(enc('[[1,null,3]]'), O).values[1])).toBe(true);
  });

  it('names what is wrong', () => {
    expect(decodeError(() => decodeJson(enc('{"values":[[1,2]]}'), O))).toMatch(/sample 0 must be a list of 3 values, got 2 values/);
    expect(decodeError(() => decodeJson(enc('{"values":[1,2,3,4]}'), O))).toMatch(/flat list of 4 values is not a whole number of 3-channel samples/);
    expect(decodeError(() => decodeJson(enc('{"vals":[]}'), O))).toMatch(/needs "values"/);
    expect(decodeError(() => decodeJson(enc('{"values":[[1,"x",3]]}'), O))).toMatch(/sample 0 value 1 must be a number or null/);
    expect(decodeError(() => decodeJson(enc('{"values":[],"seq":-1}'), O))).toMatch(/"seq" must be a non-negative integer/);
    // A ns time as seq is an integer, but not the one sent: the limit is named.
    expect(decodeError(() => decodeJson(enc('{"values":[],"seq":1714560000000000001}'), O))).toBe('JSON "seq" must be a non-negative integer up to 2^53 - 1, got 1714560000000000000');
    expect(decodeError(() => decodeJson(enc('{"values":[],"ts":"yesterday"}'), O))).toMatch(/"ts" must be ms since epoch or an ISO date/);
    expect(decodeError(() => decodeJson(enc('{"values":[],"rateHz":0}'), O))).toMatch(/"rateHz" must be a positive number/);
    expect(decodeError(() => decodeJson(enc('{"values": [[1,2,3]'), O))).toMatch(/^not JSON/);
    expect(decodeError(() => decodeJson(new Uint8Array([0xff, 0xfe]), O))).toMatch(/^not JSON/);
    expect(decodeError(() => decodeJson(enc('42'), O))).toMatch(/must be an object/);
    expect(decodeError(() => decodeJson(enc(JSON.stringify(Array.from({ length: 1001 }, () => [1, 2, 3]))), O))).toMatch(/1001 samples in one message, the limit is 1000/);
  });
});

describe('ts strings', () => {
  it('take ISO 8601 dates only: a number in a string or a legacy date format is refused, not read as some date in 2001', () => {
    expect(decodeJson(enc('{"values":[],"ts":"2024-05-01T00:00:00.123+02:00"}'), O).tsMs).toBe(Date.parse('2024-05-01T00:00:00.123+02:00'));
    expect(decodeJson(enc('{"values":[],"ts":"2024-05-01"}'), O).tsMs).toBe(Date.parse('2024-05-01'));
    expect(decodeCsv(enc('# ts=2024-05-01T00:00:00Z\n1,2,3\n'), O).tsMs).toBe(Date.parse('2024-05-01T00:00:00Z'));
    expect(decodeCsv(enc('# ts=1714560000000\n1,2,3\n'), O).tsMs).toBe(1714560000000);
    // Date.parse("5") and Date.parse("-5") are May 2001 in V8; "May 1 2024" is local time.
    for (const ts of ['5', '-5', '1714560000000', 'May 1 2024', '1969-12-31T23:59:59Z']) {
      expect(decodeError(() => decodeJson(enc(JSON.stringify({ values: [], ts })), O))).toMatch(/"ts" must be ms since epoch or an ISO date/);
    }
    expect(decodeError(() => decodeCsv(enc('# ts=-5\n1,2,3\n'), O))).toMatch(/"ts" must be ms since epoch or an ISO date/);
  });

  it('read a date-time without an offset as UTC, whatever the machine\'s time zone (it was local time: alerts hours apart under another TZ)', () => {
    const tz = process.env.TZ;
    try {
      for (const zone of ['Asia/Tokyo', 'America/New_York', 'UTC']) {
        process.env.TZ = zone;
        expect(decodeJson(enc('{"values":[],"ts":"2024-05-01T10:00:00.5"}'), O).tsMs, zone).toBe(Date.parse('2024-05-01T10:00:00.5Z'));
        expect(decodeJson(enc('{"values":[],"ts":"2024-05-01 10:00"}'), O).tsMs, zone).toBe(Date.parse('2024-05-01T10:00Z'));
        expect(decodeCsv(enc('# ts=2024-05-01T10:00:00\n1,2,3\n'), O).tsMs, zone).toBe(Date.parse('2024-05-01T10:00:00Z'));
        // A lower-case "t" too (ISO 8601 allows it; it was read as local time).
        expect(decodeJson(enc('{"values":[],"ts":"2024-05-01t10:00:00"}'), O).tsMs, zone).toBe(Date.parse('2024-05-01T10:00:00Z'));
        // An offset is kept.
        expect(decodeJson(enc('{"values":[],"ts":"2024-05-01T10:00:00+02:00"}'), O).tsMs, zone).toBe(Date.parse('2024-05-01T08:00:00Z'));
      }
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('CSV numbers and lines', () => {
  it('decimal notation only: hex, binary and octal literals are refused (Number() read "0x10" as 16); CR line endings split lines', () => {
    for (const cell of ['0x10', '0b11', '0o7', '1_000', '1e', '--1']) {
      expect(decodeError(() => decodeCsv(enc(`1,2,${cell}\n`), O))).toBe(`CSV sample 0 value 2 is not a decimal number: ${JSON.stringify(cell)}`);
    }
    const ok = decodeCsv(enc('1,-2.5,.5\r3e2,+4,-Infinity\r\n5,,NaN\r'), O);
    expect(ok.n).toBe(3);
    expect(Array.from(ok.values)).toEqual([1, -2.5, 0.5, 300, 4, -Infinity, 5, NaN, NaN]);
  });
});

describe('binary frames', () => {
  it('follow the documented layout: 24-byte header, little-endian samples', () => {
    const f = encodeBinary(samples, 3, { seq: 0x01020304, tsMs: 1714560000000.5, rateHz: 16000 });
    expect(f.length).toBe(BINARY_HEADER_BYTES + 6 * 4);
    const dv = new DataView(f.buffer);
    expect([f[0], f[1], f[2], f[3]]).toEqual([0x45, 0x46, 1, 2]);
    expect(dv.getUint16(4, true)).toBe(3);
    expect(dv.getUint16(6, true)).toBe(3); // seq and ts present
    expect(dv.getUint32(8, true)).toBe(0x01020304);
    expect(dv.getFloat32(12, true)).toBe(16000);
    expect(dv.getFloat64(16, true)).toBe(1714560000000.5);
    expect(dv.getFloat32(24 + 4 * 4, true)).toBe(7);
    const b = decodeBinary(f, O);
    expect(b).toMatchObject({ seq: 0x01020304, tsMs: 1714560000000.5, rateHz: 16000, n: 2 });
    expect(Array.from(b.values)).toEqual(Array.from(samples));
  });

  it('scales int16 samples and leaves absent fields absent', () => {
    const f = encodeBinary([0.5, -0.25, -1, 0, 0.999, 0.0001], 3, { type: 'int16' });
    expect(f.length).toBe(BINARY_HEADER_BYTES + 12);
    const b = decodeBinary(f, O);
    expect(b.seq).toBeUndefined();
    expect(b.tsMs).toBeUndefined();
    expect(b.rateHz).toBeUndefined();
    expect(Array.from(b.values)).toEqual([16384, -8192, -32768, 0, 32735, 3].map((q) => Math.fround(q / 32768)));
  });

  it('names what is wrong', () => {
    const good = encodeBinary(samples, 3, { seq: 1 });
    expect(decodeError(() => decodeBinary(good.subarray(0, 10), O))).toMatch(/10 bytes is shorter than the 24-byte header/);
    const badMagic = good.slice();
    badMagic[0] = 0x7b;
    expect(decodeError(() => decodeBinary(badMagic, O))).toMatch(/must start with "EF"/);
    const badVersion = good.slice();
    badVersion[2] = 9;
    expect(decodeError(() => decodeBinary(badVersion, O))).toMatch(/version 9/);
    const badType = good.slice();
    badType[3] = 5;
    expect(decodeError(() => decodeBinary(badType, O))).toMatch(/sample type 5/);
    expect(decodeError(() => decodeBinary(encodeBinary(samples, 2), O))).toMatch(/has 2 channels, this route expects 3/);
    expect(decodeError(() => decodeBinary(good.subarray(0, good.length - 2), O))).toMatch(/body of 22 bytes is not a whole number of 3-channel float32 samples/);
    const badFlags = good.slice();
    badFlags[6] = 0x80;
    expect(decodeError(() => decodeBinary(badFlags, O))).toMatch(/unknown bits/);
  });
});

describe('CSV lines', () => {
  it('round-trips with the metadata line', () => {
    const b = decodeCsv(encodeCsv(samples, 3, { seq: 3, tsMs: 99, rateHz: 25 }), O);
    expect(b).toMatchObject({ seq: 3, tsMs: 99, rateHz: 25, n: 2 });
    expect(Array.from(b.values)).toEqual(Array.from(samples));
    expect(Number.isNaN(decodeCsv(enc('1,NaN,3\r\n'), O).values[1])).toBe(true);
  });

  it('names what is wrong', () => {
    expect(decodeError(() => decodeCsv(enc('1,2\n'), O))).toMatch(/CSV sample 0 has 2 values, expected 3/);
    expect(decodeError(() => decodeCsv(enc('1,2,abc\n'), O))).toMatch(/sample 0 value 2 is not a decimal number: "abc"/);
    expect(decodeError(() => decodeCsv(enc('1,2,3\n# seq=1\n'), O))).toMatch(/metadata line must come before/);
    expect(decodeError(() => decodeCsv(enc('# color=red\n1,2,3\n'), O))).toMatch(/metadata key "color" is unknown/);
  });

  it('reads metadata numbers as the samples are: decimal only (seq=0x10 was 16), exponents too (ts=1.7e12 was refused)', () => {
    expect(decodeCsv(enc('# seq=1e3 ts=1.7145600000005e12 rateHz=2.5E1\n1,2,3\n'), O)).toMatchObject({ seq: 1000, tsMs: 1714560000000.5, rateHz: 25 });
    expect(decodeError(() => decodeCsv(enc('# seq=0x10\n1,2,3\n'), O))).toBe('CSV "seq" must be a non-negative integer up to 2^53 - 1, got "0x10"');
    expect(decodeError(() => decodeCsv(enc('# rateHz=0b11\n1,2,3\n'), O))).toBe('CSV "rateHz" must be a positive number, got "0b11"');
    expect(decodeError(() => decodeCsv(enc('# ts=0x10\n1,2,3\n'), O))).toBe('CSV "ts" must be ms since epoch or an ISO date, got "0x10"');
    expect(decodeError(() => decodeCsv(enc('# seq=Infinity\n1,2,3\n'), O))).toBe('CSV "seq" must be a non-negative integer up to 2^53 - 1, got "Infinity"');
  });
});

describe('non-finite samples', () => {
  const batch = () => ({ channels: 2, n: 3, values: Float32Array.from([1, 2, NaN, 4, 5, Infinity]) });
  it('deadLetter names the sample and channel', () => {
    expect(applyNonFinite(batch(), 'deadLetter', new Float32Array(2))).toMatch(/sample 1 channel 0 is NaN/);
  });
  it('zero replaces, hold repeats the last finite value of the channel', () => {
    const z = batch();
    expect(applyNonFinite(z, 'zero', new Float32Array(2))).toBeNull();
    expect(Array.from(z.values)).toEqual([1, 2, 0, 4, 5, 0]);
    const h = batch();
    expect(applyNonFinite(h, 'hold', new Float32Array(2))).toBeNull();
    expect(Array.from(h.values)).toEqual([1, 2, 1, 4, 5, 4]);
  });
});
