import fs from 'node:fs';
import path from 'node:path';
import { writeNpy } from '../../io/npy.js';
import { readSequences, type SequenceBatch } from '../../io/sequences.js';
import { readSpecMetadata, type MetadataRead } from '../../onnx/metadata.js';
import { decodeModelProto, type ModelProto } from '../../onnx/proto.js';
import { BACKENDS } from '../../runtime/engine.js';
import { createRuntime } from '../../runtime/runtime.js';
import { checkOutputsDistinct, choiceFlag, parseFlags, readFileArg, usageError, writeOutputFile, type CliContext, type Command } from '../framework.js';

/** The edgernn metadata of an ONNX model onnxruntime accepted; none if edgernn's own parser cannot read the file. */
function onnxInfo(bytes: Uint8Array, source: string, inputSize: number, outputSize: number): MetadataRead {
  let proto: ModelProto;
  try {
    proto = decodeModelProto(bytes, source);
  } catch {
    return { info: null, note: null };
  }
  return readSpecMetadata(proto, inputSize, outputSize, source);
}

/** The CSV columns a model was trained on (train records them in extra.data.columns), to name in an error. */
function trainedColumns(extra: Record<string, unknown> | undefined): string[] | undefined {
  const columns = (extra?.data as { columns?: unknown } | undefined)?.columns;
  return Array.isArray(columns) && columns.every((c) => typeof c === 'string') ? columns : undefined;
}

/** An --output named FILE.npy holds the outputs alone, so the sequences must be of one length. */
function checkNpyOutput(output: unknown, input: SequenceBatch): void {
  if (typeof output !== 'string' || !/\.npy$/i.test(output)) return;
  if (new Set(input.steps).size > 1) {
    throw usageError(`--output ${output}: a .npy array needs sequences of one length, the input's have ${[...new Set(input.steps)].join(', ')} steps; write JSON instead (--output FILE.json)`);
  }
}

/**
 * The result to stdout or --output as JSON; to an --output named FILE.npy the outputs alone, as
 * NumPy reads them: float32 [steps][outputs], or [batch][steps][outputs] for a batch.
 */
