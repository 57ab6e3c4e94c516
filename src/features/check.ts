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

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array (${JSON.stringify(v).slice(0, 40)})`;
  if (typeof v === 'string') return `a string (${JSON.stringify(v.slice(0, 40))})`;
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return v === undefined ? 'undefined' : `a ${typeof v} (${String(v)})`;
}

/**
 * Float32's range (3.4028235e38). Model inputs are float32 (the runtime refuses more), and a
 * finite sample beyond it overflows the front ends' float64 arithmetic: d² in the adaptive
 * variance and the CMN mean become Infinity or NaN and stay so, silencing every later output.
 * The bound is where float32 rounding overflows (the midpoint between the largest float32,
 * 3.4028234663852886e38, and 2^128), as the runtime, readSequences and NumPy round: 3.4028235e38,
 * the largest float32 as NumPy prints it, is a sample (it rounds to the largest float32).
 */
const FLOAT32_OVERFLOW = 3.4028235677973366e38;

/**
 * Throws INVALID_ARGUMENT unless `samples` is an array or typed array of numbers, SHAPE_MISMATCH
 * unless its length is a multiple of `channels`, NON_FINITE_INPUT on NaN/±Infinity or a value
 * beyond float32's range (|x| > 3.4028235e38).
 */
export function checkSamples(samples: SampleArray, channels: number, where: string): void {
  if (samples === null || typeof samples !== 'object' || typeof samples.length !== 'number') {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: samples are numbers in a typed array or an array, got ${describe(samples)}`, { got: describe(samples) });
  }
  if (samples.length % channels !== 0) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `${where}: ${samples.length} values are not whole samples of ${channels} interleaved channels`, {
      expected: `a multiple of ${channels}`,
      got: samples.length,
    });
  }
  if (isIntegerTyped(samples)) return;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (typeof v !== 'number' || !(v > -FLOAT32_OVERFLOW && v < FLOAT32_OVERFLOW)) {
      if (typeof v !== 'number') {
        throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: sample ${Math.floor(i / channels)} channel ${i % channels} is ${describe(v)}, not a number`, { index: i });
      }
      const what = Number.isFinite(v) ? `${v}, beyond float32's range (|x| <= 3.4028235e38)` : String(v);
      throw new EdgeRnnError('NON_FINITE_INPUT', `${where}: sample ${Math.floor(i / channels)} channel ${i % channels} is ${what}`, { index: i, value: String(v) });
    }
  }
}

/** Throws INVALID_ARGUMENT unless push() was given a callback (checked with the samples, before any state changes). */
export function checkOutputCallback(onOutput: unknown, where: string): void {
  if (typeof onOutput !== 'function') throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: push(samples, onOutput) needs onOutput, a function called with each output block; got ${describe(onOutput)}`);
}
