/**
 * Block-sparse int8 storage for .ern tensors (dtype `i8bs`, id 6). A tensor of dense shape
 * [..., C] is viewed as a matrix of R = product(leading dims) rows and C columns, cut into blocks
 * of 4 rows x 8 columns (the SIMD kernel's tile). Stored:
 *
 *   bitmap   ceil(nBlocks / 8) bytes, block b = (row block i, column block j) at b = i * ceil(C/8) + j,
 *            bit b & 7 of byte b >> 3 set when the block holds a non-zero weight
 *   blocks   32 bytes per set bit, in block order: 4 rows of 8 int8 (outside the matrix: zero)
 *
 * Pruning in 4x8 blocks (quantize/prune) makes whole blocks zero; at 75% block sparsity a matrix
 * takes 25% of its dense bytes plus 1 bit per 32 weights.
 */
import { EdgeRnnError } from '../errors.js';

export const BLOCK_ROWS = 4;
export const BLOCK_COLS = 8;
/** Largest dense size a block-sparse tensor may decode to: a data section's u32 byte count. */
export const BLOCK_SPARSE_MAX_DENSE_BYTES = 2 ** 32 - 1;

function dims(shape: readonly number[]): { rows: number; cols: number; br: number; bc: number } {
  const cols = shape.length ? shape[shape.length - 1]! : 1;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { rows, cols, br: Math.ceil(rows / BLOCK_ROWS), bc: Math.ceil(cols / BLOCK_COLS) };
}

/** Encoded byte size of a dense int8 tensor. */
export function blockSparseBytes(data: Int8Array, shape: readonly number[]): number {
  const { rows, cols, br, bc } = dims(shape);
  let kept = 0;
  for (let i = 0; i < br; i++) for (let j = 0; j < bc; j++) if (!blockZero(data, rows, cols, i, j)) kept++;
  return Math.ceil((br * bc) / 8) + 32 * kept;
}

function blockZero(data: Int8Array, rows: number, cols: number, i: number, j: number): boolean {
  for (let r = i * BLOCK_ROWS; r < Math.min(rows, (i + 1) * BLOCK_ROWS); r++) {
    for (let c = j * BLOCK_COLS; c < Math.min(cols, (j + 1) * BLOCK_COLS); c++) if (data[r * cols + c] !== 0) return false;
  }
  return true;
}

export function encodeBlockSparse(data: Int8Array, shape: readonly number[]): Uint8Array {
  const { rows, cols, br, bc } = dims(shape);
  const bitmap = new Uint8Array(Math.ceil((br * bc) / 8));
  const blocks: number[] = [];
  for (let i = 0; i < br; i++) {
    for (let j = 0; j < bc; j++) {
      if (blockZero(data, rows, cols, i, j)) continue;
      const b = i * bc + j;
      bitmap[b >> 3]! |= 1 << (b & 7);
      blocks.push(b);
    }
  }
  const out = new Uint8Array(bitmap.length + 32 * blocks.length);
  out.set(bitmap);
  blocks.forEach((b, n) => {
    const i = Math.floor(b / bc);
    const j = b % bc;
    for (let r = 0; r < BLOCK_ROWS; r++) {
      const row = i * BLOCK_ROWS + r;
      if (row >= rows) break;
      for (let c = 0; c < BLOCK_COLS; c++) {
        const col = j * BLOCK_COLS + c;
        if (col < cols) out[bitmap.length + n * 32 + r * 8 + c] = data[row * cols + col]! & 0xff;
      }
    }
  });
  return out;
}

/** Decodes to a dense Int8Array; every inconsistency is an ERN_TENSOR error naming the tensor. */
export function decodeBlockSparse(bytes: Uint8Array, shape: readonly number[], name: string, source: string): Int8Array {
  const { rows, cols, br, bc } = dims(shape);
  const nBlocks = br * bc;
  const mapBytes = Math.ceil(nBlocks / 8);
  const fail = (msg: string) => new EdgeRnnError('ERN_TENSOR', `${source}: block-sparse tensor '${name}': ${msg}`, { tensor: name });
  // One bitmap bit stands for up to 32 weights, so a small corrupt tensor can claim a dense size
  // of 256 times its bytes: [4, 2^30 + 8] from a 16 MiB bitmap threw a RangeError (no code) from
  // the allocation below. No dense tensor can be larger than a data section (u32 bytes).
  const dense = rows * cols;
  if (dense > BLOCK_SPARSE_MAX_DENSE_BYTES) throw fail(`shape [${shape.join(', ')}] expands to ${dense} bytes, at most ${BLOCK_SPARSE_MAX_DENSE_BYTES} (what a dense tensor could hold)`);
  if (bytes.length < mapBytes) throw fail(`needs a ${mapBytes}-byte block bitmap, has ${bytes.length} bytes`);
  let kept = 0;
  for (let b = 0; b < nBlocks; b++) if (bytes[b >> 3]! & (1 << (b & 7))) kept++;
  for (let b = nBlocks; b < mapBytes * 8; b++) if (bytes[b >> 3]! & (1 << (b & 7))) throw fail(`bitmap bit ${b} is set, the matrix has ${nBlocks} blocks`);
  if (bytes.length !== mapBytes + 32 * kept) throw fail(`bitmap marks ${kept} blocks (${mapBytes + 32 * kept} bytes), tensor has ${bytes.length} bytes`);
  let out: Int8Array;
  try {
    out = new Int8Array(dense);
  } catch (e) {
    // An engine or a process memory limit smaller than the format's.
    throw fail(`shape [${shape.join(', ')}] expands to ${dense} bytes, which cannot be allocated here: ${(e as Error).message}`);
  }
  let n = 0;
  for (let b = 0; b < nBlocks; b++) {
    if (!(bytes[b >> 3]! & (1 << (b & 7)))) continue;
    const i = Math.floor(b / bc);
    const j = b % bc;
    const base = mapBytes + n * 32;
    for (let r = 0; r < BLOCK_ROWS; r++) {
      for (let c = 0; c < BLOCK_COLS; c++) {
        const v = bytes[base + r * 8 + c]!;
        const row = i * BLOCK_ROWS + r;
        const col = j * BLOCK_COLS + c;
        if (row >= rows || col >= cols) {
          if (v !== 0) throw fail(`block ${b} holds a non-zero byte outside the ${rows}x${cols} matrix`);
          continue;
        }
        out[row * cols + col] = (v << 24) >> 24;
      }
    }
    n++;
  }
  return out;
}
