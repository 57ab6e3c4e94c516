/**
 * External brokers over TLS with client certificates (mosquitto, require_certificate) and over
 * WebSockets (aedes behind a ws server): the gateway connects, processes and publishes; a
 * refused or unverifiable TLS connection is a GATEWAY_TRANSPORT error naming the reason, not a
 * hang. Certificates are made with openssl for the test. Skipped, with the reason, without
 * mosquitto or openssl.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { Aedes } from 'aedes';
import { createRuntime, isEdgeRnnError, type Model } from '../../src/index.js';
import type { Alert } from '../../src/gateway/alert.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { mqttClientOptions } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, connectClient, freePort, imuModelBytes, imuSignal, mosquittoAvailable, oracleAlerts, publishAsync, startMosquitto, subscribeAsync, tmpDir, waitFor, type Mosquitto } from './fixtures.js';

const NO_OPENSSL = fs.existsSync('/usr/bin/openssl') ? null : 'openssl not found at /usr/bin/openssl';
const SKIP = mosquittoAvailable() ?? NO_OPENSSL;
if (SKIP) console.log(`test/gateway/tls-ws.test.ts (TLS part) skipped: ${SKIP}`);

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

/** A CA, a server certificate for 127.0.0.1, and client certificates, in dir. */
function makeCerts(dir: string): Record<string, string> {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=edgernn test CA');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=some other CA');
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const name of ['server', 'gateway', 'device']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', ...(name === 'server' ? ['-extfile', 'san.ext'] : []));
  }
  // mosquitto drops to user "mosquitto": the files must be readable.
  fs.chmodSync(dir, 0o755);
  for (const n of fs.readdirSync(dir)) fs.chmodSync(f(n), 0o644);
  return Object.fromEntries(['ca.pem', 'other-ca.pem', 'server.pem', 'server.key', 'gateway.pem', 'gateway.key', 'device.pem', 'device.key'].map((n) => [n, f(n)]));
}

const routeConfig = { models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0 } };

describe.skipIf(SKIP !== null)('mqtts with client certificates (mosquitto)', () => {
  let mq: Mosquitto;
  let certs: Record<string, string>;
  let url: string;
  beforeAll(async () => {
    certs = makeCerts(tmpDir('edgernn-tls-'));
    mq = await startMosquitto(
      [`cafile ${certs['ca.pem']}`, `certfile ${certs['server.pem']}`, `keyfile ${certs['server.key']}`, 'require_certificate true', 'use_identity_as_username true', 'allow_anonymous false'].join('\n'),
    );
    url = `mqtts://127.0.0.1:${mq.port}`;
  });
  afterAll(async () => {
    await mq?.stop();
    if (mq) fs.rmSync(mq.dir, { recursive: true, force: true });
  });

  it('connects with its certificate, and alerts flow over TLS', async () => {
    const config = parseGatewayConfig({ ...routeConfig, site: 'tls', broker: { url, ca: certs['ca.pem'], cert: certs['gateway.pem'], key: certs['gateway.key'] } });
    const gw = await Gateway.create({ config, models: { imu: model }, logger: memoryLogger('warn') });
    const tls = { ca: fs.readFileSync(certs['ca.pem']!), cert: fs.readFileSync(certs['device.pem']!), key: fs.readFileSync(certs['device.key']!), protocolVersion: 5 as const };
    const dev = await connectClient(url, tls);
    const consumer = await connectClient(url, tls);
    const got: Alert[] = [];
    consumer.on('message', (_t, p) => got.push(JSON.parse(p.toString()) as Alert));
    await subscribeAsync(consumer, gw.topics.alertsFilter());
    try {
      const x = imuSignal(200, 77, [[60, 80]]);
      for (let m = 0; m < 20; m++) await publishAsync(dev, gw.topics.sensor('tls-dev', 'imu'), encodeJson(x.subarray(m * 60, (m + 1) * 60), IMU_CHANNELS, { seq: m }));
      const want = oracleAlerts(model, x, IMU_DETECTOR, { site: 'tls', device: 'tls-dev', sensor: 'imu', streamStartMs: 0 }).map((a) => a.frameIndex);
      expect(want.length).toBeGreaterThan(0);
      await waitFor(() => got.length === want.length, 'the alerts over TLS');
      expect(got.map((a) => a.frameIndex)).toEqual(want);
    } finally {
      dev.end(true);
      consumer.end(true);
      await gw.stop();
    }
  });

  it.each([
    ['without a client certificate', { ca: 'ca.pem' }],
    ['with a CA that did not sign the server', { ca: 'other-ca.pem', cert: 'gateway.pem', key: 'gateway.key' }],
  ])('fails %s with GATEWAY_TRANSPORT naming the reason', async (_what, files) => {
    const broker: Record<string, unknown> = { url };
    for (const [k, v] of Object.entries(files)) broker[k] = certs[v];
    const config = parseGatewayConfig({ ...routeConfig, site: 'tls', broker });
    try {
      await Gateway.create({ config, models: { imu: model }, logger: memoryLogger('error') });
      throw new Error('expected a refusal');
    } catch (e) {
      expect(isEdgeRnnError(e, 'GATEWAY_TRANSPORT')).toBe(true);
      expect((e as Error).message).toMatch(/refused the connection: .*(certificate|alert|verify|issuer)/i);
    }
  });

  it('names an unreadable key file', async () => {
    const config = parseGatewayConfig({ ...routeConfig, site: 'tls', broker: { url, ca: certs['ca.pem'], cert: certs['gateway.pem'], key: '/nonexistent/gw.key' } });
    await expect(Gateway.create({ config, models: { imu: model }, logger: memoryLogger('error') })).rejects.toThrow(/broker.key: cannot read \/nonexistent\/gw.key/);
  });
});

