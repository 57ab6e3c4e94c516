/**
 * Payloads from devices the gateway does not control, meant to take it down for every other
 * device: a CSV cell whose regular expression backtracked quadratically (one 64 KiB payload held
 * the event loop for 8 s; 1 MiB under a raised limits.maxPayloadBytes, half an hour), and JSON
 * nested so deep that describing it in the error overflowed the stack (a RangeError, not a dead
 * letter: logged as a handler failure with a stack trace, once per message).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/errors.js';
import { decodeCsv, decodeJson, encodeCsv, encodeJson } from '../../src/gateway/codecs.js';
import { Gateway, type DeadLetter } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, imuGatewayConfig, imuModelBrokerAndGateways, imuSignal, publishAsync, waitFor } from './fixtures.js';

const OPTS = { channels: IMU_CHANNELS, int16Scale: 1 / 32768, maxSamples: 1 << 16 };

/** A CSV line whose first cell is `digits` digits and an "x": the worst case of a backtracking number pattern. */
function csvRunOfDigits(digits: number): Uint8Array {
  return new TextEncoder().encode(`${'1'.repeat(digits)}x,0,0,0,0,0\n`);
}

/** `{"values":[0, [[[…0…]]]]}`: a flat list whose second value is a list nested `depth` deep. */
function jsonNested(depth: number): Uint8Array {
  return new TextEncoder().encode(`{"values":[0,${'['.repeat(depth)}0${']'.repeat(depth)},0,0,0,0]}`);
}

describe('untrusted payloads: the codecs', () => {
  it('refuses a CSV cell of a million digits and a letter in linear time (it backtracked quadratically)', { timeout: 60_000 }, async () => {
    // In a child process: a backtracking regular expression cannot be interrupted in this one, so
    // without the fix this test would hold the worker for half an hour. The 30 s are a safety
    // net for a run that takes milliseconds, not a measurement.
    const codecs = path.resolve(import.meta.dirname, '../../src/gateway/codecs.ts');
    const code = `
      import { decodeCsv } from ${JSON.stringify(codecs)};
      const line = '1'.repeat(1 << 20) + 'x,0,0,0,0,0';
      try { decodeCsv(new TextEncoder().encode(line), { channels: 6, int16Scale: 1, maxSamples: 10 }); process.stdout.write('decoded'); }
      catch (e) { process.stdout.write(e.code + ': ' + e.message.slice(0, 60)); }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const exit = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(killer);
    expect([exit, stdout]).toEqual([0, `PAYLOAD_DECODE: CSV sample 0 value 0 is not a decimal number: "${'1'.repeat(13)}`]);
  });

  it('still reads every decimal form the CSV codec took', () => {
    const b = decodeCsv(new TextEncoder().encode('1,-2.,+.5,3.25e2,-Infinity,1E-3\n'), OPTS);
    expect(Array.from(b.values)).toEqual([1, -2, 0.5, 325, -Infinity, Math.fround(1e-3)]);
    for (const cell of ['1.2.3', '.', 'e5', '1e', '0x10', '1_0', '..5']) {
      const err = (() => {
        try {
          return decodeCsv(new TextEncoder().encode(`${cell},0,0,0,0,0\n`), OPTS);
        } catch (e) {
          return e;
        }
      })();
      expect(isEdgeRnnError(err, 'PAYLOAD_DECODE'), cell).toBe(true);
    }
  });

  it('refuses JSON nested 30,000 deep with PAYLOAD_DECODE, not a RangeError from describing it', () => {
    let err: unknown;
    try {
      decodeJson(jsonNested(30_000), OPTS);
    } catch (e) {
      err = e;
    }
    expect(isEdgeRnnError(err, 'PAYLOAD_DECODE'), String(err)).toBe(true);
    expect((err as Error).message).toBe('value 1 must be a number or null, got a list nested too deep to show');
    // "values" itself, and a top-level object that is not a list of samples.
    for (const text of [`{"values":${'{"a":'.repeat(30_000)}0${'}'.repeat(30_000)}}`, `[0,${'['.repeat(30_000)}${']'.repeat(30_000)}]`]) {
      let e2: unknown;
      try {
        decodeJson(new TextEncoder().encode(text), OPTS);
      } catch (e) {
        e2 = e;
      }
      expect(isEdgeRnnError(e2, 'PAYLOAD_DECODE'), String(e2)).toBe(true);
    }
  });
});

describe('untrusted payloads: a real gateway on the embedded broker', () => {
  const ctx = imuModelBrokerAndGateways();

  it('dead-letters a deeply nested JSON payload and a 64 KiB CSV run of digits, and keeps serving the other devices', { timeout: 60_000 }, async () => {
    const config = imuGatewayConfig(ctx.broker.url, {
      site: 'untrusted',
      stateDir: '',
      broker: { url: ctx.broker.url, protocolVersion: 4 },
      routes: [
        { sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR },
        { sensor: 'imucsv', model: 'imu', codec: 'csv', detector: IMU_DETECTOR },
      ],
    });
    const logger = memoryLogger('warn');
    const gw = await Gateway.create({ config, models: { imu: ctx.model }, logger, stateStore: memoryStateStore() });
    ctx.gateways.push(gw);
    const dead: DeadLetter[] = [];
    gw.on('deadLetter', (d) => dead.push(d));
    const dev = await connectClient(ctx.broker.url);
    ctx.clients.push(dev);
    const limit = config.limits.maxPayloadBytes;
    const deep = jsonNested(Math.floor((limit - 40) / 2));
    const digits = csvRunOfDigits(limit - 20);
    expect(deep.length).toBeLessThanOrEqual(limit);
    expect(digits.length).toBeLessThanOrEqual(limit);
    await publishAsync(dev, gw.topics.sensor('evil-1', 'imu'), deep);
    await publishAsync(dev, gw.topics.sensor('evil-2', 'imucsv'), digits);
    const x = imuSignal(10, 1);
    await publishAsync(dev, gw.topics.sensor('good-1', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
    await publishAsync(dev, gw.topics.sensor('good-2', 'imucsv'), encodeCsv(x, IMU_CHANNELS, { seq: 0 }));
    await waitFor(() => dead.length === 2 && gw.metrics.counters.frames_total === 20, 'two dead letters and 20 frames stepped');
    expect(dead.map((d) => [d.topic, d.code])).toEqual([
      [gw.topics.sensor('evil-1', 'imu'), 'PAYLOAD_DECODE'],
      [gw.topics.sensor('evil-2', 'imucsv'), 'PAYLOAD_DECODE'],
    ]);
    expect(gw.metrics.counters.decode_errors_total).toBe(2);
    expect(logger.lines.filter((l) => l.msg === 'message handler failed')).toEqual([]);
    expect([...gw.streams.keys()].sort()).toEqual(['good-1/imu', 'good-2/imucsv']);
  });
});
