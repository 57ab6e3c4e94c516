/** The JSON line logger: levels, and fields that JSON.stringify cannot take as they are. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EdgeRnnError } from '../../src/errors.js';
import { jsonLogger, memoryLogger, type LogLevel } from '../../src/gateway/logger.js';

function capture(level?: LogLevel): { log: ReturnType<typeof jsonLogger>; lines: string[]; parsed: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const log = jsonLogger({ ...(level ? { level } : {}), out: { write: (s: string) => lines.push(s) }, clock: { now: () => 0 }, base: { gateway: 'gw' } });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('jsonLogger', () => {
  it('writes the configured level and above, one JSON object per line; silent writes nothing', () => {
    for (const [level, want] of [
      ['debug', ['debug', 'info', 'warn', 'error']],
      ['info', ['info', 'warn', 'error']],
      ['warn', ['warn', 'error']],
      ['error', ['error']],
      ['silent', []],
    ] as const) {
      const { log, lines, parsed } = capture(level);
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
      expect(parsed().map((l) => l.level)).toEqual(want);
    }
    const { log, parsed } = capture();
    log.debug('hidden');
    log.info('shown');
    expect(parsed().map((l) => l.msg)).toEqual(['shown']); // info by default
  });

  it('a field with a cycle keeps its line: time, level, message and the other fields, the cycle marked', () => {
    // JSON.stringify threw on the cycle and the whole line became the string "[object Object]":
    // the message and the level were lost with it.
    const { log, parsed } = capture();
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    a.list = [a, { back: a }];
    log.warn('cyclic', { a, device: 'pump-7' });
    const [line] = parsed();
    expect(line).toEqual({ t: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'cyclic', gateway: 'gw', device: 'pump-7', a: { x: 1, self: '[Circular]', list: ['[Circular]', { back: '[Circular]' }] } });
  });

  it('an object seen twice, not in a cycle, is written twice', () => {
    const { log, parsed } = capture();
    const shared = { k: 1 };
    log.info('shared', { a: shared, b: [shared, shared] });
    expect(parsed()[0]).toMatchObject({ a: { k: 1 }, b: [{ k: 1 }, { k: 1 }] });
  });

  it('BigInt, Errors (with their code, details and cause) and values that throw when read are written, not thrown', () => {
    const { log, parsed } = capture();
    const inner = new Error('disk gone');
    const e = new EdgeRnnError('GATEWAY_OUTBOX', 'outbox: cannot write', { file: 'outbox.wal', bytes: 10n });
    // Own but not enumerable, as `new Error(msg, { cause })` makes it: JSON.stringify skipped it.
    Object.defineProperty(e, 'cause', { value: inner, enumerable: false });
    const cyclicError = new Error('loop') as Error & { self?: unknown };
    cyclicError.self = cyclicError;
    const hostile = {
      get boom(): number {
        throw new Error('getter');
      },
      ok: 1,
    };
    const badJson = { toJSON(): never {
      throw new Error('toJSON');
    } };
    expect(() => log.error('failure', { n: 2n ** 70n, error: e, cyclicError, hostile, badJson })).not.toThrow();
    expect(() => log.error('hostile fields', hostile)).not.toThrow();
    const [line] = parsed();
    expect(line).toMatchObject({ level: 'error', msg: 'failure', n: '1180591620717411303424' });
    expect(line!.error).toMatchObject({ name: 'EdgeRnnError', message: 'outbox: cannot write', code: 'GATEWAY_OUTBOX', details: { file: 'outbox.wal', bytes: '10' }, cause: { name: 'Error', message: 'disk gone' } });
    expect(line!.cyclicError).toMatchObject({ name: 'Error', message: 'loop', self: '[Circular]' });
    expect(line!.hostile).toEqual({ boom: '[unreadable: getter]', ok: 1 });
    expect(line!.badJson).toBe('[unreadable: toJSON]');
    expect(parsed()[1]).toMatchObject({ msg: 'hostile fields', boom: '[unreadable: getter]', ok: 1 });
  });

  it('fields cannot overwrite the line\'s own time, level and message', () => {
    // A field named "level" turned a warning into a debug line for every log reader.
    const { log, parsed } = capture();
    log.warn('disk almost full', { level: 'debug', msg: 'other', t: 5, free: 3 });
    expect(parsed()[0]).toMatchObject({ t: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'disk almost full', free: 3 });
  });
});

describe('jsonLogger on process.stderr', () => {
  it('a process whose stderr reader went away (EPIPE) goes on, without logs', async () => {
    // A gateway logging into a pipe (a log shipper, journald) that closed died at its next line:
    // the EPIPE came back as an 'error' event on process.stderr that nobody listened for.
    const logger = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/gateway/logger.ts');
    const code = `
      import { jsonLogger } from ${JSON.stringify(logger)};
      const log = jsonLogger();
      let n = 0;
      const t = setInterval(() => {
        log.info('tick', { n: n++ });
        if (n === 200) { clearInterval(t); process.stdout.write('still running after ' + n + ' lines'); }
      }, 1);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.once('data', () => child.stderr.destroy()); // the reader goes away after the first line
    const exitCode = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect([exitCode, stdout]).toEqual([0, 'still running after 200 lines']);
  });
});

describe('memoryLogger', () => {
  it('keeps the lines at its level and above', () => {
    const log = memoryLogger('warn');
    log.info('no');
    log.warn('yes', { level: 'debug' });
    expect(log.lines).toEqual([{ level: 'warn', msg: 'yes' }]);
  });
});
