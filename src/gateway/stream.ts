/**
 * One device stream (Node-only module): a device's sensor feeding one model. It owns the model
 * session (recurrent state), the front end, an optional resampler, the detector, the sequence
 * number bookkeeping, a bounded queue of frames waiting for the batched kernel call, and the
 * evidence window attached to alerts.
 *
 * Sequence numbers (per device stream, counting messages). Distances are serial-number
 * arithmetic (seqDistance): plain differences, except that two u32 values (a binary frame's
 * counter) less than SEQ_RESTART_DISTANCE apart across 2^32 - 1 → 0 are that close (0 is 1 after
 * 2^32 - 1). With d = seqDistance(last, seq):
 *   d <= 0                 duplicate: dropped (counted)       [a QoS 1 redelivery, a replayed tail]
 *   d == 1                 processed, then any buffered successors
 *   d >  1                 held (up to reorderWindow messages or reorderTimeoutMs) for the gap to
 *                          fill; then the gap is given up: counted, and when it is longer than
 *                          maxGap messages the model state is reset (the context is gone)
 *   seq <= 16 from more than 16 further on, or more than 1024 behind: looks like a restarted counter, but a stale
 *                          redelivery looks the same. It is held (the restart candidate) until the
 *                          device's next message says which: a message continuing the candidate
 *                          (within reorderWindow + 1 of it) confirms the restart (one reset, the
 *                          candidate goes first); a message continuing the old run makes it a
 *                          stale duplicate (dropped, counted, no reset). Taken at once as a restart,
 *                          a stale message cost two resets: one for it, one for the jump back to
 *                          the device's real next message. Two or more stale messages in a row
 *                          pass for a restart (one reset); when the old run then goes on (its next
 *                          message, within reorderWindow + 1), the stream goes back to it without
 *                          a second reset. One anomaly resets at most once. A message of the old
 *                          run arriving after the restart was confirmed (far ahead of the new run)
 *                          is held, and dropped as a duplicate when the new run goes on (dropStaleHeld).
 *                          The old run is forgotten once the new one comes within reorderWindow + 1
 *                          of where it stopped.
 * Held messages and the restart candidate are part of the saved state (exportState): an evicted
 * stream's gap keeps waiting for its late message (it used to be given up at eviction, and the
 * late message, arriving in time, was dropped as a duplicate).
 */
import { EdgeRnnError } from '../errors.js';
import type { Model, Session } from '../runtime/runtime.js';
import { applyNonFinite, DECODERS, MAX_TS_MS, type SampleBatch } from './codecs.js';
import type { LimitsConfig, RouteConfig, SeqBits } from './config.js';
import type { Detector } from './detectors.js';
import { FRAME_DETECT, FRAME_RESET, LinearResampler, type FrontEnd } from './frontend.js';

/** A device counter that jumps back this far (or back to at most RESTART_MIN from further than that) may be a restart. */
export const SEQ_RESTART_DISTANCE = 1024;
export const SEQ_RESTART_MIN = 16;
/** The last sequence number a binary frame's u32 holds: 0 after it is the next message (wrap-around). */
export const SEQ_U32_MAX = 0xffffffff;
const SEQ_U32_SPAN = 2 ** 32;

/**
 * How far `seq` is ahead of `from` (negative: behind) for a counter of `bits` bits
 * (routes[].seqBits). Plain difference, except across the wrap: two values within the counter,
 * less than SEQ_RESTART_DISTANCE (and half the counter) apart across its last value → 0, are that
 * close (seqDistance(2^32 - 1, 0) = 1, seqDistance(1, 2^32 - 2) = -3, seqDistance(255, 0, 8) = 1).
 * Without `bits` (the default), a u32 counter: JSON and CSV numbers beyond 2^32 - 1 never wrap.
 * 53 bits never wrap.
 */
export function seqDistance(from: number, seq: number, bits?: SeqBits): number {
  const d = seq - from;
  if (bits === 53) return d;
  const span = bits === undefined ? SEQ_U32_SPAN : 2 ** bits;
  if (from >= 0 && from < span && seq >= 0 && seq < span) {
    const near = Math.min(SEQ_RESTART_DISTANCE, span / 2);
    if (d < near - span) return d + span;
    if (d > span - near) return d - span;
  }
  return d;
}

/**
 * Why a message's `seq` cannot be a counter of routes[].seqBits, or null. Refused (dead-lettered)
 * rather than taken modulo: a device whose counter is wider than the route says is misconfigured,
 * and its numbers would be ordered wrongly.
 */
export function seqWidthError(seq: number | undefined, bits: SeqBits | undefined): string | null {
  if (seq === undefined || bits === undefined || bits === 53 || seq < 2 ** bits) return null;
  return `"seq" ${seq} does not fit the route's seqBits ${bits}: expected 0..${2 ** bits - 1} (a wider counter: raise routes[].seqBits)`;
}

/** The batch, or PAYLOAD_DECODE when its `seq` does not fit routes[].seqBits (seqWidthError). */
export function checkSeqWidth(b: SampleBatch, bits: SeqBits | undefined): SampleBatch {
  const why = seqWidthError(b.seq, bits);
  if (why !== null) throw new EdgeRnnError('PAYLOAD_DECODE', why, { seq: b.seq, seqBits: bits });
  return b;
}

/** The payloads re-decoded when a saved state with held messages is imported: gateway.ts MAX_SAMPLES_PER_MESSAGE (must match). */
const HELD_MAX_SAMPLES = 1 << 16;

/** Everything a stream needs from its route, resolved once at gateway start. */
export interface RouteRuntime {
  index: number;
  config: RouteConfig;
  model: Model;
  /** The key of the model in the config. */
  modelKey: string;
  createFrontEnd(): FrontEnd;
  createDetector(): Detector;
}

