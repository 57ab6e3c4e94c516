/**
 * A broker that speaks MQTT 3.1.1 only (aedes at a URL, the gateway's own embedded broker, older
 * brokers) refuses the default MQTT 5 CONNECT ("Unacceptable protocol version"). Gateway.create
 * waited for it forever, warning at every retry; it fails at once with GATEWAY_TRANSPORT naming
 * broker.protocolVersion 4. Not a silent fall back to 3.1.1: with 3.1.1 a broker cannot refuse an
 * alert (a denied one is acknowledged and lost), which the operator must choose knowingly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/errors.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/gateway/broker.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { isFatalConnectError } from '../../src/gateway/transport.js';
import { imuGatewayConfig } from './fixtures.js';
import { createRuntime, type Model } from '../../src/index.js';
import { imuModelBytes } from './fixtures.js';

let broker: EmbeddedBroker;
let model: Model;
beforeAll(async () => {
  broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(async () => {
  await broker?.close();
  model?.dispose();
});

describe('MQTT 5 against a 3.1.1-only broker', () => {
  it('Gateway.create fails fast with GATEWAY_TRANSPORT hinting broker.protocolVersion 4', async () => {
    const config = imuGatewayConfig(broker.url, { stateDir: '' });
    expect(config.broker.protocolVersion).toBe(5);
    const logger = memoryLogger('warn');
    const ac = new AbortController();
    const created = Gateway.create({ config, models: { imu: model }, logger, signal: ac.signal });
    // It waited forever: stopped after the third "waiting for the broker" (reconnectMs 100).
    let settled = false;
    const guard = (async () => {
      while (!settled && logger.lines.filter((l) => l.msg === 'waiting for the broker').length < 3) await new Promise((r) => setTimeout(r, 20));
      ac.abort();
    })();
    const e = await created.then((gw) => gw.stop().then(() => null), (err: unknown) => err);
    settled = true;
    await guard;
    expect(isEdgeRnnError(e, 'GATEWAY_TRANSPORT')).toBe(true);
    expect((e as Error).message).toMatch(/Unacceptable protocol version/);
    expect((e as Error).message).toMatch(/broker\.protocolVersion: 4/);
    expect(logger.lines.filter((l) => l.msg === 'waiting for the broker')).toEqual([]);
  });

  it('with protocolVersion 4 it connects', async () => {
    const config = imuGatewayConfig(broker.url, { stateDir: '', broker: { url: broker.url, protocolVersion: 4 } });
    const gw = await Gateway.create({ config, models: { imu: model }, logger: memoryLogger('silent') });
    expect(gw.transport.connected).toBe(true);
    await gw.stop();
  });

  it('the MQTT 3.1.1 and MQTT 5 protocol refusals are fatal', () => {
    expect(isFatalConnectError(Object.assign(new Error('Connection refused: Unacceptable protocol version'), { code: 1 }))).toBe(true);
    expect(isFatalConnectError(Object.assign(new Error('Connection refused: Unsupported Protocol Version'), { code: 132 }))).toBe(true);
    expect(isFatalConnectError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
  });
});
