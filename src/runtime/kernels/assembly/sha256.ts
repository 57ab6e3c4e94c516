// SHA-256 (FIPS 180-4) of a byte range in linear memory, for the .ern checksum on load: in the
// already-compiled kernel module it costs no start-up, where the platform's WebCrypto takes ~10 ms
// to initialize in a fresh Node process. Checked against @noble/hashes and node:crypto in
// test/runtime/sha256.test.ts.
//
// Shaped for V8's tier-up budget (docs/model-format.md, "The load stays in V8's baseline tier"): V8
// counts, per function, the bytes of baseline (Liftoff) machine code run at each loop back edge
// and return, and compiles the function with TurboFan past 1.8 M (Node 20); that compilation
// pages ~2.7 MiB of the optimizing compiler into a process that loads one model. One function
// doing all 64 rounds spends ~27 k per 64-byte block and tiered up in any file over 4 KB. Here
// the rounds are spread over eight functions (r0..r7, eight rounds each, the working variables
// passed on as arguments), the message schedule is computed apart (four words at a time with
// SIMD; the scalar build splits it over six functions) with K[t] already added, and rotations
// are shifts (Liftoff calls into C for i32.rotr): no function spends more than ~2.5 k per block,
// so a file of up to ~46 KB hashes without any tier-up. The copies cost ~200 B of wasm each.
// Two instances of the module share the budget (a second load of the same size tiers up).

const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
/** Message schedule W[0..63]. */
const W: usize = memory.data(256, 16);
/** K[t] + W[t], what the rounds add. */
const KW: usize = memory.data(256, 16);
/** The last one or two blocks, padded. */
const TAIL: usize = memory.data(128);
/** Chaining state H0..H7. */
let h0: u32 = 0, h1: u32 = 0, h2: u32 = 0, h3: u32 = 0, h4: u32 = 0, h5: u32 = 0, h6: u32 = 0, h7: u32 = 0;

@inline function rotr(x: u32, n: u32): u32 {
  return (x >>> n) | (x << (32 - n));
}
@inline function be32(x: u32): u32 {
  return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}
@inline function bigSigma0(x: u32): u32 {
  return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
}
@inline function bigSigma1(x: u32): u32 {
  return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
}
@inline function ch(x: u32, y: u32, z: u32): u32 {
  return z ^ (x & (y ^ z));
}
@inline function maj(x: u32, y: u32, z: u32): u32 {
  return (x & y) | (z & (x | y));
}

/** W[t] and KW[t] for t in [from, to), 16 <= from. */
@inline function expand(from: usize, to: usize): void {
  for (let t = from; t < to; t++) {
    const w15 = load<u32>(W + ((t - 15) << 2));
    const w2 = load<u32>(W + ((t - 2) << 2));
    const w = load<u32>(W + ((t - 16) << 2)) + (rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3)) + load<u32>(W + ((t - 7) << 2)) + (rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10));
    store<u32>(W + (t << 2), w);
    store<u32>(KW + (t << 2), w + load<u32>(K + (t << 2)));
  }
}
function e0(): void { expand(16, 24); }
function e1(): void { expand(24, 32); }
function e2(): void { expand(32, 40); }
function e3(): void { expand(40, 48); }
function e4(): void { expand(48, 56); }
function e5(): void { expand(56, 64); }

@inline function sigma0x4(x: v128): v128 {
  return v128.xor(v128.xor(v128.xor(i32x4.shr_u(x, 7), i32x4.shr_u(x, 18)), i32x4.shr_u(x, 3)), v128.xor(i32x4.shl(x, 25), i32x4.shl(x, 14)));
}
@inline function sigma1x4(x: v128): v128 {
  return v128.xor(v128.xor(v128.xor(i32x4.shr_u(x, 17), i32x4.shr_u(x, 19)), i32x4.shr_u(x, 10)), v128.xor(i32x4.shl(x, 15), i32x4.shl(x, 13)));
}
/**
 * W[t..t+4) for t in [from, to) step 4, 16 <= from: sigma1 needs W[t-2..t+2), whose last two
 * words are the first two computed here, so the four words are computed twice (the first pass
 * gets W[t] and W[t+1] right, the second all four).
 */
