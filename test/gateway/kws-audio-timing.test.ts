/**
 * Audio front ends in the gateway place each output block at the input sample that completed it
 * (frame t after sample t·H + L - 1; a window at its last frame), whatever the chunking and across
 * an exported and re-imported state: the alert's time is that sample's time. Blocks used to be
 * spread evenly over each pushed chunk, so alerts were up to a chunk late (7–19 ms with
 * 333-sample chunks of models/kws.ern, 420 ms with 1 s ones).
 */
import { describe, expect, it } from 'vitest';
import { audioFrontendSpec } from '../../src/features/audio.js';
import { FEATURE_FRONTENDS } from '../../src/gateway/feature-frontends.js';
import { FRAME_DETECT, type FrontEnd } from '../../src/gateway/frontend.js';
import { Rng } from '../../src/index.js';
import type { FrontendSpec } from '../../src/model/spec.js';

const H = 320; // 20 ms at 16 kHz
const L = 640; // 40 ms
const spec = (windows?: { frames: number; hop: number }): FrontendSpec =>
  audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024, ...(windows ? { windows } : {}) }) as unknown as FrontendSpec;
const build = (s: FrontendSpec): FrontEnd => FEATURE_FRONTENDS.mfcc!(s, { inputSize: 13, rateHz: undefined, channels: 1, path: 'routes[0]' });

/** Stream sample (0-based) at which each detected block completed, pushing `x` in `chunks`, optionally moving to a new front end (export/import) before chunk `moveAt`. */
function blockSamples(s: FrontendSpec, x: Float32Array, chunks: number[], moveAt = -1): number[] {
  let fe = build(s);
  const out: number[] = [];
  let start = 0;
  chunks.forEach((n, c) => {
    if (c === moveAt) {
      const next = build(s);
      next.importState(fe.exportState());
      fe = next;
    }
    fe.push(x.subarray(start, start + n), n, (_f, i, flags) => {
      if (flags & FRAME_DETECT) out.push(start + i);
    });
    start += n;
  });
  return out;
}

describe('audio block times in the gateway front end', () => {
  const rng = new Rng(11);
  const x = Float32Array.from({ length: 16000 * 3 }, () => 0.1 * rng.normal());
  const chunking = (size: number) => Array.from({ length: Math.ceil(x.length / size) }, (_, i) => Math.min(size, x.length - i * size));

  for (const [name, s, first, every] of [
    ['frames', spec(), L - 1, H],
    ['windows of 75 frames every 5', spec({ frames: 75, hop: 5 }), 74 * H + L - 1, 5 * H],
  ] as const) {
    it(`${name}: each block at the sample that completed it, for chunks that do not divide the hop`, () => {
      const count = Math.floor((x.length - 1 - first) / every) + 1;
      const expected = Array.from({ length: count }, (_, b) => first + b * every);
      for (const size of [1, 333, 1000, 16000]) expect(blockSamples(s, x, chunking(size)), `chunks of ${size}`).toEqual(expected);
      // Across a saved and restored state, mid-frame and mid-window.
      for (const moveAt of [7, 50, 101]) expect(blockSamples(s, x, chunking(333), moveAt), `moved before chunk ${moveAt}`).toEqual(expected);
    });
  }
});
