/**
 * One self-contained HTML page per run (`--report out.html`): inline CSS and SVG only, so it
 * opens offline. Sections: metrics side by side, loss/accuracy curves, confusion matrices,
 * per-matrix sparsity, weight histograms, quantization-error histograms (weights and outputs),
 * and a heatmap of the first recurrent layer's hidden state over one sequence.
 */
import { GATES, isRecurrent, numDirections, referenceEngine, type Layer, type ModelSpec } from '../../src/index.js';
import type { Sample } from '../data/dataset.js';
import type { ModelEvaluation } from '../eval/evaluate-model.js';
import { headline } from '../eval/evaluate-model.js';
import { DEFAULT_BLOCK, tileParam } from '../prune/pruner.js';
import type { Param } from '../nn/tensor.js';
import type { EpochRecord } from '../train/trainer.js';
import { esc, heatmap, histogram, lineChart } from './svg.js';

export interface RunReportInput {
  title: string;
  /** The model written by the run (float32 or int8). */
  spec: ModelSpec;
  /** The float model it came from (quantization error needs it). */
  floatSpec?: ModelSpec;
  history?: readonly EpochRecord[];
  /** Evaluations to show side by side, in order (e.g. float32, int8, pruned int8). */
  evaluations?: Record<string, ModelEvaluation>;
  /** Sequences for the heatmap and the output-error histogram. */
  samples?: readonly Sample[];
  /**
   * What the evaluations were measured on, said over the metrics (a held-out split, another file,
   * or the training data itself): the table gave a number of sequences only, so a score on the
   * data the model was trained on read like a held-out one.
   */
  scoredOn?: string;
}

interface Matrix {
  name: string;
  rows: number;
  cols: number;
  /** Real-valued weights (float, or dequantized int8). */
  values: Float64Array;
  rowGroup: number;
  colSegments: number[];
}

/** Weight matrices of a spec as real values; int8 weights are dequantized (W = Wq·s_row / s_in). */
export function specMatrices(spec: ModelSpec): Matrix[] {
  const out: Matrix[] = [];
  let inScale: Float64Array | null = spec.inputScale ? Float64Array.from(spec.inputScale) : null;
  let segments = [spec.input.size];
  spec.layers.forEach((l: Layer, li) => {
    if (isRecurrent(l)) {
      const rows = GATES[l.kind] * l.hiddenSize;
      for (let d = 0; d < numDirections(l); d++) {
        const W = new Float64Array(rows * l.inputSize);
        const R = new Float64Array(rows * l.hiddenSize);
        for (let j = 0; j < rows; j++) {
          for (let k = 0; k < l.inputSize; k++) {
            const i = (d * rows + j) * l.inputSize + k;
            W[j * l.inputSize + k] = l.quant ? (l.quant.Wq[i]! * l.quant.Wscale[d * rows + j]!) / inScale![k]! : l.float!.W[i]!;
          }
          for (let k = 0; k < l.hiddenSize; k++) {
            const i = (d * rows + j) * l.hiddenSize + k;
            R[j * l.hiddenSize + k] = l.quant ? l.quant.Rq[i]! * l.quant.Rscale[d * rows + j]! * 32768 : l.float!.R[i]!;
          }
        }
        out.push({ name: `layers.${li}.W.${d}`, rows, cols: l.inputSize, values: W, rowGroup: l.hiddenSize, colSegments: segments });
        out.push({ name: `layers.${li}.R.${d}`, rows, cols: l.hiddenSize, values: R, rowGroup: l.hiddenSize, colSegments: [l.hiddenSize] });
      }
      inScale = new Float64Array(l.hiddenSize * numDirections(l)).fill(1 / 32768);
      segments = new Array<number>(numDirections(l)).fill(l.hiddenSize);
    } else if (l.kind === 'dense') {
      const W = new Float64Array(l.outputSize * l.inputSize);
      for (let j = 0; j < l.outputSize; j++) {
        for (let k = 0; k < l.inputSize; k++) {
          const i = j * l.inputSize + k;
          W[i] = l.quant ? (l.quant.Wq[i]! * l.quant.Wscale[j]!) / inScale![k]! : l.float!.W[i]!;
        }
      }
      out.push({ name: `layers.${li}.W`, rows: l.outputSize, cols: l.inputSize, values: W, rowGroup: l.outputSize, colSegments: segments });
      const s = l.activation === 'sigmoid' || l.activation === 'tanh' ? 1 / 32768 : (l.quant?.outputScale ?? 1);
      inScale = new Float64Array(l.outputSize).fill(s);
      segments = [l.outputSize];
    }
  });
  return out;
}

