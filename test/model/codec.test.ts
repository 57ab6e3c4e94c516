/**
 * encodeModel / decodeModel as a pair: byte-identical round trips over random models of every
 * layer kind and option, the documented tensor alignment, decoding from any kind of buffer, and
 * manifest values JSON cannot hold refused when the file is written.
 */
import { describe, expect, it } from 'vitest';
import { audioFrontendSpec, createRuntime, decodeErn, decodeModel, encodeModel, quantizeModel, resealErn, type ModelSpec } from '../../src/index.js';
import { ERN_ALIGN, encodeErn } from '../../src/format/ern.js';
import type { EncodeOptions } from '../../src/model/codec.js';
import { isRecurrent } from '../../src/model/spec.js';
import { Rng } from '../../src/util/rng.js';
import { randomQuantModel } from '../helpers/random-model.js';

/** Zeroes whole 4x8 blocks of every int8 weight matrix, so block-sparse storage has blocks to skip. */
function prune(spec: ModelSpec, rng: Rng): void {
  for (const l of spec.layers) {
    const q = (l as { quant?: { Wq: Int8Array; Rq?: Int8Array } }).quant;
    for (const m of [q?.Wq, q?.Rq]) {
      if (!m) continue;
      for (let i = 0; i < m.length; i += 32) if (rng.next() < 0.6) m.fill(0, i, Math.min(m.length, i + 32));
    }
  }
}

/** A random model dressed with the optional manifest fields, each present or not. */
function dressed(seed: number, precision: 'int8' | 'float32'): ModelSpec {
  const rng = new Rng(seed * 7 + 1);
  const m = randomQuantModel(seed, { offline: seed % 2 === 0, maxHidden: 12, maxInput: 9, maxLayers: 3 });
  const spec: ModelSpec = structuredClone(precision === 'int8' ? m.int8 : m.float);
  const I = spec.input.size;
  const out = spec.layers.length ? spec.layers[spec.layers.length - 1]! : undefined;
  const O = out === undefined ? I : isRecurrent(out) ? out.hiddenSize * (out.direction === 'bidirectional' ? 2 : 1) : out.kind === 'dense' ? out.outputSize : out.size;
  if (rng.next() < 0.5) spec.labels = Array.from({ length: O }, (_, i) => `class-${i}`);
  if (rng.next() < 0.5) spec.description = `model ${seed}`;
  // Fields in an order other than the one the decoder builds: the bytes must not depend on it.
  const names = rng.next() < 0.5 ? { names: Array.from({ length: I }, (_, i) => `f${i}`) } : {};
  const rate = rng.next() < 0.5 ? { rateHz: 50 } : {};
  const frontend = rng.next() < 0.3 && I >= 2 ? audioFrontendSpec('logmel', { nMels: I }) : { kind: 'none' };
  spec.input = { ...rate, frontend, ...names, size: I } as ModelSpec['input'];
  if (rng.next() < 0.5) spec.training = { dataset: 'synthetic', datasetSha256: 'b'.repeat(64), hyperparameters: { lr: 0.001, layers: [1, 2] }, metrics: { acc: 0.5 }, codeCommit: 'abc', createdAt: '2026-11-27T00:00:00Z' };
  if (rng.next() < 0.3) spec.extra = { threshold: 0.25, nested: { a: [true, null, 'x'] } };
  for (const l of spec.layers) {
    // Only the float kernels take other activations than ONNX's defaults.
    if (precision === 'float32' && isRecurrent(l) && l.kind === 'rnn' && rng.next() < 0.5) l.activations = l.activations.map(() => ({ alpha: 0.1, name: 'LeakyRelu' }));
  }
  if (precision === 'int8') prune(spec, rng);
  return spec;
}

function manifestText(bytes: Uint8Array): string {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  return new TextDecoder().decode(bytes.subarray(dv.getUint32(16, true), dv.getUint32(16, true) + dv.getUint32(20, true)));
}

