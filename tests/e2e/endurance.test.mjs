// Endurance (issue 13, item 6): 100 runs in a row on one model, every fourth cancelled after its
// first step, the model unloaded and loaded again every 20 runs. Between the 20th run and the
// 100th the browser's memory (every Chromium process: the worker's wasm and, on WebGPU,
// SwiftShader's buffers in the GPU process) stays within 5 %, the core's wasm memory does not
// grow, and nothing is left alive but the one model. Memory is read after a full garbage
// collection in the page and its worker, as the least of a few readings: a single reading taken
// while the collector lags (a busy machine) measured a growth that was not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { launch, openPage, servedRepository } from './harness.mjs';

const RUNS = 100;
const server = servedRepository();

/** Resident memory (bytes) of the Chromium whose command line holds `marker`, and of all its children. */
function browserRss(marker) {
  const processes = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map((pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return {
        pid: Number(pid),
        parent: Number(status.match(/^PPid:\s+(\d+)/m)[1]),
        rss: Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0) * 1024,
        root: readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker),
      };
    } catch {
      return null; // ended meanwhile
    }
  }).filter(Boolean);
  const tree = new Set(processes.filter((p) => p.root).map((p) => p.pid));
  assert.ok(tree.size > 0, 'the browser process was not found');
  for (let grew = true; grew;) {
    grew = false;
    for (const p of processes) if (!tree.has(p.pid) && tree.has(p.parent)) { tree.add(p.pid); grew = true; }
  }
  return processes.filter((p) => tree.has(p.pid)).reduce((sum, p) => sum + p.rss, 0);
}

/** The browser's resident memory once the page and its workers have collected their garbage: the least of a few readings. */
async function settledRss(page, marker) {
  const readings = [];
  for (let i = 0; i < 3; i++) {
    await Promise.all([page, ...page.workers()].map((target) => target.evaluate(() => globalThis.gc())));
    await new Promise((resolve) => setTimeout(resolve, 500));
    readings.push(browserRss(marker));
  }
  return Math.min(...readings);
}

for (const webgpu of [true, false]) {
  test(`${RUNS} runs in a row, some cancelled, models unloaded: memory stays flat (${webgpu ? 'WebGPU (SwiftShader)' : 'CPU'})`, async () => {
    const marker = `--ddpm-endurance-${process.pid}-${webgpu ? 'webgpu' : 'cpu'}`;
    const browser = await launch({ webgpu, args: [marker, '--js-flags=--expose-gc'] });
    try {
      const { page, errors } = await openPage(browser, `${server.url}/tests/e2e/blank.html`);
      await page.evaluate(async (forceCpu) => {
        const { DdpmClient } = await import('/www/client.js');
        self.client = new DdpmClient();
        const backend = await self.client.init(forceCpu);
        if (backend.kind !== (forceCpu ? 'cpu' : 'webgpu')) throw new Error(`backend ${backend.kind}`);
      }, !webgpu);
      // Runs `count` more runs: DDIM 4 steps × 2 samples; run i is cancelled after one step when i % 4 == 3.
      const runs = (from, count) => page.evaluate(async ({ from, count }) => {
        const model = '/tests/reference/fixtures/unet/f16_grey';
        const outcomes = { done: 0, cancelled: 0 };
        for (let i = from; i < from + count; i++) {
          if (i % 20 === 0) {
            if (self.key) await self.client.unload(self.key);
            self.key = (await self.client.load(model)).key;
          }
          const settings = { method: { kind: 'ddim', eta: 1 }, steps: 4, spacing: 'leading' };
          const run = self.client.sample(self.key, { seed: i, batch: 2, sampler: settings }, ({ step }) => {
            if (i % 4 === 3 && step === 1) run.cancel();
          });
          const { cancelled, steps } = await run.done;
          if (cancelled !== (i % 4 === 3) || steps !== (cancelled ? 1 : 4)) throw new Error(`run ${i}: cancelled ${cancelled} after ${steps} steps`);
          outcomes[cancelled ? 'cancelled' : 'done']++;
        }
        return outcomes;
      }, { from, count });
      await runs(0, 20);
      const warm = { rss: await settledRss(page, marker), core: await page.evaluate(() => self.client.memory()) };
      const outcomes = await runs(20, RUNS - 20);
      const end = { rss: await settledRss(page, marker), core: await page.evaluate(() => self.client.memory()) };
      const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
      console.log(`endurance (${webgpu ? 'webgpu' : 'cpu'}): runs 21–${RUNS}: ${outcomes.done} finished, ${outcomes.cancelled} cancelled; browser ${mb(warm.rss)} → ${mb(end.rss)} MB (${(end.rss / warm.rss).toFixed(3)}×); core's wasm memory ${mb(warm.core.wasmBytes)} → ${mb(end.core.wasmBytes)} MB`);
      assert.deepEqual({ ...end.core, wasmBytes: undefined }, { wasmBytes: undefined, models: 1, runs: 0, schedules: 0 }, 'only the one model is alive');
      assert.ok(end.core.wasmBytes <= 1.05 * warm.core.wasmBytes, `the core's memory grew: ${warm.core.wasmBytes} → ${end.core.wasmBytes}`);
      assert.ok(end.rss <= 1.05 * warm.rss, `the browser's memory grew: ${mb(warm.rss)} → ${mb(end.rss)} MB`);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
}
