// The page: the backend, the model, the six views, the permalink and the keyboard.
import { backendLabel, DdpmClient, describeAdapter, restartLabel } from './client.js';
import { ModelStore } from './models.js';
import { readHash, writeHash } from './permalink.js';
import { showStatus as status } from './status.js';
import * as compare from './views/compare.js';
import * as forward from './views/forward.js';
import * as guidance from './views/guidance.js';
import * as inpaint from './views/inpaint.js';
import * as reverse from './views/reverse.js';
import * as spiral from './views/spiral.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['forward', 'reverse', 'compare', 'inpaint', 'guidance', 'spiral'];
// Views 4–6 bring their own markup and models (as in the embeddable element); they start when
// first shown, and their settings live in the hash as `view.setting`.
const SELF_CONTAINED = { inpaint: [inpaint.InpaintView, inpaint.DEFAULTS], guidance: [guidance.GuidanceView, guidance.DEFAULTS], spiral: [spiral.SpiralView, spiral.DEFAULTS] };
const prefixed = (view, settings) => Object.fromEntries(Object.entries(settings).map(([k, v]) => [`${view}.${k}`, v]));
const DEFAULTS = {
  // No sampler, steps and batch 0: the model's and backend's defaults (reverse.defaultSampler,
  // defaultBatch), filled in once the backend, the model and its speed are known.
  view: 'forward', model: '', sampler: '', steps: 0, eta: 0, seed: 0, batch: 0, class: 0,
  t: 250, image: 'faces:0', forwardSeed: 0, film: '999,750,500,250,100,0', ts: '999,750,500,250,100', n: 4, layout: 'rows',
  ...Object.assign({}, ...Object.entries(SELF_CONTAINED).map(([view, [, defaults]]) => prefixed(view, defaults))),
};
// Controls whose value is the permalink's value of the same key.
const BOUND = { sampler: 'sampler', steps: 'steps', eta: 'eta', seed: 'seed', batch: 'batch', class: 'class', film: 'film-ts', ts: 'compare-ts', n: 'compare-n', layout: 'compare-layout' };

const client = new DdpmClient();
const state = { ...readHash(DEFAULTS), key: null, info: null, models: [] };
const context = { client, $, state, onChange: () => saveHash() };
$('forward').innerHTML = forward.template;
$('reverse').innerHTML = reverse.template;
$('compare').innerHTML = compare.template;
const views = { forward: new forward.ForwardView(context), reverse: new reverse.ReverseView(context), compare: new compare.CompareView(context) };
const models = new ModelStore(client);

/** Creates a self-contained view the first time it is shown, then starts it. */
function mount(name) {
  if (!views[name]) {
    const [View, defaults] = SELF_CONTAINED[name];
    const settings = Object.fromEntries(Object.keys(defaults).map((k) => [k, state[`${name}.${k}`]]));
    views[name] = new View($(name), {
      client, models, settings,
      onChange: (changed) => {
        Object.assign(state, prefixed(name, changed));
        saveHash();
      },
    });
  }
  return views[name].start();
}

function saveHash() {
  for (const [key, id] of Object.entries(BOUND)) {
    const value = $(id).value;
    if (value !== '') state[key] = typeof DEFAULTS[key] === 'number' ? Number(value) : value;
  }
  $('permalink').href = writeHash(state, DEFAULTS);
}

/** The current view as an iframe and as a <ddpm-demo> element, for a blog post. */
function embedSnippets() {
  const page = new URL(location.href);
  page.searchParams.set('embed', '1');
  const iframe = `<iframe src="${page.href}" width="100%" height="720" style="border:0" title="ddpm-web: ${state.view}" loading="lazy"></iframe>`;
  const attrs = { view: state.view === 'compare' ? 'fork' : state.view };
  if (['forward', 'reverse', 'compare'].includes(state.view)) {
    if (state.model) attrs.model = state.model;
    attrs.seed = state.view === 'forward' ? state.forwardSeed : state.seed;
    if (state.view === 'forward') attrs.t = state.t;
    if (state.view === 'compare') Object.assign(attrs, { t: state.ts, n: state.n, sampler: state.sampler, steps: state.steps });
  } else {
    const [, defaults] = SELF_CONTAINED[state.view];
    for (const key of Object.keys(defaults)) {
      const value = state[`${state.view}.${key}`];
      if (value !== defaults[key] && value !== '') attrs[key === 'trainSteps' ? 'train-steps' : key] = value;
    }
  }
  const script = new URL('www/ddpm-web.js', document.baseURI).href;
  const element = `<script type="module" src="${script}"></script>\n<ddpm-demo ${Object.entries(attrs).map(([k, v]) => `${k}="${String(v).replace(/"/g, '&quot;')}"`).join(' ')}></ddpm-demo>`;
  return { iframe, element };
}

