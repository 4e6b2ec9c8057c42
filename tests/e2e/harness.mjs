// Shared by the browser tests: a static server for the repository, Debian's Chromium through
// playwright-core, and readers for the fixtures.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const ARTIFACTS = join(ROOT, 'test-results');

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.svg': 'image/svg+xml', '.npy': 'application/octet-stream',
};

/**
 * A static server for `root` (the repository by default); `extraRoots` maps URL prefixes such as
 * '/bench/' to other folders; `isolated` sends COOP/COEP, as ddpm-serve does, so pages are
 * cross-origin isolated (the threaded CPU build); `headers` are sent with every file.
 */
export async function serve(root = ROOT, { extraRoots = {}, isolated = false, headers = {} } = {}) {
  const isolation = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const [prefix, dir] = Object.entries(extraRoots).find(([p]) => path.startsWith(p)) ?? ['/', root];
    let file = join(dir, path.slice(prefix.length - 1));
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...isolation, ...headers });
      response.end(body);
    } catch {
      response.writeHead(404);
      response.end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** The repository served for the test file: `server.url` once its tests run, closed after them. */
export function servedRepository() {
  const server = {};
  before(async () => {
    Object.assign(server, await serve());
  });
  after(() => server.close?.());
  return server;
}

const BASE_FLAGS = [
  '--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic',
];

// SwiftShader runs the shaders on the CPU, where Dawn's robustness pass (a bounds clamp on every
// buffer access) made a fashion32 run ≈ 30 % slower, with the same pixels. Browsers keep it on;
// the tests turn it off because most of their time is SwiftShader's arithmetic.
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
  '--enable-dawn-features=disable_robustness',
];

/** Chromium with WebGPU on SwiftShader (`webgpu: true`) or without any WebGPU adapter. */
export async function launch({ webgpu, args = [] }) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...BASE_FLAGS, ...(webgpu ? WEBGPU_FLAGS : ['--disable-gpu']), ...args],
  });
}

/** The describe block of each backend: WebGPU (SwiftShader) or the CPU path, forced. */
export const backendTitle = (webgpu) => (webgpu ? 'WebGPU (SwiftShader)' : 'CPU fallback (forced)');

/** The Chromium of the enclosing describe block, launched before its tests and closed after: `browser()`. */
export function browserFor(options) {
  let browser;
  before(async () => {
    browser = await launch(options);
  });
  after(() => browser?.close());
  return () => browser;
}

/** A new page at `url` that records console errors and uncaught exceptions; `beforeGoto(page)` may set routes first. */
export async function openPage(browser, url, beforeGoto) {
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await beforeGoto?.(page);
  await page.goto(url);
  return { page, errors };
}

/**
 * Opens the page (`index.html`, with `?cpu=1` for the CPU path) at `hash` and waits until it is
 * ready and its model has been timed (which happens after ready, and changes the status lines).
 */
export async function openIndex(browser, serverUrl, webgpu, hash, beforeGoto) {
  const opened = await openPage(browser, `${serverUrl}/index.html${webgpu ? '' : '?cpu=1'}#${hash}`, beforeGoto);
  await opened.page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  assert.equal(await opened.page.evaluate(() => document.body.dataset.ready), 'true', await opened.page.textContent('#model-status'));
  await modelTimed(opened.page);
  return opened;
}

/** Waits until the picker's model, if one is loaded, has been timed. */
export async function modelTimed(page) {
  await page.waitForFunction(() => !document.getElementById('model-status').textContent.includes('timing an evaluation'), null, { timeout: 120_000 });
}

/**
 * Follows a link to `hash` within the open page, as pasting it into the address bar would (only
 * the hash changes, so nothing reloads), and waits until the page is ready again.
 */
export async function followHash(page, hash) {
  await page.evaluate((hash) => new Promise((resolve) => {
    if (location.hash.slice(1) === hash) return resolve();
    window.addEventListener('hashchange', resolve, { once: true });
    location.hash = hash;
  }), hash);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'true', await page.textContent('#model-status'));
  await modelTimed(page);
}