@inline function expand4(from: usize, to: usize): void {
  for (let o = from << 2; o < to << 2; o += 16) {
    const partial = i32x4.add(i32x4.add(v128.load(W + o - 64), sigma0x4(v128.load(W + o - 60))), v128.load(W + o - 28));
    v128.store(W + o, i32x4.add(partial, sigma1x4(v128.load(W + o - 8))));
    const w = i32x4.add(partial, sigma1x4(v128.load(W + o - 8)));
    v128.store(W + o, w);
    v128.store(KW + o, i32x4.add(w, v128.load(K + o)));
  }
}
function x0(): void { expand4(16, 40); }
function x1(): void { expand4(40, 64); }

function schedule(block: usize): void {
  if (ASC_FEATURE_SIMD) {
    for (let o: usize = 0; o < 64; o += 16) {
      const w = i8x16.swizzle(v128.load(block + o), i8x16(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
      v128.store(W + o, w);
      v128.store(KW + o, i32x4.add(w, v128.load(K + o)));
    }
    x0();
    x1();
  } else {
    for (let o: usize = 0; o < 64; o += 4) {
      const w = be32(load<u32>(block + o));
      store<u32>(W + o, w);
      store<u32>(KW + o, w + load<u32>(K + o));
    }
    e0();
    e1();
    e2();
    e3();
    e4();
    e5();
  }
}

// Eight rounds each; r7 adds the result into H. Copies on purpose: each function has its own budget.
function r0(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 0; p < KW + 32; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  r1(a, b, c, d, e, f, g, h);
}
function r1(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 32; p < KW + 64; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  r2(a, b, c, d, e, f, g, h);
}
function r2(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 64; p < KW + 96; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  r3(a, b, c, d, e, f, g, h);
}
function r3(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 96; p < KW + 128; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  r4(a, b, c, d, e, f, g, h);
}
function r4(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 128; p < KW + 160; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  r5(a, b, c, d, e, f, g, h);
}
function r5(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 160; p < KW + 192; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  r6(a, b, c, d, e, f, g, h);
}
function r6(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 192; p < KW + 224; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  r7(a, b, c, d, e, f, g, h);
}
function r7(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32): void {
  for (let p = KW + 224; p < KW + 256; p += 4) {
    const t1 = h + bigSigma1(e) + ch(e, f, g) + load<u32>(p);
    const t2 = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h0 += a; h1 += b; h2 += c; h3 += d; h4 += e; h5 += f; h6 += g; h7 += h;
}

function compress(block: usize): void {
  schedule(block);
  r0(h0, h1, h2, h3, h4, h5, h6, h7);
}

/** out[0..32) = SHA-256 of bytes [ptr, ptr + len). */
export function sha256(ptr: usize, len: usize, out: usize): void {
  h0 = 0x6a09e667;
  h1 = 0xbb67ae85;
  h2 = 0x3c6ef372;
  h3 = 0xa54ff53a;
  h4 = 0x510e527f;
  h5 = 0x9b05688c;
  h6 = 0x1f83d9ab;
  h7 = 0x5be0cd19;
  const full = len & ~(<usize>63);
  for (let o: usize = 0; o < full; o += 64) compress(ptr + o);
  const rest = len - full;
  memory.fill(TAIL, 0, 128);
  memory.copy(TAIL, ptr + full, rest);
  store<u8>(TAIL + rest, 0x80);
  const blocks: usize = rest < 56 ? 1 : 2;
  const bits: u64 = <u64>len << 3;
  store<u64>(TAIL + (blocks << 6) - 8, bswap<u64>(bits));
  compress(TAIL);
  if (blocks == 2) compress(TAIL + 64);
  store<u32>(out, be32(h0));
  store<u32>(out, be32(h1), 4);
  store<u32>(out, be32(h2), 8);
  store<u32>(out, be32(h3), 12);
  store<u32>(out, be32(h4), 16);
  store<u32>(out, be32(h5), 20);
  store<u32>(out, be32(h6), 24);
  store<u32>(out, be32(h7), 28);
}
