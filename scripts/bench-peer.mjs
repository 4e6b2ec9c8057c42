// The page's CPU path against a peer: faces64's ε_θ through `DdpmClient` (the page's worker and
// wasm core) and through onnxruntime-web's wasm backend (SIMD, 1 and 2 threads) on an ONNX export
// of the same weights (train/export_onnx.py), at batch 1 and 8, in one Chromium. Each side gets
// the same x (x[i] = sin i) and t = 500, one warm-up call, then ROUNDS rounds that alternate the
// sides (the order reversed every other round) so the machine's drift hits all of them; the
// medians, their ratios and max |Δ| of the outputs are printed as a Markdown table.
//   node scripts/bench-peer.mjs            (`make bench` runs it after scripts/bench.mjs)
// ort runs in its own worker (env.wasm.proxy), as the page's core does. Two threads need a
// cross-origin isolated page, so those contenders live on a second server that sends COOP/COEP;
// there the worker picks the threaded build, pkg/cpu-threads, where it exists ("page threads").
// ort's files are served from node_modules (a devDependency: nothing of it ships); the ONNX file
// is exported on the first run into the cache (DDPM_ONNX overrides the path).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, launch, maxAbsDiff, openPage, serve } from '../tests/e2e/harness.mjs';

const CACHE = process.env.DDPM_CACHE ?? join(homedir(), '.cache/ddpm-web');
const ONNX = process.env.DDPM_ONNX ?? join(CACHE, 'onnx/faces64/model.onnx');
const ORT_DIST = process.env.ORT_DIST ?? join(CACHE, 'bench-node/node_modules/onnxruntime-web/dist');
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const BATCHES = [1, 8];
const T = 500;
const MODEL = '/www/models/faces64/unet';
// Idle time between two timed calls: a thread pool that spins after its work (ort's does) has
// stopped before the next side starts.
const GAP_MS = 100;

/** In the tab: `globalThis.side` = {time(batch) → ms of one ε_θ, output(batch) → its last ε̂}. */
async function pageSide(tab) {
  return tab.evaluate(async ({ model, batches, t }) => {
    const { DdpmClient } = await import('/www/client.js');
    const client = new DdpmClient();
    const backend = await client.init(true);
    const { key, info } = await client.load(model, undefined, 'unet');
    const inputs = {};
    for (const batch of batches) {
      const shape = [batch, info.inChannels, info.sampleSize, info.sampleSize];
      inputs[batch] = { shape, x: new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i)) };
    }
    const outputs = {};
    globalThis.side = {
      async time(batch) {
        const { x, shape } = inputs[batch];
        const start = performance.now();
        outputs[batch] = await client.eps(key, x, shape, t);
        return performance.now() - start;
      },
      output: (batch) => Array.from(outputs[batch]),
    };
    return { backend, isolated: self.crossOriginIsolated };
  }, { model: MODEL, batches: BATCHES, t: T });
}

