import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError } from '../../errors.js';
import { CONFORMANCE_BACKENDS, defaultAtol, runNodeTest, type NodeTestResult } from '../../onnx/conformance.js';
import { findNodeTests, readNodeTestDir } from '../../onnx/node-test-files.js';
import { runNodeTestOrtWeb } from '../../onnx/ort-web-backend.js';
import { FLOAT_ATOL } from '../../onnx/tolerance.js';
import { createRuntime } from '../../runtime/runtime.js';
import { Progress } from '../progress.js';
import { choiceFlag, numberFlag, parseFlags, type Command } from '../framework.js';

export const conformanceCommand: Command = {
  name: 'conformance',
  summary: 'run ONNX node-test folders (model.onnx + test_data_set_N) on an edgernn backend',
  help: `usage: edgernn conformance DIR [--backend reference|simd|scalar|ort-web] [--atol X] [--json]

Runs every ONNX node-test folder under DIR (model.onnx and test_data_set_N/input_K.pb,
output_K.pb), binding all inputs and comparing all outputs. Graph input 0 is the sequence;
the other inputs (W, R, B, sequence_lens, initial_h, ...) are folded in as constants.

  -b, --backend B   reference (default): the float reference, atol 1e-5
                    simd, scalar: int8 kernels; each model is calibrated on the test's inputs
                    and compared with the int8 tolerance (0.02, docs/onnx.md)
                    ort-web: onnxruntime-web runs the ONNX model itself (the anchor), atol 1e-5
  --atol X          override the tolerance
  --json            one JSON object: {backend, atol, passed, failed, tests: [...]}

Prints a line per test and "N passed, M failed". Exit code 0 only when all pass.`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(args, { backend: { type: 'string', short: 'b' }, atol: { type: 'string' }, json: { type: 'boolean' } }, { min: 1, max: 1, names: 'DIR' });
    const backend = choiceFlag(values.backend, 'backend', [...CONFORMANCE_BACKENDS, 'ort-web'] as const) ?? 'reference';
    const atol = numberFlag(values.atol, 'atol', { min: 0 }) ?? (backend === 'ort-web' ? FLOAT_ATOL : defaultAtol(backend));
    const root = path.resolve(ctx.cwd, positionals[0]!);
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new EdgeRnnError('BAD_INPUT_FILE', `${positionals[0]}: not a directory`);
    const dirs = findNodeTests(root);
    if (dirs.length === 0) throw new EdgeRnnError('BAD_INPUT_FILE', `${positionals[0]}: no test folders (a folder with model.onnx and test_data_set_N/) under it`);
    const runtime = backend === 'reference' || backend === 'ort-web' ? undefined : await createRuntime();
    const progress = values.json ? null : new Progress(ctx.stderr, `conformance ${backend}`, dirs.length);
    const results: ((NodeTestResult | Awaited<ReturnType<typeof runNodeTestOrtWeb>>) & { path: string })[] = [];
    for (const dir of dirs) {
      const rel = path.relative(root, dir) || path.basename(dir);
      const tc = { ...readNodeTestDir(dir), name: rel };
      const r = backend === 'ort-web' ? await runNodeTestOrtWeb(tc, { atol }) : await runNodeTest(tc, runtime ? { backend, runtime, atol } : { backend, atol });
      results.push({ ...r, path: rel });
      if (!values.json) {
        const w = Math.max(...dirs.map((d) => (path.relative(root, d) || path.basename(d)).length));
        const line = r.error
          ? `FAIL  ${rel.padEnd(w)}  [${r.error.code}] ${r.error.message.split('\n')[0]}`
          : `${r.passed ? 'PASS' : 'FAIL'}  ${rel.padEnd(w)}  max|diff| ${r.maxDiff.toExponential(2)} (atol ${atol})${r.passed ? '' : `: ${r.outputs.filter((o) => !(o.maxDiff <= atol)).map((o) => `${o.dataSet}/${o.name} at ${o.at}`).join(', ')}`}`;
        // On a terminal the bar (stderr) shares the screen: the line went on after it.
        progress?.clear();
        ctx.stdout.write(`${line}\n`);
      }
      progress?.tick(1, rel);
    }
    const passed = results.filter((r) => r.passed).length;
    const failed = results.length - passed;
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify({ backend, atol, passed, failed, tests: results })}\n`);
    } else {
      progress?.done();
      ctx.stdout.write(`${passed} passed, ${failed} failed\n`);
    }
    return failed === 0 ? 0 : 1;
  },
};
