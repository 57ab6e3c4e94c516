/**
 * Conventions every command keeps: its --help names every flag its parser takes (help.test.ts
 * checks the other way round) and -h/--help work anywhere; a value flag given twice is refused;
 * numbers are decimal; a usage error shows its message with the usage lines; a progress bar on a
 * terminal never has another line written after it on its row; outputs are written whole; --json
 * is JSON alone on stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as Framework from '../../src/cli/framework.js';

/** The options of every parseFlags call, to compare with the help texts. */
const parsed: Record<string, { type: string; short?: string }>[] = [];
vi.mock('../../src/cli/framework.js', async (importOriginal) => {
  const m = await importOriginal<typeof Framework>();
  return {
    ...m,
    parseFlags: (...a: Parameters<typeof m.parseFlags>) => {
      parsed.push(a[1] as Record<string, { type: string; short?: string }>);
      return m.parseFlags(...a);
    },
  };
});
const { runCli } = await import('../../src/cli/framework.js');
const { Progress } = await import('../../src/cli/progress.js');
const { runtimeCommands } = await import('../../src/cli/commands/index.js');
const { desktopCommands } = await import('../../quantize/cli/index.js');
const { sweepFlag } = await import('../../quantize/jobs/kws/cli.js');
const { runCaptured } = await import('../helpers/cli.js');
const { encodeModel } = await import('../../src/index.js');
const { randomQuantModel } = await import('../helpers/random-model.js');

const commands = [...runtimeCommands, ...desktopCommands];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-conventions-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What a terminal shows after these writes: '\r' goes back to column 0, ESC[K erases to the end. */
function screen(written: string): string[] {
  return written.split('\n').map((row) => {
    let line = '';
    let col = 0;
    for (let i = 0; i < row.length; i++) {
      if (row[i] === '\r') col = 0;
      else if (row.startsWith('\x1b[K', i)) {
        line = line.slice(0, col);
        i += 2;
      } else {
        line = line.slice(0, col) + row[i] + line.slice(col + 1);
        col++;
      }
    }
    return line;
  });
}

/** runCli with stdout and stderr on one terminal, as an interactive shell has them. */
async function onTerminal(argv: string[], cmds: readonly Framework.Command[]): Promise<{ code: number; rows: string[] }> {
  let written = '';
  const write = (s: string) => (written += s);
  const code = await runCli(argv, cmds, { stdout: { write }, stderr: { write, isTTY: true }, cwd: tmp });
  return { code, rows: screen(written) };
}

describe('--help names every flag the command takes', () => {
  for (const c of commands) {
    it(c.name, async () => {
      parsed.length = 0;
      // An unknown flag: parsing fails, so no command does any work. har parses after its subcommand.
      const r = await runCaptured([c.name, ...(c.name === 'har' ? ['stats'] : []), '--not-a-flag'], commands, tmp);
      expect(r.code).toBe(2);
      expect(parsed.length, `${c.name} parses its flags with parseFlags`).toBeGreaterThan(0);
      const flags = parsed.flatMap((o) => Object.entries(o).flatMap(([name, spec]) => [`--${name}`, ...(spec.short ? [`-${spec.short}`] : [])]));
      const missing = [...new Set(flags)].filter((f) => !new RegExp(`(^|[^a-zA-Z0-9-])${f}(?![a-zA-Z0-9-])`).test(c.help));
      expect(missing, `${c.name} takes flags its --help does not name`).toEqual([]);
    });
  }
});

describe('-h and --help anywhere before --', () => {
  for (const c of commands) {
    it(c.name, async () => {
      for (const argv of [[c.name, '-h'], [c.name, 'x', '--json', '--help'], [c.name, '--not-a-flag', '-h', 'y']]) {
        const r = await runCaptured(argv, commands, tmp);
        expect(r.code, argv.join(' ')).toBe(0);
        expect(r.out, argv.join(' ')).toBe(`${c.help}\n`);
        expect(r.err).toBe('');
      }
      expect((await runCaptured(['help', c.name], commands, tmp)).out).toBe(`${c.help}\n`);
    });
  }
});

describe('a value flag given twice', () => {
  it('is a usage error in the runtime commands too (run -i a.npy -i b.npy ran b.npy alone)', async () => {
    const r = await runCaptured(['run', 'm.ern', '-i', 'a.npy', '-i', 'b.npy'], commands, tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--input is given twice \('a\.npy', 'b\.npy'\)/);
    const g = await runCaptured(['gateway', '--threshold', '0.1', '--threshold=0.9', '--print-config'], commands, tmp);
    expect(g.code).toBe(2);
    expect(g.err).toMatch(/--threshold is given twice/);
  });

  it('is not one for a flag that takes many (record --topics)', async () => {
    const { parseFlags } = await import('../../src/cli/framework.js');
    const { values } = parseFlags(['--topics', 'a/#', '--topics', 'b/#'], { topics: { type: 'string', multiple: true } }, { min: 0, max: 0, names: '' });
    expect(values.topics).toEqual(['a/#', 'b/#']);
  });
});

describe('numbers in lists are decimal', () => {
  it("train --dense 0x10 is a usage error (it built a dense layer of 16 units)", async () => {
    const r = await runCaptured(['train', '--data', 'none.jsonl', '-o', 'm.ern', '--dense', '0x10'], commands, tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--dense needs a comma list of positive integers, got '0x10'/);
  });

  it("eval-kws --sweep 0x1 is a usage error (it was read as threshold 1)", () => {
    expect(() => sweepFlag('0.5,0x1')).toThrow(/--sweep takes thresholds/);
    expect(sweepFlag('0.5,1e-1')).toEqual([0.5, 0.1]);
  });
});

describe('a progress bar on a terminal', () => {
  // Drawn on a terminal that understands escape codes, whatever TERM the tests run under.
  beforeEach(() => vi.stubEnv('TERM', 'xterm'));
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  const conformanceDir = path.resolve('test/fixtures/onnx-node');

  it('conformance: each result line has a row of its own (the first one went on after the bar)', async () => {
    const { code, rows } = await onTerminal(['conformance', conformanceDir], commands);
    expect(code).toBe(0);
    const results = rows.filter((r) => /(PASS|FAIL) {2}/.test(r));
    expect(results.length).toBeGreaterThan(5);
    for (const r of results) expect(r, 'a result row').toMatch(/^(PASS|FAIL) {2}/);
    expect(rows.filter((r) => r.includes('['))).toEqual([]);
  });

  it('is not drawn where TERM=dumb (an Emacs shell shows the escape codes as text): the summary line only', () => {
    vi.stubEnv('TERM', 'dumb');
    const writes: string[] = [];
    const p = new Progress({ isTTY: true, columns: 80, write: (s: string) => writes.push(s) }, 'work', 2);
    p.tick();
    p.tick();
    p.done();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^work: 2\/2 in \d+\.\ds\n$/);
  });

  it('an error after a bar is drawn is on a row of its own', async () => {
    const failing: Framework.Command = {
      name: 'work',
      summary: 'fails half way',
      help: 'usage: edgernn work',
      async run(_args, ctx) {
        new Progress(ctx.stderr, 'work', 4).tick(2);
        throw new (await import('../../src/errors.js')).EdgeRnnError('BAD_DATA', 'line 3 is broken');
      },
    };
    const { code, rows } = await onTerminal(['work'], [failing]);
    expect(code).toBe(1);
    expect(rows).toContain('edgernn work: error [BAD_DATA]: line 3 is broken');
  });
});

