/**
 * A small command-line framework: one Command object per subcommand, flags parsed by
 * node:util parseArgs (strict), usage errors exit with code 2, other errors with 1 and a message
 * that names the problem. Commands write through the context, so tests capture output.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { readFileArg as readFile } from '../io/files.js';
import { clearProgress } from './progress.js';

/**
 * A file named on the command line, read relative to the command's folder. An empty name is a
 * usage error: resolved, it named the folder itself ("  is a folder, expected a file").
 */
export function readFileArg(cwd: string, file: string): Buffer {
  if (file === '') throw usageError('an empty file name was given');
  return readFile(cwd, file);
}

const guarded = new WeakSet<object>();
/** Set by runCli for the command it runs: a service keeps running when its output's reader goes. */
let serviceRunning = false;

/**
 * A closed stdout (`edgernn run ... | head -1`) fails the next write with EPIPE, which Node
 * throws as an unhandled 'error' event: a stack trace. The reader has what it wanted, so the
 * process ends quietly, as `yes | head` does. A service (`edgernn gateway`, Command.service)
 * does not: its alerts and stream states matter more than its log, so it goes on without output
 * (and stops gracefully on SIGINT/SIGTERM as ever); it used to end at once, states unsaved.
 * Any other write error (a full disk: `edgernn info m.ern --json > /dev/full`) ends the process
 * with code 1 and one line on stderr; it was thrown too, a stack trace.
 */
export function quietOnClosedPipe(
  stream: unknown,
  exit: (code: number, message?: string) => void = (code, message) => {
    if (message !== undefined && stream !== process.stderr) process.stderr.write(`${message}\n`);
    process.exit(code);
  },
  /**
   * A log (stderr): its reader gone, the command goes on without it. `train ... 2>&1 | grep -m1
   * epoch` ended at the first progress line after the reader left, exit code 0, the model unwritten.
   */
  opts: { log?: boolean } = {},
): void {
  const s = stream as { on?: (ev: string, fn: (e: NodeJS.ErrnoException) => void) => unknown };
  // Once per stream: runCli may run many times on process.stdout (MaxListenersExceededWarning).
  if (typeof s?.on !== 'function' || guarded.has(s)) return;
  guarded.add(s);
  let closed = false;
  s.on('error', (e) => {
    // After EPIPE the stream is destroyed: later writes fail with ERR_STREAM_DESTROYED. EIO: a
    // terminal that hung up (an ssh session that dropped): `edgernn gateway`, stopping on the
    // SIGHUP, died at its first log line, its device states unsaved.
    if (e?.code === 'EPIPE' || e?.code === 'EIO' || (closed && e?.code === 'ERR_STREAM_DESTROYED')) {
      closed = true;
      if (!serviceRunning && !opts.log) exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    } else exit(1, `edgernn: the output could not be written: ${e?.message ?? String(e)}`);
  });
}

export interface CliContext {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  cwd: string;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help text (usage line first). */
  help: string;
  /** A long-running service: it keeps running when the reader of its stdout or stderr goes away. */
  service?: boolean;
  run(args: string[], ctx: CliContext): Promise<number>;
}

export function usageError(message: string): EdgeRnnError {
  return new EdgeRnnError('USAGE', message);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing; every problem becomes a USAGE error (exit code 2). A value flag given twice
 * is one too: parseArgs keeps the last value, so `run m.ern -i a.npy -i b.npy` ran b.npy alone,
 * without a word (flags declared `multiple` take many).
 */
export function parseFlags<O extends Options>(
  args: string[],
  options: O,
  positionals: { min: number; max: number; names: string },
): { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw usageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const seen = new Map<string, string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option' || options[t.name]?.type !== 'string' || options[t.name]?.multiple) continue;
    const before = seen.get(t.name);
    if (before !== undefined) throw usageError(`--${t.name} is given twice ('${before}', '${t.value ?? ''}'): it takes one value`);
    seen.set(t.name, t.value ?? '');
  }
  const pos = parsed.positionals;
  if (!(parsed.values as { help?: boolean }).help && (pos.length < positionals.min || pos.length > positionals.max)) {
    throw usageError(pos.length < positionals.min ? `missing ${positionals.names}` : `unexpected argument '${pos[positionals.max]}'`);
  }
  return { values: parsed.values as Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: pos };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A numeric flag value, or a usage error naming the flag. */
export function numberFlag(v: unknown, name: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  // Decimal only: Number() also reads '0x10', '0b11' and '0o7' (and ' 5 '), which no one means.
  if (typeof v !== 'string' || !DECIMAL.test(v) || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw usageError(`--${name} needs ${opts.integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got '${String(v)}'`);
  }
  return n;
}

/** A choice flag value, or a usage error listing the choices. */
export function choiceFlag<T extends string>(v: unknown, name: string, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !choices.includes(v as T)) throw usageError(`--${name} must be one of ${choices.join(', ')}, got '${String(v)}'`);
  return v as T;
}