describe.skipIf(NO_OPENSSL !== null)('TLS files that are not what their field says (no broker needed)', () => {
  let certs: Record<string, string>;
  let garbage: string;
  beforeAll(() => {
    const dir = tmpDir('edgernn-tls-files-');
    certs = makeCerts(dir);
    garbage = path.join(dir, 'notes.txt');
    fs.writeFileSync(garbage, 'not a certificate\n');
  });
  const options = (files: Record<string, string>) => {
    const broker = parseGatewayConfig({ ...routeConfig, broker: { url: 'mqtts://127.0.0.1:8883', ...files } }).broker;
    return () => mqttClientOptions({ broker, url: broker.url, clientId: 'x' });
  };

  it('a CA, certificate or key file holding something else, or a key of another certificate: GATEWAY_CONFIG naming the field and the file', () => {
    // Node ignored a CA file without a certificate (the server then failed to verify, the file
    // never named); a key of another certificate, or a certificate given as the key, came out of
    // OpenSSL as "key values mismatch" or "DECODER routines::unsupported", untyped over mqtts and
    // waited for as a broker that is down over wss (retried for ever).
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ ca: garbage }, 'broker.ca', /^broker\.ca: .*notes\.txt holds no PEM certificate \(-----BEGIN CERTIFICATE-----\), got no PEM block/],
      [{ ca: certs['gateway.key']! }, 'broker.ca', /^broker\.ca: .*gateway\.key holds no PEM certificate .*got a PRIVATE KEY/],
      [{ cert: certs['gateway.key']!, key: certs['gateway.key']! }, 'broker.cert', /^broker\.cert: .*gateway\.key holds no PEM certificate .*got a PRIVATE KEY/],
      [{ cert: certs['gateway.pem']!, key: certs['gateway.pem']! }, 'broker.key', /^broker\.key: .*gateway\.pem holds no private key .*got a CERTIFICATE/],
      [{ cert: certs['gateway.pem']!, key: garbage }, 'broker.key', /^broker\.key: .*notes\.txt holds no private key .*got no PEM block/],
      [{ cert: certs['gateway.pem']!, key: certs['device.key']! }, 'broker.key', /^broker\.key: the key in .*device\.key is not the key of the certificate in .*gateway\.pem \(broker\.cert, subject CN=gateway\)/],
    ];
    for (const [files, field, message] of cases) {
      const e = (() => {
        try {
          options(files)();
          return null;
        } catch (err) {
          return err;
        }
      })();
      expect(isEdgeRnnError(e, 'GATEWAY_CONFIG'), `${JSON.stringify(files)}: ${String(e)}`).toBe(true);
      expect((e as { details: object }).details).toMatchObject({ field });
      expect((e as Error).message).toMatch(message);
    }
    // What is right passes: a CA bundle of two certificates, a certificate with its own key.
    const bundle = path.join(path.dirname(garbage), 'bundle.pem');
    fs.writeFileSync(bundle, fs.readFileSync(certs['other-ca.pem']!, 'utf8') + fs.readFileSync(certs['ca.pem']!, 'utf8'));
    expect(options({ ca: bundle, cert: certs['gateway.pem']!, key: certs['gateway.key']! })()).toMatchObject({ ca: expect.any(Buffer), cert: expect.any(Buffer), key: expect.any(Buffer) });
  });

  it.each(['mqtts', 'wss'])('Gateway.create over %s with the key of another certificate: GATEWAY_CONFIG at once, not an untyped error or a wait for ever', async (scheme) => {
    const url = `${scheme}://127.0.0.1:${await freePort()}`;
    const config = parseGatewayConfig({ ...routeConfig, broker: { url, ...(scheme === 'wss' ? { protocolVersion: 4 } : {}), ca: certs['ca.pem'], cert: certs['gateway.pem'], key: certs['device.key'] } });
    // Bounds the wait the bug caused (a broker that is down is waited for until aborted).
    const signal = AbortSignal.timeout(15_000);
    const e = await Gateway.create({ config, models: { imu: model }, logger: memoryLogger('error'), signal }).then(
      async (gw) => {
        await gw.stop();
        return null;
      },
      (err: unknown) => err,
    );
    expect(isEdgeRnnError(e, 'GATEWAY_CONFIG'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/^broker\.key: the key in .*device\.key is not the key of the certificate/);
  });
});

