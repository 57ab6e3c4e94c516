/**
 * The gateway's HTTP endpoint (GET /metrics, /healthz) with real HTTP requests: the Prometheus
 * text format, a port already taken, and stop() with connections still open.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, isEdgeRnnError, type Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig, type GatewayConfigInput } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { MemoryOutbox, type Outbox } from '../../src/gateway/outbox.js';
import { TraceTransport, type PublishOptions } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal } from './fixtures.js';

let model: Model;
beforeAll(async () => {
  model = await (await createRuntime()).load(imuModelBytes());
});
afterAll(() => model?.dispose());

const T0 = 1_700_000_000_000;

/** The in-process transport; while `refuse` is set, alert publishes are refused (a broker's failed PUBACK). */
class RefusingTransport extends TraceTransport {
  refuse = false;
  override publish(topic: string, payload: Uint8Array | string, opts: PublishOptions): Promise<void> {
    if (this.refuse && topic.endsWith('/alerts')) return Promise.reject(new Error('not authorized'));
    return super.publish(topic, payload, opts);
  }
}

async function start(extra: GatewayConfigInput | object = {}, o: { outbox?: Outbox; drainTimeoutMs?: number } = {}): Promise<{ gw: Gateway; tr: RefusingTransport; clock: ManualClock }> {
  const clock = new ManualClock(T0);
  const tr = new RefusingTransport();
  const config = parseGatewayConfig({ site: 'plant', gatewayId: 'gw1', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0, httpPort: 0 }, ...extra });
  const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger: memoryLogger('error'), ...o });
  return { gw, tr, clock };
}

/** One request on its own connection: status, headers and body. */
function request(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with 'done' when p settles, or 'pending' after ms (wall time): a hang becomes a failure, not a stuck test. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<'done' | 'pending'> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p.then(() => 'done' as const), new Promise<'pending'>((r) => (t = setTimeout(() => r('pending'), ms)))]).finally(() => clearTimeout(t));
}

