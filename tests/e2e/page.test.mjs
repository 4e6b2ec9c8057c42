// The page's views, end to end, once on WebGPU (SwiftShader) and once forced to the CPU: the
// forward process, reverse sampling (play, step, scrub, cancel, reproducibility), forks compared
// across t, the permalink and the keyboard. Screenshots of each view go to test-results/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ARTIFACTS, downloadedGif, followHash, launch, openIndex, openPage, part, serve, sharedIndex, statusMatches } from './harness.mjs';

let server;
before(async () => {
  server = await serve();
  await mkdir(ARTIFACTS, { recursive: true });
});
after(() => server.close());

const F = (name) => part('forward', name);
const R = (name) => part('reverse', name);
const C = (name) => part('compare', name);

/** Grey values of a canvas (the red channel; the page draws grey images). */
const greys = (page, selector) => page.evaluate((selector) => {
  const c = document.querySelector(selector);
  if (!c.width || !c.height) return [];
  return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0));
}, selector);

/** A canvas's width and height. */
const sizeOf = (page, selector) => page.$eval(selector, (c) => [c.width, c.height]);

function stats(values) {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { mean, std, min: Math.min(...values), max: Math.max(...values) };
}

/** Sets a range input as a person dragging it would (Playwright cannot `fill` a range). */
const setRange = (page, selector, value) => page.evaluate(({ selector, value }) => {
  const input = document.querySelector(selector);
  input.value = String(value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}, { selector, value });

function meanAbsDiff(a, b) {
  assert.equal(a.length, b.length, 'compared canvases have one size');
  return a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
}

const open = (browser, webgpu, hash, beforeGoto) => openIndex(browser, server.url, webgpu, hash, beforeGoto);

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  describe(webgpu ? 'page on WebGPU (SwiftShader)' : 'page on the CPU (forced)', () => {
    // As `node scripts/model-index.mjs` copies a card's choice into the model list.
    const chosen = { webgpu: { sampler: 'ddim', steps: 200, eta: 1 }, cpu: { sampler: 'ddim', steps: 40, eta: 0 } };
    // And the card's per-sampler table, which the sampler controls show for the chosen method.
    const measured = (steps, eta, grainy) => ({ sampler: 'ddim', steps, eta, samples: 32, grainy, grainRatio: grainy ? 2.1 : 0.8, clean: !grainy });
    const quality = [measured(40, 0, 0), measured(200, 1, 0), measured(400, 0, 12)];
    const withChoice = (page) => page.route('**/www/models/index.json', async (route) => {
      const index = await (await route.fetch()).json();
      Object.assign(index.find((m) => m.id === 'fashion32'), { defaultSampler: chosen, samplerQuality: quality });
      await route.fulfill({ json: index });
    });
    let browser;
    let visit;
    before(async () => {
      browser = await launch({ webgpu });
      visit = sharedIndex(browser, server.url, webgpu, withChoice);
    });
    after(() => browser.close());

    test('forward process: x_t drowns x_0 as t grows, seeded, with the schedule plotted', async () => {
      const { page, errors } = await visit('view=forward&model=fashion32&forward.image=fashion:70&forward.t=0');
      assert.match(await page.textContent('#backend'), webgpu ? /^WebGPU/ : /^CPU \(wasm\), 1 thread: the page is not cross-origin isolated.* — CPU forced by the user$/);
      const settle = () => statusMatches(page, F('status'), /^t = \d+/);
      const at = async (t) => {
        await setRange(page, F('t'), t);
        await page.waitForFunction(({ t, selector }) => document.querySelector(selector).textContent.startsWith(`t = ${t}:`), { t, selector: F('status') }, { timeout: 60_000 });
        return greys(page, F('xt'));
      };
      await settle();
      const t0 = await at(0);
      const x0 = await greys(page, F('x0'));
      assert.equal(t0.length, 32 * 32, 'x_0 and x_t at the model size');
      const s0 = stats(x0);
      assert.ok(s0.max - s0.min > 100, `x_0 is an image, not blank (${JSON.stringify(s0)})`);
      const t500 = await at(500);
      const t999 = await at(999);
      const d0 = meanAbsDiff(t0, x0);
      const d500 = meanAbsDiff(t500, x0);
      const d999 = meanAbsDiff(t999, x0);
      console.log(`forward (${backend}): mean |x_t − x_0| in grey levels: t=0 ${d0.toFixed(1)}, t=500 ${d500.toFixed(1)}, t=999 ${d999.toFixed(1)}`);
      assert.ok(d0 < 5, `x_0 ≈ x_t at t = 0 (${d0})`);
      assert.ok(d0 < d500 && d500 < d999, 'the image drowns as t grows');
      await at(500);
      assert.deepEqual(await at(999), t999, 'the same seed gives the same x_t');
      const checksum = () => page.evaluate((selector) => {
        const c = document.querySelector(selector);
        return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.reduce((a, v, i) => (a + v * (i + 1)) % 1e9, 0);
      }, F('xt'));
      const before = await checksum();
      await page.fill(F('seed'), '5');
      await page.dispatchEvent(F('seed'), 'change');
      await page.waitForFunction(({ before, selector }) => {
        const c = document.querySelector(selector);
        return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.reduce((a, v, i) => (a + v * (i + 1)) % 1e9, 0) !== before;
      }, { before, selector: F('xt') }, { timeout: 60_000 });
      const reseeded = await greys(page, F('xt'));
      assert.ok(meanAbsDiff(reseeded, t999) > 20, 'another seed gives another x_t');
      for (const id of ['plot-beta', 'plot-alphabar', 'plot-logsnr']) {
        const painted = await page.evaluate((selector) => {
          const c = document.querySelector(selector);
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < data.length; i += 4) n += data[i] > 0;
          return n / (data.length / 4);
        }, F(id));
        assert.ok(painted > 0.01, `${id} has a curve drawn (${painted})`);
      }
      await page.screenshot({ path: join(ARTIFACTS, `view-forward-${backend}.png`), fullPage: true });
      assert.deepEqual(errors, []);
    });

    test('reverse defaults: the model card\'s sampler for the backend, a batch that fits, the run estimated before Play', async () => {
      const { page, errors } = await visit('view=reverse&model=fashion32');
      // The model is timed after the page is ready; the estimate and the batch that fits follow.
      await page.waitForFunction((s) => /here\)/.test(document.querySelector(s).textContent), '#reverse [data-part="status"]', { timeout: 120_000 });
      const [sampler, steps, eta, batch, text, link] = await page.evaluate((selectors) => [
        ...selectors.map((s) => document.querySelector(s).value),
        document.querySelector('#reverse [data-part="status"]').textContent, document.getElementById('permalink').href], ['sampler', 'steps', 'eta', 'n'].map(R));
      const info = await page.evaluate(() => document.getElementById('model-status').textContent);
      console.log(`defaults (${backend}): ${sampler} η ${eta}, ${steps} steps × ${batch}: "${text}"`);
      assert.deepEqual({ sampler, steps: Number(steps), eta: Number(eta) }, chosen[backend]);
      assert.equal(await page.isVisible(R('eta-label')), true, 'η shown for DDIM');
      const hint = async () => ({ text: await page.textContent(R('sampler-quality')), kind: await page.getAttribute(R('sampler-quality'), 'data-kind'),
        shown: await page.isVisible(R('sampler-quality')) });
      assert.deepEqual(await hint(), { shown: true, kind: null, text: webgpu
        ? 'Measured on this model (its card), DDIM, η = 1: 200 steps, 0 of 32 samples grainy.'
        : 'Measured on this model (its card), DDIM, η = 0: 40 steps, 0 of 32 samples grainy; 400 steps, 12 of 32 samples grainy.' });
      if (webgpu) {
        assert.equal(Number(batch), 4);
      } else {
        assert.ok(batch >= 1 && batch <= 4, `a batch of 1–4 (${batch})`);
        const seconds = Number(/about (\d+) s here/.exec(text)?.[1]);
        assert.ok(seconds > 0 && seconds <= 30, `the estimate fits 30 s: "${text}" (${info})`);
      }
      assert.match(text, new RegExp(`run ${steps} steps × ${batch} samples \\(about \\d+ (s|min) here\\)`));
      for (const setting of [`reverse.sampler=${sampler}`, `reverse.steps=${steps}`, `reverse.n=${batch}`]) assert.ok(link.includes(setting), `the permalink records ${setting}: ${link}`);
      // A setting the card measured as speckled gets a caution, with what stays clean; an unmeasured method, nothing.
      await page.fill(R('eta'), '0');
      await page.dispatchEvent(R('eta'), 'change');
      await page.fill(R('steps'), '300');
      await page.dispatchEvent(R('steps'), 'change');
      const caution = await hint();
      assert.equal(caution.kind, 'caution');
      assert.match(caution.text, /⚠ At 400 steps, the nearest measured, 12 of 32 samples came out grainy \(grain 2\.1× the training images'\)\. Clean on this model: DDIM, η = 0 at 40 steps; DDIM, η = 1 at 200 steps\.$/);
      await page.selectOption(R('sampler'), 'ddpm-small');
      assert.deepEqual(await hint(), { shown: false, kind: null, text: '' });
      // A sampler the link names wins over the card's; the steps it leaves out stay the card's.
      await page.goto(`${server.url}/index.html?${webgpu ? '' : 'cpu=1&'}visit=2#view=reverse&model=fashion32&reverse.sampler=ddpm-large`);
      await page.waitForFunction(() => document.body.dataset.ready && document.getElementById('model-status').textContent.includes('parameters'), null, { timeout: 120_000 });
      assert.deepEqual([await page.inputValue(R('sampler')), Number(await page.inputValue(R('steps')))], ['ddpm-large', chosen[backend].steps]);
      assert.deepEqual(errors, []);
    });

    test('reverse sampling: play to the end, reproducible per seed, scrub, step, cancel, keyboard', async () => {
      // SwiftShader runs WebGPU on the CPU, slowly: a smaller run there.
      const [steps, batch] = webgpu ? [4, 2] : [8, 4];
      const done = new RegExp(`^Done: ${steps} steps`);
      const { page, errors } = await visit(`view=reverse&model=fashion32&reverse.sampler=ddim&reverse.steps=${steps}&reverse.n=${batch}&reverse.seed=3&reverse.class=7`);
      const run = async () => {
        await page.click(R('play'));
        await statusMatches(page, R('status'), done);
        return Promise.all(['xt', 'x0', 'eps'].map((id) => greys(page, R(id))));
      };
      const [xt, x0, eps] = await run();
      for (const [name, values] of [['x_t', xt], ['x̂_0', x0], ['ε̂', eps]]) {
        const s = stats(values);
        assert.ok(s.max - s.min > 60 && s.std > 10, `${name} is not blank (${JSON.stringify(s)})`);
      }
      assert.notDeepEqual(x0, eps, 'x̂_0 and ε̂ differ');
      // A sneaker (class 7) on a dark background: the final sample is mostly dark.
      assert.ok(stats(xt).mean < 128, `sample background is dark (${stats(xt).mean})`);
      await page.screenshot({ path: join(ARTIFACTS, `view-reverse-${backend}.png`), fullPage: true });

      // Save GIF: every recorded step a frame (fewer than 60), x_t | x̂_0 | ε̂ as shown; the last
      // frame's x_t panel is the shown x_t, grey level for grey level; the first is still noise.
      const gif = await downloadedGif(page, R('save-gif'));
      assert.match(gif.name, /^ddpm-fashion32-seed3-t\d+-to-t\d+\.gif$/);
      assert.equal(gif.frames.length, steps);
      const xtSize = await sizeOf(page, R('xt'));
      const panel = (frame) => frame.filter((_, i) => i % gif.width < xtSize[0] && Math.floor(i / gif.width) < xtSize[1]);
      assert.deepEqual(panel(gif.frames.at(-1)), xt, 'the last frame shows the final x_t exactly');
      assert.ok(meanAbsDiff(panel(gif.frames[0]), xt) > 10, 'the first frame is an early, noisy step');
      assert.ok(gif.width > 2 * xtSize[0], `x̂_0 and ε̂ panels are in the frame (${gif.width} wide)`);
      await statusMatches(page, R('status'), /^Saved an animated GIF: \d+ frames/);

      // Scrub back to the first step: x_t then is mostly noise, unlike the end.
      await setRange(page, R('scrub'), 0);
      const early = await greys(page, R('xt'));
      assert.ok(meanAbsDiff(early, xt) > 10, 'the first step differs from the last');
      assert.match(await page.textContent(R('scrub-value')), /^step 1: ε_θ at t = \d+/);
      // → steps forward through the recorded steps.
      await page.focus(R('play'));
      await page.keyboard.press('ArrowRight');
      assert.match(await page.textContent(R('scrub-value')), /^step 2:/);

      // Same seed and settings again (the run is finished, Play starts afresh): the same pixels.
      await page.click(R('play'));
      await statusMatches(page, R('status'), done);
      assert.deepEqual(await greys(page, R('xt')), xt, 'same seed and settings give the same pixels');
      await page.fill(R('seed'), '4');
      await page.dispatchEvent(R('seed'), 'change');
      const other = await run();
      assert.notDeepEqual(other[0], xt, 'another seed gives another sample');

      // One step at a time with the Step button.
      await page.fill(R('steps'), '1000');
      await page.dispatchEvent(R('steps'), 'change');
      await page.click(R('step'));
      await statusMatches(page, R('status'), /^Step 1\/1000/);
      await page.click(R('step'));
      await statusMatches(page, R('status'), /^Step 2\/1000/);

      // Space plays (focus outside the inputs); cancel stops within a step.
      await page.focus(R('scrub'));
      await page.evaluate(() => document.activeElement.blur());
      await page.keyboard.press('Space');
      await page.waitForFunction((selector) => Number(document.querySelector(selector).textContent.match(/^Step (\d+)/)?.[1]) >= 5, R('status'), { timeout: 120_000 });
      // The step count is not read aloud step by step: the live region is busy while it runs.
      assert.equal(await page.getAttribute(R('status'), 'aria-busy'), 'true');
      await page.click(R('cancel'));
      await statusMatches(page, R('status'), /^Cancelled after \d+ steps/);
      assert.equal(await page.getAttribute(R('status'), 'aria-busy'), 'false', 'the outcome is announced');
      // Every picture is an image to assistive technology, with a name (or hidden inside a named control).
      const unnamed = await page.$$eval('canvas:not([aria-hidden="true"])', (cs) => cs.filter((c) => c.getAttribute('role') !== 'img' || !c.getAttribute('aria-label')).map((c) => c.outerHTML));
      assert.deepEqual(unnamed, []);
      const stoppedAt = Number((await page.textContent(R('status'))).match(/after (\d+)/)[1]);
      await page.waitForTimeout(500);
      assert.ok(stoppedAt < 1000, `cancel stopped after ${stoppedAt} steps`);
      assert.equal(Number(await page.getAttribute(R('scrub'), 'max')) + 1, stoppedAt, 'no step ran after cancel');
      assert.deepEqual(errors, []);
    });

    test('compare at t: the forks of an earlier x_t spread more; Fig. 7 layout', async () => {
      // SwiftShader: fewer forks and steps (the CPU path's spreads at 5 steps: 0.102, 0.069, 0.004).
      const [n, steps] = webgpu ? [3, 5] : [4, 10];
      const { page, errors } = await visit(`view=compare&model=fashion32&compare.sampler=ddpm-small&compare.steps=${steps}&compare.seed=2&compare.class=0&compare.t=999,500,100&compare.n=${n}`);
      await page.click(C('run'));
      await statusMatches(page, C('status'), /^Done in/, 300_000);
      const rows = await page.$$eval(`${C('table')} tbody tr`, (trs) => trs.map((tr) => ({ t: Number(tr.dataset.t), spread: Number(tr.dataset.spread) })));
      console.log(`fork spread (${backend}): ${rows.map((r) => `t=${r.t}: ${r.spread.toFixed(4)}`).join(', ')}`);
      assert.equal(rows.length, 3);
      assert.ok(rows[0].t > rows[1].t && rows[1].t > rows[2].t, 'rows run from early to late t');
      assert.ok(rows[0].spread > rows[1].spread && rows[1].spread > rows[2].spread, 'the spread falls as t falls');
      const grid = await greys(page, C('grid'));
      assert.ok(stats(grid).std > 10, 'the grid is drawn');
      const size = await sizeOf(page, C('grid'));
      assert.deepEqual(size, [(n + 1) * 33 - 1, 3 * 33 - 1], `rows: x_t and ${n} samples per t`);
      // Save GIF: frame k shows every row the same fraction of the way down; the last is the grid.
      const gif = await downloadedGif(page, C('save-gif'));
      assert.deepEqual([gif.width, gif.height], size);
      assert.equal(gif.frames.length, steps, `the row forked from the first x_t takes all ${steps} steps: one frame each`);
      assert.deepEqual(gif.frames.at(-1), grid, 'the last frame is the grid, grey level for grey level');
      assert.ok(meanAbsDiff(gif.frames[0], grid) > 5, 'the first frame is still noisy');
      await page.selectOption(C('layout'), 'fig7');
      const fig7 = await sizeOf(page, C('grid'));
      assert.deepEqual(fig7, [6 * 33 - 1, 2 * 33 - 1], 'Fig. 7: a 2×2 block per t');
      await page.screenshot({ path: join(ARTIFACTS, `view-compare-${backend}.png`), fullPage: true });
      // The fork count is settled to its range as a link's would be, and shown settled.
      for (const [typed, settled] of [['99', '8'], ['1', '2'], ['5.4', '5']]) {
        await page.fill(C('n'), typed);
        await page.dispatchEvent(C('n'), 'change');
        assert.equal(await page.inputValue(C('n')), settled, `forks ${typed} → ${settled}`);
      }
      assert.ok((await page.getAttribute('#permalink', 'href')).includes('compare.n=5'), 'the link keeps the settled count');
      assert.deepEqual(errors, []);
    });
  });
}

