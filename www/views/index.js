// The views, once, for the page and for <ddpm-demo>: the registry, attribute names and the
// keyboard. Each view module exports
//   title, DEFAULTS (its settings), RANGES (their bounds), model ('image' | '2d'), optionally
//   defaultModel (the element's model when it names none), and
//   mount(root, services, settings) → { run, cancel, state, ready, keys? }
// where services = { client, models, backend, model (a ModelSlot), onChange(state), chooseModel? }.
import * as compare from './compare.js';
import * as forward from './forward.js';
import * as guidance from './guidance.js';
import * as inpaint from './inpaint.js';
import * as reverse from './reverse.js';
import * as spiral from './spiral.js';

export const VIEWS = { forward, reverse, compare, inpaint, guidance, spiral };

/** The element's older name for a view. */
export const ALIASES = { fork: 'compare' };

export const viewNamed = (name) => (VIEWS[name] ? name : ALIASES[name]);

export { attributeName } from './parts.js';

/** The view's settings that differ from its defaults, e.g. for a snippet or a link. */
export const changed = (name, state) => Object.fromEntries(Object.entries(VIEWS[name].DEFAULTS)
  .filter(([key, fallback]) => state[key] !== fallback && state[key] !== '' && state[key] !== undefined)
  .map(([key]) => [key, state[key]]));

/**
 * A key pressed within a view: its `keys` (e.g. Space → play) unless the person is typing, or
 * the key already means something where it was pressed (Space on a button, arrows on a slider).
 */
export function onViewKey(event, handle) {
  const target = event.composedPath?.()[0] ?? event.target;
  const typing = target.isContentEditable || (['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName) && !['range', 'checkbox'].includes(target.type));
  const action = handle?.keys?.[event.key];
  if (!action || typing || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === ' ' && target.tagName === 'BUTTON') return;
  if (event.key.startsWith('Arrow') && target.type === 'range') return;
  action();
  event.preventDefault();
}
