/**
 * The gateway's view of MQTT (Node-only module): subscribe, publish (resolving on the broker's
 * acknowledgement), and three events. `mqttTransport` wraps MQTT.js; `TraceTransport` is an
 * in-memory stand-in that replay uses to feed recorded messages through the same pipeline.
 */
import fs from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import { EdgeRnnError } from '../errors.js';
import type { BrokerConfig } from './config.js';

export interface PublishOptions {
  /** 0: fire and forget; 1: resolved when the broker's PUBACK arrives (MQTT-4.3.2). */
  qos: 0 | 1;
  retain?: boolean;
}

export interface TransportHandlers {
  message(topic: string, payload: Uint8Array): void;
  connect(): void;
  close(): void;
}

export interface GatewayTransport {
  readonly connected: boolean;
  /** Connects (or starts delivering); handlers are called from then on. Resolves on the first connection. */
  start(h: TransportHandlers): Promise<void>;
  subscribe(filters: string[], qos: 0 | 1): Promise<void>;
  unsubscribe(filters: string[]): Promise<void>;
  /** Rejects with GATEWAY_TRANSPORT when the broker refuses (MQTT 5 reason code >= 0x80) or the client is closing. */
  publish(topic: string, payload: Uint8Array | string, opts: PublishOptions): Promise<void>;
  /** Closes; `force` drops what is in flight. */
  end(force?: boolean): Promise<void>;
}

/** MQTT topic matching (MQTT-4.7): '+' one level, '#' the rest; "$share/<group>/" is stripped from filters. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter.startsWith('$share/')) filter = filter.split('/').slice(2).join('/');
  const f = filter.split('/');
  const t = topic.split('/');
  // MQTT-4.7.2-1: wildcards at the first level do not match topics starting with '$'.
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface MqttTransportOptions {
  broker: BrokerConfig;
  /** The URL to connect to (the embedded broker's, or broker.url). */
  url: string;
  clientId: string;
  /** Last will: published by the broker if this client vanishes (MQTT-3.1.2-8). */
  will?: { topic: string; payload: string; retain: boolean };
  /** Persistent session (clean=false) so the broker queues QoS 1 messages while the gateway is away. */
  persistentSession?: boolean;
  /** Called with each connection error while waiting for the first connection (broker down...). */
  onWait?: (e: Error) => void;
  /**
   * Longest wait in end() for the PUBACKs in flight, and again for the broker to close the
   * connection after DISCONNECT (ms, default 2000); then the connection is dropped.
   */
  endTimeoutMs?: number;
  /** Longest wait for an UNSUBACK (ms, default 5000): then unsubscribe() rejects with GATEWAY_TRANSPORT. */
  unsubscribeTimeoutMs?: number;
}

/** MQTT refusals (bad credentials, not authorized, banned) and TLS failures: retrying will not help. */
export function isFatalConnectError(e: Error & { code?: number | string }): boolean {
  if (typeof e.code === 'number') return [4, 5, 134, 135, 138, 140].includes(e.code);
  if (typeof e.code !== 'string') return false;
  return (
    e.code.startsWith('ERR_SSL_') ||
    e.code.startsWith('ERR_TLS_') ||
    e.code.startsWith('CERT_') ||
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_OSSL_PEM_NO_START_LINE'].includes(e.code)
  );
}

/** MQTT.js client options from the broker config (TLS files are read here). */
export function mqttClientOptions(o: MqttTransportOptions): IClientOptions {
  const b = o.broker;
  const opts: IClientOptions = {
    clientId: o.clientId,
    protocolVersion: b.protocolVersion,
    keepalive: b.keepaliveS,
    reconnectPeriod: b.reconnectMs,
    connectTimeout: 30_000,
    clean: !o.persistentSession,
    resubscribe: true,
    // Metrics and dead letters are QoS 0: do not pile them up while offline.
    queueQoSZero: false,
    reconnectOnConnackError: true,
    rejectUnauthorized: b.rejectUnauthorized,
  };
  if (o.persistentSession && b.protocolVersion === 5) opts.properties = { sessionExpiryInterval: 3600 };
  if (b.username !== undefined) opts.username = b.username;
  if (b.password !== undefined) opts.password = b.password;
  const read = (f: string, what: string) => {
    try {
      return fs.readFileSync(f);
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_CONFIG', `broker.${what}: cannot read ${f}: ${(e as Error).message}`, { field: `broker.${what}` });
    }
  };
  if (b.ca !== undefined) opts.ca = read(b.ca, 'ca');
  if (b.cert !== undefined) opts.cert = read(b.cert, 'cert');
  if (b.key !== undefined) opts.key = read(b.key, 'key');
  if (o.will) opts.will = { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: o.will.retain };
  return opts;
}

