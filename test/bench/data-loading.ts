/**
 * What loading a training file costs: CSV parse speed, and peak memory over the file's size for
 * CSV and .npy (int8 and float32), the current loaders against the approach they replaced (the
 * numbers docs/trainer.md, "Limits", cites).
 *
 *   speed   in this process, rounds interleaved (order rotated): parseCsv on the file's bytes,
 *           loadDataset (the same plus the read, the UTF-8 check and sha256), a simple baseline
 *           of the replaced approach written out here (the text decoded, `split` into a string
 *           per cell, `Number()` per cell into float64 columns, each window copied into
 *           float32), and the replaced parser itself: quantize/data/csv.ts at a git revision
 *           (--rev, default 0ef32a3^, the last one with a string per cell; left out without
 *           git), on the decoded text as its loader gave it. It walked the text a character at
 *           a time (quotes), which is why it is slower than the `split` baseline.
 *   memory  a fresh process per loader and file (peak RSS is a process's): loadDataset against
 *           the replaced paths (CSV: the two above; .npy: readNpy, the whole array as float64,
 *           then a float32 copy per sequence, which is what the loader did until 2026-11-27).
 *           Printed: (peak RSS - RSS before the read) / file size, the number docs/trainer.md
 *           gives, and peak RSS over the file size for the whole process.
 *
 * Files are generated under the system's temp folder and removed at the end. The CSV for speed
 * has 7 numbers and a label per row (60 MB), the one for memory 4 numbers and a label (39 MB);
 * the .npy files are [N][128][6] int8 and float32 of the same size, with float32 labels [N].
 *
 * --quick: 12 MB and 10 MB files, a smoke run (fixed costs weigh more: the CSV's 2.1 times is
 * about 2.8 there). --mb sizes the speed file, --mem-mb the memory files (the replaced loaders are left out when
 * about 16 times that is more than half the free memory).
 *
 *   npx tsx test/bench/data-loading.ts [--quick] [--mb 60] [--mem-mb 39] [--rounds 3] [--rev 0ef32a3^]
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readNpy, writeNpy } from '../../src/index.js';
import { parseCsv } from '../../quantize/data/csv.js';
import { loadDataset } from '../../quantize/data/load.js';

const SEQ = 64;

type OldParse = (text: string, source: string, opts: { task: 'classify'; seqLen: number; labelColumn: string }) => { samples: unknown[] };

/**
 * The CSV parser of a git revision (default the one before the byte parser, 0ef32a3^), copied
 * next to the files with its one import pointed at today's dataset.ts; null without git.
 */
