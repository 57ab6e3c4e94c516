/**
 * Local alert sinks (Node-only module): ways an alert reaches a person with no network. The
 * board sink drives a Firmata board through johnny-five: an LED lights, a piezo sounds and a
 * relay closes (a siren, a beacon, a machine stop) for `alertMs` after the latest alert.
 *
 * The piezo is driven with the board's hardware PWM at 50% duty (about 490 Hz on an Uno): a
 * passive piezo sounds, an active buzzer sees a high level. johnny-five's Piezo.frequency()
 * toggles the pin from the host in a setImmediate loop (nanotimer), which would spend a
 * gateway core for the whole alert; the PWM tone costs two writes.
 *
 * The pins are written through the board's io (Firmata pin mode and writes, what johnny-five's Led
 * and Relay send), not through those components: they keep every instance, and with it its board
 * and port, in a module-level map with no way to remove one, so every closed sink stayed in
 * memory (a gateway reloading its config kept them all). The Board itself is taken off
 * johnny-five's list of boards on close.
 *
 * A board lost while running (its port closed: a USB cable pulled) is opened again, 1 s after the
 * loss, then 2 s, 4 s... up to every 30 s (BOARD_REOPEN_MS), with a fresh johnny-five Board each
 * time; the outputs' state is kept meanwhile, so a board found during an alert is turned on.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type firmataIoModule from 'firmata-io';
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import type { Alert } from './alert.js';
import type { Clock, TimerHandle } from './clock.js';
import type { BoardConfig, RouteConfig, SmoothingDetectorConfig, ThresholdDetectorConfig } from './config.js';
import type { Logger } from './logger.js';

type FirmataIo = InstanceType<typeof firmataIoModule.Firmata>;
type Five = (typeof import('johnny-five'))['default'];

/** Firmata pin modes (firmata-io's MODES). */
const MODE_OUTPUT = 1;
const MODE_PWM = 3;

/** The pin writes of a johnny-five io (firmata-io's Firmata) the sink uses. */
interface PinIo {
  pinMode(pin: number, mode: number): void;
  digitalWrite(pin: number, value: 0 | 1): void;
  analogWrite(pin: number, value: number): void;
}

/**
 * Takes a board off johnny-five's list of every Board constructed (`Board.cache`, the array
 * itself: johnny-five has no call to remove one; its `Board.purge()` exists in its test mode only
 * and empties the list). Listed, a closed board and its port stayed reachable for the life of
 * the process.
 */
function unlistBoard(five: Five, board: unknown): void {
  const boards = five.Board.cache;
  const i = boards.indexOf(board as InstanceType<Five['Board']>);
  if (i >= 0) boards.splice(i, 1);
}

export interface AlertSink {
  readonly name: string;
  /**
   * Called once an alert is durable. May be async: a rejection is logged like a throw (neither
   * stops the alert or the other sinks).
   */
  alert(a: Alert): void | Promise<void>;
  /** Called once at stop(); a throw or a rejection is logged, and the gateway still closes. */
  close(): Promise<void>;
  /** A sink driving a device: false while the device is lost (the board sink: metrics board_connected). */
  readonly connected?: boolean;
}

export interface BoardSinkOptions {
  config: BoardConfig;
  /**
   * A Duplex stream speaking Firmata (a serial port, or firmware-sim's FirmataBoard), or a function
   * returning a new one for each connection; default: config.port through johnny-five. A lost board
   * (its stream closed: a USB cable pulled) is reopened, with config.port or a function; a stream
   * handed over as such cannot be opened again, so that board stays lost. johnny-five waits for the
   * stream's 'open' event: a SerialPort may have opened already (its isOpen says so), any other
   * stream must emit 'open' after it is handed over.
   */
  transport?: Duplex | (() => Duplex);
  /** The labels the gateway's routes can raise (routeAlertLabels), when knowable: board.labels naming another is warned of. */
  raisable?: ReadonlySet<string>;
  clock: Clock;
  logger: Logger;
  /** Give up waiting for the board's handshake after this long (ms, default 10000). */
  readyTimeoutMs?: number;
  /** Stops waiting for the handshake (GATEWAY_STOPPED): the gateway's start-up signal (SIGINT, SIGTERM). */
  signal?: AbortSignal;
}

