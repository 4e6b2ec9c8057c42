// The site as its readers get it: `make site`'s folder served by ddpm-serve, a proxy that counts
// the bytes that cross the wire, and a "blog" on a second origin. Shared by delivery.test.mjs
// and scripts/delivery.mjs.
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

export const SITE = process.env.DDPM_SITE ? join(ROOT, process.env.DDPM_SITE) : join(ROOT, 'dist/site');
const SERVE_BIN = process.env.DDPM_SERVE_BIN ?? join(homedir(), '.cache/ddpm-web/target/debug/ddpm-serve');

/** ddpm-serve on `root` (the site) → {url, close}. `args`: e.g. ['--csp', policy]. */
export async function serveSite(root = SITE, args = []) {
  const child = spawn(SERVE_BIN, [root, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`ddpm-serve exited with ${code}`)));
    child.stdout.once('data', (line) => resolve(String(line).match(/http:\/\/[^/\s]+/)[0]));
  });
  return { url, close: () => child.kill() };
}

/**
 * A TCP proxy in front of `target` (http://host:port) that counts every byte the server sends:
 * what a first or second visit costs on the wire, headers, 304s and compression included.
 */
export async function countingProxy(target) {
  const { hostname, port } = new URL(target);
  const counter = { bytes: 0 };
  const sockets = new Set();
  const server = createTcpServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    upstream.on('data', (chunk) => {
      counter.bytes += chunk.length;
      client.write(chunk);
    });
    client.pipe(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counter,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/**
 * A blog post on its own origin that embeds `<ddpm-demo>` from `cdn` (the site's URL), served
 * with the CSP docs/embedding.md gives blog authors. `element`: the element's attributes; `workerFile`:
 * also serve /ddpm-worker.js (`import '<cdn>/www/worker.js'`) for a CSP without blob:.
 */
export async function serveBlog(cdn, { element, csp, workerFile = false }) {
  const post = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A post with a demo</title>
<link rel="icon" href="/favicon.svg">
<script type="module" src="${cdn}/www/ddpm-web.js"></script></head>
<body><article><h1>A post</h1><p>Text before the demo.</p>
<ddpm-demo ${element}></ddpm-demo></article></body></html>`;
  const server = createHttpServer((request, response) => {
    const path = new URL(request.url, 'http://x').pathname;
    if (path === '/' || path === '/post.html') {
      response.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': csp });
      response.end(post);
    } else if (path === '/favicon.svg') {
      response.writeHead(200, { 'content-type': 'image/svg+xml' });
      response.end('<svg xmlns="http://www.w3.org/2000/svg"/>');
    } else if (workerFile && path === '/ddpm-worker.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(`import '${cdn}/www/worker.js';\n`);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  // "localhost" and "127.0.0.1" are two origins, both secure contexts (WebGPU needs one).
  return { url: `http://localhost:${server.address().port}`, close: () => server.close() };
}

/**
 * The CSP a blog author needs to embed from `cdn` (docs/embedding.md). worker-src names the CDN
 * too: a module worker's imports are fetched as worker scripts.
 */
export const blogCsp = (cdn, { blobWorkers = true } = {}) =>
  `default-src 'self'; script-src 'self' ${cdn} 'wasm-unsafe-eval'; style-src 'self' ${cdn}; ` +
  `connect-src 'self' ${cdn}; img-src 'self' ${cdn} blob: data:; worker-src 'self' ${cdn}${blobWorkers ? ' blob:' : ''}`;

/**
 * index.html from `url` in a fresh page of `context` until the default model is ready →
 * {ms, state, errors, page}. Console errors include CSP violations.
 */
export async function visit(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => ['true', 'error'].includes(document.body.dataset.ready), null, { timeout: 300_000 });
  const ms = Date.now() - started;
  const state = await page.evaluate(() => document.body.dataset.ready);
  return { ms, state, errors, page };
}

/** `visit` of the site's front page through `proxy` (a `countingProxy`), with the bytes it moved. */
export async function countedVisit(context, proxy) {
  proxy.counter.bytes = 0;
  const visited = await visit(context, `${proxy.url}/`);
  return { ...visited, bytes: proxy.counter.bytes };
}
