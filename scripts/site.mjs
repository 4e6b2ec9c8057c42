// `make site`: the one folder (dist/site by default) that any static host serves as it is —
// GitHub Pages, Cloudflare Pages, an S3 bucket, `ddpm-serve` — and that a blog can embed from.
// The page, the element, the three builds of the core (pkg/cpu, pkg/cpu-threads, pkg/webgpu: see
// scripts/build-wasm.sh), a `_headers` file for the hosts that read one,
// the shipped models and samples, every path relative; beside each compressible file its .br and
// .gz, for hosts that serve precompressed files. Fails if any file is over 25 MiB, the largest
// file common static hosts accept.
//   node scripts/site.mjs [OUT]
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const OUT = resolve(process.argv[2] ?? join(ROOT, 'dist/site'));
export const MAX_FILE_BYTES = 25 * 1024 * 1024;

// What the page and the element load; nothing of the repository besides.
const SOURCES = [
  'index.html', 'embed.html', 'LICENSE-MIT', 'LICENSE-APACHE',
  'www', 'pkg/cpu/ddpm_web.js', 'pkg/cpu/ddpm_web_bg.wasm', 'pkg/webgpu/ddpm_web.js', 'pkg/webgpu/ddpm_web_bg.wasm',
  'pkg/cpu-threads/ddpm_web.js', 'pkg/cpu-threads/ddpm_web_bg.wasm', 'pkg/cpu-threads/snippets',
];
// Cloudflare Pages and Netlify read response headers from `_headers`: COOP and COEP make the page
// cross-origin isolated, so the worker can run the threaded CPU build (www/worker.js), as
// ddpm-serve does (serve/src/lib.rs); CORP lets an isolated blog on another origin embed it.
const HEADERS_FILE = `/*
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
  Cross-Origin-Resource-Policy: cross-origin
`;
const SKIP = new Set(['.gitignore']);
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.json', '.wasm', '.svg', '.md', '.safetensors', '.npy', '.txt']);
// Brotli's best up to 8 MiB, which takes in the CPU modules a phone downloads: on pkg/cpu
// (4.4 MB) quality 11 is 12 % smaller than 9 (695 against 793 KB) for 9 s once per build. The
// 20 MB WebGPU module gets 9, which takes 0.5 s where 11 would take a minute.
const brotliQuality = (bytes) => (bytes > 8 * 1024 * 1024 ? 9 : 11);

async function files(path) {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const found = [];
  for (const entry of await readdir(path)) {
    if (SKIP.has(entry) && path !== ROOT) continue;
    found.push(...(await files(join(path, entry))));
  }
  return found;
}

async function upToDate(source, target) {
  try {
    return (await stat(target)).mtimeMs >= (await stat(source)).mtimeMs;
  } catch {
    return false;
  }
}

export async function buildSite(out = OUT) {
  const written = [];
  const expected = new Set();
  for (const name of SOURCES) {
    const path = join(ROOT, name);
    try {
      await stat(path);
    } catch {
      throw new Error(`${name} is missing: run make pkg first`);
    }
    for (const source of await files(path)) {
      const rel = relative(ROOT, source);
      const target = join(out, rel);
      expected.add(target);
      await mkdir(dirname(target), { recursive: true });
      if (!(await upToDate(source, target))) await copyFile(source, target);
      const bytes = (await stat(source)).size;
      written.push({ rel, bytes });
      if (!COMPRESSIBLE.has(extname(source))) continue;
      for (const [suffix, compress] of [
        ['.br', (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: brotliQuality(b.length), [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } })],
        ['.gz', (b) => gzipSync(b, { level: 9 })],
      ]) {
        expected.add(target + suffix);
        if (await upToDate(source, target + suffix)) {
          written.push({ rel: rel + suffix, bytes: (await stat(target + suffix)).size });
          continue;
        }
        const packed = compress(await readFile(source));
        // A compressed copy no smaller than the original would only cost the host's disk.
        if (packed.length < bytes * 0.97) {
          await writeFile(target + suffix, packed);
          written.push({ rel: rel + suffix, bytes: packed.length });
        } else {
          await rm(target + suffix, { force: true });
          expected.delete(target + suffix);
        }
      }
    }
  }
  const headers = join(out, '_headers');
  expected.add(headers);
  await writeFile(headers, HEADERS_FILE);
  written.push({ rel: '_headers', bytes: HEADERS_FILE.length });
  // Files left from an earlier build (a removed model, say) would still be served: drop them.
  for (const leftover of await files(out)) if (!expected.has(leftover)) await rm(leftover);
  const tooBig = written.filter((f) => f.bytes > MAX_FILE_BYTES);
  if (tooBig.length) throw new Error(`over 25 MiB, which static hosts refuse: ${tooBig.map((f) => `${f.rel} (${f.bytes} B)`).join(', ')}`);
  return written;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const written = await buildSite();
  const mb = (b) => (b / 1e6).toFixed(2).padStart(7);
  const total = written.filter((f) => !/\.(br|gz)$/.test(f.rel)).reduce((a, f) => a + f.bytes, 0);
  const largest = written.reduce((a, f) => (f.bytes > a.bytes ? f : a));
  for (const f of written.filter((f) => f.bytes > 500_000)) console.log(`${mb(f.bytes)} MB  ${f.rel}`);
  console.log(`${relative(ROOT, OUT)}/: ${written.length} files, ${mb(total).trim()} MB before compression; largest: ${largest.rel}, ${mb(largest.bytes).trim()} MB (the limit is 26.21 MB)`);
}
