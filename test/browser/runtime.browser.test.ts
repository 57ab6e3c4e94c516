/**
 * The browser bundle (dist/edgernn.browser.js) in real headless Chromium: it must pick the SIMD
 * kernels, load an .ern model, and compute the same bits as Node. Skipped, with the reason
 * printed, where Debian's chromium is not installed (.ci/run installs it).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, encodeModel } from '../../src/index.js';
import { randomQuantModel, randomSequences } from '../helpers/random-model.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const BUNDLE = path.resolve('dist/edgernn.browser.js');
const skipReason = !CHROMIUM ? 'chromium is not installed (apt-get install chromium)' : !fs.existsSync(BUNDLE) ? 'dist/edgernn.browser.js is missing (npm run build)' : null;
if (skipReason) console.log(`browser tests skipped: ${skipReason}`);

const { int8 } = randomQuantModel(8);
const modelBytes = encodeModel(int8);
const seq = randomSequences(5, int8.input.size, 1, 12)[0]!;

let server: http.Server;
let base = '';
const PAGE = `<!doctype html><meta charset="utf-8"><title>edgernn</title><script type="module">
import * as edgernn from '/edgernn.browser.js';
window.edgernnRun = async () => {
  const rt = await edgernn.createRuntime();
  const bytes = new Uint8Array(await (await fetch('/model.ern')).arrayBuffer());
  const seq = new Float32Array(await (await fetch('/seq.bin')).arrayBuffer());
  const out = {};
  for (const backend of ['simd', 'scalar', 'reference']) {
    const m = await rt.load(bytes, { backend });
    out[backend] = Array.from(m.session().run(seq));
  }
  let bad = null;
  try { await rt.load(bytes.slice(0, 100)); } catch (e) { bad = e.code; }
  return { simd: rt.simdSupported, outputs: out, truncated: bad };
};
window.edgernnReady = true;
</script>`;

beforeAll(async () => {
  if (skipReason) return;
  server = http.createServer((req, res) => {
    const body =
      req.url === '/' ? PAGE : req.url === '/edgernn.browser.js' ? fs.readFileSync(BUNDLE) : req.url === '/model.ern' ? Buffer.from(modelBytes) : req.url === '/seq.bin' ? Buffer.from(seq.buffer) : null;
    if (body === null) {
      res.writeHead(404).end();
      return;
    }
    const type = req.url === '/' ? 'text/html' : req.url!.endsWith('.js') ? 'text/javascript' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
});

describe.skipIf(skipReason !== null)('the browser bundle in headless Chromium', () => {
  it('picks SIMD, loads the model, and matches Node bit for bit on every backend', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(base);
      await page.waitForFunction(() => (window as unknown as { edgernnReady?: boolean }).edgernnReady === true);
      const r = (await page.evaluate(() => (window as unknown as { edgernnRun: () => Promise<unknown> }).edgernnRun())) as {
        simd: boolean;
        outputs: Record<string, number[]>;
        truncated: string | null;
      };
      expect(errors).toEqual([]);
      expect(r.simd).toBe(true);
      const rt = await createRuntime();
      const want = Array.from((await rt.load(modelBytes)).session().run(seq));
      for (const b of ['simd', 'scalar', 'reference']) expect(r.outputs[b], b).toEqual(want);
      expect(r.truncated).toBe('ERN_TRUNCATED');
    } finally {
      await browser.close();
    }
  });
});
