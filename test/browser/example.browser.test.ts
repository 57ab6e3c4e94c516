/**
 * examples/browser/index.html in real headless Chromium, served as its README says (the
 * repository root over HTTP): keyword spotting on a WAV file in the page gives the events Node
 * gives (examples/kws-wav.mjs), and on the microphone (Chromium's fake capture device playing a
 * recording) the page hears the keyword. Skipped, with the reason, without Debian's chromium.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../../src/io/wav.js';
import { tmpDir } from '../gateway/fixtures.js';
import { serve } from '../helpers/browser.js';
import { writeKwsRecording } from '../helpers/kws-recording.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const BUNDLE = path.join(ROOT, 'dist/edgernn.browser.js');
const skipReason = !CHROMIUM ? 'chromium is not installed (apt-get install chromium)' : !fs.existsSync(BUNDLE) ? 'dist/edgernn.browser.js is missing (npm run build)' : null;
if (skipReason) console.log(`browser example test skipped: ${skipReason}`);

const work = tmpDir('edgernn-browser-example-');
let server: http.Server;
let base = '';

beforeAll(async () => {
  if (skipReason) return;
  // The files the page asks for, from the repository, as `python3 -m http.server` would serve them.
  const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.ern': 'application/octet-stream' };
  server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]!.replace(/\/$/, '/index.html');
    const file = path.join(ROOT, path.normalize(url));
    const allowed = ['examples/browser/', 'dist/', 'models/'].some((d) => file.startsWith(path.join(ROOT, d)));
    if (!allowed || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
  fs.rmSync(work, { recursive: true, force: true });
});

async function launch(extraArgs: string[]) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

function recording(): string {
  const file = path.join(work, 'recording.wav');
  writeKwsRecording(file, ['yes/flite-kal16_yes_0.wav', 'stop/flite-kal16_stop_0.wav', 'go/flite-kal16_go_0.wav']);
  return file;
}

/** The example page, ready (its model loaded), with its uncaught errors and alert() texts collected. */
async function openExample(browser: Awaited<ReturnType<typeof launch>>) {
  const page = await browser.newPage();
  const errors: string[] = [];
  const alerts: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => {
    alerts.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${base}/examples/browser/`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 20_000 });
  return { page, errors, alerts };
}

describe.skipIf(skipReason !== null)('examples/browser/index.html in headless Chromium', () => {
  it('finds the keywords of a WAV file as Node does, and hears them on the microphone', async () => {
    const wav = recording();
    const node = spawnSync(process.execPath, [path.join(ROOT, 'examples/kws-wav.mjs'), wav, '--json'], { encoding: 'utf8' });
    expect(node.status, node.stderr).toBe(0);
    const want = (JSON.parse(node.stdout) as { events: unknown[] }).events;
    expect(want.length).toBeGreaterThan(0);

    const browser = await launch([
      // A microphone that plays the recording (in a loop), granted without asking.
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ]);
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`)); // e.g. a 404 for /favicon.ico
      await page.goto(`${base}/examples/browser/`);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 20_000 });
      expect(await page.textContent('#model')).toMatch(/^kws 1\.0\.0, int8 on simd: yes, no, up, down, left, right, on, off, stop, go$/);

      const bytes = Array.from(fs.readFileSync(wav));
      const got = await page.evaluate((b) => (window as unknown as { detectFile: (x: Uint8Array) => unknown[] }).detectFile(new Uint8Array(b)), bytes);
      expect(got).toEqual(want);

      // The microphone: audio arrives at the model's rate (a window every 100 ms) and the model
      // hears a keyword that is spoken. (Whether the tuned detector fires on these held-out-voice
      // clips, whose scores sit at its thresholds, depends on where the capture cuts them.)
      await page.click('#listen');
      const t0 = Date.now();
      type Mic = { events: { keyword: string }[]; windows: number; best: { keyword: string | null; score: number } | null; started: boolean };
      await page.waitForFunction(() => ((window as unknown as { mic: Mic }).mic.best?.score ?? 0) > 0.9, undefined, { timeout: 30_000 });
      await new Promise((r) => setTimeout(r, 1000));
      const mic = (await page.evaluate(() => (window as unknown as { mic: Mic }).mic)) as Mic;
      const seconds = (Date.now() - t0) / 1000;
      expect(mic.started).toBe(true);
      // The first window completes after its 1.5 s, then one every 100 ms.
      expect(mic.windows).toBeGreaterThan(5 * (seconds - 1.5));
      expect(mic.windows).toBeLessThan(15 * seconds);
      expect(['yes', 'stop', 'go']).toContain(mic.best!.keyword);
      for (const e of mic.events) expect(['yes', 'stop', 'go']).toContain(e.keyword);
      expect(await page.locator('#events li').count()).toBe(mic.events.length);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('the file input: a cleared selection alerts nothing (it alerted a TypeError), and the same file chosen twice is read twice', async () => {
    const wav = recording();
    const browser = await launch([]);
    try {
      const { page, errors, alerts } = await openExample(browser);
      await page.setInputFiles('#file', wav);
      await page.waitForFunction(() => document.querySelectorAll('#events li').length > 0, undefined, { timeout: 20_000 });
      const once = await page.locator('#events li').count();
      // Cleared, as a cancelled dialog leaves it: Chromium fires change with no file.
      await page.setInputFiles('#file', []);
      await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
      expect(alerts).toEqual([]);
      // The same file again: read again (a file input whose value did not change fires no change).
      expect(await page.evaluate(() => (document.getElementById('file') as HTMLInputElement).value)).toBe('');
      await page.setInputFiles('#file', wav);
      await page.waitForFunction((n) => document.querySelectorAll('#events li').length >= 2 * n, once, { timeout: 20_000 });
      expect(await page.locator('#events li').count()).toBe(2 * once);
      expect(alerts).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('the microphone where the browser does not resample it to 16 kHz: Firefox refuses it in an AudioContext at another rate, Safari ignores the rate asked for; the page resamples (it said "NotSupportedError", or fed 44.1 kHz audio to the 16 kHz model)', async () => {
    // Chromium taught each behaviour; the device's rate is that of an AudioContext made without options.
    const behaviours: Record<string, string> = {
      firefox: `{
        const device = new AudioContext();
        const deviceRate = device.sampleRate;
        device.close();
        const source = AudioContext.prototype.createMediaStreamSource;
        AudioContext.prototype.createMediaStreamSource = function (stream) {
          if (this.sampleRate !== deviceRate) throw new DOMException('AudioContext.createMediaStreamSource: Connecting AudioNodes from AudioContexts with different sample-rate is currently not supported.', 'NotSupportedError');
          return source.call(this, stream);
        };
      }`,
      safari: `{
        const Native = AudioContext;
        window.AudioContext = class extends Native {
          constructor(options = {}) {
            const { sampleRate, ...rest } = options;
            super(rest);
          }
        };
      }`,
    };
    const browser = await launch([
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${recording()}`,
      '--autoplay-policy=no-user-gesture-required',
    ]);
    try {
      for (const [name, script] of Object.entries(behaviours)) {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.addInitScript(script);
        await page.goto(`${base}/examples/browser/`);
        await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 20_000 });
        const deviceRate = await page.evaluate(() => new AudioContext().sampleRate);
        expect(deviceRate, name).not.toBe(16000);
        type Mic = { windows: number; best: { keyword: string | null; score: number } | null; started: boolean; error: string | null; inputRateHz?: number };
        await page.click('#listen');
        const t0 = Date.now();
        await page.waitForFunction(() => ((m: Mic) => m.started || m.error !== null)((window as unknown as { mic: Mic }).mic), undefined, { timeout: 10_000 });
        let mic = (await page.evaluate(() => (window as unknown as { mic: Mic }).mic)) as Mic;
        expect([mic.started, mic.error, mic.inputRateHz], name).toEqual([true, null, deviceRate]);
        await page.waitForFunction(() => ((window as unknown as { mic: Mic }).mic.best?.score ?? 0) > 0.9, undefined, { timeout: 30_000 });
        mic = (await page.evaluate(() => (window as unknown as { mic: Mic }).mic)) as Mic;
        const seconds = (Date.now() - t0) / 1000;
        // A window every 100 ms of audio once the first 1.5 s are in (audio taken at 44.1 kHz for 16 kHz came 2.76 times as fast).
        expect(mic.windows, name).toBeLessThan(15 * seconds);
        expect(['yes', 'stop', 'go'], name).toContain(mic.best!.keyword);
        expect(errors, name).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });

  it('the microphone denied: the page says so, and Listen works once it is allowed', async () => {
    // A fake capture device but no fake permission prompt: headless Chromium denies the request.
    const browser = await launch(['--use-fake-device-for-media-stream']);
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${base}/examples/browser/`);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 20_000 });
      type Mic = { windows: number; started: boolean; error: string | null };
      await page.click('#listen');
      await page.waitForFunction(() => (window as unknown as { mic: Mic }).mic.error !== null, undefined, { timeout: 10_000 });
      expect((await page.evaluate(() => (window as unknown as { mic: Mic }).mic)).error).toMatch(/^NotAllowedError/);
      expect(await page.textContent('#status')).toMatch(/^No microphone \(NotAllowedError: .*\)\. Allow it for this page and press Listen again\.$/);
      expect(await page.isDisabled('#listen')).toBe(false);

      await context.grantPermissions(['microphone']);
      await page.click('#listen');
      await page.waitForFunction(() => (window as unknown as { mic: Mic }).mic.windows > 0, undefined, { timeout: 20_000 });
      const mic = (await page.evaluate(() => (window as unknown as { mic: Mic }).mic)) as Mic;
      expect([mic.started, mic.error]).toEqual([true, null]);
      expect(await page.textContent('#status')).toBe('');
      expect(await page.textContent('#listen')).toBe('Listening…');
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe.skipIf(skipReason !== null)('examples/browser/index.html: what it cannot use is said on the page', () => {
  it('no microphone at all: the page says none was found (it said "Allow it for this page", which cannot help)', async () => {
    // No fake capture device: headless Chromium has none, and grants the request (fake UI) to find none.
    const browser = await launch(['--use-fake-ui-for-media-stream']);
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${base}/examples/browser/`);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 20_000 });
      await page.click('#listen');
      await page.waitForFunction(() => (window as unknown as { mic: { error: string | null } }).mic.error !== null, undefined, { timeout: 10_000 });
      expect(await page.textContent('#status')).toMatch(/^No microphone found \(NotFoundError: .*\)\. Connect one and press Listen again\.$/);
      expect(await page.isDisabled('#listen')).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('a WAV file at another rate, empty, or not a WAV: the status line names the file and the defect (it alerted "file: ..."); a stereo file is mixed to mono', async () => {
    const mono = path.join(work, 'mono.wav');
    const audio = writeKwsRecording(mono, ['yes/flite-kal16_yes_0.wav', 'stop/flite-kal16_stop_0.wav', 'go/flite-kal16_go_0.wav']);
    const stereo = new Float32Array(2 * audio.length);
    for (let i = 0; i < audio.length; i++) stereo[2 * i] = stereo[2 * i + 1] = audio[i]!;
    const files: Record<string, Uint8Array> = {
      'stereo.wav': encodeWav(stereo, 16000, 2),
      'cd.wav': encodeWav(audio, 44100),
      'empty.wav': new Uint8Array(0),
      'page.wav': new TextEncoder().encode('<!doctype html><title>404 Not Found</title>'),
    };
    for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(work, name), bytes);

    const browser = await launch([]);
    try {
      const { page, errors, alerts } = await openExample(browser);
      const choose = async (file: string) => {
        const before = await page.locator('#events li').count();
        await page.setInputFiles('#file', path.join(work, file));
        // Read: an event line (at least 'no keyword') or a status line.
        await page.waitForFunction((n) => document.querySelectorAll('#events li').length > n || document.getElementById('status')!.textContent !== '', before, { timeout: 20_000 });
        return { status: await page.textContent('#status'), events: (await page.locator('#events li').allTextContents()).slice(0, (await page.locator('#events li').count()) - before) };
      };
      const monoRun = await choose('mono.wav');
      expect(monoRun.status).toBe('');
      expect(monoRun.events.length).toBeGreaterThan(0);
      const stereoRun = await choose('stereo.wav');
      expect(stereoRun.status).toBe('');
      expect(stereoRun.events).toEqual(monoRun.events.map((e) => e.replace('mono.wav', 'stereo.wav')));

      expect(await choose('cd.wav')).toEqual({ status: 'cd.wav: 44100 Hz, the model listens at 16000 Hz (convert it, e.g. sox in.wav -r 16000 -c 1 out.wav)', events: [] });
      await page.evaluate(() => (document.getElementById('status')!.textContent = ''));
      // readWavMono's messages (src/io/wav.ts) name the file and the defect.
      expect(await choose('empty.wav')).toEqual({ status: expect.stringMatching(/^empty\.wav: .*\b0 bytes\b/), events: [] });
      await page.evaluate(() => (document.getElementById('status')!.textContent = ''));
      expect(await choose('page.wav')).toEqual({ status: expect.stringMatching(/^page\.wav: .*\bWAV\b/), events: [] });
      // A good file afterwards clears the message.
      expect((await choose('mono.wav')).status).toBe('');
      expect(alerts).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('opened as a file (double-clicked): it says to serve it over HTTP (it said "Build it (npm run build)", with the bundle built)', async () => {
    const browser = await launch([]);
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`file://${path.join(ROOT, 'examples/browser/index.html')}`);
      await page.waitForFunction(() => document.getElementById('model')!.textContent !== 'loading the model…', undefined, { timeout: 20_000 });
      expect(await page.textContent('#model')).toBe(
        'Cannot start: the page was opened as a file, and browsers load modules only over HTTP. Serve the repository root (python3 -m http.server 8000) and open http://localhost:8000/examples/browser/.',
      );
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('served from a subpath it starts; without its library or model, with a truncated or corrupt model, or a server that sends the bundle as text/plain or an HTML fallback page for a file, it says why (it stayed at "loading the model…"; then said "Build it" or "starts with 3c21646f…")', async () => {
    const model = fs.readFileSync(path.join(ROOT, 'models/kws.ern'));
    const corrupt = Uint8Array.from(model);
    corrupt[corrupt.length - 3]! ^= 1;
    const bundle = fs.readFileSync(BUNDLE);
    const fallbackPage = fs.readFileSync(path.join(ROOT, 'examples/browser/index.html'));
    const cases: { name: string; files: Record<string, Uint8Array | null>; headers?: Record<string, Record<string, string>>; model: RegExp }[] = [
      { name: 'as it is', files: {}, model: /^kws 1\.0\.0, int8 on simd: yes, no/ },
      { name: 'no bundle', files: { '/sub/app/dist/edgernn.browser.js': null }, model: /^Cannot start: the library did not load from \/sub\/app\/dist\/edgernn\.browser\.js \(.+\)\. Build it \(npm run build\) and serve the repository root\.$/ },
      { name: 'no model', files: { '/sub/app/models/kws.ern': null }, model: /^Cannot start: the model did not download from \/sub\/app\/models\/kws\.ern: HTTP 404 Not Found\. Serve the repository root\.$/ },
      { name: 'truncated', files: { '/sub/app/models/kws.ern': model.subarray(0, 1000) }, model: /^Cannot start: ERN_TRUNCATED: kws\.ern: / },
      { name: 'corrupt', files: { '/sub/app/models/kws.ern': corrupt }, model: /^Cannot start: ERN_CHECKSUM: kws\.ern: content sha256 .* does not match/ },
      // What servers get wrong. The model's type does not matter, nor gzip in transit.
      { name: 'model gzipped', files: { '/sub/app/models/kws.ern': gzipSync(model) }, headers: { '/sub/app/models/kws.ern': { 'content-encoding': 'gzip' } }, model: /^kws 1\.0\.0, int8 on simd/ },
      { name: 'model as text/html', files: { '/sub/app/models/kws.ern': model }, headers: { '/sub/app/models/kws.ern': { 'content-type': 'text/html' } }, model: /^kws 1\.0\.0, int8 on simd/ },
      // Each said "Build it (npm run build)" or "not an .ern file: starts with 3c21646f63747970".
      {
        name: 'bundle as text/plain (python -m http.server on Windows)',
        files: { '/sub/app/dist/edgernn.browser.js': bundle },
        headers: { '/sub/app/dist/edgernn.browser.js': { 'content-type': 'text/plain' } },
        model: /^Cannot start: the server sent \/sub\/app\/dist\/edgernn\.browser\.js as text\/plain; browsers run a module only when it comes as text\/javascript\. Configure the server's type for \.js\.$/,
      },
      {
        name: 'a fallback page for the bundle',
        files: { '/sub/app/dist/edgernn.browser.js': fallbackPage },
        headers: { '/sub/app/dist/edgernn.browser.js': { 'content-type': 'text/html' } },
        model: /^Cannot start: the server sent an HTML page for \/sub\/app\/dist\/edgernn\.browser\.js, not the library: it has no file there\. Build it \(npm run build\) and serve the repository root\.$/,
      },
      {
        name: 'a fallback page for the model',
        files: { '/sub/app/models/kws.ern': fallbackPage },
        headers: { '/sub/app/models/kws.ern': { 'content-type': 'text/html; charset=utf-8' } },
        model: /^Cannot start: the server sent an HTML page for \/sub\/app\/models\/kws\.ern, not the model \(ERN_BAD_MAGIC\): it has no file there\. Serve the repository root\.$/,
      },
    ];
    const browser = await launch([]);
    try {
      for (const c of cases) {
        const site = await serve(c.files, '/sub/app/', c.headers);
        try {
          const page = await browser.newPage();
          const errors: string[] = [];
          page.on('pageerror', (e) => errors.push(String(e)));
          await page.goto(`${site.base}/sub/app/examples/browser/`);
          await page.waitForFunction(() => document.getElementById('model')!.textContent !== 'loading the model…', undefined, { timeout: 20_000 });
          expect(await page.textContent('#model'), c.name).toMatch(c.model);
          expect(errors, c.name).toEqual([]);
          await page.close();
        } finally {
          await site.close();
        }
      }
    } finally {
      await browser.close();
    }
  });
});
