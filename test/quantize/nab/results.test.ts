import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isEdgeRnnError, type ErrorCode } from '../../../src/index.js';
import {
  checkResultsSummaries,
  evaluateRun,
  formatNabNumber,
  formatResultsCsv,
  formatScoresCsv,
  makeNabSeries,
  parseNabDataCsv,
  parseResultsCsv,
  parseScoresCsv,
  parseThresholdsJson,
  readResultsRun,
  resultsFilePath,
  checkResultsMatchSeries,
  writeResults,
  type NabCorpus,
} from '../../../quantize/eval/nab/index.js';
import { expectCode as expectError } from '../../helpers/errors.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/nab');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nab-results-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


const excerpt = parseNabDataCsv(fs.readFileSync(path.join(FIXTURES, 'excerpts/exchange-3_cpc_results.head60.csv'), 'utf8'), 'excerpt');
// A window over rows 10..19 of the excerpt.
const series = makeNabSeries('realAdExchange/exchange-3_cpc_results.csv', excerpt, [[excerpt.timestampText[10]!, excerpt.timestampText[19]!]]);

describe('results files', () => {
  it('round-trip exactly: timestamps, scores (shortest exact form) and labels', () => {
    const scores = Float64Array.from({ length: 60 }, (_, i) => (i === 0 ? 0 : i === 1 ? 1 : Math.sin(i) ** 2 / 3));
    const text = formatResultsCsv(series, scores);
    expect(text.split('\n')[0]).toBe('timestamp,value,anomaly_score,label');
    expect(text.split('\n')[1]).toBe('2011-07-01 00:15:01,0.102708933718,0.0,0');
    const back = parseResultsCsv(text, 'r.csv');
    expect(Array.from(back.anomalyScores)).toEqual(Array.from(scores));
    expect(back.timestampText).toEqual(excerpt.timestampText);
    expect(Array.from(back.labels!).map((l, i) => (l ? i : -1)).filter((i) => i >= 0)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(() => checkResultsMatchSeries(back, series, 'r.csv')).not.toThrow();
  });

  it('can round scores the way NAB v1.0 stored them (12 significant digits)', () => {
    expect(formatNabNumber(0.9999999997551234, 12)).toBe('0.999999999755');
    expect(formatNabNumber(0.99999999999996, 12)).toBe('1.0');
    expect(formatNabNumber(0.5)).toBe('0.5');
    expect(formatNabNumber(2.5e-7)).toBe('2.5e-7');
  });

  it("reads NAB's own results files (extra S(t) columns ignored)", () => {
    const nab = parseResultsCsv(fs.readFileSync(path.join(FIXTURES, 'excerpts/windowedGaussian_exchange-3_cpc_results.head60.csv'), 'utf8'), 'nab.csv');
    expect(nab.anomalyScores.length).toBe(60);
    expect(nab.anomalyScores[11]).toBe(0.999999999755);
    expect(() => checkResultsMatchSeries(nab, series, 'nab.csv')).not.toThrow();
  });

  it('places files in NAB\'s layout', () => {
    expect(resultsFilePath('windowedGaussian', series)).toBe('windowedGaussian/realAdExchange/windowedGaussian_exchange-3_cpc_results.csv');
  });

  it('rejects malformed results and results for another series', () => {
    expectError(() => parseResultsCsv('timestamp,value\n', 'r.csv'), 'BAD_INPUT_FILE', /^r\.csv: line 1: expected a header with 'timestamp' and 'anomaly_score' columns/);
    expectError(() => parseResultsCsv('timestamp,anomaly_score\n2014-01-01 00:00:00,1.5\n', 'r.csv'), 'ANOMALY_SCORE', /line 2: anomaly_score must be a number in \[0, 1\], got '1\.5'/);
    // Decimal numbers only ('0x1' and '0b1' were read as 1).
    for (const bad of ['0x1', '0b1', '0o0']) {
      expectError(() => parseResultsCsv(`timestamp,anomaly_score\n2014-01-01 00:00:00,${bad}\n`, 'r.csv'), 'ANOMALY_SCORE', new RegExp(`line 2: anomaly_score must be a number in \\[0, 1\\], got '${bad}'`));
    }
    expectError(() => parseResultsCsv('timestamp,anomaly_score\n2014-01-01 00:00:00,\n', 'r.csv'), 'ANOMALY_SCORE', /got ''/);
    expectError(() => parseResultsCsv('timestamp,anomaly_score\n2014-01-01 00:00:00\n', 'r.csv'), 'BAD_INPUT_FILE', /line 2: expected 2 fields, got 1/);
    expectError(() => parseResultsCsv('timestamp,anomaly_score,label\n2014-01-01 00:00:00,0.5,2\n', 'r.csv'), 'BAD_INPUT_FILE', /label must be 0 or 1, got '2'/);
    const short = parseResultsCsv('timestamp,anomaly_score\n2011-07-01 00:15:01,0.5\n', 'r.csv');
    expectError(() => checkResultsMatchSeries(short, series, 'r.csv'), 'ANOMALY_SCORE', /expected 60 rows like realAdExchange\/exchange-3_cpc_results\.csv, got 1/);
    const shifted = parseResultsCsv(formatResultsCsv(series, new Float64Array(60)).replace('2011-07-01 01:15:01', '2011-07-01 01:16:01'), 'r.csv');
    expectError(() => checkResultsMatchSeries(shifted, series, 'r.csv'), 'ANOMALY_SCORE', /row 2: timestamp '2011-07-01 01:16:01' does not match '2011-07-01 01:15:01'/);
    expectError(() => formatResultsCsv(series, new Float64Array(3)), 'ANOMALY_SCORE', /expected 60 anomaly scores/);
  });
});

describe('scores summaries and thresholds', () => {
  it("read NAB's published per-file scores (totals are the sums)", () => {
    for (const profile of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) {
      const s = parseScoresCsv(fs.readFileSync(path.join(FIXTURES, `published/windowedGaussian/windowedGaussian_${profile}_scores.csv`), 'utf8'), profile);
      expect(s.files.length).toBe(58);
      expect(s.profile).toBe(profile);
      expect(s.files.reduce((a, f) => a + f.score, 0)).toBeCloseTo(s.totals.score, 9);
      expect(s.files.reduce((a, f) => a + f.tp, 0)).toBe(s.totals.tp);
    }
  });

  it('round-trip our own summaries', () => {
    const files = [
      { relativePath: 'a/x.csv', threshold: 0.9, score: -1.25, tp: 3, tn: 10, fp: 2, fn: 4, total: 19 },
      { relativePath: 'b/y.csv', threshold: 0.9, score: 0.5, tp: 1, tn: 5, fp: 0, fn: 0, total: 6 },
    ];
    const back = parseScoresCsv(formatScoresCsv('det', 'standard', 0.9, files), 's.csv');
    expect(back.files).toEqual(files);
    expect(back.totals).toEqual({ score: -0.75, tp: 4, tn: 15, fp: 2, fn: 4, total: 25 });
  });

  it('reject malformed summaries and thresholds files', () => {
    expectError(() => parseScoresCsv('Detector,Profile\n', 's.csv'), 'BAD_INPUT_FILE', /line 1: expected header 'Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count'/);
    expectError(() => parseScoresCsv('Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\nd,standard,a.csv,0.5,x,1,1,1,1,4\n', 's.csv'), 'BAD_INPUT_FILE', /line 2: column 5 must be a number, got 'x'/);
    expectError(() => parseScoresCsv('Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\n', 's.csv'), 'BAD_INPUT_FILE', /expected a final 'Totals' row/);
    expectError(() => parseThresholdsJson('{"d": {"standard": {"threshold": "high"}}}', 't.json'), 'BAD_INPUT_FILE', /'d\.standard\.threshold' must be a finite number, got "high"/);
    expectError(() => parseThresholdsJson('nope', 't.json'), 'BAD_INPUT_FILE', /not valid JSON/);
    // A profile entry or a detector entry that is not an object (null crashed with a TypeError; [] was read as "no thresholds").
    expectError(() => parseThresholdsJson('{"d": {"standard": null}}', 't.json'), 'BAD_INPUT_FILE', /^t\.json: 'd\.standard': expected \{threshold, score\}, got null$/);
    expectError(() => parseThresholdsJson('{"d": {"standard": 0.5}}', 't.json'), 'BAD_INPUT_FILE', /'d\.standard': expected \{threshold, score\}, got 0\.5/);
    expectError(() => parseThresholdsJson('{"d": []}', 't.json'), 'BAD_INPUT_FILE', /'d': expected \{profile: \{threshold, score\}\}/);
    const t = parseThresholdsJson(fs.readFileSync(path.join(FIXTURES, 'published/thresholds.json'), 'utf8'), 't.json');
    expect(t.windowedGaussian!.standard!.threshold).toBe(1);
    expect(t.random!.reward_low_FP_rate!.threshold).toBe(0.9995117187500009);
  });
});

describe('writeResults / readResultsRun', () => {
  it('write NAB\'s layout and read it back to the same evaluation', () => {
    const corpus: NabCorpus = { series: [series], windowCount: 1, unlabelled: [] };
    const run = { detector: 'toy', scores: [Float64Array.from({ length: 60 }, (_, i) => (i === 12 ? 0.9 : i === 40 ? 0.95 : 0.1))] };
    const evaluation = evaluateRun(corpus, run);
    const dir = path.join(tmp, 'out');
    const written = writeResults(dir, corpus, run, evaluation);
    expect(written.map((f) => path.relative(dir, f)).sort()).toEqual([
      'final_results.json',
      'thresholds.json',
      'toy/realAdExchange/toy_exchange-3_cpc_results.csv',
      'toy/toy_reward_low_FN_rate_scores.csv',
      'toy/toy_reward_low_FP_rate_scores.csv',
      'toy/toy_standard_scores.csv',
    ]);
    const back = readResultsRun(dir, corpus, 'toy');
    expect(Array.from(back.scores[0]!)).toEqual(Array.from(run.scores[0]!));
    expect(evaluateRun(corpus, back)).toEqual(evaluation);
    // A second detector merges into the JSON summaries.
    writeResults(dir, corpus, { ...run, detector: 'toy2' }, { ...evaluation, detector: 'toy2' });
    const final = JSON.parse(fs.readFileSync(path.join(dir, 'final_results.json'), 'utf8')) as Record<string, Record<string, number>>;
    expect(Object.keys(final)).toEqual(['toy', 'toy2']);
    expect(final.toy!.standard).toBe(evaluation.profiles[0]!.normalizedScore);
    const scores = parseScoresCsv(fs.readFileSync(path.join(dir, 'toy/toy_standard_scores.csv'), 'utf8'), 's');
    expect(scores.totals.score).toBe(evaluation.profiles[0]!.rawScore);
    expectError(() => readResultsRun(dir, corpus, 'missing'), 'BAD_INPUT_FILE', /results file for realAdExchange\/exchange-3_cpc_results\.csv is missing/);
  });

  it('refuse to merge into a summary that is valid JSON but not an object (null crashed, [] and numbers lost the results)', () => {
    const corpus: NabCorpus = { series: [series], windowCount: 1, unlabelled: [] };
    const run = { detector: 'toy', scores: [Float64Array.from({ length: 60 }, (_, i) => (i === 12 ? 0.9 : 0.1))] };
    const evaluation = evaluateRun(corpus, run);
    for (const [name, text, got] of [
      ['final_results.json', 'null', 'null'],
      ['final_results.json', '[1, 2]', 'an array'],
      ['thresholds.json', '7', 'number'],
    ] as const) {
      const dir = fs.mkdtempSync(path.join(tmp, 'summary-'));
      fs.writeFileSync(path.join(dir, name), text);
      const message = new RegExp(`${name.replace('.', '\\.')}: expected a JSON object \\{detector: \\{profile: \\.\\.\\.\\}\\} to merge results into, got ${got}$`);
      expectError(() => checkResultsSummaries(dir), 'BAD_INPUT_FILE', message);
      expectError(() => writeResults(dir, corpus, run, evaluation), 'BAD_INPUT_FILE', message);
      expect(fs.readFileSync(path.join(dir, name), 'utf8')).toBe(text); // left as it was
    }
    // Absent summaries and folders are fine.
    expect(() => checkResultsSummaries(path.join(tmp, 'no-such-folder'))).not.toThrow();
  });
});
