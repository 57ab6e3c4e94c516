/**
 * CSV time series: one row per time step, columns are channels; an optional header row names
 * them (a first row that is not all numbers is a header). The series is cut into windows of
 * `seqLen` steps every `stride` steps:
 *   forecast     x = rows[s .. s+L), target[t] = targetColumns of row s+t+horizon
 *   autoencoder  x = rows[s .. s+L)
 *   classify     x = rows[s .. s+L), label = labelColumn at the window's last row
 * Columns whose first data row is not a number (timestamps) are skipped unless named.
 */
import { Buffer, constants } from 'node:buffer';
import v8 from 'node:v8';
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

/** One row of a CSV: its cells as byte ranges [start, end) of the file (a quoted cell's inside its quotes). */
interface RowSpans {
  n: number;
  start: number[];
  end: number[];
  quoted: boolean[];
  /** The line the row starts on. */
  line: number;
  /** The byte the row starts at. */
  at: number;
}

/** Heap a window takes at least (its sample, views and name), a lower bound of what was measured. */
const HEAP_PER_WINDOW = 200;

/**
 * The longest field read: no name, number or label comes near it. Past it the file is not a CSV
 * (one line without commas, a binary file), and past one string's length (512 M characters) the
 * field was a raw ERR_STRING_TOO_LONG.
 */
const MAX_FIELD = Math.min(64 * 2 ** 20, constants.MAX_STRING_LENGTH);
const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;
const COMMA = 0x2c;

/**
 * Rows of RFC 4180 CSV: fields separated by commas, a field in double quotes may hold commas,
 * line breaks and doubled quotes (""); lines end in LF, CRLF or a lone CR. Each row keeps the
 * line it starts on. Excel's first line "sep=," is skipped (skipSepLine), as are blank lines and
 * lines starting with '#'; unquoted fields are trimmed (by cellText). The file is read as bytes, UTF-8 (a leading byte order mark skipped),
 * and `onRow` gets each row's cells as byte ranges, in one reused object: no string is made for
 * a cell nobody reads (a string per cell took about 12 bytes of memory per byte of file).
 */
function scanCsv(b: Buffer, source: string, onRow: (row: RowSpans) => void): void {
  const n = b.length;
  const row: RowSpans = { n: 0, start: [], end: [], quoted: [], line: 0, at: 0 };
  const eol = (at: number): number => (b[at] === CR ? (b[at + 1] === LF ? 2 : 1) : b[at] === LF ? 1 : 0);
  const bom = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  let i = skipSepLine(b, bom, source, eol);
  let line = i > bom ? 2 : 1;
  while (i < n) {
    const first = line;
    // A blank or comment line.
    let j = i;
    while (j < n && (b[j] === SPACE || b[j] === TAB)) j++;
    if (j >= n || eol(j) || b[i] === 0x23) {
      while (i < n && !eol(i)) i++;
      if (i < n) {
        i += eol(i);
        line++;
      }
      continue;
    }
    row.n = 0;
    row.line = first;
    row.at = i;
    for (;;) {
      let k = i;
      while (k < n && (b[k] === SPACE || b[k] === TAB)) k++;
      let cellStart: number;
      let cellEnd: number;
      const quoted = b[k] === QUOTE;
      if (quoted) {
        k++;
        cellStart = k;
        for (;;) {
          if (k >= n) throw dataError(`${source}:${first}`, 'a quoted field is not closed (expected a closing \'"\')');
          if (b[k] === QUOTE) {
            if (b[k + 1] === QUOTE) {
              k += 2;
              continue;
            }
            break;
          }
          const e = eol(k);
          if (e) {
            k += e;
            line++;
            continue;
          }
          k++;
        }
        cellEnd = k;
        k++;
        while (k < n && (b[k] === SPACE || b[k] === TAB)) k++;
        if (k < n && b[k] !== COMMA && !eol(k)) throw dataError(`${source}:${line}`, `text after a closing quote (${JSON.stringify(utf8(b, k, Math.min(n, k + 40)).slice(0, 10))}): a quoted field must end at a comma or the end of the line`);
      } else {
        cellStart = k;
        // eol(k) inlined: this loop is most of the scan.
        for (let v = b[k]; k < n && v !== COMMA && v !== CR && v !== LF; v = b[++k]);
        cellEnd = k;
      }
      if (cellEnd - cellStart > MAX_FIELD) throw dataError(`${source}:${first}`, `a field of ${Math.round((cellEnd - cellStart) / 2 ** 20)} MB (at most ${MAX_FIELD / 2 ** 20} MB): not a CSV of numbers (comma-separated, a row per line)?`, { expected: `at most ${MAX_FIELD} bytes`, got: cellEnd - cellStart });
      row.start[row.n] = cellStart;
      row.end[row.n] = cellEnd;
      row.quoted[row.n] = quoted;
      row.n++;
      i = k;
      if (i < n && b[i] === COMMA) {
        i++;
        continue;
      }
      break;
    }
    if (i < n) {
      i += eol(i);
      line++;
    }
    onRow(row);
  }
}

