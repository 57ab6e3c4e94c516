/**
 * ModelSpec <-> .ern bytes. Writing runs the model once on a golden input with the reference
 * backend and stores input and output in the file; loading (runtime.ts) replays it.
 */
import { EdgeRnnError } from '../errors.js';
import { blockSparseBytes } from '../format/block-sparse.js';
import { decodeErn, encodeErn, parseErn, type ErnContainer } from '../format/ern.js';
import { FloatEngine } from '../runtime/float/engine.js';
import { IntEngine } from '../runtime/int/engine.js';
import { prepareIntModel } from '../runtime/int/prepare.js';
import { ReferenceKernels } from '../runtime/int/reference-kernels.js';
import type { Engine } from '../runtime/engine.js';
import { Rng } from '../util/rng.js';
import { goldenAtolFor, manifestToSpec, specToManifest, type ParsedManifest } from './manifest.js';
import { checkFiniteWeights, checkSpecArgument, modelOutputSize, type ModelSpec } from './spec.js';
import { fileBytes } from '../util/bytes.js';

export { GOLDEN_ATOL_FLOAT, GOLDEN_ATOL_INT_FLOAT_TAIL } from './manifest.js';

export interface EncodeOptions {
  /**
   * int8 weight matrices stored block-sparse (4x8 blocks, dtype i8bs) when that is at least 10%
   * smaller ('auto', default), never, or always.
   */
  blockSparse?: 'auto' | 'never' | 'always';
  /** Golden input frames [steps][inputSize]; default: seeded random frames in the input range. */
  goldenInput?: Float32Array;
  /** Steps of the default golden input. */
  goldenSteps?: number;
  seed?: number;
}

/** The reference engine for a spec: integer reference for int8, float reference for float32. */
export function referenceEngine(spec: ModelSpec): Engine {
  if (spec.precision === 'int8') {
    const P = prepareIntModel(spec);
    return new IntEngine(P, new ReferenceKernels(P));
  }
  return new FloatEngine(spec);
}

function defaultGoldenInput(spec: ModelSpec, steps: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const I = spec.input.size;
  const x = new Float32Array(steps * I);
  for (let t = 0; t < steps; t++) {
    for (let k = 0; k < I; k++) {
      // int8: 80% of the calibrated range; float: [-1, 1).
      const r = spec.inputScale ? spec.inputScale[k]! * 32767 * 0.8 : 1;
      x[t * I + k] = rng.uniform(-r, r);
    }
  }
  return x;
}

/** Serializes a spec to .ern bytes, computing its golden vector with the reference engine. */
export function encodeModel(spec: ModelSpec, opts: EncodeOptions = {}): Uint8Array {
  checkSpecArgument(spec, 'encodeModel()');
  checkFiniteWeights(spec, 'encodeModel()');
  const I = spec.input.size;
  const input = opts.goldenInput ?? defaultGoldenInput(spec, opts.goldenSteps ?? 8, opts.seed ?? 0x5eed);
  if (input.length === 0 || input.length % I !== 0) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `golden input has ${input.length} values, not a positive multiple of ${I} features`);
  }
  const steps = input.length / I;
  const engine = referenceEngine(spec);
  const out = new Float32Array(steps * modelOutputSize(spec));
  const state = engine.allocState();
  const bad = engine.run(state, input, steps, out, 'error');
  if (bad >= 0) throw new EdgeRnnError('NON_FINITE_INPUT', `golden input value ${bad} is not finite`);
  const atol = goldenAtolFor(spec);
  const { manifest, tensors } = specToManifest(spec, { input, output: out, steps, atol });
  const mode = opts.blockSparse ?? 'auto';
  for (const t of tensors) {
    if (mode === 'never' || !(t.data instanceof Int8Array) || !/\.(Wq|Rq)$/.test(t.name)) continue;
    if (mode === 'always' || blockSparseBytes(t.data, t.shape) <= 0.9 * t.data.length) t.encoding = 'i8bs';
  }
  const bytes = encodeErn(manifest, tensors);
  // Never write a file the runtime would refuse: the decoder's checks, with the decoder's errors.
  decodeModel(bytes, `${spec.name || 'model'} (being encoded)`);
  return bytes;
}

export interface DecodedModel extends ParsedManifest {
  container: ErnContainer;
}

/**
 * Parses and validates .ern bytes (container, checksum, manifest, tensors). Does not run the
 * golden check. `digest`: the content sha256 if already computed (Runtime.contentDigest).
 */
export function decodeModel(file: Uint8Array | ArrayBuffer | ArrayBufferView, source = 'model.ern', digest?: Uint8Array): DecodedModel {
  const container = decodeErn(fileBytes(file, source, 'decodeModel()'), source, digest ? { digest } : {});
  return { ...manifestToSpec(container.manifest, container.tensors, source), container };
}

/** decodeModel() with the content sha256 from the caller (see parseErn): the runtime's path. */
export function decodeModelWith(bytes: Uint8Array, source: string, digest: () => Uint8Array): DecodedModel {
  const container = parseErn(bytes, source, digest);
  return { ...manifestToSpec(container.manifest, container.tensors, source), container };
}
