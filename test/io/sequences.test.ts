/** readSequences: model input files (.npy or JSON) for the CLI. */
import { describe, expect, it } from 'vitest';
import { readSequences } from '../../src/io/sequences.js';
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
