/**
 * ONNX node-test runner: a test is `model.onnx` plus data sets of `input_K.pb` / `output_K.pb`
 * (serialized TensorProtos, input K = graph input K, output K = graph output K; a tensor's name,
 * when set, wins over its position). Browser-safe: the CLI (src/cli/commands/conformance.ts)
 * reads the folders.
 *
 * How a test runs on edgernn:
 *   - graph input 0 is the sequence X; every other input is bound as a constant for that data
 *     set (W, R, B, sequence_lens, initial_h... are folded into the layers);
 *   - edgernn sessions run one sequence at a time, so the graph is imported once per batch
 *     element (batch-sized constants sliced), and that element's frames are run;
 *   - ONNX semantics for sequence_lens: steps past a sequence's length are padding (Y = 0 there,
 *     or what later per-frame layers make of 0), Y_h is the last valid step;
 *   - backend 'reference' runs the float reference (atol FLOAT_ATOL); 'simd' / 'scalar'
 *     quantize each chain to int8, calibrated on the test's own inputs, and compare with
 *     INT8_ATOL (docs/onnx.md).
 */
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { calibrateAbsMax, quantizeModel } from '../model/quantize.js';
import { isRecurrent, layerOutputSize, numDirections, type Layer, type ModelSpec } from '../model/spec.js';
import type { Engine } from '../runtime/engine.js';
import { FloatEngine } from '../runtime/float/engine.js';
import type { Runtime } from '../runtime/runtime.js';
import { importOnnx, type BoundTensor, type OnnxImport, type OnnxOutput } from './import.js';
import { decodeModelProto, decodeTensorProto, dtypeName, type ModelProto, type TensorProto } from './proto.js';
import { FLOAT_ATOL, INT8_ATOL } from './tolerance.js';

export const CONFORMANCE_BACKENDS = ['reference', 'simd', 'scalar'] as const;
export type ConformanceBackend = (typeof CONFORMANCE_BACKENDS)[number];

export interface NodeTestDataSet {
  name: string;
  /** Serialized TensorProtos, input_0.pb, input_1.pb, ... */
  inputs: Uint8Array[];
  outputs: Uint8Array[];
}

export interface NodeTestCase {
  name: string;
  model: Uint8Array;
  dataSets: NodeTestDataSet[];
}

export interface ConformanceOptions {
  backend: ConformanceBackend;
  /** Needed for simd / scalar (create once with createRuntime()). */
  runtime?: Runtime;
  /** Overrides the backend's default tolerance. */
  atol?: number;
}

export interface OutputResult {
  dataSet: string;
  name: string;
  maxDiff: number;
  /** Flat index of the worst element. */
  at: number;
}

export interface NodeTestResult {
  name: string;
  backend: ConformanceBackend;
  passed: boolean;
  atol: number;
  /** Largest |got - expected| over all outputs of all data sets (NaN on error). */
  maxDiff: number;
  outputs: OutputResult[];
  error?: { code: string; message: string };
}

export function defaultAtol(backend: ConformanceBackend): number {
  return backend === 'reference' ? FLOAT_ATOL : INT8_ATOL;
}

/** Runs chains of layers on one backend (cached per chain). */
class ChainRunner {
  private readonly cache = new Map<Layer[], Promise<Engine>>();

  constructor(
    private readonly backend: ConformanceBackend,
    private readonly runtime: Runtime | undefined,
  ) {}

  private spec(layers: Layer[], inputSize: number): ModelSpec {
    return { name: 'onnx-test', version: '1.0.0', task: 'custom', labels: [], input: { size: inputSize, frontend: { kind: 'none' } }, precision: 'float32', layers, training: {} };
  }

  /**
   * Runs `layers` on `x` [T][inputSize]. calib: sequences the int8 backends calibrate on (the
   * test's inputs to this chain); the engine is built on first use.
   */
  async run(layers: Layer[], inputSize: number, x: Float32Array, calib: Float32Array[]): Promise<Float32Array> {
    const T = x.length / inputSize;
    const width = layers.length ? layerOutputSize(layers[layers.length - 1]!) : inputSize;
    if (layers.length === 0) return x.slice();
    let p = this.cache.get(layers);
    if (!p) {
      p = this.engine(layers, inputSize, calib);
      this.cache.set(layers, p);
    }
    const e = await p;
    const out = new Float32Array(T * width);
    const bad = e.run(e.allocState(), x, T, out, 'error');
    if (bad >= 0) throw new EdgeRnnError('NON_FINITE_INPUT', `input value ${bad} is NaN or infinite`);
    return out;
  }

  private async engine(layers: Layer[], inputSize: number, calib: Float32Array[]): Promise<Engine> {
    const spec = this.spec(layers, inputSize);
    const intLayers = layers.some((l) => isRecurrent(l) || l.kind === 'dense');
    if (this.backend === 'reference' || !intLayers) return new FloatEngine(spec);
    if (!this.runtime) throw new EdgeRnnError('BACKEND_UNAVAILABLE', `conformance on backend ${this.backend} needs a runtime (createRuntime())`);
    const q = quantizeModel(spec, calibrateAbsMax(spec, calib));
    return this.runtime.engine(q, this.backend);
  }
}

