#!/usr/bin/env node
// Anomaly detection on a sensor series with the library alone (no gateway), the path the
// gateway's `anomaly` detector runs: the model's `series` front end (adaptive normalization from
// its manifest), one step of the int8 forecaster per reading, and the streaming detector on its
// prediction error (likelihood of the recent errors, alerts with hysteresis). No look-ahead:
// each reading is scored when it arrives.
//
//   npm run build && node examples/anomaly-csv.mjs SERIES.csv [MODEL.ern] [--json]
//
// SERIES.csv: `timestamp,value` lines as in the Numenta Anomaly Benchmark (a header line is
// skipped); a timestamp is anything Date.parse reads (without an offset: UTC), or a count since
// the epoch: up to 11 digits seconds (1700000000), 12 or more milliseconds (1700000000000).
import { anomalyDetectorConfigOf, createFrontendForInput, createRuntime, ForecastAnomalyDetector, forecastAnomalyOptionsOf } from 'edgernn';
import { exampleArgs, fail, read } from './example-cli.mjs';

const { file, modelPath, json } = exampleArgs('anomaly-csv', 'SERIES.csv', new URL('../models/anomaly.ern', import.meta.url));

const rows = [];
read(file, 'utf8').split('\n').forEach((line, i) => {
  const head = line.split(',')[1] ?? '';
  if (line.trim() === '' || (i === 0 && /[a-z]/i.test(head) && Number.isNaN(Number(head)))) return; // blank, or the header ("1e-3" is a value)
  const [ts, v] = line.split(',');
  // Epoch seconds read as milliseconds put every alert in January 1970.
  const t = /^\d+$/.test(ts.trim()) ? Number(ts) * (ts.trim().length <= 11 ? 1000 : 1) : Date.parse(ts.trim().replace(' ', 'T') + (/[zZ]|[+-]\d\d:?\d\d$/.test(ts.trim()) ? '' : 'Z'));
  const value = Number(v);
  if (!Number.isFinite(t) || v === undefined || v.trim() === '' || !Number.isFinite(Math.fround(value))) { // the model reads float32
    console.error(`${file}:${i + 1}: expected "timestamp,value", got "${line.slice(0, 60)}"`);
    process.exit(1);
  }
  rows.push({ t, value });
});
if (rows.length === 0) {
  console.error(`${file}: no readings ("timestamp,value" lines)`);
  process.exit(1);
}

const rt = await createRuntime();
const model = await rt.load(read(modelPath), { source: String(modelPath) }).catch(fail);
// A model of another job has another front end: said (exit 1), not a TypeError further down.
if (!['series'].includes(model.spec.input.frontend?.kind)) {
  console.error(`${modelPath}: a model with ${model.spec.input.frontend?.kind ?? 'no'} front end; this example needs a forecaster of a sensor series (a series front end, e.g. models/anomaly.ern)`);
  process.exit(1);
}
// One value per line, and a forecaster: the gateway refuses a route whose model's outputs do not
// predict its inputs. (A two-channel model ended in a stack trace; a classifier ran, its class
// probability read as a forecast.)
if (model.spec.input.frontend.channels !== 1 || model.outputSize !== model.inputSize) {
  console.error(`${modelPath}: a model with ${model.spec.input.frontend.channels} input channel(s) and ${model.outputSize} output(s) for ${model.inputSize} input(s); this example needs a one-channel forecaster (outputs predicting its next input, e.g. models/anomaly.ern)`);
  process.exit(1);
}
const frontend = createFrontendForInput(model.spec.input);
const session = model.session();
// The detector settings the model was shipped with (manifest extra.anomalyDetector).
const detector = new ForecastAnomalyDetector(forecastAnomalyOptionsOf(anomalyDetectorConfigOf(model.spec)));

const alerts = [];
let maxScore = 0;
const reading = new Float32Array(1);
for (const [i, r] of rows.entries()) {
  reading[0] = r.value;
  frontend.push(reading, (frame) => {
    const event = detector.step(session.step(frame), frame);
    maxScore = Math.max(maxScore, detector.lastScore);
    if (event) alerts.push({ record: i, time: new Date(r.t).toISOString(), value: r.value, score: Number(event.score.toFixed(4)) });
  });
}

if (json) console.log(JSON.stringify({ file, records: rows.length, alerts, maxScore: Number(maxScore.toFixed(4)) }));
else {
  console.log(`${file}: ${rows.length} readings, model ${model.name} ${model.version} on ${model.backend}`);
  for (const a of alerts) console.log(`  ${a.time}  record ${String(a.record).padStart(6)}  value ${a.value}  score ${a.score}`);
  console.log(`  ${alerts.length} alert${alerts.length === 1 ? '' : 's'}`);
}
