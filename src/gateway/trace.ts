/**
 * Recorded MQTT traffic (Node-only module): `edgernn record` writes it, `edgernn replay` feeds it
 * back through the gateway pipeline on a manual clock, so a run over the same trace and config
 * gives the same alerts, ids included, every time.
 *
 * Format: NDJSON. Line 1 is a header, then one line per message, in arrival order:
 *   {"format":"edgernn.trace","version":1,"recordedAt":"2024-05-01T12:00:00.000Z","broker":"mqtt://...","topics":["edgernn/plant/+/imu"]}
 *   {"t":1714564800123,"topic":"edgernn/plant/pump-7/imu","qos":1,"payload":"<base64>"}
 * t is the arrival time (ms since epoch) at the recorder.
 */
import fs from 'node:fs';
import { EdgeRnnError } from '../errors.js';
import type { Alert } from './alert.js';
import { ManualClock } from './clock.js';
import { MAX_DEVICE_TS_MS } from './codecs.js';
import type { BrokerConfig, GatewayConfig } from './config.js';
import { Gateway, type GatewayOptions } from './gateway.js';
import { memoryLogger, type Logger } from './logger.js';
import { MemoryOutbox } from './outbox.js';
import { memoryStateStore } from './state-store.js';
import { MIN_DEVICE_TS_MS } from './stream.js';
import { deviceNameError, Topics } from './topics.js';
import { mqttClientOptions, redactUrl, TraceTransport } from './transport.js';

export const TRACE_FORMAT = 'edgernn.trace';
export const TRACE_VERSION = 1;
/**
 * Why `t` cannot be a record's arrival time (ms since epoch: what `edgernn record` writes), or null.
 * Taken from 2000-01-01 (MIN_DEVICE_TS_MS) to the end of the year 9999 (MAX_DEVICE_TS_MS), as a
 * payload's `ts` is: a trace converted in seconds (1.7e9) was replayed 1000 times too fast (a
 * second between messages became 1 ms: reorderTimeoutMs, maxSilenceMs and batching wrong) and
 * scored over 1000 times fewer hours (false alarms per hour 1000 times too high); one in µs
 * (1.7e15, within a Date) the other way.
 */
export function traceTimeError(t: unknown): string | null {
  if (typeof t === 'number' && t >= MIN_DEVICE_TS_MS && t <= MAX_DEVICE_TS_MS) return null;
  const expected = `"t" must be the arrival time in ms since epoch, from 2000-01-01 to the end of the year 9999 (${MIN_DEVICE_TS_MS} to ${MAX_DEVICE_TS_MS}), got ${JSON.stringify(t)}`;
  if (typeof t !== 'number' || !Number.isFinite(t)) return expected;
  const as = (scale: number, unit: string, fix: string) => {
    const ms = t * scale;
    return ms >= MIN_DEVICE_TS_MS && ms <= MAX_DEVICE_TS_MS ? `${expected}: a time in ${unit}? (${fix}: ${new Date(ms).toISOString()})` : null;
  };
  return as(1000, 'seconds', '× 1000') ?? as(1e-3, 'µs', '÷ 1000') ?? as(1e-6, 'ns', '÷ 1e6') ?? expected;
}

export interface TraceHeader {
  format: typeof TRACE_FORMAT;
  version: number;
  recordedAt: string;
  broker?: string;
  topics?: string[];
}

export interface TraceRecord {
  /** Arrival time, ms since epoch. */
  t: number;
  topic: string;
  qos: 0 | 1 | 2;
  payload: Uint8Array;
  /** Line in the trace file (parseTrace sets it), for error messages. */
  line?: number;
}

/**
 * Why `topic` is no topic name a broker delivers, naming the level, or null: a level with a
 * wildcard ("+", "#": MQTT-4.7.1-1) or U+0000 (MQTT-4.7.3-2). Empty levels are allowed ("a//b").
 */
