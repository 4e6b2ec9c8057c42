// Runs the wasm core off the main thread. Messages in: {id, op, ...args}; out: {id, ok, value}
// or {id, ok: false, error}; long operations also post {id, progress} messages.
//
// Three builds of the core ship (scripts/build-wasm.sh): pkg/webgpu (WebGPU, with the CPU as its
// fallback), pkg/cpu (the CPU only, a twentieth of the size) and pkg/cpu-threads (the same on a
// pool of workers, where the page is cross-origin isolated). `init` picks one before anything
// is downloaded. Everything is resolved against this module's URL, so the worker runs the same
// when a page on another origin starts it (see client.js).
import { whyNotLoaded } from './load-failure.js';
import { cachedBytes, cacheContents, clearCache } from './weights-cache.js';

const models = new Map();
const runs = new Map();
const schedules = new Map();
const warmingUp = new Map(); // model key → its warm-up under way
let core = null; // {build: 'webgpu' | 'cpu' | 'cpu-threads', threads, module: Promise<the wasm-bindgen module>}
let backendKind = null; // 'webgpu' | 'cpu': what the core's initBackend chose last
let initializing = null; // the `init` under way

// Keys for models and runs; a counter works where crypto.randomUUID does not (plain http). The
// worker's name (client.js numbers its workers) keeps a replaced worker's keys apart.
let lastKey = 0;
const newKey = () => `${self.name || 'ddpm'}.${++lastKey}`;

// Every WebGPU device the core opens is watched: a lost one ends this worker's usefulness, and
// the client replaces it with one on the CPU. `self.ddpmDevice` is the device in use (tests
// destroy it to force a loss).
let deviceLost = null;
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function watchedRequestDevice(...args) {
    const device = await requestDevice.apply(this, args);
    self.ddpmDevice = device;
    device.lost.then((info) => {
      deviceLost = [info.reason, info.message].filter(Boolean).join(': ') || 'no reason given';
      self.postMessage({ event: 'device-lost', reason: deviceLost });
    });
    return device;
  };
}

// Whether this file runs as published (a CDN, a static host, `make demo`) rather than as a
// bundler's copy (renamed, or a file: URL written in by webpack).
const PUBLISHED = /^https?:.*\/www\/worker\.js$/.test(import.meta.url);
const PKG = '../pkg/';

// The threaded CPU build's pool: one worker a core, at most this many (each holds an instance).
const MAX_THREADS = 8;

/**
 * The CPU build this page can run, with its thread count and why: threads need memory shared
 * between workers, which browsers give only to a cross-origin isolated page (COOP and COEP
 * headers), and a second core to run on.
 */
function cpuBuild() {
  const cores = navigator.hardwareConcurrency || 1;
  if (!self.crossOriginIsolated) return { build: 'cpu', threads: 1, threadsReason: 'the page is not cross-origin isolated (no COOP/COEP headers)' };
  // The pool's workers start from wasm-bindgen-rayon's helper as published (it fetches its own
  // URL); a bundler renames this file and moves the helper.
  if (!PUBLISHED) return { build: 'cpu', threads: 1, threadsReason: 'this copy of the package was bundled, and the threaded build runs only as published' };
  if (cores < 2) return { build: 'cpu', threads: 1, threadsReason: 'this device reports one core' };
  const threads = Math.min(cores, MAX_THREADS);
  return { build: 'cpu-threads', threads, threadsReason: `one a core (${cores} reported${cores > MAX_THREADS ? `, at most ${MAX_THREADS} used` : ''})` };
}

// Each build's module as a literal import, which bundlers follow (and emit its .wasm, which
// wasm-bindgen's glue names by `new URL(…, import.meta.url)`); only the one chosen is fetched.
const BUILDS = {
  webgpu: () => import('../pkg/webgpu/ddpm_web.js'),
  cpu: () => import('../pkg/cpu/ddpm_web.js'),
  'cpu-threads': () => import('../pkg/cpu-threads/ddpm_web.js'),
};

function loadBuild({ build, threads, threadsReason }) {
  const loaded = { build, threads, threadsReason };
  loaded.module = BUILDS[build]().then(async (wasm) => {
    try {
      loaded.memory = (await wasm.default()).memory;
    } catch (error) {
      // As published, the .wasm lies next to its module (not a literal: bundlers would emit
      // copies); a bundler's copy says where it looked in its own message.
      const why = PUBLISHED ? await whyNotLoaded(new URL(PKG + build + '/ddpm_web_bg.wasm', import.meta.url).href, 'WebAssembly') : error.message;
      throw new Error(`the ${build} core did not load: ${why} (${error.message})`, { cause: error });
    }
    // Before any other export: a tensor op first would fix the pool at one thread.
    if (wasm.initThreadPool) await wasm.initThreadPool(threads);
    return wasm;
  });
  return loaded;
}

