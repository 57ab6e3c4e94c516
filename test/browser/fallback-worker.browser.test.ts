/**
 * The browser bundle where the page's engine differs from Node's: WebAssembly SIMD switched off
 * (the loader must pick the scalar kernels and say so, bit-exact with Node), the synchronous path
 * on the main thread, a dedicated Web Worker (async and sync loading), model bytes as a page gets
 * them (fetch's ArrayBuffer, views with offsets, a Response or a File passed by mistake, a buffer
 * transferred away), a Content-Security-Policy without WebAssembly, onnxruntime-web unresolvable,
 * and models of every shape against Node. Real headless Chromium, no mocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, encodeModel, exportOnnx } from '../../src/index.js';
import { randomFloatModel, randomQuantModel, randomSequences } from '../helpers/random-model.js';
import { NO_WASM_SIMD, browserSkipReason, inPage, launchChromium, serve } from '../helpers/browser.js';

if (browserSkipReason) console.log(`browser fallback/worker tests skipped: ${browserSkipReason}`);

const { int8 } = randomQuantModel(11);
const modelBytes = encodeModel(int8);
const seq = randomSequences(7, int8.input.size, 1, 16)[0]!;

// A dedicated module worker: loads the model it is sent, both ways, and answers with the outputs.
const WORKER = `
import * as E from '/dist/edgernn.browser.js';
onmessage = async ({ data: { bytes, seq } }) => {
  const rt = await E.createRuntime();
  const m = await rt.load(bytes);
  const s = m.session();
  const stepped = [];
  for (let t = 0; t < seq.length / m.inputSize; t++) stepped.push(...s.step(seq.subarray(t * m.inputSize, (t + 1) * m.inputSize)));
  const sync = E.createRuntimeSync().loadSync(bytes);
  let truncated = null;
  try { await rt.load(bytes.slice(0, 200)); } catch (e) { truncated = { name: e.name, code: e.code }; }
  postMessage({ simd: rt.simdSupported, backend: m.backend, syncBackend: sync.backend, stepped, run: Array.from(sync.session().run(seq)), truncated });
};`;

// A page whose Content-Security-Policy allows its own scripts but not WebAssembly (strict), and
// one that allows WebAssembly too: every way to start the runtime, and what it says.
const CSP_TEST = `
import * as E from '/dist/edgernn.browser.js';
const bytes = new Uint8Array(await (await fetch('/model.ern')).arrayBuffer());
const attempt = async (f) => { try { return await f(); } catch (e) { return { name: e.name, code: e.code, message: e.message }; } };
window.result = {
  auto: await attempt(async () => (await (await E.createRuntime()).load(bytes)).backend),
  reference: await attempt(async () => (await (await E.createRuntime({ backend: 'reference' })).load(bytes)).backend),
  sync: await attempt(async () => E.createRuntimeSync().loadSync(bytes).backend),
};`;
const cspPage = '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/csp-test.js"></script>';

/**
 * Models of every shape the runtime takes: GRU, LSTM and RNN layers, dense layers, reverse and
 * bidirectional ones (the offline path), int8 and float32.
 */
const ZOO = [1, 2, 3, 4].flatMap((seed) => {
  const offline = seed % 2 === 0;
  const int8 = randomQuantModel(100 + seed, { offline }).int8;
  const float = randomFloatModel(200 + seed, { offline });
  return [
    { name: `int8-${seed}`, spec: int8, backends: ['auto', 'scalar', 'reference'] },
    { name: `float-${seed}`, spec: float, backends: ['auto'] },
  ].map((m) => ({ ...m, bytes: encodeModel(m.spec), seq: randomSequences(300 + seed, m.spec.input.size, 1, 9)[0]! }));
});
/** Float32 models run the TypeScript float reference: Chromium's Math.exp/tanh may differ from Node's in the last ulp. */
const FLOAT_MODEL_ATOL = 1e-6;

let server: Awaited<ReturnType<typeof serve>> | null = null;
let want: number[] = [];
beforeAll(async () => {
  if (browserSkipReason) return;
  const zooFiles: Record<string, Uint8Array> = {};
  for (const m of ZOO) {
    zooFiles[`/zoo/${m.name}.ern`] = m.bytes;
    zooFiles[`/zoo/${m.name}.bin`] = new Uint8Array(m.seq.buffer);
  }
  server = await serve(
    { ...zooFiles, '/model.ern': modelBytes, '/model.onnx': exportOnnx(int8), '/seq.bin': new Uint8Array(seq.buffer), '/worker.js': WORKER, '/csp-test.js': CSP_TEST, '/strict.html': cspPage, '/wasm.html': cspPage },
    '/',
    { '/strict.html': { 'content-security-policy': "script-src 'self'" }, '/wasm.html': { 'content-security-policy': "script-src 'self' 'wasm-unsafe-eval'" } },
  );
  want = Array.from((await (await createRuntime()).load(modelBytes)).session().run(seq));
});
afterAll(async () => {
  await server?.close();
});

