// The page: the backend, the model picker, the views' tabs, the permalink and the keyboard.
// Every image view runs on the picker's model; the views themselves are views/<name>.js, hosted
// here as <ddpm-demo> hosts them (views/index.js).
import { backendLabel, DdpmClient, describeAdapter, restartLabel } from './client.js';
import { ModelSlot, ModelStore } from './models.js';
import { readHash, writeHash } from './permalink.js';
import { showStatus as status } from './status.js';
import { attributeName, changed, onViewKey, VIEWS } from './views/index.js';

const $ = (id) => document.getElementById(id);
const NAMES = Object.keys(VIEWS);
// A view's settings live in the hash as `view.setting`.
const DEFAULTS = {
  view: NAMES[0], model: '',
  ...Object.assign({}, ...NAMES.map((name) => Object.fromEntries(Object.entries(VIEWS[name].DEFAULTS).map(([k, v]) => [`${name}.${k}`, v])))),
};

const client = new DdpmClient();
const models = new ModelStore(client);
const state = { ...readHash(DEFAULTS), entries: [] };
/** The models the views follow: the picker's image model, and the shipped 2-D one. */
const slots = { image: new ModelSlot(), '2d': new ModelSlot() };
const handles = {};
const detach = {};
let backend = null;
let adapter = null;

function saveHash() {
  // The picker's model matters to the image views only.
  const hashed = Object.fromEntries(Object.entries(state).filter(([key]) => key in DEFAULTS && (key !== 'model' || VIEWS[state.view].model === 'image')));
  $('permalink').href = writeHash(hashed, DEFAULTS);
}

/** The settings of view `name` as its mount takes them, from the hash. */
const settingsOf = (name) => Object.fromEntries(Object.keys(VIEWS[name].DEFAULTS).map((key) => [key, state[`${name}.${key}`]]));

/**
 * Mounts view `name` the first time it is shown: a hidden view computes nothing. Each mount gets
 * a root of its own and its own copy of the page's model slot, so a replaced view (followHash)
 * follows nothing and whatever it still had under way lands in its detached root.
 */
function mountView(name) {
  if (handles[name]) return handles[name];
  const root = document.createElement('div');
  $(name).replaceChildren(root);
  const shared = slots[VIEWS[name].model];
  const model = new ModelSlot();
  model.current = shared.current;
  detach[name] = new AbortController();
  shared.addEventListener('change', () => model.set(shared.current), { signal: detach[name].signal });
  handles[name] = VIEWS[name].mount(root, {
    client, models, backend, model,
    onChange: (settings) => {
      for (const key of Object.keys(VIEWS[name].DEFAULTS)) state[`${name}.${key}`] = settings[key];
      saveHash();
    },
    chooseModel: (id) => {
      $('model').value = id;
      $('model').dispatchEvent(new Event('change'));
    },
  }, settingsOf(name));
  return handles[name];
}

function unmountView(name) {
  if (!handles[name]) return;
  handles[name].cancel();
  detach[name].abort();
  delete handles[name];
}

