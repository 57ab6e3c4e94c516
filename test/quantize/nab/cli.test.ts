import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DetectorRegistry, WindowedGaussianDetector } from '../../../src/index.js';
import { createNabCommand, nabCommand } from '../../../quantize/cli/nab.js';
import { parseResultsCsv } from '../../../quantize/eval/nab/index.js';
import { runCaptured } from '../../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nab-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], command = nabCommand): ReturnType<typeof runCaptured> {
  return runCaptured(args, [command], tmp);
}

// A synthetic two-file corpus: a level shift inside the window of one file.
const dataDir = path.join(tmp, 'data');
const labels = path.join(tmp, 'windows.json');
{
  const rows = (n: number, f: (i: number) => number): string =>
    `timestamp,value\n${Array.from({ length: n }, (_, i) => `${new Date(Date.UTC(2015, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' ')},${f(i)}`).join('\n')}\n`;
  const ts = (i: number): string => new Date(Date.UTC(2015, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' ');
  fs.mkdirSync(path.join(dataDir, 'synthetic'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'synthetic', 'shift.csv'), rows(400, (i) => (i >= 250 ? 10 : 0) + ((i * 7919) % 13) / 13));
  fs.writeFileSync(path.join(dataDir, 'synthetic', 'quiet.csv'), rows(300, (i) => ((i * 104729) % 17) / 17));
  fs.writeFileSync(labels, JSON.stringify({ 'synthetic/shift.csv': [[ts(240), ts(279)]], 'synthetic/quiet.csv': [] }));
}

describe('edgernn nab', () => {
  it('scores detectors and prints JSON per profile; null is 0', async () => {
    const r = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--detector', 'null,windowedGaussian', '--json']);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out) as { corpus: { files: number; rows: number; windows: number }; optimizer: string; detectors: Record<string, Record<string, { score: number; threshold: number; rawScore: number; tp: number }>> };
    expect(json.corpus).toMatchObject({ files: 2, rows: 700, windows: 1 });
    expect(json.optimizer).toBe('sweep');
    for (const p of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) expect(json.detectors.null![p]!.score).toBe(0);
    // The level shift at row 250 is caught inside the window [240, 279]: a positive score.
    expect(json.detectors.windowedGaussian!.standard!.score).toBeGreaterThan(50);
    expect(r.err).toMatch(/nab windowedGaussian: 700\/700/); // progress summary on stderr
  });

  it('writes NAB results that --from-results scores identically', async () => {
    const out = path.join(tmp, 'results');
    const a = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--detector', 'random', '--results-dir', out, '--json']);
    expect(a.code, a.err).toBe(0);
    const file = path.join(out, 'random', 'synthetic', 'random_shift.csv');
    const parsed = parseResultsCsv(fs.readFileSync(file, 'utf8'), file);
    expect(parsed.anomalyScores[0]).toBe(0.6394267984578837); // CPython random.seed(42)
    expect(parsed.labels!.reduce((s, l) => s + l, 0)).toBe(40);
    const b = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--detector', 'random', '--from-results', out, '--json']);
    expect(b.code, b.err).toBe(0);
    expect((JSON.parse(b.out) as { detectors: unknown }).detectors).toEqual((JSON.parse(a.out) as { detectors: unknown }).detectors);
    expect(fs.existsSync(path.join(out, 'final_results.json'))).toBe(true);
  });

  it('prints a table, uses fixed thresholds, the twiddle optimizer and score rounding', async () => {
    const thresholds = path.join(tmp, 'thresholds.json');
    fs.writeFileSync(thresholds, JSON.stringify({ windowedGaussian: { standard: { threshold: 1.0 }, reward_low_FP_rate: { threshold: 1.0 }, reward_low_FN_rate: { threshold: 1.0 } } }));
    const r = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--thresholds', 'thresholds.json', '--score-digits', '12']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^NAB: 2 files, 700 rows, 1 windows; thresholds: fixed thresholds; scores rounded to 12 digits/);
    expect(r.out).toMatch(/\n {2}standard +-?\d+\.\d\d {2}1 /);
    const t = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--optimizer', 'twiddle', '--json']);
    expect(JSON.parse(t.out).optimizer).toBe('twiddle');
  });

  it('looks detectors up in the registry it is given (the GRU plug-in point)', async () => {
    const registry = () =>
      new DetectorRegistry().register({ name: 'myDetector', summary: 'test', create: () => new WindowedGaussianDetector({ windowSize: 50, stepSize: 5 }) });
    const command = createNabCommand({ registry });
    expect((await cli(['nab', '--help'], command)).out).toMatch(/known: myDetector/);
    const r = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--detector', 'myDetector', '--json'], command);
    expect(r.code, r.err).toBe(0);
    expect(Object.keys(JSON.parse(r.out).detectors)).toEqual(['myDetector']);
    // A detector that breaks the [0, 1] contract is reported, not scored.
    const bad = createNabCommand({ registry: () => new DetectorRegistry().register({ name: 'bad', summary: '', create: () => ({ name: 'bad', update: () => 2 }) }) });
    const e = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--detector', 'bad'], bad);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/error \[ANOMALY_SCORE\]: bad on synthetic\/quiet\.csv: row 0: anomaly score must be in \[0, 1\], got 2/);
  });

  it('reports usage errors (exit 2) and bad inputs (exit 1) by name', async () => {
    expect((await cli(['nab', '--labels', 'windows.json'])).err).toMatch(/--data DIR is required/);
    expect((await cli(['nab', '--data', 'data'])).code).toBe(2);
    const unknown = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--detector', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown detector 'nope', expected one of: null, random, windowedGaussian/);
    expect((await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--optimizer', 'grid'])).err).toMatch(/--optimizer must be one of sweep, twiddle, got 'grid'/);
    expect((await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--score-digits', '40'])).code).toBe(2);
    const missing = await cli(['nab', '--data', 'data', '--labels', 'nope.json']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no such file: .*nope\.json/);
    const folder = await cli(['nab', '--data', 'data', '--labels', 'data']);
    expect([folder.code, folder.err]).toEqual([1, `edgernn nab: ${path.join(tmp, 'data')} is a folder, expected a file\n`]);
    fs.writeFileSync(path.join(tmp, 'bad-thresholds.json'), JSON.stringify({ other: {} }));
    const noEntry = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--thresholds', 'bad-thresholds.json']);
    expect(noEntry.code).toBe(1);
    expect(noEntry.err).toMatch(/no thresholds for detector 'windowedGaussian' \(has: other\)/);
  });

  it('says which thresholds were fixed: profiles a thresholds file leaves out are optimized', async () => {
    fs.writeFileSync(path.join(tmp, 'partial-thresholds.json'), JSON.stringify({ windowedGaussian: { standard: { threshold: 1.0 } } }));
    const partial = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--thresholds', 'partial-thresholds.json', '--json']);
    expect(partial.code, partial.err).toBe(0);
    const json = JSON.parse(partial.out) as { optimizer: string; detectors: { windowedGaussian: Record<string, { threshold: number }> } };
    expect(json.detectors.windowedGaussian.standard!.threshold).toBe(1);
    expect(json.optimizer).toBe('fixed thresholds where given, else sweep'); // was 'fixed thresholds'
    fs.writeFileSync(path.join(tmp, 'empty-thresholds.json'), JSON.stringify({ windowedGaussian: {} }));
    const none = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--thresholds', 'empty-thresholds.json', '--optimizer', 'twiddle']);
    expect(none.code, none.err).toBe(0);
    expect(none.out).toMatch(/^NAB: 2 files, 700 rows, 1 windows; thresholds: twiddle\n/);
  });

  it('a thresholds file without an entry for a later detector fails before any detector runs', async () => {
    fs.writeFileSync(path.join(tmp, 'null-thresholds.json'), JSON.stringify({ null: { standard: { threshold: 0.5 } } }));
    const r = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--detector', 'null,windowedGaussian', '--thresholds', 'null-thresholds.json']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no thresholds for detector 'windowedGaussian' \(has: null\)/);
    // No progress summary: neither detector ran (the GRU detectors train for minutes).
    expect(r.err).not.toMatch(/nab null:/);
  });

  it('a --results-dir that cannot take the results fails before any detector runs', async () => {
    fs.writeFileSync(path.join(tmp, 'results-file'), 'not a folder');
    const file = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--results-dir', 'results-file']);
    expect(file.code).toBe(2);
    expect(file.err).toMatch(/^edgernn nab: --results-dir results-file: is a file, expected a folder\n/);
    const below = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--results-dir', 'results-file/out']);
    expect(below.code).toBe(2);
    expect(below.err).toMatch(/--results-dir results-file\/out: .*results-file is a file, not a folder/);
    fs.mkdirSync(path.join(tmp, 'results-null'));
    fs.writeFileSync(path.join(tmp, 'results-null', 'final_results.json'), 'null');
    const summary = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--results-dir', 'results-null']);
    expect(summary.code).toBe(1);
    expect(summary.err).toMatch(/error \[BAD_INPUT_FILE\]: .*final_results\.json: expected a JSON object .* got null/);
    // '' resolved to the working folder, and the results were written there.
    const empty = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--results-dir', '']);
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/^edgernn nab: --results-dir needs a folder, got ""\n/);
    expect(fs.existsSync(path.join(tmp, 'final_results.json'))).toBe(false);
    // No progress summary: the detector never ran (it used to run first and fail at the write).
    for (const r of [file, below, summary, empty]) expect(r.err).not.toMatch(/nab windowedGaussian:/);
  });

  it('--from-results refuses detector names that are not one folder name (they reached outside the results folders)', async () => {
    for (const name of ['../random', 'a/b', 'a\\b', '..', '.']) {
      const r = await cli(['nab', '--data', 'data', '--labels', 'windows.json', '--from-results', 'results', '--detector', name]);
      expect(r.code, name).toBe(2);
      expect(r.err).toContain(`edgernn nab: --detector '${name}': a detector name is a folder of the results layout`);
    }
  });

  it('a label file naming a folder is an error naming the entry', async () => {
    fs.writeFileSync(path.join(tmp, 'folder-windows.json'), JSON.stringify({ synthetic: [], 'synthetic/shift.csv': [] }));
    const r = await cli(['nab', '--data', 'data', '--labels', 'folder-windows.json']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error \[NAB_WINDOWS\]: .*folder-windows\.json: labels name 'synthetic' but .*synthetic is not a file/);
  });
});
