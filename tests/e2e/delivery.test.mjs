// Delivery as readers meet it: make site's folder served by ddpm-serve under its strict CSP; what
// a first and a second visit cost on the wire; the weights cache and its control; a browser
// that refuses storage; and <ddpm-demo> embedded in a blog on another origin, as from a CDN.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, launch } from './harness.mjs';
import { SITE, blogCsp, countedVisit, countingProxy, serveBlog, serveSite, visit } from './site.mjs';

const MB = 1e6;
let site;
let proxy;

before(async () => {
  site = await serveSite();
  proxy = await countingProxy(site.url);
});
after(() => {
  proxy?.close();
  site?.close();
});

async function allFiles(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(path)));
    else out.push({ path, bytes: (await stat(path)).size });
  }
  return out;
}

test('make site: every file under 25 MiB, a .br beside each module, and the index hashes current', async () => {
  const files = await allFiles(SITE);
  const largest = files.reduce((a, f) => (f.bytes > a.bytes ? f : a));
  assert.ok(largest.bytes <= 25 * 1024 * 1024, `${largest.path}: ${largest.bytes} B`);
  for (const build of ['cpu', 'cpu-threads', 'webgpu']) {
    const wasm = files.find((f) => f.path.endsWith(`pkg/${build}/ddpm_web_bg.wasm`));
    const br = files.find((f) => f.path.endsWith(`pkg/${build}/ddpm_web_bg.wasm.br`));
    assert.ok(wasm && br && br.bytes < wasm.bytes / 3, `pkg/${build}: ${wasm?.bytes} B, .br ${br?.bytes} B`);
  }
  assert.ok(!files.some((f) => /^\/(tests|src|train)\//.test(f.path.slice(SITE.length))), 'the site holds only what the page loads');
  execFileSync('node', [join(ROOT, 'scripts/model-index.mjs'), '--check'], { stdio: 'inherit' });
});

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'WebGPU' : 'the CPU path';
  test(`first visit ≤ 8 MB and second ≤ 100 KB on ${backend}, under the strict CSP, with the cache control`, { timeout: 900_000 }, async () => {
    const browser = await launch({ webgpu });
    try {
      const context = await browser.newContext();
      const first = await countedVisit(context, proxy);
      assert.equal(first.state, 'true', first.errors.join('\n'));
      assert.deepEqual(first.errors, [], 'no console error and no CSP violation');
      assert.equal(await first.page.evaluate(() => document.body.dataset.backend), webgpu ? 'webgpu' : 'cpu');
      assert.ok(first.bytes <= 8 * MB, `first visit: ${(first.bytes / MB).toFixed(2)} MB`);
      await first.page.waitForFunction(() => /Stored in this browser/.test(document.getElementById('cache-status').textContent));
      assert.match(await first.page.textContent('#cache-status'), /faces64 \(5\.1 MB\)/);
      // Stored under the hash www/models/index.json gives it: a retrained model misses.
      const index = JSON.parse(await readFile(join(SITE, 'www/models/index.json'), 'utf8'));
      const sha = index.find((m) => m.id === 'faces64').files['unet/diffusion_pytorch_model.safetensors'].sha256;
      const keys = await first.page.evaluate(async () => (await (await caches.open('ddpm-web-weights')).keys()).map((r) => r.url));
      assert.deepEqual(keys.map((k) => new URL(k).pathname + new URL(k).search), [`/www/models/faces64/unet/diffusion_pytorch_model.safetensors?sha256=${sha}`]);
      await first.page.close();

      const second = await countedVisit(context, proxy);
      assert.equal(second.state, 'true', second.errors.join('\n'));
      assert.ok(second.bytes <= 100_000, `second visit: ${second.bytes} B`);
      // The control empties the cache (the browser's own HTTP cache may still answer the next
      // visit's revalidation; that is not the page's to clear), and the next visit stores again.
      await second.page.click('#clear-cache');
      await second.page.waitForFunction(() => /No weights stored/.test(document.getElementById('cache-status').textContent));
      assert.match(await second.page.textContent('#cache-status'), /1 file removed/);
      assert.ok(await second.page.isHidden('#clear-cache'));
      assert.equal(await second.page.evaluate(async () => (await (await caches.open('ddpm-web-weights')).keys()).length), 0);
      await second.page.close();
      const third = await visit(context, `${proxy.url}/`);
      await third.page.waitForFunction(() => /Stored in this browser/.test(document.getElementById('cache-status').textContent));
      await third.page.close();
    } finally {
      await browser.close();
    }
  });
}

test('the CPU path never downloads the WebGPU build', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    const fetched = [];
    page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
    page.context().on('request', (r) => fetched.push(new URL(r.url()).pathname));
    await page.goto(`${site.url}/`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 300_000 });
    // ddpm-serve makes the page cross-origin isolated: the threaded CPU build, where there are cores for it.
    const threaded = await page.evaluate(() => navigator.hardwareConcurrency > 1);
    assert.ok(fetched.includes(`/pkg/${threaded ? 'cpu-threads' : 'cpu'}/ddpm_web_bg.wasm`), fetched.join(' '));
    assert.ok(!fetched.some((p) => p.startsWith('/pkg/webgpu/')), fetched.join(' '));
    assert.match(await page.textContent('#backend'), /^CPU \(wasm\), \d+ threads?: .* — (this browser has no WebGPU|.*no adapter)/);
  } finally {
    await browser.close();
  }
});