export interface StreamCounters {
  messages: number;
  duplicates: number;
  reordered: number;
  /** Messages given up as missing. */
  missing: number;
  resets: number;
  /** Messages ingested whose ts was before MIN_DEVICE_TS_MS (taken at their arrival time). */
  unsetDeviceTime: number;
  droppedFrames: number;
  droppedSamples: number;
  frames: number;
}

export interface QueuedBatch {
  batch: SampleBatch;
  /** Where it came from, and the payload as received (forwarded as is in a cluster hand-off). */
  topic: string;
  raw: Uint8Array;
  /** performance.now() when the message arrived. */
  arrivedPerfMs: number;
  /** Clock time when it arrived (ms). */
  arrivedMs: number;
}

/** Frames a stream's queue holds before it first grows (doubling up to limits.maxQueuedFrames). */
export const QUEUE_INITIAL_FRAMES = 16;

const STATE_MAGIC = 'edgernn.stream';
const STATE_VERSION = 1;

export class DeviceStream {
  readonly key: string;
  readonly device: string;
  readonly sensor: string;
  readonly route: RouteRuntime;
  readonly session: Session;
  readonly frontend: FrontEnd;
  readonly detector: Detector;
  readonly counters: StreamCounters = { messages: 0, duplicates: 0, reordered: 0, missing: 0, resets: 0, unsetDeviceTime: 0, droppedFrames: 0, droppedSamples: 0, frames: 0 };
  /** Backpressure drops not yet logged, and when the last line about them was (the gateway logs them once a minute). */
  dropLog = { at: -Infinity, frames: 0, samples: 0 };
  /** Clock ms of the last message. */
  lastActiveMs: number;
  /** The last ingested message's `ts` (null: it had none) and arrival time (silenceBefore). */
  private lastMessageTsMs: number | null = null;
  private lastMessageArrivedMs: number | null = null;
  /** Clock ms when this stream (epoch) started: part of alert ids. */
  streamStartMs: number;
  /** Bumped at every reset: part of alert ids. */
  epoch = 0;
  /**
   * The stream's position (epoch): its frames up to the last one stepped or dropped, 1-based.
   * Windowed front ends: the frame that ends the last window (window k ends at frame
   * k·hopFrames + framesPerWindow), not the frames stepped (each frame is in several windows).
   */
  frameIndex = 0;
  /** Last processed sequence number, -1 before the first. */
  lastSeq = -1;
  /** Set when the stream needs a reset before its next frame (processed by the scheduler after the queue drains). */
  readonly lastFinite: Float32Array;

  // Reorder buffer: messages ahead of lastSeq + 1, sorted by seqDistance from lastSeq.
  private held: QueuedBatch[] = [];
  private heldSinceMs = 0;
  /** A message that looks like a restarted counter, until the device's next message says whether it is one. */
  private restart: QueuedBatch | null = null;
  /** The last seq of the run given up at the last confirmed restart (-1: none), in case it goes on (resumeAbandoned). */
  private abandonedSeq = -1;

  // Frame queue: ring of frames [cap][I] with sample time and arrival time per frame. It starts
  // at QUEUE_INITIAL_FRAMES and doubles when full, up to maxQueuedFrames (allocated up front, a
  // 1000-frame IMU queue was 49 KB per device: 490 MB at 10,000 devices, nearly all of it unused).
  private readonly maxCap: number;
  private cap: number;
  private readonly I: number;
  private frames: Float32Array;
  private frameTs: Float64Array;
  private frameArrived: Float64Array;
  private frameSeq: Float64Array;
  private frameFlags: Uint8Array;
  private head = 0;
  private count = 0;
  /** The most frames queued at once since the queue was last empty (what the traffic needs). */
  private peak = 0;

  // Evidence window: last K input frames, scores and times.
  private readonly K: number;
  private readonly evIn: Float32Array;
  private readonly evScore: Float32Array;
  private readonly evTs: Float64Array;
  private evHead = 0;
  private evCount = 0;

  private resampler: LinearResampler | null = null;
  private deviceRateHz: number | undefined;
  /** Sample time bookkeeping while pushing a batch (ms of sample 0, ms per sample). */
  private pushTs = 0;
  private pushDt = 0;
  private pushSeq = -1;
  private pushArrived = 0;
  private readonly sinkFn: (frame: Float32Array, i: number, flags: number) => void;

  constructor(device: string, sensor: string, route: RouteRuntime, limits: LimitsConfig, nowMs: number) {
    this.key = streamKey(device, sensor);
    this.device = device;
    this.sensor = sensor;
    this.route = route;
    this.session = route.model.session();
    this.frontend = route.createFrontEnd();
    this.detector = route.createDetector();
    this.lastActiveMs = nowMs;
    this.streamStartMs = nowMs;
    this.I = route.model.inputSize;
    this.maxCap = limits.maxQueuedFrames;
    this.cap = Math.min(this.maxCap, QUEUE_INITIAL_FRAMES);
    this.frames = new Float32Array(this.cap * this.I);
    this.frameTs = new Float64Array(this.cap);
    this.frameArrived = new Float64Array(this.cap);
    this.frameSeq = new Float64Array(this.cap);
    this.frameFlags = new Uint8Array(this.cap);
    this.K = route.config.evidenceFrames;
    this.evIn = new Float32Array(this.K * this.I);
    this.evScore = new Float32Array(this.K);
    this.evTs = new Float64Array(this.K);
    this.lastFinite = new Float32Array(this.frontend.channels);
    this.sinkFn = (frame, i, flags) => this.enqueueFrame(frame, i, flags);
  }

  // ---- sequence numbers ------------------------------------------------------------------

