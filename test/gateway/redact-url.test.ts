/**
 * A broker URL with a password in it (`--broker mqtt://user:secret@host:1883`) was printed as it
 * was given: on stdout (`connected to mqtt://user:secret@...`), in the `gateway started` and
 * `waiting for the broker` log lines (JSON lines that go to a log collector) and in the errors.
 * The password is now `***` wherever the URL is shown (`edgernn record` already left it out of
 * its trace header).
 */
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/errors.js';
import { startEmbeddedBroker } from '../../src/gateway/broker.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { redactUrl } from '../../src/gateway/transport.js';
import { imuGatewayConfig, imuModelAndGateways, waitFor } from './fixtures.js';

describe('broker URLs with a password', () => {
  const ctx = imuModelAndGateways();

  it('redactUrl hides the password, keeps the rest', () => {
    expect(redactUrl('mqtt://user:s3cret@broker:1883')).toBe('mqtt://user:***@broker:1883');
    expect(redactUrl('wss://user:p%40ss@broker/mqtt')).toBe('wss://user:***@broker/mqtt');
    expect(redactUrl('mqtts://broker:8883')).toBe('mqtts://broker:8883');
    expect(redactUrl('mqtt://user@broker')).toBe('mqtt://user@broker');
    expect(redactUrl('embedded')).toBe('embedded');
  });

  it('the gateway logs the URL without the password', { timeout: 30_000 }, async () => {
    const broker = await startEmbeddedBroker();
    try {
      const url = broker.url.replace('mqtt://', 'mqtt://user:s3cret@');
      const logger = memoryLogger('debug');
      const gw = await Gateway.create({ config: imuGatewayConfig(url, { site: 'pw', stateDir: '', broker: { url, protocolVersion: 4 } }), models: { imu: ctx.model }, logger });
      ctx.gateways.push(gw);
      const started = logger.lines.find((l) => l.msg === 'gateway started');
      expect(started?.broker).toBe(broker.url.replace('mqtt://', 'mqtt://user:***@'));
      await gw.stop();
      expect(JSON.stringify(logger.lines)).not.toContain('s3cret');
    } finally {
      await broker.close();
    }
  });

  it('nor while waiting for a broker that is down, nor in the error of a start that was stopped', { timeout: 30_000 }, async () => {
    const url = 'mqtt://user:s3cret@127.0.0.1:1';
    const logger = memoryLogger('debug');
    const stop = new AbortController();
    const started = Gateway.create({ config: imuGatewayConfig(url, { site: 'pw', stateDir: '' }), models: { imu: ctx.model }, logger, signal: stop.signal });
    await waitFor(() => logger.lines.some((l) => l.msg === 'waiting for the broker'), 'waiting for the broker', 10_000);
    stop.abort();
    const err = await started.catch((e: unknown) => e);
    expect(isEdgeRnnError(err, 'GATEWAY_STOPPED'), String(err)).toBe(true);
    expect((err as Error).message).toContain('mqtt://user:***@127.0.0.1:1');
    expect(JSON.stringify(logger.lines)).not.toContain('s3cret');
  });
});
