/**
 * The float engine computes in float32 semantics of its inputs, like the integer engines (which
 * stage frames as float32): a Float64Array, a plain array or nested arrays of numbers give
 * exactly what the same values rounded to a Float32Array give.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, encodeModel, type Runtime } from '../../src/index.js';
import { Rng } from '../../src/util/rng.js';
import { randomFloatModel } from '../helpers/random-model.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await createRuntime();
});

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Doubles that float32 cannot hold (so rounding them changes the input's last bits). */
function doubles(seed: number, n: number): Float64Array {
  const rng = new Rng(seed);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (rng.next() * 2 - 1) * 3 + rng.next() * 1e-9;
  return x;
}

describe('float engine inputs are float32 (regression: a Float64Array frame was read at full precision)', () => {
  // Seeds with bidirectional/reverse layers (run() only) and without (step() too).
  for (const [seed, offline] of [[3, false], [1011, false], [1005, true], [1009, true]] as const) {
    it(`random ${offline ? 'offline' : 'streaming'} model ${seed}: Float64Array, arrays and Float32Array of the same values agree`, async () => {
      const spec = randomFloatModel(seed, { offline: seed >= 1000 });
      const m = await rt.load(encodeModel(spec), { backend: 'float' });
      expect(m.backend).toBe('float');
      expect(m.streamable).toBe(!offline);
      const I = m.inputSize;
      const T = 40;
      const x64 = doubles(seed, T * I);
      const x32 = Float32Array.from(x64);
      expect(x32.some((v, i) => v !== x64[i])).toBe(true);
      const nested = Array.from({ length: T }, (_, t) => Array.from(x64.subarray(t * I, (t + 1) * I)));
      const want = m.session().run(x32);
      expect(sameBits(m.session().run(x64), want), 'run(Float64Array)').toBe(true);
      expect(sameBits(m.session().run(Array.from(x64)), want), 'run(number[])').toBe(true);
      expect(sameBits(m.session().run(nested), want), 'run(number[][])').toBe(true);
      if (!m.streamable) return;
      const steps = (frame: (t: number) => ArrayLike<number>) => {
        const s = m.session();
        const out = new Float32Array(T * m.outputSize);
        for (let t = 0; t < T; t++) out.set(s.step(frame(t)), t * m.outputSize);
        return out;
      };
      expect(sameBits(steps((t) => x32.subarray(t * I, (t + 1) * I)), want), 'step(Float32Array)').toBe(true);
      expect(sameBits(steps((t) => x64.subarray(t * I, (t + 1) * I)), want), 'step(Float64Array)').toBe(true);
      expect(sameBits(steps((t) => nested[t]!), want), 'step(number[])').toBe(true);
      // Two streams a call: stepMany rounds its frames the same way.
      const a = m.session();
      const b = m.session();
      const many = new Float32Array(T * m.outputSize);
      for (let t = 0; t < T; t++) many.set(m.stepMany([a, b], [...nested[t]!, ...nested[t]!]).subarray(0, m.outputSize), t * m.outputSize);
      expect(sameBits(many, want), 'stepMany(number[])').toBe(true);
      // 'zero' policy: a NaN becomes 0, the other values are still rounded.
      const z = m.session({ nonFinite: 'zero' });
      const frame = Array.from(x64.subarray(0, I));
      frame[0] = NaN;
      const got = z.step(frame).slice();
      const ref = m.session({ nonFinite: 'zero' });
      expect(sameBits(got, ref.step(Float32Array.from(frame))), "step under 'zero'").toBe(true);
    });
  }
});
