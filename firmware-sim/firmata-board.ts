/**
 * A simulated Arduino Uno running StandardFirmata 2.5, as a Duplex stream: write host bytes in,
 * read board bytes out. It answers enough of the Firmata protocol for firmata.js/johnny-five to
 * complete their handshake and drive pins, and records every pin change so tests can assert
 * what a person would see (an LED on, a piezo sounding, a relay closed).
 *
 *   const board = new FirmataBoard();
 *   const io = new (firmataIo(FirmataBoard))('sim');       // or: new firmataIo.Firmata(board)
 *
 * Protocol (firmata.org, protocol v2.6; MIDI-style messages and SysEx F0 ... F7):
 *   host -> board                                  board -> host
 *   F9                  REPORT_VERSION             F9 major minor
 *   F0 79 F7            QUERY_FIRMWARE             F0 79 major minor name(7-bit LSB/MSB pairs) F7
 *   F0 6B F7            CAPABILITY_QUERY           F0 6C {mode res}* 7F (per pin) F7
 *   F0 69 F7            ANALOG_MAPPING_QUERY       F0 6A channel|7F (per pin) F7
 *   F0 6D pin F7        PIN_STATE_QUERY            F0 6E pin mode state(7-bit, LSB first) F7
 *   F4 pin mode         SET_PIN_MODE
 *   9p lsb msb          DIGITAL_MESSAGE (port p: pins 8p..8p+7, bits 0-6 in lsb, bit 7 in msb)
 *   F5 pin value        SET_DIGITAL_PIN_VALUE
 *   Ep lsb msb          ANALOG_MESSAGE (analog/PWM write, pins 0-15, 14-bit value)
 *   F0 6F pin v.. F7    EXTENDED_ANALOG (any pin, 7-bit chunks LSB first)
 *   F0 70 pin min max F7  SERVO_CONFIG (pulse range, 14-bit each: the pin turns SERVO)
 *   Cc 0|1              REPORT_ANALOG              Ec lsb msb (the channel's simulated input)
 *   Dp 0|1              REPORT_DIGITAL             9p lsb msb (the port's levels; again at each setInput() change)
 *   F0 7A lsb msb F7    SAMPLING_INTERVAL
 *   FF                  SYSTEM_RESET
 * On open the board announces itself (REPORT_VERSION, then the firmware name), as a freshly
 * reset StandardFirmata does. Like StandardFirmata's systemResetCallback, pins 2-13 start as
 * OUTPUT (low) and A0-A5 as ANALOG; DIGITAL_MESSAGE and SET_DIGITAL_PIN_VALUE writes change
 * OUTPUT pins only, analog writes PWM and SERVO pins only, and a mode the pin lacks is ignored.
 * Like its setPinModeCallback, PWM mode starts at 0 and OUTPUT after PWM starts low.
 * `restart()` is the board resetting by itself while connected: power-up pins, announced again.
 */
import { Duplex } from 'node:stream';

export const FIRMATA = {
  REPORT_VERSION: 0xf9,
  START_SYSEX: 0xf0,
  END_SYSEX: 0xf7,
  QUERY_FIRMWARE: 0x79,
  CAPABILITY_QUERY: 0x6b,
  CAPABILITY_RESPONSE: 0x6c,
  ANALOG_MAPPING_QUERY: 0x69,
  ANALOG_MAPPING_RESPONSE: 0x6a,
  PIN_STATE_QUERY: 0x6d,
  PIN_STATE_RESPONSE: 0x6e,
  EXTENDED_ANALOG: 0x6f,
  SERVO_CONFIG: 0x70,
  SAMPLING_INTERVAL: 0x7a,
  STRING_DATA: 0x71,
  SET_PIN_MODE: 0xf4,
  SET_DIGITAL_PIN_VALUE: 0xf5,
  DIGITAL_MESSAGE: 0x90,
  ANALOG_MESSAGE: 0xe0,
  REPORT_ANALOG: 0xc0,
  REPORT_DIGITAL: 0xd0,
  SYSTEM_RESET: 0xff,
} as const;

