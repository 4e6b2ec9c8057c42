// The Rust core in the browser: ε_θ parity with the native build on WebGPU (SwiftShader) and on
// the CPU fallback; the fallback's reason; a few sampling steps through the page.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ARTIFACTS, ROOT, backendTitle, browserFor, launch, maxAbsDiff, npyBytes, openPage, part, readNpy, readSafetensors, servedRepository, statusMatches } from './harness.mjs';

const DDPM = process.env.DDPM_BIN ?? join(ROOT, 'target/debug/ddpm');
const CASES = ['f16_grey', 'padding0_old_keys', 'class_cond', 'scale_shift'];
const server = servedRepository();

/** Native ε_θ of the fixture's first sample, by the `ddpm` CLI. */
async function nativeEps(name) {
  const io = await readSafetensors(join(ROOT, 'tests/reference/fixtures/unet', name, 'io.safetensors'));
  const [, c, h, w] = io.sample.shape;
  const shape = [1, c, h, w];
  const x = io.sample.values.slice(0, c * h * w);
  const t = io.timesteps.values[0];
  const label = io.class_labels?.values[0];
  await mkdir(join(ARTIFACTS, 'native'), { recursive: true });
  const xPath = join(ARTIFACTS, 'native', `${name}-x.npy`);
  const outPath = join(ARTIFACTS, 'native', `${name}-eps.npy`);
  await writeFile(xPath, npyBytes(shape, x));
  const model = join(ROOT, 'tests/reference/fixtures/unet', name);
  execFileSync(DDPM, ['eps', '--model', model, '--x', xPath, '--t', String(t), '--out', outPath, ...(label === undefined ? [] : ['--class', String(label)])]);
  return { x, shape, t, labels: label === undefined ? undefined : [label], native: (await readNpy(outPath)).values };
}

async function browserEps(page, name, input, forceCpu) {
  return page.evaluate(
    async ({ name, input, forceCpu }) => {
      const { DdpmClient } = await import('/www/client.js');
      const client = new DdpmClient();
      const backend = await client.init(forceCpu);
      const { key } = await client.load(`/tests/reference/fixtures/unet/${name}`);
      const eps = await client.eps(key, new Float32Array(input.x), input.shape, input.t, input.labels);
      return { backend, eps: Array.from(eps) };
    },
    { name, input, forceCpu },
  );
}

