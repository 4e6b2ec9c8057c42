// View 5, classifier-free guidance (Ho & Salimans; the reference's Imagen section): one class,
// one row of samples per guidance weight w, all from the same x_T, so the only difference
// between rows is w. Each row's distance to the class's mean training image is measured.
// The sampler is DDIM, cheap on either backend, at η = 1 by default: at η = 0 a small model's
// unguided samples are blotchy, which would credit guidance with what a clean sampler does
// anyway (fashion32's card, "Guidance").
import { XT_ONLY } from '../client.js';
import { CLASS_MEANS, sprite } from '../gallery.js';
import { drawGrid, enlarge, savePng, spriteTile } from '../render.js';
import { showStatus } from '../status.js';
import { fill, followModel, readInputs, runControls, settle, showMeasured } from './parts.js';

/** The weights shown: this ladder up to the slider's w, and w itself. */
const LADDER = [0, 0.5, 1, 2, 4, 8];

export const title = 'Guidance';
export const model = 'image';
/** The element's model when it names none: guidance needs a class-conditional one. */
export const defaultModel = 'fashion32';
// `weights`: exact weights for the rows (e.g. '0,4'); empty: the ladder up to w.
export const DEFAULTS = { class: 9, w: 4, n: 6, steps: 50, eta: 1, seed: 0, weights: '' };
export const RANGES = { class: [0, 2 ** 16], w: [0, 8, false], n: [1, 10], steps: [2, 1000], eta: [0, 1, false], seed: [0, 2 ** 53] };
/** The inputs that hold a setting, each named as its setting. */
const CONTROLS = Object.keys(RANGES);

export function mount(root, services, given) {
  const view = new GuidanceView(root, services, settle(DEFAULTS, given, RANGES));
  return { run: () => view.ready.then(() => view.sample()), cancel: () => view.cancel(), state: view.settings, ready: view.ready };
}

export const template = `
  <p>A class-conditional model, trained with its label dropped 10% of the time, can be pushed
    towards its class: ε̃ = (1 + w) ε<sub>θ</sub>(x<sub>t</sub>, y) − w ε<sub>θ</sub>(x<sub>t</sub>, ∅). Every row starts from the
    same noise; only w differs. As w grows the samples look more like the class (fidelity) and
    less like each other (variety).</p>
  <p data-part="needs" hidden></p>
  <div class="controls">
    <label>Class <select data-part="class"></select></label>
    <label class="slider">w <input type="range" data-part="w" min="0" max="8" step="0.5" value="4">
      <output data-part="w-value">4</output></label>
    <label>Samples per row <input type="number" data-part="n" value="6" min="1" max="10"></label>
    <label>DDIM steps <input type="number" data-part="steps" value="50" min="2" max="1000"></label>
    <label>DDIM η <input type="number" data-part="eta" value="1" min="0" max="1" step="0.1"></label>
    <label>Seed <input type="number" data-part="seed" value="0" min="0" step="1"></label>
  </div>
  <p class="hint" data-part="guidance-quality" hidden></p>
  ${runControls('Sample')}
  <div class="guidance">
    <figure><canvas role="img" data-part="mean" aria-label="the class's mean training image"></canvas><figcaption>class mean</figcaption></figure>
    <canvas role="img" data-part="grid" class="wide" aria-label="samples, one row per guidance weight w"></canvas>
  </div>
  <table aria-label="distance of each row to the class mean">
    <thead><tr><th scope="col">w</th><th scope="col">shape distance to the class mean (1 − correlation)</th><th scope="col">RMS distance to the class mean</th><th scope="col">spread across the row (RMS)</th></tr></thead>
    <tbody data-part="table"></tbody>
  </table>
`;

export function rowWeights(w, weights = '') {
  const given = String(weights).split(/[\s,]+/).filter(Boolean).map(Number).filter((v) => Number.isFinite(v) && v >= 0 && v <= 8);
  return given.length ? [...new Set(given)] : [...new Set([...LADDER.filter((v) => v < w), w])];
}

/**
 * What the model's card measured of guidance (`guidanceQuality` in the model list, from
 * train/evaluate.py): for each w of the rows, in how many classes each measure is better than at
 * w = 0; and, when the view's own steps or η are not the card's, that its rows are not what was
 * measured. Null where the card measured nothing.
 */
