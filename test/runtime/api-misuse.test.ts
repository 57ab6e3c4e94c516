/**
 * Arguments a gateway gets wrong, or passes in a form the docs allow elsewhere: each is either
 * accepted and gives what the plain form gives, or refused with a typed error that changes
 * nothing. Never a TypeError or RangeError from inside the runtime.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, encodeModel, type Model, type Runtime } from '../../src/index.js';
import { errorCode } from '../helpers/errors.js';
import { randomQuantModel, randomSequences } from '../helpers/random-model.js';

let rt: Runtime;
let bytes: Uint8Array;
let I: number;
beforeAll(async () => {
  rt = await createRuntime();
  const m = randomQuantModel(1);
  bytes = encodeModel(m.int8);
  I = m.int8.input.size;
});

const code = errorCode;

const frames = (n: number, seed = 3) => randomSequences(seed, I, 1, n)[0]!;

describe.each(['simd', 'scalar', 'reference'] as const)('arguments on %s', (backend) => {
  let model: Model;
  beforeAll(async () => {
    model = await rt.load(bytes, { backend });
  });

  it('importState takes the state as an ArrayBuffer or any view, like load(); anything else is INVALID_ARGUMENT', async () => {
    const simd = await rt.load(bytes, { backend: 'simd' });
    const a = simd.session();
    a.run(frames(5));
    const saved = a.exportState();
    const want = Array.from(a.run(frames(4, 8)));
    // A state read back with fetch() or from IndexedDB is an ArrayBuffer; one in a larger buffer a view.
    const padded = new Uint8Array(saved.length + 8);
    padded.set(saved, 8);
    for (const form of [saved.slice().buffer, new DataView(padded.buffer, 8), new Uint16Array(saved.slice().buffer)]) {
      const s = model.session();
      s.importState(form);
      expect(s.steps).toBe(5);
      expect(Array.from(s.run(frames(4, 8)))).toEqual(want);
    }
    const s = model.session();
    const fresh = Array.from(s.exportState());
    for (const bad of [null, undefined, Array.from(saved), 'state', 42]) {
      expect(code(() => s.importState(bad as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    }
    expect(Array.from(s.exportState())).toEqual(fresh);
  });

  it('BigInt64Array frames, null frames and non-sessions are typed errors that change nothing', () => {
    const s = model.session();
    s.step(frames(1));
    const before = Array.from(s.exportState());
    expect(code(() => s.step(new BigInt64Array(I) as unknown as Float32Array))).toBe('SHAPE_MISMATCH');
    expect(code(() => s.run(new BigUint64Array(2 * I) as unknown as Float32Array))).toBe('SHAPE_MISMATCH');
    expect(code(() => s.run([frames(1), new BigInt64Array(I)] as unknown as Float32Array[]))).toBe('SHAPE_MISMATCH');
    expect(code(() => model.stepMany([s], new BigInt64Array(I) as unknown as Float32Array))).toBe('SHAPE_MISMATCH');
    expect(code(() => model.stepMany([s], null as unknown as Float32Array))).toBe('SHAPE_MISMATCH');
    expect(code(() => model.stepMany([s, undefined as unknown as typeof s], frames(2)))).toBe('INVALID_ARGUMENT');
    expect(Array.from(s.exportState())).toEqual(before);
  });

  it('stepMany and run take frames that lie in model.inputFrame(), also when sizing their buffers grows kernel memory', async () => {
    const m = await rt.load(bytes, { backend });
    const ref = await rt.load(bytes, { backend: 'reference' });
    const x = frames(1, 21);
    for (const call of ['stepMany', 'run'] as const) {
      const s = m.session();
      const r = ref.session();
      // Fill kernel memory to the brim, so the first batch or sequence buffers grow it.
      const keep = [];
      const k = (m.engine as unknown as { k?: { arena: { used: number; memory: WebAssembly.Memory } } }).k;
      if (k && 'arena' in k) while (k.arena.memory.buffer.byteLength > k.arena.used) keep.push(m.session());
      const f = m.inputFrame();
      f.set(x);
      const y = call === 'stepMany' ? m.stepMany([s], f) : s.run(f);
      expect(Array.from(y)).toEqual(Array.from(r.step(x)));
      for (const o of keep) o.dispose();
    }
  });
});
