// The sampler's controls, which views 2 and 3 both offer: method, steps, η, seed, class and (for
// view 2) the number of samples; the defaults a model and backend choose where the link or the
// element named none; and the settings the core's `sampler()` takes.
import { showMeasured } from './parts.js';

export const SAMPLER_DEFAULTS = { sampler: '', steps: 0, eta: 0, seed: 0, class: 0 };
export const SAMPLER_RANGES = { steps: [0, 1000], eta: [0, 1, false], seed: [0, 2 ** 53], class: [0, 2 ** 16] };

/**
 * The methods, as the select offers them and as the card's measured rows name them: `value` is
 * the core's sampler name (the CLI's `--sampler`), `method` the core's `Method` for it.
 */
export const METHODS = [
  { value: 'ddpm-small', name: 'DDPM, σ² = β̃', detail: ' (fixed small)', method: () => ({ kind: 'ddpm', variance: 'fixed_small' }) },
  { value: 'ddpm-large', name: 'DDPM, σ² = β', detail: ' (fixed large)', method: () => ({ kind: 'ddpm', variance: 'fixed_large' }) },
  { value: 'ddim', name: 'DDIM', detail: '', method: (eta) => ({ kind: 'ddim', eta }) },
];

export const samplerTemplate = (withSamples) => `
  <fieldset class="controls">
    <legend>Sampler</legend>
    <label>Method <select data-part="sampler">
      ${METHODS.map(({ value, name, detail }) => `<option value="${value}">${name}${detail}</option>`).join('\n      ')}
    </select></label>
    <label>Steps <input type="number" data-part="steps" value="1000" min="1" max="1000"></label>
    <label data-part="eta-label">DDIM η <input type="number" data-part="eta" value="0" min="0" max="1" step="0.1"></label>
    <label>Seed <input type="number" data-part="seed" value="0" min="0" step="1"></label>
    ${withSamples ? '<label>Samples <input type="number" data-part="n" value="4" min="1" max="16"></label>' : ''}
    <label data-part="class-label" hidden>Class <select data-part="class"></select></label>
    <p class="hint" data-part="sampler-quality" aria-live="polite" hidden></p>
  </fieldset>
`;

const methodName = ({ sampler, eta }) => (sampler === 'ddim' ? `DDIM, η = ${eta}` : METHODS.find((m) => m.value === sampler)?.name ?? sampler);
const sameMethod = (a, b) => a.sampler === b.sampler && (a.sampler !== 'ddim' || a.eta === b.eta);

/**
 * What the model's card measured for the chosen method (`samplerQuality` in the model list, from
 * the card's per-sampler table): its rows at every step count, and a caution where the measured
 * setting nearest in steps (a tie goes to the more steps) failed the card's bar for clean samples.
 * `{text, caution}`, or null where the card measured nothing for this method.
 */
export function measuredQuality(entry, { sampler, steps, eta }) {
  const rows = entry?.samplerQuality ?? [];
  const chosen = { sampler, steps, eta };
  const family = rows.filter((row) => sameMethod(row, chosen)).sort((a, b) => a.steps - b.steps);
  if (!family.length) return null;
  const text = [`Measured on this model (its card), ${methodName(chosen)}: `
    + family.map((row) => `${row.steps} steps, ${row.grainy} of ${row.samples} samples grainy`).join('; ') + '.'];
  const nearest = family.reduce((best, row) => (Math.abs(row.steps - steps) <= Math.abs(best.steps - steps) ? row : best));
  const caution = !nearest.clean;
  if (caution) {
    const clean = new Map();
    for (const row of [...rows].sort((a, b) => a.steps - b.steps).filter((row) => row.clean)) {
      clean.set(methodName(row), [...(clean.get(methodName(row)) ?? []), row.steps]);
    }
    const cleanText = [...clean].map(([name, counts]) => `${name} at ${counts.join(' and ')} steps`);
    text.push(`⚠ ${nearest.steps === steps ? 'At this setting' : `At ${nearest.steps} steps, the nearest measured`}, `
      + `${nearest.grainy} of ${nearest.samples} samples came out grainy (grain ${nearest.grainRatio}× the training images').`
      + (cleanText.length ? ` Clean on this model: ${cleanText.join('; ')}.` : ''));
  }
  return { text: text.join(' '), caution };
}

/**
 * The sampler a run starts with when the link or element names none: the model's own choice per
 * backend (`defaultSampler` in the model list, from its card's per-sampler table), else Algorithm 2
 * as written on WebGPU and DDPM over 100 strided steps on the CPU path. The fork view runs one
 * trajectory plus N samples per t, so it takes the CPU path's (cheaper) choice on either backend.
 */
export function defaultSampler(entry, backendKind, cheap, numTrainTimesteps = 1000) {
  const chosen = entry?.defaultSampler?.[cheap || backendKind === 'cpu' ? 'cpu' : 'webgpu'];
  if (chosen) return { eta: 0, ...chosen, steps: Math.min(chosen.steps, numTrainTimesteps) };
  return { sampler: 'ddpm-small', steps: cheap || backendKind === 'cpu' ? Math.min(100, numTrainTimesteps) : numTrainTimesteps, eta: 0 };
}

/** What a run on the CPU path should take at most, with the defaults. */
const CPU_RUN_SECONDS = 25;

/**
 * Samples a run starts with when the link or element names none: 4 on WebGPU; on the CPU path
 * as many (1–4) as finish `steps` within CPU_RUN_SECONDS at the speed measured once the model
 * warmed up (1 until then). Sample i has its own noise stream, so a smaller batch shows the same
 * first faces.
 */
