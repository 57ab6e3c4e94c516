/** Bad data gets a BAD_DATA error naming the file and line; good data parses to the right shapes. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/index.js';
import { loadDataset, type LoadOptions } from '../../quantize/data/load.js';
import { loadFailure } from '../helpers/datasets.js';
import { largestFloat64During } from '../helpers/float64-spy.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-data-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

const failure = loadFailure;

describe('JSON Lines', () => {
  it('parses classify and forecast samples, with labels ordered numerically', async () => {
    const p = file('ok.jsonl', ['{"x": [[1, 2], [3, 4]], "y": 10}', '', '{"x": [[5, 6]], "y": 2}'].join('\n'));
    const ds = await loadDataset(p, { task: 'classify' });
    expect(ds.labels).toEqual(['2', '10']);
    expect(ds.samples.map((s) => [s.T, s.y])).toEqual([
      [2, 1],
      [1, 0],
    ]);
    expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
    const f = file('f.jsonl', '{"x": [0.5, 0.25], "target": [1, 2]}\n');
    const fd = await loadDataset(f, { task: 'forecast' });
    expect([fd.features, fd.targetSize, Array.from(fd.samples[0]!.target!)]).toEqual([1, 1, [1, 2]]);
  });

  const cases: [string, string, RegExp, LoadOptions['task']][] = [
    ['ragged.jsonl', '{"x": [[1, 2]], "y": "a"}\n{"x": [[1, 2], [3]], "y": "b"}', /ragged\.jsonl:2: x\[1\] has 1 values, expected 2/, 'classify'],
    ['nan.jsonl', '{"x": [[1, 2]], "y": "a"}\n\n{"x": [[1, null]], "y": "b"}', /nan\.jsonl:3: x\[0\]\[1\] is null, expected a finite number/, 'classify'],
    ['string.jsonl', '{"x": [["NaN"]], "y": "a"}', /string\.jsonl:1: x\[0\]\[0\] is "NaN"/, 'classify'],
    ['badjson.jsonl', '{"x": [[1]], "y": "a"}\n{"x": [[1]], "y": ', /badjson\.jsonl:2: not valid JSON/, 'classify'],
    ['nox.jsonl', '{"y": "a"}', /nox\.jsonl:1: missing "x"/, 'classify'],
    ['noy.jsonl', '{"x": [[1]], "y": "a"}\n{"x": [[1]]}', /noy\.jsonl:2: no "y" while other lines have one/, 'classify'],
    ['nolabels.jsonl', '{"x": [[1]]}', /nolabels\.jsonl:1: no label/, 'classify'],
    ['oneclass.jsonl', '{"x": [[1]], "y": "a"}', /at least 2 classes/, 'classify'],
    ['target.jsonl', '{"x": [[1], [2]], "target": [[1]]}', /target\.jsonl:1: "target" has 1 steps, "x" has 2/, 'forecast'],
    ['blank.jsonl', '\n\n', /blank\.jsonl: empty: no samples/, 'classify'],
    // Finite in JSON, infinite as float32: refused where it is, not later as a diverged loss.
    ['huge.jsonl', '{"x": [[1, 2]], "y": "a"}\n{"x": [[1, -1e39]], "y": "b"}', /huge\.jsonl:2: x\[0\]\[1\] is -1e\+39, beyond float32's range/, 'classify'],
    ['overflow.jsonl', '{"x": [[1e400]], "y": "a"}', /overflow\.jsonl:1: x\[0\]\[0\] is Infinity, expected a finite number/, 'classify'],
    // A frame of no values made a model of 0 inputs (or outputs), which failed only when written.
    ['emptyframe.jsonl', '{"x": [[], []], "y": "a"}\n{"x": [[], []], "y": "b"}', /emptyframe\.jsonl:1: x\[0\] is an empty frame/, 'classify'],
    ['emptytarget.jsonl', '{"x": [[1], [2]], "target": [[], []]}', /emptytarget\.jsonl:1: target\[0\] is an empty frame/, 'forecast'],
    ['hugetarget.jsonl', '{"x": [[1]], "target": [[4e38]]}', /hugetarget\.jsonl:1: target\[0\]\[0\] is 4e\+38, beyond float32's range/, 'forecast'],
  ];
  for (const [name, content, re, task] of cases) {
    it(`${name} -> ${re.source.slice(0, 40)}`, async () => {
      expect(await failure(file(name, content), { task })).toMatch(re);
    });
  }

  it('an empty file and a missing file', async () => {
    expect(await failure(file('empty.jsonl', ''), { task: 'classify' })).toMatch(/empty\.jsonl: empty file/);
    expect(await failure(path.join(dir, 'missing.jsonl'), { task: 'classify' })).toMatch(/missing\.jsonl: no such file/);
  });

  it('an unknown label against a model\'s labels names the line and the known labels', async () => {
    const p = file('unknown.jsonl', '{"x": [[1]], "y": "cat"}\n{"x": [[1]], "y": "bird"}');
    expect(await failure(p, { task: 'classify', labels: ['cat', 'dog'] })).toMatch(/unknown\.jsonl:2: unknown label "bird": the model knows "cat", "dog"/);
  });

  it('a feature count that differs from the model', async () => {
    const p = file('width.jsonl', '{"x": [[1, 2, 3]], "y": "cat"}');
    expect(await failure(p, { task: 'classify', labels: ['cat', 'dog'], features: 2 })).toMatch(/width\.jsonl:1: x\[0\] has 3 values, expected 2 \(as in the model\)/);
  });
});

describe('CSV time series', () => {
  it('windows a series into forecast samples (header, skipped timestamp column)', async () => {
    const rows = ['timestamp,a,b', ...Array.from({ length: 10 }, (_, i) => `2020-01-01 00:0${i},${i},${10 * i}`)];
    const ds = await loadDataset(file('ok.csv', rows.join('\n')), { task: 'forecast', csv: { seqLen: 4, stride: 2, horizon: 1, targetColumns: ['b'] } });
    expect(ds.featureNames).toEqual(['a', 'b']);
    expect(ds.samples.length).toBe(3); // starts 0, 2, 4 (start + 4 + 1 <= 10)
    expect(Array.from(ds.samples[1]!.x)).toEqual([2, 20, 3, 30, 4, 40, 5, 50]);
    expect(Array.from(ds.samples[1]!.target!)).toEqual([30, 40, 50, 60]);
  });

  it('ragged rows, non-numbers and short series name the line', async () => {
    expect(await failure(file('ragged.csv', 'a,b\n1,2\n3\n'), { task: 'autoencoder', csv: { seqLen: 1 } })).toMatch(/ragged\.csv:3: 1 values, expected 2/);
    expect(await failure(file('word.csv', 'a,b\n1,2\n3,x\n'), { task: 'autoencoder', csv: { seqLen: 1 } })).toMatch(/word\.csv:3: column 'b' is 'x', expected a finite number/);
    expect(await failure(file('nan.csv', 'a\n1\nNaN\n'), { task: 'autoencoder', csv: { seqLen: 1 } })).toMatch(/nan\.csv:3: column 'a' is 'NaN'/);
    expect(await failure(file('huge.csv', 'a\n1\n1e39\n'), { task: 'autoencoder', csv: { seqLen: 1 } })).toMatch(/huge\.csv:3: column 'a' is 1e39, beyond float32's range/);
    expect(await failure(file('short.csv', 'a\n1\n2\n'), { task: 'forecast', csv: { seqLen: 4 } })).toMatch(/short\.csv: 2 rows: too short/);
    expect(await failure(file('nolabel.csv', 'a\n1\n2\n'), { task: 'classify', csv: { seqLen: 1 } })).toMatch(/needs a label column/);
  });
});

/** A little-endian float64 .npy (writeNpy writes float32, which cannot hold the values these tests need). */
function float64Npy(values: number[], shape: number[]): Uint8Array {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + 8 * values.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  new Float64Array(out.buffer, 10 + header.length).set(values);
  return out;
}

