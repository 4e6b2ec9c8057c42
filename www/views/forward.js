// View 1, the forward process: an image x_0, a t slider, x_t ~ q(x_t | x_0) with a fixed seed,
// and the schedule's β_t, ᾱ_t and log SNR with a marker at t.
import { showStatus } from '../status.js';
import { drawGrid, imageToInput, spriteTile } from '../render.js';
import { plotCurve } from '../plot.js';

const SPRITES = {
  // `shown`: the sprite columns offered as thumbnails (a few views of each person or class).
  faces: { file: 'www/samples/faces-heldout.png', tile: 64, shown: [0, 3, 6, 9] },
  fashion: { file: 'www/samples/fashion-test.png', tile: 32, shown: [0, 5] },
};

export class ForwardView {
  constructor({ client, $, state, onChange }) {
    Object.assign(this, { client, $, state, onChange });
    this.sprites = {};
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

  async sprite(source) {
    if (!this.sprites[source]) {
      const response = await fetch(new URL(SPRITES[source].file, document.baseURI));
      if (!response.ok) throw new Error(`${SPRITES[source].file}: HTTP ${response.status}`);
      this.sprites[source] = await createImageBitmap(await response.blob());
    }
    return this.sprites[source];
  }

  async showGallery(source, selected) {
    const gallery = this.$('gallery');
    gallery.replaceChildren();
    const sprite = await this.sprite(source);
    const { tile, shown } = SPRITES[source];
    const columns = sprite.width / tile;
    const count = columns * (sprite.height / tile);
    const tileAt = (i) => spriteTile(sprite, tile, i % columns, Math.floor(i / columns));
    for (let i = 0; i < count; i++) {
      if (!shown.includes(i % columns) && i !== selected) continue;
      const button = document.createElement('button');
      button.className = 'thumb';
      button.setAttribute('role', 'option');
      button.setAttribute('aria-label', `${source === 'faces' ? 'face' : 'item'} ${i}`);
      button.dataset.index = String(i);
      const view = document.createElement('canvas');
      view.width = view.height = tile;
      view.getContext('2d').drawImage(tileAt(i), 0, 0);
      button.append(view);
      button.addEventListener('click', () => {
        this.state.image = `${source}:${i}`;
        this.onChange();
        this.select(button);
        this.useImage(tileAt(i));
      });
      gallery.append(button);
    }
    const index = Math.min(Math.max(0, selected), count - 1);
    this.state.image = `${source}:${index}`;
    this.select(gallery.querySelector(`[data-index="${index}"]`));
    this.useImage(tileAt(index));
  }

  select(button) {
    for (const b of this.$('gallery').children) b.setAttribute('aria-selected', String(b === button));
  }

  async useUpload(file) {
    try {
      const bitmap = await createImageBitmap(file);
      this.state.image = 'upload';
      this.select(null);
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