export function defaultBatch(backendKind, info, steps) {
  if (backendKind !== 'cpu') return 4;
  if (info.evalMs === undefined) return 1;
  return Math.max(1, Math.min(4, Math.floor((CPU_RUN_SECONDS * 1000) / (info.evalMs * steps))));
}

/**
 * "about 12 s": a run's length from the warm evaluation measured after the load (`info.evalMs`,
 * one sample); null until it is measured.
 */
export function estimate(info, steps, batch) {
  if (info.evalMs === undefined) return null;
  const seconds = (info.evalMs * batch * steps) / 1000;
  return seconds < 90 ? `about ${Math.max(1, Math.round(seconds))} s` : `about ${Math.round(seconds / 60)} min`;
}

export function parseTimesteps(text, max) {
  const values = String(text).split(/[\s,]+/).filter(Boolean).map(Number).filter(Number.isFinite);
  return [...new Set(values.map((t) => Math.min(max, Math.max(0, Math.round(t)))))].sort((a, b) => b - a);
}

export class SamplerControls {
  /**
   * `settings` holds sampler, steps, eta, seed, class (and n with `withSamples`); 0 or '' is the
   * model's choice. `onChange()` after a person changes one.
   */
  constructor(part, settings, { cheap = false, withSamples = false, onChange }) {
    Object.assign(this, { part, settings, cheap, withSamples });
    // Which settings are still the model's, not the link's or the person's.
    this.fromModel = { sampler: !settings.sampler, steps: !settings.steps, n: withSamples && !settings.n };
    const names = ['sampler', 'steps', 'eta', 'seed', 'class', ...(withSamples ? ['n'] : [])];
    for (const name of names) {
      part(name).addEventListener('change', () => {
        if (name === 'eta') this.fromModel.sampler = false;
        if (name in this.fromModel) this.fromModel[name] = false;
        this.read();
        this.showEta();
        this.showQuality();
        onChange();
      });
    }
    this.write();
  }

  read() {
    const number = (name, lo, hi) => Math.min(hi, Math.max(lo, Math.round(Number(this.part(name).value) || 0)));
    Object.assign(this.settings, {
      sampler: this.part('sampler').value,
      steps: number('steps', 1, 1000),
      eta: Math.min(1, Math.max(0, Number(this.part('eta').value) || 0)),
      seed: number('seed', 0, 2 ** 53),
    });
    if (this.part('class').options.length) this.settings.class = Number(this.part('class').value);
    if (this.withSamples) this.settings.n = number('n', 1, 16);
  }

  write() {
    for (const name of ['sampler', 'steps', 'eta', 'seed', ...(this.withSamples ? ['n'] : [])]) {
      if (this.settings[name] !== '' && this.settings[name] !== 0) this.part(name).value = String(this.settings[name]);
    }
    this.part('eta').value = String(this.settings.eta);
    this.part('seed').value = String(this.settings.seed);
    this.showEta();
    this.showQuality();
  }

  showEta() {
    this.part('eta-label').hidden = this.part('sampler').value !== 'ddim';
  }

  showQuality() {
    const quality = measuredQuality(this.entry, this.settings);
    const line = this.part('sampler-quality');
    showMeasured(line, quality?.text, this.entry);
    if (quality?.caution) line.dataset.kind = 'caution';
    else delete line.dataset.kind;
  }

  /** A loaded model ({info, entry}) on `backendKind`: its classes, and its defaults where none were named. */
  useModel({ info, entry }, backendKind) {
    this.entry = entry;
    const chosen = defaultSampler(entry, backendKind, this.cheap, info.scheduler.num_train_timesteps);
    if (this.fromModel.sampler) Object.assign(this.settings, { sampler: chosen.sampler, eta: chosen.eta });
    if (this.fromModel.steps) this.settings.steps = chosen.steps;
    if (this.fromModel.n) this.settings.n = defaultBatch(backendKind, info, this.settings.steps);
    this.fillClasses(info, entry?.classes ?? []);
    this.write();
  }

  /** The model's speed, measured after it loaded: the sample count's default where none was named. */
  useTiming(info, backendKind) {
    if (!this.fromModel.n) return;
    this.settings.n = defaultBatch(backendKind, info, this.settings.steps);
    this.write();
  }

  /** The class picker of a class-conditional model (hidden for others). */
  fillClasses(info, names) {
    const select = this.part('class');
    select.replaceChildren();
    const classes = info.numClasses ?? 0;
    for (let c = 0; c < classes; c++) {
      const name = c === info.nullClass ? 'none (unconditional)' : names[c] ?? `class ${c}`;
      select.add(new Option(`${c} · ${name}`, String(c)));
    }
    if (classes) {
      this.settings.class = Math.min(this.settings.class, classes - 1);
      select.value = String(this.settings.class);
    }
    this.part('class-label').hidden = !classes;
  }

  /** The settings as the core's `sampler()` takes them, for a model's `info`. */
  runSettings(info, batch = this.settings.n) {
    const { sampler, eta, seed } = this.settings;
    const method = (METHODS.find((m) => m.value === sampler) ?? METHODS[0]).method(eta);
    const steps = Math.min(info.scheduler.num_train_timesteps, Math.max(1, this.settings.steps));
    const settings = {
      // Configs without sample_size (any size works) are sampled at 64×64.
      size: info.sampleSize ?? 64,
      seed,
      batch: Math.min(16, Math.max(1, batch)),
      sampler: { ...info.defaultSettings, steps, method },
    };
    if (info.numClasses) settings.class = this.settings.class;
    return settings;
  }
}