/** In the page: every way the page can load and run the model, and the errors it gets. */
const PAGE_RUN = `
  const bytes = new Uint8Array(await (await fetch('/model.ern')).arrayBuffer());
  const seq = new Float32Array(await (await fetch('/seq.bin')).arrayBuffer());
  const err = (e) => ({ name: e.name, code: e.code, message: e.message });
  const attempt = async (f) => { try { return await f(); } catch (e) { return err(e); } };
  const rt = await E.createRuntime();
  const auto = await rt.load(bytes);
  const out = { simd: rt.simdSupported, intBackend: rt.intBackend, backend: auto.backend, outputs: { auto: Array.from(auto.session().run(seq)) } };
  for (const backend of ['scalar', 'reference']) out.outputs[backend] = Array.from((await rt.load(bytes, { backend })).session().run(seq));
  out.sync = await attempt(() => { const r = E.createRuntimeSync(); const m = r.loadSync(bytes); return { simd: r.simdSupported, backend: m.backend, out: Array.from(m.session().run(seq)) }; });
  out.askSimd = await attempt(async () => (await rt.load(bytes, { backend: 'simd' })).backend);
  out.askSimdRuntime = await attempt(async () => (await E.createRuntime({ backend: 'simd' })).intBackend);
  return out;
`;

