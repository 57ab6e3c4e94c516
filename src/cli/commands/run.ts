import fs from 'node:fs';
import path from 'node:path';
import { readSequences } from '../../io/sequences.js';
import { BACKENDS } from '../../runtime/engine.js';
import { createRuntime } from '../../runtime/runtime.js';
import { choiceFlag, parseFlags, usageError, type Command } from '../framework.js';

export const runCommand: Command = {
  name: 'run',
  summary: 'run a model on sequences from a .npy or JSON file',
  help: `usage: edgernn run MODEL.ern --input FILE [--backend simd|scalar|reference|float] [--output FILE]

  --input FILE     .npy or JSON: [steps][features] or [batch][steps][features]
  --backend B      default: simd when the WebAssembly engine supports it, else scalar
                   (float32 models run on the float reference)
  --output FILE    write the JSON result there instead of stdout

Output: JSON {"model","version","backend","labels","outputs"} where outputs is
[steps][outputs] for one sequence, or [batch][steps][outputs] for a batch.`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      { input: { type: 'string', short: 'i' }, backend: { type: 'string', short: 'b' }, output: { type: 'string', short: 'o' } },
      { min: 1, max: 1, names: 'MODEL.ern' },
    );
    if (typeof values.input !== 'string') throw usageError('--input FILE is required');
    const backend = choiceFlag(values.backend, 'backend', [...BACKENDS, 'auto'] as const) ?? 'auto';
    const modelPath = path.resolve(ctx.cwd, positionals[0]!);
    const rt = await createRuntime();
    const model = await rt.load(new Uint8Array(fs.readFileSync(modelPath)), { backend, source: positionals[0]! });
    const input = readSequences(new Uint8Array(fs.readFileSync(path.resolve(ctx.cwd, values.input))), values.input, model.inputSize);
    const outputs = input.sequences.map((seq) => {
      const s = model.session();
      const y = s.run(seq);
      const rows: number[][] = [];
      for (let t = 0; t < y.length / model.outputSize; t++) rows.push(Array.from(y.subarray(t * model.outputSize, (t + 1) * model.outputSize)));
      s.dispose();
      return rows;
    });
    const result = { model: model.name, version: model.version, backend: model.backend, labels: model.labels, outputs: input.batched ? outputs : outputs[0] };
    const text = `${JSON.stringify(result)}\n`;
    if (typeof values.output === 'string') fs.writeFileSync(path.resolve(ctx.cwd, values.output), text);
    else ctx.stdout.write(text);
    model.dispose();
    return 0;
  },
};
