/** The desktop commands end to end: exit codes, files written, JSON output. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { decodeModel, encodeModel, writeNpy } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { firstStepsTask, sineForecast, toJsonl } from '../../quantize/data/synthetic.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, 'train.jsonl'), toJsonl(firstStepsTask({ count: 48, steps: 10, signalSteps: 3, seed: 1 })));
fs.writeFileSync(path.join(dir, 'val.jsonl'), toJsonl(firstStepsTask({ count: 24, steps: 10, signalSteps: 3, seed: 2 })));
fs.writeFileSync(path.join(dir, 'sine.jsonl'), toJsonl(sineForecast({ count: 24, steps: 16, seed: 1 })));

export function cli(...argv: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(argv, desktopCommands, dir);
}

const small = ['--hidden', '8', '--epochs', '3', '--created-at', '2026-01-01T00:00:00Z'];

describe('outputs are checked before any work', () => {
  it('an output that is a folder, or below a file, is a usage error naming the flag: train, quantize, prune, har train, train-kws', async () => {
    fs.mkdirSync(path.join(dir, 'outdir'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    const cases: [string[], RegExp][] = [
      [['train', '--data', 'train.jsonl', ...small, '-o', 'outdir'], /-o\/--output "outdir" is a folder, expected a file/],
      [['train', '--data', 'train.jsonl', ...small, '-o', 'afile/m.ern'], /-o\/--output afile\/m.ern: .*afile is a file, not a folder/],
      [['train', '--data', 'train.jsonl', ...small, '-o', 'ok.ern', '--report', 'outdir'], /--report "outdir" is a folder/],
      [['quantize', 'no-model-read-yet.ern', '--calib', 'train.jsonl', '-o', 'outdir'], /-o\/--output "outdir" is a folder/],
      [['prune', 'no-model-read-yet.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '-o', 'afile/p.ern'], /afile is a file, not a folder/],
      [['har', 'train', '--out', 'outdir', '--data', 'no-such-dataset'], /--out "outdir" is a folder/],
      [['train-kws', '-o', 'outdir'], /--out "outdir" is a folder/],
      // A trailing slash names a folder even before it exists: it was written as a file "newdir".
      [['train', '--data', 'no-such.jsonl', ...small, '-o', 'newdir/'], /-o\/--output "newdir\/" is a folder, expected a file/],
      [['train', '--data', 'no-such.jsonl', ...small, '-o', 'ok.ern', '--report', 'reports/'], /--report "reports\/" is a folder/],
    ];
    for (const [argv, msg] of cases) {
      const r = await cli(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});

describe('edgernn train / eval', () => {
  it('trains, writes a float model with provenance, and evaluates it (--json has accuracy)', async () => {
    const r = await cli('train', '--data', 'train.jsonl', '--val', 'val.jsonl', '--arch', 'gru', '--task', 'classify', ...small, '-o', 'a.ern');
    expect(r.code, r.err).toBe(0);
    const { spec } = decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'a.ern'))));
    expect(spec.precision).toBe('float32');
    expect(spec.training.datasetSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(spec.training.createdAt).toBe('2026-01-01T00:00:00.000Z');
    expect((spec.training.hyperparameters as { hidden: number }).hidden).toBe(8);
    expect(spec.training.metrics).toHaveProperty('float.accuracy');
    const e = await cli('eval', 'a.ern', '--data', 'val.jsonl', '--json');
    expect(e.code, e.err).toBe(0);
    const j = JSON.parse(e.out) as { accuracy: number; confusion: number[][]; perClass: unknown[] };
    expect(j.accuracy).toBeGreaterThanOrEqual(0);
    expect(j.confusion.flat().reduce((a, b) => a + b, 0)).toBe(24);
    expect(j.perClass).toHaveLength(4);
  });

  it('same seed and time: byte-identical files', async () => {
    const a = await cli('train', '--data', 'train.jsonl', '--arch', 'lstm', '--seed', '9', ...small, '-o', 'r1.ern', '--int8');
    const b = await cli('train', '--data', 'train.jsonl', '--arch', 'lstm', '--seed', '9', ...small, '-o', 'r2.ern', '--int8');
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(Buffer.compare(fs.readFileSync(path.join(dir, 'r1.ern')), fs.readFileSync(path.join(dir, 'r2.ern')))).toBe(0);
  });

  it('--help says what a seed fixes: the weights; the same bytes need a fixed time too (--created-at)', async () => {
    // It said "same seed, same bytes": without --created-at the manifest holds the time of the run.
    const h = await cli('train', '--help');
    const lines = h.out.split('\n');
    const at = lines.findIndex((l) => l.trimStart().startsWith('--seed'));
    const line = `${lines[at]} ${lines[at + 1]}`;
    expect(line).toMatch(/same weights/);
    expect(line).toMatch(/--created-at/);
  });

  it('train --int8 --json: "accuracy" is the written int8 model\'s, as in quantize and prune (it was the float model\'s)', async () => {
    // A channel with a large offset and a small signal (a pressure of 1013.25 ± 0.004): float
    // learns it, int16 input steps of 1013/32767 cannot tell the classes apart.
    const lines = Array.from({ length: 40 }, (_, i) => {
      const s = i % 2 ? 0.004 : -0.004;
      return JSON.stringify({ x: Array.from({ length: 6 }, (_, t) => [1013.25 + s + 0.0005 * Math.sin(i + t)]), y: i % 2 ? 'hi' : 'lo' });
    });
    fs.writeFileSync(path.join(dir, 'offset.jsonl'), `${lines.join('\n')}\n`);
    const r = await cli('train', '--data', 'offset.jsonl', '--hidden', '8', '--epochs', '20', '--val-split', '0', '--int8', '--json', '--created-at', '2026-01-01T00:00:00Z', '-o', 'offset8.ern');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { precision: string; accuracy: number; metrics: { float: { accuracy: number }; int8: { accuracy: number } } };
    expect(j.precision).toBe('int8');
    expect(j.metrics.float.accuracy).not.toBe(j.metrics.int8.accuracy);
    expect(j.accuracy).toBeCloseTo(j.metrics.int8.accuracy, 5);
    const e = await cli('eval', 'offset8.ern', '--data', 'offset.jsonl', '--json');
    expect(j.accuracy).toBe((JSON.parse(e.out) as { accuracy: number }).accuracy);
  });

  it('an input the int16 grid cannot resolve (large offset, small spread) is named in a note by train --int8, quantize and prune --int8', async () => {
    // The int8 model of offset.jsonl scores chance: its steps of 1013/32767 = 0.031 are wider than
    // the ±0.004 that tells the classes apart. Nothing said why.
    const f = await cli('train', '--data', 'offset.jsonl', '--hidden', '8', '--epochs', '2', '--val-split', '0', '--created-at', '2026-01-01T00:00:00Z', '-o', 'offset.ern');
    expect(f.code, f.err).toBe(0);
    expect(f.err).not.toMatch(/note: input/);
    const note = /note: input feature 0 varies by 0\.004\d* around 1013\.2\d*, and int8 inputs step by 0\.0309/;
    for (const argv of [
      ['train', '--data', 'offset.jsonl', '--hidden', '8', '--epochs', '2', '--val-split', '0', '--int8', '-o', 'offset8b.ern'],
      ['quantize', 'offset.ern', '--calib', 'offset.jsonl', '-o', 'offset-q.ern'],
      ['prune', 'offset.ern', '--data', 'offset.jsonl', '--sparsity', '0.5', '--min-weights', '8', '--epochs', '1', '--int8', '-o', 'offset-p.ern'],
    ]) {
      const r = await cli(...argv);
      expect(r.code, r.err).toBe(0);
      expect(r.err, argv[0]).toMatch(note);
    }
    // An ordinary input says nothing.
    const q = await cli('quantize', 'a.ern', '--calib', 'train.jsonl', '-o', 'a-q.ern');
    expect(q.code, q.err).toBe(0);
    expect(q.err).not.toMatch(/note: input/);
  });

  it('prune and quantize name the data their table scores, and say when it is the data they fine-tuned or calibrated on', async () => {
    // "pruned float32 100.00%" was the score on --data, the fine-tuning set, with nothing saying so.
    const p = await cli('prune', 'offset.ern', '--data', 'offset.jsonl', '--sparsity', '0.5', '--min-weights', '8', '--epochs', '1', '-o', 'on-p.ern');
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/scored on offset\.jsonl, 40 sequences: the --data it fine-tuned on \(--val scores other data\)/);
    const q = await cli('quantize', 'offset.ern', '--calib', 'offset.jsonl', '-o', 'on-q.ern');
    expect(q.out).toMatch(/scored on offset\.jsonl, 40 sequences: the --calib data \(--eval scores other data\)/);
    const qe = await cli('quantize', 'a.ern', '--calib', 'train.jsonl', '--eval', 'val.jsonl', '-o', 'on-q2.ern');
    expect(qe.out).toMatch(/scored on val\.jsonl, 24 sequences\n/);
  });

  it('forecast: eval prints MSE/MAE', async () => {
    expect((await cli('train', '--data', 'sine.jsonl', '--task', 'forecast', ...small, '-o', 'f.ern')).code).toBe(0);
    const e = await cli('eval', 'f.ern', '--data', 'sine.jsonl', '--json');
    const j = JSON.parse(e.out) as { mse: number; mae: number };
    expect(j.mse).toBeGreaterThan(0);
    expect(j.mae).toBeGreaterThan(0);
  });

  it('exit codes: 2 for usage errors, 1 for bad data naming file and line', async () => {
    expect((await cli('train', '-o', 'x.ern')).code).toBe(2);
    expect((await cli('train', '--data', 'train.jsonl', '--arch', 'transformer', '-o', 'x.ern')).code).toBe(2);
    expect((await cli('train', '--data', 'train.jsonl', '--hidden', '0', '-o', 'x.ern')).code).toBe(2);
    fs.writeFileSync(path.join(dir, 'bad.jsonl'), '{"x": [[1, 2]], "y": "a"}\n{"x": [[1, 2], [3]], "y": "b"}\n');
    const bad = await cli('train', '--data', 'bad.jsonl', '-o', 'x.ern');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/BAD_DATA.*bad\.jsonl:2/);
    const missing = await cli('eval', 'nope.ern', '--data', 'val.jsonl');
    expect(missing.code).toBe(1);
    const sineOnClassifier = await cli('eval', 'a.ern', '--data', 'sine.jsonl');
    expect(sineOnClassifier.code).toBe(1);
    expect(sineOnClassifier.err).toMatch(/sine\.jsonl:1/);
  });

  it('a SOURCE_DATE_EPOCH beyond the dates a Date holds is a usage error, not a RangeError stack trace', async () => {
    const { createdAt } = await import('../../quantize/cli/common.js');
    const saved = process.env.SOURCE_DATE_EPOCH;
    try {
      process.env.SOURCE_DATE_EPOCH = '99999999999999';
      expect(() => createdAt({})).toThrow(/SOURCE_DATE_EPOCH=99999999999999 is beyond the dates a manifest can hold/);
      process.env.SOURCE_DATE_EPOCH = '8640000000000';
      expect(createdAt({})).toBe('+275760-09-13T00:00:00.000Z');
    } finally {
      if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = saved;
    }
  });

  it('a bad --created-at is a usage error before any data is read or any training runs', async () => {
    // It used to be checked when the manifest was written, after the training (for `har train`,
    // an hour of it).
    for (const argv of [
      ['train', '--data', 'missing.jsonl', '--arch', 'gru', '-o', 'x.ern', '--created-at', 'yesterday'],
      ['quantize', 'missing.ern', '--calib', 'missing.jsonl', '-o', 'x.ern', '--created-at', 'yesterday'],
      ['prune', 'missing.ern', '--data', 'missing.jsonl', '--sparsity', '0.5', '-o', 'x.ern', '--created-at', 'yesterday'],
    ]) {
      const r = await cli(...argv);
      expect(r.code, argv[0]).toBe(2);
      expect(r.err, argv[0]).toMatch(/--created-at needs an ISO date, got 'yesterday'/);
    }
  });
});

describe('--created-at is one instant wherever the command runs', () => {
  it('an ISO date-time without an offset is UTC, whatever the time zone; other date forms are usage errors', async () => {
    // Date.parse reads "2026-01-01T10:00:00" (and "01/02/2026", "Jan 5 2026") in the machine's
    // time zone: the same command wrote other bytes in New York than in UTC.
    const { createdAt } = await import('../../quantize/cli/common.js');
    const saved = process.env.TZ;
    try {
      for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
        process.env.TZ = tz;
        expect(createdAt({ 'created-at': '2026-01-01T10:00:00' }), tz).toBe('2026-01-01T10:00:00.000Z');
        expect(createdAt({ 'created-at': '2026-01-01T10:00' }), tz).toBe('2026-01-01T10:00:00.000Z');
        expect(createdAt({ 'created-at': '2026-01-01' }), tz).toBe('2026-01-01T00:00:00.000Z');
        expect(createdAt({ 'created-at': '2026-01-01T10:00:00+02:00' }), tz).toBe('2026-01-01T08:00:00.000Z');
        expect(createdAt({ 'created-at': '2026-01-01T10:00:00.5Z' }), tz).toBe('2026-01-01T10:00:00.500Z');
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    for (const bad of ['01/02/2026', 'Jan 5 2026', '2026', '2026-13-01', '2026-02-30']) {
      expect(() => createdAt({ 'created-at': bad }), bad).toThrow(/--created-at needs an ISO date/);
    }
  });
});

describe('outputs are replaced whole', () => {
  it('a write that fails half way (disk full, Ctrl-C) leaves the previous output as it was, and no temporary file', async () => {
    // The .ern was truncated and rewritten in place: a run stopped during the write lost the
    // previous model too.
    const { writeFile } = await import('../../quantize/cli/common.js');
    fs.writeFileSync(path.join(dir, 'keep.ern'), 'previous model');
    const real = fs.writeFileSync;
    const spy = vi.spyOn(fs, 'writeFileSync').mockImplementation((f, d) => {
      real(f as string, String(d).slice(0, 3));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    try {
      expect(() => writeFile('keep.ern', { cwd: dir }, 'new model')).toThrow(/ENOSPC/);
    } finally {
      spy.mockRestore();
    }
    expect(fs.readFileSync(path.join(dir, 'keep.ern'), 'utf8')).toBe('previous model');
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('keep.ern') && f !== 'keep.ern')).toEqual([]);
    writeFile('keep.ern', { cwd: dir }, 'new model');
    expect(fs.readFileSync(path.join(dir, 'keep.ern'), 'utf8')).toBe('new model');
  });

  const mkfifo = process.platform === 'win32' ? null : spawnSync('mkfifo', ['--version']);
  it.skipIf(!mkfifo || mkfifo.status !== 0)('what is not a regular file (a pipe, /dev/stdout) is written to, not replaced (needs mkfifo)', async () => {
    // The temporary file renamed over `-o /dev/stdout` was "no such file: /proc/…/fd/pipe:[…].tmp".
    const { writeFile } = await import('../../quantize/cli/common.js');
    const fifo = path.join(dir, 'model.fifo');
    spawnSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (b: Buffer) => (got += b.toString()));
    const done = new Promise((resolve) => reader.on('close', resolve));
    try {
      writeFile(fifo, { cwd: dir }, 'model bytes');
      expect(fs.statSync(fifo).isFIFO()).toBe(true);
      await done;
      expect(got).toBe('model bytes');
    } finally {
      reader.kill();
    }
  });
});

describe('--report', () => {
  it('writes one self-contained HTML file with curves, confusion matrix, sparsity, histograms, quantization error, heatmap', async () => {
    const r = await cli('train', '--data', 'train.jsonl', '--val', 'val.jsonl', ...small, '--int8', '-o', 'rep.ern', '--report', 'out/rep.html');
    expect(r.code, r.err).toBe(0);
    const html = fs.readFileSync(path.join(dir, 'out/rep.html'), 'utf8');
    for (const h of ['Metrics', 'Training curves', 'Confusion matrices', 'Sparsity per matrix', 'Weight histograms', 'Quantization error', 'Hidden state over one sequence']) {
      expect(html).toContain(`<h2>${h}</h2>`);
    }
    // Offline: nothing fetched, no scripts.
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/);
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(8);
    // The heatmap: 8 hidden units × 10 steps of one sequence.
    expect((html.match(/<title>unit \d+, step \d+:/g) ?? []).length).toBe(80);
    // Two confusion matrices (float32, int8), each counting every validation sequence once.
    const confusion = html.slice(html.indexOf('<h2>Confusion matrices</h2>'), html.indexOf('<h2>Sparsity per matrix</h2>'));
    const cells = [...confusion.matchAll(/background:rgba\([^)]*\)">(\d+)</g)].map((m) => Number(m[1]));
    expect(cells.reduce((a, b) => a + b, 0)).toBe(2 * 24);
  });
});

describe('regressions', () => {
  // Two .npy sets of 12 sequences (4 steps, 2 features, classes 0..2) and labels that differ.
  const npy = (name: string, seed: number): void => {
    const x = new Float32Array(12 * 4 * 2);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(seed * 7.1 + i * 1.3);
    fs.writeFileSync(path.join(dir, `${name}.npy`), writeNpy(x, [12, 4, 2]));
    fs.writeFileSync(path.join(dir, `${name}-y.npy`), writeNpy(Float32Array.from({ length: 12 }, (_, n) => (n + seed) % 3), [12]));
  };
  npy('xa', 0);
  npy('xb', 1);
  const tiny = ['--hidden', '4', '--epochs', '1', '--created-at', '2026-01-01T00:00:00Z'];

  it('a second .npy file (--val, --eval, --calib) reads its own labels, never those of --labels', async () => {
    // They used to read the --labels file of the first data set: same length, wrong labels, no error.
    const t = await cli('train', '--data', 'xa.npy', '--labels', 'xa-y.npy', '--val', 'xb.npy', ...tiny, '-o', 'n.ern');
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/xb\.npy: the classify task needs labels \[N\] \(--val-labels FILE\.npy\)/);
    const ok = await cli('train', '--data', 'xa.npy', '--labels', 'xa-y.npy', '--val', 'xb.npy', '--val-labels', 'xb-y.npy', ...tiny, '-o', 'n.ern');
    expect(ok.code, ok.err).toBe(0);
    const q = await cli('quantize', 'n.ern', '--calib', 'xa.npy', '--labels', 'xa-y.npy', '--eval', 'xb.npy', '-o', 'n8.ern');
    expect(q.code).toBe(1);
    expect(q.err).toMatch(/xb\.npy: .*\(--eval-labels FILE\.npy\)/);
    const p = await cli('prune', 'n.ern', '--data', 'xa.npy', '--labels', 'xa-y.npy', '--val', 'xb.npy', '--sparsity', '0.5', '--min-weights', '8', '--epochs', '1', '-o', 'np.ern');
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/xb\.npy: .*\(--val-labels FILE\.npy\)/);
    // With their own labels, --eval scores what eval scores on the same file.
    const e = await cli('eval', 'n.ern', '--data', 'xb.npy', '--labels', 'xb-y.npy', '--json');
    const q2 = await cli('quantize', 'n.ern', '--calib', 'xa.npy', '--labels', 'xa-y.npy', '--eval', 'xb.npy', '--eval-labels', 'xb-y.npy', '-o', 'n8.ern', '--json');
    expect(q2.code, q2.err).toBe(0);
    expect((JSON.parse(q2.out) as { float: number }).float).toBe((JSON.parse(e.out) as { accuracy: number }).accuracy);
    const p2 = await cli('prune', 'n.ern', '--data', 'xa.npy', '--labels', 'xa-y.npy', '--val', 'xb.npy', '--val-labels', 'xb-y.npy', '--sparsity', '0.5', '--min-weights', '8', '--epochs', '1', '--int8', '--calib', 'xb.npy', '--calib-labels', 'xb-y.npy', '-o', 'np.ern', '--json');
    expect(p2.code, p2.err).toBe(0);
    expect((JSON.parse(p2.out) as { metrics: Record<string, number> }).metrics.float32).toBe((JSON.parse(e.out) as { accuracy: number }).accuracy);
  });

  it('a labels .npy given with data that is not .npy is a usage error naming the flag (it was ignored)', async () => {
    for (const [argv, re] of [
      [['train', '--data', 'train.jsonl', '--labels', 'xa-y.npy', ...tiny, '-o', 'ignored.ern'], /--labels xa-y\.npy applies to \.npy data .*train\.jsonl holds its own labels/],
      [['train', '--data', 'xa.npy', '--labels', 'xa-y.npy', '--val', 'val.jsonl', '--val-labels', 'xb-y.npy', ...tiny, '-o', 'ignored.ern'], /--val-labels xb-y\.npy applies to \.npy data/],
    ] as [string[], RegExp][]) {
      const r = await cli(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(re);
    }
    expect(fs.existsSync(path.join(dir, 'ignored.ern'))).toBe(false);
  });

  it("CSV windowing recorded in a model's manifest is checked: stride 0 hung eval, a string stride cut wrong windows", async () => {
    const { spec } = decodeModel(new Uint8Array(fs.readFileSync(path.resolve(import.meta.dirname, '../../models/anomaly.ern'))));
    fs.writeFileSync(path.join(dir, 'nab.csv'), ['timestamp,value', ...Array.from({ length: 80 }, (_, i) => `2020-01-01 00:${String(i % 60).padStart(2, '0')}:00,${Math.sin(i / 4).toFixed(3)}`)].join('\n'));
    for (const [data, re] of [
      [{ stride: 0 }, /ERN_MANIFEST.*extra\.data\.stride = 0, expected an integer >= 1/],
      [{ seqLen: 16, stride: '4' }, /ERN_MANIFEST.*extra\.data\.stride = "4", expected an integer >= 1/],
      [{ columns: 'value' }, /ERN_MANIFEST.*extra\.data\.columns = "value", expected a list of column names/],
    ] as [Record<string, unknown>, RegExp][]) {
      fs.writeFileSync(path.join(dir, 'recorded.ern'), encodeModel({ ...spec, extra: { ...spec.extra, data } }));
      const r = await cli('eval', 'recorded.ern', '--data', 'nab.csv', '--json');
      expect(r.code, JSON.stringify(data)).toBe(1);
      expect(r.err).toMatch(re);
    }
  });

  it('a classifier without class names is scored with its output indices as classes ("0".."C-1")', async () => {
    // Its empty label list made every label of the data unknown: "unknown label 2: the model knows ".
    const argmax = {
      name: 'argmax',
      version: '1.0.0',
      task: 'classify' as const,
      labels: [],
      input: { size: 3, frontend: { kind: 'none' } },
      precision: 'float32' as const,
      layers: [{ kind: 'dense' as const, inputSize: 3, outputSize: 3, activation: 'none' as const, float: { W: Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) } }],
      training: {},
    };
    fs.writeFileSync(path.join(dir, 'nolabels.ern'), encodeModel(argmax));
    fs.writeFileSync(path.join(dir, 'idx.jsonl'), [JSON.stringify({ x: [[0, 0, 1]], y: 2 }), JSON.stringify({ x: [[1, 0, 0]], y: 0 }), JSON.stringify({ x: [[1, 0, 0]], y: 1 })].join('\n'));
    const r = await cli('eval', 'nolabels.ern', '--data', 'idx.jsonl', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { accuracy: number; labels: string[]; confusion: number[][] };
    expect([j.accuracy, j.labels, j.confusion]).toEqual([2 / 3, ['0', '1', '2'], [[1, 0, 0], [1, 0, 0], [0, 0, 1]]]);
    // quantize and prune read its data the same way (they refused it: "the model knows "), and
    // the model they write keeps its empty class list.
    for (const argv of [
      ['quantize', 'nolabels.ern', '--calib', 'idx.jsonl', '-o', 'nolabels-q.ern'],
      ['prune', 'nolabels.ern', '--data', 'idx.jsonl', '--sparsity', '0.5', '--epochs', '1', '--min-weights', '1', '-o', 'nolabels-p.ern'],
    ]) {
      const q = await cli(...argv);
      expect(q.code, `${argv[0]}: ${q.err}`).toBe(0);
      expect(decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, argv[argv.length - 1]!)))).spec.labels).toEqual([]);
    }
  });

  it('an output that is an input file, or the other output, is a usage error before any work', async () => {
    // `-o victim.jsonl` replaced the training data with the model; `--report` = `-o` the model with the HTML.
    fs.writeFileSync(path.join(dir, 'victim.jsonl'), ['a', 'b', 'a', 'b'].map((y, i) => JSON.stringify({ x: [[i], [i % 2]], y })).join('\n'));
    const before = fs.readFileSync(path.join(dir, 'victim.jsonl'));
    for (const [argv, re] of [
      [['train', '--data', 'victim.jsonl', ...tiny, '-o', 'victim.jsonl'], /-o\/--output victim\.jsonl is the --data file/],
      [['train', '--data', 'train.jsonl', '--val', 'victim.jsonl', ...tiny, '-o', 'm.ern', '--report', './victim.jsonl'], /--report \.\/victim\.jsonl is the --val file/],
      [['train', '--data', 'no-such.jsonl', ...tiny, '-o', 'same.ern', '--report', 'same.ern'], /--report same\.ern is also -o\/--output/],
      // quantize and prune overwrote their inputs too: the float model, calibration or training data.
      [['quantize', 'victim.jsonl', '--calib', 'train.jsonl', '-o', './victim.jsonl'], /-o\/--output \.\/victim\.jsonl is the MODEL\.ern file/],
      [['quantize', 'a.ern', '--calib', 'victim.jsonl', '-o', 'victim.jsonl'], /-o\/--output victim\.jsonl is the --calib file/],
      [['quantize', 'a.ern', '--calib', 'train.jsonl', '--eval', 'victim.jsonl', '-o', 'q.ern', '--report', 'victim.jsonl'], /--report victim\.jsonl is the --eval file/],
      [['prune', 'victim.jsonl', '--data', 'train.jsonl', '--sparsity', '0.5', '-o', 'victim.jsonl'], /-o\/--output victim\.jsonl is the MODEL\.ern file/],
      [['prune', 'a.ern', '--data', 'train.jsonl', '--val', 'victim.jsonl', '--sparsity', '0.5', '-o', 'p.ern', '--report', 'victim.jsonl'], /--report victim\.jsonl is the --val file/],
    ] as [string[], RegExp][]) {
      const r = await cli(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(re);
    }
    expect(Buffer.compare(fs.readFileSync(path.join(dir, 'victim.jsonl')), before)).toBe(0);
  });

  it('options of a step that does not run are usage errors, not silently ignored', async () => {
    for (const [argv, re] of [
      [['quantize', 'a.ern', '--calib', 'train.jsonl', '-o', 'x.ern', '--percentile', '99'], /--percentile applies to --method percentile, not mse/],
      [['quantize', 'a.ern', '--calib', 'train.jsonl', '-o', 'x.ern', '--method', 'minmax', '--percentile', '99'], /--percentile applies to --method percentile, not minmax/],
      [['quantize', 'a.ern', '--calib', 'train.jsonl', '-o', 'x.ern', '--lr', '0.001'], /--lr is the QAT learning rate: it needs --qat-epochs N/],
      [['prune', 'a.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '-o', 'x.ern', '--calib', 'val.jsonl'], /--calib applies to --int8/],
      [['prune', 'a.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '-o', 'x.ern', '--calib-method', 'minmax'], /--calib-method applies to --int8/],
      [['train', '--data', 'train.jsonl', '-o', 'x.ern', '--calib-method', 'minmax'], /--calib-method applies to --int8/],
    ] as [string[], RegExp][]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(re);
    }
    expect(fs.existsSync(path.join(dir, 'x.ern'))).toBe(false);
  });

  it('data options that would do nothing are usage errors: CSV windowing on data that is not CSV, a labels file without its data file, options of another task', async () => {
    // Each was read and ignored: `--seq-len 32` on JSON Lines trained on the whole sequences.
    for (const [argv, re] of [
      [['train', '--data', 'train.jsonl', '--seq-len', '4', ...tiny, '-o', 'x.ern'], /--seq-len applies to CSV data .*train\.jsonl/],
      [['train', '--data', 'train.jsonl', '--label-column', 'y', ...tiny, '-o', 'x.ern'], /--label-column applies to CSV data/],
      [['eval', 'a.ern', '--data', 'val.jsonl', '--stride', '2'], /--stride applies to CSV data .*val\.jsonl/],
      [['quantize', 'a.ern', '--calib', 'train.jsonl', '--eval', 'val.jsonl', '--columns', 'a', '-o', 'x.ern'], /--columns applies to CSV data .*train\.jsonl, val\.jsonl/],
      [['prune', 'a.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--horizon', '2', '-o', 'x.ern'], /--horizon applies to CSV data/],
      [['train', '--data', 'xa.npy', '--labels', 'xa-y.npy', '--val-labels', 'xb-y.npy', ...tiny, '-o', 'x.ern'], /--val-labels needs --val/],
      [['quantize', 'a.ern', '--calib', 'train.jsonl', '--eval-labels', 'xb-y.npy', '-o', 'x.ern'], /--eval-labels needs --eval/],
      [['prune', 'a.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--val-labels', 'xb-y.npy', '-o', 'x.ern'], /--val-labels needs --val/],
      [['prune', 'a.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--int8', '--calib-labels', 'xb-y.npy', '-o', 'x.ern'], /--calib-labels needs --calib/],
      // A job's folder is not read by loadData, which refuses labels for data that is not .npy.
      [['eval', 'a.ern', '--data', 'outdir', '--labels', 'xb-y.npy'], /--labels xb-y\.npy applies to \.npy data .*outdir holds its own labels/],
      [['train', '--data', 'train.jsonl', '--val', 'val.jsonl', '--val-split', '0.3', ...tiny, '-o', 'x.ern'], /--val-split holds out part of --data when there is no --val/],
      [['train', '--data', 'train.jsonl', '--window', '4', ...tiny, '-o', 'x.ern'], /--window applies to --task autoencoder/],
      [['train', '--data', 'train.jsonl', '--bottleneck', '2', ...tiny, '-o', 'x.ern'], /--bottleneck applies to --task autoencoder/],
      [['train', '--data', 'sine.jsonl', '--task', 'forecast', '--class-weights', 'balanced', ...tiny, '-o', 'x.ern'], /--class-weights applies to --task classify/],
      [['train', '--data', 'series.csv', '--label-column', 'l', '--horizon', '2', ...tiny, '-o', 'x.ern'], /--horizon applies to --task forecast, not classify/],
      [['train', '--data', 'series.csv', '--task', 'autoencoder', '--target-columns', 'v', ...tiny, '-o', 'x.ern'], /--target-columns applies to --task forecast, not autoencoder/],
      // An autoencoder's labels were read and ignored.
      [['train', '--data', 'xa.npy', '--labels', 'xa-y.npy', '--task', 'autoencoder', ...tiny, '-o', 'x.ern'], /--labels applies to --task classify or forecast; an autoencoder's targets are its own input/],
      // A name the model file cannot hold stopped the run after the training (ERN_MANIFEST).
      [['train', '--data', 'no-such.jsonl', '--name', '', ...tiny, '-o', 'x.ern'], /--name needs 1 to 128 characters, got 0/],
      [['train', '--data', 'no-such.jsonl', '--name', 'n'.repeat(129), ...tiny, '-o', 'x.ern'], /--name needs 1 to 128 characters, got 129/],
    ] as [string[], RegExp][]) {
      const r = await cli(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(re);
    }
    expect(fs.existsSync(path.join(dir, 'x.ern'))).toBe(false);
  });

  it('a value flag given twice is a usage error: `--data a --data b` trained on b alone', async () => {
    for (const [argv, re] of [
      [['train', '--data', 'train.jsonl', '--data', 'val.jsonl', ...tiny, '-o', 'x.ern'], /--data is given twice \('train\.jsonl', 'val\.jsonl'\): it takes one value/],
      [['train', '-d', 'train.jsonl', '--data=val.jsonl', ...tiny, '-o', 'x.ern'], /--data is given twice/],
      [['train', '--data', 'train.jsonl', '--hidden', '4', '--hidden', '8', '--epochs', '1', '-o', 'x.ern'], /--hidden is given twice \('4', '8'\)/],
      [['eval', 'a.ern', '--data', 'val.jsonl', '--data', 'train.jsonl'], /--data is given twice/],
      [['quantize', 'a.ern', '--calib', 'train.jsonl', '--calib', 'val.jsonl', '-o', 'x.ern'], /--calib is given twice/],
      [['prune', 'a.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--sparsity', '0.9', '-o', 'x.ern'], /--sparsity is given twice/],
    ] as [string[], RegExp][]) {
      const r = await cli(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(re);
    }
    expect(fs.existsSync(path.join(dir, 'x.ern'))).toBe(false);
  });

  it('prune --seed takes the seeds train takes (0..2^31): 2^32 ran as seed 0, 1e300 too', async () => {
    for (const seed of ['4294967296', '1e300']) {
      const r = await cli('prune', 'a.ern', '--data', 'train.jsonl', '--sparsity', '0.5', '--seed', seed, '-o', 'x.ern');
      expect(r.code, `${seed}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(/--seed needs an integer .*<= 2147483648/);
    }
  });

  it('a model without labels whose task is not classify (anomaly, custom) is scored, quantized and pruned as a per-step forecaster', async () => {
    // eval, quantize and prune read its data as classify and asked for labels it does not have.
    expect((await cli('train', '--data', 'sine.jsonl', '--task', 'forecast', ...tiny, '-o', 'fc.ern')).code).toBe(0);
    const { spec } = decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'fc.ern'))));
    const want = JSON.parse((await cli('eval', 'fc.ern', '--data', 'sine.jsonl', '--json')).out) as { mse: number };
    for (const task of ['anomaly', 'custom'] as const) {
      fs.writeFileSync(path.join(dir, `${task}.ern`), encodeModel({ ...spec, task }));
      const e = await cli('eval', `${task}.ern`, '--data', 'sine.jsonl', '--json');
      expect(e.code, e.err).toBe(0);
      expect((JSON.parse(e.out) as { mse: number }).mse).toBe(want.mse);
      const q = await cli('quantize', `${task}.ern`, '--calib', 'sine.jsonl', '-o', `${task}8.ern`, '--json');
      expect(q.code, q.err).toBe(0);
      expect((JSON.parse(q.out) as { metric: string }).metric).toBe('mse');
      const p = await cli('prune', `${task}.ern`, '--data', 'sine.jsonl', '--sparsity', '0.5', '--min-weights', '8', '--epochs', '1', '-o', `${task}p.ern`);
      expect(p.code, p.err).toBe(0);
    }
  });

  it('the manifest says when validation ran on the training data itself (few sequences, --val-split 0)', async () => {
    // It claimed "0.15 of the training data (seeded split)" for scores measured on the training data.
    fs.writeFileSync(path.join(dir, 'four.jsonl'), ['a', 'b', 'a', 'b'].map((y, i) => JSON.stringify({ x: [[i], [i % 2]], y })).join('\n'));
    for (const argv of [['--data', 'four.jsonl'], ['--data', 'train.jsonl', '--val-split', '0']]) {
      const r = await cli('train', ...argv, ...tiny, '-o', 'v.ern', '--json');
      expect(r.code, r.err).toBe(0);
      expect((JSON.parse(r.out) as { metrics: { validation: string } }).metrics.validation, argv.join(' ')).toBe('the training data itself (nothing held out)');
    }
    const split = await cli('train', '--data', 'train.jsonl', ...tiny, '-o', 'v.ern', '--json');
    expect((JSON.parse(split.out) as { metrics: { validation: string } }).metrics.validation).toBe('0.15 of the training data (seeded split)');
    // The text summary too: "validation accuracy: float 100.00%" on four training sequences read
    // as a held-out score.
    const text = await cli('train', '--data', 'four.jsonl', ...tiny, '-o', 'v.ern');
    expect(text.out).toMatch(/validation on the training data itself \(nothing held out\) accuracy: float/);
    const held = await cli('train', '--data', 'train.jsonl', ...tiny, '-o', 'v.ern');
    expect(held.out).toMatch(/\n  validation accuracy: float/);
  });

  it('a model trained on a .CSV (upper case) records its windows, so eval cuts the same ones', async () => {
    // Only a lower-case .csv recorded --seq-len and --stride; eval then cut 64-step windows.
    const rows = ['a,b', ...Array.from({ length: 40 }, (_, i) => `${Math.sin(i / 3).toFixed(4)},${Math.cos(i / 5).toFixed(4)}`)];
    fs.writeFileSync(path.join(dir, 'SERIES.CSV'), rows.join('\n'));
    const t = await cli('train', '--data', 'SERIES.CSV', '--task', 'forecast', '--seq-len', '8', '--stride', '4', ...tiny, '-o', 'csv.ern');
    expect(t.code, t.err).toBe(0);
    const e = await cli('eval', 'csv.ern', '--data', 'SERIES.CSV', '--json');
    expect(e.code, e.err).toBe(0);
    expect((JSON.parse(e.out) as { samples: number }).samples).toBe(8); // windows at 0, 4, ..., 28 (+1 step horizon)
  });
});
