/**
 * Alerts (Node-only module): what the gateway publishes (QoS 1) on the alerts topic and keeps in
 * the outbox until the broker acknowledged it. Consumers drop duplicates by `id`.
 *
 * The id is a hash of where the alert comes from, not a random number:
 *   id = hex(sha256(site, device, sensor, model name, version, stream start ms, stream epoch, frame index))[0..32]
 * so the same data through the same model gives the same id (replays reproduce ids; a message
 * the broker delivers twice cannot raise two different alerts), and no two alerts of one
 * gateway share an id (the frame index grows along a stream; a reset starts a new epoch).
 */
import { createHash } from 'node:crypto';

export interface AlertEvidence {
  /** Time of the first and last frame in the window, ms since epoch. */
  fromMs: number;
  toMs: number;
  /** Model input frames, oldest first: [frames][inputSize]. */
  inputs: number[][];
  /** The detector's score at each of those frames. */
  scores: number[];
  /**
   * Set when the published alert left out the window's oldest frames to fit the broker's maximum
   * packet size (alertJson): how many. fromMs still gives the start of the whole window.
   */
  droppedFrames?: number;
}

export interface Alert {
  id: string;
  site: string;
  device: string;
  sensor: string;
  /** Gateway that raised it. */
  gateway: string;
  model: { name: string; version: string; sha256: string };
  /** Detector kind and what it detected. */
  detector: string;
  label: string;
  score: number;
  /** Time of the frame that fired, ISO 8601 and ms since epoch: device time when the payload's ts is from 2000 on (stream.ts deviceTimeMs), else the message's arrival time. */
  ts: string;
  tsMs: number;
  /** Sequence number of the message that carried the frame, when devices send one. */
  seq?: number;
  /** Frames stepped in this stream (since its start or last reset) when it fired. */
  frameIndex: number;
  evidence: AlertEvidence;
}

export interface AlertIdParts {
  site: string;
  device: string;
  sensor: string;
  model: string;
  version: string;
  streamStartMs: number;
  epoch: number;
  frameIndex: number;
}

export function alertId(p: AlertIdParts): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([p.site, p.device, p.sensor, p.model, p.version, p.streamStartMs, p.epoch, p.frameIndex]));
  return h.digest('hex').slice(0, 32);
}

/** Rounds a float32 value for JSON without losing it: shortest decimal that round-trips through float32. */
export function f32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let d = 1; d <= 9; d++) {
    const y = Number(x.toPrecision(d));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

/**
 * The alert as JSON in at most maxBytes of UTF-8 (no limit: JSON.stringify(a)). An alert over it
 * leaves out the oldest evidence frames, as few as it can, and says how many in
 * evidence.droppedFrames; if even no evidence does not fit, every frame is left out (the broker
 * will refuse what remains). The alert itself is not changed: the outbox keeps it whole.
 *
 * A broker closes the connection of a client that sends a packet over its maximum (mosquitto
 * max_packet_size): an alert with a long evidence window was sent again at every reconnect, and
 * the gateway spent its connection on it for ever.
 */
export function alertJson(a: Alert, maxBytes?: number): { json: string; droppedFrames: number } {
  const whole = JSON.stringify(a);
  if (maxBytes === undefined || Buffer.byteLength(whole) <= maxBytes) return { json: whole, droppedFrames: 0 };
  const n = a.evidence.inputs.length;
  const without = (dropped: number) =>
    JSON.stringify({ ...a, evidence: { ...a.evidence, inputs: a.evidence.inputs.slice(dropped), scores: a.evidence.scores.slice(dropped), droppedFrames: dropped } });
  // The size falls as frames are dropped: the fewest dropped that fit, by bisection over (lo, hi].
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.byteLength(without(mid)) <= maxBytes) hi = mid;
    else lo = mid;
  }
  return { json: without(hi), droppedFrames: hi };
}
