/**
 * Front-end state export/import: a stream split at random points (mid-frame, mid-window, in the
 * middle of what the uninterrupted stream pushed as one chunk), each piece run by a fresh front
 * end built from the same spec that imported the previous one's state, gives the uninterrupted
 * stream's outputs and block indices bit for bit. Refusals (another kind, other parameters,
 * truncated, corrupt, another version, forged counters) are FRONTEND_STATE errors that name the
 * problem and change nothing.
 */
import { describe, expect, it } from 'vitest';
import {
  audioFrontendSpec,
  createFrontend,
  EdgeRnnError,
  FRONTEND_STATE_HEADER_BYTES,
  FRONTEND_STATE_KIND_IDS,
  FRONTEND_STATE_VERSION,
  HMP_ACCEL_DECODE,
  Rng,
  type StreamingFrontend,
} from '../../src/index.js';

type Signal = ArrayLike<number> & { subarray(a: number, b?: number): ArrayLike<number> };

interface Case {
  name: string;
  spec: Record<string, unknown>;
  /** Input samples (not values) of the long signal. */
  samples: number;
  /** Largest chunk pushed at once, in samples. */
  maxChunk: number;
  signal(n: number, channels: number, rng: Rng): Signal;
}

const audio = (n: number, _c: number, rng: Rng) => {
  // Chirp + noise + clicks, 16-bit codes: every frame differs, and pre-emphasis memory matters.
  const x = new Int16Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.round(8000 * Math.sin(0.0004 * i * i * 0.01 + 0.3 * i) + 2500 * rng.normal() + (i % 977 === 0 ? 12000 : 0));
  return x;
};
const audioFloat = (n: number, c: number, rng: Rng) => Float32Array.from(audio(n, c, rng), (v) => v / 32768);
const imuCodes = (n: number, c: number, rng: Rng) => Float32Array.from({ length: n * c }, (_, i) => Math.round(31 + 20 * Math.sin(i * 0.013 * ((i % c) + 1)) + 6 * rng.normal()));
const imuValues = (n: number, c: number, rng: Rng) => Float32Array.from({ length: n * c }, (_, i) => (i % c === 2 ? 1 : 0) + 0.4 * Math.sin(i * 0.021) + 0.3 * rng.normal());
const drifting = (n: number, c: number, rng: Rng) => Float64Array.from({ length: n * c }, (_, i) => 50 + 0.01 * i * ((i % c) + 1) + 3 * rng.normal() + (i % 501 === 0 ? 40 : 0));

const imu3 = (decode: boolean) => ['ax', 'ay', 'az'].map((name) => (decode ? { name, unit: 'g', decode: { ...HMP_ACCEL_DECODE } } : { name, unit: 'g' }));
const imuBase = { kind: 'imu', accelUnit: 'm/s2', gyroUnit: 'rad/s' };