/** The current view as an iframe and as a <ddpm-demo> element, for a blog post. */
function embedSnippets() {
  const page = new URL(location.href);
  page.searchParams.set('embed', '1');
  const iframe = `<iframe src="${page.href}" width="100%" height="720" style="border:0" title="ddpm-web: ${state.view}" loading="lazy"></iframe>`;
  const attrs = { view: state.view === 'compare' ? 'fork' : state.view };
  if (VIEWS[state.view].model === 'image' && state.model) attrs.model = state.model;
  for (const [key, value] of Object.entries(changed(state.view, settingsOf(state.view)))) attrs[attributeName(key)] = value;
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

/** The tabs and panels, one per view, in the registry's order. */
function buildTabs() {
  NAMES.forEach((name, i) => {
    const tab = Object.assign(document.createElement('button'), { id: `tab-${name}`, textContent: `${i + 1} · ${VIEWS[name].title}` });
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-controls', name);
    tab.addEventListener('click', () => showView(name));
    $('tabs').append(tab);
    const panel = Object.assign(document.createElement('section'), { id: name, hidden: true });
    panel.setAttribute('role', 'tabpanel');
    panel.setAttribute('aria-labelledby', tab.id);
    $('views').append(panel);
  });
}

/** Scrolls the one-row tab strip sideways (never the page) until `tab` is in it. */
function revealTab(tab) {
  const strip = tab.parentElement;
  const [left, right] = [tab.offsetLeft - strip.offsetLeft, tab.offsetLeft - strip.offsetLeft + tab.offsetWidth];
  if (left < strip.scrollLeft) strip.scrollLeft = left;
  else if (right > strip.scrollLeft + strip.clientWidth) strip.scrollLeft = right - strip.clientWidth;
}

function showView(view, focus = false) {
  state.view = VIEWS[view] ? view : NAMES[0];
  for (const name of NAMES) {
    $(name).hidden = name !== state.view;
    const tab = $(`tab-${name}`);
    tab.setAttribute('aria-selected', String(name === state.view));
    tab.tabIndex = name === state.view ? 0 : -1;
  }
  if (focus) $(`tab-${state.view}`).focus();
  revealTab($(`tab-${state.view}`));
  document.body.dataset.view = state.view;
  document.body.dataset.modelKind = VIEWS[state.view].model;
  saveHash();
  if (!backend) return null;
  const kind = VIEWS[state.view].model;
  if (!slots[kind].current) (kind === 'image' ? loadPicked() : loadShipped2d());
  return mountView(state.view);
}

/**
 * 2538993 → "2,538,993". Not `toLocaleString`: its first call loads the browser's locale data,
 * 80 ms of the main thread on this machine (320 ms at a phone's speed), just as the page gets ready.
 */
const thousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function describe(info) {
  const size = info.sampleSize ? `${info.sampleSize}×${info.sampleSize}` : 'any size';
  const classes = info.nullClass === undefined ? '' : `, ${info.numClasses - 1} classes + null`;
  const timing = info.evalMs === undefined ? 'timing an evaluation…' : `first evaluation ${info.warmupMs.toFixed(0)} ms, then ${info.evalMs.toFixed(0)} ms a sample`;
  return `${thousands(info.parameters)} parameters (${info.dtypes.join(', ')}), ${info.inChannels} channel(s), ${size}${classes}; ${timing}`;
}

let owned = null;
/**
 * The picker's model for every image view; the newest request wins. A shipped model (`id`)
 * comes from the shared store; a folder or files of the user's are the picker's alone and freed
 * once another model has replaced them. A model that does not load takes nothing away: the one
 * before it stays picked and loaded.
 */
function loadModel(source, label, layout, id) {
  const progress = $('model-progress');
  progress.hidden = false;
  progress.removeAttribute('value');
  status($('model-status'), `Loading ${label}…`);
  const previous = { loading: slots.image.current, model: state.model };
  const current = () => slots.image.current === loading;
  const onProgress = (p) => {
    if (!current()) return;
    if (p.phase === 'download' && p.total) {
      progress.max = p.total;
      progress.value = p.loaded;
      status($('model-status'), `Downloading ${label}: ${(p.loaded / 1e6).toFixed(1)} of ${(p.total / 1e6).toFixed(1)} MB`, 'progress');
    }
  };
  const loading = (async () => {
    const model = id ? await models.image(id, onProgress) : await client.load(source, onProgress, layout);
    // A user's model replaced while it loaded is freed at once.
    if (!current()) {
      if (!id) client.unload(model.key);
    } else {
      if (owned) client.unload(owned);
      owned = id ? null : model.key;
    }
    return { ...model, label, name: id ?? label.split('/').pop().replace(/\W+/g, '-') };
  })();
  slots.image.set(loading);
  loading.then(({ info, timing }) => {
    if (!current()) return;
    status($('model-status'), `${label}: ${describe(info)}`, 'ok');
    showCache().catch(() => {});
    timing.then(() => {
      if (current()) status($('model-status'), `${label}: ${describe(info)}`, 'ok');
    }, (error) => {
      if (current()) status($('model-status'), `${label} loaded, but its first evaluation failed: ${error.message}`, 'error');
    });
  }, async (error) => {
    if (!current()) return;
    const kept = await previous.loading?.then((model) => model, () => null);
    if (kept && current()) {
      if (![...$('model').options].some((o) => o.value === previous.model)) $('model').add(new Option(previous.model, previous.model));
      $('model').value = state.model = previous.model;
      saveHash();
      slots.image.set(previous.loading);
      progress.hidden = true;
      status($('model-status'), `Could not load ${label}: ${error.message}. Still using ${kept.label}.`, 'error');
    } else if (current()) {
      status($('model-status'), `Could not load ${label}: ${error.message}`, 'error');
    }
  }).finally(() => {
    if (current()) progress.hidden = true;
  });
  return loading;
}

const loadPicked = () => loadModel(...selectedModel());

function loadShipped2d() {
  const entry = state.entries.find((e) => e.kind === '2d');
  slots['2d'].set(entry ? models.spiral(entry.id) : Promise.reject(new Error('no 2-D model is shipped')));
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

const MODEL_FILE = /(^|\/)(config\.json|model_index\.json|scheduler_config\.json|diffusion_pytorch_model\.(safetensors|bin))$/;

/**
 * The files of a diffusers folder, [{path, file}] with paths below the folder, as bytes by path.
 * Where the folder has both weight files the .bin (often hundreds of MB) is left unread.
 */
async function readModelFiles(picked) {
  const wanted = picked.filter(({ path }) => MODEL_FILE.test(path));
  const paths = new Set(wanted.map(({ path }) => path));
  const files = {};
  for (const { path, file } of wanted) {
    if (path.endsWith('.bin') && paths.has(path.replace(/\.bin$/, '.safetensors'))) continue;
    files[path] = new Uint8Array(await file.arrayBuffer());
  }
  if (!Object.keys(files).length) throw new Error('no config.json, model_index.json or diffusion_pytorch_model.safetensors (or .bin) among the files');
  return files;
}

/** A picked folder's files: "folder/unet/config.json" is "unet/config.json" below it. */
const pickedFiles = (fileList) =>
  [...fileList].map((file) => {
    const path = (file.webkitRelativePath || file.name).split('/');
    return { path: path.length > 1 ? path.slice(1).join('/') : path[0], file };
  });

/**
 * A drop's files, a dropped folder walked (a pipeline's unet/ and scheduler/ included). The
 * entries are taken while the drop event lasts: the browser empties them after it.
 */
function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return Promise.resolve(pickedFiles(dataTransfer.files));
  const found = [];
  const walk = async (entry, path) => {
    if (entry.isFile) {
      found.push({ path, file: await new Promise((resolve, reject) => entry.file(resolve, reject)) });
      return;
    }
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) return;
      for (const child of batch) await walk(child, path ? `${path}/${child.name}` : child.name);
    }
  };
  return Promise.all(entries.map((entry) => walk(entry, entry.isDirectory ? '' : entry.name))).then(() => found);
}

