/** Object arguments of the public API, checked for JavaScript callers (browser-safe). */
import { EdgeRnnError } from '../errors.js';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object with ${Object.keys(v).slice(0, 6).join(', ') || 'no fields'}`;
  return v === undefined ? 'undefined' : `a ${typeof v}`;
}

/** Throws INVALID_ARGUMENT unless `v` is an object with every field in `fields`. */
export function checkObjectArgument(v: unknown, call: string, what: string, fields: readonly string[]): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || fields.some((f) => !(f in v))) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${call} takes ${what}, got ${describe(v)}`, { got: describe(v) });
  }
}
