/**
 * The three script examples given what a person mistypes: --help, an option they do not have, a
 * file that is not there or is a folder, a model file that is not a model, a model of another
 * job. Each says what is wrong in one line with the usual exit code (0 help, 2 usage, 1 the
 * rest); they ended in an uncaught error with a stack (ENOENT, EISDIR, EdgeRnnError, a TypeError
 * on a model of another job), or ran an other job's model silently (kws.ern on a CSV).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/io/wav.js';
import { tmpDir } from '../gateway/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const work = tmpDir('edgernn-example-args-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const cases = [
  { script: 'anomaly-csv', usage: 'SERIES.csv', input: 'series.csv', bytes: 'timestamp,value\n2014-02-01 00:00:00,1\n', model: 'anomaly', other: 'kws', kind: 'mfcc' },
  { script: 'har-recording', usage: 'RECORDING.txt', input: 'wrist.txt', bytes: '31 40 21\n', model: 'har', other: 'anomaly', kind: 'series' },
  { script: 'kws-wav', usage: 'RECORDING.wav', input: 'speech.wav', bytes: encodeWav(new Float32Array(1600), 16000), model: 'kws', other: 'har', kind: 'imu' },
] as const;

function run(script: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, `examples/${script}.mjs`), ...args], { encoding: 'utf8', cwd: work });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.each(cases)('examples/$script.mjs with bad arguments', (c) => {
  const usage = `usage: node examples/${c.script}.mjs ${c.usage} [MODEL.ern] [--json]\n`;
  const input = path.join(work, c.input);
  fs.writeFileSync(input, c.bytes);

  it('--help prints the usage (exit 0); an unknown option or a third file is a usage error (exit 2)', () => {
    expect(run(c.script, '--help')).toEqual({ status: 0, stdout: usage, stderr: '' });
    expect(run(c.script, input, '--jsn')).toEqual({ status: 2, stdout: '', stderr: usage });
    expect(run(c.script, input, 'model.ern', 'extra')).toEqual({ status: 2, stdout: '', stderr: usage });
  });

  it('a missing file, a folder, a file that is not a model, a model of another job: one line, exit 1, no stack', () => {
    const missing = path.join(work, 'missing.dat');
    const notModel = path.join(work, 'not-a-model.ern');
    fs.writeFileSync(notModel, 'hello');
    const other = path.join(ROOT, `models/${c.other}.ern`);
    const expectations: Array<[string[], RegExp]> = [
      [[missing], new RegExp(`^${missing}: ENOENT: no such file or directory`)],
      [[work], new RegExp(`^${work}: EISDIR`)],
      [[input, missing], new RegExp(`^${missing}: ENOENT`)],
      [[input, notModel], new RegExp(`^${notModel}: `)],
      [[input, other], new RegExp(`^${other}: a model with ${c.kind} front end; this example needs .*models/${c.model}\\.ern`)],
    ];
    for (const [args, message] of expectations) {
      const r = run(c.script, ...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('an empty input file', () => {
  it.each([
    ['anomaly-csv', 'timestamp,value\n', /: no readings \("timestamp,value" lines\)$/],
    ['har-recording', '\n\n', /: no samples \(an empty recording has no activity to tell\)$/],
  ])('examples/%s.mjs says so (exit 1); it reported 0 readings or 0 windows and exit 0', (script, text, message) => {
    const file = path.join(work, `empty-${script}.txt`);
    fs.writeFileSync(file, text);
    const r = run(script, file);
    expect([r.status, r.stdout]).toEqual([1, '']);
    expect(r.stderr.trim()).toMatch(message);
  });
});
