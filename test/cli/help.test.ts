/**
 * Every command's --help against what the command accepts: a flag a help text names must be one
 * its parser takes (the desktop commands' shared data-format help named --val, --calib, --eval and
 * their labels flags on commands that refuse them). Flags are checked by parsing only: each is
 * followed by an unknown flag, so the parser stops there and no command does any work.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { runCaptured } from '../helpers/cli.js';

const commands = [...runtimeCommands, ...desktopCommands];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-help-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The long and short flags a help text names (`--flag`, `-x`), --help itself left out. */
function helpFlags(help: string): string[] {
  const long = [...help.matchAll(/(?:^|[\s[(,|])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!);
  const short = [...help.matchAll(/(?:^|[\s[(,])(-[a-zA-Z])(?=[\s,])/g)].map((m) => m[1]!);
  return [...new Set([...long, ...short])].filter((f) => f !== '--help');
}

describe('--help texts name only flags their command accepts', () => {
  for (const c of commands) {
    it(c.name, async () => {
      const flags = helpFlags(c.help);
      expect(flags.length, c.name).toBeGreaterThan(0);
      const refused: string[] = [];
      for (const flag of flags) {
        const r = await runCaptured([c.name, flag, '1', '--not-a-flag'], commands, tmp);
        expect(r.code, `${c.name} ${flag}`).toBe(2);
        // The parser reached the unknown flag after it: this one was taken.
        if (!r.err.includes("Unknown option '--not-a-flag'")) refused.push(`${flag}: ${r.err.split('\n')[0]}`);
      }
      expect(refused, c.name).toEqual([]);
    });
  }
});

describe('data-format help names each command\'s own data and labels flags', () => {
  const cases: [string, RegExp, string[]][] = [
    ['train', /data formats \(--data, --val\)/, ['--calib', '--eval']],
    ['eval', /data formats \(--data\)/, ['--val', '--calib', '--eval']],
    ['quantize', /data formats \(--calib, --eval\)[\s\S]*--labels Y\.npy for --calib, --eval-labels for --eval/, ['--val', '--calib-labels']],
    ['prune', /data formats \(--data, --val, --calib\)[\s\S]*--calib-labels for --calib/, ['--eval-labels']],
  ];
  for (const [name, want, absent] of cases) {
    it(name, async () => {
      const r = await runCaptured([name, '--help'], commands, tmp);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(want);
      for (const f of absent) expect(r.out, `${name} --help names ${f}`).not.toMatch(new RegExp(`${f}(?![a-z-])`));
    });
  }
});