export function measuredGuidance(entry, settings = null) {
  const quality = entry?.guidanceQuality;
  if (!quality?.rows?.length) return null;
  const { rows, classes, samples, steps, eta } = quality;
  const counts = (key) => rows.map((row) => row[key]).join(' / ');
  const at = rows.map((row) => row.w).join(' / ');
  const differs = settings && (settings.steps !== steps || settings.eta !== eta);
  return `Measured on this model (its card; ${samples} samples for each of its ${classes} classes, DDIM, ${steps} steps, η = ${eta}). `
    + `Against w = 0, at w = ${at}: the class judge's log p(class | x) rises for ${counts('logPRises')} of ${classes} classes; `
    + `the RMS distance to the class mean falls for ${counts('rmsFalls')}; the shape distance for ${counts('shapeFalls')}.`
    + (differs ? ` These rows use ${settings.steps} steps, η = ${settings.eta}: not what the card measured.` : '');
}

const rms = (a, b) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length);

/**
 * 1 − Pearson correlation: how far the sample's shape is from the class mean's, whatever its
 * brightness and contrast. The mean of a class is a blur of many items, so a sharp, bright,
 * typical item can be far from it in RMS yet match its shape closely.
 */
export function shapeDistance(a, b) {
  const n = a.length;
  const [ma, mb] = [a.reduce((s, v) => s + v, 0) / n, b.reduce((s, v) => s + v, 0) / n];
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return 1 - ab / Math.sqrt(aa * bb || 1);
}

class GuidanceView {
  constructor(root, { client, model: slot, onChange = () => {}, chooseModel }, settings) {
    Object.assign(this, { root, client, onChange, settings, chooseModel });
    this.part = fill(root, template);
    for (const name of CONTROLS) {
      // The class select gets its options, and its value, from the model.
      if (name !== 'class') this.part(name).value = String(this.settings[name]);
      this.part(name).addEventListener('change', () => this.readControls());
    }
    this.part('w').addEventListener('input', () => { this.part('w-value').value = this.part('w').value; });
    this.part('w-value').value = String(this.settings.w);
    this.part('run').addEventListener('click', () => this.sample());
    this.part('cancel').addEventListener('click', () => this.cancel());
    this.part('save').addEventListener('click', () => savePng(this.part('grid'), `guidance-class${this.settings.class}-seed${this.settings.seed}.png`));
    this.run = null;
    this.model = null;
    this.ready = followModel(slot, (model) => this.useModel(model));
  }

  /** Stops the row under way in the worker, between two steps. */
  cancel() {
    this.run?.abort();
  }

  /** A class-conditional model's classes (and, for a shipped one, each class's mean image). */
  async useModel(model) {
    this.model = null;
    this.means = null;
    this.cancel();
    this.setRunning(false);
    const select = this.part('class');
    select.replaceChildren();
    this.part('needs').hidden = true;
    this.showMeasuredLine(model?.entry);
    if (!model) {
      this.status('Waiting for the model…');
      return;
    }
    const { info, entry } = model;
    if (info.nullClass === undefined) {
      this.offerClassConditional(model.label ?? 'this model');
      return;
    }
    // Every class but the null class, which is what guidance steers away from.
    const classes = [...Array(info.numClasses).keys()].filter((c) => c !== info.nullClass);
    for (const c of classes) select.add(new Option(`${c} · ${entry?.classes?.[c] ?? `class ${c}`}`, String(c)));
    if (!classes.includes(this.settings.class)) this.settings.class = classes[0];
    select.value = String(this.settings.class);
    let ready = ['Pick a class and w, then press Sample.', 'ok'];
    try {
      const means = CLASS_MEANS.find((m) => m.of === entry?.id);
      this.means = means && { image: await sprite(means.file), tile: means.tile };
    } catch (error) {
      ready = [`The class means could not be loaded (${error.message}); rows are compared with each other only.`, 'error'];
    }
    this.model = model;
    this.showMean();
    this.setRunning(false);
    this.status(...ready);
  }

