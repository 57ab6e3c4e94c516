/**
 * UTF-8 without TextDecoder/TextEncoder (an AudioWorkletGlobalScope has neither; test/browser/
 * audio-worklet runs the real one): the fallback gives the same strings and bytes, and refuses
 * the same malformed input, as the fatal TextDecoder.
 */
import { describe, expect, it } from 'vitest';
import { decodeUtf8, encodeUtf8, unshared } from '../../src/util/bytes.js';

const { TextDecoder: TD, TextEncoder: TE } = globalThis;
function withoutTextCodecs<T>(f: () => T): T {
  const g = globalThis as { TextDecoder?: unknown; TextEncoder?: unknown };
  delete g.TextDecoder;
  delete g.TextEncoder;
  try {
    return f();
  } finally {
    g.TextDecoder = TD;
    g.TextEncoder = TE;
  }
}

describe('decodeUtf8 / encodeUtf8 where there is no TextDecoder', () => {
  it('round-trips ASCII, accents, astral characters, % and + signs, NUL, and a string longer than one 8192-byte chunk', () => {
    for (const s of ['', 'kws', 'é€😀 %+ %25 \u0000', `${'x'.repeat(20000)}ü`]) {
      const want = new TE().encode(s);
      expect(withoutTextCodecs(() => Array.from(encodeUtf8(s)))).toEqual(Array.from(want));
      expect(withoutTextCodecs(() => decodeUtf8(want))).toBe(s);
    }
  });

  it('throws on what the fatal TextDecoder throws on: a stray byte, overlong, a surrogate, cut short, past U+10FFFF', () => {
    for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
      const b = Uint8Array.from(bad);
      expect(() => new TD('utf-8', { fatal: true }).decode(b), String(bad)).toThrow();
      expect(() => withoutTextCodecs(() => decodeUtf8(b)), String(bad)).toThrow();
    }
  });

  it('unshared() copies a view of a SharedArrayBuffer (browsers refuse to decode one) and passes any other view through', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(4)).fill(65);
    const copy = unshared(shared.subarray(1, 3));
    expect(copy.buffer).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(copy)).toEqual([65, 65]);
    const plain = new Uint8Array(3);
    expect(unshared(plain)).toBe(plain);
  });
});