describe('a usage error', () => {
  it('shows the message with the usage lines, not the whole help (train\'s scrolled the message off the screen)', async () => {
    const r = await runCaptured(['train', '--data', 'd.jsonl', '-o', 'm.ern', '--epochs', 'many'], commands, tmp);
    expect(r.code).toBe(2);
    const lines = r.err.trimEnd().split('\n');
    expect(lines[0]).toBe("edgernn train: --epochs needs an integer >= 1, got 'many'");
    expect(lines[2]).toMatch(/^usage: edgernn train /);
    expect(lines.at(-1)).toBe('(edgernn train --help for every option)');
    expect(lines.length).toBeLessThan(8);
  });
});

describe('outputs are written whole', () => {
  it('a full disk during run, convert or export leaves the previous output as it was, and no partial file', async () => {
    const { int8 } = randomQuantModel(3);
    fs.writeFileSync(path.join(tmp, 'w.ern'), encodeModel({ ...int8, name: 'whole', labels: [] }));
    fs.writeFileSync(path.join(tmp, 'w.json'), JSON.stringify([Array.from({ length: int8.input.size }, () => 0.5)]));
    expect((await runCaptured(['export', 'w.ern', '-o', 'w.onnx'], commands, tmp)).code).toBe(0);
    const runs = [
      ['run', 'w.ern', '-i', 'w.json', '-o', 'old.out'],
      ['convert', 'w.onnx', '--float', '-o', 'old.out'],
      ['export', 'w.ern', '-o', 'old.out'],
    ];
    const real = fs.writeFileSync;
    for (const argv of runs) {
      fs.writeFileSync(path.join(tmp, 'old.out'), 'the previous output');
      // The disk fills up half way through the write.
      const spy = vi.spyOn(fs, 'writeFileSync').mockImplementation((file, data) => {
        real(file, typeof data === 'string' ? data.slice(0, 5) : (data as Uint8Array).subarray(0, 5));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write', path: String(file) });
      });
      try {
        const r = await runCaptured(argv, commands, tmp);
        expect(r.code, argv[0]).toBe(1);
        expect(r.err, argv[0]).toMatch(/no space left on the device for \S*old\.out\n$/);
      } finally {
        spy.mockRestore();
      }
      expect(fs.readFileSync(path.join(tmp, 'old.out'), 'utf8'), argv[0]).toBe('the previous output');
      expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')), argv[0]).toEqual([]);
    }
  });
});