  /**
   * Orders an incoming message. Returns the messages now ready, in order, and whether the
   * stream must be reset before the first of them (a long gap or a restarted counter);
   * `before`: messages of a restarted counter's old run, to ingest before that reset.
   */
  accept(q: QueuedBatch, limits: LimitsConfig, nowMs: number): { ready: QueuedBatch[]; reset: boolean; before?: QueuedBatch[] } {
    this.counters.messages++;
    this.lastActiveMs = nowMs;
    const seq = q.batch.seq;
    if (seq === undefined) return { ready: [q], reset: false };
    if (this.lastSeq < 0) {
      this.lastSeq = seq;
      return { ready: [q], reset: false };
    }
    // The new run has come within a window of where the old run stopped (or passed it): their
    // numbers can no longer be told apart, and the old run is forgotten. Kept, a redelivery of the
    // new run's message just after it (d <= 0) "resumed" the old run and was stepped a second time.
    if (this.abandonedSeq >= 0 && this.dist(this.lastSeq, this.abandonedSeq) <= limits.reorderWindow + 1) this.abandonedSeq = -1;
    let d = this.dist(this.lastSeq, seq);
    if (this.abandonedSeq >= 0 && (d <= 0 || d > limits.reorderWindow + 1)) {
      const fromOld = this.dist(this.abandonedSeq, seq);
      if (fromOld >= 1 && fromOld <= limits.reorderWindow + 1) {
        this.resumeAbandoned();
        d = fromOld;
      }
    }
    if (this.restart !== null) {
      const fromCandidate = this.dist(this.restart.batch.seq!, seq);
      if (d > 0) {
        // The old run goes on: the candidate was a stale redelivery. This message is taken below.
        this.restart = null;
        this.counters.duplicates++;
      } else if (fromCandidate !== 0 && Math.abs(fromCandidate) <= limits.reorderWindow + 1) {
        return this.confirmRestart(q, nowMs);
      } else {
        // A duplicate of the old run or of the candidate: the candidate still waits. Another
        // restart-looking message not next to it takes its place (the earlier one is dropped).
        if (fromCandidate !== 0 && this.looksLikeRestart(seq, d)) this.restart = q;
        this.counters.duplicates++;
        return { ready: [], reset: false };
      }
    }
    if (d <= 0) {
      if (this.looksLikeRestart(seq, d)) {
        // A restart or a stale redelivery: the device's next message decides (see the header).
        this.restart = q;
        return { ready: [], reset: false };
      }
      this.counters.duplicates++;
      return { ready: [], reset: false };
    }
    if (d === 1) {
      this.lastSeq = seq;
      this.dropStaleHeld(limits);
      const ready = [q];
      this.releaseConsecutive(ready);
      return { ready, reset: false };
    }
    // Ahead: hold it for the gap to fill.
    if (this.held.some((h) => h.batch.seq === seq)) {
      this.counters.duplicates++;
      return { ready: [], reset: false };
    }
    if (this.held.length === 0) this.heldSinceMs = nowMs;
    this.held.push(q);
    this.sortHeld();
    if (this.held.length > limits.reorderWindow) return this.giveUpGap(limits, nowMs);
    return { ready: [], reset: false };
  }

  /** seqDistance for this route's counter width (routes[].seqBits). */
  private dist(from: number, seq: number): number {
    return seqDistance(from, seq, this.route.config.seqBits);
  }

  /**
   * A counter back near its start (at most SEQ_RESTART_MIN, from more than SEQ_RESTART_MIN further
   * on), or more than SEQ_RESTART_DISTANCE behind; d = seqDistance(lastSeq, seq). Only 0 counted as
   * a start: a device counting from 1 (as MQTT packet ids do), or whose first messages after a
   * reboot were lost, had every message dropped as a duplicate until it passed its old number
   * (up to 1024 messages).
   */
  private looksLikeRestart(seq: number, d: number): boolean {
    return d <= 0 && ((seq <= SEQ_RESTART_MIN && -d > SEQ_RESTART_MIN) || -d > SEQ_RESTART_DISTANCE);
  }

  /** `q` continues the restart candidate: the device did restart its counter. One reset; the new run starts at the earlier of the two. */
  private confirmRestart(q: QueuedBatch, nowMs: number): { ready: QueuedBatch[]; reset: boolean; before?: QueuedBatch[] } {
    const candidate = this.restart!;
    this.restart = null;
    // Whatever was held belonged to the old counter: its gaps are given up (counted) and the
    // held messages go through before the reset (they were dropped uncounted).
    let before: QueuedBatch[] | undefined;
    if (this.held.length) {
      before = [];
      this.releaseAllHeld(before);
    }
    this.abandonedSeq = this.lastSeq;
    const [first, second] = this.dist(candidate.batch.seq!, q.batch.seq!) > 0 ? [candidate, q] : [q, candidate];
    this.lastSeq = first.batch.seq!;
    const ready = [first];
    if (this.dist(this.lastSeq, second.batch.seq!) === 1) {
      this.lastSeq = second.batch.seq!;
      ready.push(second);
    } else {
      // At most reorderWindow + 1 ahead: held for its gap like any message.
      this.heldSinceMs = nowMs;
      this.held.push(second);
    }
    return before ? { ready, reset: true, before } : { ready, reset: true };
  }

  /**
   * The run given up at the last confirmed restart goes on: that "restart" was a burst of stale
   * redeliveries (two or more in a row look like a restart to the one-message test). Back to the
   * old run without another reset: what the new run held is dropped as duplicates. Without this,
   * the old run's next message was a jump of thousands: a second reset for the same anomaly.
   */
  private resumeAbandoned(): void {
    this.counters.duplicates += this.held.length + (this.restart ? 1 : 0);
    this.held = [];
    this.restart = null;
    this.lastSeq = this.abandonedSeq;
    this.abandonedSeq = -1;
  }

