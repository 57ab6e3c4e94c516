/** The state bytes batch `v` saves for key `i` (state-batch.test.ts, state-batch-child.ts): 4 KiB, the version in every byte pair, so a torn file shows. */
export function batchStateBytes(i: number, v: number): Uint8Array {
  const b = new Uint8Array(4096);
  for (let j = 0; j < b.length; j += 4) new DataView(b.buffer).setUint32(j, i * 1_000_000 + v, true);
  return b;
}

/** Which version of key `i` these bytes are (batchStateBytes), or null when they are none (torn, mixed). */
export function batchStateVersion(i: number, b: Uint8Array): number | null {
  if (b.length !== 4096) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const x = dv.getUint32(0, true);
  for (let j = 0; j < b.length; j += 4) if (dv.getUint32(j, true) !== x) return null;
  return Math.floor(x / 1_000_000) === i ? x % 1_000_000 : null;
}
