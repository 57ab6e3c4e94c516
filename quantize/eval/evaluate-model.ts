/**
 * Scores a model the way it will run on the device: through the runtime (createRuntime, the
 * chosen backend, the .ern bytes), one session per sequence.
 *   classify     the class at each sequence's last step -> accuracy, P/R/F1, confusion
 *   forecast     every step's outputs against the targets -> MSE, MAE (raw units)
 *   autoencoder  every step's window reconstruction against the input frames -> MSE, MAE,
 *                plus each sequence's mean reconstruction error (the anomaly score)
 */
import { EdgeRnnError, encodeModel, type BackendChoice, type ModelSpec, type Runtime } from '../../src/index.js';
import type { Dataset, Sample } from '../data/dataset.js';
import { classificationReport, RegressionAccumulator, type ClassificationReport, type RegressionReport } from './metrics.js';

export interface ModelEvaluation {
  task: ModelSpec['task'];
  precision: ModelSpec['precision'];
  backend: string;
  samples: number;
  classification?: ClassificationReport;
  regression?: RegressionReport;
  /** autoencoder: mean squared reconstruction error per sequence. */
  sequenceErrors?: number[];
  /** classify: predicted class per sample. */
  predictions?: number[];
}

/** Autoencoder window length of a spec (extra.window, default 1). */
export function specWindow(spec: ModelSpec): number {
  const w = spec.extra?.window;
  return typeof w === 'number' && Number.isInteger(w) && w >= 1 ? w : 1;
}

export async function evaluateModel(rt: Runtime, spec: ModelSpec, data: Dataset | readonly Sample[], opts: { backend?: BackendChoice; bytes?: Uint8Array; onProgress?: (done: number, total: number) => void } = {}): Promise<ModelEvaluation> {
  const samples = Array.isArray(data) ? (data as readonly Sample[]) : (data as Dataset).samples;
  // No sequences scored an accuracy of 0 and an MSE of 0 (a perfect forecaster).
  if (samples.length === 0) throw new EdgeRnnError('BAD_DATA', `${Array.isArray(data) ? spec.name : (data as Dataset).source}: no sequences to score`, { expected: 'at least 1 sequence', got: 0 });
  const bytes = opts.bytes ?? encodeModel(spec);
  const model = await rt.load(bytes, { backend: opts.backend ?? 'auto', source: spec.name });
  const F = spec.input.size;
  const O = model.outputSize;
  const task = spec.task;
  const res: ModelEvaluation = { task, precision: spec.precision, backend: model.backend, samples: samples.length };
  try {
    if (task === 'classify' || (spec.labels.length > 0 && task !== 'forecast' && task !== 'autoencoder')) {
      const truth: number[] = [];
      const pred: number[] = [];
      // The model's class names (a classifier without names: its output indices).
      const labels = spec.labels.length ? spec.labels : Array.from({ length: O }, (_, c) => String(c));
      // A Dataset's y indexes its own labels: read in another order (or a subset), they are
      // mapped to the model's by name; counted as they were, the confusion matrix was permuted.
      const dsLabels = Array.isArray(data) ? null : (data as Dataset).labels;
      let toModel: ((y: number, where: string) => number) | null = null;
      if (dsLabels && dsLabels.length && spec.labels.length && dsLabels.join('\u0000') !== spec.labels.join('\u0000')) {
        const index = new Map(spec.labels.map((l, c) => [l, c]));
        toModel = (y, where) => {
          const name = dsLabels[y];
          const c = name === undefined ? undefined : index.get(name);
          if (c === undefined) throw new EdgeRnnError('BAD_DATA', `${where}: label ${JSON.stringify(name ?? y)} is not one of the model's classes (${spec.labels.join(', ')})`, { expected: spec.labels, got: name ?? y });
          return c;
        };
      }
      samples.forEach((s, i) => {
        if (s.y === undefined) throw new EdgeRnnError('BAD_DATA', `${s.where}: no label to score a classifier against`);
        const yt = toModel ? toModel(s.y, s.where) : s.y;
        if (!Number.isInteger(yt) || yt < 0 || yt >= labels.length) {
          throw new EdgeRnnError('BAD_DATA', `${s.where}: class index ${s.y}, the model has ${labels.length} classes (0..${labels.length - 1})`, { expected: `0..${labels.length - 1}`, got: s.y });
        }
        const session = model.session();
        const y = session.run(s.x.subarray(0, s.T * F));
        session.dispose();
        const last = (s.T - 1) * O;
        let best = 0;
        for (let c = 1; c < O; c++) if (y[last + c]! > y[last + best]!) best = c;
        truth.push(yt);
        pred.push(best);
        opts.onProgress?.(i + 1, samples.length);
      });
      res.classification = classificationReport(labels, truth, pred);
      res.predictions = pred;
    } else if (task === 'autoencoder') {
      const W = specWindow(spec);
      if (O !== W * F) throw new EdgeRnnError('UNSUPPORTED_MODEL', `${spec.name}: autoencoder output ${O} is not window ${W} × ${F} features`);
      const acc = new RegressionAccumulator(F);
      res.sequenceErrors = samples.map((s, i) => {
        const session = model.session();
        const y = session.run(s.x.subarray(0, s.T * F));
        session.dispose();
        let sq = 0;
        let n = 0;
        for (let t = 0; t < s.T; t++) {
          for (let w = 0; w < W; w++) {
            const src = t - (W - 1) + w;
            if (src < 0) continue;
            for (let k = 0; k < F; k++) {
              const p = y[t * O + w * F + k]!;
              const v = s.x[src * F + k]!;
              acc.add(k, p, v);
              sq += (p - v) ** 2;
              n++;
            }
          }
        }
        opts.onProgress?.(i + 1, samples.length);
        return sq / Math.max(1, n);
      });
      res.regression = acc.report();
    } else {
      const acc = new RegressionAccumulator(O);
      samples.forEach((s, i) => {
        if (!s.target) throw new EdgeRnnError('BAD_DATA', `${s.where}: no target to score a forecaster against`);
        if (s.target.length !== s.T * O) throw new EdgeRnnError('BAD_DATA', `${s.where}: ${s.target.length / s.T} target values per step, the model outputs ${O}`);
        const session = model.session();
        const y = session.run(s.x.subarray(0, s.T * F));
        session.dispose();
        for (let t = 0; t < s.T; t++) for (let o = 0; o < O; o++) acc.add(o, y[t * O + o]!, s.target[t * O + o]!);
        opts.onProgress?.(i + 1, samples.length);
      });
      res.regression = acc.report();
    }
  } finally {
    model.dispose();
  }
  return res;
}

/** The headline number of an evaluation: accuracy (classify) or MSE. */
export function headline(e: ModelEvaluation): { name: 'accuracy' | 'mse'; value: number } {
  return e.classification ? { name: 'accuracy', value: e.classification.accuracy } : { name: 'mse', value: e.regression?.mse ?? NaN };
}
