/**
 * Keyword spotting cost on one core, against the budget "front end + model <= 1 % of real time":
 * the shipped models/kws.ern fed the way a gateway feeds it (10 ms chunks of 16 kHz PCM pushed
 * into the model's own front end; with sliding windows in the manifest, input.frontend.windows,
 * every window of F frames run from a reset state and the detector on its last output, else one
 * model step per frame and the detector on every step), side by side:
 *
 *   front end alone          AudioFrontend.push of the manifest's spec (MFCC 13, 40 ms / 20 ms)
 *   model step, per backend  Session.step on simd, scalar, reference (int8) and the float
 *                            reference on the dequantized model
 *   onnxruntime-node         the same model exported to ONNX (float, dequantized), one step per
 *                            frame with the state carried between calls, 1 thread
 *   whole pipeline           front end + int8 model (best backend) + detector, as served
 *                            (and, for a windowed model, as one never-reset session for comparison)
 *
 *   npx tsx test/bench/kws.ts [seconds-of-audio=60]
 *
 * Audio: the first N seconds of the held-out stream (.cache/kws-stream60/stream/stream.wav) when
 * present, else a synthetic mix of tones and noise (the cost does not depend on the content).
 * Median of 5 timed runs after 2 warm-ups, interleaved; times are per second of audio.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  AudioFrontend,
  createFrontend,
  createKwsDetectorForModel,
  createRuntime,
  decodeModel,
  dequantizeModel,
  encodeModel,
  exportOnnx,
  onnxInitialState,
  readWavMono,
  Rng,
  validateAudioSpec,
  type Model,
} from '../../src/index.js';
import { stateNames } from '../../src/onnx/export.js';
import { median } from '../../src/util/stats.js';

const seconds = Number(process.argv[2] ?? 60);
const root = path.resolve(import.meta.dirname, '../..');
const bytes = new Uint8Array(fs.readFileSync(path.join(root, 'models/kws.ern')));
const spec = decodeModel(bytes).spec;
const served = validateAudioSpec(spec.input.frontend);
const { windows, ...feSpec } = served; // frames; the served front end cuts them into windows
const SR = feSpec.sampleRateHz;
const CHUNK = SR / 100; // 10 ms pushes, as a device sends them

function audio(): { pcm: Float32Array; source: string } {
  const wav = path.join(root, '.cache/kws-stream60/stream/stream.wav');
  if (fs.existsSync(wav)) {
    const fd = fs.openSync(wav, 'r');
    const buf = Buffer.alloc(44 + seconds * SR * 2);
    fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    // A complete WAV of the first N seconds: patch the data size.
    buf.writeUInt32LE(buf.length - 8, 4);
    buf.writeUInt32LE(seconds * SR * 2, 40);
    return { pcm: readWavMono(new Uint8Array(buf)).samples, source: `first ${seconds} s of ${path.relative(root, wav)}` };
  }
  const rng = new Rng(1);
  return { pcm: Float32Array.from({ length: seconds * SR }, (_, i) => 0.2 * Math.sin(i * 0.05) + 0.05 * Math.sin(i * 0.9) + 0.03 * rng.normal()), source: `${seconds} s synthetic (no held-out stream cached)` };
}

const { pcm, source } = audio();
const hops = Math.floor(pcm.length / CHUNK);
const chunks = Array.from({ length: hops }, (_, h) => pcm.subarray(h * CHUNK, (h + 1) * CHUNK));
const frames = new AudioFrontend(feSpec).batch(pcm);
const T = frames.count;
const F = frames.featureSize;


type Runner = () => number | Promise<number>;
/** Interleaved timing: each round runs every case once; µs per second of audio. */
async function measure(cases: [string, Runner][]): Promise<Map<string, number>> {
  const runs = new Map<string, number[]>(cases.map(([n]) => [n, []]));
  let sink = 0;
  for (let round = 0; round < 7; round++) {
    for (const [name, fn] of cases) {
      const t0 = performance.now();
      sink += await fn();
      const us = ((performance.now() - t0) * 1000) / seconds;
      if (round >= 2) runs.get(name)!.push(us);
    }
  }
  if (!Number.isFinite(sink)) console.log('(non-finite sink)');
  return new Map([...runs].map(([n, v]) => [n, median(v)]));
}

const rt = await createRuntime();
const models: Record<string, Model> = {
  simd: await rt.load(bytes, { backend: 'simd' }),
  scalar: await rt.load(bytes, { backend: 'scalar' }),
  reference: await rt.load(bytes, { backend: 'reference' }),
  float: await rt.load(encodeModel(dequantizeModel(spec)), { backend: 'float' }),
};

