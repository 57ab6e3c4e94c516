import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError, isEdgeRnnError } from '../../errors.js';
import { ERN_MAGIC } from '../../format/ern.js';
import { readSequences, type SequenceBatch } from '../../io/sequences.js';
import { encodeModel, referenceEngine } from '../../model/codec.js';
import { calibrateAbsMax, quantizeModel } from '../../model/quantize.js';
import { isRecurrent, layerOutputSize, modelOutputSize, type ModelSpec } from '../../model/spec.js';
import { importOnnx, onnxToSpec, type InputLayout, type SpecOptions } from '../../onnx/import.js';
import { decodeModelProto } from '../../onnx/proto.js';
import { unfedInputs } from '../../onnx/ort-web-backend.js';
import { checkOutputsDistinct, parseFlags, readFileArg, usageError, writeOutputFile, type Command } from '../framework.js';

/**
 * Calibration sequences: .npy / JSON ([steps][features] or [batch][steps][features]) or JSONL:
 * one sequence per line, as a bare [steps][features] array or as the trainer's
 * {"x": [[...]], "y"/"target": ...} object (its x; the rest is not needed for ranges). The
 * trainer's JSONL was refused ("expected a non-empty JSON array"), so a data set made for
 * `edgernn train` could not calibrate a converted model.
 */
export function readCalibration(bytes: Uint8Array, source: string, features: number): SequenceBatch {
  const jsonl = /\.(jsonl|ndjson)$/i.test(source);
  if (!jsonl) return readSequences(bytes, source, features);
  const text = new TextDecoder().decode(bytes);
  const out: SequenceBatch = { sequences: [], steps: [], batched: true };
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let sequence = new TextEncoder().encode(line);
    // Only a line that parses as an object with "x" is unwrapped; anything else goes to
    // readSequences as it is, which names what is wrong with it.
    try {
      const o: unknown = JSON.parse(line);
      if (typeof o === 'object' && o !== null && !Array.isArray(o) && 'x' in o) sequence = new TextEncoder().encode(JSON.stringify((o as { x: unknown }).x));
    } catch {
      // not JSON: readSequences says so, naming the line
    }
    const one = readSequences(sequence, `${source}:${i + 1}`, features);
    out.sequences.push(...one.sequences);
    out.steps.push(...one.steps);
  });
  if (out.sequences.length === 0) throw new EdgeRnnError('BAD_INPUT_FILE', `${source}: no sequences (one JSON [steps][features] array per line)`);
  return out;
}

export interface OutputError {
  output: number;
  /** max |int8 - float| over all steps of all calibration sequences. */
  maxAbs: number;
  meanAbs: number;
  /** max |float|, for scale. */
  floatAbsMax: number;
}

/** Per-output error of the int8 model against the float one (integer reference backend). */
export function int8Error(float: ModelSpec, int8: ModelSpec, sequences: readonly Float32Array[]): OutputError[] {
  const O = modelOutputSize(float);
  const I = float.input.size;
  const fe = referenceEngine(float);
  const qe = referenceEngine(int8);
  const stats = Array.from({ length: O }, (_, j) => ({ output: j, maxAbs: 0, meanAbs: 0, floatAbsMax: 0 }));
  let n = 0;
  for (const seq of sequences) {
    const T = seq.length / I;
    const a = new Float32Array(T * O);
    const b = new Float32Array(T * O);
    fe.run(fe.allocState(), seq, T, a, 'zero');
    qe.run(qe.allocState(), seq, T, b, 'zero');
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < O; j++) {
        const d = Math.abs(a[t * O + j]! - b[t * O + j]!);
        const s = stats[j]!;
        s.maxAbs = Math.max(s.maxAbs, d);
        s.meanAbs += d;
        s.floatAbsMax = Math.max(s.floatAbsMax, Math.abs(a[t * O + j]!));
      }
    }
    n += T;
  }
  for (const s of stats) s.meanAbs /= Math.max(n, 1);
  return stats;
}

const LAYOUT_TEXT: Readonly<Record<InputLayout, string>> = { TBF: '[seq, batch, features]', BTF: '[batch, seq, features]', BFT: '[batch, features, seq]', TF: '[seq, features]' };

function describeLayers(spec: ModelSpec): string[] {
  return spec.layers.map((l, i) => {
    if (isRecurrent(l)) return `    ${i}  ${l.kind.padEnd(10)} ${l.inputSize} -> ${layerOutputSize(l)}  ${l.direction}${l.clip !== undefined ? `, clip ${l.clip}` : ''}`;
    if (l.kind === 'dense') return `    ${i}  ${'dense'.padEnd(10)} ${l.inputSize} -> ${l.outputSize}  ${l.activation}`;
    return `    ${i}  ${l.kind.padEnd(10)} ${l.size}`;
  });
}

