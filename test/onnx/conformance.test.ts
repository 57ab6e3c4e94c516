/**
 * Conformance: the official ONNX node tests (copied fixtures), and random recurrent graphs whose
 * expected outputs onnxruntime-node computes at test time, on the float reference and on the
 * int8 backends.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { runNodeTest, type ConformanceBackend, type NodeTestCase } from '../../src/onnx/conformance.js';
import { readNodeTestDir as readNodeTest } from '../../src/onnx/node-test-files.js';
import { FLOAT_ATOL, INT8_ATOL } from '../../src/onnx/tolerance.js';
import { tensor, type TensorProto } from '../../src/onnx/proto.js';
import { FIXTURES_ONNX_NODE, SHARED_ONNX_NODE, ort, ortSession } from './helpers.js';
import { buildCase, encodeInputs, randomConfig, transposeTensor, type RnnConfig } from './rnn-graph.js';

const officialTests = fs.readdirSync(FIXTURES_ONNX_NODE).filter((n) => n.startsWith('test_')).sort();

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

describe('official ONNX node tests (test/fixtures/onnx-node)', () => {
  it('has all 12 recurrent tests', () => {
    expect(officialTests).toHaveLength(12);
  });

  it.skipIf(!fs.existsSync(SHARED_ONNX_NODE))('fixtures are byte-identical to ../shared/conformance/onnx-node', () => {
    for (const t of officialTests) {
      for (const rel of ['model.onnx', 'test_data_set_0']) {
        const a = path.join(FIXTURES_ONNX_NODE, t, rel);
        const b = path.join(SHARED_ONNX_NODE, t, rel);
        if (rel === 'model.onnx') expect(fs.readFileSync(a).equals(fs.readFileSync(b)), `${t}/${rel}`).toBe(true);
        else for (const f of fs.readdirSync(b)) expect(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), `${t}/${rel}/${f}`).toBe(true);
      }
    }
  });
  if (!fs.existsSync(SHARED_ONNX_NODE)) console.log(`skipping the shared-copy check: ${SHARED_ONNX_NODE} is absent`);

  for (const backend of ['reference', 'simd', 'scalar'] as const) {
    it(`all pass on ${backend} (atol ${backend === 'reference' ? FLOAT_ATOL : INT8_ATOL})`, async () => {
      for (const t of officialTests) {
        const r = await runNodeTest(readNodeTest(path.join(FIXTURES_ONNX_NODE, t)), { backend, runtime: rt });
        expect(r.error, `${t}: ${r.error?.message}`).toBeUndefined();
        expect(r.passed, `${t}: max |diff| ${r.maxDiff}`).toBe(true);
        expect(r.outputs.length).toBeGreaterThan(0);
      }
    });
  }

  it('a wrong expected value fails (the comparison can fail)', async () => {
    const tc = readNodeTest(path.join(FIXTURES_ONNX_NODE, 'test_gru_seq_length'));
    const { decodeTensorProto, encodeTensorProto } = await import('../../src/onnx/proto.js');
    const out = decodeTensorProto(tc.dataSets[0]!.outputs[0]!);
    out.data[3] = out.data[3]! + 2e-5;
    const bad = { ...tc, dataSets: [{ ...tc.dataSets[0]!, outputs: [encodeTensorProto(out)] }] };
    const r = await runNodeTest(bad, { backend: 'reference' });
    expect(r.passed).toBe(false);
    expect(r.maxDiff).toBeGreaterThan(FLOAT_ATOL);
    expect(r.outputs[0]!.at).toBe(3);
  });
});

/** Expected outputs from onnxruntime-node (layout-0 oracle, transposed back for layout 1). */
async function oracleCase(cfg: RnnConfig): Promise<NodeTestCase> {
  const c = buildCase(cfg);
  const s = await ortSession(c.oracle);
  const feeds: Record<string, ort.Tensor> = {};
  for (const t of c.oracleInputs) {
    feeds[t.name] = t.dataType === 6 ? new ort.Tensor('int32', Int32Array.from(t.data), t.dims) : new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
  }
  const r = await s.run(feeds);
  const outs: TensorProto[] = c.outputNames.map((n) => {
    let t = tensor(n, 1, r[n]!.dims as number[], r[n]!.data as Float32Array);
    // layout 1: Y [T, D, B, H] -> [B, T, D, H]; Y_h [D, B, H] -> [B, D, H]
    if (cfg.layout === 1) t = t.dims.length === 4 ? transposeTensor(t, [2, 0, 1, 3]) : transposeTensor(t, [1, 0, 2]);
    return t;
  });
  return { name: `random-${cfg.seed}`, model: c.model, dataSets: [{ name: 'test_data_set_0', inputs: encodeInputs(c.inputs), outputs: encodeInputs(outs) }] };
}

