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

const ENCODE_OPTIONS = ['blockSparse', 'goldenInput', 'goldenSteps', 'seed'] as const satisfies readonly (keyof EncodeOptions)[];

/**
 * The options, checked as the runtime's are: `{ blockSparse: 'yes' }` or a misspelt
 * `goldenstep` passed as the default, silently, and `goldenSteps: -1` was a RangeError.
 */
function checkEncodeOptions(opts: unknown): void {
  const bad = (msg: string, got: unknown) => new EdgeRnnError('INVALID_ARGUMENT', `encodeModel(): ${msg}, got ${typeof got === 'string' ? JSON.stringify(got) : String(got)}`, { got });
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw bad('options are an object', Array.isArray(opts) ? 'an array' : opts);
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (o[k] !== undefined && !(ENCODE_OPTIONS as readonly string[]).includes(k)) {
      throw new EdgeRnnError('INVALID_ARGUMENT', `encodeModel(): unknown option '${k}': the options are ${ENCODE_OPTIONS.join(', ')}`, { got: k, expected: ENCODE_OPTIONS });
    }
  }
  if (o.blockSparse !== undefined && !['auto', 'never', 'always'].includes(o.blockSparse as string)) throw bad("blockSparse is 'auto', 'never' or 'always'", o.blockSparse);
  if (o.goldenSteps !== undefined && !(Number.isSafeInteger(o.goldenSteps) && (o.goldenSteps as number) >= 1)) throw bad('goldenSteps is a whole number >= 1', o.goldenSteps);
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw bad('seed is a whole number', o.seed);
}

/** Serializes a spec to .ern bytes, computing its golden vector with the reference engine. */
export function encodeModel(spec: ModelSpec, opts: EncodeOptions = {}): Uint8Array<ArrayBuffer> {
  checkSpecArgument(spec, 'encodeModel()');
  checkEncodeOptions(opts);
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
export function decodeModel(file: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, source = 'model.ern', digest?: Uint8Array): DecodedModel {
  const container = decodeErn(fileBytes(file, source, 'decodeModel()'), source, digest ? { digest } : {});
  return { ...manifestToSpec(container.manifest, container.tensors, source, container.formatVersion), container };
}

/** decodeModel() with the content sha256 from the caller (see parseErn): the runtime's path. */
export function decodeModelWith(bytes: Uint8Array, source: string, digest: () => Uint8Array): DecodedModel {
  const container = parseErn(bytes, source, digest);
  return { ...manifestToSpec(container.manifest, container.tensors, source, container.formatVersion), container };
}
