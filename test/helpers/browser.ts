/**
 * Real headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by
 * playwright-core, a local HTTP server for the pages, and the reason to skip where either the
 * browser or the bundle is missing (the tests print it; .ci/run installs chromium).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
export const BUNDLE = path.join(ROOT, 'dist/edgernn.browser.js');
export const browserSkipReason: string | null = !CHROMIUM
  ? 'chromium is not installed (apt-get install chromium)'
  : !fs.existsSync(BUNDLE)
    ? 'dist/edgernn.browser.js is missing (npm run build)'
    : null;

/**
 * V8 flag that turns WebAssembly SIMD off: V8 compiles wasm SIMD only with SSE4.1 (x64), so
 * without it WebAssembly.validate() refuses every SIMD module. (Node 20's and Chromium's V8 have
 * no --experimental-wasm-simd switch any more: SIMD shipped.)
 */
export const NO_WASM_SIMD = '--js-flags=--no-enable-sse4-1';

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.ern': 'application/octet-stream', '.wav': 'audio/wav' };

/**
 * Serves `files` (URL path → body, or null for a 404; `headers` adds response headers to some)
 * and, under `mount` (default '/'), the repository's examples/browser/, dist/ and models/ as
 * `python3 -m http.server` would from the root. `/` is a blank page to evaluate scripts in.
 */
export async function serve(files: Record<string, string | Uint8Array | null> = {}, mount = '/', headers: Record<string, Record<string, string>> = {}): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]!;
    const own = url in files ? files[url] : url === '/' ? '<!doctype html><meta charset="utf-8"><title>edgernn</title><link rel="icon" href="data:,">' : undefined;
    if (own === null) {
      res.writeHead(404).end();
      return;
    }
    if (own !== undefined) {
      res.writeHead(200, { 'content-type': TYPES[path.extname(url)] ?? (url.endsWith('/') ? 'text/html' : 'application/octet-stream'), ...headers[url] }).end(own);
      return;
    }
    const file = url.startsWith(mount) ? path.join(ROOT, path.normalize(url.slice(mount.length - 1)).replace(/\/$/, '/index.html')) : '';
    const allowed = ['examples/browser/', 'dist/', 'models/'].some((d) => file.startsWith(path.join(ROOT, d)));
    if (!allowed || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * Runs `body` (plain JavaScript, the body of an async function; `E` is the browser bundle) in
 * the page and returns its JSON-able result. Strings, not functions: the page's code is what a
 * page author writes, untouched by the test's compiler.
 */
export async function inPage<T>(page: import('playwright-core').Page, body: string): Promise<T> {
  return (await page.evaluate(`(async () => { const E = await import('/dist/edgernn.browser.js'); ${body} })()`)) as T;
}

/**
 * Chromium with one page at `url`, its uncaught errors collected; `use` runs on it and the browser
 * is closed after, whatever happens.
 */
export async function withPage<T>(url: string, use: (page: import('playwright-core').Page, errors: string[]) => Promise<T>): Promise<T> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    return await use(page, errors);
  } finally {
    await browser.close();
  }
}