  /** Says why there is nothing to run, and where the host can switch, offers the shipped class-conditional model. */
  offerClassConditional(label) {
    const needs = this.part('needs');
    needs.hidden = false;
    needs.textContent = `Guidance needs a class-conditional model (one trained with class labels: num_class_embeds in its config); the model in use (${label}) has none. `;
    if (this.chooseModel) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `Use ${defaultModel}`;
      button.addEventListener('click', () => this.chooseModel(defaultModel));
      needs.append(button);
    }
    this.status('Guidance needs a class-conditional model.', 'error');
  }

  readControls() {
    readInputs(this.part, this.settings, CONTROLS, RANGES);
    this.part('w-value').value = this.part('w').value;
    this.settings.weights = '';
    this.showMean();
    this.showMeasuredLine(this.model?.entry);
    this.onChange(this.settings);
  }

  showMeasuredLine(entry) {
    showMeasured(this.part('guidance-quality'), measuredGuidance(entry, this.settings), entry);
  }

  /** The class's mean training image (grey, the model's size) in the model's range, [−1, 1]; null without one. */
  classMean() {
    if (!this.means) return null;
    const { image, tile: size } = this.means;
    const tile = spriteTile(image, size, this.settings.class, 0);
    const { data } = tile.getContext('2d').getImageData(0, 0, size, size);
    return Float32Array.from({ length: size * size }, (_, p) => data[p * 4] / 127.5 - 1);
  }

  showMean() {
    const mean = this.classMean();
    const canvas = this.part('mean');
    canvas.closest('figure').hidden = !mean;
    if (!mean) return;
    drawGrid(canvas, mean, [1, 1, this.means.tile, this.means.tile]);
    enlarge(canvas, this.means.tile * 2);
  }

  /** One row per w; resolves to [{w, shape, distance, spread}] (null when cancelled or failed). */
  async sample() {
    if (this.run || !this.model) return null;
    const { info } = this.model;
    const size = info.sampleSize ?? 64;
    const channels = info.inChannels;
    const plane = channels * size * size;
    const { n } = this.settings;
    const weights = rowWeights(this.settings.w, this.settings.weights);
    const steps = Math.min(info.scheduler.num_train_timesteps, this.settings.steps);
    // One class and one x_T for every row: the controls wait until the run ends.
    const { class: label, seed, eta } = this.settings;
    const run = new AbortController();
    this.run = run;
    this.setRunning(true);
    const mean = this.classMean();
    const rows = [];
    const grid = new Float32Array(weights.length * n * plane);
    const progress = this.part('progress');
    progress.max = weights.length * steps;
    progress.value = 0;
    const table = this.part('table');
    table.replaceChildren();
    const begun = performance.now();
    try {
      for (const [r, w] of weights.entries()) {
        const settings = {
          seed, batch: n, class: label,
          sampler: { ...info.defaultSettings, steps, method: { kind: 'ddim', eta } },
          guidance: { weight: w },
        };
        let last = null;
        for await (const out of this.client.run({ kind: 'sample', key: this.model.key, settings }, { signal: run.signal, wanted: XT_ONLY })) {
          progress.value = r * steps + out.step;
          if (out.step > 0) last = out;
        }
        if (run.signal.aborted) {
          this.status('Cancelled.', 'ok');
          return null;
        }
        grid.set(last.xt, r * n * plane);
        const samples = Array.from({ length: n }, (_, i) => last.xt.subarray(i * plane, (i + 1) * plane));
        const shape = mean ? samples.reduce((s, x) => s + shapeDistance(x, mean), 0) / n : NaN;
        const distance = mean ? samples.reduce((s, x) => s + rms(x, mean), 0) / n : NaN;
        const centre = new Float32Array(plane).map((_, p) => samples.reduce((s, x) => s + x[p], 0) / n);
        const spread = samples.reduce((s, x) => s + rms(x, centre), 0) / n;
        rows.push({ w, shape, distance, spread });
        const cell = (v) => (Number.isNaN(v) ? '—' : v.toFixed(4));
        table.insertAdjacentHTML('beforeend', `<tr><td>${w}</td><td>${cell(shape)}</td><td>${cell(distance)}</td><td>${cell(spread)}</td></tr>`);
        const canvas = this.part('grid');
        drawGrid(canvas, grid.subarray(0, (r + 1) * n * plane), [(r + 1) * n, channels, size, size], { columns: n });
        enlarge(canvas, size * 2);
        this.status(`w = ${w} done (${r + 1}/${weights.length} rows, ${((performance.now() - begun) / 1000).toFixed(1)} s)`, 'progress');
      }
      this.part('save').disabled = false;
      const [first, last] = [rows[0], rows[rows.length - 1]];
      const spread = `spread within a row ${first.spread.toFixed(3)} → ${last.spread.toFixed(3)}`;
      this.status(mean
        ? `Done. Shape distance to the class mean: ${first.shape.toFixed(3)} at w = ${first.w}, ${last.shape.toFixed(3)} at w = ${last.w}; ${spread}.`
        : `Done (this model has no class means to compare with): ${spread}.`, 'ok');
      return rows;
    } catch (error) {
      this.status(`Sampling failed: ${error.message}`, 'error');
      return null;
    } finally {
      this.run = null;
      this.setRunning(false);
    }
  }

  setRunning(running) {
    for (const name of CONTROLS) this.part(name).disabled = running;
    this.part('run').disabled = running || !this.model;
    this.part('cancel').disabled = !running;
  }

  status(text, kind = 'info') {
    showStatus(this.part('status'), text, kind);
  }
}