/** Delays between attempts to reopen a lost board (clock ms): the first, doubled at each failure up to the last. */
export const BOARD_REOPEN_MS = { first: 1000, max: 30_000 } as const;

/**
 * In the details of an openBoard failure that a board plugged in (again) can mend: the port is not
 * there, cannot be opened, or does not answer the handshake. Not on a pin the board cannot drive,
 * nor without serialport's native binding: those stay wrong, however often it is tried.
 */
const UNAVAILABLE = { unavailable: true } as const;

/**
 * A board.port that can never be a serial port: a relative path, or a path to something that is
 * not a character device (a file, a folder). A device path that is not there (the board unplugged)
 * may appear. Not checked on Windows (COM3).
 */
function portPathProblem(port: string): string | null {
  if (process.platform === 'win32') return null;
  if (!port.startsWith('/')) return 'an absolute device path (e.g. /dev/ttyACM0)';
  let st: fs.Stats;
  try {
    st = fs.statSync(port);
  } catch {
    return null;
  }
  return st.isCharacterDevice() ? null : `a serial device (e.g. /dev/ttyACM0), not a ${st.isDirectory() ? 'folder' : 'file'}`;
}

/** An opened board: johnny-five's Board over a Firmata io, and its stream. */
interface BoardLink {
  board: InstanceType<Five['Board']>;
  transport: Duplex | undefined;
  /** The io's pins, with the modes each supports (empty when the io does not say). */
  ioPins: Array<{ supportedModes?: number[] }>;
}

/**
 * Opens the board and waits for its Firmata handshake; checks that it can drive the configured
 * pins. Whatever fails lets go of the port and of johnny-five's Board. After the handshake the
 * board's errors go to onError (johnny-five reports through 'error' events, twice for its own
 * handshake timeout, and later for a lost port: each needs a listener, or the event is thrown and
 * takes the process down).
 */
