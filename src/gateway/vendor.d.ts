// Minimal types for the parts of johnny-five and firmata-io the gateway uses (neither ships types).
declare module 'firmata-io' {
  import type { EventEmitter } from 'node:events';
  interface FirmataBoard extends EventEmitter {
    isReady: boolean;
    pins: Array<{ supportedModes: number[]; mode?: number; value?: number; analogChannel: number }>;
    analogPins: number[];
    MODES: Record<string, number>;
    firmware: { name?: string; version?: { major: number; minor: number } };
    transport: unknown;
    pending: number;
    reset(): void;
  }
  interface FirmataClass {
    new (port: unknown, options?: Record<string, unknown>, callback?: (err?: Error) => void): FirmataBoard;
  }
  /** Binds a transport class; returns the Firmata class. */
  function bindTransport(transport: unknown): FirmataClass;
  namespace bindTransport {
    const Firmata: FirmataClass;
  }
  export default bindTransport;
}

declare module 'johnny-five' {
  import type { EventEmitter } from 'node:events';
  export interface BoardOptions {
    io?: unknown;
    port?: string;
    repl?: boolean;
    debug?: boolean;
    sigint?: boolean;
    timeout?: number;
  }
  export class Board extends EventEmitter {
    constructor(opts?: BoardOptions);
    /** Every Board constructed (johnny-five's own list, where components look up their board): the array itself. */
    static readonly cache: Board[];
    isReady: boolean;
    io: unknown;
  }
  export class Led {
    constructor(opts: number | { pin: number; board?: Board });
    on(): this;
    off(): this;
    brightness(v: number): this;
    stop(): this;
  }
  export class Relay {
    constructor(opts: number | { pin: number; board?: Board; type?: 'NO' | 'NC' });
    open(): this;
    close(): this;
  }
  export class Piezo {
    constructor(opts: number | { pin: number; board?: Board });
    frequency(hz: number, ms: number): this;
    off(): this;
  }
  const five: { Board: typeof Board; Led: typeof Led; Relay: typeof Relay; Piezo: typeof Piezo };
  export default five;
}