export function mqttTransport(o: MqttTransportOptions): GatewayTransport & { readonly client: MqttClient | null } {
  let client: MqttClient | null = null;
  let ended = false;
  const t = {
    get client() {
      return client;
    },
    get connected() {
      return client?.connected === true;
    },
    async start(h: TransportHandlers): Promise<void> {
      // MQTT.js is imported here, not at the top: importing it costs ~110 ms, which commands
      // that never connect (edgernn info, run, --help) should not pay (test/gateway/lazy-imports.test.ts).
      const { connect } = await import('mqtt');
      // Ended while MQTT.js was loading: nothing to connect.
      if (ended) return;
      const c = connect(o.url, mqttClientOptions(o));
      client = c;
      c.on('message', (topic, payload) => h.message(topic, payload));
      c.on('close', () => h.close());
      return new Promise<void>((resolve, reject) => {
        let first = true;
        c.on('connect', () => {
          // Small packets (alerts, PUBACKs) must not wait for Nagle's algorithm to fill a segment
          // (tens of ms against delayed ACKs): TCP_NODELAY on every new connection.
          (c.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
          h.connect();
          if (first) {
            first = false;
            resolve();
          }
        });
        c.on('error', (e: Error & { code?: number | string }) => {
          if (!first) return; // later errors surface as close/reconnect
          // A broker that is down is waited for (the client retries); a refusal or a TLS
          // failure is a configuration problem: give up with the reason.
          if (isFatalConnectError(e)) {
            first = false;
            c.end(true);
            reject(new EdgeRnnError('GATEWAY_TRANSPORT', `broker ${o.url} refused the connection: ${e.message}${e.code !== undefined ? ` (${e.code})` : ''}`, { url: o.url, code: e.code }));
          } else o.onWait?.(e);
        });
      });
    },
    subscribe(filters: string[], qos: 0 | 1): Promise<void> {
      const c = client;
      if (!c || filters.length === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        c.subscribe(filters, { qos }, (err, granted) => {
          if (err) return reject(new EdgeRnnError('GATEWAY_TRANSPORT', `subscribe ${filters.join(', ')}: ${err.message}`));
          const bad = (granted ?? []).filter((g) => g.qos >= 0x80);
          if (bad.length) return reject(new EdgeRnnError('GATEWAY_TRANSPORT', `the broker refused the subscription ${bad.map((g) => g.topic).join(', ')} (reason code 0x${bad[0]!.qos.toString(16)})`));
          resolve();
        });
      });
    },
    unsubscribe(filters: string[]): Promise<void> {
      const c = client;
      // Offline, MQTT.js would hold the UNSUBSCRIBE until a reconnect that may never come (a
      // shutdown with the broker down hung here): a dropped connection takes nothing more anyway.
      if (!c || filters.length === 0 || !c.connected) return Promise.resolve();
      // Connected to a broker that stopped answering, the UNSUBACK never comes (stop() hung
      // here): given up after unsubscribeTimeoutMs.
      const limitMs = o.unsubscribeTimeoutMs ?? 5000;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new EdgeRnnError('GATEWAY_TRANSPORT', `unsubscribe ${filters.join(', ')}: no UNSUBACK within ${limitMs} ms`, { expected: 'UNSUBACK', got: 'nothing', timeoutMs: limitMs })), limitMs);
        c.unsubscribe(filters, (err) => {
          clearTimeout(timer);
          if (err) reject(new EdgeRnnError('GATEWAY_TRANSPORT', `unsubscribe: ${err.message}`));
          else resolve();
        });
      });
    },
    publish(topic: string, payload: Uint8Array | string, po: PublishOptions): Promise<void> {
      const c = client;
      if (!c || ended) return Promise.reject(new EdgeRnnError('GATEWAY_TRANSPORT', 'not connected'));
      return new Promise((resolve, reject) => {
        c.publish(topic, typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: po.qos, retain: po.retain ?? false }, (err) => {
          if (err) reject(new EdgeRnnError('GATEWAY_TRANSPORT', `publish to ${topic}: ${err.message}`, { topic, reasonCode: (err as { code?: number }).code }));
          else resolve();
        });
      });
    },
    async end(force = false): Promise<void> {
      ended = true;
      const c = client;
      if (!c) return;
      // Not connected: a graceful end would wait for PUBACKs of the QoS 1 messages stored
      // offline (alerts: they stay in the outbox), which only a reconnect could bring.
      // Connected, it waits for the PUBACKs in flight and for the broker to close the TCP
      // connection after DISCONNECT: a broker that stopped answering (frozen, overloaded, a
      // half-open link) gives neither, and stop() hung there. Both waits are bounded; what
      // was not acknowledged then is dropped (alerts stay in the outbox).
      const limitMs = o.endTimeoutMs ?? 2000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outgoing = () => Object.keys((c as unknown as { outgoing?: object }).outgoing ?? {}).length;
      try {
        if (!force && c.connected && outgoing() > 0) {
          await new Promise<void>((resolve) => {
            const done = () => {
              c.off('outgoingEmpty', done);
              c.off('close', done);
              clearTimeout(timer);
              resolve();
            };
            c.on('outgoingEmpty', done);
            c.on('close', done);
            timer = setTimeout(done, limitMs);
          });
        }
        const graceful = !force && c.connected && outgoing() === 0;
        await new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            // The DISCONNECT went nowhere: drop the connection (its 'close' ends the client).
            c.stream?.destroy();
            timer = setTimeout(resolve, 100);
          }, limitMs);
          c.end(!graceful, {}, () => resolve());
        });
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return t;
}