  /**
   * The new run after a confirmed restart goes on: messages held far ahead of it (more than
   * reorderWindow + 1) at or behind the end of the run given up (abandonedSeq) were redeliveries
   * of that old run, not the new run's future: dropped as duplicates. Held, the gap to them was
   * given up reorderTimeoutMs later: a reset, the gap counted missing, and the device's next
   * message looked like a restart again (a second reset).
   */
  private dropStaleHeld(limits: LimitsConfig): void {
    if (this.abandonedSeq < 0 || this.held.length === 0) return;
    const kept = this.held.filter((h) => {
      const fromOld = this.dist(this.abandonedSeq, h.batch.seq!);
      return this.dist(this.lastSeq, h.batch.seq!) <= limits.reorderWindow + 1 || fromOld > 0 || fromOld <= -SEQ_RESTART_DISTANCE;
    });
    this.counters.duplicates += this.held.length - kept.length;
    this.held = kept;
  }

  /** Called by the gateway's maintenance tick: gives up a gap held too long. */
  expireHeld(limits: LimitsConfig, nowMs: number): { ready: QueuedBatch[]; reset: boolean } | null {
    // A gap that began in the future: the wall clock stepped back (NTP). Counted from now: it
    // waited until the clock caught up again, an hour for a one-hour step.
    if (nowMs < this.heldSinceMs) this.heldSinceMs = nowMs;
    if (this.held.length === 0 || nowMs - this.heldSinceMs < limits.reorderTimeoutMs) return null;
    return this.giveUpGap(limits, nowMs);
  }

  /** Messages held ahead of a gap (a pending restart candidate is not counted: no timeout gives it up). */
  get heldCount(): number {
    return this.held.length;
  }

  /** Clock ms when the oldest gap still held began (meaningful while heldCount > 0). */
  get heldSince(): number {
    return this.heldSinceMs;
  }

  /**
   * The gap now held began no later than `ms`: messages taken from another copy of this stream
   * (takeHeld) and accepted again keep the time their gap began, so reorderTimeoutMs still counts
   * from then, not from when they were accepted again.
   */
  gapBeganBy(ms: number): void {
    if (this.held.length > 0 && ms < this.heldSinceMs) this.heldSinceMs = ms;
  }

  /**
   * Removes and returns the held out-of-order messages, in order, and then the restart candidate
   * (a hand-off forwards them to the new owner; a rejoin accepts them again after an import).
   */
  takeHeld(): QueuedBatch[] {
    const h = this.restart ? [...this.held, this.restart] : this.held;
    this.held = [];
    this.restart = null;
    return h;
  }

  private sortHeld(): void {
    this.held.sort((a, b) => this.dist(this.lastSeq, a.batch.seq!) - this.dist(this.lastSeq, b.batch.seq!));
  }

  private giveUpGap(limits: LimitsConfig, nowMs: number): { ready: QueuedBatch[]; reset: boolean } {
    const ready: QueuedBatch[] = [];
    const missing = this.releaseFirstHeld(ready);
    // Later held messages (beyond another gap) wait for their own turn.
    if (this.held.length) this.heldSinceMs = nowMs;
    return { ready, reset: missing > limits.maxGap };
  }

  /** Gives up the gap before the first held message: it and its successors go to `out`. Returns the gap's length. */
  private releaseFirstHeld(out: QueuedBatch[]): number {
    const h = this.held.shift()!;
    const missing = this.dist(this.lastSeq, h.batch.seq!) - 1;
    this.counters.missing += missing;
    this.lastSeq = h.batch.seq!;
    this.counters.reordered++;
    out.push(h);
    this.releaseConsecutive(out);
    return missing;
  }

  private releaseAllHeld(out: QueuedBatch[]): void {
    while (this.held.length) this.releaseFirstHeld(out);
  }

  private releaseConsecutive(ready: QueuedBatch[]): void {
    while (this.held.length && this.dist(this.lastSeq, this.held[0]!.batch.seq!) === 1) {
      const h = this.held.shift()!;
      this.lastSeq = h.batch.seq!;
      this.counters.reordered++;
      ready.push(h);
    }
  }

  // ---- samples to frames -------------------------------------------------------------------

  /**
   * Time since the device's previous message (ms): between their `ts` when both carry one, else
   * between their arrival times; null for a stream's first message (restored streams keep the
   * times of their last one).
   */
  silenceBefore(q: QueuedBatch): number | null {
    const ts = deviceTimeMs(q.batch);
    if (ts !== undefined && this.lastMessageTsMs !== null) return ts - this.lastMessageTsMs;
    return this.lastMessageArrivedMs === null ? null : q.arrivedMs - this.lastMessageArrivedMs;
  }