const CASES: Case[] = [
  { name: 'none, 3 channels', spec: { kind: 'none', channels: 3 }, samples: 400, maxChunk: 9, signal: imuValues },
  { name: 'logmel defaults (25 ms / 10 ms), int16', spec: audioFrontendSpec('logmel') as unknown as Record<string, unknown>, samples: 24000, maxChunk: 700, signal: audio },
  {
    name: 'mfcc 13, slaney/hamming, 30 ms / 20 ms, nfft 1024, float input',
    spec: audioFrontendSpec('mfcc', { frameMs: 30, hopMs: 20, nfft: 1024, window: 'hamming', melScale: 'slaney', melNorm: 'slaney', preEmphasis: 0.5 }) as unknown as Record<string, unknown>,
    samples: 20000,
    maxChunk: 900,
    signal: audioFloat,
  },
  { name: 'logmel with hop > frame (10 ms / 25 ms: samples skipped between frames)', spec: audioFrontendSpec('logmel', { frameMs: 10, hopMs: 25, nMels: 20 }) as unknown as Record<string, unknown>, samples: 16000, maxChunk: 500, signal: audio },
  {
    name: 'imu polyphase 32 → 50 Hz, HMP codes, normalized, window 64 hop 16',
    spec: { ...imuBase, inputRateHz: 32, rateHz: 50, resampler: 'polyphase', channels: imu3(true), windowSize: 64, hop: 16, normalization: { mean: [0.5, -0.2, 9.8], std: [3, 2.5, 4] } },
    samples: 900,
    maxChunk: 40,
    signal: imuCodes,
  },
  { name: 'imu polyphase 100 → 32 Hz (downsampling), window 8 hop 3', spec: { ...imuBase, inputRateHz: 100, rateHz: 32, resampler: 'polyphase', channels: imu3(false), windowSize: 8, hop: 3 }, samples: 1500, maxChunk: 60, signal: imuValues },
  { name: 'imu linear 25 → 50 Hz, window 10 hop 10', spec: { ...imuBase, inputRateHz: 25, rateHz: 50, resampler: 'linear', channels: imu3(false), windowSize: 10, hop: 10 }, samples: 500, maxChunk: 17, signal: imuValues },
  { name: 'imu linear 100 → 32 Hz, window 4 hop 7 (hop > window)', spec: { ...imuBase, inputRateHz: 100, rateHz: 32, resampler: 'linear', channels: imu3(false), windowSize: 4, hop: 7 }, samples: 1200, maxChunk: 50, signal: imuValues },
  { name: 'imu equal rates 50 → 50 Hz, window 16 hop 5', spec: { ...imuBase, inputRateHz: 50, rateHz: 50, resampler: 'polyphase', channels: imu3(false), windowSize: 16, hop: 5 }, samples: 600, maxChunk: 23, signal: imuValues },
  { name: 'series, no scaling, no adaptive stage', spec: { kind: 'series', channels: 1, scaling: { kind: 'none' } }, samples: 300, maxChunk: 11, signal: drifting },
  {
    name: 'series standard + ewm (alpha 0.05) + clip',
    spec: { kind: 'series', channels: 1, scaling: { kind: 'standard', mean: [50], std: [4] }, adaptive: { kind: 'ewm', alpha: 0.05, epsilon: 1e-6 }, clip: 6 },
    samples: 2000,
    maxChunk: 37,
    signal: drifting,
  },
  {
    name: 'series minmax + ewm (alpha 0.002: still in the running-mean phase at some cuts), 3 channels',
    spec: { kind: 'series', channels: 3, scaling: { kind: 'minmax', min: [40, 45, 30], max: [70, 80, 90] }, adaptive: { kind: 'ewm', alpha: 0.002, epsilon: 1e-4 }, rateHz: 10 },
    samples: 1500,
    maxChunk: 29,
    signal: drifting,
  },
  { name: 'mfcc 13 with streaming mean normalization (cmn)', spec: audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024, cmn: { alpha: 0.05 } }) as unknown as Record<string, unknown>, samples: 20000, maxChunk: 700, signal: audio },
];

interface Outputs {
  data: Float32Array;
  indices: number[];
}

/** Pushes x[from, to) (in samples) in random chunks of 0..maxChunk samples, appending outputs. */
function pushRange(fe: StreamingFrontend, x: Signal, from: number, to: number, rng: Rng, maxChunk: number, acc: { data: number[]; indices: number[] }): void {
  const C = fe.inputChannels;
  for (let s = from; s < to; ) {
    const n = Math.min(to - s, rng.int(0, maxChunk));
    fe.push(x.subarray(s * C, (s + n) * C), (out, index) => {
      for (let i = 0; i < out.length; i++) acc.data.push(out[i]!);
      acc.indices.push(index);
    });
    s += n;
  }
}

function finish(acc: { data: number[]; indices: number[] }): Outputs {
  return { data: Float32Array.from(acc.data), indices: acc.indices };
}

/** Bit-for-bit equality of two output streams, reporting the first differing value. */
function expectSameOutputs(got: Outputs, want: Outputs, what: string): void {
  expect(got.indices, `${what}: block indices`).toEqual(want.indices);
  expect(got.data.length, `${what}: output values`).toBe(want.data.length);
  const a = new Uint32Array(got.data.buffer);
  const b = new Uint32Array(want.data.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) expect.fail(`${what}: output value ${i} is ${got.data[i]}, the uninterrupted stream has ${want.data[i]}`);
  }
}

/** Sorted distinct cut points in [0, n], always including one mid-stream. */
function randomCuts(n: number, k: number, rng: Rng): number[] {
  const cuts = new Set<number>();
  while (cuts.size < k) cuts.add(rng.int(0, n));
  return [...cuts].sort((a, b) => a - b);
}

