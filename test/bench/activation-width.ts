/**
 * Why int16 activations: measures both widths side by side.
 *   1. Speed: the 4-rows-per-pass WASM SIMD matvec with int8 activations (extmul + pairwise add)
 *      and with int16 activations (the shipped load8x8_s + dot_i16x8_s loop), same shapes.
 *   2. Accuracy: 10,000-step streams through the integer reference with int16 hidden state and
 *      input (the shipped scheme) and with both rounded to 8 bits after every step (int8
 *      activations, emulated exactly), against the float reference.
 *
 *   npx tsx test/bench/activation-width.ts
 */
import asc from 'assemblyscript/asc';
import fs from 'node:fs';
import os from 'node:os';
import { calibrateAbsMax, defaultActivations, quantizeModel, type ModelSpec } from '../../src/index.js';
import type { RecurrentKind } from '../../src/model/spec.js';
import { FloatEngine } from '../../src/runtime/float/engine.js';
import { prepareIntModel } from '../../src/runtime/int/prepare.js';
import { IntReference, inverseScalesF32, quantizeFrameRef, refState } from '../../src/runtime/int/reference.js';
import { Rng } from '../../src/util/rng.js';
import { randomRecurrent } from '../helpers/random-model.js';
import { median } from '../../src/util/stats.js';

async function compile(): Promise<Uint8Array> {
  let bin: Uint8Array | null = null;
  let err = '';
  const { error } = await asc.main(['test/bench/kernels/matvec-widths.ts', '--runtime', 'stub', '-O3', '--noAssert', '--enable', 'simd', '--outFile', 'w.wasm'], {
    writeFile: (name: string, contents: Uint8Array) => {
      if (name.endsWith('.wasm')) bin = contents;
    },
    stderr: { write: (s: string) => ((err += s), true) },
    stdout: { write: () => true },
  } as never);
  if (error || !bin) throw new Error(err || String(error));
  return bin;
}


async function speed(): Promise<void> {
  const { instance } = (await WebAssembly.instantiate((await compile()) as Uint8Array<ArrayBuffer>, { env: { abort() {} } })) as unknown as WebAssembly.WebAssemblyInstantiatedSource;
  const x = instance.exports as unknown as { memory: WebAssembly.Memory; matvec_i8i8: Function; matvec_i8i16: Function };
  x.memory.grow(8);
  const u8 = new Uint8Array(x.memory.buffer);
  const rng = new Rng(1);
  for (let i = 65536; i < 65536 * 4; i++) u8[i] = rng.int(0, 255);
  const W = 65536;
  const X = 65536 * 3;
  const O = 65536 * 4;
  console.log('| shape (rows x cols) | int8 activations GMAC/s | int16 activations GMAC/s | int16 / int8 time |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [rows, cols] of [
    [192, 112],
    [256, 112],
    [96, 48],
  ] as const) {
    const reps = 2000;
    const t8: number[] = [];
    const t16: number[] = [];
    for (let r = 0; r < 25; r++) {
      let t0 = process.hrtime.bigint();
      x.matvec_i8i8(W, rows, cols, X, O, reps);
      t8.push(Number(process.hrtime.bigint() - t0) / reps);
      t0 = process.hrtime.bigint();
      x.matvec_i8i16(W, rows, cols, X, O, reps);
      t16.push(Number(process.hrtime.bigint() - t0) / reps);
    }
    const macs = rows * cols;
    console.log(`| ${rows} x ${cols} | ${(macs / median(t8)).toFixed(1)} | ${(macs / median(t16)).toFixed(1)} | ${(median(t16) / median(t8)).toFixed(2)} |`);
  }
}

function model(kind: RecurrentKind, I: number, H: number): ModelSpec {
  const rng = new Rng(42 + H);
  const layer = randomRecurrent(rng, kind, I, H, 'forward', { weightScale: 1 / Math.sqrt(H) });
  delete layer.clip;
  delete layer.float!.P;
  delete layer.inputForget;
  layer.activations = defaultActivations(kind, 1);
  return { name: kind, version: '1.0.0', task: 'custom', labels: [], input: { size: I, frontend: { kind: 'none' } }, precision: 'float32', layers: [layer], training: {} };
}

/** Rounds an int16 value to the nearest multiple of 256 (an int8 value times 256), saturating. */
function to8(v: number): number {
  return Math.max(-127, Math.min(127, Math.round(v / 256))) * 256;
}

function accuracy(): void {
  const STEPS = 10_000;
  console.log('\n| model | int16 activations: mean / max abs h error | int8 activations: mean / max abs h error |');
  console.log('| --- | --- | --- |');
  for (const [kind, I, H] of [
    ['gru', 40, 64],
    ['lstm', 40, 64],
    ['gru', 6, 32],
  ] as const) {
    const spec = model(kind, I, H);
    const rng = new Rng(9);
    const x = new Float32Array(STEPS * I);
    const f = Array.from({ length: I }, () => rng.uniform(0.002, 0.05));
    for (let t = 0; t < STEPS; t++) for (let k = 0; k < I; k++) x[t * I + k] = 1.5 * Math.sin(f[k]! * t + k) + 0.3 * rng.normal();
    const int8 = quantizeModel(spec, calibrateAbsMax(spec, [x.subarray(0, 2000 * I)]));
    const P = prepareIntModel(int8);
    const fl = new FloatEngine(spec);
    const fs0 = fl.allocState();
    const yf = new Float32Array(H);
    const cols: string[] = [];
    for (const width of [16, 8]) {
      const ref = new IntReference(P);
      const st = refState(P, new Uint8Array(P.stateBytes));
      st.h[0]!.set(P.layers[0]!.kind !== 'dense' ? P.layers[0]!.directions[0]!.h0 : []);
      const inv = inverseScalesF32(P);
      const xq = new Int16Array(P.inputWidth);
      const acc = new Int32Array(P.outputWidth);
      fl.resetState(fs0);
      let sum = 0;
      let worst = 0;
      for (let t = 0; t < STEPS; t++) {
        quantizeFrameRef(x, t * I, inv, I, xq, 0);
        if (width === 8) for (let k = 0; k < I; k++) xq[k] = to8(xq[k]!);
        ref.step(st, xq, 0, acc, 0);
        if (width === 8) for (let j = 0; j < H; j++) st.h[0]![j] = to8(st.h[0]![j]!);
        fl.step(fs0, x, t * I, yf, 'error');
        for (let j = 0; j < H; j++) {
          const e = Math.abs(st.h[0]![j]! / 32768 - yf[j]!);
          sum += e;
          worst = Math.max(worst, e);
        }
      }
      cols.push(`${(sum / (STEPS * H)).toExponential(2)} / ${worst.toFixed(3)}`);
    }
    console.log(`| ${kind} ${I}->${H}, 10,000 steps | ${cols[0]} | ${cols[1]} |`);
  }
}

console.log(`activation width experiment (${os.cpus()[0]?.model}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);
await speed();
accuracy();
if (!fs.existsSync('test/bench/kernels/matvec-widths.ts')) throw new Error('run from the repository root');
