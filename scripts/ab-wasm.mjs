// Two builds of the wasm core on the CPU (burn-flex), alternated in one page so the ratio comes
// from one run on a noisy machine: faces64 ε_θ at batch 1 and 8, 100 steps of live spiral training, a
// 1000-step spiral run of 500 particles. For a change to a profile or to flex itself: copy
// pkg/<build> aside, rebuild, compare.
//   node scripts/ab-wasm.mjs DIR_A DIR_B [rounds]   (DIR: a wasm-pack output, e.g. pkg/webgpu)
import { resolve } from 'node:path';
import { launch, openPage, serve } from '../tests/e2e/harness.mjs';
const [dirA, dirB] = process.argv.slice(2, 4).map((dir) => resolve(dir));
if (!dirB) throw new Error('usage: node scripts/ab-wasm.mjs DIR_A DIR_B [rounds]');
const rounds = Number(process.argv[4] ?? 5);
const [a, b] = ['/ab-a/ddpm_web.js', '/ab-b/ddpm_web.js'];
const server = await serve(undefined, { extraRoots: { '/ab-a/': dirA, '/ab-b/': dirB } });
const browser = await launch({ webgpu: false });
try {
  const { page } = await openPage(browser, `${server.url}/tests/e2e/blank.html`);
  const out = await page.evaluate(async ({ a, b, rounds }) => {
    const get = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
    const load = async (url) => {
      const ddpm = await import(url);
      await ddpm.default();
      await ddpm.initBackend('A/B');
      const faces = ddpm.Model.fromFiles({ 'config.json': await get('/www/models/faces64/unet/config.json'),
        'diffusion_pytorch_model.safetensors': await get('/www/models/faces64/unet/diffusion_pytorch_model.safetensors') });
      const spiral = ddpm.SpiralModel.fromFiles({ 'config.json': await get('/www/models/spiral2d/config.json'),
        'diffusion_pytorch_model.safetensors': await get('/www/models/spiral2d/diffusion_pytorch_model.safetensors') });
      return { ddpm, faces, spiral };
    };
    const builds = [await load(a), await load(b)];
    const x = new Float32Array(8 * 64 * 64).map((_, i) => Math.sin(i));
    const tasks = {
      eps1: async ({ faces }) => faces.eps(x.subarray(0, 64 * 64), [1, 1, 64, 64], 500),
      eps8: async ({ faces }) => faces.eps(x, [8, 1, 64, 64], 500),
      train: async ({ ddpm }) => { const t = new ddpm.SpiralTrainer({ steps: 100, seed: 1 }); await t.step({ k: 100 }); t.free(); },
      sample: async ({ spiral }) => { const s = spiral.sampler({ n: 500, seed: 1 }); while (!s.done) await s.step({ k: 100, x0: false, eps: false }); s.free(); },
    };
    const ms = {};
    for (const [name, task] of Object.entries(tasks)) {
      for (const build of builds) await task(build);
      ms[name] = [[], []];
      for (let r = 0; r < rounds; r++) {
        for (const i of [0, 1]) {
          const t = performance.now();
          await task(builds[i]);
          ms[name][i].push(performance.now() - t);
        }
      }
    }
    return ms;
  }, { a, b, rounds });
  const median = (v) => v.slice().sort((x, y) => x - y)[v.length >> 1];
  for (const [name, [ma, mb]] of Object.entries(out)) {
    console.log(`${name}: A ${ma.map((v) => v.toFixed(0)).join(' ')} ms; B ${mb.map((v) => v.toFixed(0)).join(' ')} ms; B / A = ${(median(mb) / median(ma)).toFixed(3)}`);
  }
} finally {
  await browser.close();
  server.close();
}
