/**
 * PyTorch-exported models (test/fixtures/pytorch, made by generate.py with the outputs PyTorch
 * computed): the node-test runner on every backend, and the convert path (ONNX -> ModelSpec ->
 * .ern -> runtime session) against PyTorch's numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/errors.js';
import { encodeModel } from '../../src/model/codec.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { runNodeTest } from '../../src/onnx/conformance.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { decodeTensorProto } from '../../src/onnx/proto.js';
import { FLOAT_ATOL, INT8_ATOL } from '../../src/onnx/tolerance.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { readNodeTestDir as readNodeTest } from '../../src/onnx/node-test-files.js';
import { FIXTURES_PYTORCH, fixtureRegenerationTest, maxAbsDiff } from './helpers.js';

interface FixtureInfo {
  name: string;
  input: number[];
  output: number[];
  note: string;
}
const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES_PYTORCH, 'fixtures.json'), 'utf8')) as { torch: string; fixtures: FixtureInfo[] };
const names = manifest.fixtures.map((f) => f.name);

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

describe('PyTorch fixtures', () => {
  it('fixtures.json lists every fixture folder, and the generator is kept', () => {
    const dirs = fs.readdirSync(FIXTURES_PYTORCH).filter((n) => fs.existsSync(path.join(FIXTURES_PYTORCH, n, 'model.onnx')));
    expect(dirs.sort()).toEqual([...names].sort());
    expect(fs.existsSync(path.join(FIXTURES_PYTORCH, 'generate.py'))).toBe(true);
    expect(names.length).toBeGreaterThanOrEqual(8);
  });

  // The generator is reproducible: rerun it into a temporary folder and compare bytes.
  fixtureRegenerationTest(FIXTURES_PYTORCH, manifest.torch, 'fixtures');

  it('match PyTorch on the float reference (atol 1e-5)', async () => {
    for (const n of names) {
      const r = await runNodeTest(readNodeTest(path.join(FIXTURES_PYTORCH, n)), { backend: 'reference' });
      expect(r.error, `${n}: ${r.error?.message}`).toBeUndefined();
      expect(r.passed, `${n}: ${r.maxDiff}`).toBe(true);
    }
  });

  it('match PyTorch on simd and scalar within the int8 tolerance (default activations)', async () => {
    for (const backend of ['simd', 'scalar'] as const) {
      for (const n of names) {
        const r = await runNodeTest(readNodeTest(path.join(FIXTURES_PYTORCH, n)), { backend, runtime: rt });
        if (n === 'rnn_relu_two_layers') {
          // The integer kernels implement ONNX's default activations only; the error says so.
          expect(r.error?.code).toBe('UNSUPPORTED_MODEL');
          expect(r.error?.message).toMatch(/Relu/);
          continue;
        }
        expect(r.error, `${backend} ${n}: ${r.error?.message}`).toBeUndefined();
        expect(r.maxDiff, `${backend} ${n}`).toBeLessThanOrEqual(INT8_ATOL);
      }
    }
  });

  it('convert path: ONNX -> spec -> .ern -> session reproduces PyTorch (first batch element)', async () => {
    for (const f of manifest.fixtures) {
      const dir = path.join(FIXTURES_PYTORCH, f.name);
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx')));
      const x = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, 'test_data_set_0/input_0.pb'))));
      const y = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(dir, 'test_data_set_0/output_0.pb'))));
      const imp = importOnnx(bytes, { source: f.name });
      if (f.name === 'gru_bidirectional_h_n_cat') {
        // Final states of both directions are no one step's output: not a streaming model.
        let err: unknown;
        try {
          onnxToSpec(imp);
        } catch (e) {
          err = e;
        }
        expect(isEdgeRnnError(err, 'ONNX_UNSUPPORTED')).toBe(true);
        expect((err as Error).message).toMatch(/final state of a bidirectional layer/);
        continue;
      }
      const spec = onnxToSpec(imp, { name: f.name });
      const step = (spec.extra!.onnx as { step: string }).step;
      const model = await rt.load(encodeModel(spec), { backend: 'float', source: f.name });
      // First batch element's frames in the import's layout.
      const layout = imp.input.layout;
      const [T, B, I] = layout === 'BTF' ? [x.dims[1]!, x.dims[0]!, x.dims[2]!] : [x.dims[0]!, x.dims[1]!, x.dims[2]!];
      const frames = new Float32Array(T * I);
      for (let t = 0; t < T; t++) for (let k = 0; k < I; k++) frames[t * I + k] = x.data[(layout === 'BTF' ? t : t * B) * I + k]!;
      const out = model.session().run(frames);
      const O = modelOutputSize(spec);
      let got: Float32Array;
      let want: Float64Array;
      if (step === 'last') {
        got = out.subarray((T - 1) * O);
        want = y.data.subarray(0, O); // [batch][O], first element
      } else {
        got = out;
        // [T][B][O] (seq-first) or [B][T][O] (batch-first): gather batch element 0.
        want = new Float64Array(T * O);
        const bf = y.dims[0] === B && y.dims[1] === T && layout === 'BTF';
        for (let t = 0; t < T; t++) for (let o = 0; o < O; o++) want[t * O + o] = y.data[(bf ? t : t * B) * O + o]!;
      }
      expect(maxAbsDiff(got, want).max, `${f.name} (${f.note})`).toBeLessThanOrEqual(FLOAT_ATOL);
      model.dispose();
    }
  });
});