interface Bound {
  x: TensorProto;
  bind: Record<string, BoundTensor>;
}

function bindInputs(model: ModelProto, ds: NodeTestDataSet, where: string): Bound {
  const g = model.graph;
  const inits = new Set(g.initializer.map((t) => t.name));
  const free = g.input.filter((v) => !inits.has(v.name));
  const tensors = ds.inputs.map((b, k) => decodeTensorProto(b, `${where}/input_${k}.pb`));
  const bind: Record<string, BoundTensor> = {};
  let x: TensorProto | null = null;
  tensors.forEach((t, k) => {
    const name = t.name && g.input.some((v) => v.name === t.name) ? t.name : free[k]?.name;
    if (name === undefined) throw new EdgeRnnError('ONNX_INVALID', `${where}: input_${k}.pb has no matching graph input (the graph has ${free.length})`);
    if (name === free[0]?.name) x = t;
    else bind[name] = { dims: t.dims, data: t.data, dataType: t.dataType };
  });
  if (x === null) throw new EdgeRnnError('ONNX_INVALID', `${where}: no data for the sequence input '${free[0]?.name}'`);
  return { x, bind };
}

/** Frames of batch element b from X, in the imported layout: [T][F]. */
function framesOf(x: TensorProto, layout: OnnxImport['input']['layout'], b: number): { frames: Float32Array; T: number; F: number } {
  const d = x.dims;
  if (layout === 'TF') return { frames: Float32Array.from(x.data), T: d[0]!, F: d[1]! };
  const [T, B, F] = layout === 'TBF' ? [d[0]!, d[1]!, d[2]!] : layout === 'BTF' ? [d[1]!, d[0]!, d[2]!] : [d[2]!, d[0]!, d[1]!];
  const out = new Float32Array(T * F);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < F; k++) {
      const src = layout === 'TBF' ? (t * B + b) * F + k : layout === 'BTF' ? (b * T + t) * F + k : (b * F + k) * T + t;
      out[t * F + k] = x.data[src]!;
    }
  }
  return { frames: out, T, F };
}

/** One output of one batch element: a list of per-step vectors, T of them (or 1 for one-step outputs). */
async function outputFor(o: OnnxOutput, run: ChainRunner, frames: Float32Array, T: number, F: number, calibX: Float32Array[]): Promise<Float32Array[]> {
  const L = o.stepLimit ?? T;
  const x = frames.subarray(0, L * F);
  const width = (layers: Layer[], from: number) => (layers.length ? layerOutputSize(layers[layers.length - 1]!) : from);
  const step = (y: Float32Array, w: number, t: number) => y.slice(t * w, (t + 1) * w);
  // Padding value: the per-frame layers after the last limited layer applied to zeros.
  const padVector = async (): Promise<Float32Array> => {
    const tail = o.layers.slice(o.limitAt + 1);
    const w = width(o.layers.slice(0, o.limitAt + 1), F);
    const zero = new Float32Array(w);
    return run.run(tail, w, zero, [zero]);
  };
  const calib = calibX.map((c) => c);
  if (o.time === 'final') {
    const pre = o.layers.slice(0, o.finalAt + 1);
    const post = o.layers.slice(o.finalAt + 1);
    const lay = pre[pre.length - 1]!;
    if (!isRecurrent(lay)) throw new Error('internal: final state of a non-recurrent layer');
    const H = lay.hiddenSize;
    const W = H * numDirections(lay);
    const y = await run.run(pre, F, x, calib);
    const fin = new Float32Array(W);
    for (let d = 0; d < numDirections(lay); d++) {
      const t = d === 0 && lay.direction !== 'reverse' ? L - 1 : 0;
      fin.set(y.subarray(t * W + d * H, t * W + (d + 1) * H), d * H);
    }
    return [await run.run(post, W, fin, [fin])];
  }
  const w = width(o.layers, F);
  const y = await run.run(o.layers, F, x, calib);
  if (o.time === 'first') return [step(y, w, 0)];
  if (o.time === 'last') return [L < T ? await padVector() : step(y, w, L - 1)];
  const rows: Float32Array[] = [];
  for (let t = 0; t < L; t++) rows.push(step(y, w, t));
  if (L < T) {
    const pad = await padVector();
    for (let t = L; t < T; t++) rows.push(pad);
  }
  return rows;
}