/** Runs x through a chain of front ends: at each cut, export, build a fresh one from the spec, import, continue. */
function interrupted(c: Case, x: Signal, cuts: number[], rng: Rng): { out: Outputs; states: Uint8Array[] } {
  const acc = { data: [] as number[], indices: [] as number[] };
  let fe = createFrontend(c.spec);
  let at = 0;
  const states: Uint8Array[] = [];
  for (const cut of [...cuts, c.samples]) {
    pushRange(fe, x, at, cut, rng, c.maxChunk, acc);
    at = cut;
    if (cut === c.samples) break;
    const bytes = fe.exportState();
    states.push(bytes);
    const next = createFrontend(c.spec);
    next.importState(bytes);
    // The imported front end is in the same position: it exports the same bytes.
    if (!Buffer.from(next.exportState()).equals(Buffer.from(bytes))) expect.fail(`state imported at sample ${cut} exports other bytes`);
    fe = next;
  }
  return { out: finish(acc), states };
}

describe('a stream split at random points continues bit for bit after export/import', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const rng = new Rng(0x5eed ^ c.samples);
      const fe0 = createFrontend(c.spec);
      const x = c.signal(c.samples, fe0.inputChannels, rng);
      const refAcc = { data: [] as number[], indices: [] as number[] };
      pushRange(fe0, x, 0, c.samples, rng, c.maxChunk, refAcc);
      const ref = finish(refAcc);
      expect(ref.indices.length).toBeGreaterThan(5);
      // The reference is the front end's own batch result too (streaming = batch is tested elsewhere; here it anchors the reference).
      expectSameOutputs({ data: createFrontend(c.spec).batch(x).data, indices: ref.indices }, ref, 'batch');
      for (let trial = 0; trial < 4; trial++) {
        const cuts = randomCuts(c.samples, 1 + trial * 2, rng);
        const { out } = interrupted(c, x, cuts, rng);
        expectSameOutputs(out, ref, `cuts at ${cuts.join(', ')}`);
      }
      // Cuts at the very start and end, and 200 in between at a stride out of step with the
      // frame, hop, window and resampler cycles (so they land in every phase of them).
      const stride = Math.max(1, Math.floor(c.samples / 200));
      const dense = Array.from({ length: 200 }, (_, i) => stride * i + (i % 3)).filter((s) => s > 0 && s < c.samples);
      expectSameOutputs(interrupted(c, x, [0, ...[...new Set(dense)].sort((a, b) => a - b), c.samples], rng).out, ref, 'dense cuts');
    });
  }
});

describe('the state is what carries the stream', () => {
  it('without importing, a fresh front end does not continue the stream (so the tests above can fail)', () => {
    for (const c of CASES) {
      const rng = new Rng(99);
      const fe = createFrontend(c.spec);
      const x = c.signal(c.samples, fe.inputChannels, rng);
      const cut = Math.floor(c.samples / 2) + 3;
      const acc = { data: [] as number[], indices: [] as number[] };
      pushRange(fe, x, 0, cut, rng, c.maxChunk, acc);
      const continued = { data: [] as number[], indices: [] as number[] };
      pushRange(fe, x, cut, c.samples, rng, c.maxChunk, continued);
      const fresh = { data: [] as number[], indices: [] as number[] };
      pushRange(createFrontend(c.spec), x, cut, c.samples, rng, c.maxChunk, fresh);
      const same = JSON.stringify(continued) === JSON.stringify(fresh);
      expect(same, `${c.name}: a restarted front end reproduced the continued stream`).toBe(false);
    }
  });

  it('audio state holds at most one partial frame: header + 8 · (4 + frameLength - 1) bytes', () => {
    const fe = createFrontend(audioFrontendSpec('logmel'));
    const rng = new Rng(3);
    let largest = 0;
    for (let i = 0; i < 200; i++) {
      fe.push(Float32Array.from({ length: rng.int(0, 300) }, () => rng.uniform(-0.5, 0.5)), () => {});
      largest = Math.max(largest, fe.exportState().length);
    }
    expect(largest).toBeLessThanOrEqual(FRONTEND_STATE_HEADER_BYTES + 8 * (4 + 399));
    expect(largest).toBeGreaterThan(FRONTEND_STATE_HEADER_BYTES + 8 * 4 + 8 * 200);
  });

  it('the header: "ERNF", version, kind id, body length', () => {
    for (const c of CASES) {
      const bytes = createFrontend(c.spec).exportState();
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('ERNF');
      expect(dv.getUint16(4, true)).toBe(FRONTEND_STATE_VERSION);
      expect(bytes[6]).toBe(FRONTEND_STATE_KIND_IDS[c.spec.kind as keyof typeof FRONTEND_STATE_KIND_IDS]);
      expect(dv.getUint32(16, true)).toBe(bytes.length - FRONTEND_STATE_HEADER_BYTES);
    }
  });

  it('the fingerprint follows the values, not the order the fields were written in', () => {
    const a = createFrontend({ kind: 'series', channels: 1, scaling: { kind: 'standard', mean: [1], std: [2] }, clip: 3 });
    const b = createFrontend({ clip: 3, scaling: { std: [2], mean: [1], kind: 'standard' }, channels: 1, kind: 'series' });
    b.importState(a.exportState());
    const c = createFrontend({ kind: 'series', channels: 1, scaling: { kind: 'standard', mean: [1], std: [2] }, clip: 3.0000001 });
    expect(() => c.importState(a.exportState())).toThrow(/other parameters/);
  });
});