/**
 * Excel's first line "sep=X" states the delimiter (Excel writes it, and honours it, for files
 * opened in other locales): "sep=," is skipped, any other delimiter is refused naming it. Read as
 * the header, it was "no column 'label' (columns: sep=, )". Returns where the rows start.
 */
function skipSepLine(b: Buffer, i: number, source: string, eol: (at: number) => number): number {
  if (!(b[i] === 0x73 && b[i + 1] === 0x65 && b[i + 2] === 0x70 && b[i + 3] === 0x3d)) return i; // "sep="
  let end = i + 4;
  while (end < b.length && !eol(end)) end++;
  const sep = utf8(b, i + 4, end);
  if (sep.length !== 1) return i;
  if (sep === ',') return end + eol(end);
  const name = sep === ';' ? 'semicolons' : sep === '\t' ? 'tabs' : `'${sep}'`;
  const convert = sep === ';' ? "sed '1d; s/,/./g; s/;/,/g'" : `sed '1d' FILE | tr '${sep === '\t' ? '\\t' : sep}' ','`;
  throw dataError(`${source}:1`, `the first line ${JSON.stringify(`sep=${sep}`)} (Excel's) says the fields are separated by ${name}: CSV files here are comma-separated with a decimal point; convert it first, e.g. ${convert}`, { expected: 'comma-separated values', got: `${name}-separated` });
}

function utf8(b: Buffer, from: number, to: number): string {
  return b.toString('utf8', from, to);
}

/** Cell c of a row as text: a quoted one unescaped, an unquoted one trimmed. */
function cellText(b: Buffer, row: RowSpans, c: number): string {
  const s = utf8(b, row.start[c]!, row.end[c]!);
  return row.quoted[c] ? s.replaceAll('""', '"') : s.trim();
}

/** Whether cell c of a row is '' (cellText without making the string, for ASCII). */
function cellEmpty(b: Buffer, row: RowSpans, c: number): boolean {
  const from = row.start[c]!;
  const to = row.end[c]!;
  if (row.quoted[c]) return from === to;
  for (let k = from; k < to; k++) {
    const v = b[k]!;
    if (v >= 0x80) return cellText(b, row, c) === ''; // trim() knows Unicode spaces
    if (v !== SPACE && v !== TAB && v !== 0x0b && v !== 0x0c) return false;
  }
  return true;
}

/**
 * The number bytes [from, to) spell when they are a plain decimal, an optional sign and at most
 * 15 digits with an optional point ("-0.25", "3", ".5"), else NaN (then read as text). Exactly
 * Number() of the text: the digits as an integer below 2^53 divided by a power of ten up to
 * 10^15, both exact, is the correctly rounded quotient (Clinger's fast path). Strings made for
 * every cell were most of a CSV's parse time.
 */