function sparsityOf(m: Matrix): { zeros: number; emptyBlocks: number } {
  let z = 0;
  for (const v of m.values) if (v === 0) z++;
  const p = { value: m.values, shape: [m.rows, m.cols], rowGroup: m.rowGroup, colSegments: m.colSegments } as unknown as Param;
  const tiles = tileParam(p, DEFAULT_BLOCK);
  const empty = tiles.filter((t) => t.every((i) => m.values[i] === 0)).length;
  return { zeros: z / m.values.length, emptyBlocks: empty / tiles.length };
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

function metricsTable(evals: Record<string, ModelEvaluation>, scoredOn: string | undefined): string {
  const entries = Object.entries(evals);
  if (!entries.length) return '';
  const name = headline(entries[0]![1]).name;
  const base = headline(entries[0]![1]).value;
  const rows = entries.map(([k, e]) => {
    const v = headline(e).value;
    const extra = e.classification ? `macro F1 ${e.classification.macroF1.toFixed(3)}` : `MAE ${e.regression!.mae.toPrecision(4)}`;
    const delta = name === 'accuracy' ? `${(100 * (v - base)).toFixed(2)} pp` : `${((100 * (v - base)) / (base || 1)).toFixed(1)} %`;
    return `<tr><td>${esc(k)}</td><td>${e.precision}</td><td>${esc(e.backend)}</td><td class="num">${name === 'accuracy' ? pct(v) : v.toPrecision(5)}</td><td class="num">${delta}</td><td>${extra}</td><td class="num">${e.samples}</td></tr>`;
  });
  return `<h2>Metrics</h2>${scoredOn !== undefined ? `<p>Scored on ${esc(scoredOn)}.</p>` : ''}<table><tr><th>model</th><th>precision</th><th>backend</th><th>${name}</th><th>vs first</th><th></th><th>sequences</th></tr>${rows.join('')}</table>`;
}

/** Longest label shown whole in a confusion matrix, in characters. */
const LABEL_CHARS = 32;

/**
 * A label as a header cell of the confusion matrix: cut to LABEL_CHARS characters with the
 * whole label as a tooltip (one label of 200 characters without a space made the page 3 000 px
 * wide, twice: as a column and as a row).
 */
function labelCell(label: string): string {
  const chars = Array.from(label); // code points: a cut never splits a surrogate pair
  return chars.length <= LABEL_CHARS ? `<th>${esc(label)}</th>` : `<th title="${esc(label)}">${esc(chars.slice(0, LABEL_CHARS - 1).join(''))}…</th>`;
}

function confusion(title: string, e: ModelEvaluation): string {
  const c = e.classification!;
  const max = c.confusion.reduce((m, row) => row.reduce((a, n) => Math.max(a, n), m), 1); // not Math.max(...C² cells): a stack overflow past ~350 classes
  const head = c.perClass.map((p) => labelCell(p.label)).join('');
  const rows = c.confusion
    .map((row, i) => {
      const cells = row.map((n, j) => `<td class="num" style="background:rgba(${i === j ? '44,160,44' : '214,39,40'},${(0.08 + (0.8 * n) / max).toFixed(2)})">${n}</td>`).join('');
      const p = c.perClass[i]!;
      // As the eval table (cli/eval.ts formatEvaluation): a class never predicted has no
      // precision, one without samples no recall, '-' rather than a 0.000 that reads as measured.
      const predicted = c.confusion.some((r) => r[i]! > 0);
      const cell = (v: number, ok: boolean): string => `<td class="num">${ok ? v.toFixed(3) : '-'}</td>`;
      return `<tr>${labelCell(p.label)}${cells}${cell(p.precision, predicted)}${cell(p.recall, p.support > 0)}${cell(p.f1, predicted || p.support > 0)}</tr>`;
    })
    .join('');
  return `<div class="card"><h3>${esc(title)}: accuracy ${pct(c.accuracy)}</h3><table><tr><th>truth \\ predicted</th>${head}<th>precision</th><th>recall</th><th>F1</th></tr>${rows}</table></div>`;
}

function curves(history: readonly EpochRecord[] | undefined, spec: ModelSpec): string {
  let train: number[] = [];
  let val: number[] = [];
  let acc: number[] = [];
  if (history && history.length) {
    train = history.map((h) => h.trainLoss);
    val = history.map((h) => h.valLoss);
    acc = history.filter((h) => h.valAccuracy !== undefined).map((h) => h.valAccuracy!);
  } else {
    const h = (spec.training.metrics as { history?: { trainLoss?: number[]; valLoss?: number[]; valAccuracy?: number[] } } | undefined)?.history;
    train = h?.trainLoss ?? [];
    val = h?.valLoss ?? [];
    acc = h?.valAccuracy ?? [];
  }
  if (!train.length && !val.length) return '';
  const sparsity = history?.map((h) => h.note?.sparsity).filter((v): v is number => v !== undefined) ?? [];
  return `<h2>Training curves</h2><div class="row"><div class="card"><h3>loss</h3>${lineChart(
    [
      { name: 'train', values: train },
      { name: 'validation', values: val },
    ],
    { xLabel: 'epoch', yLabel: 'loss' },
  )}</div>${acc.length ? `<div class="card"><h3>validation accuracy</h3>${lineChart([{ name: 'accuracy', values: acc }], { xLabel: 'epoch' })}</div>` : ''}${
    sparsity.length ? `<div class="card"><h3>sparsity (pruning schedule)</h3>${lineChart([{ name: 'sparsity', values: sparsity }], { xLabel: 'epoch' })}</div>` : ''
  }</div>`;
}

/** Steps of the hidden-state heatmap at most. */
export const HEATMAP_STEPS = 512;

function hiddenHeatmap(spec: ModelSpec, samples: readonly Sample[] | undefined): string {
  const li = spec.layers.findIndex(isRecurrent);
  const s = samples?.[0];
  if (li < 0 || !s) return '';
  const prefix: ModelSpec = { ...spec, labels: [], layers: spec.layers.slice(0, li + 1) };
  const layer = spec.layers[li]!;
  if (!isRecurrent(layer)) return '';
  const width = layer.hiddenSize * numDirections(layer);
  const engine = referenceEngine(prefix);
  const out = new Float32Array(s.T * width);
  engine.run(engine.allocState(), s.x.subarray(0, s.T * spec.input.size), s.T, out, 'zero');
  const units = Math.min(width, 64);
  // The first HEATMAP_STEPS steps: one <rect> per unit and step made a sequence of 10^4 steps
  // tens of megabytes of HTML.
  const steps = Math.min(s.T, HEATMAP_STEPS);
  const m = Array.from({ length: units }, (_, j) => Array.from({ length: steps }, (_, t) => out[t * width + j]!));
  const shown = steps < s.T ? `the first ${steps} of ${s.T} steps` : `${s.T} steps`;
  return `<h2>Hidden state over one sequence</h2><p>Layer ${li} (${layer.kind}), ${units} of ${width} units × ${shown} of ${esc(s.where)}, ${spec.precision} reference; blue −1, white 0, red +1.</p><div class="card">${heatmap(m, { rowLabel: 'unit', colLabel: 'step' })}</div>`;
}

function outputErrors(floatSpec: ModelSpec, intSpec: ModelSpec, samples: readonly Sample[]): Float64Array {
  const fe = referenceEngine(floatSpec);
  const ie = referenceEngine(intSpec);
  const errs: number[] = [];
  for (const s of samples.slice(0, 32)) {
    const x = s.x.subarray(0, s.T * floatSpec.input.size);
    const a = new Float32Array(s.T * fe.outputSize);
    const b = new Float32Array(s.T * ie.outputSize);
    fe.run(fe.allocState(), x, s.T, a, 'zero');
    ie.run(ie.allocState(), x, s.T, b, 'zero');
    for (let i = 0; i < a.length; i++) errs.push(b[i]! - a[i]!);
  }
  return Float64Array.from(errs);
}

export async function writeRunReport(r: RunReportInput): Promise<string> {
  const spec = r.spec;
  const mats = specMatrices(spec);
  const floatMats = r.floatSpec ? specMatrices(r.floatSpec) : null;
  const t = spec.training;
  const facts: [string, unknown][] = [
    ['task', spec.task],
    ['precision', spec.precision],
    ['input', `${spec.input.size} features, front end ${JSON.stringify(spec.input.frontend)}`],
    ['labels', spec.labels.join(', ') || '—'],
    ['layers', spec.layers.map((l) => (isRecurrent(l) ? `${l.kind}(${l.hiddenSize}${l.direction === 'bidirectional' ? ', bi' : ''})` : l.kind === 'dense' ? `dense(${l.outputSize}, ${l.activation})` : l.kind)).join(' → ')],
    ['dataset', t.dataset ? `${t.dataset} (sha256 ${t.datasetSha256 ?? '?'})` : undefined],
    ['code commit', t.codeCommit],
    ['created', t.createdAt],
  ];
  const evals = r.evaluations ?? {};
  const sections: string[] = [];
  sections.push(`<table class="facts">${facts
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
    .join('')}</table>`);
  sections.push(metricsTable(evals, r.scoredOn));
  sections.push(curves(r.history, spec));
  const conf = Object.entries(evals).filter(([, e]) => e.classification);
  if (conf.length) sections.push(`<h2>Confusion matrices</h2><p>Rows: truth, columns: predicted.</p><div class="row">${conf.map(([k, e]) => confusion(k, e)).join('')}</div>`);
  const sp = mats.map((m) => ({ m, s: sparsityOf(m) }));
  sections.push(
    `<h2>Sparsity per matrix</h2><p>Zeros, and empty ${DEFAULT_BLOCK.rows}×${DEFAULT_BLOCK.cols} blocks (what a block-sparse kernel skips).</p><table><tr><th>matrix</th><th>shape</th><th>zeros</th><th></th><th>empty blocks</th></tr>${sp
      .map(({ m, s }) => `<tr><td>${m.name}</td><td>${m.rows}×${m.cols}</td><td class="num">${pct(s.zeros)}</td><td><div class="bar"><div style="width:${(100 * s.zeros).toFixed(1)}%"></div></div></td><td class="num">${pct(s.emptyBlocks)}</td></tr>`)
      .join('')}</table>`,
  );
  sections.push(`<h2>Weight histograms</h2><p>${spec.precision === 'int8' ? 'Dequantized int8 weights (Wq · s_row / s_input).' : 'Float weights.'} Exact zeros (pruned) included.</p><div class="row">${mats.map((m) => `<div class="card">${histogram(m.values, { title: `${m.name} [${m.rows}×${m.cols}]` })}</div>`).join('')}</div>`);
  if (floatMats && spec.precision === 'int8') {
    const parts = mats.map((m, i) => {
      const f = floatMats[i];
      if (!f || f.values.length !== m.values.length) return '';
      const err = m.values.map((v, k) => v - f.values[k]!);
      let rms = 0;
      for (const e of err) rms += e * e;
      return `<div class="card">${histogram(err, { title: `${m.name}: rms ${Math.sqrt(rms / err.length).toExponential(2)}`, color: '#d62728' })}</div>`;
    });
    let outHist = '';
    if (r.samples?.length && r.floatSpec) {
      const e = outputErrors(r.floatSpec, spec, r.samples);
      let rms = 0;
      for (const v of e) rms += v * v;
      outHist = `<div class="card">${histogram(e, { title: `model outputs (int8 − float), rms ${Math.sqrt(rms / Math.max(1, e.length)).toExponential(2)}`, color: '#9467bd', width: 420 })}</div>`;
    }
    sections.push(`<h2>Quantization error</h2><p>Dequantized int8 minus float, per weight, and on the model's outputs over up to 32 sequences.</p><div class="row">${outHist}${parts.join('')}</div>`);
  }
  sections.push(hiddenHeatmap(r.floatSpec ?? spec, r.samples));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:13px;margin:4px 0}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;font-size:12px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.facts th{background:#f6f6f6}.facts td{overflow-wrap:anywhere}
.row{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #e4e4e4;border-radius:4px;padding:6px;background:#fff}
svg.chart{max-width:100%;height:auto}.bar{width:120px;height:8px;background:#eee}.bar div{height:8px;background:#1f77b4}
</style></head><body>
<h1>${esc(r.title)}</h1>
${sections.filter(Boolean).join('\n')}
<p style="color:#888;font-size:11px">edgernn trainer report · self-contained (inline SVG, no scripts)</p>
</body></html>
`;
}