/** Places per-batch results into the output tensor's layout. */
function assemble(o: OnnxOutput, perBatch: Float32Array[][], T: number): { dims: number[]; data: Float32Array } {
  const dims = o.axes.map((a) => (a.role === 'T' ? T : a.size));
  const n = dims.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  const fAxes = o.axes.map((a, i) => (a.role === 'F' ? i : -1)).filter((i) => i >= 0);
  const idx = new Array<number>(dims.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    let t = 0;
    let b = 0;
    let f = 0;
    o.axes.forEach((a, i) => {
      if (a.role === 'T') t = idx[i]!;
      else if (a.role === 'B') b = idx[i]!;
    });
    for (const i of fAxes) f = f * dims[i]! + idx[i]!;
    const rows = perBatch[perBatch.length === 1 ? 0 : b]!;
    data[flat] = rows[rows.length === 1 ? 0 : t]![f]!;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d]! < dims[d]!) break;
      idx[d] = 0;
    }
  }
  return { dims, data };
}

/** Runs one node test on one backend. Never throws for a failing test: the result says why. */
export async function runNodeTest(tc: NodeTestCase, opts: ConformanceOptions): Promise<NodeTestResult> {
  const atol = opts.atol ?? defaultAtol(opts.backend);
  const result: NodeTestResult = { name: tc.name, backend: opts.backend, passed: false, atol, maxDiff: NaN, outputs: [] };
  try {
    const model = decodeModelProto(tc.model, `${tc.name}/model.onnx`);
    if (tc.dataSets.length === 0) throw new EdgeRnnError('ONNX_INVALID', `${tc.name}: no test_data_set_* folders`);
    let worst = 0;
    for (const ds of tc.dataSets) {
      const where = `${tc.name}/${ds.name}`;
      // Nothing to compare must not pass.
      if (ds.outputs.length === 0) throw new EdgeRnnError('ONNX_INVALID', `${where}: no output_K.pb files, nothing to compare`);
      const { x, bind } = bindInputs(model, ds, where);
      const first = importOnnx(model, { source: where, bind, inputDims: x.dims, batchIndex: 0 });
      const { layout, batch } = first.input;
      const runner = new ChainRunner(opts.backend, opts.runtime);
      const perBatchFrames = Array.from({ length: batch }, (_, b) => framesOf(x, layout, b));
      const T = perBatchFrames[0]!.T;
      const F = perBatchFrames[0]!.F;
      const imports = [first];
      for (let b = 1; b < batch; b++) imports.push(importOnnx(model, { source: where, bind, inputDims: x.dims, batchIndex: b, inputLayout: layout }));
      const expected = ds.outputs.map((bytes, k) => decodeTensorProto(bytes, `${where}/output_${k}.pb`));
      for (let k = 0; k < expected.length; k++) {
        const want = expected[k]!;
        const oi = want.name ? first.outputs.findIndex((o) => o.name === want.name) : -1;
        const idx = oi >= 0 ? oi : k;
        const o0 = first.outputs[idx];
        if (!o0) throw new EdgeRnnError('ONNX_INVALID', `${where}: output_${k}.pb has no matching graph output`);
        let got: { dims: number[]; data: Float32Array };
        if (o0.kind === 'const') got = { dims: o0.constant!.dims, data: Float32Array.from(o0.constant!.data) };
        else {
          // Calibration data for int8: every batch element's valid frames.
          const calib = perBatchFrames.map((p, b) => p.frames.subarray(0, (imports[b]!.outputs[idx]!.stepLimit ?? T) * F));
          const perBatch: Float32Array[][] = [];
          for (let b = 0; b < batch; b++) {
            // Each batch element has its own import (its initial_h, sequence_lens): a runner per element.
            const run = b === 0 ? runner : new ChainRunner(opts.backend, opts.runtime);
            perBatch.push(await outputFor(imports[b]!.outputs[idx]!, run, perBatchFrames[b]!.frames, T, F, calib));
          }
          got = assemble(o0, perBatch, T);
        }
        if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
          throw new EdgeRnnError('SHAPE_MISMATCH', `${where}: output '${o0.name}' has shape [${got.dims}], the test expects [${want.dims}]`, { expected: want.dims, got: got.dims });
        }
        if (want.dataType !== 1 && want.dataType !== 11 && want.dataType !== 10) {
          throw new EdgeRnnError('ONNX_UNSUPPORTED', `${where}: expected output of type ${dtypeName(want.dataType)}`);
        }
        let max = 0;
        let at = -1;
        for (let i = 0; i < got.data.length; i++) {
          const g = got.data[i]!;
          const w = want.data[i]!;
          // Equal infinities and NaN against NaN agree; NaN against a number is the worst case.
          let d = g === w ? 0 : Math.abs(g - w);
          if (Number.isNaN(d)) d = Number.isNaN(g) && Number.isNaN(w) ? 0 : Infinity;
          if (d > max) {
            max = d;
            at = i;
          }
        }
        result.outputs.push({ dataSet: ds.name, name: o0.name, maxDiff: max, at });
        worst = Math.max(worst, max);
      }
    }
    result.maxDiff = worst;
    result.passed = result.outputs.every((o) => o.maxDiff <= atol);
  } catch (e) {
    if (!isEdgeRnnError(e)) throw e;
    result.error = { code: e.code, message: e.message };
  }
  return result;
}
