/**
 * Cost of the audio front end per 10 ms hop, side by side with meyda, plus a keyword-sized int8
 * GRU step, against the budget "front end + model <= 1% of real time on one core" (100 µs per
 * 10 ms hop; the front end alone should stay well under 50 µs).
 *
 *   npx tsx test/bench/frontend.ts [seconds-of-audio=30]
 *
 * edgernn: AudioFrontend.push() of one 160-sample hop at a time (what a gateway does), 25 ms
 * frames, nfft 512, 40 mels (13 MFCCs). meyda 5.6: Meyda.extract(['melBands'|'mfcc']) on the same
 * frames zero-padded to its power-of-two buffer of 512 (it needs bufferSize == signal length),
 * 40 mel bands, Hann window; framing and pre-emphasis are not counted for meyda (it has none), so
 * the ratio is conservative in meyda's favour. Model: 40 → GRU 64 → dense 12 → softmax, int8,
 * random weights, Session.step() on the best backend. Median of 5 runs each.
 */
import Meyda from 'meyda';
import { audioFrontendSpec, AudioFrontend, calibrateAbsMax, createRuntime, defaultActivations, encodeModel, quantizeModel, Rng, type ModelSpec } from '../../src/index.js';
import { median } from '../../src/util/stats.js';

const seconds = Number(process.argv[2] ?? 30);
const SR = 16000;
const HOP = 160;
const rng = new Rng(1);
const pcm = Int16Array.from({ length: seconds * SR }, (_, i) => Math.round(6000 * Math.sin(i * 0.05) + 2000 * Math.sin(i * 0.9) + 1500 * rng.normal()));
const hops = Math.floor(pcm.length / HOP);


function time(label: string, fn: () => number): number {
  fn(); // warm-up: let the JIT optimize before timing
  fn();
  const runs: number[] = [];
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    sink += fn();
    runs.push(((performance.now() - t0) * 1000) / hops);
  }
  const us = median(runs);
  console.log(`${label.padEnd(44)} ${us.toFixed(2).padStart(8)} µs/hop   (${((100 * us) / 10000).toFixed(3)} % of real time)${Number.isFinite(sink) ? '' : ' !'}`);
  return us;
}

/** The stream as a gateway receives it: one 160-sample (10 ms) chunk per push. */
const chunks = Array.from({ length: hops }, (_, h) => pcm.subarray(h * HOP, (h + 1) * HOP));

function ours(kind: 'logmel' | 'mfcc'): () => number {
  const fe = new AudioFrontend(audioFrontendSpec(kind));
  let acc = 0;
  const onFrame = (f: Float32Array): void => {
    acc += f[0]!;
  };
  return () => {
    fe.reset();
    acc = 0;
    for (let h = 0; h < hops; h++) fe.push(chunks[h]!, onFrame);
    return acc;
  };
}

interface MeydaLike {
  bufferSize: number;
  sampleRate: number;
  melBands: number;
  windowingFunction: string;
  numberOfMFCCCoefficients: number;
  extract(f: string[], s: Float32Array): Record<string, ArrayLike<number>>;
}
function meyda(feature: 'melBands' | 'mfcc'): () => number {
  const m = Meyda as unknown as MeydaLike;
  const frames = Math.floor((pcm.length - 400) / HOP) + 1;
  const buf = new Float32Array(512);
  return () => {
    m.bufferSize = 512;
    m.sampleRate = SR;
    m.melBands = 40;
    m.windowingFunction = 'hanning';
    m.numberOfMFCCCoefficients = 13;
    let acc = 0;
    for (let t = 0; t < frames; t++) {
      for (let i = 0; i < 400; i++) buf[i] = pcm[t * HOP + i]! / 32768;
      acc += m.extract([feature], buf)[feature]![0]!;
    }
    return acc;
  };
}

async function model(): Promise<() => number> {
  const r = new Rng(2);
  const I = 40;
  const H = 64;
  const spec: ModelSpec = {
    name: 'bench-kws',
    version: '0.0.1',
    task: 'kws',
    labels: Array.from({ length: 12 }, (_, i) => `c${i}`),
    input: { size: I, frontend: audioFrontendSpec('logmel') as never },
    precision: 'float32',
    layers: [
      { kind: 'gru', inputSize: I, hiddenSize: H, direction: 'forward', activations: defaultActivations('gru', 1), linearBeforeReset: true, float: { W: r.float32(3 * H * I, -0.2, 0.2), R: r.float32(3 * H * H, -0.2, 0.2), B: r.float32(6 * H, -0.1, 0.1) } },
      { kind: 'dense', inputSize: H, outputSize: 12, activation: 'none', float: { W: r.float32(12 * H, -0.3, 0.3), B: r.float32(12, -0.1, 0.1) } },
      { kind: 'softmax', size: 12 },
    ],
    training: {},
  };
  const frames = Array.from({ length: 8 }, () => r.float32(20 * I, -15, 5));
  const int8 = quantizeModel(spec, calibrateAbsMax(spec, frames));
  const rt = await createRuntime();
  const m = await rt.load(encodeModel(int8), { backend: 'auto' });
  const s = m.session();
  console.log(`model: ${m.backend ?? 'auto'} backend, ${encodeModel(int8).length} bytes`);
  const x = frames[0]!.subarray(0, I);
  return () => {
    s.reset();
    let acc = 0;
    for (let h = 0; h < hops; h++) acc += s.step(x)[0]!;
    return acc;
  };
}

console.log(`audio front end, ${seconds} s of 16 kHz audio = ${hops} hops of 10 ms; node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
const lm = time('edgernn logmel (push per hop)', ours('logmel'));
const mf = time('edgernn mfcc (push per hop)', ours('mfcc'));
const mlm = time('meyda melBands (extract per frame)', meyda('melBands'));
const mmf = time('meyda mfcc (extract per frame)', meyda('mfcc'));
console.log(`ratio meyda / edgernn: logmel ${(mlm / lm).toFixed(1)}x, mfcc ${(mmf / mf).toFixed(1)}x`);
const step = time('int8 GRU 40→64→12 Session.step', await model());
console.log(`front end (mfcc) + model: ${(mf + step).toFixed(2)} µs per 10 ms hop = ${((100 * (mf + step)) / 10000).toFixed(3)} % of real time (budget 1 %)`);
