// @ts-check
// The shipped models (www/models/index.json), each loaded once per worker and shared by every
// view and embedded element that asks for it. Their files, and the sample images, are fetched
// where www/assets.js says (next to www/, or a bundler's copies), or from a base an author sets.
import shipped from './assets.js';

let filesBase = null;

/**
 * Fetch the shipped files (`www/models/…`, `www/samples/…`) from under `base`, the URL of a
 * folder laid out as the package is (it holds `www/`), instead of where the page loaded them
 * from. For authors who host the models elsewhere; null goes back to the default.
 */
export function setFilesBase(base) {
  filesBase = base ? new URL(base.endsWith('/') ? base : `${base}/`, document.baseURI) : null;
}

/** A file shipped with the package (`www/…`), as a URL that works from any embedding page. */
export function asset(path) {
  if (filesBase) return new URL(path, filesBase).href;
  if (!(path in shipped)) throw new Error(`${path} is not a file the package ships (www/assets.js)`);
  // The hint is for Vite at build time (it drops it from what it emits); served as is, it would
  // only make the URLs odd.
  return shipped[path].replace(/\?no-inline$/, '');
}

/** A shipped model's card (its README.md, with what it measured), for a link from the page. */
export const cardUrl = (entry) => asset(`${entry.path}/README.md`);

/**
 * A shipped model's files for `client.load`: {file: {url, sha256?, bytes?}}, the hashes letting
 * the weights cache serve them, and the folder they resolve in.
 */
function manifest(entry) {
  const prefix = `${entry.path}/`;
  const files = {};
  for (const path of Object.keys(shipped)) {
    const name = path.slice(prefix.length);
    if (path.startsWith(prefix) && name !== 'README.md') files[name] = { ...entry.files?.[name], url: asset(path) };
  }
  return { folder: new URL('.', asset(`${prefix}README.md`)).href, files };
}

export class ModelStore {
  /**
   * `filesBase`: as `setFilesBase`, for the whole page.
   * @param {import('./client.js').DdpmClient} client
   * @param {{ filesBase?: string }} [options]
   */
  constructor(client, { filesBase } = {}) {
    this.client = client;
    this.loads = new Map();
    this.list = null;
    if (filesBase !== undefined) setFilesBase(filesBase);
  }

  /** The index entries: {id, path, layout, label, files: {file: {sha256, bytes}}, kind?, classes?}. */
  entries() {
    const url = asset('www/models/index.json');
    this.list ??= fetch(url).then((response) => {
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      return response.json();
    });
    this.list.catch(() => { this.list = null; });
    return this.list;
  }

  async entry(id) {
    const entry = (await this.entries()).find((e) => e.id === id);
    if (!entry) throw new Error(`no shipped model "${id}" (see www/models/index.json)`);
    return entry;
  }

  /** An image model → {key, info, entry, cache, timing}; loaded once, whoever asks first sees the progress. */
  image(id, onProgress) {
    if (!this.loads.has(id)) {
      const load = this.entry(id).then(async (entry) => {
        const { folder, files } = manifest(entry);
        return { ...(await this.client.load(folder, onProgress, entry.layout, files)), entry };
      });
      load.catch(() => this.loads.delete(id));
      this.loads.set(id, load);
    }
    return this.loads.get(id);
  }

  /** A 2-D (spiral) model → {key, entry}. */
  spiral(id) {
    if (!this.loads.has(id)) {
      const load = this.entry(id).then(async (entry) => {
        const { folder, files } = manifest(entry);
        return { ...(await this.client.spiralLoad(folder, files)), entry };
      });
      load.catch(() => this.loads.delete(id));
      this.loads.set(id, load);
    }
    return this.loads.get(id);
  }
}

/**
 * The model a view runs on: the page's picker, or an element's `model` attribute. `current` is
 * a promise of {key, info, entry?, label} (an image model) or {key, entry} (a 2-D one), or null;
 * a 'change' event says it was replaced.
 */
export class ModelSlot extends EventTarget {
  current = null;

  set(loading) {
    this.current = loading;
    this.dispatchEvent(new Event('change'));
  }
}
