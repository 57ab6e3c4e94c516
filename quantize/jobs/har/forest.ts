/**
 * The anchor, rebuilt to score it under the same folds: a random forest (Breiman 2001:
 * bootstrap samples, CART trees grown to purity with the Gini impurity, √F features tried per
 * split, majority vote) on per-recording summary statistics. Plain and small; for the benchmark.
 */
import { Rng } from '../../../src/index.js';
import type { HmpRecording } from './hmp.js';

/**
 * Statistics per channel (x, y, z, |a|): mean, std, min, max, 10th/50th/90th percentile, mean |Δ|;
 * then the recording's duration in seconds (a per-recording statistic too; without it the forest
 * scores about 7 points less under the same folds, see docs/har.md).
 */
export const SUMMARY_STATS = ['mean', 'std', 'min', 'max', 'p10', 'p50', 'p90', 'meanAbsDiff'] as const;

/** The 33 summary features of one recording (g units; duration in s at 32 Hz). */
export function summaryFeatures(rec: HmpRecording): number[] {
  const n = rec.samples;
  const ch: Float64Array[] = [0, 1, 2, 3].map(() => new Float64Array(n));
  for (let t = 0; t < n; t++) {
    let m = 0;
    for (let c = 0; c < 3; c++) {
      const g = -1.5 + (rec.codes[t * 3 + c]! / 63) * 3;
      ch[c]![t] = g;
      m += g * g;
    }
    ch[3]![t] = Math.sqrt(m);
  }
  const out: number[] = [];
  for (const x of ch) {
    const sorted = Float64Array.from(x).sort();
    const q = (p: number): number => sorted[Math.min(n - 1, Math.floor(p * (n - 1)))]!;
    let mean = 0;
    for (const v of x) mean += v / n;
    let v2 = 0;
    let d = 0;
    for (let t = 0; t < n; t++) {
      v2 += (x[t]! - mean) ** 2 / n;
      if (t > 0) d += Math.abs(x[t]! - x[t - 1]!) / (n - 1);
    }
    out.push(mean, Math.sqrt(v2), sorted[0]!, sorted[n - 1]!, q(0.1), q(0.5), q(0.9), d);
  }
  out.push(n / 32);
  return out;
}

type TreeNode = { leaf: true; label: number } | { leaf: false; feature: number; threshold: number; left: TreeNode; right: TreeNode };

export interface ForestOptions {
  trees: number;
  /** Features tried per split (default √F). */
  maxFeatures?: number;
  seed: number;
}

function gini(counts: Float64Array, n: number): number {
  let s = 0;
  for (const c of counts) s += (c / n) ** 2;
  return 1 - s;
}

function grow(X: number[][], y: number[], idx: number[], C: number, mtry: number, rng: Rng): TreeNode {
  const counts = new Float64Array(C);
  for (const i of idx) counts[y[i]!]!++;
  let major = 0;
  for (let c = 1; c < C; c++) if (counts[c]! > counts[major]!) major = c;
  if (counts[major] === idx.length) return { leaf: true, label: major };
  const F = X[0]!.length;
  const feats = Array.from({ length: F }, (_, i) => i);
  for (let i = F - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [feats[i], feats[j]] = [feats[j]!, feats[i]!];
  }
  let best: { f: number; thr: number; score: number } | null = null;
  const n = idx.length;
  for (const f of feats.slice(0, mtry)) {
    const order = [...idx].sort((a, b) => X[a]![f]! - X[b]![f]!);
    const left = new Float64Array(C);
    const right = Float64Array.from(counts);
    for (let k = 0; k < n - 1; k++) {
      const yi = y[order[k]!]!;
      left[yi]!++;
      right[yi]!--;
      const a = X[order[k]!]![f]!;
      const b = X[order[k + 1]!]![f]!;
      if (a === b) continue;
      const score = ((k + 1) * gini(left, k + 1) + (n - k - 1) * gini(right, n - k - 1)) / n;
      if (!best || score < best.score) best = { f, thr: (a + b) / 2, score };
    }
  }
  if (!best) return { leaf: true, label: major };
  const L = idx.filter((i) => X[i]![best!.f]! <= best!.thr);
  const R = idx.filter((i) => X[i]![best!.f]! > best!.thr);
  return { leaf: false, feature: best.f, threshold: best.thr, left: grow(X, y, L, C, mtry, rng), right: grow(X, y, R, C, mtry, rng) };
}

export class RandomForest {
  private readonly trees: TreeNode[];
  private readonly C: number;

  private constructor(trees: TreeNode[], C: number) {
    this.trees = trees;
    this.C = C;
  }

  static fit(X: number[][], y: number[], C: number, o: ForestOptions): RandomForest {
    const rng = new Rng(o.seed);
    const mtry = o.maxFeatures ?? Math.max(1, Math.round(Math.sqrt(X[0]!.length)));
    const trees: TreeNode[] = [];
    for (let t = 0; t < o.trees; t++) {
      const boot = Array.from({ length: X.length }, () => Math.floor(rng.next() * X.length));
      trees.push(grow(X, y, boot, C, mtry, rng));
    }
    return new RandomForest(trees, C);
  }

  predict(x: readonly number[]): number {
    const votes = new Float64Array(this.C);
    for (const t of this.trees) {
      let node = t;
      while (!node.leaf) node = x[node.feature]! <= node.threshold ? node.left : node.right;
      votes[node.label]!++;
    }
    let best = 0;
    for (let c = 1; c < this.C; c++) if (votes[c]! > votes[best]!) best = c;
    return best;
  }
}
