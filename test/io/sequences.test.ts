/** readSequences: model input files (.npy or JSON) for the CLI. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/io/npy.js';
import { readSequences } from '../../src/io/sequences.js';
import { encodeWav } from '../../src/io/wav.js';
import { thrownBy as errorOf } from '../helpers/errors.js';
import { largestFloat64During } from '../helpers/float64-spy.js';

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

describe('readSequences: .npy files NumPy wrote', () => {
  it('Fortran-ordered, big-endian, int8 and float16 arrays: each sequence is readNpy\'s values as float32', () => {
    const fixtures = path.resolve(import.meta.dirname, '../fixtures/npy');
    for (const name of ['f4-fortran', 'f8-big-endian', 'i1', 'u4-fortran', 'f8-fortran-2d', 'f2-big-endian-fortran']) {
      const bytes = new Uint8Array(fs.readFileSync(path.join(fixtures, `${name}.npy`)));
      const whole = readNpy(bytes);
      const F = whole.shape[whole.shape.length - 1]!;
      const got = readSequences(bytes, `${name}.npy`, F);
      const batch = whole.shape.length === 3 ? whole.shape[0]! : 1;
      const per = whole.data.length / batch;
      expect(got.batched, name).toBe(whole.shape.length === 3);
      expect(got.sequences, name).toEqual(Array.from({ length: batch }, (_, b) => Float32Array.from(whole.data.subarray(b * per, (b + 1) * per))));
      expect(got.steps, name).toEqual(Array.from({ length: batch }, () => per / F));
    }
  });
});

describe('readSequences: a .npy batch', () => {
  it('is read a sequence at a time: no float64 copy of the whole array (8 bytes an element)', async () => {
    const bytes = writeNpy(Float32Array.from({ length: 30 * 10 * 3 }, (_, i) => i % 11), [30, 10, 3]);
    const { result: got, largest } = await largestFloat64During(() => readSequences(bytes, 'batch.npy', 3));
    expect(largest).toBeLessThanOrEqual(10 * 3);
    expect(got.sequences.length).toBe(30);
    expect(Array.from(got.sequences[29]!.subarray(0, 3))).toEqual([29 * 30 % 11, (29 * 30 + 1) % 11, (29 * 30 + 2) % 11]);
  });
});

describe('readSequences: an empty file', () => {
  it('is named as empty (it was "neither .npy nor JSON: Unexpected end of JSON input")', () => {
    expect(errorOf(() => readSequences(new Uint8Array(0), 'x.npy', 2))?.message).toBe('x.npy: empty file: expected .npy or JSON frames');
  });
});

describe('readSequences: a flat JSON array', () => {
  it('is named, with the frames it should be (it was "input[0] must be an array of 1 numbers")', () => {
    expect(errorOf(() => readSequences(json('[0.5, 1, 2, 3]'), 'series.json', 1))?.message).toBe('series.json: a flat array of 4 numbers: expected frames, [steps][1] ([[0.5], [1], [2], ...])');
    expect(errorOf(() => readSequences(json('[1, 2, 3]'), 'frame.json', 3))?.message).toBe('frame.json: a flat array of 3 numbers: expected frames, [steps][3] ([[f0, f1, f2], ...])');
    expect(errorOf(() => readSequences(json('[1, 2]'), 'frame.json', 40))?.code).toBe('BAD_INPUT_FILE');
    // The same in a .npy: how to make it frames.
    expect(errorOf(() => readSequences(writeNpy(Float32Array.from([1, 2, 3]), [3]), 'series.npy', 1))?.message).toBe('series.npy: array of shape [3]: expected [steps][features] or [batch][steps][features] (a series of one feature: np.save(file, x.reshape(-1, 1)))');
  });
});

describe('readSequences: a CSV file', () => {
  it('is named as a CSV, with the formats run takes and how to convert (was "neither .npy nor JSON: Unexpected token")', () => {
    const e = errorOf(() => readSequences(json('a,b,label\n1,2,x\n3,4,y\n'), 'data.csv', 2, ['a', 'b']));
    expect(e?.code).toBe('BAD_INPUT_FILE');
    expect(e!.message).toMatch(/^data\.csv: a CSV file: this command takes \.npy or JSON frames/);
    expect(e!.message).toMatch(/`edgernn eval`, `train` and `quantize` read a CSV/);
    expect(e!.message).toContain(`[['a', 'b']]`);
    const headerless = errorOf(() => readSequences(json('1,2\n3,4\n'), 'x.txt', 2));
    expect(headerless!.message).toMatch(/^x\.txt: a CSV file: .*2 input columns/);
  });
});
