/** Input checks shared by the front ends: run over a whole chunk before any state changes. */
import { EdgeRnnError } from '../errors.js';
import type { SampleArray } from './types.js';

function isIntegerTyped(a: SampleArray): boolean {
  return (
    a instanceof Int8Array ||
    a instanceof Uint8Array ||
    a instanceof Uint8ClampedArray ||
    a instanceof Int16Array ||
    a instanceof Uint16Array ||
    a instanceof Int32Array ||
    a instanceof Uint32Array
  );
}

/** Throws SHAPE_MISMATCH unless the length is a multiple of `channels`, NON_FINITE_INPUT on NaN/±Infinity. */
export function checkSamples(samples: SampleArray, channels: number, where: string): void {
  if (samples.length % channels !== 0) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `${where}: ${samples.length} values are not whole samples of ${channels} interleaved channels`, {
      expected: `a multiple of ${channels}`,
      got: samples.length,
    });
  }
  if (isIntegerTyped(samples)) return;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (!Number.isFinite(v)) {
      throw new EdgeRnnError('NON_FINITE_INPUT', `${where}: sample ${Math.floor(i / channels)} channel ${i % channels} is ${v}`, { index: i, value: String(v) });
    }
  }
}