describe('encode -> decode -> encode', () => {
  it('is byte-identical for random models of every layer kind, both precisions, dense and block-sparse storage', () => {
    let blockSparse = 0;
    for (let seed = 1; seed <= 24; seed++) {
      for (const precision of ['int8', 'float32'] as const) {
        const spec = dressed(seed, precision);
        for (const mode of precision === 'int8' ? (['auto', 'never', 'always'] as const) : (['auto'] as const)) {
          const opts: EncodeOptions = { blockSparse: mode, goldenSteps: 3 };
          const first = encodeModel(spec, opts);
          const decoded = decodeModel(first);
          const again = encodeModel(decoded.spec, opts);
          // The manifests first: a difference there is readable.
          expect(manifestText(again), `seed ${seed} ${precision} ${mode}`).toBe(manifestText(first));
          expect(Buffer.from(again).equals(Buffer.from(first)), `seed ${seed} ${precision} ${mode}`).toBe(true);
          if ([...decoded.container.tensors.values()].some((t) => t.stored === 'i8bs')) blockSparse++;
        }
      }
    }
    expect(blockSparse).toBeGreaterThan(20);
  });

  it('is byte-identical for a spec without training metadata (a JavaScript caller left it out)', () => {
    const { training: _, ...spec } = dressed(9, 'float32');
    const first = encodeModel(spec as ModelSpec, { goldenSteps: 2 });
    expect(Buffer.from(encodeModel(decodeModel(first).spec, { goldenSteps: 2 })).equals(Buffer.from(first))).toBe(true);
  });

  it('puts every tensor at a multiple of 64 bytes from the start of the file', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const bytes = encodeModel(dressed(seed, 'int8'), { goldenSteps: 2 });
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      const dataOffset = dv.getUint32(24, true);
      expect(dataOffset % ERN_ALIGN).toBe(0);
      const { manifest } = decodeErn(bytes);
      for (const t of manifest.tensors as { name: string; offset: number }[]) expect((dataOffset + t.offset) % ERN_ALIGN, t.name).toBe(0);
    }
  });
});

describe('decoding from any buffer', () => {
  const spec = dressed(3, 'int8');
  const bytes = encodeModel(spec, { blockSparse: 'never', goldenSteps: 2 });
  const reference = decodeErn(bytes);

  function expectSameTensors(got: ReturnType<typeof decodeErn>, what: string): void {
    for (const [name, t] of reference.tensors) expect(Array.from(got.tensors.get(name)!.data), `${what}: ${name}`).toEqual(Array.from(t.data));
  }

  it('a Node Buffer at an odd offset inside a larger one (its slice() is a view: the tensors were read from the wrong bytes)', () => {
    const big = Buffer.alloc(bytes.length + 3);
    big.set(bytes, 3);
    const got = decodeErn(big.subarray(3));
    expect(got.zeroCopy).toBe(false);
    expectSameTensors(got, 'Buffer at offset 3');
    expect(decodeModel(big.subarray(3)).spec.inputScale).toEqual(spec.inputScale);
  });

  it('a SharedArrayBuffer, aligned (views) and at an odd offset (copied)', () => {
    const aligned = new SharedArrayBuffer(bytes.length);
    new Uint8Array(aligned).set(bytes);
    const a = decodeModel(new Uint8Array(aligned)).container;
    expect(a.zeroCopy).toBe(true);
    expectSameTensors(a, 'SharedArrayBuffer');
    const odd = new Uint8Array(new SharedArrayBuffer(bytes.length + 5), 5);
    odd.set(bytes);
    const o = decodeErn(odd);
    expect(o.zeroCopy).toBe(false);
    expectSameTensors(o, 'SharedArrayBuffer at offset 5');
  });

  it("a pooled Node Buffer (a small file read with readFileSync): tensors are views at the file's offset in the pool", () => {
    const tinySpec: ModelSpec = {
      name: 'tiny',
      version: '0.0.1',
      task: 'custom',
      labels: [],
      input: { size: 2, frontend: { kind: 'none' } },
      precision: 'float32',
      layers: [{ kind: 'dense', inputSize: 2, outputSize: 3, activation: 'tanh', float: { W: Float32Array.of(1, -2, 3, 0.5, 0.25, -1), B: Float32Array.of(0.1, 0, -0.1) } }],
      training: {},
    };
    const tiny = encodeModel(tinySpec, { goldenSteps: 2 });
    expect(tiny.length).toBeLessThan(Buffer.poolSize >>> 1);
    Buffer.from('x'); // the next small Buffer does not start at the pool's first byte
    const pooled = Buffer.from(tiny);
    expect(pooled.buffer.byteLength).toBeGreaterThan(tiny.length);
    const got = decodeErn(pooled);
    const want = decodeErn(tiny);
    expect(got.zeroCopy).toBe(pooled.byteOffset % 8 === 0);
    for (const [name, t] of want.tensors) {
      const g = got.tensors.get(name)!;
      expect(Array.from(g.data), name).toEqual(Array.from(t.data));
      if (got.zeroCopy) expect(g.data.buffer, name).toBe(pooled.buffer);
    }
  });

  it('tensors of an aligned buffer are views on it (decodeModel); a runtime load keeps its own copy', async () => {
    const file = bytes.slice();
    const decoded = decodeModel(file);
    const wq = decoded.container.tensors.get('layers.0.Wq')!;
    expect(wq.data.buffer).toBe(file.buffer);
    const rt = await createRuntime();
    const model = await rt.load(file, { backend: 'reference' });
    const input = new Float32Array(2 * model.inputSize).map((_, i) => Math.sin(i) * 0.1);
    const before = model.session().run(input);
    // Scribble over every tensor byte of the caller's buffer: the loaded model must not see it.
    const dOff = new DataView(file.buffer).getUint32(24, true);
    file.fill(0x7f, dOff);
    expect(wq.data[0]).toBe(0x7f); // the decoder's views do (documented)
    expect(Array.from(model.session().run(input))).toEqual(Array.from(before));
    model.dispose();
  });
});

