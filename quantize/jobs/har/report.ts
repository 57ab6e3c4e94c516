/** Markdown tables of the HAR job's numbers (printed by the commands, pasted into docs/har.md). */
import type { ClassificationReport } from '../../eval/metrics.js';
import { HAR_CLASSES, HAR_SHORT, type HarClass } from './classes.js';
import type { CvSummary } from './cv.js';
import { sortVolunteers, type HmpRecording } from './hmp.js';
import type { StreamAccuracy } from './streaming.js';

const pct = (v: number, d = 1): string => (100 * v).toFixed(d);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Median of sorted values: the mean of the two middle ones for an even count (0 when empty). */
function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** Recordings per class and volunteer, with total duration (the class-set justification). */
export function statsTable(recs: readonly HmpRecording[], rateHz: number): string {
  const vols = sortVolunteers(recs.map((r) => r.volunteer));
  const acts = [...new Set(recs.map((r) => r.activity))].sort();
  const rows = acts.map((a) => {
    const mine = recs.filter((r) => r.activity === a);
    const lens = mine.map((r) => r.samples / rateHz).sort((x, y) => x - y);
    return [
      (HAR_CLASSES as readonly string[]).includes(a) ? `**${a}**` : a,
      ...vols.map((v) => String(mine.filter((r) => r.volunteer === v).length || '·')),
      String(mine.length),
      String(new Set(mine.map((r) => r.volunteer)).size),
      median(lens).toFixed(1),
      (lens.reduce((x, y) => x + y, 0) / 60).toFixed(1),
    ];
  });
  return table(['activity', ...vols, 'recordings', 'volunteers', 'median s', 'total min'], rows);
}

/** Per-class precision / recall / F1, float32 and int8 side by side. */
export function perClassTable(float: ClassificationReport, int8: ClassificationReport): string {
  const rows = float.perClass.map((f, c) => {
    const q = int8.perClass[c]!;
    return [f.label, String(f.support), pct(f.precision), pct(f.recall), pct(f.f1), pct(q.precision), pct(q.recall), pct(q.f1)];
  });
  rows.push(['**all**', String(float.samples), '', `acc ${pct(float.accuracy)}`, `macro ${pct(float.macroF1)}`, '', `acc ${pct(int8.accuracy)}`, `macro ${pct(int8.macroF1)}`]);
  return table(['class', 'n', 'float P', 'float R', 'float F1', 'int8 P', 'int8 R', 'int8 F1'], rows);
}

/** Confusion matrix, rows = truth, columns = prediction. */
export function confusionTable(r: ClassificationReport): string {
  const short = r.perClass.map((c) => HAR_SHORT[c.label as HarClass] ?? c.label);
  return table(['true \\ predicted', ...short], r.confusion.map((row, i) => [short[i]!, ...row.map((v) => (v === 0 ? '·' : String(v)))]));
}

export function foldTable(s: CvSummary): string {
  return table(
    ['fold', 'held-out volunteers', 'recordings', 'float rec.', 'int8 rec.', 'int8 rec. + length', 'float win.', 'int8 win.'],
    s.perFold.map((f) => [String(f.fold), f.test.join(', '), String(f.recordings), pct(f.floatRecording), pct(f.int8Recording), pct(f.int8WithLength), pct(f.floatWindow), pct(f.int8Window)]),
  );
}

export function streamTable(perRecording: readonly StreamAccuracy[], continuous: readonly StreamAccuracy[]): string {
  return table(
    ['smoothing', 'per-recording streams: window acc.', 'recording acc. (majority)', 'continuous stream: window acc.', 'recording acc. (majority)'],
    perRecording.map((r, i) => {
      const c = continuous[i];
      return [r.variant, pct(r.windowAccuracy), pct(r.recordingAccuracy), c ? pct(c.windowAccuracy) : '', c ? pct(c.recordingAccuracy) : ''];
    }),
  );
}

/**
 * The headline block: pooled accuracies over all held-out recordings and windows; with `length`,
 * also per recording from its windows and its length (each fold's duration model).
 */
export function headlineTable(rows: Array<{ name: string; s: CvSummary }>, o: { length?: boolean } = {}): string {
  const head = ['model', 'recording acc. float', 'recording acc. int8', 'int8 macro F1', 'window acc. float', 'window acc. int8'];
  if (o.length) head.splice(4, 0, 'int8 rec. + length', 'its macro F1');
  return table(
    head,
    rows.map(({ name, s }) => {
      const r = [name, pct(s.float.recording.accuracy), pct(s.int8.recording.accuracy), pct(s.int8.recording.macroF1), pct(s.float.window.accuracy), pct(s.int8.window.accuracy)];
      if (o.length) r.splice(4, 0, pct(s.int8.withLength.accuracy), pct(s.int8.withLength.macroF1));
      return r;
    }),
  );
}
