/**
 * Files held in a SharedArrayBuffer, in a cross-origin-isolated page (COOP + COEP: the only pages
 * that have one; a page shares one download with its workers that way). Browsers' TextDecoder
 * refuses a view of shared memory ("must not be shared"), Node's takes it, so only a browser
 * shows what the readers do with one. Real headless Chromium, no mocks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, exportOnnx, writeNpy } from '../../src/index.js';
import { ROOT, browserSkipReason, inPage, withPage, serve } from '../helpers/browser.js';

if (browserSkipReason) console.log(`browser SharedArrayBuffer tests skipped: ${browserSkipReason}`);

let server: Awaited<ReturnType<typeof serve>> | null = null;
beforeAll(async () => {
  if (browserSkipReason) return;
  const onnx = exportOnnx(decodeModel(new Uint8Array(fs.readFileSync(path.join(ROOT, 'models/kws.ern')))).spec);
  const npy = writeNpy(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  server = await serve({ '/kws.onnx': onnx, '/x.npy': npy }, '/', {
    '/': { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
  });
});
afterAll(async () => {
  await server?.close();
});

describe.skipIf(browserSkipReason !== null)('files in a SharedArrayBuffer in a cross-origin-isolated page', () => {
  it('decodeErn, decodeModel, readNpy and importOnnx read them as they read the same bytes unshared (were ERN_MANIFEST "not UTF-8 JSON", a TypeError, ONNX_PARSE "not valid UTF-8")', async () => {
    await withPage(`${server!.base}/`, async (page, errors) => {
      const r = await inPage<{ isolated: boolean; plain: Record<string, unknown>; shared: Record<string, unknown> }>(
        page,
        `const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
        const share = (b) => { const v = new Uint8Array(new SharedArrayBuffer(b.length)); v.set(b); return v; };
        const files = { ern: await get('/models/kws.ern'), onnx: await get('/kws.onnx'), npy: await get('/x.npy') };
        const rt = await E.createRuntime();
        const read = async (f) => {
          const out = {};
          const attempt = async (name, g) => { try { out[name] = await g(); } catch (e) { out[name] = e.name + ' ' + e.code + ': ' + e.message; } };
          await attempt('decodeErn', () => E.decodeErn(f.ern).manifest.name);
          await attempt('decodeModel', () => E.decodeModel(f.ern).spec.name);
          await attempt('load', async () => (await rt.load(f.ern)).name);
          await attempt('loadSync', () => rt.loadSync(f.ern).name);
          await attempt('readNpy', () => { const a = E.readNpy(f.npy); return [a.shape, Array.from(a.data)]; });
          await attempt('importOnnx', () => { const m = E.importOnnx(f.onnx); return [m.input.features, m.model.graph.node.map((n) => n.opType)]; });
          return out;
        };
        return { isolated: crossOriginIsolated, plain: await read(files), shared: await read({ ern: share(files.ern), onnx: share(files.onnx), npy: share(files.npy) }) };`,
      );
      expect(r.isolated).toBe(true);
      expect(r.plain).toMatchObject({ decodeErn: 'kws', decodeModel: 'kws', load: 'kws', loadSync: 'kws', readNpy: [[2, 3], [1, 2, 3, 4, 5, 6]] });
      expect(r.plain.importOnnx).toEqual([13, expect.arrayContaining(['GRU'])]);
      expect(r.shared).toEqual(r.plain);
      expect(errors).toEqual([]);
    });
  });
});
