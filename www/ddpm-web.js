// <ddpm-demo>: any view of the page as an element for blog posts.
//
//   <script type="module" src=".../www/ddpm-web.js"></script>
//   <ddpm-demo view="fork" model="faces64" seed="7" t="250,500,750"></ddpm-demo>
//
// Every element on a page shares one worker, one wasm module, one GPU device and each model's
// weights; an element starts (downloads, compiles) only once it is scrolled into view.
// Attributes are listed in ATTRIBUTES and documented in the README.
import { backendLabel, DdpmClient, describeAdapter, restartLabel, XT_ONLY } from './client.js';
import { ModelStore } from './models.js';
import { showStatus } from './status.js';
import * as compare from './views/compare.js';
import * as forward from './views/forward.js';
import * as guidance from './views/guidance.js';
import * as inpaint from './views/inpaint.js';
import * as reverse from './views/reverse.js';
import * as spiral from './views/spiral.js';

export { DdpmClient, describeAdapter, ModelStore, XT_ONLY };

export const ATTRIBUTES = {
  view: 'forward | reverse | fork | inpaint | guidance | spiral (default fork)',
  model: 'a shipped model id (www/models/index.json); default: faces64, fashion32 for guidance, spiral2d for spiral',
  seed: 'the random seed (default 0)',
  t: 'forward: the timestep shown; fork: the timesteps to fork at, e.g. "250,500,750"',
  sampler: 'reverse, fork: ddpm-small | ddpm-large | ddim',
  steps: 'reverse, fork: sampler steps; inpaint: steps; guidance: DDIM steps',
  n: 'fork: samples per t; inpaint, guidance: samples',
  class: 'reverse, guidance: the class of a class-conditional model',
  w: 'guidance: the largest guidance weight (rows 0 … w)',
  weights: 'guidance: exact weights for the rows instead, e.g. "0,4"',
  quadrants: 'inpaint: known quadrants TL TR BL BR as four 0/1, e.g. "1100" (top half known)',
  image: 'inpaint: the held-out face, "faces:0" … "faces:39"',
  method: 'inpaint: replacement | repaint',
  jump: 'inpaint, RePaint: jump length',
  resample: 'inpaint, RePaint: resamplings',
  'train-steps': 'spiral: steps of a live training run (Train button)',
  autorun: 'run once ready, without waiting for a click',
  cpu: 'present on the first element to start: use the CPU even where WebGPU works',
  'worker-url': 'on the first element to start: a module worker on the page\'s own origin that imports www/worker.js, for pages whose CSP forbids blob: workers',
};

let shared = null;

/** The one client, model store and backend of this page. */
function services(forceCpu, workerUrl) {
  shared ??= (async () => {
    const client = new DdpmClient({ workerUrl: workerUrl || undefined });
    const [backend, adapter] = await Promise.all([client.init(forceCpu), describeAdapter()]);
    return { client, models: new ModelStore(client), adapter, forceCpu, backend: { ...backend, label: backendLabel(backend, adapter, forceCpu) } };
  })();
  shared.catch(() => { shared = null; });
  return shared;
}

const number = (value, fallback) => (value === null || value === '' || !Number.isFinite(Number(value)) ? fallback : Number(value));

/** Views 1–3 of the page, hosted in a shadow root: their controls are found by id within it. */
class Hosted {
  constructor(root, { client, models, backend, model, view, attr }) {
    const parts = {
      forward: [forward.template, forward.ForwardView],
      reverse: [reverse.template, reverse.ReverseView],
      fork: [`${reverse.samplerTemplate}${compare.template}`, compare.CompareView],
    }[view];
    root.innerHTML = parts[0];
    this.$ = (id) => root.querySelector(`#${id}`);
    this.models = models;
    this.backend = backend;
    this.modelId = model;
    this.kind = view;
    this.attr = attr;
    this.state = {
      key: null, info: null, model, seed: number(attr('seed'), 0), t: number(attr('t'), 250), image: 'faces:0', forwardSeed: number(attr('seed'), 0),
      film: '999,750,500,250,100,0', ts: attr('t') ?? '999,750,500,250,100', n: number(attr('n'), 4), layout: 'rows', class: number(attr('class'), 0),
    };
    this.view = new parts[1]({ client, $: this.$, state: this.state, onChange: () => {} });
    if (view === 'reverse') root.getRootNode().host.addEventListener('keydown', (event) => this.onKey(event));
    if (view === 'fork') {
      // The sampler controls come from view 2, whose code shows η for DDIM only.
      const showEta = () => { this.$('eta-label').hidden = this.$('sampler').value !== 'ddim'; };
      this.$('sampler').addEventListener('change', showEta);
      this.showEta = showEta;
    }
  }

