// Where the page's CPU path spends its time: Chromium's sampling profiler (over CDP) on the wasm
// core running ε_θ on the CPU backend, self time summed per function and printed, top first.
//   node scripts/profile-wasm.mjs [model folder URL, default /www/models/faces64/unet] [batch, default 8]
// The core runs on the page's main thread here (not in the worker) so the page's CDP session
// sees it; the code is the same module the worker loads.
import { launch, openPage, serve } from '../tests/e2e/harness.mjs';

const model = process.argv[2] ?? '/www/models/faces64/unet';
const batch = Number(process.argv[3] ?? 8);
const TOP = Number(process.env.TOP ?? 30);

const server = await serve();
const browser = await launch({ webgpu: false });
try {
  const { page } = await openPage(browser, `${server.url}/tests/e2e/blank.html`);
  const cdp = await page.context().newCDPSession(page);
  await page.evaluate(async ({ model, batch }) => {
    const ddpm = await import('/pkg/cpu/ddpm_web.js');
    await ddpm.default();
    await ddpm.initBackend('profiling the CPU path');
    const files = {};
    for (const name of ['config.json', 'diffusion_pytorch_model.safetensors']) {
      files[name] = new Uint8Array(await (await fetch(`${model}/${name}`)).arrayBuffer());
    }
    const m = ddpm.Model.fromFiles(files);
    const info = m.info();
    const size = info.sampleSize ?? 32;
    const shape = [batch, info.inChannels, size, size];
    const x = new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i));
    await m.eps(x, shape, 500); // warm
    window.profiled = { m, x, shape };
  }, { model, batch });
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const ms = await page.evaluate(async () => {
    const { m, x, shape } = window.profiled;
    const start = performance.now();
    for (let i = 0; i < 3; i++) await m.eps(x, shape, 500);
    return (performance.now() - start) / 3;
  });
  const { profile } = await cdp.send('Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  let total = 0;
  for (const [id, n] of counts) {
    const frame = byId.get(id).callFrame;
    const name = frame.functionName || `(${frame.url.split('/').pop() || 'program'})`;
    self.set(name, (self.get(name) ?? 0) + n);
    total += n;
  }
  console.log(`ε_θ of ${model}, batch ${batch}, CPU path (wasm): ${ms.toFixed(1)} ms per evaluation; self time by function:`);
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${((100 * n) / total).toFixed(1).padStart(6)}%  ${name.slice(0, 140)}`);
  }
} finally {
  await browser.close();
  server.close();
}
