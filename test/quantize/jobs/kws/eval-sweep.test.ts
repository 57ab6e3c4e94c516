/**
 * `eval-kws --sweep`: the shipped model over a short stream built from the committed fixture clips
 * (held-out voices, each correctly classified as a clip), scored at several uniform thresholds;
 * and the flag's usage errors.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { decodeModel } from '../../../../src/index.js';
import { desktopCommands } from '../../../../quantize/cli/index.js';
import { sweepFlag } from '../../../../quantize/jobs/kws/cli.js';
import { DEFAULT_SWEEP, evaluateKwsFile, formatKwsEval } from '../../../../quantize/jobs/kws/eval-job.js';
import { runCaptured } from '../../../helpers/cli.js';
import { fixtureStream } from './fixture-stream.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/kws');

describe('eval-kws --sweep', () => {
  it('scores the stream at each uniform threshold: a low one fires more and misses no more, the sweep is printed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-kws-sweep-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const n = fixtureStream(dir);
    const r = await evaluateKwsFile(path.join(ROOT, 'models/kws.ern'), { data: FIXTURES, stream: dir, sweep: [0.05, 0.99], cacheDir: path.join(dir, 'cache'), backend: 'auto' });
    expect(r.stream!.keywords).toBe(n);
    // Served as the manifest says: its sliding windows, or one never-reset session.
    const fe = decodeModel(new Uint8Array(fs.readFileSync(path.join(ROOT, 'models/kws.ern')))).spec.input.frontend as { windows?: unknown };
    expect(r.stream!.windows).toEqual(fe.windows ?? null);
    expect(r.sweep!.map((p) => p.threshold)).toEqual([0.05, 0.99]);
    const [low, high] = r.sweep!;
    // The thresholds take effect: at 0.05 the detector fires on more (the _unknown_ clips, the
    // gaps) and misses no more keywords than at 0.99.
    expect(low!.falseAcceptsPerHour).toBeGreaterThan(high!.falseAcceptsPerHour);
    expect(low!.missRate).toBeLessThanOrEqual(high!.missRate);
    expect(formatKwsEval(r, ['yes'])).toMatch(/threshold sweep on the stream[\s\S]*0\.05[\s\S]*0\.99/);
  }, 60_000);

  it('--sweep all is the default list; bad thresholds and a sweep without a stream are usage errors', async () => {
    expect(sweepFlag('all')).toEqual([...DEFAULT_SWEEP]);
    expect(sweepFlag('0.5,0.9')).toEqual([0.5, 0.9]);
    for (const bad of ['2', '0', 'x', '0.5,']) {
      const r = await runCaptured(['eval-kws', '--sweep', bad, '--stream', 'none'], desktopCommands, ROOT);
      expect(r.code, bad).toBe(2);
      expect(r.err).toMatch(/--sweep takes thresholds in \(0, 1\]/);
    }
    const r = await runCaptured(['eval-kws', '--sweep', 'all', '--stream', 'none'], desktopCommands, ROOT);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--sweep needs a stream/);
  });
});
