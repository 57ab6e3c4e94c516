/**
 * The runtime over a gateway's life: models loaded and disposed (over-the-air updates), sessions
 * created and dropped as devices come and go. Memory is checked as facts (bytes of kernel
 * memory, what the collector can take back), never as timings.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, createRuntimeSync, encodeModel, type Model } from '../../src/index.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { Rng } from '../../src/util/rng.js';
import { randomQuantModel, randomRecurrent } from '../helpers/random-model.js';

interface Internals {
  k: { arena: { used: number; memory: WebAssembly.Memory } };
}
const arenaOf = (m: Model) => (m.engine as unknown as Internals).k.arena;

function collector(): () => Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  // WeakRef targets live to the end of the current job; finalizers run in a later task.
  return async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 0));
      gc();
    }
    await new Promise((r) => setTimeout(r, 0));
  };
}

let small: Uint8Array;
/** A float32 GRU 64 -> 384: a 2 MB file, bigger than the memory a kernel instance starts with. */
let big: Uint8Array;
beforeAll(() => {
  small = encodeModel(randomQuantModel(1).int8);
  const rng = new Rng(8);
  const spec: ModelSpec = { name: 'big', version: '0.0.1', task: 'custom', labels: [], input: { size: 64, frontend: { kind: 'none' } }, precision: 'float32', layers: [randomRecurrent(rng, 'gru', 64, 384, 'forward')], training: {} };
  big = encodeModel(spec, { goldenSteps: 2 });
});

describe('the kernel instance that checksums files', () => {
  it('does not keep a big file\'s size of kernel memory: not in the runtime, not in the next model', async () => {
    // Regression: the file is copied into kernel memory to be hashed, and WASM memory never
    // shrinks. After a 10 MB float model the runtime held 10 MB, and the next int8 model, which
    // takes that instance over, ran a 29 KB model in 10 MB for its whole life.
    expect(big.length).toBeGreaterThan(1.5 * 2 ** 20);
    const rt = await createRuntime();
    const first = await rt.load(small, { backend: rt.intBackend });
    const usual = arenaOf(first).memory.buffer.byteLength;
    first.dispose();
    (await rt.load(big, { source: 'big.ern' })).dispose();
    const next = await rt.load(small, { backend: rt.intBackend });
    expect(arenaOf(next).memory.buffer.byteLength).toBe(usual);
    // A big file refused after its checksum was computed (a corrupt download) leaves nothing either.
    const corrupt = big.slice();
    corrupt[corrupt.length - 1]! ^= 1;
    await expect(rt.load(corrupt)).rejects.toMatchObject({ code: 'ERN_CHECKSUM' });
    expect(arenaOf(await rt.load(small, { backend: rt.intBackend })).memory.buffer.byteLength).toBe(usual);
    // The synchronous path alike.
    const rs = createRuntimeSync();
    rs.loadSync(big).dispose();
    expect(arenaOf(rs.loadSync(small, { backend: rs.intBackend })).memory.buffer.byteLength).toBe(usual);
  });

  it('refused more memory for a big file: KERNEL_MEMORY naming the file, not a RangeError; smaller files still load', async () => {
    const rt = await createRuntime();
    const rs = createRuntimeSync();
    const grow = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'grow')!;
    // The engine grants no more memory (a browser tab under memory pressure).
    Object.defineProperty(WebAssembly.Memory.prototype, 'grow', {
      configurable: true,
      value: () => {
        throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
      },
    });
    try {
      await expect(rt.load(big, { source: 'big.ern' })).rejects.toMatchObject({ code: 'KERNEL_MEMORY', message: expect.stringMatching(/^big\.ern: kernel memory cannot grow .* to checksum a 2\.0 MiB file/) });
      expect(() => rs.loadSync(big, { source: 'big.ern' })).toThrow(expect.objectContaining({ code: 'KERNEL_MEMORY', message: expect.stringMatching(/^big\.ern: /) }));
    } finally {
      Object.defineProperty(WebAssembly.Memory.prototype, 'grow', grow);
    }
    const m = await rt.load(small);
    expect(m.session().step(new Float32Array(m.inputSize))).toHaveLength(m.outputSize);
    expect(rs.loadSync(small).session().step(new Float32Array(m.inputSize))).toHaveLength(m.outputSize);
    expect((await rt.load(big)).backend).toBe('float');
  });
});