test('the permalink restores view, model, sampler, seed and t, and reproduces the pixels', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const first = await open(browser, false, 'view=reverse&model=fashion32');
    await first.page.selectOption(R('sampler'), 'ddim');
    await first.page.fill(R('steps'), '6');
    await first.page.dispatchEvent(R('steps'), 'change');
    await first.page.fill(R('seed'), '11');
    await first.page.dispatchEvent(R('seed'), 'change');
    await first.page.selectOption(R('class'), '3');
    await first.page.click(R('play'));
    await statusMatches(first.page, R('status'), /^Done: 6 steps/);
    const pixels = await greys(first.page, R('xt'));
    const link = await first.page.getAttribute('#permalink', 'href');
    for (const setting of ['view=reverse', 'model=fashion32', 'reverse.sampler=ddim', 'reverse.steps=6', 'reverse.seed=11', 'reverse.class=3']) assert.ok(link.includes(setting), `${setting} in ${link}`);

    const second = await openPage(browser, link);
    await second.page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 120_000 });
    assert.equal(await second.page.evaluate(() => document.getElementById('reverse').hidden), false, 'the reverse view is shown');
    assert.equal(await second.page.inputValue(R('sampler')), 'ddim');
    assert.equal(await second.page.inputValue(R('steps')), '6');
    assert.equal(await second.page.inputValue(R('seed')), '11');
    assert.equal(await second.page.inputValue(R('class')), '3');
    await second.page.click(R('play'));
    await statusMatches(second.page, R('status'), /^Done: 6 steps/);
    assert.deepEqual(await greys(second.page, R('xt')), pixels, 'the permalink reproduces the pixels');

    // A link from before the settings had the view's prefix still opens what it named.
    await followHash(second.page, 'view=reverse&model=fashion32&sampler=ddpm-large&steps=4&seed=5');
    assert.deepEqual(await Promise.all(['sampler', 'steps', 'seed'].map((name) => second.page.inputValue(R(name)))), ['ddpm-large', '4', '5']);

    // A link pasted into the same tab changes only the hash: the page follows it (view, model,
    // settings) without a reload. Then back to the reverse view with other settings.
    const forward = second;
    await followHash(forward.page, 'view=forward&forward.t=640&forward.image=faces:13');
    assert.equal(await forward.page.evaluate(() => document.getElementById('forward').hidden), false, 'the forward view is shown');
    assert.notEqual(await forward.page.inputValue('#model'), 'fashion32', 'a link without a model takes the first, as a new visit does');
    assert.equal(await forward.page.inputValue(F('t')), '640');
    assert.equal(await forward.page.getAttribute(`${F('gallery')} [aria-selected="true"]`, 'data-index'), '13');
    // The tabs are keyboard-usable: arrows move between views (wrapping), Home and End to the ends.
    const shown = () => forward.page.evaluate(() => [document.body.dataset.view, document.activeElement.id]);
    await forward.page.focus('#tab-forward');
    await forward.page.keyboard.press('ArrowRight');
    assert.deepEqual(await shown(), ['reverse', 'tab-reverse']);
    await forward.page.keyboard.press('End');
    assert.deepEqual(await shown(), ['spiral', 'tab-spiral']);
    await forward.page.keyboard.press('Home');
    assert.deepEqual(await shown(), ['forward', 'tab-forward']);
    await forward.page.keyboard.press('ArrowLeft');
    assert.deepEqual(await shown(), ['spiral', 'tab-spiral']);
    const hash = new URL(link).hash.slice(1);
    await followHash(forward.page, hash);
    assert.equal(await forward.page.inputValue(R('steps')), '6');
    await forward.page.click(R('play'));
    await statusMatches(forward.page, R('status'), /^Done: 6 steps/);
    assert.deepEqual(await greys(forward.page, R('xt')), pixels, 'a followed link reproduces the pixels too');
    await followHash(forward.page, hash.replace('reverse.steps=6', 'reverse.steps=5'));
    assert.equal(await forward.page.inputValue(R('steps')), '5', 'changed settings remount the view');
    assert.deepEqual([...first.errors, ...second.errors], []);
  } finally {
    await browser.close();
  }
});

