/**
 * The MQTT gateway (Node-only module): subscribes to sensor topics, keeps one stream per device,
 * steps many devices per kernel call, runs detectors, and delivers every alert.
 *
 *   const gw = await Gateway.create({ config: parseGatewayConfig(json) });
 *   gw.on('alert', (a) => ...);
 *   ...
 *   await gw.stop();   // drain, flush the outbox, save states
 *
 * Data flow for one message (one handler per message kind; see onMessage):
 *   topic -> route (by {sensor}) -> size limit -> decode (codec) -> non-finite policy
 *     -> device stream: sequence order -> resample -> front end -> frame queue (bounded)
 *   pump (clock timer, batchDelayMs after a message): one frame from every ready device of a
 *     model in one model.stepMany call, round-robin, until the queues drain or stepBudgetMs is
 *     spent -> detector per device -> alerts -> outbox (fsync) -> QoS 1 publish -> ack
 * Everything timed goes through the injected Clock; the same pipeline runs `edgernn replay`.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { createRuntime, type Model, type Runtime, type Session } from '../runtime/runtime.js';
import { f32, alertId, alertJson, type Alert } from './alert.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { applyNonFinite, DECODERS, type SampleBatch } from './codecs.js';
import { parseGatewayConfig, type GatewayConfig, type GatewayConfigInput } from './config.js';
import { BUILTIN_DETECTORS, type DetectorEvent, type DetectorFactory } from './detectors.js';
import { FEATURE_FRONTENDS } from './feature-frontends.js';
import { JOB_DETECTORS } from './job-detectors.js';
import { BUILTIN_FRONTENDS, type FrontEndFactory } from './frontend.js';
import { jsonLogger, type Logger } from './logger.js';
import { Metrics, type MetricsSnapshot } from './metrics.js';
import { FileOutbox, MemoryOutbox, type Outbox } from './outbox.js';
import { createBoardSink, routeAlertLabels, type AlertSink } from './sinks.js';
import { lockStateDir, type StateLock } from './state-lock.js';
import { DISK_REFUSED_CODES, fileStateStore, memoryStateStore, probeStateDir, saveStates, type StateStore } from './state-store.js';
import { checkSeqWidth, DeviceStream, streamKey, upsampleError, type QueuedBatch, type RouteRuntime } from './stream.js';
import { MAX_TOPIC_BYTES, Topics, devicePartition } from './topics.js';
import { mqttClientOptions, mqttTransport, redactUrl, type GatewayTransport } from './transport.js';
import { ClusterCoordinator } from './cluster.js';

export const GATEWAY_VERSION = '0.1.0';
/** Most samples one message may carry (the payload size limit usually bites first). */
const MAX_SAMPLES_PER_MESSAGE = 1 << 16;
/**
 * Dead letters are logged once per topic per minute: a broken device at 50 Hz wrote 50 warnings
 * a second to the log (an SD card's wear and space). The counter, the event and the dead-letter
 * topic still get every one; the next line says how many were not logged. At most this many
 * topics are remembered (a flood of new topics cannot grow the map).
 */
export const DEAD_LETTER_LOG_INTERVAL_MS = 60_000;
const DEAD_LETTER_LOG_TOPICS = 1024;
/**
 * event_loop_delay_seconds covers the last one to two windows of this length. It covered the
 * whole run: after one overload its p99 stayed high for the life of the process (0.4 s half a
 * minute after a 30 s flood had ended, the loop idle), so the metric never said it had recovered.
 */
export const LOOP_DELAY_WINDOW_MS = 60_000;
/**
 * Idle streams saved per turn of the event loop; the rest of a sweep follows at once, after the
 * I/O waiting. A site whose devices all went quiet together was saved in one batch (N + 1
 * fsyncs): 3,000 streams held the loop, every other device and the broker's keepalive for 12 s.
 */
export const IDLE_EVICT_BATCH = 64;

/** An alert topic the broker refuses is tried again after retryMs, then twice that... up to this many times retryMs. */
export const REFUSED_BACKOFF_FACTOR = 8;

export interface GatewayOptions {
  /**
   * The configuration (parseGatewayConfig + resolveConfigPaths, or loadGatewayConfig). It is
   * checked again here (parsing is idempotent), so a plain object works too, with the defaults
   * filled in, and a wrong one gets GATEWAY_CONFIG naming the field.
   */
  config: GatewayConfig | GatewayConfigInput;
  /** Models by their config key; loaded from config paths when absent. */
  models?: Record<string, Model>;
  /** Runtime used to load models (default: createRuntime()). */
  runtime?: Runtime;
  /** MQTT transport (default: MQTT.js to broker.url, or to an embedded aedes broker). */
  transport?: GatewayTransport;
  clock?: Clock;
  logger?: Logger;
  /** Alert outbox (default: a FileOutbox in stateDir/outbox; memory when stateDir is '' or its disk refuses writes). */
  outbox?: Outbox;
  /** Saved device states (default: files in stateDir/streams, or memory). */
  stateStore?: StateStore;
  /** Extra detector kinds (KWS, HAR, NAB...), merged over the built-in ones. */
  detectors?: Record<string, DetectorFactory>;
  /** Extra front-end kinds, merged over the built-in ones ('none', and src/features' logmel, mfcc, imu, series). */
  frontends?: Record<string, FrontEndFactory>;
  /**
   * A Firmata stream for the board sink (e.g. firmware-sim's FirmataBoard), or a function returning
   * a new one for each connection (a lost board is then reopened); default: config.board.port.
   */
  boardTransport?: Duplex | (() => Duplex);
  /** More local alert sinks. */
  sinks?: AlertSink[];
  /** Time allowed in stop() for all the waits on the broker together (UNSUBACK, PUBACKs of outstanding alerts, the offline status, DISCONNECT), and for each sink's close() (ms, default 5000). */
  drainTimeoutMs?: number;
  /**
   * @internal Wall-time budget of one stepping round, over config.limits.stepBudgetMs: replay
   * passes Infinity so that batching never depends on how fast the machine is.
   */
  stepBudgetMs?: number;
  /**
   * Aborts the start-up, which waits for an unreachable broker indefinitely (and for the board's
   * handshake up to 10 s): create() then closes what it opened and rejects with GATEWAY_STOPPED
   * (the CLI aborts on SIGINT/SIGTERM).
   */
  signal?: AbortSignal;
}

export interface DeadLetter {
  topic: string;
  reason: string;
  code: string;
  bytes: number;
  tsMs: number;
}

/** Typed events. */
export interface GatewayEvents {
  /** An alert became durable (before it is published): a deep-frozen copy (alertView), shared with the sinks. */
  alert: (a: Alert) => void;
  /** The broker acknowledged an alert. */
  alertAcked: (a: Alert) => void;
  deadLetter: (d: DeadLetter) => void;
  /** Every pump round finished (tests wait on it). */
  idle: () => void;
}

interface ModelGroup {
  model: Model;
  ready: Set<DeviceStream>;
  frames: Float32Array;
  /** Views of `frames`, one per batch slot (made once: no allocation per frame). */
  inViews: Float32Array[];
  /** Views of the last stepMany output buffer, rebuilt when the runtime reallocates it. */
  outViews: Float32Array[];
  outBuffer: ArrayBufferLike | null;
  outOffset: number;
  streams: DeviceStream[];
  sessions: Session[];
}

export { MAX_UPSAMPLE, upsampleError } from './stream.js';

/** Front end and detector per route, validated once at start. */
function buildRoutes(cfg: GatewayConfig, models: ReadonlyMap<string, Model>, detectors: Record<string, DetectorFactory>, frontends: Record<string, FrontEndFactory>): RouteRuntime[] {
  return cfg.routes.map((rc, index) => {
    const model = models.get(rc.model)!;
    const path_ = `routes[${index}]`;
    if (!model.streamable) throw new EdgeRnnError('GATEWAY_CONFIG', `${path_}.model: '${rc.model}' has bidirectional layers and cannot run on a stream`, { field: `${path_}.model` });
    const fspec = model.spec.input.frontend;
    const feFactory = frontends[fspec.kind];
    if (!feFactory) {
      throw new EdgeRnnError('GATEWAY_CONFIG', `${path_}.model: '${rc.model}' needs front end "${fspec.kind}", this gateway has ${Object.keys(frontends).join(', ')} (register it with GatewayOptions.frontends)`, { field: `${path_}.model` });
    }
    const feCtx = { inputSize: model.inputSize, rateHz: model.spec.input.rateHz, channels: rc.channels, path: path_ };
    const probeFe = feFactory(fspec, feCtx);
    if (probeFe.frameSize !== model.inputSize) throw new EdgeRnnError('GATEWAY_CONFIG', `${path_}: front end "${fspec.kind}" makes ${probeFe.frameSize}-value frames, the model needs ${model.inputSize}`);
    // A window longer than the queue never fit: its first frames (the state reset) were dropped and the detector saw the rest.
    if (probeFe.framesPerWindow > cfg.limits.maxQueuedFrames) {
      const expected = `at least ${probeFe.framesPerWindow} (${path_}'s model reads windows of ${probeFe.framesPerWindow} frames, queued whole)`;
      throw new EdgeRnnError('GATEWAY_CONFIG', `limits.maxQueuedFrames must be ${expected}, got ${cfg.limits.maxQueuedFrames}`, { field: 'limits.maxQueuedFrames', expected, got: cfg.limits.maxQueuedFrames });
    }
    const upsample = upsampleError(rc.sampleRateHz, probeFe.sampleRateHz);
    if (upsample) throw new EdgeRnnError('GATEWAY_CONFIG', `${path_}.sampleRateHz: ${upsample}`, { field: `${path_}.sampleRateHz` });
    const detFactory = detectors[rc.detector.kind];
    if (!detFactory) throw new EdgeRnnError('GATEWAY_CONFIG', `${path_}.detector.kind must be one of ${Object.keys(detectors).join(', ')}, got "${rc.detector.kind}"`, { field: `${path_}.detector.kind` });
    const detCtx = { labels: model.labels, outputSize: model.outputSize, inputSize: model.inputSize, path: `${path_}.detector`, spec: model.spec };
    detFactory(rc.detector, detCtx);
    const config = { ...rc, channels: probeFe.channels };
    return { index, config, model, modelKey: rc.model, createFrontEnd: () => feFactory(fspec, feCtx), createDetector: () => detFactory(rc.detector, detCtx) };
  });
}

