/**
 * examples/har-recording.mjs (activity recognition on a recording with the public package API)
 * run as a user runs it, on synthetic wrist recordings in the HMP format. Its verdict for each
 * recording must be the one `edgernn eval` reaches for that recording with its length (features
 * in one batch, windows scored by quantize/jobs/har/score.ts), over the same number of windows.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { desktopCommands } from '../../quantize/cli/index.js';
import { runCaptured } from '../helpers/cli.js';
import { writeSyntheticHmp } from '../quantize/jobs/har/hmp-fixture.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function example(...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'examples/har-recording.mjs'), ...args], { encoding: 'utf8' });
}

describe('examples/har-recording.mjs', () => {
  it("each recording's verdict is the one edgernn eval reaches with its length; the timeline covers it", async () => {
    const activities = ['walk', 'drink_glass', 'climb_stairs', 'sitdown_chair'];
    const root = writeSyntheticHmp(activities, ['f1'], 1, 40);
    try {
      for (const dir of fs.readdirSync(root)) {
        const file = path.join(root, dir, fs.readdirSync(path.join(root, dir))[0]!);
        const r = example(file, '--json');
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const got = JSON.parse(r.stdout) as { seconds: number; windows: number; verdict: string; timeline: { activity: string; fromS: number; toS: number }[] };
        // The oracle: eval on a folder holding this one recording.
        const one = fs.mkdtempSync(path.join(root, 'one-'));
        fs.mkdirSync(path.join(one, dir));
        fs.copyFileSync(file, path.join(one, dir, path.basename(file)));
        const e = await runCaptured(['eval', 'models/har.ern', '--data', one, '--json'], desktopCommands, ROOT);
        expect(e.code, e.err).toBe(0);
        const j = JSON.parse(e.out) as { labels: string[]; windows: { samples: number }; withLength: { confusion: number[][] } };
        const predicted = j.labels[j.withLength.confusion.flat().indexOf(1) % j.labels.length];
        expect(got.verdict, dir).toBe(predicted);
        expect(got.windows).toBe(j.windows.samples);
        // Runs of one label, back to back, from the first window's start to the last one's end.
        expect(got.timeline[0]!.fromS).toBe(0);
        got.timeline.slice(1).forEach((run, i) => expect(run.fromS).toBe(got.timeline[i]!.toS));
        expect(got.timeline.at(-1)!.toS).toBe(4 + (got.windows - 1));
        expect(got.timeline.every((run) => j.labels.includes(run.activity))).toBe(true);
        const lines = fs.readFileSync(file, 'utf8').trim().split('\n').length;
        expect(got.seconds).toBeCloseTo(lines / 32, 9);
      }
      const text = example(path.join(root, 'Walk', fs.readdirSync(path.join(root, 'Walk'))[0]!));
      expect(text.stdout).toMatch(/\d+\.\d s, \d+ windows, model har 1\.0\.0 on simd\n( +\d+\.\d-\d+\.\d +s {2}\w+\n)+ {2}the whole recording: \w+\n$/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a recording shorter than one window is padded in front as eval pads it: the same verdict, not "too short"', async () => {
    // 4.5 s at 32 Hz: longer than a 4 s window, but short of its frames plus the resampler's
    // delay (147 samples); six HMP chair transitions are that short. It gave 0 windows, no verdict.
    const root = writeSyntheticHmp(['sitdown_chair'], ['f1'], 1, 7);
    try {
      const dir = path.join(root, 'Sitdown_chair');
      const file = path.join(dir, fs.readdirSync(dir)[0]!);
      fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8').trim().split('\n').slice(0, 144).join('\n')}\n`);
      const r = example(file, '--json');
      expect([r.status, r.stderr]).toEqual([0, '']);
      const got = JSON.parse(r.stdout) as { seconds: number; windows: number; verdict: string | null; timeline: { fromS: number; toS: number }[] };
      const e = await runCaptured(['eval', 'models/har.ern', '--data', root, '--json'], desktopCommands, ROOT);
      expect(e.code, e.err).toBe(0);
      const j = JSON.parse(e.out) as { labels: string[]; windows: { samples: number }; withLength: { confusion: number[][] } };
      expect(got.windows).toBe(1);
      expect(got.windows).toBe(j.windows.samples);
      expect(got.verdict).toBe(j.labels[j.withLength.confusion.flat().indexOf(1) % j.labels.length]);
      // The timeline stays inside the recording (the padding is before its start).
      expect(got.timeline[0]!.fromS).toBe(0);
      expect(got.timeline.at(-1)!.toS).toBeLessThanOrEqual(got.seconds);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a recording in g, m/s² or milli-g is refused (exit 1), not decoded as 6-bit codes into a verdict', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-har-units-'));
    try {
      const lines = (row: string) => `${Array(200).fill(row).join('\n')}\n`;
      for (const [name, row, value] of [['ms2', '0.5 -9.7 1.2', 'ax = 0.5'], ['mg', '52 -989 120', 'ay = -989']] as const) {
        const file = path.join(dir, `${name}.txt`);
        fs.writeFileSync(file, lines(row));
        const r = example(file, '--json');
        expect([r.status, r.stdout]).toEqual([1, '']);
        expect(r.stderr).toBe(`${file}:1: ${value} is not a sensor code of this model (g = -1.5 + ${3 / 63} · code: whole numbers, 0..63 for models/har.ern); a recording in other units or at another rate than 32 Hz needs a front end for it (docs/har.md, "Another sensor")\n`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage without a file (exit 2); a line that is not three numbers is named (exit 1)', () => {
    const usage = example();
    expect([usage.status, usage.stderr]).toEqual([2, 'usage: node examples/har-recording.mjs RECORDING.txt [MODEL.ern] [--json]\n']);
    const root = writeSyntheticHmp(['walk'], ['f1'], 1, 3);
    try {
      const bad = path.join(root, 'bad.txt');
      fs.writeFileSync(bad, '31 40 21\n31 40\n');
      const r = example(bad);
      expect([r.status, r.stderr]).toEqual([1, `${bad}:2: expected 3 numbers (ax ay az), got "31 40"\n`]);
      // A number beyond float32 (the samples' type) is named too; it used to become Infinity and end in a stack trace.
      fs.writeFileSync(bad, '31 40 21\n31 1e39 21\n');
      const big = example(bad);
      expect([big.status, big.stdout, big.stderr]).toEqual([1, '', `${bad}:2: expected 3 numbers (ax ay az), got "31 1e39 21"\n`]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
