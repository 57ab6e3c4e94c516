import { beforeAll, describe, expect, it } from 'vitest';
import { EdgeRnnError, createRuntime, encodeModel, type Model, type Runtime } from '../../src/index.js';
import { errorCode } from '../helpers/errors.js';
import { randomQuantModel, randomSequences } from '../helpers/random-model.js';

const BACKENDS = ['simd', 'scalar', 'reference'] as const;
let rt: Runtime;
let intBytes: Uint8Array;
let floatBytes: Uint8Array;
let otherBytes: Uint8Array;
let otherFloatBytes: Uint8Array;
let offlineBytes: Uint8Array;
let I: number;

beforeAll(async () => {
  rt = await createRuntime();
  const m = randomQuantModel(1); // lstm -> dense -> softmax
  intBytes = encodeModel(m.int8);
  floatBytes = encodeModel(m.float);
  I = m.int8.input.size;
  otherBytes = encodeModel(randomQuantModel(2).int8);
  otherFloatBytes = encodeModel(randomQuantModel(2).float);
  offlineBytes = encodeModel(randomQuantModel(1005, { offline: true }).int8);
});

const code = errorCode;

function frames(n: number, seed = 3): Float32Array {
  return randomSequences(seed, I, 1, n)[0]!;
}

// 'float': the float32 twin of the same model on the float reference engine (its own NaN paths).
describe.each([...BACKENDS, 'float'] as const)('sessions on %s', (backend) => {
  let model: Model;
  const own = () => (backend === 'float' ? floatBytes : intBytes);
  const other = () => (backend === 'float' ? otherFloatBytes : otherBytes);
  beforeAll(async () => {
    model = await rt.load(own(), { backend });
    expect(model.backend).toBe(backend);
  });

  it('reset() returns to the initial state', () => {
    const x = frames(6);
    const s = model.session();
    const first = s.run(x);
    s.run(frames(9, 4));
    s.reset();
    expect(Array.from(s.run(x))).toEqual(Array.from(first));
    expect(s.steps).toBe(6);
  });

  it('a frame of the wrong length throws SHAPE_MISMATCH and changes nothing', () => {
    const s = model.session();
    s.step(frames(1));
    const before = s.exportState();
    expect(code(() => s.step(new Float32Array(I + 1)))).toBe('SHAPE_MISMATCH');
    expect(code(() => s.step([]))).toBe('SHAPE_MISMATCH');
    expect(code(() => s.run(new Float32Array(I * 3 + 1)))).toBe('SHAPE_MISMATCH');
    expect(code(() => s.run([Array(I).fill(0), Array(I - 1).fill(0)]))).toBe('SHAPE_MISMATCH');
    expect(Array.from(s.exportState())).toEqual(Array.from(before));
  });

  it('NaN and ±Infinity throw NON_FINITE_INPUT by default and change nothing', () => {
    const s = model.session();
    s.run(frames(3));
    const before = s.exportState();
    for (const bad of [NaN, Infinity, -Infinity]) {
      const f = frames(1, 8);
      f[Math.min(2, I - 1)] = bad;
      expect(code(() => s.step(f))).toBe('NON_FINITE_INPUT');
      const seq = frames(5, 9);
      seq[3 * I] = bad;
      expect(code(() => s.run(seq))).toBe('NON_FINITE_INPUT');
    }
    expect(Array.from(s.exportState())).toEqual(Array.from(before));
    try {
      const f = frames(1, 8);
      f[0] = NaN;
      s.step(f);
    } catch (e) {
      expect((e as EdgeRnnError).details).toMatchObject({ feature: 0 });
      expect((e as EdgeRnnError).message).toMatch(/feature 0/);
    }
  });

  it('run() names the step and feature of a bad value in one chunk and across chunks, and changes nothing', () => {
    // One chunk (<= 256 steps): the kernels' quantization finds the frame, the engine the feature.
    // Longer: the engine checks every frame first (a later chunk's bad frame must not leave the
    // earlier chunks stepped).
    const s = model.session();
    s.run(frames(3));
    const before = s.exportState();
    const k = I - 1;
    for (const [T, t] of [[7, 5], [256, 255], [300, 280]] as const) {
      const seq = frames(T, 11);
      seq[t * I + k] = NaN;
      let err: unknown;
      try {
        s.run(seq);
      } catch (e) {
        err = e;
      }
      expect((err as EdgeRnnError).code, `T ${T}`).toBe('NON_FINITE_INPUT');
      expect((err as EdgeRnnError).message).toMatch(new RegExp(`step ${t} of the sequence feature ${k} `));
      expect(Array.from(s.exportState())).toEqual(Array.from(before));
    }
  });

  it('numbers beyond float32 (1e39, given as plain numbers) are refused like infinities, naming the value, in step, run and stepMany', () => {
    // Inputs are float32: 1e39 becomes Infinity when staged. run() used to return the outputs of
    // a sequence that never ran (the kernels refused it after the check on the plain numbers).
    const s = model.session();
    s.run(frames(3));
    const before = s.exportState();
    const want = model.session();
    want.importState(before);
    for (const bad of [1e39, -1e39, 3.4028235677973366e38]) {
      const f = Array.from(frames(1, 8));
      f[Math.min(2, I - 1)] = bad;
      expect(() => s.step(f)).toThrow(/step \d+ feature \d+ is .*beyond float32's range/);
      const seq = Array.from(frames(5, 9));
      seq[3 * I] = bad;
      expect(() => s.run(seq)).toThrow(/step 3 of the sequence feature \d+ is .*beyond float32's range/);
      const nested = Array.from({ length: 5 }, (_, t) => seq.slice(t * I, (t + 1) * I));
      expect(() => s.run(nested)).toThrow(/step 3 of the sequence feature \d+ is .*beyond float32's range/);
      const two = [...Array.from(frames(1, 2)), ...f];
      expect(() => model.stepMany([model.session(), s], two)).toThrow(/session 1 feature \d+ is .*beyond float32's range/);
    }
    // The largest float32 itself is a number like any other.
    const big = Array.from(frames(1, 8));
    big[0] = 3.4028234663852886e38;
    expect(code(() => model.session().step(big))).toBe('ok');
    expect(Array.from(s.exportState())).toEqual(Array.from(before));
    expect(Array.from(s.run(frames(4, 12)))).toEqual(Array.from(want.run(frames(4, 12))));
    // With 'zero' they count as 0, as infinities do.
    const z = model.session({ nonFinite: 'zero' });
    const y = Array.from(frames(3, 13));
    y[I] = 1e39;
    const zeroed = y.slice();
    zeroed[I] = 0;
    expect(Array.from(z.run(y))).toEqual(Array.from(model.session().run(zeroed)));
  });

  it("with nonFinite: 'zero', NaN and ±Infinity count as 0", () => {
    const a = model.session({ nonFinite: 'zero' });
    const b = model.session();
    const x = frames(4, 10);
    const y = x.slice();
    y[1] = NaN;
    y[I] = Infinity;
    y[2 * I] = -Infinity;
    const z = x.slice();
    z[1] = 0;
    z[I] = 0;
    z[2 * I] = 0;
    expect(Array.from(a.run(y))).toEqual(Array.from(b.run(z)));
  });

  it('exportState/importState continue a stream exactly; foreign or corrupt states are refused', async () => {
    const s = model.session();
    s.run(frames(7));
    const saved = s.exportState();
    expect(saved.length).toBe(32 + model.sizes.stateBytes);
    const next = frames(5, 11);
    const want = s.run(next);
    const t = model.session();
    t.importState(saved);
    expect(t.steps).toBe(7);
    expect(Array.from(t.run(next))).toEqual(Array.from(want));
    const otherModel = await rt.load(other(), { backend });
    expect(code(() => otherModel.session().importState(saved))).toBe('STATE_MISMATCH');
    const corrupt = saved.slice();
    corrupt[corrupt.length - 1]! ^= 1;
    expect(code(() => t.importState(corrupt))).toBe('STATE_MISMATCH');
    expect(code(() => t.importState(saved.slice(0, 20)))).toBe('STATE_MISMATCH');
    expect(code(() => t.importState(saved.slice(0, saved.length - 2)))).toBe('STATE_MISMATCH');
    // Not a state at all, and a state of another format version: named as such.
    const magic = saved.slice();
    magic[0]! ^= 0xff;
    expect(() => t.importState(magic)).toThrow(/wrong magic/);
    const version = saved.slice();
    version[4] = version[4]! + 1;
    expect(() => t.importState(version)).toThrow(/state version \d+, expected \d+/);
    expect(() => t.importState(new Uint8Array(0))).toThrow(/0 bytes is shorter than the \d+-byte header/);
    // A state class other than int (0) and float (1), its checksum made to match: it was read as float.
    const fnv = (b: Uint8Array, from: number, to: number, h = 0x811c9dc5): number => {
      for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
      return h;
    };
    const cls = saved.slice();
    cls[6] = 2;
    new DataView(cls.buffer).setUint32(28, fnv(cls, 32, cls.length, fnv(cls, 0, 28)), true);
    expect(() => t.importState(cls)).toThrow(/state class 2, expected 0 \(int\) or 1 \(float\)/);
    // A step count past 2^53 - 1 (no session makes one; it would not be exact), checksum matching.
    const steps = saved.slice();
    new DataView(steps.buffer).setUint32(24, 2 ** 21, true);
    new DataView(steps.buffer).setUint32(28, fnv(steps, 32, steps.length, fnv(steps, 0, 28)), true);
    expect(() => t.importState(steps)).toThrow(/step count 2097152 \* 2\^32 \+ 7 is past 2\^53 - 1/);
    // The same network in the other precision keeps its state in another format.
    const twin = await rt.load(backend === 'float' ? intBytes : floatBytes);
    expect(code(() => twin.session().importState(saved))).toBe('STATE_MISMATCH');
    expect(() => twin.session().importState(saved)).toThrow(backend === 'float' ? /it is a float state, this simd backend keeps int states/ : /it is an int state, this float backend keeps float states/);
  });

  it('stepMany validates everything before stepping anything', async () => {
    const sessions = [model.session(), model.session(), model.session()];
    const states = sessions.map((s) => s.exportState());
    const f = frames(3, 12);
    const good = new Float32Array(3 * I);
    good.set(f);
    const bad = good.slice();
    bad[2 * I + 1] = NaN;
    try {
      model.stepMany(sessions, bad);
      expect.fail('accepted NaN');
    } catch (e) {
      expect((e as EdgeRnnError).code).toBe('NON_FINITE_INPUT');
      expect((e as EdgeRnnError).message).toMatch(/session 2/);
    }
    expect(code(() => model.stepMany(sessions, good.subarray(1)))).toBe('SHAPE_MISMATCH');
    // One frame per session as separate arrays: the message says the frames go flat.
    expect(() => model.stepMany(sessions, [f.subarray(0, I), f.subarray(I, 2 * I), f.subarray(2 * I)] as unknown as Float32Array)).toThrow(/stepMany: the frames go flat.*got an array of 3 arrays/);
    const otherModel = await rt.load(other(), { backend });
    expect(code(() => model.stepMany([sessions[0]!, otherModel.session()], new Float32Array(2 * I)))).toBe('STATE_MISMATCH');
    sessions.forEach((s, i) => expect(Array.from(s.exportState())).toEqual(Array.from(states[i]!)));
    expect(model.stepMany(sessions, good)).toHaveLength(3 * model.outputSize);
    expect(sessions[0]!.steps).toBe(1);
  });

  it('stepMany with a session listed twice steps it twice, in order (as two step() calls)', () => {
    const f = frames(2, 14);
    const s = model.session();
    const rows = Array.from(model.stepMany([s, s], f));
    const t = model.session();
    const want = [...t.step(f.subarray(0, I)), ...t.step(f.subarray(I))];
    expect(rows).toEqual(want);
    expect(s.steps).toBe(2);
    expect(Array.from(s.exportState())).toEqual(Array.from(t.exportState()));
  });

  it("stepMany with nonFinite 'zero' steps bad values as 0; mixed policies each get their own", () => {
    const bad = frames(3, 13);
    bad[1] = NaN;
    bad[2 * I] = -Infinity;
    const zeroed = bad.slice();
    zeroed[1] = 0;
    zeroed[2 * I] = 0;
    const z = [0, 1, 2].map(() => model.session({ nonFinite: 'zero' }));
    const ref = [0, 1, 2].map(() => model.session());
    expect(Array.from(model.stepMany(z, bad))).toEqual(Array.from(model.stepMany(ref, zeroed)));
    // Session 0 asked for errors and its frame is bad: it throws, naming it, and nobody steps.
    const mixed = [model.session(), model.session({ nonFinite: 'zero' }), model.session({ nonFinite: 'zero' })];
    const before = mixed.map((s) => s.exportState());
    expect(() => model.stepMany(mixed, bad)).toThrow(/session 0 feature 1/);
    mixed.forEach((s, i) => expect(Array.from(s.exportState())).toEqual(Array.from(before[i]!)));
    // Its frame clean: the 'zero' sessions' bad values are zeroed, whatever session 0 asked for.
    const fixed = bad.slice();
    fixed[1] = zeroed[1]!;
    const want = Array.from(model.stepMany([0, 1, 2].map(() => model.session()), zeroed));
    expect(Array.from(model.stepMany(mixed, fixed))).toEqual(want);
    // The other way round: an 'error' session after 'zero' ones is not silently zeroed.
    const late = [model.session({ nonFinite: 'zero' }), model.session(), model.session()];
    expect(() => model.stepMany(late, bad)).toThrow(/session 2 feature 0/);
    // A number beyond float32 in an 'error' session among 'zero' ones: refused too (it was zeroed).
    const huge = Array.from(frames(2, 14));
    huge[I + 1] = 1e39;
    expect(() => model.stepMany([model.session({ nonFinite: 'zero' }), model.session()], huge)).toThrow(/session 1 feature 1 is 1e\+39, beyond float32's range/);
  });

  it('disposed sessions and models throw SESSION_DISPOSED; freed state slots are reused', async () => {
    const m = await rt.load(own(), { backend });
    const a = m.session();
    a.step(frames(1));
    a.dispose();
    a.dispose(); // idempotent
    expect(code(() => a.step(frames(1)))).toBe('SESSION_DISPOSED');
    const b = m.session();
    expect(b.steps).toBe(0);
    expect(Array.from(b.run(frames(2)))).toEqual(Array.from(m.session().run(frames(2))));
    m.dispose();
    expect(code(() => b.step(frames(1)))).toBe('SESSION_DISPOSED');
    expect(code(() => m.session())).toBe('SESSION_DISPOSED');
  });

  it('many sessions share one copy of the weights: each costs its state only', async () => {
    const m = await rt.load(own(), { backend });
    const sessions = Array.from({ length: 2000 }, () => m.session());
    const x = frames(1);
    for (const s of sessions) s.step(x);
    const first = sessions[0]!.exportState();
    for (const s of sessions) expect(Array.from(s.exportState())).toEqual(Array.from(first));
    if (backend === 'simd' || backend === 'scalar') {
      // 2000 states of stateBytes each, 16-byte aligned, plus the weights: nothing per session beyond that.
      const arena = (m.engine as unknown as { k: { arena: { used: number; base: number } } }).k.arena;
      const mem = arena.used - arena.base;
      expect(mem).toBeLessThan(m.sizes.weightBytes + 2000 * (Math.ceil(m.sizes.stateBytes / 16) * 16) + 64 * 1024);
    }
  });
});

describe.each([...BACKENDS, 'float'] as const)('zero-copy input frames on %s', (backend) => {
  let model: Model;
  beforeAll(async () => {
    model = await rt.load(backend === 'float' ? floatBytes : intBytes, { backend });
  });

  it('step() on model.inputFrame() gives exactly what step(frame) gives', () => {
    const x = frames(40, 11);
    const copied = model.session();
    const zero = model.session();
    const frame = model.inputFrame();
    expect(frame).toBeInstanceOf(Float32Array);
    expect(frame.length).toBe(I);
    if (backend === 'simd' || backend === 'scalar') {
      // The view lies in the kernels' WebAssembly memory: no copy between it and the kernels.
      const k = (model.engine as unknown as { k: { arena: { memory: WebAssembly.Memory } } }).k;
      expect(frame.buffer).toBe(k.arena.memory.buffer);
    }
    for (let t = 0; t < 40; t++) {
      const want = Array.from(copied.step(x.subarray(t * I, (t + 1) * I)));
      frame.set(x.subarray(t * I, (t + 1) * I));
      expect(Array.from(zero.step())).toEqual(want);
    }
    expect(zero.steps).toBe(40);
    expect(Array.from(zero.exportState().subarray(32))).toEqual(Array.from(copied.exportState().subarray(32)));
  });

  it('a view detached by memory growth, or never requested, throws INPUT_FRAME_STALE', async () => {
    const m = await rt.load(backend === 'float' ? floatBytes : intBytes, { backend });
    const s = m.session();
    expect(code(() => s.step())).toBe('INPUT_FRAME_STALE');
    const frame = m.inputFrame();
    frame.set(frames(1));
    const keep = Array.from(s.step());
    // Thousands of sessions grow the kernel memory, which detaches views into it.
    const more = Array.from({ length: 3000 }, () => m.session());
    if (backend === 'simd' || backend === 'scalar') {
      expect(frame.length).toBe(0);
      expect(code(() => s.step())).toBe('INPUT_FRAME_STALE');
    }
    const again = m.inputFrame();
    again.set(frames(1));
    s.reset();
    expect(Array.from(s.step())).toEqual(keep);
    for (const x of more) x.dispose();
  });

  it('an explicit undefined frame is a SHAPE_MISMATCH, not a zero-copy step', () => {
    const s = model.session();
    model.inputFrame().set(frames(1));
    const frameAt = (t: number): Float32Array | undefined => [frames(1)][t];
    expect(code(() => s.step(frameAt(1)))).toBe('SHAPE_MISMATCH');
    expect(s.steps).toBe(0);
  });

  it("NaN in the input frame: NON_FINITE_INPUT and nothing changed; with nonFinite 'zero' it is zeroed in place", async () => {
    const s = model.session();
    const before = s.exportState();
    const frame = model.inputFrame();
    frame.set(frames(1));
    frame[1] = Number.NaN;
    let err: unknown;
    try {
      s.step();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EdgeRnnError);
    expect((err as EdgeRnnError).code).toBe('NON_FINITE_INPUT');
    expect((err as EdgeRnnError).details).toMatchObject({ feature: 1 });
    expect(Array.from(s.exportState())).toEqual(Array.from(before));

    const z = await rt.load(backend === 'float' ? floatBytes : intBytes, { backend, nonFinite: 'zero' });
    const clean = frames(1);
    clean[1] = 0;
    const want = Array.from(z.session().step(clean));
    const zf = z.inputFrame();
    zf.set(frames(1));
    zf[1] = Number.POSITIVE_INFINITY;
    expect(Array.from(z.session().step())).toEqual(want);
    expect(zf[1]).toBe(0);
  });
});

describe('backend choice and model kinds', () => {
  it('float32 models run on the float reference; integer backends refuse them, and vice versa', async () => {
    const f = await rt.load(floatBytes);
    expect(f.backend).toBe('float');
    expect((await rt.load(floatBytes, { backend: 'reference' })).backend).toBe('float');
    await expect(rt.load(floatBytes, { backend: 'simd' })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    await expect(rt.load(intBytes, { backend: 'float' })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect((await rt.load(intBytes)).backend).toBe('simd');
  });

  it('float sessions validate, export and import like integer ones', async () => {
    const m = await rt.load(floatBytes);
    const s = m.session();
    expect(code(() => s.step(new Float32Array(I - 1)))).toBe('SHAPE_MISMATCH');
    const f = frames(1);
    f[0] = NaN;
    expect(code(() => s.step(f))).toBe('NON_FINITE_INPUT');
    s.run(frames(5));
    const saved = s.exportState();
    const want = s.run(frames(3, 5));
    const t = m.session();
    t.importState(saved);
    expect(Array.from(t.run(frames(3, 5)))).toEqual(Array.from(want));
  });

  it('bidirectional models refuse step() with NOT_STREAMABLE and run whole sequences', async () => {
    const m = await rt.load(offlineBytes);
    const s = m.session();
    expect(m.streamable).toBe(false);
    expect(code(() => s.step(new Float32Array(m.inputSize)))).toBe('NOT_STREAMABLE');
    expect(code(() => m.stepMany([s], new Float32Array(m.inputSize)))).toBe('NOT_STREAMABLE');
    const x = randomSequences(4, m.inputSize, 1, 9)[0]!;
    const a = s.run(x);
    expect(Array.from(s.run(x))).toEqual(Array.from(a)); // no state carried between runs
  });

  it('createRuntimeSync and loadSync give the same models as the asynchronous path', async () => {
    const { createRuntimeSync } = await import('../../src/index.js');
    const rs = createRuntimeSync();
    const x = randomSequences(6, I, 1, 7)[0]!;
    for (const backend of ['simd', 'scalar', 'reference'] as const) {
      const a = rs.loadSync(intBytes, { backend });
      const b = await rt.load(intBytes, { backend });
      expect(a.backend).toBe(backend);
      expect(Array.from(a.session().run(x))).toEqual(Array.from(b.session().run(x)));
    }
    expect(rs.loadSync(floatBytes).backend).toBe('float');
    expect(code(() => rs.loadSync(intBytes.slice(0, 30)))).toBe('ERN_TRUNCATED');
  });

  it('unknown backend names are refused with the list of choices', async () => {
    await expect(createRuntime({ backend: 'gpu' as never })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    // ... by load() and loadSync() too (it reached WebAssembly.compile as a TypeError).
    await expect(rt.load(intBytes, { backend: 'gpu' as never })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: "model.ern: unknown backend 'gpu': expected auto, simd, scalar, reference, float" });
    expect(() => rt.loadSync(intBytes, { backend: 'gpu' as never })).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE' }));
  });

  it('load() takes a Uint8Array, a Buffer, an ArrayBuffer or any view of the bytes; anything else is INVALID_ARGUMENT', async () => {
    const ab = intBytes.slice().buffer;
    const inner = new Uint8Array(intBytes.length + 8);
    inner.set(intBytes, 8);
    for (const file of [intBytes, Buffer.from(intBytes), ab, new DataView(inner.buffer, 8), new Uint8Array(inner.buffer, 8)]) {
      expect((await rt.load(file)).outputSize).toBeGreaterThan(0);
      expect(rt.loadSync(file).outputSize).toBeGreaterThan(0);
    }
    for (const [file, got] of [
      [undefined, 'undefined'],
      [null, 'null'],
      ['model.ern', 'string'],
      [Array.from(intBytes), 'an array'],
      [{ bytes: intBytes }, 'a Object'],
    ] as const) {
      await expect(rt.load(file as never, { source: 'm.ern' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: `m.ern: load() takes the file's bytes (a Uint8Array, Buffer or ArrayBuffer), got ${got}` });
      expect(() => rt.loadSync(file as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  // What the code accepts, the declarations accept (`tsc --noEmit -p .` checks this test): a
  // SharedArrayBuffer was refused by load()'s type, and exportState() was typed
  // Uint8Array<ArrayBufferLike>, so `importState(saved.buffer)` and `new Blob([saved])` did not compile.
  it('load() takes a SharedArrayBuffer, and exportState() bytes are ArrayBuffer-backed (Blob, importState(saved.buffer))', async () => {
    const sab = new SharedArrayBuffer(intBytes.length);
    new Uint8Array(sab).set(intBytes);
    const m = await rt.load(sab);
    expect(rt.loadSync(sab).sha256).toBe(m.sha256);
    const s = m.session();
    s.run(frames(3));
    const saved = s.exportState();
    const buffer: ArrayBuffer = saved.buffer;
    expect(new Blob([saved]).size).toBe(saved.length);
    const t = m.session();
    t.importState(buffer);
    expect(t.steps).toBe(3);
    const shared = new SharedArrayBuffer(saved.length);
    new Uint8Array(shared).set(saved);
    m.session().importState(shared);
    const encoded: ArrayBuffer = encodeModel(randomQuantModel(2).int8).buffer;
    expect((await rt.load(encoded)).inputSize).toBeGreaterThan(0);
    m.dispose();
  });

  it('a misspelt nonFinite policy or weight storage is refused, not taken as some other value', async () => {
    await expect(rt.load(intBytes, { nonFinite: 'zeros' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: `model.ern: nonFinite must be 'error' or 'zero', got "zeros"` });
    await expect(rt.load(intBytes, { weightStorage: 'compact' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const m = await rt.load(intBytes);
    expect(() => m.session({ nonFinite: 'ignore' as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // run() with something that is not a sequence, or with a frame that is not an array.
    const s = m.session();
    for (const [seq, got] of [[undefined, 'undefined'], ['abc', 'string'], [null, 'null']] as const) {
      expect(() => s.run(seq as never)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', message: expect.stringContaining(`run() takes a sequence of frames ([steps][${m.inputSize}] or ${m.inputSize}·steps numbers flat), got ${got}`) }));
    }
    expect(() => s.run([new Float32Array(m.inputSize), null] as never)).toThrow(/frame 1 is null, expected \d+ values/);
    expect(s.steps).toBe(0);
    // A frame that is not an array: named, even when its length happens to fit.
    expect(() => m.session().step('x'.repeat(m.inputSize) as never)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', message: expect.stringMatching(/a frame is \d+ numbers \(a Float32Array or an array\), got a string/) }));
    m.dispose();
  });
});

describe('session state header fields a forged or odd state exercises (mutation-testing review, 2026-11-27)', () => {
  /** The header checksum as the runtime writes it: FNV-1a 32 over bytes 0..28, continued over the body. */
  const reseal = (b: Uint8Array) => {
    const fnv = (from: number, to: number, h = 0x811c9dc5) => {
      for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
      return h >>> 0;
    };
    new DataView(b.buffer, b.byteOffset).setUint32(28, fnv(32, b.length, fnv(0, 28)), true);
    return b;
  };

  it('a step count past 2^32 goes through export and import whole', async () => {
    const model = await rt.load(intBytes, { backend: 'reference' });
    const s = model.session();
    s.run(frames(3));
    const saved = s.exportState();
    const steps = 2 ** 32 + 5;
    const dv = new DataView(saved.buffer);
    dv.setUint32(20, steps % 2 ** 32, true);
    dv.setUint32(24, Math.floor(steps / 2 ** 32), true);
    const t = model.session();
    t.importState(reseal(saved));
    expect(t.steps).toBe(steps);
    t.step(frames(1));
    const again = new DataView(t.exportState().buffer);
    expect(again.getUint32(20, true) + again.getUint32(24, true) * 2 ** 32).toBe(steps + 1);
  });

  it('a state whose model id differs in its last byte, or with a byte appended (checksum recomputed), is STATE_MISMATCH', async () => {
    const model = await rt.load(intBytes, { backend: 'reference' });
    const s = model.session();
    s.run(frames(2));
    const saved = s.exportState();
    const id = saved.slice();
    id[15]! ^= 1;
    expect(code(() => model.session().importState(reseal(id)))).toBe('STATE_MISMATCH');
    const longer = new Uint8Array(saved.length + 1);
    longer.set(saved);
    expect(code(() => model.session().importState(reseal(longer)))).toBe('STATE_MISMATCH');
  });

  it('steps of a model with bidirectional layers count the last run() only (each starts from the initial state)', async () => {
    const model = await rt.load(offlineBytes, { backend: 'reference' });
    const s = model.session();
    const x = randomSequences(9, model.inputSize, 1, 5)[0]!;
    s.run(x);
    s.run(x);
    expect(s.steps).toBe(5);
  });
});
