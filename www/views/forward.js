// View 1, the forward process: an image x_0, a t slider, x_t ~ q(x_t | x_0) with a fixed seed,
// and the schedule's β_t, ᾱ_t and log SNR with a marker at t.
import { showStatus } from '../status.js';
import { clearSelection, showGallery, SPRITES } from '../gallery.js';
import { drawGrid, imageToInput } from '../render.js';
import { plotCurve } from '../plot.js';

export const template = `
  <p>The forward process adds Gaussian noise step by step (eqs. 1–4). It has a closed form:
    x<sub>t</sub> = √ᾱ<sub>t</sub> x<sub>0</sub> + √(1 − ᾱ<sub>t</sub>) ε with ε ~ N(0, I), so any t can be reached in one go.
    Move t and watch the image drown; the seed fixes ε.</p>
  <div class="controls">
    <label>Images <select id="forward-source">
      <option value="faces">held-out faces (ORL, never trained on)</option>
      <option value="fashion">Fashion-MNIST test items</option>
      <option value="upload">your image…</option>
    </select></label>
    <input type="file" id="forward-upload" accept="image/*" hidden aria-label="Upload an image">
    <label>Seed <input type="number" id="forward-seed" value="0" min="0" step="1"></label>
  </div>
  <div id="gallery" class="gallery" role="listbox" aria-label="Pick an image"></div>
  <label class="slider">t <input type="range" id="forward-t" min="0" max="999" value="250" step="1">
    <output id="forward-t-value" for="forward-t">250</output></label>
  <div class="panels">
    <figure><canvas role="img" id="forward-x0" aria-label="x_0, the clean image"></canvas><figcaption>x<sub>0</sub></figcaption></figure>
    <figure><canvas role="img" id="forward-xt" aria-label="x_t, the noised image"></canvas><figcaption id="forward-caption">x<sub>t</sub></figcaption></figure>
  </div>
  <p id="forward-status" role="status" aria-live="polite"></p>
  <div class="plots">
    <canvas role="img" id="plot-beta" aria-label="β_t against t"></canvas>
    <canvas role="img" id="plot-alphabar" aria-label="ᾱ_t against t"></canvas>
    <canvas role="img" id="plot-logsnr" aria-label="log SNR against t"></canvas>
  </div>
`;

export class ForwardView {
  constructor({ client, $, state, onChange }) {
    Object.assign(this, { client, $, state, onChange });
    this.curves = null;
    this.x0 = null;
    this.pending = null;
    $('forward-source').addEventListener('change', () => this.pickSource($('forward-source').value));
    $('forward-upload').addEventListener('change', (e) => e.target.files[0] && this.useUpload(e.target.files[0]));
    $('forward-t').addEventListener('input', () => this.setT(Number($('forward-t').value)));
    $('forward-seed').addEventListener('change', () => {
      this.state.forwardSeed = Number($('forward-seed').value) || 0;
      this.onChange();
      this.render();
    });
  }

  /** The model decides size, channels and schedule; without one, 64×64 grey and Ho et al.'s. */
  get geometry() {
    const info = this.state.info;
    return { size: info?.sampleSize ?? 64, channels: info?.inChannels ?? 1, scheduler: info?.scheduler };
  }

  async restore() {
    const [source, index] = String(this.state.image).split(':');
    this.$('forward-source').value = SPRITES[source] ? source : 'faces';
    this.$('forward-seed').value = this.state.forwardSeed;
    await this.showGallery(this.$('forward-source').value, Number(index) || 0);
    await this.modelChanged();
  }

  async modelChanged() {
    const { scheduler } = this.geometry;
    this.curves = await this.client.curves(scheduler);
    const max = this.curves.betas.length - 1;
    this.$('forward-t').max = String(max);
    if (this.x0Source) this.useImage(this.x0Source, false);
    await this.setT(Math.min(this.state.t, max), false);
  }

  async pickSource(source) {
    if (source === 'upload') {
      this.$('forward-upload').click();
      return;
    }
    await this.showGallery(source, 0);
  }

  async showGallery(source, selected) {
    await showGallery(this.$('gallery'), source, selected, (index, tile) => {
      this.state.image = `${source}:${index}`;
      this.onChange();
      this.useImage(tile);
    });
  }

  async useUpload(file) {
    try {
      const bitmap = await createImageBitmap(file);
      this.state.image = 'upload';
      clearSelection(this.$('gallery'));
      this.useImage(bitmap);
    } catch (error) {
      this.status(`That file could not be read as an image: ${error.message}`, 'error');
    }
  }

  useImage(source, render = true) {
    this.x0Source = source;
    const { size, channels } = this.geometry;
    this.x0 = { values: imageToInput(source, size, channels), shape: [1, channels, size, size] };
    drawGrid(this.$('forward-x0'), this.x0.values, this.x0.shape);
    if (render) this.render();
  }

  setT(t, notify = true) {
    this.state.t = t;
    this.$('forward-t').value = String(t);
    this.$('forward-t-value').value = String(t);
    if (notify) this.onChange();
    this.plot();
    return this.render();
  }

  plot() {
    if (!this.curves) return;
    const t = this.state.t;
    plotCurve(this.$('plot-beta'), this.curves.betas, { title: 'β_t', marker: t });
    plotCurve(this.$('plot-alphabar'), this.curves.alphasCumprod, { title: 'ᾱ_t (signal kept)', marker: t });
    plotCurve(this.$('plot-logsnr'), this.curves.logSnr, { title: 'log SNR = log ᾱ_t/(1−ᾱ_t)', marker: t, format: (v) => v.toFixed(2) });
  }

  /** Latest request wins: the slider may move faster than the worker answers. */
  async render() {
    if (!this.x0 || !this.curves) return;
    const request = { t: this.state.t, seed: this.state.forwardSeed, x0: this.x0 };
    this.pending = request;
    try {
      const xt = await this.client.noised(this.geometry.scheduler, request.x0.values, request.x0.shape, request.t, request.seed);
      if (this.pending !== request) return;
      drawGrid(this.$('forward-xt'), xt, request.x0.shape, { range: 1 });
      const a = this.curves.alphasCumprod[request.t];
      this.$('forward-caption').textContent = `x_t at t = ${request.t}: √ᾱ_t = ${Math.sqrt(a).toFixed(3)} signal, √(1−ᾱ_t) = ${Math.sqrt(1 - a).toFixed(3)} noise`;
      this.status(`t = ${request.t}: ᾱ_t = ${a.toPrecision(4)}, β_t = ${this.curves.betas[request.t].toPrecision(3)}, log SNR = ${this.curves.logSnr[request.t].toFixed(2)}`, 'ok');
    } catch (error) {
      this.status(`Noising failed: ${error.message}`, 'error');
    }
  }

  status(text, kind = 'info') {
    showStatus(this.$('forward-status'), text, kind);
  }
}
