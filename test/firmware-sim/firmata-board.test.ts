/**
 * The simulated Firmata board against real peers: firmata-io (handshake, capabilities, pin
 * writes) and johnny-five (Led, Relay), plus the raw protocol bytes.
 */
import { describe, expect, it } from 'vitest';
import firmataIo from 'firmata-io';
import five from 'johnny-five';
import { FIRMATA, FirmataBoard, PIN_MODES } from '../../firmware-sim/firmata-board.js';

function collect(board: FirmataBoard): { bytes: number[] } {
  const out = { bytes: [] as number[] };
  board.on('data', (d: Buffer) => out.bytes.push(...d));
  return out;
}

/** Lets the board's replies arrive (they leave after write() returns, as over a serial line). */
const settle = () => new Promise((r) => setImmediate(r));

/** The reads of firmata-io used here (src/gateway/vendor.d.ts types what the gateway uses). */
interface FirmataReads {
  pinMode(pin: number, mode: number): void;
  analogRead(channel: number, cb: (v: number) => void): void;
  digitalRead(pin: number, cb: (v: number) => void): void;
}

const ready = (io: { once(ev: string, f: () => void): unknown }) => new Promise<void>((r) => io.once('ready', () => r()));

describe('FirmataBoard protocol', () => {
  it('announces itself and answers the queries byte for byte', async () => {
    const b = new FirmataBoard({ firmwareName: 'Sim' });
    const rx = collect(b);
    await new Promise((r) => setImmediate(r));
    // REPORT_VERSION 2.5, then QUERY_FIRMWARE with the name in 7-bit pairs.
    expect(rx.bytes).toEqual([0xf9, 2, 5, 0xf0, 0x79, 2, 5, 83, 0, 105, 0, 109, 0, 0xf7]);
    rx.bytes.length = 0;
    b.write(Buffer.from([0xf0, FIRMATA.ANALOG_MAPPING_QUERY, 0xf7]));
    await settle();
    expect(rx.bytes).toEqual([0xf0, 0x6a, ...new Array(14).fill(0x7f), 0, 1, 2, 3, 4, 5, 0xf7]);
    rx.bytes.length = 0;
    b.write(Buffer.from([0xf4, 9, PIN_MODES.PWM, 0xe9, 0x7f, 0x01])); // pin 9 PWM 255
    expect(b.pins[9]).toEqual({ mode: PIN_MODES.PWM, value: 255 });
    b.write(Buffer.from([0xf0, FIRMATA.PIN_STATE_QUERY, 9, 0xf7]));
    await settle();
    expect(rx.bytes).toEqual([0xf0, 0x6e, 9, PIN_MODES.PWM, 0x7f, 0x01, 0xf7]);
    // Power-up modes, as StandardFirmata: digital pins OUTPUT, analog pins ANALOG.
    expect(b.pins[13]!.mode).toBe(PIN_MODES.OUTPUT);
    expect(b.pins[14]!.mode).toBe(PIN_MODES.ANALOG);
    expect(b.pins[0]!.mode).toBeUndefined();
    // A digital port write changes OUTPUT pins only.
    b.write(Buffer.from([0xf4, 12, PIN_MODES.PULLUP, 0x91, 0x20, 0x00]));
    expect(b.pins[13]!.value).toBe(1);
    expect(b.pins[12]!.value).toBe(1); // pulled up, not written
    // Split across writes, and extended analog for a high value (on a PWM pin: see below).
    b.write(Buffer.from([0xf4, 3, PIN_MODES.PWM, 0xf0, FIRMATA.EXTENDED_ANALOG, 3]));
    b.write(Buffer.from([0x00, 0x02, 0xf7]));
    expect(b.pins[3]!.value).toBe(256);
    // REPORT_DIGITAL answers with the levels of the port's input pins (12 pulled up, then pressed).
    rx.bytes.length = 0;
    b.write(Buffer.from([0xd1, 1]));
    await settle();
    expect(rx.bytes).toEqual([0x91, 0x10, 0x00]);
    rx.bytes.length = 0;
    b.write(Buffer.from([0xd1, 0])); // reporting off: a press is not reported until asked
    b.setInput(12, 0);
    b.write(Buffer.from([0xd1, 1]));
    await settle();
    expect(rx.bytes).toEqual([0x91, 0x00, 0x00]);
    b.write(Buffer.from([0xff]));
    expect(b.resets).toBe(1);
    expect(b.pins[13]).toEqual({ mode: PIN_MODES.OUTPUT, value: 0 });
  });

  it('ignores what StandardFirmata ignores: a mode the pin lacks, analog writes to non-PWM pins, pin writes to non-OUTPUT pins', async () => {
    // Taken, they let a test drive a board the way a real one never follows (an LED dimmed on pin
    // 13, a tone on an OUTPUT pin, a button "pressed" by the host).
    const b = new FirmataBoard();
    b.write(Buffer.from([0xf4, 13, PIN_MODES.PWM, 0xf4, 7, PIN_MODES.ANALOG, 0xf4, 1, PIN_MODES.OUTPUT, 0xf4, 14, PIN_MODES.PWM]));
    expect([b.pins[13]!.mode, b.pins[7]!.mode, b.pins[1]!.mode, b.pins[14]!.mode]).toEqual([PIN_MODES.OUTPUT, PIN_MODES.OUTPUT, undefined, PIN_MODES.ANALOG]);
    b.write(Buffer.from([0xed, 100, 0, 0xe3, 100, 0, 0xf0, FIRMATA.EXTENDED_ANALOG, 12, 5, 0xf7])); // 13, 3 (OUTPUT), 12: analog
    b.write(Buffer.from([0xf4, 4, PIN_MODES.INPUT, 0xf5, 4, 1, 0xf5, 14, 1])); // pin writes to INPUT 4 and ANALOG A0
    expect([b.pins[13]!.value, b.pins[3]!.value, b.pins[12]!.value, b.pins[4]!.value, b.pins[14]!.value]).toEqual([0, 0, 0, 0, 0]);
    expect(b.history.filter((e) => e.kind !== 'mode')).toEqual([]);
    // What the firmware does act on: PWM and SERVO writes, a pin write to an OUTPUT pin.
    b.write(Buffer.from([0xf4, 3, PIN_MODES.PWM, 0xe3, 100, 0, 0xf4, 6, PIN_MODES.SERVO, 0xe6, 0x5c, 0x0b, 0xf5, 13, 1]));
    expect([b.pins[3]!.value, b.pins[6]!.value, b.pins[13]!.value]).toEqual([100, 1500, 1]);
    // Through johnny-five's io: pinMode(13, PWM) then a write leaves the LED pin alone.
    const sim = new FirmataBoard();
    const io = new firmataIo.Firmata(sim) as InstanceType<typeof firmataIo.Firmata> & FirmataReads & { analogWrite(pin: number, v: number): void };
    await ready(io);
    io.pinMode(13, io.MODES.PWM!);
    io.analogWrite(13, 128);
    io.pinMode(9, io.MODES.PWM!);
    io.analogWrite(9, 128);
    await sim.waitFor((e) => e.pin === 9 && e.kind === 'analog');
    expect(sim.pins[13]).toEqual({ mode: PIN_MODES.OUTPUT, value: 0 });
    expect(sim.history.filter((e) => e.pin === 13)).toEqual([]);
    sim.end();
  });

  it('a pin set to PWM starts at 0, and back to OUTPUT starts low, as StandardFirmata\'s setPinModeCallback does', () => {
    // The simulator kept the previous level: a pin left high, then set to PWM, "sounded" in a test
    // while the real firmware writes analogWrite(pin, 0) (and digitalWrite(pin, LOW) leaving PWM).
    const b = new FirmataBoard();
    b.write(Buffer.from([0xf5, 9, 1])); // pin 9 (OUTPUT at power-up) high
    expect(b.pins[9]).toEqual({ mode: PIN_MODES.OUTPUT, value: 1 });
    const mark = b.history.length;
    b.write(Buffer.from([0xf4, 9, PIN_MODES.PWM]));
    expect(b.pins[9]).toEqual({ mode: PIN_MODES.PWM, value: 0 });
    b.write(Buffer.from([0xe9, 100, 0])); // PWM 100
    b.write(Buffer.from([0xf4, 9, PIN_MODES.OUTPUT]));
    expect(b.pins[9]).toEqual({ mode: PIN_MODES.OUTPUT, value: 0 });
    expect(b.history.slice(mark).map(({ kind, value }) => [kind, value])).toEqual([
      ['mode', PIN_MODES.PWM],
      ['analog', 0],
      ['analog', 100],
      ['mode', PIN_MODES.OUTPUT],
      ['digital', 0],
    ]);
    // OUTPUT to OUTPUT keeps the level (pinMode alone does not change it).
    b.write(Buffer.from([0xf5, 9, 1, 0xf4, 9, PIN_MODES.OUTPUT]));
    expect(b.pins[9]).toEqual({ mode: PIN_MODES.OUTPUT, value: 1 });
  });

  it('completes the firmata-io handshake as a bound transport class', async () => {
    const Firmata = firmataIo(FirmataBoard);
    const io = new Firmata('sim:uno');
    await ready(io);
    expect(io.firmware.name).toBe('StandardFirmata.ino');
    expect(io.pins.length).toBe(20);
    expect(io.pins[3]!.supportedModes).toContain(io.MODES.PWM);
    expect(io.pins[13]!.supportedModes).not.toContain(io.MODES.PWM);
    expect(io.pins[0]!.supportedModes).toEqual([]);
    expect(io.analogPins).toEqual([14, 15, 16, 17, 18, 19]);
  });

  it('drives an LED and a relay through johnny-five', async () => {
    const sim = new FirmataBoard();
    const io = new firmataIo.Firmata(sim);
    const board = new five.Board({ io, repl: false, debug: false, sigint: false });
    await ready(board);
    const led = new five.Led({ pin: 13, board });
    const relay = new five.Relay({ pin: 7, board, type: 'NO' });
    const pwm = new five.Led({ pin: 5, board });
    led.on();
    relay.close();
    pwm.brightness(128);
    await sim.waitFor((e) => e.pin === 13 && e.kind === 'digital' && e.value === 1);
    await sim.waitFor((e) => e.pin === 7 && e.kind === 'digital' && e.value === 1);
    await sim.waitFor((e) => e.pin === 5 && e.kind === 'analog' && e.value === 128);
    expect(sim.pins[13]!.mode).toBe(PIN_MODES.OUTPUT);
    expect(sim.pins[5]!.mode).toBe(PIN_MODES.PWM);
    led.off();
    relay.open();
    await sim.waitFor((e) => e.pin === 13 && e.value === 0);
    await sim.waitFor((e) => e.pin === 7 && e.value === 0);
    sim.end();
  });

  it('replies after the host\'s write() returns: firmata-io\'s digitalRead and analogRead get the first report', async () => {
    // firmata-io enables reporting, then adds its listener; a reply pushed inside the write reached
    // nobody, and the board reports analog inputs only when asked: analogRead never got a value.
    const sim = new FirmataBoard({ analogInputs: [512, 1023, 0, 0, 0, 0] });
    const io = new firmataIo.Firmata(sim) as InstanceType<typeof firmataIo.Firmata> & FirmataReads;
    await ready(io);
    io.pinMode(2, io.MODES.INPUT!);
    const analog = new Promise<number>((r) => io.analogRead(1, r));
    const digital = new Promise<number>((r) => io.digitalRead(2, r));
    await expect(Promise.all([analog, digital])).resolves.toEqual([1023, 0]);
    sim.end();
  });

  /** A johnny-five Button on the simulated board, its down/up events, and a wait for the n-th. */
  async function buttonOnBoard(pin: number, isPullup: boolean) {
    const sim = new FirmataBoard();
    const io = new firmataIo.Firmata(sim);
    const board = new five.Board({ io, repl: false, debug: false, sigint: false });
    await ready(board);
    const FiveButton = (five as unknown as { Button: new (o: { pin: number; board: unknown; isPullup: boolean }) => { on(ev: string, f: () => void): unknown; isDown: boolean } }).Button;
    const button = new FiveButton({ pin, board, isPullup });
    const events: string[] = [];
    button.on('down', () => events.push('down'));
    button.on('up', () => events.push('up'));
    const seen = (n: number) =>
      new Promise<void>((r) => {
        const check = () => (events.length >= n ? r() : setImmediate(check));
        check();
      });
    return { sim, button, events, seen };
  }

  it('reports a simulated button press and release to a johnny-five Button while reporting is on', async () => {
    const { sim, events, seen } = await buttonOnBoard(2, false);
    await new Promise((r) => setImmediate(r));
    sim.setInput(2, 1);
    await seen(1);
    sim.setInput(2, 0);
    await seen(2);
    expect(events).toEqual(['down', 'up']);
    sim.end();
  });

  it('a johnny-five pull-up Button (INPUT, then HIGH written) starts released; pulling the pin low presses it', async () => {
    const { sim, button, events, seen } = await buttonOnBoard(3, true);
    // Until the HIGH written after the pin's mode has reached the board (a hang guard of 2 s).
    const t0 = Date.now();
    while (sim.pins[3]!.value !== 1 && Date.now() - t0 < 2000) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); // any report it causes
    // The pull-up holds the pin high: released, no event (it read low and counted as pressed).
    expect(sim.pins[3]!.value).toBe(1);
    expect(button.isDown).toBe(false);
    expect(events).toEqual([]);
    sim.setInput(3, 0);
    await seen(1);
    sim.setInput(3, 1);
    await seen(2);
    expect(events).toEqual(['down', 'up']);
    sim.end();
  });
});