function plainDecimal(b: Buffer, from: number, to: number): number {
  let k = from;
  const sign = b[k] === 0x2d ? -1 : 1;
  if (b[k] === 0x2d || b[k] === 0x2b) k++;
  let m = 0;
  let digits = 0;
  let point = -1;
  for (; k < to; k++) {
    const v = b[k]!;
    if (v >= 0x30 && v <= 0x39) {
      m = m * 10 + (v - 0x30);
      digits++;
    } else if (v === 0x2e && point < 0) point = digits;
    else return NaN;
  }
  if (digits === 0 || digits > 15) return NaN;
  return (sign * m) / POW10[point < 0 ? 0 : digits - point]!;
}
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

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
function checkSeparator(line: string, firstLine: number, source: string): void {
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

/**
 * Windows of a CSV file's rows (UTF-8 bytes; the caller checks they are UTF-8). Two passes over
 * the bytes: the first finds the rows, the header and the columns, the second parses the numbers
 * straight into float32 arrays [rows][columns]; windows are views of those, not copies. Memory is
 * about the data's own size as float32 (it was about 12 bytes per byte of file: a string per
 * cell, a float64 per number, a copy per window).
 */
export function parseCsv(bytes: Uint8Array, source: string, opts: CsvOptions, onProgress?: (fraction: number) => void): Omit<Dataset, 'sha256'> {
  checkWindowing(source, opts);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Progress every MiB: the first pass is about a third of the time (measured), the second the rest.
  let nextReport = 0;
  const report = (at: number, pass: 1 | 2): void => {
    if (!onProgress || at < nextReport) return;
    nextReport = at + 2 ** 20;
    onProgress(pass === 1 ? (0.3 * at) / b.length : 0.3 + (0.7 * at) / b.length);
  };
  // First pass: the first 101 rows as text (for the header), the number of rows, and which
  // columns hold something in any row after the first.
  const head: { cells: string[]; line: number }[] = [];
  let firstAt = 0;
  let count = 0;
  const filledAfterFirst: boolean[] = [];
  scanCsv(b, source, (row) => {
    report(row.at, 1);
    if (count === 0) firstAt = row.at;
    if (count < 101) head.push({ cells: Array.from({ length: row.n }, (_, c) => cellText(b, row, c)), line: row.line });
    else for (let c = 0; c < row.n; c++) if (!filledAfterFirst[c] && !cellEmpty(b, row, c)) filledAfterFirst[c] = true;
    count++;
  });
  head.slice(1).forEach((r) => r.cells.forEach((c, i) => (filledAfterFirst[i] ||= c !== '')));
  if (count === 0) throw dataError(source, 'empty: no rows');
  const isNum = (s: string): boolean => DECIMAL.test(s.trim()) && Number.isFinite(Number(s));
  const first = head[0]!;
  let firstEnd = firstAt;
  while (firstEnd < b.length && b[firstEnd] !== LF && b[firstEnd] !== CR) firstEnd++;
  checkSeparator(utf8(b, firstAt, firstEnd), first.line, source);
  // The first row is a header when it has a name over a column that holds numbers below ("a"
  // over "1"), or over words of another shape ("time" over "2020-01-01"); a row whose words are
  // shaped like the words below them (a headerless file's timestamps, labels) is data, and so is a
  // missing or non-finite value ("", "NaN"), refused below with its line. One row: any word.
  const word = (s: string): boolean => !isNum(s) && !NOT_A_NAME.test(s.trim());
  const shape = (s: string): string => s.replace(/[0-9]+/g, '9').replace(/[A-Za-z]+/g, 'a');
  const below = head.slice(1, 101);
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
  const N = hasHeader ? count - 1 : count;
  if (N === 0) throw dataError(source, 'a header but no data rows');
  const firstData = (hasHeader ? head[1] : head[0])!.cells;
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
  const filled = (i: number): boolean => filledAfterFirst[i] === true || (!hasHeader && (first.cells[i] ?? '') !== '');
  const inCols = opts.columns?.length ? opts.columns.map(col) : names.map((_, i) => i).filter((i) => i !== labelCol && !word(firstData[i] ?? '') && filled(i));
  if (inCols.length === 0) throw dataError(source, 'no numeric input columns');
  const tgCols = opts.task === 'forecast' ? (opts.targetColumns?.length ? opts.targetColumns.map(col) : inCols) : [];
  const numCols = [...new Set([...inCols, ...tgCols])];
  const F = inCols.length;
  const O = tgCols.length;
  const L = opts.seqLen ?? 64;
  const stride = opts.stride ?? Math.max(1, Math.floor(L / 2));
  const horizon = opts.task === 'forecast' ? (opts.horizon ?? 1) : 0;
  // A window is a few small objects on the heap (about 270 bytes measured; the numbers are
  // outside it): many more than the heap holds ended the process with V8's out-of-memory abort.
  const windows = N < L + horizon ? 0 : Math.floor((N - L - horizon) / stride) + 1;
  const heap = v8.getHeapStatistics().heap_size_limit;
  if (windows * HEAP_PER_WINDOW > heap) {
    throw dataError(source, `${windows} windows of ${L} rows every ${stride} (--seq-len, --stride) need at least ${Math.round((windows * HEAP_PER_WINDOW) / 2 ** 20)} MB of memory, and this process may use ${Math.round(heap / 2 ** 20)} MB: use a larger --stride, or raise the limit (NODE_OPTIONS=--max-old-space-size=${Math.ceil((windows * HEAP_PER_WINDOW * 2) / 2 ** 20)})`, { expected: `at most ${Math.floor(heap / HEAP_PER_WINDOW)} windows`, got: windows });
  }
  // Second pass: the numbers, as float32 [row][column], checked in the order of the file.
  const inputs = new Float32Array(N * F);
  const targets = tgCols === inCols ? inputs : new Float32Array(N * O);
  const inAt = inCols.map((c) => numCols.indexOf(c));
  const tgAt = tgCols.map((c) => numCols.indexOf(c));
  const rowValues = new Float64Array(numCols.length);
  const lines = new Uint32Array(N);
  // Default inputs that rise at every row: a numeric time stamp or a row index, taken as an input
  // without a word (checked on the parsed values: float32 frames flatten epoch milliseconds).
  const rising = numCols.map(() => N >= 3);
  const previous = new Float64Array(numCols.length);
  // Labels by number: one string per distinct label, not one per row.
  const rowLabel = labelCol >= 0 ? new Uint32Array(N) : null;
  const labelNames: string[] = [];
  const labelIds = new Map<string, number>();
  const at = (line: number): string => `${source}:${line}`;
  let r = hasHeader ? -1 : 0;
  nextReport = 0;
  scanCsv(b, source, (row) => {
    report(row.at, 2);
    if (r < 0) {
      r = 0;
      return;
    }
    const n = r++;
    lines[n] = row.line;
    if (row.n !== width) throw dataError(at(row.line), `${row.n} values, expected ${width} (as in the ${hasHeader ? 'header' : 'first row'})`, { expected: width, got: row.n });
    for (let j = 0; j < numCols.length; j++) {
      const c = numCols[j]!;
      // Most cells are plain decimals, read from the bytes; the rest as text, checked.
      let v = plainDecimal(b, row.start[c]!, row.end[c]!);
      if (Number.isNaN(v)) {
        const s = cellText(b, row, c);
        v = Number(s);
        if (!isNum(s)) throw dataError(at(row.line), `column '${names[c]}' is '${s}', expected a finite number`, { column: names[c], expected: 'a finite decimal number', got: s });
        if (!Number.isFinite(Math.fround(v))) throw dataError(at(row.line), `column '${names[c]}' is ${s}, beyond float32's range (|x| <= 3.4028235e38)`);
      }
      if (n > 0 && !(v > previous[j]!)) rising[j] = false;
      previous[j] = v;
      rowValues[j] = v;
    }
    for (let k = 0; k < F; k++) inputs[n * F + k] = rowValues[inAt[k]!]!;
    if (targets !== inputs) for (let k = 0; k < O; k++) targets[n * O + k] = rowValues[tgAt[k]!]!;
    if (rowLabel) {
      const lab = cellText(b, row, labelCol);
      if (lab === '') throw dataError(at(row.line), `label column '${names[labelCol]}' is empty, expected a class name`, { column: names[labelCol], expected: 'a class name', got: '' });
      let id = labelIds.get(lab);
      if (id === undefined) {
        id = labelNames.push(lab) - 1;
        labelIds.set(lab, id);
      }
      rowLabel[n] = id;
    }
  });
  const rowLabels = (n: number): string => labelNames[rowLabel![n]!]!;
  if (N < L + horizon) throw dataError(source, `${N} rows: too short for one window of ${L} steps${horizon ? ` plus a horizon of ${horizon}` : ''}`);
  // A window's class is the label of its last row, so the classes are those labels: a label on
  // rows inside windows only was a class no window trained, and windows that all ended in one
  // class trained a one-class model past the two-class check.
  let labels: string[] = [];
  if (labelCol >= 0 && opts.labels) labels = [...opts.labels];
  else if (labelCol >= 0) {
    const ends: string[] = [];
    for (let s = 0; s + L + horizon <= N; s += stride) ends.push(rowLabels(s + L - 1));
    labels = sortLabels(ends, source);
    const inner = opts.task === 'classify' && labels.length < 2 ? sortLabels(labelNames, source).filter((l) => !labels.includes(l)) : [];
    if (inner.length) {
      throw dataError(source, `every window ends on a row labelled '${labels[0]}' (a window's class is the label of its last row; --seq-len ${L}, --stride ${stride}): '${inner.join("', '")}' labels rows inside windows only`, { expected: 'at least 2 classes at window ends', got: labels });
    }
  }
  const classOf = classLookup(labels);
  const samples: Sample[] = [];
  for (let s = 0; s + L + horizon <= N; s += stride) {
    // Views: windows overlap (by half at the default stride) and nothing writes to a sample.
    const sample: Sample = { x: inputs.subarray(s * F, (s + L) * F), T: L, where: `${source}:${lines[s]}` };
    if (O) sample.target = targets.subarray((s + horizon) * O, (s + horizon + L) * O);
    if (rowLabel) {
      const lab = rowLabels(s + L - 1);
      const y = classOf(lab);
      if (y === undefined) throw dataError(`${source}:${lines[s + L - 1]}`, `unknown label '${lab}': the model knows ${labels.join(', ')}`);
      sample.y = y;
    }
    samples.push(sample);
  }
  const risingInputs = opts.columns?.length ? [] : inCols.filter((_, k) => rising[inAt[k]!]);
  return { source, features: F, featureNames: inCols.map((c) => names[c]!), labels, targetSize: O, samples, ...(risingInputs.length ? { risingInputs: risingInputs.map((c) => names[c]!) } : {}) };
}