/** Reads, decodes and golden-checks the config's models into `models` (those opts.models gives are taken as they are). */
async function loadModels(cfg: GatewayConfig, opts: Pick<GatewayOptions, 'models' | 'runtime'>, models: Map<string, Model>): Promise<void> {
  let rt = opts.runtime;
  for (const [key, mc] of Object.entries(cfg.models)) {
    const given = opts.models?.[key];
    if (given) {
      models.set(key, given);
      continue;
    }
    rt ??= await createRuntime();
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(fs.readFileSync(mc.path));
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_CONFIG', `models.${key}.path: cannot read ${mc.path}: ${(e as Error).message}`, { field: `models.${key}.path` });
    }
    models.set(key, await rt.load(bytes, { backend: mc.backend, source: mc.path }));
  }
}

/** Freezes an object and everything it holds (plain objects and arrays: an alert). */
function deepFreeze<T extends object>(o: T): T {
  Object.freeze(o);
  if (Array.isArray(o)) {
    // By index: a for-in over an array of numbers walks string keys, twice as slow.
    for (let i = 0; i < o.length; i++) {
      const v: unknown = o[i];
      if (v !== null && typeof v === 'object') deepFreeze(v);
    }
  } else {
    for (const v of Object.values(o)) if (v !== null && typeof v === 'object') deepFreeze(v as object);
  }
  return o;
}

/**
 * What 'alert' listeners and sinks get: a deep-frozen copy of the alert, one for all of them. They
 * were handed the object the outbox holds and publishes, so a sink or listener that changed it
 * (a plug-in "enriching" the label) changed what was published and stored. Frozen, an attempt to
 * change it throws (in strict mode; contained like any sink or listener error) and leaves the copy
 * as it was for the next consumer. One frozen copy costs about one structuredClone() (1.1-1.5x),
 * whatever the number of consumers (evidence of 32 frames x 6 values: 19 µs, against 18 µs per
 * consumer for a clone each; 150 x 13: 118 against 79 per consumer; test/bench/gateway-alert-view.ts,
 * 2026-11-27): the cheaper choice from two consumers on, and about even with one.
 */
export function alertView(a: Alert): Alert {
  return deepFreeze(structuredClone(a));
}

/**
 * Closes a sink; a throw or a rejection is logged, and so is a close() still running after
 * timeoutMs, which is then left behind: unbounded, a serial port whose close() blocks (a USB
 * adapter draining output nobody reads) kept stop() from closing the transport and the outbox.
 */
