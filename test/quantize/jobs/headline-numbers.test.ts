/**
 * The headline numbers of README.md and docs/{har,kws,anomaly}.md are the shipped models'
 * manifests: a model retrained without its docs re-measured (or docs edited by hand) fails here.
 * Also checks that each manifest agrees with itself (an accuracy equals its confusion's trace).
 * Numbers are compared as the docs print them: to the printed precision, half a unit either way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, type ModelSpec } from '../../../src/index.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const read = (rel: string): string => fs.readFileSync(path.join(REPO, rel), 'utf8');
const spec = (name: string): ModelSpec => decodeModel(new Uint8Array(fs.readFileSync(path.join(REPO, 'models', name))), name).spec;

/** The README's results-table row of a job (its first cell). */
function readmeRow(job: string): string {
  const row = read('README.md').split('\n').find((l) => l.startsWith(`| ${job} |`));
  expect(row, `README.md: no results row for ${job}`).toBeDefined();
  return row!;
}

/** The numbers of the first line of `text` that starts with `prefix` (a markdown table row). */
function rowNumbers(text: string, prefix: string, where: string): number[] {
  const row = text.split('\n').find((l) => l.startsWith(prefix));
  expect(row, `${where}: no row starting ${JSON.stringify(prefix)}`).toBeDefined();
  return [...row!.slice(prefix.length).matchAll(/-?\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));
}

/** `printed` is `value` written with `printed`'s number of decimals. */
function expectPrinted(printed: string | number | undefined, value: number, what: string): void {
  expect(printed, what).toBeDefined();
  const s = String(printed);
  const decimals = s.includes('.') ? s.length - s.indexOf('.') - 1 : 0;
  expect(Math.abs(Number(s) - value), `${what}: printed ${s}, manifest ${value}`).toBeLessThanOrEqual(0.5 * 10 ** -decimals + 1e-9);
}

/** Markdown text with its line breaks and runs of spaces as single spaces. */
const flat = (text: string): string => text.replace(/\s+/g, ' ');

function expectQuoted(doc: string, quote: string): void {
  expect(doc.includes(quote), `docs/anomaly.md does not say: ${quote}`).toBe(true);
}

interface Report { accuracy: number; macroF1: number; confusion: number[][]; perClass: Record<string, { f1: number }> }

