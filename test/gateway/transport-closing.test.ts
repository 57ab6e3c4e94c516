/**
 * The MQTT transport while it closes. Stopping under load with a persistent session, MQTT.js
 * tried to PUBACK a QoS 1 message that arrived after end() began, failed with "write after end",
 * and the transport reported it as a connection problem: the gateway logged "waiting for the
 * broker" in the middle of a clean stop. Errors after end() are not reported now.
 */
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/gateway/broker.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { mqttTransport } from '../../src/gateway/transport.js';

describe('mqttTransport while it closes', () => {
  it('a client error while the transport closes is not "waiting for the broker" (a PUBACK written after end, at a stop under load)', { timeout: 20_000 }, async () => {
    const broker = await startEmbeddedBroker();
    const { broker: cfg } = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'm.ern' }, routes: [{ sensor: 's', model: 'm' }] });
    const waits: string[] = [];
    const t = mqttTransport({ broker: cfg, url: broker.url, clientId: 'closing', endTimeoutMs: 500, onWait: (e) => waits.push(e.message) });
    try {
      await t.start({ message() {}, connect() {}, close() {} });
      const client = t.client!;
      await t.end();
      client.emit('error', Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' }));
      expect(waits).toEqual([]);
    } finally {
      await broker.close();
    }
  });
});
