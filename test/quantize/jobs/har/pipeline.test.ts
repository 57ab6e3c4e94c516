/**
 * The HAR job's pieces on data that can live in a test: HMP-format files written to a temp
 * folder from the synthetic generator (the real dataset may not be copied), folds, windows
 * through the IMU front end (batch = streaming), augmentation, a tiny end-to-end training run
 * (float32 → int8 through the trainer) scored through the runtime.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRuntime, EdgeRnnError, ImuFrontend, Rng } from '../../../../src/index.js';
import { synthesizeRecording } from '../../../../firmware-sim/imu/generator.js';
import { HMP_GENERATOR_MODEL } from '../../../../firmware-sim/imu/hmp-model.gen.js';
import { augmentRecording, DEFAULT_AUGMENT } from '../../../../quantize/jobs/har/augment.js';
import { HAR_CLASSES } from '../../../../quantize/jobs/har/classes.js';
import { groupKFold } from '../../../../quantize/jobs/har/folds.js';
import { codesToG, loadHmp, parseHmpText, type HmpRecording } from '../../../../quantize/jobs/har/hmp.js';
import { DEFAULT_HAR_RECIPE, evenlySpaced, splitRecordings, trainHar, trainingWindows, windowsPerRecording } from '../../../../quantize/jobs/har/pipeline.js';
import { harReports, scoreRecordings } from '../../../../quantize/jobs/har/score.js';
import { writeSyntheticHmp } from './hmp-fixture.js';
import { continuousStreams } from '../../../../quantize/jobs/har/streaming.js';
import { fitHarNormalization, harFrontendSpec, padCodes, recordingFrames, recordingWindows, samplesPerWindow } from '../../../../quantize/jobs/har/windows.js';
import { caughtEdgeRnnError as err } from '../../../helpers/errors.js';

describe('HMP loader', () => {
  it('reads activity folders, volunteers from file names, codes 0..63; hashes what it read', () => {
    const root = writeSyntheticHmp(['walk', 'sitdown_chair'], ['f1', 'm2'], 2, 1);
    const ds = loadHmp(root);
    expect(ds.recordings.length).toBe(8);
    expect(new Set(ds.recordings.map((r) => r.activity))).toEqual(new Set(['walk', 'sitdown_chair']));
    expect(new Set(ds.recordings.map((r) => r.volunteer))).toEqual(new Set(['f1', 'm2']));
    expect(ds.recordings[0]!.file).toMatch(/^Sitdown_chair\/Accelerometer-2011-03-24-.*-sitdown_chair-(f1|m2)\.txt$/);
    expect(loadHmp(root).sha256).toBe(ds.sha256);
    expect(loadHmp(root, { volunteers: ['m2'] }).recordings.every((r) => r.volunteer === 'm2')).toBe(true);
    const f = path.join(root, ds.recordings[0]!.file);
    fs.appendFileSync(f, '1 2 3\n');
    expect(loadHmp(root).sha256).not.toBe(ds.sha256);
  });

  it('names the file and line of bad data, and where to get the dataset when it is missing', () => {
    expect(err(() => parseHmpText('1 2 3\n4 5\n', 'Walk/x.txt')).message).toBe("Walk/x.txt:2: expected 3 codes (x y z), got 2 ('4 5')");
    expect(err(() => parseHmpText('1 2 64\n', 'Walk/x.txt')).message).toBe("Walk/x.txt:1: '64' is not a code in 0..63");
    expect(err(() => parseHmpText('1 -2 3\n', 'Walk/x.txt')).code).toBe('BAD_DATA');
    expect(err(() => parseHmpText('\n\n', 'Walk/x.txt')).message).toBe('Walk/x.txt: no samples');
    // A byte-order mark (Notepad) before the first code, as loadHmp reads it (latin1) or as UTF-8; CRLF lines.
    expect([...parseHmpText('\u00ef\u00bb\u00bf1 2 3\r\n4 5 6\r\n', 'Walk/x.txt')]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...parseHmpText('\ufeff1 2 3\n', 'Walk/x.txt')]).toEqual([1, 2, 3]);
    const e = err(() => loadHmp('/nonexistent/hmp'));
    expect(e.code).toBe('DATASET_MISSING');
    expect(e.message).toMatch(/HMP dataset not found at \/nonexistent\/hmp: download .*archive\.ics\.uci\.edu.* --data/);
    const root = writeSyntheticHmp(['walk'], ['f1'], 1, 2);
    fs.writeFileSync(path.join(root, 'Walk', 'notes.txt'), 'x');
    expect(err(() => loadHmp(root)).message).toMatch(/Walk\/notes\.txt: file name does not follow/);
    expect(err(() => loadHmp(root, { activities: ['fly'] })).message).toMatch(/no folder for activity 'fly'/);
    // A folder with no recordings (an empty table was printed) names what it expected.
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-hmp-empty-'));
    const none = err(() => loadHmp(empty));
    expect(none.code).toBe('DATASET_MISSING');
    expect(none.message).toBe(`${empty}: no HMP recordings (expected activity folders such as Walk/ holding Accelerometer-<time>-<activity>-<volunteer>.txt files; found no folders)`);
    fs.rmSync(path.join(root, 'Walk', 'notes.txt'));
    expect(err(() => loadHmp(root, { volunteers: ['m9'] })).message).toMatch(/no HMP recordings of volunteers m9 \(.*found Walk\)$/);
    // Two folders for one activity (names differing in case): one of them was read, silently.
    fs.mkdirSync(path.join(root, 'walk'));
    fs.copyFileSync(path.join(root, 'Walk', fs.readdirSync(path.join(root, 'Walk'))[0]!), path.join(root, 'walk', 'Accelerometer-2011-03-24-11-00-00-walk-m1.txt'));
    const twice = err(() => loadHmp(root));
    expect([twice.code, twice.message]).toEqual(['BAD_DATA', `${root}: folders 'Walk' and 'walk' both hold activity 'walk': merge them into one`]);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(empty, { recursive: true, force: true });
  });
});

describe('leave-subjects-out folds', () => {
  it('every volunteer is held out exactly once; folds balance recordings greedily', () => {
    const counts = new Map([['f1', 299], ['f4', 94], ['m1', 85], ['m2', 56], ['f2', 39], ['m3', 35], ['f3', 28], ['m4', 25], ['m5', 24], ['m6', 24], ['m7', 24], ['m9', 10], ['f5', 9], ['m10', 9], ['m11', 8], ['m8', 6]]);
    const folds = groupKFold(counts, 8);
    expect(folds.length).toBe(8);
    expect(folds.flatMap((f) => f.test).sort()).toEqual([...counts.keys()].sort());
    for (const f of folds) {
      expect(f.train.some((v) => f.test.includes(v))).toBe(false);
      expect(f.train.length + f.test.length).toBe(16);
    }
    // The largest volunteer is alone; the rest land within 10 recordings of each other.
    expect(folds[0]!.test).toEqual(['f1']);
    const loads = folds.slice(1).map((f) => f.test.reduce((a, v) => a + counts.get(v)!, 0));
    expect(Math.max(...loads.slice(3)) - Math.min(...loads.slice(3))).toBeLessThanOrEqual(10);
    expect(groupKFold(counts, 8)).toEqual(folds);
    expect(err(() => groupKFold(counts, 17)).message).toMatch(/folds must be an integer in \[2, 16\].*got 17/);
  });

  it('the validation split is recording-disjoint and stratified', () => {
    const recs = HAR_CLASSES.flatMap((a) => Array.from({ length: 10 }, (_, i) => ({ activity: a, file: `${a}/${i}` }) as HmpRecording));
    const { train, val } = splitRecordings(recs, 0.2, 1);
    expect(val.length).toBe(18);
    expect(train.length + val.length).toBe(recs.length);
    expect(new Set(val.map((r) => r.file)).size).toBe(18);
    for (const a of HAR_CLASSES) expect(val.filter((r) => r.activity === a).length).toBe(2);
    // Fraction 0 holds nothing out (training then runs its epochs on every recording).
    expect(splitRecordings(recs, 0, 1)).toEqual({ train: recs, val: [] });
    expect(evenlySpaced([1, 2, 3, 4, 5, 6, 7, 8], 3)).toEqual([2, 5, 7]);
  });
});

describe('windows through the IMU front end', () => {
  const rec = (activity: string, seed: number, samples?: number): HmpRecording => {
    const codes = synthesizeRecording(HMP_GENERATOR_MODEL, activity, seed, samples);
    return { activity, volunteer: 'f1', file: `${activity}/${seed}`, startTime: '', codes, samples: codes.length / 3 };
  };

  it('volunteerBalance gives each volunteer about B training windows per class', () => {
    // f1 with 8 walks, m1 with 2, m2 with 1; 40 s each (enough windows for any cap).
    const recs = [...Array.from({ length: 8 }, (_, i) => ({ ...rec('walk', 10 + i, 1280), volunteer: 'f1' })), { ...rec('walk', 20, 1280), volunteer: 'm1' }, { ...rec('walk', 21, 1280), volunteer: 'm1' }, { ...rec('walk', 22, 1280), volunteer: 'm2' }];
    expect(windowsPerRecording(recs, DEFAULT_HAR_RECIPE)).toEqual(recs.map(() => 16));
    // B = 24: f1 24/8 = 3 per recording, m1 12, m2 capped at maxWindowsPerRecording (16).
    expect(windowsPerRecording(recs, { ...DEFAULT_HAR_RECIPE, volunteerBalance: 24 })).toEqual([3, 3, 3, 3, 3, 3, 3, 3, 12, 12, 16]);
    // At least one window per recording, however many the volunteer has.
    expect(windowsPerRecording(recs, { ...DEFAULT_HAR_RECIPE, volunteerBalance: 2 })).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
    const spec = fitHarNormalization(harFrontendSpec(DEFAULT_HAR_RECIPE), recs);
    const per = (r: ReturnType<typeof trainingWindows>, v: string): number => r.filter((s) => recs.find((x) => s.where.startsWith(`${x.file}#`))!.volunteer === v).length;
    const balanced = trainingWindows(spec, recs, { ...DEFAULT_HAR_RECIPE, volunteerBalance: 24 });
    expect([per(balanced, 'f1'), per(balanced, 'm1'), per(balanced, 'm2')]).toEqual([24, 24, 16]);
    const plain = trainingWindows(spec, recs, DEFAULT_HAR_RECIPE);
    expect([per(plain, 'f1'), per(plain, 'm1'), per(plain, 'm2')]).toEqual([128, 32, 16]);
  });

  it('batch windows equal the streaming front end pushed in random chunks', () => {
    const spec = fitHarNormalization(harFrontendSpec(DEFAULT_HAR_RECIPE), [rec('walk', 1), rec('drink_glass', 2)]);
    const r = rec('walk', 3);
    const batch = recordingWindows(spec, r, { hop: spec.hop });
    const fe = new ImuFrontend(spec);
    const streamed: Float32Array[] = [];
    const rng = new Rng(4);
    for (let i = 0; i < r.samples; ) {
      const n = rng.int(1, 40);
      fe.push(r.codes.subarray(i * 3, Math.min(r.samples, i + n) * 3), (w) => streamed.push(w.slice()));
      i += n;
    }
    expect(batch.length).toBeGreaterThan(5);
    expect(streamed).toEqual(batch);
    // recordingFrames slices to the same windows at any hop.
    const frames = recordingFrames(spec, r);
    const C = 3;
    const W = spec.windowSize;
    batch.forEach((w, k) => expect(frames.slice(k * spec.hop * C, (k * spec.hop + W) * C)).toEqual(w));
  });

  it('short recordings are padded in front with their first sample until they give one window', () => {
    const spec = harFrontendSpec(DEFAULT_HAR_RECIPE);
    const short = rec('sitdown_chair', 5, 60);
    const wins = recordingWindows(spec, short, { hop: spec.hop });
    expect(wins.length).toBe(1);
    expect(samplesPerWindow(spec)).toBe(64 * 2 + 18 + 1);
    const padded = padCodes(short.codes, 2, 1);
    expect(Array.from(padded.subarray(0, 9))).toEqual([...short.codes.subarray(0, 3), ...short.codes.subarray(0, 3), ...short.codes.subarray(0, 3)]);
    expect(Array.from(padded.subarray(-3))).toEqual(Array.from(short.codes.subarray(-3)));
  });

  it('augmentation: codes stay 6-bit, rotation keeps |g| (up to quantization), seeded', () => {
    const r = rec('drink_glass', 6);
    const a = augmentRecording(r, { rotationDeg: 30, intensity: 0, speed: 0 }, new Rng(1));
    expect(a.samples).toBe(r.samples);
    const g0 = codesToG(r.codes);
    const g1 = codesToG(a.codes);
    let worst = 0;
    for (let t = 0; t < r.samples; t++) {
      const m0 = Math.hypot(g0[t * 3]!, g0[t * 3 + 1]!, g0[t * 3 + 2]!);
      const m1 = Math.hypot(g1[t * 3]!, g1[t * 3 + 1]!, g1[t * 3 + 2]!);
      if (Math.max(...[0, 1, 2].map((c) => Math.abs(g1[t * 3 + c]!))) < 1.45) worst = Math.max(worst, Math.abs(m1 - m0));
    }
    // Each axis is off by at most half a code (1.5/63 g) after re-quantization.
    expect(worst).toBeLessThan((Math.sqrt(3) * 1.5) / 63 + 1e-9);
    expect(a.codes).not.toEqual(r.codes);
    const b = augmentRecording(r, DEFAULT_AUGMENT, new Rng(9));
    expect(augmentRecording(r, DEFAULT_AUGMENT, new Rng(9)).codes).toEqual(b.codes);
    expect(b.codes.every((c) => c <= 63)).toBe(true);
    expect(Math.abs(b.samples / r.samples - 1)).toBeLessThanOrEqual(0.1 / 0.9 + 0.01);
  });

  it('continuous streams join a volunteer\'s recordings in recording order with per-sample truth', () => {
    const recs = [rec('walk', 1), rec('sitdown_chair', 2), rec('walk', 3)].map((r, i) => ({ ...r, startTime: `2011-01-0${3 - i}` }));
    const [s] = continuousStreams(recs);
    expect(s!.spans.map((x) => x.file)).toEqual([recs[2]!.file, recs[1]!.file, recs[0]!.file]);
    expect(s!.codes.length).toBe(recs.reduce((a, r) => a + r.codes.length, 0));
    expect(s!.truth[s!.spans[1]!.start]).toBe(HAR_CLASSES.indexOf('sitdown_chair'));
  });
});

describe('end to end on synthetic HMP files', () => {
  it('syntheticMix adds generator recordings fitted to the training split only; normalization stays real', () => {
    const root = writeSyntheticHmp(['walk', 'sitdown_chair', 'drink_glass'], ['f1', 'm1'], 4, 30);
    const ds = loadHmp(root);
    const recipe = { ...DEFAULT_HAR_RECIPE, hidden: 8, epochs: 1, patience: 1, maxWindowsPerRecording: 2, augment: null };
    const plain = trainHar(ds.recordings, recipe, { source: root, sha256: ds.sha256 });
    const mixed = trainHar(ds.recordings, { ...recipe, syntheticMix: 1 }, { source: root, sha256: ds.sha256 });
    expect(mixed.valRecordings).toBe(plain.valRecordings);
    expect(mixed.trainRecordings).toBe(2 * plain.trainRecordings);
    expect(mixed.frontend.normalization).toEqual(plain.frontend.normalization);
    // valFraction 0: every recording trains, the unaugmented training windows stand in for validation.
    const all = trainHar(ds.recordings, { ...recipe, valFraction: 0, epochs: 2, patience: 100 }, { source: root, sha256: ds.sha256 });
    expect(all.valRecordings).toBe(0);
    expect(all.trainRecordings).toBe(ds.recordings.length);
    expect(all.history.length).toBe(2);
    expect(all.valWindows).toBeGreaterThan(0);
  });

  it('trains float32 → int8, the front end rides in the manifest, the runtime scores it', async () => {
    const root = writeSyntheticHmp(['walk', 'sitdown_chair', 'drink_glass'], ['f1', 'm1'], 5, 10);
    const ds = loadHmp(root);
    const recipe = { ...DEFAULT_HAR_RECIPE, hidden: 16, epochs: 15, patience: 15, maxWindowsPerRecording: 6, augment: null };
    const tr = trainHar(ds.recordings, recipe, { source: root, sha256: ds.sha256 });
    expect(tr.int8.precision).toBe('int8');
    expect(tr.int8.labels).toEqual([...HAR_CLASSES]);
    const fe = tr.int8.input.frontend as unknown as { kind: string; normalization: { mean: number[] } };
    expect(fe.kind).toBe('imu');
    expect(fe.normalization.mean.length).toBe(3);
    expect(tr.trainRecordings + tr.valRecordings).toBe(30);
    const rt = await createRuntime();
    const scores = await scoreRecordings(rt, tr.int8, tr.frontend, ds.recordings);
    const rep = harReports(scores);
    expect(rep.recording.samples).toBe(30);
    expect(rep.window.samples).toBe(scores.reduce((a, s) => a + s.windows, 0));
    // Scored on its own training recordings (a pipeline check, not a generalization claim):
    // walking, sitting down and drinking differ in posture and rhythm (measured: 30/30).
    expect(rep.recording.accuracy).toBeGreaterThan(0.6);
    for (const s of scores) for (let w = 0; w < s.windows; w++) {
      let sum = 0;
      for (let c = 0; c < 9; c++) sum += s.posteriors[w * 9 + c]!;
      expect(sum).toBeCloseTo(1, 2);
    }
  });

  it('a bidirectional recipe gives a window classifier that reads whole windows: scored with run(), refused by step()', async () => {
    const root = writeSyntheticHmp(['walk', 'sitdown_chair'], ['f1', 'm1'], 3, 40);
    const ds = loadHmp(root);
    const recipe = { ...DEFAULT_HAR_RECIPE, hidden: 8, epochs: 2, patience: 2, maxWindowsPerRecording: 3, augment: null, bidirectional: true };
    const tr = trainHar(ds.recordings, recipe, { source: root, sha256: ds.sha256 });
    const layer = tr.int8.layers[0]!;
    expect(layer.kind === 'gru' && layer.direction).toBe('bidirectional');
    const rt = await createRuntime();
    const scores = await scoreRecordings(rt, tr.int8, tr.frontend, ds.recordings);
    expect(scores.length).toBe(12);
    const model = await rt.load((await import('../../../../src/index.js')).encodeModel(tr.int8));
    expect(model.streamable).toBe(false);
    expect(err(() => model.session().step(new Float32Array(model.inputSize))).code).toBe('NOT_STREAMABLE');
  });
});