describe('GET /metrics', () => {
  it('is Prometheus text 0.0.4: HELP and TYPE once per family before its samples, no series twice, labels escaped', async () => {
    // A site name may hold a quote and a backslash (a topic level allows both).
    const { gw } = await start({ site: 'pl"ant\\1' });
    try {
      const res = await request(gw.httpPort!, '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(res.body.endsWith('\n')).toBe(true);
      const families = new Map<string, { help: number; type: string | null; samples: number }>();
      const series = new Set<string>();
      let current = '';
      for (const line of res.body.trimEnd().split('\n')) {
        const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
        if (meta) {
          const [, kind, name, rest] = meta;
          const f = families.get(name!) ?? { help: 0, type: null, samples: 0 };
          expect(f.samples, `${kind} of ${name} after its samples`).toBe(0);
          if (kind === 'HELP') f.help++;
          else f.type = rest!;
          families.set(name!, f);
          current = name!;
          continue;
        }
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (\S+)$/.exec(line);
        expect(m, `a sample line: ${line}`).not.toBeNull();
        const [, name, labels, value] = m!;
        // A summary's _sum and _count belong to its family.
        const family = families.has(name!) ? name! : name!.replace(/_(sum|count)$/, '');
        expect(family, `${name} outside its family's block`).toBe(current);
        families.get(family)!.samples++;
        expect(series.has(`${name}${labels}`), `${name}${labels} twice`).toBe(false);
        series.add(`${name}${labels}`);
        expect(labels).toContain('site="pl\\"ant\\\\1"');
        // Go's float syntax as Prometheus parses it (no "Infinity", no locale separators).
        expect(value, `value of ${name}`).toMatch(/^(NaN|[+-]Inf|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/);
      }
      for (const [name, f] of families) {
        expect(f.help, `HELP of ${name}`).toBe(1);
        expect(['counter', 'gauge', 'summary'], `TYPE of ${name}`).toContain(f.type);
        expect(f.type === 'counter', `${name}: a counter's name ends in _total, and only a counter's`).toBe(name.endsWith('_total'));
        expect(f.samples, `samples of ${name}`).toBeGreaterThan(0);
      }
      expect(families.has('edgernn_gateway_messages_total')).toBe(true);
    } finally {
      await gw.stop();
    }
  });

  it('a scrape does not move the messages/s window of the metrics topic', async () => {
    // Every scrape took a snapshot, which restarts the window the metrics topic's messagesPerS is
    // measured over: scraped every 15 s, the topic reported the rate of the few seconds since.
    const { gw, tr, clock } = await start({ metrics: { intervalMs: 10_000, httpPort: 0 } });
    try {
      const x = imuSignal(10, 1);
      for (let m = 0; m < 5; m++) tr.deliver(gw.topics.sensor('pump', 'imu'), encodeJson(x.subarray(m * 12, (m + 1) * 12), IMU_CHANNELS, { seq: m }));
      clock.advance(5000);
      expect((await request(gw.httpPort!, '/metrics')).body).toMatch(/^edgernn_gateway_messages_total\{[^}]*\} 5$/m);
      clock.advance(5000); // the metrics tick, 10 s after the start
      const published = tr.published.filter((p) => p.topic === gw.topics.metrics).map((p) => JSON.parse(new TextDecoder().decode(p.payload)) as { messagesPerS: number });
      expect(published.map((p) => p.messagesPerS)).toEqual([5 / 10]);
    } finally {
      await gw.stop();
    }
  });

  it('gauges are current at scrape time: queue_depth counts frames queued since the last stepping round', async () => {
    // queue_depth was set at the end of each stepping round only: frames waiting for the next
    // round (limits.batchDelayMs, up to 10 s) were scraped as 0, on /metrics and the metrics topic.
    const { gw, tr, clock } = await start({ limits: { batchDelayMs: 1000 }, metrics: { intervalMs: 500, httpPort: 0 } });
    const sample = async (name: string) => Number(new RegExp(`^edgernn_gateway_${name}\\{[^}]*\\} (\\S+)$`, 'm').exec((await request(gw.httpPort!, '/metrics')).body)![1]);
    try {
      tr.deliver(gw.topics.sensor('pump', 'imu'), encodeJson(imuSignal(10, 1), IMU_CHANNELS, { seq: 0 }));
      const queued = await sample('queue_depth');
      clock.advance(500); // the metrics tick, before the stepping round
      const published = tr.published.filter((p) => p.topic === gw.topics.metrics).map((p) => JSON.parse(new TextDecoder().decode(p.payload)) as { gauges: { queue_depth: number } });
      clock.advance(500); // the stepping round: every queued frame stepped
      const stepped = await sample('frames_total');
      expect(stepped).toBeGreaterThan(0);
      expect([queued, published.map((p) => p.gauges.queue_depth)]).toEqual([stepped, [stepped]]);
      expect(await sample('queue_depth')).toBe(0);
    } finally {
      await gw.stop();
    }
  });

  it('errors of the listening server (accept: EMFILE) are logged, not thrown out of the process', async () => {
    // Node's net.Server emits 'error' when accept() fails (out of file descriptors). The listen
    // error handler stayed attached and took the first such error silently; the next one had no
    // listener and ended the process. Emitted here as Node would: running out of descriptors for
    // real would take the test runner with it.
    const logger = memoryLogger('error');
    const clock = new ManualClock(T0);
    const config = parseGatewayConfig({ site: 'plant', gatewayId: 'gw1', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0, httpPort: 0 } });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: new TraceTransport(), logger });
    try {
      const server = (gw as unknown as { http: http.Server }).http;
      const emfile = () => Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
      expect(() => {
        server.emit('error', emfile());
        server.emit('error', emfile());
      }).not.toThrow();
      expect(logger.lines.filter((l) => l.msg === 'metrics HTTP server error' && l.code === 'EMFILE').length).toBe(2);
      // Still serving.
      expect((await request(gw.httpPort!, '/healthz')).status).toBe(200);
    } finally {
      await gw.stop();
    }
  });

  it('a port already in use is a GATEWAY_CONFIG error naming metrics.httpPort and the port', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const e = await start({ metrics: { intervalMs: 0, httpPort: port } }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(isEdgeRnnError(e, 'GATEWAY_CONFIG')).toBe(true);
      expect((e as Error).message).toContain(`metrics.httpPort: cannot listen on 127.0.0.1:${port}`);
      expect((e as { details: object }).details).toMatchObject({ field: 'metrics.httpPort' });
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});