describe('servos as StandardFirmata drives them', () => {
  it("SERVO_CONFIG (a johnny-five Servo given pwmRange) attaches the servo: the pin turns SERVO and moves; A0-A5 take servos too", async () => {
    // StandardFirmata's SERVO_CONFIG attaches the servo and sets the pin to SERVO mode; the
    // simulator ignored it, so the pin stayed OUTPUT and every later servo write was dropped (a
    // Servo({pwmRange}) never moved). Its capability response gives SERVO to every digital pin
    // (2-19, the analog ones too); the simulator left A0-A5 out, and ignored Servo('A0').
    const raw = new FirmataBoard();
    raw.write(Buffer.from([0xf0, 0x70, 10, 600 & 0x7f, 600 >> 7, 2400 & 0x7f, 2400 >> 7, 0xf7, 0xea, 0x5c, 0x0b])); // config, then 1500 µs
    expect(raw.pins[10]).toEqual({ mode: PIN_MODES.SERVO, value: 1500 });
    raw.write(Buffer.from([0xf0, 0x70, 1, 0, 0, 0, 0, 0xf7])); // the serial pins have no servo
    expect(raw.pins[1]!.mode).toBeUndefined();
    expect(raw.capabilities(14).map(([m]) => m)).toContain(PIN_MODES.SERVO);
    const sim = new FirmataBoard();
    const io = new firmataIo.Firmata(sim);
    const board = new five.Board({ io, repl: false, debug: false, sigint: false });
    await ready(board);
    const FiveServo = (five as unknown as { Servo: new (o: { pin: number | string; board: unknown; pwmRange?: number[] }) => { to(deg: number): unknown } }).Servo;
    new FiveServo({ pin: 10, board, pwmRange: [600, 2400] }).to(45);
    new FiveServo({ pin: 'A0', board }).to(30);
    await sim.waitFor((e) => e.pin === 10 && e.kind === 'analog');
    await sim.waitFor((e) => e.pin === 14 && e.kind === 'analog');
    expect([sim.pins[10]!.mode, sim.pins[14]!.mode]).toEqual([PIN_MODES.SERVO, PIN_MODES.SERVO]);
    expect(sim.pins[10]!.value).toBe(1050); // 45° of 600..2400 µs
    sim.end();
  });
});

