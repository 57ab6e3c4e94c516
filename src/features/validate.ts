/**
 * Field-by-field reading of a front-end spec that arrived as untyped JSON (a model manifest, a
 * trainer config). Every failure is a FRONTEND_SPEC error that names the field, what was
 * expected and what was found: `logmel front end: 'nfft' must be a power of two >= 400 (the
 * frame length), got 300`.
 */
import { EdgeRnnError } from '../errors.js';

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return v.length > 8 ? `an array of ${v.length}` : JSON.stringify(v);
  if (v === undefined) return 'nothing (field missing)';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return typeof v;
}

export function specError(where: string, field: string, expected: string, got: unknown): EdgeRnnError {
  return new EdgeRnnError('FRONTEND_SPEC', `${where}: '${field}' must be ${expected}, got ${show(got)}`, { field, expected, got: show(got) });
}

export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound (e.g. "> 0"). */
  above?: number;
  /** Exclusive upper bound. */
  below?: number;
  integer?: boolean;
}

function describe(rule: NumberRule): string {
  const parts = [rule.integer ? 'an integer' : 'a finite number'];
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  if (rule.below !== undefined) parts.push(`< ${rule.below}`);
  return parts.join(' ');
}

function fits(v: unknown, rule: NumberRule): v is number {
  return (
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!rule.integer || Number.isInteger(v)) &&
    (rule.min === undefined || v >= rule.min) &&
    (rule.max === undefined || v <= rule.max) &&
    (rule.above === undefined || v > rule.above) &&
    (rule.below === undefined || v < rule.below)
  );
}

/** Reads typed fields out of one JSON object, naming `where` in every error. */
export class SpecReader {
  readonly where: string;
  private readonly obj: Record<string, unknown>;

  constructor(value: unknown, where: string) {
    this.where = where;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new EdgeRnnError('FRONTEND_SPEC', `${where}: expected an object, got ${show(value)}`, { expected: 'object', got: show(value) });
    }
    this.obj = value as Record<string, unknown>;
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined;
  }

  raw(field: string): unknown {
    return this.obj[field];
  }

  fail(field: string, expected: string, got: unknown = this.obj[field]): never {
    throw specError(this.where, field, expected, got);
  }

  num(field: string, rule: NumberRule = {}): number {
    const v = this.obj[field];
    if (!fits(v, rule)) this.fail(field, describe(rule), v);
    return v;
  }

  optNum(field: string, rule: NumberRule = {}): number | undefined {
    return this.has(field) ? this.num(field, rule) : undefined;
  }

  choice<T extends string>(field: string, choices: readonly T[]): T {
    const v = this.obj[field];
    if (typeof v !== 'string' || !choices.includes(v as T)) this.fail(field, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, v);
    return v as T;
  }

  str(field: string): string {
    const v = this.obj[field];
    if (typeof v !== 'string' || v.length === 0) this.fail(field, 'a non-empty string', v);
    return v;
  }

  /** An array of exactly `length` numbers, each following `rule`. */
  numArray(field: string, length: number, rule: NumberRule = {}): number[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || v.length !== length) this.fail(field, `an array of ${length} numbers`, v);
    v.forEach((x, i) => {
      if (!fits(x, rule)) this.fail(`${field}[${i}]`, describe(rule), x);
    });
    return [...(v as number[])];
  }

  array(field: string): unknown[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || v.length === 0) this.fail(field, 'a non-empty array', v);
    return v;
  }

  /** A nested object read with its own reader (errors name `where.field`). */
  sub(field: string): SpecReader {
    return new SpecReader(this.obj[field], `${this.where}.${field}`);
  }

  /** Rejects fields this spec does not define, so a typo ('nmfcc') cannot pass silently. */
  onlyFields(allowed: readonly string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!allowed.includes(k)) this.fail(k, `absent (known fields: ${allowed.join(', ')})`, this.obj[k]);
    }
  }
}
