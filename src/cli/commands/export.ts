import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError, isEdgeRnnError } from '../../errors.js';
import { decodeModel } from '../../model/codec.js';
import { isRecurrent, modelOutputSize, numDirections, type ModelSpec } from '../../model/spec.js';
import { INITIAL_STATE_KEY, exportOnnx, nonZeroInitialState, stateNames } from '../../onnx/export.js';
import { isOnnxModel } from '../../onnx/proto.js';
import { checkOutputsDistinct, parseFlags, readFileArg, usageError, writeOutputFile, type Command } from '../framework.js';

/** What to feed the state inputs (the "state" line). */
function stateAdvice(spec: ModelSpec): string {
  // Stepped, the backward direction sees one frame at a time: another model.
  for (const [li, l] of spec.layers.entries()) {
    if (isRecurrent(l) && l.direction !== 'forward') return `layers.${li} is ${l.direction}: give each sequence whole, in one call (hN_*/cN_* are not a state to continue from)`;
  }
  const nonZero = nonZeroInitialState(spec);
  const first = nonZero.length ? `the values in metadata '${INITIAL_STATE_KEY}' (${nonZero.map((li) => `layers.${li}`).join(', ')} ${nonZero.length > 1 ? 'start' : 'starts'} from a non-zero state)` : 'zeros';
  return `first call: ${first}; then feed hN_*/cN_* back as h0_*/c0_*`;
}

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a .ern model as a float32 ONNX model (onnxruntime runs it with the same outputs)',
  help: `usage: edgernn export MODEL.ern -o OUT.onnx [--no-state-inputs] [--json]

Writes a float32 ONNX model (opset 17). int8 models are dequantized: the ONNX model computes
with the real values of the int8 weights, so it matches the float reference of those weights,
and the integer kernels within their rounding for inputs inside the calibrated range (the
"int8" line): the integer kernels clamp each input feature to that range, the ONNX model does
not.

I/O (docs/onnx.md):
  X        [seq, 1, inputs]         frames
  h0_<i>   [dirs, 1, hidden]        state input of layer i (c0_<i> for LSTM cells)
  Y        [seq, 1, outputs]        the model output for every step
  hN_<i>   [dirs, 1, hidden]        final states (cN_<i>): feed them back as h0_<i>/c0_<i>
                                    to step the model one frame at a time (forward layers
                                    only: reverse and bidirectional ones need whole sequences)

The first call feeds zeros, or, when a layer starts from a non-zero state, the values in the
metadata entry 'edgernn.initial_state' (JSON {"h0_<i>": [...], ...}; the "state" line says
which).

The model's name, version, task, labels, description, input spec (its front end), extra fields
(detector settings, normalization) and training record go into the ONNX metadata
(metadata_props 'edgernn.manifest'); \`edgernn convert\` restores them (the training record as
training.original).

  -o, --out FILE        the .onnx to write (--output FILE too)
  --no-state-inputs     bake the initial state in: X is the only input
  --json                one JSON object: {file, bytes, precision, inputs, outputs: [{name, dims}],
                        initialState: "zeros" | "edgernn.initial_state" | null (no state inputs),
                        inputRange (int8: the range ±r of each feature the kernels clamp to)}`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      { out: { type: 'string', short: 'o' }, output: { type: 'string' }, 'no-state-inputs': { type: 'boolean' }, json: { type: 'boolean' } },
      { min: 1, max: 1, names: 'MODEL.ern' },
    );
    // --output as well: train, prune, quantize and run write their file with it, and here it was
    // "Unknown option '--output'".
    if (typeof values.out === 'string' && typeof values.output === 'string') throw usageError('give the .onnx once: -o/--out or --output, not both');
    const out = typeof values.out === 'string' ? values.out : values.output;
    if (typeof out !== 'string') throw usageError('-o OUT.onnx is required');
    if (out === '') throw usageError('-o needs a file name, got an empty string');
    const src = positionals[0]!;
    // `export m.ern -o m.ern` replaced the model with its ONNX export.
    checkOutputsDistinct([['-o', out]], [['MODEL.ern', src]], ctx);
    const bytes = new Uint8Array(readFileArg(ctx.cwd, src));
    let spec: ReturnType<typeof decodeModel>['spec'];
    try {
      spec = decodeModel(bytes, src).spec;
    } catch (e) {
      // An ONNX model given here (the wrong direction): say what it is, as `edgernn info` does.
      if (isEdgeRnnError(e, 'ERN_BAD_MAGIC') && isOnnxModel(bytes)) throw new EdgeRnnError('ERN_BAD_MAGIC', `${e.message}; it is an ONNX model already: \`edgernn convert ${src} -o MODEL.ern\` compiles it to an .ern`);
      throw e;
    }
    const stateInputs = !values['no-state-inputs'];
    const onnx = exportOnnx(spec, { stateInputs });
    writeOutputFile(path.resolve(ctx.cwd, out), onnx);
    const states = spec.layers.flatMap((l, i) => {
      if (!isRecurrent(l)) return [];
      const n = stateNames(i);
      const dims: (string | number)[] = [numDirections(l), 1, l.hiddenSize];
      return l.kind === 'lstm' ? [{ input: n.h0, output: n.hN, dims }, { input: n.c0, output: n.cN, dims }] : [{ input: n.h0, output: n.hN, dims }];
    });
    // Dims as lists for --json (they were strings, "[seq, 1, 3]", which scripts had to parse).
    const inputs = [{ name: 'X', dims: ['seq', 1, spec.input.size] }, ...(stateInputs ? states.map((st) => ({ name: st.input, dims: st.dims })) : [])];
    const outputs = [{ name: 'Y', dims: ['seq', 1, modelOutputSize(spec)] }, ...states.map((st) => ({ name: st.output, dims: st.dims }))];
    /** int8: the range [-r, r] of each input feature the integer kernels clamp to. */
    const inputRange = spec.inputScale ? Array.from(spec.inputScale, (s) => s * 32767) : null;
    if (values.json) {
      const initialState = stateInputs && states.length ? (nonZeroInitialState(spec).length ? INITIAL_STATE_KEY : 'zeros') : null;
      ctx.stdout.write(`${JSON.stringify({ file: out, bytes: onnx.length, precision: spec.precision, inputs, outputs, initialState, ...(inputRange ? { inputRange } : {}) })}\n`);
      return 0;
    }
    const dimsText = (d: (string | number)[]): string => `[${d.join(', ')}]`;
    ctx.stdout.write(
      [
        `${src} -> ${out}  (${onnx.length} bytes, float32${spec.precision === 'int8' ? ' dequantized from int8' : ''}, opset 17)`,
        `  inputs    ${inputs.map((i) => `${i.name} ${dimsText(i.dims)}`).join(', ')}`,
        `  outputs   ${outputs.map((o) => `${o.name} ${dimsText(o.dims)}`).join(', ')}`,
        ...(stateInputs && states.length ? [`  state     ${stateAdvice(spec)}`] : []),
        ...(inputRange ? [`  int8      the integer kernels clamp input k to ±range[k] = [${inputRange.map((r) => Number(r.toPrecision(3))).join(', ')}] (calibrated); this float model does not, so beyond it the outputs differ`] : []),
        `  metadata  edgernn.manifest: ${spec.name} ${spec.version}, task ${spec.task}${spec.labels.length ? `, ${spec.labels.length} labels` : ''}, ${spec.input.frontend.kind} front end`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};