describe('manifest values JSON cannot hold exactly', () => {
  const base = dressed(4, 'float32');

  it('NaN, infinities, typed arrays, Maps, Sets, undefined array items, functions: ERN_MANIFEST at encode time naming the field (NaN was written as null)', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ training: { metrics: { loss: NaN } } }, /manifest\.training\.metrics\.loss is NaN \(JSON writes it as null\)/],
      [{ extra: { tuning: { lambda: Infinity } } }, /manifest\.extra\.tuning\.lambda is Infinity/],
      [{ extra: { t: [1, -Infinity] } }, /manifest\.extra\.t\[1\] is -Infinity/],
      [{ extra: { w: new Float32Array(3) } }, /manifest\.extra\.w is a Float32Array/],
      [{ training: { hyperparameters: { m: new Map([['a', 1]]) } } }, /manifest\.training\.hyperparameters\.m is a Map/],
      [{ extra: { s: new Set([1]) } }, /manifest\.extra\.s is a Set/],
      [{ extra: { a: [1, undefined] } }, /manifest\.extra\.a\[1\] is undefined/],
      [{ extra: { f: () => 1 } }, /manifest\.extra\.f is a function/],
      [{ input: { ...base.input, frontend: { kind: 'none', gain: NaN } } }, /manifest\.input\.frontend\.gain is NaN/],
    ];
    for (const [patch, message] of cases) {
      expect(() => encodeModel({ ...base, ...patch } as ModelSpec), message.source).toThrow(expect.objectContaining({ code: 'ERN_MANIFEST', message: expect.stringMatching(message) }));
    }
  });

  it('metadata nested deeper than readers take is refused by the writer itself', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(() => encodeErn({ extra: { deep } }, [])).toThrow(/manifest\.extra\.deep(\[0\])+ is objects and arrays nested more than 64 levels deep/);
  });

  it('what JSON does hold exactly reads back as written: -0 as 0, numbers past 2^53, lone surrogates in metadata, long strings, Dates as strings', () => {
    const training = { metrics: { zero: -0, big: 2 ** 60 + 2 ** 9, tiny: 5e-324 }, note: 'a\ud800b', long: 'x'.repeat(100_000), createdAt: new Date(Date.UTC(2026, 10, 27)) };
    const d = decodeModel(encodeModel({ ...base, training } as unknown as ModelSpec, { goldenSteps: 1 })).spec.training;
    expect(d.metrics).toEqual({ zero: 0, big: 2 ** 60 + 2 ** 9, tiny: 5e-324 });
    expect(d.note).toBe('a\ud800b');
    expect((d.long as string).length).toBe(100_000);
    expect(d.createdAt).toBe('2026-11-27T00:00:00.000Z');
  });

  it('a lone surrogate or a control character in a label is refused at encode time, with the decoder\'s error', () => {
    const spec = dressed(2, 'float32');
    const O = spec.layers.length ? decodeModel(encodeModel(spec, { goldenSteps: 1 })).outputSize : spec.input.size;
    for (const bad of ['\udc00', 'a\u0007']) {
      const labels = Array.from({ length: O }, (_, i) => (i === 0 ? bad : `c${i}`));
      expect(() => encodeModel({ ...spec, labels }, { goldenSteps: 1 })).toThrow(expect.objectContaining({ code: 'ERN_MANIFEST', message: expect.stringMatching(/manifest\.labels\[0\] must be well-formed Unicode/) }));
    }
  });
});

