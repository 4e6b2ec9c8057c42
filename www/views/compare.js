// View 3, compare at different t (the reference's Fig. 6, Ho et al. Fig. 7): one trajectory
// from x_T; at each chosen t its x_t is forked into N samples of p(x_0 | x_t).
import { XT_ONLY } from '../client.js';
import { showStatus } from '../status.js';
import { drawTiles, enlarge, meanPixelStd, saveGif, savePng, toTiles } from '../render.js';
import { fill, followModel, readInputs, settle } from './parts.js';
import { progressText } from './progress.js';
import { parseTimesteps, SAMPLER_DEFAULTS, SAMPLER_RANGES, SamplerControls, samplerTemplate } from './sampler-controls.js';

export const title = 'Compare at different t';
export const model = 'image';
// `t`: the timesteps to fork at; `n`: samples per t.
export const DEFAULTS = { ...SAMPLER_DEFAULTS, t: '999,750,500,250,100', n: 4, layout: 'rows' };
export const RANGES = { ...SAMPLER_RANGES, n: [2, 8] };

const template = `
  <p>One trajectory is run down from x<sub>T</sub>. At each chosen t, its x<sub>t</sub> is copied and finished N times with fresh noise:
    N samples of p(x<sub>0</sub> | x<sub>t</sub>). From an early (very noisy) x<sub>t</sub> the samples differ widely; from a late one they
    agree — the image was already decided.</p>
${samplerTemplate(false)}
  <div class="controls">
    <label>t values <input type="text" data-part="t" value="999,750,500,250,100" inputmode="numeric" pattern="[0-9, ]+"></label>
    <label>Samples per t <input type="number" data-part="n" value="4" min="2" max="8"></label>
    <label>Layout <select data-part="layout">
      <option value="rows">rows: t × samples</option>
      <option value="fig7">Ho et al. Fig. 7: x_t bottom-right, 3 samples</option>
    </select></label>
    <button data-part="run" disabled>Run</button>
    <button data-part="cancel" disabled>■ Cancel</button>
    <button data-part="save" disabled>Save PNG</button>
    <button data-part="save-gif" disabled title="every row's samples denoising, side by side, as an animated GIF">Save GIF</button>
  </div>
  <progress data-part="progress" value="0" max="1"></progress>
  <p data-part="status" role="status" aria-live="polite"></p>
  <canvas role="img" data-part="grid" class="wide" data-until-drawn aria-label="samples of p(x_0|x_t), one row per t"></canvas>
  <table data-part="table" aria-label="spread of the samples per t">
    <thead><tr><th scope="col">t</th><th scope="col">spread (mean per-pixel std across samples)</th></tr></thead>
    <tbody></tbody>
  </table>
`;

export function mount(root, services, given) {
  const view = new CompareView(root, services, settle(DEFAULTS, given, RANGES));
  return { run: () => view.ready.then(() => view.start()), cancel: () => view.cancel(), state: view.settings, ready: view.ready };
}

class CompareView {
  constructor(root, { client, backend, model: slot, onChange = () => {} }, settings) {
    Object.assign(this, { client, settings, onChange });
    const part = fill(root, template);
    this.$ = part;
    this.abort = new AbortController();
    this.running = false;
    this.rows = [];
    this.model = null;
    this.sampler = new SamplerControls(part, settings, { cheap: true, onChange: () => this.onChange(this.settings) });
    part('run').addEventListener('click', () => this.start());
    part('cancel').addEventListener('click', () => this.cancel());
    part('save').addEventListener('click', () => savePng(part('grid'), this.fileName('png')));
    part('save-gif').addEventListener('click', () => this.saveAnimation());
    for (const key of ['t', 'n', 'layout']) {
      part(key).value = String(settings[key]);
      part(key).addEventListener('change', () => {
        if (key === 'n') readInputs(part, this.settings, ['n'], RANGES);
        else this.settings[key] = part(key).value;
        this.onChange(this.settings);
        if (key === 'layout') this.draw();
      });
    }
    this.ready = followModel(slot, (model) => {
      this.model = model;
      if (model) {
        this.sampler.useModel(model, backend.kind);
        this.onChange(this.settings);
      }
      if (this.running) this.cancel();
      this.$('run').disabled = !model || this.running;
    });
  }

