/**
 * Reading is bounded per event-loop turn. MQTT.js parses what the socket has and hands every
 * packet over in one chain of process.nextTick calls: under a backlog one turn handled megabytes
 * of messages (decode and front end each), and timers (the stepping rounds, stepBudgetMs 20)
 * waited 0.7–1.05 s (event_loop_delay_seconds p99, 50 microphones at 8x real time on kws.ern).
 * The transport now lets the event loop turn after READ_TURN_BYTES of payloads or
 * READ_TURN_MESSAGES messages. Counted in messages per turn, not times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { mqttTransport, READ_TURN_BYTES, READ_TURN_MESSAGES } from '../../src/gateway/transport.js';
import { connectClient, type Mosquitto, mosquittoAvailable, startMosquitto, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/read-turns.test.ts skipped: ${SKIP}`);

describe.skipIf(SKIP)('reading under a backlog (mosquitto)', () => {
  let mq!: Mosquitto;
  beforeAll(async () => {
    mq = await startMosquitto('allow_anonymous true\nmax_queued_messages 0');
  });
  afterAll(async () => {
    await mq?.stop();
  });

  it(`lets the event loop turn after ${READ_TURN_BYTES} bytes or ${READ_TURN_MESSAGES} messages of a backlog`, { timeout: 60_000 }, async () => {
    const MESSAGES = 3000;
    const BYTES = 1000;
    const broker = parseGatewayConfig({ models: { m: 'm.ern' }, routes: [{ sensor: 's', model: 'm' }], broker: { url: mq.url } }).broker;
    const t = mqttTransport({ broker, url: mq.url, clientId: 'read-turns' });
    // The event loop's turns, counted by a setImmediate that re-arms itself (once per turn).
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const perTurn = new Map<number, number>();
    let got = 0;
    let blocked = false;
    await t.start({
      message: () => {
        got++;
        perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
        // The first message holds the loop while the rest piles up in the socket: a backlog.
        if (!blocked) {
          blocked = true;
          const until = performance.now() + 500;
          while (performance.now() < until);
        }
      },
      connect: () => {},
      close: () => {},
    });
    const dev = await connectClient(mq.url, { clientId: 'read-turns-dev' });
    try {
      await t.subscribe(['flood/#'], 0);
      const payload = Buffer.alloc(BYTES, 1);
      for (let i = 0; i < MESSAGES; i++) dev.publish('flood/x', payload, { qos: 0 });
      await waitFor(() => got >= MESSAGES, 'every message', 50_000);
      const most = Math.max(...perTurn.values());
      expect(most).toBeLessThanOrEqual(Math.min(READ_TURN_MESSAGES, Math.ceil(READ_TURN_BYTES / BYTES)) + 1);
    } finally {
      ticking = false;
      dev.end(true);
      await t.end();
    }
  });
});