  async start(onProgress) {
    const { key, info, entry } = await this.models.image(this.modelId, onProgress);
    Object.assign(this.state, { key, info });
    const $ = this.$;
    if (this.kind !== 'forward') {
      reverse.fillClasses($, info, entry.classes ?? [], this.state.class);
      const chosen = reverse.defaultSampler(entry, this.backend.kind, this.kind, info.scheduler.num_train_timesteps);
      $('sampler').value = this.attr('sampler') ?? chosen.sampler;
      if (this.attr('sampler') === null) $('eta').value = String(chosen.eta);
      const steps = number(this.attr('steps'), chosen.steps);
      $('steps').value = String(steps);
      $('seed').value = String(this.state.seed);
      $('batch').value = String(number(this.attr('n'), this.kind === 'fork' ? 4 : reverse.defaultBatch(this.backend.kind, info, steps)));
      (this.view.showEta ?? this.showEta)?.call(this.view);
    }
    if (this.kind === 'fork') {
      $('compare-ts').value = this.state.ts;
      $('compare-n').value = String(this.state.n);
    }
    if (this.kind === 'forward') await this.view.restore();
    else await this.view.modelChanged();
    if (this.attr('autorun') !== null) {
      if (this.kind === 'fork') await this.view.start();
      if (this.kind === 'reverse') await this.view.togglePlay();
    }
  }

  onKey(event) {
    const target = event.composedPath()[0];
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName) && !['range', 'checkbox'].includes(target.type)) return;
    if (event.key === ' ' && target.tagName !== 'BUTTON') this.view.togglePlay();
    else if (event.key === 'ArrowRight' && target.type !== 'range') this.view.stepOnce();
    else if (event.key === 'ArrowLeft' && target.type !== 'range') this.view.stepBack();
    else return;
    event.preventDefault();
  }
}

/** Views 4–6 are self-contained: they take their settings and fetch their own model. */
function selfContained(view, root, { client, models, model, attr }) {
  const [module, defaults] = { inpaint: [inpaint, inpaint.DEFAULTS], guidance: [guidance, guidance.DEFAULTS], spiral: [spiral, spiral.DEFAULTS] }[view];
  const settings = {};
  for (const [key, value] of Object.entries(defaults)) {
    const given = attr(key === 'trainSteps' ? 'train-steps' : key);
    if (given !== null) settings[key] = typeof value === 'number' ? number(given, value) : given;
  }
  const View = { inpaint: module.InpaintView, guidance: module.GuidanceView, spiral: module.SpiralView }[view];
  const instance = new View(root, { client, models, settings, ...(model ? { model } : {}) });
  return {
    view: instance,
    async start() {
      await instance.start();
      if (attr('autorun') === null) return;
      if (view === 'inpaint') await instance.fill();
      if (view === 'guidance') await instance.sample();
    },
  };
}

const DEFAULT_MODEL = { guidance: 'fashion32', spiral: 'spiral2d' };
const VIEWS = ['forward', 'reverse', 'fork', 'inpaint', 'guidance', 'spiral'];

export class DdpmDemo extends HTMLElement {
  static observedAttributes = ['view'];

  connectedCallback() {
    if (!this.shadowRoot) this.build();
    if (!this.started) this.startWhenSeen();
  }

  build() {
    const shadow = this.attachShadow({ mode: 'open' });
    shadow.innerHTML = `
      <link rel="stylesheet" href="${new URL('./style.css', import.meta.url).href}">
      <link rel="stylesheet" href="${new URL('./element.css', import.meta.url).href}">
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
    const view = VIEWS.includes(attr('view')) ? attr('view') : 'fork';
    this.dataset.state = 'starting';
    try {
      const { client, models, backend, adapter, forceCpu } = await services(attr('cpu') !== null, attr('worker-url'));
      showStatus(part('backend'), backend.label, backend.kind);
      client.addEventListener('restart', ({ detail }) => {
        const { text, kind } = restartLabel(detail, adapter, forceCpu);
        showStatus(part('backend'), text, kind);
      });
      const model = attr('model') ?? DEFAULT_MODEL[view] ?? 'faces64';
      const root = part('view');
      const host = ['inpaint', 'guidance', 'spiral'].includes(view)
        ? selfContained(view, root, { client, models, model: attr('model') ?? DEFAULT_MODEL[view], attr })
        : new Hosted(root, { client, models, backend, model, view, attr });
      this.view = host.view;
      const progress = part('model-progress');
      const started = host.start((p) => {
        progress.hidden = false;
        if (p.phase === 'download' && p.total) Object.assign(progress, { max: p.total, value: p.loaded });
        else progress.removeAttribute('value');
        showStatus(part('model-status'), p.phase === 'download' ? `Downloading ${model}…` : `Warming up ${model}…`, 'progress');
      });
      try {
        await started;
      } finally {
        progress.hidden = true;
      }
      if (!['inpaint', 'guidance', 'spiral'].includes(view)) showStatus(part('model-status'), `${model} ready`, 'ok');
      this.dataset.state = 'ready';
    } catch (error) {
      showStatus(part('model-status'), `This demo could not start: ${error.message}`, 'error');
      this.dataset.state = 'error';
    }
  }
}

if (!customElements.get('ddpm-demo')) customElements.define('ddpm-demo', DdpmDemo);