async function showEmbedCode() {
  const { iframe, element } = embedSnippets();
  $('embed-iframe').value = iframe;
  $('embed-element').value = element;
  $('embed-code').hidden = false;
  try {
    await navigator.clipboard.writeText(iframe);
    status($('embed-status'), 'The iframe code is on your clipboard.', 'ok');
  } catch {
    $('embed-iframe').select();
    status($('embed-status'), 'Copy the code above (the clipboard is not available here).');
  }
}

function showView(view, focus = false) {
  state.view = VIEWS.includes(view) ? view : 'forward';
  for (const name of VIEWS) {
    $(name).hidden = name !== state.view;
    const tab = $(`tab-${name}`);
    tab.setAttribute('aria-selected', String(name === state.view));
    tab.tabIndex = name === state.view ? 0 : -1;
  }
  if (focus) $(`tab-${state.view}`).focus();
  document.body.dataset.view = state.view;
  saveHash();
  if (!backendReady) return;
  // A view that cannot start says so itself.
  if (SELF_CONTAINED[state.view]) mount(state.view).catch(() => {});
  else pickerModel();
}

let pickerLoad = null;
/** Views 1–3's model (the picker's), loaded the first time one of them is shown. */
function pickerModel() {
  pickerLoad ??= views.forward.restore().then(() => loadModel(...selectedModel()));
  return pickerLoad;
}

let backendReady = false;
let adapter = null;

async function startBackend() {
  status($('backend'), 'Starting the compute backend…');
  adapter = await describeAdapter();
  const backend = await client.init($('force-cpu').checked);
  const text = backendLabel(backend, adapter, $('force-cpu').checked);
  status($('backend'), text, backend.kind);
  document.body.dataset.backend = backend.kind;
  backendReady = true;
}

function describe(info) {
  const size = info.sampleSize ? `${info.sampleSize}×${info.sampleSize}` : 'any size';
  const classes = info.nullClass === undefined ? '' : `, ${info.numClasses - 1} classes + null`;
  return `${info.parameters.toLocaleString()} parameters (${info.dtypes.join(', ')}), ${info.inChannels} channel(s), ${size}${classes}; first evaluation ${info.warmupMs.toFixed(0)} ms, then ${info.evalMs.toFixed(0)} ms a sample`;
}

let loads = 0;
/** Which sampler settings are still the model's defaults, not the link's or the person's. */
const fromModel = { sampler: !state.sampler, steps: !state.steps };

/** The loaded model's sampler for this backend, where the link or the person chose none. */
function applyDefaultSampler(info) {
  const entry = state.models.find((m) => m.id === state.model);
  const chosen = reverse.defaultSampler(entry, document.body.dataset.backend, 'reverse', info.scheduler.num_train_timesteps);
  if (fromModel.sampler) Object.assign(state, { sampler: chosen.sampler, eta: chosen.eta });
  if (fromModel.steps) state.steps = chosen.steps;
  for (const key of ['sampler', 'eta', 'steps']) $(BOUND[key]).value = String(state[key]);
  views.reverse.showEta();
  saveHash();
}


/**
 * The newest request wins. A shipped model (`id`) comes from the shared store, so views 4–6
 * reuse it; a folder or files of the user's are loaded for the picker alone and freed when
 * replaced.
 */
