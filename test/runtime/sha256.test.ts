/**
 * The kernel module's SHA-256 (the .ern checksum on load) against @noble/hashes and node:crypto,
 * on both WASM builds: every length around the block and padding boundaries, random content, and
 * whole model files through Runtime.contentDigest (the checksum the header stores); and, on Node
 * 20, that hashing a file of up to 40 KB in a fresh process leaves every function in V8's baseline
 * tier (sha256.ts: the optimizing compiler costs a cold start ~2.7 MiB).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCH_SHAPES, benchSpec } from '../../src/cli/commands/bench.js';
import { calibrateAbsMax, createRuntime, createRuntimeSync, decodeErn, encodeModel, kernelBinaries, quantizeModel } from '../../src/index.js';
import { parseErn } from '../../src/format/ern.js';
import { instantiateKernelsSync } from '../../src/runtime/wasm/kernels.js';
import { Rng } from '../../src/util/rng.js';
import { randomQuantModel } from '../helpers/random-model.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

describe.each(['simd', 'scalar'] as const)('sha256 in the %s kernels', (build) => {
  const k = instantiateKernelsSync(new WebAssembly.Module(kernelBinaries()[build]));
  const digest = (bytes: Uint8Array): Uint8Array => {
    const at = k.heap_base() + 32;
    if (at + bytes.length > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((at + bytes.length - k.memory.buffer.byteLength) / 65536));
    new Uint8Array(k.memory.buffer).set(bytes, at);
    k.sha256(at, bytes.length, at - 32);
    return new Uint8Array(k.memory.buffer).slice(at - 32, at);
  };

  it('matches the FIPS 180-4 examples', () => {
    expect(hex(digest(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(digest(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(digest(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('equals @noble/hashes on every length 0..300 and on random lengths up to 200 KB', () => {
    const rng = new Rng(5);
    const lengths = [...Array.from({ length: 301 }, (_, i) => i), ...Array.from({ length: 20 }, () => Math.floor(rng.next() * 200_000))];
    for (const n of lengths) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(rng.next() * 256));
      expect(hex(digest(b)), `length ${n}`).toBe(hex(sha256(b)));
    }
  });

  it('equals node:crypto on block-boundary lengths up to 200 KB and on random lengths', () => {
    const rng = new Rng(11);
    const lengths: number[] = [];
    for (const blocks of [1, 2, 3, 8, 15, 16, 17, 63, 64, 65, 127, 128, 433, 512, 734, 735, 1023, 1024, 1025, 3125]) {
      for (const d of [-9, -8, -1, 0, 1, 55, 56, 63]) lengths.push(blocks * 64 + d);
    }
    for (let i = 0; i < 60; i++) lengths.push(Math.floor(rng.next() * 200_001));
    for (const n of lengths) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(rng.next() * 256));
      expect(hex(digest(b)), `length ${n}`).toBe(createHash('sha256').update(b).digest('hex'));
    }
  });
});

describe.skipIf(!process.versions.node.startsWith('20.'))('V8 tier-up during a load (Node 20)', () => {
  // V8 compiles a WebAssembly function with TurboFan once the Liftoff code it has run passes a
  // budget (1.8 M bytes in Node 20); sha256.ts spreads the rounds so that no function gets there
  // before ~46 KB. A fresh process hashes 40 KB and V8 reports every function it compiled.
  it.each(['simd', 'scalar'] as const)('hashing 40 KB compiles no function with TurboFan (%s)', (build) => {
    const script = `
      const bytes = Buffer.from(process.argv[1], 'base64');
      const { exports: k } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      const at = k.heap_base() + 32, n = 40000;
      k.memory.grow(2);
      new Uint8Array(k.memory.buffer).fill(7, at, at + n);
      k.sha256(at, n, at - 32);
      console.log('hashed');`;
    const out = execFileSync(process.execPath, ['--trace-wasm-compilation-times', '-e', script, Buffer.from(kernelBinaries()[build]).toString('base64')], { encoding: 'utf8' });
    expect(out).toContain('hashed');
    expect(out).toContain('using Liftoff');
    expect(out.split('\n').filter((l) => l.includes('TurboFan'))).toEqual([]);
  });

  it('loading the kws-gru bench model (27.7 KB) and its first step compile nothing with TurboFan', async () => {
    // The whole load: the checksum, the golden check (run(), Model.verifyGolden) and a step. The
    // functions closest to their budget use about 60 % of it (README "Benchmark").
    const esbuild = await import('esbuild');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-tierup-'));
    try {
      await esbuild.build({ entryPoints: ['src/runtime/index.ts'], bundle: true, format: 'esm', platform: 'neutral', outfile: path.join(dir, 'runtime.mjs'), logLevel: 'silent' });
      const shape = BENCH_SHAPES.find((s) => s.name === 'kws-gru')!;
      const spec = benchSpec(shape);
      const file = encodeModel(quantizeModel(spec, calibrateAbsMax(spec, [new Rng(2).float32(shape.steps * shape.inputSize, -2, 2)])));
      fs.writeFileSync(path.join(dir, 'kws-gru.ern'), file);
      fs.writeFileSync(
        path.join(dir, 'probe.mjs'),
        `import { readFileSync } from 'node:fs';
        import { createRuntime } from './runtime.mjs';
        const m = await (await createRuntime()).load(readFileSync(new URL('./kws-gru.ern', import.meta.url)));
        m.session().step(new Float32Array(m.inputSize));
        console.log('stepped', m.backend);`,
      );
      const out = execFileSync(process.execPath, ['--trace-wasm-compilation-times', path.join(dir, 'probe.mjs')], { encoding: 'utf8' });
      expect(out).toContain('stepped simd');
      expect(out.split('\n').filter((l) => l.includes('TurboFan'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Runtime.contentDigest', () => {
  it('is the checksum the file header stores (async and sync runtimes)', async () => {
    const bytes = encodeModel(randomQuantModel(3).int8);
    const stored = decodeErn(bytes).sha256;
    expect(hex((await (await createRuntime()).contentDigestAsync(bytes))!)).toBe(stored);
    expect(hex(createRuntimeSync({ backend: 'scalar' }).contentDigest(bytes)!)).toBe(stored);
    expect(createRuntimeSync().contentDigest(bytes.subarray(0, 10))).toBeUndefined();
  });
});

describe('the checksum instance handed over to the engine', () => {
  // Runtime.load() hashes the file in a kernel instance and the model's engine then takes that
  // instance over: every model must still get memory of its own, whatever the order of loads.
  const models = [3, 4, 5, 6].map((seed) => randomQuantModel(seed).int8);
  const frames = (inputSize: number) => new Rng(9).float32(7 * inputSize, -2, 2);
  const expected = async () => {
    const rt = await createRuntime({ backend: 'reference' });
    return Promise.all(models.map(async (m) => Array.from((await rt.load(encodeModel(m))).session().run(frames(m.input.size)))));
  };

  it('sequential, concurrent and synchronous loads give every model its own kernel memory', async () => {
    const want = await expected();
    const rt = await createRuntime();
    const sequential = [];
    for (const m of models) sequential.push(await rt.load(encodeModel(m)));
    const concurrent = await Promise.all(models.map((m) => rt.load(encodeModel(m))));
    const sync = models.map((m) => rt.loadSync(encodeModel(m)));
    // A digest computed but never used by a load (the instance stays with the runtime) and a
    // load on the other build in between.
    rt.contentDigest(encodeModel(models[0]!));
    const scalar = await rt.load(encodeModel(models[1]!), { backend: 'scalar' });
    const after = await rt.load(encodeModel(models[2]!));
    for (const group of [sequential, concurrent, sync]) {
      // Step them interleaved: a shared instance would mix their states or weights.
      const sessions = group.map((m) => m.session());
      const outs = sessions.map(() => [] as number[]);
      for (let t = 0; t < 7; t++) {
        sessions.forEach((s, i) => {
          const I = models[i]!.input.size;
          outs[i]!.push(...s.step(frames(I).subarray(t * I, (t + 1) * I)));
        });
      }
      expect(outs).toEqual(want);
    }
    expect(Array.from(scalar.session().run(frames(models[1]!.input.size)))).toEqual(want[1]);
    expect(Array.from(after.session().run(frames(models[2]!.input.size)))).toEqual(want[2]);
  });
});

describe('the runtime checks the checksum without a JavaScript SHA-256', () => {
  const bytes = encodeModel(randomQuantModel(3).int8);

  it('parseErn asks for the digest once, after the header checks, and rejects a wrong one', () => {
    let calls = 0;
    const real = () => {
      calls++;
      return sha256(Uint8Array.from(bytes).fill(0, 32, 64));
    };
    expect(parseErn(bytes, 'm.ern', real).sha256).toBe(decodeErn(bytes).sha256);
    expect(calls).toBe(1);
    // Defects the header shows are named without hashing anything.
    const badMagic = Uint8Array.from(bytes);
    badMagic[0] = 0;
    expect(() => parseErn(badMagic, 'm.ern', real)).toThrow(expect.objectContaining({ code: 'ERN_BAD_MAGIC' }));
    expect(() => parseErn(bytes.subarray(0, 40), 'm.ern', real)).toThrow(expect.objectContaining({ code: 'ERN_TRUNCATED' }));
    expect(() => parseErn(bytes.subarray(0, bytes.length - 1), 'm.ern', real)).toThrow(expect.objectContaining({ code: 'ERN_TRUNCATED' }));
    expect(calls).toBe(1);
    expect(() => parseErn(bytes, 'm.ern', () => new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'ERN_CHECKSUM' }));
  });

  it('the lean runtime bundle (edgernn/runtime) carries no @noble/hashes', async () => {
    // Runtime.load() hashes in the kernels; a JavaScript SHA-256 in the bundle costs ~0.6 ms of
    // every cold start (test/bench/cold-start.ts) for nothing.
    const esbuild = await import('esbuild');
    const r = await esbuild.build({ entryPoints: ['src/runtime/index.ts'], bundle: true, format: 'esm', platform: 'neutral', outdir: 'unused', write: false, metafile: true, logLevel: 'silent' });
    // What is in the output after tree shaking (metafile.inputs also lists what was dropped).
    const inputs = Object.values(r.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k));
    expect(inputs).toContain('src/runtime/runtime.ts');
    expect(inputs.filter((f) => f.includes('@noble'))).toEqual([]);
  });
});