async function oldParser(rev: string, dir: string): Promise<OldParse | null> {
  let src: string;
  try {
    src = execFileSync('git', ['show', `${rev}:quantize/data/csv.ts`], { cwd: import.meta.dirname, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
  const dataset = pathToFileURL(path.resolve(import.meta.dirname, '../../quantize/data/dataset.ts')).href;
  const file = path.join(dir, 'csv-old.ts');
  fs.writeFileSync(file, src.replace("from './dataset.js'", `from '${dataset}'`));
  return ((await import(pathToFileURL(file).href)) as { parseCsv: OldParse }).parseCsv;
}
const LABELS = ['rest', 'walk', 'run'];

/** The replaced CSV path: a string per cell, float64 columns, windows copied into float32. */
function splitCsv(bytes: Uint8Array, seqLen: number): number {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const rows = text.split(/\r\n|\r|\n/).filter((l) => l !== '').map((l, i) => ({ cells: l.split(','), line: i + 1 }));
  const header = rows[0]!.cells;
  const labelCol = header.indexOf('label');
  const numCols = header.map((_, i) => i).filter((i) => i !== labelCol);
  const N = rows.length - 1;
  const cols = numCols.map(() => new Float64Array(N));
  const labels: string[] = [];
  for (let r = 0; r < N; r++) {
    const cells = rows[r + 1]!.cells;
    numCols.forEach((c, j) => {
      const v = Number(cells[c]);
      if (!Number.isFinite(v)) throw new Error(`line ${r + 2}: not a number`);
      cols[j]![r] = v;
    });
    labels.push(cells[labelCol]!);
  }
  const F = numCols.length;
  const samples: { x: Float32Array; y: string }[] = [];
  for (let s = 0; s + seqLen <= N; s += seqLen / 2) {
    const x = new Float32Array(seqLen * F);
    for (let t = 0; t < seqLen; t++) for (let j = 0; j < F; j++) x[t * F + j] = cols[j]![s + t]!;
    samples.push({ x, y: labels[s + seqLen - 1]! });
  }
  return samples.length;
}

/** The replaced .npy path: the whole array as float64, then a float32 copy of each sequence. */
function float64Npy(bytes: Uint8Array): number {
  const X = readNpy(bytes);
  const [N, T, F] = X.shape as [number, number, number];
  const samples: Float32Array[] = [];
  for (let n = 0; n < N; n++) samples.push(Float32Array.from(X.data.subarray(n * T * F, (n + 1) * T * F)));
  return samples.length;
}

// ---- child: one load, its memory -------------------------------------------------------------

async function child(kind: string, file: string, labelsFile: string, rev: string): Promise<void> {
  const size = fs.statSync(file).size;
  const old = kind === 'csv-rev' ? await oldParser(rev, path.dirname(file)) : null;
  const before = process.memoryUsage().rss;
  let windows: number;
  if (old) windows = old(new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file)), file, { task: 'classify', seqLen: SEQ, labelColumn: 'label' }).samples.length;
  else if (kind === 'csv') windows = (await loadDataset(file, { task: 'classify', csv: { seqLen: SEQ, labelColumn: 'label' } })).samples.length;
  else if (kind === 'csv-split') windows = splitCsv(fs.readFileSync(file), SEQ);
  else if (kind === 'npy') windows = (await loadDataset(file, { task: 'classify', labelsPath: labelsFile })).samples.length;
  else windows = float64Npy(fs.readFileSync(file));
  // VmHWM is this process's own peak: getrusage's maxRSS carries the parent's over the spawn
  // (Linux keeps the larger of the old and new address spaces' peaks across exec).
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(fs.existsSync('/proc/self/status') ? fs.readFileSync('/proc/self/status', 'utf8') : '');
  const peak = (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) * 1024;
  process.stdout.write(JSON.stringify({ size, before, peak, windows }));
}

// ---- parent ----------------------------------------------------------------------------------

function writeCsv(file: string, inputs: number, bytes: number, seed: number): void {
  let s = seed >>> 0;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const fd = fs.openSync(file, 'w');
  let written = fs.writeSync(fd, `${Array.from({ length: inputs }, (_, i) => `x${i}`).join(',')},label\n`);
  let row = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let k = 0; k < 4096; k++, row++) {
      const cells = Array.from({ length: inputs }, () => rnd().toFixed(4));
      lines.push(`${cells.join(',')},${LABELS[Math.floor(row / 200) % LABELS.length]}\n`);
    }
    written += fs.writeSync(fd, lines.join(''));
  }
  fs.closeSync(fd);
}

function npyHeader(descr: string, shape: number[]): Uint8Array {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  dict += ' '.repeat(63 - ((10 + dict.length) % 64)) + '\n';
  const h = new Uint8Array(10 + dict.length);
  h.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length & 0xff, dict.length >> 8]);
  h.set(new TextEncoder().encode(dict), 10);
  return h;
}

