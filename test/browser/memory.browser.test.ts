/**
 * Kernel memory in a real page (headless Chromium). Every model owns one WebAssembly instance and
 * memory; Chromium's V8 reserves address space for each memory inside its sandbox, so a page can
 * hold only a hundred or so at once. Loading, disposing and reloading must keep working there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, inPage, launchChromium, serve } from '../helpers/browser.js';

if (browserSkipReason) console.log(`browser memory tests skipped: ${browserSkipReason}`);

/** JavaScript heap growth allowed over 900 load/dispose cycles (measured: about 10 KB). */
const HEAP_GROWTH_BUDGET_BYTES = 1 << 20;

let server: Awaited<ReturnType<typeof serve>> | null = null;
beforeAll(async () => {
  if (!browserSkipReason) server = await serve();
});
afterAll(async () => {
  await server?.close();
});

describe.skipIf(browserSkipReason !== null)('kernel memory in headless Chromium', () => {
  it('a page full of live models: the next load is KERNEL_MEMORY (was a bare RangeError), dispose() works (it threw a RangeError) and loads work again after', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(server!.base);
      const r = await inPage<{ live: number; full: unknown; dispose: unknown; after: unknown }>(
        page,
        `
        const bytes = new Uint8Array(await (await fetch('/models/kws.ern')).arrayBuffer());
        const rt = await E.createRuntime();
        const models = [];
        let full = null;
        // Loaded and kept (one kernel memory each) until the engine refuses one more (Chromium on
        // x64: after about 125; 600 is far past that).
        for (let i = 0; i < 600 && full === null; i++) {
          try { models.push(await rt.load(bytes)); } catch (e) { full = { name: e.name, code: e.code, message: e.message }; }
        }
        let dispose = 'ok';
        try { for (const m of models) m.dispose(); } catch (e) { dispose = { name: e.name, code: e.code, message: e.message }; }
        const live = models.length;
        models.length = 0;
        let after;
        try { const m = await rt.load(bytes); after = m.backend; m.dispose(); } catch (e) { after = { name: e.name, code: e.code, message: e.message }; }
        return { live, full, dispose, after };
        `,
      );
      // Refused with the typed error that says what to do, not WebAssembly's RangeError. (An
      // engine that grants more memories than that checks only the dispose and reload below.)
      if (r.full === null) console.log(`browser memory test: the engine granted ${r.live} kernel memories without refusing one`);
      else expect(r.full).toMatchObject({ name: 'EdgeRnnError', code: 'KERNEL_MEMORY', message: expect.stringMatching(/cannot allocate kernel memory for another model .*dispose\(\)/) });
      expect(r.live).toBeGreaterThan(10);
      expect(r.dispose).toBe('ok');
      expect(r.after).toBe('simd');
    } finally {
      await browser.close();
    }
  });

  it('a thousand load/step/dispose cycles (and models dropped undisposed) run in a page that holds only ~125 live memories, the JavaScript heap flat: nothing keeps a released model; use after dispose is SESSION_DISPOSED', async () => {
    // gc() to measure the heap after the collector, not whenever it last ran.
    const browser = await launchChromium(['--js-flags=--expose-gc', '--enable-precise-memory-info']);
    try {
      const page = await browser.newPage();
      await page.goto(server!.base);
      const r = await inPage<{ cycles: number; error: unknown; heapGrowth: number; twice: unknown; after: Record<string, unknown> }>(
        page,
        `
        const bytes = new Uint8Array(await (await fetch('/models/kws.ern')).arrayBuffer());
        const rt = await E.createRuntime();
        let cycles = 0, error = null;
        const heap = async () => {
          for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 50)); }
          return performance.memory.usedJSHeapSize;
        };
        let heapAt100 = 0;
        try {
          for (; cycles < 1000; cycles++) {
            if (cycles === 100) heapAt100 = await heap(); // after the first loads' one-time costs
            const m = await rt.load(bytes);
            const s = m.session();
            s.step(new Float32Array(m.inputSize));
            // Half disposed as the API asks; half only dropped (the collector must get those too).
            if (cycles % 2 === 0) { s.dispose(); m.dispose(); }
          }
        } catch (e) { error = { name: e.name, code: e.code, message: e.message }; }
        const heapGrowth = (await heap()) - heapAt100;
        // Disposed twice, then used: typed errors, not a crash or a TypeError.
        const m = await rt.load(bytes);
        const s = m.session();
        const code = (f) => { try { f(); return 'no error'; } catch (e) { return e.code ?? e.name; } };
        const twice = { session: code(() => { s.dispose(); s.dispose(); }) };
        const after = { step: code(() => s.step(new Float32Array(m.inputSize))), run: code(() => s.run(new Float32Array(m.inputSize))), exportState: code(() => s.exportState()) };
        const s2 = m.session();
        twice.model = code(() => { m.dispose(); m.dispose(); });
        Object.assign(after, {
          sessionStep: code(() => s2.step(new Float32Array(m.inputSize))),
          newSession: code(() => m.session()),
          inputFrame: code(() => m.inputFrame()),
          stepMany: code(() => m.stepMany([s2], new Float32Array(m.inputSize))),
        });
        return { cycles, error, heapGrowth, twice, after };
        `,
      );
      expect(r.error).toBe(null);
      expect(r.cycles).toBe(1000);
      // 900 more loads: a model, its decoded file or a session kept per cycle would be 10s of MB.
      expect(r.heapGrowth).toBeLessThan(HEAP_GROWTH_BUDGET_BYTES);
      expect(r.twice).toEqual({ session: 'no error', model: 'no error' });
      expect(r.after).toEqual({ step: 'SESSION_DISPOSED', run: 'SESSION_DISPOSED', exportState: 'SESSION_DISPOSED', sessionStep: 'SESSION_DISPOSED', newSession: 'SESSION_DISPOSED', inputFrame: 'SESSION_DISPOSED', stepMany: 'SESSION_DISPOSED' });
    } finally {
      await browser.close();
    }
  });
});
