// The page's handle on the worker: one promise per request, an optional callback for progress.

/** `wanted` of a step whose x̂_0 and ε̂ will not be drawn: the device sends back x_t only. */
export const XT_ONLY = Object.freeze({ x0: false, eps: false });

/**
 * A module worker for `url` (absolute). A page may only start workers from its own origin, so
 * when this package is served from elsewhere (a CDN, another host of a blog) the worker starts
 * from a same-origin blob: module that imports the real one, which CORS lets through. Where the
 * embedding page's CSP forbids blob: workers, it passes `workerUrl`: a file on its own origin
 * containing `import 'https://…/www/worker.js';`.
 */
function startWorker(url) {
  if (url.origin === location.origin) return { worker: new Worker(url, { type: 'module' }), revoke: () => {} };
  const trampoline = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\n`], { type: 'text/javascript' }));
  return { worker: new Worker(trampoline, { type: 'module' }), revoke: () => URL.revokeObjectURL(trampoline) };
}

export class DdpmClient {
  /** `workerUrl`: a module worker to run instead of ./worker.js (one that imports or wraps it). */
  constructor({ workerUrl } = {}) {
    const { worker, revoke } = startWorker(new URL(workerUrl ?? './worker.js', workerUrl ? document.baseURI : import.meta.url));
    this.worker = worker;
    this.revokeTrampoline = revoke;
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = ({ data }) => {
      this.revokeTrampoline();
      const entry = this.pending.get(data.id);
      if (!entry) return;
      if ('progress' in data) {
        entry.onProgress?.(data.progress);
        return;
      }
      this.pending.delete(data.id);
      if (data.ok) entry.resolve(data.value);
      else entry.reject(new Error(data.error));
    };
    this.worker.onerror = (event) => {
      // A worker whose script cannot be fetched reports no message of its own.
      const error = new Error(`worker failed: ${event.message || 'its script could not be loaded (a CSP without worker-src for it, or a host that does not send CORS: see the README, "From a CDN")'}`);
      for (const entry of this.pending.values()) entry.reject(error);
      this.pending.clear();
    };
  }

  request(op, args = {}, onProgress) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, op, ...args });
    });
  }

  /** → {kind: 'webgpu'|'cpu', reason, build: 'webgpu'|'cpu' (the module downloaded)} */
  init(forceCpu = false) {
    return this.request('init', { forceCpu });
  }

  /**
   * A diffusers folder by URL, or {name: Uint8Array} files. → {key, info, cache}. onProgress gets
   * {phase: 'download', file, loaded, total} and then {phase: 'warmup'}. layout: 'pipeline' or
   * 'unet' when known (saves probing the folder). hashes: {file: {sha256, bytes}} (a shipped
   * model's, from www/models/index.json) lets those files come from the weights cache; `cache`
   * says for each what the cache did: [{file, source: 'cache'|'network', stored, reason?}].
   */
  load(source, onProgress, layout, hashes) {
    // Folder URLs are relative to the page, not to the worker's script.
    const args = typeof source === 'string' ? { url: new URL(source, document.baseURI).href, layout, hashes } : { files: source };
    return this.request('load', args, onProgress);
  }

  /** What the weights cache holds → {available, reason?, entries: [{url, bytes}]}. */
  cacheContents() {
    return this.request('cacheContents');
  }

  /** Empties the weights cache → the number of files removed. */
  clearCache() {
    return this.request('clearCache');
  }

  unload(key) {
    return this.request('unload', { key });
  }

  eps(key, x, shape, t, labels) {
    return this.request('eps', { key, x, shape, t, labels });
  }

  /** → {runId, timesteps, xt (the starting state)}; then step(runId) → {t, next, xt, x0, eps} until done; stop(runId). */
  start(key, settings) {
    return this.request('start', { key, settings });
  }

  /** wanted: {x0, eps} (both true when absent): leave out what will not be drawn. */
  step(runId, wanted) {
    return this.request('step', { runId, wanted });
  }

  stop(runId) {
    return this.request('stop', { runId });
  }

  /** An inpainting run → {runId, total, xt}; then step(runId) → {t, next, xt, x0, eps} or {renoise, xt}; stop(runId). */
  inpaintStart(key, settings) {
    return this.request('inpaintStart', { key, settings });
  }

  /** A 2-D (Mlp2D) model folder URL or files → {key}; hashes as in `load`. */
  spiralLoad(source, hashes) {
    const args = typeof source === 'string' ? { url: new URL(source, document.baseURI).href, hashes } : { files: source };
    return this.request('spiralLoad', args);
  }

  /** Particles from N(0, I): settings {n, seed, steps?} → {runId, timesteps, x}. */
  spiralStart(key, settings) {
    return this.request('spiralStart', { key, settings });
  }

  /** k reverse steps → {t, next, x}. */
  spiralSteps(runId, k) {
    return this.request('spiralSteps', { runId, k });
  }

  /** μ_θ(x, t) − x at points [N, 2] for the step t → prev (−1: the end). */
  spiralDrift(key, points, t, prev) {
    return this.request('spiralDrift', { key, points, t, prev });
  }

  /** n spiral points (seeded) → {target, distance}: distance is the sliced Wasserstein distance of `points` (optional) to them. */
  spiralTarget(n, seed, points) {
    return this.request('spiralTarget', { n, seed, points });
  }

  /** Algorithm 1 live: settings {steps, batch?, learningRate?, seed?} → {runId}. */
  trainStart(settings) {
    return this.request('trainStart', { settings });
  }

  /** Up to k more training steps → {step, loss}. */
  trainSteps(runId, k) {
    return this.request('trainSteps', { runId, k });
  }

  /** The trainer's weights now → {key} of a spiral model. */
  trainSnapshot(runId) {
    return this.request('trainSnapshot', { runId });
  }

  /** Runs to the end unless cancelled; onStep gets {step, total, t, next, xt, x0, eps} (x0 and eps as `wanted` asks). */
  sample(key, settings, onStep, wanted) {
    let cancelled = false;
    const done = (async () => {
      const { runId, timesteps } = await this.start(key, settings);
      let last = null;
      try {
        for (let i = 0; i < timesteps.length; i++) {
          if (cancelled) return { cancelled: true, steps: i, last };
          last = await this.step(runId, wanted);
          onStep?.({ step: i + 1, total: timesteps.length, ...last });
        }
        return { cancelled: false, steps: timesteps.length, last };
      } finally {
        await this.stop(runId);
      }
    })();
    return { done, cancel: () => { cancelled = true; } };
  }

  /** The schedule's curves, {betas, alphasCumprod, logSnr}; scheduler: a diffusers config. */
  curves(scheduler) {
    return this.request('curves', { scheduler });
  }

  /** x_t ~ q(x_t | x_0) with a seed (eq. 4). */
  noised(scheduler, x0, shape, t, seed) {
    return this.request('noised', { scheduler, x0, shape, t, seed });
  }

  parseNpy(bytes) {
    return this.request('parseNpy', { bytes });
  }
}

/** The adapter the browser offers, for display (burn picks its own the same way). */
export async function describeAdapter() {
  if (!('gpu' in navigator)) return { available: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'WebGPU is present but offers no adapter' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
    return { available: true, name, fallback: Boolean(info.isFallbackAdapter) };
  } catch (error) {
    return { available: false, reason: `requesting a WebGPU adapter failed: ${error.message}` };
  }
}

/** "WebGPU — adapter" or "CPU (wasm) — why": the browser's own words (no navigator.gpu, no adapter) before the backend's. */
export function backendLabel(backend, adapter, forced) {
  if (backend.kind === 'webgpu') return `WebGPU — ${adapter.name ?? 'adapter'}${adapter.fallback ? ' (software fallback adapter)' : ''}`;
  return `CPU (wasm) — ${!forced && !adapter.available && adapter.reason ? adapter.reason : backend.reason}`;
}
