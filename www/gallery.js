// The sample images shipped with the page (www/samples/, sprites of equal tiles) as a row of
// selectable thumbnails.
import { asset } from './models.js';
import { spriteTile } from './render.js';

export const SPRITES = {
  // `shown`: the sprite columns offered as thumbnails (a few views of each person or class).
  faces: { file: 'www/samples/faces-heldout.png', tile: 64, shown: [0, 3, 6, 9], noun: 'face' },
  fashion: { file: 'www/samples/fashion-test.png', tile: 32, shown: [0, 5], noun: 'item' },
};

const sprites = new Map();

/** The sprite of `source` as an ImageBitmap, fetched once. */
export function sprite(source) {
  if (!sprites.has(source)) {
    const load = fetch(asset(SPRITES[source].file)).then(async (response) => {
      if (!response.ok) throw new Error(`${SPRITES[source].file}: HTTP ${response.status}`);
      return createImageBitmap(await response.blob());
    });
    load.catch(() => sprites.delete(source));
    sprites.set(source, load);
  }
  return sprites.get(source);
}

/**
 * Fills `container` (role=listbox) with thumbnails of `source`; `onPick(index, tileCanvas)` on
 * a click and once for `selected`. Returns the index actually selected.
 */
export async function showGallery(container, source, selected, onPick) {
  const image = await sprite(source);
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
export function clearSelection(container) {
  for (const b of container.children) b.setAttribute('aria-selected', 'false');
}
