/**
 * CSV time series: one row per time step, columns are channels; an optional header row names
 * them (a first row that is not all numbers is a header). The series is cut into windows of
 * `seqLen` steps every `stride` steps:
 *   forecast     x = rows[s .. s+L), target[t] = targetColumns of row s+t+horizon
 *   autoencoder  x = rows[s .. s+L)
 *   classify     x = rows[s .. s+L), label = labelColumn at the window's last row
 * Columns whose first data row is not a number (timestamps) are skipped unless named.
 */
import { classLookup, dataError, sortLabels, type Dataset, type Sample, type TrainTask } from './dataset.js';

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
  /** Calibration: the inputs alone are read, and a labelColumn the file does not have is not looked for. */
  inputsOnly?: boolean;
  labels?: readonly string[];
}

/**
 * Rows of RFC 4180 CSV: fields separated by commas, a field in double quotes may hold commas,
 * line breaks and doubled quotes (""); lines end in LF, CRLF or a lone CR. Each row keeps the
 * line it starts on. Blank lines and lines starting with '#' are skipped; unquoted fields are
 * trimmed.
 */
function csvRows(text: string, source: string): { cells: string[]; line: number }[] {
  const rows: { cells: string[]; line: number }[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  const eol = (at: number): number => (text[at] === '\r' ? (text[at + 1] === '\n' ? 2 : 1) : text[at] === '\n' ? 1 : 0);
  while (i < n) {
    const start = line;
    // A blank or comment line.
    let j = i;
    while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
    if (j >= n || eol(j) || text[i] === '#') {
      while (i < n && !eol(i)) i++;
      if (i < n) {
        i += eol(i);
        line++;
      }
      continue;
    }
    const cells: string[] = [];
    for (;;) {
      let k = i;
      while (k < n && (text[k] === ' ' || text[k] === '\t')) k++;
      let cell: string;
      if (text[k] === '"') {
        let v = '';
        k++;
        for (;;) {
          if (k >= n) throw dataError(`${source}:${start}`, 'a quoted field is not closed (expected a closing \'"\')');
          if (text[k] === '"') {
            if (text[k + 1] === '"') {
              v += '"';
              k += 2;
              continue;
            }
            k++;
            break;
          }
          const e = eol(k);
          if (e) {
            v += text.slice(k, k + e);
            k += e;
            line++;
            continue;
          }
          v += text[k];
          k++;
        }
        while (k < n && (text[k] === ' ' || text[k] === '\t')) k++;
        if (k < n && text[k] !== ',' && !eol(k)) throw dataError(`${source}:${line}`, `text after a closing quote (${JSON.stringify(text.slice(k, k + 10))}): a quoted field must end at a comma or the end of the line`);
        cell = v;
      } else {
        let e = k;
        while (e < n && text[e] !== ',' && !eol(e)) e++;
        cell = text.slice(k, e).trim();
        k = e;
      }
      cells.push(cell);
      i = k;
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (i < n) {
      i += eol(i);
      line++;
    }
    rows.push({ cells, line: start });
  }
  return rows;
}

/** A decimal number as CSV writers print one ("3", "-0.5", ".5", "1e-3"), not hex, octal or binary. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** What a reader of numbers means by a missing or non-finite value: part of a data row, never a column name. */
const NOT_A_NAME = /^([+-]?(nan|inf|infinity)|na|n\/a|null|none)?$/i;

/**
 * Refuses a file separated by semicolons or tabs (a spreadsheet's export with a decimal comma,
 * "1,5;2,3"): read by commas it gave "no column 'label' (columns: f1;f2;label)", or split its
 * decimal commas into cells of other numbers. A first line with more semicolons (or tabs) than
 * commas is such a file; a quoted name holding one among commas is not.
 */
function checkSeparator(text: string, firstLine: number, source: string): void {
  const line = text.split(/\r\n|\r|\n/, firstLine)[firstLine - 1] ?? '';
  const count = (c: string): number => line.split(c).length - 1;
  const commas = count(',');
  for (const [sep, name] of [[';', 'semicolons'], ['\t', 'tabs']] as const) {
    if (count(sep) > commas) {
      throw dataError(`${source}:${firstLine}`, `the first line is separated by ${name} (${JSON.stringify(line.slice(0, 40))}): CSV files here are comma-separated with a decimal point; convert it first, e.g. ${sep === ';' ? "sed 's/,/./g; s/;/,/g'" : "tr '\\t' ','"}`, { expected: 'comma-separated values', got: `${name}-separated` });
    }
  }
}

function checkWindowing(source: string, opts: CsvOptions): void {
  const int = (name: string, v: unknown, min: number): void => {
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= min)) {
      throw dataError(source, `CSV option ${name} is ${JSON.stringify(v)}, expected an integer >= ${min}`, { expected: `integer >= ${min}`, got: v });
    }
  };
  int('seqLen', opts.seqLen, 1);
  int('stride', opts.stride, 1);
  int('horizon', opts.horizon, 0);
  for (const name of ['columns', 'targetColumns'] as const) {
    const v: unknown = opts[name];
    if (v !== undefined && !(Array.isArray(v) && v.every((c) => typeof c === 'string'))) {
      throw dataError(source, `CSV option ${name} is ${JSON.stringify(v)}, expected a list of column names`, { expected: 'string[]', got: v });
    }
  }
  if (opts.labelColumn !== undefined && typeof opts.labelColumn !== 'string') {
    throw dataError(source, `CSV option labelColumn is ${JSON.stringify(opts.labelColumn)}, expected a column name`, { expected: 'string', got: opts.labelColumn });
  }
}

