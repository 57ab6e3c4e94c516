/**
 * Simulated sensor nodes: what a wrist band, a microphone node and a meter would publish to the
 * gateway over a stretch of device time, message by message, with the ground truth of what
 * happened. Pure data (no MQTT here): a runner publishes `messages` in time order
 * (firmware-sim/demo.ts), and a test can check the payloads without a broker.
 *
 * Payloads are the gateway's codecs (docs/gateway.md "Payload codecs"), each with `seq` and `ts`
 * (device time), so alerts carry device time and can be scored against `truth`.
 */
import { encodeBinary, encodeJson } from '../src/gateway/codecs.js';
import { EdgeRnnError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { ImuGenerator, planScenario } from './imu/generator.js';
import { HMP_GENERATOR_MODEL } from './imu/hmp-model.gen.js';

export interface NodeMessage {
  /** Device time of the message's first sample, s from the start of the simulation. */
  tS: number;
  device: string;
  sensor: string;
  payload: Uint8Array;
}

/** Something that happened on a device, s from the start (label: the activity, keyword or "anomaly"). */
export interface TruthSpan {
  device: string;
  startS: number;
  endS: number;
  label: string;
}

export interface SimulatedNode {
  device: string;
  sensor: string;
  /** In time order. */
  messages: NodeMessage[];
  truth: TruthSpan[];
}

export interface NodeOptions {
  device: string;
  sensor: string;
  /** Length of the simulation, s. */
  seconds: number;
  seed: number;
  /** Device time of tS = 0, ms since epoch (payload `ts`). */
  startMs: number;
}

function checkNode(o: NodeOptions, what: string): void {
  if (!(o.seconds > 0 && Number.isFinite(o.seconds))) throw new EdgeRnnError('BAD_DATA', `${what}: seconds must be a positive number, got ${o.seconds}`, { got: o.seconds });
}

/**
 * A wrist band: 3-axis accelerometer as HMP's 6-bit codes at 32 Hz (the generator fitted to HMP,
 * firmware-sim/imu), a seeded sequence of activities; one JSON message per second.
 */
export function wristNode(o: NodeOptions): SimulatedNode {
  checkNode(o, 'wrist node');
  const model = HMP_GENERATOR_MODEL;
  const scenario = planScenario(model, { seed: o.seed, durationS: o.seconds });
  const gen = new ImuGenerator(model, { seed: o.seed, scenario });
  const rate = gen.rateHz;
  const messages: NodeMessage[] = [];
  for (let seq = 0; ; seq++) {
    const tS = gen.timeS;
    const chunk = gen.read(rate);
    if (chunk.n === 0) break;
    messages.push({ tS, device: o.device, sensor: o.sensor, payload: encodeJson(chunk.codes, 3, { seq, tsMs: o.startMs + tS * 1000, rateHz: rate }) });
  }
  const truth = scenario.segments.map((s) => ({ device: o.device, startS: s.startS, endS: s.startS + s.durationS, label: s.activity }));
  return { device: o.device, sensor: o.sensor, messages, truth };
}

export interface SpokenClip {
  label: string;
  /** 16 kHz mono samples, full scale 1. */
  samples: Float32Array;
}

export interface MicOptions extends NodeOptions {
  /** Clips said over the noise, in turn, one every `everyS` seconds (their labels are the truth; `_unknown_` clips are speech that is no keyword). */
  clips: readonly SpokenClip[];
  everyS?: number;
  /** Speech-to-noise ratio of each clip against the background, dB (default 20). */
  snrDb?: number;
}

const MIC_RATE = 16000;

function rms(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, x.length));
}

/**
 * A microphone node: 16 kHz int16 audio in 100 ms binary messages, a quiet noise floor, and the
 * given clips said one every `everyS` s (first after 2 s) at `snrDb` over it.
 * The truth holds the keywords (not `_unknown_` or `_silence_` clips): an alert on those is a false accept.
 */