function globalHelp(commands: readonly Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'edgernn: small int8 recurrent networks (GRU, LSTM) on edge gateways',
    '',
    'usage: edgernn <command> [options]     edgernn <command> --help     edgernn --version',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Exit codes: 0 success, 1 failure, 2 bad arguments.',
    '',
  ].join('\n');
}

/** Runs one command line; returns the exit code (never throws). */
export async function runCli(argv: string[], commands: readonly Command[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  quietOnClosedPipe(ctx.stdout);
  quietOnClosedPipe(ctx.stderr, undefined, { log: true });
  if (name === undefined) {
    ctx.stderr.write(globalHelp(commands));
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = rest[0] === 'help' ? undefined : rest[0]; // `help help`: the command list
    const target = topic !== undefined ? commands.find((c) => c.name === topic) : undefined;
    // `help bogus` printed the command list and exit 0, as if bogus were documented there.
    if (topic !== undefined && !target) {
      ctx.stderr.write(`edgernn: unknown command '${rest[0]}'\n\n${globalHelp(commands)}`);
      return 2;
    }
    ctx.stdout.write(target ? `${target.help}\n` : globalHelp(commands));
    return 0;
  }
  if (name === '--version' || name === '-v') {
    ctx.stdout.write(`${CLI_VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    const near = commands.filter((c) => c.name.startsWith(name.slice(0, 2))).map((c) => c.name);
    ctx.stderr.write(`edgernn: unknown command '${name}'${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}\n\n${globalHelp(commands)}`);
    return 2;
  }
  // --help before a '--' only: after it, '--help' is a positional (a file of that name).
  const flags = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (flags.includes('--help') || flags.includes('-h')) {
    ctx.stdout.write(`${cmd.help}\n`);
    return 0;
  }
  serviceRunning = cmd.service === true;
  try {
    return await cmd.run(rest, ctx);
  } catch (e) {
    // A progress bar on the terminal: the message went on after it, on its line.
    clearProgress(ctx.stderr);
    if (isEdgeRnnError(e, 'USAGE')) {
      // The usage lines, not the whole help: train's 56 lines scrolled the message off the screen.
      const usage = cmd.help.split('\n\n')[0]!;
      ctx.stderr.write(`edgernn ${cmd.name}: ${printable(e.message, true)}\n\n${usage}\n(edgernn ${cmd.name} --help for every option)\n`);
      return 2;
    }
    if (isEdgeRnnError(e)) {
      ctx.stderr.write(`edgernn ${cmd.name}: error [${e.code}]: ${printable(e.message, true)}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && typeof err.path === 'string') {
      ctx.stderr.write(`edgernn ${cmd.name}: ${printable(fileErrorText(err.code, err.path, ctx.cwd), true)}\n`);
      return 1;
    }
    if (err && typeof err.code === 'string' && typeof err.syscall === 'string') {
      // A system error without a path (reading a folder as a file gives one): its own words, no stack.
      ctx.stderr.write(`edgernn ${cmd.name}: ${printable(err.message, true)}\n`);
      return 1;
    }
    ctx.stderr.write(`edgernn ${cmd.name}: unexpected error: ${err?.stack ?? String(e)}\n`);
    return 1;
  }
}

/**
 * Control and bidirectional-override characters shown as escapes ("\u001b"). Text from files (a
 * manifest's fields, a clip's file name in an error) reached the terminal as it was: an escape
 * sequence could erase lines or fake output, a U+202E reversed the rest of the line. JSON.stringify
 * escapes C0 controls only, not C1 (U+0080–U+009F) nor the bidirectional ones. `keepLines` keeps
 * newlines and tabs (multi-line error messages).
 */
export function printable(text: string, keepLines = false): string {
  return text.replace(keepLines ? UNPRINTABLE_IN_LINES : UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNPRINTABLE_IN_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A file system error in words, with its path (relative paths resolved against the command's folder). */
export function fileErrorText(code: string, p: string, cwd: string): string {
  switch (code) {
    case 'ENOENT': {
      // Writing into a folder that does not exist fails with ENOENT too: name the folder.
      const dir = path.dirname(path.resolve(cwd, p));
      return fs.existsSync(dir) ? `no such file: ${p}` : `no such folder: ${path.dirname(p)} (for ${p})`;
    }
    case 'EACCES':
    case 'EPERM':
      return `permission denied: ${p}`;
    case 'EISDIR':
      return `${p} is a folder, expected a file`;
    case 'ENOTDIR':
      return `a part of ${p} is not a folder`;
    case 'ENOSPC':
      return `no space left on the device for ${p}`;
    case 'EEXIST':
      return `${p} already exists`;
    case 'EROFS':
      return `read-only file system: ${p}`;
    default:
      return `${code}: ${p}`;
  }
}

export const CLI_VERSION = '0.1.0';

/**
 * Writes an output file whole (the desktop commands' writeFile does the same): into a temporary
 * file next to it, renamed over it once written. Written in place, a full disk or a Ctrl-C during
 * `convert -o m.ern` left a truncated m.ern, the previous one lost. An existing symbolic link is
 * written through; what is not a regular file (a pipe, /dev/stdout) is written to directly.
 */
export function writeOutputFile(file: string, data: Uint8Array | string): void {
  const existing = fs.statSync(file, { throwIfNoEntry: false });
  if (existing && !existing.isFile()) {
    fs.writeFileSync(file, data);
    return;
  }
  const target = existing ? fs.realpathSync(file) : file;
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    if (existing) fs.chmodSync(tmp, existing.mode & 0o7777); // the replaced file's permissions
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    // The error names the output, not the temporary file.
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.path === 'string') err.path = file;
    throw e;
  }
}

/**
 * Refuses, before any work, outputs that are the same file as an input or as each other:
 * `train --data d.jsonl -o d.jsonl` replaced the training data with the model, `--report m.ern
 * -o m.ern` the model with the report. Inputs and outputs are [flag, path] (undefined: not given).
 */
export function checkOutputsDistinct(outputs: [string, unknown][], inputs: [string, unknown][], ctx: { cwd: string }): void {
  // `-o -` wrote a file named "-" (only `run --output -` means standard output; these outputs are
  // files, binary models among them, and the commands print their summary on stdout).
  const dash = outputs.find(([, p]) => p === '-');
  if (dash) throw usageError(`${dash[0]} -: this output is a file, not standard output (expected a path; ./- for a file named '-')`);
  const given = (list: [string, unknown][]): [string, string, string][] => list.filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '').map(([f, p]) => [f, p, fileIdentity(path.resolve(ctx.cwd, p))]);
  const outs = given(outputs);
  const ins = given(inputs);
  outs.forEach(([flag, p, file], i) => {
    const input = ins.find(([, , f]) => f === file);
    if (input) throw usageError(`${flag} ${p} is the ${input[0]} file: writing it would replace the input (expected another path)`);
    const other = outs.slice(0, i).find(([, , f]) => f === file);
    if (other) throw usageError(`${flag} ${p} is also ${other[0]}: one output would replace the other (expected another path)`);
  });
}

/**
 * What makes two paths one file: device and inode for an existing file (a hard link has a path of
 * its own: `quantize m.ern -o link.ern`, link.ern a hard link of m.ern, replaced the model), else
 * the canonical path.
 */
function fileIdentity(file: string): string {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  // ino 0: a file system without inode numbers (some Windows ones); paths only there.
  return st && st.isFile() && st.ino !== 0 ? `inode ${st.dev}:${st.ino}` : `path ${canonical(file)}`;
}

/** The real path of a file, or of its nearest existing folder plus the rest (links resolved). */
function canonical(file: string): string {
  let dir = file;
  const rest: string[] = [];
  while (!fs.existsSync(dir)) {
    rest.unshift(path.basename(dir));
    const up = path.dirname(dir);
    if (up === dir) return file;
    dir = up;
  }
  return path.join(fs.realpathSync(dir), ...rest);
}