async function openBoard(o: BoardSinkOptions, where: string, signal: AbortSignal | undefined, onError: (message: string) => void): Promise<BoardLink> {
  const cfg = o.config;
  let given: Duplex | undefined;
  try {
    given = typeof o.transport === 'function' ? o.transport() : o.transport;
  } catch (e) {
    throw new EdgeRnnError('GATEWAY_CONFIG', `board ${where}: cannot open: ${(e as Error)?.message ?? String(e)}`, { field: 'board.port' });
  }
  // A transport that opens by itself (a new SerialPort) opens while johnny-five is being imported,
  // before firmata-io listens, and johnny-five waits for that 'open' forever: note it here, before
  // the first await, and pass it on below.
  let opened = false;
  given?.once('open', () => {
    opened = true;
  });
  // So does its failure to open (no such port): emitted as 'error' with nobody listening, it was
  // thrown inside serialport's open, an unhandled rejection that ended the process.
  let failed: unknown = null;
  const early = (e: unknown): void => {
    failed ??= e;
  };
  given?.on('error', early);
  // Imported on use (~80 ms together), like MQTT.js in transport.ts.
  const five = (await import('johnny-five')).default;
  const firmataIo = given ? (await import('firmata-io')).default : undefined;
  let handshake: ((e: unknown) => void) | null = null;
  const errorListener = (e: unknown): void => {
    const message = e instanceof Error ? e.message : String((e as { message?: unknown } | null)?.message ?? e);
    if (handshake) handshake(new EdgeRnnError('GATEWAY_CONFIG', `board ${where}: ${message}`, UNAVAILABLE));
    else onError(message);
  };
  let io: FirmataIo | undefined;
  if (failed !== null) {
    given?.off('error', early);
    await releaseTransport(given, 'destroy');
    throw new EdgeRnnError('GATEWAY_CONFIG', `board ${where}: cannot open: ${(failed as Error)?.message ?? String(failed)}`, { field: 'board.port', ...UNAVAILABLE });
  }
  if (given && firmataIo) {
    // firmata-io's Firmata class accepts a transport instance (any Duplex) in place of a port path.
    // Before the handshake it hands the transport's errors to this callback, and without one emits
    // them on the io, where nobody listens yet (johnny-five forwards io errors once ready): thrown.
    io = new firmataIo.Firmata(given, { reportVersionTimeout: 2000 }, (e) => {
      if (e) errorListener(e);
    });
    given.off('error', early);
  }
  let board: InstanceType<typeof five.Board>;
  try {
    if (!io) requireSerialport();
    board = new five.Board({ ...(io !== undefined ? { io } : { port: cfg.port! }), repl: false, debug: false, sigint: false, timeout: o.readyTimeoutMs ?? 10_000 });
  } catch (e) {
    // Opening a port path, johnny-five imports firmata, which throws the string "Missing serialport
    // dependency" when serialport's native binding did not build: it left Gateway.create untyped.
    await releaseTransport(given, 'destroy');
    // (johnny-five lists a Board at the end of its constructor: a throw leaves nothing listed.)
    const message = e instanceof Error ? e.message : String(e);
    throw new EdgeRnnError('GATEWAY_CONFIG', `board ${where}: cannot open: ${message}${/serialport/i.test(message) ? ' (the native binding @serialport/bindings is missing or built for another Node version)' : ''}`, { field: 'board.port' });
  }
  board.on('error', errorListener);
  if (io && (opened || (given as { isOpen?: unknown }).isOpen === true)) {
    // What firmata-io does on the transport's 'open' (johnny-five starts on 'connect').
    io.emit('open');
    io.emit('connect');
  }
  const readyMs = o.readyTimeoutMs ?? 10_000;
  // Aborting stops the wait at once: it used to be seen only after the handshake (up to
  // readyTimeoutMs), so a Ctrl-C during it did nothing for 10 s, then failed as a config error.
  let onAbort: (() => void) | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new EdgeRnnError('GATEWAY_CONFIG', `board ${where}: no Firmata handshake within ${readyMs} ms`, UNAVAILABLE)), readyMs);
      handshake = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      board.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      onAbort = () => handshake?.(new EdgeRnnError('GATEWAY_STOPPED', `stopped while waiting for the board ${where} to answer`, { port: where }));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  } catch (e) {
    // Stop johnny-five's own handshake timer and let go of the port.
    clearTimeout((board as unknown as { timer?: ReturnType<typeof setTimeout> }).timer);
    await releaseTransport(given ?? (board.io as { transport?: Duplex } | null)?.transport, 'destroy');
    unlistBoard(five, board);
    throw e;
  } finally {
    handshake = null;
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
  const transport = given ?? (board.io as { transport?: Duplex }).transport;
  // A pin the board cannot drive fails here, naming the field, not at the first alert: johnny-five
  // throws from Led.brightness() on a pin without PWM (after the LED went on, before the relay
  // closed) and from pinMode() on a pin the board does not have.
  const ioPins = (board.io as { pins?: Array<{ supportedModes?: number[] }> }).pins ?? [];
  for (const [field, mode, what] of [['led', MODE_OUTPUT, 'OUTPUT'], ['piezo', MODE_PWM, 'PWM'], ['relay', MODE_OUTPUT, 'OUTPUT']] as const) {
    const pin = cfg[field];
    if (pin === undefined || ioPins.length === 0 || ioPins[pin]?.supportedModes?.includes(mode)) continue;
    const able = ioPins.flatMap((p, i) => (p.supportedModes?.includes(mode) ? [i] : []));
    await releaseTransport(transport, 'destroy');
    unlistBoard(five, board);
    throw new EdgeRnnError('GATEWAY_CONFIG', `board.${field}: pin ${pin} does not support ${what} on this board (${what} pins: ${able.join(', ')})`, { field: `board.${field}` });
  }
  return { board, transport, ioPins };
}

/**
 * The alert labels the routes can raise, from their detectors' configs and models' labels; null
 * when not knowable (a detector kind registered in code, or one of the built-in kinds replaced).
 * A superset for kws and har (every output of the model).
 */