  /**
   * Feeds an in-order message through the resampler and front end into the frame queue.
   * Returns the number of frames dropped because the queue was full (oldest first).
   */
  ingest(q: QueuedBatch): number {
    const b = q.batch;
    const ts = deviceTimeMs(b);
    if (ts === undefined && b.tsMs !== undefined) this.counters.unsetDeviceTime++;
    this.lastMessageTsMs = ts ?? null;
    this.lastMessageArrivedMs = q.arrivedMs;
    const fe = this.frontend;
    // Repaired here, in sequence order (the gateway dead-letters on arrival under 'deadLetter').
    const policy = this.route.config.nonFinite;
    if (policy !== 'deadLetter') applyNonFinite(b, policy, this.lastFinite);
    const rate = b.rateHz ?? this.route.config.sampleRateHz;
    if (rate !== undefined) this.deviceRateHz = rate;
    const target = fe.sampleRateHz;
    const droppedBefore = this.counters.droppedFrames;
    let values = b.values;
    let n = b.n;
    let srcIndex: Int32Array | null = null;
    if (this.deviceRateHz !== undefined && target !== undefined && Math.abs(this.deviceRateHz - target) > 1e-9 * target) {
      if (this.resampler === null) this.resampler = new LinearResampler(fe.channels, this.deviceRateHz, target);
      else this.resampler.setRates(this.deviceRateHz, target);
      const r = this.resampler.push(values, n);
      values = r.values;
      n = r.n;
      srcIndex = r.srcIndex;
    }
    // Sample time: the payload's ts for sample 0 (deviceTimeMs), else the message's arrival time
    // (not the time it was taken from the reorder buffer: a message held for its gap, or given up
    // reorderTimeoutMs later, had the times of the message that released it); spacing 1/rate. Frame
    // times stop at MAX_TS_MS (enqueueFrame): a valid ts near it, or a tiny rate (a payload's
    // rateHz of 1e-300), put later samples past what a Date holds, and the alert's ISO time threw
    // RangeError inside the stepping round (an uncaught exception: the process went down).
    // A device whose rate nobody gave (payload, route) is fed to the front end as at the front end's
    // rate, so that is its spacing (it was 0: every block of a 1 s audio message had its first sample's time).
    this.pushTs = ts ?? q.arrivedMs;
    const spacingRateHz = this.deviceRateHz ?? fe.sampleRateHz;
    this.pushDt = spacingRateHz ? Math.min(MAX_TS_MS, 1000 / spacingRateHz) : 0;
    this.pushSeq = b.seq ?? -1;
    this.pushArrived = q.arrivedPerfMs;
    if (srcIndex === null) {
      fe.push(values, n, this.sinkFn);
    } else {
      const map = srcIndex;
      fe.push(values, n, (frame, i, flags) => this.enqueueFrame(frame, map[i]!, flags));
    }
    return this.counters.droppedFrames - droppedBefore;
  }

  private enqueueFrame(frame: Float32Array, sampleIndex: number, flags: number): void {
    const I = this.I;
    if (this.count === this.cap && this.cap < this.maxCap) this.growQueue();
    if (this.count === this.cap) {
      // Full: drop the oldest frame so the newest data wins (backpressure without stalling
      // others); windowed front ends lose whole windows, never half of one.
      do {
        // A block (a frame, or a window's last frame) carries the samples it advanced by.
        const detect = (this.frameFlags[this.head]! & FRAME_DETECT) !== 0;
        if (detect) this.counters.droppedSamples += this.frontend.hopSamples;
        this.advancePosition(detect);
        this.head = (this.head + 1) % this.cap;
        this.count--;
        this.counters.droppedFrames++;
      } while (this.count > 0 && this.frontend.framesPerWindow > 1 && (this.frameFlags[this.head]! & FRAME_RESET) === 0);
    }
    const slot = (this.head + this.count) % this.cap;
    if (this.count + 1 > this.peak) this.peak = this.count + 1;
    this.frames.set(frame, slot * I);
    this.frameTs[slot] = Math.min(MAX_TS_MS, this.pushTs + sampleIndex * this.pushDt);
    this.frameArrived[slot] = this.pushArrived;
    this.frameSeq[slot] = this.pushSeq;
    this.frameFlags[slot] = flags;
    this.count++;
  }

  /**
   * An emptied queue more than 4 times larger than the most it held since it was last empty goes
   * back to the smallest of its sizes (QUEUE_INITIAL_FRAMES doubling) that holds twice that: a
   * backlog (a stall, a persistent session's queue delivered at once) left every stream's queue
   * at maxQueuedFrames for good, 49 KB per IMU device. Traffic of the same size never grows it again.
   */
  private shrinkQueue(): void {
    const peak = this.peak;
    this.peak = 0;
    if (this.cap <= 4 * peak || this.cap <= QUEUE_INITIAL_FRAMES) return;
    let cap = QUEUE_INITIAL_FRAMES;
    while (cap < 2 * peak) cap *= 2;
    this.allocQueue(Math.min(cap, this.maxCap));
  }

  /** New (empty) queue arrays of `cap` frames. */
  private allocQueue(cap: number): void {
    this.frames = new Float32Array(cap * this.I);
    this.frameTs = new Float64Array(cap);
    this.frameArrived = new Float64Array(cap);
    this.frameSeq = new Float64Array(cap);
    this.frameFlags = new Uint8Array(cap);
    this.cap = cap;
    this.head = 0;
  }

  /** Doubles the frame queue (up to maxQueuedFrames), oldest frame first at slot 0. */
  private growQueue(): void {
    const I = this.I;
    const cap = Math.min(this.maxCap, 2 * this.cap);
    const frames = new Float32Array(cap * I);
    const ts = new Float64Array(cap);
    const arrived = new Float64Array(cap);
    const seq = new Float64Array(cap);
    const flags = new Uint8Array(cap);
    for (let j = 0; j < this.count; j++) {
      const s = (this.head + j) % this.cap;
      frames.set(this.frames.subarray(s * I, (s + 1) * I), j * I);
      ts[j] = this.frameTs[s]!;
      arrived[j] = this.frameArrived[s]!;
      seq[j] = this.frameSeq[s]!;
      flags[j] = this.frameFlags[s]!;
    }
    this.frames = frames;
    this.frameTs = ts;
    this.frameArrived = arrived;
    this.frameSeq = seq;
    this.frameFlags = flags;
    this.cap = cap;
    this.head = 0;
  }

  /** Bytes the frame queue holds now (it grows on demand up to maxQueuedFrames). */
  get queueBytes(): number {
    return this.frames.byteLength + this.frameTs.byteLength + this.frameArrived.byteLength + this.frameSeq.byteLength + this.frameFlags.byteLength;
  }

  /** Frames waiting for the kernel. */
  get queued(): number {
    return this.count;
  }

  /**
   * Copies the oldest queued frame to out[off..off+I) (not removed yet). A frame that starts
   * an independent window resets the session here, just before it is stepped.
   */
  peekFrame(out: Float32Array, off: number): void {
    out.set(this.frames.subarray(this.head * this.I, (this.head + 1) * this.I), off);
    if (this.frameFlags[this.head]! & FRAME_RESET) this.session.reset();
  }

