/**
 * `edgernn record` across a broker restart: it reconnects and subscribes again (messages
 * published after are recorded), and says the broker went away and came back. It was silent: a
 * broker back with other credentials refused it for hours while it went on "recording".
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/gateway/broker.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { parseTrace, recordTrace } from '../../src/gateway/trace.js';
import { connectClient, publishAsync, tmpDir, waitFor } from './fixtures.js';

const work = tmpDir();
const brokers: EmbeddedBroker[] = [];

afterAll(async () => {
  for (const b of brokers) await b.close().catch(() => {});
  fs.rmSync(work, { recursive: true, force: true });
});

describe('record: a broker restart', () => {
  it('says the broker was lost and is back, and records what is published after', async () => {
    const first = await startEmbeddedBroker();
    brokers.push(first);
    const cfg = parseGatewayConfig({ broker: { url: first.url, protocolVersion: 4, reconnectMs: 100 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
    const file = path.join(work, 'restart.ndjson');
    const events: string[] = [];
    let ready: () => void = () => {};
    const isReady = new Promise<void>((r) => (ready = r));
    let stopNow: () => void = () => {};
    const stop = new Promise<void>((r) => (stopNow = r));
    const done = recordTrace({ url: first.url, broker: cfg.broker, topics: ['edgernn/rs/+/imu'], file, stop, onReady: ready, onBroker: (e, m) => events.push(`${e}: ${m}`) });
    await isReady;
    let dev = await connectClient(first.url);
    await publishAsync(dev, 'edgernn/rs/d/imu', 'before');
    await waitFor(() => fs.readFileSync(file, 'utf8').includes('"edgernn/rs/d/imu"'), 'the first message recorded');
    dev.end(true);
    await first.close();
    await waitFor(() => events.some((e) => e.startsWith('lost: ')), 'the loss said');
    const second = await startEmbeddedBroker({ port: first.port });
    brokers.push(second);
    await waitFor(() => events.some((e) => e.startsWith('back: ')), 'the return said');
    // Subscribed again: aedes has the subscription once the SUBACK is out; a retry loop instead of a sleep.
    dev = await connectClient(second.url);
    let n = 0;
    await waitFor(() => {
      void publishAsync(dev, 'edgernn/rs/d/imu', `after-${n++}`);
      return fs.readFileSync(file, 'utf8').includes(Buffer.from('after-').toString('base64').slice(0, 8));
    }, 'a message after the restart recorded', 30_000, 100);
    dev.end(true);
    stopNow();
    await done;
    expect(events[0]).toMatch(/^lost: lost the broker mqtt:\/\/127\.0\.0\.1:\d+: reconnecting; messages published meanwhile are not recorded$/);
    expect(events.at(-1)).toMatch(/^back: reconnected to mqtt:\/\/127\.0\.0\.1:\d+ after \d+\.\d s: the trace has a gap there$/);
    const payloads = parseTrace(fs.readFileSync(file)).records.map((r) => Buffer.from(r.payload).toString());
    expect(payloads[0]).toBe('before');
    expect(payloads.slice(1).every((p) => p.startsWith('after-'))).toBe(true);
    expect(payloads.length).toBeGreaterThan(1);
  }, 40_000);
});
