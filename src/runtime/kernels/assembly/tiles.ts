// Lays out a weight matrix in the tiles matvec.ts reads, when a model is loaded
// (src/runtime/wasm/layout.ts): these loops ran as cold, interpreted JavaScript on every load.
// The source is the padded row-major int8 matrix [rows][cols] (rows % 4 == 0, cols % 8 == 0);
// a tile is 4 rows x 8 inputs, stored row by row (32 bytes), in group order, then input order.

/**
 * flags[g * kb + b] = 1 when tile b of group g has a non-zero weight, else 0 (kb = cols / 8).
 * Returns the number of all-zero tiles.
 */
export function tile_scan(src: usize, rows: i32, cols: i32, flags: usize): i32 {
  const kb = cols >> 3;
  const stride = <usize>cols;
  let zero = 0;
  let f = flags;
  for (let g = 0; g < rows; g += 4) {
    const row = src + <usize>g * stride;
    for (let b = 0; b < kb; b++) {
      const p = row + (<usize>b << 3);
      const any = load<u64>(p) | load<u64>(p + stride) | load<u64>(p + 2 * stride) | load<u64>(p + 3 * stride);
      store<u8>(f, any != 0);
      if (any == 0) zero++;
      f++;
    }
  }
  return zero;
}

/**
 * Copies the tiles into `tiles`: every tile (dense, sparse = 0), or only those flagged non-zero
 * by tile_scan (sparse = 1), then with index[t] = the byte offset of tile t's inputs in the int16
 * input vector and gstart[g] = the first tile of group g (gstart[groups] = the tile count).
 * Returns the number of tiles written.
 */
export function tile_pack(src: usize, rows: i32, cols: i32, flags: usize, sparse: i32, tiles: usize, index: usize, gstart: usize): i32 {
  const kb = cols >> 3;
  const stride = <usize>cols;
  let t = 0;
  let f = flags;
  let out = tiles;
  for (let g = 0; g < rows; g += 4) {
    if (sparse) store<i32>(gstart + (<usize>(g >> 2) << 2), t);
    const row = src + <usize>g * stride;
    for (let b = 0; b < kb; b++) {
      const keep = !sparse || load<u8>(f) != 0;
      f++;
      if (!keep) continue;
      const p = row + (<usize>b << 3);
      store<u64>(out, load<u64>(p));
      store<u64>(out, load<u64>(p + stride), 8);
      store<u64>(out, load<u64>(p + 2 * stride), 16);
      store<u64>(out, load<u64>(p + 3 * stride), 24);
      out += 32;
      if (sparse) store<i32>(index + (<usize>t << 2), b << 4);
      t++;
    }
  }
  if (sparse) store<i32>(gstart + (<usize>(rows >> 2) << 2), t);
  return t;
}
