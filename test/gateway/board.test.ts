/** The board alert sink: an alert lights the LED, sounds the piezo (PWM) and closes the relay on a simulated Firmata board, for alertMs. */
import { Duplex } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { createRuntime } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { createBoardSink, routeAlertLabels } from '../../src/gateway/sinks.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { FirmataBoard, PIN_MODES } from '../../firmware-sim/firmata-board.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts, tmpDir, waitFor } from './fixtures.js';

/** serialport's own stream and mock binding (installed with johnny-five's firmata); the tests that need them skip without. */
const serialport = await Promise.all([import('@serialport/stream' as string), import('@serialport/binding-mock' as string)]).then(
  ([stream, mock]) => ({ SerialPortStream: stream.default as new (path: string, o: { binding: unknown }) => Duplex & { isOpen: boolean }, MockBinding: mock.default }),
  (e: Error) => {
    console.log(`skipping the serial port tests: serialport's stream or mock binding not importable (${e.message})`);
    return null;
  },
);

/**
 * A mock serial port binding with a simulated Firmata board behind every open. `plugged.in` false:
 * opening fails as for a device that is not there (until it is plugged in again).
 */
function simSerialBinding(MockBinding: any): { Binding: unknown; sims: FirmataBoard[]; unplug(): void; plugged: { in: boolean; board: () => FirmataBoard } } {
  const sims: FirmataBoard[] = [];
  const bindings: Array<{ unplugged: Error | null; failRead: ((e: Error) => void) | null }> = [];
  const plugged = { in: true, board: () => new FirmataBoard() };
  class SimBinding extends MockBinding {
    sim: FirmataBoard | undefined;
    async open(path: string, opt: unknown): Promise<void> {
      if (!plugged.in) throw new Error(`Error: No such file or directory, cannot open ${path}`);
      await super.open(path, opt);
      const sim = plugged.board();
      sims.push(sim);
      bindings.push(this as never);
      this.sim = sim;
      sim.on('data', (d: Buffer) => {
        if (this.isOpen) this.emitData(d);
      });
    }
    /** Fails the read in progress, and every later one, when unplugged (as the OS reports a pulled cable). */
    unplugged: Error | null = null;
    failRead: ((e: Error) => void) | null = null;
    read(buf: Buffer, offset: number, length: number): Promise<unknown> {
      if (this.unplugged) return Promise.reject(this.unplugged);
      return new Promise((resolve, reject) => {
        this.failRead = reject;
        super.read(buf, offset, length).then(resolve, reject);
      });
    }
    async write(buf: Buffer): Promise<void> {
      await super.write(buf);
      this.sim?.write(Buffer.from(buf));
    }
  }
  /** The USB cable pulled: the read fails (not canceled), as the OS reports it; serialport closes the port with a disconnect error. */
  const unplug = (): void => {
    const b = bindings[bindings.length - 1]!;
    b.unplugged = new Error('device disconnected');
    b.failRead?.(b.unplugged);
  };
  return { Binding: SimBinding, sims, unplug, plugged };
}

const sinkOptions = (config: object, transport: Duplex | (() => Duplex)) => ({ config: { alertMs: 1000, ...config } as never, transport, clock: new ManualClock(0), logger: memoryLogger('warn'), readyTimeoutMs: 5000 });