for (const webgpu of [true, false]) {
  describe(backendTitle(webgpu), () => {
    const browser = browserFor({ webgpu });

    for (const name of CASES) {
      test(`ε_θ of ${name} within 1e-4 of native`, async () => {
        const input = await nativeEps(name);
        const { page, errors } = await openPage(browser(), `${server.url}/tests/e2e/blank.html`);
        const { backend, eps } = await browserEps(page, name, input, !webgpu);
        assert.equal(backend.kind, webgpu ? 'webgpu' : 'cpu', JSON.stringify(backend));
        const diff = maxAbsDiff(eps, input.native);
        console.log(`${name} on ${backend.kind}: max |browser − native| = ${diff.toExponential(2)}`);
        assert.ok(diff < 1e-4, `max abs diff ${diff}`);
        assert.deepEqual(errors, []);
        await page.close();
      });
    }

    // The fixtures have at most 16 channels; faces64 has 32 to 128 and groups of 4 channels of
    // 64×64 pixels. In the page its 3×3 convolutions take Winograd's F(2×2, 3×3) on the CPU and
    // its norms the GPU kernel's loops over channels-last activations on WebGPU; natively the
    // im2col GEMM and the fused CPU norm.
    test('faces64 ε_θ at batch 2 within 1e-4 of native', async () => {
      const shape = [2, 1, 64, 64];
      const x = Array.from({ length: 2 * 64 * 64 }, (_, i) => Math.sin(i * 0.37) * 1.5);
      await mkdir(join(ARTIFACTS, 'native'), { recursive: true });
      const [xPath, outPath] = ['faces64-x.npy', 'faces64-eps.npy'].map((file) => join(ARTIFACTS, 'native', `${webgpu}-${file}`));
      await writeFile(xPath, npyBytes(shape, x));
      execFileSync(DDPM, ['eps', '--model', join(ROOT, 'www/models/faces64/unet'), '--x', xPath, '--t', '500', '--out', outPath]);
      const native = (await readNpy(outPath)).values;
      const { page, errors } = await openPage(browser(), `${server.url}/tests/e2e/blank.html`);
      const { backend, eps } = await page.evaluate(async ({ x, shape, forceCpu }) => {
        const { DdpmClient } = await import('/www/client.js');
        const client = new DdpmClient();
        const backend = await client.init(forceCpu);
        const { key } = await client.load('/www/models/faces64/unet');
        return { backend, eps: Array.from(await client.eps(key, new Float32Array(x), shape, 500)) };
      }, { x, shape, forceCpu: !webgpu });
      assert.equal(backend.kind, webgpu ? 'webgpu' : 'cpu', JSON.stringify(backend));
      const diff = maxAbsDiff(eps, native);
      console.log(`faces64 batch 2 on ${backend.kind}: max |browser − native| = ${diff.toExponential(2)}`);
      assert.equal(eps.length, native.length);
      assert.ok(diff < 1e-4, `max abs diff ${diff}`);
      assert.deepEqual(errors, []);
      await page.close();
    });

    test('a hub pipeline folder as downloaded (PyTorch .bin, old keys): ε_θ within 1e-4 of diffusers', async () => {
      // The folder has no safetensors: the worker probes them, then reads the .bin in Rust.
      const io = await readSafetensors(join(ROOT, 'tests/reference/fixtures/unet/padding0_old_keys/io.safetensors'));
      const [, c, h, w] = io.sample.shape;
      const input = { x: io.sample.values.slice(0, c * h * w), shape: [1, c, h, w], t: io.timesteps.values[0] };
      const { page, errors } = await openPage(browser(), `${server.url}/tests/e2e/blank.html`);
      const out = await page.evaluate(async ({ input, forceCpu }) => {
        const { DdpmClient } = await import('/www/client.js');
        const client = new DdpmClient();
        await client.init(forceCpu);
        const { key, info } = await client.load('/tests/reference/fixtures/pipeline_pickle');
        const eps = await client.eps(key, new Float32Array(input.x), input.shape, input.t);
        return { eps: Array.from(eps), dtypes: info.dtypes, variance: info.defaultSettings.method.variance };
      }, { input, forceCpu: !webgpu });
      const diff = maxAbsDiff(out.eps, io.output.values.slice(0, c * h * w));
      console.log(`pipeline_pickle (.bin) on ${webgpu ? 'webgpu' : 'cpu'}: max |browser − diffusers| = ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-4, `max abs diff ${diff}`);
      assert.deepEqual(out.dtypes, ['F32']);
      assert.equal(out.variance, 'fixed_large', 'the pipeline\'s scheduler config sets the defaults');
      assert.deepEqual(errors, []);
      await page.close();
    });

    test('seeded sampling gives the native numbers (same noise in wasm)', async () => {
      const model = join(ROOT, 'tests/reference/fixtures/unet/f16_grey');
      const npy = join(ARTIFACTS, 'native', 'ddim-eta1-seed3.npy');
      await mkdir(join(ARTIFACTS, 'native'), { recursive: true });
      execFileSync(DDPM, ['sample', '--model', model, '--sampler', 'ddim', '--steps', '5', '--eta', '1', '--seed', '3', '--n', '2',
        '--out', join(ARTIFACTS, 'native', 'ddim-eta1-seed3.png'), '--npy', npy]);
      const native = (await readNpy(npy)).values;
      const { page, errors } = await openPage(browser(), `${server.url}/tests/e2e/blank.html`);
      const browserValues = await page.evaluate(async (forceCpu) => {
        const { DdpmClient } = await import('/www/client.js');
        const client = new DdpmClient();
        await client.init(forceCpu);
        const { key, info } = await client.load('/tests/reference/fixtures/unet/f16_grey');
        const settings = { ...info.defaultSettings, steps: 5, method: { kind: 'ddim', eta: 1 } };
        const { last } = await client.sample(key, { seed: 3, batch: 2, sampler: settings }, () => {}).done;
        return Array.from(last.xt);
      }, !webgpu);
      const diff = maxAbsDiff(browserValues, native);
      console.log(`DDIM η = 1, 5 steps, seed 3 on ${webgpu ? 'webgpu' : 'cpu'}: max |browser − native| = ${diff.toExponential(2)}`);
      assert.ok(diff < 1e-4, `max abs diff ${diff}`);
      assert.deepEqual(errors, []);
      await page.close();
    });
  });
}

test('without a WebGPU adapter the page falls back to the CPU and says why', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/index.html`);
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
    const text = await page.textContent('#backend');
    assert.match(text, /^CPU \(wasm\), \d+ threads?: [^—]+ — (this browser has no WebGPU|WebGPU is present but offers no adapter|WebGPU could not start)/);
    assert.match(await page.textContent('#model-status'), /parameters/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a broken model folder gives a clear message, not a blank page', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page } = await openPage(browser, `${server.url}/index.html#model=tests/e2e/no-such-model`);
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60_000 });
    assert.match(await page.textContent('#model-status'), /Could not load .*no-such-model\/config\.json: HTTP 404/);
    const corrupt = await page.evaluate(async () => {
      const { DdpmClient } = await import('/www/client.js');
      const client = new DdpmClient();
      await client.init(true);
      const config = new TextEncoder().encode('{"block_out_channels": [8, 16], "norm_num_groups": 4}');
      return client.load({ 'config.json': config, 'diffusion_pytorch_model.safetensors': new Uint8Array([1, 2, 3]) }).then(() => 'loaded', (e) => e.message);
    });
    assert.match(corrupt, /diffusion_pytorch_model\.safetensors: not a valid safetensors file/);
  } finally {
    await browser.close();
  }
});

test('a hub folder picked in the page loads from its .bin; a broken .bin dropped after it is refused by name and takes nothing away', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/index.html?cpu=1#view=reverse&reverse.steps=3&reverse.n=1`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 120_000 });
    await page.setInputFiles('#folder', join(ROOT, 'tests/reference/fixtures/pipeline_pickle'));
    await statusMatches(page, '#model-status', /^your model: [\d,]+ parameters \(F32\), 3 channel\(s\)/, 120_000);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60_000 });
    // A finished run on screen when the next files arrive (its filmstrip is redrawn for the change).
    await page.click(part('reverse', 'play'));
    await statusMatches(page, part('reverse', 'status'), /^Done: 3 steps/, 120_000);

    const bin = await readFile(join(ROOT, 'tests/reference/fixtures/pipeline_pickle/unet/diffusion_pytorch_model.bin'));
    const config = await readFile(join(ROOT, 'tests/reference/fixtures/pipeline_pickle/unet/config.json'));
    await page.evaluate((files) => {
      const transfer = new DataTransfer();
      for (const [name, base64] of Object.entries(files)) transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name));
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, { 'config.json': config.toString('base64'), 'diffusion_pytorch_model.bin': bin.subarray(0, bin.length / 2).toString('base64') });
    await statusMatches(page, '#model-status', /^Could not load your model: diffusion_pytorch_model\.bin: not a readable PyTorch checkpoint .*\. Still using your model\.$/, 60_000);
    assert.equal(await page.inputValue('#model'), 'user');
    // The folder's model still runs.
    await page.click(part('reverse', 'play'));
    await statusMatches(page, part('reverse', 'status'), /^Done: 3 steps/, 120_000);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
