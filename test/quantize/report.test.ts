/** The report's SVG charts: well-formed for any numbers (NaN, infinities, extreme ranges, millions of points). */
import { describe, expect, it } from 'vitest';
import { esc, heatmap, histogram, lineChart } from '../../quantize/report/svg.js';
import { HEATMAP_STEPS, writeRunReport } from '../../quantize/report/run-report.js';
import { Rng } from '../../src/index.js';
import { gruClassifier } from '../helpers/random-model.js';
import { classificationReport } from '../../quantize/eval/metrics.js';

/** Every number in an attribute or text of the chart is finite (no NaN, Infinity, "rgb(NaN,...)"). */
function finiteSvg(svg: string): void {
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).not.toMatch(/="[^"]*(NaN|Infinity)[^"]*"/);
}

/** Bar heights of a histogram, in bin order. */
const bars = (svg: string): number[] => [...svg.matchAll(/<rect x="[^"]*" y="[^"]*" width="[^"]*" height="([^"]*)"/g)].map((m) => Number(m[1]));

describe('lineChart', () => {
  it('draws a series of a million points (Math.min(...values) overflowed the call stack) in a bounded SVG, keeping its extremes', () => {
    const values = Array.from({ length: 1_000_000 }, (_, i) => Math.sin(i / 1000));
    values[123_457] = 5; // a spike between pixel columns must survive the thinning
    const svg = lineChart([{ name: 'loss', values }]);
    finiteSvg(svg);
    expect(svg.length).toBeLessThan(200_000);
    const pts = /points="([^"]*)"/.exec(svg)![1]!.split(' ').map((p) => Number(p.split(',')[1]));
    // y of the spike is the chart's top (12 px margin + 5 % padding).
    expect(Math.min(...pts)).toBeLessThan(22);
  });

  it('a range beyond Number.MAX_VALUE (-1e308..1e308) and a constant of 1e20 give finite coordinates and ticks', () => {
    finiteSvg(lineChart([{ name: 'a', values: [-1e308, 0, 1e308] }]));
    finiteSvg(lineChart([{ name: 'a', values: [1e20, 1e20] }]));
    finiteSvg(lineChart([{ name: 'a', values: [NaN, Infinity, 1, -Infinity, 2] }]));
    expect(lineChart([{ name: 'a', values: [] }, { name: 'b', values: [NaN] }])).toBe('<p>(no data)</p>');
  });

  it('escapes series names and axis labels', () => {
    const svg = lineChart([{ name: '<b>&"x"', values: [1, 2] }], { xLabel: 'a<b', yLabel: 'c&d' });
    expect(svg).toContain(esc('<b>&"x"'));
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('a&lt;b');
  });
});

describe('histogram', () => {
  it('a constant of 1e10 fills one bin (lo + 1e-9 rounded back to lo: 0/0, every count lost)', () => {
    const svg = histogram([1e10, 1e10, 1e10], { bins: 4 });
    finiteSvg(svg);
    expect(bars(svg).filter((h) => h > 0)).toHaveLength(1);
  });

  it('-1e308..1e308 is binned by value (the span overflowed: all values in bin 0, the top one lost)', () => {
    const svg = histogram([-1e308, 0, 1, 1e308], { bins: 4 });
    finiteSvg(svg);
    expect(bars(svg)).toEqual([55, 0, 110, 55]);
  });
});

describe('heatmap', () => {
  it('NaN cells are gray, not the color "rgb(NaN,NaN,255)"', () => {
    const svg = heatmap([[NaN, 1, -Infinity]], { rowLabel: 'unit', colLabel: 'step' });
    finiteSvg(svg);
    expect(svg).toContain('fill="#888"');
  });
});

