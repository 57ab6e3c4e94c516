/**
 * The gateway's view of MQTT (Node-only module): subscribe, publish (resolving on the broker's
 * acknowledgement), and three events. `mqttTransport` wraps MQTT.js; `TraceTransport` is an
 * in-memory stand-in that replay uses to feed recorded messages through the same pipeline.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import { EdgeRnnError } from '../errors.js';
import type { BrokerConfig } from './config.js';
import { MAX_TOPIC_BYTES } from './topics.js';

export interface PublishOptions {
  /** 0: fire and forget; 1: resolved when the broker's PUBACK arrives (MQTT-4.3.2). */
  qos: 0 | 1;
  retain?: boolean;
}

export interface TransportHandlers {
  /**
   * `retained`: the broker sent it from its retained store because of a new subscription (the
   * RETAIN flag, MQTT-3.3.1-9; a live message arrives with it cleared), so it is old news.
   */
  message(topic: string, payload: Uint8Array, retained?: boolean): void;
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
  /**
   * The largest payload one QoS 1 PUBLISH on `topic` may carry, when the broker said (MQTT 5
   * Maximum Packet Size, MQTT-3.2.2.3.6); undefined when it did not (MQTT 3.1.1, or no limit).
   */
  maxPayloadBytes?(topic: string): number | undefined;
}

/** Bytes of a PUBLISH (MQTT-3.3): fixed header, topic, packet id (QoS 1), properties (MQTT 5: none), payload. */
export function publishPacketBytes(topic: string, payloadBytes: number, qos: 0 | 1, protocolVersion: 4 | 5): number {
  const remaining = 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + (protocolVersion === 5 ? 1 : 0) + payloadBytes;
  // The remaining length is a variable byte integer (MQTT-1.5.5): 7 bits per byte.
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

/**
 * The URL as it may be printed and logged: a password in it (`mqtt://user:secret@host`) becomes
 * `***`. The gateway printed and logged the URL as given, password included.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
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
  /**
   * Called with each connection error while waiting for the first connection (broker down...);
   * after it, while MQTT.js reconnects, once per new reason until connected again.
   */
  onWait?: (e: Error) => void;
  /**
   * Longest wait in end() for the PUBACKs in flight, and again for the broker to close the
   * connection after DISCONNECT (ms, default 2000); then the connection is dropped.
   */
  endTimeoutMs?: number;
  /** Longest wait for an UNSUBACK (ms, default 5000): then unsubscribe() rejects with GATEWAY_TRANSPORT. */
  unsubscribeTimeoutMs?: number;
}

/** CONNACK codes of a broker that does not speak our MQTT version: 1 (MQTT 3.1.1), 0x84 (MQTT 5). */
const PROTOCOL_REFUSED = [1, 0x84];

/**
 * MQTT refusals (protocol version, bad credentials, not authorized, banned) and TLS failures:
 * retrying will not help.
 */
export function isFatalConnectError(e: Error & { code?: number | string }): boolean {
  if (typeof e.code === 'number') return [...PROTOCOL_REFUSED, 4, 5, 134, 135, 138, 140].includes(e.code);
  if (typeof e.code !== 'string') return false;
  return (
    e.code.startsWith('ERR_SSL_') ||
    e.code.startsWith('ERR_TLS_') ||
    e.code.startsWith('CERT_') ||
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_OSSL_PEM_NO_START_LINE'].includes(e.code)
  );
}

/** @internal MQTT.js client options from the broker config (TLS files are read here). */
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
  if (b.ca !== undefined) {
    opts.ca = read(b.ca, 'ca');
    pemCertificates(opts.ca, b.ca, 'ca');
  }
  let leaf: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (b.cert !== undefined) {
    opts.cert = read(b.cert, 'cert');
    leaf = pemCertificates(opts.cert, b.cert, 'cert')[0];
  }
  if (b.key !== undefined) {
    opts.key = read(b.key, 'key');
    key = privateKey(opts.key, b.key);
  }
  if (leaf && key) checkKeyPair(leaf, key, b.cert!, b.key!);
  if (o.will) opts.will = { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: o.will.retain };
  return opts;
}