/** Pin modes (Firmata). */
export const PIN_MODES = { INPUT: 0x00, OUTPUT: 0x01, ANALOG: 0x02, PWM: 0x03, SERVO: 0x04, PULLUP: 0x0b } as const;

export interface PinState {
  /** Current mode (undefined until set). */
  mode: number | undefined;
  /** Output level (digital 0/1) or analog/PWM value. */
  value: number;
}

export interface PinEvent {
  /** Order of arrival. */
  n: number;
  pin: number;
  kind: 'mode' | 'digital' | 'analog';
  value: number;
}

export interface FirmataBoardOptions {
  /** Firmware name announced (default "StandardFirmata.ino"). */
  firmwareName?: string;
  /** Protocol version announced (default 2.5). */
  version?: { major: number; minor: number };
  /** Simulated analog input per channel (A0..A5), 10-bit. */
  analogInputs?: number[];
}

/** StandardFirmata's power-up modes: serial pins none, digital OUTPUT, analog ANALOG. */
function defaultMode(pin: number): number | undefined {
  if (pin < 2) return undefined;
  return pin >= FIRST_ANALOG ? PIN_MODES.ANALOG : PIN_MODES.OUTPUT;
}

/** Arduino Uno: pins 0-19; 3, 5, 6, 9, 10, 11 have PWM; 14-19 are A0-A5; 0 and 1 are the serial port. */
const PWM_PINS = new Set([3, 5, 6, 9, 10, 11]);
const PIN_COUNT = 20;
const FIRST_ANALOG = 14;

export class FirmataBoard extends Duplex {
  readonly pins: PinState[];
  readonly history: PinEvent[] = [];
  samplingIntervalMs = 19;
  resets = 0;
  private readonly firmwareName: string;
  private readonly version: { major: number; minor: number };
  private readonly analogInputs: number[];
  private rx: number[] = [];
  private events = 0;
  /** Ports whose input levels are reported (REPORT_DIGITAL on). */
  private readonly reportedPorts = new Set<number>();
  /** INPUT pins whose pull-up a DIGITAL_MESSAGE turned on. */
  private readonly pulledUp = new Set<number>();
  /** 'open' emitted (someone listened). */
  private opened = false;

  /** (path, serialOptions) is the Transport constructor shape firmata-io binds; an options object works too. */
  constructor(pathOrOptions?: string | FirmataBoardOptions, _serialOptions?: unknown) {
    super();
    const o = typeof pathOrOptions === 'object' ? pathOrOptions : {};
    this.firmwareName = o.firmwareName ?? 'StandardFirmata.ino';
    this.version = o.version ?? { major: 2, minor: 5 };
    this.analogInputs = o.analogInputs ?? [0, 0, 0, 0, 0, 0];
    this.pins = Array.from({ length: PIN_COUNT }, (_, p) => ({ mode: defaultMode(p), value: 0 }));
    // A freshly reset board announces itself once the host opens the port: here, when someone
    // first listens for 'open' or 'data' (so a host that attaches later, e.g. after importing
    // its Firmata library on use, still sees 'open', which johnny-five waits for).
    const announce = (event: string | symbol): void => {
      if (event !== 'open' && event !== 'data') return;
      this.off('newListener', announce);
      process.nextTick(() => {
        this.opened = true;
        this.emit('open');
        this.sendVersion();
        this.sendFirmware();
      });
    };
    this.on('newListener', announce);
  }

  /**
   * Open and not yet ended or destroyed, as a serial port's isOpen: a host handed the board after
   * someone else listened (its 'open' and announcement gone) learns here that it is open already,
   * as it does from a SerialPort (the gateway's board sink does; firmata-io then asks for the version).
   */
  get isOpen(): boolean {
    return this.opened && !this.destroyed && !this.writableEnded;
  }

