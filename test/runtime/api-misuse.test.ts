/**
 * Arguments a gateway gets wrong, or passes in a form the docs allow elsewhere: each is either
 * accepted and gives what the plain form gives, or refused with a typed error that changes
 * nothing. Never a TypeError or RangeError from inside the runtime.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Session, createRuntime, createRuntimeSync, encodeModel, loadModel, type Model, type Runtime } from '../../src/index.js';
import { errorCode, errorMessage } from '../helpers/errors.js';
import { randomQuantModel, randomSequences } from '../helpers/random-model.js';

let rt: Runtime;
let bytes: Uint8Array;
let floatBytes: Uint8Array;
let I: number;
beforeAll(async () => {
  rt = await createRuntime();
  const m = randomQuantModel(1);
  bytes = encodeModel(m.int8);
  floatBytes = encodeModel(m.float);
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

// 'float': the float32 twin of the model on the float engine, which reads frames directly.
describe.each(['simd', 'scalar', 'reference', 'float'] as const)('frame values on %s', (backend) => {
  let model: Model;
  beforeAll(async () => {
    model = await rt.load(backend === 'float' ? floatBytes : bytes, { backend });
  });
  const plain = (seed = 3) => Array.from(frames(1, seed)) as unknown[];

  it('values that are not numbers (strings, booleans, nested arrays, BigInts) are SHAPE_MISMATCH naming them, under either policy, and change nothing', () => {
    const sequence3d = [Array.from({ length: I }, () => plain())]; // [batch][steps][features] with steps == features
    const one = (v: unknown) => {
      const f = plain();
      f[2] = v;
      return f;
    };
    const foreignBigInts = vm.runInNewContext(`new BigInt64Array(${I})`) as unknown[];
    for (const nonFinite of ['error', 'zero'] as const) {
      const s = model.session({ nonFinite });
      s.step(frames(1));
      const before = Array.from(s.exportState());
      for (const [bad, what] of [
        [one('0.5'), /step 1 feature 2 is a string \("0\.5"\), not a number/],
        [one(true), /step 1 feature 2 is a boolean \(true\), not a number/],
        [one([0.5]), /step 1 feature 2 is an array of 1 \(frames nest one level/],
        [one(5n), /step 1 feature 2 is a bigint \(5n\), not a number/],
      ] as const) {
        expect(errorMessage(() => s.step(bad as number[]), 'SHAPE_MISMATCH')).toMatch(what);
        expect(errorMessage(() => s.run([plain(), bad] as number[][]), 'SHAPE_MISMATCH')).toMatch(/step 1 of the sequence feature 2 is/);
        expect(errorMessage(() => s.run([...plain(), ...(bad as unknown[])] as number[]), 'SHAPE_MISMATCH')).toMatch(/step 1 of the sequence feature 2 is/);
        expect(errorMessage(() => model.stepMany([model.session({ nonFinite }), s], [...plain(), ...(bad as unknown[])] as number[]), 'SHAPE_MISMATCH')).toMatch(/session 1 feature 2 is/);
      }
      // A batch of sequences given to run(), [1][I][I]: once read as NaN (or as zeros under 'zero').
      expect(errorMessage(() => s.run(sequence3d as unknown as number[][]), 'SHAPE_MISMATCH')).toMatch(/frame 0 is itself a sequence of \d+ frames: run\(\) takes one sequence/);
      expect(errorMessage(() => s.run([[plain(), plain()]] as unknown as number[][]), 'SHAPE_MISMATCH')).toMatch(/frame 0 is itself a sequence of 2 frames/);
      // A BigInt64Array of another realm (a vm context, an iframe): once a TypeError.
      expect(code(() => s.step(foreignBigInts as number[]))).toBe('SHAPE_MISMATCH');
      expect(code(() => s.run(foreignBigInts as number[]))).toBe('SHAPE_MISMATCH');
      expect(Array.from(s.exportState())).toEqual(before);
      expect(s.steps).toBe(1);
    }
  });

  it("null and holes in a plain array are missing values: NON_FINITE_INPUT under 'error', 0 under 'zero', in step, run and stepMany alike", () => {
    const x = plain(5);
    const withNull = x.slice();
    withNull[1] = null; // JSON.stringify writes NaN as null
    const withHole = x.slice();
    withHole[1] = null;
    delete withHole[3];
    for (const f of [withNull, withHole]) {
      const want = Array.from(model.session().step(Array.from(f, (v) => v ?? 0) as number[]));
      const s = model.session();
      const before = Array.from(s.exportState());
      expect(errorMessage(() => s.step(f as number[]), 'NON_FINITE_INPUT')).toMatch(/step 0 feature 1 is null \(a missing value\)/);
      expect(errorMessage(() => s.run([...plain(), ...f] as number[]), 'NON_FINITE_INPUT')).toMatch(/step 1 of the sequence feature 1 is null/);
      expect(errorMessage(() => s.run([plain(), f] as number[][]), 'NON_FINITE_INPUT')).toMatch(/step 1 of the sequence feature 1 is null/);
      expect(errorMessage(() => model.stepMany([model.session(), s], [...plain(), ...f] as number[]), 'NON_FINITE_INPUT')).toMatch(/session 1 feature 1 is null/);
      // Mixed policies: the 'error' session's missing value is refused, not zeroed with the others'.
      expect(errorMessage(() => model.stepMany([model.session({ nonFinite: 'zero' }), s], [...plain(), ...f] as number[]), 'NON_FINITE_INPUT')).toMatch(/session 1 feature 1 is null/);
      expect(Array.from(s.exportState())).toEqual(before);
      const z = () => model.session({ nonFinite: 'zero' });
      expect(Array.from(z().step(f as number[]))).toEqual(want);
      expect(Array.from(z().run(f as number[]))).toEqual(want);
      expect(Array.from(z().run([f] as number[][]))).toEqual(want);
      expect(Array.from(model.stepMany([z()], f as number[]))).toEqual(want);
    }
    const s = model.session();
    expect(errorMessage(() => s.step(withHole.map((v, k) => (k === 1 ? 0 : v)) as number[]), 'NON_FINITE_INPUT')).toMatch(/step 0 feature 3 is undefined \(a missing value\)/);
    // A flat sequence whose very first value is missing is still flat.
    const lead = [null, ...x.slice(1)];
    expect(errorMessage(() => s.run(lead as number[]), 'NON_FINITE_INPUT')).toMatch(/step 0 of the sequence feature 0 is null/);
    expect(Array.from(model.session({ nonFinite: 'zero' }).run(lead as number[]))).toEqual(Array.from(model.session().run([0, ...x.slice(1)] as number[])));
  });
});

describe('stepMany, session and option arguments', () => {
  it('stepMany names what is wrong with its sessions: not an array, a disposed one (by index), one of another load of the same file', async () => {
    const m = await rt.load(bytes);
    const twin = await rt.load(bytes); // same file, same name: another model all the same
    const a = m.session();
    const b = m.session();
    const before = Array.from(a.exportState());
    for (const bad of [null, undefined, 42, 'sessions']) {
      expect(errorMessage(() => m.stepMany(bad as unknown as [], []), 'INVALID_ARGUMENT')).toMatch(/stepMany: sessions are an array of sessions/);
    }
    // An array-like of sessions is stepped like the array (it once stepped, then threw a TypeError counting steps).
    const c = m.session();
    const want = Array.from(m.session().step(frames(1)));
    expect(Array.from(m.stepMany({ length: 1, 0: c } as unknown as [], frames(1)))).toEqual(want);
    expect(c.steps).toBe(1);
    b.dispose();
    expect(b.isDisposed).toBe(true);
    expect(a.isDisposed).toBe(false);
    expect(errorMessage(() => m.stepMany([a, b], frames(2)), 'SESSION_DISPOSED')).toMatch(/stepMany: session 1 was disposed/);
    expect(errorMessage(() => m.stepMany([a, twin.session()], frames(2)), 'STATE_MISMATCH')).toMatch(/session 1 belongs to another load of model 'random-1'/);
    expect(Array.from(a.exportState())).toEqual(before);
    expect(a.steps).toBe(0);
  });

  it('options that are not an object (null) are INVALID_ARGUMENT, not a TypeError', async () => {
    const m = await rt.load(bytes);
    expect(code(() => m.session(null as unknown as {}))).toBe('INVALID_ARGUMENT');
    // A policy or backend name where the options go: once silently the default.
    expect(code(() => m.session('zero' as unknown as {}))).toBe('INVALID_ARGUMENT');
    expect(code(() => createRuntimeSync('scalar' as unknown as {}))).toBe('INVALID_ARGUMENT');
    expect(code(() => rt.loadSync(bytes, null as unknown as {}))).toBe('INVALID_ARGUMENT');
    expect(code(() => createRuntimeSync(null as unknown as {}))).toBe('INVALID_ARGUMENT');
    await expect(rt.load(bytes, null as unknown as {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/load\(\): options are an object, got null/) });
    await expect(rt.load(bytes, 'simd' as unknown as {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(createRuntime(null as unknown as {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(loadModel(bytes, null as unknown as {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // A validate that is not a function was called all the same: a TypeError from inside.
    for (const validate of [true, 'simd', {}]) {
      expect(() => createRuntimeSync({ validate } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^createRuntime\(\): validate is a function \(bytes\) => boolean, got a (boolean|string|Object)$/) }));
      await expect(createRuntime({ validate } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('a misspelt option name is INVALID_ARGUMENT naming it, not silently the default', async () => {
    const m = await rt.load(bytes);
    expect(errorMessage(() => rt.loadSync(bytes, { weightstorage: 'dense' } as {}), 'INVALID_ARGUMENT')).toMatch(/loadSync\(\): unknown option 'weightstorage' \(did you mean 'weightStorage'\?\): the options are backend, source, nonFinite, weightStorage/);
    await expect(rt.load(bytes, { backed: 'scalar' } as {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/unknown option 'backed'/) });
    await expect(loadModel(bytes, { nonfinite: 'zero' } as {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/did you mean 'nonFinite'/) });
    expect(errorMessage(() => m.session({ nonfinite: 'zero' } as {}), 'INVALID_ARGUMENT')).toMatch(/session\(\): unknown option 'nonfinite' \(did you mean 'nonFinite'\?\)/);
    expect(code(() => createRuntimeSync({ Backend: 'scalar' } as {}))).toBe('INVALID_ARGUMENT');
    // A known option left undefined, or an unknown one, is no option.
    expect(rt.loadSync(bytes, { backend: undefined, extra: undefined } as {}).backend).toBe(rt.intBackend);
    expect(m.session({ nonFinite: undefined } as {}).nonFinite).toBe('error');
  });

  it('an option value JSON cannot write (a BigInt, a cycle) is named in the INVALID_ARGUMENT, not a TypeError from the message', async () => {
    const m = await rt.load(bytes);
    const cycle: { self?: unknown } = {};
    cycle.self = cycle;
    expect(errorMessage(() => m.session({ nonFinite: 1n } as never), 'INVALID_ARGUMENT')).toBe("model 'random-1': session(): nonFinite must be 'error' or 'zero', got 1n");
    expect(errorMessage(() => new Session(m, [1n] as never), 'INVALID_ARGUMENT')).toBe("model 'random-1': session(): nonFinite must be 'error' or 'zero', got a Array");
    expect(errorMessage(() => rt.loadSync(bytes, { nonFinite: cycle } as never), 'INVALID_ARGUMENT')).toBe("model.ern: nonFinite must be 'error' or 'zero', got a Object");
    await expect(rt.load(bytes, { weightStorage: 2n } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: "model.ern: weightStorage must be 'auto', 'dense' or 'sparse', got 2n" });
  });

  it('new Session(model) is model.session(): the model\'s policy, a checked one, a disposed model refused, the block freed when collected', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const zero = await rt.load(bytes, { backend: 'scalar', nonFinite: 'zero' });
    // Without a policy, the model's (it was undefined: NaN zeroed on a model that asked for errors).
    expect(new Session(await rt.load(bytes)).nonFinite).toBe('error');
    expect(new Session(zero).nonFinite).toBe('zero');
    expect(code(() => new Session(zero, 'Zero' as 'zero'))).toBe('INVALID_ARGUMENT');
    expect(code(() => new Session({} as Model))).toBe('INVALID_ARGUMENT');
    const s = new Session(await rt.load(bytes));
    const bad = frames(1);
    bad[0] = NaN;
    expect(code(() => s.step(bad))).toBe('NON_FINITE_INPUT');
    // Dropped undisposed, its block comes back like a model.session()'s (it was a leak).
    const arena = (zero.engine as unknown as { k: { arena: { used: number } } }).k.arena;
    for (let i = 0; i < 500; i++) new Session(zero).step(frames(1));
    const used = arena.used;
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 0));
      gc();
    }
    await new Promise((r) => setTimeout(r, 0));
    const kept = Array.from({ length: 500 }, () => new Session(zero));
    expect(arena.used - used).toBeLessThan(500 * 16);
    kept.forEach((k) => k.dispose());
    zero.dispose();
    expect(code(() => new Session(zero))).toBe('SESSION_DISPOSED');
  });

  it.each(['simd', 'scalar', 'reference'] as const)('verifyGolden() on %s leaves a frame written into inputFrame() for the next zero-copy step()', async (backend) => {
    const m = await rt.load(bytes, { backend });
    const x = frames(1, 17);
    const want = Array.from(m.session().step(x));
    const s = m.session();
    m.inputFrame().set(x);
    m.verifyGolden();
    expect(Array.from(s.step())).toEqual(want);
  });
});

describe('the bytes a model was loaded from', () => {
  it.each(['simd', 'scalar', 'reference', 'float'] as const)('are the caller\'s again once load() or loadSync() returns on %s: reusing them changes no model, spec or golden check', async (backend) => {
    const file = backend === 'float' ? floatBytes : bytes;
    const x = frames(4, 19);
    for (const sync of [false, true]) {
      const buf = Buffer.from(file); // a reader that reuses one Buffer for file after file
      const m = sync ? rt.loadSync(buf, { backend }) : await rt.load(buf, { backend });
      const want = Array.from(m.session().run(x));
      const spec = JSON.stringify(m.spec, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v));
      buf.fill(0x41);
      expect(Array.from(m.session().run(x))).toEqual(want);
      expect(JSON.stringify(m.spec, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v))).toBe(spec);
      expect(() => m.verifyGolden()).not.toThrow();
    }
  });

  it('are read when load() is called: the buffer refilled with the next file before the load settles loads the first', async () => {
    const other = encodeModel(randomQuantModel(2).int8);
    const buf = new Uint8Array(Math.max(bytes.length, other.length));
    buf.set(bytes);
    const first = rt.load(buf.subarray(0, bytes.length));
    buf.set(other);
    const second = rt.load(buf.subarray(0, other.length));
    const [a, b] = await Promise.all([first, second]);
    expect(a.sha256).toBe((await rt.load(bytes)).sha256);
    expect(b.sha256).toBe((await rt.load(other)).sha256);
  });
});

describe('an engine without WebAssembly', () => {
  // node --jitless, iOS Lockdown Mode, Edge's enhanced security: createRuntime() threw
  // "ReferenceError: WebAssembly is not defined", and `edgernn info` printed a stack trace.
  it('createRuntime() and createRuntimeSync() are BACKEND_UNAVAILABLE saying so', async () => {
    const g = globalThis as { WebAssembly?: unknown };
    const saved = g.WebAssembly;
    delete g.WebAssembly;
    try {
      const message = /^this JavaScript engine has no WebAssembly \(node --jitless, or a browser mode that turns it off\)/;
      expect(() => createRuntimeSync()).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(message) }));
      await expect(createRuntime({ backend: 'reference' })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(message) });
      await expect(loadModel(bytes)).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    } finally {
      g.WebAssembly = saved;
    }
    expect((await createRuntime()).simdSupported).toBe(true);
  });
});

/** The built entry's file URL (dist/ as `npm run build` makes it; `npm test` builds first). */
const distUrl = (file: string): string => pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist', file)).href;

