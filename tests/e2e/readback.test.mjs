// WebGPU discipline, counted in the worker (workers/gpu-counters.js) on SwiftShader: a sampling
// step costs at most one device read-back, whatever it returns; shaders are compiled while the
// model warms up, not per step or per run. On the CPU path: a step returns what was asked for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, serve } from './harness.mjs';

let server;
before(async () => {
  server = await serve();
});
after(() => server.close());

/** Runs in the page: one model, two runs, device counters read around every step. */
async function countedRuns(page, forceCpu) {
  return page.evaluate(async (forceCpu) => {
    const { DdpmClient, XT_ONLY } = await import('/www/client.js');
    const client = new DdpmClient({ workerUrl: '/tests/e2e/workers/counting-worker.js' });
    const counts = () => client.request('counts');
    const backend = await client.init(forceCpu);
    const { key } = await client.load('/tests/reference/fixtures/unet/f16_grey', undefined, 'unet');
    const settings = { seed: 1, batch: 2, sampler: { method: { kind: 'ddpm', variance: 'fixed_small' }, steps: 6, spacing: 'leading', stepsOffset: 0, clipSample: 1 } };
    const afterLoad = await counts();
    const steps = [];
    const run = async (wantedPerStep) => {
      const { runId, timesteps } = await client.start(key, settings);
      for (let i = 0; i < timesteps.length; i++) {
        const before = await counts();
        const out = await client.step(runId, wantedPerStep(i));
        const after = await counts();
        steps.push({
          returned: Object.keys(out).filter((k) => ArrayBuffer.isView(out[k])).sort(),
          reads: after.mapAsync - before.mapAsync,
          compiled: after.pipelines - before.pipelines + after.shaderModules - before.shaderModules,
        });
      }
      await client.stop(runId);
    };
    // Every combination in turn: all, x_t only, x_t + x̂_0, x_t + ε̂; the second run repeats it.
    const pattern = (i) => [undefined, XT_ONLY, { x0: true, eps: false }, { x0: false, eps: true }][i % 4];
    await run(pattern);
    await run(pattern);
    client.worker.terminate();
    return { backend: backend.kind, afterLoad, steps };
  }, forceCpu);
}

for (const webgpu of [true, false]) {
  describe(webgpu ? 'WebGPU (SwiftShader)' : 'CPU fallback (forced)', () => {
    let browser;
    before(async () => {
      browser = await launch({ webgpu });
    });
    after(() => browser.close());

    test('a step returns only what is asked for, in at most one device read-back', async () => {
      const { page, errors } = await openPage(browser, `${server.url}/tests/e2e/blank.html`);
      const { backend, afterLoad, steps } = await countedRuns(page, !webgpu);
      assert.equal(backend, webgpu ? 'webgpu' : 'cpu');
      const oneRun = [0, 1, 2, 3, 4, 5].map((i) => [['eps', 'x0', 'xt'], ['xt'], ['x0', 'xt'], ['eps', 'xt']][i % 4]);
      const expected = [...oneRun, ...oneRun];
      assert.deepEqual(steps.map((s) => s.returned), expected, 'x̂_0 and ε̂ come back only when wanted');
      if (webgpu) {
        console.log(`WebGPU: ${afterLoad.pipelines} pipelines and ${afterLoad.shaderModules} shader modules by the end of the load; per step: reads ${steps.map((s) => s.reads).join(',')}, compilations ${steps.map((s) => s.compiled).join(',')}`);
        assert.ok(afterLoad.mapAsync > 0 && afterLoad.pipelines > 0, 'the counters see the device');
        for (const [i, s] of steps.entries()) assert.ok(s.reads <= 1, `step ${i}: ${s.reads} device read-backs`);
        // The first run compiles what its batch size and read patterns need (the load warmed the
        // model up at batch 1); a second run of the same model compiles nothing.
        const second = steps.slice(6).reduce((a, s) => a + s.compiled, 0);
        assert.equal(second, 0, `compilations per step: ${steps.map((s) => s.compiled).join(',')}`);
      } else {
        assert.ok(steps.every((s) => s.reads === 0), 'no WebGPU traffic on the CPU path');
      }
      assert.deepEqual(errors, []);
      await page.close();
    });
  });
}
