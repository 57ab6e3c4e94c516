/**
 * Structured logs (Node-only module): one JSON object per line,
 * {"t":"2024-05-01T12:00:00.000Z","level":"info","msg":"...", ...fields}. Injected everywhere,
 * so tests capture lines and assert on fields instead of text.
 */
import type { Clock } from './clock.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  /** Lowest level written (default 'info'). */
  level?: LogLevel;
  /** Where lines go (default process.stderr). */
  out?: { write(s: string): unknown };
  /** Source of the "t" field (default the wall clock). */
  clock?: Pick<Clock, 'now'>;
  /** Fields added to every line (e.g. {gateway: "gw1"}). */
  base?: LogFields;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (x instanceof Error ? { name: x.name, message: x.message, ...(x as unknown as Record<string, unknown>) } : typeof x === 'bigint' ? String(x) : x));
  } catch {
    return JSON.stringify(String(v));
  }
}

export function jsonLogger(opts: JsonLoggerOptions = {}): Logger {
  const min = LOG_LEVELS.indexOf(opts.level ?? 'info');
  const out = opts.out ?? process.stderr;
  const now = opts.clock ? () => opts.clock!.now() : () => Date.now();
  const base = opts.base ?? {};
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    out.write(`${safeJson({ t: new Date(now()).toISOString(), level, msg, ...base, ...fields })}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that keeps lines in memory (tests, replay summaries). */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { lines: Array<LogFields & { level: LogLevel; msg: string }> } {
  const lines: Array<LogFields & { level: LogLevel; msg: string }> = [];
  const min = LOG_LEVELS.indexOf(level);
  const push = (lv: LogLevel, msg: string, f?: LogFields) => {
    if (LOG_LEVELS.indexOf(lv) >= min) lines.push({ ...f, level: lv, msg });
  };
  return {
    lines,
    debug: (m, f) => push('debug', m, f),
    info: (m, f) => push('info', m, f),
    warn: (m, f) => push('warn', m, f),
    error: (m, f) => push('error', m, f),
  };
}
