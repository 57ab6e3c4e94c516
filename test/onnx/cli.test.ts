/**
 * The ONNX commands through the CLI framework: convert, export, conformance (exit codes,
 * output lines, JSON), with onnxruntime-node checking what export writes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { conformanceCommand } from '../../src/cli/commands/conformance.js';
import { convertCommand } from '../../src/cli/commands/convert.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import { writeNpy } from '../../src/io/npy.js';
import { decodeModel, encodeModel } from '../../src/model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../src/model/quantize.js';
import { modelOutputSize, type ModelSpec, type RecurrentLayer } from '../../src/model/spec.js';
import { onnxInitialState } from '../../src/onnx/export.js';
import { decodeTensorProto, encodeTensorProto } from '../../src/onnx/proto.js';
import { INT8_KERNEL_ATOL } from '../../src/onnx/tolerance.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { Rng } from '../../src/util/rng.js';
import { FIXTURES_ONNX_NODE, FIXTURES_PYTORCH, REPO, TestGraph, maxAbsDiff, ortSession, ortTensor, randomRecurrent, randomSpec } from './helpers.js';
import { runCaptured } from '../helpers/cli.js';

const commands = [convertCommand, exportCommand, conformanceCommand];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-onnx-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(...argv: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(argv, commands, tmp);
}

describe('edgernn conformance', () => {
  it('runs the official tests: a line per test, "12 passed, 0 failed", exit 0', async () => {
    const r = await cli('conformance', FIXTURES_ONNX_NODE);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(13);
    expect(lines.slice(0, 12).every((l) => l.startsWith('PASS  test_'))).toBe(true);
    expect(lines[12]).toBe('12 passed, 0 failed');
  });

  it('--json and --backend scalar', async () => {
    const r = await cli('conformance', FIXTURES_PYTORCH, '--backend', 'scalar', '--json');
    const j = JSON.parse(r.out) as { backend: string; passed: number; failed: number; tests: { path: string; passed: boolean; error?: { code: string } }[] };
    expect(j.backend).toBe('scalar');
    expect(j.passed + j.failed).toBe(j.tests.length);
    // The relu RNN needs float kernels: one failure, so exit 1.
    expect(j.tests.filter((t) => !t.passed).map((t) => t.path)).toEqual(['rnn_relu_two_layers']);
    expect(r.code).toBe(1);
  });

  it('--backend ort-web runs the models on onnxruntime-web itself (it rejects layout 1)', async () => {
    const r = await cli('conformance', FIXTURES_ONNX_NODE, '--backend', 'ort-web');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/9 passed, 3 failed/);
    for (const t of ['gru', 'lstm', 'simple_rnn']) expect(r.out).toMatch(new RegExp(`FAIL  test_${t}_batchwise .*layout == 1\\) are not supported`));
  });

  it('a wrong expected output fails with exit 1 and names where', async () => {
    const dir = path.join(tmp, 'bad', 'test_gru_defaults');
    fs.cpSync(path.join(FIXTURES_ONNX_NODE, 'test_gru_defaults'), dir, { recursive: true });
    const p = path.join(dir, 'test_data_set_0', 'output_0.pb');
    const t = decodeTensorProto(new Uint8Array(fs.readFileSync(p)));
    t.data[4] = t.data[4]! + 0.5;
    fs.writeFileSync(p, encodeTensorProto(t));
    const r = await cli('conformance', path.join(tmp, 'bad'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}test_gru_defaults .*test_data_set_0\/Y_h at 4/);
    expect(r.out).toMatch(/0 passed, 1 failed/);
  });

  it('a data set without output_K.pb files, or a test without data sets, fails (it passed with nothing compared) on every backend', async () => {
    const dir = path.join(tmp, 'no-outputs', 'test_gru_defaults');
    fs.cpSync(path.join(FIXTURES_ONNX_NODE, 'test_gru_defaults'), dir, { recursive: true });
    for (const f of fs.readdirSync(path.join(dir, 'test_data_set_0'))) if (f.startsWith('output_')) fs.rmSync(path.join(dir, 'test_data_set_0', f));
    for (const backend of ['reference', 'ort-web']) {
      const r = await cli('conformance', path.join(tmp, 'no-outputs'), '--backend', backend);
      expect(r.code, backend).toBe(1);
      expect(r.out, backend).toMatch(/FAIL {2}test_gru_defaults {2}\[ONNX_INVALID\] test_gru_defaults\/test_data_set_0: no output_K\.pb files/);
      expect(r.out, backend).toMatch(/0 passed, 1 failed/);
    }
    fs.rmSync(path.join(dir, 'test_data_set_0'), { recursive: true });
    for (const backend of ['reference', 'ort-web']) {
      const r = await cli('conformance', path.join(tmp, 'no-outputs'), '--backend', backend);
      expect(r.code, backend).toBe(1);
      expect(r.out, backend).toMatch(/\[ONNX_INVALID\] test_gru_defaults: no test_data_set_\* folders/);
    }
  });

  it('an output_K.pb or input_K.pb without a matching graph output/input fails that test on every backend (ort-web crashed the command)', async () => {
    const root = path.join(tmp, 'extra-files');
    const dir = path.join(root, 'test_gru_defaults');
    fs.cpSync(path.join(FIXTURES_ONNX_NODE, 'test_gru_defaults'), dir, { recursive: true });
    const ds = path.join(dir, 'test_data_set_0');
    const y = decodeTensorProto(fs.readFileSync(path.join(ds, 'output_0.pb')));
    fs.writeFileSync(path.join(ds, 'output_1.pb'), encodeTensorProto({ ...y, name: 'bogus' }));
    for (const backend of ['reference', 'ort-web']) {
      const r = await cli('conformance', root, '--backend', backend);
      expect(r.err, backend).not.toMatch(/unexpected error/);
      expect(r.code, backend).toBe(1);
      expect(r.out, backend).toMatch(/FAIL {2}test_gru_defaults {2}\[ONNX_INVALID\] test_gru_defaults\/test_data_set_0: output_1\.pb has no matching graph output/);
    }
    fs.rmSync(path.join(ds, 'output_1.pb'));
    const x = decodeTensorProto(fs.readFileSync(path.join(ds, 'input_0.pb')));
    fs.writeFileSync(path.join(ds, 'input_3.pb'), encodeTensorProto({ ...x, name: '' }));
    const r = await cli('conformance', root, '--backend', 'ort-web');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\[ONNX_INVALID\] test_gru_defaults\/test_data_set_0: input_3\.pb has no matching graph input \(the graph has 3\)/);
  });

  it('usage and input errors', async () => {
    expect((await cli('conformance')).code).toBe(2);
    expect((await cli('conformance', FIXTURES_ONNX_NODE, '--backend', 'gpu')).code).toBe(2);
    const none = await cli('conformance', path.join(tmp, 'nope'));
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/BAD_INPUT_FILE.*not a directory/);
    fs.mkdirSync(path.join(tmp, 'empty'));
    expect((await cli('conformance', path.join(tmp, 'empty'))).err).toMatch(/no test folders/);
  });
});

describe('edgernn convert', () => {
  const onnxPath = path.join(FIXTURES_PYTORCH, 'lstm_h_n_head_softmax', 'model.onnx');

  it('--float writes a .ern that reproduces PyTorch', async () => {
    const r = await cli('convert', onnxPath, '-o', 'f.ern', '--float');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/float32/);
    const rt = await createRuntime();
    const m = await rt.load(new Uint8Array(fs.readFileSync(path.join(tmp, 'f.ern'))));
    const x = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(FIXTURES_PYTORCH, 'lstm_h_n_head_softmax/test_data_set_0/input_0.pb'))));
    const y = decodeTensorProto(new Uint8Array(fs.readFileSync(path.join(FIXTURES_PYTORCH, 'lstm_h_n_head_softmax/test_data_set_0/output_0.pb'))));
    const out = m.session().run(Float32Array.from(x.data));
    expect(maxAbsDiff(out.subarray(out.length - 3), y.data).max).toBeLessThanOrEqual(1e-5);
  });

  it('int8 with .npy calibration reports the per-output error; JSONL works too; --per-channel is the default', async () => {
    const rng = new Rng(8);
    fs.writeFileSync(path.join(tmp, 'calib.npy'), writeNpy(rng.float32(3 * 12 * 4, -2, 2), [3, 12, 4]));
    const r = await cli('convert', onnxPath, '-o', 'q.ern', '--calib', 'calib.npy', '--per-channel');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/int8 vs float on calib\.npy \(3 sequences, 36 steps\)/);
    const rows = r.out.split('\n').filter((l) => /^\s{4}\d+\s+\d\.\d+e[-+]\d+\s+\d\.\d+e[-+]\d+/.test(l));
    expect(rows).toHaveLength(3);
    expect(r.out).toMatch(/--per-channel: weights are always quantized per output row/);
    const { spec } = decodeModel(new Uint8Array(fs.readFileSync(path.join(tmp, 'q.ern'))));
    expect(spec.precision).toBe('int8');

    const lines = Array.from({ length: 4 }, () => JSON.stringify(Array.from({ length: 9 }, () => Array.from(rng.float32(4, -2, 2)))));
    fs.writeFileSync(path.join(tmp, 'calib.jsonl'), `${lines.join('\n')}\n`);
    const j = await cli('convert', onnxPath, '-o', 'q2.ern', '--calib', 'calib.jsonl', '--json');
    expect(j.code, j.err).toBe(0);
    const res = JSON.parse(j.out) as { precision: string; calibration: { sequences: number }; error: { maxAbs: number; floatAbsMax: number }[] };
    expect(res.precision).toBe('int8');
    expect(res.calibration.sequences).toBe(4);
    // Softmax outputs: int8 stays within a few hundredths of the float model.
    for (const e of res.error) expect(e.maxAbs).toBeLessThan(0.05);
  });

  it('calibration data that never moves an input feature gets a note: its int8 range becomes ±1 and larger inputs clip (the report showed only a tiny error)', async () => {
    const rng = new Rng(9);
    const x = rng.float32(2 * 10 * 4, -2, 2);
    for (let i = 0; i < x.length; i += 4) {
      x[i + 1] = 0;
      x[i + 3] = 0;
    }
    fs.writeFileSync(path.join(tmp, 'flat.npy'), writeNpy(x, [2, 10, 4]));
    const r = await cli('convert', onnxPath, '-o', 'flat.ern', '--calib', 'flat.npy', '--json');
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { notes: string[] }).notes).toContain('flat.npy: input features 1, 3 are 0 in every frame: their int8 range is taken as ±1, so inputs beyond it clip; calibrate with data that moves every feature');
    fs.writeFileSync(path.join(tmp, 'moving.npy'), writeNpy(rng.float32(2 * 10 * 4, -2, 2), [2, 10, 4]));
    const ok = await cli('convert', onnxPath, '-o', 'ok.ern', '--calib', 'moving.npy', '--json');
    expect(ok.code, ok.err).toBe(0);
    expect((JSON.parse(ok.out) as { notes: string[] }).notes.join('\n')).not.toMatch(/every frame/);
  });

  it('refuses without calibration (exit 2), bad calibration files and uncompilable graphs (exit 1)', async () => {
    const a = await cli('convert', onnxPath, '-o', 'x.ern');
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/needs calibration data: --calib FILE/);
    expect((await cli('convert', onnxPath, '-o', 'x.ern', '--float', '--calib', 'c.npy')).code).toBe(2);
    fs.writeFileSync(path.join(tmp, 'wrong.json'), JSON.stringify([[1, 2]]));
    const b = await cli('convert', onnxPath, '-o', 'x.ern', '--calib', 'wrong.json');
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/BAD_INPUT_FILE.*has 2 values, the model expects 4/);
    const g = new TestGraph().input('X', ['seq', 1, 2]);
    g.node('Erf', ['X'], ['Y']);
    fs.writeFileSync(path.join(tmp, 'erf.onnx'), g.output('Y').bytes(17));
    const c = await cli('convert', 'erf.onnx', '-o', 'x.ern', '--float');
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/ONNX_UNSUPPORTED.*cannot compile 1 of 1 nodes/s);
    expect(c.err).toMatch(/node 0 'Erf_0' \(Erf\)/);
    // Refusals after the import (here the backward direction's final state) name the file too.
    const bi = path.join(FIXTURES_PYTORCH, 'gru_bidirectional_h_n_cat', 'model.onnx');
    const e = await cli('convert', bi, '-o', 'x.ern', '--float');
    expect(e.code).toBe(1);
    expect(e.err).toContain(`[ONNX_UNSUPPORTED]: ${bi}: output 'Y' reads the final state of a bidirectional layer`);
    // The pointer named only the library class; a command-line user gets the command too.
    expect(c.err).toMatch(/\nFrom the command line: `edgernn run erf\.onnx --input FILE` runs it as is\.\n$/);
    fs.writeFileSync(path.join(tmp, 'junk.onnx'), Uint8Array.from([1, 2, 3, 4]));
    const d = await cli('convert', 'junk.onnx', '-o', 'x.ern', '--float');
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/ONNX_PARSE/);
    expect(fs.existsSync(path.join(tmp, 'x.ern'))).toBe(false);
  });

  it('the wrong direction is named: convert of an .ern (it was "malformed ONNX protobuf ... field number 0"), export of an .onnx', async () => {
    const har = path.join(REPO, 'models/har.ern');
    const a = await cli('convert', har, '-o', 'x.ern', '--float');
    expect(a.code).toBe(1);
    expect(a.err).toContain(`[ONNX_PARSE]: ${har}: not an ONNX model, it is an .ern model (edgernn's own format): it needs no conversion; \`edgernn run ${har} --input FILE\` runs it, \`edgernn export ${har} -o OUT.onnx\` writes ONNX`);
    const b = await cli('export', onnxPath, '-o', 'x.onnx');
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/\[ERN_BAD_MAGIC\]: .*model\.onnx: not an \.ern file: .*; it is an ONNX model already: `edgernn convert .*model\.onnx -o MODEL\.ern` compiles it to an \.ern/);
    expect(fs.existsSync(path.join(tmp, 'x.ern'))).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'x.onnx'))).toBe(false);
  });

  it('bad flag values are usage errors (exit 2): an unknown --output, an empty -o or --name', async () => {
    const a = await cli('convert', onnxPath, '-o', 'x.ern', '--float', '--output', 'logits');
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--output 'logits': .*has no such graph output \(outputs: 'Y'\)/);
    // An empty -o wrote into the working folder's name ("... is a folder, expected a file", exit 1).
    const b = await cli('convert', onnxPath, '-o', '', '--float');
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/-o needs a file name/);
    expect((await cli('convert', onnxPath, '-o', 'x.ern', '--float', '--name', '')).code).toBe(2);
    expect((await cli('export', path.join(REPO, 'models/har.ern'), '-o', '')).code).toBe(2);
    expect(fs.existsSync(path.join(tmp, 'x.ern'))).toBe(false);
  });
});

describe('edgernn export', () => {
  it('float and int8 .ern -> ONNX that onnxruntime-node runs with the same outputs', async () => {
    const rt = await createRuntime();
    for (const precision of ['float32', 'int8'] as const) {
      const f = randomSpec(555, { intCompatible: true, forwardOnly: true, maxLayers: 2 });
      const rng = new Rng(2);
      const spec = precision === 'float32' ? f : quantizeModel(f, calibrateAbsMax(f, [rng.float32(20 * f.input.size, -1.5, 1.5)]));
      fs.writeFileSync(path.join(tmp, `${precision}.ern`), encodeModel(spec));
      const r = await cli('export', `${precision}.ern`, '-o', `${precision}.onnx`);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/inputs {4}X \[seq, 1, \d+\], h0_0/);
      const s = await ortSession(new Uint8Array(fs.readFileSync(path.join(tmp, `${precision}.onnx`))));
      const T = 8;
      const x = rng.float32(T * spec.input.size, -1, 1);
      const feeds: Record<string, ReturnType<typeof ortTensor>> = { X: ortTensor(x, [T, 1, spec.input.size]) };
      for (const [k, v] of Object.entries(onnxInitialState(spec))) feeds[k] = ortTensor(v.data, v.dims);
      const y = (await s.run(feeds)).Y!.data as Float32Array;
      const m = await rt.load(encodeModel(spec));
      const want = m.session().run(x);
      expect(y.length).toBe(T * modelOutputSize(spec));
      expect(maxAbsDiff(y, want).max, precision).toBeLessThanOrEqual(precision === 'float32' ? 1e-5 : INT8_KERNEL_ATOL);
    }
    const j = await cli('export', 'float32.ern', '-o', 'n.onnx', '--no-state-inputs', '--json');
    expect((JSON.parse(j.out) as { inputs: { name: string }[] }).inputs.map((i) => i.name)).toEqual(['X']);
    // Dims are lists (they were strings, "[seq, 1, 3]"); int8 gives the ranges the kernels clamp to.
    const spec = randomSpec(555, { intCompatible: true, forwardOnly: true, maxLayers: 2 });
    const q = JSON.parse((await cli('export', 'int8.ern', '-o', 'q.onnx', '--json')).out) as { inputs: { name: string; dims: unknown[] }[]; outputs: { dims: unknown[] }[]; initialState: string; inputRange: number[] };
    expect(q.inputs[0]!.dims).toEqual(['seq', 1, spec.input.size]);
    expect(q.outputs[0]!.dims).toEqual(['seq', 1, modelOutputSize(spec)]);
    expect(q.inputs.slice(1).every((i) => i.dims.length === 3 && i.dims.every((d) => typeof d === 'number'))).toBe(true);
    expect(['zeros', 'edgernn.initial_state']).toContain(q.initialState);
    expect(q.inputRange).toHaveLength(spec.input.size);
    expect(q.inputRange.every((r) => r > 0)).toBe(true);
    expect((await cli('export', 'float32.ern')).code).toBe(2);
    fs.writeFileSync(path.join(tmp, 'junk.ern'), Uint8Array.from([0, 1, 2]));
    expect((await cli('export', 'junk.ern', '-o', 'j.onnx')).err).toMatch(/ERN_/);
  });
  it('the state line says what to feed first: zeros, the metadata values, or whole sequences for bidirectional models', async () => {
    const rng = new Rng(4);
    const base = randomSpec(555, { intCompatible: true, forwardOnly: true, maxLayers: 1 });
    const l = base.layers[0] as RecurrentLayer;
    const H = l.hiddenSize;
    const zeros: ModelSpec = { ...base, layers: [{ ...l, float: { W: l.float!.W, R: l.float!.R } }] };
    fs.writeFileSync(path.join(tmp, 'zeros.ern'), encodeModel(zeros));
    const a = await cli('export', 'zeros.ern', '-o', 'zeros.onnx');
    expect(a.out).toContain('  state     first call: zeros; then feed hN_*/cN_* back as h0_*/c0_*');
    // "zeros (or the layer initial state)": the file held no initial state to feed.
    const init: ModelSpec = { ...base, layers: [{ ...l, float: { W: l.float!.W, R: l.float!.R, initialH: rng.float32(H, -0.5, 0.5) } }] };
    fs.writeFileSync(path.join(tmp, 'init.ern'), encodeModel(init));
    const b = await cli('export', 'init.ern', '-o', 'init.onnx');
    expect(b.out).toContain("  state     first call: the values in metadata 'edgernn.initial_state' (layers.0 starts from a non-zero state); then feed hN_*/cN_* back as h0_*/c0_*");
    // Stepping a bidirectional model frame by frame is another model: it said to step it.
    const bi = randomRecurrent(rng, 'gru', 2, 3, 'bidirectional');
    const biSpec: ModelSpec = { ...base, input: { size: 2, frontend: { kind: 'none' } }, layers: [bi] };
    fs.writeFileSync(path.join(tmp, 'bi.ern'), encodeModel(biSpec));
    const c = await cli('export', 'bi.ern', '-o', 'bi.onnx');
    expect(c.code, c.err).toBe(0);
    expect(c.out).not.toContain('feed hN_*/cN_* back');
    expect(c.out).toContain('  state     layers.0 is bidirectional: give each sequence whole, in one call (hN_*/cN_* are not a state to continue from)');
  });

  it('int8: the line names the input range the integer kernels clamp to, which the float ONNX model does not', async () => {
    const f = randomSpec(555, { intCompatible: true, forwardOnly: true, maxLayers: 1 });
    const rng = new Rng(2);
    const q = quantizeModel(f, calibrateAbsMax(f, [rng.float32(20 * f.input.size, -1.5, 1.5)]));
    fs.writeFileSync(path.join(tmp, 'q.ern'), encodeModel(q));
    const r = await cli('export', 'q.ern', '-o', 'q.onnx');
    const range = Array.from(q.inputScale!, (s) => Number((s * 32767).toPrecision(3))).join(', ');
    expect(r.out).toContain(`  int8      the integer kernels clamp input k to ±range[k] = [${range}] (calibrated); this float model does not, so beyond it the outputs differ`);
  });
});
