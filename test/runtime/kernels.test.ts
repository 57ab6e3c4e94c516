/**
 * One suite, every integer implementation: the SIMD and scalar WASM builds must agree bit for bit
 * with the TypeScript integer reference on random models (every layer option, odd sizes) and
 * random inputs, in step(), run() and stepMany(), and states must move between them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateAbsMax, createRuntime, defaultActivations, encodeModel, kernelBinaries, quantizeModel, type Model, type ModelSpec, type Runtime } from '../../src/index.js';
import { Rng } from '../../src/util/rng.js';
import { sigmoidQ15, tanhQ15 } from '../../src/runtime/fixed-point.js';
import { prepareIntModel, type PreparedRecurrent } from '../../src/runtime/int/prepare.js';
import { instantiateKernels, WasmKernels } from '../../src/runtime/wasm/kernels.js';
import { RUN_CHUNK } from '../../src/runtime/int/engine.js';
import { randomQuantModel, randomRecurrent, randomSequences } from '../helpers/random-model.js';

const INT_BACKENDS = ['reference', 'scalar', 'simd'] as const;
const STREAM_SEEDS = 150;
const OFFLINE_SEEDS = 60;

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('kernel builds', () => {
  it('this engine validates the SIMD build, so auto picks simd', async () => {
    expect(rt.simdSupported).toBe(true);
    expect(rt.intBackend).toBe('simd');
  });

  it('falls back to scalar when the engine rejects SIMD', async () => {
    // The runtime probes only the SIMD build; an engine without SIMD rejects it.
    const noSimd = await createRuntime({ validate: () => false });
    expect(noSimd.simdSupported).toBe(false);
    expect(noSimd.intBackend).toBe('scalar');
    const { int8 } = randomQuantModel(1);
    const m = await noSimd.load(encodeModel(int8));
    expect(m.backend).toBe('scalar');
    await expect(noSimd.load(encodeModel(int8), { backend: 'simd' })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });

  for (const build of ['simd', 'scalar'] as const) {
    it(`${build}: fixed-point sigmoid and tanh agree with the reference on all 65536 inputs`, async () => {
      const bins = kernelBinaries();
      const x = await instantiateKernels(await WebAssembly.compile(build === 'simd' ? bins.simd : bins.scalar));
      const base = x.heap_base() + 64;
      const pages = Math.ceil((base + 65536 * 4) / 65536);
      x.memory.grow(pages);
      const mem = new Int16Array(x.memory.buffer);
      const inOff = Math.ceil(base / 16) * 16;
      const outOff = inOff + 65536 * 2;
      for (let i = 0; i < 65536; i++) mem[inOff / 2 + i] = i - 32768;
      for (const [which, ref] of [
        [0, sigmoidQ15],
        [1, tanhQ15],
      ] as const) {
        x.activate_array(which, inOff, 65536, outOff);
        const out = new Int16Array(x.memory.buffer, outOff, 65536);
        for (let i = 0; i < 65536; i++) {
          if (out[i] !== ref(i - 32768)) expect.fail(`${build} ${which ? 'tanh' : 'sigmoid'}(${i - 32768}) = ${out[i]}, reference ${ref(i - 32768)}`);
        }
      }
    });
  }
});

async function loadAll(bytes: Uint8Array): Promise<Record<(typeof INT_BACKENDS)[number], Model>> {
  const out = {} as Record<(typeof INT_BACKENDS)[number], Model>;
  for (const b of INT_BACKENDS) {
    out[b] = await rt.load(bytes, { backend: b });
    expect(out[b].backend).toBe(b);
  }
  return out;
}

describe('bit-exact across reference, scalar and simd (streaming models)', () => {
  for (let seed = 0; seed < STREAM_SEEDS; seed++) {
    it(`random model ${seed}`, async () => {
      const { int8 } = randomQuantModel(seed);
      const models = await loadAll(encodeModel(int8));
      const I = int8.input.size;
      const [seqA, seqB, seqC] = randomSequences(seed + 7, I, 3, 17);
      // Inputs beyond the calibrated range saturate identically everywhere.
      seqB!.forEach((v, i) => (seqB![i] = v * (i % 5 === 0 ? 50 : 1)));
      const ref = models.reference;
      const O = ref.outputSize;
      const refRun = ref.session().run(seqA!);
      for (const b of ['scalar', 'simd'] as const) {
        const m = models[b];
        // run()
        expect(sameBits(m.session().run(seqA!), refRun), `${b} run`).toBe(true);
        // step() == run()
        const s = m.session();
        const stepped = new Float32Array(refRun.length);
        for (let t = 0; t < 17; t++) stepped.set(s.step(seqA!.subarray(t * I, (t + 1) * I)), t * O);
        expect(sameBits(stepped, refRun), `${b} step`).toBe(true);
        // stepMany over three streams == three separate sessions
        const sessions = [m.session(), m.session(), m.session()];
        const refSessions = [ref.session(), ref.session(), ref.session()];
        for (let t = 0; t < 17; t++) {
          const frames = new Float32Array(3 * I);
          [seqA!, seqB!, seqC!].forEach((q, i) => frames.set(q.subarray(t * I, (t + 1) * I), i * I));
          const got = m.stepMany(sessions, frames).slice();
          const want = new Float32Array(3 * O);
          refSessions.forEach((rs, i) => want.set(rs.step(frames.subarray(i * I, (i + 1) * I)), i * O));
          expect(sameBits(got, want), `${b} stepMany t=${t}`).toBe(true);
        }
        // a state moves from this backend to the reference mid-stream and continues identically
        const moved = ref.session();
        moved.importState(sessions[1]!.exportState());
        const cont = randomSequences(seed + 9, I, 1, 5)[0]!;
        expect(sameBits(moved.run(cont), sessions[1]!.run(cont)), `${b} state hand-off`).toBe(true);
      }
    });
  }
});

describe('bit-exact across reference, scalar and simd (bidirectional and reverse models)', () => {
  for (let seed = 1000; seed < 1000 + OFFLINE_SEEDS; seed++) {
    it(`random offline model ${seed}`, async () => {
      const { int8 } = randomQuantModel(seed, { offline: true });
      const models = await loadAll(encodeModel(int8));
      const seq = randomSequences(seed + 3, int8.input.size, 1, 23)[0]!;
      const want = models.reference.session().run(seq);
      for (const b of ['scalar', 'simd'] as const) expect(sameBits(models[b].session().run(seq), want), b).toBe(true);
    });
  }
});

/** Zeroes a random fraction of 4x8 blocks of every int8 weight matrix (block-sparse models). */
function pruneBlocks(spec: ModelSpec, fraction: number, seed: number): ModelSpec {
  const rng = new Rng(seed);
  const zeroBlocks = (q: Int8Array, rows: number, cols: number) => {
    for (let r0 = 0; r0 < rows; r0 += 4) {
      for (let c0 = 0; c0 < cols; c0 += 8) {
        if (rng.next() >= fraction) continue;
        for (let r = r0; r < Math.min(r0 + 4, rows); r++) for (let c = c0; c < Math.min(c0 + 8, cols); c++) q[r * cols + c] = 0;
      }
    }
  };
  for (const l of spec.layers) {
    if (l.kind === 'dense' && l.quant) zeroBlocks(l.quant.Wq, l.outputSize, l.inputSize);
    if ((l.kind === 'gru' || l.kind === 'lstm' || l.kind === 'rnn') && l.quant) {
      const rows = l.quant.Wscale.length;
      zeroBlocks(l.quant.Wq, rows, l.inputSize);
      zeroBlocks(l.quant.Rq, rows, l.hiddenSize);
    }
  }
  return spec;
}

