// The npm package: built from pkg-config/ and packed by wasm-pack, it holds the element, the
// wasm and the types; installed with npm into a fresh folder, its element runs and its types
// compile a consumer's TypeScript.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
const fill = await client.open({ kind: 'inpaint', key, settings: {
  seed: 1, image: new Float32Array(64 * 64), mask: new Float32Array(64 * 64),
  method: { kind: 'repaint', steps: 20, jumpLength: 5, jumpNSample: 2, eta: 1, clipSample: 1 },
} });
console.log(T, fill.total);
for await (const out of client.run({ kind: 'spiral', key, settings: { n: 10, seed: 1 } }, { signal: AbortSignal.timeout(60_000) })) console.log(out.step, out.total);
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
  // The declarations against the code they describe: every class member and export that
  // index.d.ts promises, www/ has (tsc reads the JavaScript with --allowJs). Not --strict: the
  // modules marked @ts-check are checked by make lint under tsconfig.json's options.
  await writeFile(join(consumer, 'shipped.ts'), `import type * as declared from 'ddpm-web';
import * as shipped from './node_modules/ddpm-web/www/ddpm-web.js';
type Members<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? (...args: never[]) => unknown : unknown };
export const client: Members<declared.DdpmClient> = new shipped.DdpmClient();
export const store: Members<declared.ModelStore> = new shipped.ModelStore(new shipped.DdpmClient());
export const all: Record<keyof typeof declared, unknown> = shipped;
`);
  const asLint = ['--noEmit', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom,dom.iterable'];
  execFileSync('node', [tsc, ...asLint, '--allowJs', '--maxNodeModuleJsDepth', '2', 'shipped.ts'], { cwd: consumer });
  await writeFile(join(consumer, 'bad.ts'), `import { DdpmClient } from 'ddpm-web';
new DdpmClient().open({ kind: 'sample', key: 'key', settings: { batch: 2 } });
new DdpmClient().open({ kind: 'inpaint', key: 'key', settings: { seed: 1, image: [], mask: [], method: { kind: 'repaint', jump_length: 5 } } });
new DdpmClient().open({ kind: 'train', key: 'key', settings: { steps: 10 } });
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
  assert.match(rejected, /'key' does not exist in type/, 'a training run takes no model');
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

test('files-base: the shipped models come from where the author hosts them', async () => {
  await writeFile(join(consumer, 'elsewhere.html'), `<!doctype html><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,">
<script type="module" src="node_modules/ddpm-web/www/ddpm-web.js"></script>
<ddpm-demo view="spiral" n="300" cpu files-base="/mirror/"></ddpm-demo>`);
  const server = await serve(consumer, { extraRoots: { '/mirror/': join(consumer, 'node_modules/ddpm-web') } });
  const browser = await launch({ webgpu: false });
  try {
    const requested = [];
    const { page, errors } = await openPage(browser, `${server.url}/elsewhere.html`, (page) => page.on('request', (r) => requested.push(new URL(r.url()).pathname)));
    await page.waitForFunction(() => document.querySelector('ddpm-demo').dataset.state === 'ready', null, { timeout: 120_000 });
    const models = requested.filter((path) => path.includes('/www/models/'));
    assert.ok(models.includes('/mirror/www/models/spiral2d/diffusion_pytorch_model.safetensors'), models.join('\n'));
    assert.deepEqual(models.filter((path) => !path.startsWith('/mirror/')), [], 'nothing of the models from beside the script');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

// The package in the bundlers blogs and docs sites are built with, as their authors use it:
// `import 'ddpm-web'`, a <ddpm-demo>, and DdpmClient on a shipped model, with no configuration.
// Each built app is served under the strict CSP of docs/embedding.md, on the CPU path.
const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'";
const APP_MAIN = `import { DdpmClient, ModelStore } from 'ddpm-web';
const client = new DdpmClient();
await client.init(true);
const { key, info } = await new ModelStore(client).image('faces64');
const { last } = await client.sample(key, { seed: 3, batch: 1, sampler: { ...info.defaultSettings, steps: 2 } }).done;
document.body.dataset.sampled = String(last.xt.length);
`;
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>';
const APP_ELEMENT = '<ddpm-demo view="reverse" model="faces64" sampler="ddim" steps="3" n="1" cpu autorun></ddpm-demo>';

/** A fresh app folder with the packed package installed and `files` written. */
async function bundlerApp(name, files) {
  const app = await mkdtemp(join(tmpdir(), `ddpm-web-${name}-`));
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: `${name}-app`, private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', join(ROOT, tarball)], { cwd: app });
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(app, file)), { recursive: true });
    await writeFile(join(app, file), text);
  }
  return app;
}

/** Bytes under `dir`, for the report. */
async function folderBytes(dir) {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** Opens `url`: the element samples and DdpmClient samples, with no console error and no request elsewhere. */
async function samplesIn(url, label) {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, url, (page) => {
      page.on('request', (request) => {
        if (new URL(request.url()).origin !== new URL(url).origin && !/^(blob|data):/.test(request.url())) errors.push(`request to another host: ${request.url()}`);
      });
    });
    await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('ddpm-demo')?.dataset.state), null, { timeout: 300_000 });
    const text = (selector) => page.evaluate((s) => document.querySelector('ddpm-demo').shadowRoot.querySelector(s)?.textContent, selector);
    assert.equal(await page.evaluate(() => document.querySelector('ddpm-demo').dataset.state), 'ready', `${label}: ${await text('[data-part="model-status"]')} ${errors.join('\n')}`);
    await page.waitForFunction(() => /^Done/.test(document.querySelector('ddpm-demo').shadowRoot.querySelector('[data-part="status"]').textContent), null, { timeout: 300_000 });
    await page.waitForFunction(() => document.body.dataset.sampled, null, { timeout: 300_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.sampled), String(64 * 64), `${label}: DdpmClient's sample`);
    assert.deepEqual(errors, [], label);
  } finally {
    await browser.close();
  }
}

