/**
 * One-glance summaries of nested metadata (a model's front end, training metadata) for the
 * human output of `edgernn info`; `--json` keeps everything. Scalars come breadth first, so the
 * shallow, headline values (a dataset, an accuracy) come before per-class detail; long strings,
 * long arrays and deeper detail are shortened or left out, never silently: a line says how many
 * values were not shown.
 */

export interface SummaryOptions {
  /** Longest string shown whole (longer: cut with "…"). */
  maxString?: number;
  /** Lines of at most `width` characters; values beyond them are counted, not shown. */
  maxLines?: number;
  width?: number;
}

/**
 * "path value" pairs of the scalar leaves of `v`, breadth first; strings longer than 40
 * characters inside an object (notes, protocols) come after every other value.
 */
export function scalarLeaves(v: unknown, maxString = 60): string[] {
  return leaves(v, maxString).pairs;
}

/** scalarLeaves, and how many values it left out (long or mixed arrays, arrays of objects). */
function leaves(v: unknown, maxString: number): { pairs: string[]; omitted: number } {
  let omitted = 0;
  const out: string[] = [];
  const prose: string[] = [];
  let level: [string, unknown][] = [['', v]];
  while (level.length > 0) {
    const next: [string, unknown][] = [];
    for (const [path, x] of level) {
      const shown = showValue(x, maxString);
      if (shown !== undefined) {
        if (path === '') out.push(shown);
        else (typeof x === 'string' && x.length > 40 ? prose : out).push(`${path} ${shown}`);
      } else if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
        for (const [k, c] of Object.entries(x)) next.push([path === '' ? k : `${path}.${k}`, c]);
      } else if (Array.isArray(x)) {
        omitted++;
      }
    }
    level = next;
  }
  return { pairs: [...out, ...prose], omitted };
}

/** A value shown inline, or undefined for one that is not (objects, long or mixed arrays). */
function showValue(x: unknown, maxString: number): string | undefined {
  if (typeof x === 'number') return formatNumber(x);
  if (typeof x === 'boolean') return String(x);
  // Digests (sha256, commits) whole: they are compared, not read.
  if (typeof x === 'string') return x.length > maxString && !/^[0-9a-f]{40,64}$/.test(x) ? `${x.slice(0, maxString - 1)}…` : x;
  if (x === null) return 'null';
  if (!Array.isArray(x)) return undefined;
  if (x.length <= 8 && x.every((e) => typeof e === 'number')) return `[${x.map(formatNumber).join(', ')}]`;
  // Named entries (channels, classes): their names.
  if (x.length > 0 && x.every((e) => e !== null && typeof e === 'object' && typeof (e as { name?: unknown }).name === 'string')) {
    return `[${x.map((e) => (e as { name: string }).name).join(', ')}]`;
  }
  if (x.length <= 8 && x.every((e) => typeof e === 'string' && e.length <= 24)) return `[${x.join(', ')}]`;
  return undefined;
}

/** Integers as they are; other numbers to 4 significant digits. */
export function formatNumber(x: number): string {
  if (Number.isInteger(x) || !Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(4)));
}

/**
 * The scalar leaves of `v` as "path value" pairs joined by ", " into lines of at most `width`
 * characters (a longer pair gets a line of its own), at most `maxLines` lines; when values are
 * left out, the last line says how many.
 */
export function summarize(v: unknown, opts: SummaryOptions = {}): string[] {
  const width = opts.width ?? 96;
  const maxLines = opts.maxLines ?? 3;
  // A plain string (a dataset's name) may use the whole width.
  // Values scalarLeaves leaves out (a 30-value history) are counted too: they were dropped silently.
  const { pairs, omitted } = leaves(v, typeof v === 'string' ? width : (opts.maxString ?? 60));
  const lines: string[] = [];
  let i = 0;
  for (; i < pairs.length; i++) {
    const p = pairs[i]!;
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + 2 + p.length <= width) lines[last] += `, ${p}`;
    else if (lines.length < maxLines) lines.push(p);
    else break;
  }
  const more = pairs.length - i + omitted;
  if (more > 0) lines.push(`… ${more} more (--json for all)`);
  return lines;
}
