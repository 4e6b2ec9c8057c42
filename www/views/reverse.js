// View 2, reverse sampling (Algorithm 2): play / pause / one step / scrub back through the steps
// taken; x_t, x̂_0 and ε̂ of every sample after each step; a filmstrip of x̂_0 at chosen t.
import { showStatus } from '../status.js';
import { drawTiles, enlarge, saveGif, savePng, toTiles } from '../render.js';
import { fill, followModel, settle } from './parts.js';
import { progressText } from './progress.js';
import { estimate, parseTimesteps, SAMPLER_DEFAULTS, SAMPLER_RANGES, SamplerControls, samplerTemplate } from './sampler-controls.js';

export const title = 'Reverse sampling';
export const model = 'image';
// 0 or '': the model's and backend's choice (sampler-controls.js), made once both are known.
export const DEFAULTS = { ...SAMPLER_DEFAULTS, n: 0, film: '999,750,500,250,100,0' };
export const RANGES = { ...SAMPLER_RANGES, n: [0, 16] };

const template = `
  <p>Reverse sampling: start from pure noise x<sub>T</sub> and repeatedly subtract the noise ε̂ = ε<sub>θ</sub>(x<sub>t</sub>, t) the
    network predicts. DDPM (ancestral sampling, Algorithm 2) adds a little fresh noise back at every step; DDIM adds
    η times as much, none at η = 0, and starts from x<sub>T</sub> scaled to length √d (d values an image), the
    length pure noise almost always has: with no fresh noise, a misjudged length would stay in the image as speckle.
    At every t the network's guess of the final image,
    x̂<sub>0</sub> = (x<sub>t</sub> − √(1 − ᾱ<sub>t</sub>) ε̂) / √ᾱ<sub>t</sub>, sharpens: coarse shape first, details last.
    <kbd>Space</kbd> plays or pauses, <kbd>→</kbd> takes one step, <kbd>←</kbd> scrubs back.</p>
${samplerTemplate(true)}
  <div class="controls">
    <button data-part="play" disabled aria-keyshortcuts="Space">▶ Play</button>
    <button data-part="step" disabled aria-keyshortcuts="ArrowRight">Step →</button>
    <button data-part="cancel" disabled>■ Cancel</button>
    <button data-part="save" disabled>Save PNG</button>
    <button data-part="save-gif" disabled title="the recorded steps as an animated GIF, panels as shown">Save GIF</button>
  </div>
  <progress data-part="progress" value="0" max="1"></progress>
  <p data-part="status" role="status" aria-live="polite">Load a model, then press Play.</p>
  <label class="slider">Scrub <input type="range" data-part="scrub" min="0" max="0" value="0" step="1" disabled aria-keyshortcuts="ArrowLeft ArrowRight">
    <output data-part="scrub-value">—</output></label>
  <div class="controls">
    <label><input type="checkbox" data-part="show-x0" checked> Show x̂<sub>0</sub></label>
    <label><input type="checkbox" data-part="show-eps" checked> Show ε̂</label>
  </div>
  <div class="panels">
    <figure><canvas role="img" data-part="xt" aria-label="x_t"></canvas><figcaption>x<sub>t</sub>, the current state</figcaption></figure>
    <figure data-part="x0-panel"><canvas role="img" data-part="x0" aria-label="predicted x_0"></canvas><figcaption>x̂<sub>0</sub>, the guess of the end</figcaption></figure>
    <figure data-part="eps-panel"><canvas role="img" data-part="eps" aria-label="predicted noise"></canvas><figcaption>ε̂, the predicted noise</figcaption></figure>
  </div>
  <h3>Features crystallising: x̂<sub>0</sub> of the first sample at chosen t</h3>
  <label>t values <input type="text" data-part="film" value="999,750,500,250,100,0" inputmode="numeric" pattern="[0-9, ]+"></label>
  <canvas role="img" data-part="filmstrip" class="strip" aria-label="filmstrip of predicted x_0 at chosen t"></canvas>
  <p data-part="film-caption" class="caption"></p>
`;

/** ε̂ is N(0, I)-like: shown over [−3, 3]. */
const EPS_RANGE = 3;

export function mount(root, services, given) {
  const view = new ReverseView(root, services, settle(DEFAULTS, given, RANGES));
  return {
    run: () => view.play(),
    cancel: () => view.cancel(),
    state: view.settings,
    ready: view.ready,
    keys: { ' ': () => view.togglePlay(), ArrowRight: () => view.stepOnce(), ArrowLeft: () => view.stepBack() },
  };
}

