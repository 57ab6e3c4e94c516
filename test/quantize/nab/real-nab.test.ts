/**
 * End to end on real NAB files from ../shared/datasets/nab (skipped with a printed reason when it
 * is absent): run the windowed Gaussian detector, store scores the way NAB v1.0 did (12
 * significant digits) and score at NAB's threshold for it (1.0); every file must reproduce NAB's
 * published per-file scores and confusion counts (test/fixtures/nab/published). The whole
 * corpus is checked by test/bench/nab-baselines.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../../helpers/cli.js';
import { nabCommand } from '../../../quantize/cli/nab.js';
import { evaluateRun, loadNabCorpus, nabDetectorRegistry, parseScoresCsv, roundRun, runDetector } from '../../../quantize/eval/nab/index.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const NAB = path.resolve(REPO, '../shared/datasets/nab');
const FIXTURES = path.join(REPO, 'test/fixtures/nab');
const present = fs.existsSync(path.join(NAB, 'labels/combined_windows.json'));
if (!present) console.log(`skipping real-NAB checks: ${NAB} is absent (get the corpus from github.com/numenta/NAB)`);

// Short files of five categories, with and without windows.
const FILES = [
  'realAdExchange/exchange-3_cpc_results.csv',
  'realKnownCause/rogue_agent_key_hold.csv',
  'realTraffic/speed_7578.csv',
  'artificialWithAnomaly/art_daily_jumpsup.csv',
  'realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv',
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nab-real-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!present)('real NAB files (../shared/datasets/nab)', () => {
  const labels = path.join(tmp, 'windows.json');
  if (present) {
    const all = JSON.parse(fs.readFileSync(path.join(NAB, 'labels/combined_windows.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(labels, JSON.stringify(Object.fromEntries(FILES.map((f) => [f, all[f]]))));
  }

  it("windowed Gaussian reproduces NAB's published per-file scores and counts, all profiles", () => {
    const corpus = loadNabCorpus({ dataDir: path.join(NAB, 'data'), labelsPath: labels });
    expect(corpus.series.map((s) => s.relativePath)).toEqual([...FILES].sort());
    const run = roundRun(runDetector(corpus, nabDetectorRegistry().get('windowedGaussian')), 12);
    const evaluation = evaluateRun(corpus, run, { thresholds: { standard: 1, reward_low_FP_rate: 1, reward_low_FN_rate: 1 } });
    for (const p of evaluation.profiles) {
      const published = parseScoresCsv(fs.readFileSync(path.join(FIXTURES, `published/windowedGaussian/windowedGaussian_${p.profile}_scores.csv`), 'utf8'), p.profile);
      for (const f of p.files) {
        const want = published.files.find((w) => w.relativePath === f.relativePath)!;
        expect({ tp: f.tp, tn: f.tn, fp: f.fp, fn: f.fn }, `${p.profile} ${f.relativePath}`).toEqual({ tp: want.tp, tn: want.tn, fp: want.fp, fn: want.fn });
        // NAB printed 12 significant digits.
        expect(Math.abs(f.score - want.score), `${p.profile} ${f.relativePath}: ${f.score} vs ${want.score}`).toBeLessThan(1e-10);
      }
    }
  });

  it('the CLI gives the same numbers and writes NAB-format results', async () => {
    const { code, out, err } = await runCaptured(
      ['nab', '--data', path.join(NAB, 'data'), '--labels', labels, '--score-digits', '12', '--thresholds', path.join(FIXTURES, 'published/thresholds.json'), '--results-dir', path.join(tmp, 'results'), '--json'],
      [nabCommand],
      REPO,
    );
    expect(code, err).toBe(0);
    const json = JSON.parse(out) as { detectors: { windowedGaussian: Record<string, { rawScore: number }> } };
    const published = parseScoresCsv(fs.readFileSync(path.join(FIXTURES, 'published/windowedGaussian/windowedGaussian_standard_scores.csv'), 'utf8'), 's');
    const want = published.files.filter((f) => FILES.includes(f.relativePath)).reduce((a, f) => a + f.score, 0);
    expect(json.detectors.windowedGaussian.standard!.rawScore).toBeCloseTo(want, 9);
    const results = fs.readFileSync(path.join(tmp, 'results/windowedGaussian/realTraffic/windowedGaussian_speed_7578.csv'), 'utf8').split('\n');
    expect(results[0]).toBe('timestamp,value,anomaly_score,label');
    expect(results.length - 2).toBe(1127); // header + rows + trailing newline
  });
});
