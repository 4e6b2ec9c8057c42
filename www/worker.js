// Runs the wasm core off the main thread. Messages in: {id, op, ...args}; out: {id, ok, value}
// or {id, ok: false, error}. Sampling streams {id, progress} messages, one per step.
import init, * as ddpm from '../pkg/ddpm_web.js';

const ready = init();
const models = new Map();
const runs = new Map();

async function fetchFolder(url) {
  const base = url.endsWith('/') ? url : url + '/';
  const get = async (name, required) => {
    const response = await fetch(base + name);
    if (!response.ok) {
      if (required) throw new Error(`${base}${name}: HTTP ${response.status}`);
      return null;
    }
    return new Uint8Array(await response.arrayBuffer());
  };
  const files = {};
  // A UNet folder has config.json; a pipeline folder has model_index.json and unet/. Asking
  // for config.json first means a UNet folder never produces a 404.
  const config = await get('config.json', false);
  if (config) {
    files['config.json'] = config;
    files['diffusion_pytorch_model.safetensors'] = await get('diffusion_pytorch_model.safetensors', true);
    return files;
  }
  const index = await get('model_index.json', false);
  if (!index) throw new Error(`${base}config.json: HTTP 404 (not a diffusers model or pipeline folder)`);
  files['model_index.json'] = index;
  const scheduler = await get('scheduler/scheduler_config.json', false);
  if (scheduler) files['scheduler/scheduler_config.json'] = scheduler;
  files['unet/config.json'] = await get('unet/config.json', true);
  files['unet/diffusion_pytorch_model.safetensors'] = await get('unet/diffusion_pytorch_model.safetensors', true);
  return files;
}

// On the CPU backend a step's promise resolves without ever leaving the microtask queue, so a
// 'cancel' message would wait until the run ends: yield to the event loop between steps.
const channel = new MessageChannel();
const yieldToEvents = () => new Promise((resolve) => {
  channel.port1.onmessage = resolve;
  channel.port2.postMessage(null);
});

const ops = {
  async init({ forceCpu }) {
    await ready;
    return ddpm.initBackend(Boolean(forceCpu));
  },
  async load({ url, files }) {
    await ready;
    const model = ddpm.Model.fromFiles(files ?? (await fetchFolder(url)));
    const key = crypto.randomUUID();
    models.set(key, model);
    return { key, info: model.info() };
  },
  async eps({ key, x, shape, t, labels }) {
    return models.get(key).eps(x, shape, t, labels ?? undefined);
  },
  async sample({ key, settings, runId }, post) {
    const session = models.get(key).sampler(settings);
    runs.set(runId, { cancelled: false });
    const timesteps = Array.from(session.timesteps());
    let last = null;
    try {
      for (let i = 0; !session.done; i++) {
        await yieldToEvents();
        if (runs.get(runId).cancelled) return { cancelled: true, steps: i, last };
        last = await session.step();
        post({ progress: { step: i + 1, total: timesteps.length, ...last } });
      }
      return { cancelled: false, steps: timesteps.length, last };
    } finally {
      runs.delete(runId);
      session.free();
    }
  },
  async cancel({ runId }) {
    const run = runs.get(runId);
    if (run) run.cancelled = true;
    return Boolean(run);
  },
  async parseNpy({ bytes }) {
    await ready;
    return ddpm.parseNpy(bytes);
  },
};

self.onmessage = async ({ data }) => {
  const { id, op, ...args } = data;
  const post = (message) => self.postMessage({ id, ...message });
  try {
    if (!(op in ops)) throw new Error(`unknown operation ${op}`);
    const value = await ops[op](args, post);
    post({ ok: true, value });
  } catch (error) {
    post({ ok: false, error: String(error?.message ?? error) });
  }
};
