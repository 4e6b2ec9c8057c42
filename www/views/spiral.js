// View 6, the 2-D spiral (the reference's Fig. 4): particles drawn from N(0, I) become the
// spiral as the reverse process runs; arrows show the drift μ_θ(x_t, t) − x_t of one step at the
// shown t. "Train" runs Algorithm 1 live in the page from fresh weights; "Pretrained" loads the
// shipped model.
import { plotCurve } from '../plot.js';
import { saveGif } from '../render.js';
import { showStatus } from '../status.js';
import { fill, readInputs, settle } from './parts.js';

const EXTENT = 1.6;
const ARROWS = 15;

export const title = 'Spiral';
export const model = '2d';
/** The element's model when it names none. */
export const defaultModel = 'spiral2d';
export const DEFAULTS = { n: 1000, seed: 0, trainSteps: 3000 };
export const RANGES = { n: [100, 5000], seed: [0, 2 ** 53], trainSteps: [100, 20000] };

/** Starts at once: the shipped model's particles run down to the spiral. */
export function mount(root, services, given) {
  const view = new SpiralView(root, services, settle(DEFAULTS, given, RANGES));
  const ready = view.start();
  return { run: () => ready.then(() => view.reverse()), cancel: () => view.cancel(), state: view.settings, ready };
}

const template = `
  <p>The same algorithms on 2-D points. Each particle starts as pure noise N(0, I); the reverse
    process moves it, a step at a time, onto the spiral the model was trained on. The arrows are
    the drift of one step, μ<sub>θ</sub>(x<sub>t</sub>, t) − x<sub>t</sub> (lengths scaled to the grid). Press
    <strong>Train</strong> to run Algorithm 1 right here, from random weights, and watch the
    particles improve as the loss falls; the 2-D model runs on the CPU, where it is fastest.</p>
  <div class="controls">
    <button data-part="pretrained">Pretrained</button>
    <button data-part="train">Train from scratch</button>
    <label>Training steps <input type="number" data-part="train-steps" value="3000" min="100" max="20000" step="100"></label>
    <button data-part="play" disabled>▶ Run reverse process</button>
    <button data-part="cancel" disabled>■ Cancel</button>
    <label>Particles <input type="number" data-part="n" value="1000" min="100" max="5000" step="100"></label>
    <label>Seed <input type="number" data-part="seed" value="0" min="0" step="1"></label>
    <label><input type="checkbox" data-part="arrows" checked> drift arrows</label>
    <button data-part="save-gif" disabled title="the particles over t as an animated GIF">Save GIF</button>
  </div>
  <label class="slider">t <input type="range" data-part="t" min="0" max="999" value="999" step="1" disabled>
    <output data-part="t-value">999</output></label>
  <progress data-part="progress" value="0" max="1"></progress>
  <p data-part="status" role="status" aria-live="polite"></p>
  <div class="panels">
    <canvas role="img" data-part="plot" class="spiral" width="480" height="480" aria-label="particles, the spiral, and the drift field"></canvas>
    <canvas role="img" data-part="loss" class="loss" aria-label="training loss against step"></canvas>
  </div>
`;

class SpiralView {
  constructor(root, { client, model: slot, onChange = () => {} }, settings) {
    Object.assign(this, { root, client, slot, onChange, settings });
    this.part = fill(root, template);
    this.part('n').value = String(this.settings.n);
    this.part('seed').value = String(this.settings.seed);
    this.part('train-steps').value = String(this.settings.trainSteps);
    for (const name of ['n', 'seed', 'train-steps']) this.part(name).addEventListener('change', () => this.readControls());
    this.part('pretrained').addEventListener('click', () => this.usePretrained().catch((error) => {
      this.status(`The spiral model could not be loaded: ${error.message}`, 'error');
    }));
    this.part('train').addEventListener('click', () => this.train());
    this.part('play').addEventListener('click', () => this.reverse());
    this.part('cancel').addEventListener('click', () => this.cancel());
    this.part('t').addEventListener('input', () => this.showFrame(Number(this.part('t').value)));
    this.part('arrows').addEventListener('change', () => this.showFrame(this.shownT));
    this.part('save-gif').addEventListener('click', () => this.saveAnimation());
    this.frames = [];
    this.losses = [];
    this.key = null;
    this.job = null;
  }

