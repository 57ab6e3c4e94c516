/**
 * Measures the int8 error behind INT8_ATOL (src/onnx/tolerance.ts): random GRU/LSTM/RNN graphs
 * (default activations), expected outputs from onnxruntime-node, each model quantized with
 * calibration on the test's own inputs and run on an int8 backend. Prints the distribution of the
 * per-test max |int8 - float|. Not part of the test suite.
 *
 *   npx tsx test/onnx/measure-int8-tolerance.ts [count=200] [backend=simd] [maxHidden=8] [maxSteps=7]
 */
import { runNodeTest, type ConformanceBackend } from '../../src/onnx/conformance.js';
import { tensor } from '../../src/onnx/proto.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { ort, ortSession } from './helpers.js';
import { buildCase, encodeInputs, randomConfig, transposeTensor } from './rnn-graph.js';

const [count = 200, backend = 'simd', maxHidden = 8, maxT = 7] = process.argv.slice(2).map((a, i) => (i === 1 ? a : Number(a))) as [number, ConformanceBackend, number, number];
const rt = await createRuntime();
const diffs: number[] = [];
let failed = 0;
for (let seed = 1; seed <= count; seed++) {
  const cfg = randomConfig(seed, { intCompatible: backend !== 'reference', maxHidden, maxT });
  const c = buildCase(cfg);
  const s = await ortSession(c.oracle);
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of c.oracleInputs) feeds[t.name] = t.dataType === 6 ? new ort.Tensor('int32', Int32Array.from(t.data), t.dims) : new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
  const r = await s.run(feeds);
  const outs = c.outputNames.map((n) => {
    const t = tensor(n, 1, r[n]!.dims as number[], r[n]!.data as Float32Array);
    return cfg.layout === 1 ? (t.dims.length === 4 ? transposeTensor(t, [2, 0, 1, 3]) : transposeTensor(t, [1, 0, 2])) : t;
  });
  const res = await runNodeTest({ name: `seed${seed}`, model: c.model, dataSets: [{ name: 'ds', inputs: encodeInputs(c.inputs), outputs: encodeInputs(outs) }] }, { backend, runtime: rt, atol: Infinity });
  if (res.error) {
    failed++;
    console.log(`seed ${seed}: [${res.error.code}] ${res.error.message}`);
  } else diffs.push(res.maxDiff);
}
diffs.sort((a, b) => a - b);
const q = (p: number) => diffs[Math.min(diffs.length - 1, Math.floor(p * diffs.length))]!.toExponential(2);
console.log(`${backend}: ${diffs.length} configs (hidden <= ${maxHidden}, steps <= ${maxT}), errors ${failed}`);
console.log(`max |diff|: p50 ${q(0.5)}  p90 ${q(0.9)}  p99 ${q(0.99)}  max ${q(1)}`);