async function loadModel(source, label, layout, id) {
  const ticket = ++loads;
  const progress = $('model-progress');
  progress.hidden = false;
  progress.removeAttribute('value');
  status($('model-status'), `Loading ${label}…`);
  if (state.key && state.ownsKey) client.unload(state.key);
  state.key = null;
  state.info = null;
  views.reverse.modelChanged();
  views.compare.modelChanged();
  try {
    const onProgress = (p) => {
      if (ticket !== loads) return;
      if (p.phase === 'download' && p.total) {
        progress.max = p.total;
        progress.value = p.loaded;
        status($('model-status'), `Downloading ${label}: ${(p.loaded / 1e6).toFixed(1)} of ${(p.total / 1e6).toFixed(1)} MB`, 'progress');
      } else if (p.phase === 'warmup') {
        progress.removeAttribute('value');
        status($('model-status'), `Compiling shaders and warming up ${label}…`);
      }
    };
    const { key, info } = id ? await models.image(id, onProgress) : await client.load(source, onProgress, layout);
    if (ticket !== loads) {
      if (!id) client.unload(key);
      return;
    }
    state.ownsKey = !id;
    state.key = key;
    state.info = info;
    applyDefaultSampler(info);
    if (!state.batch) {
      state.batch = reverse.defaultBatch(document.body.dataset.backend, info, state.steps);
      $('batch').value = String(state.batch);
    }
    reverse.fillClasses($, info, state.models.find((m) => m.id === state.model)?.classes ?? [], state.class);
    status($('model-status'), `${label}: ${describe(info)}`, 'ok');
    showCache().catch(() => {});
  } catch (error) {
    if (ticket !== loads) return;
    status($('model-status'), `Could not load ${label}: ${error.message}`, 'error');
  } finally {
    if (ticket === loads) progress.hidden = true;
  }
  await views.forward.modelChanged();
  views.reverse.modelChanged();
  views.compare.modelChanged();
}

