/**
 * What PyTorch users export next (test/fixtures/pytorch-export, made by its generate.py):
 * pack_padded_sequence, forward(x, h0), bias=False, nn.RNN(nonlinearity='relu'), logits /
 * log_softmax / softmax heads, a mask input, (x - mean) / std in the graph, external data.
 * Compiled models are compared with onnxruntime-node on the convert path (float, and int8 where
 * the integer kernels apply) for every batch element; refused ones must say why and what to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { convertCommand } from '../../src/cli/commands/convert.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../src/model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { modelOutputSize } from '../../src/model/spec.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { FLOAT_ATOL, INT8_ATOL } from '../../src/onnx/tolerance.js';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { Rng } from '../../src/util/rng.js';
import { REPO, diffRecorder, fixtureRegenerationTest, maxAbsDiff, ort, ortSession, ortTensor, expectBatchAgrees } from './helpers.js';
import { runCaptured } from '../helpers/cli.js';
import { caughtEdgeRnnError } from '../helpers/errors.js';

const DIR = path.join(REPO, 'test/fixtures/pytorch-export');

interface FixtureInfo {
  name: string;
  inputs: { name: string; shape: number[]; dtype: string; dynamic: boolean }[];
  note: string;
  refused?: string;
}
const manifest = JSON.parse(fs.readFileSync(path.join(DIR, 'fixtures.json'), 'utf8')) as { torch: string; fixtures: FixtureInfo[] };
const accepted = manifest.fixtures.filter((f) => f.refused === undefined);
const bytesOf = (name: string) => new Uint8Array(fs.readFileSync(path.join(DIR, `${name}.onnx`)));

/** max |edgernn - onnxruntime-node| per fixture and path, printed at the end (docs/onnx.md). */
const record = diffRecorder();

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

