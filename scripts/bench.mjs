// `make bench`: the project's speed in one run, side by side with ratios.
//   native: ε_θ of faces64 (batch 1 and 8) and a DDIM-20 × 8 run, burn flex against diffusers on
//           the same weights; the ddpm-cifar10-32 preset (random weights) as a second size;
//   page:   the same ε_θ in Chromium on the CPU path (wasm) and on WebGPU (here SwiftShader, a
//           CPU emulation: correct but no measure of GPU speed), each as a ratio to native flex;
//           and the wall time of the page's default reverse run on each backend.
// Needs the release `ddpm` (DDPM_RELEASE_BIN), the wasm package (pkg/) and the Python venv.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launch, openPage, serve } from '../tests/e2e/harness.mjs';

const DDPM = process.env.DDPM_RELEASE_BIN ?? join(ROOT, 'target/release/ddpm');
const REPEATS = Number(process.env.REPEATS ?? 5);
// SwiftShader is ~10× slower than flex: the default run there is timed over its first steps.
const GPU_DEFAULT_RUN_STEPS = Number(process.env.GPU_DEFAULT_RUN_STEPS ?? 10);

const native = (args) => JSON.parse(execFileSync(DDPM, ['bench', ...args, '--repeats', String(REPEATS), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1));

/** Median ms of ε_θ in the page's worker for each batch; the model is a URL below the server. */
async function pageEps(page, forceCpu, model, batches) {
  return page.evaluate(async ({ forceCpu, model, batches, repeats }) => {
    const { DdpmClient } = await import('/www/client.js');
    const client = new DdpmClient();
    const backend = await client.init(forceCpu);
    const { key, info } = await client.load(model);
    const size = info.sampleSize ?? 32;
    const out = [];
    for (const batch of batches) {
      const shape = [batch, info.inChannels, size, size];
      const x = new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i));
      const labels = info.nullClass === undefined ? undefined : Array(batch).fill(info.nullClass);
      await client.eps(key, x, shape, 500, labels);
      const times = [];
      for (let i = 0; i < repeats; i++) {
        const start = performance.now();
        await client.eps(key, x, shape, 500, labels);
        times.push(performance.now() - start);
      }
      out.push([batch, times.sort((a, b) => a - b)[Math.floor(times.length / 2)]]);
    }
    client.worker.terminate();
    return { backend: backend.kind, eps: out };
  }, { forceCpu, model, batches, repeats: REPEATS });
}

/** The page as a visitor meets it: index.html, the default model, Play with the defaults. */
async function defaultRun(browser, url, webgpu) {
  const { page, errors } = await openPage(browser, `${url}/index.html${webgpu ? '' : '?cpu=1'}#view=reverse`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 300_000 });
  // The reverse view's parts (www/views/reverse.js); the page's own ids went when views got their prefixes.
  const settings = await page.evaluate(() => {
    const part = (name) => document.querySelector(`#reverse [data-part="${name}"]`);
    return { sampler: part('sampler').value, steps: Number(part('steps').value), batch: Number(part('n').value), estimate: part('status').textContent };
  });
  const started = Date.now();
  await page.click('#reverse [data-part="play"]');
  let steps = settings.steps;
  if (webgpu && steps > GPU_DEFAULT_RUN_STEPS) {
    await page.waitForFunction((n) => /^Step (\d+)/.exec(document.querySelector('#reverse [data-part="status"]').textContent)?.[1] >= n, GPU_DEFAULT_RUN_STEPS, { timeout: 600_000, polling: 50 });
    await page.click('#reverse [data-part="play"]'); // pause
    steps = GPU_DEFAULT_RUN_STEPS;
  } else {
    await page.waitForFunction(() => /^Done/.test(document.querySelector('#reverse [data-part="status"]').textContent), null, { timeout: 900_000, polling: 100 });
  }
  const seconds = (Date.now() - started) / 1000;
  await page.close();
  if (errors.length) throw new Error(`console errors: ${errors.join('; ')}`);
  return { ...settings, timedSteps: steps, seconds, fullRunSeconds: (seconds * settings.steps) / steps };
}