function frontEndOnly(): Runner {
  const fe = new AudioFrontend(feSpec);
  let acc = 0;
  const on = (f: Float32Array): void => {
    acc += f[0]!;
  };
  return () => {
    fe.reset();
    acc = 0;
    for (let h = 0; h < hops; h++) fe.push(chunks[h]!, on);
    return acc;
  };
}

function modelOnly(m: Model): Runner {
  const s = m.session();
  return () => {
    s.reset();
    let acc = 0;
    for (let t = 0; t < T; t++) acc += s.step(frames.data.subarray(t * F, (t + 1) * F))[0]!;
    return acc;
  };
}

/** Front end + model + detector as the gateway runs them: windows from a reset state when the spec has them. */
function pipeline(m: Model, windowed: boolean): Runner {
  const fe = createFrontend(windowed ? served : feSpec);
  const W = fe.framesPerOutput;
  const s = m.session();
  const det = createKwsDetectorForModel(windowed ? spec : { ...spec, input: { ...spec.input, frontend: { ...feSpec } } });
  const O = m.outputSize;
  let events = 0;
  const on = (block: Float32Array): void => {
    if (W > 1) s.reset();
    const y = W > 1 ? s.run(block) : s.step(block);
    if (det.step(y.subarray(y.length - O))) events++;
  };
  return () => {
    fe.reset();
    s.reset();
    det.reset();
    events = 0;
    for (let h = 0; h < hops; h++) fe.push(chunks[h]!, on);
    return events;
  };
}

async function ortRunner(): Promise<Runner | null> {
  let ort: typeof import('onnxruntime-node');
  try {
    ort = await import('onnxruntime-node');
  } catch {
    return null;
  }
  const session = await ort.InferenceSession.create(exportOnnx(spec), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
  const names = stateNames(0);
  const init = onnxInitialState(spec);
  const xs = Array.from({ length: T }, (_, t) => new ort.Tensor('float32', frames.data.slice(t * F, (t + 1) * F), [1, 1, F]));
  const lstm = spec.layers[0]!.kind === 'lstm';
  return async () => {
    let state: Record<string, unknown> = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
    let acc = 0;
    for (let t = 0; t < T; t++) {
      const out = await session.run({ X: xs[t]!, ...state } as never);
      state = { [names.h0]: out[names.hN], ...(lstm ? { [names.c0]: out[names.cN] } : {}) };
      acc += (Object.values(out)[0]!.data as Float32Array)[0]!;
    }
    return acc;
  };
}

const ortRun = await ortRunner();
const cases: [string, Runner][] = [
  ['front end (push 10 ms chunks)', frontEndOnly()],
  ['model step: edgernn simd (int8)', modelOnly(models.simd!)],
  ['model step: edgernn scalar (int8)', modelOnly(models.scalar!)],
  ['model step: edgernn reference (int8, TS)', modelOnly(models.reference!)],
  ['model step: edgernn float reference', modelOnly(models.float!)],
  ...(ortRun ? [['model step: onnxruntime-node (float, 1 thread)', ortRun] as [string, Runner]] : []),
  ['pipeline: front end + simd model + detector', pipeline(models.simd!, windows !== undefined)],
  ...(windows ? [['pipeline, one never-reset session instead', pipeline(models.simd!, false)] as [string, Runner]] : []),
];
const res = await measure(cases);
const simd = res.get('model step: edgernn simd (int8)')!;
console.log(`kws cost: ${path.relative(root, 'models/kws.ern')} (${bytes.length} bytes, ${spec.layers.map((l) => l.kind).join(' > ')}), ${source}`);
console.log(`front end ${feSpec.kind} ${feSpec.nMfcc ?? feSpec.nMels}, ${feSpec.frameMs} ms frames every ${feSpec.hopMs} ms: ${T} frames${windows ? `; served in windows of ${windows.frames} frames every ${windows.hop} (${(windows.frames / windows.hop).toFixed(0)} model steps per frame)` : ''}; node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log(`${'case'.padEnd(48)} ${'µs per s of audio'.padStart(18)} ${'% of real time'.padStart(15)} ${'vs simd model'.padStart(14)}`);
for (const [name] of cases) {
  const us = res.get(name)!;
  console.log(`${name.padEnd(48)} ${us.toFixed(1).padStart(18)} ${((100 * us) / 1e6).toFixed(4).padStart(14)}% ${name.startsWith('model') ? `${(us / simd).toFixed(2)}x`.padStart(14) : ''.padStart(14)}`);
}
const total = res.get('pipeline: front end + simd model + detector')!;
console.log(`\nbudget: front end + model <= 1 % of real time (10,000 µs per s): measured ${((100 * total) / 1e6).toFixed(3)} % (${(1e4 / total).toFixed(0)}x headroom)`);
for (const m of Object.values(models)) m.dispose();
