/**
 * Scoring through the runtime (the deployed code path): clip accuracy with one session per clip
 * (label = argmax at the last step, as the trainer reads it) and a stream's posteriors as a
 * gateway computes them: one per sliding window when the model's front end has `windows`
 * (each window from a reset state), else from one session that runs from the stream's start to
 * its end, never reset. Node-free.
 */
import { windowCount, type AudioFrontendSpec, type Model, type WindowSpec } from '../../../src/index.js';
import type { Sample } from '../../data/dataset.js';

export interface ClipAccuracy {
  accuracy: number;
  samples: number;
  /** Recall per class: correct / clips of that class. */
  perClass: Record<string, { clips: number; correct: number; recall: number }>;
  /** Accuracy per group (e.g. speaker), when groups were given. */
  perGroup: Record<string, number>;
  /** confusion[truth][predicted]. */
  confusion: number[][];
  predictions: number[];
}

export function clipAccuracy(model: Model, samples: readonly Sample[], labels: readonly string[], groups?: readonly string[]): ClipAccuracy {
  const C = labels.length;
  const F = model.inputSize;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  const predictions: number[] = [];
  const groupHits = new Map<string, [number, number]>();
  const session = model.session();
  try {
    samples.forEach((s, i) => {
      session.reset();
      const y = session.run(s.x.subarray(0, s.T * F));
      const last = (s.T - 1) * C;
      let best = 0;
      for (let c = 1; c < C; c++) if (y[last + c]! > y[last + best]!) best = c;
      predictions.push(best);
      confusion[s.y!]![best]!++;
      if (groups) {
        const g = groups[i]!;
        const h = groupHits.get(g) ?? [0, 0];
        h[0] += best === s.y ? 1 : 0;
        h[1]++;
        groupHits.set(g, h);
      }
    });
  } finally {
    session.dispose();
  }
  const correct = confusion.reduce((n, row, i) => n + row[i]!, 0);
  const perClass = Object.fromEntries(
    labels.map((l, i) => {
      const clips = confusion[i]!.reduce((a, b) => a + b, 0);
      return [l, { clips, correct: confusion[i]![i]!, recall: clips > 0 ? Math.round((confusion[i]![i]! / clips) * 1e5) / 1e5 : 0 }];
    }),
  );
  const perGroup = Object.fromEntries([...groupHits].sort().map(([g, [h, n]]) => [g, Math.round((h / n) * 1e5) / 1e5]));
  return { accuracy: correct / Math.max(1, samples.length), samples: samples.length, perClass, perGroup, confusion, predictions };
}

/** Posteriors [T][outputs] of one never-reset session over a whole stream of frames [T][inputs]. */
export function streamPosteriors(model: Model, frames: Float32Array, chunkFrames = 4096): Float32Array {
  const F = model.inputSize;
  const O = model.outputSize;
  const T = frames.length / F;
  const out = new Float32Array(T * O);
  const session = model.session();
  try {
    for (let t = 0; t < T; t += chunkFrames) {
      const n = Math.min(chunkFrames, T - t);
      out.set(session.run(frames.subarray(t * F, (t + n) * F)), t * O);
    }
  } finally {
    session.dispose();
  }
  return out;
}

/**
 * Posteriors [windows][outputs] of sliding windows over a stream of frames [T][inputs]: window w
 * is frames [w·hop, w·hop + frames), run from a reset state; its posterior is the output at its
 * last frame. The same numbers as a gateway stepping the front end's window blocks.
 */
export function windowPosteriors(model: Model, frames: Float32Array, w: WindowSpec): Float32Array {
  const F = model.inputSize;
  const O = model.outputSize;
  const n = windowCount(w, frames.length / F);
  const out = new Float32Array(n * O);
  const session = model.session();
  try {
    for (let i = 0; i < n; i++) {
      session.reset();
      const y = session.run(frames.subarray(i * w.hop * F, (i * w.hop + w.frames) * F));
      out.set(y.subarray((w.frames - 1) * O), i * O);
    }
  } finally {
    session.dispose();
  }
  return out;
}

/** A stream's posteriors the way the model's front end serves it: sliding windows when it has them, else one never-reset session. */
export function servedPosteriors(model: Model, frames: Float32Array, frontend: Pick<AudioFrontendSpec, 'windows'>): Float32Array {
  return frontend.windows ? windowPosteriors(model, frames, frontend.windows) : streamPosteriors(model, frames);
}

/** The frame-level front end of a spec (without `windows`): what features are computed and cached with. */
export function frameSpec<T extends AudioFrontendSpec>(spec: T): T {
  const { windows: _w, ...rest } = spec;
  return rest as T;
}

/** Length of a recording that gave `frames` frames of `spec` (Kaldi framing: within one hop, short), seconds. */
export function recordingSeconds(frames: number, spec: Pick<AudioFrontendSpec, 'frameMs' | 'hopMs'>): number {
  return frames > 0 ? ((frames - 1) * spec.hopMs + spec.frameMs) / 1000 : 0;
}
