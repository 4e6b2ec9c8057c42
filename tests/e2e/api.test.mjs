// The wasm API behind views 4–6, in the browser on WebGPU (SwiftShader) and on the CPU:
// inpainting keeps what is known, the spiral model's particles land on the spiral, and live
// training lowers L_simple.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backendTitle, browserFor, openPage, servedRepository } from './harness.mjs';

const server = servedRepository();

for (const webgpu of [true, false]) {
  describe(backendTitle(webgpu), () => {
    const browser = browserFor({ webgpu });
    let page;
    let errors;
    before(async () => {
      ({ page, errors } = await openPage(browser(), `${server.url}/tests/e2e/blank.html`));
      await page.evaluate(async (forceCpu) => {
        const { DdpmClient } = await import('/www/client.js');
        window.client = new DdpmClient();
        window.backend = await window.client.init(forceCpu);
      }, !webgpu);
    });

    for (const method of ['replacement', 'repaint']) {
      test(`${method} inpainting keeps the known quadrants and fills the others`, async () => {
        const out = await page.evaluate(async (method) => {
          const { client } = window;
          const { key } = await client.load('/tests/reference/fixtures/unet/f16_grey', undefined, 'unet');
          const size = 16;
          // A known image: a diagonal gradient; known = the two left quadrants.
          const image = new Float32Array(size * size).map((_, i) => ((i % size) + Math.floor(i / size)) / size - 1);
          const mask = await client.quadrantMask('1010', size, size);
          const expectedMask = Array.from({ length: size * size }, (_, i) => ((i % size) < size / 2 ? 1 : 0));
          const maskErrors = await Promise.all([['1o10', size, size], ['1010', 0, size]].map((args) => client.quadrantMask(...args).then(() => 'made', (e) => e.message)));
          const runs = [];
          for (const seed of [1, 2]) {
            const settings = {
              seed, batch: 2, image, mask,
              method: method === 'replacement'
                ? { kind: 'replacement', sampler: { method: { kind: 'ddpm', variance: 'fixed_small' }, steps: 5, spacing: 'leading', stepsOffset: 0, clipSample: 1 } }
                : { kind: 'repaint', steps: 4, jumpLength: 2, jumpNSample: 2, eta: 1, clipSample: 1 },
            };
            const { runId, total } = await client.open({ kind: 'inpaint', key, settings });
            let last;
            let renoised = 0;
            for (let i = 0; i < total; i++) {
              last = await client.step(runId);
              if (last.renoise) renoised++;
            }
            const late = await client.step(runId).then(() => 'stepped', (e) => e.message);
            await client.stop(runId);
            runs.push({ xt: Array.from(last.xt), total, renoised, late });
          }
          const badSize = await client.open({ kind: 'inpaint', key, settings: { seed: 0, image: new Float32Array(10), mask, method: { kind: 'replacement' } } }).then(() => 'started', (e) => e.message);
          const badMask = await client.open({ kind: 'inpaint', key, settings: { seed: 0, image, mask: new Float32Array(size * size).fill(2), method: { kind: 'replacement' } } }).then(() => 'started', (e) => e.message);
          // One casing at the boundary: a key in another (diffusers' snake_case) is refused, not ignored.
          const oldKey = await client.open({ kind: 'inpaint', key, settings: { seed: 0, image, mask, method: { kind: 'repaint', steps: 4, jump_length: 2 } } }).then(() => 'started', (e) => e.message);
          const oldSampler = await client.open({ kind: 'sample', key, settings: { seed: 0, sampler: { steps: 4, clip_sample: null } } }).then(() => 'started', (e) => e.message);
          client.unload(key);
          return { runs, image: Array.from(image), mask: Array.from(mask), expectedMask, maskErrors, badSize, badMask, oldKey, oldSampler, size };
        }, method);
        const { runs, image, mask, size } = out;
        // The core's quadrant mask: TL TR BL BR = 1 0 1 0 is the left half known.
        assert.deepEqual(mask, out.expectedMask);
        assert.match(out.maskErrors[0], /give four 0\/1 for TL TR BL BR/);
        assert.match(out.maskErrors[1], /0×16 mask is empty/);
        for (const run of runs) {
          let knownDiff = 0;
          let unknownStd = 0;
          for (let s = 0; s < 2; s++) {
            const sample = run.xt.slice(s * size * size, (s + 1) * size * size);
            const unknown = sample.filter((_, i) => mask[i] === 0);
            const mean = unknown.reduce((a, b) => a + b, 0) / unknown.length;
            unknownStd += Math.sqrt(unknown.reduce((a, v) => a + (v - mean) ** 2, 0) / unknown.length) / 2;
            sample.forEach((v, i) => {
              if (mask[i] === 1) knownDiff = Math.max(knownDiff, Math.abs(v - image[i]));
            });
          }
          assert.ok(knownDiff < 1e-5, `known region moved by ${knownDiff}`);
          assert.ok(unknownStd > 0.01, `filled region is blank (std ${unknownStd})`);
          assert.ok(run.xt.every(Number.isFinite));
          assert.match(run.late, /already finished/);
        }
        if (method === 'repaint') assert.ok(runs[0].renoised > 0, 'RePaint jumps back up');
        const filled = (run) => run.xt.filter((_, i) => mask[i % (size * size)] === 0);
        const seedDiff = filled(runs[0]).reduce((m, v, i) => Math.max(m, Math.abs(v - filled(runs[1])[i])), 0);
        assert.ok(seedDiff > 0.05, `two seeds fill alike (max diff ${seedDiff})`);
        assert.match(out.badSize, /the image has 10 values; this model needs 1×16×16 = 256/);
        assert.match(out.badMask, /mask values must lie in \[0, 1\]/);
        assert.match(out.oldKey, /unknown field `jump_length`, expected one of `steps`, `jumpLength`, `jumpNSample`/);
        assert.match(out.oldSampler, /unknown field `clip_sample`, expected one of `method`, `steps`, `spacing`, `stepsOffset`, `clipSample`/);
        assert.deepEqual(errors, []);
      });
    }

    // The spiral and live training run on burn-flex in either module (a 2-D MLP gains nothing
    // from a GPU), so the WebGPU page repeats the CPU page's work: there the same path, lighter.
    test('the shipped spiral model carries N(0, I) onto the spiral; its drift field is finite', async () => {
      const out = await page.evaluate(async (n) => {
        const { client } = window;
        const { key } = await client.spiralLoad('/www/models/spiral2d');
        const { runId, timesteps, current: start } = await client.open({ kind: 'spiral', key, settings: { n, seed: 5, steps: 1000 } });
        const before = (await client.spiralTarget(n, 11, start)).distance;
        let last;
        for (let i = 0; i < timesteps.length; i += 100) last = await client.step(runId, { k: 100, x0: false, eps: false });
        await client.stop(runId);
        const after = (await client.spiralTarget(n, 11, last.xt)).distance;
        const floor = (await client.spiralTarget(n, 12, (await client.spiralTarget(n, 13)).target)).distance;
        const grid = new Float32Array([0, 0, 1, 1, -1, 0.5]);
        const drift = Array.from(await client.spiralDrift(key, grid, 500, 499));
        const badDrift = await client.spiralDrift(key, grid, 5, 9).then(() => 'ok', (e) => e.message);
        client.unload(key);
        return { before, after, floor, next: last.next, drift, badDrift };
      }, webgpu ? 500 : 2000);
      console.log(`spiral: sliced W1 ${out.before.toFixed(3)} (x_T) → ${out.after.toFixed(4)} (x_0); floor ${out.floor.toFixed(4)}`);
      assert.equal(out.next, -1);
      // Against the floor (two draws of the spiral, as many points), since the sliced distance of
      // n samples shrinks as n grows: the particles end as close to the spiral as a second draw
      // of it is, having started far from it.
      assert.ok(out.after < 1.2 * out.floor, `particles are ${out.after} from the spiral, floor ${out.floor}`);
      assert.ok(out.before > 4 * out.floor, `x_T is ${out.before} from the spiral, floor ${out.floor}`);
      assert.ok(out.drift.every(Number.isFinite) && out.drift.some((v) => v !== 0));
      assert.match(out.badDrift, /a step goes from t/);
      assert.deepEqual(errors, []);
    });

    test('one run, every kind: run() yields its steps, a signal stops it in the worker, a bad step is refused', async () => {
      const out = await page.evaluate(async () => {
        const { client } = window;
        const { key, info } = await client.load('/tests/reference/fixtures/unet/f16_grey', undefined, 'unet');
        const settings = { seed: 1, batch: 1, sampler: { ...info.defaultSettings, steps: 6 } };
        const seen = [];
        for await (const out of client.run({ kind: 'sample', key, settings }, { wanted: { x0: false, eps: false } })) seen.push([out.step, out.total, Boolean(out.xt ?? out.current)]);
        const abort = new AbortController();
        let stepsBeforeStop = 0;
        for await (const out of client.run({ kind: 'sample', key, settings }, { signal: abort.signal })) {
          stepsBeforeStop = out.step;
          if (out.step === 2) abort.abort();
        }
        const runsAfterCancel = (await client.memory()).runs;
        const { runId, timesteps } = await client.open({ kind: 'sample', key, settings });
        const two = await client.step(runId, { k: 2, x0: false, eps: false });
        const twoSteps = { got: [two.t, two.next, Object.keys(two).sort()], want: [timesteps[1], timesteps[2], ['next', 't', 'xt']] };
        const noSteps = await client.step(runId, { k: 0 }).then(() => 'stepped', (e) => e.message);
        await client.stop(runId);
        const unknown = await client.open({ kind: 'nope', key, settings }).then(() => 'opened', (e) => e.message);
        client.unload(key);
        return { seen, stepsBeforeStop, runsAfterCancel, twoSteps, noSteps, unknown };
      });
      assert.deepEqual(out.seen, [0, 1, 2, 3, 4, 5, 6].map((step) => [step, 6, true]));
      assert.equal(out.stepsBeforeStop, 2, 'the aborted run took no step after the signal');
      assert.equal(out.runsAfterCancel, 0, 'the cancelled run is stopped in the worker');
      assert.deepEqual(out.twoSteps.got, out.twoSteps.want, 'k = 2 takes two steps and returns the last');
      assert.match(out.noSteps, /k = 0: this run takes 1 to \d+ steps a call/);
      assert.match(out.unknown, /unknown run kind nope/);
      assert.deepEqual(errors, []);
    });

    test('live training (Algorithm 1 in wasm) lowers the loss', async () => {
      // Mean L_simple over the first 20 steps, the middle and the last half.
      const windows = webgpu ? [20, 80, 100] : [20, 180, 200];
      const out = await page.evaluate(async (windows) => {
        const { client } = window;
        const { runId } = await client.open({ kind: 'train', settings: { steps: windows.reduce((a, b) => a + b), seed: 3 } });
        const losses = [];
        for (const k of windows) losses.push((await client.step(runId, { k })).loss);
        const { key } = await client.trainSnapshot(runId);
        const over = await client.step(runId, { k: 1 }).then(() => 'trained', (e) => e.message);
        await client.stop(runId);
        const { runId: sample } = await client.open({ kind: 'spiral', key, settings: { n: 64, seed: 1, steps: 50 } });
        const last = await client.step(sample, { k: 50 });
        client.unload(key);
        const bad = await client.open({ kind: 'train', settings: { steps: 0 } }).then(() => 'started', (e) => e.message);
        return { losses, over, finite: Array.from(last.xt).every(Number.isFinite) && Array.from(last.x0).every(Number.isFinite), bad };
      }, windows);
      console.log(`live training: mean L_simple over windows of ${windows} steps: ${out.losses.map((l) => l.toFixed(3)).join(' → ')}`);
      assert.ok(out.losses[2] < 0.6 * out.losses[0] && out.losses[2] < out.losses[1], `loss ${out.losses}`);
      assert.match(out.over, /already run all its steps/);
      assert.ok(out.finite);
      assert.match(out.bad, /1 to 1000000 steps/);
      assert.deepEqual(errors, []);
    });
  });
}
