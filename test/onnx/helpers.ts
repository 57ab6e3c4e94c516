/**
 * Shared helpers of the ONNX suites: random specs, onnxruntime-node as the oracle, and
 * comparisons that report where the worst difference is.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { afterAll, expect, it } from 'vitest';
import {
  ACTIVATION_NAMES,
  defaultActivations,
  type Activation,
  type ActivationName,
  type Direction,
  type Layer,
  type ModelSpec,
  type RecurrentKind,
  type RecurrentLayer,
} from '../../src/model/spec.js';
import { GATES } from '../../src/model/spec.js';
import { Rng } from '../../src/util/rng.js';
import type { NodeTestCase } from '../../src/onnx/conformance.js';
import { decodeTensorProto } from '../../src/onnx/proto.js';
import {
  ONNX_DTYPES,
  encodeModelProto,
  encodeTensorProto,
  tensor,
  valueInfo,
  type AttributeProto,
  type DimProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../src/onnx/proto.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_ONNX_NODE = path.resolve(REPO, '../shared/conformance/onnx-node');
export const FIXTURES_ONNX_NODE = path.join(REPO, 'test/fixtures/onnx-node');
export const FIXTURES_PYTORCH = path.join(REPO, 'test/fixtures/pytorch');

/** onnxruntime-node, CPU, one thread, warnings off: the oracle. */
export async function ortSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { logSeverityLevel: 3, intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
}

export function ortTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export { ort };

/** max |a - b| and where. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

export interface RandomSpecOptions {
  /** Restrict to the integer kernels' feature set (default activations, |clip| <= 8). */
  intCompatible?: boolean;
  /** Only forward layers (streamable). */
  forwardOnly?: boolean;
  maxLayers?: number;
}

const SAFE_ACTIVATIONS: readonly ActivationName[] = ACTIVATION_NAMES;

function randomActivation(rng: Rng, name: ActivationName): Activation {
  const a: Activation = { name };
  // alpha/beta in ranges that keep states bounded.
  if (name === 'Affine') return { name, alpha: rng.uniform(0.3, 0.9), beta: rng.uniform(-0.2, 0.2) };
  if (name === 'LeakyRelu') return { name, alpha: rng.uniform(0.01, 0.3) };
  if (name === 'ThresholdedRelu') return { name, alpha: rng.uniform(0.05, 0.5) };
  if (name === 'ScaledTanh') return { name, alpha: rng.uniform(0.5, 1.2), beta: rng.uniform(0.5, 1.5) };
  if (name === 'HardSigmoid') return { name, alpha: rng.uniform(0.1, 0.4), beta: rng.uniform(0.3, 0.7) };
  if (name === 'Elu') return { name, alpha: rng.uniform(0.5, 1.5) };
  return a;
}

/** A random recurrent layer with float weights in [-s, s]. */
export function randomRecurrent(rng: Rng, kind: RecurrentKind, inputSize: number, hiddenSize: number, direction: Direction, opts: RandomSpecOptions = {}): RecurrentLayer {
  const D = direction === 'bidirectional' ? 2 : 1;
  const G = GATES[kind];
  const s = 1 / Math.sqrt(hiddenSize);
  let activations = defaultActivations(kind, D);
  if (!opts.intCompatible && rng.next() < 0.3) {
    activations = activations.map(() => randomActivation(rng, rng.pick(SAFE_ACTIVATIONS)));
  }
  const layer: RecurrentLayer = {
    kind,
    inputSize,
    hiddenSize,
    direction,
    activations,
    float: { W: rng.float32(D * G * hiddenSize * inputSize, -s, s), R: rng.float32(D * G * hiddenSize * hiddenSize, -s, s) },
  };
  if (rng.next() < 0.8) layer.float!.B = rng.float32(D * 2 * G * hiddenSize, -s, s);
  if (rng.next() < 0.25) layer.clip = opts.intCompatible ? rng.uniform(0.5, 4) : rng.uniform(0.3, 3);
  if (kind === 'gru') layer.linearBeforeReset = rng.next() < 0.5;
  if (kind === 'lstm') {
    if (rng.next() < 0.3) layer.inputForget = true;
    if (rng.next() < 0.4) layer.float!.P = rng.float32(D * 3 * hiddenSize, -0.5, 0.5);
    if (rng.next() < 0.3) layer.float!.initialC = rng.float32(D * hiddenSize, -0.5, 0.5);
  }
  if (rng.next() < 0.3) layer.float!.initialH = rng.float32(D * hiddenSize, -0.5, 0.5);
  return layer;
}