describe('activity recognition: models/har.ern', () => {
  const lso = (spec('har.ern').training.metrics as { leaveSubjectsOut: {
    int8: { recording: Report; withLength: Report; window: { accuracy: number } };
    float: { recording: { accuracy: number }; window: { accuracy: number } };
    perFold: Array<{ recordings: number; int8: number }>;
    streaming: Record<'perRecording' | 'continuous', Array<{ smoothing: string; window: number; recording: number }>>;
  } }).leaveSubjectsOut;

  it('the manifest agrees with itself: accuracies are the confusions\' traces, macro F1 the mean F1, the folds add up', () => {
    for (const r of [lso.int8.recording, lso.int8.withLength]) {
      const total = r.confusion.flat().reduce((a, b) => a + b, 0);
      expect(total).toBe(775);
      expect(r.accuracy).toBeCloseTo(r.confusion.reduce((a, row, i) => a + row[i]!, 0) / total, 4);
      const f1 = Object.values(r.perClass).map((c) => c.f1);
      expect(r.macroF1).toBeCloseTo(f1.reduce((a, b) => a + b, 0) / f1.length, 3);
    }
    expect(lso.perFold.reduce((a, f) => a + f.recordings, 0)).toBe(775);
    expect(lso.perFold.reduce((a, f) => a + f.int8 * f.recordings, 0) / 775).toBeCloseTo(lso.int8.recording.accuracy, 3);
  });

  it('docs/har.md\'s CV table (npm run eval:har) and streaming table are the manifest\'s', () => {
    const doc = read('docs/har.md');
    const got = rowNumbers(doc, '| trained on real recordings |', 'docs/har.md');
    const want = [lso.float.recording.accuracy, lso.int8.recording.accuracy, lso.int8.recording.macroF1, lso.int8.withLength.accuracy, lso.int8.withLength.macroF1, lso.float.window.accuracy, lso.int8.window.accuracy];
    expect(got.length).toBe(want.length);
    want.forEach((w, i) => expectPrinted(got[i]!.toFixed(1), 100 * w, `docs/har.md CV table column ${i + 2}`));
    expect(lso.streaming.perRecording.length).toBe(4);
    for (const [i, p] of lso.streaming.perRecording.entries()) {
      const c = lso.streaming.continuous[i]!;
      expect(c.smoothing).toBe(p.smoothing);
      const cells = rowNumbers(doc, `| ${p.smoothing} |`, 'docs/har.md streaming table');
      [p.window, p.recording, c.window, c.recording].forEach((w, k) => expectPrinted(cells[k]!.toFixed(1), 100 * w, `docs/har.md streaming ${p.smoothing} column ${k + 2}`));
    }
  });

  it('the README\'s activity-recognition row quotes the same numbers', () => {
    const row = readmeRow('activity recognition');
    const plain = /([\d.]+) % per recording \(macro F1 ([\d.]+)\)/.exec(row);
    const withLength = /\*\*([\d.]+) %\*\* \(macro F1 ([\d.]+)\) when each recording's length/.exec(row);
    expectPrinted(plain?.[1], 100 * lso.int8.recording.accuracy, 'README HAR accuracy');
    expectPrinted(plain?.[2], 100 * lso.int8.recording.macroF1, 'README HAR macro F1');
    expectPrinted(withLength?.[1], 100 * lso.int8.withLength.accuracy, 'README HAR accuracy with length');
    expectPrinted(withLength?.[2], 100 * lso.int8.withLength.macroF1, 'README HAR macro F1 with length');
  });
});

describe('keyword spotting: models/kws.ern', () => {
  const m = (spec('kws.ern').extra!.kws as { metrics: {
    validation: { clipAccuracyFloat: number; clipAccuracyInt8: number; stream: { falseAcceptsPerHour: number; missRate: number } };
    test: { clipAccuracyFloat: number; clipAccuracyInt8: number; perSpeaker: Record<string, number>; stream: { falseAcceptsPerHour: number; missRate: number; hits: number; keywords: number; medianDelayMs: number } };
  } }).metrics;

  it('the table of docs/kws.md is the manifest\'s', () => {
    const doc = read('docs/kws.md');
    const held = rowNumbers(doc, '| held-out clips, flite kal16 + slt (720) |', 'docs/kws.md');
    expectPrinted(held[0]!.toFixed(2), 100 * m.test.clipAccuracyFloat, 'held-out clips float');
    expectPrinted(held[1]!.toFixed(2), 100 * m.test.clipAccuracyInt8, 'held-out clips int8');
    const speakers = rowNumbers(doc, '| — flite kal16 (330) / slt (330) / noise (60) |', 'docs/kws.md');
    expectPrinted(speakers[0]!.toFixed(1), 100 * m.test.perSpeaker['flite-kal16']!, 'kal16');
    expectPrinted(speakers[1]!.toFixed(1), 100 * m.test.perSpeaker['flite-slt']!, 'slt');
    const val = rowNumbers(doc, '| validation clips, unseen espeak-ng speakers (475) |', 'docs/kws.md');
    expectPrinted(val[0]!.toFixed(2), 100 * m.validation.clipAccuracyFloat, 'validation clips float');
    expectPrinted(val[1]!.toFixed(2), 100 * m.validation.clipAccuracyInt8, 'validation clips int8');
    const fa = rowNumbers(doc, '| held-out stream, 60 min, served in 1.5 s windows: false accepts per hour |', 'docs/kws.md');
    expect(fa[0]).toBe(m.test.stream.falseAcceptsPerHour);
    const miss = rowNumbers(doc, '| held-out stream: misses (517 keywords at 10 dB SNR) |', 'docs/kws.md');
    expect(m.test.stream.keywords).toBe(517);
    expectPrinted(miss[0]!.toFixed(1), 100 * m.test.stream.missRate, 'held-out stream misses');
    expect(miss.slice(1, 3)).toEqual([m.test.stream.hits, m.test.stream.medianDelayMs]);
    const valStream = rowNumbers(doc, '| validation stream, 60 min (tuning data): false accepts / misses |', 'docs/kws.md');
    expect(valStream[0]).toBe(m.validation.stream.falseAcceptsPerHour);
    expectPrinted(valStream[1]!.toFixed(1), 100 * m.validation.stream.missRate, 'validation stream misses');
  });

  it('the README\'s keyword-spotting row quotes the same numbers', () => {
    const row = readmeRow('keyword spotting');
    const clips = /([\d.]+) % clip accuracy on two held-out TTS voices \(([\d.]+) % on unseen espeak-ng speakers\)/.exec(row);
    expectPrinted(clips?.[1], 100 * m.test.clipAccuracyInt8, 'README KWS held-out clips');
    expectPrinted(clips?.[2], 100 * m.validation.clipAccuracyInt8, 'README KWS validation clips');
    const stream = /tuned thresholds (\d+) false accepts\/h, (\d+) % misses/.exec(row);
    expect(Number(stream?.[1]), 'README KWS false accepts per hour').toBe(m.test.stream.falseAcceptsPerHour);
    expectPrinted(stream?.[2], 100 * m.test.stream.missRate, 'README KWS misses');
  });
});