export function routeAlertLabels(routes: ReadonlyArray<{ config: RouteConfig; model: { labels: readonly string[]; outputSize: number } }>, custom: ReadonlySet<string> = new Set()): Set<string> | null {
  const out = new Set<string>();
  for (const { config, model } of routes) {
    const d = config.detector;
    const name = (j: number) => model.labels[j] ?? `output${j}`;
    const outputs = Array.from({ length: model.outputSize }, (_, j) => j);
    if (custom.has(d.kind)) return null;
    if (d.kind === 'threshold') {
      const t = d as ThresholdDetectorConfig;
      out.add(t.score !== 'output' ? 'anomaly' : typeof t.output === 'string' ? t.output : name(t.output));
    } else if (d.kind === 'smoothing') {
      const bg = (d as SmoothingDetectorConfig).background;
      for (const j of outputs) if (!bg.includes(j) && !bg.includes(name(j))) out.add(name(j));
    }
    else if (d.kind === 'anomaly') out.add('anomaly');
    else if (d.kind === 'kws' || d.kind === 'har') for (const j of outputs) out.add(name(j));
    else return null;
  }
  return out;
}

/** Connects to the board (Firmata handshake) and returns a sink that drives the configured pins. */
export async function createBoardSink(o: BoardSinkOptions): Promise<AlertSink> {
  const cfg = o.config;
  if (!o.transport && cfg.port === undefined) {
    throw new EdgeRnnError('GATEWAY_CONFIG', 'board.port must name a serial port (e.g. /dev/ttyACM0) when no board transport is given', { field: 'board.port' });
  }
  // parseGatewayConfig refuses one pin for two outputs; a config built in code reaches here unchecked.
  const fields = (['led', 'piezo', 'relay'] as const).filter((k) => cfg[k] !== undefined);
  for (const [i, k] of fields.entries()) {
    const other = fields.slice(0, i).find((q) => cfg[q] === cfg[k]);
    if (other !== undefined) {
      const expected = `a pin other than board.${other}'s (${cfg[other]})`;
      throw new EdgeRnnError('GATEWAY_CONFIG', `board.${k} must be ${expected}, got ${cfg[k]}`, { field: `board.${k}`, expected, got: cfg[k] });
    }
  }
  if (!o.transport && cfg.port !== undefined) {
    const expected = portPathProblem(cfg.port);
    if (expected) throw new EdgeRnnError('GATEWAY_CONFIG', `board.port must be ${expected}, got ${cfg.port}`, { field: 'board.port', expected, got: cfg.port });
  }
  // A label no route can raise (a typo: "anomoly") never matched, silently.
  const never = o.raisable ? (cfg.labels ?? []).filter((l) => !o.raisable!.has(l)) : [];
  if (never.length > 0) {
    o.logger.warn('board.labels names labels no route can raise: alerts never carry them', { never, raisable: [...o.raisable!].sort() });
  }
  const where = cfg.port ?? '(stream)';
  // A stream handed over as such cannot be opened again once lost; a port path or a function can.
  const reopens = o.transport === undefined || typeof o.transport === 'function';
  // The board now: null while lost (its writes would queue on a closed port for an 'open' that
  // never comes) and after close().
  let link: BoardLink | null = null;
  const onBoardError = (from: BoardLink | null) => (message: string) => {
    // A lost board's stream may report its end too: the loss is logged once, as 'board lost'.
    if (from === null || from === link) o.logger.error('board error', { port: where, error: message });
  };
  // The first connection: a failure is the caller's (GATEWAY_CONFIG, GATEWAY_STOPPED), but for a
  // board that is not there (unplugged, not answering) when it can be opened again: the gateway
  // starts without it, as it goes on without a board lost while running (it refused to start,
  // and so stopped serving every other device's alerts, for one unplugged board).
  let first: BoardLink | null = null;
  let missing: EdgeRnnError | null = null;
  try {
    // (No await before: a stream handed over must be listened to at once, see openBoard.)
    link = first = await openBoard(o, where, o.signal, (m) => onBoardError(first)(m));
  } catch (e) {
    if (!reopens || !isEdgeRnnError(e, 'GATEWAY_CONFIG') || e.details?.unavailable !== true) throw e;
    missing = e;
  }
  const five = (await import('johnny-five')).default;
  // The writes johnny-five's Led and Relay made (see the file comment for why not through them).
  // An LED on a pin with PWM is driven in PWM mode, on = full duty, as Led did; else as OUTPUT.
  // The piezo's pin has PWM (checked at each open). The relay is normally open: closed = high.
  const pwmMax = (l: BoardLink) => (l.board as { RESOLUTION?: { PWM?: number | null } }).RESOLUTION?.PWM ?? 255;
  const ledPwm = (l: BoardLink) => cfg.led !== undefined && l.ioPins[cfg.led]?.supportedModes?.includes(MODE_PWM) === true;
  const setModes = (l: BoardLink): void => {
    const pins = l.board.io as PinIo;
    if (cfg.led !== undefined) pins.pinMode(cfg.led, ledPwm(l) ? MODE_PWM : MODE_OUTPUT);
    if (cfg.piezo !== undefined) pins.pinMode(cfg.piezo, MODE_PWM);
    // StandardFirmata powers digital pins up as OUTPUT, other firmwares may not: set it.
    if (cfg.relay !== undefined) pins.pinMode(cfg.relay, MODE_OUTPUT);
  };
  // Written to the board there is; while it is lost, the outputs' state is still kept (on for
  // alertMs after the latest alert), and a board found again during an alert is turned on.
  const setOutputs = (on: boolean): void => {
    if (!link) return;
    const pins = link.board.io as PinIo;
    if (cfg.led !== undefined) {
      if (ledPwm(link)) pins.analogWrite(cfg.led, on ? pwmMax(link) : 0);
      else pins.digitalWrite(cfg.led, on ? 1 : 0);
    }
    if (cfg.piezo !== undefined) pins.analogWrite(cfg.piezo, on ? Math.round(pwmMax(link) / 2) : 0); // 50% duty PWM square wave
    if (cfg.relay !== undefined) pins.digitalWrite(cfg.relay, on ? 1 : 0);
  };
  let offTimer: TimerHandle | null = null;
  let active = false;
  // After close() the port is ended: an alert then wrote to it (a write-after-end error) and armed
  // an alertMs timer that outlived the gateway.
  let closed = false;
  // Reopening a lost board: the next attempt's timer, its delay, the attempt running, and a way to
  // stop it at close().
  let reopenTimer: TimerHandle | null = null;
  let reopenDelayMs: number = BOARD_REOPEN_MS.first;
  let reopening: Promise<void> | null = null;
  let lastFailure = '';
  const stopReopening = new AbortController();
  const off = () => {
    offTimer = null;
    active = false;
    setOutputs(false);
  };
  // A board that resets while running (a brown-out, its watchdog, the USB port re-enumerated)
  // announces its version again with its pins as at power-up: the piezo's pin (and a PWM LED's)
  // back to OUTPUT, where the firmware ignores PWM writes, so it stayed silent at every later
  // alert until the gateway restarted. The modes are set again, and the outputs as they are.
  const events = (l: BoardLink) => l.board.io as unknown as { on(e: string, f: () => void): void; off(e: string, f: () => void): void };
  const onBoardReset = (): void => {
    if (closed || !link) return;
    o.logger.warn('board reset: pin modes set again', { port: where });
    setModes(link);
    setOutputs(active);
  };
  /** Takes a board link into use: lost when its port closes, its pins set. */
  const attach = (l: BoardLink): void => {
    link = l;
    // A port closed under the sink (cable pulled: serialport closes it with a disconnect error and
    // emits no 'error'): the loss went unlogged, and every later alert's writes were queued on the
    // closed port. Logged once per loss, and the board is reopened (it stayed dark until a restart).
    const onLost = (): void => {
      if (closed || link !== l) return;
      link = null;
      events(l).off('reportversion', onBoardReset);
      void releaseTransport(l.transport, 'destroy');
      unlistBoard(five, l.board);
      o.logger.error('board lost', {
        port: where,
        note: reopens ? 'alerts are still raised and published; reopening it' : 'alerts are still raised and published; a board stream handed over cannot be reopened (pass a function returning a new one)',
      });
      if (reopens) scheduleReopen();
    };
    l.board.on('close', onLost);
    l.board.on('disconnect', onLost);
    events(l).on('reportversion', onBoardReset);
    setModes(l);
    setOutputs(active);
  };
  const scheduleReopen = (): void => {
    reopenTimer = o.clock.setTimeout(() => {
      reopenTimer = null;
      let opened: BoardLink | null = null;
      reopening = openBoard(o, where, stopReopening.signal, (m) => onBoardError(opened)(m)).then(
        (l) => {
          reopening = null;
          if (closed) return releaseTransport(l.transport, 'end').then(() => unlistBoard(five, l.board));
          opened = l;
          reopenDelayMs = BOARD_REOPEN_MS.first;
          lastFailure = '';
          attach(l);
          o.logger.info('board reopened', { port: where });
          return undefined;
        },
        (e: unknown) => {
          reopening = null;
          if (closed) return;
          // Failed attempts are logged when their reason changes (a warning: not there; then, say,
          // another board whose pins cannot do what the config asks), else at debug.
          const error = (e as Error)?.message ?? String(e);
          const level = error === lastFailure ? 'debug' : 'warn';
          lastFailure = error;
          o.logger[level]('board not reopened yet', { port: where, error, retryMs: reopenDelayMs });
          reopenDelayMs = Math.min(reopenDelayMs * 2, BOARD_REOPEN_MS.max);
          scheduleReopen();
        },
      );
    }, reopenDelayMs);
  };
  if (link) {
    attach(link);
    o.logger.info('board ready', { port: where, led: cfg.led, piezo: cfg.piezo, relay: cfg.relay });
  } else {
    lastFailure = missing!.message;
    o.logger.error('board not connected at start: alerts are still raised and published; opening it', { port: where, error: missing!.message, retryMs: reopenDelayMs });
    scheduleReopen();
  }
  return {
    name: 'board',
    get connected() {
      return link !== null;
    },
    alert(a) {
      if (closed) return;
      if (cfg.labels && !cfg.labels.includes(a.label)) return;
      if (!active) {
        active = true;
        setOutputs(true);
      }
      // The outputs stay on for alertMs after the latest alert.
      o.clock.clearTimeout(offTimer);
      offTimer = o.clock.setTimeout(off, cfg.alertMs);
      o.logger.debug('board alert', { id: a.id, connected: link !== null });
    },
    async close() {
      if (closed) return;
      closed = true;
      o.clock.clearTimeout(offTimer);
      o.clock.clearTimeout(reopenTimer);
      stopReopening.abort();
      await reopening;
      const l = link;
      if (!l) return;
      events(l).off('reportversion', onBoardReset);
      off();
      link = null;
      // Let the last writes reach the board before closing the transport.
      await new Promise((r) => setImmediate(r));
      await releaseTransport(l.transport, 'end');
      unlistBoard(five, l.board);
    },
  };
}

