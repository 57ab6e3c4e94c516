/**
 * The run report in real headless Chromium: what a user opens and shares. It must load nothing
 * from the network, run nothing, show no NaN, and fit the page width with hostile and long labels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { writeRunReport } from '../../quantize/report/run-report.js';
import { classificationReport } from '../../quantize/eval/metrics.js';
import { Rng } from '../../src/index.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { gruClassifier } from '../helpers/random-model.js';

const skip = CHROMIUM ? null : 'chromium is not installed (apt-get install chromium)';
if (skip) console.log(`report browser tests skipped: ${skip}`);

describe.skipIf(skip !== null)('run report in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('one epoch, hostile and 200-character labels: no script, no request, no NaN, dots on the charts, page width kept', async () => {
    const rng = new Rng(11);
    const labels = ['<script>alert(1)</script>', 'a "q" & b', '<img src=x onerror=alert(2)>', 'L'.repeat(200)];
    const spec = gruClassifier(rng, '<img src=http://example.com/x.png>', labels, { dataset: `/data/${'d'.repeat(300)}.jsonl` });
    const t = [0, 1, 2, 3, 3, 2];
    const p = [0, 1, 2, 3, 1, 2];
    const html = await writeRunReport({
      title: spec.name,
      spec,
      history: [{ epoch: 1, trainLoss: 1.3, valLoss: 1.1, valAccuracy: 0.5, lr: 0.005, seconds: 0, sequencesPerSecond: 0 }],
      evaluations: { float: { task: 'classify', precision: 'float32', backend: 'reference', samples: 6, classification: classificationReport(labels, t, p) } },
      samples: [{ x: rng.float32(16, -1, 1), T: 8, y: 0, where: '<b>x.jsonl</b>:1' }],
    });
    const page = await browser.newPage({ viewport: { width: 1250, height: 900 } });
    const events: string[] = [];
    page.on('console', (m) => events.push(`console ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => events.push(`error: ${e.message}`));
    page.on('dialog', (d) => {
      events.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.route('**/*', (route) => {
      events.push(`request: ${route.request().url()}`);
      void route.abort();
    });
    await page.setContent(html, { waitUntil: 'load' });
    const got = await page.evaluate(() => ({
      active: document.querySelectorAll('script,img,iframe,object,embed').length,
      text: document.body.innerText,
      width: document.documentElement.scrollWidth,
      charts: [...document.querySelectorAll('svg.chart')].filter((s) => s.querySelector('polyline')).map((s) => s.querySelectorAll('circle').length),
    }));
    await page.close();
    expect(events).toEqual([]);
    expect(got.active).toBe(0);
    expect(got.text).toContain('<script>alert(1)</script>');
    expect(got.text).not.toMatch(/NaN|Infinity/);
    expect(got.width).toBeLessThanOrEqual(1250);
    expect(got.charts).toEqual([2, 1]); // loss (train, validation) and accuracy: one dot per series
  });

  it('the hidden-state heatmap of a long sequence (512 steps × 3 px) is scaled to the page, not 1 570 px wide', async () => {
    const rng = new Rng(12);
    const spec = gruClassifier(rng, 'long', ['a', 'b']);
    const html = await writeRunReport({ title: 'long', spec, samples: [{ x: rng.float32(1200, -1, 1), T: 600, y: 0, where: 'long.jsonl:1' }] });
    const page = await browser.newPage({ viewport: { width: 1250, height: 900 } });
    await page.setContent(html, { waitUntil: 'load' });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.close();
    expect(width).toBeLessThanOrEqual(1250);
  });
});