  /** performance.now() when the oldest queued frame's message arrived. */
  get headArrivedPerfMs(): number {
    return this.frameArrived[this.head]!;
  }

  /** Sample time (ms) and message seq (-1: none) of the frame completeFrame() last removed. */
  lastFrameTsMs = 0;
  lastFrameSeq = -1;

  /** Removes the oldest frame after it was stepped with `output`; returns its detector event, if any. */
  completeFrame(input: Float32Array, output: Float32Array): ReturnType<Detector['step']> {
    const ts = this.frameTs[this.head]!;
    this.lastFrameTsMs = ts;
    this.lastFrameSeq = this.frameSeq[this.head]!;
    const detect = (this.frameFlags[this.head]! & FRAME_DETECT) !== 0;
    this.head = (this.head + 1) % this.cap;
    this.count--;
    if (this.count === 0) this.shrinkQueue();
    this.advancePosition(detect);
    this.counters.frames++;
    const ev = detect ? this.detector.step(output, input) : null;
    const slot = this.evHead;
    this.evIn.set(input, slot * this.I);
    this.evScore[slot] = this.detector.lastScore;
    this.evTs[slot] = ts;
    this.evHead = (this.evHead + 1) % this.K;
    if (this.evCount < this.K) this.evCount++;
    return ev;
  }

  /** frameIndex past a frame stepped or dropped: each frame of a streaming front end; a window at its last frame (FRAME_DETECT). */
  private advancePosition(detect: boolean): void {
    const W = this.frontend.framesPerWindow;
    if (W === 1) this.frameIndex++;
    else if (detect) this.frameIndex = this.frameIndex === 0 ? W : this.frameIndex + (this.frontend.hopFrames ?? W);
  }

  /** The evidence window, oldest first. */
  evidence(): { fromMs: number; toMs: number; inputs: Float32Array[]; scores: number[] } {
    const inputs: Float32Array[] = [];
    const scores: number[] = [];
    const start = (this.evHead - this.evCount + this.K) % this.K;
    for (let j = 0; j < this.evCount; j++) {
      const s = (start + j) % this.K;
      inputs.push(this.evIn.slice(s * this.I, (s + 1) * this.I));
      scores.push(this.evScore[s]!);
    }
    const first = (start + this.K) % this.K;
    const last = (this.evHead - 1 + this.K) % this.K;
    return { fromMs: this.evCount ? this.evTs[first]! : 0, toMs: this.evCount ? this.evTs[last]! : 0, inputs, scores };
  }

  /** Starts a new epoch: fresh model state, front end, resampler, detector. Queued frames must be stepped (or dropped) first. */
  reset(nowMs: number): void {
    this.session.reset();
    this.frontend.reset();
    this.resampler?.reset();
    this.detector.reset();
    this.epoch++;
    this.frameIndex = 0;
    this.streamStartMs = nowMs;
    this.evHead = 0;
    this.evCount = 0;
    this.counters.resets++;
  }

  // ---- saved state --------------------------------------------------------------------------

  /**
   * The whole stream as bytes (queued frames must have been stepped): a JSON header and the
   * session and front-end states.
   *   u32 LE header length | header JSON (utf-8) | session state | front-end state
   * The front-end state (FrontEnd.exportState: for src/features front ends their own header,
   * kind, spec fingerprint and checksum) holds the samples buffered toward the next frame or
   * window, so the stream continues bit for bit. States written before front ends exported
   * theirs have frontendBytes 0 and the same layout (version 1 either way). The header also
   * carries the messages held ahead of a gap and the restart candidate (payloads as received),
   * so an evicted stream goes on waiting for its late messages; states without them hold none.
   */
  exportState(): Uint8Array {
    if (this.count !== 0) throw new EdgeRnnError('GATEWAY_STATE', `stream ${this.key}: export with ${this.count} queued frames`);
    const session = this.session.exportState();
    const fe = this.frontend.exportState();
    const header = {
      format: STATE_MAGIC,
      version: STATE_VERSION,
      device: this.device,
      sensor: this.sensor,
      model: this.route.model.sha256,
      lastSeq: this.lastSeq,
      // The counter width the numbers were taken with (null: the default), for the error when a route's changed.
      seqBits: this.route.config.seqBits ?? null,
      // Messages waiting for a gap or for the restart decision, as received (re-decoded on import).
      held: this.held.map(savedMessage),
      heldSinceMs: this.heldSinceMs,
      restart: this.restart ? savedMessage(this.restart) : null,
      abandonedSeq: this.abandonedSeq,
      epoch: this.epoch,
      frameIndex: this.frameIndex,
      streamStartMs: this.streamStartMs,
      lastActiveMs: this.lastActiveMs,
      lastMessageTsMs: this.lastMessageTsMs,
      lastMessageArrivedMs: this.lastMessageArrivedMs,
      deviceRateHz: this.deviceRateHz ?? null,
      resampler: this.resampler?.exportState() ?? null,
      detector: this.detector.exportState(),
      lastFinite: Array.from(this.lastFinite),
      evidence: { head: this.evHead, count: this.evCount, inputs: Array.from(this.evIn), scores: Array.from(this.evScore), ts: Array.from(this.evTs) },
      sessionBytes: session.length,
      frontendBytes: fe.length,
    };
    const hj = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(4 + hj.length + session.length + fe.length);
    new DataView(out.buffer).setUint32(0, hj.length, true);
    out.set(hj, 4);
    out.set(session, 4 + hj.length);
    out.set(fe, 4 + hj.length + session.length);
    return out;
  }