describe('the minified runtime bundles (edgernn/runtime, ESM and CommonJS)', () => {
  // Their classes printed as `me {...}`, and messages named them so: "session 0 is a ye, not a
  // session"; a Model of one bundle passed to another's Session was "got a me".
  it('keep the class names in console output and messages, and say when a Model or Session is of another copy', async () => {
    type Lean = typeof import('../../src/runtime/index.js');
    const lean = (await import(distUrl('runtime.js'))) as Lean;
    const cjs = createRequire(import.meta.url)(fileURLToPath(distUrl('runtime.cjs'))) as Lean;
    const r = lean.createRuntimeSync();
    const m = r.loadSync(bytes);
    const s = m.session();
    expect([r.constructor.name, m.constructor.name, s.constructor.name]).toEqual(['Runtime', 'Model', 'Session']);
    expect(inspect(s, { depth: 0 })).toMatch(/^Session \{/);
    expect(errorMessage(() => m.stepMany([m as never], frames(1)), 'INVALID_ARGUMENT')).toBe('stepMany: session 0 is a Model, not a session');
    const other = cjs.createRuntimeSync().loadSync(bytes);
    expect(other.constructor.name).toBe('Model');
    expect(errorMessage(() => m.stepMany([other.session() as never], frames(1)), 'INVALID_ARGUMENT')).toMatch(/^stepMany: session 0 is a Session of another copy of edgernn \(each entry point, .*\), not a session$/);
    expect(errorMessage(() => new lean.Session(other as never), 'INVALID_ARGUMENT')).toMatch(/got a Model of another copy of edgernn/);
    await expect(r.load(m as never)).rejects.toThrow(/load\(\) takes the file's bytes \(a Uint8Array, Buffer or ArrayBuffer\), got a Model$/);
    m.dispose();
    other.dispose();
  });
});
