/**
 * `edgernn record` when the trace cannot be written (a full disk, a file size limit): a typed
 * error and a trace valid up to its last whole record. It ended the process with a raw stack
 * trace ("Error: EFBIG: file too large, write" thrown in mqtt's message handler), the trace
 * unsynced and its last line torn. The disk is failed by a spy on fs.writeSync: tests run as root.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/gateway/broker.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { parseTrace, recordTrace } from '../../src/gateway/trace.js';
import { isEdgeRnnError } from '../../src/errors.js';
import { connectClient, publishAsync, tmpDir } from './fixtures.js';

let work: string;
let broker: EmbeddedBroker;

beforeAll(async () => {
  work = tmpDir();
  broker = await startEmbeddedBroker();
});

afterAll(async () => {
  await broker?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('record: the trace cannot be written', () => {
  it('stops with GATEWAY_TRACE naming the file and the count, the trace cut back to its last whole record', async () => {
    const cfg = parseGatewayConfig({ broker: { url: broker.url, protocolVersion: 4 }, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] });
    const file = path.join(work, 'full.ndjson');
    const realWrite = fs.writeSync;
    let writes = 0;
    // The header and two records are written; the third record in part (a short write, as
    // write(2) does at a file size limit), then EFBIG.
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(((...args: Parameters<typeof fs.writeSync>) => {
      if (++writes === 4) return realWrite(args[0], String(args[1]).slice(0, 10));
      if (writes === 5) throw Object.assign(new Error('EFBIG: file too large, write'), { code: 'EFBIG' });
      return (realWrite as (...a: unknown[]) => number)(...args);
    }) as typeof fs.writeSync);
    const dev = await connectClient(broker.url);
    try {
      const done = recordTrace({
        url: broker.url,
        broker: cfg.broker,
        topics: ['edgernn/full/+/imu'],
        file,
        onReady: () => {
          void (async () => {
            for (let i = 0; i < 5; i++) await publishAsync(dev, 'edgernn/full/d/imu', `{"seq":${i},"values":[[0,0,0,0,0,0]]}`);
          })();
        },
      });
      const err = await done.then(
        () => null,
        (e: unknown) => e,
      );
      expect(isEdgeRnnError(err, 'GATEWAY_TRACE'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/cannot write .*full\.ndjson: EFBIG.*2 messages/);
    } finally {
      spy.mockRestore();
      dev.end(true);
    }
    const trace = parseTrace(fs.readFileSync(file));
    expect(trace.tornLastLine).toBe(false);
    expect(trace.records.map((r) => new TextDecoder().decode(r.payload))).toEqual(['{"seq":0,"values":[[0,0,0,0,0,0]]}', '{"seq":1,"values":[[0,0,0,0,0,0]]}']);
  }, 20_000);
});
