/**
 * Tensor element types of the .ern format: one table, stable numeric ids. Ids are never reused;
 * a removed type stays here as a comment.
 */
export const DTYPES = {
  f32: { id: 1, bytes: 4, array: Float32Array },
  i8: { id: 2, bytes: 1, array: Int8Array },
  i16: { id: 3, bytes: 2, array: Int16Array },
  i32: { id: 4, bytes: 4, array: Int32Array },
  u8: { id: 5, bytes: 1, array: Uint8Array },
  /**
   * int8 stored block-sparse (src/format/block-sparse.ts): the tensor's shape is its dense shape,
   * its bytes are a bitmap of non-zero 4x8 blocks plus those blocks. Decoded to dense i8 on load.
   */
  i8bs: { id: 6, bytes: 1, array: Int8Array },
} as const;

export type DType = keyof typeof DTYPES;
export type TypedArray = Float32Array | Int8Array | Int16Array | Int32Array | Uint8Array;

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}