/**
 * One page for a suite's tests, as a reader moving between views has it: the first visit opens
 * it, later ones follow a link within it (followHash). On SwiftShader a new page costs ≈ 15–20 s
 * (the module, the device, the shaders); a followed link to a loaded model ≈ 0.1 s. Each visit
 * starts its own list of errors.
 */
export function sharedIndex(browser, serverUrl, webgpu, beforeGoto) {
  let opened = null;
  return async (hash) => {
    if (!opened) {
      opened = await openIndex(browser, serverUrl, webgpu, hash, beforeGoto);
    } else {
      opened.errors.length = 0;
      await followHash(opened.page, hash);
    }
    return opened;
  };
}

/** A part of a view of the page: `part('reverse', 'play')` → its Play button. */
export const part = (view, name) => `#${view} [data-part="${name}"]`;

/** Waits until the text of `selector` matches `pattern`; on a timeout, says what it read instead. */
export async function statusMatches(page, selector, pattern, timeout = 300_000) {
  try {
    await page.waitForFunction(({ selector, source }) => new RegExp(source).test(document.querySelector(selector).textContent), { selector, source: pattern.source }, { timeout });
  } catch (error) {
    throw new Error(`${selector} never matched ${pattern}: it reads "${await page.textContent(selector)}" (${error.message})`, { cause: error });
  }
}

/** safetensors → {name: {shape, dtype, values}} (F32 and I64 only). */
export async function readSafetensors(path) {
  const bytes = await readFile(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const data = bytes.subarray(8 + headerLength);
  const out = {};
  for (const [name, meta] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = meta.data_offsets;
    const raw = data.subarray(start, end);
    const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const values = meta.dtype === 'F32' ? Array.from(new Float32Array(buffer)) : Array.from(new BigInt64Array(buffer), Number);
    out[name] = { shape: meta.shape, dtype: meta.dtype, values };
  }
  return out;
}

/** A float32 .npy → {shape, values}. */
export async function readNpy(path) {
  const bytes = await readFile(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const raw = bytes.subarray(10 + headerLength);
  return { shape, values: Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))) };
}

export function npyBytes(shape, values) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const out = Buffer.alloc(10 + header.length + values.length * 4);
  out.write('\x93NUMPY', 0, 'latin1');
  out.writeUInt8(1, 6);
  out.writeUInt8(0, 7);
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  values.forEach((v, i) => out.writeFloatLE(v, 10 + header.length + i * 4));
  return out;
}

export const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/**
 * Clicks `selector` and decodes the GIF it downloads with the browser's own decoder (WebCodecs'
 * ImageDecoder) → {name, bytes, width, height, frames: [grey values of each frame]}. Bytes cross
 * between Node and the page as base64: a 60-frame 480×480 GIF as JSON arrays took minutes.
 */
export async function downloadedGif(page, selector) {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click(selector)]);
  const bytes = await readFile(await download.path());
  const decoded = await page.evaluate(async (base64) => {
    const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const decoder = new ImageDecoder({ data, type: 'image/gif' });
    await decoder.tracks.ready;
    const count = decoder.tracks.selectedTrack.frameCount;
    const frames = [];
    let size = null;
    for (let frameIndex = 0; frameIndex < count; frameIndex++) {
      const { image } = await decoder.decode({ frameIndex });
      size = [image.displayWidth, image.displayHeight];
      const canvas = new OffscreenCanvas(...size);
      const context = canvas.getContext('2d');
      context.drawImage(image, 0, 0);
      image.close();
      const rgba = context.getImageData(0, 0, ...size).data;
      let grey = '';
      for (let i = 0; i < rgba.length; i += 4) grey += String.fromCharCode(rgba[i]);
      frames.push(btoa(grey));
    }
    return { width: size[0], height: size[1], frames };
  }, bytes.toString('base64'));
  const frames = decoded.frames.map((frame) => Array.from(Buffer.from(frame, 'base64')));
  return { name: download.suggestedFilename(), bytes, ...decoded, frames };
}