  fileName(extension) {
    return `ddpm-${this.model?.name}-forks-seed${this.settings.seed}.${extension}`;
  }

  status(text, kind = 'info') {
    showStatus(this.$('status'), text, kind);
  }

  /** Stops the run under way in the worker, between two steps. */
  cancel() {
    this.abort.abort();
  }

  /** Runs a sampling run to its end; resolves to its last output (null if cancelled). */
  async finish(key, settings, { opened, stepped }) {
    let last = null;
    for await (const out of this.client.run({ kind: 'sample', key, settings }, { signal: this.abort.signal, wanted: XT_ONLY })) {
      if (out.step === 0) await opened(out);
      else stepped((last = out), out.step - 1);
    }
    return this.abort.signal.aborted ? null : last;
  }

  async start() {
    if (this.running || !this.model) return;
    const { key, info } = this.model;
    const n = this.settings.n;
    const base = this.sampler.runSettings(info, 1);
    const wanted = parseTimesteps(this.settings.t, info.scheduler.num_train_timesteps - 1);
    if (!wanted.length) {
      this.status('Give at least one t, e.g. 999,750,500,250,100.', 'error');
      return;
    }
    const one = [1, info.inChannels, base.size, base.size];
    this.running = true;
    this.abort = new AbortController();
    this.rows = [];
    this.draw();
    this.$('run').disabled = true;
    this.$('cancel').disabled = false;
    this.$('save').disabled = true;
    this.$('save-gif').disabled = true;
    const started = performance.now();
    try {
      // 1. The shared trajectory, keeping x_t where it reaches each timestep nearest a wanted t.
      const states = new Map();
      let [forkAt, totalSteps, done] = [[], 0, 0];
      const tick = (label) => {
        done += 1;
        this.$('progress').max = totalSteps;
        this.$('progress').value = done;
        this.status(progressText(label, done, totalSteps, started), 'progress');
      };
      const trajectory = await this.finish(key, base, {
        opened: ({ timesteps, current: xt }) => {
          forkAt = [...new Set(wanted.map((t) => timesteps.reduce((best, s) => (Math.abs(s - t) < Math.abs(best - t) ? s : best))))];
          totalSteps = timesteps.length + forkAt.reduce((sum, s) => sum + timesteps.filter((u) => u <= s).length, 0);
          states.set(timesteps[0], xt);
        },
        stepped: (out) => {
          if (forkAt.includes(out.next)) states.set(out.next, out.xt);
          tick(`trajectory: t = ${out.t}`);
        },
      });
      if (!trajectory) return this.stopped();
      // 2. N samples of p(x_0 | x_t) from each kept x_t, the same fork seed for every row.
      for (const t of forkAt) {
        const xt = states.get(t);
        const settings = { ...base, batch: n, seed: base.seed + 1, start: { xt: Array.from(xt), t } };
        // The animation's frames of this row: its samples at evenly chosen steps.
        let kept = new Set();
        const frames = [];
        const last = await this.finish(key, settings, {
          opened: async (fork) => {
            kept = new Set(await this.client.frameSteps(fork.timesteps.length));
          },
          stepped: (out, i) => {
            if (kept.has(i)) frames.push(toTiles(out.xt, [n, ...one.slice(1)]));
            tick(`${n} samples from x_${t}: t = ${out.t}`);
          },
        });
        if (!last) return this.stopped();
        const samples = [];
        const per = xt.length;
        for (let i = 0; i < n; i++) samples.push(last.xt.subarray(i * per, (i + 1) * per));
        this.rows.push({ t, xt: toTiles(xt, one), samples: toTiles(last.xt, [n, ...one.slice(1)]), frames, spread: meanPixelStd(samples) });
        this.draw();
      }
      const deterministic = base.sampler.method.kind === 'ddim' && base.sampler.method.eta === 0;
      this.status(deterministic
        ? 'Done — but DDIM with η = 0 is deterministic: every fork of one x_t is the same sample. Choose DDPM or η > 0 to see p(x_0 | x_t) spread.'
        : `Done in ${((performance.now() - started) / 1000).toFixed(1)} s: the later the x_t (smaller t), the smaller the spread.`, 'ok');
      this.$('save').disabled = false;
      this.$('save-gif').disabled = false;
    } catch (error) {
      this.status(`Comparison failed: ${error.message}`, 'error');
    } finally {
      this.running = false;
      this.$('run').disabled = !this.model;
      this.$('cancel').disabled = true;
    }
  }

