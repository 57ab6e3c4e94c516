import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isEdgeRnnError, type ErrorCode } from '../../../src/index.js';
import { attachWindows, loadNabCorpus, parseNabDataCsv, parseNabTimestamp, parseNabWindows } from '../../../quantize/eval/nab/index.js';
import { expectCode as expectError } from '../../helpers/errors.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/nab');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nab-corpus-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


describe('NAB data files', () => {
  it('reads a real excerpt with CRLF line ends, keeping the original text', () => {
    const d = parseNabDataCsv(fs.readFileSync(path.join(FIXTURES, 'excerpts/exchange-3_cpc_results.head60.csv'), 'utf8'), 'x.csv');
    expect(d.values.length).toBe(60);
    expect(d.timestampText[0]).toBe('2011-07-01 00:15:01');
    expect(d.timestamps[0]).toBe(Date.UTC(2011, 6, 1, 0, 15, 1));
    expect(d.valueText[0]).toBe('0.102708933718');
    expect(d.values[0]).toBe(0.102708933718);
  });

  it('reads timestamps as UTC instants, with optional microseconds', () => {
    expect(parseNabTimestamp('2014-04-10 07:15:00.000000')).toBe(parseNabTimestamp('2014-04-10 07:15:00'));
    expect(parseNabTimestamp('2014-04-10 07:15:00.5')).toBe(Date.UTC(2014, 3, 10, 7, 15, 0) + 500);
    expect(parseNabTimestamp('2014-02-30 00:00:00')).toBeNaN(); // no rollover
    expect(parseNabTimestamp('10/04/2014 07:15')).toBeNaN();
  });

  it('keeps repeated and out-of-order timestamps in file order, as NAB does', () => {
    const d = parseNabDataCsv('timestamp,value\n2014-03-09 03:00:00,1\n2014-03-09 03:00:00,2\n2014-03-09 02:00:00,3\n', 'x.csv');
    expect(Array.from(d.values)).toEqual([1, 2, 3]);
  });

  it('rejects malformed files naming the file, line, expected and found', () => {
    expectError(() => parseNabDataCsv('time,value\n2014-01-01 00:00:00,1\n', 'a.csv'), 'BAD_INPUT_FILE', /^a\.csv: line 1: expected header 'timestamp,value', got 'time,value'$/);
    expectError(() => parseNabDataCsv('timestamp,value\n', 'a.csv'), 'BAD_INPUT_FILE', /expected at least one data row/);
    expectError(() => parseNabDataCsv('timestamp,value\n2014-01-01 00:00:00,1,2\n', 'a.csv'), 'BAD_INPUT_FILE', /line 2: expected 2 fields/);
    expectError(() => parseNabDataCsv('timestamp,value\n2014-01-01 00:00:00\n', 'a.csv'), 'BAD_INPUT_FILE', /line 2: expected 2 fields/);
    expectError(() => parseNabDataCsv('timestamp,value\n2014-13-01 00:00:00,1\n', 'a.csv'), 'BAD_INPUT_FILE', /line 2: expected a timestamp 'YYYY-MM-DD HH:MM:SS', got '2014-13-01 00:00:00'/);
    for (const bad of ['abc', '', 'inf', 'NaN', 'Infinity']) {
      expectError(() => parseNabDataCsv(`timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,${bad}\n`, 'a.csv'), 'BAD_INPUT_FILE', new RegExp(`line 3: expected a finite number for value, got '${bad}'`));
    }
  });
});

