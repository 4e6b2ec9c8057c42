// @ts-check
// <ddpm-demo>: any view of the page as an element for blog posts.
//
//   <script type="module" src=".../www/ddpm-web.js"></script>
//   <ddpm-demo view="fork" model="faces64" seed="7" t="250,500,750"></ddpm-demo>
//
// Every element on a page shares one worker, one wasm module, one GPU device and each model's
// weights; an element starts (downloads, compiles) only once it is scrolled into view.
// Its attributes: www/attributes.js, the one list the docs' tables are made from.
import { backendLabel, DdpmClient, describeAdapter, restartLabel, XT_ONLY } from './client.js';
import { ModelSlot, ModelStore, setFilesBase } from './models.js';
import { showStatus } from './status.js';
import { attributeName, onViewKey, viewNamed, VIEWS } from './views/index.js';
import { ATTRIBUTES } from './attributes.js';

export { ATTRIBUTES, DdpmClient, describeAdapter, ModelStore, setFilesBase, XT_ONLY };

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
    /** @type {(name: string) => HTMLElement} */
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
      const progress = /** @type {HTMLProgressElement} */ (part('model-progress'));
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
