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
// skipped); a timestamp is anything Date.parse reads, or ms since the epoch.
import fs from 'node:fs';
import { anomalyDetectorConfigOf, createFrontendForInput, createRuntime, ForecastAnomalyDetector, forecastAnomalyOptionsOf, isEdgeRnnError } from 'edgernn';

const args = process.argv.slice(2);
const usage = 'usage: node examples/anomaly-csv.mjs SERIES.csv [MODEL.ern] [--json]';
if (args.includes('--help') || args.includes('-h')) {
  console.log(usage);
  process.exit(0);
}
const json = args.includes('--json');
const positional = args.filter((a) => a !== '--json');
const [file, modelPath = new URL('../models/anomaly.ern', import.meta.url)] = positional;
// No file, an option it does not know, a third file: the usage, exit 2.
if (!file || positional.length > 2 || positional.some((a) => a.startsWith('-'))) {
  console.error(usage);
  process.exit(2);
}
// A file that cannot be read or a model that is not one: what is wrong, exit 1, no stack.
function fail(e, file) {
  const systemError = typeof e?.code === 'string' && typeof e.syscall === 'string'; // ENOENT, EISDIR, EACCES
  if (!systemError && !isEdgeRnnError(e)) throw e;
  console.error(systemError ? `${file}: ${e.message}` : e.message);
  process.exit(1);
}
function read(file, encoding) {
  try {
    return fs.readFileSync(file, encoding);
  } catch (e) {
    fail(e, String(file));
  }
}

const rows = [];
read(file, 'utf8').split('\n').forEach((line, i) => {
  const head = line.split(',')[1] ?? '';
  if (line.trim() === '' || (i === 0 && /[a-z]/i.test(head) && Number.isNaN(Number(head)))) return; // blank, or the header ("1e-3" is a value)
  const [ts, v] = line.split(',');
  const t = /^\d+$/.test(ts.trim()) ? Number(ts) : Date.parse(ts.trim().replace(' ', 'T') + (/[zZ]|[+-]\d\d:?\d\d$/.test(ts.trim()) ? '' : 'Z'));
  const value = Number(v);
  if (!Number.isFinite(t) || v === undefined || v.trim() === '' || !Number.isFinite(Math.fround(value))) { // the model reads float32
    console.error(`${file}:${i + 1}: expected "timestamp,value", got "${line.slice(0, 60)}"`);
    process.exit(1);
  }
  rows.push({ t, value });
});

const rt = await createRuntime();
const model = await rt.load(read(modelPath), { source: String(modelPath) }).catch(fail);
// A model of another job has another front end: said (exit 1), not a TypeError further down.
if (!['series'].includes(model.spec.input.frontend?.kind)) {
  console.error(`${modelPath}: a model with ${model.spec.input.frontend?.kind ?? 'no'} front end; this example needs a forecaster of a sensor series (a series front end, e.g. models/anomaly.ern)`);
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