/** What the weights cache holds, or why the browser keeps nothing, and the control that clears it. */
async function showCache() {
  const { available, reason, entries } = await client.cacheContents();
  const button = $('clear-cache');
  if (!available) {
    $('cache-status').textContent = `Weights are not stored in this browser: ${reason}. They are downloaded on each visit.`;
    button.hidden = true;
    return;
  }
  const names = entries.map((e) => e.url.match(/models\/([^/]+)\//)?.[1] ?? e.url.split('/').pop());
  const megabytes = entries.reduce((sum, e) => sum + e.bytes, 0) / 1e6;
  $('cache-status').textContent = entries.length
    ? `Stored in this browser, for the next visit: ${names.join(', ')} (${megabytes.toFixed(1)} MB).`
    : 'No weights stored in this browser yet.';
  button.hidden = !entries.length;
}

async function filesFromList(fileList) {
  const files = {};
  for (const file of fileList) {
    // A picked folder gives "folder/unet/config.json": keep the path below the folder.
    const path = (file.webkitRelativePath || file.name).split('/');
    const relative = path.length > 1 ? path.slice(1).join('/') : path[0];
    if (/(^|\/)(config\.json|model_index\.json|scheduler_config\.json|diffusion_pytorch_model\.safetensors)$/.test(relative)) {
      files[relative] = new Uint8Array(await file.arrayBuffer());
    }
  }
  if (!Object.keys(files).length) throw new Error('no config.json, model_index.json or diffusion_pytorch_model.safetensors among the files');
  return files;
}

async function loadUserFiles(fileList) {
  try {
    const files = await filesFromList(fileList);
    if (![...$('model').options].some((o) => o.value === 'user')) $('model').add(new Option('your model', 'user'));
    $('model').value = 'user';
    state.model = 'user';
    saveHash();
    await loadModel(files, 'your model');
  } catch (error) {
    status($('model-status'), `Could not use those files: ${error.message}`, 'error');
  }
}

async function listModels() {
  try {
    state.models = await models.entries();
  } catch (error) {
    status($('model-status'), `The model list could not be read (${error.message}).`, 'error');
  }
  for (const m of state.models.filter((e) => e.kind !== '2d')) $('model').add(new Option(m.label, m.id));
  // A folder path in the permalink (e.g. #model=tests/reference/fixtures/unet/f16_grey).
  if (state.model && !state.models.some((m) => m.id === state.model) && /^[\w./-]+$/.test(state.model)) {
    $('model').add(new Option(state.model, state.model));
  }
  $('model').value = state.model || state.models[0]?.id || '';
  state.model = $('model').value;
}

function selectedModel() {
  const entry = state.models.find((m) => m.id === state.model);
  return entry ? [entry.path, entry.label, entry.layout, entry.id] : [state.model, state.model];
}

function onKey(event) {
  const target = event.target;
  const typing = target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName) && !['range', 'checkbox'].includes(target.type);
  // The ARIA tabs pattern: arrows move between tabs (wrapping), Home and End go to the ends.
  if (event.target.getAttribute?.('role') === 'tab' && ['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) {
    const here = VIEWS.indexOf(state.view);
    const next = { ArrowRight: (here + 1) % VIEWS.length, ArrowLeft: (here + VIEWS.length - 1) % VIEWS.length, Home: 0, End: VIEWS.length - 1 }[event.key];
    showView(VIEWS[next], true);
    event.preventDefault();
    return;
  }
  if (typing || event.altKey || event.ctrlKey || event.metaKey || state.view !== 'reverse' || !state.key) return;
  if (event.key === ' ' && target.tagName !== 'BUTTON') {
    views.reverse.togglePlay();
  } else if (event.key === 'ArrowRight' && target.type !== 'range') {
    views.reverse.stepOnce();
  } else if (event.key === 'ArrowLeft' && target.type !== 'range') {
    views.reverse.stepBack();
  } else {
    return;
  }
  event.preventDefault();
}

async function main() {
  if (new URLSearchParams(location.search).get('embed') === '1') {
    document.body.dataset.embed = 'true';
    const full = new URL(location.href);
    full.searchParams.delete('embed');
    $('open-full').href = full.href;
  }
  $('copy-embed').addEventListener('click', showEmbedCode);
  $('force-cpu').checked = new URLSearchParams(location.search).get('cpu') === '1';
  for (const [key, id] of Object.entries(BOUND)) $(id).value = String(state[key]);
  for (const id of ['sampler', 'eta']) $(id).addEventListener('change', () => { fromModel.sampler = false; });
  $('steps').addEventListener('change', () => { fromModel.steps = false; });
  for (const name of VIEWS) $(`tab-${name}`).addEventListener('click', () => showView(name));
  showView(state.view);
  document.addEventListener('keydown', onKey);
  // A crashed core or a lost GPU: the run under way says it was interrupted, this says where the page runs now.
  client.addEventListener('restart', ({ detail }) => {
    const { text, kind } = restartLabel(detail, adapter ?? {}, $('force-cpu').checked);
    status($('backend'), text, kind);
    if (detail.backend) document.body.dataset.backend = detail.backend.kind;
  });
  // Every loaded model lives on the device it was loaded on: switching reloads the page, with
  // the view and its settings kept in the hash.
  $('force-cpu').addEventListener('change', () => {
    const url = new URL(location.href);
    if ($('force-cpu').checked) url.searchParams.set('cpu', '1');
    else url.searchParams.delete('cpu');
    location.replace(url.href);
  });
  $('model').addEventListener('change', () => {
    if ($('model').value === 'user') return;
    state.model = $('model').value;
    saveHash();
    loadModel(...selectedModel());
  });
  $('folder').addEventListener('change', (event) => loadUserFiles(event.target.files));
  $('clear-cache').addEventListener('click', async () => {
    const removed = await client.clearCache();
    await showCache();
    $('cache-status').textContent += ` (${removed} file${removed === 1 ? '' : 's'} removed)`;
  });
  document.addEventListener('dragover', (event) => event.preventDefault());
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    if (event.dataTransfer?.files.length) loadUserFiles(event.dataTransfer.files);
  });
  await listModels();
  await startBackend();
  if (SELF_CONTAINED[state.view]) {
    // Views 4–6 load their own models; the picker's model waits until a view 1–3 is shown.
    document.body.dataset.ready = 'true';
    await mount(state.view).catch(() => {});
  } else {
    await pickerModel();
    document.body.dataset.ready = state.key ? 'true' : 'error';
  }
  saveHash();
  await showCache();
}

main().catch((error) => {
  status($('backend'), `The page could not start: ${error.message}`, 'error');
  document.body.dataset.ready = 'error';
});