describe('NAB data values', () => {
  it("reads decimal numbers only: '0x10', '0b11', '0o7' were read as 16, 3 and 7", () => {
    for (const bad of ['0x10', '0b11', '0o7', '0X1F', '1_000', '1,5']) {
      expect(() => parseNabDataCsv(`timestamp,value\n2014-01-01 00:00:00,${bad}\n`, 'a.csv'), bad).toThrow(bad === '1,5' ? /line 2: expected 2 fields/ : new RegExp(`line 2: expected a finite number for value, got '${bad}'`));
    }
    const ok = ['12', '-3.5', '+5', '.5', '5.', '1e-05', '2.2E+3', ' 7 ', '0.102708933718'];
    const d = parseNabDataCsv(`timestamp,value\n${ok.map((v, i) => `2014-01-01 00:0${i}:00,${v}`).join('\n')}\n`, 'a.csv');
    expect(Array.from(d.values)).toEqual([12, -3.5, 5, 0.5, 5, 1e-5, 2200, 7, 0.102708933718]);
  });
});

describe('NAB windows', () => {
  const data = parseNabDataCsv('timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n2014-01-01 00:05:00,2\n2014-01-01 00:10:00,3\n2014-01-01 00:15:00,4\n2014-01-01 00:20:00,5\n', 'x.csv');

  it('maps edges to rows (a repeated timestamp means its first row)', () => {
    expect(attachWindows('x.csv', data, [['2014-01-01 00:05:00.000000', '2014-01-01 00:10:00.000000']])).toEqual([{ start: 1, end: 3 }]);
    expect(attachWindows('x.csv', data, [['2014-01-01 00:00:00', '2014-01-01 00:00:00'], ['2014-01-01 00:15:00', '2014-01-01 00:20:00']])).toEqual([
      { start: 0, end: 0 },
      { start: 4, end: 5 },
    ]);
  });

  it('rejects windows that do not fit the series', () => {
    expectError(() => attachWindows('x.csv', data, [['2014-01-01 00:01:00', '2014-01-01 00:10:00']]), 'NAB_WINDOWS', /x\.csv window 0: edge '2014-01-01 00:01:00' is not a timestamp of the series/);
    expectError(() => attachWindows('x.csv', data, [['2014-01-01 00:10:00', '2014-01-01 00:05:00']]), 'NAB_WINDOWS', /window 0: start '2014-01-01 00:10:00' is after end/);
    expectError(
      () => attachWindows('x.csv', data, [['2014-01-01 00:05:00', '2014-01-01 00:15:00'], ['2014-01-01 00:15:00', '2014-01-01 00:20:00']]),
      'NAB_WINDOWS',
      /window 1: starts at '2014-01-01 00:15:00', not after the end of window 0/,
    );
    expectError(
      () => attachWindows('x.csv', data, [['2014-01-01 00:15:00', '2014-01-01 00:20:00'], ['2014-01-01 00:00:00', '2014-01-01 00:05:00']]),
      'NAB_WINDOWS',
      /sorted and disjoint/,
    );
  });

  it('rejects malformed window files', () => {
    expectError(() => parseNabWindows('{"a.csv": [', 'w.json'), 'BAD_INPUT_FILE', /^w\.json: not valid JSON/);
    expectError(() => parseNabWindows('[]', 'w.json'), 'BAD_INPUT_FILE', /expected a JSON object mapping data files to window lists, got an array/);
    expectError(() => parseNabWindows('{"a.csv": "x"}', 'w.json'), 'BAD_INPUT_FILE', /'a\.csv': expected a list of \[start, end\] windows, got string/);
    expectError(() => parseNabWindows('{"a.csv": [["2014-01-01 00:00:00"]]}', 'w.json'), 'BAD_INPUT_FILE', /'a\.csv' window 0: expected \["start", "end"\] timestamp strings/);
    expectError(() => parseNabWindows('{"a.csv": [["2014-01-01", "2014-01-02"]]}', 'w.json'), 'BAD_INPUT_FILE', /'a\.csv' window 0: expected a timestamp/);
  });

  it('parses NAB\'s own tiny label file', () => {
    const tiny = parseNabWindows('{"realKnownCause/nyc_taxi.csv": [["2014-10-30 15:30:00.000000", "2014-11-03 22:30:00.000000"]], "b.csv": []}', 'w.json');
    expect(tiny.get('realKnownCause/nyc_taxi.csv')).toEqual([['2014-10-30 15:30:00.000000', '2014-11-03 22:30:00.000000']]);
    expect(tiny.get('b.csv')).toEqual([]);
  });
});