/** mosquitto accepting only user "gw" with password "s3cret" (a password_file it can read after dropping root). */
async function mosquittoWithPassword() {
  const dir = tmpDir('edgernn-pw-');
  fs.chmodSync(dir, 0o755);
  const pw = path.join(dir, 'passwd');
  execFileSync('/usr/bin/mosquitto_passwd', ['-b', '-c', pw, 'gw', 's3cret']);
  fs.chmodSync(pw, 0o644);
  // The same object (restart() updates its process and log), with the file beside it.
  return Object.assign(await startMosquitto(`allow_anonymous false\npassword_file ${pw}`), { passwordFile: pw });
}

describe.skipIf(mosquittoAvailable() !== null)('username and password (mosquitto password_file)', () => {
  it('connects with the right password and refuses a wrong one with the reason', async () => {
    const mq = await mosquittoWithPassword();
    try {
      const ok = parseGatewayConfig({ ...routeConfig, site: 'pw', broker: { url: mq.url, username: 'gw', password: 's3cret' } });
      const gw = await Gateway.create({ config: ok, models: { imu: model }, logger: memoryLogger('error') });
      expect(gw.transport.connected).toBe(true);
      await gw.stop();
      const bad = parseGatewayConfig({ ...routeConfig, site: 'pw', broker: { url: mq.url, username: 'gw', password: 'wrong' } });
      await expect(Gateway.create({ config: bad, models: { imu: model }, logger: memoryLogger('error') })).rejects.toThrow(/refused the connection: .*(Bad User Name or Password|Not authorized)/);
    } finally {
      await mq.stop();
    }
  });
});

describe.skipIf(mosquittoAvailable() !== null)('refused on a reconnect (mosquitto)', () => {
  it('a running gateway whose reconnects are refused (password changed) logs the reason once per reason, not never', async () => {
    // After the first connection MQTT.js retries by itself, and the transport dropped its errors:
    // a changed password or an expired client certificate on a running gateway was retried for
    // ever with nothing in the log but the one "broker connection lost".
    const mq = await mosquittoWithPassword();
    const logger = memoryLogger('warn');
    const config = parseGatewayConfig({ ...routeConfig, site: 'pw', broker: { url: mq.url, username: 'gw', password: 's3cret', reconnectMs: 50 } });
    const gw = await Gateway.create({ config, models: { imu: model }, logger });
    try {
      expect(logger.lines.filter((l) => l.msg === 'waiting for the broker')).toEqual([]);
      await mq.kill();
      execFileSync('/usr/bin/mosquitto_passwd', ['-b', '-c', mq.passwordFile, 'gw', 'changed']);
      fs.chmodSync(mq.passwordFile, 0o644);
      const before = mq.log.join('').length;
      await mq.restart();
      const refusals = () => (mq.log.join('').slice(before).match(/not authori[sz]ed/gi) ?? []).length;
      await waitFor(() => refusals() >= 3, 'mosquitto to refuse three reconnects');
      const waits = logger.lines.filter((l) => l.msg === 'waiting for the broker' && /not authori[sz]ed|bad user name/i.test(String(l.error)));
      expect(waits.length).toBe(1);
      expect(waits[0]).toMatchObject({ level: 'warn', url: mq.url });
    } finally {
      await gw.stop();
      await mq.stop();
    }
  });
});

describe('ws:// (aedes behind a WebSocket server)', () => {
  it('runs the pipeline over WebSockets', async () => {
    const aedes = await Aedes.createBroker();
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => aedes.handle(createWebSocketStream(socket) as never, req as never));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    const config = parseGatewayConfig({ ...routeConfig, site: 'ws', broker: { url, protocolVersion: 4 } });
    const gw = await Gateway.create({ config, models: { imu: model }, logger: memoryLogger('warn') });
    const dev = await connectClient(url);
    const got: Alert[] = [];
    dev.on('message', (_t, p) => got.push(JSON.parse(p.toString()) as Alert));
    await subscribeAsync(dev, gw.topics.alertsFilter());
    try {
      const x = imuSignal(200, 78, [[100, 120]]);
      for (let m = 0; m < 20; m++) await publishAsync(dev, gw.topics.sensor('ws-dev', 'imu'), encodeJson(x.subarray(m * 60, (m + 1) * 60), IMU_CHANNELS, { seq: m }));
      const want = oracleAlerts(model, x, IMU_DETECTOR, { site: 'ws', device: 'ws-dev', sensor: 'imu', streamStartMs: 0 }).map((a) => a.frameIndex);
      expect(want.length).toBeGreaterThan(0);
      await waitFor(() => got.length === want.length, 'the alerts over WebSockets');
      expect(got.map((a) => a.frameIndex)).toEqual(want);
    } finally {
      dev.end(true);
      await gw.stop();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    }
  });
});