// ---- refusals -------------------------------------------------------------------------------

/** FNV-1a 32 (offset 0x811c9dc5, prime 0x01000193), written here independently of src/. */
function fnv(bytes: Uint8Array, from: number, to: number, h = 0x811c9dc5): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h >>> 0;
}

/** Rewrites the checksum after a deliberate edit, so only the edited field can be refused. */
function reseal(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(20, fnv(out, 24, out.length, fnv(out, 0, 20)), true);
  return out;
}

function refusal(f: () => void): EdgeRnnError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EdgeRnnError);
    expect((e as EdgeRnnError).code).toBe('FRONTEND_STATE');
    return e as EdgeRnnError;
  }
  throw new Error('expected a FRONTEND_STATE refusal, nothing was thrown');
}

/** A front end of `spec` fed `n` samples of `signal` (mid-window), its state, and a probe of what it does next. */
function midStream(spec: Record<string, unknown>, signal: Case['signal'], n: number, tail: number) {
  const fe = createFrontend(spec);
  const rng = new Rng(17);
  const x = signal(n + tail, fe.inputChannels, rng);
  fe.push(x.subarray(0, n * fe.inputChannels), () => {});
  const before = fe.exportState();
  // What an untouched front end in this position produces next.
  const twin = createFrontend(spec);
  twin.importState(before);
  const want = { data: [] as number[], indices: [] as number[] };
  twin.push(x.subarray(n * fe.inputChannels), (o, i) => {
    want.data.push(...o);
    want.indices.push(i);
  });
  /** Asserts fe is still exactly where it was. */
  const unchanged = () => {
    expect(fe.exportState()).toEqual(before);
    const got = { data: [] as number[], indices: [] as number[] };
    const probe = createFrontend(spec);
    probe.importState(fe.exportState());
    probe.push(x.subarray(n * fe.inputChannels), (o, i) => {
      got.data.push(...o);
      got.indices.push(i);
    });
    expect(got).toEqual(want);
  };
  return { fe, before, unchanged };
}

const LOGMEL = audioFrontendSpec('logmel') as unknown as Record<string, unknown>;
const MFCC = audioFrontendSpec('mfcc') as unknown as Record<string, unknown>;
const IMU = CASES[4]!.spec;
const SERIES = CASES[10]!.spec;

