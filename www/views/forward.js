// View 1, the forward process: an image x_0, a t slider, x_t ~ q(x_t | x_0) with a fixed seed,
// and the schedule's β_t, ᾱ_t and log SNR with a marker at t.
import { ImagePicker, pickerTemplate } from '../gallery.js';
import { plotCurve } from '../plot.js';
import { drawGrid, imageToInput } from '../render.js';
import { showStatus } from '../status.js';
import { fill, followModel, settle } from './parts.js';

export const title = 'Forward process';
export const model = 'image';
// `image`: a shipped sample ("faces:13"); empty: the model's own held-out set.
export const DEFAULTS = { image: '', t: 250, seed: 0 };
export const RANGES = { t: [0, 999], seed: [0, 2 ** 53] };

const template = `
  <p>The forward process adds Gaussian noise step by step (eqs. 1–4). It has a closed form:
    x<sub>t</sub> = √ᾱ<sub>t</sub> x<sub>0</sub> + √(1 − ᾱ<sub>t</sub>) ε with ε ~ N(0, I), so any t can be reached in one go.
    Move t and watch the image drown; the seed fixes ε.</p>
  ${pickerTemplate('image')}
  <div class="controls"><label>Seed <input type="number" data-part="seed" value="0" min="0" step="1"></label></div>
  <label class="slider">t <input type="range" data-part="t" min="0" max="999" value="250" step="1">
    <output data-part="t-value">250</output></label>
  <div class="panels">
    <figure><canvas role="img" data-part="x0" aria-label="x_0, the clean image"></canvas><figcaption>x<sub>0</sub></figcaption></figure>
    <figure><canvas role="img" data-part="xt" aria-label="x_t, the noised image"></canvas><figcaption data-part="caption">x<sub>t</sub></figcaption></figure>
  </div>
  <p data-part="status" role="status" aria-live="polite"></p>
  <div class="plots">
    <canvas role="img" data-part="plot-beta" aria-label="β_t against t"></canvas>
    <canvas role="img" data-part="plot-alphabar" aria-label="ᾱ_t against t"></canvas>
    <canvas role="img" data-part="plot-logsnr" aria-label="log SNR against t"></canvas>
  </div>
`;

export function mount(root, services, given) {
  const view = new ForwardView(root, services, settle(DEFAULTS, given, RANGES));
  return { run: () => view.render(), cancel: () => {}, state: view.settings, ready: view.ready };
}

class ForwardView {
  constructor(root, { client, model: slot, onChange = () => {} }, settings) {
    Object.assign(this, { client, onChange, settings });
    this.part = fill(root, template);
    this.curves = null;
    this.x0 = null;
    this.info = null;
    this.picker = new ImagePicker(this.part, settings, {
      onChange: () => this.onChange(this.settings), onImage: (image) => this.useImage(image), onError: (text) => this.status(text, 'error'),
    });
    this.part('seed').value = String(settings.seed);
    this.part('t').addEventListener('input', () => this.setT(Number(this.part('t').value)));
    this.part('seed').addEventListener('change', () => {
      this.settings.seed = Math.max(0, Math.round(Number(this.part('seed').value) || 0));
      this.onChange(this.settings);
      this.render();
    });
    // The model decides size, channels and schedule; before one has loaded, Ho et al.'s on
    // 64×64 grey, and until the next has, the last one's.
    let shown = false;
    this.ready = followModel(slot, async (model) => {
      if (!model && shown) return;
      this.info = model?.info ?? null;
      await this.modelChanged();
      if (shown && this.settings.image) return;
      shown = true;
      await this.picker.show(this.settings.image || ImagePicker.defaultFor(model?.entry));
    });
  }

  get geometry() {
    return { size: this.info?.sampleSize ?? 64, channels: this.info?.inChannels ?? 1, scheduler: this.info?.scheduler };
  }

  async modelChanged() {
    this.curves = await this.client.curves(this.geometry.scheduler);
    const max = this.curves.betas.length - 1;
    this.part('t').max = String(max);
    if (this.x0Source) this.useImage(this.x0Source, false);
    await this.setT(Math.min(this.settings.t, max), false);
  }

  useImage(source, render = true) {
    this.x0Source = source;
    const { size, channels } = this.geometry;
    this.x0 = { values: imageToInput(source, size, channels), shape: [1, channels, size, size] };
    drawGrid(this.part('x0'), this.x0.values, this.x0.shape);
    if (render) this.render();
  }

  setT(t, notify = true) {
    this.settings.t = t;
    this.part('t').value = String(t);
    this.part('t-value').value = String(t);
    if (notify) this.onChange(this.settings);
    this.plot();
    return this.render();
  }

  plot() {
    if (!this.curves) return;
    const t = this.settings.t;
    plotCurve(this.part('plot-beta'), this.curves.betas, { title: 'β_t', marker: t });
    plotCurve(this.part('plot-alphabar'), this.curves.alphasCumprod, { title: 'ᾱ_t (signal kept)', marker: t });
    plotCurve(this.part('plot-logsnr'), this.curves.logSnr, { title: 'log SNR = log ᾱ_t/(1−ᾱ_t)', marker: t, format: (v) => v.toFixed(2) });
  }

  /** Latest request wins: the slider may move faster than the worker answers. */
  async render() {
    if (!this.x0 || !this.curves) return;
    const request = { t: this.settings.t, seed: this.settings.seed, x0: this.x0 };
    this.pending = request;
    try {
      const xt = await this.client.noised(this.geometry.scheduler, request.x0.values, request.x0.shape, request.t, request.seed);
      if (this.pending !== request) return;
      drawGrid(this.part('xt'), xt, request.x0.shape, { range: 1 });
      const a = this.curves.alphasCumprod[request.t];
      this.part('caption').textContent = `x_t at t = ${request.t}: √ᾱ_t = ${Math.sqrt(a).toFixed(3)} signal, √(1−ᾱ_t) = ${Math.sqrt(1 - a).toFixed(3)} noise`;
      this.status(`t = ${request.t}: ᾱ_t = ${a.toPrecision(4)}, β_t = ${this.curves.betas[request.t].toPrecision(3)}, log SNR = ${this.curves.logSnr[request.t].toFixed(2)}`, 'ok');
    } catch (error) {
      this.status(`Noising failed: ${error.message}`, 'error');
    }
  }

  status(text, kind = 'info') {
    showStatus(this.part('status'), text, kind);
  }
}