describe('loadNabCorpus', () => {
  const dataDir = path.join(tmp, 'data');
  fs.mkdirSync(path.join(dataDir, 'cat'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'cat', 'a.csv'), 'timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n');
  fs.writeFileSync(path.join(dataDir, 'cat', 'extra.csv'), 'timestamp,value\n2014-01-01 00:00:00,1\n');

  it('loads the labelled files, counts windows and lists unlabelled ones', () => {
    const labels = path.join(tmp, 'labels.json');
    fs.writeFileSync(labels, JSON.stringify({ 'cat/a.csv': [['2014-01-01 00:05:00', '2014-01-01 00:05:00']] }));
    const c = loadNabCorpus({ dataDir, labelsPath: labels });
    expect(c.series.map((s) => [s.relativePath, s.category, s.fileName, s.windows, s.probationaryLength])).toEqual([['cat/a.csv', 'cat', 'a.csv', [{ start: 1, end: 1 }], 0]]);
    expect(c.windowCount).toBe(1);
    expect(c.unlabelled).toEqual(['cat/extra.csv']);
  });

  it('names a labelled file that is missing, and a data folder that is not one', () => {
    const labels = path.join(tmp, 'labels-missing.json');
    fs.writeFileSync(labels, JSON.stringify({ 'cat/nope.csv': [] }));
    expectError(() => loadNabCorpus({ dataDir, labelsPath: labels }), 'NAB_WINDOWS', /labels name 'cat\/nope\.csv' but .*nope\.csv does not exist/);
    expectError(() => loadNabCorpus({ dataDir: path.join(tmp, 'labels.json'), labelsPath: labels }), 'BAD_INPUT_FILE', /expected a NAB data folder/);
  });

  it("refuses label keys that are not '<category>/<file>.csv' inside the data folder", () => {
    // Outside the data folder, yet readable: '../outside.csv' was loaded and scored.
    fs.writeFileSync(path.join(tmp, 'outside.csv'), 'timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n');
    const window = [['2014-01-01 00:05:00', '2014-01-01 00:05:00']];
    for (const key of ['../outside.csv', 'cat/../../outside.csv', 'cat//a.csv', 'cat/./a.csv', './cat/a.csv', `${dataDir}/cat/a.csv`, 'cat\\a.csv']) {
      const labels = path.join(tmp, 'labels-key.json');
      // 'cat//a.csv' next to 'cat/a.csv' scored the same file twice (and listed cat/a.csv as unlabelled).
      fs.writeFileSync(labels, JSON.stringify({ [key]: window, 'cat/a.csv': window }));
      expectError(() => loadNabCorpus({ dataDir, labelsPath: labels }), 'NAB_WINDOWS', new RegExp(`'${key.replace(/[.\\/\\\\]/g, '\\$&')}' is not a path inside the data folder in NAB's form '<category>/<file>\\.csv'`));
    }
  });

  it('refuses a corpus whose score would be 0/0 (it printed NaN and exited 0): no files, or no windows', () => {
    const none = path.join(tmp, 'labels-none.json');
    fs.writeFileSync(none, '{}');
    expectError(() => loadNabCorpus({ dataDir, labelsPath: none }), 'BAD_INPUT_FILE', /labels-none\.json: lists no data files: expected \{"<category>\/<file>\.csv": \[\["start", "end"\], \.\.\.\], \.\.\.\}/);
    const noWindows = path.join(tmp, 'labels-no-windows.json');
    fs.writeFileSync(noWindows, JSON.stringify({ 'cat/a.csv': [] }));
    expectError(() => loadNabCorpus({ dataDir, labelsPath: noWindows }), 'NAB_WINDOWS', /the 1 labelled file has no anomaly window, so NAB's normalized score .* is undefined/);
  });
});