test('weights that do not match their index hash are used but not stored', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    await context.route('**/www/models/index.json', async (route) => {
      const index = await (await route.fetch()).json();
      index.find((m) => m.id === 'faces64').files['unet/diffusion_pytorch_model.safetensors'].sha256 = '0'.repeat(64);
      await route.fulfill({ json: index });
    });
    const { page, state, errors } = await visit(context, `${site.url}/`);
    assert.equal(state, 'true', errors.join('\n'));
    await page.waitForFunction(() => /No weights stored/.test(document.getElementById('cache-status').textContent));
    assert.equal(await page.evaluate(async () => (await (await caches.open('ddpm-web-weights')).keys()).length), 0);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('embed.html, the example post, runs under the strict CSP', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${site.url}/embed.html`);
    await page.locator('ddpm-demo').first().scrollIntoViewIfNeeded();
    await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('ddpm-demo').dataset.state), null, { timeout: 300_000 });
    assert.equal(await page.evaluate(() => document.querySelector('ddpm-demo').dataset.state), 'ready');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a browser that refuses storage still works and says it will not cache', { timeout: 600_000 }, async () => {
  // A page reached by a plain-http host name (a LAN address, say) is not a secure context: no
  // Cache API, no WebGPU, no crypto.randomUUID. The page must still run.
  const port = new URL(site.url).port;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP ddpm.lan 127.0.0.1'],
  });
  try {
    const context = await browser.newContext();
    const { page, state, errors } = await visit(context, `http://ddpm.lan:${port}/`);
    assert.equal(state, 'true', errors.join('\n'));
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    await page.waitForFunction(() => /not stored in this browser/.test(document.getElementById('cache-status').textContent));
    assert.match(await page.textContent('#cache-status'), /no Cache API here/);
    assert.ok(await page.isHidden('#clear-cache'));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'WebGPU' : 'the CPU path';
  test(`<ddpm-demo> embedded in a blog on another origin, from the site as a CDN, samples on ${backend}`, { timeout: 900_000 }, async () => {
    const blog = await serveBlog(site.url, {
      element: 'view="reverse" model="fashion32" sampler="ddim" steps="3" n="2" class="7" autorun',
      csp: blogCsp(site.url),
    });
    const browser = await launch({ webgpu });
    try {
      const page = await browser.newPage();
      const errors = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${blog.url}/post.html`);
      await page.locator('ddpm-demo').scrollIntoViewIfNeeded();
      await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('ddpm-demo').dataset.state), null, { timeout: 600_000 });
      const text = (selector) => page.evaluate((s) => document.querySelector('ddpm-demo').shadowRoot.querySelector(s).textContent, selector);
      assert.equal(await page.evaluate(() => document.querySelector('ddpm-demo').dataset.state), 'ready', await text('[data-part="model-status"]'));
      await page.waitForFunction(() => /^Done/.test(document.querySelector('ddpm-demo').shadowRoot.querySelector('[data-part="status"]').textContent), null, { timeout: 600_000 });
      assert.match(await text('[data-part="status"]'), /^Done: 3 steps/);
      assert.match(await text('[data-part="backend"]'), webgpu ? /^WebGPU/ : /^CPU/);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      blog.close();
    }
  });
}

test('where the blog\'s CSP forbids blob: workers, worker-url names a worker on its own origin', { timeout: 600_000 }, async () => {
  const blog = await serveBlog(site.url, {
    element: 'view="forward" model="faces64" t="500" worker-url="/ddpm-worker.js"',
    csp: blogCsp(site.url, { blobWorkers: false }),
    workerFile: true,
  });
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${blog.url}/post.html`);
    await page.locator('ddpm-demo').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('ddpm-demo').dataset.state), null, { timeout: 300_000 });
    assert.equal(await page.evaluate(() => document.querySelector('ddpm-demo').dataset.state), 'ready');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    blog.close();
  }
});
