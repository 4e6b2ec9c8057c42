// The page: pick a backend and a model, evaluate ε_θ once, run a few sampling steps.
import { DdpmClient, describeAdapter } from './client.js';
import { drawSample } from './render.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const client = new DdpmClient();
const state = { key: null, info: null, run: null };

function status(element, text, kind = 'info') {
  element.textContent = text;
  element.dataset.kind = kind;
}

async function startBackend() {
  const forceCpu = $('force-cpu').checked;
  status($('backend'), 'Starting the compute backend…');
  const adapter = await describeAdapter();
  const backend = await client.init(forceCpu);
  const text =
    backend.kind === 'webgpu'
      ? `WebGPU — ${adapter.name ?? 'adapter'}${adapter.fallback ? ' (software fallback adapter)' : ''}`
      : `CPU (wasm) — ${backend.reason}`;
  status($('backend'), text, backend.kind);
  document.body.dataset.backend = backend.kind;
  return backend;
}

async function loadModel(source, label) {
  status($('model-status'), `Loading ${label}…`);
  $('run-eps').disabled = $('run-sample').disabled = true;
  try {
    const { key, info } = await client.load(source);
    state.key = key;
    state.info = info;
    const classes = info.numClasses ? `, ${info.numClasses} classes` : '';
    status($('model-status'), `${label}: ${info.parameters.toLocaleString()} parameters (${info.dtypes.join(', ')}), ${info.inChannels} channel(s), ${info.sampleSize}×${info.sampleSize}${classes}`, 'ok');
    $('run-eps').disabled = $('run-sample').disabled = false;
  } catch (error) {
    state.key = null;
    status($('model-status'), `Could not load ${label}: ${error.message}`, 'error');
  }
}

function seededNoise(n, seed) {
  // Display-only input for the single ε_θ evaluation (the sampler's noise comes from the core).
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

async function runEps() {
  const { inChannels, sampleSize } = state.info;
  const shape = [1, inChannels, sampleSize, sampleSize];
  const x = seededNoise(shape.reduce((a, b) => a * b), Number($('seed').value));
  const started = performance.now();
  try {
    const eps = await client.eps(state.key, x, shape, 500, state.info.numClasses ? [state.info.numClasses - 1] : undefined);
    const ms = performance.now() - started;
    const mean = eps.reduce((a, b) => a + b, 0) / eps.length;
    const std = Math.sqrt(eps.reduce((a, b) => a + (b - mean) ** 2, 0) / eps.length);
    status($('eps-status'), `ε_θ(x, t = 500): ${ms.toFixed(0)} ms; mean ${mean.toFixed(3)}, std ${std.toFixed(3)}`, 'ok');
    drawSample($('eps-canvas'), eps, shape, 0, 3);
  } catch (error) {
    status($('eps-status'), `ε_θ failed: ${error.message}`, 'error');
  }
}

function samplerSettings() {
  const steps = Number($('steps').value);
  const kind = $('sampler').value;
  const base = { ...state.info.defaultSettings, steps };
  const method = kind === 'ddim' ? { kind: 'ddim', eta: Number($('eta').value) } : { kind: 'ddpm', variance: kind === 'ddpm-large' ? 'fixed_large' : 'fixed_small' };
  return { seed: Number($('seed').value), batch: 1, sampler: { ...base, method }, class: state.info.numClasses ? state.info.numClasses - 1 : undefined };
}

async function runSample() {
  const shape = [1, state.info.inChannels, state.info.sampleSize, state.info.sampleSize];
  $('run-sample').disabled = true;
  $('cancel').disabled = false;
  status($('sample-status'), 'Starting…');
  const started = performance.now();
  state.run = client.sample(state.key, samplerSettings(), (p) => {
    drawSample($('xt'), p.xt, shape);
    drawSample($('x0'), p.x0, shape);
    drawSample($('eps'), p.eps, shape, 0, 3);
    $('progress').max = p.total;
    $('progress').value = p.step;
    const rate = p.step / ((performance.now() - started) / 1000);
    status($('sample-status'), `step ${p.step}/${p.total}, t = ${p.t} — ${rate.toFixed(1)} steps/s, ${((p.total - p.step) / rate).toFixed(0)} s left`);
  });
  try {
    const result = await state.run.done;
    status($('sample-status'), result.cancelled ? `Cancelled after ${result.steps} steps.` : `Done: ${result.steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s.`, 'ok');
  } catch (error) {
    status($('sample-status'), `Sampling failed: ${error.message}`, 'error');
  } finally {
    state.run = null;
    $('run-sample').disabled = false;
    $('cancel').disabled = true;
  }
}

async function filesFromInput(fileList) {
  const files = {};
  for (const file of fileList) {
    // A picked folder gives "folder/unet/config.json": keep the path below the folder.
    const path = (file.webkitRelativePath || file.name).split('/');
    const relative = path.length > 1 ? path.slice(1).join('/') : path[0];
    if (/(^|\/)(config\.json|model_index\.json|scheduler_config\.json|diffusion_pytorch_model\.safetensors)$/.test(relative)) {
      files[relative] = new Uint8Array(await file.arrayBuffer());
    }
  }
  return files;
}

async function main() {
  $('force-cpu').checked = params.get('cpu') === '1';
  $('force-cpu').addEventListener('change', async () => {
    await startBackend();
    await loadModel($('model').value, $('model').selectedOptions[0].textContent);
  });
  $('model').addEventListener('change', () => loadModel($('model').value, $('model').selectedOptions[0].textContent));
  $('folder').addEventListener('change', async (event) => loadModel(await filesFromInput(event.target.files), 'your model'));
  $('run-eps').addEventListener('click', runEps);
  $('run-sample').addEventListener('click', runSample);
  $('cancel').addEventListener('click', () => state.run?.cancel());
  const requested = params.get('model');
  if (requested) {
    const option = new Option(requested, requested, true, true);
    $('model').add(option);
  }
  await startBackend();
  await loadModel($('model').value, $('model').selectedOptions[0].textContent);
  document.body.dataset.ready = 'true';
}

main().catch((error) => {
  status($('backend'), `The page could not start: ${error.message}`, 'error');
  document.body.dataset.ready = 'error';
});
