// Arrays in the model's range ↔ pixels: grids of samples, images picked or uploaded as input.

/**
 * NCHW float values → 8-bit tiles, [−range, range] → [0, 255]: one byte per pixel for grey
 * models, three for colour (what the page keeps for every step, to scrub back). Returns
 * {width, height, channels, count, tiles: Uint8ClampedArray[]}.
 */
export function toTiles(values, [count, channels, height, width], range = 1) {
  const plane = height * width;
  const shown = channels === 1 ? 1 : 3;
  const tiles = [];
  for (let n = 0; n < count; n++) {
    const bytes = new Uint8ClampedArray(plane * shown);
    const offset = n * channels * plane;
    for (let c = 0; c < shown; c++) {
      for (let p = 0; p < plane; p++) bytes[p * shown + c] = Math.round((values[offset + c * plane + p] / (2 * range) + 0.5) * 255);
    }
    tiles.push(bytes);
  }
  return { width, height, channels: shown, count, tiles };
}

function toRgba(bytes, channels, plane) {
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = bytes[p * channels + (channels === 1 ? 0 : c)];
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}

/** Tiles into a grid on `canvas` (`columns` wide, 1-pixel gaps). */
export function drawTiles(canvas, { width, height, channels, tiles }, columns = Math.ceil(Math.sqrt(tiles.length))) {
  const gap = tiles.length > 1 ? 1 : 0;
  const rows = Math.ceil(tiles.length / columns);
  canvas.width = columns * (width + gap) - gap;
  canvas.height = rows * (height + gap) - gap;
  canvas.dataset.drawn = '';
  const context = canvas.getContext('2d');
  context.fillStyle = '#888';
  context.fillRect(0, 0, canvas.width, canvas.height);
  tiles.forEach((bytes, i) => {
    const x = (i % columns) * (width + gap);
    const y = Math.floor(i / columns) * (height + gap);
    context.putImageData(new ImageData(toRgba(bytes, channels, width * height), width, height), x, y);
  });
}

/** Shows a canvas of small tiles enlarged (pixelated) so each tile is about 128 CSS pixels. */
export function enlarge(canvas, tileWidth) {
  const zoom = Math.max(1, Math.round(128 / tileWidth));
  canvas.style.width = `min(100%, ${canvas.width * zoom}px)`;
  canvas.style.height = 'auto';
}

/** Draws an NCHW array as a grid. */
export function drawGrid(canvas, values, shape, { range = 1, columns } = {}) {
  drawTiles(canvas, toTiles(values, shape, range), columns);
}

/**
 * Any image source (HTMLImageElement, ImageBitmap, canvas) → the model's input: centre-cropped
 * to a square, resized to size×size, grey when channels = 1, NCHW in [−1, 1].
 */
export function imageToInput(source, size, channels) {
  const w = source.naturalWidth ?? source.width;
  const h = source.naturalHeight ?? source.height;
  const side = Math.min(w, h);
  const canvas = new OffscreenCanvas(size, size);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.imageSmoothingQuality = 'high';
  context.drawImage(source, (w - side) / 2, (h - side) / 2, side, side, 0, 0, size, size);
  const { data } = context.getImageData(0, 0, size, size);
  const plane = size * size;
  const out = new Float32Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    const [r, g, b] = [data[p * 4], data[p * 4 + 1], data[p * 4 + 2]];
    if (channels === 1) out[p] = (0.299 * r + 0.587 * g + 0.114 * b) / 127.5 - 1;
    else [r, g, b].forEach((v, c) => { out[c * plane + p] = v / 127.5 - 1; });
  }
  return out;
}

/** One tile of a sprite (a grid of equal tiles without gaps) as a canvas. */
export function spriteTile(sprite, tile, column, row) {
  const canvas = new OffscreenCanvas(tile, tile);
  canvas.getContext('2d').drawImage(sprite, column * tile, row * tile, tile, tile, 0, 0, tile, tile);
  return canvas;
}

function download(blob, name) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

/** Saves a canvas as a PNG download. */
export function savePng(canvas, name) {
  canvas.toBlob((blob) => download(blob, name), 'image/png');
}

/** Canvases of one size (the frames, in order) → an animated GIF download, encoded by the core. */
export async function saveGif(client, canvases, name) {
  const { width, height } = canvases[0];
  const frames = canvases.map((c) => c.getContext('2d').getImageData(0, 0, width, height).data);
  const gif = await client.encodeGif(frames, width, height);
  download(new Blob([gif], { type: 'image/gif' }), name);
  return gif;
}

/** Per-pixel standard deviation across a set of equally shaped arrays, averaged over pixels. */
export function meanPixelStd(samples) {
  const n = samples.length;
  const size = samples[0].length;
  let total = 0;
  for (let p = 0; p < size; p++) {
    let mean = 0;
    for (const s of samples) mean += s[p];
    mean /= n;
    let variance = 0;
    for (const s of samples) variance += (s[p] - mean) ** 2;
    total += Math.sqrt(variance / n);
  }
  return total / size;
}