/**
 * Loads serialport as johnny-five's firmata does when a Board opens a port path. Without its
 * native binding, firmata printed the binding's search list and the stack to stdout (inside the
 * gateway's JSON log) before throwing a bare string: loaded here first, the failure is thrown
 * (caught by the caller) and nothing is printed.
 */
function requireSerialport(): void {
  const here = createRequire(import.meta.url);
  const firmata = createRequire(createRequire(here.resolve('johnny-five')).resolve('firmata'));
  try {
    firmata('serialport');
  } catch (e) {
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/\s*Tried:$/, '');
    throw new Error(`Missing serialport dependency: ${first}`);
  }
}

/**
 * Lets go of the board's stream. A serial port is closed: serialport's end() and destroy() leave
 * it open (serialport 8), locked against the next open and keeping the process alive; any other
 * Duplex (the simulator) is ended or destroyed.
 */
async function releaseTransport(t: Duplex | undefined, otherwise: 'end' | 'destroy'): Promise<void> {
  const port = t as (Duplex & { isOpen?: unknown; close?: (cb: (e?: Error | null) => void) => void }) | undefined;
  if (!port) return;
  if (typeof port.close === 'function' && port.isOpen === true) await new Promise<void>((r) => port.close!(() => r()));
  else port[otherwise]();
}