test('a Vite app: vite build, served under a strict CSP, samples with the element and DdpmClient', { timeout: 900_000 }, async () => {
  const app = await bundlerApp('vite', {
    'index.html': `<!doctype html><meta charset="utf-8"><title>vite app</title><link rel="icon" href="/favicon.svg">\n${APP_ELEMENT}\n<script type="module" src="./main.js"></script>\n`,
    'main.js': APP_MAIN,
    'public/favicon.svg': FAVICON,
  });
  try {
    const output = execFileSync('node', [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build'], { cwd: app, encoding: 'utf8' });
    assert.doesNotMatch(output, /warn/i, output);
    console.log(`vite build: dist/ holds ${(await folderBytes(join(app, 'dist')) / 1e6).toFixed(1)} MB`);
    const server = await serve(join(app, 'dist'), { headers: { 'content-security-policy': STRICT_CSP } });
    try {
      await samplesIn(`${server.url}/index.html`, 'vite build');
    } finally {
      server.close();
    }
  } finally {
    await rm(app, { recursive: true, force: true });
  }
});

test('a Vite app on the dev server (vite) samples with the element and DdpmClient', { timeout: 900_000 }, async () => {
  const app = await bundlerApp('vite-dev', {
    'index.html': `<!doctype html><meta charset="utf-8"><title>vite app</title><link rel="icon" href="/favicon.svg">\n${APP_ELEMENT}\n<script type="module" src="./main.js"></script>\n`,
    'main.js': APP_MAIN,
    'public/favicon.svg': FAVICON,
  });
  const dev = spawn('node', [join(ROOT, 'node_modules/vite/bin/vite.js'), '--host', '127.0.0.1', '--port', '0'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise((resolve, reject) => {
      let seen = '';
      dev.stdout.on('data', (chunk) => {
        seen += chunk;
        // eslint-disable-next-line no-control-regex -- the dev server colours its output
        const found = seen.replace(/\x1b\[[0-9;]*m/g, '').match(/Local:\s+(http:\/\/\S+)/);
        if (found) resolve(found[1]);
      });
      dev.on('exit', (code) => reject(new Error(`vite exited (${code}): ${seen}`)));
    });
    await samplesIn(url, 'vite dev server');
  } finally {
    dev.kill();
    await rm(app, { recursive: true, force: true });
  }
});

test('a webpack 5 app on the dev server (webpack-dev-server) samples with the element and DdpmClient', { timeout: 900_000 }, async () => {
  const app = await bundlerApp('webpack-dev', {
    'main.js': APP_MAIN,
    'public/index.html': `<!doctype html><meta charset="utf-8"><title>webpack app</title><link rel="icon" href="/favicon.svg">\n${APP_ELEMENT}\n<script src="main.js"></script>\n`,
    'public/favicon.svg': FAVICON,
  });
  const { default: webpack } = await import(join(ROOT, 'node_modules/webpack/lib/index.js'));
  const { default: DevServer } = await import(join(ROOT, 'node_modules/webpack-dev-server/lib/Server.js'));
  const compiler = webpack({ mode: 'development', context: app, entry: './main.js', output: { path: join(app, 'dist') } });
  const dev = new DevServer({ host: '127.0.0.1', port: 'auto', static: { directory: join(app, 'public') }, client: { overlay: false } }, compiler);
  try {
    await dev.start();
    await samplesIn(`http://127.0.0.1:${dev.options.port}/index.html`, 'webpack-dev-server');
  } finally {
    await dev.stop();
    await rm(app, { recursive: true, force: true });
  }
});

test('a webpack 5 app: a production build, served under a strict CSP, samples with the element and DdpmClient', { timeout: 900_000 }, async () => {
  const app = await bundlerApp('webpack', { 'main.js': APP_MAIN });
  try {
    const { default: webpack } = await import(join(ROOT, 'node_modules/webpack/lib/index.js'));
    const stats = await new Promise((resolve, reject) => {
      webpack({ mode: 'production', context: app, entry: './main.js', output: { path: join(app, 'dist'), clean: true } }, (error, result) => (error ? reject(error) : resolve(result)));
    });
    const { errors, warnings } = stats.toJson({ all: false, errors: true, warnings: true });
    assert.deepEqual(errors, []);
    // webpack warns about assets over 244 KiB (the wasm, the weights), which is what they are,
    // and about the threaded build's pool helper importing a URL it is sent (wasm-bindgen-rayon's
    // no-bundler helper), which a bundled copy never loads (www/worker.js, cpuBuild).
    const expected = (w) => /asset size limit|entrypoint size limit|webpack performance/.test(w.message)
      || (/Critical dependency/.test(w.message) && /workerHelpers\.no-bundler\.js$/.test(w.moduleName));
    assert.deepEqual(warnings.filter((w) => !expected(w)), []);
    await writeFile(join(app, 'dist/favicon.svg'), FAVICON);
    await writeFile(join(app, 'dist/index.html'), `<!doctype html><meta charset="utf-8"><title>webpack app</title><link rel="icon" href="/favicon.svg">\n${APP_ELEMENT}\n<script src="main.js"></script>\n`);
    console.log(`webpack build: dist/ holds ${(await folderBytes(join(app, 'dist')) / 1e6).toFixed(1)} MB`);
    const server = await serve(join(app, 'dist'), { headers: { 'content-security-policy': STRICT_CSP } });
    try {
      await samplesIn(`${server.url}/index.html`, 'webpack build');
    } finally {
      server.close();
    }
  } finally {
    await rm(app, { recursive: true, force: true });
  }
});