describe('writeRunReport', () => {
  it('a sequence of 20 000 steps gives a heatmap of its first steps, not one <rect> per step (tens of MB of HTML)', async () => {
    const rng = new Rng(3);
    const spec = gruClassifier(rng, 'long <&> "run"', ['a<b', 'c&d']);
    const T = 20_000;
    const x = rng.float32(T * 2, -1, 1);
    const html = await writeRunReport({ title: spec.name, spec, samples: [{ x, T, y: 0, where: 'long.jsonl:1' }] });
    expect((html.match(/<title>unit \d+, step \d+:/g) ?? []).length).toBe(4 * HEATMAP_STEPS);
    expect(html).toContain(`the first ${HEATMAP_STEPS} of ${T} steps of long.jsonl:1`);
    expect(html.length).toBeLessThan(2_000_000);
    // Names from the model are escaped in the title, the heading and the facts.
    expect(html).not.toMatch(/<&>|a<b|c&d/);
  });
});

describe('writeRunReport confusion matrices', () => {
  it('400 classes (Math.max(...cells) overflowed the call stack)', async () => {
    const rng = new Rng(5);
    const labels = Array.from({ length: 400 }, (_, i) => `c${i}`);
    const spec = gruClassifier(rng, 'many', labels);
    const t = Array.from({ length: 800 }, (_, i) => i % 400);
    const html = await writeRunReport({ title: 'many', spec, evaluations: { float: { task: 'classify', precision: 'float32', backend: 'reference', samples: 800, classification: classificationReport(labels, t, t) } } });
    expect(html).toContain('<h2>Confusion matrices</h2>');
    expect(html).toContain('<th>c399</th>');
  });
});

describe('lineChart of one point', () => {
  it('a run of one epoch is drawn as a dot in the middle (a one-point polyline draws nothing: the chart was empty)', () => {
    const svg = lineChart([{ name: 'train', values: [1.2] }, { name: 'validation', values: [0.9] }]);
    finiteSvg(svg);
    const dots = [...svg.matchAll(/<circle cx="([^"]*)" cy="[^"]*" r="[^"]*" fill="([^"]*)"/g)];
    expect(dots.map((d) => d[2])).toEqual(['#1f77b4', '#d62728']);
    expect(Number(dots[0]![1])).toBe((56 + 520 - 12) / 2);
    // A point between NaNs gets one too; points on a line do not.
    const gap = lineChart([{ name: 'a', values: [1, 2, NaN, 3, NaN, 4, 5] }]);
    expect(gap.match(/<circle /g)).toHaveLength(1);
    expect(lineChart([{ name: 'a', values: [1, 2, 3] }])).not.toContain('<circle');
  });
});

describe('writeRunReport labels', () => {
  it('hostile and very long labels: escaped everywhere, long ones cut in the confusion matrix with the whole label as a tooltip', async () => {
    const rng = new Rng(7);
    const long = 'L'.repeat(200);
    const labels = ['<script>alert(1)</script>', 'a "q" & b', '日本語 😀', long];
    const spec = gruClassifier(rng, '<img src=x onerror=alert(1)>', labels);
    const t = [0, 1, 2, 3, 3];
    const html = await writeRunReport({ title: spec.name, spec, evaluations: { float: { task: 'classify', precision: 'float32', backend: 'reference', samples: 5, classification: classificationReport(labels, t, t) } } });
    expect(html).not.toMatch(/<script|<img|"q"/);
    expect(html).toContain('<th>&lt;script&gt;alert(1)&lt;/script&gt;</th>');
    expect(html).toContain('<th>日本語 😀</th>');
    const cut = `<th title="${long}">${'L'.repeat(31)}…</th>`;
    expect(html.split(cut)).toHaveLength(3); // column and row header
    expect(html).not.toContain(`>${long}</th>`);
  });
});

describe('lineChart y ticks', () => {
  it('a flat loss (0.3007..0.3012) gets five different tick labels, not 0.301 five times', () => {
    const ticks = (values: number[]): string[] => [...lineChart([{ name: 'loss', values }]).matchAll(/text-anchor="end" font-size="10">([^<]*)</g)].map((m) => m[1]!);
    expect(ticks([0.3012, 0.3009, 0.3007])).toEqual(['0.3007', '0.3008', '0.3010', '0.3011', '0.3012']);
    expect(ticks([3.27, 3.68])).toEqual(['3.25', '3.36', '3.48', '3.59', '3.70']); // 3 digits where they do
    expect(new Set(ticks([1e20, 1e20])).size).toBe(5);
  });
});