function writeResult(ctx: CliContext, output: unknown, result: object, outputs: number[][][], batched: boolean, outputSize: number): void {
  // '-' is stdout, as for most tools (it wrote a file named '-').
  if (typeof output !== 'string' || output === '-') {
    ctx.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const file = path.resolve(ctx.cwd, output);
  let bytes: Uint8Array | string;
  if (!/\.npy$/i.test(output)) bytes = `${JSON.stringify(result)}\n`;
  else {
    const steps = outputs[0]?.length ?? 0;
    bytes = writeNpy(Float32Array.from(outputs.flat(2)), batched ? [outputs.length, steps, outputSize] : [steps, outputSize]);
  }
  try {
    writeOutputFile(file, bytes);
  } catch (e) {
    // Named as the user gave it (the message said /abs/path/out is a folder), as for --input.
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string') err.path = output;
    throw e;
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a model on sequences from a .npy or JSON file',
  help: `usage: edgernn run MODEL.ern --input FILE [--backend simd|scalar|reference|float] [--output FILE]
       edgernn run MODEL.onnx --input FILE [--output FILE]

  -i, --input FILE   .npy or JSON: [steps][features] or [batch][steps][features] (not CSV:
                     \`edgernn eval\` scores a CSV, or convert it to .npy first)
  -b, --backend B    auto (default): simd when the WebAssembly engine supports it, else scalar;
                     float32 models run on the float reference (float); .onnx files on ort-web
  -o, --output FILE  write the JSON result there instead of stdout ('-': stdout); FILE.npy gets
                     the outputs alone, float32 [steps][outputs] or [batch][steps][outputs]
                     (NumPy's np.load)

An .onnx file (any model, including ones edgernn cannot compile) runs through onnxruntime-web
(WebAssembly, one thread): backend "ort-web"; its name, version and labels come from its edgernn
metadata (written by \`edgernn export\`), when it has them.

Output: JSON {"model","version","backend","labels","outputs"} where outputs is
[steps][outputs] for one sequence, or [batch][steps][outputs] for a batch.

The frames go to the model as they are: a model whose manifest names a front end (\`edgernn
info\`: "front end kind mfcc", "imu", "series", as in models/) takes that front end's output
frames, not raw audio or sensor samples; raw recordings go through \`edgernn eval\`, the
gateway or the scripts in examples/, which run the front end first.`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      { input: { type: 'string', short: 'i' }, backend: { type: 'string', short: 'b' }, output: { type: 'string', short: 'o' } },
      { min: 1, max: 1, names: 'MODEL.ern' },
    );
    if (typeof values.input !== 'string') throw usageError('--input FILE is required');
    if (values.output === '') throw usageError('--output needs a file name (or - for stdout)');
    const backend = choiceFlag(values.backend, 'backend', [...BACKENDS, 'auto', 'ort-web'] as const) ?? 'auto';
    // `run m.ern -i x.json -o m.ern` (or -o x.json) replaced the model (or the input) with the result.
    if (values.output !== '-') checkOutputsDistinct([['--output', values.output]], [['MODEL', positionals[0]], ['--input', values.input]], ctx);
    const modelBytes = new Uint8Array(readFileArg(ctx.cwd, positionals[0]!));
    const isErn = modelBytes.length >= 4 && modelBytes[0] === 0x89 && modelBytes[1] === 0x45 && modelBytes[2] === 0x52 && modelBytes[3] === 0x4e;
    // A damaged file named .ern (not its magic bytes) was parsed as ONNX: "malformed ONNX
    // protobuf". Loaded as what it is named, the error says what is wrong with it as an .ern.
    const namedErn = /\.ern$/i.test(positionals[0]!) && backend !== 'ort-web';
    if ((!isErn && !namedErn) || backend === 'ort-web') {
      // ort-web runs ONNX models only: an .ern given to it was parsed as ONNX and failed with ONNX_PARSE.
      if (isErn) throw usageError(`${positionals[0]} is an .ern file: it runs on backend ${BACKENDS.join(', ')} or auto; ort-web runs .onnx models (\`edgernn export\` writes one)`);
      if (backend !== 'auto' && backend !== 'ort-web') throw usageError(`${positionals[0]} is not an .ern file; ONNX models run on backend ort-web`);
      const { OrtWebModel } = await import('../../onnx/ort-web-backend.js');
      const model = await OrtWebModel.create(modelBytes, { source: positionals[0]! });
      const input = readSequences(new Uint8Array(readFileArg(ctx.cwd, values.input)), values.input, model.inputSize);
      checkNpyOutput(values.output, input);
      const outputs: number[][][] = [];
      for (const seq of input.sequences) {
        const y = await model.session().run(seq);
        const rows: number[][] = [];
        for (let t = 0; t < y.length / model.outputSize; t++) rows.push(Array.from(y.subarray(t * model.outputSize, (t + 1) * model.outputSize)));
        outputs.push(rows);
      }
      await model.dispose();
      // Name, version and labels from the model's edgernn metadata (docs/onnx.md), when it has them.
      const { info, note } = onnxInfo(modelBytes, positionals[0]!, model.inputSize, model.outputSize);
      if (note && !info) ctx.stderr.write(`edgernn run: note: ${note}\n`);
      const result = { model: info?.name ?? path.basename(positionals[0]!), ...(info ? { version: info.version } : {}), backend: 'ort-web', labels: info?.labels ?? [], outputs: input.batched ? outputs : outputs[0] };
      writeResult(ctx, values.output, result, outputs, input.batched, model.outputSize);
      return 0;
    }
    const rt = await createRuntime();
    const model = await rt.load(modelBytes, { backend, source: positionals[0]! });
    const input = readSequences(new Uint8Array(readFileArg(ctx.cwd, values.input)), values.input, model.inputSize, trainedColumns(model.spec.extra));
    checkNpyOutput(values.output, input);
    const outputs = input.sequences.map((seq) => {
      const s = model.session();
      const y = s.run(seq);
      const rows: number[][] = [];
      for (let t = 0; t < y.length / model.outputSize; t++) rows.push(Array.from(y.subarray(t * model.outputSize, (t + 1) * model.outputSize)));
      s.dispose();
      return rows;
    });
    const result = { model: model.name, version: model.version, backend: model.backend, labels: model.labels, outputs: input.batched ? outputs : outputs[0] };
    writeResult(ctx, values.output, result, outputs, input.batched, model.outputSize);
    model.dispose();
    return 0;
  },
};
