/** Classification and regression metrics (plain definitions, no smoothing). */
import { EdgeRnnError } from '../../src/index.js';

export interface ClassMetrics {
  label: string;
  /** TP / (TP + FP); 0 when nothing was predicted as this class. */
  precision: number;
  /** TP / (TP + FN); 0 when the class has no samples. */
  recall: number;
  /** 2PR / (P + R); 0 when both are 0. */
  f1: number;
  support: number;
}

export interface ClassificationReport {
  samples: number;
  accuracy: number;
  /**
   * Mean F1 over the classes that occur in the truth or the predictions, as scikit-learn's
   * f1_score(average='macro') with its default labels: a class absent from both (scoring a
   * subset of the classes) would otherwise count as F1 0.
   */
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

export function classificationReport(labels: readonly string[], truth: ArrayLike<number>, predicted: ArrayLike<number>): ClassificationReport {
  const C = labels.length;
  // Class indices outside the labels, or a prediction list of another length, counted into a
  // matrix that grew a column (or crashed on a missing row): refused, naming the first one.
  if (truth.length !== predicted.length) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `classificationReport: ${truth.length} true classes but ${predicted.length} predictions, expected one prediction per sample`, { expected: truth.length, got: predicted.length });
  }
  for (const [name, list] of [['truth', truth], ['predicted', predicted]] as const) {
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (!Number.isInteger(c) || c < 0 || c >= C) {
        throw new EdgeRnnError('INVALID_ARGUMENT', `classificationReport: ${name}[${i}] is ${c}, expected a class index in 0..${C - 1} (${C} labels)`, { expected: `0..${C - 1}`, got: c, index: i });
      }
    }
  }
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]!]![predicted[i]!]!++;
    if (truth[i] === predicted[i]) correct++;
  }
  const perClass = labels.map((label, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedC = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedC > 0 ? tp / predictedC : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  return {
    samples: truth.length,
    accuracy: truth.length ? correct / truth.length : 0,
    macroF1: macroF1(perClass, confusion),
    perClass,
    confusion,
  };
}

function macroF1(perClass: readonly ClassMetrics[], confusion: readonly number[][]): number {
  const seen = perClass.filter((m, c) => m.support > 0 || confusion.some((row) => row[c]! > 0));
  return seen.length ? seen.reduce((a, m) => a + m.f1, 0) / seen.length : 0;
}

export interface RegressionReport {
  /** Scored values (steps × outputs). */
  count: number;
  mse: number;
  mae: number;
  rmse: number;
  perOutput: { mse: number; mae: number }[];
}

/** Accumulates squared and absolute errors per output. */
export class RegressionAccumulator {
  private readonly sq: Float64Array;
  private readonly ab: Float64Array;
  private readonly n: Float64Array;

  constructor(readonly outputs: number) {
    this.sq = new Float64Array(outputs);
    this.ab = new Float64Array(outputs);
    this.n = new Float64Array(outputs);
  }

  add(o: number, predicted: number, truth: number): void {
    const d = predicted - truth;
    this.sq[o] = this.sq[o]! + d * d;
    this.ab[o] = this.ab[o]! + Math.abs(d);
    this.n[o] = this.n[o]! + 1;
  }

  report(): RegressionReport {
    let sq = 0;
    let ab = 0;
    let n = 0;
    const perOutput = Array.from({ length: this.outputs }, (_, o) => {
      sq += this.sq[o]!;
      ab += this.ab[o]!;
      n += this.n[o]!;
      return { mse: this.sq[o]! / Math.max(1, this.n[o]!), mae: this.ab[o]! / Math.max(1, this.n[o]!) };
    });
    const mse = sq / Math.max(1, n);
    return { count: n, mse, mae: ab / Math.max(1, n), rmse: Math.sqrt(mse), perOutput };
  }
}
