/** Bad data gets a BAD_DATA error naming the file and line; good data parses to the right shapes. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isEdgeRnnError, writeNpy } from '../../src/index.js';
import { loadDataset, type LoadOptions } from '../../quantize/data/load.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-data-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

async function failure(p: string, opts: LoadOptions): Promise<string> {
  try {
    await loadDataset(p, opts);
  } catch (e) {
    if (!isEdgeRnnError(e, 'BAD_DATA')) throw e;
    return e.message;
  }
  throw new Error(`${p} loaded without error`);
}

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
