/**
 * Gateway configuration (Node-only module): one interface per section with a doc line per field,
 * the defaults in one object, and a validator that names the offending field:
 *   gateway.json: routes[0].codec must be one of json, binary, csv, got "xml"
 * Unknown fields are errors too (a typo must not silently fall back to a default).
 */
import { EdgeRnnError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';

export const CODECS = ['json', 'binary', 'csv'] as const;
export type CodecName = (typeof CODECS)[number];

export const NON_FINITE_POLICIES = ['deadLetter', 'zero', 'hold'] as const;
/** What a payload with NaN/±Infinity samples does: dead-letter the message, replace by 0, or repeat the channel's last finite value. */
export type NonFiniteSamplePolicy = (typeof NON_FINITE_POLICIES)[number];

export const BACKEND_CHOICES = ['auto', 'simd', 'scalar', 'reference', 'float'] as const;

export interface BrokerConfig {
  /** 'embedded' (an in-process aedes broker) or mqtt://, mqtts://, ws://, wss:// URL of an external broker. */
  url: string;
  /** Embedded broker: address to listen on. */
  host: string;
  /** Embedded broker: TCP port, 0 = any free port (printed at start). */
  port: number;
  /** Credentials for an external broker. */
  username?: string;
  password?: string;
  /** TLS: CA bundle, client certificate and key (PEM file paths, relative to the config file). */
  ca?: string;
  cert?: string;
  key?: string;
  /** TLS: refuse brokers whose certificate does not verify (default true). */
  rejectUnauthorized: boolean;
  /** MQTT protocol version: 5 (default; needed for shared subscriptions) or 4 (3.1.1). */
  protocolVersion: 4 | 5;
  /** MQTT keepalive, seconds. */
  keepaliveS: number;
  /** Delay between reconnect attempts, ms. */
  reconnectMs: number;
  /** Client id (default edgernn-<gatewayId>). */
  clientId?: string;
  /**
   * Keep the MQTT session across reconnects and restarts (clean start off, session expiry 1 h)
   * so the broker queues QoS 1 sensor messages while the gateway is away (default false).
   */
  persistentSession: boolean;
  /**
   * QoS of the sensor subscriptions. Default 0 without a persistent session: over one TCP
   * connection QoS 1 adds a PUBACK per message and protects nothing a clean session keeps
   * (in-flight messages of a dropped connection are discarded either way). Default 1 with a
   * persistent session, so the broker stores messages for the gateway while it is away.
   */
  sensorQos: 0 | 1;
}

export interface TopicConfig {
  /** First topic level. */
  prefix: string;
  /** Sensor data topic template; placeholders {prefix} {site} {device} {sensor} and, in cluster mode, {partition}. */
  sensor: string;
  /** Where alerts go ({prefix} {site} {device} {sensor}). */
  alerts: string;
  /** Gateway status (retained, with a last-will "offline"). */
  status: string;
  /** Periodic metrics JSON. */
  metrics: string;
  /** Payloads that could not be decoded, with the reason. */
  deadLetter: string;
  /** Cluster control: membership, hand-off ({prefix} {site} {gateway}). */
  cluster: string;
}

export interface ModelConfig {
  /** Path to the .ern file (relative to the config file). */
  path: string;
  /** Backend (default auto: simd when supported). */
  backend: (typeof BACKEND_CHOICES)[number];
}

export interface ThresholdDetectorConfig {
  kind: 'threshold';
  /** Which model output is the score: an index or a label (default 0). */
  output: number | string;
  /**
   * 'output': the model output itself; 'forecastError': mean |prediction(t-1) - input(t)|
   * (forecast models); 'reconstructionError': mean squared error of an autoencoder's
   * reconstruction of the last W input frames.
   */
  score: 'output' | 'forecastError' | 'reconstructionError';
  /** Fire when the score is >= on for minSteps consecutive steps. */
  on: number;
  /** Re-arm when the score falls below off (hysteresis, default = on). */
  off: number;
  minSteps: number;
  /** Steps after an alert during which no new alert fires. */
  refractorySteps: number;
}

export interface SmoothingDetectorConfig {
  kind: 'smoothing';
  /**
   * Posteriors are averaged over the last `window` decisions (steps, or windows of a model served
   * in windows). Absent: from the model's time base (smoothingDefaults in detectors.ts).
   */
  window?: number;
  /** Fire when a smoothed non-background posterior reaches this. */
  threshold: number;
  /** Labels (or indices) that never alert, e.g. ["_silence_", "_unknown_"]. */
  background: Array<string | number>;
  /** Decisions after an alert during which no new alert fires (per device). Absent: from the model, as window. */
  refractorySteps?: number;
}

/** Detectors registered by other modules (KWS, HAR, NAB) keep their own fields. */
export interface CustomDetectorConfig {
  kind: string;
  [field: string]: unknown;
}

export type DetectorConfig = ThresholdDetectorConfig | SmoothingDetectorConfig | CustomDetectorConfig;

export interface RouteConfig {
  /** Sensor name: the {sensor} topic level this route consumes. */
  sensor: string;
  /** Name of a model in `models`. */
  model: string;
  codec: CodecName;
  /** Values per sample in payloads (default: the model's input size). */
  channels: number;
  /** Rate the devices sample at, Hz, when payloads do not say (binary frames and JSON "rateHz" do). */
  sampleRateHz?: number;
  /** Binary int16 samples are multiplied by this (default 1/32768: full scale = 1). */
  int16Scale: number;
  nonFinite: NonFiniteSamplePolicy;
  detector: DetectorConfig;
  /** Input frames and scores kept per device and attached to alerts as evidence. */
  evidenceFrames: number;
  /**
   * Two consecutive messages of a device further apart than this (ms; their `ts` when both carry
   * one, else their arrival times) start a new stream epoch: model, front end and detector reset,
   * as after a long sequence gap. For devices that sleep between bursts. Default: never.
   */
  maxSilenceMs?: number;
  /**
   * Width of the devices' sequence counter: `seq` wraps to 0 after 2^seqBits - 1 (a wrap, not a
   * restart), and a larger `seq` is refused (dead letter). 53: never wraps. Default: a u32 counter
   * (the binary frame's) wraps, JSON and CSV numbers beyond 2^32 - 1 never do.
   */
  seqBits?: SeqBits;
}

/** The counter widths routes[].seqBits takes. */
export const SEQ_BITS = [8, 16, 32, 53] as const;
export type SeqBits = (typeof SEQ_BITS)[number];

export interface LimitsConfig {
  /** Device streams held in memory; the least recently active one is evicted (state saved) beyond. */
  maxDevices: number;
  /** Larger payloads go to the dead-letter topic unread. */
  maxPayloadBytes: number;
  /** Frames queued per device; beyond, the oldest are dropped (counted) so one flood cannot stall others. */
  maxQueuedFrames: number;
  /** Most streams stepped in one model.stepMany call. */
  maxBatch: number;
  /** Wait this long after a message before stepping, to batch more devices per kernel call (ms). */
  batchDelayMs: number;
  /** Stepping yields to I/O after this much work (ms of wall time). */
  stepBudgetMs: number;
  /** Streams idle this long are evicted with their state saved (ms). */
  idleEvictMs: number;
  /** Out-of-order messages held per device, waiting for a missing sequence number. */
  reorderWindow: number;
  /** A missing sequence number is given up after this long (ms). */
  reorderTimeoutMs: number;
  /** A gap of more than this many messages resets the stream state (smaller gaps are counted and skipped). */
  maxGap: number;
  /**
   * Saved states of streams not in memory (evicted, or saved at shutdown) kept in stateDir/streams
   * (or in memory); beyond, the oldest saved are deleted (counted). At least maxDevices, since
   * stop() saves every live stream. Default: the larger of 100,000 and maxDevices.
   */
  maxSavedStates: number;
}

export interface OutboxConfig {
  /**
   * fsync the write-ahead log before an alert counts as raised, and every file written by
   * temp-then-rename (outbox compaction, saved stream states) before its rename and its folder
   * after (default true).
   */
  fsync: boolean;
  /** Rewrite the log once this many acknowledged records accumulated. */
  compactAfter: number;
  /** Alerts published and not yet acknowledged at once. */
  maxInFlight: number;
  /** Re-publish an unacknowledged alert after this long (ms); a refused alert topic is tried again after this, then up to 8 × this (docs/gateway.md). */
  retryMs: number;
  /** Most unacknowledged alerts held (broker away); beyond, the oldest are dropped (counted, never published). */
  maxAlerts: number;
  /** Most bytes of unacknowledged alerts held (their outbox records); beyond, the oldest are dropped. */
  maxBytes: number;
}

export interface MetricsConfig {
  /** Publish metrics on the metrics topic this often (ms), 0 = never. */
  intervalMs: number;
  /** Serve Prometheus text at http://httpHost:httpPort/metrics (0 = any free port; absent = off). */
  httpPort?: number;
  httpHost: string;
}

export interface BoardConfig {
  /** Serial port of a Firmata board (e.g. /dev/ttyACM0); tests inject a simulated stream instead. */
  port?: string;
  /** Pins driven on an alert (absent = not used). */
  led?: number;
  piezo?: number;
  relay?: number;
  /** How long the LED, piezo and relay stay on after the latest alert (ms). */
  alertMs: number;
  /** Only alerts with one of these labels drive the pins (absent: every alert, from every route). */
  labels?: string[];
}

export interface ClusterConfig {
  /** Shared-subscription group ($share/<group>/...) and membership scope. */
  group: string;
  /** Devices hash into this many partitions (FNV-1a of the device name, mod partitions). */
  partitions: number;
  /** A gateway taking over a partition waits this long for the previous owner's hand-off, and a releasing one this long for the new owner's READY (ms, at least 100). */
  handoffTimeoutMs: number;
  /** Device states are checkpointed (retained) this often, for takeovers after a crash (ms, 0 = never). */
  checkpointIntervalMs: number;
}

export interface GatewayConfig {
  /** Site name: the second topic level. */
  site: string;
  /** This gateway's id: status topics, client id, alert provenance. */
  gatewayId: string;
  broker: BrokerConfig;
  topics: TopicConfig;
  models: Record<string, ModelConfig>;
  routes: RouteConfig[];
  limits: LimitsConfig;
  /** Directory for the alert outbox and saved device states (relative to the config file); '' = memory only. */
  stateDir: string;
  outbox: OutboxConfig;
  metrics: MetricsConfig;
  board?: BoardConfig;
  cluster?: ClusterConfig;
  log: { level: LogLevel };
}

/** Every field optional, all the way down (arrays keep their element shape, optional too). */
type DeepPartial<T> = T extends readonly (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * A configuration as written (gateway.json, or an object in code): what parseGatewayConfig and
 * Gateway.create take. Fields with a default may be left out; the required ones (models, routes
 * and each route's sensor, model and detector) are checked when it is parsed, as GATEWAY_CONFIG
 * errors naming the field.
 */
export type GatewayConfigInput = Omit<DeepPartial<GatewayConfig>, 'models'> & {
  /** A model's path alone, or its config. */
  models?: Record<string, string | DeepPartial<ModelConfig>>;
};

/** Defaults, in one place. */
export const DEFAULTS = {
  site: 'site',
  broker: { url: 'embedded', host: '127.0.0.1', port: 0, rejectUnauthorized: true, protocolVersion: 5, keepaliveS: 30, reconnectMs: 1000 } satisfies Partial<BrokerConfig>,
  topics: {
    prefix: 'edgernn',
    sensor: '{prefix}/{site}/{device}/{sensor}',
    alerts: '{prefix}/{site}/{device}/alerts',
    status: '{prefix}/{site}/_gateway/{gateway}/status',
    metrics: '{prefix}/{site}/_gateway/{gateway}/metrics',
    deadLetter: '{prefix}/{site}/_gateway/{gateway}/deadletter',
    cluster: '{prefix}/{site}/_gateway/cluster',
  } satisfies TopicConfig,
  clusterSensorTopic: '{prefix}/{site}/{partition}/{device}/{sensor}',
  model: { backend: 'auto' } satisfies Partial<ModelConfig>,
  route: { codec: 'json', int16Scale: 1 / 32768, nonFinite: 'deadLetter', evidenceFrames: 32 } satisfies Partial<RouteConfig>,
  threshold: { output: 0, score: 'output', minSteps: 1, refractorySteps: 0 } satisfies Partial<ThresholdDetectorConfig>,
  // window and refractorySteps: for a model served as one session (10 ms frames); resolved per
  // model at Gateway.create when a route leaves them out (smoothingDefaults in detectors.ts).
  smoothing: { window: 30, threshold: 0.8, background: [], refractorySteps: 50 } satisfies Partial<SmoothingDetectorConfig>,
  limits: {
    maxDevices: 10_000,
    maxPayloadBytes: 64 * 1024,
    maxQueuedFrames: 1000,
    maxBatch: 1024,
    batchDelayMs: 1,
    stepBudgetMs: 20,
    idleEvictMs: 10 * 60_000,
    reorderWindow: 4,
    reorderTimeoutMs: 2000,
    maxGap: 16,
    maxSavedStates: 100_000,
  } satisfies LimitsConfig,
  stateDir: 'edgernn-state',
  outbox: { fsync: true, compactAfter: 1000, maxInFlight: 64, retryMs: 5000, maxAlerts: 100_000, maxBytes: 64 * 1024 * 1024 } satisfies OutboxConfig,
  metrics: { intervalMs: 10_000, httpHost: '127.0.0.1' } satisfies Partial<MetricsConfig>,
  board: { alertMs: 3000 } satisfies Partial<BoardConfig>,
  cluster: { group: 'edgernn', partitions: 16, handoffTimeoutMs: 5000, checkpointIntervalMs: 30_000 } satisfies Partial<ClusterConfig>,
  log: { level: 'info' as LogLevel },
};

/** A topic level name: no wildcards, no separators, no U+0000 (MQTT forbids it), not empty. */
const NAME = /^[^/#+\s\u0000]+$/;
/** The first level of a topic: a NAME not starting with $ (the broker's: $SYS, $share). */
const TOPIC_ROOT = /^[^/#+\s\u0000$][^/#+\s\u0000]*$/;

/**
 * A value as shown in messages: JSON, except what JSON cannot say (NaN and ±Infinity, which JSON
 * prints as null, and undefined).
 */
export function shownValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const json = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `\u0000${String(x)}\u0000` : x));
  return json === undefined ? String(v) : json.replace(/"\\u0000(.*?)\\u0000"/g, '$1').slice(0, 80);
}

type Obj = Record<string, unknown>;

class ConfigCheck {
  constructor(readonly source: string) {}

  fail(path: string, expected: string, got: unknown): never {
    throw new EdgeRnnError('GATEWAY_CONFIG', `${this.source}: ${path} must be ${expected}, got ${shownValue(got)}`, { field: path, expected, got });
  }

  obj(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Obj;
  }

  known(o: Obj, path: string, keys: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) {
        throw new EdgeRnnError('GATEWAY_CONFIG', `${this.source}: unknown field ${path ? `${path}.` : ''}${k} (known: ${keys.join(', ')})`, { field: `${path ? `${path}.` : ''}${k}` });
      }
    }
  }

  str(o: Obj, k: string, path: string, dflt?: string, pattern?: RegExp, what?: string): string {
    const v = o[k] === undefined ? dflt : o[k];
    if (typeof v !== 'string' || v.length === 0 || (pattern && !pattern.test(v))) this.fail(p(path, k), what ?? 'a non-empty string', o[k]);
    return v;
  }

  optStr(o: Obj, k: string, path: string): string | undefined {
    if (o[k] === undefined) return undefined;
    return this.str(o, k, path);
  }

  num(o: Obj, k: string, path: string, dflt: number | undefined, min: number, max: number, integer = false): number {
    const v = o[k] === undefined ? dflt : o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      this.fail(p(path, k), `${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`, o[k]);
    }
    return v;
  }

  optNum(o: Obj, k: string, path: string, min: number, max: number, integer = false): number | undefined {
    if (o[k] === undefined) return undefined;
    return this.num(o, k, path, undefined, min, max, integer);
  }

  bool(o: Obj, k: string, path: string, dflt: boolean): boolean {
    const v = o[k] === undefined ? dflt : o[k];
    if (typeof v !== 'boolean') this.fail(p(path, k), 'true or false', o[k]);
    return v;
  }

  oneOf<T extends string | number>(o: Obj, k: string, path: string, allowed: readonly T[], dflt?: T): T {
    const v = o[k] === undefined ? dflt : o[k];
    if (!allowed.includes(v as T)) this.fail(p(path, k), `one of ${allowed.join(', ')}`, o[k]);
    return v as T;
  }
}

