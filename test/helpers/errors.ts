/** Test helpers for the typed errors every bad input must raise. */
import { expect } from 'vitest';
import { EdgeRnnError, isEdgeRnnError } from '../../src/index.js';

/** The EdgeRnnError `f` throws; fails the test when it returns or throws anything else. */
export function caughtEdgeRnnError(f: () => unknown): EdgeRnnError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EdgeRnnError);
    return e as EdgeRnnError;
  }
  throw new Error('expected an error');
}

/** `f` throws an EdgeRnnError with this code and a message matching `message`. */
export function expectCode(f: () => unknown, code: string, message: RegExp): void {
  const e = caughtEdgeRnnError(f);
  expect(isEdgeRnnError(e)).toBe(true);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
}
