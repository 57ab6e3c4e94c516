/** Runs the CLI in-process with its output captured, for tests of commands. */
import { runCli, type Command } from '../../src/cli/framework.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** `argv` through runCli with these commands in `cwd`; stdout and stderr collected as strings. */
export async function runCaptured(argv: string[], commands: readonly Command[], cwd: string): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await runCli(argv, commands, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd });
  return { code, out, err };
}