class ReverseView {
  constructor(root, { client, backend, model: slot, onChange = () => {} }, settings) {
    Object.assign(this, { client, backend, settings, onChange });
    const part = fill(root, template);
    this.$ = part;
    this.run = null;
    this.model = null;
    this.history = [];
    this.playing = false;
    this.sampler = new SamplerControls(part, settings, {
      withSamples: true,
      onChange: () => {
        this.reset();
        this.onChange(this.settings);
        if (this.model) this.status(this.readyText());
      },
    });
    part('play').addEventListener('click', () => this.togglePlay());
    part('step').addEventListener('click', () => this.stepOnce());
    part('cancel').addEventListener('click', () => this.cancel());
    part('scrub').addEventListener('input', () => this.show(Number(part('scrub').value)));
    part('save').addEventListener('click', () => this.save());
    part('save-gif').addEventListener('click', () => this.saveAnimation());
    part('film').value = settings.film;
    part('film').addEventListener('change', () => {
      this.settings.film = part('film').value;
      this.onChange(this.settings);
      this.drawFilmstrip();
    });
    // A hidden panel is not read back from the device at all (one read per step, x_t only).
    for (const id of ['x0', 'eps']) {
      part(`show-${id}`).addEventListener('change', () => {
        part(`${id}-panel`).hidden = !part(`show-${id}`).checked;
        this.show(Number(part('scrub').value));
      });
    }
    this.ready = followModel(slot, (model) => {
      this.model = model;
      if (model) {
        this.sampler.useModel(model, backend.kind);
        this.onChange(this.settings);
        // Timed after the page is ready: the sample count and the estimate follow, unless a run began.
        model.timing?.then(() => {
          if (this.model !== model || this.run) return;
          this.sampler.useTiming(model.info, backend.kind);
          this.onChange(this.settings);
          this.status(this.readyText());
        }, () => {});
      }
      this.modelChanged();
    });
  }

  /** Plays to the end from a fresh run (the element's autorun). */
  async play() {
    await this.ready;
    if (!this.playing) await this.togglePlay();
  }

  /** What the next step must bring back: x̂_0 and ε̂ if shown; x̂_0 at the filmstrip's t anyway. */
  wanted(run, t) {
    const filmStep = run.filmSteps.has(t);
    return { x0: this.$('show-x0').checked || filmStep, eps: this.$('show-eps').checked };
  }

  /** The run's timesteps nearest each filmstrip t: x̂_0 is always read there. */
  filmSteps(timesteps) {
    const wanted = parseTimesteps(this.settings.film, this.model.info.scheduler.num_train_timesteps - 1);
    return new Set(wanted.map((t) => timesteps.reduce((best, s) => (Math.abs(s - t) < Math.abs(best - t) ? s : best))));
  }

  modelChanged() {
    this.reset();
    const enabled = Boolean(this.model);
    this.$('play').disabled = this.$('step').disabled = !enabled;
    this.drawFilmstrip();
    this.status(enabled ? this.readyText() : 'Load a model first.');
  }

  /** What Play will do and how long it should take here, before it is pressed. */
  readyText() {
    const { batch, sampler: { steps } } = this.sampler.runSettings(this.model.info);
    const length = estimate(this.model.info, steps, batch);
    return `Press Play (Space) to run ${steps} steps × ${batch} samples${length ? ` (${length} here)` : ''}, or Step (→) to take one step.`;
  }

  /** Ends the current run and forgets its steps. */
  async reset() {
    this.generation = (this.generation ?? 0) + 1;
    this.playing = false;
    // At once, not after the stop: what follows a reset (a model change) reads no stale step.
    this.clearHistory();
    await this.stopRun();
    this.updateButtons();
  }

  clearHistory() {
    this.history = [];
    this.$('scrub').max = '0';
    this.$('scrub').disabled = true;
    this.$('scrub-value').value = '—';
    this.$('progress').value = 0;
    this.$('save').disabled = true;
    this.$('save-gif').disabled = true;
  }

  async stopRun() {
    const run = this.run;
    this.run = null;
    if (run) await this.client.stop(run.runId).catch(() => {});
  }

  updateButtons() {
    this.$('play').textContent = this.playing ? '❚❚ Pause' : '▶ Play';
    this.$('play').setAttribute('aria-pressed', String(this.playing));
    this.$('cancel').disabled = !this.run;
  }

