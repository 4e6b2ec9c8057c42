// The npm package: built from pkg-config/ and packed by wasm-pack, it holds the element, the
// wasm and the types; installed with npm into a fresh folder, its element runs and its types
// compile a consumer's TypeScript.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launch, openPage, serve } from './harness.mjs';

let tarball;
let consumer;

before(async () => {
  // stderr shows when the script fails (e.g. pkg/ not built).
  tarball = execFileSync('bash', [join(ROOT, 'scripts/npm-package.sh')], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
  consumer = await mkdtemp(join(tmpdir(), 'ddpm-web-consumer-'));
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', join(ROOT, tarball)], { cwd: consumer });
});
after(() => rm(consumer, { recursive: true, force: true }));

test('the packed package holds the element, the wasm, the models and the types', () => {
  const files = execFileSync('tar', ['tzf', join(ROOT, tarball)], { encoding: 'utf8' }).split('\n');
  for (const file of ['package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE', 'index.d.ts', 'www/ddpm-web.js', 'www/worker.js', 'www/client.js',
    'www/views/inpaint.js', 'www/weights-cache.js', 'pkg/webgpu/ddpm_web.js', 'pkg/webgpu/ddpm_web.d.ts', 'pkg/webgpu/ddpm_web_bg.wasm',
    'pkg/cpu/ddpm_web.js', 'pkg/cpu/ddpm_web_bg.wasm', 'pkg/cpu-threads/ddpm_web.js', 'pkg/cpu-threads/ddpm_web_bg.wasm', 'www/models/index.json',
    'www/models/spiral2d/diffusion_pytorch_model.safetensors', 'www/models/fashion32/unet/diffusion_pytorch_model.safetensors',
    'www/models/faces64/unet/diffusion_pytorch_model.safetensors', 'www/samples/fashion-class-means.png',
    'www/samples/faces-heldout.png']) {
    assert.ok(files.includes(`package/${file}`), `${file} is not in the package`);
  }
  assert.ok(files.some((f) => /^package\/pkg\/cpu-threads\/snippets\/.+\.js$/.test(f)), 'the threaded build\'s pool worker is not in the package');
  assert.ok(!files.some((f) => f.includes('tests/') || f.endsWith('.rs')), 'tests or Rust sources were packed');
});

test('package.json names the entry, the types and the licence', async () => {
  const meta = JSON.parse(await readFile(join(consumer, 'node_modules/ddpm-web/package.json'), 'utf8'));
  const cargoVersion = (await readFile(join(ROOT, 'Cargo.toml'), 'utf8')).match(/^version = "(.*)"$/m)[1];
  assert.equal(meta.name, 'ddpm-web');
  assert.equal(meta.version, cargoVersion);
  assert.equal(meta.types, './index.d.ts');
  assert.equal(meta.exports['.'].default, './www/ddpm-web.js');
  assert.equal(meta.license, 'MIT OR Apache-2.0');
});

test("the types compile a consumer's TypeScript, and reject a misuse", async () => {
  const good = `import { DdpmClient, ModelStore } from 'ddpm-web';
const client = new DdpmClient();
const backend = await client.init(true);
const kind: 'webgpu' | 'cpu' = backend.kind;
const { key, info } = await client.load('node_modules/ddpm-web/www/models/faces64', undefined, 'pipeline');
const run = client.sample(key, { seed: 7, batch: 2, sampler: { ...info.defaultSettings, steps: 10 } }, ({ step, total }) => console.log(step / total));
const { last } = await run.done;
const pixels: Float32Array | undefined = last?.xt;
const T: number | undefined = info.scheduler.num_train_timesteps;
const fill = await client.inpaintStart(key, {
  seed: 1, image: new Float32Array(64 * 64), mask: new Float32Array(64 * 64),
  method: { kind: 'repaint', steps: 20, jumpLength: 5, jumpNSample: 2, eta: 1, clipSample: 1 },
});
console.log(T, fill.total);
const demo = document.createElement('ddpm-demo');
demo.setAttribute('view', 'fork');
const store = new ModelStore(client);
console.log(kind, pixels, demo.dataset.state, (await store.entries()).map((e) => e.id));
export {};
`;
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const options = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom'];
  await writeFile(join(consumer, 'good.ts'), good);
  execFileSync('node', [tsc, ...options, 'good.ts'], { cwd: consumer });
  await writeFile(join(consumer, 'bad.ts'), `import { DdpmClient } from 'ddpm-web';
new DdpmClient().start('key', { batch: 2 });
new DdpmClient().inpaintStart('key', { seed: 1, image: [], mask: [], method: { kind: 'repaint', jump_length: 5 } });
export {};
`);
  const rejected = (() => {
    try {
      execFileSync('node', [tsc, ...options, 'bad.ts'], { cwd: consumer, encoding: 'utf8', stdio: 'pipe' });
      return 'compiled';
    } catch (error) {
      return error.stdout;
    }
  })();
  assert.match(rejected, /Property 'seed' is missing/);
  assert.match(rejected, /'jump_length' does not exist in type/, 'one casing: the snake_case key of old is refused');
  // The core's types are generated from its Rust structs into the wasm module's declarations.
  const generated = await readFile(join(consumer, 'node_modules/ddpm-web/pkg/webgpu/ddpm_web.d.ts'), 'utf8');
  for (const type of ['SamplerSettings', 'RunSettings', 'InpaintSettings', 'ModelInfo', 'RePaintSettings']) assert.match(generated, new RegExp(`export (interface|type) ${type}\\b`));
  assert.match(generated, /sampler\(settings: RunSettings\): SamplerSession/);
});

test('the installed element runs from node_modules, with no console errors', async () => {
  await writeFile(join(consumer, 'index.html'), `<!doctype html><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,">
<script type="module" src="node_modules/ddpm-web/www/ddpm-web.js"></script>
<ddpm-demo view="spiral" n="300" cpu></ddpm-demo>`);
  const server = await serve(consumer);
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/index.html`);
    await page.waitForFunction(() => document.querySelector('ddpm-demo').dataset.state === 'ready', null, { timeout: 120_000 });
    await page.waitForFunction(() => /sliced Wasserstein/.test(document.querySelector('ddpm-demo').shadowRoot.querySelector('[data-part="status"]').textContent), null, { timeout: 120_000 });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
