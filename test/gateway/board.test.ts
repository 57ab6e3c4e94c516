/** The board alert sink: an alert lights the LED, sounds the piezo (PWM) and closes the relay on a simulated Firmata board, for alertMs. */
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { createBoardSink } from '../../src/gateway/sinks.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { FirmataBoard, PIN_MODES } from '../../firmware-sim/firmata-board.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, oracleAlerts } from './fixtures.js';

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
});