describe('PyTorch exports: what users hit next', () => {
  it('fixtures.json lists every model, and the generator is kept', () => {
    const files = fs.readdirSync(DIR).filter((n) => n.endsWith('.onnx'));
    expect(files.sort()).toEqual(manifest.fixtures.map((f) => `${f.name}.onnx`).sort());
    expect(fs.existsSync(path.join(DIR, 'generate.py'))).toBe(true);
  });

  fixtureRegenerationTest(DIR, manifest.torch, 'export-pattern fixtures');

  it('convert path: spec -> .ern -> session equals onnxruntime-node for every batch element (float; int8 within INT8_ATOL where the integer kernels apply)', async () => {
    const rng = new Rng(7);
    for (const f of accepted) {
      const bytes = bytesOf(f.name);
      const spec = onnxToSpec(importOnnx(bytes, { source: f.name }), { name: f.name });
      const last = (spec.extra!.onnx as { step: string }).step === 'last';
      // The traced batch (2): pack_padded_sequence's baked zero state runs in onnxruntime with that batch only.
      const [B, T, I] = f.inputs[0]!.shape as [number, number, number];
      const x = rng.float32(B * T * I, -2, 2);
      const feeds: Record<string, ort.Tensor> = { X: ortTensor(x, [B, T, I]) };
      for (const inp of f.inputs.slice(1)) {
        const n = inp.shape.reduce((a, b) => a * b, 1);
        // lengths: full; h0: zeros (what convert starts from).
        feeds[inp.name] = inp.dtype === 'int64' ? new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(T)), inp.shape) : ortTensor(new Float32Array(n), inp.shape);
      }
      const want = (await (await ortSession(bytes)).run(feeds)).Y!.data as Float32Array;
      const O = modelOutputSize(spec);
      const seqs = Array.from({ length: B }, (_, b) => x.slice(b * T * I, (b + 1) * T * I));
      const int8 = spec.layers.every((l) => !('activations' in l) || l.activations.every((a) => a.name === 'Sigmoid' || a.name === 'Tanh'));
      const q = quantizeModel(spec, calibrateAbsMax(spec, seqs));
      // nn.RNN(nonlinearity='relu'): float only, refused by the integer kernels with a typed error.
      if (!int8) {
        const e = caughtEdgeRnnError(() => encodeModel(q));
        expect([e.code, e.message], f.name).toEqual(['UNSUPPORTED_MODEL', expect.stringMatching(/integer kernels implement ONNX's defaults/)]);
      }
      for (const [what, m, backend, atol] of [
        ['convert float', spec, 'float', FLOAT_ATOL],
        ...(int8 ? [['convert int8', q, 'simd', INT8_ATOL] as const] : []),
      ] as const) {
        const model = await rt.load(encodeModel(m), { backend, source: f.name });
        expectBatchAgrees(model, seqs, want, { name: f.name, what, T, O, last, atol, record });
        model.dispose();
      }
    }
    expect(accepted.map((f) => f.name)).toContain('packed_sorted_dynamic');
  });

  it('pack_padded_sequence(enforce_sorted=True): the zero initial state baked for the traced batch is the zero state, with a note', () => {
    // Was SHAPE_MISMATCH "initial_h has shape [1, 2, 4], expected [1, 1, 4]".
    for (const name of ['packed_sorted_dynamic', 'packed_sorted_lengths_dynamic']) {
      const imp = importOnnx(bytesOf(name), { source: name });
      expect(imp.notes.join('\n'), name).toMatch(/initial_h is a zero state for a batch of 2 .*pack_padded_sequence.*starting from zeros/);
      expect(onnxToSpec(imp).layers.map((l) => l.kind)).toEqual(['gru', 'dense']);
    }
    expect(importOnnx(bytesOf('packed_sorted_lengths_dynamic')).notes.join('\n')).toMatch(/sequence_lens comes from unbound input 'L'; assuming full-length sequences/);
  });

  it('pack_padded_sequence(enforce_sorted=False) of a batch of 1 with lengths from x.shape compiles (TopK, ScatterElements fold); other batches are refused naming the packing and the export-time fix', () => {
    expect(onnxToSpec(importOnnx(bytesOf('packed_unsorted_batch1_dynamic'))).layers.map((l) => l.kind)).toEqual(['gru', 'dense']);
    for (const name of ['packed_unsorted_lengths_dynamic', 'packed_unsorted_fixed']) {
      const e = caughtEdgeRnnError(() => importOnnx(bytesOf(name), { source: name }));
      expect(e.code, name).toBe('ONNX_UNSUPPORTED');
      // Was only "operator TopK is not supported" and "operator ScatterElements is not supported".
      expect(e.message, name).toMatch(/\nThe graph sorts the batch for torch\.nn\.utils\.rnn\.pack_padded_sequence\(\.\.\., enforce_sorted=False\): .*export without packing.*enforce_sorted=True/);
    }
  });

  it('forward(x, h0): the note says convert starts from zeros and how to give another initial state', () => {
    const imp = importOnnx(bytesOf('gru_h0_input'));
    expect(imp.notes.join('\n')).toMatch(/initial_h comes from unbound input 'h0'; using zeros.*exportState\/importState.*bind 'h0'/s);
    // bind: the layer starts from the given state.
    const h0 = Float32Array.from({ length: 4 }, (_, i) => 0.5 - i * 0.25);
    const spec = onnxToSpec(importOnnx(bytesOf('gru_h0_input'), { bind: { h0: { dims: [1, 1, 4], data: h0 } } }));
    expect(spec.layers[0]!.kind).toBe('gru');
    expect(Array.from((spec.layers[0] as { float: { initialH: Float32Array } }).float.initialH)).toEqual(Array.from(h0));
  });

  it('a second input (a mask) is refused naming it; a model saved with external data is refused naming the tensor and what to do', () => {
    const mask = caughtEdgeRnnError(() => importOnnx(bytesOf('gru_mask_input'), { source: 'mask' }));
    expect(mask.code).toBe('ONNX_UNSUPPORTED');
    expect(mask.message).toMatch(/graph input 'M' has no value: edgernn models take one input, the sequence 'X'/);
    const ext = caughtEdgeRnnError(() => importOnnx(bytesOf('norm_external'), { source: 'norm_external.onnx' }));
    expect(ext.code).toBe('ONNX_UNSUPPORTED');
    expect(ext.message).toMatch(/tensor 'mean' keeps its data in an external file; save the model with all tensors inside/);
  });

  it('an opset 7/8 export (ConstantFill for the zero initial state) is refused saying to export with opset 9 or later', () => {
    // Was "operator ConstantFill is not supported".
    const e = caughtEdgeRnnError(() => importOnnx(bytesOf('lstm_opset8'), { source: 'lstm_opset8' }));
    expect(e.code).toBe('ONNX_UNSUPPORTED');
    expect((e.details.nodes as { opType: string; reason: string }[]).map((n) => [n.opType, n.reason])).toEqual([
      ['ConstantFill', expect.stringMatching(/operator ConstantFill is not supported: an experimental operator.*torch\.onnx\.export writes it for a zero initial state at opset_version 7 and 8.*onnxruntime cannot load it either.*export with opset_version=9 or later/)],
    ]);
  });

  it('edgernn convert of a refused model with a second input does not promise that `edgernn run` runs it as is', async () => {
    // `edgernn run` feeds the sequence only: it failed with UNSUPPORTED_MODEL on the input 'M'.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-pt-export-'));
    try {
      for (const [name, inputs] of [['gru_mask_input', "input 'M'"], ['packed_unsorted_lengths_dynamic', "input 'L'"]] as const) {
        const r = await runCaptured(['convert', path.join(DIR, `${name}.onnx`), '-o', 'x.ern', '--float'], [convertCommand], tmp);
        expect(r.code, name).toBe(1);
        expect(r.err, name).not.toMatch(/runs it as is/);
        expect(r.err, name).toContain(`\`edgernn run\` feeds the sequence input only, so it cannot run this model as is (${inputs}): export the model without it`);
      }
      // One input: the pointer stays.
      const r = await runCaptured(['convert', path.join(DIR, 'packed_unsorted_fixed.onnx'), '-o', 'x.ern', '--float'], [convertCommand], tmp);
      expect(r.err).toMatch(/`edgernn run .*packed_unsorted_fixed\.onnx --input FILE` runs it as is/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('(x - mean) / std before the GRU folds into its input weights, with and without constant folding', () => {
    for (const name of ['gru_normalized', 'gru_normalized_no_folding']) expect(onnxToSpec(importOnnx(bytesOf(name))).layers.map((l) => l.kind), name).toEqual(['gru', 'dense']);
  });
});