describe('while waiting for the broker at start-up', () => {
  /** A broker that is down: start() waits until the gateway gives up. */
  class DownTransport extends TraceTransport {
    override start(): Promise<void> {
      return new Promise<void>(() => {});
    }
  }
  const create = (httpPort: number, signal?: AbortSignal) => {
    const config = parseGatewayConfig({ site: 'plant', gatewayId: 'gw1', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', detector: IMU_DETECTOR }], stateDir: '', metrics: { intervalMs: 0, httpPort } });
    return Gateway.create({ config, models: { imu: model }, clock: new ManualClock(T0), transport: new DownTransport(), logger: memoryLogger('error'), ...(signal ? { signal } : {}) });
  };
  const freePort = async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  };

  it('a metrics port already in use is reported at once, not once the broker answers', async () => {
    // The endpoint was started after connecting: with the broker down, a port clash went
    // unreported (the gateway waited for the broker, silently without its endpoint).
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    const ac = new AbortController();
    try {
      const outcome = create(port, ac.signal).then(() => null, (e: unknown) => e);
      expect(await settlesWithin(outcome, 10_000)).toBe('done');
      const e = await outcome;
      expect(isEdgeRnnError(e, 'GATEWAY_CONFIG')).toBe(true);
      expect((e as Error).message).toContain(`metrics.httpPort: cannot listen on 127.0.0.1:${port}`);
    } finally {
      ac.abort();
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('is scraped meanwhile: /healthz 503, connected 0; closed when the wait is given up', async () => {
    const port = await freePort();
    const ac = new AbortController();
    const created = create(port, ac.signal).then(() => null, (e: unknown) => e);
    try {
      let health = await request(port, '/healthz').catch((e: unknown) => e);
      for (let i = 0; i < 200 && !(health as { status?: number }).status; i++) {
        await new Promise((r) => setTimeout(r, 10)); // the endpoint starts asynchronously
        health = await request(port, '/healthz').catch((e: unknown) => e);
      }
      expect((health as { status: number }).status).toBe(503);
      expect((await request(port, '/metrics')).body).toMatch(/^edgernn_gateway_connected\{[^}]*\} 0$/m);
    } finally {
      ac.abort();
    }
    expect(isEdgeRnnError(await created, 'GATEWAY_STOPPED')).toBe(true);
    await expect(request(port, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('GET /healthz', () => {
  it('counts alerts held in memory (the outbox could not take them) in outboxDepth, as the gateway does', async () => {
    // A disk that fails: commits are refused, the alerts are held in memory until acknowledged.
    const inner = new MemoryOutbox();
    const failing = new Proxy(inner, {
      get(target, key) {
        if (key === 'add') return () => { throw new Error('EIO: i/o error, write'); };
        if (key === 'commit') return () => Promise.reject(new Error('EIO: i/o error, write'));
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const { gw, tr, clock } = await start({}, { outbox: failing, drainTimeoutMs: 50 });
    try {
      tr.refuse = true;
      const x = imuSignal(100, 5, [[20, 40]]);
      tr.deliver(gw.topics.sensor('crane', 'imu'), encodeJson(x, IMU_CHANNELS, { seq: 0 }));
      clock.advance(5);
      await gw.settled();
      expect(gw.outboxDepth).toBeGreaterThan(0);
      const res = await request(gw.httpPort!, '/healthz');
      expect(JSON.parse(res.body)).toMatchObject({ connected: true, outboxDepth: gw.outboxDepth });
    } finally {
      await gw.stop();
    }
  });
});

describe('methods and paths', () => {
  it('405 with Allow for other methods on /metrics and /healthz, 404 elsewhere', async () => {
    const { gw } = await start();
    try {
      for (const [path, method, status] of [
        ['/metrics', 'POST', 405],
        ['/healthz', 'DELETE', 405],
        ['/metrics', 'PUT', 405],
        ['/nope', 'GET', 404],
        ['/metrics/', 'GET', 404],
        ['/healthz', 'HEAD', 200],
      ] as const) {
        const res = await request(gw.httpPort!, path, method);
        expect([path, method, res.status]).toEqual([path, method, status]);
        if (status === 405) expect(res.headers.allow).toBe('GET, HEAD');
      }
    } finally {
      await gw.stop();
    }
  });
});

describe('stop()', () => {
  it('closes the server with connections still open: idle keep-alive ones and one stuck mid-request', async () => {
    // server.close() waits for every connection to end: a client that sent half a request (a
    // stalled scraper, a port scan) held stop() for the 60 s headers timeout, or for good.
    const { gw } = await start();
    const port = gw.httpPort!;
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => res.resume().on('end', () => resolve())).on('error', reject));
    const stuck = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => stuck.once('connect', () => r()));
    stuck.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // headers never finished
    const stuckClosed = new Promise<void>((r) => stuck.once('close', () => r()));
    stuck.on('error', () => {});
    try {
      expect(await settlesWithin(gw.stop(), 20_000)).toBe('done');
      expect(await settlesWithin(stuckClosed, 20_000)).toBe('done');
      // Nothing listens any more.
      await expect(request(port, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
      stuck.destroy();
    }
  });
});