function writeNpys(dir: string, bytes: number): { int8: string; float32: string; labels: string } {
  const T = 128;
  const F = 6;
  const N = Math.max(1, Math.round(bytes / (T * F)));
  const i8 = new Int8Array(N * T * F);
  for (let i = 0; i < i8.length; i++) i8[i] = ((i * 2654435761) >>> 24) - 128;
  const int8 = path.join(dir, 'x-int8.npy');
  fs.writeFileSync(int8, Buffer.concat([npyHeader('|i1', [N, T, F]), new Uint8Array(i8.buffer)]));
  const N32 = Math.max(1, Math.round(N / 4));
  const float32 = path.join(dir, 'x-float32.npy');
  const f32 = new Float32Array(N32 * T * F); // (Float32Array.from of a typed array lists it first: a heap OOM at 586 MB)
  for (let i = 0; i < f32.length; i++) f32[i] = i8[i]! / 128;
  fs.writeFileSync(float32, writeNpy(f32, [N32, T, F]));
  // One labels file for both: the float32 one reads its first N32 (a shorter file is refused, so two).
  const labels = path.join(dir, 'y.npy');
  fs.writeFileSync(labels, writeNpy(Float32Array.from({ length: N }, (_, n) => n % 3), [N]));
  fs.writeFileSync(path.join(dir, 'y32.npy'), writeNpy(Float32Array.from({ length: N32 }, (_, n) => n % 3), [N32]));
  return { int8, float32, labels };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, mb: { type: 'string' }, 'mem-mb': { type: 'string' }, rounds: { type: 'string' }, child: { type: 'string' }, rev: { type: 'string', default: '0ef32a3^' }, file: { type: 'string' }, labels: { type: 'string' } } });
  if (values.child) return child(values.child, values.file!, values.labels ?? '', values.rev);
  const MB = 2 ** 20;
  const speedMb = Number(values.mb ?? (values.quick ? 12 : 60));
  const memMb = Number(values['mem-mb'] ?? (values.quick ? 10 : 39));
  // The replaced loaders take about 15 times the file: left out where that would not fit.
  const replaced = memMb * 2 ** 20 * 16 < os.freemem() / 2;
  const rounds = Number(values.rounds ?? 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-data-loading-'));
  try {
    // ---- CSV speed, one process ----
    const speedFile = path.join(dir, 'speed.csv');
    writeCsv(speedFile, 7, speedMb * MB, 1);
    const bytes = new Uint8Array(fs.readFileSync(speedFile));
    const size = bytes.length;
    const runners: [string, () => Promise<number>][] = [
      ['parseCsv (bytes -> float32)', async () => parseCsv(bytes, 'speed.csv', { task: 'classify', seqLen: SEQ, labelColumn: 'label' }).samples.length],
      ['loadDataset (+ UTF-8 check, sha256, read)', async () => (await loadDataset(speedFile, { task: 'classify', csv: { seqLen: SEQ, labelColumn: 'label' } })).samples.length],
      ['split + Number() per cell (replaced)', async () => splitCsv(bytes, SEQ)],
    ];
    const old = await oldParser(values.rev, dir);
    if (old) runners.push([`parseCsv at ${values.rev} (text, a string per cell)`, async () => old(new TextDecoder('utf-8', { fatal: true }).decode(bytes), 'speed.csv', { task: 'classify', seqLen: SEQ, labelColumn: 'label' }).samples.length]);
    else console.log(`(no git revision ${values.rev}: the replaced parser itself is left out)`);
    const counts = await Promise.all(runners.map(([, run]) => run()));
    if (new Set(counts).size !== 1) throw new Error(`window counts differ: ${counts.join(', ')}`);
    const times = runners.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < runners.length; j++) {
        const i = (j + r) % runners.length;
        const t0 = process.hrtime.bigint();
        await runners[i]![1]();
        times[i]!.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
    }
    const med = times.map((v) => [...v].sort((a, b) => a - b)[v.length >> 1]!);
    console.log(`CSV parse: ${(size / MB).toFixed(1)} MB, 7 numbers and a label per row, ${counts[0]} windows of ${SEQ}, median of ${rounds} interleaved rounds (Node ${process.version})`);
    console.log('| loader | s | MB/s | parseCsv speed over this |');
    console.log('| --- | ---: | ---: | ---: |');
    runners.forEach(([name], i) => console.log(`| ${name} | ${med[i]!.toFixed(2)} | ${(size / MB / med[i]!).toFixed(1)} | ${(med[i]! / med[0]!).toFixed(2)}x |`));
    fs.rmSync(speedFile);

    // ---- memory, a process per load ----
    const memFile = path.join(dir, 'mem.csv');
    writeCsv(memFile, 4, memMb * MB, 2);
    const npy = writeNpys(dir, memMb * MB);
    const cases: [string, string, string, string][] = [
      ['CSV, 4 numbers and a label', 'csv', memFile, ''],
      ...(replaced ? [['CSV, 4 numbers and a label', 'csv-split', memFile, ''] as [string, string, string, string]] : []),
      ...(old && replaced ? [['CSV, 4 numbers and a label', 'csv-rev', memFile, ''] as [string, string, string, string]] : []),
      ['.npy int8 [N][128][6]', 'npy', npy.int8, npy.labels],
      ...(replaced ? [['.npy int8 [N][128][6]', 'npy-f64', npy.int8, ''] as [string, string, string, string]] : []),
      ['.npy float32 [N][128][6]', 'npy', npy.float32, path.join(dir, 'y32.npy')],
      ...(replaced ? [['.npy float32 [N][128][6]', 'npy-f64', npy.float32, ''] as [string, string, string, string]] : []),
    ];
    const script = process.argv[1]!;
    const rows = cases.map(([what, kind, file, labels]) => {
      try {
        const out = execFileSync(process.execPath, [...process.execArgv, script, '--child', kind, '--rev', values.rev, '--file', file, ...(labels ? ['--labels', labels] : [])], { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
        return { what, kind, failed: '', ...(JSON.parse(out) as { size: number; before: number; peak: number; windows: number }) };
      } catch (e) {
        // A loader that cannot load the file (the replaced CSV ones past 512 M characters) is a row saying why.
        const why = /^(?:\w*Error|FATAL ERROR)[^\n]*/m.exec(String((e as { stderr?: unknown }).stderr ?? ''))?.[0] ?? 'failed';
        return { what, kind, failed: why, size: fs.statSync(file).size, before: NaN, peak: NaN, windows: NaN };
      }
    });
    console.log(`\nPeak memory over file size, a fresh process each (its RSS before the read is subtracted in "added")${replaced ? '' : `; the replaced loaders left out (about ${memMb * 16} MB each, more than half the free memory)`}`);
    console.log('| file | MB | loader | windows | peak RSS MB | added / file | peak / file | added: replaced / current |');
    console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
    const name: Record<string, string> = { csv: 'loadDataset', 'csv-split': 'split + Number() (replaced)', 'csv-rev': `parseCsv at ${values.rev}`, npy: 'loadDataset', 'npy-f64': 'readNpy float64 + copies (replaced)' };
    const addedOf = (r: (typeof rows)[number]): number => (r.peak - r.before) / r.size;
    rows.forEach((r, i) => {
      if (r.failed) return console.log(`| ${r.what} | ${(r.size / MB).toFixed(1)} | ${name[r.kind]} | ${r.failed} | | | | |`);
      const added = addedOf(r);
      // Against the current loader of the same file (the row above it with kind csv or npy).
      const current = rows.slice(0, i).reverse().find((c) => c.what === r.what && (c.kind === 'csv' || c.kind === 'npy'));
      const pair = current ? `${(added / addedOf(current)).toFixed(1)}x` : '';
      console.log(`| ${r.what} | ${(r.size / MB).toFixed(1)} | ${name[r.kind]} | ${r.windows} | ${(r.peak / MB).toFixed(0)} | ${added.toFixed(1)} | ${(r.peak / r.size).toFixed(1)} | ${pair} |`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