describe('block-sparse weight storage is bit-exact with dense', () => {
  for (let seed = 2000; seed < 2040; seed++) {
    it(`random model ${seed}, ${(seed % 4) * 25}% of blocks zeroed`, async () => {
      const { int8 } = randomQuantModel(seed, { offline: seed % 5 === 0, maxHidden: 70, maxInput: 45 });
      const bytes = encodeModel(pruneBlocks(int8, (seed % 4) * 0.25, seed));
      const ref = await rt.load(bytes, { backend: 'reference' });
      const seq = randomSequences(seed, int8.input.size, 1, 13)[0]!;
      const want = ref.session().run(seq);
      for (const backend of ['simd', 'scalar'] as const) {
        for (const weightStorage of ['sparse', 'dense', 'auto'] as const) {
          const m = await rt.load(bytes, { backend, weightStorage });
          expect(sameBits(m.session().run(seq), want), `${backend} ${weightStorage}`).toBe(true);
          if (m.streamable) {
            const s = m.session();
            const I = m.inputSize;
            const got = new Float32Array(want.length);
            for (let t = 0; t < 13; t++) got.set(s.step(seq.subarray(t * I, (t + 1) * I)), t * m.outputSize);
            expect(sameBits(got, want), `${backend} ${weightStorage} step`).toBe(true);
          }
        }
      }
    });
  }
});

