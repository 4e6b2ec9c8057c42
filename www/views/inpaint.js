// View 4, inpainting: a held-out image (or an upload) with a mask — quadrants clicked known or
// to fill, or a free brush — filled in by replacement or RePaint with the host's model, in its
// size and channels; the step-by-step fill and N results beside the original, and their pixel
// mean. The known region of every result equals the input.
import { XT_ONLY } from '../client.js';
import { ImagePicker, pickerTemplate } from '../gallery.js';
import { drawGrid, drawTiles, enlarge, imageToInput, savePng, toTiles } from '../render.js';
import { showStatus } from '../status.js';
import { fill, followModel, readInputs, runControls, settle } from './parts.js';
import { progressText } from './progress.js';

const QUADRANTS = ['top-left', 'top-right', 'bottom-left', 'bottom-right'];

export const title = 'Inpainting';
export const model = 'image';
// `image`: a shipped sample ("faces:13"); empty: the model's own held-out set.
export const DEFAULTS = { image: '', quadrants: '1010', method: 'replacement', steps: 100, jump: 10, resample: 3, n: 4, seed: 0 };
export const RANGES = { steps: [2, 1000], jump: [1, 50], resample: [1, 20], n: [1, 8], seed: [0, 2 ** 53] };
/** The inputs that hold a setting, each named as its setting. */
const CONTROLS = ['method', ...Object.keys(RANGES)];

export function mount(root, services, given) {
  const view = new InpaintView(root, services, settle(DEFAULTS, given, RANGES));
  return { run: () => view.ready.then(() => view.fill()), cancel: () => view.cancel(), state: view.settings, ready: view.ready };
}

export const template = `
  <p>Inpainting with a model that never saw a mask: at every reverse step the known pixels are
    replaced by the input noised to the same t (replacement), and RePaint also jumps back up a few
    steps now and then so that the filled part agrees with the known part. Click the image's
    quadrants (or use the buttons, or paint with the brush) to choose what is <strong>known</strong>;
    the rest is filled. The held-out images are ones the model never saw; a photo of yours is
    centre-cropped and resized to the model's size.</p>
  ${pickerTemplate('photo')}
  <div class="panels">
    <figure>
      <canvas role="img" data-part="mask-canvas" class="maskable" aria-label="the input and its mask: dark = to fill"></canvas>
      <figcaption>input; darkened = to fill</figcaption>
    </figure>
    <fieldset class="quadrants">
      <legend>Known quadrants</legend>
      ${QUADRANTS.map((q) => `<button type="button" data-quadrant="${q}" aria-pressed="true">${q.replace('-', ' ')}</button>`).join('')}
      <label><input type="checkbox" data-part="brush"> Brush (drag on the image: paint = fill, Shift = known)</label>
      <button type="button" data-part="clear">Reset mask</button>
    </fieldset>
  </div>
  <fieldset class="controls">
    <legend>Method</legend>
    <label>Method <select data-part="method">
      <option value="replacement">replacement (DDPM)</option>
      <option value="repaint">RePaint</option>
    </select></label>
    <label>Steps <input type="number" data-part="steps" value="100" min="2" max="1000"></label>
    <label data-part="jump-label">Jump length <input type="number" data-part="jump" value="10" min="1" max="50"></label>
    <label data-part="resample-label">Resamplings <input type="number" data-part="resample" value="3" min="1" max="20"></label>
    <label>Samples <input type="number" data-part="n" value="4" min="1" max="8"></label>
    <label>Seed <input type="number" data-part="seed" value="0" min="0" step="1"></label>
  </fieldset>
  ${runControls('Fill')}
  <div class="panels">
    <figure><canvas role="img" data-part="live" data-until-drawn aria-label="the fill in progress, x_t"></canvas><figcaption data-part="live-caption">x<sub>t</sub> while filling</figcaption></figure>
  </div>
  <h3>Results beside the original</h3>
  <canvas role="img" data-part="results" class="wide" data-until-drawn aria-label="the original, then the inpainted samples"></canvas>
  <div data-part="mean-block" hidden>
    <h3>Their mean</h3>
    <canvas role="img" data-part="mean" class="wide" data-until-drawn aria-label="the pixel mean of the fills"></canvas>
    <p class="hint" data-part="mean-caption"></p>
  </div>
`;

