/**
 * Sliding windows over the audio front end (`input.frontend.windows`): the windows are the
 * frame-level front end's frames, cut the same way streaming and batch, whatever the chunking;
 * a saved state continues bit for bit; bad specs and bad states are refused by name.
 */
import { describe, expect, it } from 'vitest';
import { AudioFrontend, audioFrontendSpec, createFrontend, Rng, SlidingWindowFrontend, validateAudioSpec, windowCount, type StreamingFrontend } from '../../src/index.js';
import { errorMessage } from '../helpers/errors.js';

const SPEC = audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024, nMfcc: 13 });
const WINDOWED = { ...SPEC, windows: { frames: 7, hop: 3 } };

function signal(n: number, seed: number): Int16Array {
  const rng = new Rng(seed);
  return Int16Array.from({ length: n }, (_, i) => Math.round(6000 * Math.sin(i * 0.031) + 2500 * rng.normal()));
}

function pushAll(fe: StreamingFrontend, x: Int16Array, rng: Rng, maxChunk: number): { data: number[]; indices: number[] } {
  const data: number[] = [];
  const indices: number[] = [];
  for (let off = 0; off < x.length; ) {
    const chunk = x.subarray(off, Math.min(x.length, off + rng.int(0, maxChunk)));
    fe.push(chunk, (w, i) => {
      data.push(...w);
      indices.push(i);
    });
    off += chunk.length;
  }
  return { data, indices };
}

describe('sliding windows over the audio front end', () => {
  const x = signal(16000, 1); // 49 frames of 40 ms every 20 ms
  const frames = new AudioFrontend(SPEC).batch(x);

  it('createFrontend applies windows; each window is frames [w·hop, w·hop + F) of the frame-level front end', () => {
    const fe = createFrontend(WINDOWED);
    expect(fe).toBeInstanceOf(SlidingWindowFrontend);
    expect(fe.framesPerOutput).toBe(7);
    expect(fe.featureSize).toBe(13);
    const b = fe.batch(x);
    expect(frames.count).toBe(49);
    expect(b.count).toBe(windowCount({ frames: 7, hop: 3 }, 49));
    expect(b.count).toBe(15); // 1 + floor((49 - 7) / 3)
    for (const w of [0, 1, 14]) {
      expect(b.data.subarray(w * 7 * 13, (w + 1) * 7 * 13)).toEqual(frames.data.subarray(w * 3 * 13, (w * 3 + 7) * 13));
    }
    // Without windows the audio front end gives frames, as before; windows: false ignores them (a whole clip).
    expect(createFrontend(SPEC)).toBeInstanceOf(AudioFrontend);
    expect(createFrontend(WINDOWED, { windows: false }).batch(x)).toEqual(frames);
  });

  it('streaming gives batch(), bit for bit, for random chunkings, with window indices 0, 1, ...', () => {
    const fe = createFrontend(WINDOWED);
    const ref = fe.batch(x);
    for (const [seed, maxChunk] of [[1, 1], [2, 300], [3, 5000], [4, 20000]] as const) {
      fe.reset();
      const s = pushAll(fe, x, new Rng(seed), maxChunk);
      expect(s.indices).toEqual(Array.from({ length: ref.count }, (_, i) => i));
      expect(Float32Array.from(s.data)).toEqual(ref.data);
    }
  });

  it('hop = frames gives disjoint windows, and a recording shorter than one window gives none', () => {
    const fe = createFrontend({ ...SPEC, windows: { frames: 10, hop: 10 } });
    expect(fe.batch(x).count).toBe(4);
    expect(fe.batch(x.subarray(0, 16000 / 10)).count).toBe(0);
  });

  it('exportState/importState: a new front end continues the stream exactly', () => {
    const a = createFrontend(WINDOWED);
    const ref = pushAll(a, x, new Rng(5), 700);
    for (const cut of [1, 2345, 8000, 15999]) {
      const first = createFrontend(WINDOWED);
      const head = pushAll(first, x.subarray(0, cut), new Rng(6), 700);
      const second = createFrontend(WINDOWED);
      second.importState(first.exportState());
      const tail = pushAll(second, x.subarray(cut), new Rng(7), 700);
      expect(Float32Array.from([...head.data, ...tail.data])).toEqual(Float32Array.from(ref.data));
      expect([...head.indices, ...tail.indices]).toEqual(ref.indices);
    }
  });

  it('refuses the state of a front end without windows or with other windows, and a corrupt one, changing nothing', () => {
    const fe = createFrontend(WINDOWED);
    pushAll(fe, x.subarray(0, 5000), new Rng(8), 500);
    const before = fe.exportState();
    const plain = new AudioFrontend(SPEC);
    plain.push(x.subarray(0, 100), () => {});
    expect(errorMessage(() => fe.importState(plain.exportState()), 'FRONTEND_STATE')).toMatch(/other parameters/);
    const other = createFrontend({ ...SPEC, windows: { frames: 7, hop: 2 } });
    expect(errorMessage(() => fe.importState(other.exportState()), 'FRONTEND_STATE')).toMatch(/other parameters/);
    const bad = before.slice();
    bad[bad.length - 3]! ^= 0xff;
    expect(errorMessage(() => fe.importState(bad), 'FRONTEND_STATE')).toMatch(/checksum/);
    expect(errorMessage(() => fe.importState(before.subarray(0, 40)), 'FRONTEND_STATE')).toMatch(/40 bytes, the header says/);
    expect(fe.exportState()).toEqual(before);
  });

  it('validates windows field by field', () => {
    expect(errorMessage(() => validateAudioSpec({ ...SPEC, windows: { frames: 5, hop: 6 } }), 'FRONTEND_SPEC')).toMatch(/windows: 'hop' must be an integer >= 1 <= 5, got 6/);
    expect(errorMessage(() => validateAudioSpec({ ...SPEC, windows: { frames: 0, hop: 1 } }), 'FRONTEND_SPEC')).toMatch(/windows: 'frames' must be an integer/);
    expect(errorMessage(() => validateAudioSpec({ ...SPEC, windows: { frames: 7.5, hop: 1 } }), 'FRONTEND_SPEC')).toMatch(/windows: 'frames' must be an integer/);
    expect(errorMessage(() => validateAudioSpec({ ...SPEC, windows: { frames: 7, hop: 1, stride: 2 } }), 'FRONTEND_SPEC')).toMatch(/stride/);
    expect(validateAudioSpec(WINDOWED).windows).toEqual({ frames: 7, hop: 3 });
  });
});

describe('SlidingWindowFrontend checks its windows itself (mutation-testing review, 2026-11-27)', () => {
  it('hop above frames, hop 0 and fractional frames are FRONTEND_SPEC', () => {
    const inner = new AudioFrontend(audioFrontendSpec('logmel'));
    for (const w of [{ frames: 3, hop: 4 }, { frames: 3, hop: 0 }, { frames: 2.5, hop: 1 }]) {
      expect(() => new SlidingWindowFrontend(inner, w, {}), JSON.stringify(w)).toThrow(expect.objectContaining({ code: 'FRONTEND_SPEC', message: expect.stringMatching(/windows must be whole numbers with 1 <= hop <= frames/) }));
    }
    expect(new SlidingWindowFrontend(inner, { frames: 3, hop: 3 }, {}).framesPerOutput).toBe(3);
  });
});
