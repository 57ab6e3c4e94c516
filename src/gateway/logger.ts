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
  /** Where lines go (default process.stderr; its write errors, e.g. EPIPE, are ignored). */
  out?: { write(s: string): unknown };
  /** Source of the "t" field (default the wall clock). */
  clock?: Pick<Clock, 'now'>;
  /** Fields added to every line (e.g. {gateway: "gw1"}). */
  base?: LogFields;
}

/** Deeper than this, a field is written as "[Deep]" (a long linked structure must not overflow the stack). */
const MAX_DEPTH = 32;

/**
 * A copy of v that JSON.stringify cannot throw on: a cycle becomes "[Circular]", a BigInt its
 * decimal string, an Error {name, message, its own fields, cause}, and a getter or toJSON that
 * throws "[unreadable: <why>]". Handing fields to JSON.stringify as they were, one cycle or one
 * throwing getter turned the whole line, level and message included, into "[object Object]".
 * `ancestors` holds the objects on the path from the root: an object met twice side by side is
 * written twice, only one that contains itself is a cycle.
 */
function loggable(v: unknown, ancestors: object[]): unknown {
  if (typeof v === 'bigint') return String(v);
  if (typeof v !== 'object' || v === null) return v; // JSON.stringify drops functions, symbols and undefined
  if (ancestors.includes(v)) return '[Circular]';
  if (ancestors.length >= MAX_DEPTH) return '[Deep]';
  const unreadable = (e: unknown) => `[unreadable: ${e instanceof Error ? e.message : String(e)}]`;
  const toJson = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJson === 'function' && !(v instanceof Error)) {
    let j: unknown;
    try {
      j = toJson.call(v);
    } catch (e) {
      return unreadable(e);
    }
    return j === v ? loggableFields(v, ancestors, unreadable) : loggable(j, ancestors);
  }
  if (Array.isArray(v)) return v.map((x) => loggable(x, [...ancestors, v]));
  if (v instanceof Error) {
    // name and message are inherited or not enumerable, cause is not enumerable: JSON.stringify skipped them.
    const out: Record<string, unknown> = { name: v.name, message: v.message, ...(loggableFields(v, ancestors, unreadable) as object) };
    if (v.cause !== undefined) out.cause = loggable(v.cause, [...ancestors, v]);
    return out;
  }
  return loggableFields(v, ancestors, unreadable);
}

function loggableFields(v: object, ancestors: object[], unreadable: (e: unknown) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const path = [...ancestors, v];
  for (const k of Object.keys(v)) {
    try {
      out[k] = loggable((v as Record<string, unknown>)[k], path);
    } catch (e) {
      out[k] = unreadable(e);
    }
  }
  return out;
}

/** Listens for process.stderr's errors; one function, so one listener however many loggers are made. */
function ignoreStderrError(): void {}

/**
 * process.stderr for logs. A reader that goes away (a log shipper or journald restarting: EPIPE)
 * made it emit 'error' with nobody listening, and the gateway died at its next log line: logs
 * are worth less than the alerts. Once it failed, the stream is destroyed and takes no more lines.
 */
function stderrOut(): { write(s: string): unknown } {
  if (!process.stderr.listeners('error').includes(ignoreStderrError)) process.stderr.on('error', ignoreStderrError);
  return process.stderr;
}

export function jsonLogger(opts: JsonLoggerOptions = {}): Logger {
  const min = LOG_LEVELS.indexOf(opts.level ?? 'info');
  const out = opts.out ?? stderrOut();
  const now = opts.clock ? () => opts.clock!.now() : () => Date.now();
  const base = loggable(opts.base ?? {}, []);
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const t = new Date(now()).toISOString();
    // The line's own t, level and msg come first and win over fields of the same name: a field
    // "level" turned warnings into debug lines for whatever reads the log.
    const line = Object.assign({ t, level, msg }, base, loggable(fields, []), { t, level, msg });
    out.write(`${JSON.stringify(line)}\n`);
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