describe('long sequences cross run() chunk boundaries identically', () => {
  it('300 steps through run() equal 300 step() calls on every backend', async () => {
    const { int8 } = randomQuantModel(77, { maxLayers: 2 });
    const models = await loadAll(encodeModel(int8));
    const I = int8.input.size;
    const seq = randomSequences(5, I, 1, 300)[0]!;
    const want = models.reference.session().run(seq);
    for (const b of INT_BACKENDS) {
      const s = models[b].session();
      const got = new Float32Array(want.length);
      for (let t = 0; t < 300; t++) got.set(s.step(seq.subarray(t * I, (t + 1) * I)), t * models[b].outputSize);
      expect(sameBits(got, want), b).toBe(true);
      expect(sameBits(models[b].session().run(seq), want), `${b} run`).toBe(true);
    }
  });
});

describe('run() chunk boundaries change no result', () => {
  // run() holds at most RUN_CHUNK steps in kernel memory: streamable models carry their state
  // from chunk to chunk; models with bidirectional or reverse layers pass each layer's sequence
  // through the kernels a chunk at a time (backward directions from the last chunk). Lengths
  // around one and two chunks, against oracles that do not chunk: the reference stepped frame
  // by frame (streamable models), the reference's run() of the whole sequence at once (offline).
  const lengths = [RUN_CHUNK - 1, RUN_CHUNK, RUN_CHUNK + 1, 2 * RUN_CHUNK + 3];
  const dense = (rng: Rng, I: number, O: number, activation: 'none' | 'tanh'): ModelSpec['layers'][number] => ({ kind: 'dense', inputSize: I, outputSize: O, activation, float: { W: rng.float32(O * I, -0.5, 0.5), B: rng.float32(O, -0.1, 0.1) } });
  const cases: [string, (rng: Rng) => ModelSpec['layers']][] = [
    ['gru', (rng) => [randomRecurrent(rng, 'gru', 7, 19, 'forward'), dense(rng, 19, 4, 'none')]],
    ['lstm', (rng) => [randomRecurrent(rng, 'lstm', 7, 13, 'forward'), dense(rng, 13, 3, 'none')]],
    ['bidirectional gru', (rng) => [randomRecurrent(rng, 'gru', 7, 11, 'bidirectional'), dense(rng, 22, 5, 'none')]],
    ['bidirectional lstm, the last layer', (rng) => [randomRecurrent(rng, 'lstm', 7, 9, 'bidirectional')]],
    [
      'stacked: forward lstm, reverse gru, dense, bidirectional gru, dense',
      (rng) => [randomRecurrent(rng, 'lstm', 7, 10, 'forward'), randomRecurrent(rng, 'gru', 10, 12, 'reverse'), dense(rng, 12, 9, 'tanh'), randomRecurrent(rng, 'gru', 9, 8, 'bidirectional'), dense(rng, 16, 3, 'none')],
    ],
    ['stacked forward: rnn, gru', (rng) => [randomRecurrent(rng, 'rnn', 7, 6, 'forward'), randomRecurrent(rng, 'gru', 6, 14, 'forward')]],
  ];
  cases.forEach(([name, layers], i) => {
    it(name, async () => {
      const rng = new Rng(40 + i);
      const float = floatModel(name, 7, layers(rng));
      const int8 = quantizeModel(float, calibrateAbsMax(float, randomSequences(i, 7, 2, 16)));
      const models = await loadAll(encodeModel(int8));
      const ref = models.reference;
      for (const T of lengths) {
        const seq = randomSequences(100 + T, 7, 1, T)[0]!;
        const oracle = ref.session();
        let want: Float32Array;
        if (ref.streamable) {
          want = new Float32Array(T * ref.outputSize);
          for (let t = 0; t < T; t++) want.set(oracle.step(seq.subarray(t * 7, (t + 1) * 7)), t * ref.outputSize);
        } else want = oracle.run(seq);
        for (const b of INT_BACKENDS) {
          const s = models[b].session();
          expect(sameBits(s.run(seq), want), `${b}, ${T} steps`).toBe(true);
          // The state left behind (forward layers) too: it continues the stream.
          expect(Array.from(s.exportState()), `${b} state, ${T} steps`).toEqual(Array.from(oracle.exportState()));
        }
      }
      // Missing values in the second chunk under policy 'zero' (zeroed as each chunk is loaded).
      const T = 2 * RUN_CHUNK + 3;
      const holes = randomSequences(7, 7, 1, T)[0]!;
      holes[(RUN_CHUNK + 1) * 7 + 2] = NaN;
      holes[T * 7 - 1] = Infinity;
      const want = ref.session({ nonFinite: 'zero' }).run(holes);
      for (const b of ['scalar', 'simd'] as const) expect(sameBits(models[b].session({ nonFinite: 'zero' }).run(holes), want), `${b} 'zero'`).toBe(true);
    });
  });
});