  readControls() {
    readInputs(this.part, this.settings, ['n', 'seed', 'trainSteps'], RANGES);
    this.onChange(this.settings);
  }

  async start() {
    this.starting ??= (async () => {
      this.target = (await this.client.spiralTarget(2000, 1)).target;
      this.draw(null);
      await this.usePretrained();
    })().catch((error) => {
      this.status(`The spiral view could not start: ${error.message}`, 'error');
      this.starting = null;
      throw error;
    });
    return this.starting;
  }

  cancel() {
    if (this.job) this.job.cancelled = true;
  }

  /** Makes `key` (a spiral model) current; the previous one is freed unless it is shared. */
  setModel(key, owned) {
    if (this.key && this.owned) this.client.unload(this.key);
    Object.assign(this, { key, owned });
    this.part('play').disabled = !key;
  }

  /** Loads the shipped model and runs the particles; rejects when the model cannot be had. */
  async usePretrained() {
    if (this.job) return;
    this.status('Loading the shipped spiral model…');
    if (!this.slot.current) throw new Error('no 2-D model is shipped (www/models/index.json)');
    const { key } = await this.slot.current;
    this.setModel(key, false);
    this.status('Pretrained model loaded. Run the reverse process to watch the particles.', 'ok');
    await this.reverse();
  }

  /** Particles from N(0, I) to t = 0 with `key`; every tenth step kept for the t slider. */
  async sampleParticles(key, n, steps, job, onFrame) {
    const { runId, timesteps, current: x } = await this.client.open({ kind: 'spiral', key, settings: { n, seed: this.settings.seed, steps } });
    const frames = [{ t: timesteps[0], x }];
    // The drift arrows of these frames can only come from the model that made them.
    frames.key = key;
    try {
      const chunk = Math.max(1, Math.round(timesteps.length / 100));
      for (let done = 0; done < timesteps.length; done += chunk) {
        if (job.cancelled) return null;
        const out = await this.client.step(runId, { k: chunk, x0: false, eps: false });
        frames.push({ t: out.next < 0 ? 0 : out.next, x: out.xt, last: out.next < 0 });
        onFrame?.(frames, done + chunk, timesteps.length);
      }
      return frames;
    } finally {
      this.client.stop(runId);
    }
  }

  async reverse() {
    if (this.job || !this.key) return;
    const job = this.begin();
    try {
      const begun = performance.now();
      this.status(`Running the reverse process: ${this.settings.n} particles, 1000 steps…`, 'progress');
      const frames = await this.sampleParticles(this.key, this.settings.n, 1000, job, (fs, done, total) => {
        this.part('progress').max = total;
        this.part('progress').value = done;
        this.status(`Reverse process: step ${Math.min(done, total)} of ${total}…`, 'progress');
        this.frames = fs;
        this.showFrame(fs[fs.length - 1].t);
      });
      if (!frames) return this.status('Cancelled.', 'ok');
      this.frames = frames;
      const final = frames[frames.length - 1].x;
      const distance = await this.distance(final);
      this.part('t').disabled = false;
      this.showFrame(0);
      this.status(`Done in ${((performance.now() - begun) / 1000).toFixed(1)} s: sliced Wasserstein distance to the spiral ${distance.toFixed(4)} (two draws of the spiral itself: ${(await this.floor()).toFixed(4)}). Move t to replay.`, 'ok');
    } catch (error) {
      this.status(`The reverse process failed: ${error.message}`, 'error');
    } finally {
      this.end();
    }
  }

  async distance(points) {
    const n = points.length / 2;
    return (await this.client.spiralTarget(n, 7, points)).distance;
  }

  async floor() {
    const n = this.settings.n;
    const { target } = await this.client.spiralTarget(n, 8);
    return (await this.client.spiralTarget(n, 9, target)).distance;
  }

