/** Test helper: the largest Float64Array made while a function runs (a loader that copies a whole array to float64 shows here). */

/** Runs `f` with Float64Array counted; returns its result and the length of the largest Float64Array made meanwhile. */
export async function largestFloat64During<T>(f: () => T | Promise<T>): Promise<{ result: T; largest: number }> {
  const Float64 = globalThis.Float64Array;
  let largest = 0;
  globalThis.Float64Array = class extends Float64 {
    constructor(...args: unknown[]) {
      super(...(args as [number])); // any of its signatures
      largest = Math.max(largest, this.length);
    }
  } as Float64ArrayConstructor;
  try {
    return { result: await f(), largest };
  } finally {
    globalThis.Float64Array = Float64;
  }
}
