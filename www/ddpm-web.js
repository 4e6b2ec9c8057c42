// <ddpm-demo>: any view of the page as an element for blog posts.
//
//   <script type="module" src=".../www/ddpm-web.js"></script>
//   <ddpm-demo view="fork" model="faces64" seed="7" t="250,500,750"></ddpm-demo>
//
// Every element on a page shares one worker, one wasm module, one GPU device and each model's
// weights; an element starts (downloads, compiles) only once it is scrolled into view.
// Attributes are listed in ATTRIBUTES and documented in the README.
import { backendLabel, DdpmClient, describeAdapter, restartLabel, XT_ONLY } from './client.js';
import { ModelSlot, ModelStore, setFilesBase } from './models.js';
import { showStatus } from './status.js';
import { attributeName, onViewKey, viewNamed, VIEWS } from './views/index.js';

export { DdpmClient, describeAdapter, ModelStore, setFilesBase, XT_ONLY };

export const ATTRIBUTES = {
  view: 'forward | reverse | fork | inpaint | guidance | spiral (default fork; "compare" is "fork")',
  model: 'a shipped model id (www/models/index.json); default: faces64, fashion32 for guidance, spiral2d for spiral',
  seed: 'the random seed (default 0)',
  t: 'forward: the timestep shown; fork: the timesteps to fork at, e.g. "250,500,750"',
  sampler: 'reverse, fork: ddpm-small | ddpm-large | ddim (default: the model\'s choice for the backend)',
  eta: 'reverse, fork: DDIM η',
  steps: 'reverse, fork: sampler steps; inpaint: steps; guidance: DDIM steps',
  n: 'reverse: samples; fork: samples per t; inpaint, guidance: samples; spiral: particles',
  class: 'reverse, fork, guidance: the class of a class-conditional model',
  film: 'reverse: the t of the filmstrip\'s x̂_0, e.g. "999,500,0"',
  layout: 'fork: rows | fig7',
  image: 'forward, inpaint: a shipped image, "faces:0" … "faces:39" or "fashion:0" … "fashion:99"',
  w: 'guidance: the largest guidance weight (rows 0 … w)',
  weights: 'guidance: exact weights for the rows instead, e.g. "0,4"',
  quadrants: 'inpaint: known quadrants TL TR BL BR as four 0/1, e.g. "1100" (top half known)',
  method: 'inpaint: replacement | repaint',
  jump: 'inpaint, RePaint: jump length',
  resample: 'inpaint, RePaint: resamplings',
  'train-steps': 'spiral: steps of a live training run (Train button)',
  autorun: 'run once ready, without waiting for a click',
  cpu: 'present on the first element to start: use the CPU even where WebGPU works',
  'worker-url': 'on the first element to start: a module worker on the page\'s own origin that imports www/worker.js, for pages whose CSP forbids blob: workers',
  'files-base': 'on the first element to start: the URL of a folder laid out as the package (it holds www/) to fetch the shipped models and images from, for authors who host them elsewhere',
};

// Files (a strict CSP's style-src 'self' takes them), as literals bundlers emit; `?no-inline`
// keeps Vite from inlining the small one as a data: URL, and other hosts ignore it.
const STYLES = [new URL('./style.css?no-inline', import.meta.url).href, new URL('./element.css?no-inline', import.meta.url).href].map((url) => url.replace(/\?no-inline$/, ''));

let shared = null;

/** The one client, model store and backend of this page. */
function services(forceCpu, workerUrl, filesBase) {
  shared ??= (async () => {
    const client = new DdpmClient({ workerUrl: workerUrl || undefined });
    const [backend, adapter] = await Promise.all([client.init(forceCpu), describeAdapter()]);
    return { client, models: new ModelStore(client, { filesBase: filesBase || undefined }), adapter, forceCpu, backend: { ...backend, label: backendLabel(backend, adapter, forceCpu) } };
  })();
  shared.catch(() => { shared = null; });
  return shared;
}

export class DdpmDemo extends HTMLElement {
  static observedAttributes = ['view'];

  connectedCallback() {
    if (!this.shadowRoot) this.build();
    if (!this.started) this.startWhenSeen();
  }

  build() {
    const shadow = this.attachShadow({ mode: 'open' });
    shadow.innerHTML = `
      <link rel="stylesheet" href="${STYLES[0]}">
      <link rel="stylesheet" href="${STYLES[1]}">
      <div class="head"><span part="backend" data-part="backend" role="status">Waiting to be scrolled into view…</span>
        <span data-part="model-status" role="status" aria-live="polite"></span></div>
      <progress data-part="model-progress" hidden></progress>
      <div data-part="view"></div>`;
    // Sized by element.css: until it has loaded the element has no height, and every demo on
    // the page would look visible and start at once.
    this.styled = Promise.all([...shadow.querySelectorAll('link[rel="stylesheet"]')].map((link) => new Promise((done) => {
      link.addEventListener('load', done, { once: true });
      link.addEventListener('error', done, { once: true });
    })));
  }

  /** Starts once in view; an element removed first and inserted again watches again. */
  async startWhenSeen() {
    await this.styled;
    if (!this.isConnected || this.started) return;
    this.observer?.disconnect();
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !this.started) {
        this.observer.disconnect();
        this.started = true;
        this.start();
      }
    }, { rootMargin: '200px' });
    this.observer.observe(this);
  }

  disconnectedCallback() {
    this.observer?.disconnect();
  }

  async start() {
    const part = (name) => this.shadowRoot.querySelector(`[data-part="${name}"]`);
    const attr = (name) => this.getAttribute(name);
    const name = viewNamed(attr('view')) ?? 'compare';
    const view = VIEWS[name];
    this.dataset.state = 'starting';
    try {
      const { client, models, backend, adapter, forceCpu } = await services(attr('cpu') !== null, attr('worker-url'), attr('files-base'));
      showStatus(part('backend'), backend.label, backend.kind);
      client.addEventListener('restart', ({ detail }) => {
        const { text, kind } = restartLabel(detail, adapter, forceCpu);
        showStatus(part('backend'), text, kind);
      });
      const id = attr('model') ?? view.defaultModel ?? 'faces64';
      const progress = part('model-progress');
      const onProgress = (p) => {
        progress.hidden = false;
        if (p.total) Object.assign(progress, { max: p.total, value: p.loaded });
        else progress.removeAttribute('value');
        showStatus(part('model-status'), `Downloading ${id}…`, 'progress');
      };
      const slot = new ModelSlot();
      slot.set(view.model === '2d' ? models.spiral(id) : models.image(id, onProgress).then((model) => ({ ...model, name: id, label: model.entry.label })));
      const given = Object.fromEntries(Object.keys(view.DEFAULTS).map((key) => [key, attr(attributeName(key))]));
      const handle = view.mount(part('view'), { client, models, backend, model: slot }, given);
      this.view = handle;
      this.addEventListener('keydown', (event) => onViewKey(event, handle));
      try {
        await slot.current;
      } finally {
        progress.hidden = true;
      }
      await handle.ready;
      if (view.model === 'image') showStatus(part('model-status'), `${id} ready`, 'ok');
      if (attr('autorun') !== null) await handle.run();
      this.dataset.state = 'ready';
    } catch (error) {
      showStatus(part('model-status'), `This demo could not start: ${error.message}`, 'error');
      this.dataset.state = 'error';
    }
  }
}

if (!customElements.get('ddpm-demo')) customElements.define('ddpm-demo', DdpmDemo);