/*
 * TLS files are checked when read, so that a wrong one is named: Node ignored a CA file without a
 * certificate (the server's certificate then failed to verify, the file never named), and a
 * certificate given as the key, or the key of another certificate, came out of OpenSSL as "DECODER
 * routines::unsupported" or "key values mismatch": untyped over mqtts, and over wss taken for a
 * broker that is down and retried for ever.
 */

/** What a file holds, for an error message: its PEM block labels, or that it has none. */
function pemContents(text: string): string {
  const labels = [...new Set([...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!))];
  return labels.length ? labels.map((l) => `a ${l}`).join(', ') : 'no PEM block (DER? convert it with openssl x509 -inform der)';
}

/** The PEM certificates of a CA bundle or a certificate chain (at least one, each parsed). */
function pemCertificates(bytes: Buffer, file: string, what: 'ca' | 'cert'): X509Certificate[] {
  const text = bytes.toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const expected = 'a PEM certificate (-----BEGIN CERTIFICATE-----)';
  if (blocks.length === 0) {
    const got = pemContents(text);
    throw new EdgeRnnError('GATEWAY_CONFIG', `broker.${what}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----), got ${got}`, { field: `broker.${what}`, file, expected, got });
  }
  return blocks.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_CONFIG', `broker.${what}: certificate ${i + 1} of ${blocks.length} in ${file} cannot be read: ${(e as Error).message}`, { field: `broker.${what}`, file });
    }
  });
}

function privateKey(bytes: Buffer, file: string): KeyObject {
  try {
    return createPrivateKey(bytes);
  } catch (e) {
    const text = bytes.toString('latin1');
    const expected = 'an unencrypted PEM private key';
    const got = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text) ? `a key that cannot be read (${(e as Error).message})` : pemContents(text);
    throw new EdgeRnnError('GATEWAY_CONFIG', `broker.key: ${file} holds no private key that can be used (${expected}), got ${got}`, { field: 'broker.key', file, expected, got });
  }
}

function checkKeyPair(cert: X509Certificate, key: KeyObject, certFile: string, keyFile: string): void {
  if (cert.checkPrivateKey(key)) return;
  throw new EdgeRnnError('GATEWAY_CONFIG', `broker.key: the key in ${keyFile} is not the key of the certificate in ${certFile} (broker.cert, subject ${cert.subject.replace(/\n/g, ', ')})`, {
    field: 'broker.key',
    file: keyFile,
    certificate: certFile,
  });
}

/**
 * MQTT keepalive for a gateway with more sensor data than CPU. It reads the broker's backlog more
 * slowly than it comes, and the PINGRESP to its PINGREQ waits behind that backlog. MQTT.js counts
 * only a PINGRESP or an acknowledgement as an answer and closed the connection itself
 * (`Keepalive timeout`) when none came within keepalive/2 of its PINGREQ: the gateway dropped
 * its connection while messages were still arriving (50 microphones at 8x real time on
 * models/kws.ern, keepalive 5 s), lost what the broker had queued for it, and reconnected into
 * the same flood. So:
 * - any packet from the broker is an answer (as in Paho): MQTT.js's keepalive counter (ticks of
 *   keepalive/2; 2 = PINGREQ sent, 3 = timed out) goes back one tick, so it pings again at the
 *   next tick and gives up only after a whole tick without a packet from the broker;
 * - MQTT.js schedules its next PINGREQ a whole keepalive after each PINGRESP or acknowledgement,
 *   which, arriving late, is long after the PINGREQ it answers: the broker (1.5 keepalive after
 *   the gateway's last packet) dropped the connection instead. A packet from the broker when the
 *   gateway has sent nothing for keepalive/4 is answered with a PINGREQ.
 * MQTT.js keeps the counter private: without it, only the second applies.
 */