class InpaintView {
  constructor(root, { client, model: slot, onChange = () => {} }, settings) {
    Object.assign(this, { root, client, onChange, settings });
    this.part = fill(root, template);
    this.run = null;
    this.mask = null;
    this.model = null;
    for (const name of CONTROLS) {
      this.part(name).value = String(this.settings[name]);
      this.part(name).addEventListener('change', () => this.readControls());
    }
    this.showMethod();
    root.querySelectorAll('[data-quadrant]').forEach((button, i) => {
      button.addEventListener('click', () => this.toggleQuadrant(i));
    });
    this.part('clear').addEventListener('click', () => this.setQuadrants(this.quadrantCode ?? DEFAULTS.quadrants));
    this.part('run').addEventListener('click', () => this.fill());
    this.part('cancel').addEventListener('click', () => this.cancel());
    this.part('save').addEventListener('click', () => savePng(this.part('results'), `inpaint-seed${this.settings.seed}.png`));
    this.picker = new ImagePicker(this.part, settings, {
      onChange: () => this.onChange(this.settings), onImage: (image) => this.useImage(image), onError: (text) => this.status(text, 'error'),
    });
    this.bindBrush();
    this.ready = followModel(slot, (model) => this.useModel(model));
  }

  /** The model's size and channels shape the input and the mask; a new size needs a new mask. */
  async useModel(model) {
    this.model = null;
    this.setRunning(false);
    if (!model) {
      this.status('Waiting for the model…');
      return;
    }
    const { info } = model;
    const size = info.sampleSize ?? 64;
    if (size !== this.size) Object.assign(this, { mask: null, maskMade: null });
    Object.assign(this, { size, channels: info.inChannels });
    try {
      if (this.source && this.settings.image) this.useImage(this.source);
      else await this.picker.show(this.settings.image || ImagePicker.defaultFor(model.entry));
      await this.maskMade;
      this.model = model;
      this.setRunning(false);
      this.status(`Choose what is known, then press Fill (${info.inChannels === 3 ? 'colour' : 'grey'}, ${size}×${size}).`, 'ok');
    } catch (error) {
      this.status(`The inpainting view could not start: ${error.message}`, 'error');
    }
  }

  readControls() {
    readInputs(this.part, this.settings, CONTROLS, RANGES);
    this.showMethod();
    this.onChange(this.settings);
  }

  showMethod() {
    const repaint = this.part('method').value === 'repaint';
    this.part('jump-label').hidden = !repaint;
    this.part('resample-label').hidden = !repaint;
  }

  useImage(source) {
    if (!this.size) return;
    this.source = source;
    this.image = imageToInput(source, this.size, this.channels);
    if (!this.mask && !this.maskMade) this.setQuadrants(this.settings.quadrants);
    else this.drawMask();
  }

  /** '1010' → the mask (1 = known) with those quadrants known; the core draws it. */
  async setQuadrants(code) {
    const known = (/^[01]{4}$/.test(code) ? code : DEFAULTS.quadrants).split('').map((c) => c === '1');
    this.settings.quadrants = this.quadrantCode = known.map((k) => (k ? '1' : '0')).join('');
    this.root.querySelectorAll('[data-quadrant]').forEach((b, i) => b.setAttribute('aria-pressed', String(known[i])));
    this.onChange(this.settings);
    const asked = (this.maskRequest = (this.maskRequest ?? 0) + 1);
    this.maskMade = this.client.quadrantMask(this.quadrantCode, this.size, this.size);
    let mask;
    try {
      mask = await this.maskMade;
    } catch (error) {
      this.status(`The mask could not be made: ${error.message}`, 'error');
      return;
    }
    // A later click or brush stroke has replaced this mask.
    if (asked !== this.maskRequest) return;
    this.mask = mask;
    this.drawMask();
  }

  toggleQuadrant(i) {
    const code = [...this.root.querySelectorAll('[data-quadrant]')].map((b) => (b.getAttribute('aria-pressed') === 'true' ? '1' : '0'));
    code[i] = code[i] === '1' ? '0' : '1';
    this.setQuadrants(code.join(''));
  }

  /** The input with the region to fill darkened. */
  drawMask() {
    if (!this.image || !this.mask) return;
    const shown = this.image.map((v, i) => (this.mask[i % this.mask.length] ? v : -1 + (v + 1) * 0.25));
    const canvas = this.part('mask-canvas');
    drawGrid(canvas, shown, [1, this.channels, this.size, this.size]);
    enlarge(canvas, this.size / 2);
  }