  /** A run to advance: the current one, or a new one (its steps replace the shown ones). */
  async ensureRun() {
    if (this.run) return true;
    if (this.starting) return this.starting;
    if (!this.model) return false;
    this.clearHistory();
    this.status('Starting…');
    const generation = this.generation;
    const { key, info } = this.model;
    const settings = this.sampler.runSettings(info);
    this.starting = (async () => {
      const { runId, timesteps } = await this.client.open({ kind: 'sample', key, settings });
      if (generation !== this.generation) {
        // Reset (new settings or model) while it started: it is not wanted any more.
        this.client.stop(runId);
        return false;
      }
      const shape = [settings.batch, info.inChannels, settings.size, settings.size];
      this.run = { runId, timesteps, settings, shape, taken: 0, started: performance.now(), busy: 0, finished: false, filmSteps: this.filmSteps(timesteps) };
      this.$('progress').max = timesteps.length;
      this.updateButtons();
      return true;
    })().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  async togglePlay() {
    if (this.playing) {
      this.playing = false;
      this.updateButtons();
      return;
    }
    this.playing = true;
    this.updateButtons();
    try {
      if (!(await this.ensureRun())) return;
      while (this.playing && this.run && !this.run.finished) await this.advance();
    } catch (error) {
      // A run whose step failed cannot go on (after a restart its worker is gone): Play starts afresh.
      await this.stopRun();
      this.status(`Sampling failed: ${error.message}`, 'error');
    } finally {
      this.playing = false;
      this.updateButtons();
    }
  }

  async stepOnce() {
    if (this.playing || this.stepping) return;
    // Scrubbed back: step forward through what is already there first.
    const scrub = Number(this.$('scrub').value);
    if (scrub < this.history.length - 1) {
      this.show(scrub + 1);
      return;
    }
    this.stepping = true;
    try {
      if (await this.ensureRun()) await this.advance();
    } catch (error) {
      await this.stopRun();
      this.status(`Sampling failed: ${error.message}`, 'error');
    } finally {
      this.stepping = false;
    }
  }

  stepBack() {
    const scrub = Number(this.$('scrub').value);
    if (scrub > 0) this.show(scrub - 1);
  }

  /** One step of the run; steps never overlap (Play and Step share this queue). */
  advance() {
    this.queue = (this.queue ?? Promise.resolve()).catch(() => {}).then(() => this.advanceNow());
    return this.queue;
  }

  async advanceNow() {
    const run = this.run;
    if (!run || run.finished) return;
    const began = performance.now();
    const out = await this.client.step(run.runId, this.wanted(run, run.timesteps[run.taken]));
    if (this.run !== run) return; // cancelled or reset while the step ran
    run.busy += performance.now() - began;
    run.taken += 1;
    run.last = out;
    this.history.push({
      t: out.t,
      next: out.next,
      xt: toTiles(out.xt, run.shape),
      x0: out.x0 && toTiles(out.x0, run.shape),
      eps: out.eps && toTiles(out.eps, run.shape, EPS_RANGE),
    });
    this.$('scrub').max = String(this.history.length - 1);
    this.$('scrub').disabled = false;
    this.show(this.history.length - 1);
    this.$('progress').value = run.taken;
    const total = run.timesteps.length;
    const rate = run.taken / (run.busy / 1000);
    if (run.taken === total) {
      run.finished = true;
      await this.stopRun();
      this.status(`Done: ${total} steps in ${((performance.now() - run.started) / 1000).toFixed(1)} s (${rate.toFixed(1)} steps/s). Scrub back to revisit any step.`, 'ok');
      this.drawFilmstrip();
    } else {
      // The rate of the time spent stepping: a paused run is not slower.
      this.status(progressText(`Step ${run.taken}/${total}, t = ${out.t}`, run.taken, total, performance.now() - run.busy), 'progress');
    }
    this.$('save').disabled = false;
    this.$('save-gif').disabled = false;
    this.updateButtons();
  }

  async cancel() {
    const taken = this.run?.taken ?? 0;
    this.playing = false;
    await this.stopRun();
    this.updateButtons();
    this.status(`Cancelled after ${taken} steps. Scrub back through them, or Play to start again.`, 'ok');
    this.drawFilmstrip();
  }

  show(index) {
    const entry = this.history[index];
    if (!entry) return;
    this.$('scrub').value = String(index);
    const columns = Math.ceil(Math.sqrt(entry.xt.count));
    drawTiles(this.$('xt'), entry.xt, columns);
    // A step taken while a panel was hidden has nothing to show there: the panel is cleared.
    for (const id of ['x0', 'eps']) {
      if (entry[id]) drawTiles(this.$(id), entry[id], columns);
      else this.$(id).getContext('2d').clearRect(0, 0, this.$(id).width, this.$(id).height);
    }
    const at = entry.next >= 0 ? `x_${entry.next}` : 'x_0';
    this.$('scrub-value').value = `step ${index + 1}: ε_θ at t = ${entry.t} → ${at}`;
  }

  /** x̂_0 of sample 0 at the steps whose t is nearest each requested t. */
  drawFilmstrip() {
    const canvas = this.$('filmstrip');
    canvas.hidden = !this.history.length;
    if (!this.history.length) {
      this.$('film-caption').textContent = 'Run the sampler to fill the filmstrip.';
      return;
    }
    const wanted = parseTimesteps(this.settings.film, this.model.info.scheduler.num_train_timesteps - 1);
    const withX0 = this.history.filter((e) => e.x0);
    if (!withX0.length) return;
    const picks = wanted
      .map((t) => withX0.reduce((best, e) => (Math.abs(e.t - t) < Math.abs(best.t - t) ? e : best)))
      .filter((e, i, all) => all.indexOf(e) === i);
    const strip = { ...picks[0].x0, tiles: picks.map((e) => e.x0.tiles[0]) };
    drawTiles(canvas, strip, picks.length);
    enlarge(canvas, strip.width);
    canvas.dataset.ts = picks.map((e) => e.t).join(',');
    canvas.setAttribute('aria-label', `predicted x_0 at t = ${canvas.dataset.ts}`);
    this.$('film-caption').textContent = `x̂_0 at t = ${picks.map((e) => e.t).join(', ')}`;
  }

  /**
   * A recorded step's x_t, x̂_0 and ε̂ side by side, as shown (hidden panels left out); a panel
   * the step did not record (hidden while it ran) is left grey, so every frame has one size.
   */
  composite(entry) {
    const columns = Math.ceil(Math.sqrt(entry.xt.count));
    const parts = ['xt', 'x0', 'eps'].filter((id) => id === 'xt' || this.$(`show-${id}`).checked).map((id) => {
      const canvas = document.createElement('canvas');
      drawTiles(canvas, entry[id] ?? { ...entry.xt, tiles: entry.xt.tiles.map((t) => new Uint8ClampedArray(t.length).fill(136)) }, columns);
      return canvas;
    });
    const gap = 4;
    const out = document.createElement('canvas');
    out.width = parts.reduce((w, c) => w + c.width, 0) + gap * (parts.length - 1);
    out.height = Math.max(...parts.map((c) => c.height));
    const context = out.getContext('2d', { willReadFrequently: true });
    context.fillStyle = '#fff';
    context.fillRect(0, 0, out.width, out.height);
    let x = 0;
    for (const c of parts) {
      context.drawImage(c, x, 0);
      x += c.width + gap;
    }
    return out;
  }

  fileName(suffix) {
    return `ddpm-${this.model.name}-seed${this.run?.settings.seed ?? this.settings.seed}-${suffix}`;
  }

  save() {
    const entry = this.history[Number(this.$('scrub').value)];
    if (entry) savePng(this.composite(entry), this.fileName(`t${entry.t}.png`));
  }

  /** The recorded steps (evenly chosen, both ends kept) as an animated GIF. */
  async saveAnimation() {
    if (!this.history.length) return;
    const button = this.$('save-gif');
    button.disabled = true;
    try {
      const steps = await this.client.frameSteps(this.history.length);
      const frames = steps.map((i) => this.composite(this.history[i]));
      const gif = await saveGif(this.client, frames, this.fileName(`t${this.history[steps[0]].t}-to-t${this.history.at(-1).t}.gif`));
      this.status(`Saved an animated GIF: ${frames.length} frames, ${(gif.length / 1024).toFixed(0)} KB.`, 'ok');
    } catch (error) {
      this.status(`The animation could not be saved: ${error.message}`, 'error');
    } finally {
      button.disabled = !this.history.length;
    }
  }

  status(text, kind = 'info') {
    showStatus(this.$('status'), text, kind);
  }
}