describe('.npy', () => {
  it('X with labels, and NaN / shape errors', async () => {
    const x = file('x.npy', writeNpy(Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i), [2, 3, 2]));
    const y = file('y.npy', writeNpy(Float32Array.from([1, 0]), [2]));
    const ds = await loadDataset(x, { task: 'classify', labelsPath: y });
    expect([ds.features, ds.samples.length, ds.samples[0]!.T, ds.labels, ds.samples[0]!.y]).toEqual([2, 2, 3, ['0', '1'], 1]);
    const nan = file('nan.npy', writeNpy(Float32Array.from([1, NaN, 3, 4]), [1, 2, 2]));
    expect(await failure(nan, { task: 'autoencoder' })).toMatch(/nan\.npy: sequence 0, step 0, feature 1 is NaN/);
    const huge = file('huge.npy', float64Npy([1, 2, 3, 1e39], [1, 2, 2]));
    expect(await failure(huge, { task: 'autoencoder' })).toMatch(/huge\.npy: sequence 0, step 1, feature 1 is 1e\+39, beyond float32's range/);
    const bad = file('bady.npy', writeNpy(Float32Array.from([1, 0, 1]), [3]));
    expect(await failure(x, { task: 'classify', labelsPath: bad })).toMatch(/bady\.npy: labels of shape \[3\], expected \[2\]/);
    expect(await failure(x, { task: 'classify' })).toMatch(/needs labels/);
  });

  it('forecast targets [N][T][O] from a companion .npy, checked for shape and float32 range', async () => {
    const x = file('fx.npy', writeNpy(Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i), [2, 3, 2]));
    const y = file('fy.npy', writeNpy(Float32Array.from({ length: 2 * 3 }, (_, i) => 10 * i), [2, 3, 1]));
    const ds = await loadDataset(x, { task: 'forecast', labelsPath: y });
    expect([ds.targetSize, Array.from(ds.samples[1]!.target!)]).toEqual([1, [30, 40, 50]]);
    const short = file('fshort.npy', writeNpy(new Float32Array(2 * 2), [2, 2, 1]));
    expect(await failure(x, { task: 'forecast', labelsPath: short })).toMatch(/fshort\.npy: targets of shape \[2,2,1\], expected \[2\]\[3\]\[outputs\]/);
    const huge = file('fhuge.npy', float64Npy([0, 1, 2, 3, 4e38, 5], [2, 3, 1]));
    expect(await failure(x, { task: 'forecast', labelsPath: huge })).toMatch(/fhuge\.npy\[1\]: target value 1 is 4e\+38, beyond float32's range/);
  });

  it("NumPy's own files, Fortran-ordered, big-endian, int8, float16, load as readNpy reads them, a sequence per [n]", async () => {
    // The loader reads a sequence at a time (no float64 copy of the whole array: 13 times an
    // int8 file's size at the peak); the sequences are readNpy's values, as float32.
    const fixtures = path.resolve(import.meta.dirname, '../fixtures/npy');
    for (const name of ['f4-fortran', 'f8-big-endian', 'i1', 'u4-fortran', 'f2-big-endian-fortran', 'version-3']) {
      const p = path.join(fixtures, `${name}.npy`);
      const whole = readNpy(fs.readFileSync(p));
      const [N, T, F] = whole.shape.length === 2 ? [1, ...whole.shape] : whole.shape;
      const ds = await loadDataset(p, { task: 'forecast', labelsPath: path.join(fixtures, name === 'f2-big-endian-fortran' ? 'f2-big-endian-fortran.npy' : 'u4-fortran.npy') });
      expect(ds.samples.length, name).toBe(N);
      const targets = readNpy(fs.readFileSync(path.join(fixtures, name === 'f2-big-endian-fortran' ? 'f2-big-endian-fortran.npy' : 'u4-fortran.npy')));
      const O = targets.data.length / (N! * T!);
      ds.samples.forEach((s, n) => {
        expect(s.x, `${name}[${n}]`).toEqual(Float32Array.from(whole.data.subarray(n * T! * F!, (n + 1) * T! * F!)));
        expect(s.target, `${name}[${n}] target`).toEqual(Float32Array.from(targets.data.subarray(n * T! * O, (n + 1) * T! * O)));
      });
    }
  });

  it('is read a sequence at a time: no float64 copy of the whole array (13 times an int8 file at the peak)', async () => {
    const x = file('seqs.npy', writeNpy(Float32Array.from({ length: 50 * 20 * 4 }, (_, i) => i % 97), [50, 20, 4]));
    const { result: ds, largest } = await largestFloat64During(() => loadDataset(x, { task: 'autoencoder' }));
    expect(ds.samples.length).toBe(50);
    expect(largest).toBeLessThanOrEqual(20 * 4);
  });

  it('a folder given as the labels file, and links that loop, are named (a bare "EISDIR: illegal operation on a directory, read"; "no such file")', async () => {
    const x = file('xd.npy', writeNpy(new Float32Array(2 * 3 * 1), [2, 3, 1]));
    fs.mkdirSync(path.join(dir, 'labels-dir.npy'), { recursive: true });
    expect(await failure(x, { task: 'classify', labelsPath: path.join(dir, 'labels-dir.npy') })).toMatch(/labels-dir\.npy: a folder, expected a file/);
    // Links that point at each other cannot be read; they are not "no such file".
    fs.symlinkSync('loop-b.npy', path.join(dir, 'loop-a.npy'));
    fs.symlinkSync('loop-a.npy', path.join(dir, 'loop-b.npy'));
    expect(await failure(x, { task: 'classify', labelsPath: path.join(dir, 'loop-a.npy') })).toMatch(/loop-a\.npy: cannot be read \(ELOOP\)/);
    expect(await failure(path.join(dir, 'loop-a.npy'), { task: 'autoencoder' })).toMatch(/loop-a\.npy: cannot be read \(ELOOP\)/);
    expect(await failure(path.join(dir, 'missing.npy'), { task: 'autoencoder' })).toMatch(/missing\.npy: no such file or directory/);
  });

  it('an .npz (np.savez) is named, with what to do (it was "unknown data format \'.npz\'")', async () => {
    const npz = path.resolve(import.meta.dirname, '../fixtures/npy/refused-savez.npz');
    expect(await failure(npz, { task: 'classify', labelsFlag: '--val-labels' })).toMatch(/refused-savez\.npz: an \.npz archive \(np\.savez\), not one array: save the inputs and their labels or targets as two \.npy files \(np\.save\), and give the inputs' file here, the other with --val-labels/);
  });

  it('an unknown format', async () => {
    expect(await failure(file('data.txt', 'hello'), { task: 'classify' })).toMatch(/unknown data format '\.txt'/);
  });
});

describe('WAV folders (Speech Commands layout) through the audio front end', () => {
  it('labels from folders, MFCC frames per clip, _background_noise_ skipped, bad clips named', async () => {
    const { encodeWav } = await import('../../src/index.js');
    const root = path.join(dir, 'speech');
    const tone = (hz: number, n: number) => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 16000));
    for (const [label, hz] of [
      ['low', 300],
      ['high', 2500],
    ] as const) {
      fs.mkdirSync(path.join(root, label), { recursive: true });
      for (let k = 0; k < 2; k++) fs.writeFileSync(path.join(root, label, `c${k}.wav`), encodeWav(tone(hz + 20 * k, 12000 + 4000 * k), 16000));
    }
    fs.mkdirSync(path.join(root, '_background_noise_'), { recursive: true });
    fs.writeFileSync(path.join(root, '_background_noise_', 'noise.wav'), 'not a wav');
    const ds = await loadDataset(root, { task: 'classify' });
    expect(ds.labels).toEqual(['high', 'low']);
    expect(ds.samples).toHaveLength(4);
    expect(ds.features).toBe(13);
    expect(ds.samples.every((s) => s.T === 98)).toBe(true); // 1 s, 25 ms frames every 10 ms
    expect(ds.frontend?.kind).toBe('mfcc');
    fs.writeFileSync(path.join(root, 'low', 'broken.wav'), 'RIFF....WAVEjunk');
    expect(await failure(root, { task: 'classify' })).toMatch(/speech\/low\/broken\.wav/);
  });
});

