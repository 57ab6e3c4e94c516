/**
 * Kernel memory over a gateway's lifetime: devices join one at a time, models are loaded and
 * disposed over days. Memory is checked as facts (bytes in the arena, what the collector can
 * take back), never as timings.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrateAbsMax, createRuntime, encodeModel, quantizeModel, type Model, type Runtime } from '../../src/index.js';
import type { ModelSpec } from '../../src/model/spec.js';
import type { Engine } from '../../src/runtime/engine.js';
import { IntEngine, RUN_CHUNK } from '../../src/runtime/int/engine.js';
import { prepareIntModel } from '../../src/runtime/int/prepare.js';
import { ReferenceKernels } from '../../src/runtime/int/reference-kernels.js';
import { kernelBinaries } from '../../src/runtime/runtime.js';
import { WasmArena } from '../../src/runtime/wasm/arena.js';
import { WasmKernels, instantiateKernelsSync } from '../../src/runtime/wasm/kernels.js';
import { errorCode } from '../helpers/errors.js';
import { Rng } from '../../src/util/rng.js';
import { randomQuantModel, randomRecurrent, randomSequences } from '../helpers/random-model.js';

interface Internals {
  k: { arena: { used: number; base: number; memory: WebAssembly.Memory; alloc(bytes: number): number } };
}
const arenaOf = (m: Model) => (m.engine as unknown as Internals).k.arena;

let rt: Runtime;
let bytes: Uint8Array;
beforeAll(async () => {
  rt = await createRuntime();
  bytes = encodeModel(randomQuantModel(1).int8);
});

describe.each(['simd', 'scalar'] as const)('kernel memory on %s', (backend) => {
  it('stepMany over a batch that gains one session per call keeps memory linear in the batch', async () => {
    const m = await rt.load(bytes, { backend });
    const arena = arenaOf(m);
    const start = arena.used;
    const sessions = [];
    const n = 400;
    for (let i = 1; i <= n; i++) {
      sessions.push(m.session());
      m.stepMany(sessions, new Float32Array(i * m.inputSize));
    }
    // States, plus the batch buffers (frames in, int16 frames, outputs, state pointers) at most
    // twice their final size: every earlier size left behind came to 10 MB here.
    const states = n * Math.ceil(m.sizes.stateBytes / 16) * 16;
    const batch = n * (4 * m.inputSize + 2 * (m.inputSize + 16) + 4 * (m.outputSize + 8) + 4);
    expect(arena.used - start).toBeLessThan(states + 2 * batch + 64 * 1024);
  });

  it('sessions dropped without dispose() give their state blocks back when the collector takes them', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const m = await rt.load(bytes, { backend });
    const arena = arenaOf(m);
    const n = 2000;
    const forget = () => {
      for (let i = 0; i < n; i++) m.session().step(new Float32Array(m.inputSize));
    };
    forget();
    const afterFirst = arena.used;
    // Finalizers run in a later task, after a collection that found the sessions unreachable.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 0));
      gc();
    }
    await new Promise((r) => setTimeout(r, 0));
    const kept = Array.from({ length: n }, () => m.session());
    // The blocks came back to the free list: the new sessions take them (they were a leak of
    // n blocks before).
    expect(arena.used - afterFirst).toBeLessThan(n * 16);
    // A disposed session is not freed a second time when it is collected.
    for (const s of kept.splice(0, 10)) s.dispose();
    gc();
    await new Promise((r) => setTimeout(r, 0));
    const again = Array.from({ length: 20 }, () => m.session());
    expect(new Set(again.map((s) => (s.engineState() as unknown as { ptr: number }).ptr)).size).toBe(20);
    m.dispose();
  });

  it('a disposed model lets go of its kernel instance while its sessions are still referenced', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    let m: Model | null = await rt.load(bytes, { backend });
    const s = m.session();
    s.step(new Float32Array(m.inputSize));
    m.inputFrame();
    const memory = new WeakRef(arenaOf(m).memory);
    m.dispose();
    m = null;
    // WeakRef targets live to the end of the current job.
    await new Promise((r) => setTimeout(r, 0));
    gc();
    expect(memory.deref()).toBeUndefined();
    expect(s.model.isDisposed).toBe(true);
    expect(() => s.step(new Float32Array(s.model.inputSize))).toThrow(expect.objectContaining({ code: 'SESSION_DISPOSED' }));
    expect(() => s.model.verifyGolden()).toThrow(expect.objectContaining({ code: 'SESSION_DISPOSED' }));
    s.dispose();
  });
});

describe.each(['simd', 'scalar'] as const)('long sequences through run() on %s', (backend) => {
  it('a 20,000-step run of a bidirectional model takes no more kernel memory than a run of RUN_CHUNK steps', async () => {
    // Regression: run() of a model with bidirectional layers sized its kernel scratch for the
    // whole sequence (frames, input projections, activations), and WASM memory never shrinks:
    // 10^6 steps of a bidirectional GRU 40 -> 64 kept 1.5 GiB until dispose(); this model's
    // 20,000 steps took 9.4 MiB. Now each layer's sequence passes through the kernels a chunk at
    // a time and waits in JavaScript memory (collected after the call) in between.
    const rng = new Rng(21);
    const I = 5;
    const layers: ModelSpec['layers'] = [
      randomRecurrent(rng, 'lstm', I, 12, 'forward'),
      randomRecurrent(rng, 'gru', 12, 16, 'bidirectional'),
      { kind: 'dense', inputSize: 32, outputSize: 3, activation: 'none', float: { W: rng.float32(96, -0.3, 0.3), B: rng.float32(3, -0.1, 0.1) } },
    ];
    const float: ModelSpec = { name: 'bidi', version: '0.0.1', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', layers, training: {} };
    const model = encodeModel(quantizeModel(float, calibrateAbsMax(float, randomSequences(3, I, 2, 16))));
    const m = await rt.load(model, { backend });
    expect(m.streamable).toBe(false);
    const arena = arenaOf(m);
    const s = m.session();
    s.run(randomSequences(4, I, 1, RUN_CHUNK)[0]!);
    const pages = arena.memory.buffer.byteLength;
    const used = arena.used;
    const T = 20_000;
    const x = randomSequences(5, I, 1, T)[0]!;
    const out = s.run(x);
    expect(arena.memory.buffer.byteLength).toBe(pages);
    expect(arena.used).toBe(used);
    const ref = await rt.load(model, { backend: 'reference' });
    expect(Buffer.from(out.buffer).equals(Buffer.from(ref.session().run(x).buffer))).toBe(true);
  });
});

describe.each(['simd', 'scalar'] as const)('kernel addresses from 2 GiB up on %s', (build) => {
  // A gateway's arena can pass 2 GiB (a long bidirectional sequence, many big batches). Growing
  // the memory only reserves it, so the test lays a model out above 2 GiB without touching more
  // than the model: its arena starts there, as if everything below were in use.
  const high = (P: ReturnType<typeof prepareIntModel>): Engine => {
    const x = instantiateKernelsSync(new WebAssembly.Module(kernelBinaries()[build]));
    const base = 2 ** 31 + 65536;
    x.memory.grow(base / 65536 + 1 - x.memory.buffer.byteLength / 65536);
    return new IntEngine(P, new WasmKernels({ ...x, heap_base: () => base }, build, P));
  };
  const sameAsReference = (spec: ModelSpec, T: number, batch: boolean) => {
    const P = prepareIntModel(spec);
    const engines = [high(P), new IntEngine(P, new ReferenceKernels(P))];
    const I = spec.input.size;
    const x = randomSequences(7, I, 1, T)[0]!;
    const outs = engines.map((e) => {
      const out = new Float32Array(T * e.outputSize);
      if (batch) {
        const states = [e.allocState(), e.allocState()];
        for (let t = 0; t < T; t += 2) e.stepMany(states, x.subarray(t * I, (t + 2) * I), out.subarray(t * e.outputSize), 'error');
      } else e.run(e.allocState(), x, T, out, 'error');
      return Array.from(out);
    });
    expect(outs[0]).toEqual(outs[1]);
  };

  it('stepMany on a streaming model equals the reference', () => {
    sameAsReference(randomQuantModel(1).int8, 12, true);
  });

  it('run() of a model ending in a bidirectional layer equals the reference', () => {
    // A forward LSTM (its state in the session) under a bidirectional GRU (offline directions
    // start from initial states copied in), no dense head: run() copies the last layer's rows out.
    const rng = new Rng(4);
    const layers = [randomRecurrent(rng, 'lstm', 6, 11, 'forward'), randomRecurrent(rng, 'gru', 11, 9, 'bidirectional')];
    for (const l of layers) l.float!.initialH = rng.float32(l.float!.W.length / (l.kind === 'lstm' ? 4 : 3) / l.inputSize, -0.9, 0.9);
    const float: ModelSpec = { name: 'high', version: '0.0.1', task: 'custom', labels: [], input: { size: 6, frontend: { kind: 'none' } }, precision: 'float32', layers, training: {} };
    sameAsReference(quantizeModel(float, calibrateAbsMax(float, randomSequences(2, 6, 2, 10))), 9, false);
  });
});

describe('kernel memory that cannot grow', () => {
  it('is a KERNEL_MEMORY error, not a RangeError, and the arena stays as it was', () => {
    // A memory with a maximum: memory.grow() throws a real RangeError past it.
    const arena = new WasmArena(new WebAssembly.Memory({ initial: 1, maximum: 2 }), 0);
    arena.alloc(1000);
    const used = arena.used;
    expect(errorCode(() => arena.alloc(2 * 65536))).toBe('KERNEL_MEMORY');
    expect(arena.used).toBe(used);
    const p = arena.alloc(65536); // what still fits in two pages
    expect(p).toBe(used);
  });

  it('says by how much it could not grow, in pages, and what to do, wherever it happens', () => {
    const arena = new WasmArena(new WebAssembly.Memory({ initial: 3, maximum: 3 }), 0);
    let message = '';
    try {
      arena.alloc(4 * 65536 + 1);
    } catch (e) {
      message = (e as Error).message;
    }
    // Before: "cannot grow from 0.2 MiB to 0.2 MiB" (one decimal hid the difference), and advice
    // about sequences given during a model's load too.
    expect(message).toMatch(/from 3 to 5 pages of 64 KiB \(0\.19 -> 0\.31 MiB\)/);
    expect(message).toMatch(/fewer or smaller models/);
  });

  it.each(['simd', 'scalar'] as const)('on %s: a sequence, batch or session beyond it is KERNEL_MEMORY; the model keeps working', async (backend) => {
    const offline = await rt.load(encodeModel(randomQuantModel(1005, { offline: true }).int8), { backend });
    const streaming = await rt.load(bytes, { backend });
    const ref = await rt.load(bytes, { backend: 'reference' });
    const I = streaming.inputSize;
    const x = randomSequences(5, I, 1, 2)[0]!;
    for (const m of [offline, streaming]) {
      // The engine grants no more memory (as at 4 GiB, or in a browser tab under pressure).
      const memory = arenaOf(m).memory as WebAssembly.Memory & { grow: (pages: number) => number };
      const keep = [m.session()];
      memory.grow = () => {
        throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
      };
      const free = memory.buffer.byteLength - arenaOf(m).used;
      if (m === offline) {
        // A sequence needs kernel scratch for one chunk of RUN_CHUNK steps, whatever its length:
        // take the free bytes, so that not even one chunk fits.
        if (free > 0) arenaOf(m).alloc(free);
        expect(errorCode(() => keep[0]!.run(new Float32Array(4 * RUN_CHUNK * offline.inputSize)))).toBe('KERNEL_MEMORY');
      } else {
        expect(errorCode(() => m.stepMany(Array(Math.ceil(free / (4 * I))).fill(keep[0]), new Float32Array(Math.ceil(free / (4 * I)) * I)))).toBe('KERNEL_MEMORY');
        expect(keep[0]!.steps).toBe(0);
        expect(errorCode(() => {
          for (;;) keep.push(m.session());
        })).toBe('KERNEL_MEMORY');
      }
      delete (memory as { grow?: unknown }).grow; // the prototype's again
      for (const s of keep) s.dispose();
    }
    // Smaller calls work as before, and give what they gave.
    const s = streaming.session();
    expect(Array.from(streaming.stepMany([s, streaming.session()], [...x.subarray(0, I), ...x.subarray(0, I)]))).toEqual(Array.from(ref.stepMany([ref.session(), ref.session()], [...x.subarray(0, I), ...x.subarray(0, I)])));
    expect(offline.session().run(x.subarray(0, offline.inputSize * 2))).toHaveLength(2 * offline.outputSize);
  });
});

describe.each(['simd', 'scalar'] as const)('the golden check on %s (2026-11-27 review)', (backend) => {
  it("leaves a streaming model's kernel memory about as long a golden vector found it", async () => {
    // Through one run() of the whole golden vector, a model only ever stepped kept sequence
    // buffers for every golden step for its life: a GRU 40 -> 128 with 64 golden steps, 0.2 MB
    // (a GRU 64 -> 512 with 49 steps: 27 pages of kernel memory, 19 in pieces of 8 steps).
    const rng = new Rng(3);
    const float: ModelSpec = { name: 'g', version: '0.0.1', task: 'custom', labels: [], input: { size: 40, frontend: { kind: 'none' } }, precision: 'float32', layers: [randomRecurrent(rng, 'gru', 40, 128, 'forward')], training: {} };
    const q = quantizeModel(float, calibrateAbsMax(float, randomSequences(2, 40, 2, 10)));
    const used = async (steps: number) => arenaOf(await rt.load(encodeModel(q, { goldenSteps: steps }), { backend })).used;
    expect((await used(64)) - (await used(2))).toBeLessThan(32 * 1024);
  });
});