  /** Algorithm 1 from fresh weights; every 500 steps the particles are redrawn with the weights so far. */
  async train() {
    if (this.job) return;
    const job = this.begin();
    const steps = this.settings.trainSteps;
    const chunk = 100;
    let runId = null;
    this.losses = [];
    try {
      ({ runId } = await this.client.open({ kind: 'train', settings: { steps, seed: this.settings.seed } }));
      this.part('progress').max = steps;
      const begun = performance.now();
      for (let step = 0; step < steps;) {
        if (job.cancelled) return this.status(`Training cancelled at step ${step}.`, 'ok');
        const out = await this.client.step(runId, { k: chunk });
        step = out.step;
        this.losses.push(out.loss);
        this.part('progress').value = step;
        this.plotLoss(chunk);
        if (step % 500 === 0 || step === steps) {
          const { key } = await this.client.trainSnapshot(runId);
          let frames;
          try {
            frames = await this.sampleParticles(key, 500, 100, job);
          } finally {
            if (step === steps && frames) this.setModel(key, true);
            else this.client.unload(key);
          }
          if (!frames) continue;
          this.frames = frames;
          const distance = await this.distance(frames[frames.length - 1].x);
          this.showFrame(0);
          const rate = step / ((performance.now() - begun) / 1000);
          this.status(`Step ${step}/${steps}: loss ${out.loss.toFixed(4)}, particles ${distance.toFixed(4)} from the spiral — ${rate.toFixed(0)} steps/s`, 'progress');
        }
      }
      const [first, last] = [this.losses[0], this.losses[this.losses.length - 1]];
      this.status(`Trained ${steps} steps from scratch in ${((performance.now() - begun) / 1000).toFixed(1)} s; loss ${first.toFixed(4)} (first ${chunk} steps) → ${last.toFixed(4)} (last ${chunk}). Run the reverse process with the new weights.`, 'ok');
    } catch (error) {
      this.status(`Training failed: ${error.message}`, 'error');
    } finally {
      if (runId) this.client.stop(runId);
      this.end();
    }
  }

  plotLoss(chunk) {
    plotCurve(this.part('loss'), this.losses, { title: 'training loss (L_simple, mean per 100 steps)', format: (v) => v.toFixed(3), xLabel: (i) => `step ${(i + 1) * chunk}` });
  }

  begin() {
    this.job = { cancelled: false };
    for (const name of ['pretrained', 'train', 'play', 't', 'save-gif']) this.part(name).disabled = true;
    this.part('cancel').disabled = false;
    return this.job;
  }

  end() {
    this.job = null;
    for (const name of ['pretrained', 'train']) this.part(name).disabled = false;
    this.part('play').disabled = !this.key;
    this.part('t').disabled = !this.frames.length;
    this.part('save-gif').disabled = !this.frames.length;
    this.part('cancel').disabled = true;
  }

  /** The kept frame nearest t, with the drift field there. */
  async showFrame(t) {
    if (!this.frames.length) return;
    const frame = this.frames.reduce((best, f) => (Math.abs(f.t - t) < Math.abs(best.t - t) ? f : best));
    this.shownT = frame.t;
    this.part('t').value = String(frame.t);
    this.part('t-value').value = String(frame.t);
    const request = (this.drawing = {});
    let drift = null;
    if (this.part('arrows').checked && this.key && this.frames.key === this.key && frame.t > 0) {
      drift = await this.client.spiralDrift(this.key, arrowGrid(), frame.t, frame.t - 1).catch(() => null);
      if (this.drawing !== request) return;
    }
    this.draw(frame.x, drift);
  }