export function parseCsv(text: string, source: string, opts: CsvOptions): Omit<Dataset, 'sha256'> {
  checkWindowing(source, opts);
  const rows = csvRows(text, source);
  if (rows.length === 0) throw dataError(source, 'empty: no rows');
  const isNum = (s: string): boolean => DECIMAL.test(s.trim()) && Number.isFinite(Number(s));
  const first = rows[0]!;
  checkSeparator(text, first.line, source);
  // The first row is a header when it has a name over a column that holds numbers below ("a"
  // over "1"), or over words of another shape ("time" over "2020-01-01"); a row whose words are
  // shaped like the words below them (a headerless file's timestamps, labels) is data, and so is a
  // missing or non-finite value ("", "NaN"), refused below with its line. One row: any word.
  const word = (s: string): boolean => !isNum(s) && !NOT_A_NAME.test(s.trim());
  const shape = (s: string): string => s.replace(/[0-9]+/g, '9').replace(/[A-Za-z]+/g, 'a');
  const below = rows.slice(1, 101);
  const nameOver = (c: string, i: number): boolean => below.some((r) => isNum(r.cells[i] ?? '')) || !below.some((r) => shape(r.cells[i] ?? '') === shape(c));
  // Also a header: pandas' positional names (a DataFrame of an array: 0, 1, 2 ..., after an empty
  // name for its index unless to_csv(index=False), then any named columns) over columns holding
  // fractions below, and a first row that holds a column name the options give by name. They were
  // read as a first data row: a step [0, 1, 2], "column '0' is ''", "no column 'label' (columns:
  // 0, 1, 2)".
  const off = first.cells[0] === '' ? 1 : 0;
  let k = 0;
  while (off + k < first.cells.length && first.cells[off + k] === String(k)) k++;
  const positional = k >= 2 - off && first.cells.slice(off + k).every(word) && below.some((r) => r.cells.slice(off, off + k).some((c) => isNum(c) && !Number.isInteger(Number(c))));
  const named = [opts.labelColumn, ...(opts.columns ?? []), ...(opts.targetColumns ?? [])].some((n) => n !== undefined && !/^\d+$/.test(n) && first.cells.includes(n));
  const hasHeader = positional || named || (below.length ? first.cells.some((c, i) => word(c) && nameOver(c, i)) : first.cells.some(word));
  const names = hasHeader ? first.cells : first.cells.map((_, i) => String(i));
  const data = hasHeader ? rows.slice(1) : rows;
  if (data.length === 0) throw dataError(source, 'a header but no data rows');
  const width = names.length;
  const col = (name: string): number => {
    let i = names.indexOf(name);
    if (i >= 0 && names.indexOf(name, i + 1) >= 0) throw dataError(source, `column name '${name}' occurs more than once in the header (columns ${names.flatMap((n, k) => (n === name ? [k] : [])).join(', ')}): give its 0-based index instead`);
    if (i < 0 && /^\d+$/.test(name)) i = Number(name);
    if (i < 0 || i >= width) throw dataError(source, `no column '${name}' (columns: ${names.join(', ')})`);
    return i;
  };
  // Calibration reads inputs only: a label column the file does not have is not looked for. An
  // unlabelled calibration CSV for a model trained with --label-column was refused ("no column
  // 'activity'").
  const has = (name: string): boolean => names.includes(name) || (/^\d+$/.test(name) && Number(name) < width);
  const labelCol = opts.labelColumn !== undefined && (!opts.inputsOnly || has(opts.labelColumn)) ? col(opts.labelColumn) : -1;
  if (opts.task === 'classify' && labelCol < 0) throw dataError(source, 'classify from CSV needs a label column (--label-column)');
  // Default inputs: every column but the label whose first data row is not a word (a number, or
  // a missing or non-finite value that is then refused with its line), except columns empty in
  // every row (a trailing comma).
  const inCols = opts.columns?.length
    ? opts.columns.map(col)
    : names.map((_, i) => i).filter((i) => i !== labelCol && !word(data[0]!.cells[i] ?? '') && data.some((r) => (r.cells[i] ?? '') !== ''));
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
      if (!isNum(s)) throw dataError(where, `column '${names[c]}' is '${s}', expected a finite number`, { column: names[c], expected: 'a finite decimal number', got: s });
      if (!Number.isFinite(Math.fround(v))) throw dataError(where, `column '${names[c]}' is ${s}, beyond float32's range (|x| <= 3.4028235e38)`);
      values.get(c)![n] = v;
    }
    if (labelCol >= 0) {
      const lab = r.cells[labelCol]!;
      if (lab === '') throw dataError(where, `label column '${names[labelCol]}' is empty, expected a class name`, { column: names[labelCol], expected: 'a class name', got: '' });
      rowLabels.push(lab);
    }
  });
  const L = opts.seqLen ?? 64;
  const stride = opts.stride ?? Math.max(1, Math.floor(L / 2));
  const horizon = opts.task === 'forecast' ? (opts.horizon ?? 1) : 0;
  if (N < L + horizon) throw dataError(source, `${N} rows: too short for one window of ${L} steps${horizon ? ` plus a horizon of ${horizon}` : ''}`);
  const F = inCols.length;
  const O = tgCols.length;
  // A window's class is the label of its last row, so the classes are those labels: a label on
  // rows inside windows only was a class no window trained, and windows that all ended in one
  // class trained a one-class model past the two-class check.
  let labels: string[] = [];
  if (labelCol >= 0 && opts.labels) labels = [...opts.labels];
  else if (labelCol >= 0) {
    const ends: string[] = [];
    for (let s = 0; s + L + horizon <= N; s += stride) ends.push(rowLabels[s + L - 1]!);
    labels = sortLabels(ends, source);
    const inner = opts.task === 'classify' && labels.length < 2 ? sortLabels(rowLabels, source).filter((l) => !labels.includes(l)) : [];
    if (inner.length) {
      throw dataError(source, `every window ends on a row labelled '${labels[0]}' (a window's class is the label of its last row; --seq-len ${L}, --stride ${stride}): '${inner.join("', '")}' labels rows inside windows only`, { expected: 'at least 2 classes at window ends', got: labels });
    }
  }
  const classOf = classLookup(labels);
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
      const y = classOf(lab);
      if (y === undefined) throw dataError(`${source}:${data[s + L - 1]!.line}`, `unknown label '${lab}': the model knows ${labels.join(', ')}`);
      sample.y = y;
    }
    samples.push(sample);
  }
  // Default inputs that rise at every row: a numeric time stamp or a row index, taken as an input
  // without a word (checked on the parsed values: float32 frames flatten epoch milliseconds).
  const rising = opts.columns?.length ? [] : inCols.filter((c) => N >= 3 && values.get(c)!.every((v, n, a) => n === 0 || v > a[n - 1]!));
  return { source, features: F, featureNames: inCols.map((c) => names[c]!), labels, targetSize: O, samples, ...(rising.length ? { risingInputs: rising.map((c) => names[c]!) } : {}) };
}