describe('board alert sink (johnny-five over a simulated Firmata board)', () => {
  it('turns LED, piezo and relay on at an alert and off alertMs after the last one', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const sim = new FirmataBoard();
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const config = parseGatewayConfig({
      site: 's',
      models: { imu: 'x' },
      routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }],
      stateDir: '',
      metrics: { intervalMs: 0 },
      board: { led: 13, piezo: 3, relay: 7, alertMs: 2000 },
    });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, boardTransport: sim, logger: memoryLogger('warn') });
    try {
      // Ready and idle: outputs off.
      expect(sim.pins[13]).toEqual({ mode: PIN_MODES.OUTPUT, value: 0 });
      expect(sim.pins[3]!.mode).toBe(PIN_MODES.PWM);
      expect(sim.pins[7]).toEqual({ mode: PIN_MODES.OUTPUT, value: 0 });
      const mark = sim.history.length;
      const x = imuSignal(100, 5, [[20, 40]]);
      const alerts: string[] = [];
      let raisedAt = 0;
      gw.on('alert', (a) => {
        alerts.push(a.id);
        raisedAt = clock.now();
      });
      tr.deliver(gw.topics.sensor('crane', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      clock.advance(5);
      const expected = oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'crane', sensor: 'imu', streamStartMs: 0 });
      expect(expected.length).toBeGreaterThan(0);
      expect(alerts.length).toBe(expected.length);
      await sim.waitFor((e) => e.pin === 13 && e.value === 1, mark);
      await sim.waitFor((e) => e.pin === 3 && e.kind === 'analog' && e.value === 128, mark);
      await sim.waitFor((e) => e.pin === 7 && e.value === 1, mark);
      // On until alertMs after the alert (clock time), then off.
      clock.advanceTo(raisedAt + 1999);
      await new Promise((r) => setImmediate(r));
      expect(sim.pins[13]!.value).toBe(1);
      const off = sim.history.length;
      clock.advance(1);
      await sim.waitFor((e) => e.pin === 13 && e.value === 0, off);
      await sim.waitFor((e) => e.pin === 3 && e.value === 0, off);
      await sim.waitFor((e) => e.pin === 7 && e.value === 0, off);
    } finally {
      await gw.stop();
      model.dispose();
    }
  });

  it('a board that never answers the Firmata handshake: GATEWAY_CONFIG after readyTimeoutMs, not a hang', async () => {
    // Opens like a serial port, then stays silent (wrong firmware, wrong baud rate).
    const silent = (): Duplex => {
      const d = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
      d.once('newListener', () => process.nextTick(() => d.emit('open')));
      return d;
    };
    const t0 = Date.now();
    await expect(createBoardSink({ config: { led: 13, alertMs: 1000 } as never, transport: silent(), clock: new ManualClock(0), logger: memoryLogger('warn'), readyTimeoutMs: 300 })).rejects.toMatchObject({
      code: 'GATEWAY_CONFIG',
      message: expect.stringMatching(/board \(stream\): no Firmata handshake within 300 ms/),
    });
    expect(Date.now() - t0).toBeLessThan(10_000); // it gave up, it did not hang
    // johnny-five's own handshake timer (same length) would emit two 'error' events later: an
    // unhandled one is thrown and takes the process down. Wait past it: nothing may surface.
    await new Promise((r) => setTimeout(r, 600));
  });

  it('the board goes away mid-run (serial port closed): alerts still raised and published, the error logged, nothing thrown', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const sim = new FirmataBoard();
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0 }, board: { led: 13, alertMs: 1000 } });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, boardTransport: sim, logger });
    try {
      const raised: string[] = [];
      gw.on('alert', (a) => raised.push(a.id));
      sim.destroy(new Error('the USB cable was pulled'));
      await new Promise((r) => setTimeout(r, 50));
      const x = imuSignal(100, 5, [[20, 40]]);
      tr.deliver(gw.topics.sensor('crane', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      clock.advance(5);
      await new Promise((r) => setTimeout(r, 50));
      clock.advance(2000);
      await new Promise((r) => setTimeout(r, 50));
      expect(raised.length).toBe(oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'crane', sensor: 'imu', streamStartMs: 0 }).length);
      expect(raised.length).toBeGreaterThan(0);
      expect(tr.published.filter((p) => p.topic.includes('crane')).length).toBeGreaterThanOrEqual(raised.length);
      expect(logger.lines.some((l) => l.level === 'error' && /board|USB/.test(`${l.msg} ${String(l.error)}`))).toBe(true);
    } finally {
      await gw.stop();
      model.dispose();
    }
  });

  it('alerts raised during stop(): they reach the board and the broker, the outputs go off at the end, nothing is left on the clock', async () => {
    // stop() steps what was received before closing: those alerts are raised then. A publish timer
    // armed for them was forgotten when stop() published directly, and stayed on the clock.
    const model = await (await createRuntime()).load(imuModelBytes());
    const sim = new FirmataBoard();
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0 }, board: { led: 13, relay: 7, alertMs: 2000 } });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, boardTransport: sim, logger });
    try {
      const raised: string[] = [];
      gw.on('alert', (a) => raised.push(a.id));
      const x = imuSignal(100, 5, [[20, 40]]);
      tr.deliver(gw.topics.sensor('crane', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      const mark = sim.history.length;
      await gw.stop(); // no clock advanced: nothing stepped before
      expect(raised).toHaveLength(oracleAlerts(model, x, IMU_DETECTOR, { site: 's', device: 'crane', sensor: 'imu', streamStartMs: 0 }).length);
      expect(raised.length).toBeGreaterThan(0);
      expect(tr.published.filter((p) => p.topic === gw.topics.alerts('crane', 'imu')).length).toBe(raised.length);
      expect(gw.outboxDepth).toBe(0);
      expect(sim.history.slice(mark).filter((e) => e.kind === 'digital').map((e) => [e.pin, e.value])).toEqual([[13, 1], [7, 1], [13, 0], [7, 0]]);
      expect(clock.pending).toBe(0);
      expect(logger.lines).toEqual([]);
    } finally {
      model.dispose();
    }
  });

  it('Gateway.create aborted (SIGINT) while the board has not answered: GATEWAY_STOPPED at once, not after the 10 s handshake wait', async () => {
    // The abort signal was looked at only once the board had answered or timed out: a Ctrl-C
    // during the board's handshake did nothing for up to 10 s, then the start failed as a config error.
    const model = await (await createRuntime()).load(imuModelBytes());
    const silent = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
    silent.once('newListener', () => process.nextTick(() => silent.emit('open')));
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0 }, board: { led: 13 } });
    const ac = new AbortController();
    const tr = new TraceTransport();
    try {
      const created = Gateway.create({ config, models: { imu: model }, clock: new ManualClock(0), transport: tr, boardTransport: silent, logger: memoryLogger('error'), signal: ac.signal });
      await new Promise((r) => setTimeout(r, 100));
      ac.abort();
      await expect(created).rejects.toMatchObject({ code: 'GATEWAY_STOPPED', message: 'stopped while waiting for the board (stream) to answer' });
      expect(silent.destroyed).toBe(true); // the port is let go
      expect(tr.connected).toBe(false); // never started
    } finally {
      model.dispose();
    }
  });

  it('a board lost during the Firmata handshake: GATEWAY_CONFIG with the reason, not an uncaught error', async () => {
    // firmata-io emits a transport error before its handshake on the io, where nobody listened yet.
    class Unplugged extends FirmataBoard {
      override _write(chunk: Buffer, enc: BufferEncoding, cb: (e?: Error | null) => void): void {
        if (chunk[0] === 0xf0 && chunk[1] === 0x6b) {
          this.destroy(new Error('the USB cable was pulled during the handshake'));
          return cb();
        }
        super._write(chunk, enc, cb);
      }
    }
    await expect(createBoardSink(sinkOptions({ led: 13 }, new Unplugged()))).rejects.toMatchObject({
      code: 'GATEWAY_CONFIG',
      message: expect.stringMatching(/board \(stream\): the USB cable was pulled/),
    });
  });

  it.skipIf(!serialport)('a serial port handed over as the transport becomes ready, opened or still opening (it opened during the imports, unseen)', async () => {
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, sims } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-open', { echo: false, record: false });
    try {
      for (const openFirst of [false, true]) {
        const port = new SerialPortStream('/dev/ttySIM-open', { binding: Binding });
        if (openFirst) await new Promise((r) => port.once('open', r));
        const sink = await createBoardSink(sinkOptions({ led: 13 }, port));
        sink.alert({ id: 'a' } as never);
        await sims.at(-1)!.waitFor((e) => e.pin === 13 && e.value === 1);
        await sink.close();
      }
    } finally {
      MockBinding.reset();
    }
  });

  it('a pin the board cannot drive is a GATEWAY_CONFIG error naming the field at start-up, not at the first alert', async () => {
    // Pin 4 has no PWM: johnny-five threw from the piezo's brightness() at the first alert, after the
    // LED went on and before the relay closed. Pin 40 is beyond the Uno: a TypeError from pinMode().
    for (const [config, field, message] of [
      [{ led: 13, piezo: 4, relay: 7 }, 'board.piezo', /board\.piezo: pin 4 does not support PWM on this board \(PWM pins: 3, 5, 6, 9, 10, 11\)/],
      [{ led: 40 }, 'board.led', /board\.led: pin 40 does not support OUTPUT/],
      [{ relay: 1 }, 'board.relay', /board\.relay: pin 1 does not support OUTPUT/],
    ] as const) {
      const sim = new FirmataBoard();
      await expect(createBoardSink(sinkOptions(config, sim))).rejects.toMatchObject({ code: 'GATEWAY_CONFIG', details: { field }, message: expect.stringMatching(message) });
      expect(sim.destroyed).toBe(true); // the port is let go
    }
  });

  it('board.port that cannot be opened: GATEWAY_CONFIG naming the port, not a thrown string or a hang', async () => {
    // Without serialport's native binding (a failed build on the gateway), johnny-five's import of
    // firmata threw the string "Missing serialport dependency" out of Gateway.create: no code, no
    // message, no port. With the binding, a port that does not exist is not answered either.
    const e = await createBoardSink({ config: { port: '/dev/ttyEDGERNN-NONE', led: 13, alertMs: 1000 } as never, clock: new ManualClock(0), logger: memoryLogger('error'), readyTimeoutMs: 500 }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ code: 'GATEWAY_CONFIG', message: expect.stringContaining('board /dev/ttyEDGERNN-NONE: ') });
  });

  it("board.port without serialport's native binding: nothing printed around the GATEWAY_CONFIG error (firmata dumped the binding's search list and stack to stdout, inside the JSON log)", async () => {
    const printed: unknown[][] = [];
    const spies = (['log', 'error', 'warn', 'info'] as const).map((k) => vi.spyOn(console, k).mockImplementation((...a: unknown[]) => void printed.push(a)));
    try {
      const e = await createBoardSink({ config: { port: '/dev/ttyEDGERNN-NONE', led: 13, alertMs: 1000 } as never, clock: new ManualClock(0), logger: memoryLogger('silent'), readyTimeoutMs: 500 }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toMatchObject({ code: 'GATEWAY_CONFIG', message: expect.stringContaining('board /dev/ttyEDGERNN-NONE: ') });
      expect(printed).toEqual([]);
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });

  it('a simulated board someone listened to before handing it over (its open and announcement gone): isOpen says so, the handshake completes', async () => {
    // A serial port opened already is seen by its isOpen; the simulator had none, so a FirmataBoard
    // whose bytes were watched first (sim.on('data', log)) never opened for johnny-five: no
    // handshake within readyTimeoutMs. firmata-io asks for the version it missed after 2 s.
    const sim = new FirmataBoard();
    expect(sim.isOpen).toBe(false);
    const seen: number[] = [];
    sim.on('data', (d: Buffer) => seen.push(...d));
    await new Promise((r) => setImmediate(r));
    expect(sim.isOpen).toBe(true);
    expect(seen.slice(0, 3)).toEqual([0xf9, 2, 5]); // the announcement, taken by the watcher
    const sink = await createBoardSink({ ...sinkOptions({ led: 13 }, sim), readyTimeoutMs: 20_000 });
    sink.alert({ id: 'a' } as never);
    await sim.waitFor((e) => e.pin === 13 && e.value === 1);
    await sink.close();
    expect(sim.isOpen).toBe(false);
  });

  it('one pin for two outputs given to createBoardSink directly: GATEWAY_CONFIG naming both, before touching the board', async () => {
    // parseGatewayConfig refuses it; createBoardSink (exported) drove the pin as both, an OUTPUT LED
    // and a relay fighting over it at every alert.
    const sim = new FirmataBoard();
    await expect(createBoardSink(sinkOptions({ led: 13, relay: 13 }, sim))).rejects.toMatchObject({
      code: 'GATEWAY_CONFIG',
      details: { field: 'board.relay' },
      message: expect.stringMatching(/board\.relay must be a pin other than board\.led's \(13\), got 13/),
    });
    expect(sim.listenerCount('data')).toBe(0); // nobody opened it
  });

  it('overlapping alerts: the outputs go on once and off once, alertMs after the last alert; close() turns them off', async () => {
    const sim = new FirmataBoard();
    const clock = new ManualClock(0);
    const sink = await createBoardSink({ ...sinkOptions({ led: 13, piezo: 3, relay: 7 }, sim), clock });
    const settle = () => new Promise((r) => setTimeout(r, 10));
    const mark = sim.history.length;
    const levels = () => [sim.pins[13]!.value, sim.pins[3]!.value, sim.pins[7]!.value];
    sink.alert({ id: 'a' } as never);
    clock.advance(500);
    sink.alert({ id: 'b' } as never); // 500 ms into the first one's 1000
    clock.advance(999); // 1499: the first alone would have ended at 1000
    await settle();
    expect(levels()).toEqual([1, 128, 1]);
    clock.advance(1); // 1500 = the second + alertMs
    await settle();
    expect(levels()).toEqual([0, 0, 0]);
    const changes = sim.history.slice(mark).filter((e) => e.kind !== 'mode').map((e) => [e.pin, e.value]);
    expect(changes.filter(([p]) => p === 13)).toEqual([[13, 1], [13, 0]]);
    expect(changes.filter(([p]) => p === 3)).toEqual([[3, 128], [3, 0]]);
    expect(changes.filter(([p]) => p === 7)).toEqual([[7, 1], [7, 0]]);
    // On again, then closed mid-alert: off at once, and nothing left on the clock.
    sink.alert({ id: 'c' } as never);
    await settle();
    expect(levels()).toEqual([1, 128, 1]);
    await sink.close();
    expect(levels()).toEqual([0, 0, 0]);
    expect(clock.pending).toBe(0);
  });

  it('board.labels: only alerts with those labels drive the pins (a HAR route alerts at every activity change)', async () => {
    const sim = new FirmataBoard();
    const clock = new ManualClock(0);
    const sink = await createBoardSink({ ...sinkOptions({ led: 13, labels: ['fall'] }, sim), clock });
    const settle = () => new Promise((r) => setTimeout(r, 10));
    sink.alert({ id: 'a', label: 'walk' } as never);
    await settle();
    expect(sim.pins[13]!.value).toBe(0);
    expect(clock.pending).toBe(0);
    sink.alert({ id: 'b', label: 'fall' } as never);
    await settle();
    expect(sim.pins[13]!.value).toBe(1);
    await sink.close();
    const base = { models: { m: 'm.ern' }, routes: [{ sensor: 'imu', model: 'm' }] };
    expect(parseGatewayConfig({ ...base, board: { led: 13, labels: ['fall'] } }).board).toMatchObject({ labels: ['fall'] });
    expect(() => parseGatewayConfig({ ...base, board: { led: 13, labels: [] } }, 'gw.json')).toThrow(/board\.labels must be a non-empty list of alert labels/);
    expect(() => parseGatewayConfig({ ...base, board: { led: 13, labels: 'fall' as never } }, 'gw.json')).toThrow(/board\.labels must be/);
  });

  it('board.labels naming a label no route can raise (a typo): warned at start with the labels the routes raise; a detector registered in code: not knowable, not warned', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const base = { site: 's', models: { imu: 'x' }, stateDir: '', metrics: { intervalMs: 0 } };
    const warned = async (routes: object[], labels: string[], detectors?: Record<string, never>) => {
      const logger = memoryLogger('warn');
      const gw = await Gateway.create({ config: parseGatewayConfig({ ...base, routes, board: { led: 13, labels } }), models: { imu: model }, transport: new TraceTransport(), boardTransport: new FirmataBoard(), logger, ...(detectors ? { detectors } : {}) });
      await gw.stop();
      return logger.lines.filter((l) => l.msg.startsWith('board.labels names labels no route can raise'));
    };
    try {
      const imu = { sensor: 'imu', model: 'imu', detector: IMU_DETECTOR };
      expect(await warned([imu], ['impact', 'anomoly'])).toEqual([expect.objectContaining({ level: 'warn', never: ['anomoly'], raisable: ['impact'] })]);
      expect(await warned([imu], ['impact'])).toEqual([]);
      // What each built-in kind raises.
      const route = (detector: object, labels: string[] = ['idle', 'walk', 'fall']) => ({ config: { detector } as never, model: { labels, outputSize: 3 } });
      expect(routeAlertLabels([route({ kind: 'threshold', output: 2, score: 'output' }), route({ kind: 'threshold', output: 0, score: 'forecastError' }, [])])).toEqual(new Set(['fall', 'anomaly']));
      expect(routeAlertLabels([route({ kind: 'smoothing', background: ['idle'] }), route({ kind: 'anomaly' })])).toEqual(new Set(['walk', 'fall', 'anomaly']));
      expect(routeAlertLabels([route({ kind: 'har' })])).toEqual(new Set(['idle', 'walk', 'fall']));
      expect(routeAlertLabels([route({ kind: 'kws' })], new Set(['kws']))).toBeNull();
      // A kind registered in code may raise anything.
      const custom = { sensor: 'imu', model: 'imu', detector: { kind: 'mine' } };
      const mine = (() => ({ step: () => null, lastScore: 0, reset() {}, exportState: () => null, importState() {} })) as never;
      expect(await warned([custom], ['anomoly'], { mine })).toEqual([]);
    } finally {
      model.dispose();
    }
  });

  it('an alert after close() is ignored: no write to the closed port, no timer left on the clock', async () => {
    // It turned the outputs on again through a port already ended (a write-after-end error, logged
    // as a board error) and armed an alertMs timer that kept a process alive after stop().
    const sim = new FirmataBoard();
    const clock = new ManualClock(0);
    const logger = memoryLogger('warn');
    const sink = await createBoardSink({ ...sinkOptions({ led: 13, relay: 7 }, sim), clock, logger });
    await sink.close();
    const mark = sim.history.length;
    sink.alert({ id: 'late' } as never);
    await new Promise((r) => setTimeout(r, 20));
    expect(clock.pending).toBe(0);
    expect(sim.history.slice(mark)).toEqual([]);
    expect(logger.lines).toEqual([]);
  });

  it.skipIf(!serialport)('a serial board unplugged while running: logged once as lost, later alerts write nothing (they queued on the closed port, unlogged)', async () => {
    // serialport closes an unplugged port with a disconnect error and emits no 'error': the sink
    // listened for errors only, so the loss went unlogged, and every later alert queued its writes
    // on the closed port, kept for an 'open' that never comes.
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, sims, unplug } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-unplug', { echo: false, record: false });
    try {
      const port = new SerialPortStream('/dev/ttySIM-unplug', { binding: Binding });
      const clock = new ManualClock(0);
      const logger = memoryLogger('warn');
      const sink = await createBoardSink({ ...sinkOptions({ led: 13 }, port), clock, logger });
      sink.alert({ id: 'a' } as never);
      await sims[0]!.waitFor((e) => e.pin === 13 && e.value === 1);
      await new Promise((r) => (port as unknown as { drain(cb: () => void): void }).drain(() => r(null))); // idle: no write in flight
      const closed = new Promise((r) => port.once('close', r));
      unplug();
      await closed;
      await new Promise((r) => setImmediate(r));
      expect(logger.lines.filter((l) => l.level === 'error').map((l) => [l.msg, l.port])).toEqual([['board lost', '(stream)']]);
      for (let i = 0; i < 12; i++) {
        sink.alert({ id: `late${i}` } as never);
        clock.advance(2000);
      }
      await new Promise((r) => setImmediate(r));
      expect(port.writableLength).toBe(0); // nothing queued on the closed port
      expect(clock.pending).toBe(0);
      await sink.close();
      expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    } finally {
      MockBinding.reset();
    }
  });

  it.skipIf(!serialport)('a serial board unplugged and plugged in again: logged once, alerts still published, board_connected 0; reopened with backoff, pins driven again (it stayed dark until a restart)', async () => {
    // The sink logged the loss and never tried again: a board plugged back in stayed unused until
    // the gateway restarted. A transport given as a function is called for each connection.
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, sims, unplug, plugged } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-replug', { echo: false, record: false });
    const model = await (await createRuntime()).load(imuModelBytes());
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('debug');
    // A file outbox: the alerts of the lost period are written and published as usual.
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: tmpDir(), metrics: { intervalMs: 0 }, board: { led: 13, relay: 7, alertMs: 60_000 } });
    const opened: Array<Duplex & { isOpen: boolean }> = [];
    const boardTransport = () => {
      const port = new SerialPortStream('/dev/ttySIM-replug', { binding: Binding });
      opened.push(port);
      return port;
    };
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, boardTransport, logger });
    const lines = (msg: string) => logger.lines.filter((l) => l.msg === msg);
    let seq = 0;
    const raiseAlerts = async () => {
      tr.deliver(gw.topics.sensor(`crane${seq}`, 'imu'), encodeJson(imuSignal(100, 5, [[20, 40]]), IMU_CHANNELS, { seq: seq++ }));
      clock.advance(5);
      await gw.settled(); // on disk, announced
    };
    try {
      expect(gw.snapshot().gauges.board_connected).toBe(1);
      await raiseAlerts();
      await sims[0]!.waitFor((e) => e.pin === 7 && e.value === 1);
      clock.advance(60_000);
      await sims[0]!.waitFor((e) => e.pin === 7 && e.value === 0);
      await new Promise((r) => (opened[0] as unknown as { drain(cb: () => void): void }).drain(() => r(null)));
      // Unplugged, and stays so for the first attempts.
      plugged.in = false;
      const closed = new Promise((r) => opened[0]!.once('close', r));
      unplug();
      await closed;
      await waitFor(() => lines('board lost').length === 1, 'the loss to be logged');
      const lostAt = clock.now();
      expect(gw.snapshot().gauges.board_connected).toBe(0);
      // Alerts while lost: raised, published, the outbox empties; nothing written to a board.
      const raised: string[] = [];
      gw.on('alert', (a) => raised.push(a.id));
      await raiseAlerts();
      await waitFor(() => raised.length > 0 && gw.outboxDepth === 0, 'the alerts of the lost period to be published');
      expect(gw.snapshot().gauges.outbox_persistent).toBe(1);
      expect(tr.published.filter((p) => p.topic === gw.topics.alerts('crane1', 'imu')).length).toBeGreaterThanOrEqual(raised.length);
      // Attempts 1 s, 2 s, 4 s after the loss (backoff), each failing: logged at debug, not as errors.
      for (const [n, at] of [[1, 1000], [2, 3000], [3, 7000]] as const) {
        clock.advanceTo(lostAt + at - 1);
        await new Promise((r) => setTimeout(r, 20));
        expect(lines('board not reopened yet')).toHaveLength(n - 1); // not before its time
        clock.advanceTo(lostAt + at);
        await waitFor(() => lines('board not reopened yet').length === n, `attempt ${n} to fail`);
      }
      expect(lines('board not reopened yet').map((l) => l.retryMs)).toEqual([1000, 2000, 4000]);
      expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['board lost']);
      // Plugged in again, still within alertMs of the last alert: reopened at the next attempt (8 s), the outputs on.
      plugged.in = true;
      clock.advance(8000);
      await waitFor(() => lines('board reopened').length === 1, 'the board to be reopened');
      expect(sims).toHaveLength(2);
      expect(gw.snapshot().gauges.board_connected).toBe(1);
      await sims[1]!.waitFor((e) => e.pin === 7 && e.value === 1);
      expect(sims[1]!.pins[13]).toEqual({ mode: PIN_MODES.OUTPUT, value: 1 });
      // ... off alertMs after the last alert, and driven by the next ones.
      clock.advance(60_000);
      await sims[1]!.waitFor((e) => e.pin === 7 && e.value === 0);
      const mark = sims[1]!.history.length;
      await raiseAlerts();
      await sims[1]!.waitFor((e) => e.pin === 13 && e.value === 1, mark);
      expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['board lost']);
    } finally {
      await gw.stop();
      model.dispose();
      MockBinding.reset();
    }
    expect(opened.at(-1)!.isOpen).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('a simulated board given as a function: destroyed (unplugged), a new one is opened after 1 s and driven; a stream given as such stays lost', async () => {
    const sims: FirmataBoard[] = [];
    const clock = new ManualClock(0);
    const logger = memoryLogger('info');
    const sink = await createBoardSink({ ...sinkOptions({ led: 13, piezo: 3 }, () => sims[sims.push(new FirmataBoard()) - 1]!), clock, logger });
    sims[0]!.destroy(new Error('the USB cable was pulled'));
    await waitFor(() => sink.connected === false, 'the loss');
    clock.advance(1000);
    await waitFor(() => sink.connected === true, 'the new board');
    expect(sims).toHaveLength(2);
    expect(sims[1]!.pins[3]!.mode).toBe(PIN_MODES.PWM); // modes set again
    sink.alert({ id: 'a' } as never);
    await sims[1]!.waitFor((e) => e.pin === 13 && e.value === 1);
    await sims[1]!.waitFor((e) => e.pin === 3 && e.value === 128);
    expect(logger.lines.filter((l) => l.level !== 'info' || /board (lost|reopened)/.test(l.msg)).map((l) => [l.level, l.msg])).toEqual([
      ['error', 'board error'],
      ['error', 'board lost'],
      ['info', 'board reopened'],
    ]);
    await sink.close();
    expect(clock.pending).toBe(0);
    // The same, handed over as a stream: not reopened, nothing left on the clock.
    const sim = new FirmataBoard();
    const once = await createBoardSink({ ...sinkOptions({ led: 13 }, sim), clock, logger: memoryLogger('warn') });
    sim.destroy();
    await waitFor(() => once.connected === false, 'the loss');
    expect(clock.pending).toBe(0);
    await once.close();
  });

  it.skipIf(!serialport)('a serial port handed over that fails to open (no such device): GATEWAY_CONFIG with the reason, not an unhandled rejection', async () => {
    // Its open fails while johnny-five is imported, before firmata-io listens: serialport emitted
    // the 'error' to nobody, inside a promise callback, an unhandled rejection (Node ends the process).
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, plugged } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-absent', { echo: false, record: false });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      plugged.in = false;
      // A stream handed over cannot be opened again: refused. (A function can: see "unplugged at start".)
      await expect(createBoardSink(sinkOptions({ led: 13 }, new SerialPortStream('/dev/ttySIM-absent', { binding: Binding })))).rejects.toMatchObject({
        code: 'GATEWAY_CONFIG',
        message: expect.stringMatching(/^board \(stream\): cannot open: .*No such file or directory/),
      });
      const sink = await createBoardSink(sinkOptions({ led: 13 }, () => new SerialPortStream('/dev/ttySIM-absent', { binding: Binding })));
      expect(sink.connected).toBe(false);
      await sink.close();
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      MockBinding.reset();
    }
  });

  it.skipIf(!serialport)('a board unplugged at start: the gateway starts without it (alerts published, board_connected 0) and drives it once plugged in', async () => {
    // It refused to start (GATEWAY_CONFIG), so one unplugged board stopped every device's alerts.
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, sims, plugged } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-late', { echo: false, record: false });
    const model = await (await createRuntime()).load(imuModelBytes());
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0 }, board: { led: 13, alertMs: 2000 } });
    plugged.in = false;
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, boardTransport: () => new SerialPortStream('/dev/ttySIM-late', { binding: Binding }), logger });
    try {
      expect(gw.snapshot().gauges.board_connected).toBe(0);
      expect(logger.lines.map((l) => [l.level, l.msg])).toContainEqual(['error', 'board not connected at start: alerts are still raised and published; opening it']);
      const alerts = () => tr.published.filter((m) => m.topic.includes('/alert')).length;
      tr.deliver(gw.topics.sensor('crane', 'imu'), encodeJson(imuSignal(100, 5, [[20, 40]]), IMU_CHANNELS, { seq: 0 }));
      clock.advance(5);
      await waitFor(() => alerts() > 0, 'the alert at the broker');
      // Plugged in: found at the first retry, 1 s after the start.
      plugged.in = true;
      clock.advance(1000);
      await waitFor(() => gw.snapshot().gauges.board_connected === 1, 'the board, plugged in');
      expect(sims[0]!.pins[13]!.mode).toBe(PIN_MODES.OUTPUT);
      tr.deliver(gw.topics.sensor('crane', 'imu'), encodeJson(imuSignal(100, 6, [[20, 40]]), IMU_CHANNELS, { seq: 1 }));
      clock.advance(5);
      await sims[0]!.waitFor((e) => e.pin === 13 && e.value === 1);
    } finally {
      await gw.stop();
      model.dispose();
      MockBinding.reset();
    }
    expect(clock.pending).toBe(0);
  });

  it('a board that does not answer at start, given as a function: started without it; a pin it cannot drive, or a port that cannot be a serial port, still refuses to start', async () => {
    const silent = (): Duplex => {
      const d = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
      d.once('newListener', () => process.nextTick(() => d.emit('open')));
      return d;
    };
    const sims: FirmataBoard[] = [];
    let calls = 0;
    const clock = new ManualClock(0);
    const logger = memoryLogger('warn');
    const sink = await createBoardSink({ ...sinkOptions({ led: 13 }, () => (calls++ === 0 ? silent() : sims[sims.push(new FirmataBoard()) - 1]!)), clock, logger, readyTimeoutMs: 300 });
    expect(sink.connected).toBe(false);
    expect(logger.lines[0]).toMatchObject({ level: 'error', error: expect.stringMatching(/no Firmata handshake within 300 ms/), retryMs: 1000 });
    clock.advance(1000);
    await waitFor(() => sink.connected === true, 'the board at the first retry');
    await sink.close();
    expect(clock.pending).toBe(0);
    // Fail fast: what no replugging can mend.
    await expect(createBoardSink({ ...sinkOptions({ piezo: 4 }, () => new FirmataBoard()), clock })).rejects.toMatchObject({ code: 'GATEWAY_CONFIG', details: { field: 'board.piezo' } });
    const dir = tmpDir();
    for (const [port, expected] of [['ttyACM0', /board\.port must be an absolute device path/], [dir, /board\.port must be a serial device .*not a folder/]] as const) {
      await expect(createBoardSink({ config: { port, led: 13, alertMs: 1000 } as never, clock, logger: memoryLogger('silent'), readyTimeoutMs: 300 })).rejects.toMatchObject({ code: 'GATEWAY_CONFIG', details: { field: 'board.port' }, message: expect.stringMatching(expected) });
    }
    expect(clock.pending).toBe(0);
  });

  it.skipIf(!serialport)('a lost board found again with pins that cannot do what the config asks: warned once with the reason, tried again until the right board is back', async () => {
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, sims, unplug, plugged } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-other', { echo: false, record: false });
    /** A board without PWM on pin 3. */
    class NoPwm3 extends FirmataBoard {
      override capabilities(pin: number): Array<[mode: number, resolution: number]> {
        return super.capabilities(pin).filter(([m]) => pin !== 3 || m !== PIN_MODES.PWM);
      }
    }
    try {
      const clock = new ManualClock(0);
      const logger = memoryLogger('debug');
      const ports: Duplex[] = [];
      const transport = () => {
        ports.push(new SerialPortStream('/dev/ttySIM-other', { binding: Binding }));
        return ports.at(-1)!;
      };
      const sink = await createBoardSink({ ...sinkOptions({ piezo: 3 }, transport), clock, logger });
      const closed = new Promise((r) => ports[0]!.once('close', r));
      plugged.board = () => new NoPwm3();
      unplug();
      await closed;
      const attempts = () => logger.lines.filter((l) => l.msg === 'board not reopened yet');
      for (const [n, wait] of [[1, 1000], [2, 2000]] as const) {
        clock.advance(wait);
        await waitFor(() => attempts().length === n, `attempt ${n}`);
      }
      expect(attempts().map((l) => [l.level, l.error])).toEqual([
        ['warn', expect.stringMatching(/^board\.piezo: pin 3 does not support PWM on this board/)],
        ['debug', expect.stringMatching(/^board\.piezo: pin 3 does not support PWM/)],
      ]);
      expect(ports.slice(1).map((p) => (p as Duplex & { isOpen: boolean }).isOpen)).toEqual([false, false]); // each let go
      plugged.board = () => new FirmataBoard();
      clock.advance(4000);
      await waitFor(() => sink.connected === true, 'the Uno to be found again');
      sink.alert({ id: 'a' } as never);
      await sims.at(-1)!.waitFor((e) => e.pin === 3 && e.kind === 'analog' && e.value === 128);
      await sink.close();
    } finally {
      MockBinding.reset();
    }
  });

  it.skipIf(!serialport)('a board lost and still being reopened at stop(): the attempts end, nothing is left on the clock or open', async () => {
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, sims, unplug, plugged } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-stop', { echo: false, record: false });
    try {
      const clock = new ManualClock(0);
      const logger = memoryLogger('warn');
      const ports: Array<Duplex & { isOpen: boolean }> = [];
      const transport = () => {
        ports.push(new SerialPortStream('/dev/ttySIM-stop', { binding: Binding }));
        return ports.at(-1)!;
      };
      const sink = await createBoardSink({ ...sinkOptions({ led: 13 }, transport as never), clock, logger });
      expect(sink.connected).toBe(true);
      plugged.in = false;
      const closed = new Promise((r) => ports[0]!.once('close', r));
      unplug();
      await closed;
      await new Promise((r) => setImmediate(r));
      expect(sink.connected).toBe(false);
      expect(clock.pending).toBe(1); // the first attempt
      // An alert while lost keeps its timer (the outputs' state), and writes nothing.
      sink.alert({ id: 'a' } as never);
      expect(clock.pending).toBe(2);
      await sink.close();
      expect(clock.pending).toBe(0);
      plugged.in = true;
      clock.advance(100_000);
      await new Promise((r) => setTimeout(r, 50));
      expect(sims).toHaveLength(1); // never reopened after close()
      expect(ports).toHaveLength(1);
    } finally {
      MockBinding.reset();
    }
  });

  it.skipIf(!serialport)('close() closes a serial port handed over as the transport: it opens again (its end() left it open and locked)', async () => {
    const { SerialPortStream, MockBinding } = serialport!;
    const { Binding, sims } = simSerialBinding(MockBinding);
    MockBinding.createPort('/dev/ttySIM-close', { echo: false, record: false });
    try {
      for (let i = 0; i < 2; i++) {
        const port = new SerialPortStream('/dev/ttySIM-close', { binding: Binding });
        const sink = await createBoardSink(sinkOptions({ led: 13 }, port));
        sink.alert({ id: `a${i}` } as never);
        await sims[i]!.waitFor((e) => e.pin === 13 && e.value === 1);
        await sink.close();
        expect(port.isOpen).toBe(false);
      }
    } finally {
      MockBinding.reset();
    }
  });

});

