/**
 * Local alert sinks (Node-only module): ways an alert reaches a person with no network. The
 * board sink drives a Firmata board through johnny-five: an LED lights, a piezo sounds and a
 * relay closes (a siren, a beacon, a machine stop) for `alertMs` after the latest alert.
 *
 * The piezo is driven with the board's hardware PWM at 50% duty (about 490 Hz on an Uno): a
 * passive piezo sounds, an active buzzer sees a high level. johnny-five's Piezo.frequency()
 * toggles the pin from the host in a setImmediate loop (nanotimer), which would spend a
 * gateway core for the whole alert; the PWM tone costs two writes.
 */
import type { Duplex } from 'node:stream';
import { EdgeRnnError } from '../errors.js';
import type { Alert } from './alert.js';
import type { Clock, TimerHandle } from './clock.js';
import type { BoardConfig } from './config.js';
import type { Logger } from './logger.js';

export interface AlertSink {
  readonly name: string;
  alert(a: Alert): void;
  close(): Promise<void>;
}

export interface BoardSinkOptions {
  config: BoardConfig;
  /**
   * A Duplex stream speaking Firmata (a serial port, or firmware-sim's FirmataBoard); default:
   * config.port through johnny-five. Its 'open' event must come after this call (johnny-five waits
   * for it): hand over a port that is still opening, as a new SerialPort is.
   */
  transport?: Duplex;
  clock: Clock;
  logger: Logger;
  /** Give up waiting for the board's handshake after this long (ms, default 10000). */
  readyTimeoutMs?: number;
}

/** Connects to the board (Firmata handshake) and returns a sink that drives the configured pins. */
export async function createBoardSink(o: BoardSinkOptions): Promise<AlertSink> {
  const cfg = o.config;
  if (!o.transport && cfg.port === undefined) {
    throw new EdgeRnnError('GATEWAY_CONFIG', 'board.port must name a serial port (e.g. /dev/ttyACM0) when no board transport is given', { field: 'board.port' });
  }
  // Imported on use (~80 ms together), like MQTT.js in transport.ts.
  const five = (await import('johnny-five')).default;
  let io: unknown;
  if (o.transport) {
    // firmata-io's Firmata class accepts a transport instance (any Duplex) in place of a port path.
    const firmataIo = (await import('firmata-io')).default;
    io = new firmataIo.Firmata(o.transport, { reportVersionTimeout: 2000 });
  }
  const board = new five.Board({ ...(io !== undefined ? { io } : { port: cfg.port! }), repl: false, debug: false, sigint: false, timeout: o.readyTimeoutMs ?? 10_000 });
  const where = cfg.port ?? '(stream)';
  // johnny-five reports through 'error' events, twice for its own handshake timeout, and later for
  // a lost port: each needs a listener, or the event is thrown and takes the process down.
  let handshake: ((e: unknown) => void) | null = null;
  board.on('error', (e: unknown) => {
    const message = e instanceof Error ? e.message : String((e as { message?: unknown } | null)?.message ?? e);
    if (handshake) handshake(new EdgeRnnError('GATEWAY_CONFIG', `board ${where}: ${message}`));
    else o.logger.error('board error', { port: where, error: message });
  });
  const readyMs = o.readyTimeoutMs ?? 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new EdgeRnnError('GATEWAY_CONFIG', `board ${where}: no Firmata handshake within ${readyMs} ms`)), readyMs);
      handshake = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      board.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } catch (e) {
    // Stop johnny-five's own handshake timer and let go of the port.
    clearTimeout((board as unknown as { timer?: ReturnType<typeof setTimeout> }).timer);
    o.transport?.destroy();
    throw e;
  } finally {
    handshake = null;
  }
  const led = cfg.led !== undefined ? new five.Led({ pin: cfg.led, board }) : null;
  const piezo = cfg.piezo !== undefined ? new five.Led({ pin: cfg.piezo, board }) : null;
  // johnny-five's Relay never sets the pin mode (StandardFirmata powers digital pins up as
  // OUTPUT, other firmwares may not): set it.
  if (cfg.relay !== undefined) (board.io as { pinMode(pin: number, mode: number): void }).pinMode(cfg.relay, 1);
  const relay = cfg.relay !== undefined ? new five.Relay({ pin: cfg.relay, board, type: 'NO' }) : null;
  led?.off();
  piezo?.off();
  relay?.open();
  let offTimer: TimerHandle | null = null;
  let active = false;
  const off = () => {
    offTimer = null;
    active = false;
    led?.off();
    piezo?.off();
    relay?.open();
  };
  o.logger.info('board ready', { port: cfg.port ?? '(stream)', led: cfg.led, piezo: cfg.piezo, relay: cfg.relay });
  return {
    name: 'board',
    alert(a) {
      if (!active) {
        active = true;
        led?.on();
        piezo?.brightness(128); // 50% duty PWM square wave
        relay?.close();
      }
      // The outputs stay on for alertMs after the latest alert.
      o.clock.clearTimeout(offTimer);
      offTimer = o.clock.setTimeout(off, cfg.alertMs);
      o.logger.debug('board alert', { id: a.id });
    },
    async close() {
      o.clock.clearTimeout(offTimer);
      off();
      // Let the last writes reach the board before closing the transport.
      await new Promise((r) => setImmediate(r));
      o.transport?.end();
    },
  };
}
