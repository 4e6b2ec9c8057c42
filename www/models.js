// The shipped models (www/models/index.json), each loaded once per worker and shared by every
// view and embedded element that asks for it. Paths resolve against this module, so the list
// works from any page that imports it, not only from index.html.

const ROOT = new URL('..', import.meta.url);

/** A shipped model's card (its README.md, with what it measured), for a link from the page. */
export const cardUrl = (entry) => new URL(`${entry.path}/README.md`, ROOT).href;

export class ModelStore {
  constructor(client) {
    this.client = client;
    this.loads = new Map();
    this.list = null;
  }

  /** The index entries: {id, path, layout, label, files: {file: {sha256, bytes}}, kind?, classes?}. */
  entries() {
    this.list ??= fetch(new URL('www/models/index.json', ROOT)).then((response) => {
      if (!response.ok) throw new Error(`www/models/index.json: HTTP ${response.status}`);
      return response.json();
    });
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
      const load = this.entry(id).then(async (entry) => ({
        ...(await this.client.load(new URL(entry.path, ROOT).href, onProgress, entry.layout, entry.files)),
        entry,
      }));
      load.catch(() => this.loads.delete(id));
      this.loads.set(id, load);
    }
    return this.loads.get(id);
  }

  /** A 2-D (spiral) model → {key, entry}. */
  spiral(id) {
    if (!this.loads.has(id)) {
      const load = this.entry(id).then(async (entry) => ({ ...(await this.client.spiralLoad(new URL(entry.path, ROOT).href, entry.files)), entry }));
      load.catch(() => this.loads.delete(id));
      this.loads.set(id, load);
    }
    return this.loads.get(id);
  }
}

/** A file shipped with the page (sample images), as a URL that works from any embedding page. */
export const asset = (path) => new URL(path, ROOT).href;

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
