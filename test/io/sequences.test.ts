/** readSequences: model input files (.npy or JSON) for the CLI. */
import { describe, expect, it } from 'vitest';
import { readSequences } from '../../src/io/sequences.js';
import { encodeWav } from '../../src/io/wav.js';
import { thrownBy as errorOf } from '../helpers/errors.js';

const json = (v: string) => new TextEncoder().encode(v);


describe('readSequences: JSON of mixed shapes', () => {
  it('an empty sequence is named as such wherever it is in the batch (first one: it was read as a frame of 0 values)', () => {
    for (const [text, at] of [
      ['[[], [[1, 2]]]', 0],
      ['[[[1, 2]], []]', 1],
      ['[[[1, 2]], [], [[3, 4]]]', 1],
    ] as const) {
      const e = errorOf(() => readSequences(json(text), 'x.json', 2));
      expect(e?.code, text).toBe('BAD_INPUT_FILE');
      expect(e!.message).toBe(`x.json: input[${at}] holds no frames: every sequence needs at least one step`);
    }
  });

  it('frames and sequences side by side are named, whichever comes first', () => {
    for (const [text, frame, seq] of [
      ['[[1, 2], [[1, 2]]]', 0, 1],
      ['[[[1, 2]], [1, 2]]', 1, 0],
      ['[[1], [[1]]]', 0, 1],
    ] as const) {
      const e = errorOf(() => readSequences(json(text), 'x.json', text.includes('2') ? 2 : 1));
      expect(e?.code, text).toBe('BAD_INPUT_FILE');
      expect(e!.message).toMatch(new RegExp(`^x\\.json: input mixes frames and sequences: input\\[${frame}\\] is a frame \\(an array of numbers\\), input\\[${seq}\\] a sequence`));
    }
  });

  it('well-formed files read as before: one sequence, a batch of different lengths', () => {
    expect(readSequences(json('[[1, 2], [3, 4]]'), 'x.json', 2)).toEqual({ sequences: [Float32Array.from([1, 2, 3, 4])], steps: [2], batched: false });
    expect(readSequences(json('[[[1, 2]], [[3, 4], [5, 6]]]'), 'x.json', 2)).toEqual({ sequences: [Float32Array.from([1, 2]), Float32Array.from([3, 4, 5, 6])], steps: [1, 2], batched: true });
    expect(errorOf(() => readSequences(json('[[1, 2], []]'), 'x.json', 2))!.message).toBe('x.json: input[1] has 0 values, the model expects 2');
  });
});

describe('readSequences: files that are not frames', () => {
  it('a WAV recording is named as one, with where raw audio goes (it was "neither .npy nor JSON: not valid utf-8")', () => {
    const wav = encodeWav(new Int16Array(1600).fill(256), 16000);
    const e = errorOf(() => readSequences(wav, 'speech.wav', 13));
    expect(e?.code).toBe('BAD_INPUT_FILE');
    expect(e!.message).toBe("speech.wav: a WAV recording, not model input frames: the model takes its front end's 13-feature frames (.npy or JSON [steps][features]); raw audio goes through the front end first (edgernn eval, examples/kws-wav.mjs)");
  });

  it('an .npz (a zip archive) is named as one, with how to write an .npy', () => {
    // The local file header of a zip holding x.npy, as np.savez starts one.
    const npz = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0x80]);
    expect(errorOf(() => readSequences(npz, 'x.npz', 3))!.message).toBe('x.npz: a zip archive (an .npz of np.savez?): save the one array with np.save, as .npy');
  });
});