async function closeSink(sink: AlertSink, logger: Logger, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      sink.close(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`close() did not finish within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } catch (e) {
    logger.error('alert sink close failed', { sink: sink.name, error: (e as Error)?.message ?? String(e) });
  } finally {
    clearTimeout(timer);
  }
}

export class Gateway {
  readonly config: GatewayConfig;
  readonly topics: Topics;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly outbox: Outbox;
  readonly stateStore: StateStore;
  readonly transport: GatewayTransport;
  /** The embedded broker, when this gateway started one. */
  readonly broker: EmbeddedBroker | null;
  readonly models: ReadonlyMap<string, Model>;
  /** Set once the HTTP metrics endpoint listens. */
  httpPort: number | null = null;

  /** @internal */ readonly routes: RouteRuntime[];
  /** @internal */ readonly streams = new Map<string, DeviceStream>();
  /** @internal */ readonly cluster: ClusterCoordinator | null;
  private readonly routesBySensor = new Map<string, RouteRuntime>();
  private readonly groups = new Map<Model, ModelGroup>();
  private readonly sinks: AlertSink[];
  private readonly listeners: { [K in keyof GatewayEvents]: Array<GatewayEvents[K]> } = { alert: [], alertAcked: [], deadLetter: [], idle: [] };
  /** Models this gateway loaded (disposed when it closes); given ones belong to the caller. */
  private readonly ownedModels: Model[];
  private pumpTimer: TimerHandle | null = null;
  private publishTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private tickTimer: TimerHandle | null = null;
  private metricsTimer: TimerHandle | null = null;
  /** The next slice of an idle-eviction sweep (evictIdle). */
  private idleTimer: TimerHandle | null = null;
  private readonly inFlight = new Map<string, number>();
  /**
   * Alert topics whose last alert the broker refused (an ACL; or a publish that failed): their
   * alerts wait, in order, while the oldest (the probe) is sent again when `until` comes, the delay
   * doubling from retryMs at each refusal of the probe up to 8 × retryMs. The first alert
   * the topic accepts opens it. Each refused alert used to be sent again retryMs after its own
   * refusal: a broker refusing 50,000 pending alerts had them all sent every 5 s, 57% of a core.
   */
  private readonly refused = new Map<string, { until: number; delayMs: number; probe: string | null }>();
  /**
   * Alerts that could not be written to the outbox (disk failure): still published, from memory.
   * Bounded like the outbox (outbox.maxAlerts, outbox.maxBytes: the oldest dropped, counted in
   * outbox_dropped_total, one warning per episode): a MemoryOutbox. Unbounded, a disk that failed
   * during a long broker outage filled the memory instead.
   */
  private readonly volatile: MemoryOutbox;
  /** Outbox commits in flight. */
  private readonly commits = new Set<Promise<void>>();
  private http: http.Server | null = null;
  /** Event-loop delay of the current window, and of the one before (rotateLoopDelay). */
  private loopDelay: IntervalHistogram | null = null;
  private loopDelayPrev: IntervalHistogram | null = null;
  private loopDelaySinceMs = 0;
  private stopping = false;
  /** When the current connection was made, and when recent ones closed soon after (flapping). */
  private connectedAtMs = 0;
  private shortConnections: number[] = [];
  private flapLoggedAtMs = -Infinity;
  /**
   * Alert refusals since the last warning about them, and when it was logged: at most one a
   * minute, with the count. A broker that refused alerts for good (an ACL) had a warning logged
   * per alert at each retry (about 4,000 lines a second with 20,000 pending and retryMs 1000).
   */
  private refusedSinceWarn = 0;
  private refusedWarnedAtMs = -Infinity;
  private stopped = false;
  private readonly startedAtMs: number;
  private readonly drainTimeoutMs: number;
  private readonly stepBudgetMs: number;
  /** stateDir held for this gateway (released when it stops); null for stateDir "". */
  private readonly lock: StateLock | null;

  private constructor(o: {
    config: GatewayConfig;
    clock: Clock;
    logger: Logger;
    outbox: Outbox;
    stateStore: StateStore;
    transport: GatewayTransport;
    broker: EmbeddedBroker | null;
    models: Map<string, Model>;
    routes: RouteRuntime[];
    sinks: AlertSink[];
    ownedModels: Model[];
    drainTimeoutMs: number;
    stepBudgetMs: number;
    lock: StateLock | null;
  }) {
    this.config = o.config;
    this.clock = o.clock;
    this.logger = o.logger;
    this.outbox = o.outbox;
    this.stateStore = o.stateStore;
    this.transport = o.transport;
    this.broker = o.broker;
    this.models = o.models;
    this.routes = o.routes;
    this.sinks = o.sinks;
    this.ownedModels = o.ownedModels;
    this.drainTimeoutMs = o.drainTimeoutMs;
    this.stepBudgetMs = o.stepBudgetMs;
    this.lock = o.lock;
    this.topics = new Topics(o.config);
    this.metrics = new Metrics(o.clock.now());
    this.startedAtMs = o.clock.now();
    for (const r of o.routes) {
      this.routesBySensor.set(r.config.sensor, r);
      if (!this.groups.has(r.model)) {
        const I = r.model.inputSize;
        const frames = new Float32Array(o.config.limits.maxBatch * I);
        const inViews = Array.from({ length: o.config.limits.maxBatch }, (_, i) => frames.subarray(i * I, (i + 1) * I));
        this.groups.set(r.model, { model: r.model, ready: new Set(), frames, inViews, outViews: [], outBuffer: null, outOffset: 0, streams: [], sessions: [] });
      }
    }
    this.cluster = o.config.cluster ? new ClusterCoordinator(this, o.config.cluster) : null;
    const logger = o.logger;
    this.volatile = new MemoryOutbox({
      maxAlerts: o.config.outbox.maxAlerts,
      maxBytes: o.config.outbox.maxBytes,
      onDrop: (dropped) => {
        this.metrics.inc('outbox_dropped_total', dropped.length);
      },
      // Its episode warnings say where the alerts were held.
      logger: {
        debug: (m, f) => logger.debug(m, { ...f, heldInMemory: true }),
        info: (m, f) => logger.info(m, { ...f, heldInMemory: true }),
        warn: (m, f) => logger.warn(m, { ...f, heldInMemory: true }),
        error: (m, f) => logger.error(m, { ...f, heldInMemory: true }),
      },
    });
  }

  /**
   * What create() checks short of the broker, stateDir and board, for a config check before a
   * deployment (`edgernn gateway --print-config`): the config, the models (read, decoded,
   * golden-checked), the routes (front ends, channels, rates, detectors) and the broker's TLS
   * files. Throws the error create() would; touches no broker, disk state or board.
   */
  static async check(opts: Pick<GatewayOptions, 'config' | 'runtime' | 'detectors' | 'frontends'>): Promise<void> {
    const cfg = parseGatewayConfig(opts.config, 'Gateway.check: config');
    const models = new Map<string, Model>();
    try {
      await loadModels(cfg, opts, models);
      buildRoutes(cfg, models, { ...BUILTIN_DETECTORS, ...JOB_DETECTORS, ...opts.detectors }, { ...FEATURE_FRONTENDS, ...BUILTIN_FRONTENDS, ...opts.frontends });
      if (cfg.broker.url !== 'embedded') mqttClientOptions({ broker: cfg.broker, url: cfg.broker.url, clientId: cfg.broker.clientId ?? `edgernn-${cfg.gatewayId}`, persistentSession: cfg.broker.persistentSession });
    } finally {
      for (const m of models.values()) m.dispose();
    }
  }

  /** Loads models, opens the outbox, connects, subscribes. */
  static async create(opts: GatewayOptions): Promise<Gateway> {
    const cfg = parseGatewayConfig(opts.config, 'Gateway.create: config');
    const clock = opts.clock ?? systemClock();
    const logger = opts.logger ?? jsonLogger({ level: cfg.log.level, base: { gateway: cfg.gatewayId } });
    const models = new Map<string, Model>();
    const sinks = [...(opts.sinks ?? [])];
    let outbox: Outbox | undefined;
    let broker: EmbeddedBroker | null = null;
    let lock: StateLock | null = null;
    let droppedAtOpen = 0;
    let gw: Gateway;
    try {
      await loadModels(cfg, opts, models);
      const routes = buildRoutes(cfg, models, { ...BUILTIN_DETECTORS, ...JOB_DETECTORS, ...opts.detectors }, { ...FEATURE_FRONTENDS, ...BUILTIN_FRONTENDS, ...opts.frontends });
      // Storage: stateDir is this gateway's alone (state-lock.ts). A disk that refuses writes
      // (read-only, full, no permission) does not keep the gateway from running: it runs with the
      // outbox and the stream states in memory, alerts still raised and published, and says so
      // (an error, and outbox_persistent 0). The disk is not tried again: one that went read-only
      // needs a person. A stateDir that cannot be a folder is a configuration mistake: refused.
      const outboxDir = path.join(cfg.stateDir, 'outbox');
      // Alerts dropped for outbox.maxAlerts/maxBytes: counted once the gateway exists (those at
      // open from outbox.report.dropped below), and not retried.
      const onOutboxDrop = (dropped: readonly Alert[]) => {
        if (!gw) return;
        gw.metrics.inc('outbox_dropped_total', dropped.length);
      };
      const bounds = { maxAlerts: cfg.outbox.maxAlerts, maxBytes: cfg.outbox.maxBytes, onDrop: onOutboxDrop, logger };
      let refused = cfg.stateDir === '' ? null : probeStateDir(cfg.stateDir);
      if (cfg.stateDir !== '' && refused === null) lock = lockStateDir(cfg.stateDir, cfg.gatewayId, logger);
      if (opts.outbox) {
        outbox = opts.outbox;
      } else if (cfg.stateDir !== '' && refused === null) {
        try {
          outbox = FileOutbox.open(outboxDir, { fsync: cfg.outbox.fsync, compactAfter: cfg.outbox.compactAfter, ...bounds });
        } catch (e) {
          // Passed the probe, yet the disk refused the outbox (e.g. full while the log is compacted at open).
          const code = (e as EdgeRnnError).details?.code;
          if (typeof code !== 'string' || !DISK_REFUSED_CODES.has(code)) throw e;
          refused = Object.assign(new Error((e as Error).message), { code });
        }
      }
      if (refused) {
        logger.error('stateDir refuses writes: the outbox and stream states are held in memory only, nothing is persisted (not retried)', {
          stateDir: cfg.stateDir,
          code: refused.code,
          error: refused.message,
        });
        if (!opts.outbox) {
          // Alerts of a previous run the broker never acknowledged can still be read: sent from
          // memory (acks cannot be recorded, so a later start with a working disk sends them again).
          let previous: Alert[] = [];
          try {
            previous = FileOutbox.readPending(outboxDir, { logger });
          } catch (e) {
            logger.error('outbox: the log of a previous run cannot be read either', { dir: outboxDir, error: (e as Error).message });
          }
          const held = new MemoryOutbox(bounds);
          held.add(previous);
          outbox = held;
          if (previous.length > 0) logger.info('outbox: alerts from a previous run will be re-sent from memory', { replayed: previous.length, ...(held.dropped ? { dropped: held.dropped } : {}) });
        }
      }
      outbox ??= new MemoryOutbox(bounds);
      if (outbox instanceof FileOutbox && outbox.report.replayed > 0) logger.info('outbox: alerts from a previous run will be re-sent', { ...outbox.report });
      // States dropped for maxSavedStates are counted once the gateway (and its metrics) exists;
      // those the store drops as it opens (a bound lowered since they were saved) just after.
      const onDrop = (key: string) => {
        if (gw) gw.onStateDropped(key);
        else droppedAtOpen++;
      };
      const bound = { maxStates: cfg.limits.maxSavedStates, onDrop };
      const stateStore =
        opts.stateStore ?? (cfg.stateDir === '' || refused ? memoryStateStore(bound) : fileStateStore(path.join(cfg.stateDir, 'streams'), { ...bound, fsync: cfg.outbox.fsync }));
      // Broker and transport.
      let transport = opts.transport;
      if (!transport) {
        let url = cfg.broker.url;
        if (url === 'embedded') {
          broker = await startEmbeddedBroker({ host: cfg.broker.host, port: cfg.broker.port });
          url = broker.url;
          logger.info('embedded broker listening', { url, port: broker.port });
        }
        transport = mqttTransport({
          broker: cfg.broker,
          url,
          clientId: cfg.broker.clientId ?? `edgernn-${cfg.gatewayId}`,
          persistentSession: cfg.broker.persistentSession,
          onWait: (e) => logger.warn('waiting for the broker', { url: redactUrl(url), error: e.message, code: (e as { code?: unknown }).code }),
          will: { topic: new Topics(cfg).status, payload: JSON.stringify({ state: 'offline', gateway: cfg.gatewayId, reason: 'connection lost' }), retain: true },
        });
      }
      const raisable = cfg.board?.labels ? routeAlertLabels(routes, new Set(Object.keys(opts.detectors ?? {}))) : null;
      if (cfg.board) sinks.push(await createBoardSink({ config: cfg.board, ...(opts.boardTransport ? { transport: opts.boardTransport } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(raisable ? { raisable } : {}), clock, logger }));
      gw = new Gateway({
        config: cfg,
        clock,
        logger,
        outbox,
        stateStore,
        transport,
        broker,
        models,
        routes,
        sinks,
        ownedModels: [...models].filter(([key]) => !opts.models?.[key]).map(([, m]) => m),
        drainTimeoutMs: opts.drainTimeoutMs ?? 5000,
        stepBudgetMs: opts.stepBudgetMs ?? cfg.limits.stepBudgetMs,
        lock,
      });
      gw.metrics.gauges.outbox_persistent = outbox instanceof FileOutbox ? 1 : 0;
      if (outbox instanceof FileOutbox && outbox.report.dropped) gw.metrics.inc('outbox_dropped_total', outbox.report.dropped);
      if (droppedAtOpen > 0) {
        gw.metrics.inc('states_dropped_total', droppedAtOpen);
        logger.info('saved stream states beyond limits.maxSavedStates dropped at start, oldest first', { dropped: droppedAtOpen, maxSavedStates: cfg.limits.maxSavedStates });
      }
      // Those of a previous run's log held in memory (the disk refused writes): dropped before the gateway existed.
      if (outbox instanceof MemoryOutbox && !opts.outbox && outbox.dropped) gw.metrics.inc('outbox_dropped_total', outbox.dropped);
    } catch (e) {
      // Nothing may outlive a failed start: sinks, the broker we started, the outbox, our models.
      for (const sink of sinks) await closeSink(sink, logger, opts.drainTimeoutMs ?? 5000);
      if (broker) await broker.close();
      if (outbox) await outbox.close();
      lock?.release();
      for (const [key, m] of models) if (!opts.models?.[key]) m.dispose();
      throw e;
    }
    await gw.start(opts.signal);
    return gw;
  }

  /** Connects, subscribes, starts timers and the HTTP endpoint; on any failure closes everything and rethrows. */
  private async start(signal?: AbortSignal): Promise<void> {
    const cfg = this.config;
    let onAbort: (() => void) | null = null;
    try {
      const url = redactUrl(this.broker?.url ?? cfg.broker.url);
      const stopped = () => new EdgeRnnError('GATEWAY_STOPPED', `stopped while waiting for the broker at ${url}`, { url });
      if (signal?.aborted) throw stopped();
      // Before connecting: a broker that is down is waited for, and meanwhile the endpoint says so
      // (/healthz 503, connected 0); a port in use is reported at once, not once the broker answers.
      if (cfg.metrics.httpPort !== undefined) await this.startHttp(cfg.metrics.httpPort, cfg.metrics.httpHost);
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(stopped());
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([
        this.transport.start({
          message: (topic, payload, retained) => this.onMessage(topic, payload, retained === true),
          connect: () => this.onConnect(),
          close: () => this.onClose(),
        }),
        aborted,
      ]);
      if (this.cluster) await this.cluster.start();
      else await this.transport.subscribe(this.sensorFilters(), cfg.broker.sensorQos);
    } catch (e) {
      await this.closeResources();
      throw e;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    this.rotateLoopDelay();
    // The histograms hold the interval between 10 ms timer ticks: the delay is what exceeds 10 ms.
    // Over the last one to two windows: the larger of the two windows' percentiles.
    const windows = () => [this.loopDelay, this.loopDelayPrev].filter((h): h is IntervalHistogram => h !== null && h.count > 0);
    this.metrics.loopDelay = {
      percentile: (p) => Math.max(0, ...windows().map((h) => h.percentile(p) - 10e6)),
      get count() {
        return windows().reduce((n, h) => n + h.count, 0);
      },
    };
    this.publishStatus('online');
    this.scheduleTick();
    if (cfg.metrics.intervalMs > 0) this.metricsTimer = this.clock.setTimeout(() => this.onMetricsTimer(), cfg.metrics.intervalMs);
    this.kickPublish();
    this.logger.info('gateway started', {
      site: cfg.site,
      broker: redactUrl(this.broker?.url ?? cfg.broker.url),
      routes: this.routes.map((r) => ({ sensor: r.config.sensor, model: `${r.model.name}@${r.model.version}`, backend: r.model.backend, codec: r.config.codec, detector: r.config.detector.kind })),
      subscriptions: this.cluster ? 'cluster' : this.sensorFilters(),
      outboxDepth: this.outbox.depth,
      httpPort: this.httpPort,
    });
  }

  /** Sensor subscription filters (all partitions, or the given ones in cluster mode). */
  sensorFilters(partitions?: readonly string[]): string[] {
    const out: string[] = [];
    for (const r of this.routes) {
      if (partitions) for (const p of partitions) out.push(this.topics.sensorFilter(r.config.sensor, p));
      else out.push(this.topics.sensorFilter(r.config.sensor));
    }
    return out;
  }

  on<K extends keyof GatewayEvents>(ev: K, fn: GatewayEvents[K]): this {
    this.listeners[ev].push(fn);
    return this;
  }

  off<K extends keyof GatewayEvents>(ev: K, fn: GatewayEvents[K]): this {
    const l = this.listeners[ev] as Array<GatewayEvents[K]>;
    const i = l.indexOf(fn);
    if (i >= 0) l.splice(i, 1);
    return this;
  }

  private emit<K extends keyof GatewayEvents>(ev: K, ...args: Parameters<GatewayEvents[K]>): void {
    for (const fn of this.listeners[ev]) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch (e) {
        this.logger.error('event listener threw', { event: ev, error: (e as Error).message });
      }
    }
  }

  // ---- message handlers -------------------------------------------------------------------

  /** The dispatcher: one handler per message kind. */
  private onMessage(topic: string, payload: Uint8Array, retained = false): void {
    if (this.stopped) return;
    try {
      if (this.cluster && this.cluster.handles(topic)) {
        this.cluster.onMessage(topic, payload);
        return;
      }
      // Sensor data a device published with the retain flag comes back from the broker's store
      // at every subscribe: each start and each reconnect. It was stepped each time, a stale
      // sample fed again into a restored state (and a new stream's first data was hours old).
      if (retained) {
        this.metrics.inc('retained_total');
        return;
      }
      const m = this.topics.sensorParser.parse(topic);
      const route = m ? this.routesBySensor.get(m.sensor) : undefined;
      if (!m || !route) {
        this.metrics.inc('unrouted_total');
        return;
      }
      if (this.cluster && !this.cluster.admit(topic, m.device, payload)) return;
      this.onSensorMessage(topic, m.device, route, payload);
    } catch (e) {
      // Nothing a message carries may take the gateway down.
      this.logger.error('message handler failed', { topic, error: (e as Error).message, stack: (e as Error).stack });
    }
  }

  /** @internal Sensor data: limit, decode, sanitize, order, ingest. */
  onSensorMessage(topic: string, device: string, route: RouteRuntime, payload: Uint8Array): void {
    const now = this.clock.now();
    this.metrics.inc('messages_total');
    const lim = this.config.limits;
    // A device whose alerts (or, in a cluster, checkpoints) cannot have a topic: MQTT topics are
    // at most 65535 bytes, and a sensor topic near that makes a longer alerts topic. Its first
    // alert was handed to MQTT.js, which wrote half a packet (the broker dropped the connection)
    // and threw from its reconnect: the gateway crashed, and again at each start (the outbox).
    const topicBytes = Math.max(this.topics.alertsBytes(device, route.config.sensor), this.cluster?.checkpointTopicBytes(device, route.config.sensor) ?? 0);
    if (topicBytes > MAX_TOPIC_BYTES) {
      this.deadLetter(topic, payload, 'PAYLOAD_DECODE', `device name of ${Buffer.byteLength(device)} bytes: its ${this.cluster ? 'alerts or checkpoint' : 'alerts'} topic would be ${topicBytes} bytes, MQTT allows at most ${MAX_TOPIC_BYTES}`);
      return;
    }
    if (payload.length > lim.maxPayloadBytes) {
      this.metrics.inc('oversized_total');
      this.deadLetter(topic, payload, 'PAYLOAD_DECODE', `payload of ${payload.length} bytes exceeds limits.maxPayloadBytes (${lim.maxPayloadBytes})`);
      return;
    }
    let batch: SampleBatch;
    try {
      batch = checkSeqWidth(DECODERS[route.config.codec](payload, { channels: route.config.channels, int16Scale: route.config.int16Scale, maxSamples: MAX_SAMPLES_PER_MESSAGE }), route.config.seqBits);
    } catch (e) {
      if (!isEdgeRnnError(e)) throw e;
      this.metrics.inc('decode_errors_total');
      this.deadLetter(topic, payload, e.code, `${route.config.codec}: ${e.message}`);
      return;
    }
    // Refused before the stream is looked up: a dead letter from a new device must not create a
    // stream, and with it evict (at maxDevices) a device that sent nothing wrong.
    const upsample = upsampleError(batch.rateHz, this.frontEndRateHz(route));
    if (upsample) {
      this.metrics.inc('decode_errors_total');
      this.deadLetter(topic, payload, 'PAYLOAD_DECODE', `${route.config.codec}: "rateHz" ${upsample}`);
      return;
    }
    // nonFinite zero/hold repair at ingest (DeviceStream.ingest), in sequence order: "hold" repeats
    // the last finite value the stream stepped, not one of a message held ahead of a gap or of a
    // dropped duplicate. deadLetter needs no state: checked here, on arrival.
    if (route.config.nonFinite === 'deadLetter') {
      if (this.nonFiniteScratch.length < batch.channels) this.nonFiniteScratch = new Float32Array(batch.channels);
      const reason = applyNonFinite(batch, 'deadLetter', this.nonFiniteScratch);
      if (reason !== null) {
        this.metrics.inc('non_finite_total');
        this.deadLetter(topic, payload, 'PAYLOAD_DECODE', reason);
        return;
      }
    }
    const stream = this.streamFor(device, route.config.sensor, route, now);
    const q: QueuedBatch = { batch, topic, raw: payload, arrivedPerfMs: performance.now(), arrivedMs: now };
    const before = this.countersBefore(stream);
    this.apply(stream, stream.accept(q, lim, now), now);
    this.countStreamDelta(stream, before);
  }

  /** applyNonFinite's last-finite values for the deadLetter check (unused by that policy). */
  private nonFiniteScratch = new Float32Array(0);
  /** The sample rate each route's front end takes (the same for all its streams). */
  private readonly feRateHz = new Map<RouteRuntime, number | undefined>();

  private frontEndRateHz(route: RouteRuntime): number | undefined {
    if (!this.feRateHz.has(route)) this.feRateHz.set(route, route.createFrontEnd().sampleRateHz);
    return this.feRateHz.get(route);
  }

  private readonly scratchCounters = { messages: 0, duplicates: 0, reordered: 0, missing: 0, resets: 0, droppedFrames: 0, droppedSamples: 0, frames: 0 };

  /** A copy of a stream's counters in a reused object (no allocation per message). */
  private countersBefore(s: DeviceStream): DeviceStream['counters'] {
    return Object.assign(this.scratchCounters, s.counters);
  }

  private countStreamDelta(s: DeviceStream, before: DeviceStream['counters']): void {
    const c = s.counters;
    if (c.duplicates !== before.duplicates) this.metrics.inc('duplicates_total', c.duplicates - before.duplicates);
    if (c.reordered !== before.reordered) this.metrics.inc('reordered_total', c.reordered - before.reordered);
    if (c.missing !== before.missing) this.metrics.inc('missing_total', c.missing - before.missing);
    if (c.resets !== before.resets) this.metrics.inc('resets_total', c.resets - before.resets);
    if (c.unsetDeviceTime !== before.unsetDeviceTime) this.metrics.inc('unset_device_time_total', c.unsetDeviceTime - before.unsetDeviceTime);
    if (c.droppedFrames !== before.droppedFrames) {
      this.metrics.inc('dropped_frames_total', c.droppedFrames - before.droppedFrames);
      this.metrics.inc('dropped_samples_total', c.droppedSamples - before.droppedSamples);
      this.logDropped(s, c.droppedFrames - before.droppedFrames, c.droppedSamples - before.droppedSamples);
    }
  }

  /**
   * Backpressure drops are logged once per stream per minute, naming the device, with the count
   * since the last line: the counters alone did not say which of thousands of devices floods.
   */
  private logDropped(s: DeviceStream, frames: number, samples: number): void {
    const log = s.dropLog;
    log.frames += frames;
    log.samples += samples;
    const now = this.clock.now();
    // A clock stepped back counts as time passed (as for dead letters).
    if (now >= log.at && now - log.at < DEAD_LETTER_LOG_INTERVAL_MS) return;
    this.logger.warn('device queue full: oldest frames dropped (limits.maxQueuedFrames)', {
      device: s.device,
      sensor: s.sensor,
      droppedFrames: log.frames,
      droppedSamples: log.samples,
      maxQueuedFrames: this.config.limits.maxQueuedFrames,
    });
    s.dropLog = { at: now, frames: 0, samples: 0 };
  }

  private apply(stream: DeviceStream, res: { ready: QueuedBatch[]; reset: boolean; before?: QueuedBatch[] }, now: number): void {
    if (res.before) for (const q of res.before) stream.ingest(q);
    if (res.reset) {
      // The frames already queued belong to the old context: step them first.
      this.flushStream(stream);
      stream.reset(now);
      this.logger.info('stream reset', { device: stream.device, sensor: stream.sensor, epoch: stream.epoch, missing: stream.counters.missing });
    }
    const maxSilence = stream.route.config.maxSilenceMs;
    let fresh = res.reset;
    for (const q of res.ready) {
      // A device back from a sleep longer than the route's maxSilenceMs: its old context is gone
      // (the model state of the burst before, a front end's half window). It used to be stitched on.
      const silent = maxSilence === undefined || fresh ? null : stream.silenceBefore(q);
      if (silent !== null && silent > maxSilence!) {
        this.flushStream(stream);
        stream.reset(now);
        this.logger.info('stream reset after silence', { device: stream.device, sensor: stream.sensor, epoch: stream.epoch, silentMs: silent, maxSilenceMs: maxSilence });
      }
      fresh = false;
      stream.ingest(q);
    }
    if (stream.queued > 0) {
      this.groups.get(stream.route.model)!.ready.add(stream);
      this.schedulePump();
    }
  }

  private deadLetter(topic: string, payload: Uint8Array, code: string, reason: string): void {
    const d: DeadLetter = { topic, reason, code, bytes: payload.length, tsMs: this.clock.now() };
    this.metrics.inc('dead_letters_total');
    this.logDeadLetter(d);
    this.emit('deadLetter', d);
    // The first 256 bytes of the payload travel along (base64) for diagnosis, not the whole flood.
    const body = JSON.stringify({ ...d, ts: new Date(d.tsMs).toISOString(), gateway: this.config.gatewayId, payloadHead: Buffer.from(payload.subarray(0, 256)).toString('base64') });
    if (this.transport.connected) this.transport.publish(this.topics.deadLetter, body, { qos: 0 }).catch(() => {});
  }

  /** Topic -> when its last dead letter was logged and how many came since without a line. */
  private readonly deadLetterLog = new Map<string, { at: number; unlogged: number }>();

  private logDeadLetter(d: DeadLetter): void {
    const seen = this.deadLetterLog.get(d.topic);
    // A clock stepped back counts as time passed: the line is not held until it catches up.
    if (seen && d.tsMs >= seen.at && d.tsMs - seen.at < DEAD_LETTER_LOG_INTERVAL_MS) {
      seen.unlogged++;
      return;
    }
    const unlogged = seen?.unlogged ?? 0;
    this.deadLetterLog.delete(d.topic); // re-inserted last: the map's order is least recently logged first
    if (this.deadLetterLog.size >= DEAD_LETTER_LOG_TOPICS) this.deadLetterLog.delete(this.deadLetterLog.keys().next().value!);
    this.deadLetterLog.set(d.topic, { at: d.tsMs, unlogged: 0 });
    this.logger.warn('dead letter', { topic: d.topic, code: d.code, reason: d.reason, bytes: d.bytes, ...(unlogged > 0 ? { notLoggedSinceLast: unlogged } : {}) });
  }

  // ---- device streams ------------------------------------------------------------------------

  /** The stream of a device's sensor: existing (bumped to most recent), or created (restoring saved state). */
  private streamFor(device: string, sensor: string, route: RouteRuntime, now: number): DeviceStream {
    const key = streamKey(device, sensor);
    const s = this.streams.get(key);
    if (s) {
      // Map order is the LRU order: re-insert to make it the most recent.
      this.streams.delete(key);
      this.streams.set(key, s);
      return s;
    }
    let saved: Uint8Array | undefined;
    try {
      saved = this.stateStore.load(key);
    } catch (e) {
      // An unreadable state (I/O error, a directory in its place) must not stop the device: it starts fresh.
      this.metrics.inc('state_errors_total');
      this.logger.warn('saved stream state not used', { device, sensor, error: `cannot read it: ${(e as Error).message}` });
    }
    // Taken out of the store before the eviction below saves another state: in a full store
    // (limits.maxSavedStates) that save would drop the oldest state, maybe this device's.
    if (saved) {
      try {
        this.stateStore.delete(key);
      } catch (e) {
        // A disk gone read-only: the state is restored all the same (it failed every message of the device).
        this.logger.warn('saved stream state restored but not deleted from the store', { device, sensor, error: (e as Error).message });
      }
    }
    while (this.streams.size >= this.config.limits.maxDevices) {
      const oldest = this.streams.values().next().value as DeviceStream;
      this.evict(oldest, 'device cap');
    }
    const ns = new DeviceStream(device, sensor, route, this.config.limits, now);
    if (saved) {
      try {
        const r = ns.importState(saved);
        this.metrics.inc('state_restores_total');
        this.logger.debug('stream restored', { device, sensor, lastSeq: ns.lastSeq, frameIndex: ns.frameIndex });
        if (r.frontendRestarted) this.logger.info('saved stream state has no front-end state (saved by an older gateway): model state restored, front end restarted', { device, sensor });
      } catch (e) {
        this.metrics.inc('state_errors_total');
        this.logger.warn('saved stream state not used', { device, sensor, error: (e as Error).message });
      }
    }
    this.streams.set(key, ns);
    this.metrics.gauges.devices = this.streams.size;
    return ns;
  }

  /** Steps a stream's queued frames now (one at a time), running its detector. */
  private flushStream(s: DeviceStream): void {
    const alerts: Alert[] = [];
    const frame = new Float32Array(s.route.model.inputSize);
    while (s.queued > 0) {
      s.peekFrame(frame, 0);
      let out: Float32Array;
      try {
        out = s.session.step(frame);
      } catch (e) {
        this.logger.error('step failed, frame dropped', { device: s.device, error: (e as Error).message });
        this.completeFrame(s, frame, new Float32Array(s.route.model.outputSize));
        continue;
      }
      this.metrics.inc('frames_total');
      const ev = this.completeFrame(s, frame, out);
      if (ev) alerts.push(this.makeAlert(s, ev));
    }
    this.groups.get(s.route.model)?.ready.delete(s);
    if (alerts.length) this.commitAlerts(alerts);
  }

  /** @internal Processes held out-of-order messages and queued frames of a stream (gaps given up). */
  drainStream(s: DeviceStream): void {
    const now = this.clock.now();
    // Counted like a message's: the stream may be removed next (eviction), its counters with it.
    const before = { ...s.counters };
    while (s.heldCount > 0) {
      const res = s.expireHeld({ ...this.config.limits, reorderTimeoutMs: 0 }, now);
      if (!res) break;
      this.apply(s, res, now);
    }
    this.countStreamDelta(s, before);
    this.flushStream(s);
  }

  /** @internal A saved state deleted by the store to keep at most limits.maxSavedStates. */
  onStateDropped(key: string): void {
    this.metrics.inc('states_dropped_total');
    this.logger.debug('saved stream state dropped (limits.maxSavedStates)', { key, maxSavedStates: this.config.limits.maxSavedStates });
  }

  /** Saves a stream's state to the store and forgets it. */
  private evict(s: DeviceStream, why: string): void {
    this.evictMany([s], why);
  }

  /** Saves streams' states to the store, as one batch (saveStates), and forgets them. */
  private evictMany(streams: readonly DeviceStream[], why: string): void {
    const states: Array<[string, Uint8Array]> = [];
    const exported: Array<{ s: DeviceStream; bytes: Uint8Array }> = [];
    for (const s of streams) {
      // Queued frames are stepped; held messages stay held, in the saved state: a late message
      // arriving in time still fills its gap (given up here, it was dropped as a duplicate).
      this.flushStream(s);
      try {
        const bytes = s.exportState();
        states.push([s.key, bytes]);
        exported.push({ s, bytes });
      } catch (e) {
        this.logger.error('could not save an evicted stream state', { device: s.device, error: (e as Error).message });
      }
    }
    for (const f of saveStates(this.stateStore, states)) this.logger.error('could not save an evicted stream state', { key: f.key, error: f.error.message });
    // Cluster mode: the periodic checkpoints cover live streams only, and a crash leaves only them.
    for (const { s, bytes } of exported) this.cluster?.checkpointEvicted(s.device, s.key, bytes);
    for (const s of streams) {
      this.removeStream(s);
      this.metrics.inc('evictions_total');
      this.logger.debug('stream evicted', { device: s.device, sensor: s.sensor, why });
    }
  }

  /**
   * @internal Cluster hand-off: steps the stream's queued frames, exports its state and removes
   * it. Held out-of-order messages are not forced through: they are returned raw, for the new
   * owner to order together with the messages it holds.
   */
  detachStream(s: DeviceStream): { bytes: Uint8Array; held: QueuedBatch[] } {
    const held = s.takeHeld();
    this.flushStream(s);
    const bytes = s.exportState();
    this.removeStream(s);
    return { bytes, held };
  }

  /** @internal A checkpoint of a live stream (queued frames stepped first), or null while it holds out-of-order messages. */
  checkpointStream(s: DeviceStream): Uint8Array | null {
    if (s.heldCount > 0) return null;
    this.flushStream(s);
    return s.exportState();
  }

  /** @internal The sequence number a payload carries, if it decodes. */
  peekSeq(route: RouteRuntime, payload: Uint8Array): number | undefined {
    try {
      return DECODERS[route.config.codec](payload, { channels: route.config.channels, int16Scale: route.config.int16Scale, maxSamples: MAX_SAMPLES_PER_MESSAGE }).seq;
    } catch {
      return undefined;
    }
  }

  private removeStream(s: DeviceStream): void {
    this.groups.get(s.route.model)?.ready.delete(s);
    this.streams.delete(s.key);
    s.dispose();
    this.metrics.gauges.devices = this.streams.size;
  }

  /**
   * @internal Imports a stream state now (replacing a live stream's), or stores it for when the
   * device next sends. A live stream (a rejoin after our last will went out) may hold messages
   * ahead of a gap, or a restart candidate: only this gateway received them (the shared
   * subscription gives each message to one member). They are taken out before the import and
   * accepted again after it, against the imported state: what it already covers is a duplicate
   * (dropped, counted), the rest fills or waits on its gaps, the timeout counting from when their
   * gap began. They used to be forced through first, into the session the import then replaced:
   * lost, and their gap counted missing.
   */
  importStream(key: string, bytes: Uint8Array): void {
    const live = this.streams.get(key);
    if (live) {
      const hadGap = live.heldCount > 0;
      const gapSince = live.heldSince;
      const held = live.takeHeld();
      // Queued frames belong to the state being replaced: stepped with it (their alerts stand).
      this.flushStream(live);
      try {
        const r = live.importState(bytes);
        if (r.frontendRestarted) this.logger.info('handed-off stream state has no front-end state (sent by an older gateway): model state restored, front end restarted', { key });
      } catch (e) {
        this.metrics.inc('state_errors_total');
        this.logger.warn('handed-off stream state not used', { key, error: (e as Error).message });
      }
      if (held.length > 0) {
        const now = this.clock.now();
        const before = { ...live.counters };
        for (const q of held) this.apply(live, live.accept(q, this.config.limits, now), now);
        if (hadGap) live.gapBeganBy(gapSince);
        this.countStreamDelta(live, before);
      }
      return;
    }
    this.stateStore.save(key, bytes);
  }

  /** @internal Route of a sensor name. */
  routeFor(sensor: string): RouteRuntime | undefined {
    return this.routesBySensor.get(sensor);
  }

  /** @internal The partition of a device (cluster mode). */
  partitionOf(device: string): string {
    return devicePartition(device, this.config.cluster?.partitions ?? 1);
  }

  // ---- stepping --------------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpTimer === null && !this.stopped) this.pumpTimer = this.clock.setTimeout(() => this.pump(), this.config.limits.batchDelayMs);
  }

  /**
   * One round of stepping: for each model, one frame from each ready device per kernel call,
   * until the queues drain or the time budget is spent (then yield to I/O and continue).
   */
  private pump(budgetMs = this.stepBudgetMs): void {
    this.pumpTimer = null;
    const t0 = performance.now();
    const alerts: Alert[] = [];
    let more = false;
    // Passes in which every model with ready devices makes one kernel call; the budget is checked
    // after each pass. (Model by model, a backlog on one model longer than a round's budget
    // starved every later model's devices until it drained.) Never before the first pass: a round
    // must make progress. Checked before it, a budget already spent when the round began (0, or
    // 1 ms on a loaded machine) stepped nothing and rescheduled the round, forever: on a manual
    // clock, whose zero-delay timers fire within the same advance(), the advance never returned.
    for (let stepped = true; stepped; ) {
      stepped = false;
      for (const g of this.groups.values()) {
        if (g.ready.size === 0) continue;
        this.stepGroup(g, alerts);
        stepped = true;
      }
      if (stepped && performance.now() - t0 > budgetMs) {
        for (const g of this.groups.values()) if (g.ready.size > 0) more = true;
        break;
      }
    }
    if (alerts.length) this.commitAlerts(alerts);
    this.metrics.gauges.queue_depth = this.queuedFrames();
    if (more) this.pumpTimer = this.clock.setTimeout(() => this.pump(), 0);
    this.emit('idle');
  }

  /** One stepMany call over up to maxBatch ready streams of a model (round-robin). */
  private stepGroup(g: ModelGroup, alerts: Alert[]): void {
    const I = g.model.inputSize;
    const O = g.model.outputSize;
    const max = this.config.limits.maxBatch;
    g.streams.length = 0;
    g.sessions.length = 0;
    for (const s of g.ready) {
      if (g.streams.length >= max) break;
      s.peekFrame(g.frames, g.streams.length * I);
      g.streams.push(s);
      g.sessions.push(s.session);
    }
    const n = g.streams.length;
    const frames = g.frames.subarray(0, n * I);
    let out: Float32Array;
    const t1 = performance.now();
    try {
      out = g.model.stepMany(g.sessions, frames);
    } catch (e) {
      // Frames were sanitized at decode; should a kernel call still fail, step one by one so
      // one bad stream cannot stop the others.
      this.logger.error('batched step failed, stepping one by one', { error: (e as Error).message });
      for (const s of g.streams) {
        g.ready.delete(s);
        this.flushStream(s);
      }
      return;
    }
    const t2 = performance.now();
    this.metrics.inference.observe(t2 - t1);
    this.metrics.inc('kernel_calls_total');
    this.metrics.inc('frames_total', n);
    if (g.outBuffer !== out.buffer || g.outOffset !== out.byteOffset || g.outViews.length < n) {
      // The runtime's output buffer moved or grew: views per slot, made once per buffer.
      g.outBuffer = out.buffer;
      g.outOffset = out.byteOffset;
      const slots = Math.min(this.config.limits.maxBatch, Math.floor((out.buffer.byteLength - out.byteOffset) / (4 * O)));
      g.outViews = Array.from({ length: slots }, (_, i) => new Float32Array(out.buffer, out.byteOffset + 4 * i * O, O));
    }
    for (let i = 0; i < n; i++) {
      const s = g.streams[i]!;
      this.metrics.processing.observe(t2 - s.headArrivedPerfMs);
      const ev = this.completeFrame(s, g.inViews[i]!, g.outViews[i]!);
      if (ev) alerts.push(this.makeAlert(s, ev));
      // Round-robin: re-insert at the back if it has more frames.
      g.ready.delete(s);
      if (s.queued > 0) g.ready.add(s);
    }
  }

  /**
   * s.completeFrame() with the detector's errors contained: a detector that throws (a plug-in's
   * bug, an output it refuses) must not end the pump, and with it every other device's stream.
   * The frame counts as stepped, the detector is reset (its state may be half-updated), and the
   * error is logged and counted in detector_errors_total.
   */
  private completeFrame(s: DeviceStream, input: Float32Array, output: Float32Array): DetectorEvent | null {
    try {
      return s.completeFrame(input, output);
    } catch (e) {
      this.metrics.inc('detector_errors_total');
      this.logger.error('detector failed, reset', { device: s.device, sensor: s.sensor, error: (e as Error).message });
      try {
        s.detector.reset();
      } catch (e2) {
        this.logger.error('detector reset failed', { device: s.device, sensor: s.sensor, error: (e2 as Error).message });
      }
      return null;
    }
  }

  // ---- alerts --------------------------------------------------------------------------------

  /** An alert for the frame the stream just completed. */
  private makeAlert(s: DeviceStream, ev: DetectorEvent): Alert {
    const meta = { tsMs: s.lastFrameTsMs, seq: s.lastFrameSeq };
    const m = s.route.model;
    const id = alertId({
      site: this.config.site,
      device: s.device,
      sensor: s.sensor,
      model: m.name,
      version: m.version,
      streamStartMs: s.streamStartMs,
      epoch: s.epoch,
      frameIndex: s.frameIndex,
    });
    const evd = s.evidence();
    const a: Alert = {
      id,
      site: this.config.site,
      device: s.device,
      sensor: s.sensor,
      gateway: this.config.gatewayId,
      model: { name: m.name, version: m.version, sha256: m.sha256 },
      detector: s.route.config.detector.kind,
      label: ev.label,
      score: f32(ev.score),
      ts: new Date(meta.tsMs).toISOString(),
      tsMs: meta.tsMs,
      frameIndex: s.frameIndex,
      evidence: { fromMs: evd.fromMs, toMs: evd.toMs, inputs: evd.inputs.map((r) => Array.from(r, f32)), scores: evd.scores.map(f32) },
    };
    if (meta.seq >= 0) a.seq = meta.seq;
    return a;
  }

  /**
   * Makes alerts durable, then announces and publishes them. A file outbox writes and fsyncs
   * off the event loop (group commit): an alert is raised (logged, emitted, sent to the local
   * sinks, published) only once it is on disk.
   */
  private commitAlerts(alerts: Alert[]): void {
    const t = performance.now();
    let pending: Promise<void> | null;
    try {
      pending = this.outbox.commit(alerts);
    } catch (e) {
      pending = Promise.reject(e as Error);
    }
    if (pending === null) {
      this.announce(alerts);
      this.kickPublish();
      return;
    }
    // Once on disk, publish at once: this callback is I/O completion, not a clock tick.
    const job: Promise<void> = pending
      .then(
        () => {
          this.metrics.outboxWrite.observe(performance.now() - t);
          this.announce(alerts);
          if (!this.stopped) this.publishAlerts();
        },
        (e: Error) => {
          // The disk failed: keep them in memory and still publish; say so loudly.
          this.logger.error('outbox write failed: alerts held in memory only', { error: e.message, ids: alerts.map((a) => a.id) });
          // Counted: the metrics said nothing of alerts held in memory only (outbox_persistent stays 1).
          this.metrics.inc('outbox_write_errors_total', alerts.length);
          this.volatile.add(alerts);
          this.announce(alerts);
          if (!this.stopped) this.publishAlerts();
        },
      )
      .finally(() => this.commits.delete(job));
    this.commits.add(job);
  }

  /** Alerts on disk: count, log, emit, local sinks, publish. */
  private announce(alerts: readonly Alert[]): void {
    const consumers = this.listeners.alert.length + this.sinks.length;
    for (const a of alerts) {
      this.metrics.inc('alerts_total');
      this.logger.info('alert raised', { id: a.id, device: a.device, sensor: a.sensor, label: a.label, score: a.score, ts: a.ts });
      if (consumers === 0) continue;
      // Not `a`: the outbox holds and publishes that object (alertView).
      const view = alertView(a);
      this.emit('alert', view);
      for (const sink of this.sinks) {
        const failed = (e: unknown) => this.logger.error('alert sink failed', { sink: sink.name, error: (e as Error)?.message ?? String(e) });
        try {
          // An async sink's rejection was unhandled: Node ended the process.
          const r = sink.alert(view) as unknown;
          if (typeof (r as PromiseLike<void> | undefined)?.then === 'function') (r as PromiseLike<void>).then(undefined, failed);
        } catch (e) {
          failed(e);
        }
      }
    }
    this.metrics.gauges.outbox_depth = this.outbox.depth + this.volatile.depth;
  }

  /** Resolves when every alert raised so far is durable. */
  async settled(): Promise<void> {
    while (this.commits.size > 0) await Promise.all([...this.commits]);
  }

  private kickPublish(): void {
    if (this.publishTimer === null && !this.stopped) this.publishTimer = this.clock.setTimeout(() => this.publishAlerts(), 0);
  }

  /** Publishes pending alerts (QoS 1), at most maxInFlight unacknowledged at once. */
  private publishAlerts(): void {
    // Called directly too (an outbox write or an ack completed, shutdown): a timer still pending
    // was forgotten here, and left on the clock after stop().
    this.clock.clearTimeout(this.publishTimer);
    this.publishTimer = null;
    if (!this.transport.connected) return;
    const now = this.clock.now();
    const max = this.config.outbox.maxInFlight;
    let waiting = false;
    /** When the next retry or in-flight timeout falls due. */
    let due = Number.POSITIVE_INFINITY;
    const candidates = this.volatile.depth ? [...this.volatile.pending(), ...this.outbox.pending()] : this.outbox.pending();
    for (const a of candidates) {
      if (this.inFlight.size >= max) {
        waiting = true;
        break;
      }
      if (this.inFlight.has(a.id)) continue;
      const topic = this.topics.alerts(a.device, a.sensor);
      const gate = this.refused.get(topic);
      if (gate) {
        // A refused topic: one alert at a time (the probe, oldest first), when its delay is over.
        if (gate.probe !== null && this.inFlight.has(gate.probe)) {
          waiting = true;
          continue;
        }
        // More than the delay ahead: the wall clock stepped back (NTP) since the refusal, and the
        // alerts waited until it caught up again (an hour for a one-hour step). Due now.
        if (gate.until > now && gate.until - now <= gate.delayMs) {
          waiting = true;
          due = Math.min(due, gate.until);
          continue;
        }
        gate.probe = a.id;
      }
      this.inFlight.set(a.id, now);
      const sentAt = performance.now();
      // Over the broker's maximum packet size, the oldest evidence is left out (alert.ts).
      const { json, droppedFrames } = alertJson(a, this.transport.maxPayloadBytes?.(topic));
      if (droppedFrames > 0) this.logger.warn("alert evidence trimmed to fit the broker's maximum packet size", { id: a.id, droppedFrames, keptFrames: a.evidence.inputs.length - droppedFrames });
      this.transport.publish(topic, json, { qos: 1 }).then(
        () => {
          this.metrics.alertAck.observe(performance.now() - sentAt);
          this.onAlertAcked(a);
        },
        (e: Error) => this.onAlertFailed(a, e),
      );
    }
    if ((waiting || this.inFlight.size > 0) && this.retryTimer === null && !this.stopped) {
      const retryMs = this.config.outbox.retryMs;
      for (const at of this.inFlight.values()) due = Math.min(due, at + retryMs);
      // Wake when the first refused alert may go again or the oldest in flight times out, not a
      // whole retryMs after the latest refusal.
      this.retryTimer = this.clock.setTimeout(() => {
        this.retryTimer = null;
        // Anything in flight longer than retryMs is sent again (duplicates are dropped by id).
        // Sent "in the future": the wall clock stepped back since; as good as timed out.
        const nowMs = this.clock.now();
        for (const [id, at] of this.inFlight) if (at <= nowMs - retryMs || at > nowMs) this.inFlight.delete(id);
        this.kickPublish();
      }, Math.min(retryMs, Math.max(1, due - now)));
    }
  }

  private onAlertAcked(a: Alert): void {
    this.inFlight.delete(a.id);
    // The topic takes alerts again: the ones waiting go at once (below), oldest first.
    const reopened = this.refused.delete(this.topics.alerts(a.device, a.sensor));
    const known = this.outbox.has(a.id) || this.volatile.has(a.id);
    this.outbox.ack(a.id);
    this.volatile.ack(a.id);
    if (known) {
      this.metrics.inc('alerts_acked_total');
      this.logger.debug('alert acknowledged', { id: a.id });
      this.emit('alertAcked', a);
    }
    this.metrics.gauges.outbox_depth = this.outbox.depth + this.volatile.depth;
    if (this.outbox.depth + this.volatile.depth === 0) return;
    // (This callback is I/O completion, not a clock tick: as commitAlerts does.)
    if (reopened && !this.stopped) this.publishAlerts();
    else this.kickPublish();
  }

  private onAlertFailed(a: Alert, e: Error): void {
    this.inFlight.delete(a.id);
    this.metrics.inc('alerts_publish_errors_total');
    // Dropped for the outbox bounds while in flight: never sent again, so no retry to remember.
    if (!this.outbox.has(a.id) && !this.volatile.has(a.id)) return;
    const now = this.clock.now();
    const topic = this.topics.alerts(a.device, a.sensor);
    const retryMs = this.config.outbox.retryMs;
    let gate = this.refused.get(topic);
    if (!gate) {
      gate = { until: now + retryMs, delayMs: retryMs, probe: null };
      this.refused.set(topic, gate);
    } else if (gate.probe === a.id) {
      // The probe refused too: wait longer. (Alerts sent before the topic was refused change nothing.)
      gate.delayMs = Math.min(gate.delayMs * 2, retryMs * REFUSED_BACKOFF_FACTOR);
      gate.until = now + gate.delayMs;
      gate.probe = null;
    }
    this.refusedSinceWarn++;
    // (A wall clock stepped back since the last warning counts as a minute gone.)
    if (now - this.refusedWarnedAtMs >= 60_000 || now < this.refusedWarnedAtMs) {
      this.logger.warn('alert not acknowledged, will retry', { id: a.id, error: e.message, retryMs: gate.delayMs, refused: this.refusedSinceWarn, outboxDepth: this.outboxDepth });
      this.refusedSinceWarn = 0;
      this.refusedWarnedAtMs = now;
    } else {
      this.logger.debug('alert not acknowledged, will retry', { id: a.id, error: e.message });
    }
    this.kickPublish();
  }

  // ---- connection, timers, status ------------------------------------------------------------

  private onConnect(): void {
    this.metrics.gauges.connected = 1;
    // Whatever was in flight on the old connection is sent again.
    this.inFlight.clear();
    this.refused.clear();
    this.connectedAtMs = this.clock.now();
    this.logger.info('connected to broker', { outboxDepth: this.outbox.depth });
    if (!this.stopping) this.publishStatus('online');
    this.cluster?.onConnect();
    this.kickPublish();
  }

  /**
   * A broker that keeps closing the connection soon after accepting it: most often a second
   * client with the same client id (two gateways with one gatewayId, whose default is "gw"), which
   * the broker lets take the connection over at every reconnect, each in turn. MQTT 3.1.1 and
   * mosquitto 2.0 say nothing of why (no DISCONNECT reason), so the pattern is named: three
   * connections within a minute that lasted under 5 s each, logged at most once a minute.
   */
  private noteShortConnection(): void {
    const now = this.clock.now();
    if (now - this.connectedAtMs >= 5000) return;
    this.shortConnections = this.shortConnections.filter((t) => now - t < 60_000);
    this.shortConnections.push(now);
    if (this.shortConnections.length < 3 || now - this.flapLoggedAtMs < 60_000) return;
    this.flapLoggedAtMs = now;
    this.logger.error('the broker keeps closing the connection soon after accepting it: is another client using the same client id (two gateways with one gatewayId or broker.clientId)? Or a broker limit (maximum packet size, quotas)?', {
      clientId: this.config.broker.clientId ?? `edgernn-${this.config.gatewayId}`,
      closesInLastMinute: this.shortConnections.length,
    });
  }

  private onClose(): void {
    if (this.metrics.gauges.connected === 1 && !this.stopping) {
      this.logger.warn('broker connection lost', { outboxDepth: this.outbox.depth });
      this.noteShortConnection();
    }
    this.metrics.gauges.connected = 0;
    this.inFlight.clear();
  }

  private tickMs(): number {
    const l = this.config.limits;
    return Math.max(10, Math.min(1000, l.reorderTimeoutMs / 2 || 1000, l.idleEvictMs / 4 || 1000));
  }

  private scheduleTick(): void {
    if (!this.stopped) this.tickTimer = this.clock.setTimeout(() => this.tick(), this.tickMs());
  }

  /** Maintenance: gaps held too long, idle streams. */
  private tick(): void {
    const now = this.clock.now();
    const lim = this.config.limits;
    for (const s of this.streams.values()) {
      if (s.heldCount === 0) continue;
      const before = { ...s.counters };
      const res = s.expireHeld(lim, now);
      if (res) this.apply(s, res, now);
      this.countStreamDelta(s, before);
    }
    if (lim.idleEvictMs > 0 && this.idleTimer === null) this.evictIdle();
    // (A clock stepped back counts as a window gone.)
    if (now - this.loopDelaySinceMs >= LOOP_DELAY_WINDOW_MS || now < this.loopDelaySinceMs) this.rotateLoopDelay();
    this.cluster?.tick(now);
    this.scheduleTick();
  }

  /**
   * Evicts idle streams, IDLE_EVICT_BATCH at a time (each slice saved as one batch), the next
   * slice after the I/O waiting: LRU order, so the first streams are the least recently active,
   * and a device that sent in between is no longer among them.
   */
  private evictIdle(): void {
    this.idleTimer = null;
    if (this.stopped) return;
    const now = this.clock.now();
    const idle: DeviceStream[] = [];
    for (const s of this.streams.values()) {
      if (now - s.lastActiveMs < this.config.limits.idleEvictMs) break;
      if (idle.length === IDLE_EVICT_BATCH) {
        this.idleTimer = this.clock.setTimeout(() => this.evictIdle(), 0);
        break;
      }
      idle.push(s);
    }
    if (idle.length > 0) this.evictMany(idle, 'idle');
  }

  /** Starts a new event-loop delay window; the current one becomes the previous. */
  private rotateLoopDelay(): void {
    this.loopDelayPrev?.disable();
    this.loopDelay?.disable();
    this.loopDelayPrev = this.loopDelay;
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
    this.loopDelaySinceMs = this.clock.now();
  }

  private onMetricsTimer(): void {
    const snap = this.snapshot();
    const body = JSON.stringify({ gateway: this.config.gatewayId, ts: new Date(this.clock.now()).toISOString(), ...snap });
    if (this.transport.connected) {
      this.transport.publish(this.topics.metrics, body, { qos: 0 }).catch(() => {});
      this.publishStatus('online', snap);
    }
    this.metricsTimer = this.clock.setTimeout(() => this.onMetricsTimer(), this.config.metrics.intervalMs);
  }

  /** Metrics now (also moves the messages/s window). */
  snapshot(): MetricsSnapshot {
    this.refreshGauges();
    return this.metrics.snapshot(this.clock.now());
  }

  /** Gauges that are read, not counted as things happen. */
  private refreshGauges(): void {
    this.metrics.gauges.outbox_depth = this.outbox.depth + this.volatile.depth;
    this.metrics.gauges.board_connected = this.sinks.some((s) => s.name === 'board' && s.connected === true) ? 1 : 0;
    this.metrics.gauges.devices = this.streams.size;
    // Read now: set after each stepping round only, frames queued since (waiting out
    // limits.batchDelayMs, up to 10 s) were reported as 0.
    this.metrics.gauges.queue_depth = this.queuedFrames();
  }

  /** Frames waiting for the kernel, all devices. */
  private queuedFrames(): number {
    let depth = 0;
    for (const g of this.groups.values()) for (const s of g.ready) depth += s.queued;
    return depth;
  }

  private publishStatus(state: 'online' | 'offline', snap?: MetricsSnapshot): void {
    // Once stopping, the status says offline (a cluster leave announced it): a metrics tick that
    // said online again brought the member back into its peers' views, which handed partitions to it.
    if (!this.transport.connected || (state === 'online' && this.stopping)) return;
    const body = JSON.stringify({
      state,
      gateway: this.config.gatewayId,
      site: this.config.site,
      version: GATEWAY_VERSION,
      startedAt: new Date(this.startedAtMs).toISOString(),
      models: [...this.models.values()].map((m) => ({ name: m.name, version: m.version, sha256: m.sha256, backend: m.backend })),
      ...(this.cluster ? this.cluster.statusFields() : {}),
      ...(snap ? { metrics: snap } : {}),
    });
    this.transport.publish(this.topics.status, body, { qos: 1, retain: true }).catch(() => {});
  }

  private async startHttp(port: number, host: string): Promise<void> {
    const server = http.createServer((req, res) => {
      // The path alone: scrapers may add a query string (?name[]=... when federating).
      const route = (req.url ?? '/').split('?')[0];
      if ((route === '/metrics' || route === '/healthz') && req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
        res.end(`edgernn gateway: ${route} answers GET and HEAD, not ${req.method}\n`);
      } else if (route === '/metrics') {
        // Not snapshot(): that restarts the window of the metrics topic's messages/s, which a
        // scrape every few seconds then measured over the seconds since the scrape.
        this.refreshGauges();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(this.metrics.prometheus({ gateway: this.config.gatewayId, site: this.config.site }));
      } else if (route === '/healthz') {
        const ok = this.transport.connected;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        // outboxDepth counts alerts held in memory too (the outbox could not take them), as the metrics do.
        res.end(JSON.stringify({ connected: ok, devices: this.streams.size, outboxDepth: this.outboxDepth }));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('edgernn gateway: GET /metrics or /healthz\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (e: Error) => reject(new EdgeRnnError('GATEWAY_CONFIG', `metrics.httpPort: cannot listen on ${host}:${port}: ${e.message}`, { field: 'metrics.httpPort' }));
      server.once('error', failed);
      server.listen(port, host, () => {
        // A listening server still emits 'error' when accept() fails (EMFILE: out of file
        // descriptors): the listen handler took the first silently, the next had no listener and
        // ended the process. Logged; the server goes on accepting.
        server.off('error', failed);
        server.on('error', (e: Error & { code?: string }) => this.logger.error('metrics HTTP server error', { error: e.message, code: e.code }));
        resolve();
      });
    });
    this.http = server;
    this.httpPort = (server.address() as AddressInfo).port;
  }

  // ---- operations ------------------------------------------------------------------------------

  /** Steps everything queued now, ignoring the time budget (replay, tests, shutdown). */
  drainNow(): void {
    if (this.pumpTimer !== null) {
      this.clock.clearTimeout(this.pumpTimer);
      this.pumpTimer = null;
    }
    this.pump(Infinity);
  }

  /** Alerts not yet acknowledged by the broker. */
  get outboxDepth(): number {
    return this.outbox.depth + this.volatile.depth;
  }

  /** Resolves when the outbox is empty, or after timeoutMs (wall time) with false. */
  async flushOutbox(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.outboxDepth > 0 && Date.now() < deadline) {
      // Called directly, not through the clock: shutdown must not wait for a manual clock.
      this.publishAlerts();
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.outboxDepth === 0;
  }

  /**
   * Graceful shutdown: stop taking messages, step everything queued, save every stream's state
   * (messages held ahead of a gap with it) before any wait on the broker, then wait for the broker
   * to acknowledge outstanding alerts (the rest stay in the outbox for the next start), save what
   * arrived meanwhile, say offline, close. The broker waits together take at most drainTimeoutMs.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.logger.info('gateway stopping', { devices: this.streams.size, outboxDepth: this.outboxDepth });
    // A persistent session keeps the subscription, so the broker queues what devices send while
    // we are away (an UNSUBSCRIBE here lost every message until the next start): messages are
    // taken until the connection is closed, and every one received by then is processed below.
    const keepSession = this.config.broker.persistentSession && !this.cluster;
    // Every wait on the broker from here (a cluster's hand-off, UNSUBACK, PUBACKs, the offline
    // status, DISCONNECT) shares one deadline: one after the other, a broker that stopped
    // answering held stop() 17 s (over 15 s in cluster mode, the hand-off first), and the states
    // were saved only after 10 s of them, so Docker's stop timeout (10 s, then SIGKILL) killed
    // the gateway first.
    const deadline = Date.now() + this.drainTimeoutMs;
    const unsubscribed = this.cluster || keepSession ? Promise.resolve() : this.transport.unsubscribe(this.sensorFilters()).catch(() => {});
    // Held gaps are not given up: the messages ahead of them are saved with the state, and a late
    // message after the next start still fills its gap (within reorderTimeoutMs of when it began).
    // Given up here, the gap was counted missing and the late message dropped as a duplicate.
    this.drainNow();
    await this.settled();
    // Durable first, the streams kept: what arrives until the broker is done with is stepped on
    // them, and the states it changed are saved again below. In cluster mode the hand-off comes
    // after: the streams it hands over leave with their newest state, and their copies here are
    // deleted once the broker has taken the whole hand-off (kept when it did not).
    const early = new Map<string, Uint8Array>();
    await this.saveStreams(early, false);
    if (this.cluster) {
      await this.cluster.stop(deadline);
      this.drainNow();
      await this.settled();
    }
    await untilDeadline(unsubscribed, deadline);
    this.drainNow();
    await this.settled();
    if (this.transport.connected) await this.flushOutbox(Math.max(0, deadline - Date.now()));
    if (keepSession) {
      await this.publishOffline(deadline);
      // MQTT.js acknowledges a message after our handler took it: nothing acknowledged is left out.
      await untilDeadline(this.transport.end(Date.now() >= deadline).catch(() => {}), deadline);
      this.drainNow();
      // Alerts raised now stay in the outbox, sent at the next start.
      await this.settled();
    }
    const saved = await this.saveStreams(early, true);
    await this.publishOffline(deadline);
    this.stopped = true;
    this.logger.info('gateway stopped', { savedStates: saved, outboxDepth: this.outboxDepth });
    await this.closeResources(Date.now() >= deadline);
  }

  /**
   * Saves every stream's state as one batch (saveStates: one folder fsync for all, not one save
   * after the other), but for those equal to their bytes in `saved` (which gets the bytes saved),
   * and alerts held in memory only to the outbox; `remove`: the streams go. Returns how many
   * streams have their state saved.
   */
  private async saveStreams(saved: Map<string, Uint8Array>, remove: boolean): Promise<number> {
    const states: Array<[string, Uint8Array]> = [];
    let unchanged = 0;
    for (const s of [...this.streams.values()]) {
      try {
        this.flushStream(s);
        const bytes = s.exportState();
        const before = saved.get(s.key);
        if (before && Buffer.compare(before, bytes) === 0) unchanged++;
        else states.push([s.key, bytes]);
      } catch (e) {
        this.logger.error('could not save a stream state', { device: s.device, error: (e as Error).message });
      }
      if (remove) this.removeStream(s);
    }
    const failed = saveStates(this.stateStore, states);
    for (const f of failed) this.logger.error('could not save a stream state', { key: f.key, error: f.error.message });
    const bad = new Set(failed.map((f) => f.key));
    for (const [key, bytes] of states) if (!bad.has(key)) saved.set(key, bytes);
    if (this.volatile.depth > 0) await this.persistVolatile();
    return unchanged + states.length - failed.length;
  }

  /**
   * Alerts held in memory only (the outbox could not be written when they were raised) and not
   * acknowledged by stop(): one more try to make them durable for the next start. They were
   * dropped with the process, silently, even when the disk worked again.
   */
  private async persistVolatile(): Promise<void> {
    const alerts = [...this.volatile.pending()].filter((a) => !this.outbox.has(a.id));
    const ids = alerts.map((a) => a.id);
    try {
      await this.outbox.commit(alerts);
      for (const a of alerts) this.volatile.ack(a.id);
      this.logger.warn('alerts held in memory written to the outbox at stop', { ids });
    } catch (e) {
      this.logger.error('alerts held in memory only are lost: the outbox cannot be written', { error: (e as Error).message, ids });
    }
  }

  /** The retained status `offline` (reason stopped), when connected. */
  private async publishOffline(deadline: number): Promise<void> {
    if (!this.transport.connected) return;
    const body = JSON.stringify({ state: 'offline', gateway: this.config.gatewayId, reason: 'stopped', ...(this.cluster ? this.cluster.statusFields() : {}) });
    // A broker that stopped answering never acknowledges it: stop() hung here. Waited for until
    // stop()'s broker deadline (wall time); a graceful end() still waits for it, bounded too.
    await untilDeadline(this.transport.publish(this.topics.status, body, { qos: 1, retain: true }).catch(() => {}), deadline);
  }

  /** `force`: the broker had its time (stop()'s deadline passed): the connection is dropped, not ended gracefully. */
  private async closeResources(force = false): Promise<void> {
    this.stopped = true;
    for (const t of [this.pumpTimer, this.publishTimer, this.retryTimer, this.tickTimer, this.metricsTimer, this.idleTimer]) this.clock.clearTimeout(t);
    this.pumpTimer = this.publishTimer = this.retryTimer = this.tickTimer = this.metricsTimer = this.idleTimer = null;
    this.cluster?.close();
    this.loopDelay?.disable();
    this.loopDelayPrev?.disable();
    if (this.http) {
      const server = this.http;
      const closed = new Promise<void>((r) => server.close(() => r()));
      // close() waits for every connection to end: a client stuck mid-request (half its headers
      // sent) held stop() for the 60 s headers timeout. Dropped instead, with idle keep-alive
      // connections; a scrape still being answered loses its response (the next one fails anyway).
      server.closeAllConnections();
      await closed;
    }
    this.http = null;
    // A close() that throws (not async) skipped everything after it: transport, broker, outbox.
    for (const s of this.sinks) await closeSink(s, this.logger, this.drainTimeoutMs);
    await this.transport.end(force).catch(() => {});
    if (this.broker) await this.broker.close();
    try {
      await this.outbox.close();
    } finally {
      this.lock?.release();
      for (const m of this.ownedModels) m.dispose();
    }
  }
}

/** Waits for p, or until `deadline` (Date.now() ms), whichever comes first. */
async function untilDeadline(p: Promise<unknown>, deadline: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, Math.max(0, deadline - Date.now()))))]).finally(() => clearTimeout(t));
}