describe('defect hunt: CSV parsing', () => {
  const auto = (seqLen = 1): LoadOptions => ({ task: 'autoencoder', csv: { seqLen, stride: 1 } });
  const xs = (ds: { samples: { x: Float32Array }[] }): number[][] => ds.samples.map((s) => Array.from(s.x));

  it('quoted fields hold commas and doubled quotes (RFC 4180): "Jan 1, 2020" is one cell, not a number 2020', async () => {
    // The quote stripping ran after a split on every comma: "Jan 1, 2020" became two cells, the
    // second (2020) a numeric input column, with no error.
    const ds = await loadDataset(file('quoted.csv', '"Jan 1, 2020",1.5\n"Jan 2, 2020",2.5\n'), auto());
    expect(xs(ds)).toEqual([[1.5], [2.5]]);
    const lab = await loadDataset(file('quotedlabel.csv', 'v,l\n1,"say ""hi"", then go"\n2,b\n'), { task: 'classify', csv: { seqLen: 1, labelColumn: 'l' } });
    expect(lab.labels).toEqual(['b', 'say "hi", then go']);
    expect(await failure(file('openquote.csv', 'a,b\n1,"x\n'), { task: 'classify', csv: { seqLen: 1, labelColumn: 'b' } })).toMatch(/openquote\.csv:2: a quoted field is not closed/);
  });

  it('lone-CR line ends (classic Mac) are line ends: one row per line, not "a header but no data rows"', async () => {
    const ds = await loadDataset(file('cr.csv', 'a,b\r1,2\r3,4\r'), auto());
    expect(xs(ds)).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('a headerless series whose first column is a timestamp keeps its first row', async () => {
    // "2020-01-01,1" is not all numbers, so it was taken for a header: the first row vanished.
    const ds = await loadDataset(file('ts.csv', '2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n'), auto());
    expect(xs(ds)).toEqual([[1], [2], [3]]);
    // A header is still a header, even when its only word is over a column of words.
    const h = await loadDataset(file('tsh.csv', 'time,value\n2020-01-01,1\n2020-01-02,2\n'), auto());
    expect([h.featureNames, xs(h)]).toEqual([['value'], [[1], [2]]]);
    const n = await loadDataset(file('tsn.csv', 'time,1,2\n2020-01-01,1,2\n2020-01-02,3,4\n'), auto());
    expect([n.featureNames, xs(n)]).toEqual([['1', '2'], [[1, 2], [3, 4]]]);
    // Headerless with a label column: the first row's label is data.
    const l = await loadDataset(file('tsl.csv', '2020-01-01,1,walk\n2020-01-02,2,walk\n2020-01-03,3,sit\n'), { task: 'classify', csv: { seqLen: 1, stride: 1, labelColumn: '2' } });
    expect([xs(l), l.labels, l.samples.map((s) => s.y)]).toEqual([[[1], [2], [3]], ['sit', 'walk'], [1, 1, 0]]);
  });

  it('NaN or an empty cell in the first row is refused with its line, not taken for a header', async () => {
    expect(await failure(file('nanfirst.csv', 'NaN,1\n2,3\n4,5\n'), auto())).toMatch(/nanfirst\.csv:1: column '0' is 'NaN', expected a finite number/);
    expect(await failure(file('emptyfirst.csv', ',1\n2,3\n'), auto())).toMatch(/emptyfirst\.csv:1: column '0' is '', expected a finite number/);
    // Under a header, too (the column was skipped as if it held timestamps).
    expect(await failure(file('nanfirsth.csv', 'a,b\nnan,1\n2,3\n'), auto())).toMatch(/nanfirsth\.csv:2: column 'a' is 'nan'/);
  });

  it('hex, octal and binary literals are not numbers ("0x10" was read as 16)', async () => {
    expect(await failure(file('hex.csv', 'a,b\n1,2\n0x10,3\n'), auto())).toMatch(/hex\.csv:3: column 'a' is '0x10', expected a finite number/);
    expect(await failure(file('bin.csv', 'a\n1\n0b11\n'), auto())).toMatch(/bin\.csv:3: column 'a' is '0b11'/);
    // Decimal forms still are, padded or not.
    const ok = await loadDataset(file('dec.csv', 'a\n1e-3\n" 3 "\n-.5\n+2.\n'), auto());
    expect(xs(ok)).toEqual([[Math.fround(1e-3)], [3], [-0.5], [2]]);
  });

  it('an empty label cell is refused with its line (it made a class named "", refused only when the model was written)', async () => {
    expect(await failure(file('emptylabel.csv', 'v,l\n1,a\n2,\n3,b\n'), { task: 'classify', csv: { seqLen: 1, labelColumn: 'l' } })).toMatch(/emptylabel\.csv:3: label column 'l' is empty, expected a class name/);
  });

  it('a column name that occurs twice in the header is ambiguous (the first one was used)', async () => {
    expect(await failure(file('dup.csv', 'a,a,b\n1,2,3\n4,5,6\n'), { task: 'autoencoder', csv: { seqLen: 1, columns: ['a'] } })).toMatch(/dup\.csv: column name 'a' occurs more than once in the header \(columns 0, 1\)/);
  });

  it('windowing options recorded in a model manifest are checked: stride 0 hung, a string of columns crashed', async () => {
    const p = file('win.csv', 'a,b\n1,2\n3,4\n5,6\n');
    const bad = (csv: Record<string, unknown>) => failure(p, { task: 'autoencoder', csv: { seqLen: 1, ...csv } as NonNullable<LoadOptions['csv']> });
    expect(await bad({ stride: 0 })).toMatch(/win\.csv: CSV option stride is 0, expected an integer >= 1/);
    expect(await bad({ seqLen: 1.5 })).toMatch(/CSV option seqLen is 1\.5, expected an integer >= 1/);
    expect(await bad({ columns: 'a,b' })).toMatch(/CSV option columns is "a,b", expected a list of column names/);
  });

  it('a trailing comma on every line is not a column', async () => {
    const ds = await loadDataset(file('trailing.csv', 'a,b,\n1,2,\n3,4,\n'), auto());
    expect([ds.featureNames, xs(ds)]).toEqual([['a', 'b'], [[1, 2], [3, 4]]]);
  });
});

describe('defect hunt: JSON Lines and WAV messages', () => {
  it('an empty string "y" is refused with its line (it made a class named "")', async () => {
    expect(await failure(file('emptyy.jsonl', '{"x": [1], "y": "a"}\n{"x": [1], "y": ""}\n'), { task: 'classify' })).toMatch(/emptyy\.jsonl:2: "y" is an empty string, expected a class name/);
  });

  it("a bad clip's error names its path once", async () => {
    const root = path.join(dir, 'speech-trunc');
    fs.mkdirSync(path.join(root, 'a'), { recursive: true });
    const { encodeWav } = await import('../../src/index.js');
    const wav = encodeWav(new Float32Array(1600), 16000);
    fs.writeFileSync(path.join(root, 'a', 'ok.wav'), wav);
    fs.writeFileSync(path.join(root, 'a', 'cut.wav'), wav.subarray(0, wav.length - 101));
    const msg = await failure(root, { task: 'autoencoder' });
    expect(msg).toMatch(/cut\.wav: data chunk declares 3200 bytes, only 3099 remain: truncated$/);
    expect(msg.split('cut.wav').length).toBe(2);
  });
});

describe('defect hunt: .npy labels', () => {
  it("integer labels against a model's class names that are not numbers are class indices (every one was 'unknown')", async () => {
    const x = file('kx.npy', writeNpy(Float32Array.from({ length: 3 * 2 * 1 }, (_, i) => i), [3, 2, 1]));
    const y = file('ky.npy', writeNpy(Float32Array.from([2, 0, 1]), [3]));
    const ds = await loadDataset(x, { task: 'classify', labelsPath: y, labels: ['yes', 'no', 'up'] });
    expect([ds.labels, ds.samples.map((s) => s.y)]).toEqual([['yes', 'no', 'up'], [2, 0, 1]]);
    const big = file('kbig.npy', writeNpy(Float32Array.from([0, 3, 1]), [3]));
    expect(await failure(x, { task: 'classify', labelsPath: big, labels: ['yes', 'no', 'up'] })).toMatch(/kbig\.npy\[1\]: label 3 is not a class index of the model \(0\.\.2: yes, no, up\)/);
    // Numeric class names are still matched by name (1-based classes stay what they were in training).
    const named = await loadDataset(x, { task: 'classify', labelsPath: y, labels: ['0', '1', '2'] });
    expect(named.samples.map((s) => s.y)).toEqual([2, 0, 1]);
    expect(await failure(x, { task: 'classify', labelsPath: y, labels: ['1', '2', '3'] })).toMatch(/ky\.npy\[1\]: unknown label 0: the model knows 1, 2, 3/);
  });
});

describe('defect hunt: numeric class labels', () => {
  it('the same number written two ways ("1" and "1.0") is an error, not two classes', async () => {
    // pandas writes an integer label column as 1.0 once it holds a missing value: half a file
    // said "1", half "1.0", and the model got a class for each.
    expect(await failure(file('numlab.csv', 'v,l\n1,1\n2,2\n3,1.0\n'), { task: 'classify', csv: { seqLen: 1, stride: 1, labelColumn: 'l' } })).toMatch(/numlab\.csv: class labels '1' and '1\.0' are the same number written two ways/);
    expect(await failure(file('numlab.jsonl', '{"x": [1], "y": 1}\n{"x": [1], "y": "01"}\n{"x": [1], "y": 2}\n'), { task: 'classify' })).toMatch(/numlab\.jsonl: class labels '1' and '01' are the same number written two ways/);
    // Numbers written one way still sort numerically.
    const ok = await loadDataset(file('numok.jsonl', '{"x": [1], "y": 10}\n{"x": [1], "y": 2}\n{"x": [1], "y": -1.5}\n'), { task: 'classify' });
    expect(ok.labels).toEqual(['-1.5', '2', '10']);
  });
});

describe('defect hunt: CSV classes are the labels of the windows', () => {
  // A window's class is the label of its last row. Classes were the labels of every row: a label
  // found only inside windows became an output no window trained, and a file whose windows all
  // ended in one class trained a one-class model (loss 0) past the "at least 2 classes" check.
  const rows = (label: (i: number) => string): string => ['v,l', ...Array.from({ length: 40 }, (_, i) => `${Math.sin(i).toFixed(3)},${label(i)}`)].join('\n');
  // seqLen 10, stride 5: windows end on rows 9, 14, 19, ... (i % 5 === 4).
  const csv = { seqLen: 10, stride: 5, labelColumn: 'l' };

  it('a label on rows inside windows only is no class', async () => {
    const ds = await loadDataset(file('inner.csv', rows((i) => (i % 5 === 1 ? 'inner' : i < 20 ? 'a' : 'c'))), { task: 'classify', csv });
    expect(ds.labels).toEqual(['a', 'c']);
    expect(ds.samples.map((s) => ds.labels[s.y!])).toEqual(['a', 'a', 'a', 'c', 'c', 'c', 'c']);
  });

  it('windows that all end in one class are a BAD_DATA error naming the windowing', async () => {
    expect(await failure(file('oneclass.csv', rows((i) => (i % 5 === 1 ? 'b' : 'a'))), { task: 'classify', csv })).toMatch(/oneclass\.csv: every window ends on a row labelled 'a'.*'b' labels rows inside windows only/);
  });
});

describe("defect hunt: a model's numeric class names written another way", () => {
  // pandas writes an integer label column as 1.0, 2.0 once it holds a missing value: a model
  // trained on such a CSV has classes "1.0", "2.0", "3.0". Its data written as 1, 2, 3 (JSON
  // Lines, a CSV without the missing value, a .npy) are the same classes.
  const labels = ['1.0', '2.0', '3.0'];

  it('a .npy label is matched by its number, not read as a class index (2 was class "3.0")', async () => {
    const x = file('fx.npy', writeNpy(Float32Array.from({ length: 3 * 2 * 1 }, (_, i) => i), [3, 2, 1]));
    const y = file('fy.npy', writeNpy(Float32Array.from([2, 1, 2]), [3]));
    const ds = await loadDataset(x, { task: 'classify', labelsPath: y, labels });
    expect(ds.samples.map((s) => labels[s.y!])).toEqual(['2.0', '1.0', '2.0']);
    expect(await failure(x, { task: 'classify', labelsPath: file('f0.npy', writeNpy(Float32Array.from([0, 1, 2]), [3])), labels })).toMatch(/f0\.npy\[0\]: unknown label 0: the model knows 1\.0, 2\.0, 3\.0/);
  });

  it('JSON Lines and CSV labels are matched by number too (they were "unknown label")', async () => {
    const j = await loadDataset(file('fl.jsonl', '{"x": [1], "y": 3}\n{"x": [1], "y": "1"}\n'), { task: 'classify', labels });
    expect(j.samples.map((s) => labels[s.y!])).toEqual(['3.0', '1.0']);
    const c = await loadDataset(file('fl.csv', 'v,l\n1,2\n2,3\n'), { task: 'classify', labels, csv: { seqLen: 1, labelColumn: 'l' } });
    expect(c.samples.map((s) => labels[s.y!])).toEqual(['2.0', '3.0']);
    expect(await failure(file('fl4.jsonl', '{"x": [1], "y": 4}\n'), { task: 'classify', labels })).toMatch(/unknown label "4"/);
  });
});

describe('defect hunt: a JSON array where JSON Lines are read', () => {
  it('is named as such, pretty-printed or not (it was "not valid JSON (Unexpected end of JSON input)")', async () => {
    const objs = [{ x: [[1], [2]], y: 'a' }, { x: [[3], [4]], y: 'b' }];
    for (const [name, text] of [
      ['pretty.json', JSON.stringify(objs, null, 2)],
      ['oneline.json', JSON.stringify(objs)],
      ['bom.json', `\ufeff${JSON.stringify(objs, null, 2)}`],
    ]) {
      expect(await failure(file(name!, text!), { task: 'classify' }), name).toMatch(new RegExp(`${name!.replace('.', '\\.')}:1: a JSON array, expected JSON Lines: one \\{"x": \\[\\[\\.\\.\\.\\]\\], "y": label\\} object per line`));
    }
  });
});

describe('JSON Lines as other writers end and lay out lines', () => {
  it('lines ending in a lone CR read as lines (they were one line, "not valid JSON")', async () => {
    const lf = await loadDataset(file('lf.jsonl', '{"x": [[1], [2]], "y": "a"}\n{"x": [[3]], "y": "b"}\n'), { task: 'classify' });
    for (const [name, eol] of [['cr.jsonl', '\r'], ['crlf.jsonl', '\r\n']] as const) {
      const ds = await loadDataset(file(name, `{"x": [[1], [2]], "y": "a"}${eol}{"x": [[3]], "y": "b"}${eol}`), { task: 'classify' });
      expect(ds.samples.map((s) => [Array.from(s.x), s.y]), name).toEqual(lf.samples.map((s) => [Array.from(s.x), s.y]));
    }
    expect(await failure(file('cr-bad.jsonl', '{"x": [[1]], "y": "a"}\r{"x": [[1, 2]], "y": "b"}\r'), { task: 'classify' })).toMatch(/cr-bad\.jsonl:2: x\[0\] has 2 values, expected 1/);
  });

  it('a pretty-printed object is named as such (it was "not valid JSON (Expected property name...)")', async () => {
    const text = `${JSON.stringify({ x: [[1], [2]], y: 'a' }, null, 2)}\n${JSON.stringify({ x: [[3]], y: 'b' }, null, 2)}\n`;
    expect(await failure(file('pretty-objects.json', text), { task: 'classify' })).toMatch(/pretty-objects\.json:1: a JSON object over several lines \(pretty-printed\?\), expected JSON Lines: one \{"x": \[\[\.\.\.\]\], "y": label\} object per line/);
  });
});

describe('defect hunt: CSV headers that look like data', () => {
  // pandas writes a DataFrame made from an array with the column names 0, 1, 2 (to_csv(index=False)).
  const body = Array.from({ length: 12 }, (_, i) => `${Math.sin(i).toFixed(3)},${(i / 7).toFixed(3)},${i % 4 < 2 ? 'walk' : 'run'}`);

  it("pandas' positional names (0, 1, ... over decimals) are a header, not a first step [0, 1]", async () => {
    const ds = await loadDataset(file('pandas.csv', ['0,1,label', ...body].join('\n')), { task: 'classify', csv: { seqLen: 2, stride: 1, labelColumn: '2' } });
    expect(ds.featureNames).toEqual(['0', '1']);
    expect(ds.samples.length).toBe(11); // 12 data rows, not 13
    expect(Array.from(ds.samples[0]!.x.subarray(0, 2))).toEqual([0, Math.fround(0)]);
    expect(ds.labels).toEqual(['run', 'walk']);
    const plain = await loadDataset(file('pandas2.csv', ['0,1', ...body.map((l) => l.split(',').slice(0, 2).join(','))].join('\n')), { task: 'autoencoder', csv: { seqLen: 1, stride: 1 } });
    expect(plain.samples.length).toBe(12);
    // With pandas' index column (to_csv() by default): an empty name first.
    const indexed = await loadDataset(file('pandas3.csv', [',0,1', ...body.map((l, i) => `${i},${l.split(',').slice(0, 2).join(',')}`)].join('\n')), { task: 'autoencoder', csv: { seqLen: 1, stride: 1, columns: ['0', '1'] } });
    expect(indexed.samples.length).toBe(12);
    expect(Array.from(indexed.samples[1]!.x)).toEqual([Math.fround(Number(Math.sin(1).toFixed(3))), Math.fround(Number((1 / 7).toFixed(3)))]);
    // A headerless first row that happens to read 0, 1 over integers stays data.
    const ints = await loadDataset(file('ints.csv', '0,1\n2,3\n4,5\n'), { task: 'autoencoder', csv: { seqLen: 1, stride: 1 } });
    expect(ints.samples.length).toBe(3);
  });

  it('a first row holding the --label-column name is the header ("no column \'label\' (columns: 0, 1, 2)")', async () => {
    const ds = await loadDataset(file('named.csv', ['5,6,label', ...body.map((l) => l.replace(/^[^,]*/, '7'))].join('\n')), { task: 'classify', csv: { seqLen: 2, stride: 1, labelColumn: 'label' } });
    expect(ds.featureNames).toEqual(['5', '6']);
    expect(ds.samples.length).toBe(11);
  });
});

describe('defect hunt: calibration CSVs without the label column', () => {
  it('inputs only: a label column the file lacks is not looked for; otherwise (a typo) it is still an error', async () => {
    const p = file('nolabelcol.csv', 'a,b\n1,2\n3,4\n');
    const ds = await loadDataset(p, { task: 'autoencoder', csv: { seqLen: 1, labelColumn: 'activity', inputsOnly: true } });
    expect([ds.featureNames, ds.samples.length]).toEqual([['a', 'b'], 2]);
    expect(await failure(p, { task: 'autoencoder', csv: { seqLen: 1, labelColumn: 'activity' } })).toMatch(/no column 'activity' \(columns: a, b\)/);
  });
});

describe('defect hunt: a CSV separated by semicolons or tabs', () => {
  // A spreadsheet's export with a decimal comma ("1,5;2,3;a") was read by commas: "no column
  // 'label' (columns: f1;f2;label)", or its decimal commas split into cells of other numbers.
  it('is named as such, with the conversion', async () => {
    expect(await failure(file('semi.csv', 'f1;f2;label\n1,5;2,3;a\n0,5;1,1;b\n'), { task: 'classify', csv: { seqLen: 1, labelColumn: 'label' } })).toMatch(/semi\.csv:1: the first line is separated by semicolons \("f1;f2;label"\).*sed 's\/,\/\.\/g; s\/;\/,\/g'/);
    expect(await failure(file('tabs.csv', '# exported\nf1\tf2\n1.5\t2.5\n'), { task: 'forecast', csv: { seqLen: 1 } })).toMatch(/tabs\.csv:2: the first line is separated by tabs/);
  });

  it('a quoted name holding a semicolon among commas is still a CSV', async () => {
    const ds = await loadDataset(file('quoted.csv', '"a;b",c\n1,2\n3,4\n5,6\n'), { task: 'forecast', csv: { seqLen: 2, stride: 1 } });
    expect(ds.samples.length).toBeGreaterThan(0);
  });
});

describe('CSV read from its bytes (a string per cell took about 12 bytes of memory per byte of file)', () => {
  // One series written the ways writers and editors write it: the loader reads the same numbers,
  // labels and windows from each.
  const header = '"time","a b",c,"label"';
  const cells = Array.from({ length: 12 }, (_, i) => [`2020-01-01T00:00:${String(i).padStart(2, '0')}`, (i * 0.25 - 1).toFixed(2), i % 3 === 0 ? `"${i}"` : String(i), i % 4 < 2 ? 'walk' : '"run, fast"']);
  const body = cells.map((r) => r.join(','));
  const csv = { seqLen: 4, stride: 2, labelColumn: 'label' };
  const variants: Record<string, string> = {
    'lf.csv': `${header}\n${body.join('\n')}\n`,
    'crlf.csv': `${header}\r\n${body.join('\r\n')}\r\n`,
    'cr.csv': `${header}\r${body.join('\r')}\r`,
    'bom.csv': `\ufeff${header}\r\n${body.join('\r\n')}\r\n`,
    'no-final-newline.csv': `${header}\n${body.join('\n')}`,
    'blank-and-comment-lines.csv': `# exported by a logger\n\n${header}\n${body.slice(0, 5).join('\n')}\n\n  \n# pause\n${body.slice(5).join('\r\n')}\n\n`,
    'spaces.csv': `${header}\n${cells.map((r) => ` ${r.join(' ,\t')} `).join('\n')}\n`,
  };

  it('CRLF, CR, a BOM, no final newline, blank and comment lines, spaces: the same windows as the plain file', async () => {
    const plain = await loadDataset(file('lf.csv', variants['lf.csv']!), { task: 'classify', csv });
    expect(plain.featureNames).toEqual(['a b', 'c']);
    expect(plain.labels).toEqual(['run, fast', 'walk']);
    expect(plain.samples.map((s) => [Array.from(s.x), s.y, s.where])).toEqual(
      [0, 2, 4, 6, 8].map((s) => [Array.from({ length: 8 }, (_, k) => (k % 2 === 0 ? (s + k / 2) * 0.25 - 1 : s + (k - 1) / 2)), (s + 3) % 4 < 2 ? 1 : 0, `${dir}/lf.csv:${s + 2}`]),
    );
    for (const [name, text] of Object.entries(variants)) {
      const ds = await loadDataset(file(name, text), { task: 'classify', csv });
      expect([ds.featureNames, ds.labels, ds.samples.map((s) => [Array.from(s.x), s.y])], name).toEqual([plain.featureNames, plain.labels, plain.samples.map((s) => [Array.from(s.x), s.y])]);
    }
  });

  it('a NaN cell, an empty cell and a short row are named by their line, after a BOM and CRLF too', async () => {
    const lines = `\ufeff${header}\r\n${body.join('\r\n')}\r\n`.split('\r\n');
    const at = (i: number, row: string) => lines.map((l, k) => (k === i ? row : l)).join('\r\n');
    expect(await failure(file('nan-cell.csv', at(5, '2020-01-01T00:00:04,NaN,4,walk')), { task: 'classify', csv })).toMatch(/nan-cell\.csv:6: column 'a b' is 'NaN', expected a finite number/);
    expect(await failure(file('empty-cell.csv', at(7, '2020-01-01T00:00:06,0.5,,walk')), { task: 'classify', csv })).toMatch(/empty-cell\.csv:8: column 'c' is '', expected a finite number/);
    expect(await failure(file('short-row.csv', at(9, '2020-01-01T00:00:08,1')), { task: 'classify', csv })).toMatch(/short-row\.csv:10: 2 values, expected 4 \(as in the header\)/);
  });

  it('a file that is not UTF-8 is named with the line and byte where it stops being UTF-8 (it was "not UTF-8 text" alone); UTF-16 is named as such', async () => {
    expect(await failure(file('latin1.csv', Buffer.from('a,b\r\n1,2\r\n3,caf\xe9\r\n', 'latin1')), { task: 'autoencoder', csv: { seqLen: 1 } })).toMatch(/latin1\.csv:3: not UTF-8 text: byte 15 is 0xE9 \(Latin-1 or Windows-1252 text\? convert it: iconv -f windows-1252 -t utf-8\)/);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a\tb\r\n1\t2\r\n', 'utf16le')]);
    expect(await failure(file('utf16.csv', utf16), { task: 'autoencoder', csv: { seqLen: 1 } })).toMatch(/utf16\.csv: UTF-16 text \(a spreadsheet's "Unicode text" export\?\), expected UTF-8: convert it, e\.g\. iconv -f utf-16 -t utf-8/);
    expect(await failure(file('latin1.jsonl', Buffer.from('{"x": [[1]], "y": "a"}\n{"x": [[1]], "y": "\xe9t\xe9"}\n', 'latin1')), { task: 'classify' })).toMatch(/latin1\.jsonl:2: not UTF-8 text: byte 42 is 0xE9/);
  });

  it('a column empty in the first hundred rows and filled later is an input (its first empty cell refused); one empty in every row is skipped', async () => {
    const rows = (last: string) => ['a,b,c', ...Array.from({ length: 150 }, (_, i) => `${i},${i % 5},${i === 149 ? last : ''}`)].join('\n');
    expect(await failure(file('late.csv', rows('7')), { task: 'autoencoder', csv: { seqLen: 2 } })).toMatch(/late\.csv:2: column 'c' is '', expected a finite number/);
    const ds = await loadDataset(file('never.csv', rows('')), { task: 'autoencoder', csv: { seqLen: 2 } });
    expect(ds.featureNames).toEqual(['a', 'b']);
    expect(ds.risingInputs).toEqual(['a']);
  });

  it('windows are views of one float32 array of the rows, not copies (they overlap by half by default)', async () => {
    const ds = await loadDataset(file('views.csv', `a,b\n${Array.from({ length: 64 }, (_, i) => `${i},${-i}`).join('\n')}\n`), { task: 'forecast', csv: { seqLen: 8 } });
    expect(ds.samples.length).toBe(14);
    expect(new Set(ds.samples.flatMap((s) => [s.x.buffer, s.target!.buffer])).size).toBe(1);
    expect(ds.samples[0]!.x.buffer.byteLength).toBe(64 * 2 * 4);
    expect(Array.from(ds.samples[13]!.target!)).toEqual([53, -53, 54, -54, 55, -55, 56, -56, 57, -57, 58, -58, 59, -59, 60, -60]);
  });
});

describe('loose ends: Excel\'s sep= line, text and column labels in .npy', () => {
  const rows = Array.from({ length: 6 }, (_, i) => `${i},${2 * i},${i % 2 ? 'up' : 'down'}`);
  it('a first line "sep=," (Excel\'s delimiter line) is skipped: it was "no column \'label\' (columns: sep=, )"', async () => {
    const p = file('excel-sep.csv', ['sep=,', 'a,b,label', ...rows].join('\r\n'));
    const ds = await loadDataset(p, { task: 'classify', csv: { seqLen: 2, labelColumn: 'label' } });
    const plain = await loadDataset(file('excel-plain.csv', ['a,b,label', ...rows].join('\r\n')), { task: 'classify', csv: { seqLen: 2, labelColumn: 'label' } });
    expect([ds.featureNames, ds.labels, ds.samples.length]).toEqual([['a', 'b'], ['down', 'up'], 5]);
    // The same windows, each a line further down the file.
    const line = (where: string): number => Number(/:(\d+)$/.exec(where)![1]);
    expect(ds.samples.map((s) => [Array.from(s.x), s.y, line(s.where)])).toEqual(plain.samples.map((s) => [Array.from(s.x), s.y, line(s.where) + 1]));
  });

  it('"sep=;" or a tab is named as the delimiter it states, with the conversion', async () => {
    const semi = file('excel-semi.csv', ['sep=;', 'a;b;label', '1,5;2;x', '0,5;1;y'].join('\n'));
    expect(await failure(semi, { task: 'classify', csv: { seqLen: 1, labelColumn: 'label' } })).toMatch(/excel-semi\.csv:1: the first line "sep=;" \(Excel's\) says the fields are separated by semicolons: .*comma-separated.*sed '1d; s\/,\/\.\/g; s\/;\/,\/g'/);
    const tab = file('excel-tab.csv', ['sep=\t', 'a\tb', '1\t2'].join('\n'));
    expect(await failure(tab, { task: 'autoencoder', csv: { seqLen: 1 } })).toMatch(/excel-tab\.csv:1: the first line "sep=\\t" \(Excel's\) says the fields are separated by tabs/);
  });

  it('text labels (<U4) say labels must be integers, or JSON Lines keeps names; [N, 1] labels are squeezed', async () => {
    const x = file('lx.npy', writeNpy(Float32Array.from({ length: 3 * 2 * 1 }, (_, i) => i), [3, 2, 1]));
    const utf32 = (s: string): number[] => [...s.padEnd(4, '\0')].flatMap((c) => [c.charCodeAt(0), 0, 0, 0]);
    let header = "{'descr': '<U4', 'fortran_order': False, 'shape': (3,), }";
    header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
    const text = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8, ...new TextEncoder().encode(header), ...utf32('up'), ...utf32('down'), ...utf32('up')]);
    const msg = await failure(x, { task: 'classify', labelsPath: file('ltext.npy', text) });
    expect(msg).toMatch(/ltext\.npy: labels are text \('<U4'\): a \.npy labels file holds integer class indices/);
    expect(msg).toMatch(/JSON Lines/);
    const col = file('lcol.npy', writeNpy(Float32Array.from([1, 0, 1]), [3, 1]));
    const ds = await loadDataset(x, { task: 'classify', labelsPath: col });
    expect([ds.labels, ds.samples.map((s) => s.y)]).toEqual([['0', '1'], [1, 0, 1]]);
    const onehot = file('lhot.npy', writeNpy(Float32Array.from([0, 1, 1, 0, 0, 1]), [3, 2]));
    expect(await failure(x, { task: 'classify', labelsPath: onehot })).toMatch(/lhot\.npy: labels of shape \[3,2\], expected \[3\].*np\.argmax\(y, axis=1\)/);
  });
});

describe('CSV numbers read from the bytes, and progress', () => {
  it('every plain decimal reads as Number() of its text (the byte reader), and others as before', async () => {
    const rng = (() => {
      let s = 12345;
      return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    })();
    const digits = (n: number): string => Array.from({ length: n }, () => Math.floor(rng() * 10)).join('');
    const cells: string[] = ['0', '-0', '+0', '007', '1.', '.5', '+.5', '-.25', '123456789012345', '12345678901234.5', '0.000000000000001', '9999999999999999', '1.2345678901234567', '1e3', ' 2.5', '-1.5E-3', '16', '3.4028234e38'];
    for (let i = 0; i < 3000; i++) {
      const whole = digits(Math.floor(rng() * 9));
      const frac = digits(Math.floor(rng() * 12));
      cells.push(`${rng() < 0.3 ? '-' : ''}${whole}${frac || rng() < 0.5 ? `.${frac}` : ''}` || '0');
    }
    const usable = cells.filter((c) => c !== '' && c !== '.' && c !== '-.' && c !== '-');
    const ds = await loadDataset(file('decimals.csv', `x\n${usable.join('\n')}\n`), { task: 'autoencoder', csv: { seqLen: 1 } });
    expect(ds.samples.map((s) => s.x[0])).toEqual(usable.map((c) => Math.fround(Number(c))));
  });

  it('onProgress goes from near 0 to near 1 through both passes, and the windows are the same as without it', async () => {
    const text = `a,b\n${Array.from({ length: 300_000 }, (_, i) => `${i % 97},${(i % 13) / 8}`).join('\n')}\n`;
    expect(text.length).toBeGreaterThan(2 * 2 ** 20);
    const p = file('progress.csv', text);
    const seen: number[] = [];
    const ds = await loadDataset(p, { task: 'autoencoder', csv: { seqLen: 100 }, onProgress: (f) => seen.push(f) });
    const plain = await loadDataset(p, { task: 'autoencoder', csv: { seqLen: 100 } });
    expect(seen.length).toBeGreaterThan(4);
    expect(seen.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= seen[i - 1]!))).toBe(true);
    expect(seen[0]).toBeLessThan(0.05);
    expect(seen.at(-1)).toBeGreaterThan(0.6);
    expect(ds.sha256).toBe(plain.sha256);
    expect(ds.samples.map((s) => Array.from(s.x))).toEqual(plain.samples.map((s) => Array.from(s.x)));
  });

  it('JSON Lines report progress too', async () => {
    const p = file('progress.jsonl', Array.from({ length: 10_000 }, (_, i) => `{"x": [[${i % 7}]], "y": "${i % 2 ? 'a' : 'b'}"}`).join('\n'));
    const seen: number[] = [];
    const ds = await loadDataset(p, { task: 'classify', onProgress: (f) => seen.push(f) });
    expect(ds.samples.length).toBe(10_000);
    expect(seen).toEqual([0, 4096 / 10_000, 8192 / 10_000]);
  });
});
