// The sample images shipped with the page (www/samples/, sprites of equal tiles) as a row of
// selectable thumbnails, and the picker views 1 and 4 take their input from.
import { asset } from './models.js';
import { spriteTile } from './render.js';

export const SPRITES = {
  // `shown`: the sprite columns offered as thumbnails (a few views of each person or class);
  // `heldOutFrom`: the shipped model these images were kept from (its default input).
  faces: { file: 'www/samples/faces-heldout.png', tile: 64, shown: [0, 3, 6, 9], noun: 'face', heldOutFrom: 'faces64' },
  fashion: { file: 'www/samples/fashion-test.png', tile: 32, shown: [0, 5], noun: 'item', heldOutFrom: 'fashion32' },
};

/** Each class's mean training image, one tile per class, for the shipped model `of`. */
export const CLASS_MEANS = [{ file: 'www/samples/fashion-class-means.png', tile: 32, of: 'fashion32' }];

const sprites = new Map();

/** The sprite in `file` as an ImageBitmap, fetched once. */
export function sprite(file) {
  if (!sprites.has(file)) {
    const load = fetch(asset(file)).then(async (response) => {
      if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
      return createImageBitmap(await response.blob());
    });
    load.catch(() => sprites.delete(file));
    sprites.set(file, load);
  }
  return sprites.get(file);
}

/**
 * Fills `container` (role=listbox) with thumbnails of `source`; `onPick(index, tileCanvas)` on
 * a click and once for `selected`. Returns the index actually selected.
 */
export async function showGallery(container, source, selected, onPick) {
  const image = await sprite(SPRITES[source].file);
  const { tile, shown, noun } = SPRITES[source];
  const columns = image.width / tile;
  const count = columns * (image.height / tile);
  const tileAt = (i) => spriteTile(image, tile, i % columns, Math.floor(i / columns));
  const select = (button) => {
    for (const b of container.children) b.setAttribute('aria-selected', String(b === button));
  };
  container.replaceChildren();
  for (let i = 0; i < count; i++) {
    if (!shown.includes(i % columns) && i !== selected) continue;
    const button = document.createElement('button');
    button.className = 'thumb';
    button.setAttribute('role', 'option');
    button.setAttribute('aria-label', `${noun} ${i}`);
    button.dataset.index = String(i);
    const view = document.createElement('canvas');
    view.width = view.height = tile;
    view.setAttribute('aria-hidden', 'true'); // the option's label names the picture
    view.getContext('2d').drawImage(tileAt(i), 0, 0);
    button.append(view);
    button.addEventListener('click', () => {
      select(button);
      onPick(i, tileAt(i));
    });
    container.append(button);
  }
  const index = Math.min(Math.max(0, selected), count - 1);
  select(container.querySelector(`[data-index="${index}"]`));
  onPick(index, tileAt(index));
  return index;
}

/** Clears the selection (an upload replaced the picked image). */
function clearSelection(container) {
  for (const b of container.children) b.setAttribute('aria-selected', 'false');
}

export const pickerTemplate = (noun) => `
  <div class="controls">
    <label>Images <select data-part="source">
      <option value="faces">held-out faces (ORL, never trained on)</option>
      <option value="fashion">Fashion-MNIST test items</option>
      <option value="upload">your ${noun}…</option>
    </select></label>
    <input type="file" data-part="upload" accept="image/*" hidden aria-label="Upload ${noun === 'image' ? 'an image' : `a ${noun}`}">
  </div>
  <div data-part="gallery" class="gallery" role="listbox" aria-label="Pick an image"></div>`;

/**
 * The input image of a view (`pickerTemplate`'s parts): a shipped sample ("faces:13") or the
 * person's upload ("upload"), kept in `settings.image` when the person picks it. `onImage` gets a
 * canvas or bitmap, which the view sizes to its model (render.js `imageToInput`: centre-cropped,
 * resized, in the model's channels).
 */
export class ImagePicker {
  constructor(part, settings, { onChange, onImage, onError }) {
    Object.assign(this, { part, onError });
    this.onPick = (image, id, chosen) => {
      if (chosen) {
        settings.image = id;
        onChange();
      }
      onImage(image);
    };
    part('source').addEventListener('change', () => {
      const source = part('source').value;
      if (source !== 'upload') return this.show(`${source}:0`, true);
      part('upload').click();
      // The select is an action menu for uploads: back to the gallery shown, so it can be chosen again.
      part('source').value = this.source;
    });
    part('upload').addEventListener('change', (event) => event.target.files[0] && this.upload(event.target.files[0]));
  }

  /** The model's own held-out set, else faces. */
  static defaultFor(entry) {
    return `${Object.keys(SPRITES).find((s) => SPRITES[s].heldOutFrom === entry?.id) ?? 'faces'}:0`;
  }

  /** Shows `id`'s gallery and picks it ("upload" or an unknown set: the first face). */
  async show(id, chosen = false) {
    const [source, index] = String(id).split(':');
    this.source = SPRITES[source] ? source : 'faces';
    this.part('source').value = this.source;
    let initial = true;
    await showGallery(this.part('gallery'), this.source, Number(index) || 0, (i, tile) => this.onPick(tile, `${this.source}:${i}`, chosen || !initial));
    initial = false;
  }

  async upload(file) {
    try {
      const bitmap = await createImageBitmap(file);
      clearSelection(this.part('gallery'));
      this.onPick(bitmap, 'upload', true);
    } catch (error) {
      this.onError(`That file could not be read as an image: ${error.message}`);
    }
  }
}