describe('board sinks let go of the board (2026-11-27 review)', () => {
  it("a closed board sink leaves johnny-five's list of boards and can be collected (every sink stayed listed, with its port)", async () => {
    const five = (await import('johnny-five')).default;
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const before = five.Board.cache.length;
    const sims: Array<WeakRef<Duplex>> = [];
    // In functions of their own: no variable of the test holds a port.
    const openAlertClose = async (): Promise<void> => {
      const sim = watched(new FirmataBoard());
      const sink = await createBoardSink(sinkOptions({ led: 13, piezo: 3, relay: 7 }, sim));
      // While open it is listed: johnny-five's components find their board there.
      expect(five.Board.cache.length).toBe(before + 1);
      await sink.alert({ id: 'a1' } as Alert);
      await sim.waitFor((e) => e.pin === 7 && e.value === 1);
      await sink.close();
    };
    const watched = <T extends Duplex>(port: T): T => {
      sims.push(new WeakRef(port));
      return port;
    };
    const failToStart = async (port: Duplex, config: object, readyTimeoutMs: number): Promise<void> => {
      await expect(createBoardSink({ ...sinkOptions(config, port), readyTimeoutMs })).rejects.toMatchObject({ code: 'GATEWAY_CONFIG' });
    };
    for (let i = 0; i < 20; i++) {
      await openAlertClose();
      expect(five.Board.cache.length).toBe(before);
    }
    // A sink that fails to start lets go of its board too: a pin without PWM, a board that never answers.
    await failToStart(watched(new FirmataBoard()), { piezo: 4 }, 5000);
    const silent = () => {
      const d = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
      d.once('newListener', () => process.nextTick(() => d.emit('open')));
      return d;
    };
    // (Not watched: a port that never answered stays reachable from firmata-io's version-request
    // timer for its 2 s, then goes: not a leak, and not waited for here.)
    await failToStart(silent(), { led: 13 }, 200);
    expect(five.Board.cache.length).toBe(before);
    // Nothing else holds the boards (johnny-five's Led and Relay keep every instance, and so its
    // board and port, in a module-level map): the ports are collected.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 0));
      gc();
    }
    expect(sims.flatMap((r, i) => (r.deref() !== undefined ? [i] : []))).toEqual([]);
  });
});