  /**
   * Restores exportState() bytes; throws GATEWAY_STATE (leaving a fresh stream) when they do not
   * fit. `frontendRestarted`: the bytes carried no front-end state (saved by an older gateway)
   * though this front end keeps one, so the model state continues and the front end starts over.
   */
  importState(bytes: Uint8Array): { frontendRestarted: boolean } {
    const fail = (why: string) => new EdgeRnnError('GATEWAY_STATE', `stream ${this.key}: cannot import saved state: ${why}`);
    if (bytes.length < 4) throw fail('shorter than its header');
    const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0, true);
    if (4 + hl > bytes.length) throw fail('header length past the end');
    let h: Record<string, unknown>;
    try {
      h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as Record<string, unknown>;
    } catch {
      throw fail('header is not JSON');
    }
    if (h.format !== STATE_MAGIC || h.version !== STATE_VERSION) throw fail(`not a version ${STATE_VERSION} stream state`);
    if (h.model !== this.route.model.sha256) throw fail(`saved for model ${String(h.model).slice(0, 12)}…, this stream runs ${this.route.model.sha256.slice(0, 12)}… (a new model starts fresh)`);
    const sb = Number(h.sessionBytes);
    const fb = Number(h.frontendBytes);
    if (4 + hl + sb + fb !== bytes.length) throw fail('sizes do not add up');
    const ev = h.evidence as { head: number; count: number; inputs: number[]; scores: number[]; ts: number[] };
    if (!ev || ev.inputs?.length !== this.evIn.length || ev.scores?.length !== this.K) throw fail('evidence window has another size (evidenceFrames changed)');
    if (ev.ts?.length !== this.evTs.length) throw fail('evidence window has another size (evidenceFrames changed)');
    // A hand-off or checkpoint comes over MQTT, where any client may publish: a count of 1e9 made
    // the next alert's evidence() build a billion frames, and a head past the window threw from
    // every step of the stream.
    const inWindow = (v: unknown, max: number) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
    if (!inWindow(ev.head, this.K - 1) || !inWindow(ev.count, this.K)) {
      throw fail(`evidence window head ${JSON.stringify(ev.head)} and count ${JSON.stringify(ev.count)}: expected integers in 0..${this.K - 1} and 0..${this.K}`);
    }
    // Held messages are decoded before anything is restored: a state that does not fit leaves a fresh stream.
    const held: QueuedBatch[] = [];
    let restart: QueuedBatch | null = null;
    try {
      if (h.held !== undefined) {
        if (!Array.isArray(h.held)) throw new Error('"held" is not a list');
        for (const m of h.held) held.push(this.loadMessage(m));
      }
      if (h.restart !== undefined && h.restart !== null) restart = this.loadMessage(h.restart);
    } catch (e) {
      throw fail(`held messages: ${(e as Error).message}`);
    }
    // Sequence numbers of the counter this route has (routes[].seqBits): a state saved under a
    // wider one (its seqBits changed) would order the next messages wrongly; any client may
    // publish a hand-off, and a lastSeq of "x" (NaN) took every message as a gap.
    const bits = this.route.config.seqBits;
    for (const k of ['lastSeq', 'abandonedSeq'] as const) {
      const v = h[k] ?? -1;
      if (v !== -1 && !(Number.isSafeInteger(v) && (v as number) >= 0 && seqWidthError(v as number, bits) === null)) {
        throw fail(`${k} ${JSON.stringify(v)} (saved with seqBits ${JSON.stringify(h.seqBits ?? null)}): expected -1 or an integer in 0..${bits === undefined || bits === 53 ? '2^53 - 1' : 2 ** bits - 1} (routes[].seqBits ${bits ?? 'default'})`);
      }
    }
    // Absent in states saved before routes had maxSilenceMs: the next message starts the count.
    const time = (k: string): number | null => {
      const v = h[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(`${k} ${JSON.stringify(v)} is not a time in ms`);
      return v;
    };
    // A ts before MIN_DEVICE_TS_MS, saved by a gateway that took it as device time, is none (deviceTimeMs).
    const savedTsMs = time('lastMessageTsMs');
    const lastMessageTsMs = savedTsMs !== null && savedTsMs >= MIN_DEVICE_TS_MS ? savedTsMs : null;
    const lastMessageArrivedMs = time('lastMessageArrivedMs');
    const deviceRateHz = h.deviceRateHz === null || h.deviceRateHz === undefined ? this.deviceRateHz : Number(h.deviceRateHz);
    // Checked as a payload's rateHz is (Gateway.onSensorMessage): a hand-off with 0.01 Hz to a
    // 50 Hz front end made every sample 5,000 frames, 1e-6 Hz allocated 1.2 GB at the next message.
    if (deviceRateHz !== undefined && !(deviceRateHz > 0 && Number.isFinite(deviceRateHz))) throw fail(`device rate ${JSON.stringify(h.deviceRateHz)} Hz is not a positive number`);
    const upsample = upsampleError(deviceRateHz, this.frontend.sampleRateHz);
    if (upsample) throw fail(`device rate ${upsample}`);
    let resampler: LinearResampler | null = null;
    try {
      if (h.resampler !== null && h.resampler !== undefined && deviceRateHz !== undefined && this.frontend.sampleRateHz !== undefined) {
        resampler = new LinearResampler(this.frontend.channels, deviceRateHz, this.frontend.sampleRateHz);
        resampler.importState(h.resampler);
      }
      this.session.importState(bytes.subarray(4 + hl, 4 + hl + sb));
      this.frontend.importState(bytes.subarray(4 + hl + sb));
      this.detector.importState(h.detector);
    } catch (e) {
      this.session.reset();
      this.frontend.reset();
      this.detector.reset();
      throw fail((e as Error).message);
    }
    this.lastSeq = Number(h.lastSeq);
    this.held = held;
    this.sortHeld();
    this.heldSinceMs = Number(h.heldSinceMs ?? 0);
    this.restart = restart;
    this.abandonedSeq = Number(h.abandonedSeq ?? -1);
    this.epoch = Number(h.epoch);
    this.frameIndex = Number(h.frameIndex);
    this.streamStartMs = Number(h.streamStartMs);
    this.deviceRateHz = deviceRateHz;
    this.resampler = resampler;
    this.lastMessageTsMs = lastMessageTsMs;
    this.lastMessageArrivedMs = lastMessageArrivedMs;
    if (Array.isArray(h.lastFinite)) this.lastFinite.set((h.lastFinite as number[]).slice(0, this.lastFinite.length));
    this.evHead = ev.head;
    this.evCount = ev.count;
    this.evIn.set(ev.inputs);
    this.evScore.set(ev.scores);
    this.evTs.set(ev.ts);
    return { frontendRestarted: fb === 0 && this.frontend.exportState().length > 0 };
  }