describe.skipIf(browserSkipReason !== null)('the browser bundle where the engine is not Node', () => {
  it(`WebAssembly SIMD off (${NO_WASM_SIMD}): createRuntime() picks the scalar kernels, says so, and matches Node bit for bit; asking for simd is BACKEND_UNAVAILABLE`, async () => {
    const browser = await launchChromium([NO_WASM_SIMD]);
    try {
      const page = await browser.newPage();
      await page.goto(server!.base);
      type Run = { simd: boolean; intBackend: string; backend: string; outputs: Record<string, number[]>; sync: { simd: boolean; backend: string; out: number[] }; askSimd: { code: string }; askSimdRuntime: { code: string } };
      const r = await inPage<Run>(page, PAGE_RUN);
      expect(await page.evaluate(`import('/dist/edgernn.browser.js').then((E) => WebAssembly.validate(E.kernelBinaries().simd))`)).toBe(false);
      expect([r.simd, r.intBackend, r.backend]).toEqual([false, 'scalar', 'scalar']);
      for (const b of ['auto', 'scalar', 'reference']) expect(r.outputs[b], b).toEqual(want);
      expect([r.sync.simd, r.sync.backend]).toEqual([false, 'scalar']);
      expect(r.sync.out).toEqual(want);
      expect(r.askSimd.code).toBe('BACKEND_UNAVAILABLE');
      expect(r.askSimdRuntime.code).toBe('BACKEND_UNAVAILABLE');

      // The example page says which kernels run.
      const example = await serve();
      try {
        await page.goto(`${example.base}/examples/browser/`);
        await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 20_000 });
        expect(await page.textContent('#model')).toMatch(/^kws 1\.0\.0, int8 on scalar: yes, no/);
      } finally {
        await example.close();
      }
    } finally {
      await browser.close();
    }
  });

  it('SIMD on, the main thread: auto is simd, and the synchronous path (createRuntimeSync, loadSync) works in a page too', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(server!.base);
      type Run = { simd: boolean; backend: string; outputs: Record<string, number[]>; sync: { simd: boolean; backend: string; out: number[] } };
      const r = await inPage<Run>(page, PAGE_RUN);
      expect([r.simd, r.backend]).toEqual([true, 'simd']);
      for (const b of ['auto', 'scalar', 'reference']) expect(r.outputs[b], b).toEqual(want);
      expect([r.sync.simd, r.sync.backend]).toEqual([true, 'simd']);
      expect(r.sync.out).toEqual(want);
    } finally {
      await browser.close();
    }
  });

  for (const simd of [true, false]) {
    it(`a dedicated Web Worker loads and steps the model (SIMD ${simd ? 'on' : 'off'}), synchronously too, and gets typed errors`, async () => {
      const browser = await launchChromium(simd ? [] : [NO_WASM_SIMD]);
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(server!.base);
        type Reply = { simd: boolean; backend: string; syncBackend: string; stepped: number[]; run: number[]; truncated: { name: string; code: string } };
        const r = (await page.evaluate(`(async () => {
          const w = new Worker('/worker.js', { type: 'module' });
          const bytes = new Uint8Array(await (await fetch('/model.ern')).arrayBuffer());
          const seq = new Float32Array(await (await fetch('/seq.bin')).arrayBuffer());
          const reply = await new Promise((resolve) => {
            w.onmessage = (m) => resolve(m.data);
            w.onerror = (e) => resolve({ error: e.message });
            w.postMessage({ bytes, seq });
          });
          w.terminate();
          return reply;
        })()`)) as Reply;
        const build = simd ? 'simd' : 'scalar';
        expect([r.simd, r.backend, r.syncBackend]).toEqual([simd, build, build]);
        expect(r.stepped).toEqual(want);
        expect(r.run).toEqual(want);
        expect(r.truncated).toEqual({ name: 'EdgeRnnError', code: 'ERN_TRUNCATED' });
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  }

  it('model bytes as a page has them: views with offsets and DataViews load; a truncated or corrupt download is a typed error; a Response or a File says how to get the bytes; a buffer transferred to a worker is named as such (was a bare TypeError); a server\'s HTML page or a still-gzipped file is named as such (was only "starts with 3c21646f63747970")', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(server!.base);
      const r = await inPage<Record<string, unknown>>(
        page,
        `
        const response = await fetch('/model.ern');
        const buf = await response.clone().arrayBuffer();
        const n = buf.byteLength;
        const padded = new Uint8Array(n + 64);
        padded.set(new Uint8Array(buf), 13); // an odd offset: not even 2-aligned
        const rt = await E.createRuntime();
        const attempt = async (f) => { try { return (await f()).backend; } catch (e) { return { name: e.name, code: e.code, message: e.message }; } };
        const corrupt = new Uint8Array(buf.slice(0)); corrupt[n - 3] ^= 1;
        // Bytes handed to a worker with a transfer list: the page's buffer is detached.
        const sent = buf.slice(0);
        const sentView = new Uint8Array(sent, 8);
        const worker = new Worker(URL.createObjectURL(new Blob(['onmessage = () => {};'], { type: 'text/javascript' })));
        worker.postMessage(sent, [sent]);
        worker.terminate();
        // What a fetch gets from a server that has no file there (and did not say 404), or that gzipped it without saying so.
        const htmlPage = new TextEncoder().encode('<!doctype html><html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>');
        const gzipped = new Uint8Array(await new Response(new Blob([buf]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
        return {
          htmlPage: await attempt(() => rt.load(htmlPage, { source: 'kws.ern' })),
          gzipped: await attempt(() => rt.load(gzipped, { source: 'kws.ern' })),
          arrayBuffer: await attempt(() => rt.load(buf)),
          view: await attempt(() => rt.load(new Uint8Array(padded.buffer, 13, n))),
          dataView: await attempt(() => rt.load(new DataView(padded.buffer, 13, n))),
          viewSync: await attempt(async () => rt.loadSync(padded.subarray(13, 13 + n))),
          truncated: await attempt(() => rt.load(buf.slice(0, n - 10))),
          corrupt: await attempt(() => rt.load(corrupt)),
          response: await attempt(() => rt.load(response)),
          file: await attempt(() => rt.load(new File([buf], 'kws.ern'), { source: 'kws.ern' })),
          detached: await attempt(() => rt.load(sent, { source: 'kws.ern' })),
          detachedView: await attempt(() => rt.load(sentView, { source: 'kws.ern' })),
          detachedSync: await attempt(async () => rt.loadSync(sent, { source: 'kws.ern' })),
        };
        `,
      );
      expect([r.arrayBuffer, r.view, r.dataView, r.viewSync]).toEqual(['simd', 'simd', 'simd', 'simd']);
      expect(r.truncated).toMatchObject({ name: 'EdgeRnnError', code: 'ERN_TRUNCATED' });
      expect(r.corrupt).toMatchObject({ name: 'EdgeRnnError', code: 'ERN_CHECKSUM' });
      expect(r.response).toMatchObject({ name: 'EdgeRnnError', code: 'INVALID_ARGUMENT', message: expect.stringMatching(/got a Response \(pass await response\.arrayBuffer\(\)\)$/) });
      for (const how of ['detached', 'detachedView', 'detachedSync']) {
        expect(r[how], how).toMatchObject({
          name: 'EdgeRnnError',
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/^kws\.ern: load(Sync)?\(\) got a detached ArrayBuffer: its bytes were transferred \(postMessage with a transfer list, ArrayBuffer\.transfer\(\)\); pass a copy made before sending \(buffer\.slice\(0\)\), or use the bytes where they went$/),
        });
      }
      expect(r.file).toMatchObject({ name: 'EdgeRnnError', code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^kws\.ern: load\(\) takes .* got a File \(pass await file\.arrayBuffer\(\)\)$/) });
      expect(r.htmlPage).toMatchObject({
        name: 'EdgeRnnError',
        code: 'ERN_BAD_MAGIC',
        message: 'kws.ern: not an .ern file: starts with 3c21646f63747970, expected 8945524e0d0a1a0a; it starts "<!doctyp": text, such as a server\'s HTML page (a 404, a fallback) sent in place of the file',
      });
      expect(r.gzipped).toMatchObject({ name: 'EdgeRnnError', code: 'ERN_BAD_MAGIC', message: expect.stringMatching(/; it is gzip-compressed: decompress it first \(a server should send it with Content-Encoding: gzip, which fetch\(\) undoes\)$/) });
    } finally {
      await browser.close();
    }
  });

  for (const simd of [true, false]) {
    it(`a page whose Content-Security-Policy forbids WebAssembly (SIMD ${simd ? 'on' : 'off'}): BACKEND_UNAVAILABLE naming 'wasm-unsafe-eval' (was "no SIMD" and a bare CompileError at load)`, async () => {
      const browser = await launchChromium(simd ? [] : [NO_WASM_SIMD]);
      try {
        const page = await browser.newPage();
        const result = async (url: string) => {
          await page.goto(`${server!.base}${url}`);
          await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 20_000 });
          return page.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result);
        };
        const strict = await result('/strict.html');
        for (const how of ['auto', 'reference', 'sync']) {
          expect(strict[how], how).toMatchObject({
            name: 'EdgeRnnError',
            code: 'BACKEND_UNAVAILABLE',
            message: expect.stringMatching(/^this WebAssembly engine validates the kernels but refuses to compile them \(.*Content Security.*\): in a web page, allow WebAssembly with 'wasm-unsafe-eval' in the Content-Security-Policy's script-src$/),
          });
        }
        const build = simd ? 'simd' : 'scalar';
        expect(await result('/wasm.html')).toEqual({ auto: build, reference: 'reference', sync: build });
      } finally {
        await browser.close();
      }
    });
  }

  it('OrtWebModel.create() in a page where the bare specifier onnxruntime-web does not resolve: BACKEND_UNAVAILABLE saying to pass { ort } (was a bare TypeError from import())', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(server!.base);
      const r = await inPage<unknown>(
        page,
        `
        const bytes = new Uint8Array(await (await fetch('/model.onnx')).arrayBuffer());
        try { await E.OrtWebModel.create(bytes, { source: 'model.onnx' }); return 'loaded'; } catch (e) { return { name: e.name, code: e.code, message: e.message }; }
        `,
      );
      expect(r).toMatchObject({
        name: 'EdgeRnnError',
        code: 'BACKEND_UNAVAILABLE',
        message: expect.stringMatching(/^model\.onnx: onnxruntime-web did not load \(.*onnxruntime-web.*\): pass its module as \{ ort \} \(import \* as ort from its URL\), or map 'onnxruntime-web' in an import map$/),
      });
    } finally {
      await browser.close();
    }
  });

  it('models of every shape (GRU, LSTM, RNN, dense, reverse, bidirectional; int8 and float32) give in the page what they give in Node', async () => {
    const rt = await createRuntime();
    const node: Record<string, number[]> = {};
    for (const m of ZOO) node[m.name] = Array.from((await rt.load(m.bytes)).session().run(m.seq));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(server!.base);
      const got = await inPage<Record<string, Record<string, number[]>>>(
        page,
        `
        const zoo = ${JSON.stringify(ZOO.map((m) => ({ name: m.name, backends: m.backends })))};
        const rt = await E.createRuntime();
        const out = {};
        for (const m of zoo) {
          const bytes = new Uint8Array(await (await fetch('/zoo/' + m.name + '.ern')).arrayBuffer());
          const seq = new Float32Array(await (await fetch('/zoo/' + m.name + '.bin')).arrayBuffer());
          out[m.name] = {};
          for (const backend of m.backends) {
            const model = await rt.load(bytes, { backend });
            out[m.name][backend] = Array.from(model.session().run(seq));
            model.dispose();
          }
        }
        return out;
        `,
      );
      for (const m of ZOO) {
        for (const b of m.backends) {
          const g = got[m.name]![b]!;
          expect(g.length, `${m.name} ${b}`).toBe(node[m.name]!.length);
          if (m.spec.precision === 'int8') expect(g, `${m.name} ${b}`).toEqual(node[m.name]);
          else for (let i = 0; i < g.length; i++) expect(Math.abs(g[i]! - node[m.name]![i]!), `${m.name} output ${i}`).toBeLessThanOrEqual(FLOAT_MODEL_ATOL);
        }
      }
    } finally {
      await browser.close();
    }
  });
});