describe('alert sinks that fail', () => {
  it('a sink whose close() never settles: stop() goes on after drainTimeoutMs, logged; the transport and the other sinks are closed', async () => {
    // stop() awaited every sink's close() without a limit: a serial port whose close() blocks (a
    // USB adapter draining output nobody reads) kept the gateway from stopping, broker and outbox open.
    const model = await (await createRuntime()).load(imuModelBytes());
    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0 } });
    let otherClosed = false;
    const sinks = [
      { name: 'stuck', alert: () => {}, close: () => new Promise<void>(() => {}) },
      { name: 'other', alert: () => {}, close: async () => { otherClosed = true; } },
    ];
    const gw = await Gateway.create({ config, models: { imu: model }, clock: new ManualClock(0), transport: tr, logger, sinks, drainTimeoutMs: 100 });
    try {
      let t: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([gw.stop().then(() => 'stopped'), new Promise((r) => (t = setTimeout(() => r('still stopping'), 20_000)))]).finally(() => clearTimeout(t));
      expect(outcome).toBe('stopped');
      expect(otherClosed).toBe(true);
      expect(tr.connected).toBe(false);
      expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'alert sink close failed', sink: 'stuck', error: 'close() did not finish within 100 ms' }));
    } finally {
      model.dispose();
    }
  });

  it('a sink whose alert() rejects (async) or throws, and whose close() throws: logged; alerts raised, published, sent to the other sinks; stop() closes everything', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('warn');
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0 } });
    const seen: string[] = [];
    let goodClosed = false;
    const sinks = [
      // A webhook-like sink written as an async function: its rejection was unhandled (Node ends the process).
      { name: 'webhook', alert: async () => Promise.reject(new Error('webhook down')), close: () => { throw new Error('close failed'); } },
      { name: 'siren', alert: () => { throw new Error('siren jammed'); }, close: () => Promise.reject(new Error('siren close failed')) },
      { name: 'log', alert: (a: { id: string }) => void seen.push(a.id), close: async () => { goodClosed = true; } },
    ];
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger, sinks: sinks as never });
    const raised: string[] = [];
    gw.on('alert', (a) => raised.push(a.id));
    const x = imuSignal(100, 5, [[20, 40]]);
    tr.deliver(gw.topics.sensor('crane', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    clock.advance(5);
    await new Promise((r) => setTimeout(r, 50));
    expect(raised.length).toBeGreaterThan(0);
    expect(seen).toEqual(raised);
    expect(tr.published.filter((p) => p.topic.includes('crane')).length).toBeGreaterThanOrEqual(raised.length);
    const failed = logger.lines.filter((l) => l.msg === 'alert sink failed');
    expect(failed.filter((l) => l.sink === 'webhook' && l.error === 'webhook down').length).toBe(raised.length);
    expect(failed.filter((l) => l.sink === 'siren' && l.error === 'siren jammed').length).toBe(raised.length);
    await gw.stop();
    expect(goodClosed).toBe(true);
    expect(tr.connected).toBe(false); // the transport was ended after the sinks
    expect(logger.lines.some((l) => l.msg === 'alert sink close failed' && l.sink === 'webhook')).toBe(true);
    model.dispose();
  });
});