export function micNode(o: MicOptions): SimulatedNode {
  checkNode(o, 'mic node');
  const every = o.everyS ?? 4;
  const snrDb = o.snrDb ?? 20;
  if (!(every > 1 && Number.isFinite(every))) throw new EdgeRnnError('BAD_DATA', `mic node: everyS must be a number above 1 (a clip lasts up to 1 s), got ${every}`, { got: every });
  const n = Math.round(o.seconds * MIC_RATE);
  const audio = new Float32Array(n);
  const rng = new Rng(o.seed);
  const noiseRms = 0.01;
  for (let i = 0; i < n; i++) audio[i] = noiseRms * rng.normal();
  const truth: TruthSpan[] = [];
  const backgroundRms = rms(audio.subarray(0, Math.min(n, MIC_RATE)));
  for (let k = 0, t = 2; o.clips.length > 0 && t + 1 <= o.seconds; k++, t += every) {
    const clip = o.clips[k % o.clips.length]!;
    const gain = clip.label === '_silence_' ? 0 : (backgroundRms * 10 ** (snrDb / 20)) / Math.max(1e-9, rms(clip.samples));
    const at = Math.round(t * MIC_RATE);
    for (let i = 0; i < clip.samples.length && at + i < n; i++) audio[at + i]! += gain * clip.samples[i]!;
    if (!clip.label.startsWith('_')) truth.push({ device: o.device, startS: t, endS: t + clip.samples.length / MIC_RATE, label: clip.label });
  }
  const messages: NodeMessage[] = [];
  const chunk = MIC_RATE / 10;
  for (let seq = 0; seq * chunk < n; seq++) {
    const tS = (seq * chunk) / MIC_RATE;
    const part = audio.subarray(seq * chunk, Math.min(n, (seq + 1) * chunk));
    messages.push({ tS, device: o.device, sensor: o.sensor, payload: encodeBinary(part, 1, { seq, tsMs: o.startMs + tS * 1000, rateHz: MIC_RATE, type: 'int16' }) });
  }
  return { device: o.device, sensor: o.sensor, messages, truth };
}

export interface MeterOptions extends NodeOptions {
  /** Readings per second (default 10). */
  rateHz?: number;
  /** When the fault starts and how long it lasts, s (default: at 75 % of the run, for 6 s). */
  faultAtS?: number;
  faultS?: number;
}

/**
 * A meter (a pump's vibration level, say): a 6 s cycle with noise, ten readings a second in
 * one JSON message per second; during the fault the cycle breaks (level up, jitter up).
 */
export function meterNode(o: MeterOptions): SimulatedNode {
  checkNode(o, 'meter node');
  const rate = o.rateHz ?? 10;
  const faultAt = o.faultAtS ?? o.seconds * 0.75;
  const faultS = o.faultS ?? 6;
  const rng = new Rng(o.seed);
  const n = Math.round(o.seconds * rate);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const fault = t >= faultAt && t < faultAt + faultS;
    values[i] = 20 + 2 * Math.sin((2 * Math.PI * t) / 6) + (fault ? 6 + 3 * rng.normal() : 0.15 * rng.normal());
  }
  const messages: NodeMessage[] = [];
  for (let seq = 0; seq * rate < n; seq++) {
    const tS = seq;
    messages.push({ tS, device: o.device, sensor: o.sensor, payload: encodeJson(values.subarray(seq * rate, Math.min(n, (seq + 1) * rate)), 1, { seq, tsMs: o.startMs + tS * 1000, rateHz: rate }) });
  }
  const truth = faultAt < o.seconds ? [{ device: o.device, startS: faultAt, endS: Math.min(o.seconds, faultAt + faultS), label: 'anomaly' }] : [];
  return { device: o.device, sensor: o.sensor, messages, truth };
}

/** All nodes' messages in device-time order (ties: in the order of the nodes). */
export function interleave(nodes: readonly SimulatedNode[]): NodeMessage[] {
  return nodes.flatMap((nd, k) => nd.messages.map((m, i) => ({ m, k, i }))).sort((a, b) => a.m.tS - b.m.tS || a.k - b.k || a.i - b.i).map((x) => x.m);
}