  /** A held message of a saved state (savedMessage), decoded again with this stream's codec. */
  private loadMessage(m: unknown): QueuedBatch {
    const o = m as { topic?: unknown; arrivedMs?: unknown; payload?: unknown } | null;
    if (typeof o?.topic !== 'string' || typeof o.payload !== 'string' || typeof o.arrivedMs !== 'number') throw new Error(`expected {"topic","arrivedMs","payload"}, got ${JSON.stringify(m)?.slice(0, 60)}`);
    const raw = new Uint8Array(Buffer.from(o.payload, 'base64'));
    const c = this.route.config;
    const batch = checkSeqWidth(DECODERS[c.codec](raw, { channels: c.channels, int16Scale: c.int16Scale, maxSamples: HELD_MAX_SAMPLES }), c.seqBits);
    if (batch.seq === undefined) throw new Error(`a held message of ${o.topic} has no "seq"`);
    return { batch, topic: o.topic, raw, arrivedPerfMs: performance.now(), arrivedMs: o.arrivedMs };
  }

  dispose(): void {
    this.session.dispose();
  }
}

/**
 * The earliest payload `ts` taken as device time, 2000-01-01T00:00:00Z (ms). An earlier one is a
 * clock that has not been set (a device booting at ts 0 until it gets time, a counter since boot)
 * or one sending seconds (1.7e9 as ms is January 1970): the message is taken as one without ts
 * (arrival time). Taken as is, its alerts were stamped 1970, and under routes[].maxSilenceMs the
 * jump to real time was a 54-year silence (a reset) while seconds hid every real one.
 */
export const MIN_DEVICE_TS_MS = 946_684_800_000;

/** The batch's `ts` when it is device time (at least MIN_DEVICE_TS_MS), else undefined. */
export function deviceTimeMs(b: SampleBatch): number | undefined {
  return b.tsMs !== undefined && b.tsMs >= MIN_DEVICE_TS_MS ? b.tsMs : undefined;
}

/**
 * The gateway resamples a device's samples to the rate its front end takes. Upsampling by more
 * than MAX_UPSAMPLE is refused: a device announcing rateHz 1e-4 to a 50 Hz model asked for half a
 * million samples per sample, and one such message held the event loop (every device) for seconds.
 */
export const MAX_UPSAMPLE = 100;

/** Why samples at `rateHz` cannot be resampled to `targetHz`, or null when they can (or need not be). */
export function upsampleError(rateHz: number | undefined, targetHz: number | undefined): string | null {
  if (rateHz === undefined || targetHz === undefined || targetHz / rateHz <= MAX_UPSAMPLE) return null;
  return `${rateHz} Hz would be resampled to the front end's ${targetHz} Hz, ${Number((targetHz / rateHz).toPrecision(3))} samples per sample: at most ${MAX_UPSAMPLE} (at least ${targetHz / MAX_UPSAMPLE} Hz)`;
}

/** A held message in a saved state's header: its topic, arrival time and payload as received (base64). */
function savedMessage(q: QueuedBatch): { topic: string; arrivedMs: number; payload: string } {
  return { topic: q.topic, arrivedMs: q.arrivedMs, payload: Buffer.from(q.raw.buffer, q.raw.byteOffset, q.raw.byteLength).toString('base64') };
}

export function streamKey(device: string, sensor: string): string {
  return `${device}/${sensor}`;
}

/** Reads the device/sensor/lastSeq and stream position of saved stream bytes without a model (for hand-off bookkeeping). */
export function peekStreamState(bytes: Uint8Array): { device: string; sensor: string; lastSeq: number; streamStartMs: number; epoch: number; frameIndex: number } | null {
  try {
    const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0, true);
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as Record<string, unknown>;
    if (h.format !== STATE_MAGIC) return null;
    return { device: String(h.device), sensor: String(h.sensor), lastSeq: Number(h.lastSeq), streamStartMs: Number(h.streamStartMs), epoch: Number(h.epoch), frameIndex: Number(h.frameIndex) };
  } catch {
    return null;
  }
}

/**
 * A saved state with its stream epoch one further (a new owner starting from a retained
 * checkpoint after its owner crashed): the frames the crashed owner stepped after the checkpoint
 * are lost, and it may have raised alerts at the frame indexes that now come again on other
 * data, with the same ids (consumers drop duplicates by id). The model state is kept. Bytes that
 * do not parse are returned as they are (importState reports them).
 */
export function withNextEpoch(bytes: Uint8Array): Uint8Array {
  try {
    const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0, true);
    if (4 + hl > bytes.length) return bytes;
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as Record<string, unknown>;
    if (h.format !== STATE_MAGIC || !Number.isSafeInteger(h.epoch)) return bytes;
    const hj = new TextEncoder().encode(JSON.stringify({ ...h, epoch: (h.epoch as number) + 1 }));
    const out = new Uint8Array(4 + hj.length + bytes.length - 4 - hl);
    new DataView(out.buffer).setUint32(0, hj.length, true);
    out.set(hj, 4);
    out.set(bytes.subarray(4 + hl), 4 + hj.length);
    return out;
  } catch {
    return bytes;
  }
}