const p = (path: string, k: string) => (path ? `${path}.${k}` : k);

/** A section's value, {} when absent. null is not absent: it is checked (and refused) as it is. */
const section = (v: unknown): unknown => (v === undefined ? {} : v);

function parseBroker(c: ConfigCheck, raw: unknown): BrokerConfig {
  const o = c.obj(section(raw), 'broker');
  c.known(o, 'broker', ['url', 'host', 'port', 'username', 'password', 'ca', 'cert', 'key', 'rejectUnauthorized', 'protocolVersion', 'keepaliveS', 'reconnectMs', 'clientId', 'persistentSession', 'sensorQos']);
  const persistentSession = c.bool(o, 'persistentSession', 'broker', false);
  const d = DEFAULTS.broker;
  const url = c.str(o, 'url', 'broker', d.url, /^(embedded|(mqtts?|wss?|tcp|tls):\/\/.+)$/, '"embedded" or a mqtt://, mqtts://, ws:// or wss:// URL');
  if (url !== 'embedded') {
    // The pattern let through URLs MQTT.js cannot use ("mqtt://host:99999", "mqtt:// x"): the
    // gateway then retried them forever ("waiting for the broker").
    let u: URL | null = null;
    try {
      u = new URL(url);
    } catch {
      u = null;
    }
    if (u === null || u.hostname === '' || u.port === '0') c.fail('broker.url', 'a URL with a host name and, if any, a port in [1, 65535] (e.g. mqtt://broker:1883)', url);
  }
  const b: BrokerConfig = {
    url,
    host: c.str(o, 'host', 'broker', d.host),
    port: c.num(o, 'port', 'broker', d.port, 0, 65535, true),
    rejectUnauthorized: c.bool(o, 'rejectUnauthorized', 'broker', d.rejectUnauthorized),
    protocolVersion: c.oneOf(o, 'protocolVersion', 'broker', [4, 5] as const, url === 'embedded' ? 4 : 5),
    keepaliveS: c.num(o, 'keepaliveS', 'broker', d.keepaliveS, 1, 65535, true),
    reconnectMs: c.num(o, 'reconnectMs', 'broker', d.reconnectMs, 10, 3_600_000, true),
    persistentSession,
    sensorQos: c.oneOf(o, 'sensorQos', 'broker', [0, 1] as const, persistentSession ? 1 : 0),
  };
  if (url !== 'embedded') {
    // host and port are the embedded broker's: next to an external URL they were silently unused.
    if (b.port !== d.port) c.fail('broker.port', `absent (or 0) with an external broker: put the port in broker.url (${url})`, o.port);
    if (b.host !== d.host) c.fail('broker.host', `absent with an external broker: put the host in broker.url (${url})`, o.host);
  }
  for (const k of ['username', 'password', 'ca', 'cert', 'key', 'clientId'] as const) {
    const v = c.optStr(o, k, 'broker');
    if (v !== undefined) b[k] = v;
  }
  if ((b.cert === undefined) !== (b.key === undefined)) c.fail(b.cert === undefined ? 'broker.cert' : 'broker.key', 'given together with broker.' + (b.cert === undefined ? 'key' : 'cert') + ' (a TLS client certificate needs both)', undefined);
  if (url === 'embedded' && (b.username !== undefined || b.password !== undefined || b.ca !== undefined || b.cert !== undefined)) {
    c.fail('broker.url', 'an external broker URL when credentials or TLS files are given', url);
  }
  // The embedded broker (aedes) speaks MQTT 3.1.1 only: a 5 was refused at every connect, and the
  // gateway waited for the broker forever.
  if (url === 'embedded' && b.protocolVersion !== 4) c.fail('broker.protocolVersion', '4 (or absent) with the embedded broker, which speaks MQTT 3.1.1 only', b.protocolVersion);
  // The embedded broker lives and dies with the gateway: nothing queues sensor data while it is away.
  if (url === 'embedded' && b.persistentSession) c.fail('broker.persistentSession', 'false with the embedded broker (its sessions end with the gateway process: nothing is queued while it is away)', b.persistentSession);
  return b;
}