describe.each(['simd', 'scalar'] as const)('loads and disposals on %s', (backend) => {
  it('300 load, step, dispose cycles: one kernel memory per model, each collected after dispose()', async () => {
    const collect = collector();
    const rt = await createRuntime();
    const memories: WeakRef<WebAssembly.Memory>[] = [];
    for (let i = 0; i < 300; i++) {
      const m = await rt.load(small, { backend });
      const s = m.session();
      s.step(new Float32Array(m.inputSize));
      memories.push(new WeakRef(arenaOf(m).memory));
      s.dispose();
      m.dispose();
    }
    await collect();
    expect(memories.filter((w) => w.deref() !== undefined)).toHaveLength(0);
  });

  it('10^5 sessions created and disposed on one model take the kernel memory of one', async () => {
    const rt = await createRuntime();
    const m = await rt.load(small, { backend });
    const arena = arenaOf(m);
    const before = arena.used;
    const frame = new Float32Array(m.inputSize);
    for (let i = 0; i < 100_000; i++) {
      const s = m.session();
      if (i % 100 === 0) s.step(frame);
      s.dispose();
    }
    expect(arena.used - before).toBeLessThanOrEqual(Math.ceil(m.sizes.stateBytes / 16) * 16);
    m.dispose();
  });
});

describe('a model replaced by an update', () => {
  it.each(['simd', 'scalar', 'reference'] as const)('on %s: stepMany on the new model with a session of the disposed old one is SESSION_DISPOSED, as its step() is', async (backend) => {
    // Was STATE_MISMATCH ("another load of model ..."): a gateway that recreates sessions on
    // SESSION_DISPOSED after swapping models met a second code for the same stale session.
    const rt = await createRuntime();
    const old = await rt.load(small, { backend });
    const stale = old.session();
    old.dispose();
    const next = await rt.load(small, { backend });
    const fresh = next.session();
    const frames = new Float32Array(2 * next.inputSize);
    expect(() => stale.step(frames.subarray(0, next.inputSize))).toThrow(expect.objectContaining({ code: 'SESSION_DISPOSED' }));
    expect(() => next.stepMany([fresh, stale], frames)).toThrow(expect.objectContaining({ code: 'SESSION_DISPOSED', message: expect.stringMatching(/session 1 is of a disposed model/), details: { index: 1 } }));
    expect(fresh.steps).toBe(0);
    // A live model's session stays STATE_MISMATCH.
    const other = (await rt.load(small, { backend })).session();
    expect(() => next.stepMany([fresh, other], frames)).toThrow(expect.objectContaining({ code: 'STATE_MISMATCH' }));
  });
});

describe.each(['simd', 'scalar'] as const)('a zero-copy frame view held while devices join, on %s', (backend) => {
  it('passed to step(view), run(view) or stepMany after kernel memory grew: INPUT_FRAME_STALE, not "got 0 values" or an empty run', async () => {
    const rt = await createRuntime();
    const m = await rt.load(small, { backend });
    const s = m.session();
    const view = m.inputFrame();
    view.fill(0.5);
    s.step(view);
    const more = Array.from({ length: 3000 }, () => m.session()); // grows kernel memory: the view is detached
    expect(view.length).toBe(0);
    expect(() => s.step(view)).toThrow(expect.objectContaining({ code: 'INPUT_FRAME_STALE', message: expect.stringMatching(/call model\.inputFrame\(\) again/) }));
    expect(() => s.run(view)).toThrow(expect.objectContaining({ code: 'INPUT_FRAME_STALE' })); // was an empty result, no error
    expect(() => m.stepMany([s], view)).toThrow(expect.objectContaining({ code: 'INPUT_FRAME_STALE' }));
    expect(s.steps).toBe(1);
    // Any other frame of the wrong length is still SHAPE_MISMATCH.
    expect(() => s.step(new Float32Array(0))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    const again = m.inputFrame();
    again.fill(0.5);
    expect(s.step(again)).toHaveLength(m.outputSize);
    for (const x of more) x.dispose();
  });
});
