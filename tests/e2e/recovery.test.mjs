// Recovery from a crashed core and from a lost WebGPU device: the page replaces its worker, the
// run under way says it was interrupted and why, the backend line says where the page runs now,
// and running again works, on the same model (loaded again behind the same key).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { browserFor, openIndex, part, servedRepository, statusMatches } from './harness.mjs';

const server = servedRepository();

const open = (browser, webgpu, hash) => openIndex(browser, server.url, webgpu, hash);
const R = (name) => part('reverse', name);

/** The page's compute worker (one at a time: a replaced one is terminated). */
function computeWorker(page) {
  const workers = page.workers().filter((w) => w.url().endsWith('/www/worker.js'));
  assert.ok(workers.length >= 1, `a compute worker runs: ${page.workers().map((w) => w.url())}`);
  return workers.at(-1);
}

/**
 * Makes the next sampling step trap inside the worker's own wasm instance: an allocation with an
 * impossible alignment aborts in Rust, and an abort is what every panic ends in (panic = abort).
 */
async function crashNextStep(page) {
  const build = await page.evaluate(() => document.body.dataset.backend);
  await computeWorker(page).evaluate(async (build) => {
    const core = await import(new URL(`../pkg/${build}/ddpm_web.js`, location.href).href);
    const exports = await core.default(); // initialised already: the instance the worker runs
    const malloc = Object.keys(exports).find((name) => name.startsWith('__wbindgen_malloc'));
    core.SamplerSession.prototype.step = function trap() {
      return exports[malloc](16, 3);
    };
  }, build);
}

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  describe(webgpu ? 'recovery on WebGPU (SwiftShader)' : 'recovery on the CPU (forced)', () => {
    const browser = browserFor({ webgpu });

    test('a core that traps mid-run: the worker is replaced on the same backend and the run can be run again', async () => {
      const { page } = await open(browser(), webgpu, 'view=reverse&model=fashion32&reverse.sampler=ddim&reverse.steps=3&reverse.n=1&reverse.seed=2');
      const firstWorker = computeWorker(page);
      await crashNextStep(page);
      await page.click(R('play'));
      await statusMatches(page, R('status'), /crashed \(RuntimeError: unreachable.*restarted its compute worker\. Run again\./);
      await statusMatches(page, '#backend', new RegExp(`\\(restarted: the compute core crashed \\(RuntimeError: unreachable`));
      assert.equal(await page.getAttribute('#backend', 'data-kind'), backend);
      assert.equal(await page.evaluate(() => document.body.dataset.backend), backend, 'a crash keeps the backend');
      assert.notEqual(computeWorker(page), firstWorker, 'a new worker runs');
      // The picker's model is loaded again behind the key the page already holds.
      await page.click(R('play'));
      await statusMatches(page, R('status'), /^Done: 3 steps/);
      await page.close();
    });

    if (webgpu) {
      test('the WebGPU device lost mid-run: the page moves to the CPU, says why, and the run can be run again', async () => {
        const { page } = await open(browser(), true, 'view=reverse&model=fashion32&reverse.sampler=ddim&reverse.steps=40&reverse.n=1&reverse.seed=2');
        await page.click(R('play'));
        await page.waitForFunction((selector) => Number(document.querySelector(selector).textContent.match(/^Step (\d+)/)?.[1]) >= 2, R('status'), { timeout: 120_000 });
        await computeWorker(page).evaluate(() => self.ddpmDevice.destroy());
        await statusMatches(page, R('status'), /the WebGPU device was lost \(destroyed.*restarted its compute worker on the CPU\. Run again\./);
        await statusMatches(page, '#backend', /^CPU \(wasm\), \d+ threads?: [^—]+ — The WebGPU device was lost \(destroyed/);
        assert.equal(await page.evaluate(() => document.body.dataset.backend), 'cpu');
        assert.equal(await page.getAttribute('#backend', 'data-kind'), 'cpu');
        await page.fill(R('steps'), '3');
        await page.dispatchEvent(R('steps'), 'change');
        await page.click(R('play'));
        await statusMatches(page, R('status'), /^Done: 3 steps/);
        assert.equal(await computeWorker(page).evaluate(() => self.ddpmDevice ?? null), null, 'no WebGPU device was opened again');
        await page.close();
      });
    }
  });
}

// A worker script or a core that does not load: the message names the file and what came back,
// which is what the troubleshooting of docs/embedding.md and the npm README keys on.
describe('files that do not load say which and why', () => {
  const browser = browserFor({ webgpu: false });

  const html = { status: 200, contentType: 'text/html', body: '<!doctype html><title>index</title>' };
  const cases = [
    { name: 'a worker script that is not there', workerUrl: '/tests/e2e/workers/missing.js', expected: /workers\/missing\.js answered HTTP 404: the file is not where the package expects it/ },
    { name: 'a host answering the worker script with its HTML page', route: ['**/tests/e2e/workers/counting-worker.js', html], workerUrl: '/tests/e2e/workers/counting-worker.js', expected: /counting-worker\.js answered with an HTML page instead of JavaScript/ },
    { name: 'a host answering the core\'s wasm with its HTML page', route: ['**/pkg/cpu/ddpm_web_bg.wasm', html], expected: /the cpu core did not load: .*pkg\/cpu\/ddpm_web_bg\.wasm answered with an HTML page instead of WebAssembly/ },
  ];
  for (const { name, route, workerUrl, expected } of cases) {
    test(name, async () => {
      const page = await browser().newPage();
      if (route) await page.route(route[0], (r) => r.fulfill(route[1]));
      await page.goto(`${server.url}/tests/e2e/blank.html`);
      const message = await page.evaluate(async (workerUrl) => {
        const { DdpmClient } = await import('/www/client.js');
        try {
          await new DdpmClient({ workerUrl }).init(true);
          return 'started';
        } catch (error) {
          return error.message;
        }
      }, workerUrl);
      assert.match(message, expected);
      await page.close();
    });
  }
});
