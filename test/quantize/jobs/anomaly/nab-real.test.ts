/**
 * The learned detectors on two real NAB files (`edgernn nab --detector gru-predict`, the registry
 * entries, the int8 SIMD kernels). Skipped, with the reason printed, when ../shared is absent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nabCommand } from '../../../../quantize/cli/nab.js';
import { loadNabCorpus, nabDetectorRegistry, runDetector, type NabCorpus } from '../../../../quantize/eval/nab/index.js';
import { runCaptured } from '../../../helpers/cli.js';

const REPO = path.resolve(import.meta.dirname, '../../../..');
const NAB = path.resolve(REPO, '../shared/datasets/nab');
const FILES = ['artificialWithAnomaly/art_daily_jumpsup.csv', 'realAdExchange/exchange-3_cpc_results.csv'];
const present = fs.existsSync(path.join(NAB, 'data')) && fs.existsSync(path.join(NAB, 'labels/combined_windows.json'));
if (!present) console.log(`skipping the real-data NAB tests: ${NAB} not found (the NAB corpus, github.com/numenta/NAB)`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nab-gru-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A labels file with only FILES, so the corpus loader reads two files. */
function twoFileCorpus(): { labels: string; corpus: NabCorpus } {
  const all = JSON.parse(fs.readFileSync(path.join(NAB, 'labels/combined_windows.json'), 'utf8')) as Record<string, unknown>;
  const labels = path.join(tmp, 'windows.json');
  fs.writeFileSync(labels, JSON.stringify(Object.fromEntries(FILES.map((f) => [f, all[f]]))));
  return { labels, corpus: loadNabCorpus({ dataDir: path.join(NAB, 'data'), labelsPath: labels }) };
}

describe.skipIf(!present)('gru-predict on real NAB files', () => {
  it('runs through the registry: scores in [0, 1], 0 in probation, the labelled jump above every false alarm, no look-ahead', () => {
    const { corpus } = twoFileCorpus();
    expect(corpus.series.map((s) => s.relativePath)).toEqual(FILES);
    const entry = nabDetectorRegistry().get('gru-predict');
    const run = runDetector(corpus, entry);
    const jumps = corpus.series[0]!;
    const scores = run.scores[0]!;
    const p = jumps.probationaryLength;
    expect(Array.from(scores.subarray(0, p)).every((x) => x === 0)).toBe(true);
    const w = jumps.windows[0]!;
    let inside = 0;
    let outside = 0;
    scores.forEach((x, t) => {
      if (t < p) return;
      if (t >= w.start && t <= w.end) inside = Math.max(inside, x);
      else outside = Math.max(outside, x);
    });
    expect(inside).toBeGreaterThan(outside);
    expect(inside).toBeGreaterThanOrEqual(0.5);
    // No look-ahead on real data: the first 1000 records alone give the same scores.
    const exchange = corpus.series[1]!;
    const d = entry.create({ probationaryLength: exchange.probationaryLength, name: exchange.relativePath });
    const prefix = Array.from({ length: 1000 }, (_, t) => d.update(exchange.timestamps[t]!, exchange.values[t]!));
    expect(prefix).toEqual(Array.from(run.scores[1]!.subarray(0, 1000)));
  });

  it('edgernn nab --detector gru-predict,ablation-spatial --json scores the two files', async () => {
    const { labels } = twoFileCorpus();
    const { code, out, err } = await runCaptured(['nab', '--data', path.join(NAB, 'data'), '--labels', labels, '--detector', 'gru-predict,ablation-spatial', '--json'], [nabCommand], tmp);
    expect(code, err).toBe(0);
    const json = JSON.parse(out) as { corpus: { files: number; windows: number }; detectors: Record<string, Record<string, { score: number }>> };
    expect(json.corpus).toMatchObject({ files: 2, windows: 4 });
    for (const name of ['gru-predict', 'ablation-spatial']) {
      for (const profile of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) expect(json.detectors[name]![profile]!.score).toBeTypeOf('number');
    }
    // Four windows, two files: the learned detector finds more than nothing.
    expect(json.detectors['gru-predict']!.standard!.score).toBeGreaterThan(0);
  });
});
