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
    expect(rx.bytes).toEqual([0xf0, 0x6a, ...new Array(14).fill(0x7f), 0, 1, 2, 3, 4, 5, 0xf7]);
    rx.bytes.length = 0;
    b.write(Buffer.from([0xf4, 9, PIN_MODES.PWM, 0xe9, 0x7f, 0x01])); // pin 9 PWM 255
    expect(b.pins[9]).toEqual({ mode: PIN_MODES.PWM, value: 255 });
    b.write(Buffer.from([0xf0, FIRMATA.PIN_STATE_QUERY, 9, 0xf7]));
    expect(rx.bytes).toEqual([0xf0, 0x6e, 9, PIN_MODES.PWM, 0x7f, 0x01, 0xf7]);
    // Power-up modes, as StandardFirmata: digital pins OUTPUT, analog pins ANALOG.
    expect(b.pins[13]!.mode).toBe(PIN_MODES.OUTPUT);
    expect(b.pins[14]!.mode).toBe(PIN_MODES.ANALOG);
    expect(b.pins[0]!.mode).toBeUndefined();
    // A digital port write changes OUTPUT pins only.
    b.write(Buffer.from([0xf4, 12, PIN_MODES.PULLUP, 0x91, 0x20, 0x00]));
    expect(b.pins[13]!.value).toBe(1);
    expect(b.pins[12]!.value).toBe(1); // pulled up, not written
    // Split across writes, and extended analog for a high value.
    b.write(Buffer.from([0xf0, FIRMATA.EXTENDED_ANALOG, 3]));
    b.write(Buffer.from([0x00, 0x02, 0xf7]));
    expect(b.pins[3]!.value).toBe(256);
    // REPORT_DIGITAL answers with the levels of the port's input pins (12 pulled up, then pressed).
    rx.bytes.length = 0;
    b.write(Buffer.from([0xd1, 1]));
    expect(rx.bytes).toEqual([0x91, 0x10, 0x00]);
    b.setInput(12, 0);
    rx.bytes.length = 0;
    b.write(Buffer.from([0xd1, 1]));
    expect(rx.bytes).toEqual([0x91, 0x00, 0x00]);
    b.write(Buffer.from([0xff]));
    expect(b.resets).toBe(1);
    expect(b.pins[13]).toEqual({ mode: PIN_MODES.OUTPUT, value: 0 });
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
});