describe('refusals name the problem and change nothing', () => {
  it('another kind: a logmel state into mfcc, an imu state into series', () => {
    const m = midStream(MFCC, audio, 1234, 800);
    const other = midStream(LOGMEL, audio, 1234, 10).before;
    const e = refusal(() => m.fe.importState(other));
    expect(e.details.reason).toBe('kind');
    expect(e.message).toMatch(/^mfcc front end: cannot import state: it is the state of a logmel front end, this is a mfcc front end$/);
    m.unchanged();
    const s = midStream(SERIES, drifting, 77, 50);
    const e2 = refusal(() => s.fe.importState(midStream(IMU, imuCodes, 100, 10).before));
    expect(e2.details).toMatchObject({ reason: 'kind', expected: 'series', got: 'imu' });
    s.unchanged();
  });

  it('other parameters: nMels, normalization, alpha, channels', () => {
    const pairs: Array<[Record<string, unknown>, Record<string, unknown>, Case['signal'], number]> = [
      [LOGMEL, audioFrontendSpec('logmel', { nMels: 20 }) as unknown as Record<string, unknown>, audio, 1500],
      [IMU, { ...IMU, normalization: { mean: [0.5, -0.2, 9.8], std: [3, 2.5, 4.5] } }, imuCodes, 130],
      [IMU, { ...IMU, resampler: 'linear' }, imuCodes, 130],
      [SERIES, { ...SERIES, adaptive: { kind: 'ewm', alpha: 0.06, epsilon: 1e-6 } }, drifting, 60],
      [{ kind: 'none', channels: 3 }, { kind: 'none', channels: 4 }, imuValues, 12],
    ];
    for (const [a, b, signal, n] of pairs) {
      const target = midStream(b, signal, n, 40);
      const e = refusal(() => target.fe.importState(midStream(a, signal, n, 1).before));
      expect(e.details.reason).toBe('spec');
      expect(e.message).toMatch(/cannot import state: it was saved by a \w+ front end with other parameters \(spec fingerprint [0-9a-f]{16}, this one's is [0-9a-f]{16}\)/);
      target.unchanged();
    }
  });

  it('truncated, trailing bytes, corrupt body, corrupt checksum, bad magic, another version', () => {
    const donor = midStream(IMU, imuCodes, 321, 1).before;
    const cases: Array<[string, Uint8Array, string, RegExp]> = [
      ['empty', new Uint8Array(0), 'truncated', /0 bytes is shorter than the 24-byte header/],
      ['header only, cut', donor.subarray(0, 10), 'truncated', /10 bytes is shorter than the 24-byte header/],
      ['last byte missing', donor.subarray(0, donor.length - 1), 'truncated', new RegExp(`${donor.length - 1} bytes, the header says ${donor.length}`)],
      ['trailing byte', Uint8Array.from([...donor, 0]), 'length', /trailing data/],
      ['a body bit flipped', (() => { const b = donor.slice(); b[100]! ^= 0x10; return b; })(), 'checksum', /checksum mismatch: the state is corrupt/],
      ['checksum changed', (() => { const b = donor.slice(); b[21]! ^= 1; return b; })(), 'checksum', /checksum mismatch/],
      ['bad magic', (() => { const b = donor.slice(); b[0] = 0x58; return b; })(), 'magic', /not an edgernn front-end state \(magic 0x464e5258, expected 0x464e5245 "ERNF"\)/],
      ['a runtime session state', (() => { const b = donor.slice(); new DataView(b.buffer).setUint32(0, 0x534e5245, true); return b; })(), 'magic', /not an edgernn front-end state/],
      ['version 2', (() => { const b = donor.slice(); b[4] = 2; return reseal(b); })(), 'version', /state version 2, this build reads version 1/],
      ['unknown kind id', (() => { const b = donor.slice(); b[6] = 77; return reseal(b); })(), 'kind', /it is the state of a unknown kind id 77 front end/],
    ];
    const target = midStream(IMU, imuCodes, 200, 150);
    for (const [what, bytes, reason, msg] of cases) {
      const e = refusal(() => target.fe.importState(bytes));
      expect(e.details.reason, what).toBe(reason);
      expect(e.message, what).toMatch(/^imu front end: cannot import state: /);
      expect(e.message, what).toMatch(msg);
    }
    target.unchanged();
    // Not bytes at all (a JSON-decoded checkpoint handed over by mistake).
    expect(refusal(() => target.fe.importState({ length: 40 } as unknown as Uint8Array)).message).toMatch(/not an edgernn front-end state: expected a Uint8Array, got object/);
    target.unchanged();
  });

  it('forged counters with a valid checksum are refused by range', () => {
    // Audio body: index, prev, filled, skip, buf[filled] (float64 each).
    const a = midStream(LOGMEL, audio, 1000, 500);
    const setF64 = (bytes: Uint8Array, value: number, at: number) => {
      const b = bytes.slice();
      new DataView(b.buffer).setFloat64(24 + 8 * at, value, true);
      return reseal(b);
    };
    const filledNow = new DataView(a.before.buffer).getFloat64(24 + 16, true);
    expect(filledNow).toBeGreaterThan(0);
    let e = refusal(() => a.fe.importState(setF64(a.before, 400, 2)));
    expect(e.details).toMatchObject({ reason: 'field', field: 'filled' });
    expect(e.message).toMatch(/'filled' must be an integer in \[0, 399\], got 400/);
    e = refusal(() => a.fe.importState(setF64(a.before, 2.5, 0)));
    expect(e.details).toMatchObject({ reason: 'field', field: 'index' });
    // One sample fewer than the body holds: the body is longer than this state needs.
    e = refusal(() => a.fe.importState(setF64(a.before, filledNow - 1, 2)));
    expect(e.details.reason).toBe('length');
    e = refusal(() => a.fe.importState(setF64(a.before, 3, 3)));
    expect(e.message).toMatch(/'skip' must be an integer in \[0, 0\], got 3/);
    a.unchanged();
    // IMU body: index, frames, untilNext, resampler count, base, phase, ...
    const m = midStream(IMU, imuCodes, 333, 100);
    e = refusal(() => m.fe.importState(setF64(m.before, 0, 2)));
    expect(e.message).toMatch(/'untilNext' must be an integer in \[1, 64\], got 0/);
    e = refusal(() => m.fe.importState(setF64(m.before, 25, 5)));
    expect(e.message).toMatch(/'resampler.phase' must be an integer in \[0, 24\], got 25/);
    // Base moved back: an output would already be computable from the samples received.
    const base = new DataView(m.before.buffer).getFloat64(24 + 32, true);
    e = refusal(() => m.fe.importState(setF64(m.before, base - 5, 4)));
    expect(e.details).toMatchObject({ reason: 'field', field: 'resampler.base' });
    m.unchanged();
  });
});

describe('header and counter checks a forged state must pass (mutation-testing review, 2026-11-27)', () => {
  it('a non-zero reserved byte or a fingerprint that differs only in its last byte is refused', () => {
    const m = midStream(IMU, imuCodes, 150, 100);
    const reserved = m.before.slice();
    reserved[7] = 1;
    expect(refusal(() => m.fe.importState(reseal(reserved))).details.reason).toBe('kind');
    const fp = m.before.slice();
    fp[15]! ^= 1;
    expect(refusal(() => m.fe.importState(reseal(fp))).details.reason).toBe('spec');
    m.unchanged();
  });

  it('a body 8 bytes shorter than the front end reads, its header and checksum consistent, is refused as length', () => {
    for (const [spec, signal, n] of [[SERIES, drifting, 50], [IMU, imuCodes, 150]] as const) {
      const m = midStream(spec, signal, n, 20);
      const short = m.before.slice(0, m.before.length - 8);
      new DataView(short.buffer).setUint32(16, short.length - 24, true);
      const e = refusal(() => m.fe.importState(reseal(short)));
      expect(e.details.reason).toBe('length');
      expect(e.message).toMatch(/the body ends before/);
      m.unchanged();
    }
  });

  it('audio with hop > frame: samples to skip while a frame is being filled are refused', () => {
    // 10 ms frames every 25 ms at 16 kHz: 240 samples skipped between frames. A state never has
    // both skip > 0 and filled > 0; one that said so would frame the wrong samples.
    const spec = audioFrontendSpec('logmel', { frameMs: 10, hopMs: 25 }) as unknown as Record<string, unknown>;
    const a = midStream(spec, audio, 1250, 500);
    const body = new DataView(a.before.buffer, a.before.byteOffset + 24);
    expect(body.getFloat64(16, true)).toBeGreaterThan(0); // filled
    const forged = a.before.slice();
    new DataView(forged.buffer).setFloat64(24 + 24, 3, true); // skip
    const e = refusal(() => a.fe.importState(reseal(forged)));
    expect(e.details).toMatchObject({ reason: 'field', field: 'skip' });
    expect(e.message).toMatch(/'skip' must be 0 while a frame is being filled/);
    a.unchanged();
  });
});