  bindBrush() {
    const canvas = this.part('mask-canvas');
    const paint = (event) => {
      if (!this.mask || !(event.buttons & 1)) return;
      this.maskRequest = (this.maskRequest ?? 0) + 1;
      const rect = canvas.getBoundingClientRect();
      const cx = ((event.clientX - rect.left) / rect.width) * this.size;
      const cy = ((event.clientY - rect.top) / rect.height) * this.size;
      const radius = this.size / 12;
      for (let y = Math.max(0, Math.floor(cy - radius)); y < Math.min(this.size, cy + radius); y++) {
        for (let x = Math.max(0, Math.floor(cx - radius)); x < Math.min(this.size, cx + radius); x++) {
          if ((x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2) this.mask[y * this.size + x] = event.shiftKey ? 1 : 0;
        }
      }
      this.settings.quadrants = 'brush';
      this.onChange(this.settings);
      this.drawMask();
      event.preventDefault();
    };
    canvas.addEventListener('pointerdown', (event) => {
      if (event.button !== 0 || !this.mask) return;
      if (this.part('brush').checked) return paint(event);
      // Without the brush a click toggles the quadrant under the pointer.
      const rect = canvas.getBoundingClientRect();
      const right = event.clientX - rect.left >= rect.width / 2;
      const bottom = event.clientY - rect.top >= rect.height / 2;
      this.toggleQuadrant((bottom ? 2 : 0) + (right ? 1 : 0));
    });
    canvas.addEventListener('pointermove', (event) => this.part('brush').checked && paint(event));
  }

  methodSettings() {
    const { method, jump, resample } = this.settings;
    // RANGES allow up to 1000 steps; a model may have fewer.
    const steps = Math.min(this.settings.steps, this.model.info.scheduler.num_train_timesteps);
    if (method === 'repaint') return { kind: 'repaint', steps, jumpLength: jump, jumpNSample: resample, eta: 1, clipSample: 1 };
    return { kind: 'replacement', sampler: { ...this.model.info.defaultSettings, steps } };
  }

  /** Runs the fill to the end unless cancelled; returns the final samples (NCHW). */
  async fill() {
    if (this.run || !this.model || !this.image) return null;
    // The core draws a quadrant mask: a click just before Fill (or autorun) waits for it.
    await this.maskMade?.catch(() => {});
    if (this.run || !this.mask) return null;
    // What this run fills: later picks and mask edits are for the next run.
    const [image, mask, { seed, n }] = [this.image, this.mask.slice(), this.settings];
    const shape = [n, this.channels, this.size, this.size];
    const run = new AbortController();
    this.run = run;
    this.setRunning(true);
    try {
      const spec = { kind: 'inpaint', key: this.model.key, settings: { seed, batch: n, image, mask, method: this.methodSettings() } };
      const progress = this.part('progress');
      const begun = performance.now();
      let [out, total] = [null, 0];
      for await (const step of this.client.run(spec, { signal: run.signal, wanted: XT_ONLY })) {
        const i = step.step;
        total = step.total;
        progress.max = total;
        progress.value = i;
        if (i === 0) continue;
        out = step;
        if ((i - 1) % 5 === 0 || i === total) {
          const live = this.part('live');
          drawTiles(live, toTiles(out.xt, shape), Math.min(n, 4));
          enlarge(live, this.size);
          this.part('live-caption').textContent = out.renoise ? 'RePaint: jumped back up (re-noised)' : `x_t after the step at t = ${out.t}`;
          this.status(progressText(`Step ${i}/${total}`, i, total, begun), 'progress');
        }
      }
      if (run.signal.aborted) {
        this.status(`Cancelled after ${out?.step ?? 0} of ${total} steps.`, 'ok');
        return null;
      }
      this.showResults(image, out.xt, shape);
      this.status(`Done: ${total} steps in ${((performance.now() - begun) / 1000).toFixed(1)} s. The known region of every result is the input's.`, 'ok');
      return out.xt;
    } catch (error) {
      this.status(`Inpainting failed: ${error.message}`, 'error');
      return null;
    } finally {
      this.run = null;
      this.setRunning(false);
    }
  }

  showResults(image, xt, [n, c, h, w]) {
    const all = new Float32Array((n + 1) * c * h * w);
    all.set(image, 0);
    all.set(xt, c * h * w);
    const canvas = this.part('results');
    drawGrid(canvas, all, [n + 1, c, h, w], { columns: n + 1 });
    enlarge(canvas, w);
    this.part('save').disabled = false;
    // One fill is a draw from p(x₀ | known part) and pays that posterior's spread in error; their
    // mean estimates E[x₀ | known part], the fill of least squared error, and shows what is decided.
    const block = this.part('mean-block');
    block.hidden = n < 2;
    if (block.hidden) return;
    const plane = c * h * w;
    const mean = new Float32Array(plane);
    for (let k = 0; k < n; k++) for (let i = 0; i < plane; i++) mean[i] += xt[k * plane + i] / n;
    const meanCanvas = this.part('mean');
    drawGrid(meanCanvas, mean, [1, c, h, w]);
    enlarge(meanCanvas, w);
    this.part('mean-caption').textContent = `The mean of the ${n} fills: sharp where the known part decides, blurred where the fills `
      + 'disagree. It estimates E[x₀ | known part], the fill with the least expected squared error; any one fill errs more.';
  }

  /** Stops the fill under way in the worker, between two steps. */
  cancel() {
    this.run?.abort();
  }

  setRunning(running) {
    this.part('run').disabled = running || !this.model;
    this.part('cancel').disabled = !running;
  }

  status(text, kind = 'info') {
    showStatus(this.part('status'), text, kind);
  }
}