describe('anomaly detection: models/anomaly.ern', () => {
  const m = spec('anomaly.ern').training.metrics as {
    validationMse: { float32: number; int8: number; persistence: number; runningMean: number };
    bestEpoch: number;
    epochsRun: number;
    nab: Record<'float32' | 'int8', Record<'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate', number>>;
  };
  const triple = (r: Record<string, number>): string => [r.standard!, r.reward_low_FP_rate!, r.reward_low_FN_rate!].map((x) => x.toFixed(2)).join(' / ');

  it('docs/anomaly.md quotes its NAB scores through the gateway path, wherever it gives them', () => {
    const doc = flat(read('docs/anomaly.md'));
    expectQuoted(doc, `NAB through the gateway path, int8 ${triple(m.nab.int8)}`);
    const bullet = /\*\*On NAB\*\*[^]*?int8 ([\d.]+ \/ [\d.]+ \/ [\d.]+), float ([\d.]+ \/ [\d.]+ \/ [\d.]+)/.exec(doc);
    expect(bullet?.[1], 'docs/anomaly.md "On NAB": int8').toBe(triple(m.nab.int8));
    expect(bullet?.[2], 'docs/anomaly.md "On NAB": float').toBe(triple(m.nab.float32));
  });

  it('the README\'s NAB score of gru-predict is the one in docs/anomaly.md (measured by test/bench/nab-gru.ts, not in a manifest)', () => {
    const readme = /NAB standard ([\d.]+) \(low FP ([\d.]+), low FN ([\d.]+)/.exec(readmeRow('anomaly detection'));
    const doc = rowNumbers(read('docs/anomaly.md'), '| **gru-predict** (int8, SIMD) |', 'docs/anomaly.md');
    expect(readme?.slice(1, 4).map(Number)).toEqual(doc.slice(0, 3));
    const seed1 = rowNumbers(read('docs/anomaly.md'), '| 1 (default) |', 'docs/anomaly.md seed table');
    expect(seed1.slice(0, 3)).toEqual(doc.slice(0, 3));
  });

  it('docs/anomaly.md quotes its validation MSE and epochs', () => {
    const doc = flat(read('docs/anomaly.md'));
    const v = m.validationMse;
    expectQuoted(doc, `Validation MSE float ${v.float32.toFixed(4)}, int8 ${v.int8.toFixed(4)}, persistence ${v.persistence.toFixed(4)}, running mean ${v.runningMean.toFixed(4)}`);
    expectQuoted(doc, `best epoch ${m.bestEpoch} of ${m.epochsRun}`);
  });
});