  stopped() {
    this.status(`Cancelled; ${this.rows.length} row(s) finished.`, 'ok');
  }

  draw() {
    const canvas = this.$('grid');
    const body = this.$('table').tBodies[0];
    body.replaceChildren();
    for (const row of this.rows) {
      const tr = body.insertRow();
      tr.dataset.t = String(row.t);
      tr.dataset.spread = String(row.spread);
      tr.insertCell().textContent = String(row.t);
      tr.insertCell().textContent = row.spread.toFixed(4);
    }
    canvas.hidden = !this.rows.length;
    if (!this.rows.length) return;
    this.drawGrid(canvas, this.rows);
    enlarge(canvas, this.rows[0].xt.width);
    canvas.dataset.layout = this.settings.layout === 'fig7' ? 'fig7' : 'rows';
  }

  /** The grid of `rows` (each {xt, samples}) in the chosen layout. */
  drawGrid(canvas, rows) {
    const fig7 = this.settings.layout === 'fig7';
    const tiles = [];
    let columns;
    if (fig7) {
      // Per t a 2×2 block: three samples, x_t bottom-right; the blocks side by side.
      columns = 2 * rows.length;
      for (let r = 0; r < 2; r++) {
        for (const row of rows) {
          const s = row.samples.tiles;
          tiles.push(...(r === 0 ? [s[0], s[1 % s.length]] : [s[2 % s.length], row.xt.tiles[0]]));
        }
      }
    } else {
      // One row per t: x_t, then its N samples.
      columns = 1 + rows[0].samples.count;
      for (const row of rows) tiles.push(row.xt.tiles[0], ...row.samples.tiles);
    }
    drawTiles(canvas, { ...rows[0].xt, tiles }, columns);
  }

  /**
   * The forks denoising side by side: frame k shows every row's samples the same fraction of
   * the way down (rows forked at a smaller t have fewer steps), beside the x_t they started from.
   */
  async saveAnimation() {
    if (!this.rows.length || this.running) return;
    const button = this.$('save-gif');
    button.disabled = true;
    try {
      const count = Math.max(...this.rows.map((row) => row.frames.length));
      const canvases = Array.from({ length: count }, (_, k) => {
        const at = (row) => row.frames[count > 1 ? Math.round((k * (row.frames.length - 1)) / (count - 1)) : row.frames.length - 1];
        const canvas = document.createElement('canvas');
        this.drawGrid(canvas, this.rows.map((row) => ({ ...row, samples: at(row) })));
        return canvas;
      });
      const gif = await saveGif(this.client, canvases, this.fileName('gif'));
      this.status(`Saved an animated GIF: ${canvases.length} frames, ${(gif.length / 1024).toFixed(0)} KB.`, 'ok');
    } catch (error) {
      this.status(`The animation could not be saved: ${error.message}`, 'error');
    } finally {
      button.disabled = !this.rows.length;
    }
  }
}
