/** Test helpers for the typed errors every bad input must raise. */
import { expect } from 'vitest';
import { EdgeRnnError, isEdgeRnnError, type ErrorCode } from '../../src/index.js';

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

/**
 * The message of the EdgeRnnError with this code that `f` throws (any other error fails the
 * test), or 'no error' when `f` returns, so `expect(errorMessage(...)).toMatch(/.../)` reads
 * the expected message in the failure.
 */
export function errorMessage(f: () => unknown, code: ErrorCode): string {
  try {
    f();
  } catch (e) {
    expect(isEdgeRnnError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
    return (e as Error).message;
  }
  return 'no error';
}

/** The code of the EdgeRnnError `f` throws, or 'ok' when it returns (any other error is rethrown). */
export function errorCode(f: () => unknown): ErrorCode | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof EdgeRnnError) return e.code;
    throw e;
  }
}

/** What `f` throws (any error, typed or not), or null when it returns. */
export function thrownBy(f: () => unknown): { code?: string; message: string } | null {
  try {
    f();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  return null;
}

/** `CODE: message` of the EdgeRnnError `f` throws, the text of any other error, or 'no error'. */
export function codeAndMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isEdgeRnnError(e) ? `${e.code}: ${e.message}` : String(e);
  }
  return 'no error';
}

/** What `f` throws, whatever it is (code and message read loosely); fails the test when it returns. */
export function errorOf(f: () => unknown): { code?: string; message: string } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected an error');
}
