#!/usr/bin/env node
// Activity recognition on a wrist-accelerometer recording with the library alone (no gateway):
// the model's front end (decoding, resampling, normalization, 4 s windows every 1 s, all from its
// manifest) feeds the int8 model, an HMM smooths the per-window labels into a timeline, and the
// whole recording gets one verdict from its windows' mean posterior and its length.
//
//   npm run build && node examples/har-recording.mjs RECORDING.txt [MODEL.ern] [--json]
//
// RECORDING holds one sample per line, its values separated by spaces or commas, in what the
// model's front end reads: for models/har.ern the three 6-bit codes of the HMP dataset's wrist
// sensor at 32 Hz (e.g. "22 49 35"), as the gateway's wrist route receives them (values that are
// not such codes are refused; another sensor's recording: docs/har.md, "Another sensor"). One
// shorter than a window is padded in front with its first sample, as `edgernn eval` pads it.
import { classifySegment, createRuntime, durationModelOf, HarStream, planResampler } from 'edgernn';
import { exampleArgs, fail, read } from './example-cli.mjs';

const { file, modelPath, json } = exampleArgs('har-recording', 'RECORDING.txt', new URL('../models/har.ern', import.meta.url));

const rt = await createRuntime();
const model = await rt.load(read(modelPath), { source: String(modelPath) }).catch(fail);
// A model of another job has another front end: said (exit 1), not a TypeError further down.
if (!['imu'].includes(model.spec.input.frontend?.kind)) {
  console.error(`${modelPath}: a model with ${model.spec.input.frontend?.kind ?? 'no'} front end; this example needs an activity model (an imu front end, e.g. models/har.ern)`);
  process.exit(1);
}
const { inputRateHz, channels } = model.spec.input.frontend;
const lines = read(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
if (lines.length === 0) {
  console.error(`${file}: no samples (an empty recording has no activity to tell)`);
  process.exit(1);
}
const samples = new Float32Array(lines.length * channels.length);
lines.forEach((line, i) => {
  const v = line.split(/[\s,]+/).map(Number);
  if (v.length !== channels.length || v.some((x) => !Number.isFinite(Math.fround(x)))) { // float32 samples
    console.error(`${file}:${i + 1}: expected ${channels.length} numbers (${channels.map((c) => c.name).join(' ')}), got "${line.slice(0, 60)}"`);
    process.exit(1);
  }
  // The model reads raw sensor codes (a decode in its front end): a recording in g, m/s² or
  // milli-g went through that decode as if it were codes, and gave a verdict on nonsense.
  // Not codes: a fraction, or a code that decodes beyond ±16 g (the widest wrist accelerometer range).
  const k = channels.findIndex((c, j) => c.decode && (!Number.isInteger(v[j]) || (c.unit === 'g' && Math.abs(c.decode.offset + c.decode.scale * v[j]) > 16)));
  if (k >= 0) {
    console.error(`${file}:${i + 1}: ${channels[k].name} = ${v[k]} is not a sensor code of this model (${channels[k].unit} = ${channels[k].decode.offset} + ${channels[k].decode.scale} · code: whole numbers, 0..63 for models/har.ern); a recording in other units or at another rate than ${inputRateHz} Hz needs a front end for it (docs/har.md, "Another sensor")`);
    process.exit(1);
  }
  samples.set(v, i * channels.length);
});

// A recording shorter than one window (4 s of frames plus the resampler's delay, 4.6 s at 32 Hz:
// a few chair transitions) is padded in front with its first sample (a still wrist), as training
// and `edgernn eval` pad it; it gave no window and no verdict.
const { hop, rateHz, windowSize, resampler } = model.spec.input.frontend;
const delay = planResampler(resampler, channels.length, inputRateHz, rateHz).K;
const need = Math.ceil((windowSize * inputRateHz) / rateHz) + delay + 1;
const pad = lines.length > 0 ? Math.max(0, need - lines.length) : 0;
const padded = new Float32Array((pad + lines.length) * channels.length);
for (let i = 0; i < pad; i++) padded.set(samples.subarray(0, channels.length), i * channels.length);
padded.set(samples, pad * channels.length);

const stream = new HarStream(model); // the front end, a session, and the smoother of its windows
const C = model.outputSize;
const sum = new Float64Array(C);
let windows = 0;
const timeline = []; // runs of one smoothed label: [label, first window, last window]
stream.push(padded, (w) => {
  for (let c = 0; c < C; c++) sum[c] += w.posterior[c];
  windows++;
  const last = timeline.at(-1);
  if (last && last.label === w.label) last.to = w.index;
  else timeline.push({ label: w.label, from: w.index, to: w.index });
});

const seconds = lines.length / inputRateHz;
const padS = pad / inputRateHz; // a padded recording starts that far into its first window
const at = (index) => Number(Math.max(0, (index * hop) / rateHz - padS).toFixed(2)); // a window's start in the recording, s
const verdict = windows ? classifySegment(sum.map((s) => s / windows), seconds, durationModelOf(model.spec)) : -1;
const result = {
  file,
  seconds,
  windows,
  verdict: verdict >= 0 ? model.labels[verdict] : null,
  // Each run from its first window's start to the next run's; the last one to its last window's end.
  timeline: timeline.map((r, i) => ({ activity: model.labels[r.label], fromS: at(r.from), toS: i + 1 < timeline.length ? at(timeline[i + 1].from) : Number(Math.max(0, (r.to * hop + windowSize) / rateHz - padS).toFixed(2)) })),
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`${file}: ${seconds.toFixed(1)} s, ${windows} windows, model ${model.name} ${model.version} on ${model.backend}`);
  for (const r of result.timeline) console.log(`  ${r.fromS.toFixed(1).padStart(6)}-${r.toS.toFixed(1).padEnd(6)} s  ${r.activity}`);
  console.log(`  the whole recording: ${result.verdict ?? `too short (a window is ${windowSize / rateHz} s)`}`);
}
