/**
 * `nab --results-dir` merges every detector into final_results.json and thresholds.json: a write
 * that fails half way (a full disk, a Ctrl-C) must leave the previous summary as it was.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { evaluateRun, makeNabSeries, parseNabDataCsv, writeResults, type NabCorpus } from '../../../quantize/eval/nab/index.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/nab');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nab-whole-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const excerpt = parseNabDataCsv(fs.readFileSync(path.join(FIXTURES, 'excerpts/exchange-3_cpc_results.head60.csv'), 'utf8'), 'excerpt');
const series = makeNabSeries('realAdExchange/exchange-3_cpc_results.csv', excerpt, [[excerpt.timestampText[10]!, excerpt.timestampText[19]!]]);
const corpus: NabCorpus = { series: [series], windowCount: 1, unlabelled: [] };
const run = { detector: 'toy', scores: [Float64Array.from({ length: 60 }, (_, i) => (i === 12 ? 0.9 : 0.1))] };

describe('writeResults on a failing disk', () => {
  it('keeps the previous final_results.json whole when writing the new one fails', () => {
    const dir = path.join(tmp, 'out');
    writeResults(dir, corpus, run, evaluateRun(corpus, run));
    const summary = path.join(dir, 'final_results.json');
    const before = fs.readFileSync(summary, 'utf8');
    // The disk fills up while the summary is written: what was opened is truncated, then ENOSPC.
    const real = fs.writeFileSync;
    vi.spyOn(fs, 'writeFileSync').mockImplementation((file, data, options) => {
      if (typeof file === 'string' && path.basename(file).startsWith('final_results.json')) {
        real(file, '');
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', path: file });
      }
      return real(file, data, options);
    });
    const run2 = { ...run, detector: 'toy2' };
    expect(() => writeResults(dir, corpus, run2, evaluateRun(corpus, run2))).toThrow(/ENOSPC/);
    vi.restoreAllMocks();
    expect(fs.readFileSync(summary, 'utf8')).toBe(before);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