describe('encodeModel options', () => {
  // Checked as the runtime's are: a misspelt name or an unknown blockSparse mode passed as the
  // default, silently, and goldenSteps: -1 was a RangeError from a typed array.
  it('a misspelt option or a value out of its domain is INVALID_ARGUMENT naming it', () => {
    const spec = randomQuantModel(3).int8;
    for (const [opts, message] of [
      [{ goldenstep: 3 }, "encodeModel(): unknown option 'goldenstep': the options are blockSparse, goldenInput, goldenSteps, seed"],
      [{ blockSparse: 'sometimes' }, `encodeModel(): blockSparse is 'auto', 'never' or 'always', got "sometimes"`],
      [{ goldenSteps: -1 }, 'encodeModel(): goldenSteps is a whole number >= 1, got -1'],
      [{ goldenSteps: 1.5 }, 'encodeModel(): goldenSteps is a whole number >= 1, got 1.5'],
      [{ goldenSteps: 0 }, 'encodeModel(): goldenSteps is a whole number >= 1, got 0'],
      [{ seed: 'x' }, 'encodeModel(): seed is a whole number, got "x"'],
      [null, 'encodeModel(): options are an object, got null'],
    ] as const) {
      expect(() => encodeModel(spec, opts as never), JSON.stringify(opts)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message }));
    }
    expect(encodeModel(spec, { goldenSteps: 2, seed: 7, blockSparse: 'never' }).length).toBeGreaterThan(0);
  });
});

describe('encodeModel defaults (mutation-testing review, 2026-11-27)', () => {
  const dense = (I: number, O: number, W: Float32Array, inputAbsMax: number[]): ModelSpec =>
    quantizeModel(
      { name: 'd', version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', training: {}, layers: [{ kind: 'dense', inputSize: I, outputSize: O, activation: 'none', float: { W } }] },
      { inputAbsMax },
    );

  it("blockSparse 'auto' stores a matrix block-sparse only when that saves at least 10%", () => {
    // 32 x 32 int8 = 1024 bytes in 32 blocks of 4 x 8 (bitmap 4 bytes). 2 zero blocks: 964 bytes
    // (6% less) stays dense; 4 zero blocks: 900 bytes (12% less) goes block-sparse.
    const stored = (zeroBlocks: number) => {
      const W = Float32Array.from({ length: 32 * 32 }, (_, i) => ((i * 7) % 13) - 6 || 1);
      for (let b = 0; b < zeroBlocks; b++) for (let r = 0; r < 4; r++) W.fill(0, (4 * b + r) * 32, (4 * b + r) * 32 + 8);
      const d = decodeModel(encodeModel(dense(32, 32, W, new Array(32).fill(1)), { goldenSteps: 1 }));
      return d.container.tensors.get('layers.0.Wq')!.stored ?? 'i8';
    };
    expect(stored(2)).toBe('i8');
    expect(stored(4)).toBe('i8bs');
  });

  it('the default golden input covers 80% of each feature\'s own calibrated range', () => {
    const int8 = dense(2, 1, Float32Array.from([1, 1]), [1, 1000]);
    const x = decodeModel(encodeModel(int8, { goldenSteps: 64 })).golden.inputData;
    const max = [0, 0];
    x.forEach((v, i) => (max[i % 2] = Math.max(max[i % 2]!, Math.abs(v))));
    expect(max[0]).toBeLessThanOrEqual(0.8 + 1e-6);
    expect(max[0]).toBeGreaterThan(0.5);
    expect(max[1]).toBeLessThanOrEqual(800 + 1e-3);
    expect(max[1]).toBeGreaterThan(500);
  });
});

describe('float32 tensors with a NaN or an infinity', () => {
  /** The file with value `index` of float32 tensor `name` set to `value`, resealed. */
  const withValue = (bytes: Uint8Array, name: string, index: number, value: number): Uint8Array => {
    const c = decodeErn(bytes);
    const entry = (c.manifest.tensors as { name: string; offset: number }[]).find((t) => t.name === name)!;
    const out = bytes.slice();
    new DataView(out.buffer).setFloat32(c.layout.dataOffset + entry.offset + 4 * index, value, true);
    return resealErn(out);
  };

  it.each([
    ['layers.0.Wscale', 5, NaN],
    ['golden.input', 17, Infinity],
    ['input.scale', 0, -Infinity],
  ])('are refused at load naming the tensor and the first bad value (%s[%i] = %d)', async (name, index, value) => {
    const bytes = encodeModel(randomQuantModel(4).int8);
    const bad = withValue(bytes, name, index, value);
    const rt = await createRuntime();
    const e = await rt.load(bad, { source: 'm.ern' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'ERN_TENSOR', message: `m.ern: tensor '${name}' value ${index} is ${value}: its values must be finite`, details: { tensor: name, index, value: String(value) } });
    expect(() => decodeModel(withValue(bytes, name, index + 1, -value), 'm.ern')).toThrow(`tensor '${name}' value ${index + 1} is ${-value}`);
  });
});