function keepaliveUnderLoad(c: MqttClient): void {
  let sentAt = performance.now();
  c.on('packetsend', () => (sentAt = performance.now()));
  c.on('packetreceive', () => {
    // In seconds: the broker's (MQTT 5 Server Keep Alive) or ours; 0 = none.
    const keepaliveMs = c.keepalive * 1000;
    // (Not once end() began: a PINGREQ after the DISCONNECT would break the protocol.)
    if (!c.connected || c.disconnecting || !(keepaliveMs > 0)) return;
    const k = (c as unknown as { keepaliveManager?: { counter?: unknown } | null }).keepaliveManager;
    if (k && typeof k.counter === 'number' && k.counter >= 2) k.counter = 1;
    if (performance.now() - sentAt >= keepaliveMs / 4) c.sendPing();
  });
}

/** What mqttTransport() returns. */
export interface MqttTransport extends GatewayTransport {
  /**
   * @internal The MQTT.js client once started, else null. Internal, and so not in the published
   * declarations: MQTT.js's own need the DOM lib (its worker-timers), which a Node project with
   * "lib": ["ES2022"] and skipLibCheck off does not have.
   */
  readonly client: MqttClient | null;
}

/** Payload bytes, and messages, read in one event-loop turn before the loop may turn (readInTurns). */
export const READ_TURN_BYTES = 256 * 1024;
export const READ_TURN_MESSAGES = 256;

/**
 * MQTT.js hands over every packet the socket holds in one chain of process.nextTick calls, so
 * a backlog was read (decoded, run through the front ends) in one event-loop turn: megabytes,
 * and the stepping rounds, timers and the metrics endpoint waited (event-loop p99 0.7–1.05 s
 * under a flood with stepBudgetMs 20). After READ_TURN_BYTES of payloads or READ_TURN_MESSAGES
 * messages, the next packet waits for setImmediate: timers and I/O run in between, and packets
 * not read yet stay in the socket (MQTT.js asks for more only when its queue is empty), where
 * they wait at the broker (its queue, max_queued_messages) instead of in the gateway's memory.
 * QoS 1 messages are acknowledged once handed over, as before.
 */
function readInTurns(c: MqttClient): void {
  let bytes = 0;
  let messages = 0;
  let turnOver = false;
  const nextTurn = () => {
    bytes = messages = 0;
    turnOver = false;
  };
  c.handleMessage = (packet, callback) => {
    bytes += (packet.payload as Uint8Array | string).length;
    messages++;
    if (bytes < READ_TURN_BYTES && messages < READ_TURN_MESSAGES) return callback();
    if (!turnOver) {
      turnOver = true;
      setImmediate(nextTurn);
    }
    setImmediate(callback);
  };
}