  /** Modes a pin supports, with resolution bits, in CAPABILITY_RESPONSE order. */
  capabilities(pin: number): Array<[mode: number, resolution: number]> {
    if (pin < 2) return [];
    const caps: Array<[number, number]> = [
      [PIN_MODES.INPUT, 1],
      [PIN_MODES.OUTPUT, 1],
      [PIN_MODES.PULLUP, 1],
    ];
    if (pin >= FIRST_ANALOG) caps.push([PIN_MODES.ANALOG, 10]);
    if (PWM_PINS.has(pin)) caps.push([PIN_MODES.PWM, 8]);
    // Every digital pin, A0-A5 too, as StandardFirmata answers (I2C on A4/A5 is not simulated).
    caps.push([PIN_MODES.SERVO, 14]);
    return caps;
  }

  /** Resolves when a pin event matching pred arrives (or already did, after `since`). */
  waitFor(pred: (e: PinEvent) => boolean, since = 0): Promise<PinEvent> {
    const seen = this.history.find((e) => e.n >= since && pred(e));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const on = (e: PinEvent) => {
        if (!pred(e)) return;
        this.off('pin', on);
        resolve(e);
      };
      this.on('pin', on);
    });
  }

  // ---- stream plumbing -------------------------------------------------------------------------

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    for (const b of chunk) this.byte(b);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    // After the replies already on their way (send()).
    process.nextTick(() => {
      this.push(null);
      cb();
    });
  }

  /**
   * Replies leave after the host's write() has returned, as over a serial line: pushed at once,
   * they reached the host inside its own write call, before it listened for them (firmata-io's
   * digitalRead/analogRead enable reporting, then add the listener: the first report was lost).
   */
  private send(bytes: number[]): void {
    process.nextTick(() => {
      if (!this.destroyed) this.push(Buffer.from(bytes));
    });
  }

  private record(pin: number, kind: PinEvent['kind'], value: number): void {
    const e: PinEvent = { n: this.events++, pin, kind, value };
    this.history.push(e);
    this.emit('pin', e);
  }

  // ---- parser: MIDI-style commands and SysEx --------------------------------------------------

  private byte(b: number): void {
    const rx = this.rx;
    if (rx.length === 0) {
      if (b === FIRMATA.REPORT_VERSION) return this.sendVersion();
      if (b === FIRMATA.SYSTEM_RESET) return this.systemReset();
      if (b < 0x80) return; // data byte without a command: out of sync, skip (as the firmware does)
      rx.push(b);
      return;
    }
    const cmd = rx[0]!;
    if (cmd === FIRMATA.START_SYSEX) {
      if (b === FIRMATA.END_SYSEX) {
        this.rx = [];
        this.sysex(rx.slice(1));
      } else rx.push(b);
      return;
    }
    if (b >= 0x80) {
      // A new command before the previous one finished: start over with it.
      this.rx = [];
      this.byte(b);
      return;
    }
    rx.push(b);
    const hi = cmd & 0xf0;
    // REPORT_ANALOG and REPORT_DIGITAL carry one data byte; the others two.
    const need = hi === FIRMATA.REPORT_ANALOG || hi === FIRMATA.REPORT_DIGITAL ? 2 : 3;
    if (rx.length < need) return;
    this.rx = [];
    const d1 = rx[1]!;
    const d2 = rx[2] ?? 0;
    if (cmd === FIRMATA.SET_PIN_MODE) this.setMode(d1, d2);
    else if (cmd === FIRMATA.SET_DIGITAL_PIN_VALUE) this.digitalWrite(d1, d2 ? 1 : 0);
    else if (hi === FIRMATA.DIGITAL_MESSAGE) this.digitalPort(cmd & 0x0f, d1 | ((d2 & 1) << 7));
    else if (hi === FIRMATA.ANALOG_MESSAGE) this.analogWrite(cmd & 0x0f, d1 | (d2 << 7));
    else if (hi === FIRMATA.REPORT_ANALOG) {
      const v = this.analogInputs[cmd & 0x0f] ?? 0;
      if (d1) this.send([FIRMATA.ANALOG_MESSAGE | (cmd & 0x0f), v & 0x7f, (v >> 7) & 0x7f]);
    } else if (hi === FIRMATA.REPORT_DIGITAL) {
      if (d1) {
        this.reportedPorts.add(cmd & 0x0f);
        this.sendPort(cmd & 0x0f);
      } else this.reportedPorts.delete(cmd & 0x0f);
    }
  }

  private sysex(data: number[]): void {
    const [cmd, ...rest] = data;
    switch (cmd) {
      case FIRMATA.QUERY_FIRMWARE:
        return this.sendFirmware();
      case FIRMATA.CAPABILITY_QUERY: {
        const out: number[] = [FIRMATA.START_SYSEX, FIRMATA.CAPABILITY_RESPONSE];
        for (let p = 0; p < PIN_COUNT; p++) {
          for (const [mode, res] of this.capabilities(p)) out.push(mode, res);
          out.push(0x7f);
        }
        out.push(FIRMATA.END_SYSEX);
        return this.send(out);
      }
      case FIRMATA.ANALOG_MAPPING_QUERY: {
        const out: number[] = [FIRMATA.START_SYSEX, FIRMATA.ANALOG_MAPPING_RESPONSE];
        for (let p = 0; p < PIN_COUNT; p++) out.push(p >= FIRST_ANALOG ? p - FIRST_ANALOG : 0x7f);
        out.push(FIRMATA.END_SYSEX);
        return this.send(out);
      }
      case FIRMATA.PIN_STATE_QUERY: {
        const pin = rest[0] ?? 0;
        const st = this.pins[pin];
        if (!st) return;
        const out = [FIRMATA.START_SYSEX, FIRMATA.PIN_STATE_RESPONSE, pin, st.mode ?? PIN_MODES.OUTPUT];
        let v = st.value;
        do {
          out.push(v & 0x7f);
          v >>= 7;
        } while (v > 0);
        out.push(FIRMATA.END_SYSEX);
        return this.send(out);
      }
      case FIRMATA.EXTENDED_ANALOG: {
        const [pin, ...bytes] = rest;
        let v = 0;
        bytes.forEach((x, i) => (v |= x << (7 * i)));
        return this.analogWrite(pin ?? 0, v);
      }
      case FIRMATA.SERVO_CONFIG:
        // StandardFirmata attaches the servo with this pulse range and sets the pin to SERVO:
        // johnny-five's Servo({pwmRange}) sends only this, then its writes (ignored on OUTPUT).
        if (rest.length >= 5) this.setMode(rest[0]!, PIN_MODES.SERVO);
        return;
      case FIRMATA.SAMPLING_INTERVAL:
        this.samplingIntervalMs = (rest[0] ?? 0) | ((rest[1] ?? 0) << 7);
        return;
      default:
        return; // STRING_DATA, I2C...: accepted, ignored
    }
  }

  // ---- pin behaviour ------------------------------------------------------------------------------

  private setMode(pin: number, mode: number): void {
    const st = this.pins[pin];
    // A mode the pin does not have (PWM on 13, ANALOG on 7, anything on the serial pins) is
    // ignored, as StandardFirmata's setPinModeCallback does: taken, it let a test drive what the
    // real board never does.
    if (!st || !this.capabilities(pin).some(([m]) => m === mode)) return;
    const was = st.mode;
    st.mode = mode;
    // A pull-up input reads high until something pulls it down.
    this.pulledUp.delete(pin);
    if (mode === PIN_MODES.PULLUP) st.value = 1;
    else if (mode === PIN_MODES.INPUT) st.value = 0;
    this.record(pin, 'mode', mode);
    // StandardFirmata's setPinModeCallback: PWM starts with analogWrite(pin, 0), and OUTPUT after
    // PWM with digitalWrite(pin, LOW). The level used to stay, so a pin left high "sounded" in PWM.
    if (mode === PIN_MODES.PWM && st.value !== 0) {
      st.value = 0;
      this.record(pin, 'analog', 0);
    } else if (mode === PIN_MODES.OUTPUT && was === PIN_MODES.PWM && st.value !== 0) {
      st.value = 0;
      this.record(pin, 'digital', 0);
    }
  }

  /** SET_DIGITAL_PIN_VALUE: OUTPUT pins only, as StandardFirmata's setPinValueCallback. */
  private digitalWrite(pin: number, v: number): void {
    const st = this.pins[pin];
    if (!st || st.mode !== PIN_MODES.OUTPUT || st.value === v) return;
    st.value = v;
    this.record(pin, 'digital', v);
  }

  /**
   * DIGITAL_MESSAGE: the levels of 8 pins. OUTPUT pins take them; on an INPUT pin a 1 turns the
   * pull-up on, as StandardFirmata does (johnny-five's Button({isPullup: true}) writes HIGH to its
   * input pin): it then reads high until something pulls it down (setInput).
   */
  private digitalPort(port: number, bits: number): void {
    for (let i = 0; i < 8; i++) {
      const pin = port * 8 + i;
      const st = this.pins[pin];
      const bit = (bits >> i) & 1;
      if (st?.mode === PIN_MODES.INPUT) {
        if (bit && !this.pulledUp.has(pin)) {
          this.pulledUp.add(pin);
          this.setInput(pin, 1);
        } else if (!bit) this.pulledUp.delete(pin);
        continue;
      }
      if (!st || st.mode !== PIN_MODES.OUTPUT) continue;
      this.digitalWrite(pin, bit);
    }
  }

  /** ANALOG_MESSAGE, EXTENDED_ANALOG: PWM and SERVO pins only, as StandardFirmata's analogWriteCallback (an OUTPUT pin stays as it is). */
  private analogWrite(pin: number, v: number): void {
    const st = this.pins[pin];
    if (!st || (st.mode !== PIN_MODES.PWM && st.mode !== PIN_MODES.SERVO)) return;
    st.value = v;
    this.record(pin, 'analog', v);
  }

  /**
   * The board resets by itself (a brown-out, its watchdog, the USB port re-enumerated): the pins
   * as at power-up, and it announces itself again (REPORT_VERSION, then the firmware name), as
   * StandardFirmata's setup() does; the host's connection stays.
   */
  restart(): void {
    this.systemReset();
    this.sendVersion();
    this.sendFirmware();
  }

  /** Simulates a level on an input pin (a button): a change is reported while its port's REPORT_DIGITAL is on, as StandardFirmata's loop does. */
  setInput(pin: number, level: 0 | 1): void {
    const st = this.pins[pin];
    if (!st || (st.mode !== PIN_MODES.INPUT && st.mode !== PIN_MODES.PULLUP) || st.value === level) return;
    st.value = level;
    const port = pin >> 3;
    if (this.reportedPorts.has(port)) this.sendPort(port);
  }

  /** The levels of a port's INPUT and PULLUP pins (what StandardFirmata's readPort reports). */
  private sendPort(port: number): void {
    let bits = 0;
    for (let i = 0; i < 8; i++) {
      const st = this.pins[port * 8 + i];
      if (st && (st.mode === PIN_MODES.INPUT || st.mode === PIN_MODES.PULLUP) && st.value) bits |= 1 << i;
    }
    this.send([FIRMATA.DIGITAL_MESSAGE | port, bits & 0x7f, (bits >> 7) & 0x7f]);
  }

  private sendVersion(): void {
    this.send([FIRMATA.REPORT_VERSION, this.version.major, this.version.minor]);
  }

  private sendFirmware(): void {
    const out = [FIRMATA.START_SYSEX, FIRMATA.QUERY_FIRMWARE, this.version.major, this.version.minor];
    for (const ch of Buffer.from(this.firmwareName, 'ascii')) out.push(ch & 0x7f, (ch >> 7) & 0x7f);
    out.push(FIRMATA.END_SYSEX);
    this.send(out);
  }

  private systemReset(): void {
    this.resets++;
    this.reportedPorts.clear();
    this.pulledUp.clear();
    this.pins.forEach((p, i) => {
      p.mode = defaultMode(i);
      p.value = 0;
    });
  }
}
