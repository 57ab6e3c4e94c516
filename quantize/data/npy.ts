/**
 * NumPy inputs: X [N][T][F] (or [T][F], one sequence) with a companion array:
 *   classify   labels [N] or [N][1] (integers: class names "0".."C-1" unless given; against given names
 *              none of which is an integer, the index of the class)
 *   forecast   targets [N][T][O]
 * Sequences in a .npy all have the same length.
 */
import { isEdgeRnnError } from '../../src/index.js';
import { openNpy, type NpyReader } from '../../src/io/npy.js';
import { float32Defect } from '../../src/io/sequences.js';
import { classLookup, dataError, sortLabels, type Dataset, type Sample, type TrainTask } from './dataset.js';

/**
 * The labels or targets .npy. Text labels (NumPy's '<U4' of np.array(['up', 'down'])) are named
 * as such, with the two ways to train on them: they were "element type '<U4' is not supported".
 */
function openCompanion(companion: { bytes: Uint8Array; source: string }, task: TrainTask): NpyReader {
  try {
    return openNpy(companion.bytes, companion.source);
  } catch (e) {
    const type = isEdgeRnnError(e) ? e.details?.elementType : undefined;
    if (typeof type === 'string' && /^[<>|=]?[SU]/.test(type) && task === 'classify') {
      throw dataError(companion.source, `labels are text ('${type}'): a .npy labels file holds integer class indices (np.save(file, np.unique(y, return_inverse=True)[1]) gives them, in the order of np.unique(y)); or write the data as JSON Lines ({"x": [[...]], "y": "up"}), which keeps class names`, { expected: 'integer labels', got: type });
    }
    throw e;
  }
}

export function parseNpyDataset(xBytes: Uint8Array, source: string, task: TrainTask, companion: { bytes: Uint8Array; source: string } | null, labels?: readonly string[], labelsFlag = '--labels'): Omit<Dataset, 'sha256'> {
  // Read a sequence at a time into float32: the whole array as float64 first took 8 bytes an
  // element (13 times an int8 file's size at the peak, with the sequences).
  const X = openNpy(xBytes, source);
  const shape = X.shape.length === 2 ? [1, ...X.shape] : X.shape;
  if (shape.length !== 3) throw dataError(source, `array of shape [${X.shape}]: expected [sequences][steps][features] or [steps][features]${X.shape.length === 1 ? ' (a series of one feature: np.save(file, x.reshape(-1, 1)))' : ''}`);
  const [N, T, F] = shape as [number, number, number];
  if (N === 0 || T === 0 || F === 0) throw dataError(source, `empty array of shape [${X.shape}]`);
  const samples: Sample[] = [];
  const seq = new Float64Array(T * F);
  for (let n = 0; n < N; n++) {
    X.read(n * T * F, seq);
    for (let i = 0; i < seq.length; i++) {
      const defect = float32Defect(seq[i]);
      if (defect) throw dataError(source, `sequence ${n}, step ${Math.floor(i / F)}, feature ${i % F} ${defect}`);
    }
    samples.push({ x: Float32Array.from(seq), T, where: `${source}[${n}]` });
  }
  let outLabels: string[] = [];
  let targetSize = 0;
  if (task === 'classify' || task === 'forecast') {
    if (!companion) throw dataError(source, `the ${task} task needs ${task === 'classify' ? 'labels [N]' : 'targets [N][T][O]'} (${labelsFlag} FILE.npy)`);
    const Y = openCompanion(companion, task);
    if (task === 'classify') {
      // A column of labels [N, 1] (y.reshape(-1, 1), a DataFrame's column) is the labels [N].
      if (!(Y.shape[0] === N && (Y.shape.length === 1 || (Y.shape.length === 2 && Y.shape[1] === 1)))) {
        const oneHot = Y.shape.length === 2 && Y.shape[0] === N ? ': one-hot labels? save their class indices, np.argmax(y, axis=1)' : '';
        throw dataError(companion.source, `labels of shape [${Y.shape}], expected [${N}] (one per sequence of ${source})${oneHot}`);
      }
      const names: string[] = [];
      const y = new Float64Array(N);
      Y.read(0, y);
      for (let n = 0; n < N; n++) {
        const v = y[n]!;
        if (!Number.isInteger(v)) throw dataError(companion.source, `label ${n} is ${v}, expected an integer class`);
        names.push(String(v));
      }
      outLabels = labels ? [...labels] : sortLabels(names, companion.source);
      const classOf = classLookup(outLabels);
      // A .npy holds numbers only: against class names none of which is a number (a keyword
      // model's "yes", "no"), an integer can only be the class index; read as a name, every
      // label was unknown. Against numbers ("1.0", "2.0" too: they were read as indices, so 1
      // was the class "2.0"), it is the class of that number.
      const byIndex = labels !== undefined && labels.length > 0 && !labels.some((l) => l.trim() !== '' && Number.isFinite(Number(l)));
      names.forEach((name, n) => {
        const y = byIndex ? Number(name) : classOf(name);
        if (y === undefined || !(y >= 0 && y < outLabels.length)) {
          throw dataError(`${companion.source}[${n}]`, byIndex ? `label ${name} is not a class index of the model (0..${outLabels.length - 1}: ${outLabels.join(', ')})` : `unknown label ${name}: the model knows ${outLabels.join(', ')}`, { expected: byIndex ? `0..${outLabels.length - 1}` : outLabels, got: Number(name) });
        }
        samples[n]!.y = y;
      });
    } else {
      const s = Y.shape.length === 2 ? [1, ...Y.shape] : Y.shape;
      if (s.length !== 3 || s[0] !== N || s[1] !== T) throw dataError(companion.source, `targets of shape [${Y.shape}], expected [${N}][${T}][outputs]`);
      targetSize = s[2]!;
      const tg = new Float64Array(T * targetSize);
      for (let n = 0; n < N; n++) {
        Y.read(n * T * targetSize, tg);
        const bad = tg.findIndex((v) => float32Defect(v) !== null);
        if (bad >= 0) throw dataError(`${companion.source}[${n}]`, `target value ${bad} ${float32Defect(tg[bad])}`);
        samples[n]!.target = Float32Array.from(tg);
      }
    }
  }
  return { source, features: F, labels: outLabels, targetSize, samples };
}
