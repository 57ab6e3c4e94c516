/** Tiny inline-SVG chart helpers for the offline HTML report (no scripts, no external files). */

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function fmt(v: number, digits = 3): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(digits - 2) : v.toPrecision(digits);
}

/**
 * Labels of axis ticks with the fewest digits (3 at least) that tell them apart: a loss
 * flat around 0.301 read 0.301 on all five ticks.
 */
function tickLabels(values: readonly number[]): string[] {
  for (let digits = 3; digits < 17; digits++) {
    const labels = values.map((v) => fmt(v, digits));
    if (new Set(labels).size === labels.length) return labels;
  }
  return values.map((v) => fmt(v, 17));
}

export interface Series {
  name: string;
  values: number[];
}

/**
 * A finite axis range around [lo, hi] with `pad` of the span added on each side: a single
 * value gets a span of its own size (lo + 1 rounded back to lo past 2^53, and the chart divided
 * by 0); a span beyond Number.MAX_VALUE is clamped to it.
 */
function axisRange(lo: number, hi: number, pad: number): { lo: number; hi: number } {
  if (hi === lo) {
    const d = Math.max(1, Math.abs(lo) * 1e-6);
    return { lo: lo - d / 2, hi: hi + d / 2 };
  }
  const p = (hi / 2 - lo / 2) * 2 * pad;
  const clamp = (v: number): number => Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, v));
  return { lo: clamp(lo - p), hi: clamp(hi + p) };
}

/**
 * Indices of the finite values to draw. Up to 4 points per pixel column all of them; more (a
 * series of millions of steps) the first, lowest, highest and last of each column, which draws
 * the same line in a fraction of the SVG.
 */
function polylinePoints(values: readonly number[], cols: number): number[] {
  const out: number[] = [];
  const n = values.length;
  if (n <= 4 * cols) {
    for (let i = 0; i < n; i++) if (Number.isFinite(values[i]!)) out.push(i);
    return out;
  }
  for (let c = 0; c < cols; c++) {
    const a = Math.floor((c * n) / cols);
    const b = Math.floor(((c + 1) * n) / cols);
    let first = -1;
    let last = -1;
    let min = -1;
    let max = -1;
    for (let i = a; i < b; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      if (first < 0) first = i;
      last = i;
      if (min < 0 || v < values[min]!) min = i;
      if (max < 0 || v > values[max]!) max = i;
    }
    if (first < 0) continue;
    for (const i of [...new Set([first, min, max, last])].sort((p, q) => p - q)) out.push(i);
  }
  return out;
}

