// What a reader meets first, on every view of the page, light and dark, on a 390 px phone (CPU
// path): axe-core finds no serious or critical violation (colour contrast under WCAG AA among
// them), and no control is under 24 × 24 CSS px (WCAG 2.2's target size; links inside a
// sentence are exempt); the layout shifts while it loads add up to at most 0.1 (Lighthouse's
// "good" cumulative layout shift).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, launch, openIndex, serve } from './harness.mjs';

const VIEWS = ['forward', 'reverse', 'compare', 'inpaint', 'guidance', 'spiral'];
let server;
let axe;
before(async () => {
  server = await serve();
  axe = await readFile(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
});
after(() => server.close());

for (const scheme of ['light', 'dark']) {
  describe(`the page in the ${scheme} scheme, 390 px wide`, () => {
    let browser;
    before(async () => {
      browser = await launch({ webgpu: false });
    });
    after(() => browser.close());

    for (const view of VIEWS) {
      test(view, async () => {
        const { page, errors } = await openIndex(browser, server.url, false, `view=${view}`, async (page) => {
          await page.emulateMedia({ colorScheme: scheme });
          await page.setViewportSize({ width: 390, height: 844 });
          await page.addInitScript(() => {
            window.layoutShift = 0;
            new PerformanceObserver((list) => {
              for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.layoutShift += entry.value;
            }).observe({ type: 'layout-shift', buffered: true });
          });
        });
        const shift = await page.evaluate(() => window.layoutShift);
        assert.ok(shift <= 0.1, `cumulative layout shift ${shift.toFixed(3)} while the page loaded`);
        await page.evaluate(axe);
        const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
          .filter((v) => ['serious', 'critical'].includes(v.impact))
          .map((v) => `${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} (${n.any[0]?.message ?? n.failureSummary})`).join('; ')}`));
        assert.deepEqual(violations, []);
        const small = await page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea, [role="tab"], summary')]
          .filter((e) => e.checkVisibility())
          .map((e) => ({ e, box: e.getBoundingClientRect() }))
          .filter(({ box }) => box.width < 24 || box.height < 24)
          .map(({ e, box }) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.dataset.part ? `[${e.dataset.part}]` : ''} ${box.width.toFixed(0)}×${box.height.toFixed(0)}`));
        assert.deepEqual(small, [], 'controls under 24 × 24 px');
        assert.deepEqual(errors, []);
        await page.close();
      });
    }
  });
}