  /** The run's frames (evenly chosen, both ends kept), arrows as shown, as an animated GIF. */
  async saveAnimation() {
    if (!this.frames.length || this.job) return;
    const button = this.part('save-gif');
    button.disabled = true;
    try {
      const steps = await this.client.frameSteps(this.frames.length);
      const canvases = [];
      for (const i of steps) {
        const frame = this.frames[i];
        const arrows = this.part('arrows').checked && this.key && this.frames.key === this.key && frame.t > 0;
        const drift = arrows ? await this.client.spiralDrift(this.key, arrowGrid(), frame.t, frame.t - 1) : null;
        const canvas = document.createElement('canvas');
        Object.assign(canvas, { width: this.part('plot').width, height: this.part('plot').height });
        this.draw(frame.x, drift, canvas, frame.t, true);
        canvases.push(canvas);
      }
      const gif = await saveGif(this.client, canvases, `spiral-seed${this.settings.seed}.gif`);
      this.status(`Saved an animated GIF: ${canvases.length} frames, ${(gif.length / 1024).toFixed(0)} KB.`, 'ok');
    } catch (error) {
      this.status(`The animation could not be saved: ${error.message}`, 'error');
    } finally {
      button.disabled = !this.frames.length;
    }
  }

  /**
   * The spiral (faint), the particles and the arrows, on the plot or on `canvas` (a GIF frame:
   * `opaque` paints the page's background, which a GIF has no alpha for).
   */
  draw(points, drift, canvas = this.part('plot'), t = this.shownT, opaque = false) {
    const size = canvas.width;
    const context = canvas.getContext('2d', { willReadFrequently: opaque });
    const px = (v) => ((v + EXTENT) / (2 * EXTENT)) * size;
    const py = (v) => ((EXTENT - v) / (2 * EXTENT)) * size;
    context.clearRect(0, 0, size, size);
    // Colours come from the page's stylesheet, read off the visible plot.
    const style = getComputedStyle(this.part('plot'));
    if (opaque) {
      context.fillStyle = getComputedStyle(document.body).backgroundColor.replace(/rgba\(0, 0, 0, 0\)|transparent/, '') || '#fff';
      context.fillRect(0, 0, size, size);
    }
    const ink = style.color || '#222';
    context.fillStyle = '#8884';
    const target = this.target ?? [];
    for (let i = 0; i < target.length; i += 2) context.fillRect(px(target[i]) - 1, py(target[i + 1]) - 1, 2, 2);
    if (drift) {
      const grid = arrowGrid();
      let longest = 0;
      for (let i = 0; i < drift.length; i += 2) longest = Math.max(longest, Math.hypot(drift[i], drift[i + 1]));
      const scale = longest > 0 ? (2 * EXTENT) / ARROWS / longest * 0.9 : 0;
      context.strokeStyle = '#4a90e2';
      context.lineWidth = 1;
      for (let i = 0; i < grid.length; i += 2) {
        const [x0, y0] = [px(grid[i]), py(grid[i + 1])];
        const [x1, y1] = [px(grid[i] + drift[i] * scale), py(grid[i + 1] + drift[i + 1] * scale)];
        context.beginPath();
        context.moveTo(x0, y0);
        context.lineTo(x1, y1);
        const angle = Math.atan2(y1 - y0, x1 - x0);
        context.lineTo(x1 - 4 * Math.cos(angle - 0.5), y1 - 4 * Math.sin(angle - 0.5));
        context.moveTo(x1, y1);
        context.lineTo(x1 - 4 * Math.cos(angle + 0.5), y1 - 4 * Math.sin(angle + 0.5));
        context.stroke();
      }
    }
    if (points) {
      context.fillStyle = style.getPropertyValue('--accent').trim() || '#d84315';
      for (let i = 0; i < points.length; i += 2) context.fillRect(px(points[i]) - 1.5, py(points[i + 1]) - 1.5, 3, 3);
    }
    context.fillStyle = ink;
    context.font = '14px system-ui, sans-serif';
    if (t !== undefined && points) context.fillText(`t = ${t}`, 8, 18);
  }

  status(text, kind = 'info') {
    showStatus(this.part('status'), text, kind);
  }
}

let grid = null;
/** Arrow tails: an ARROWS × ARROWS grid over the plot, [N, 2]. */
function arrowGrid() {
  grid ??= Float32Array.from({ length: ARROWS * ARROWS * 2 }, (_, i) => {
    const cell = Math.floor(i / 2);
    const k = i % 2 === 0 ? cell % ARROWS : Math.floor(cell / ARROWS);
    return -EXTENT + ((k + 0.5) * 2 * EXTENT) / ARROWS;
  });
  return grid;
}