/** Line chart of series over x = 1..n, y axis from the data range, with a legend. */
export function lineChart(series: Series[], opts: { width?: number; height?: number; yLabel?: string; xLabel?: string } = {}): string {
  const W = opts.width ?? 520;
  const H = opts.height ?? 240;
  const m = { l: 56, r: 12, t: 12, b: 36 };
  // Min and max by a loop: Math.min(...values) overflowed the call stack past ~10^5 points.
  let lo = Infinity;
  let hi = -Infinity;
  let n = 0;
  for (const s of series) {
    n = Math.max(n, s.values.length);
    for (const v of s.values) {
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo)) return '<p>(no data)</p>';
  const { lo: ylo, hi: yhi } = axisRange(lo, hi, 0.05);
  lo = ylo;
  hi = yhi;
  // One point (a run of one epoch) in the middle, not on the left border.
  const x = (i: number): number => (n > 1 ? m.l + ((W - m.l - m.r) * i) / (n - 1) : (m.l + W - m.r) / 2);
  // Halves, so that a range beyond Number.MAX_VALUE (-1e308..1e308) does not overflow to NaN.
  const y = (v: number): number => m.t + (H - m.t - m.b) * (1 - (v / 2 - lo / 2) / (hi / 2 - lo / 2));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" class="chart">`];
  const yTicks = [0, 1, 2, 3, 4].map((k) => lo + (hi / 2 - lo / 2) * (k / 4) + (hi / 2 - lo / 2) * (k / 4));
  const yLabels = tickLabels(yTicks);
  yTicks.forEach((v, k) => {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${m.l - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="10">${yLabels[k]}</text>`);
  });
  const ticks = Math.min(n, 8);
  for (let k = 0; k < ticks; k++) {
    const i = Math.round(((n - 1) * k) / Math.max(1, ticks - 1));
    parts.push(`<text x="${x(i).toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle" font-size="10">${i + 1}</text>`);
  }
  if (opts.xLabel) parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 4}" text-anchor="middle" font-size="11">${esc(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text x="12" y="${(m.t + H - m.b) / 2}" font-size="11" transform="rotate(-90 12 ${(m.t + H - m.b) / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  const cols = Math.max(1, Math.round(W - m.l - m.r));
  series.forEach((s, si) => {
    const idx = polylinePoints(s.values, cols);
    const pts = idx.map((i) => `${x(i).toFixed(1)},${y(s.values[i]!).toFixed(1)}`);
    const c = COLORS[si % COLORS.length]!;
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.8" points="${pts.join(' ')}"/>`);
    // A point without a finite neighbour (one epoch, or between NaNs) is a line of length 0,
    // which draws nothing: a dot for it, or the chart of a one-epoch run was empty.
    for (const i of idx) {
      if (!Number.isFinite(s.values[i - 1] ?? NaN) && !Number.isFinite(s.values[i + 1] ?? NaN)) parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(s.values[i]!).toFixed(1)}" r="2.5" fill="${c}"/>`);
    }
    parts.push(`<rect x="${W - m.r - 120}" y="${m.t + 4 + si * 14}" width="10" height="3" fill="${c}"/><text x="${W - m.r - 106}" y="${m.t + 9 + si * 14}" font-size="10">${esc(s.name)}</text>`);
  });
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/></svg>`);
  return parts.join('');
}

/** Histogram of values in `bins` equal bins over [min, max]; counts on a linear axis. */
export function histogram(values: ArrayLike<number>, opts: { bins?: number; width?: number; height?: number; color?: string; title?: string } = {}): string {
  const W = opts.width ?? 300;
  const H = opts.height ?? 130;
  const bins = opts.bins ?? 40;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!Number.isFinite(lo)) return '<p>(no data)</p>';
  // One value: a bin around it (lo + 1e-9 is lo itself past ~1e7, and every count was lost to
  // a 0/0 bin index). Spans are taken in halves, so -1e308..1e308 does not overflow.
  if (hi === lo) ({ lo, hi } = axisRange(lo, hi, 0));
  const half = hi / 2 - lo / 2;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) counts[Math.max(0, Math.min(bins - 1, Math.floor(((v / 2 - lo / 2) / half) * bins)))]!++;
  }
  const max = counts.reduce((a, b) => Math.max(a, b), 0);
  const edge = (i: number): number => lo + half * (i / bins) + half * (i / bins);
  const m = { l: 6, r: 6, t: opts.title ? 16 : 4, b: 16 };
  const bw = (W - m.l - m.r) / bins;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" class="chart">`];
  if (opts.title) parts.push(`<text x="${m.l}" y="11" font-size="10">${esc(opts.title)}</text>`);
  counts.forEach((c, i) => {
    const h = max ? ((H - m.t - m.b) * c) / max : 0;
    parts.push(`<rect x="${(m.l + i * bw).toFixed(1)}" y="${(H - m.b - h).toFixed(1)}" width="${Math.max(0.5, bw - 0.5).toFixed(1)}" height="${h.toFixed(1)}" fill="${opts.color ?? '#1f77b4'}"><title>[${fmt(edge(i))}, ${fmt(edge(i + 1))}): ${c}</title></rect>`);
  });
  parts.push(`<text x="${m.l}" y="${H - 3}" font-size="9">${fmt(lo)}</text><text x="${W - m.r}" y="${H - 3}" font-size="9" text-anchor="end">${fmt(hi)}</text></svg>`);
  return parts.join('');
}

/** Diverging blue-white-red color for v in [-1, 1]. */
function diverging(v: number): string {
  if (Number.isNaN(v)) return '#888'; // NaN: gray (it gave rgb(NaN,NaN,255), not a color)
  const t = Math.max(-1, Math.min(1, v));
  const a = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}

/** Heatmap of a [rows][cols] matrix (rows = units, cols = time), values scaled by `scale`. */
export function heatmap(m: number[][], opts: { cell?: number; scale?: number; rowLabel?: string; colLabel?: string } = {}): string {
  const rows = m.length;
  const cols = m[0]?.length ?? 0;
  const cell = opts.cell ?? Math.max(3, Math.min(12, Math.floor(640 / Math.max(1, cols))));
  const scale = opts.scale ?? 1;
  const l = 30;
  const t = 4;
  const W = l + cols * cell + 4;
  const H = t + rows * cell + 20;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" class="chart">`];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = m[r]![c]!;
      parts.push(`<rect x="${l + c * cell}" y="${t + r * cell}" width="${cell}" height="${cell}" fill="${diverging(v / scale)}"><title>${esc(opts.rowLabel ?? 'row')} ${r}, ${esc(opts.colLabel ?? 'col')} ${c}: ${fmt(v)}</title></rect>`);
    }
  }
  parts.push(`<text x="2" y="${t + 10}" font-size="9">${esc(opts.rowLabel ?? '')}</text><text x="${l}" y="${H - 4}" font-size="9">${esc(opts.colLabel ?? '')} →</text></svg>`);
  return parts.join('');
}
