/**
 * Runtime benchmark: edgernn simd / scalar / reference vs onnxruntime-web (wasm, 1 thread) and
 * onnxruntime-node (1 thread) on the shapes, interleaved in one process; medians and
 * ratios; cold start and memory in fresh processes. Same code as `edgernn bench`.
 *
 *   npm run build && npx tsx test/bench/runtime.ts [--json] [--quick] [--shapes kws-gru]
 */
import { runCli } from '../../src/cli/framework.js';
import { benchCommand } from '../../src/cli/commands/bench.js';

process.exitCode = await runCli(['bench', ...process.argv.slice(2)], [benchCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