/** The build to use and, for the CPU, why — the browser's own words, before any download. */
async function chooseBuild(forceCpu, reason) {
  if (forceCpu) return { ...(core ?? cpuBuild()), reason: reason ?? 'CPU forced by the user' };
  const cpu = (why) => ({ ...cpuBuild(), reason: why });
  if (!('gpu' in navigator)) return cpu('this browser has no WebGPU (navigator.gpu is missing)');
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return cpu('WebGPU is present but offers no adapter');
  } catch (error) {
    return cpu(`requesting a WebGPU adapter failed: ${error.message}`);
  }
  return { build: 'webgpu', threads: 1, threadsReason: 'the WebGPU build\'s CPU fallback has one thread', reason: null };
}

/**
 * The core chosen by `init`: the one being chosen if `init` is under way (a model's download
 * overlaps the core's), the defaults' if the page never called it.
 */
async function wasm() {
  if (initializing) await initializing.catch(() => {});
  if (!core) await ops.init({});
  return core.module;
}

/** GET with download progress: post({progress: {phase: 'download', file, loaded, total}}). */
async function download(url, required, post, expectedBytes) {
  const response = await fetch(url);
  if (!response.ok) {
    if (required) throw new Error(`${url}: HTTP ${response.status}`);
    return null;
  }
  // Content-Length counts compressed bytes when the server sends .br or .gz.
  const total = expectedBytes ?? (response.headers.get('content-encoding') ? 0 : Number(response.headers.get('content-length')) || 0);
  if (!response.body || !post) return new Uint8Array(await response.arrayBuffer());
  const chunks = [];
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    post({ progress: { phase: 'download', file: url.split('/').slice(-2).join('/'), loaded, total } });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * layout: 'pipeline' (model_index.json, unet/, scheduler/), 'unet' (config.json), or unknown.
 * manifest: {file: {url?, sha256?, bytes?}}: where a file is when not at `url`/file (a bundler's
 * copy of a shipped model's), and a shipped file's hash, which lets it come from the weights
 * cache when it holds it; what the cache did is pushed to `cacheReport`.
 */
async function fetchFolder(url, post, layout, manifest = {}, cacheReport = []) {
  const base = url.endsWith('/') ? url : url + '/';
  const get = async (name, required, withProgress = false) => {
    const known = manifest[name];
    const where = known?.url ?? base + name;
    const fetchIt = () => download(where, required, withProgress ? post : null, known?.bytes);
    if (!known?.sha256) return fetchIt();
    const { bytes, ...outcome } = await cachedBytes(where, known.sha256, fetchIt);
    cacheReport.push({ file: name, ...outcome });
    return bytes;
  };
  // safetensors where the folder has them, else PyTorch's .bin as many hub folders ship it.
  const weights = async (dir) => {
    const safetensors = `${dir}diffusion_pytorch_model.safetensors`;
    const bin = `${dir}diffusion_pytorch_model.bin`;
    const bytes = await get(safetensors, false, true);
    if (bytes) return { [safetensors]: bytes };
    try {
      return { [bin]: await get(bin, true, true) };
    } catch (error) {
      throw new Error(`${base}${safetensors} could not be fetched, nor its .bin (${error.message})`, { cause: error });
    }
  };
  const fetched = {};
  // An unknown folder is probed for config.json first: a UNet folder never 404s, a pipeline
  // folder once (the page's own models say their layout and are never probed).
  const config = layout === 'pipeline' ? null : await get('config.json', layout === 'unet');
  if (config) {
    fetched['config.json'] = config;
    return { ...fetched, ...(await weights('')) };
  }
  const index = await get('model_index.json', false);
  if (!index) throw new Error(`${base}config.json: HTTP 404 (not a diffusers model or pipeline folder)`);
  fetched['model_index.json'] = index;
  const scheduler = await get('scheduler/scheduler_config.json', false);
  if (scheduler) fetched['scheduler/scheduler_config.json'] = scheduler;
  fetched['unet/config.json'] = await get('unet/config.json', true);
  return { ...fetched, ...(await weights('unet/')) };
}

// Pixels move to the page without a copy.
const transferables = (value) => {
  if (ArrayBuffer.isView(value)) return [value.buffer];
  if (value && typeof value === 'object') return Object.values(value).filter((v) => ArrayBuffer.isView(v)).map((v) => v.buffer);
  return [];
};

/** The first evaluations of a loaded model, timed (see `ops.warmUp`). */
async function warmUp(model) {
  const info = model.info();
  const shape = [1, info.inChannels, info.sampleSize ?? 32, info.sampleSize ?? 32];
  const x = new Float32Array(shape.reduce((a, b) => a * b));
  const started = performance.now();
  await model.eps(x, shape, 0);
  const warmupMs = performance.now() - started;
  let evalMs = Infinity;
  for (let i = 0; i < (backendKind === 'webgpu' ? 1 : 2); i++) {
    const warm = performance.now();
    await model.eps(x, shape, 0);
    evalMs = Math.min(evalMs, performance.now() - warm);
  }
  return { warmupMs, evalMs };
}

/** A run's opener checks that its model is still loaded. */
const onModel = (open) => (model, settings) => {
  if (!model) throw new Error('the model is no longer loaded');
  return open(model, settings);
};

/**
 * The core's runs, by kind: how each is opened. Every session the core returns has the same
 * surface (`total`, `done`, `current()`, `step(wanted)`), so a new kind of run is its Rust
 * session and a line here.
 */
const RUNS = {
  sample: onModel((model, settings) => model.sampler(settings)),
  inpaint: onModel((model, settings) => model.inpainter(settings)),
  spiral: onModel((model, settings) => model.sampler(settings)),
  train: (_, settings, ddpm) => new ddpm.SpiralTrainer(settings),
};

const ops = {
  /**
   * → {kind: 'webgpu' | 'cpu', reason, build, threads, threadsReason} (threads: on the CPU).
   * Called again, switches (a loaded build stays).
   * `reason`: why the CPU is forced, when not by the person (a lost device).
   */
  async init({ forceCpu, reason: cpuReason }) {
    const run = (async () => {
      const chosen = await chooseBuild(Boolean(forceCpu), cpuReason);
      const { build, reason } = chosen;
      if (!core || (build === 'webgpu' && core.build !== 'webgpu')) {
        const next = loadBuild(chosen);
        next.module.catch(() => { if (core === next) core = null; });
        core = next;
      }
      const ddpm = await core.module;
      const backend = await ddpm.initBackend(reason ?? undefined);
      backendKind = backend.kind;
      const threads = backend.kind === 'cpu' ? { threads: core.threads, threadsReason: core.threadsReason } : {};
      return { ...backend, build: core.build, ...threads };
    })();
    initializing = run;
    try {
      return await run;
    } finally {
      if (initializing === run) initializing = null;
    }
  },
  /**
   * → {key, info, cache: [{file, source: 'cache' | 'network', stored, reason?}]}, as soon as the
   * model is built: its first evaluations are `warmUp`'s, after the page is ready.
   */
  async load({ url, files, layout, manifest }, post) {
    const cache = [];
    const [ddpm, fetched] = await Promise.all([wasm(), files ?? fetchFolder(url, post, layout, manifest, cache)]);
    const model = ddpm.Model.fromFiles(fetched);
    let info;
    try {
      info = model.info();
    } catch (error) {
      model.free();
      throw error;
    }
    const key = newKey();
    models.set(key, model);
    return { key, info, cache };
  },
  /**
   * → {warmupMs, evalMs}. The first evaluation compiles the shaders (WebGPU) or warms the engine;
   * then what one sample costs per step, for the page's run estimates: on the CPU path the faster
   * of two more evaluations (the engine is still optimising the wasm during the first ones), on
   * WebGPU one, since the shaders are compiled and the GPU's speed is steady.
   */
  warmUp({ key }) {
    const model = models.get(key);
    if (!model) return Promise.reject(new Error('the model is no longer loaded'));
    const warming = warmUp(model);
    warmingUp.set(key, warming);
    return warming.finally(() => warmingUp.delete(key));
  },
  async unload({ key }) {
    // An evaluation under way holds the model: free it after.
    await warmingUp.get(key)?.catch(() => {});
    models.get(key)?.free();
    return models.delete(key);
  },
  async eps({ key, x, shape, t, labels }) {
    return models.get(key).eps(x, shape, t, labels ?? undefined);
  },
  /**
   * A run of the core (RUNS: sample, inpaint, spiral, train) → {runId, total, timesteps?,
   * current}; then `step` until the run is done, and `stop`.
   */
  async open({ kind, key, settings }) {
    if (!Object.hasOwn(RUNS, kind)) throw new Error(`unknown run kind ${kind}`);
    const session = RUNS[kind](key === undefined ? null : models.get(key), settings, await wasm());
    const runId = newKey();
    runs.set(runId, session);
    const timesteps = session.timesteps ? { timesteps: Array.from(session.timesteps()) } : {};
    return { runId, total: session.total, ...timesteps, current: await session.current() };
  },
  /** {k} steps → the last one's output; wanted also says what the page will draw ({x0, eps}). */
  async step({ runId, wanted }) {
    const session = runs.get(runId);
    if (!session) throw new Error('this run has ended');
    return session.step(wanted);
  },
  /** A 2-D model folder (Mlp2D) → its key. */
  async spiralLoad({ url, files, manifest }) {
    const ddpm = await wasm();
    const model = ddpm.SpiralModel.fromFiles(files ?? (await fetchFolder(url, null, 'unet', manifest)));
    const key = newKey();
    models.set(key, model);
    return { key };
  },
  async spiralDrift({ key, points, t, prev }) {
    const model = models.get(key);
    if (!model) throw new Error('the spiral model is no longer loaded');
    return model.drift(points, t, prev);
  },
  /** The trainer's weights now, as a spiral model key (unload it when done). */
  async trainSnapshot({ runId }) {
    const trainer = runs.get(runId);
    if (!trainer) throw new Error('this training run has ended');
    const key = newKey();
    models.set(key, trainer.model());
    return { key };
  },
  /** n points of the spiral and the sliced Wasserstein distance of `points` to them. */
  async spiralTarget({ n, seed, points }) {
    const ddpm = await wasm();
    const target = ddpm.spiralPoints(n, BigInt(seed));
    return { target, distance: points ? ddpm.slicedWasserstein(points, target) : null };
  },
  async stop({ runId }) {
    runs.get(runId)?.free();
    return runs.delete(runId);
  },
  /** `{betas, alphasCumprod, logSnr}` of a scheduler config (undefined: Ho et al.'s). */
  async curves({ scheduler }) {
    return (await schedule(scheduler)).curves();
  },
  async noised({ scheduler, x0, shape, t, seed }) {
    return (await schedule(scheduler)).noised(x0, shape, t, BigInt(seed));
  },
  async quadrantMask({ code, height, width }) {
    return (await wasm()).quadrantMask(code, height, width);
  },
  /** Which of `total` recorded steps an animation shows (at most `frames`, else the core's default). */
  async frameSteps({ total, frames }) {
    return Array.from((await wasm()).frameSteps(total, frames ?? undefined));
  },
  /** RGBA frames (ImageData.data), all width×height → an animated GIF. */
  async encodeGif({ frames, width, height }) {
    return (await wasm()).encodeGif(frames, width, height);
  },
  async parseNpy({ bytes }) {
    return (await wasm()).parseNpy(bytes);
  },
  /** What the core holds: its wasm memory's size and the models, runs and schedules alive. */
  async memory() {
    await wasm();
    return { wasmBytes: core.memory.buffer.byteLength, models: models.size, runs: runs.size, schedules: schedules.size };
  },
  /** What the weights cache holds: {available, reason?, entries: [{url, bytes}]}. */
  async cacheContents() {
    return cacheContents();
  },
  /** Empties the weights cache → the number of files removed. */
  async clearCache() {
    return clearCache();
  },
};

async function schedule(config) {
  const ddpm = await wasm();
  const key = JSON.stringify(config ?? {});
  if (!schedules.has(key)) schedules.set(key, new ddpm.NoiseSchedule(config ?? undefined));
  return schedules.get(key);
}

self.onmessage = async ({ data }) => {
  const { id, op, ...args } = data;
  const post = (message) => self.postMessage({ id, ...message });
  try {
    if (!(op in ops)) throw new Error(`unknown operation ${op}`);
    const value = await ops[op](args, post);
    self.postMessage({ id, ok: true, value }, transferables(value));
  } catch (error) {
    // An error from a lost device arrives before the loss is reported: wait for it a moment, so
    // the reply names the cause.
    if (self.ddpmDevice && !deviceLost) await Promise.race([self.ddpmDevice.lost, new Promise((done) => setTimeout(done, 50))]);
    // A trap (a panic or an abort) leaves the wasm instance unusable: the client replaces the worker.
    // An error from a lost device is the loss: the client moves to the CPU.
    const fatal = error instanceof WebAssembly.RuntimeError;
    post({ ok: false, fatal, deviceLost, error: fatal ? String(error) : String(error?.message ?? error) });
  }
};