test('Cancel means one thing in every view: compare, inpainting and guidance stop mid-run, say so, and run again', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const cases = [
      ['compare', 'view=compare&model=fashion32&compare.steps=400&compare.n=2', /^Cancelled; 0 row\(s\) finished/],
      ['inpaint', 'view=inpaint&inpaint.image=faces:13&inpaint.quadrants=1010&inpaint.method=replacement&inpaint.steps=400&inpaint.n=1', /^Cancelled after \d+ of 400 steps/],
      ['guidance', 'view=guidance&model=fashion32&guidance.steps=400&guidance.n=1', /^Cancelled\./],
    ];
    for (const [view, hash, cancelled] of cases) {
      const { page, errors } = await open(browser, false, hash);
      await page.click(part(view, 'run'));
      await page.waitForFunction((selector) => document.querySelector(selector).value > 0, part(view, 'progress'), { timeout: 120_000 });
      await page.click(part(view, 'cancel'));
      await statusMatches(page, part(view, 'status'), cancelled, 30_000);
      assert.equal(await page.isEnabled(part(view, 'run')), true, `${view}: Run is offered again`);
      assert.equal(await page.isDisabled(part(view, 'cancel')), true, `${view}: nothing left to cancel`);
      assert.deepEqual(errors, []);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

test('phone width: the page fits without horizontal scrolling', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/index.html?cpu=1#view=reverse&model=fashion32`);
    await page.setViewportSize({ width: 375, height: 800 });
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px`);
    await page.screenshot({ path: join(ARTIFACTS, 'view-reverse-phone.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
