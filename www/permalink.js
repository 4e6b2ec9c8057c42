// The page's state in the URL hash (#view=reverse&model=fashion32&seed=3…): a link restores
// the view, model, sampler, seed and t. Only values that differ from the defaults are written.

export function readHash(defaults) {
  const params = new URLSearchParams(location.hash.slice(1));
  const state = { ...defaults };
  const view = params.get('view');
  for (const [name, value] of params) {
    // Links from before the settings were the view's own (#view=reverse&sampler=ddim) still
    // open what they named: a bare setting is the named view's.
    const key = name in defaults ? name : `${view}.${name}`;
    if (!(key in defaults)) continue;
    state[key] = typeof defaults[key] === 'number' ? Number(value) : value;
    if (typeof defaults[key] === 'number' && !Number.isFinite(state[key])) state[key] = defaults[key];
  }
  return state;
}

export function writeHash(state, defaults) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (key in defaults && value !== defaults[key] && value !== '' && value !== undefined) params.set(key, String(value));
  }
  const hash = params.toString();
  const url = `${location.pathname}${location.search}${hash ? `#${hash}` : ''}`;
  if (url !== `${location.pathname}${location.search}${location.hash}`) history.replaceState(null, '', url);
  return new URL(url, location.href).href;
}