/** A random model: 1-3 recurrent layers, optional dense head, optional softmax. */
export function randomSpec(seed: number, opts: RandomSpecOptions = {}): ModelSpec {
  const rng = new Rng(seed);
  const I = rng.int(1, 6);
  const layers: Layer[] = [];
  let width = I;
  const n = rng.int(1, opts.maxLayers ?? 2);
  for (let i = 0; i < n; i++) {
    const kind = rng.pick(['gru', 'lstm', 'rnn'] as const);
    const direction: Direction = opts.forwardOnly ? 'forward' : rng.pick(['forward', 'forward', 'reverse', 'bidirectional'] as const);
    const H = rng.int(1, 9);
    const l = randomRecurrent(rng, kind, width, H, direction, opts);
    layers.push(l);
    width = H * (direction === 'bidirectional' ? 2 : 1);
  }
  if (rng.next() < 0.6) {
    const O = rng.int(1, 5);
    const activation = rng.pick(['none', 'relu', 'sigmoid', 'tanh'] as const);
    layers.push({ kind: 'dense', inputSize: width, outputSize: O, activation, float: { W: rng.float32(O * width, -0.8, 0.8), B: rng.float32(O, -0.3, 0.3) } });
    width = O;
    if (rng.next() < 0.4) layers.push({ kind: rng.pick(['softmax', 'logSoftmax'] as const), size: O });
  }
  return {
    name: `random-${seed}`,
    version: '1.0.0',
    task: 'custom',
    labels: [],
    input: { size: I, frontend: { kind: 'none' } },
    precision: 'float32',
    layers,
    training: {},
  };
}

export function readDirIfExists(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** A small graph builder for hand-written test models. */
export class TestGraph {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private n = 0;

  node(opType: string, input: string[], output: string[], attribute: AttributeProto[] = [], domain = ''): this {
    this.nodes.push({ name: `${opType}_${this.n++}`, opType, domain, input, output, attribute });
    return this;
  }

  init(name: string, dims: number[], data: ArrayLike<number>, dataType = 1): string {
    this.inits.push(tensor(name, dataType, dims, data));
    return name;
  }

  ints(name: string, values: number[]): string {
    return this.init(name, [values.length], values, ONNX_DTYPES.INT64);
  }

  input(name: string, shape: DimProto[], elemType = 1): this {
    this.inputs.push(valueInfo(name, elemType, shape));
    return this;
  }

  output(name: string, shape: DimProto[] | null = null): this {
    this.outputs.push(valueInfo(name, 1, shape));
    return this;
  }

  model(opset: number, irVersion = 8): ModelProto {
    return {
      irVersion,
      producerName: 'edgernn-test',
      producerVersion: '',
      domain: '',
      modelVersion: 0,
      docString: '',
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: 'test', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs, valueInfo: [], sparseInitializerCount: 0 },
      metadataProps: [],
      functionCount: 0,
    };
  }

  bytes(opset: number): Uint8Array {
    return encodeModelProto(this.model(opset));
  }
}

/** Expected outputs from onnxruntime-node as a one-data-set node test (float32 X only). */
export async function oracleNodeTest(name: string, model: Uint8Array, x: Float32Array, xDims: number[]): Promise<NodeTestCase> {
  const s = await ortSession(model);
  const r = await s.run({ [s.inputNames[0]!]: ortTensor(x, xDims) });
  const outputs = s.outputNames.map((n) => encodeTensorProto(tensor(n, 1, r[n]!.dims as number[], r[n]!.data as Float32Array)));
  return { name, model, dataSets: [{ name: 'test_data_set_0', inputs: [encodeTensorProto(tensor(s.inputNames[0]!, 1, xDims, x))], outputs }] };
}

/**
 * Registers the test that a fixture folder's generate.py (run by Debian's python3 with torch and
 * onnx) reproduces the committed files: byte for byte, except the outputs PyTorch computed, whose
 * last bits follow the BLAS behind the system's libblas.so.3 (reference BLAS or OpenBLAS), so
 * within 1e-6. Skipped, saying why, without that python or with another torch version.
 */
