// Arrays in the model's range → pixels on a canvas.

/** Draws sample `index` of an NCHW array; values map [-range, range] → [0, 255]. */
export function drawSample(canvas, values, [, channels, height, width], index = 0, range = 1) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  const plane = height * width;
  const offset = index * channels * plane;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = values[offset + (channels === 1 ? 0 : c) * plane + p];
      image.data[p * 4 + c] = Math.round(Math.min(1, Math.max(0, v / (2 * range) + 0.5)) * 255);
    }
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}