export function mqttTransport(o: MqttTransportOptions): MqttTransport {
  let client: MqttClient | null = null;
  let ended = false;
  /** The broker's Maximum Packet Size from this connection's CONNACK (MQTT 5 only). */
  const brokerMaxPacketBytes = (): number | undefined => {
    const connack = (client as unknown as { connackPacket?: { properties?: { maximumPacketSize?: number } } } | null)?.connackPacket;
    return client?.connected ? connack?.properties?.maximumPacketSize : undefined;
  };
  const t = {
    get client() {
      return client;
    },
    get connected() {
      return client?.connected === true;
    },
    maxPayloadBytes(topic: string): number | undefined {
      const max = brokerMaxPacketBytes();
      if (max === undefined) return undefined;
      // The payload that makes the packet exactly max bytes (the length field grows with it).
      let payload = max - publishPacketBytes(topic, 0, 1, 5);
      while (payload > 0 && publishPacketBytes(topic, payload, 1, 5) > max) payload--;
      return Math.max(0, payload);
    },
    async start(h: TransportHandlers): Promise<void> {
      // MQTT.js is imported here, not at the top: importing it costs ~110 ms, which commands
      // that never connect (edgernn info, run, --help) should not pay (test/gateway/lazy-imports.test.ts).
      const { connect } = await import('mqtt');
      // Ended while MQTT.js was loading: nothing to connect.
      if (ended) return;
      const c = connect(o.url, mqttClientOptions(o));
      client = c;
      c.on('message', (topic, payload, packet) => h.message(topic, payload, packet.retain));
      c.on('close', () => h.close());
      keepaliveUnderLoad(c);
      readInTurns(c);
      return new Promise<void>((resolve, reject) => {
        let first = true;
        // The reason last reported while reconnecting (code and message), null once connected.
        let reconnectReason: string | null = null;
        c.on('connect', () => {
          reconnectReason = null;
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
          // Closing: a PUBACK for a message that arrived meanwhile (a persistent session under
          // load) fails with "write after end", which was logged as "waiting for the broker".
          if (ended && !first) return;
          if (!first) {
            // MQTT.js reconnects by itself. These errors were dropped: a changed password or an
            // expired certificate on a running gateway was retried for ever without a word. Said
            // once per reason (a broker down for an hour is one line, not one per retry).
            const reason = `${e.code} ${e.message}`;
            if (reason !== reconnectReason) {
              reconnectReason = reason;
              o.onWait?.(e);
            }
            return;
          }
          // A broker that is down is waited for (the client retries); a refusal or a TLS
          // failure is a configuration problem: give up with the reason.
          if (isFatalConnectError(e)) {
            first = false;
            c.end(true);
            // A broker that speaks MQTT 3.1.1 only refused every MQTT 5 CONNECT, and the gateway
            // waited for it forever. Not retried with 3.1.1 behind the user's back: a 3.1.1
            // broker cannot refuse an alert (a denied one is acknowledged and lost).
            const hint =
              typeof e.code === 'number' && PROTOCOL_REFUSED.includes(e.code)
                ? o.broker.protocolVersion === 5
                  ? `: it does not speak MQTT 5; set broker.protocolVersion: 4 (MQTT 3.1.1, where the broker cannot refuse an alert: a denied one is acknowledged and lost, see docs/gateway.md "Alerts")`
                  : `: it does not speak MQTT 3.1.1 either (broker.protocolVersion is 4)`
                : '';
            reject(new EdgeRnnError('GATEWAY_TRANSPORT', `broker ${redactUrl(o.url)} refused the connection: ${e.message}${e.code !== undefined ? ` (${e.code})` : ''}${hint}`, { url: redactUrl(o.url), code: e.code, ...(hint ? { field: 'broker.protocolVersion', expected: 'a protocol version the broker speaks', got: o.broker.protocolVersion } : {}) }));
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
      // MQTT.js does not check: it wrote the packet's header, threw on the topic's length (a u16),
      // left half a packet on the connection, and threw again, uncaught, when it resent it after
      // the reconnect.
      const topicBytes = Buffer.byteLength(topic);
      if (topicBytes > MAX_TOPIC_BYTES) {
        return Promise.reject(new EdgeRnnError('GATEWAY_TRANSPORT', `publish: a topic of ${topicBytes} bytes, MQTT allows at most ${MAX_TOPIC_BYTES}`, { expected: `at most ${MAX_TOPIC_BYTES} bytes`, got: topicBytes }));
      }
      // A packet over the broker's maximum must not be sent (MQTT-3.2.2-15): the broker closes the
      // connection, and an alert was sent again at every reconnect. Refused here instead.
      const max = brokerMaxPacketBytes();
      const bytes = max === undefined ? 0 : publishPacketBytes(topic, typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength, po.qos, 5);
      if (max !== undefined && bytes > max) {
        return Promise.reject(
          new EdgeRnnError('GATEWAY_TRANSPORT', `publish to ${topic}: a packet of ${bytes} bytes, the broker takes at most ${max} (its Maximum Packet Size)`, { topic, expected: `at most ${max} bytes`, got: bytes }),
        );
      }
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

  /** Delivers a message if a subscription matches (`retained`: as from the broker's retained store); returns whether it did. */
  deliver(topic: string, payload: Uint8Array, retained = false): boolean {
    if (!this.h) return false;
    for (const f of this.filters) {
      if (topicMatches(f, topic)) {
        this.h.message(topic, payload, retained);
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
