#!/usr/bin/env node
// Keyword spotting on a WAV recording with the library alone (no gateway): the model's own front
// end turns 16 kHz audio into MFCC windows, the int8 model scores each window, and the model's
// tuned detector turns the scores into keyword events.
//
//   npm run build && node examples/kws-wav.mjs RECORDING.wav [MODEL.ern] [--json]
//
// The recording must be 16 kHz (sox in.wav -r 16000 -c 1 out.wav converts one). The same code
// runs live: push each chunk of samples as it arrives instead of the whole file.
import { createFrontendForInput, createKwsDetectorForModel, createRuntime, isEdgeRnnError, readWavMono } from 'edgernn';
import { exampleArgs, fail, read } from './example-cli.mjs';

const { file: wavPath, modelPath, json } = exampleArgs('kws-wav', 'RECORDING.wav', new URL('../models/kws.ern', import.meta.url));

const rt = await createRuntime();
const model = await rt.load(read(modelPath), { source: String(modelPath) }).catch(fail);
// A model of another job has another front end: said (exit 1), not a TypeError further down.
if (!['mfcc', 'logmel'].includes(model.spec.input.frontend?.kind)) {
  console.error(`${modelPath}: a model with ${model.spec.input.frontend?.kind ?? 'no'} front end; this example needs a keyword model (an mfcc or logmel front end, e.g. models/kws.ern)`);
  process.exit(1);
}
let wav;
try {
  wav = readWavMono(read(wavPath), { source: wavPath }); // any channels (mixed), 8-32 bit PCM or float
} catch (e) {
  if (!isEdgeRnnError(e, 'BAD_INPUT_FILE')) throw e;
  console.error(e.message); // an empty or truncated file, an encoding such as A-law: what is wrong, no stack
  process.exit(1);
}
const { info, samples } = wav;
const rate = model.spec.input.frontend.sampleRateHz;
if (info.sampleRateHz !== rate) {
  console.error(`${wavPath}: ${info.sampleRateHz} Hz, the model listens at ${rate} Hz (sox ${wavPath} -r ${rate} -c 1 converted.wav)`);
  process.exit(1);
}

// With sliding windows in the manifest (input.frontend.windows) the front end gives a window of
// feature frames every hop; each window is scored from a reset state and its last output is the
// window's posterior. Without them it gives single frames, run as one session that is never
// reset, as a gateway runs them (resetting before every frame scored each from a zero state).
const frontend = createFrontendForInput(model.spec.input);
let detector;
try {
  detector = createKwsDetectorForModel(model.spec);
} catch (e) {
  // An mfcc classifier without a tuned detector in its manifest (`edgernn train` on a WAV folder
  // makes one) ended here in a stack trace: said in one line, as for a model of another job.
  if (!isEdgeRnnError(e)) throw e;
  console.error(`${modelPath}: ${e.message}; this example needs a keyword model with its detector settings (e.g. models/kws.ern, or one made by npm run train:kws)`);
  process.exit(1);
}
const session = model.session();
const O = model.outputSize;
const events = [];
const scored = frontend.push(samples, (window) => {
  if (frontend.framesPerOutput > 1) session.reset();
  const y = session.run(window);
  const event = detector.step(y.subarray(y.length - O));
  if (event) events.push({ keyword: event.label, atMs: Math.round(event.timeMs), score: Number(event.score.toFixed(3)) });
});
// A recording shorter than the model's first window (1.52 s for models/kws.ern: 75 frames of
// 40 ms every 20 ms) gives no posterior at all: said, not a bare "no keyword".
if (scored === 0) {
  console.error(`${wavPath}: ${(samples.length / rate).toFixed(2)} s is shorter than the model's first window (${(detector.frameMs / 1000).toFixed(2)} s of audio): nothing was scored; pad it with silence (sox ${wavPath} padded.wav pad 0 1), or score clips with edgernn eval MODEL.ern --data DIR`);
}
if (json) console.log(JSON.stringify({ file: wavPath, seconds: samples.length / rate, events }));
else {
  console.log(`${wavPath}: ${(samples.length / rate).toFixed(2)} s, model ${model.name} ${model.version} on ${model.backend}`);
  for (const e of events) console.log(`  ${(e.atMs / 1000).toFixed(2)} s  ${e.keyword.padEnd(6)} (score ${e.score})`);
  if (events.length === 0) console.log('  no keyword');
}
