/** Tiny inline-SVG chart helpers for the offline HTML report (no scripts, no external files). */

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(1) : v.toPrecision(3);
}

export interface Series {
  name: string;
  values: number[];
}

/** Line chart of series over x = 1..n, y axis from the data range, with a legend. */
export function lineChart(series: Series[], opts: { width?: number; height?: number; yLabel?: string; xLabel?: string } = {}): string {
  const W = opts.width ?? 520;
  const H = opts.height ?? 240;
  const m = { l: 56, r: 12, t: 12, b: 36 };
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  if (all.length === 0) return '<p>(no data)</p>';
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) hi = lo + 1;
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const n = Math.max(...series.map((s) => s.values.length));
  const x = (i: number): number => m.l + ((W - m.l - m.r) * i) / Math.max(1, n - 1);
  const y = (v: number): number => m.t + (H - m.t - m.b) * (1 - (v - lo) / (hi - lo));
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" class="chart">`];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${m.l - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="10">${fmt(v)}</text>`);
  }
  const ticks = Math.min(n, 8);
  for (let k = 0; k < ticks; k++) {
    const i = Math.round(((n - 1) * k) / Math.max(1, ticks - 1));
    parts.push(`<text x="${x(i).toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle" font-size="10">${i + 1}</text>`);
  }
  if (opts.xLabel) parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 4}" text-anchor="middle" font-size="11">${esc(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text x="12" y="${(m.t + H - m.b) / 2}" font-size="11" transform="rotate(-90 12 ${(m.t + H - m.b) / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  series.forEach((s, si) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : '')).filter(Boolean);
    const c = COLORS[si % COLORS.length]!;
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.8" points="${pts.join(' ')}"/>`);
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
  if (hi === lo) hi = lo + 1e-9;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]!++;
  }
  const max = Math.max(...counts);
  const m = { l: 6, r: 6, t: opts.title ? 16 : 4, b: 16 };
  const bw = (W - m.l - m.r) / bins;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" class="chart">`];
  if (opts.title) parts.push(`<text x="${m.l}" y="11" font-size="10">${esc(opts.title)}</text>`);
  counts.forEach((c, i) => {
    const h = max ? ((H - m.t - m.b) * c) / max : 0;
    parts.push(`<rect x="${(m.l + i * bw).toFixed(1)}" y="${(H - m.b - h).toFixed(1)}" width="${Math.max(0.5, bw - 0.5).toFixed(1)}" height="${h.toFixed(1)}" fill="${opts.color ?? '#1f77b4'}"><title>[${fmt(lo + ((hi - lo) * i) / bins)}, ${fmt(lo + ((hi - lo) * (i + 1)) / bins)}): ${c}</title></rect>`);
  });
  parts.push(`<text x="${m.l}" y="${H - 3}" font-size="9">${fmt(lo)}</text><text x="${W - m.r}" y="${H - 3}" font-size="9" text-anchor="end">${fmt(hi)}</text></svg>`);
  return parts.join('');
}

/** Diverging blue-white-red color for v in [-1, 1]. */
function diverging(v: number): string {
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