function describeConfig(cfg: RnnConfig): string {
  return `seed ${cfg.seed}: layout ${cfg.layout}, T ${cfg.T}, batch ${cfg.batch}, seqLens ${cfg.seqLens}, ${cfg.layers
    .map((l) => `${l.kind}/${l.direction}/H${l.hidden}${l.clip !== undefined ? '/clip' : ''}${l.activations ? `/${l.activations.map((a) => a.name).join('+')}` : ''}${l.linearBeforeReset ? '/lbr' : ''}${l.inputForget ? '/if' : ''}${l.peepholes ? '/P' : ''}`)
    .join(' > ')}`;
}

async function runRandom(backend: ConformanceBackend, seeds: number[], intCompatible: boolean): Promise<{ worst: number; count: Record<string, number> }> {
  let worst = 0;
  const count: Record<string, number> = { layout1: 0, padded: 0, bidirectional: 0, reverse: 0, stacked: 0, clip: 0, activations: 0, batch: 0 };
  for (const seed of seeds) {
    const cfg = randomConfig(seed, { intCompatible });
    const r = await runNodeTest(await oracleCase(cfg), { backend, runtime: rt });
    expect(r.error, `${describeConfig(cfg)}: ${r.error?.message}`).toBeUndefined();
    expect(r.passed, `${describeConfig(cfg)}: max |diff| ${r.maxDiff} > ${r.atol} (${JSON.stringify(r.outputs)})`).toBe(true);
    worst = Math.max(worst, r.maxDiff);
    count.layout1! += cfg.layout;
    count.padded! += cfg.seqLens === 'padded' ? 1 : 0;
    count.bidirectional! += cfg.layers.some((l) => l.direction === 'bidirectional') ? 1 : 0;
    count.reverse! += cfg.layers.some((l) => l.direction === 'reverse') ? 1 : 0;
    count.stacked! += cfg.layers.length > 1 ? 1 : 0;
    count.clip! += cfg.layers.some((l) => l.clip !== undefined) ? 1 : 0;
    count.activations! += cfg.layers.some((l) => l.activations) ? 1 : 0;
    count.batch! += cfg.batch > 1 ? 1 : 0;
  }
  return { worst, count };
}

describe('random recurrent graphs against onnxruntime-node', () => {
  it('240 configurations on the float reference (atol 1e-5)', async () => {
    const seeds = Array.from({ length: 240 }, (_, i) => i + 1);
    const { worst, count } = await runRandom('reference', seeds, false);
    // The generator must actually cover what it claims to.
    for (const [k, v] of Object.entries(count)) expect(v, k).toBeGreaterThanOrEqual(15);
    console.log(`random/reference: 240 configs, worst |diff| ${worst.toExponential(2)}, coverage ${JSON.stringify(count)}`);
  });

  it('80 configurations with default activations on simd, 40 on scalar (int8, calibrated on the inputs)', async () => {
    const a = await runRandom('simd', Array.from({ length: 80 }, (_, i) => 1000 + i), true);
    const b = await runRandom('scalar', Array.from({ length: 40 }, (_, i) => 2000 + i), true);
    console.log(`random/int8: worst |diff| simd ${a.worst.toExponential(2)}, scalar ${b.worst.toExponential(2)} (atol ${INT8_ATOL})`);
  });
});