/** A float32 model of these layers on `inputSize` plain features. */
function floatModel(name: string, inputSize: number, layers: ModelSpec['layers']): ModelSpec {
  return { name, version: '1.0.0', task: 'custom', labels: [], input: { size: inputSize, frontend: { kind: 'none' } }, precision: 'float32', training: {}, layers };
}

describe('the requantization clamp (skipped by the SIMD kernels only where it provably never binds)', () => {
  const layoutOf = async (spec: ModelSpec) => {
    const P = prepareIntModel(spec);
    return new WasmKernels(await instantiateKernels(await WebAssembly.compile(kernelBinaries().simd)), 'simd', P).layout.requant;
  };

  it('the random models above mostly skip it, so the bit-exact suite covers that path', async () => {
    let matrices = 0;
    let free = 0;
    for (let seed = 0; seed < 40; seed++) {
      const r = await layoutOf(randomQuantModel(seed).int8);
      matrices += r.matrices;
      free += r.clampFree;
    }
    expect(free).toBeGreaterThan(matrices / 2);
  });

  it('a model whose accumulators pass it keeps it, and stays bit-exact where the clamp binds', async () => {
    // Input weights ~±200 against inputs calibrated to ±1000: pre-activations up to ~10^6, far
    // past the clamp's ±2^18 (real units), so a skipped clamp would wrap int32 sums.
    const rng = new Rng(11);
    const I = 8;
    const H = 8;
    const spec = floatModel('clamp', I, [
      { kind: 'gru', inputSize: I, hiddenSize: H, direction: 'forward', activations: defaultActivations('gru', 1), linearBeforeReset: true, float: { W: rng.float32(3 * H * I, -200, 200), R: rng.float32(3 * H * H, -0.5, 0.5), B: rng.float32(6 * H, -0.1, 0.1) } },
      { kind: 'lstm', inputSize: H, hiddenSize: H, direction: 'forward', activations: defaultActivations('lstm', 1), float: { W: rng.float32(4 * H * H, -0.5, 0.5), R: rng.float32(4 * H * H, -0.5, 0.5) } },
      { kind: 'dense', inputSize: H, outputSize: 3, activation: 'none', float: { W: rng.float32(3 * H, -1, 1), B: rng.float32(3, -0.1, 0.1) } },
    ]);
    const T = 40;
    const frames = new Float32Array(T * I);
    for (let i = 0; i < frames.length; i++) frames[i] = (rng.next() < 0.5 ? -1 : 1) * (rng.next() < 0.3 ? 1000 : rng.uniform(0, 1000));
    const int8 = quantizeModel(spec, calibrateAbsMax(spec, [frames]));
    const r = await layoutOf(int8);
    expect(r.clampFree).toBeLessThan(r.matrices); // the GRU's input matrix keeps its clamp
    expect(r.clampFree).toBeGreaterThan(0); // the others do not need it
    // The clamp binds for these frames: some row's accumulator passes it.
    const P = prepareIntModel(int8);
    const gru = P.layers[0] as PreparedRecurrent;
    const d = gru.directions[0]!;
    let binds = false;
    for (let t = 0; t < T && !binds; t++) {
      const q = Array.from({ length: I }, (_, k) => Math.round(frames[t * I + k]! * P.inputInvScale[k]!));
      for (let j = 0; j < 3 * gru.Hp && !binds; j++) {
        let acc = d.bx[j]!;
        for (let k = 0; k < I; k++) acc += d.W[j * gru.Ip + k]! * q[k]!;
        binds = Math.abs(acc) > d.mx.clamp;
      }
    }
    expect(binds).toBe(true);
    const models = await loadAll(encodeModel(int8));
    const want = models.reference.session().run(frames);
    for (const b of ['scalar', 'simd'] as const) {
      expect(sameBits(models[b].session().run(frames), want), `${b} run`).toBe(true);
      const s = models[b].session();
      const got = new Float32Array(want.length);
      for (let t = 0; t < T; t++) got.set(s.step(frames.subarray(t * I, (t + 1) * I)), t * models[b].outputSize);
      expect(sameBits(got, want), `${b} step`).toBe(true);
    }
  });
});

describe('the int32 accumulator bound', () => {
  it('counts int8 weights of -128 (a file may hold them): 515 inputs at -128 can wrap int32 and are refused', () => {
    // 128 · 515 · 32768 = 2,160,066,560 > 2^31 - 1, while 127 · 515 · 32768 fits: the quick
    // bound used to assume |w| <= 127 and skip summing the rows.
    const I = 515;
    const H = 4;
    const rng = new Rng(3);
    const spec = floatModel('wide', I, [{ kind: 'rnn', inputSize: I, hiddenSize: H, direction: 'forward', activations: defaultActivations('rnn', 1), float: { W: rng.float32(H * I, -0.01, 0.01), R: rng.float32(H * H, -0.5, 0.5) } }]);
    const int8 = quantizeModel(spec, calibrateAbsMax(spec, [rng.float32(2 * I, -1, 1)]));
    expect(() => prepareIntModel(int8)).not.toThrow();
    const layer = int8.layers[0] as { quant: { Wq: Int8Array } };
    layer.quant.Wq.fill(-128, 0, I); // row 0
    expect(() => prepareIntModel(int8)).toThrow(/row 0: worst-case accumulator 2160066560 exceeds int32/);
  });
});