function parseTopics(c: ConfigCheck, raw: unknown, cluster: boolean, site: string): TopicConfig {
  const o = c.obj(section(raw), 'topics');
  const keys = ['prefix', 'sensor', 'alerts', 'status', 'metrics', 'deadLetter', 'cluster'] as const;
  c.known(o, 'topics', keys);
  const d = DEFAULTS.topics;
  const t: TopicConfig = {
    prefix: c.str(o, 'prefix', 'topics', d.prefix, TOPIC_ROOT, 'a topic level (no /, +, # or spaces) not starting with $ (reserved for the broker: $SYS, $share)'),
    sensor: c.str(o, 'sensor', 'topics', cluster ? DEFAULTS.clusterSensorTopic : d.sensor),
    alerts: c.str(o, 'alerts', 'topics', d.alerts),
    status: c.str(o, 'status', 'topics', d.status),
    metrics: c.str(o, 'metrics', 'topics', d.metrics),
    deadLetter: c.str(o, 'deadLetter', 'topics', d.deadLetter),
    cluster: c.str(o, 'cluster', 'topics', d.cluster),
  };
  const allowed: Record<(typeof keys)[number], string[]> = {
    prefix: [],
    sensor: ['prefix', 'site', 'device', 'sensor', 'partition'],
    alerts: ['prefix', 'site', 'device', 'sensor', 'gateway'],
    status: ['prefix', 'site', 'gateway'],
    metrics: ['prefix', 'site', 'gateway'],
    deadLetter: ['prefix', 'site', 'gateway'],
    cluster: ['prefix', 'site', 'gateway'],
  };
  for (const k of keys) {
    if (k === 'prefix') continue;
    const tpl = t[k];
    if (/[#+]/.test(tpl) || tpl.startsWith('/') || tpl.endsWith('/') || tpl.includes('//')) c.fail(`topics.${k}`, 'a topic template without wildcards or empty levels', tpl);
    for (const m of tpl.matchAll(/\{([^}]*)\}/g)) {
      if (!allowed[k].includes(m[1]!)) c.fail(`topics.${k}`, `a template using only ${allowed[k].map((x) => `{${x}}`).join(' ')}`, tpl);
    }
    for (const level of tpl.split('/')) {
      if ((level.includes('{') || level.includes('}')) && !/^\{[a-z]+\}$/.test(level)) c.fail(`topics.${k}`, 'a template whose placeholders each fill a whole level', tpl);
    }
    // "{device}/{device}": which level names the device? The parser took the last, the filter both.
    const names = [...tpl.matchAll(/\{([a-z]+)\}/g)].map((m) => m[1]!);
    const twice = names.find((x, i) => names.indexOf(x) !== i);
    if (twice !== undefined) c.fail(`topics.${k}`, `a template using each placeholder at most once ({${twice}} appears twice)`, tpl);
    // A first level starting with $ is the broker's ($SYS, $share/<group>/...): devices cannot publish there,
    // and "$share/..." in the sensor template subscribed as a shared subscription.
    const first = tpl.split('/')[0]!;
    if (first.startsWith('$') || (first === '{site}' && site.startsWith('$'))) c.fail(`topics.${k}`, 'a template whose first level does not start with $ (reserved for the broker: $SYS, $share)', tpl);
    if (tpl.includes('\u0000')) c.fail(`topics.${k}`, 'a template without U+0000 (MQTT forbids it in topics)', tpl);
  }
  for (const need of ['{device}', '{sensor}']) if (!t.sensor.split('/').includes(need)) c.fail('topics.sensor', `a template with a ${need} level`, t.sensor);
  if (cluster && !t.sensor.split('/').includes('{partition}')) c.fail('topics.sensor', 'a template with a {partition} level (cluster mode partitions topics by device hash)', t.sensor);
  if (!cluster && t.sensor.includes('{partition}')) c.fail('topics.sensor', 'a template without {partition} (set "cluster" to use partitions)', t.sensor);
  if (cluster) {
    // Membership reads the gateway id from its level of the status topic; without one every member
    // shared one status topic and nobody was ever counted. With {gateway} in the cluster topic each
    // member listened for hand-offs on its own topic and never heard the others.
    if (!t.status.split('/').includes('{gateway}')) c.fail('topics.status', 'a template with a {gateway} level in cluster mode (members are told apart by it)', t.status);
    if (t.cluster.includes('{gateway}')) c.fail('topics.cluster', 'a template without {gateway} in cluster mode (every member of the group uses the same cluster topics)', t.cluster);
  }
  return t;
}

/**
 * One level of a topic pattern: a literal, or a level that takes any value a test accepts (a device
 * name is non-empty and does not start with _, a partition is p<k>, anything else any non-empty level).
 */
type Level = { lit: string } | { test: (level: string) => boolean };

const DEVICE_LEVEL: Level = { test: (x) => x !== '' && !x.startsWith('_') };
const PARTITION_LEVEL: Level = { test: (x) => /^p[0-9]+$/.test(x) };
const ANY_LEVEL: Level = { test: (x) => x !== '' };

function levelsOf(tpl: string, vars: Record<string, string>): Level[] {
  return tpl.split('/').map((lv): Level => {
    const m = /^\{([a-z]+)\}$/.exec(lv);
    if (!m) return { lit: lv };
    if (m[1] === 'device') return DEVICE_LEVEL;
    if (m[1] === 'partition') return PARTITION_LEVEL;
    const v = vars[m[1]!];
    return v !== undefined ? { lit: v } : ANY_LEVEL;
  });
}

/** Whether one topic could match both levels (two open levels meet when some value passes both tests: checked on samples). */
function levelsMeet(a: Level, b: Level): boolean {
  if ('lit' in a && 'lit' in b) return a.lit === b.lit;
  if ('lit' in a) return (b as { test: (x: string) => boolean }).test(a.lit);
  if ('lit' in b) return a.test(b.lit);
  return ['p0', 'x'].some((x) => a.test(x) && b.test(x));
}

/**
 * The gateway's own publications (alerts, status, metrics, dead letters, cluster messages) must not
 * match its sensor subscriptions: they came back as sensor data, and a dead-letter topic that did
 * looped (each dead letter was a payload that failed to decode, and was dead-lettered again).
 */
function checkOwnTopicsUnsubscribed(c: ConfigCheck, t: TopicConfig, site: string, gateway: string, routes: RouteConfig[], cluster: boolean): void {
  const base = { prefix: t.prefix, site, gateway };
  routes.forEach((r, i) => {
    const sub = levelsOf(t.sensor, { ...base, sensor: r.sensor });
    const meets = (pub: Level[]) => sub.length === pub.length && pub.every((lv, j) => levelsMeet(lv, sub[j]!));
    const say = (k: string, tpl: string) => c.fail(`topics.${k}`, `a topic the gateway does not subscribe to: it matches the sensor topic of routes[${i}] (sensor "${r.sensor}"), so its messages would come back as sensor data`, tpl);
    for (const k of ['status', 'metrics', 'deadLetter'] as const) if (meets(levelsOf(t[k], base))) say(k, t[k]);
    for (const s of routes) if (meets(levelsOf(t.alerts, { ...base, sensor: s.sensor }))) say('alerts', t.alerts);
    if (cluster) {
      // cluster.ts: <cluster>/handoff, <cluster>/<member>/handoff, <cluster>/state/<partition>/<key>.
      const cl = levelsOf(t.cluster, base);
      const shapes: Level[][] = [[...cl, { lit: 'handoff' }], [...cl, ANY_LEVEL, { lit: 'handoff' }], [...cl, { lit: 'state' }, PARTITION_LEVEL, ANY_LEVEL]];
      if (shapes.some(meets)) say('cluster', t.cluster);
    }
  });
}

function parseDetector(c: ConfigCheck, raw: unknown, path: string): DetectorConfig {
  const o = c.obj(raw === undefined ? { kind: 'threshold', on: 0.5 } : raw, path);
  const kind = c.str(o, 'kind', path);
  if (kind === 'threshold') {
    c.known(o, path, ['kind', 'output', 'score', 'on', 'off', 'minSteps', 'refractorySteps']);
    const d = DEFAULTS.threshold;
    const output = o.output === undefined ? d.output : o.output;
    if (!(typeof output === 'string' && output.length > 0) && !(Number.isInteger(output) && (output as number) >= 0)) c.fail(`${path}.output`, 'an output index or a label', o.output);
    const on = c.num(o, 'on', path, undefined, -1e30, 1e30);
    const off = c.num(o, 'off', path, on, -1e30, on);
    return {
      kind,
      output: output as number | string,
      score: c.oneOf(o, 'score', path, ['output', 'forecastError', 'reconstructionError'] as const, d.score as 'output'),
      on,
      off,
      minSteps: c.num(o, 'minSteps', path, d.minSteps, 1, 1e6, true),
      refractorySteps: c.num(o, 'refractorySteps', path, d.refractorySteps, 0, 1e9, true),
    };
  }
  if (kind === 'smoothing') {
    c.known(o, path, ['kind', 'window', 'threshold', 'background', 'refractorySteps']);
    const d = DEFAULTS.smoothing;
    const bg = o.background === undefined ? d.background : o.background;
    if (!Array.isArray(bg) || !bg.every((x) => (typeof x === 'string' && x.length > 0) || (Number.isInteger(x) && (x as number) >= 0))) c.fail(`${path}.background`, 'a list of labels or output indices', o.background);
    // window and refractorySteps count decisions, whose length is the model's: left out, they are
    // resolved with the model (30 and 50 spanned 3 s and 5 s of a clip classifier's 100 ms windows).
    return {
      kind,
      ...(o.window !== undefined ? { window: c.num(o, 'window', path, d.window, 1, 100_000, true) } : {}),
      threshold: c.num(o, 'threshold', path, d.threshold, -1e30, 1e30),
      background: bg as Array<string | number>,
      ...(o.refractorySteps !== undefined ? { refractorySteps: c.num(o, 'refractorySteps', path, d.refractorySteps, 0, 1e9, true) } : {}),
    };
  }
  // A detector registered by the caller validates its own fields at Gateway.create().
  return { ...o, kind };
}

/**
 * Validates a parsed JSON config and fills defaults. `source` names the file in messages.
 * Relative paths stay relative: resolve them with resolveConfigPaths().
 */
export function parseGatewayConfig(raw: unknown, source = 'gateway.json'): GatewayConfig {
  const c = new ConfigCheck(source);
  const o = c.obj(raw, '(top level)');
  c.known(o, '', ['site', 'gatewayId', 'broker', 'topics', 'models', 'routes', 'limits', 'stateDir', 'outbox', 'metrics', 'board', 'cluster', 'log']);
  const site = c.str(o, 'site', '', DEFAULTS.site, NAME, 'a topic level (no /, +, # or spaces)');
  const gatewayId = c.str(o, 'gatewayId', '', 'gw', /^[A-Za-z0-9_.-]+$/, 'ASCII letters, digits, _ . - only');

  let cluster: ClusterConfig | undefined;
  if (o.cluster !== undefined) {
    const co = c.obj(o.cluster, 'cluster');
    c.known(co, 'cluster', ['group', 'partitions', 'handoffTimeoutMs', 'checkpointIntervalMs']);
    const d = DEFAULTS.cluster;
    cluster = {
      group: c.str(co, 'group', 'cluster', d.group, NAME, 'a topic level (no /, +, # or spaces)'),
      partitions: c.num(co, 'partitions', 'cluster', d.partitions, 1, 4096, true),
      // Not 0 ("no timeout", as 0 turns checkpoints off): every hand-off then timed out before the
      // other side could answer (a broker round trip), and the streams moved without their states.
      handoffTimeoutMs: c.num(co, 'handoffTimeoutMs', 'cluster', d.handoffTimeoutMs, 100, 3_600_000, true),
      checkpointIntervalMs: c.num(co, 'checkpointIntervalMs', 'cluster', d.checkpointIntervalMs, 0, 86_400_000, true),
    };
  }
  const broker = parseBroker(c, o.broker);
  if (cluster && broker.url === 'embedded') c.fail('broker.url', 'an external broker URL in cluster mode (gateways must share one broker)', broker.url);
  if (cluster && broker.protocolVersion !== 5) c.fail('broker.protocolVersion', '5 in cluster mode (shared subscriptions are MQTT 5)', broker.protocolVersion);
  const topics = parseTopics(c, o.topics, cluster !== undefined, site);

  const mo = c.obj(o.models, 'models');
  const models: Record<string, ModelConfig> = {};
  if (Object.keys(mo).length === 0) c.fail('models', 'an object with at least one model ({"name": {"path": "model.ern"}})', o.models);
  for (const [name, mraw] of Object.entries(mo)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) c.fail(`models.${name}`, 'named with ASCII letters, digits, _ . - only', name);
    // models["__proto__"] = ... set the object's prototype instead of a model: the route found no model at start (TypeError).
    if (name === '__proto__') c.fail(`models.${name}`, 'named otherwise (__proto__ is reserved)', name);
    if (typeof mraw !== 'string' && (typeof mraw !== 'object' || mraw === null || Array.isArray(mraw))) c.fail(`models.${name}`, 'a path ("har.ern") or an object {"path", "backend"}', mraw);
    const m = c.obj(typeof mraw === 'string' ? { path: mraw } : mraw, `models.${name}`);
    c.known(m, `models.${name}`, ['path', 'backend']);
    models[name] = { path: c.str(m, 'path', `models.${name}`), backend: c.oneOf(m, 'backend', `models.${name}`, BACKEND_CHOICES, 'auto') };
    // An ONNX file failed at start as "ERN_BAD_MAGIC: not an .ern file", without saying what to do.
    const onnx = models[name].path;
    if (/\.onnx$/i.test(onnx)) c.fail(`models.${name}.path`, `an .ern model (convert it first: edgernn convert ${onnx} -o ${onnx.replace(/\.onnx$/i, '.ern')})`, onnx);
  }

  if (!Array.isArray(o.routes) || o.routes.length === 0) c.fail('routes', 'a list of at least one route ({"sensor", "model", "codec", "detector"})', o.routes);
  const routes: RouteConfig[] = (o.routes as unknown[]).map((rraw, i) => {
    const path = `routes[${i}]`;
    const r = c.obj(rraw, path);
    c.known(r, path, ['sensor', 'model', 'codec', 'channels', 'sampleRateHz', 'int16Scale', 'nonFinite', 'detector', 'evidenceFrames', 'maxSilenceMs', 'seqBits']);
    const sensor = c.str(r, 'sensor', path, undefined, NAME, 'a topic level (no /, +, # or spaces)');
    if (sensor === 'alerts' && topics.alerts.endsWith('/alerts')) c.fail(`${path}.sensor`, 'a name other than "alerts" (the alert topic uses it)', sensor);
    const model = c.str(r, 'model', path, undefined, undefined, `one of the models (${Object.keys(models).join(', ')})`);
    // Own models only: "constructor" or "toString" were found on Object.prototype (a TypeError at start).
    if (!Object.hasOwn(models, model)) c.fail(`${path}.model`, `one of the models (${Object.keys(models).join(', ')})`, model);
    const route: RouteConfig = {
      sensor,
      model,
      codec: c.oneOf(r, 'codec', path, CODECS, DEFAULTS.route.codec as CodecName),
      channels: c.num(r, 'channels', path, 0, 0, 4096, true),
      int16Scale: c.num(r, 'int16Scale', path, DEFAULTS.route.int16Scale, -1e30, 1e30),
      nonFinite: c.oneOf(r, 'nonFinite', path, NON_FINITE_POLICIES, DEFAULTS.route.nonFinite as NonFiniteSamplePolicy),
      detector: parseDetector(c, r.detector, `${path}.detector`),
      evidenceFrames: c.num(r, 'evidenceFrames', path, DEFAULTS.route.evidenceFrames, 1, 100_000, true),
    };
    // A scale of 0 turned every binary int16 sample into 0: the model saw silence, without an error.
    if (route.int16Scale === 0) c.fail(`${path}.int16Scale`, 'a number other than 0 (binary int16 samples are multiplied by it; default 1/32768)', r.int16Scale);
    const rate = c.optNum(r, 'sampleRateHz', path, 1e-6, 1e7);
    if (rate !== undefined) route.sampleRateHz = rate;
    const silence = c.optNum(r, 'maxSilenceMs', path, 1, 1e12);
    if (silence !== undefined) route.maxSilenceMs = silence;
    if (r.seqBits !== undefined) {
      if (!SEQ_BITS.includes(r.seqBits as SeqBits)) c.fail(`${path}.seqBits`, "8, 16, 32 or 53 (the width of the devices' sequence counter: 0 comes after 2^seqBits - 1; 53 never wraps)", r.seqBits);
      route.seqBits = r.seqBits as SeqBits;
    }
    return route;
  });
  const seen = new Set<string>();
  routes.forEach((r, i) => {
    if (seen.has(r.sensor)) c.fail(`routes[${i}].sensor`, 'unique across routes (one route per sensor)', r.sensor);
    seen.add(r.sensor);
  });
  checkOwnTopicsUnsubscribed(c, topics, site, gatewayId, routes, cluster !== undefined);

  const lo = c.obj(section(o.limits), 'limits');
  const ld = DEFAULTS.limits;
  c.known(lo, 'limits', Object.keys(ld));
  const maxDevices = c.num(lo, 'maxDevices', 'limits', ld.maxDevices, 1, 10_000_000, true);
  const maxSavedStates = c.num(lo, 'maxSavedStates', 'limits', Math.max(ld.maxSavedStates, maxDevices), 1, 1e9, true);
  if (maxSavedStates < maxDevices) c.fail('limits.maxSavedStates', `at least limits.maxDevices (${maxDevices}): stop() saves every stream in memory`, maxSavedStates);
  const limits: LimitsConfig = {
    maxDevices,
    maxPayloadBytes: c.num(lo, 'maxPayloadBytes', 'limits', ld.maxPayloadBytes, 16, 256 * 1024 * 1024, true),
    maxQueuedFrames: c.num(lo, 'maxQueuedFrames', 'limits', ld.maxQueuedFrames, 1, 10_000_000, true),
    maxBatch: c.num(lo, 'maxBatch', 'limits', ld.maxBatch, 1, 65_536, true),
    batchDelayMs: c.num(lo, 'batchDelayMs', 'limits', ld.batchDelayMs, 0, 10_000),
    stepBudgetMs: c.num(lo, 'stepBudgetMs', 'limits', ld.stepBudgetMs, 1, 10_000),
    idleEvictMs: c.num(lo, 'idleEvictMs', 'limits', ld.idleEvictMs, 0, 1e12),
    reorderWindow: c.num(lo, 'reorderWindow', 'limits', ld.reorderWindow, 0, 1024, true),
    reorderTimeoutMs: c.num(lo, 'reorderTimeoutMs', 'limits', ld.reorderTimeoutMs, 0, 3_600_000),
    maxGap: c.num(lo, 'maxGap', 'limits', ld.maxGap, 0, 1e9, true),
    maxSavedStates,
  };
  // Messages held for a gap are ordered by their distance on the counter: it must stay well under
  // half the counter (an 8-bit counter holds at most 63).
  routes.forEach((r, i) => {
    if (r.seqBits !== undefined && r.seqBits < 32 && limits.reorderWindow >= 2 ** r.seqBits / 4) {
      c.fail('limits.reorderWindow', `below ${2 ** r.seqBits / 4} (a quarter of routes[${i}].seqBits ${r.seqBits}: held messages must stay less than half the counter apart)`, limits.reorderWindow);
    }
  });

  const oo = c.obj(section(o.outbox), 'outbox');
  const od = DEFAULTS.outbox;
  c.known(oo, 'outbox', Object.keys(od));
  const outbox: OutboxConfig = {
    fsync: c.bool(oo, 'fsync', 'outbox', od.fsync),
    compactAfter: c.num(oo, 'compactAfter', 'outbox', od.compactAfter, 1, 1e9, true),
    maxInFlight: c.num(oo, 'maxInFlight', 'outbox', od.maxInFlight, 1, 65_535, true),
    retryMs: c.num(oo, 'retryMs', 'outbox', od.retryMs, 10, 86_400_000),
    maxAlerts: c.num(oo, 'maxAlerts', 'outbox', od.maxAlerts, 1, 1e9, true),
    // At least one alert with its evidence window fits (a few KB); the newest is kept regardless.
    // At most 1 GiB: the log is read whole at start (readFileSync stops at 2 GiB) and held in the
    // heap, about 3 bytes per byte of log (1e12 was accepted: out of memory, then a crash loop).
    maxBytes: c.num(oo, 'maxBytes', 'outbox', od.maxBytes, 1024, 2 ** 30, true),
  };

  const meo = c.obj(section(o.metrics), 'metrics');
  c.known(meo, 'metrics', ['intervalMs', 'httpPort', 'httpHost']);
  const metrics: MetricsConfig = {
    intervalMs: c.num(meo, 'intervalMs', 'metrics', DEFAULTS.metrics.intervalMs, 0, 86_400_000),
    httpHost: c.str(meo, 'httpHost', 'metrics', DEFAULTS.metrics.httpHost),
  };
  const hp = c.optNum(meo, 'httpPort', 'metrics', 0, 65535, true);
  if (hp !== undefined) metrics.httpPort = hp;

  let board: BoardConfig | undefined;
  if (o.board !== undefined) {
    const bo = c.obj(o.board, 'board');
    c.known(bo, 'board', ['port', 'led', 'piezo', 'relay', 'alertMs', 'labels']);
    board = { alertMs: c.num(bo, 'alertMs', 'board', DEFAULTS.board.alertMs, 1, 3_600_000) };
    // A HAR route alerts at every change of activity: without a filter the siren sounded for "walk".
    if (bo.labels !== undefined) {
      if (!Array.isArray(bo.labels) || bo.labels.length === 0 || !bo.labels.every((l) => typeof l === 'string' && l.length > 0)) c.fail('board.labels', 'a non-empty list of alert labels (e.g. ["fall", "yes"])', bo.labels);
      board.labels = [...(bo.labels as string[])];
    }
    const port = c.optStr(bo, 'port', 'board');
    if (port !== undefined) board.port = port;
    for (const k of ['led', 'piezo', 'relay'] as const) {
      const v = c.optNum(bo, k, 'board', 0, 127, true);
      if (v !== undefined) board[k] = v;
    }
    if (board.led === undefined && board.piezo === undefined && board.relay === undefined) c.fail('board', 'an object naming at least one of led, piezo, relay (pin numbers)', o.board);
    // One pin driven as two things (an OUTPUT LED and a PWM piezo) fought over it on every alert.
    const pins = (['led', 'piezo', 'relay'] as const).filter((k) => board![k] !== undefined);
    for (const [i, k] of pins.entries()) {
      const other = pins.slice(0, i).find((q) => board![q] === board![k]);
      if (other !== undefined) c.fail(`board.${k}`, `a pin other than board.${other}'s (${board[other]})`, board[k]);
    }
  }

  const lg = c.obj(section(o.log), 'log');
  c.known(lg, 'log', ['level']);
  const cfg: GatewayConfig = {
    site,
    gatewayId,
    broker,
    topics,
    models,
    routes,
    limits,
    stateDir: o.stateDir === '' ? '' : c.str(o, 'stateDir', '', DEFAULTS.stateDir),
    outbox,
    metrics,
    log: { level: c.oneOf(lg, 'level', 'log', LOG_LEVELS, DEFAULTS.log.level) },
  };
  if (board) cfg.board = board;
  if (cluster) cfg.cluster = cluster;
  return cfg;
}

/** Resolves model paths, TLS files and stateDir against a base directory (the config file's). */
export function resolveConfigPaths(cfg: GatewayConfig, baseDir: string, resolve: (base: string, p: string) => string): GatewayConfig {
  const out: GatewayConfig = { ...cfg, broker: { ...cfg.broker }, models: {} };
  for (const [k, m] of Object.entries(cfg.models)) out.models[k] = { ...m, path: resolve(baseDir, m.path) };
  for (const k of ['ca', 'cert', 'key'] as const) {
    const v = cfg.broker[k];
    if (v !== undefined) out.broker[k] = resolve(baseDir, v);
  }
  if (cfg.stateDir !== '') out.stateDir = resolve(baseDir, cfg.stateDir);
  return out;
}
