/** encodeErn (public) writes only files decodeErn reads: what the reader refuses, the writer refuses. */
import { describe, expect, it } from 'vitest';
import { decodeErn, encodeErn } from '../../src/index.js';
import type { TensorInput } from '../../src/format/ern.js';

describe('encodeErn refuses tensors its reader would refuse', () => {
  const cases: [string, TensorInput, RegExp][] = [
    ['a fractional dimension', { name: 'a', data: new Float32Array(3), shape: [2, 1.5] }, /tensor 'a': shape must be up to 8 non-negative integers, got \[2,1\.5\]/],
    ['negative dimensions whose product is the element count', { name: 'a', data: new Uint8Array(2), shape: [-1, -2] }, /tensor 'a': shape must be up to 8 non-negative integers, got \[-1,-2\]/],
    ['nine dimensions', { name: 'a', data: new Uint8Array(1), shape: [1, 1, 1, 1, 1, 1, 1, 1, 1] }, /tensor 'a': shape must be up to 8 non-negative integers/],
    ['an empty name', { name: '', data: new Float32Array(3), shape: [3] }, /tensor names must be non-empty strings, got ""/],
    ['a Float64Array (was stored as u8 with 8 times the bytes)', { name: 'a', data: new Float64Array(3) as unknown as Float32Array, shape: [3] }, /tensor 'a': data must be a Float32Array, .*got Float64Array/],
  ];
  for (const [what, tensor, message] of cases) {
    it(what, () => {
      expect(() => encodeErn({}, [tensor])).toThrow(expect.objectContaining({ code: 'ERN_TENSOR', message: expect.stringMatching(message) }));
    });
  }

  it('every element type and an empty tensor round-trip', () => {
    const tensors: TensorInput[] = [
      { name: 'f', data: Float32Array.of(1.5, -0, 3e38), shape: [3] },
      { name: 'i8', data: Int8Array.of(-128, 127), shape: [2, 1] },
      { name: 'i16', data: Int16Array.of(-32768, 32767), shape: [1, 2] },
      { name: 'i32', data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1), shape: [2] },
      { name: 'u8', data: Uint8Array.of(0, 255), shape: [2] },
      { name: 'bs', data: Int8Array.from({ length: 40 }, (_, i) => (i < 8 ? i - 4 : 0)), shape: [5, 8], encoding: 'i8bs' },
      { name: 'empty', data: new Float32Array(0), shape: [0, 4] },
    ];
    const d = decodeErn(encodeErn({ format: 'x' }, tensors));
    for (const t of tensors) {
      const got = d.tensors.get(t.name)!;
      expect(got.shape, t.name).toEqual(t.shape);
      expect(Array.from(got.data), t.name).toEqual(Array.from(t.data));
    }
    expect(Object.is(d.tensors.get('f')!.data[1], -0)).toBe(true);
  });
});

describe('the layout the writer produces (mutation-testing review, 2026-11-27)', () => {
  it('pads the gap between manifest and data with spaces (docs/model-format.md: the manifest stays printable)', () => {
    const file = encodeErn({ note: 'x' }, [{ name: 'a', data: new Uint8Array(3), shape: [3] }]);
    const { manifestOffset, manifestBytes, dataOffset } = decodeErn(file).layout;
    expect(dataOffset).toBeGreaterThan(manifestOffset + manifestBytes);
    expect(file.subarray(manifestOffset + manifestBytes, dataOffset).every((b) => b === 0x20)).toBe(true);
  });
});