export const convertCommand: Command = {
  name: 'convert',
  summary: 'convert an ONNX model (PyTorch, Keras/tf2onnx) to a float or int8 .ern',
  help: `usage: edgernn convert MODEL.onnx -o OUT.ern [--float | --calib FILE] [--per-channel]
                       [--output NAME] [--name NAME] [--json]

Compiles the ONNX graph (GRU/LSTM/RNN, Gemm or MatMul+Add heads, activations, softmax, the
shape glue exporters emit, and BatchNorm1d, pointwise Conv1d and Clip where they fold into a
layer; docs/onnx.md lists what compiles) into an edgernn model. int8 (the default) needs
calibration data; the int8 model's error against the float one on that data is reported per
output.

  -o, --out FILE   the .ern to write
  --float          keep float32 weights (no calibration needed)
  --calib FILE     calibration sequences: .npy or JSON ([steps][features] or
                   [batch][steps][features]), or .jsonl (one [steps][features] per line,
                   or the trainer's {"x": [[...]], ...} lines; only x is read)
  --per-channel    accepted for compatibility: edgernn always quantizes weights per output
                   row (per channel), so this is the default behaviour
  --output NAME    which graph output becomes the model output (default: the first)
  --name NAME      model name (default: the name in the model's edgernn metadata, else the
                   file's name)
  --json           one JSON object: {file, bytes, precision, input, outputs, layers, onnx, notes,
                   calibration, error}

A model written by \`edgernn export\` keeps its name, version, task, labels and input spec (front
end) in the ONNX metadata; convert restores them and says so in a note.

Models edgernn cannot compile get a list of the offending nodes; such models still run
unchanged on the onnxruntime-web backend (src/onnx/ort-web-backend.ts).`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        out: { type: 'string', short: 'o' },
        float: { type: 'boolean' },
        calib: { type: 'string' },
        'per-channel': { type: 'boolean' },
        output: { type: 'string' },
        name: { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1, names: 'MODEL.onnx' },
    );
    if (typeof values.out !== 'string') {
      // Other commands write their file with --output; here --output names a graph output, so
      // `--output model.ern` was taken as one and the message said only that -o was missing.
      if (typeof values.output === 'string' && /\.ern$/i.test(values.output)) {
        throw usageError(`-o OUT.ern is required: --output names the graph output to compile (here '${values.output}'), write the file with -o ${values.output} (or --out)`);
      }
      throw usageError('-o OUT.ern is required');
    }
    if (values.out === '') throw usageError('-o needs a file name, got an empty string');
    if (values.name === '') throw usageError('--name needs a model name, got an empty string');
    if (values.float && typeof values.calib === 'string') throw usageError('--float and --calib exclude each other');
    if (!values.float && typeof values.calib !== 'string') {
      throw usageError('an int8 model needs calibration data: --calib FILE (.npy, JSON or JSONL sequences), or --float for a float32 model');
    }
    const src = positionals[0]!;
    // `convert m.onnx -o m.onnx` replaced the ONNX model with the .ern.
    checkOutputsDistinct([['-o', values.out]], [['MODEL.onnx', src], ['--calib', values.calib]], ctx);
    const bytes = new Uint8Array(readFileArg(ctx.cwd, src));
    // An .ern given here (the wrong direction) failed as "malformed ONNX protobuf ... field number 0".
    if (ERN_MAGIC.every((b, i) => bytes[i] === b)) {
      throw new EdgeRnnError('ONNX_PARSE', `${src}: not an ONNX model, it is an .ern model (edgernn's own format): it needs no conversion; \`edgernn run ${src} --input FILE\` runs it, \`edgernn export ${src} -o OUT.onnx\` writes ONNX`);
    }
    const proto = decodeModelProto(bytes, src);
    // Only the chosen output is compiled (state outputs like an LSTM's Y_c need not be).
    const outName = typeof values.output === 'string' ? values.output : proto.graph.output[0]?.name;
    if (typeof values.output === 'string' && !proto.graph.output.some((o) => o.name === values.output)) {
      throw usageError(`--output '${values.output}': ${src} has no such graph output (outputs: ${proto.graph.output.map((o) => `'${o.name}'`).join(', ') || 'none'})`);
    }
    if (outName === undefined) throw new EdgeRnnError('ONNX_INVALID', `${src}: the graph has no outputs`);
    let imp: ReturnType<typeof importOnnx>;
    let floatSpec: ModelSpec;
    const notes: string[] = [];
    try {
      imp = importOnnx(proto, { source: src, outputs: [outName] });
      notes.push(...imp.notes);
      const specOpts: SpecOptions = { fallbackName: path.basename(src).replace(/\.onnx$/i, ''), notes };
      if (typeof values.output === 'string') specOpts.output = values.output;
      if (typeof values.name === 'string') specOpts.name = values.name;
      floatSpec = onnxToSpec(imp, specOpts);
    } catch (e) {
      // The importer points at the OrtWebModel class; on the command line the way is `edgernn run`.
      // It feeds the sequence (and paired states) only: a model with a mask or lengths input failed there too.
      if (isEdgeRnnError(e, 'ONNX_UNSUPPORTED')) {
        const unfed = unfedInputs(proto);
        const how = unfed.length
          ? `\`edgernn run\` feeds the sequence input only, so it cannot run this model as is (input${unfed.length > 1 ? 's' : ''} ${unfed.map((n) => `'${n}'`).join(', ')}): export the model without ${unfed.length > 1 ? 'them' : 'it'} (in code, OrtWebModel.create(bytes, { constants }) feeds float32 ones).`
          : `From the command line: \`edgernn run ${src} --input FILE\` runs it as is.`;
        throw new EdgeRnnError(e.code, `${e.message}\n${how}`, e.details as Record<string, unknown>);
      }
      throw e;
    }
    if (proto.graph.output.length > 1) notes.push(`graph outputs ${proto.graph.output.map((o) => o.name).join(', ')}: the model computes '${outName}' (choose with --output)`);
    // The .ern (and --calib, and `edgernn run`) take frames [steps][features] whatever the ONNX input's order.
    if (imp.input.layout === 'BFT') notes.push(`'${imp.input.name}' is channels first ([batch, features, seq]): the .ern takes frames [seq][features] (and so does --calib), so transpose such data`);
    if ((floatSpec.extra!.onnx as { step: string }).step === 'last') notes.push('the ONNX output is the last step; the .ern outputs every step (the last row is the ONNX value)');
    if (values['per-channel']) notes.push('--per-channel: weights are always quantized per output row; nothing changes');
    let spec = floatSpec;
    let errors: ReturnType<typeof int8Error> | null = null;
    let calibInfo: { file: string; sequences: number; steps: number } | null = null;
    if (!values.float) {
      const file = values.calib as string;
      const cal = readCalibration(new Uint8Array(readFileArg(ctx.cwd, file)), file, floatSpec.input.size);
      calibInfo = { file, sequences: cal.sequences.length, steps: cal.steps.reduce((a, b) => a + b, 0) };
      try {
        const ranges = calibrateAbsMax(floatSpec, cal.sequences);
        // A feature the data never moves gets the range ±1 (quantize.ts): real inputs beyond it
        // clip, while the error report on this same data looks perfect.
        const flat = Array.from(ranges.inputAbsMax, (m, k) => (m === 0 ? k : -1)).filter((k) => k >= 0);
        if (flat.length > 0) notes.push(`${file}: input feature${flat.length > 1 ? 's' : ''} ${flat.join(', ')} ${flat.length > 1 ? 'are' : 'is'} 0 in every frame: ${flat.length > 1 ? 'their' : 'its'} int8 range is taken as ±1, so inputs beyond it clip; calibrate with data that moves every feature`);
        spec = quantizeModel(floatSpec, ranges);
        errors = int8Error(floatSpec, spec, cal.sequences);
      } catch (e) {
        if (isEdgeRnnError(e, 'UNSUPPORTED_MODEL') || isEdgeRnnError(e, 'ERN_QUANT_PARAMS')) {
          throw new EdgeRnnError(e.code, `${src}: cannot quantize to int8: ${e.message} (use --float for a float32 model)`, e.details as Record<string, unknown>);
        }
        throw e;
      }
    }
    const ern = encodeModel(spec);
    const outPath = path.resolve(ctx.cwd, values.out);
    writeOutputFile(outPath, ern);
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify({ file: values.out, bytes: ern.length, precision: spec.precision, input: spec.input.size, outputs: modelOutputSize(spec), layers: spec.layers.map((l) => l.kind), onnx: floatSpec.extra!.onnx, notes, calibration: calibInfo, error: errors })}\n`);
      return 0;
    }
    const lines = [
      `${src} -> ${values.out}  (${spec.precision}, ${ern.length} bytes, opset ${imp.opset})`,
      `  input     '${imp.input.name}' ${LAYOUT_TEXT[imp.input.layout]}, ${spec.input.size} features`,
      `  output    ${modelOutputSize(spec)} values per step`,
      '  layers',
      ...describeLayers(spec),
      ...notes.map((n) => `  note      ${n}`),
    ];
    if (errors && calibInfo) {
      lines.push(`  int8 vs float on ${calibInfo.file} (${calibInfo.sequences} sequences, ${calibInfo.steps} steps):`);
      lines.push('    output   max|err|     mean|err|    max|float|');
      for (const e of errors) lines.push(`    ${String(e.output).padEnd(8)} ${e.maxAbs.toExponential(3).padEnd(12)} ${e.meanAbs.toExponential(3).padEnd(12)} ${e.floatAbsMax.toPrecision(4)}`);
    }
    ctx.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
