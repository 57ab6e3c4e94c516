/**
 * Keyword spotting on the audio thread: the browser bundle imported by an AudioWorklet module,
 * whose global scope has neither atob nor TextDecoder/TextEncoder (nor fetch, setTimeout). Audio
 * at 48 kHz, an AudioContext's usual rate, resampled to the model's 16 kHz by the bundle's
 * StreamResampler, then the model's own front end and the model, in the worklet and on the page
 * with the same samples. Real headless Chromium (an OfflineAudioContext: no audio device, no
 * clock), no mocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, inPage, withPage, serve } from '../helpers/browser.js';

if (browserSkipReason) console.log(`browser AudioWorklet tests skipped: ${browserSkipReason}`);

/** One pipeline, the same text in the worklet and on the page: 48 kHz blocks in, each window's last output row and the keyword detector's score out. */
const PIPELINE = `
function pipeline(E, model, inRateHz) {
  const rate = model.spec.input.frontend.sampleRateHz;
  const resampler = new E.StreamResampler(E.planResampler('polyphase', 1, inRateHz, rate));
  const frontend = E.createFrontendForInput(model.spec.input);
  const session = model.session();
  const detector = E.createKwsDetectorForModel(model.spec);
  const O = model.outputSize;
  const rows = [];
  const block = new Float32Array(4096);
  return {
    rows,
    push(x) {
      let n = 0;
      for (let i = 0; i < x.length; i++) resampler.push(x, i, () => { block[n++] = resampler.out[0]; });
      frontend.push(block.subarray(0, n), (w) => {
        session.reset();
        const y = session.run(w).slice(-O);
        detector.step(y);
        rows.push([...y, detector.lastScore]);
      });
    },
  };
}`;

// Loads the model it is given, both ways, and posts each window's outputs as they come.
const WORKLET = `
import * as E from '/dist/edgernn.browser.js';
${PIPELINE}
registerProcessor('kws', class extends AudioWorkletProcessor {
  constructor({ processorOptions: { bytes } }) {
    super();
    const error = (e) => this.port.postMessage({ error: \`\${e.name} \${e.code ?? ''}: \${e.message}\` });
    try {
      const model = E.createRuntimeSync().loadSync(bytes, { source: 'kws.ern' });
      this.p = pipeline(E, model, sampleRate);
      this.port.postMessage({ syncBackend: model.backend });
    } catch (e) { error(e); }
    E.createRuntime().then((rt) => rt.load(bytes, { source: 'kws.ern' })).then((m) => this.port.postMessage({ asyncBackend: m.backend }), error);
  }
  process(inputs) {
    const x = inputs[0][0];
    if (!x || !this.p) return true;
    const before = this.p.rows.length;
    this.p.push(x);
    for (const row of this.p.rows.slice(before)) this.port.postMessage({ row });
    return true;
  }
});`;

let server: Awaited<ReturnType<typeof serve>> | null = null;
beforeAll(async () => {
  if (browserSkipReason) return;
  server = await serve({ '/kws-worklet.js': WORKLET });
});
afterAll(async () => {
  await server?.close();
});

describe.skipIf(browserSkipReason !== null)('the browser bundle in an AudioWorklet', () => {
  it('models/kws.ern loads (loadSync and load) and runs on 48 kHz audio resampled to 16 kHz, as on the page (was ReferenceError: atob is not defined, then TextDecoder, TextEncoder)', async () => {
    await withPage(`${server!.base}/`, async (page, errors) => {
      const r = await inPage<{ messages: Record<string, unknown>[]; rows: number[][]; page: number[][] }>(
        page,
        `${PIPELINE}
        const rate = 48000;
        const length = 128 * 960; // 2.56 s
        const bytes = new Uint8Array(await (await fetch('/models/kws.ern')).arrayBuffer());
        // Two tones and a little deterministic noise.
        const x = new Float32Array(length);
        let seed = 1;
        for (let i = 0; i < length; i++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          x[i] = 0.3 * Math.sin(2 * Math.PI * 440 * i / rate) + 0.2 * Math.sin(2 * Math.PI * 1250 * i / rate) + 0.05 * (seed / 2 ** 32 - 0.5);
        }
        const ctx = new OfflineAudioContext(1, length, rate);
        const buffer = ctx.createBuffer(1, length, rate);
        buffer.copyToChannel(x, 0);
        await ctx.audioWorklet.addModule('/kws-worklet.js');
        const node = new AudioWorkletNode(ctx, 'kws', { processorOptions: { bytes } });
        const messages = [];
        node.port.onmessage = (m) => messages.push(m.data);
        const source = new AudioBufferSourceNode(ctx, { buffer });
        source.connect(node);
        node.connect(ctx.destination);
        source.start();
        await ctx.startRendering();

        // The page: the same samples, in the same 128-sample blocks.
        const model = (await E.createRuntime()).loadSync(bytes);
        const p = pipeline(E, model, rate);
        for (let i = 0; i < length; i += 128) p.push(x.subarray(i, i + 128));
        // The worklet's messages arrive after rendering: wait for as many rows (or an error, or 20 s).
        const rows = () => messages.filter((m) => m.row).map((m) => m.row);
        for (let t = 0; t < 400 && rows().length < p.rows.length && !messages.some((m) => m.error); t++) await new Promise((r) => setTimeout(r, 50));
        for (let t = 0; t < 100 && !messages.some((m) => m.asyncBackend || m.error); t++) await new Promise((r) => setTimeout(r, 50));
        return { messages: messages.filter((m) => !m.row), rows: rows(), page: p.rows };`,
      );
      expect(r.messages).toEqual([{ syncBackend: 'simd' }, { asyncBackend: 'simd' }]);
      // First window after 1.5 s, then one every 100 ms.
      expect(r.page.length).toBe(11);
      for (const row of r.page) expect(row.slice(0, 12).reduce((a, b) => a + b)).toBeCloseTo(1, 3); // posteriors
      expect(r.rows).toEqual(r.page);
      expect(errors).toEqual([]);
    });
  });
});