async function ortSide(tab, threads) {
  return tab.evaluate(async ({ threads, batches, t }) => {
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = new URL('/ort/', location.href).href;
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = true;
    const session = await ort.InferenceSession.create('/onnx/model.onnx', { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const inputs = {};
    for (const batch of batches) {
      const shape = [batch, 1, 64, 64];
      inputs[batch] = { shape, x: new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i)) };
    }
    const outputs = {};
    globalThis.side = {
      async time(batch) {
        // Fresh tensors each call: the proxy may transfer their buffers to its worker.
        const { x, shape } = inputs[batch];
        const feeds = { sample: new ort.Tensor('float32', x.slice(), shape), timestep: new ort.Tensor('float32', new Float32Array(batch).fill(t), [batch]) };
        const start = performance.now();
        const { eps } = await session.run(feeds);
        const ms = performance.now() - start;
        outputs[batch] = eps.data;
        return ms;
      },
      output: (batch) => Array.from(outputs[batch]),
    };
    return { version: ort.env.versions?.web, isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency };
  }, { threads, batches: BATCHES, t: T });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmtMs = (ms) => (ms === undefined ? '—' : `${ms.toFixed(1)} ms`);
const ratio = (a, b) => (a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
const LABELS = { page: 'page 1 thread', ort1: 'ort 1 thread', ort2: 'ort 2 threads', pageThreads: 'page threads' };

async function main() {
  if (!existsSync(join(ROOT, 'pkg/cpu/ddpm_web_bg.wasm'))) throw new Error('pkg/cpu is missing: `make pkg` builds it');
  if (!existsSync(join(ORT_DIST, 'ort.wasm.min.mjs'))) throw new Error(`onnxruntime-web is missing in ${ORT_DIST}: \`bash scripts/setup.sh bench_node\` (or make bench) installs it`);
  if (!existsSync(ONNX)) {
    console.error(`exporting ε_θ to ${ONNX} …`);
    execFileSync(join(CACHE, 'venv/bin/python'), [join(ROOT, 'train/export_onnx.py'), dirname(ONNX)], { stdio: 'inherit' });
  }
  const loadBefore = loadavg()[0];
  const threaded = existsSync(join(ROOT, 'pkg/cpu-threads/ddpm_web_bg.wasm'));
  const extraRoots = { '/ort/': ORT_DIST, '/onnx/': dirname(ONNX) };
  const [plain, isolated] = await Promise.all([serve(ROOT, { extraRoots }), serve(ROOT, { extraRoots, isolated: true })]);
  // Tabs that wait their turn are not throttled.
  const browser = await launch({ webgpu: false, args: ['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'] });
  try {
    const errors = [];
    const open = async (server) => {
      const opened = await openPage(browser, `${server.url}/tests/e2e/blank.html`);
      errors.push(opened.errors);
      return opened.page;
    };
    console.error('loading: the page (1 thread), ort (1 thread), ort (2 threads) …');
    const sides = { page: { tab: await open(plain) }, ort1: { tab: await open(plain) }, ort2: { tab: await open(isolated) } };
    sides.page.info = await pageSide(sides.page.tab);
    sides.ort1.info = await ortSide(sides.ort1.tab, 1);
    sides.ort2.info = await ortSide(sides.ort2.tab, 2);
    if (!sides.ort2.info.isolated) throw new Error('the COOP/COEP page is not cross-origin isolated');
    let pageThreads = null;
    if (threaded) {
      const tab = await open(isolated);
      const info = await pageSide(tab);
      console.error(`isolated page: build ${info.backend.build}, ${info.backend.threads ?? '?'} threads (${info.backend.threadsReason ?? 'no reason given'})`);
      if (info.backend.threads > 1) {
        sides.pageThreads = { tab, info };
        pageThreads = info.backend.threads;
      } else {
        await tab.close();
      }
    }
    const names = Object.keys(sides);

    const results = {};
    for (const batch of BATCHES) {
      console.error(`batch ${batch}: a warm-up each, then ${ROUNDS} rounds of ${names.map((n) => LABELS[n]).join(', ')} …`);
      for (const name of names) await sides[name].tab.evaluate((b) => globalThis.side.time(b), batch);
      const reference = await sides.page.tab.evaluate((b) => globalThis.side.output(b), batch);
      const delta = {};
      for (const name of names.slice(1)) delta[name] = maxAbsDiff(await sides[name].tab.evaluate((b) => globalThis.side.output(b), batch), reference);
      const times = Object.fromEntries(names.map((name) => [name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const name of round % 2 ? [...names].reverse() : names) {
          await new Promise((ok) => setTimeout(ok, GAP_MS));
          times[name].push(await sides[name].tab.evaluate((b) => globalThis.side.time(b), batch));
        }
      }
      results[batch] = { ms: Object.fromEntries(names.map((name) => [name, median(times[name])])), delta };
    }
    const failures = errors.flat();
    if (failures.length) throw new Error(`console errors: ${failures.join('; ')}`);

    const chromium = browser.version();
    const ortVersion = sides.ort1.info.version ?? JSON.parse(readFileSync(join(ORT_DIST, '../package.json'), 'utf8')).version;
    const threadsHeader = pageThreads ? `page CPU ${pageThreads} threads` : 'page threads';
    console.log(`\nε_θ of faces64 (64×64×1), median of ${ROUNDS} alternating rounds after a warm-up; Chromium ${chromium}, ${sides.ort1.info.cores} cores; onnxruntime-web ${ortVersion} (wasm, SIMD); load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
    console.log(`| ε_θ, faces64 | page CPU 1 thread | ${threadsHeader} | ort 1 thread | ort 2 threads | page/ort (1 thread) | page threads/ort 2 | max \\|Δ\\| |`);
    console.log('|---|---|---|---|---|---|---|---|');
    for (const batch of BATCHES) {
      const { ms, delta } = results[batch];
      const worst = Math.max(...Object.values(delta));
      console.log(`| batch ${batch} | ${fmtMs(ms.page)} | ${fmtMs(ms.pageThreads)} | ${fmtMs(ms.ort1)} | ${fmtMs(ms.ort2)} | ${ratio(ms.page, ms.ort1)} | ${ratio(ms.pageThreads, ms.ort2)} | ${worst.toExponential(1)} |`);
    }
    console.log(`\nmax |Δ| against the page on 1 thread: ${BATCHES.map((b) => `batch ${b}: ${Object.entries(results[b].delta).map(([n, d]) => `${LABELS[n]} ${d.toExponential(1)}`).join(', ')}`).join('; ')}`);
    if (!pageThreads) console.log(`page threads: — (${threaded ? 'the isolated page did not report more than one thread' : 'no pkg/cpu-threads build'})`);
  } finally {
    await browser.close();
    plain.close();
    isolated.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