export function fixtureRegenerationTest(dir: string, fixturesTorch: string, what: string): void {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, onnx; print(torch.__version__)'], { encoding: 'utf8' });
  const torchVersion = probe.status === 0 ? probe.stdout.trim() : null;
  const why = torchVersion === null ? 'Debian python3 with torch and onnx is not installed' : torchVersion !== fixturesTorch ? `torch ${torchVersion} differs from the fixtures' ${fixturesTorch}` : '';
  if (why) console.log(`skipping the ${what} regeneration check: ${why}`);
  it.skipIf(why !== '')(`generate.py reproduces the committed ${what}`, () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-pt-'));
    try {
      const r = spawnSync('/usr/bin/python3', [path.join(dir, 'generate.py'), out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const files = (d: string): string[] => fs.readdirSync(d, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(d, f)).isFile()).sort();
      expect(files(out)).toEqual(files(dir).filter((f) => f !== 'generate.py' && f !== 'README.md'));
      for (const f of files(out)) {
        const got = fs.readFileSync(path.join(out, f));
        const want = fs.readFileSync(path.join(dir, f));
        if (/output_\d+\.pb$/.test(f)) {
          const g = decodeTensorProto(got, f);
          const w = decodeTensorProto(want, f);
          expect(g.dims, f).toEqual(w.dims);
          expect(maxAbsDiff(g.data, w.data).max, f).toBeLessThan(1e-6);
        } else expect(got.equals(want), f).toBe(true);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
}

/** A TensorProto file (.pb) of a fixture folder. */
export function readTensorFile(dir: string, file: string) {
  return decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, file))), file);
}

/**
 * Records max |edgernn - onnxruntime-node| per fixture and path, and prints the table after the
 * file's tests (docs/onnx.md quotes it). Call at the top level of a test file.
 */
export function diffRecorder(): (name: string, what: string, d: number) => void {
  const measured: Record<string, Record<string, number>> = {};
  afterAll(() => {
    const rows = Object.entries(measured).map(([n, m]) => `${n}: ${Object.entries(m).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
    if (rows.length) console.log(`max |edgernn - onnxruntime-node|:\n  ${rows.join('\n  ')}`);
  });
  return (name, what, d) => {
    (measured[name] ??= {})[what] = Math.max(measured[name]?.[what] ?? 0, d);
  };
}

/** A fixture folder lists in fixtures.json exactly what it holds: accepted models in `<name>/model.onnx`, refused ones in `refused/<name>.onnx`, and keeps its generator. */
export function expectFixturesListed(dir: string, accepted: readonly { name: string }[], refused: readonly { name: string }[]): void {
  const dirs = fs.readdirSync(dir).filter((n) => fs.existsSync(path.join(dir, n, 'model.onnx')));
  expect(dirs.sort()).toEqual(accepted.map((f) => f.name).sort());
  const files = fs.readdirSync(path.join(dir, 'refused')).filter((n) => n.endsWith('.onnx'));
  expect(files.sort()).toEqual(refused.map((f) => `${f.name}.onnx`).sort());
  expect(fs.existsSync(path.join(dir, 'generate.py'))).toBe(true);
}

/**
 * Each sequence of a batch through a converted model: its outputs (every step, or the last one
 * when `last`) within `atol` of onnxruntime-node's `want` for that batch element, recorded.
 */
export function expectBatchAgrees(model: { session(): { run(frames: Float32Array): Float32Array } }, seqs: readonly Float32Array[], want: Float32Array, o: { name: string; what: string; T: number; O: number; last: boolean; atol: number; record: (name: string, what: string, d: number) => void }): void {
  const { T, O, last } = o;
  seqs.forEach((frames, b) => {
    const y = model.session().run(frames);
    const got = last ? y.slice((T - 1) * O) : y;
    const ref = last ? want.subarray(b * O, (b + 1) * O) : want.subarray(b * T * O, (b + 1) * T * O);
    const d = maxAbsDiff(got, ref).max;
    expect(d, `${o.what} ${o.name} batch ${b}`).toBeLessThanOrEqual(o.atol);
    o.record(o.name, o.what, d);
  });
}