/**
 * An in-memory transport: `deliver()` hands a message to the gateway when it matches a
 * subscription; publishes are acknowledged at once and recorded.
 */
export class TraceTransport implements GatewayTransport {
  readonly published: Array<{ topic: string; payload: Uint8Array; qos: 0 | 1; retain: boolean }> = [];
  private readonly filters = new Set<string>();
  private h: TransportHandlers | null = null;
  /** Called for every publish (e.g. to stream alerts out as they come). */
  onPublish: ((topic: string, payload: Uint8Array) => void) | null = null;

  get connected(): boolean {
    return this.h !== null;
  }

  start(h: TransportHandlers): Promise<void> {
    this.h = h;
    h.connect();
    return Promise.resolve();
  }

  subscribe(filters: string[]): Promise<void> {
    for (const f of filters) this.filters.add(f);
    return Promise.resolve();
  }

  unsubscribe(filters: string[]): Promise<void> {
    for (const f of filters) this.filters.delete(f);
    return Promise.resolve();
  }

  /** Delivers a message if a subscription matches; returns whether it did. */
  deliver(topic: string, payload: Uint8Array): boolean {
    if (!this.h) return false;
    for (const f of this.filters) {
      if (topicMatches(f, topic)) {
        this.h.message(topic, payload);
        return true;
      }
    }
    return false;
  }

  publish(topic: string, payload: Uint8Array | string, opts: PublishOptions): Promise<void> {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload.slice();
    this.published.push({ topic, payload: bytes, qos: opts.qos, retain: opts.retain ?? false });
    this.onPublish?.(topic, bytes);
    return Promise.resolve();
  }

  end(): Promise<void> {
    this.h?.close();
    this.h = null;
    return Promise.resolve();
  }
}
