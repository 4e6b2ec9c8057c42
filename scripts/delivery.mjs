// `make delivery`: issue 11's figures in one run, on this machine's Chromium. For each backend:
// the bytes on the wire of a first visit of index.html until the default model is ready (through
// a counting proxy in front of ddpm-serve on make site's folder), its time to ready, a second
// visit in the same browser; then <ddpm-demo> from a second origin; then the largest file.
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { launch } from '../tests/e2e/harness.mjs';
import { SITE, blogCsp, countedVisit, countingProxy, serveBlog, serveSite } from '../tests/e2e/site.mjs';

const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;
const kb = (bytes) => `${(bytes / 1e3).toFixed(1)} KB`;

const site = await serveSite();
const proxy = await countingProxy(site.url);
const rows = [];
try {
  for (const webgpu of [true, false]) {
    const browser = await launch({ webgpu });
    try {
      const context = await browser.newContext();
      const first = await countedVisit(context, proxy);
      const backend = await first.page.evaluate(() => document.body.dataset.backend);
      await first.page.close();
      const second = await countedVisit(context, proxy);
      rows.push({ backend, state: first.state, firstBytes: first.bytes, firstMs: first.ms, secondBytes: second.bytes, secondMs: second.ms, errors: [...first.errors, ...second.errors] });

      const blog = await serveBlog(site.url, { element: 'view="forward" model="faces64" t="500"', csp: blogCsp(site.url) });
      const page = await browser.newPage();
      const errors = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      const started = Date.now();
      await page.goto(`${blog.url}/post.html`);
      await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('ddpm-demo')?.dataset.state), null, { timeout: 300_000 });
      rows.at(-1).embed = { state: await page.evaluate(() => document.querySelector('ddpm-demo').dataset.state), ms: Date.now() - started, errors };
      blog.close();
    } finally {
      await browser.close();
    }
  }
} finally {
  proxy.close();
  site.close();
}

async function largestFile(dir) {
  let largest = { path: '', bytes: 0 };
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory() ? await largestFile(path) : { path, bytes: (await stat(path)).size };
    if (candidate.bytes > largest.bytes) largest = candidate;
  }
  return largest;
}

console.log('| backend | first visit (goal ≤ 8 MB) | ready after | second visit (goal ≤ 100 KB) | ready after | <ddpm-demo> from a 2nd origin |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.backend} | ${mb(r.firstBytes)} | ${(r.firstMs / 1000).toFixed(2)} s | ${kb(r.secondBytes)} | ${(r.secondMs / 1000).toFixed(2)} s | ${r.embed.state} in ${(r.embed.ms / 1000).toFixed(1)} s, ${r.embed.errors.length} console errors |`);
  for (const e of [...r.errors, ...r.embed.errors]) console.log(`  console error: ${e}`);
}
const largest = await largestFile(SITE);
console.log(`largest file of the site: ${relative(SITE, largest.path)}, ${mb(largest.bytes)} (limit 25 MiB = 26.21 MB)`);
