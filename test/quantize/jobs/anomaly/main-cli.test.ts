/**
 * `npm run train:anomaly` (quantize/jobs/anomaly/main.ts) and its arguments: bad ones are usage
 * errors (exit 2, the message and the usage), as in every edgernn command; an unknown flag
 * printed Node's stack trace (exit 1). Every case points --data at a folder that does not exist,
 * so nothing trains even if the arguments were let through: that is exit 1, the missing corpus.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = path.resolve(import.meta.dirname, '../../../../quantize/jobs/anomaly/main.ts');
const NO_DATA = ['--data', path.resolve(import.meta.dirname, 'no-such-nab-folder')];

function trainAnomaly(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('npm run train:anomaly: arguments', () => {
  it('an unknown flag, a stray argument, a bad number or date: exit 2 with the usage, no stack trace', () => {
    for (const [args, msg] of [
      [['--bogus'], /train:anomaly: Unknown option '--bogus'/],
      [['extra'], /train:anomaly: unexpected argument 'extra'/i],
      [['--epochs', '0'], /--epochs needs an integer >= 1, got '0'/],
      [['--created-at', 'yesterday'], /--created-at needs an ISO date, got 'yesterday'/],
    ] as const) {
      const r = trainAnomaly(...args, ...NO_DATA);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err).toContain('npm run train:anomaly -- [--data DIR]');
      expect(r.err).not.toMatch(/ERR_PARSE_ARGS|\n\s+at /);
    }
  });

  it('-o naming a folder, or a path under a file, is a usage error (exit 2) before the data and the training', () => {
    const here = import.meta.dirname;
    for (const [out, msg] of [
      [here, /-o ".*" is a folder, expected a file/],
      ['some/dir/', /-o "some\/dir\/" is a folder, expected a file/],
      [path.join(import.meta.filename, 'anomaly.ern'), /main-cli\.test\.ts is a file, not a folder/],
    ] as const) {
      const r = trainAnomaly('-o', out, ...NO_DATA);
      expect(r.code, out).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/NAB corpus not found/);
    }
  });

  it('--help prints the usage (exit 0); a missing corpus is a failure (exit 1), after the arguments', () => {
    const h = trainAnomaly('--help');
    expect(h.code).toBe(0);
    expect(h.out).toContain('npm run train:anomaly -- [--data DIR]');
    const missing = trainAnomaly(...NO_DATA);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/NAB corpus not found/);
  });
});