describe('--json is JSON alone on stdout', () => {
  it('har train --json (the CV report went to stdout before the JSON, and --only printed no JSON)', async () => {
    const { synthesizeRecording } = await import('../../firmware-sim/imu/generator.js');
    const { HMP_GENERATOR_MODEL } = await import('../../firmware-sim/imu/hmp-model.gen.js');
    // An HMP-layout folder of generator recordings: one per class and volunteer.
    const root = fs.mkdtempSync(path.join(tmp, 'hmp-'));
    let k = 0;
    for (const { activity: a } of HMP_GENERATOR_MODEL.activities) {
      const folder = path.join(root, a[0]!.toUpperCase() + a.slice(1));
      fs.mkdirSync(folder);
      for (const v of ['f1', 'm1', 'm2']) {
        const codes = synthesizeRecording(HMP_GENERATOR_MODEL, a, 5 + k);
        const rows = Array.from({ length: codes.length / 3 }, (_, t) => `${codes[3 * t]} ${codes[3 * t + 1]} ${codes[3 * t + 2]}`);
        fs.writeFileSync(path.join(folder, `Accelerometer-2011-03-24-10-${String(10 + k).padStart(2, '0')}-00-${a}-${v}.txt`), `${rows.join('\n')}\n`);
        k++;
      }
    }
    try {
      const recipe = JSON.stringify({ hidden: 4, epochs: 1, maxWindowsPerRecording: 2 });
      const common = ['--data', root, '--folds', '3', '--recipe', recipe, '--cache', path.join(tmp, 'har-cache'), '--json'];
      const partial = await runCaptured(['har', 'train', ...common, '--only', '0'], commands, tmp);
      expect(partial.code, partial.err).toBe(0);
      expect(JSON.parse(partial.out)).toMatchObject({ output: null });
      const full = await runCaptured(['har', 'train', ...common, '--out', 'har.ern'], commands, tmp);
      expect(full.code, full.err).toBe(0);
      expect(JSON.parse(full.out)).toMatchObject({ bytes: fs.statSync(path.join(tmp, 'har.ern')).size });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('edgernn --help', () => {
  it('names --version, which it takes', async () => {
    const r = await runCaptured(['--help'], commands, tmp);
    expect(r.out).toMatch(/edgernn --version/);
    expect((await runCaptured(['--version'], commands, tmp)).code).toBe(0);
  });

  it("'help help' is the command list (it was \"unknown command 'help'\", exit 2)", async () => {
    const r = await runCaptured(['help', 'help'], commands, tmp);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^edgernn: .*\n\nusage: edgernn <command>/);
  });
});

describe('error messages on the terminal', () => {
  it('show control and bidirectional-override characters from file names and contents as escapes (an ESC[2J cleared the screen)', async () => {
    const name = 'clip\u001b[2J\u202eniw.ern';
    fs.writeFileSync(path.join(tmp, name), 'not a model, just text that is long enough for a header of 64 bytes....');
    const r = await runCaptured(['info', name], commands, tmp);
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(/[\u001b\u202e]/);
    expect(r.err).toContain('clip\\u001b[2J\\u202eniw.ern');
    // A missing file the same way, and multi-line messages keep their lines.
    const missing = await runCaptured(['info', 'gone\u009b.ern'], commands, tmp);
    expect(missing.err).toContain('gone\\u009b.ern');
    expect(missing.err).not.toMatch(/\u009b/);
    expect((await import('../../src/cli/framework.js')).printable('line one\n\tline two\u001b', true)).toBe('line one\n\tline two\\u001b');
  });
});
