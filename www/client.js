// @ts-check
// The page's handle on the worker: one promise per request, an optional callback for progress.
import { whyNotLoaded } from './load-failure.js';

/** `wanted` of a step whose x̂_0 and ε̂ will not be drawn: the device sends back x_t only. */
export const XT_ONLY = Object.freeze({ x0: false, eps: false });

/**
 * The module worker: the package's own (./worker.js, written as the literal bundlers follow and
 * emit) or `workerUrl`. A page may only start workers from its own origin, so when the script is
 * served from elsewhere (a CDN, another host of a blog) the worker starts from a same-origin
 * blob: module that imports the real one, which CORS lets through. Where the embedding page's
 * CSP forbids blob: workers, it passes `workerUrl`: a file on its own origin containing
 * `import 'https://…/www/worker.js';`.
 */
function startWorker(workerUrl, name) {
  const trampoline = (url) => {
    const module = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\n`], { type: 'text/javascript' }));
    return { url, worker: new Worker(module, { type: 'module', name }), revoke: () => URL.revokeObjectURL(module) };
  };
  if (workerUrl) return workerUrl.origin === location.origin ? { url: workerUrl, worker: new Worker(workerUrl, { type: 'module', name }), revoke: () => {} } : trampoline(workerUrl);
  // As published this module has an http(s) URL; a bundler's copy is same-origin, or has a
  // file: URL written in (webpack). Not `new URL('./worker.js', import.meta.url)` here: bundlers
  // would emit a second, raw copy of the worker for it.
  const here = new URL(import.meta.url);
  const published = /^https?:$/.test(here.protocol) && here.pathname.endsWith('/www/client.js');
  if (published && here.origin !== location.origin) return trampoline(new URL('worker.js', here));
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name });
  return { url: published ? new URL('worker.js', here) : null, worker, revoke: () => {} };
}

/** More crashes than this with no request answered in between, and the client stops restarting. */
const MAX_RESTARTS = 3;

/**
 * What `open` and `run` take: a kind of run, its model (all but 'train') and its settings.
 * @typedef {{ kind: 'sample' | 'inpaint' | 'spiral' | 'train', key?: string, settings: object }} RunSpec
 */

/**
 * The worker is replaced when the wasm instance traps (a panic or an abort kills it) or when
 * the WebGPU device is lost (then on the CPU). Requests under way are rejected with the reason;
 * model keys stay valid: a model loaded from a URL is loaded again on its next use. Listeners
 * of 'restart' get {detail: {reason, toCpu, backend}} ({reason, toCpu, error} if the new worker
 * could not start).
 */
export class DdpmClient extends EventTarget {
  /**
   * `workerUrl`: a module worker to run instead of ./worker.js (one that imports or wraps it).
   * @param {{ workerUrl?: string | URL }} [options]
   */
  constructor({ workerUrl } = {}) {
    super();
    this.workerUrl = workerUrl ? new URL(workerUrl, document.baseURI) : undefined;
    this.pending = new Map();
    this.nextId = 1;
    // Model keys are the client's: {op, args (null: cannot be loaded again), lost, workerKey, generation}.
    this.loaded = new Map();
    this.lastModel = 0;
    this.generation = 0;
    this.restarts = 0;
    this.backendRequest = { forceCpu: false };
    this.spawn();
  }

  spawn() {
    this.generation += 1;
    // The name prefixes the worker's run ids, so a run of a replaced worker is never mistaken for a new one.
    const { url, worker, revoke } = startWorker(this.workerUrl, `ddpm-${this.generation}`);
    this.worker = worker;
    worker.onmessage = ({ data }) => {
      revoke();
      if (worker !== this.worker) return;
      if (data.event === 'device-lost') {
        this.restart(`the WebGPU device was lost (${data.reason})`, true);
        return;
      }
      const entry = this.pending.get(data.id);
      if (!entry) return;
      if ('progress' in data) {
        entry.onProgress?.(data.progress);
        return;
      }
      // Both reject every request under way (this one included) with the reason.
      if (data.deviceLost) return this.restart(`the WebGPU device was lost (${data.deviceLost})`, true);
      if (data.fatal) return this.restart(`the compute core crashed (${data.error}; the console has the details)`, false);
      this.pending.delete(data.id);
      if (data.ok) {
        if (entry.op !== 'init') this.restarts = 0;
        entry.resolve(data.value);
      } else {
        entry.reject(new Error(data.error));
      }
    };
    worker.onerror = async (event) => {
      // A worker whose script cannot be loaded reports no message of its own: fetched again, the
      // script says why (a bundled copy's own URL is the bundler's, not this one).
      const why = event.message || (url ? await whyNotLoaded(url.href, 'JavaScript') : 'its script did not load');
      const error = new Error(`the compute worker did not start: ${why} (see the README, "Troubleshooting")`);
      for (const entry of this.pending.values()) entry.reject(error);
      this.pending.clear();
    };
  }

  /** A new worker, initialised first (on the CPU after a device loss), then 'restart'. */
  async restart(reason, toCpu) {
    if (this.restarts >= MAX_RESTARTS) {
      this.fail(new Error(`${reason}; it crashed ${MAX_RESTARTS + 1} times in a row and was not restarted again: reload the page`));
      return;
    }
    this.restarts += 1;
    this.worker.terminate();
    const interrupted = [...this.pending.values()];
    this.pending.clear();
    this.spawn();
    if (toCpu) this.backendRequest = { forceCpu: true, reason: `${reason[0].toUpperCase()}${reason.slice(1)}` };
    // Posted before anything else reaches the new worker, so every later request runs on this backend.
    const backend = this.request('init', this.backendRequest);
    const error = new Error(`${reason}: the page restarted its compute worker${toCpu ? ' on the CPU' : ''}. Run again.`);
    for (const entry of interrupted) entry.reject(error);
    try {
      this.dispatchEvent(new CustomEvent('restart', { detail: { reason, toCpu, backend: await backend } }));
    } catch (failure) {
      this.dispatchEvent(new CustomEvent('restart', { detail: { reason, toCpu, error: failure } }));
    }
  }

  /** No more workers: every request, under way or later, gets `error`. */
  fail(error) {
    this.failure = error;
    this.worker.terminate();
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }

  request(op, args = {}, onProgress) {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { op, resolve, reject, onProgress });
      this.worker.postMessage({ id, op, ...args });
    });
  }

  /** → {kind: 'webgpu'|'cpu', reason, build: 'webgpu'|'cpu' (the module downloaded)} */
  init(forceCpu = false) {
    this.backendRequest = { forceCpu };
    return this.request('init', this.backendRequest);
  }

  /** A model key for the worker's `workerKey`; `args` (null: none) load it again after a restart. */
  remember(op, args, workerKey, lost) {
    const key = `model-${++this.lastModel}`;
    this.loaded.set(key, { op, args, lost, workerKey, generation: this.generation });
    return key;
  }

  /** The worker's key of a model, loaded again first if the worker was replaced since. */
  async workerKey(key) {
    const entry = this.loaded.get(key);
    if (!entry) throw new Error('the model is no longer loaded');
    if (entry.generation === this.generation) return entry.workerKey;
    if (!entry.args) throw new Error(`${entry.lost} went with the compute worker when it restarted: load it again`);
    const generation = this.generation;
    entry.reload ??= this.request(entry.op, entry.args).then(({ key: workerKey }) => {
      Object.assign(entry, { workerKey, generation, reload: null });
      return workerKey;
    }, (error) => {
      entry.reload = null;
      throw error;
    });
    return entry.reload;
  }

  /** The request with the model key `key` translated for the worker. */
  async withModel(op, key, args, onProgress) {
    return this.request(op, { ...args, key: await this.workerKey(key) }, onProgress);
  }

  /**
   * A diffusers folder by URL, or {name: Uint8Array} files; its weights safetensors or PyTorch's
   * diffusion_pytorch_model.bin (parsed in Rust, no pickle code runs). → {key, info, cache, timing}, as soon
   * as the model is built. onProgress gets {phase: 'download', file, loaded, total}. layout:
   * 'pipeline' or 'unet' when known (saves probing the folder). manifest: {file: {url?, sha256?,
   * bytes?}}: where a file is when not in the folder (a bundler's copy), and a shipped model's
   * hashes (www/models/index.json), which let those files come from the weights cache;
   * `cache` says for each what the cache did: [{file, source: 'cache'|'network', stored, reason?}].
   * `timing` resolves once the model has warmed up (WebGPU compiles its shaders then) with
   * {warmupMs, evalMs}, which it also writes into `info` for run estimates.
   */
  async load(source, onProgress, layout, manifest) {
    // Folder URLs are relative to the page, not to the worker's script.
    const args = typeof source === 'string' ? { url: new URL(source, document.baseURI).href, layout, manifest } : { files: source };
    const loaded = await this.request('load', args, onProgress);
    // Files are not kept for a restart: a second copy of a user's weights is too much to hold.
    const key = this.remember('load', args.url ? args : null, loaded.key, 'your model (from files)');
    const timing = this.withModel('warmUp', key, {}).then((measured) => Object.assign(loaded.info, measured) && measured);
    timing.catch(() => {});
    return { ...loaded, key, timing };
  }

  /** What the weights cache holds → {available, reason?, entries: [{url, bytes}]}. */
  cacheContents() {
    return this.request('cacheContents');
  }

  /** Empties the weights cache → the number of files removed. */
  clearCache() {
    return this.request('clearCache');
  }

  async unload(key) {
    const entry = this.loaded.get(key);
    if (!entry) return false;
    this.loaded.delete(key);
    return entry.generation === this.generation && this.request('unload', { key: entry.workerKey });
  }

  eps(key, x, shape, t, labels) {
    return this.withModel('eps', key, { x, shape, t, labels });
  }

  /**
   * Opens a run of the core: spec {kind, key?, settings}, kind 'sample' (settings: RunSettings),
   * 'inpaint' (InpaintSettings), 'spiral' (a 2-D model's particles) or 'train' (Algorithm 1
   * live; no key) → {runId, total, timesteps? (the sampling runs'), current (the state it starts
   * from: x_T, the particles, or {step} of training)}. Then `step` until done, and `stop`; `run`
   * does all three.
   * @param {RunSpec} spec
   */
  open({ kind, key, settings }) {
    return key === undefined ? this.request('open', { kind, settings }) : this.withModel('open', key, { kind, settings });
  }

  /**
   * One step of an open run. wanted: {k}, the steps to take at once (1 when absent; inpainting
   * takes 1), and for a sampling run {x0, eps} (both true when absent: leave out what will not be
   * drawn); it resolves to the last step's output.
   */
  step(runId, wanted) {
    return this.request('step', { runId, wanted });
  }

  stop(runId) {
    return this.request('stop', { runId });
  }

  /**
   * A run stepped to its end: yields {step, total, ...the step's output} after each step. The
   * first value is the opened run's start ({step: 0, total, ...}). `signal` (an AbortSignal)
   * cancels it between steps; the run is stopped in the worker however the loop ends.
   * wanted (or a function of the step number, for what changes as it runs) as in `step`.
   * @param {RunSpec} spec
   * @param {{ signal?: AbortSignal, wanted?: object | ((step: number) => object) }} [options]
   */
  async *run(spec, { signal, wanted } = {}) {
    const opened = await this.open(spec);
    try {
      yield { step: 0, ...opened };
      const stride = (typeof wanted === 'function' ? null : wanted?.k) ?? 1;
      for (let step = 0; step < opened.total && !signal?.aborted; ) {
        const out = await this.step(opened.runId, typeof wanted === 'function' ? wanted(step) : wanted);
        step = Math.min(opened.total, step + stride);
        yield { step, total: opened.total, ...out };
      }
    } finally {
      await this.stop(opened.runId).catch(() => {});
    }
  }

  /** A 2-D (Mlp2D) model folder URL or files → {key}; manifest as in `load`. */
  async spiralLoad(source, manifest) {
    const args = typeof source === 'string' ? { url: new URL(source, document.baseURI).href, manifest } : { files: source };
    const { key } = await this.request('spiralLoad', args);
    return { key: this.remember('spiralLoad', args.url ? args : null, key, 'the 2-D model (from files)') };
  }

  /** μ_θ(x, t) − x at points [N, 2] for the step t → prev (−1: the end). */
  spiralDrift(key, points, t, prev) {
    return this.withModel('spiralDrift', key, { points, t, prev });
  }

  /** n spiral points (seeded) → {target, distance}: distance is the sliced Wasserstein distance of `points` (optional) to them. */
  spiralTarget(n, seed, points) {
    return this.request('spiralTarget', { n, seed, points });
  }

  /** The trainer's weights now → {key} of a spiral model. */
  async trainSnapshot(runId) {
    const { key } = await this.request('trainSnapshot', { runId });
    return { key: this.remember('trainSnapshot', null, key, 'the live-trained model') };
  }

  /**
   * A sampling run to its end, the shortcut `run` makes: onStep gets {step, total, t, next, xt,
   * x0, eps} (x0 and eps as `wanted` asks) → {done: Promise<{cancelled, steps, last}>, cancel}.
   */
  sample(key, settings, onStep, wanted) {
    const abort = new AbortController();
    const done = (async () => {
      let [last, steps, total] = [null, 0, Infinity];
      for await (const { step, total: all, ...output } of this.run({ kind: 'sample', key, settings }, { signal: abort.signal, wanted })) {
        total = all;
        if (step === 0) continue;
        [last, steps] = [output, step];
        onStep?.({ step, total, ...output });
      }
      return { cancelled: steps < total, steps, last };
    })();
    return { done, cancel: () => abort.abort() };
  }

  /** The schedule's curves, {betas, alphasCumprod, logSnr}; scheduler: a diffusers config. */
  curves(scheduler) {
    return this.request('curves', { scheduler });
  }

  /** x_t ~ q(x_t | x_0) with a seed (eq. 4). */
  noised(scheduler, x0, shape, t, seed) {
    return this.request('noised', { scheduler, x0, shape, t, seed });
  }

  /** The inpainting mask (1 = known, [height, width]) of a quadrant code: four 0/1 for TL TR BL BR. */
  quadrantMask(code, height, width) {
    return this.request('quadrantMask', { code, height, width });
  }

  /** Which of `total` recorded steps an animation shows → indices (evenly spaced, both ends kept). */
  frameSteps(total, frames) {
    return this.request('frameSteps', { total, frames });
  }

  /** RGBA frames, all width×height → an animated GIF (Uint8Array) at the CLI's pace. */
  encodeGif(frames, width, height) {
    return this.request('encodeGif', { frames, width, height });
  }

  parseNpy(bytes) {
    return this.request('parseNpy', { bytes });
  }

  /** What the core holds now → {wasmBytes, models, runs, schedules}: leaks show here. */
  memory() {
    return this.request('memory');
  }
}

/** The adapter the browser offers, for display (burn picks its own the same way). */
export async function describeAdapter() {
  if (!('gpu' in navigator)) return { available: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    // lib.dom has no WebGPU types yet.
    const adapter = await /** @type {any} */ (navigator).gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'WebGPU is present but offers no adapter' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
    return { available: true, name, fallback: Boolean(info.isFallbackAdapter) };
  } catch (error) {
    return { available: false, reason: `requesting a WebGPU adapter failed: ${error.message}` };
  }
}

/**
 * "WebGPU — adapter" or "CPU (wasm), N threads: why — why not WebGPU": the browser's own words
 * (no navigator.gpu, no adapter) before the backend's.
 */
export function backendLabel(backend, adapter, forced) {
  if (backend.kind === 'webgpu') return `WebGPU — ${adapter.name ?? 'adapter'}${adapter.fallback ? ' (software fallback adapter)' : ''}`;
  const threads = backend.threads ? `, ${backend.threads} thread${backend.threads === 1 ? '' : 's'}${backend.threadsReason ? `: ${backend.threadsReason}` : ''}` : '';
  return `CPU (wasm)${threads} — ${!forced && !adapter.available && adapter.reason ? adapter.reason : backend.reason}`;
}

/** The backend line once the client has replaced its worker ('restart' event's detail): {text, kind}. */
export function restartLabel({ reason, toCpu, backend, error }, adapter, forced) {
  if (error) return { text: `The compute worker could not be restarted after ${reason}: ${error.message}. Reload the page.`, kind: 'error' };
  const label = backendLabel(backend, adapter, forced && !toCpu);
  return { text: toCpu ? label : `${label} (restarted: ${reason})`, kind: backend.kind };
}
