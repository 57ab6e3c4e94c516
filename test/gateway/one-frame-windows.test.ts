/**
 * A model trained on windows of one frame (`edgernn train --seq-len 1`: input.frontend.windows
 * {frames: 1, hop: 1}) ran each window from a reset state in training, but the gateway never reset
 * it: a block of one frame got only FRAME_DETECT (the flag of a streaming front end), so the state
 * carried over from frame to frame. Every window's first frame is flagged FRAME_RESET, whatever
 * its length.
 */
import { expect, it } from 'vitest';
import { createNoneFrontEnd, FRAME_DETECT, FRAME_RESET } from '../../src/gateway/frontend.js';

const flagsOf = (windows: { frames: number; hop: number } | undefined): number[] => {
  const fe = createNoneFrontEnd({ kind: 'none', ...(windows ? { windows } : {}) }, { inputSize: 2, rateHz: undefined, channels: 0, path: 'routes[0]' });
  const flags: number[] = [];
  fe.push(Float32Array.from([1, 2, 3, 4, 5, 6]), 3, (_f, _i, fl) => flags.push(fl));
  return flags;
};

it('windows of one frame: each frame is a window, reset and detected', () => {
  expect(flagsOf({ frames: 1, hop: 1 })).toEqual([FRAME_RESET | FRAME_DETECT, FRAME_RESET | FRAME_DETECT, FRAME_RESET | FRAME_DETECT]);
  // Longer windows as before (first frame reset, last detected), and no windows: one session, never reset.
  expect(flagsOf({ frames: 2, hop: 1 })).toEqual([FRAME_RESET, FRAME_DETECT, FRAME_RESET, FRAME_DETECT]);
  expect(flagsOf(undefined)).toEqual([FRAME_DETECT, FRAME_DETECT, FRAME_DETECT]);
});