function topicNameError(topic: string): string | null {
  if (!/[+#\u0000]/.test(topic)) return null;
  const levels = topic.split('/');
  for (let i = 0; i < levels.length; i++) {
    if (/[+#\u0000]/.test(levels[i]!)) return `level ${i + 1}, ${JSON.stringify(levels[i])}, is not a valid MQTT topic level (expected no wildcard "+" or "#" and no U+0000: a topic messages are published to has none, MQTT-4.7.1-1; replayed, a device so named has its alerts published to a wildcard topic)`;
  }
  return null;
}

/**
 * Why a record's topic cannot be replayed, or null. When the sensor template of `topics` matches
 * it, names the device, sensor or partition whose level is bad (what the user has to look for in
 * the site), else the level: a topic of another template has no device to name.
 */
function recordTopicError(topic: string, topics: Topics | null): { why: string; device?: string } | null {
  // Every level of a topic without these characters is valid: no split per line of a long trace.
  if (!/[+#\u0000]/.test(topic)) return null;
  const m = topics?.sensorParser.parse(topic) ?? null;
  if (m) {
    for (const [what, name] of [['device', m.device], ['sensor', m.sensor], ['partition', m.partition]] as const) {
      const nameError = name === undefined ? null : deviceNameError(name);
      if (nameError !== null) return { why: `${what} ${JSON.stringify(name)} (topic ${JSON.stringify(topic)}): expected a valid MQTT topic level without wildcards, got ${nameError}`, device: m.device };
    }
  }
  const topicError = topicNameError(topic);
  return topicError === null ? null : { why: `"topic" ${JSON.stringify(topic)}: ${topicError}` };
}

export interface ParseTraceOptions {
  /**
   * The gateway config the trace will be replayed with: a bad topic its sensor template matches
   * is refused naming the device or sensor, not the level ("level 3").
   */
  config?: Pick<GatewayConfig, 'topics' | 'site' | 'gatewayId'>;
}

export function traceHeaderLine(h: Omit<TraceHeader, 'format' | 'version'>): string {
  return `${JSON.stringify({ format: TRACE_FORMAT, version: TRACE_VERSION, ...h })}\n`;
}

export function traceRecordLine(r: TraceRecord): string {
  return `${JSON.stringify({ t: r.t, topic: r.topic, qos: r.qos, payload: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).toString('base64') })}\n`;
}

/**
 * Parses a trace; GATEWAY_TRACE names the line and the defect. A torn last line (a recorder killed
 * mid-write) is ignored. Give the file's bytes rather than a string: a trace over 512 MiB (a day
 * of a site) is longer than a JavaScript string can be, so it is split into lines as bytes.
 */
export function parseTrace(data: string | Uint8Array, source = 'trace.ndjson', opts: ParseTraceOptions = {}): { header: TraceHeader; records: TraceRecord[]; tornLastLine: boolean } {
  const bytes = typeof data === 'string' ? null : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const text = typeof data === 'string' ? data : '';
  const len = bytes ? bytes.length : text.length;
  let pos = 0;
  /** The next line (without its '\n'), and whether it had one; null at the end. */
  const nextLine = (): { line: string; terminated: boolean } | null => {
    if (pos >= len) return null;
    const j = bytes ? bytes.indexOf(10, pos) : text.indexOf('\n', pos);
    const end = j < 0 ? len : j;
    const line = bytes ? bytes.toString('utf8', pos, end) : text.slice(pos, end);
    pos = end + 1;
    return { line, terminated: j >= 0 };
  };
  let tornLastLine = false;
  const topics = opts.config ? new Topics(opts.config) : null;
  const bad = (n: number, why: string) => new EdgeRnnError('GATEWAY_TRACE', `${source}:${n}: ${why}`, { line: n });
  const first = nextLine();
  if (first === null) throw bad(1, `empty file: expected a header {"format":"${TRACE_FORMAT}",...}`);
  let header: TraceHeader;
  try {
    header = JSON.parse(first.line) as TraceHeader;
  } catch {
    throw bad(1, `the header is not JSON: expected {"format":"${TRACE_FORMAT}","version":${TRACE_VERSION},...}`);
  }
  if (header?.format !== TRACE_FORMAT) throw bad(1, `format must be "${TRACE_FORMAT}", got ${JSON.stringify(header?.format)}`);
  // JSON-quoted: a version "1" (a string) said "version 1: this edgernn reads version 1".
  if (header.version !== TRACE_VERSION) throw bad(1, `"version" must be ${TRACE_VERSION} (the trace format this edgernn reads; a newer edgernn writes a newer one), got ${JSON.stringify(header.version)}`);
  const records: TraceRecord[] = [];
  let prevT = -Infinity;
  for (let n = 2, l = nextLine(); l !== null; n++, l = nextLine()) {
    if (l.line.trim() === '') continue; // blank lines (an edited file) carry nothing
    let o: { t?: unknown; topic?: unknown; qos?: unknown; payload?: unknown };
    try {
      o = JSON.parse(l.line) as typeof o;
    } catch {
      if (!l.terminated) {
        tornLastLine = true;
        break;
      }
      throw bad(n, 'not JSON');
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad(n, `expected a record {"t","topic","qos","payload"}, got ${JSON.stringify(o).slice(0, 40)}`);
    // ms since epoch (traceTimeError): beyond a Date's range (a log converted in ns) the replay threw
    // RangeError; in seconds it was replayed and scored 1000 times off.
    const timeError = traceTimeError(o.t);
    if (timeError !== null || typeof o.t !== 'number') throw bad(n, timeError ?? '"t" must be a number');
    if (o.t < prevT) throw bad(n, `"t" goes back in time (${o.t} after ${prevT}): records must be in arrival order`);
    if (typeof o.topic !== 'string' || o.topic.length === 0) throw bad(n, `"topic" must be a non-empty string, got ${JSON.stringify(o.topic)}`);
    // Checked for every line before a record is replayed: a trace is refused whole, never half replayed.
    const topicError = recordTopicError(o.topic, topics);
    if (topicError !== null) throw bad(n, topicError.why);
    if (o.qos !== 0 && o.qos !== 1 && o.qos !== 2) throw bad(n, `"qos" must be 0, 1 or 2, got ${JSON.stringify(o.qos)}`);
    if (typeof o.payload !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.payload)) throw bad(n, '"payload" must be base64');
    prevT = o.t;
    records.push({ t: o.t, topic: o.topic, qos: o.qos, payload: new Uint8Array(Buffer.from(o.payload, 'base64')), line: n });
  }
  return { header, records, tornLastLine };
}

export interface RecordOptions {
  /** Broker URL and credentials. */
  url: string;
  broker: BrokerConfig;
  topics: string[];
  /** File to write (created or truncated). */
  file: string;
  /** Stop after this many messages (default: no limit). */
  maxMessages?: number;
  /** Stop after this long (ms of wall time; default: no limit). */
  durationMs?: number;
  /** Stop when this resolves (a signal). */
  stop?: Promise<void>;
  /** Called when subscribed (tests start publishing then). */
  onReady?: () => void;
  /** Called when the broker goes away and when it is back (the CLI says it on stderr). */
  onBroker?: (event: 'lost' | 'back', message: string) => void;
  now?: () => number;
  /** Sync the trace to disk at least this often while messages arrive (ms; default RECORD_SYNC_MS). */
  syncEveryMs?: number;
}

/** `edgernn record` syncs the trace to disk at least this often while messages arrive (ms). */
export const RECORD_SYNC_MS = 1000;

/** Records messages from a broker to an NDJSON trace; resolves with the count when stopped. */
export async function recordTrace(o: RecordOptions): Promise<{ messages: number; bytes: number; retained: number }> {
  const now = o.now ?? Date.now;
  // Opened to append: a bad path fails now, before connecting, but a trace already there is
  // truncated only once the broker has answered (a mistyped URL or a broker that is down wiped
  // yesterday's recording, and the 3.1.1 retry found it empty).
  const existed = fs.existsSync(o.file);
  const fd = fs.openSync(o.file, 'a');
  let started = false;
  let messages = 0;
  let bytes = 0;
  /** Retained messages the broker sent on subscribing, not recorded. */
  let retained = 0;
  /** Why writing the trace failed (a full disk, a file size limit), once it has. */
  let writeError: Error | null = null;
  const write = (s: string) => {
    // A short write (a file size limit reached mid-line) is no error: the rest is written, or
    // the next write fails. `bytes` counts whole lines only.
    const b = Buffer.from(s);
    for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off);
    bytes += b.length;
  };
  // On disk at most RECORD_SYNC_MS after it arrived: synced only at stop, an hour-long recording on
  // a gateway that lost power kept what the kernel had written back (Linux: up to 30 s lost or more).
  const regular = fs.fstatSync(fd).isFile(); // a pipe or a device (-o /dev/stdout) has nothing to sync
  let syncedAt = performance.now();
  const syncNow = () => {
    syncedAt = performance.now();
    if (regular) fs.fsyncSync(fd);
  };
  const start = () => {
    started = true;
    if (fs.fstatSync(fd).isFile()) fs.ftruncateSync(fd, 0); // not a pipe (-o /dev/stdout)
    try {
      write(traceHeaderLine({ recordedAt: new Date(now()).toISOString(), broker: o.url.replace(/\/\/[^@/]*@/, '//'), topics: o.topics }));
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_TRACE', `record: cannot write ${o.file}: ${(e as Error).message}`, { file: o.file, cause: (e as NodeJS.ErrnoException).code });
    }
  };
  const { connect } = await import('mqtt'); // on use: see mqttTransport
  const client = connect(o.url, { ...mqttClientOptions({ broker: o.broker, url: o.url, clientId: `edgernn-record-${process.pid}-${now()}` }) });
  let stopped = false;
  try {
    // A signal stops the recorder while it connects too (a broker that never answers held it for
    // the whole connect timeout, Ctrl-C ignored).
    const connected = await new Promise<boolean>((resolve, reject) => {
      client.once('connect', () => resolve(true));
      client.once('error', (e) => reject(new EdgeRnnError('GATEWAY_TRANSPORT', `record: cannot connect to ${redactUrl(o.url)}: ${e.message}`)));
      o.stop?.then(() => resolve(false));
    });
    // Stopped while connecting: a trace already there is kept; a new file holds an empty trace.
    if (!connected && existed) return { messages, bytes, retained };
    start();
    if (!connected) return { messages, bytes, retained };
    // A broker restart is ridden out (MQTT.js reconnects and subscribes again), but what is
    // published meanwhile is lost: said, not silent (a broker back with other credentials
    // refused the recorder for hours while it went on "recording").
    let lostAt: number | null = null;
    let lastReason = '';
    client.on('close', () => {
      if (stopped || lostAt !== null) return;
      lostAt = performance.now();
      o.onBroker?.('lost', `lost the broker ${redactUrl(o.url)}: reconnecting; messages published meanwhile are not recorded`);
    });
    client.on('error', (e) => {
      if (stopped || lostAt === null || e.message === lastReason) return;
      lastReason = e.message;
      o.onBroker?.('lost', `${redactUrl(o.url)}: ${e.message}`);
    });
    client.on('connect', () => {
      if (lostAt === null) return;
      const s = ((performance.now() - lostAt) / 1000).toFixed(1);
      lostAt = null;
      lastReason = '';
      o.onBroker?.('back', `reconnected to ${redactUrl(o.url)} after ${s} s: the trace has a gap there`);
    });
    let finish: () => void = () => {};
    const done = new Promise<void>((r) => (finish = r));
    // Arrival times never go back: the wall clock does (an NTP step, a daylight-saving fix on a
    // gateway without a time zone), and replay refuses a trace whose "t" goes back.
    let lastT = -Infinity;
    client.on('message', (topic, payload, packet) => {
      // Messages already on the wire when it stops are not taken: --count N records N.
      if (stopped || messages === o.maxMessages) return;
      // The broker's retained copies, sent because we subscribed, are not traffic (the gateway
      // skips them too): recorded, they were replayed as if they had arrived at the start.
      if (packet.retain) {
        retained++;
        return;
      }
      lastT = Math.max(lastT, now());
      try {
        write(traceRecordLine({ t: lastT, topic, qos: packet.qos, payload }));
      } catch (e) {
        // A full disk or a file size limit: thrown in mqtt's message handler, it ended the process
        // with a raw stack trace, the trace unsynced and its last line torn. Cut back to the last
        // whole record and stop with a typed error.
        writeError = e as Error;
        stopped = true;
        try {
          if (fs.fstatSync(fd).isFile()) fs.ftruncateSync(fd, bytes);
        } catch {
          // the torn line stays: replay ignores a torn last line
        }
        finish();
        return;
      }
      if (++messages === o.maxMessages) finish();
      else if (performance.now() - syncedAt >= (o.syncEveryMs ?? RECORD_SYNC_MS)) {
        try {
          syncNow();
        } catch {
          // An fsync the disk refuses: the stop's fsync reports it (the records are written).
        }
      }
    });
    await new Promise<void>((resolve, reject) =>
      client.subscribe(o.topics, { qos: 1 }, (err, granted) => {
        if (err) return reject(new EdgeRnnError('GATEWAY_TRANSPORT', `record: subscribe: ${err.message}`));
        const refused = (granted ?? []).filter((g) => g.qos >= 0x80);
        if (refused.length) return reject(new EdgeRnnError('GATEWAY_TRANSPORT', `record: the broker refused ${refused.map((g) => g.topic).join(', ')}`));
        resolve();
      }),
    );
    o.onReady?.();
    const waits: Array<Promise<void>> = [done];
    let timer: NodeJS.Timeout | undefined;
    if (o.durationMs !== undefined) {
      // In steps of at most 2^31 - 1 ms: a longer setTimeout fires at once (--duration 2592000, 30 days, stopped at the start).
      const end = performance.now() + o.durationMs;
      waits.push(
        new Promise<void>((r) => {
          const arm = () => {
            const left = end - performance.now();
            if (left <= 0) r();
            else timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
          };
          arm();
        }),
      );
    }
    if (o.stop) waits.push(o.stop);
    if (o.maxMessages !== 0) await Promise.race(waits);
    if (timer) clearTimeout(timer);
    const we = writeError as Error | null;
    if (we !== null) {
      throw new EdgeRnnError('GATEWAY_TRACE', `record: cannot write ${o.file}: ${we.message}: the trace holds the ${messages} messages recorded before`, { file: o.file, messages, cause: (we as NodeJS.ErrnoException).code });
    }
  } finally {
    stopped = true;
    await new Promise<void>((r) => client.end(false, {}, () => r()));
    syncNow();
    fs.closeSync(fd);
    if (!started && !existed) fs.rmSync(o.file, { force: true });
  }
  return { messages, bytes, retained };
}

// ---- replay -----------------------------------------------------------------------------------

export interface ReplayOptions {
  config: GatewayConfig;
  records: readonly TraceRecord[];
  /** 'max' (as fast as possible) or a factor of real time (2 = twice as fast). Either way the gateway's clock follows the trace. */
  speed: number | 'max';
  /** Models, front ends, detectors, as for Gateway.create. */
  gateway?: Pick<GatewayOptions, 'models' | 'runtime' | 'detectors' | 'frontends'>;
  onAlert?: (a: Alert) => void;
  logger?: Logger;
  /** The trace's file name, for error messages (default "trace"). */
  source?: string;
}

export interface ReplayResult {
  alerts: Alert[];
  messages: number;
  /** Messages no subscription matched (other sites, other sensors). */
  skipped: number;
  /** Devices the gateway took messages from (the routed ones). */
  devices: number;
  /** First and last record time. */
  fromMs: number;
  toMs: number;
  counters: Record<string, number>;
  /** Labels the config's models can raise (their labels, "anomaly", "output<i>"), sorted: a truth label outside them can only be missed. */
  labels: string[];
}

/**
 * Feeds a trace through a gateway built from `config` (broker, outbox, states, board and cluster
 * replaced by in-memory stand-ins) on a manual clock that follows the trace's timestamps.
 */
export async function replayTrace(o: ReplayOptions): Promise<ReplayResult> {
  const first = o.records[0]?.t ?? 0;
  const clock = new ManualClock(first);
  const transport = new TraceTransport();
  const { cluster: _cluster, board: _board, ...rest } = o.config;
  const config: GatewayConfig = { ...rest, stateDir: '', metrics: { ...rest.metrics, intervalMs: 0 } };
  delete (config.metrics as { httpPort?: number }).httpPort;
  checkRecords(o.records, new Topics(config), o.source ?? 'trace');
  const gw = await Gateway.create({
    ...o.gateway,
    config,
    clock,
    transport,
    outbox: new MemoryOutbox(),
    stateStore: memoryStateStore(),
    logger: o.logger ?? memoryLogger('silent'),
    // Batching must not depend on wall time: no step budget.
    stepBudgetMs: Infinity,
  });
  const alerts: Alert[] = [];
  gw.on('alert', (a) => {
    alerts.push(a);
    o.onAlert?.(a);
  });
  let skipped = 0;
  const devices = new Set<string>();
  // Paced against one start: a sleep per gap fell behind by a timer's resolution at every record
  // (--speed 100 over 1 ms gaps ran at real time, not 100x), and a gap over 2^31 - 1 ms of
  // sleep was no sleep (Node's timer limit).
  const wallStart = performance.now();
  for (const r of o.records) {
    if (o.speed !== 'max') {
      const due = wallStart + (r.t - first) / o.speed;
      for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) await new Promise((res) => setTimeout(res, Math.min(wait, 2 ** 31 - 1)));
    }
    clock.advanceTo(r.t);
    if (!transport.deliver(r.topic, r.payload)) skipped++;
    else {
      const m = gw.topics.sensorParser.parse(r.topic);
      if (m) devices.add(m.device);
    }
  }
  // Past the end: give up held gaps, step what is queued.
  clock.advance(config.limits.reorderTimeoutMs + config.limits.batchDelayMs + 1000);
  gw.drainNow();
  await gw.settled();
  const last = o.records.length ? o.records[o.records.length - 1]!.t : first;
  const counters = { ...gw.metrics.counters } as Record<string, number>;
  const labels = new Set<string>(['anomaly']);
  for (const m of gw.models.values()) {
    m.labels.forEach((l) => labels.add(l));
    for (let i = 0; i < m.outputSize; i++) labels.add(`output${i}`);
  }
  await gw.stop();
  return { alerts, messages: o.records.length - skipped, skipped, devices: devices.size, fromMs: first, toMs: last, counters, labels: [...labels].sort() };
}

/**
 * Refuses records whose time is no arrival time in ms since epoch (traceTimeError: records given
 * to replayTrace in code skip parseTrace), whose topic is no topic name or whose device, sensor or partition is no topic
 * level (a device "+" or "#" has its alerts published to a wildcard topic), all of them before the first record is
 * delivered: a bad record stops the replay before it starts, not halfway with half the alerts out.
 */
function checkRecords(records: readonly TraceRecord[], topics: Topics, source: string): void {
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const timeError = traceTimeError(r.t);
    if (timeError !== null) {
      throw new EdgeRnnError('GATEWAY_TRACE', `${source}: record ${i + 1}${r.line !== undefined ? ` (line ${r.line})` : ''}: ${timeError}`, { record: i + 1, line: r.line });
    }
    const e = recordTopicError(r.topic, topics);
    if (e === null) continue;
    const where = `${source}: record ${i + 1}${r.line !== undefined ? ` (line ${r.line})` : ''}`;
    throw new EdgeRnnError('GATEWAY_TRACE', `${where}: ${e.why}`, { record: i + 1, line: r.line, ...(e.device !== undefined ? { device: e.device } : {}) });
  }
}

// ---- scoring against ground truth ------------------------------------------------------------------

export interface TruthEvent {
  device: string;
  /** Event start and end, ms since epoch (same clock as the payload ts or the trace t). */
  startMs: number;
  endMs: number;
  label?: string;
}

export interface AlertScore {
  events: number;
  /** Events with at least one alert inside [start - tolerance, end + tolerance]. */
  hits: number;
  misses: number;
  /** Alerts matching no event. */
  falseAlarms: number;
  /** Extra alerts inside an already detected event (not false alarms). */
  repeats: number;
  hours: number;
  falseAlarmsPerHour: number;
  /** Per device-hour: false alarms / (devices * hours). */
  falseAlarmsPerDeviceHour: number;
  /** Mean time from event start to its first alert (ms), over hits. */
  meanDelayMs: number;
}

/** Scores alerts against labelled events: hits, misses, false alarms per hour. */
export function scoreAlerts(alerts: readonly Alert[], truth: readonly TruthEvent[], opts: { fromMs: number; toMs: number; toleranceMs: number; devices: number }): AlertScore {
  const detected = new Set<number>();
  let falseAlarms = 0;
  let repeats = 0;
  let delaySum = 0;
  for (const a of alerts) {
    // The nearest event of its device (and label) within the tolerance; of equally near ones, one
    // not detected yet. (The first in the list made an alert inside an event a "repeat" of the
    // event before it whenever their tolerance windows overlapped, and the event a miss.)
    let matched = -1;
    let nearest = Infinity;
    for (let i = 0; i < truth.length; i++) {
      const e = truth[i]!;
      if (e.device !== a.device) continue;
      if (e.label !== undefined && e.label !== a.label) continue;
      if (a.tsMs >= e.startMs - opts.toleranceMs && a.tsMs <= e.endMs + opts.toleranceMs) {
        const d = a.tsMs < e.startMs ? e.startMs - a.tsMs : a.tsMs > e.endMs ? a.tsMs - e.endMs : 0;
        if (d < nearest || (d === nearest && detected.has(matched) && !detected.has(i))) {
          matched = i;
          nearest = d;
        }
      }
    }
    if (matched < 0) falseAlarms++;
    else if (detected.has(matched)) repeats++;
    else {
      detected.add(matched);
      delaySum += a.tsMs - truth[matched]!.startMs;
    }
  }
  const hours = Math.max(opts.toMs - opts.fromMs, 1) / 3_600_000;
  return {
    events: truth.length,
    hits: detected.size,
    misses: truth.length - detected.size,
    falseAlarms,
    repeats,
    hours,
    falseAlarmsPerHour: falseAlarms / hours,
    falseAlarmsPerDeviceHour: falseAlarms / (hours * Math.max(1, opts.devices)),
    meanDelayMs: detected.size ? delaySum / detected.size : NaN,
  };
}

/** Reads ground truth: a JSON list of {device, startMs, endMs, label?} (start/end may be ISO dates). */
export function parseTruth(text: string, source = 'truth.json'): TruthEvent[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new EdgeRnnError('GATEWAY_TRACE', `${source} is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new EdgeRnnError('GATEWAY_TRACE', `${source} must be a list of {device, startMs, endMs, label?}`);
  const time = (v: unknown, where: string) => {
    // An ISO date-time without an offset is UTC, as the alerts' "ts" (Date.parse takes it as the
    // machine's local time: the same truth file scored differently under another TZ).
    const local = typeof v === 'string' ? /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)$/.exec(v.trim()) : null;
    const t = typeof v === 'string' ? Date.parse(local ? `${local[1]}T${local[2]}Z` : v) : v;
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new EdgeRnnError('GATEWAY_TRACE', `${source}: ${where} must be ms since epoch or an ISO date, got ${JSON.stringify(v)}`);
    return t;
  };
  return doc.map((e: unknown, i) => {
    const o = e as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || typeof o.device !== 'string') throw new EdgeRnnError('GATEWAY_TRACE', `${source}: [${i}].device must be a string`);
    const ev: TruthEvent = { device: o.device, startMs: time(o.startMs ?? o.start, `[${i}].startMs`), endMs: time(o.endMs ?? o.end, `[${i}].endMs`) };
    if (ev.endMs < ev.startMs) throw new EdgeRnnError('GATEWAY_TRACE', `${source}: [${i}] ends (${ev.endMs}) before it starts (${ev.startMs})`);
    // A label of another type (a number, a list) matched any alert's label, silently.
    if (o.label !== undefined && o.label !== null && typeof o.label !== 'string') throw new EdgeRnnError('GATEWAY_TRACE', `${source}: [${i}].label must be a string (or absent: any label), got ${JSON.stringify(o.label)}`);
    if (typeof o.label === 'string') ev.label = o.label;
    return ev;
  });
}
