// The page's handle on the worker: promises for requests, a callback per sampling step.
export class DdpmClient {
  constructor() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = ({ data }) => {
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
      const error = new Error(`worker failed: ${event.message ?? 'unknown error'}`);
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

  /** → {kind: 'webgpu'|'cpu', reason} */
  init(forceCpu = false) {
    return this.request('init', { forceCpu });
  }

  /** A diffusers folder by URL, or {name: Uint8Array} files. → {key, info} */
  load(source) {
    // Folder URLs are relative to the page, not to the worker's script.
    return this.request('load', typeof source === 'string' ? { url: new URL(source, document.baseURI).href } : { files: source });
  }

  eps(key, x, shape, t, labels) {
    return this.request('eps', { key, x, shape, t, labels });
  }

  /** Runs to the end unless cancelled; onStep gets {step, total, t, xt, x0, eps}. */
  sample(key, settings, onStep) {
    const runId = `run-${this.nextId}`;
    const done = this.request('sample', { key, settings, runId }, onStep);
    return { runId, done, cancel: () => this.request('cancel', { runId }) };
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
