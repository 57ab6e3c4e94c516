/**
 * CSV time series: one row per time step, columns are channels; an optional header row names
 * them (a first row that is not all numbers is a header). The series is cut into windows of
 * `seqLen` steps every `stride` steps:
 *   forecast     x = rows[s .. s+L), target[t] = targetColumns of row s+t+horizon
 *   autoencoder  x = rows[s .. s+L)
 *   classify     x = rows[s .. s+L), label = labelColumn at the window's last row
 * Columns whose first data row is not a number (timestamps) are skipped unless named.
 */
import { dataError, sortLabels, type Dataset, type Sample, type TrainTask } from './dataset.js';

export interface CsvOptions {
  task: TrainTask;
  /** Window length in steps (default 64). */
  seqLen?: number;
  /** Steps between window starts (default seqLen / 2). */
  stride?: number;
  /** forecast: how many steps ahead the target is (default 1). */
  horizon?: number;
  /** Input columns by name or 0-based index (default: every numeric column except the label). */
  columns?: readonly string[];
  /** forecast target columns (default: the input columns). */
  targetColumns?: readonly string[];
  /** classify: the column holding the label. */
  labelColumn?: string;
  labels?: readonly string[];
}

function splitRow(line: string): string[] {
  return line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
}

export function parseCsv(text: string, source: string, opts: CsvOptions): Omit<Dataset, 'sha256'> {
  const lines = text.split(/\r?\n/);
  const rows: { cells: string[]; line: number }[] = [];
  lines.forEach((l, i) => {
    if (l.trim() !== '' && !l.startsWith('#')) rows.push({ cells: splitRow(l), line: i + 1 });
  });
  if (rows.length === 0) throw dataError(source, 'empty: no rows');
  const isNum = (s: string): boolean => s !== '' && Number.isFinite(Number(s));
  const first = rows[0]!;
  const hasHeader = !first.cells.every(isNum);
  const names = hasHeader ? first.cells : first.cells.map((_, i) => String(i));
  const data = hasHeader ? rows.slice(1) : rows;
  if (data.length === 0) throw dataError(source, 'a header but no data rows');
  const width = names.length;
  const col = (name: string): number => {
    let i = names.indexOf(name);
    if (i < 0 && /^\d+$/.test(name)) i = Number(name);
    if (i < 0 || i >= width) throw dataError(source, `no column '${name}' (columns: ${names.join(', ')})`);
    return i;
  };
  const labelCol = opts.labelColumn !== undefined ? col(opts.labelColumn) : -1;
  if (opts.task === 'classify' && labelCol < 0) throw dataError(source, 'classify from CSV needs a label column (--label-column)');
  const inCols = opts.columns?.length ? opts.columns.map(col) : names.map((_, i) => i).filter((i) => i !== labelCol && isNum(data[0]!.cells[i] ?? ''));
  if (inCols.length === 0) throw dataError(source, 'no numeric input columns');
  const tgCols = opts.task === 'forecast' ? (opts.targetColumns?.length ? opts.targetColumns.map(col) : inCols) : [];
  const numCols = [...new Set([...inCols, ...tgCols])];
  const N = data.length;
  const values = new Map<number, Float64Array>(numCols.map((c) => [c, new Float64Array(N)]));
  const rowLabels: string[] = [];
  data.forEach((r, n) => {
    const where = `${source}:${r.line}`;
    if (r.cells.length !== width) throw dataError(where, `${r.cells.length} values, expected ${width} (as in the ${hasHeader ? 'header' : 'first row'})`, { expected: width, got: r.cells.length });
    for (const c of numCols) {
      const s = r.cells[c]!;
      const v = Number(s);
      if (s === '' || !Number.isFinite(v)) throw dataError(where, `column '${names[c]}' is '${s}', expected a finite number`);
      if (!Number.isFinite(Math.fround(v))) throw dataError(where, `column '${names[c]}' is ${s}, beyond float32's range (|x| <= 3.4028235e38)`);
      values.get(c)![n] = v;
    }
    if (labelCol >= 0) rowLabels.push(r.cells[labelCol]!);
  });
  const L = opts.seqLen ?? 64;
  const stride = opts.stride ?? Math.max(1, Math.floor(L / 2));
  const horizon = opts.task === 'forecast' ? (opts.horizon ?? 1) : 0;
  if (N < L + horizon) throw dataError(source, `${N} rows: too short for one window of ${L} steps${horizon ? ` plus a horizon of ${horizon}` : ''}`);
  const F = inCols.length;
  const O = tgCols.length;
  const labels = labelCol >= 0 ? (opts.labels ? [...opts.labels] : sortLabels(rowLabels)) : [];
  const index = new Map(labels.map((l, i) => [l, i]));
  const samples: Sample[] = [];
  for (let s = 0; s + L + horizon <= N; s += stride) {
    const x = new Float32Array(L * F);
    for (let t = 0; t < L; t++) for (let k = 0; k < F; k++) x[t * F + k] = values.get(inCols[k]!)![s + t]!;
    const sample: Sample = { x, T: L, where: `${source}:${data[s]!.line}` };
    if (O) {
      const target = new Float32Array(L * O);
      for (let t = 0; t < L; t++) for (let k = 0; k < O; k++) target[t * O + k] = values.get(tgCols[k]!)![s + t + horizon]!;
      sample.target = target;
    }
    if (labelCol >= 0) {
      const lab = rowLabels[s + L - 1]!;
      const y = index.get(lab);
      if (y === undefined) throw dataError(`${source}:${data[s + L - 1]!.line}`, `unknown label '${lab}': the model knows ${labels.join(', ')}`);
      sample.y = y;
    }
    samples.push(sample);
  }
  return { source, features: F, featureNames: inCols.map((c) => names[c]!), labels, targetSize: O, samples };
}
