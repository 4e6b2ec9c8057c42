// Views 4–6 end to end, on WebGPU (SwiftShader) and forced to the CPU: inpainting keeps the
// known quadrants and fills the rest; guidance at w = 4 is closer to the class than at w = 0;
// the spiral's particles land on the spiral and live training lowers the loss. Then embedding:
// the iframe form, the copy-snippet button, and embed.html's three elements.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { measuredGuidance } from '../../www/views/guidance.js';
import { ARTIFACTS, downloadedGif, launch, openIndex, openPage, part, serve, sharedIndex, statusMatches } from './harness.mjs';

let server;
before(async () => {
  server = await serve();
  await mkdir(ARTIFACTS, { recursive: true });
});
after(() => server.close());


const openView = (browser, webgpu, hash) => openIndex(browser, server.url, webgpu, hash);

/** The tiles of a grid canvas drawn by drawTiles (1-pixel gaps): grey values per tile. */
const tiles = (page, selector, size) => page.evaluate(({ selector, size }) => {
  const c = document.querySelector(selector);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const columns = Math.round((c.width + 1) / (size + 1));
  const rows = Math.round((c.height + 1) / (size + 1));
  const out = [];
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < columns; k++) {
      const tile = [];
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) tile.push(data[((r * (size + 1) + y) * c.width + k * (size + 1) + x) * 4]);
      out.push(tile);
    }
  }
  return out;
}, { selector, size });

