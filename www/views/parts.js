// What every view shares: its markup's parts (found by data-part within its root, so several
// copies live on one page without clashing ids), its settings, its run controls and the model
// it follows.
import { cardUrl } from '../models.js';

/** Run / cancel / save buttons, a progress bar and a status line. */
export const runControls = (label) => `
  <div class="controls">
    <button data-part="run" disabled>${label}</button>
    <button data-part="cancel" disabled>■ Cancel</button>
    <button data-part="save" disabled>Save PNG</button>
  </div>
  <progress data-part="progress" value="0" max="1"></progress>
  <p data-part="status" role="status" aria-live="polite"></p>`;

/** A line of what a shipped model's card measured, hidden when there is none; "its card" links to the card. */
export function showMeasured(line, text, entry) {
  line.hidden = !text;
  const at = text ? text.indexOf('its card') : -1;
  if (at < 0 || !entry?.path) {
    line.textContent = text ?? '';
    return;
  }
  const link = Object.assign(line.ownerDocument.createElement('a'), { href: cardUrl(entry), target: '_blank', rel: 'noopener', textContent: 'its card' });
  line.replaceChildren(text.slice(0, at), link, text.slice(at + 'its card'.length));
}

/** Fills `root` with `template`; returns the lookup of its parts by name. */
export function fill(root, template) {
  root.innerHTML = template;
  return (name) => root.querySelector(`[data-part="${name}"]`);
}

/**
 * A view's settings: `given` (an element's attributes or the permalink: strings or numbers) over
 * `defaults`. A number takes its default's place only when finite, and is clamped to
 * `ranges[key]` = [lo, hi, integer = true]; anything else falls back to the default.
 */
export function settle(defaults, given = {}, ranges = {}) {
  const settings = { ...defaults };
  for (const [key, fallback] of Object.entries(defaults)) {
    const value = given[key];
    if (value === undefined || value === null || value === '') continue;
    if (typeof fallback !== 'number') {
      settings[key] = String(value);
      continue;
    }
    const number = Number(value);
    if (!Number.isFinite(number)) continue;
    const [lo, hi, integer] = ranges[key] ?? [-Infinity, Infinity, false];
    settings[key] = Math.min(hi, Math.max(lo, integer === false ? number : Math.round(number)));
  }
  return settings;
}

/** A setting's control and attribute name: trainSteps → train-steps. */
export const attributeName = (key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Reads the named controls into `settings`, each settled as `settle` settles a link's values
 * (clamped to its range; a value that is no number keeps the setting it had), and shows the
 * settled value back in its control.
 */
export function readInputs(part, settings, names, ranges) {
  const current = Object.fromEntries(names.map((name) => [name, settings[name]]));
  const given = Object.fromEntries(names.map((name) => [name, part(attributeName(name)).value]));
  Object.assign(settings, settle(current, given, ranges));
  for (const name of names) part(attributeName(name)).value = String(settings[name]);
  return settings;
}

/**
 * Calls `onModel(null)` whenever the host's model changes (the view disables its run) and
 * `onModel(model)` once that model has loaded, unless another change came first. The host shows
 * a model that fails to load; the view only waits for the next.
 */
export function followModel(slot, onModel) {
  const follow = async () => {
    const loading = slot.current;
    await onModel(null);
    if (!loading) return;
    const model = await loading.catch(() => null);
    if (model && loading === slot.current) await onModel(model);
  };
  slot.addEventListener('change', follow);
  return follow();
}
