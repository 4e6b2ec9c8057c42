// The CPU path's two builds: pkg/cpu-threads where the page is cross-origin isolated (COOP/COEP)
// and the device has a second core, pkg/cpu elsewhere (a blog without those headers). The same
// seed gives the same pixels on both, and the backend line says how many threads and why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openIndex, openPage, serve } from './harness.mjs';

let plain;
let isolated;
let browser;
before(async () => {
  [plain, isolated] = await Promise.all([serve(), serve(undefined, { isolated: true })]);
  browser = await launch({ webgpu: false });
});
after(async () => {
  await browser.close();
  plain.close();
  isolated.close();
});

/** In the page: the backend and a short seeded DDIM run of faces64 (batch 2), its last x_t as 8-bit pixels. */
async function sampleOnCpu(serverUrl) {
  const { page, errors } = await openPage(browser, `${serverUrl}/tests/e2e/blank.html`);
  const result = await page.evaluate(async () => {
    const { DdpmClient } = await import('/www/client.js');
    const client = new DdpmClient();
    const backend = await client.init(true);
    const { key } = await client.load('/www/models/faces64/unet', undefined, 'unet');
    const settings = { seed: 7, batch: 2, sampler: { method: { kind: 'ddim', eta: 1 }, steps: 4, spacing: 'leading', stepsOffset: 0, clipSample: 1 } };
    const { runId, timesteps } = await client.open({ kind: 'sample', key, settings });
    let out;
    for (let i = 0; i < timesteps.length; i++) out = await client.step(runId);
    await client.stop(runId);
    client.worker.terminate();
    const pixels = Array.from(out.xt, (v) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5));
    return { backend, isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency, xt: Array.from(out.xt), pixels };
  });
  await page.close();
  return { ...result, errors };
}

test('an isolated page samples on the threaded build, a plain one on one thread, with the same pixels', async () => {
  const threaded = await sampleOnCpu(isolated.url);
  const single = await sampleOnCpu(plain.url);
  assert.deepEqual([...threaded.errors, ...single.errors], []);
  assert.equal(single.isolated, false);
  assert.equal(single.backend.build, 'cpu');
  assert.equal(single.backend.threads, 1);
  assert.match(single.backend.threadsReason, /not cross-origin isolated/);
  assert.equal(threaded.isolated, true);
  if (threaded.cores > 1) {
    assert.equal(threaded.backend.build, 'cpu-threads');
    assert.equal(threaded.backend.threads, Math.min(threaded.cores, 8));
  } else {
    assert.equal(threaded.backend.build, 'cpu', 'one core: no pool');
  }
  const maxDelta = threaded.xt.reduce((m, v, i) => Math.max(m, Math.abs(v - single.xt[i])), 0);
  console.log(`threads ${threaded.backend.threads} against 1: max |Δx_0| ${maxDelta.toExponential(2)} over ${threaded.xt.length} values`);
  assert.ok(maxDelta < 1e-4, `x_0 differs by ${maxDelta}`);
  assert.deepEqual(threaded.pixels, single.pixels, 'the same pixels for the same seed');
});

test('the backend line says how many threads the CPU runs on and why', async () => {
  const { page, errors } = await openIndex(browser, isolated.url, false, 'view=forward');
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const line = await page.textContent('#backend');
  if (cores > 1) assert.match(line, new RegExp(`^CPU \\(wasm\\), ${Math.min(cores, 8)} threads: one a core`));
  assert.match(line, /CPU forced by the user/);
  await page.close();
  const { page: plainPage } = await openIndex(browser, plain.url, false, 'view=forward');
  assert.match(await plainPage.textContent('#backend'), /^CPU \(wasm\), 1 thread: the page is not cross-origin isolated/);
  await plainPage.close();
  assert.deepEqual(errors, []);
});