const std = (v) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
};
const meanAbsDiff = (a, b) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  describe(webgpu ? 'views 4–6 on WebGPU (SwiftShader)' : 'views 4–6 on the CPU (forced)', () => {
    let browser;
    let visit;
    before(async () => {
      browser = await launch({ webgpu });
      visit = sharedIndex(browser, server.url, webgpu);
    });
    after(() => browser.close());

    test('inpainting keeps the known quadrants and fills the others, differently per seed', async () => {
      // SwiftShader runs WebGPU on the CPU, slowly: 2 steps there, enough to keep the known half
      // and fill the other differently per seed.
      const steps = webgpu ? 2 : 10;
      const { page, errors } = await visit(`view=inpaint&inpaint.image=faces:13&inpaint.quadrants=1010&inpaint.steps=${steps}&inpaint.n=2`);
      await statusMatches(page, part('inpaint', 'status'), /Choose what is known/, 120_000);
      // Clicking a quadrant of the image toggles it; so does its button.
      const pressed = () => page.$$eval('#inpaint [data-quadrant]', (bs) => bs.map((b) => b.getAttribute('aria-pressed')).join(''));
      assert.equal(await pressed(), 'truefalsetruefalse');
      const canvas = page.locator(part('inpaint', 'mask-canvas'));
      await canvas.scrollIntoViewIfNeeded();
      const box = await canvas.boundingBox();
      await page.mouse.click(box.x + box.width * 0.75, box.y + box.height * 0.25);
      assert.equal(await pressed(), 'truetruetruefalse', 'a click on the top-right quadrant marks it known');
      await page.click('#inpaint [data-quadrant="top-right"]');
      assert.equal(await pressed(), 'truefalsetruefalse');
      // Before a run its output shows no empty box; after it, the samples.
      const outputs = ['live', 'results'].map((name) => page.locator(part('inpaint', name)));
      const seen = () => Promise.all(outputs.map((o) => o.isVisible()));
      assert.deepEqual(await seen(), [false, false], 'no empty boxes before the first run');
      const fill = async () => {
        await page.$eval(part('inpaint', 'status'), (p) => { p.textContent = ''; });
        await page.click(part('inpaint', 'run'));
        await statusMatches(page, part('inpaint', 'status'), new RegExp(`^Done: ${steps} steps`));
        return tiles(page, part('inpaint', 'results'), 64);
      };
      const [original, ...results] = await fill();
      assert.equal(results.length, 2);
      assert.deepEqual(await seen(), [true, true], 'the run drew its output');
      const half = (tile, left) => tile.filter((_, i) => (i % 64 < 32) === left);
      for (const result of results) {
        const moved = half(result, true).reduce((m, v, i) => Math.max(m, Math.abs(v - half(original, true)[i])), 0);
        assert.ok(moved <= 1, `the known left half moved by ${moved} grey levels`);
        assert.ok(std(half(result, false)) > 8, 'the filled right half is not blank');
      }
      // The mean of the two fills, each pixel within a grey level of the two tiles' average (each is
      // rounded on its own); its known half is the input's.
      const [mean] = await tiles(page, part('inpaint', 'mean'), 64);
      const off = mean.reduce((m, v, i) => Math.max(m, Math.abs(v - (results[0][i] + results[1][i]) / 2)), 0);
      assert.ok(off <= 1, `the mean tile is off the fills' average by ${off} grey levels`);
      assert.ok(meanAbsDiff(half(mean, true), half(original, true)) < 0.5, 'the mean keeps the known half');
      assert.match(await page.textContent(part('inpaint', 'mean-caption')), /^The mean of the 2 fills/);
      await page.screenshot({ path: join(ARTIFACTS, `view-inpaint-${backend}.png`), fullPage: true });
      await page.fill(part('inpaint', 'seed'), '1');
      await page.dispatchEvent(part('inpaint', 'seed'), 'change');
      const [, other] = await fill();
      const change = meanAbsDiff(half(other, false), half(results[0], false));
      console.log(`inpainting (${backend}): filled halves of seeds 0 and 1 differ by ${change.toFixed(1)} grey levels on average`);
      assert.ok(change > 3, `another seed fills alike (${change})`);
      assert.ok(meanAbsDiff(half(other, true), half(original, true)) < 0.5, 'the known half stays the input');
      assert.deepEqual(errors, []);
    });

    test('guidance: the w = 4 row is closer to the class mean than the w = 0 row', async () => {
      // Ankle boots (class 9), n samples from one x_T and noise per row, DDIM at the view's η = 1.
      // SwiftShader takes ≈ 1.6 s per ε_θ of fashion32 (25× the CPU path's), so WebGPU runs fewer
      // samples and half the steps. The mean over a row is what falls: with n = 4 it fell for 3 of
      // seeds 0–3 (native CLI, same core, earlier weights), with these n for all 4 (also on the
      // weights shipped since 2026-12-06).
      const [n, steps] = webgpu ? [6, 5] : [8, 10];
      const { page, errors } = await visit(`view=guidance&model=fashion32&guidance.class=9&guidance.weights=0,4&guidance.n=${n}&guidance.steps=${steps}&guidance.seed=0`);
      await statusMatches(page, part('guidance', 'status'), /Pick a class/, 120_000);
      assert.equal(await page.inputValue(part('guidance', 'eta')), '1');
      // Beside the controls, what the card measured of guidance on this model.
      const shipped = JSON.parse(await readFile(new URL('../../www/models/index.json', import.meta.url), 'utf8')).find((m) => m.id === 'fashion32');
      assert.ok(shipped.guidanceQuality, 'index.json carries fashion32\'s guidance figures');
      // This run's steps are fewer than the card's 50, and the line says so.
      const line = await page.textContent(part('guidance', 'guidance-quality'));
      assert.equal(line, measuredGuidance(shipped, { steps, eta: 1 }));
      assert.match(line, new RegExp(`These rows use ${steps} steps, η = 1: not what the card measured\\.$`));
      assert.equal(await page.isVisible(part('guidance', 'guidance-quality')), true);
      // "its card" links to the card the figures come from, served beside the weights.
      const card = await page.$eval(`${part('guidance', 'guidance-quality')} a`, (a) => ({ text: a.textContent, href: a.href }));
      assert.equal(card.text, 'its card');
      assert.match(card.href, /\/www\/models\/fashion32\/README\.md$/);
      const served = await page.evaluate((href) => fetch(href).then(async (r) => ({ ok: r.ok, text: await r.text() })), card.href);
      assert.ok(served.ok && served.text.includes('Guidance'), 'the card is served');
      await page.click(part('guidance', 'run'));
      await statusMatches(page, part('guidance', 'status'), /^Done\./, 900_000);
      const rows = await page.$$eval(`${part('guidance', 'table')} tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => Number(c.textContent))));
      console.log(`guidance (${backend}), ankle boot: shape distance to the class mean ${rows.map(([w, shape]) => `w=${w}: ${shape.toFixed(4)}`).join(', ')}; RMS ${rows.map(([, , rms]) => rms.toFixed(4)).join(' → ')}; spread ${rows.map(([, , , s]) => s.toFixed(4)).join(' → ')}`);
      assert.deepEqual(rows.map(([w]) => w), [0, 4]);
      assert.ok(rows[1][1] < rows[0][1], `w = 4 is not closer to the class mean (${rows[0][1]} → ${rows[1][1]})`);
      const grid = await tiles(page, part('guidance', 'grid'), 32);
      assert.equal(grid.length, 2 * n);
      assert.ok(meanAbsDiff(grid[0], grid[n]) > 5, 'the same x_T with w = 0 and w = 4 gives different samples');
      await page.screenshot({ path: join(ARTIFACTS, `view-guidance-${backend}.png`), fullPage: true });
      assert.deepEqual(errors, []);
    });

    test('spiral: the particles land on the spiral; live training lowers the loss', async () => {
      // The spiral runs on burn-flex in either module (a 2-D MLP gains nothing from a GPU), so
      // the WebGPU page repeats the CPU page's work: there it checks the same path, lighter.
      const [n, trainSteps] = webgpu ? [300, 300] : [1000, 600];
      const { page, errors } = await visit(`view=spiral&spiral.n=${n}&spiral.trainSteps=${trainSteps}`);
      await statusMatches(page, part('spiral', 'status'), /^Done in/, 120_000);
      const text = await page.textContent(part('spiral', 'status'));
      const [distance, floor] = [...text.matchAll(/(\d+\.\d+)\)?/g)].map((m) => Number(m[1])).slice(1, 3);
      console.log(`spiral (${backend}): sliced Wasserstein ${distance} to the spiral; two spiral draws ${floor}`);
      assert.ok(distance < 2 * floor && distance < 0.1, `the particles are ${distance} from the spiral (floor ${floor})`);
      const painted = await page.evaluate((selector) => {
        const c = document.querySelector(selector);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
        return n / (d.length / 4);
      }, part('spiral', 'plot'));
      assert.ok(painted > 0.02, `the particles are drawn (${painted})`);
      // The drift field at an intermediate t: scrub back.
      await page.evaluate((selector) => {
        const input = document.querySelector(selector);
        input.value = '300';
        input.dispatchEvent(new Event('input', { bubbles: true }));
      }, part('spiral', 't'));
      // The arrows (drawn in #4a90e2) show up at t = 300.
      await page.waitForFunction((selector) => {
        const c = document.querySelector(selector);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let blue = 0;
        for (let i = 0; i < d.length; i += 4) blue += d[i + 2] > 200 && d[i] < 110 && d[i + 3] > 0;
        return blue > 200;
      }, part('spiral', 'plot'), { timeout: 60_000 });
      // The slider snaps to the nearest kept frame (every 10th step).
      const shownT = Number(await page.textContent(part('spiral', 't-value')));
      assert.ok(Math.abs(shownT - 300) <= 10, `t = ${shownT} shown for 300`);
      // Save GIF: 60 of the kept frames, the plot's size, from noise (t = 999, arrows) to the spiral.
      const gif = await downloadedGif(page, part('spiral', 'save-gif'));
      assert.equal(gif.name, 'spiral-seed0.gif');
      assert.deepEqual([gif.frames.length, gif.width, gif.height], [60, 480, 480]);
      const change = gif.frames[0].reduce((sum, v, i) => sum + Math.abs(v - gif.frames.at(-1)[i]), 0) / gif.frames[0].length;
      assert.ok(change > 1, `the first and last frames differ (${change})`);
      await statusMatches(page, part('spiral', 'status'), /^Saved an animated GIF: 60 frames/);
      await page.click(part('spiral', 'train'));
      await statusMatches(page, part('spiral', 'status'), new RegExp(`^Trained ${trainSteps} steps`), 300_000);
      const [first, last] = (await page.textContent(part('spiral', 'status'))).match(/loss (\d+\.\d+) \(first 100 steps\) → (\d+\.\d+)/).slice(1).map(Number);
      console.log(`spiral live training (${backend}): loss ${first} → ${last}`);
      assert.ok(last < 0.85 * first, `the loss did not fall (${first} → ${last})`);
      await page.screenshot({ path: join(ARTIFACTS, `view-spiral-${backend}.png`), fullPage: true });
      assert.deepEqual(errors, []);
    });
  });
}

test('every view on the picker\'s model: a colour checkpoint of the user\'s inpaints a colour photo; guidance asks for classes', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openView(browser, false, 'view=inpaint&inpaint.steps=3&inpaint.n=1');
    await statusMatches(page, part('inpaint', 'status'), /^Choose what is known.*grey, 64×64/, 120_000);
    // The user's checkpoint, made here: a colour fixture's random weights at another size (24×24).
    const fixture = 'tests/reference/fixtures/unet/padding1_new_keys';
    const config = { ...JSON.parse(await readFile(`${fixture}/config.json`, 'utf8')), sample_size: 24 };
    assert.equal(config.in_channels, 3);
    const files = {
      'config.json': Buffer.from(JSON.stringify(config)).toString('base64'),
      'diffusion_pytorch_model.safetensors': (await readFile(`${fixture}/diffusion_pytorch_model.safetensors`)).toString('base64'),
    };
    // Dropped on the page, as a person would drop the folder's files.
    await page.evaluate((files) => {
      const transfer = new DataTransfer();
      for (const [name, base64] of Object.entries(files)) transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name));
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, files);
    await statusMatches(page, '#model-status', /^your model: .*3 channel\(s\), 24×24/, 120_000);
    await statusMatches(page, part('inpaint', 'status'), /^Choose what is known.*colour, 24×24/);
    // A colour photo, 48×32: red left, blue right; centre-cropped and resized to 24×24.
    await page.evaluate(async (selector) => {
      const canvas = new OffscreenCanvas(48, 32);
      const context = canvas.getContext('2d');
      context.fillStyle = '#ff0000';
      context.fillRect(0, 0, 24, 32);
      context.fillStyle = '#0000ff';
      context.fillRect(24, 0, 24, 32);
      const transfer = new DataTransfer();
      transfer.items.add(new File([await canvas.convertToBlob()], 'photo.png', { type: 'image/png' }));
      const input = document.querySelector(selector);
      input.files = transfer.files;
      input.dispatchEvent(new Event('change'));
    }, part('inpaint', 'upload'));
    await page.waitForTimeout(300);
    await page.click(part('inpaint', 'run'));
    await statusMatches(page, part('inpaint', 'status'), /^Done: 3 steps/);
    // The original and one result, 24×24 each with a 1-pixel gap; the known left half of the
    // result is the photo's red, in colour.
    const { width, height, left, right } = await page.evaluate((selector) => {
      const c = document.querySelector(selector);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const mean = (x0, x1) => {
        const sum = [0, 0, 0];
        let n = 0;
        for (let y = 2; y < 22; y++) for (let x = x0; x < x1; x++, n++) for (let k = 0; k < 3; k++) sum[k] += d[(y * c.width + x) * 4 + k];
        return sum.map((v) => v / n);
      };
      return { width: c.width, height: c.height, left: mean(25 + 2, 25 + 10), right: mean(2, 10) };
    }, part('inpaint', 'results'));
    assert.deepEqual([width, height], [49, 24], 'the original and one result at the model\'s 24×24');
    assert.equal(await page.isHidden(part('inpaint', 'mean-block')), true, 'one fill has no mean to show');
    assert.ok(left[0] > 230 && left[1] < 25 && left[2] < 25, `the result's known half is the photo's red (${left.map(Math.round)})`);
    assert.ok(right[0] > 230 && right[2] < 25, `the original's left half is red (${right.map(Math.round)})`);
    // Guidance on an unconditional model says why not, and offers the shipped class-conditional one.
    await page.click('#tab-guidance');
    await page.waitForSelector(`${part('guidance', 'needs')}:not([hidden])`);
    assert.match(await page.textContent(part('guidance', 'needs')), /needs a class-conditional model.*the model in use \(your model\) has none/);
    assert.equal(await page.isHidden(part('guidance', 'guidance-quality')), true, 'no card, no measured figures');
    assert.equal(await page.isDisabled(part('guidance', 'run')), true);
    await page.click(`${part('guidance', 'needs')} button`);
    await statusMatches(page, part('guidance', 'status'), /^Pick a class/, 120_000);
    assert.equal(await page.inputValue('#model'), 'fashion32');
    assert.equal(await page.isHidden(part('guidance', 'needs')), true);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('the iframe form shows only the view; the page hands out the embed code', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const embedded = await openView(browser, false, 'view=spiral&spiral.n=300');
    const { page, errors } = embedded;
    await page.click('#copy-embed');
    const iframe = await page.inputValue('#embed-iframe');
    const element = await page.inputValue('#embed-element');
    assert.match(iframe, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/index\.html\?cpu=1&embed=1#view=spiral&spiral\.n=300"/, 'the iframe holds only what the view needs');
    assert.match(element, /<script type="module" src="http:\/\/127\.0\.0\.1:\d+\/www\/ddpm-web\.js"><\/script>\n<ddpm-demo view="spiral" n="300"><\/ddpm-demo>/);
    const src = iframe.match(/src="([^"]+)"/)[1];
    const framed = await openPage(browser, src);
    await framed.page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    const visible = await framed.page.evaluate(() => ['header', 'nav', 'section.model', '#spiral', '#open-full'].map((s) => document.querySelector(s).checkVisibility()));
    assert.deepEqual(visible, [false, false, false, true, true], 'header, tabs and model picker hidden; the view and a link out shown');
    await statusMatches(framed.page, part('spiral', 'status'), /^Done in/, 120_000);
    assert.deepEqual([...errors, ...framed.errors], []);
  } finally {
    await browser.close();
  }
});

for (const webgpu of [true, false]) {
  test(`embed.html: three <ddpm-demo> elements share one worker and start when scrolled into view (${webgpu ? 'WebGPU' : 'CPU'})`, async () => {
    const browser = await launch({ webgpu });
    try {
      const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
      const errors = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      let workers = 0;
      page.on('worker', () => workers++);
      await page.goto(`${server.url}/embed.html`);
      const states = () => page.$$eval('ddpm-demo', (els) => els.map((e) => e.dataset.state ?? 'idle'));
      await page.waitForFunction(() => document.querySelector('ddpm-demo').dataset.state, null, { timeout: 30_000 });
      assert.equal((await states())[2], 'idle', 'the last demo waits below the fold');
      for (let i = 0; i < 3; i++) await page.locator('ddpm-demo').nth(i).scrollIntoViewIfNeeded();
      await page.waitForFunction(() => [...document.querySelectorAll('ddpm-demo')].every((e) => ['ready', 'error'].includes(e.dataset.state)), null, { timeout: 300_000 });
      assert.deepEqual(await states(), ['ready', 'ready', 'ready']);
      assert.equal(workers, 1, 'one worker for all three');
      await page.waitForFunction(() => /sliced Wasserstein/.test(document.querySelectorAll('ddpm-demo')[2].shadowRoot.querySelector('[data-part="status"]').textContent), null, { timeout: 120_000 });
      const forward = await page.evaluate(() => {
        const c = document.querySelector('ddpm-demo').shadowRoot.querySelector('[data-part="xt"]');
        return [c.width, c.height];
      });
      assert.deepEqual(forward, [64, 64], 'the forward demo drew x_t of faces64');
      await page.screenshot({ path: join(ARTIFACTS, `embed-${webgpu ? 'webgpu' : 'cpu'}.png`), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
}

test('reverse, inpaint and guidance as elements: each runs in its shadow root, keyboard included', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/tests/e2e/elements.html`);
    for (let i = 0; i < 3; i++) await page.locator('ddpm-demo').nth(i).scrollIntoViewIfNeeded();
    await page.waitForFunction(() => [...document.querySelectorAll('ddpm-demo')].every((e) => ['ready', 'error'].includes(e.dataset.state)), null, { timeout: 300_000 });
    assert.deepEqual(await page.$$eval('ddpm-demo', (els) => els.map((e) => e.dataset.state)), ['ready', 'ready', 'ready']);
    const text = (i, selector) => page.evaluate(({ i, selector }) => document.querySelectorAll('ddpm-demo')[i].shadowRoot.querySelector(selector).textContent, { i, selector });
    assert.match(await text(0, '[data-part="status"]'), /^Done: 3 steps/);
    assert.match(await text(1, '[data-part="status"]'), /^Done: 3 steps/);
    assert.match(await text(2, '[data-part="status"]'), /^Done\. Shape distance/);
    // ← on the reverse element (its Play button focused) scrubs back a step: the element's own keys.
    await page.locator('ddpm-demo').nth(0).evaluate((e) => e.shadowRoot.querySelector('[data-part="play"]').focus());
    await page.keyboard.press('ArrowLeft');
    assert.match(await text(0, '[data-part="scrub-value"]'), /^step 2:/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('<ddpm-demo> removed before it was seen starts when inserted again in view', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/tests/e2e/blank.html`);
    await page.setViewportSize({ width: 800, height: 600 });
    await page.evaluate(async (src) => {
      await import(src);
      const spacer = Object.assign(document.createElement('div'), { style: 'height: 3000px' });
      window.demo = document.createElement('ddpm-demo');
      window.demo.setAttribute('view', 'forward');
      window.demo.setAttribute('cpu', '');
      document.body.append(spacer, window.demo);
      // Below the fold it waits to be seen, and is taken out before it ever is.
      await new Promise((done) => setTimeout(done, 1000));
      window.demo.remove();
    }, `${server.url}/www/ddpm-web.js`);
    assert.equal(await page.evaluate(() => window.demo.dataset.state), undefined, 'not started below the fold');
    await page.evaluate(() => document.body.prepend(window.demo));
    await page.waitForFunction(() => ['ready', 'error'].includes(window.demo.dataset.state), null, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => window.demo.dataset.state), 'ready');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