describe('a board that resets while the gateway runs (2026-11-27 review)', () => {
  it('restart() powers the pins up again and re-announces; the board sink sets its pin modes again: the piezo sounds at the next alert', async () => {
    const { createBoardSink } = await import('../../src/gateway/sinks.js');
    const { ManualClock } = await import('../../src/gateway/clock.js');
    const { memoryLogger } = await import('../../src/gateway/logger.js');
    const sim = new FirmataBoard();
    const seen = collect(sim);
    const clock = new ManualClock(0);
    const logger = memoryLogger('warn');
    const sink = await createBoardSink({ config: { alertMs: 1000, led: 13, piezo: 3, relay: 7 } as never, transport: sim, clock, logger, readyTimeoutMs: 5000 });
    sink.alert({ id: 'a' } as never);
    await sim.waitFor((e) => e.pin === 3 && e.kind === 'analog' && e.value > 0);
    clock.advance(1000);
    await settle();
    expect([sim.pins[13]!.value, sim.pins[3]!.value, sim.pins[7]!.value]).toEqual([0, 0, 0]);
    // The simulator's restart: power-up modes (the piezo's PWM pin back to OUTPUT), announced again.
    const before = seen.bytes.length;
    const events = sim.history.length;
    sim.restart();
    expect(sim.pins[3]).toEqual({ mode: PIN_MODES.OUTPUT, value: 0 });
    await settle();
    expect(seen.bytes.slice(before, before + 3)).toEqual([FIRMATA.REPORT_VERSION, 2, 5]);
    // The sink saw the announcement and set its pins up again (it left the piezo on OUTPUT, where
    // the firmware ignores PWM writes: silent at every later alert).
    for (let i = 0; i < 50 && !sim.history.some((e) => e.n >= events && e.pin === 3 && e.kind === 'mode'); i++) await settle();
    expect(sim.history.filter((e) => e.n >= events && e.kind === 'mode').map((e) => [e.pin, e.value])).toEqual([
      [13, PIN_MODES.OUTPUT],
      [3, PIN_MODES.PWM],
      [7, PIN_MODES.OUTPUT],
    ]);
    sink.alert({ id: 'b' } as never);
    await settle();
    expect(sim.pins[3]).toEqual({ mode: PIN_MODES.PWM, value: 128 });
    expect([sim.pins[13]!.value, sim.pins[7]!.value]).toEqual([1, 1]);
    expect(logger.lines.some((r) => r.msg === 'board reset: pin modes set again')).toBe(true);
    await sink.close();
    expect([sim.pins[13]!.value, sim.pins[3]!.value, sim.pins[7]!.value]).toEqual([0, 0, 0]);
  });
});