async function loadUserFiles(picked) {
  try {
    const files = await readModelFiles(await picked);
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
    state.entries = await models.entries();
  } catch (error) {
    status($('model-status'), `The model list could not be read (${error.message}).`, 'error');
  }
  for (const m of state.entries.filter((e) => e.kind !== '2d')) $('model').add(new Option(m.label, m.id));
  pickModel(state.model);
}

/** Selects `id` in the picker: a shipped model, or a folder path from the permalink (e.g. #model=tests/reference/fixtures/unet/f16_grey). */
function pickModel(id) {
  if (id && ![...$('model').options].some((o) => o.value === id) && /^[\w./-]+$/.test(id)) $('model').add(new Option(id, id));
  $('model').value = id || state.entries.find((e) => e.kind !== '2d')?.id || '';
  state.model = $('model').value;
}

function selectedModel() {
  const entry = state.entries.find((m) => m.id === state.model);
  return entry ? [entry.path, entry.label, entry.layout, entry.id] : [state.model, state.model];
}

function onKey(event) {
  // The ARIA tabs pattern: arrows move between tabs (wrapping), Home and End go to the ends.
  if (event.target.getAttribute?.('role') === 'tab' && ['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) {
    const here = NAMES.indexOf(state.view);
    const next = { ArrowRight: (here + 1) % NAMES.length, ArrowLeft: (here + NAMES.length - 1) % NAMES.length, Home: 0, End: NAMES.length - 1 }[event.key];
    showView(NAMES[next], true);
    event.preventDefault();
    return;
  }
  onViewKey(event, handles[state.view]);
}

async function startBackend() {
  status($('backend'), 'Starting the compute backend…');
  adapter = await describeAdapter();
  const started = await client.init($('force-cpu').checked);
  status($('backend'), backendLabel(started, adapter, $('force-cpu').checked), started.kind);
  document.body.dataset.backend = started.kind;
  backend = started;
}

async function main() {
  if (new URLSearchParams(location.search).get('embed') === '1') {
    document.body.dataset.embed = 'true';
    const full = new URL(location.href);
    full.searchParams.delete('embed');
    $('open-full').href = full.href;
  }
  buildTabs();
  $('copy-embed').addEventListener('click', showEmbedCode);
  $('force-cpu').checked = new URLSearchParams(location.search).get('cpu') === '1';
  showView(state.view);
  document.addEventListener('keydown', onKey);
  // A crashed core or a lost GPU: the run under way says it was interrupted, this says where the page runs now.
  client.addEventListener('restart', ({ detail }) => {
    const { text, kind } = restartLabel(detail, adapter ?? {}, $('force-cpu').checked);
    status($('backend'), text, kind);
    if (detail.backend) {
      document.body.dataset.backend = detail.backend.kind;
      if (backend) backend.kind = detail.backend.kind;
    }
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
    loadPicked();
  });
  $('folder').addEventListener('change', (event) => loadUserFiles(pickedFiles(event.target.files)));
  $('clear-cache').addEventListener('click', async () => {
    const removed = await client.clearCache();
    await showCache();
    $('cache-status').textContent += ` (${removed} file${removed === 1 ? '' : 's'} removed)`;
  });
  document.addEventListener('dragover', (event) => event.preventDefault());
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    if (event.dataTransfer?.items.length) loadUserFiles(droppedFiles(event.dataTransfer));
  });
  // The model list and the core (the worker downloads and compiles it) load side by side.
  await Promise.all([listModels(), startBackend()]);
  await showWhenReady();
  window.addEventListener('hashchange', followHash);
  await showCache();
}

/** Shows the current view; `body[data-ready]` says when its model is loaded and it can run. */
async function showWhenReady() {
  delete document.body.dataset.ready;
  const view = state.view;
  const handle = showView(view);
  const loaded = await slots[VIEWS[view].model].current.then(() => true, () => false);
  if (VIEWS[view].model === 'image') await handle.ready;
  if (view !== state.view) return;
  document.body.dataset.ready = loaded ? 'true' : 'error';
  saveHash();
}

/**
 * A permalink pasted into this tab changes only the hash, which reloads nothing: the page follows
 * it as a new visit would. Views whose settings it changes are mounted again with them.
 */
function followHash() {
  const next = readHash(DEFAULTS);
  for (const name of NAMES) {
    const keys = Object.keys(VIEWS[name].DEFAULTS).map((key) => `${name}.${key}`);
    if (keys.every((key) => next[key] === state[key])) continue;
    for (const key of keys) state[key] = next[key];
    unmountView(name);
  }
  state.view = next.view;
  const before = state.model;
  pickModel(next.model);
  if (state.model !== before) slots.image.set(null);
  return showWhenReady();
}

main().catch((error) => {
  status($('backend'), `The page could not start: ${error.message}`, 'error');
  document.body.dataset.ready = 'error';
});
