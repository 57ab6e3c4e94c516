/**
 * The embedded broker (Node-only module): aedes in this process on a TCP port, for a gateway
 * that is its own broker (devices connect to it directly) and for tests.
 */
import net from 'node:net';
import type { Aedes } from 'aedes';
import { EdgeRnnError } from '../errors.js';

export interface EmbeddedBroker {
  /** mqtt://host:port */
  readonly url: string;
  readonly port: number;
  readonly aedes: Aedes;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** TCP port, 0 = any free port (default). */
  port?: number;
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  // aedes is imported on use (~100 ms), like MQTT.js in transport.ts.
  const aedes = await (await import('aedes')).Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => resolve());
    });
  } catch (e) {
    // aedes runs a heartbeat timer: left open, it kept the process alive after the failed start.
    await new Promise<void>((r) => aedes.close(() => r()));
    const code = (e as NodeJS.ErrnoException).code;
    // A port in use or not allowed, or an address this machine does not have.
    const field = code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' ? 'broker.host' : 'broker.port';
    throw new EdgeRnnError('GATEWAY_CONFIG', `${field}: the embedded broker cannot listen on ${host}:${opts.port ?? 0}: ${(e as Error).message}`, { field, code });
  }
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    aedes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}