const fmtMs = (ms) => (ms === undefined ? '—' : `${ms.toFixed(1)} ms`);
const ratio = (a, b) => (a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
const row = (cells, widths) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'ddpm-bench-'));
  try {
    const faces = join(ROOT, 'www/models/faces64/unet');
    const cifarDir = join(work, 'cifar10');
    console.error('native: faces64 …');
    const nativeFaces = native(['--model', faces, '--batch', '1,8', '--ddim', '20', '--ddim-batch', '8', '--vs-diffusers']);
    console.error('native: ddpm-cifar10-32 …');
    const nativeCifar = native(['--preset', 'ddpm-cifar10-32', '--batch', '1', '--keep', cifarDir, '--vs-diffusers']);

    const server = await serve(ROOT, { extraRoots: { '/bench/': work } });
    const page = {};
    const defaults = {};
    try {
      for (const webgpu of [false, true]) {
        const name = webgpu ? 'webgpu' : 'cpu';
        console.error(`page (${name}) …`);
        const browser = await launch({ webgpu });
        try {
          const { page: tab } = await openPage(browser, `${server.url}/tests/e2e/blank.html`);
          const facesRun = await pageEps(tab, !webgpu, '/www/models/faces64/unet', [1, 8]);
          const cifarRun = await pageEps(tab, !webgpu, '/bench/cifar10', [1]);
          if (facesRun.backend !== name) throw new Error(`asked for ${name}, the page chose ${facesRun.backend}`);
          page[name] = { faces: Object.fromEntries(facesRun.eps), cifar: Object.fromEntries(cifarRun.eps) };
          await tab.close();
          defaults[name] = await defaultRun(browser, server.url, webgpu);
        } finally {
          await browser.close();
        }
      }
    } finally {
      server.close();
    }

    const nf = Object.fromEntries(nativeFaces.flex.eps);
    const df = Object.fromEntries(nativeFaces.diffusers.eps);
    const nc = Object.fromEntries(nativeCifar.flex.eps);
    const dc = Object.fromEntries(nativeCifar.diffusers.eps);
    const widths = [34, 11, 11, 10, 11, 9, 14, 9];
    console.log(`\nε_θ, median of ${REPEATS} after a warm-up; native on ${nativeFaces.flex.threads} CPU threads, torch on ${nativeFaces.diffusers.threads ?? '?'}; the page's wasm on one thread`);
    console.log(row(['', 'diffusers', 'native', 'nat/diff', 'page CPU', 'CPU/nat', 'page WebGPU*', 'GPU/nat'], widths));
    const lines = [
      ['faces64, batch 1', df[1], nf[1], page.cpu.faces[1], page.webgpu.faces[1]],
      ['faces64, batch 8', df[8], nf[8], page.cpu.faces[8], page.webgpu.faces[8]],
      ['ddpm-cifar10-32 (35.7 M), batch 1', dc[1], nc[1], page.cpu.cifar[1], page.webgpu.cifar[1]],
    ];
    for (const [label, d, n, cpu, gpu] of lines) console.log(row([label, fmtMs(d), fmtMs(n), ratio(n, d), fmtMs(cpu), ratio(cpu, n), fmtMs(gpu), ratio(gpu, n)], widths));
    const dd = nativeFaces.diffusers.ddim;
    const nd = nativeFaces.flex.ddim;
    console.log(row(['faces64 DDIM 20 steps × 8, whole run', `${(dd / 1000).toFixed(2)} s`, `${(nd / 1000).toFixed(2)} s`, ratio(nd, dd), '', '', '', ''], widths));
    console.log('\nThe page\'s default reverse run (index.html#view=reverse, Play):');
    for (const [name, d] of Object.entries(defaults)) {
      const timed = d.timedSteps < d.steps ? `, timed over ${d.timedSteps} steps and scaled` : '';
      console.log(`  ${name.padEnd(7)} ${d.sampler}, ${d.steps} steps × ${d.batch} samples: ${d.fullRunSeconds.toFixed(1)} s${timed}`);
      console.log(`          shown before Play: "${d.estimate}"`);
    }
    console.log('\n* WebGPU here is SwiftShader (a CPU emulation): it checks the path, not GPU speed.');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
