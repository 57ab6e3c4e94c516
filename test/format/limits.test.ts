/**
 * Size fields that lie: each is checked against the file's length before anything that size is
 * allocated, and each defect is a typed error naming where it is.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EdgeRnnError, decodeErn, decodeModel, encodeModel, resealErn, type ErrorCode } from '../../src/index.js';
import { withManifest } from '../helpers/ern.js';
import { randomQuantModel } from '../helpers/random-model.js';

let bytes: Uint8Array;
beforeAll(() => {
  bytes = encodeModel(randomQuantModel(6).int8, { goldenSteps: 3 });
});

function setU32(b: Uint8Array, off: number, v: number): Uint8Array {
  const out = b.slice();
  new DataView(out.buffer).setUint32(off, v, true);
  return resealErn(out);
}

function failure(f: () => unknown): [ErrorCode, string] {
  try {
    f();
  } catch (e) {
    if (e instanceof EdgeRnnError) return [e.code, e.message];
    throw e;
  }
  throw new Error('decoded a defective file');
}

describe('size fields of 2^31 and more', () => {
  it('header sizes are checked against the file length before any allocation', () => {
    const heap = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    expect(failure(() => decodeErn(setU32(bytes, 28, 2 ** 31), 'x.ern'))).toEqual(['ERN_TRUNCATED', expect.stringMatching(/x\.ern: file has \d+ bytes, its header declares \d+: truncated/)]);
    expect(failure(() => decodeErn(setU32(bytes, 20, 2 ** 31), 'x.ern'))[0]).toBe('ERN_BAD_HEADER');
    expect(failure(() => decodeErn(setU32(bytes, 24, 2 ** 31), 'x.ern'))[0]).toBe('ERN_TRUNCATED');
    expect(failure(() => decodeErn(setU32(bytes, 12, 2 ** 32 - 1), 'x.ern'))[0]).toBe('ERN_BAD_HEADER');
    expect(process.memoryUsage().arrayBuffers - heap).toBeLessThan(64 << 20);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a tensor claiming 2^31 bytes, or an offset past the data, names the tensor and the sizes', () => {
    const big = withManifest(bytes, (m) => {
      const t = m.tensors.find((x: { name: string }) => x.name === 'golden.input');
      t.shape = [2 ** 29, 1];
      t.bytes = 2 ** 31;
    });
    expect(failure(() => decodeErn(big, 'x.ern'))).toEqual(['ERN_TENSOR', expect.stringMatching(/x\.ern: tensor 'golden\.input' needs bytes \d+\.\.\d{10} of the data section, which has \d+/)]);
    const negative = withManifest(bytes, (m) => (m.tensors[0].offset = -64));
    expect(failure(() => decodeErn(negative, 'x.ern'))).toEqual(['ERN_TENSOR', expect.stringMatching(/tensor '[^']+': offset -64 must be a non-negative multiple of 64/)]);
  });

  it('a golden vector of the wrong length, or of another step count than golden.steps, is ERN_TENSOR naming it', () => {
    const longer = withManifest(bytes, (m) => (m.golden.steps = 4));
    expect(failure(() => decodeModel(longer, 'x.ern'))).toEqual(['ERN_TENSOR', expect.stringMatching(/tensor 'golden\.input' must have shape \[4,\d+\], file has \[3,\d+\]/)]);
    const shorter = withManifest(bytes, (m) => {
      const t = m.tensors.find((x: { name: string }) => x.name === 'golden.output');
      t.shape = [t.shape[0] - 1, t.shape[1]];
      t.bytes = t.shape[0] * t.shape[1] * 4;
    });
    expect(failure(() => decodeModel(shorter, 'x.ern'))).toEqual(['ERN_TENSOR', expect.stringMatching(/tensor 'golden\.output' must have shape \[3,\d+\], file has \[2,\d+\]/)]);
  });

  it('sections swapped (data before the manifest) or a manifest inside the header', () => {
    expect(failure(() => decodeErn(setU32(bytes, 16, 0), 'x.ern'))[0]).toBe('ERN_BAD_HEADER');
    expect(failure(() => decodeErn(setU32(bytes, 24, 0), 'x.ern'))[0]).toBe('ERN_BAD_HEADER');
  });
});

describe('tensors swapped behind a recomputed checksum', () => {
  it('two tensors of the same type and shape trading places never load: the golden vector or a check catches it', async () => {
    const { createRuntime } = await import('../../src/index.js');
    const rt = await createRuntime();
    let swaps = 0;
    for (const seed of [6, 11, 12]) {
      const file = encodeModel(randomQuantModel(seed, { offline: seed === 12 }).int8, { goldenSteps: 4 });
      const { manifest, tensors } = decodeErn(file);
      const table = manifest.tensors as { name: string; dtype: string; shape: number[]; offset: number }[];
      for (let i = 0; i < table.length; i++) {
        for (let j = i + 1; j < table.length; j++) {
          const a = table[i]!;
          const b = table[j]!;
          if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) continue;
          const da = tensors.get(a.name)!.data;
          const db = tensors.get(b.name)!.data;
          if (da.every((x, k) => x === db[k])) continue; // the same bytes: nothing changes
          const swapped = withManifest(file, (m) => {
            const ta = m.tensors[i];
            const tb = m.tensors[j];
            [ta.offset, tb.offset] = [tb.offset, ta.offset];
          });
          swaps++;
          let outcome = 'loaded';
          try {
            (await rt.load(swapped, { backend: 'reference' })).dispose();
          } catch (e) {
            if (!(e instanceof EdgeRnnError)) throw e;
            outcome = e.code;
          }
          expect(outcome, `seed ${seed}: ${a.name} <-> ${b.name}`).not.toBe('loaded');
        }
      }
    }
    expect(swaps).toBeGreaterThan(5);
  });
});
