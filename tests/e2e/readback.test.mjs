// WebGPU discipline, counted in the worker (workers/gpu-counters.js) on SwiftShader: a sampling
// step costs at most one device read-back, whatever it returns; shaders are compiled while the
// model warms up, not per step or per run; what one ε_θ of the shipped faces64 asks of the
// device (dispatches, submits). On the CPU path: a step returns what was asked for.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backendTitle, browserFor, openPage, servedRepository } from './harness.mjs';

// The device work one faces64 ε_θ may ask for at most (see the last test): 205 dispatches and 2
// submits with burn's fusion, 256 tasks a submit, convolution weights laid out channels-last at
// load, SiLU of the time embedding once, and our own kernels for GroupNorm (with its affine,
// conditioning and SiLU) and for attention, one dispatch each (1 018 and 33 with none of it).
const DISPATCHES_PER_EPS = 215;
const SUBMITS_PER_EPS = 4;

const server = servedRepository();

/** Runs in the page: one model, two runs, device counters read around every step. */
async function countedRuns(page, forceCpu) {
  return page.evaluate(async (forceCpu) => {
    const { DdpmClient, XT_ONLY } = await import('/www/client.js');
    const client = new DdpmClient({ workerUrl: '/tests/e2e/workers/counting-worker.js' });
    const counts = () => client.request('counts');
    const backend = await client.init(forceCpu);
    const { key, timing } = await client.load('/tests/reference/fixtures/unet/f16_grey', undefined, 'unet');
    await timing;
    const settings = { seed: 1, batch: 2, sampler: { method: { kind: 'ddpm', variance: 'fixed_small' }, steps: 6, spacing: 'leading', stepsOffset: 0, clipSample: 1 } };
    const afterLoad = await counts();
    const steps = [];
    const run = async (wantedPerStep) => {
      const { runId, timesteps } = await client.open({ kind: 'sample', key, settings });
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
  describe(backendTitle(webgpu), () => {
    const browser = browserFor({ webgpu });

    test('a step returns only what is asked for, in at most one device read-back', async () => {
      const { page, errors } = await openPage(browser(), `${server.url}/tests/e2e/blank.html`);
      const { backend, afterLoad, steps } = await countedRuns(page, !webgpu);
      assert.equal(backend, webgpu ? 'webgpu' : 'cpu');
      const oneRun = [0, 1, 2, 3, 4, 5].map((i) => [['eps', 'x0', 'xt'], ['xt'], ['x0', 'xt'], ['eps', 'xt']][i % 4]);
      const expected = [...oneRun, ...oneRun];
      assert.deepEqual(steps.map((s) => s.returned), expected, 'x̂_0 and ε̂ come back only when wanted');
      if (webgpu) {
        console.log(`WebGPU: ${afterLoad.pipelines} pipelines and ${afterLoad.shaderModules} shader modules by the end of the load and warm-up; per step: reads ${steps.map((s) => s.reads).join(',')}, compilations ${steps.map((s) => s.compiled).join(',')}`);
        assert.ok(afterLoad.mapAsync > 0 && afterLoad.pipelines > 0, 'the counters see the device');
        for (const [i, s] of steps.entries()) assert.ok(s.reads <= 1, `step ${i}: ${s.reads} device read-backs`);
        // The first run compiles what its batch size and read patterns need (the warm-up after
        // the load ran batch 1); a second run of the same model compiles nothing.
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

/** Device work of the shipped faces64 model: one ε_θ at batch 1 and 4, one reverse step. */
async function faces64Work(page) {
  return page.evaluate(async () => {
    const { DdpmClient } = await import('/www/client.js');
    const client = new DdpmClient({ workerUrl: '/tests/e2e/workers/counting-worker.js' });
    const counts = () => client.request('counts');
    const delta = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - a[k]]));
    await client.init(false);
    const beforeLoad = await counts();
    const { key, info, timing } = await client.load('/www/models/faces64/unet', undefined, 'unet');
    await timing;
    const afterLoad = await counts();
    const eps = async (batch) => {
      const shape = [batch, info.inChannels, info.sampleSize, info.sampleSize];
      const x = new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i));
      const before = await counts();
      await client.eps(key, x, shape, 500);
      return delta(before, await counts());
    };
    const batch1 = [await eps(1)];
    const kernelsBefore = await client.request('byKernel');
    batch1.push(await eps(1));
    const kernels = delta(kernelsBefore, await client.request('byKernel'));
    const batch4 = [await eps(4), await eps(4)];
    const settings = { seed: 1, batch: 1, sampler: { method: { kind: 'ddpm', variance: 'fixed_small' }, steps: 3, spacing: 'leading', stepsOffset: 0, clipSample: 1 } };
    const { runId, timesteps } = await client.open({ kind: 'sample', key, settings });
    const steps = [];
    for (let i = 0; i < timesteps.length; i++) {
      const before = await counts();
      await client.step(runId);
      steps.push(delta(before, await counts()));
    }
    await client.stop(runId);
    client.worker.terminate();
    return { load: delta(beforeLoad, afterLoad), batch1, batch4, steps, kernels };
  });
}

describe('WebGPU (SwiftShader): the device work of one faces64 ε_θ', () => {
  const browser = browserFor({ webgpu: true });

  test('dispatches, submits and read-backs per evaluation and per step; pipelines only for a new batch size', async () => {
    const { page, errors } = await openPage(browser(), `${server.url}/tests/e2e/blank.html`);
    const { load, batch1, batch4, steps, kernels } = await faces64Work(page);
    const show = (c) => `${c.dispatches} dispatches, ${c.submits} submits, ${c.mapAsync} read-backs, ${c.pipelines} pipelines, ${c.bindGroups} bind groups, ${c.buffers} buffers`;
    console.log(`faces64 on WebGPU: load and warm-up ${show(load)}`);
    for (const [name, c] of [['ε_θ batch 1', batch1[1]], ['ε_θ batch 4, first', batch4[0]], ['ε_θ batch 4', batch4[1]], ['reverse step', steps.at(-1)]]) console.log(`  ${name}: ${show(c)}`);
    const byKind = {};
    for (const [label, n] of Object.entries(kernels)) {
      const kind = label.replace(/_[0-9a-f]{8}$/, '').replace(/_(t|e|c|f|lhs|in)_f32.*$/, '');
      byKind[kind] = (byKind[kind] ?? 0) + n;
    }
    console.log(`  ε_θ batch 1 by kernel: ${Object.entries(byKind).filter(([, n]) => n).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    assert.ok(load.pipelines > 0, 'the load compiles the model\'s kernels');
    assert.equal(batch1[1].pipelines, 0, 'a warm ε_θ compiles nothing');
    assert.equal(batch4[1].pipelines, 0, 'a second ε_θ at a new batch size compiles nothing');
    assert.equal(batch1[1].mapAsync, 1, 'one read-back per ε_θ');
    for (const [i, s] of steps.entries()) assert.ok(s.mapAsync <= 1, `step ${i}: ${s.mapAsync} read-backs`);
    assert.ok(batch1[1].dispatches <= DISPATCHES_PER_EPS, `${batch1[1].dispatches} dispatches per ε_θ`);
    assert.ok(batch1[1].submits <= SUBMITS_PER_EPS, `${batch1[1].submits} submits per ε_θ`);
    assert.ok(batch4[1].dispatches <= DISPATCHES_PER_EPS && batch4[1].submits <= SUBMITS_PER_EPS, `batch 4: ${show(batch4[1])}`);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
