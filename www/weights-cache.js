// @ts-check
// The shipped models' weights in the Cache API, so a second visit reads them from disk. Each is
// stored under its URL plus its SHA-256 from www/models/index.json: a changed file has a new
// hash, misses, and is fetched again (the old entry is dropped). Where the browser refuses
// storage (a private window, an insecure origin, a full disk) everything still works from the
// network and `storage()` says why nothing is kept.

const NAME = 'ddpm-web-weights';

let opened = null;

/** → {cache} or {cache: null, reason}. */
export function storage() {
  opened ??= (async () => {
    if (typeof caches === 'undefined') {
      return { cache: null, reason: 'this browser offers no Cache API here (a private window or a page not served over https or localhost)' };
    }
    try {
      return { cache: await caches.open(NAME) };
    } catch (error) {
      return { cache: null, reason: `the browser refused storage: ${error.message}` };
    }
  })();
  return opened;
}

const keyOf = (url, sha256) => {
  const key = new URL(url);
  key.searchParams.set('sha256', sha256);
  return key.href;
};
const withoutQuery = (url) => url.split('?')[0];

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The file at `url` whose SHA-256 should be `sha256`: from the cache when it holds it, otherwise
 * `download()` (→ Uint8Array), stored when the bytes match. → {bytes, source: 'cache' | 'network',
 * stored: boolean, reason?}.
 */
export async function cachedBytes(url, sha256, download) {
  const { cache, reason } = await storage();
  if (!cache) return { bytes: await download(), source: 'network', stored: false, reason };
  const key = keyOf(url, sha256);
  try {
    const hit = await cache.match(key);
    if (hit) return { bytes: new Uint8Array(await hit.arrayBuffer()), source: 'cache', stored: true };
  } catch {
    // An unreadable entry is fetched again below and overwritten.
  }
  const bytes = await download();
  const actual = await sha256Hex(bytes);
  if (actual !== sha256) {
    return { bytes, source: 'network', stored: false, reason: `${url} does not match its SHA-256 in www/models/index.json, so it was not cached` };
  }
  try {
    for (const old of await cache.keys()) {
      if (withoutQuery(old.url) === withoutQuery(url)) await cache.delete(old);
    }
    await cache.put(key, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } }));
    return { bytes, source: 'network', stored: true };
  } catch (error) {
    return { bytes, source: 'network', stored: false, reason: `the browser refused to store it: ${error.message}` };
  }
}

/** → {available, reason?, entries: [{url, bytes}]} */
export async function cacheContents() {
  const { cache, reason } = await storage();
  if (!cache) return { available: false, reason, entries: [] };
  const entries = [];
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    entries.push({ url: withoutQuery(request.url), bytes: Number(response?.headers.get('content-length')) || 0 });
  }
  return { available: true, entries };
}

/** Empties the cache → the number of files removed. */
export async function clearCache() {
  const { cache } = await storage();
  if (!cache) return 0;
  const keys = await cache.keys();
  await Promise.all(keys.map((request) => cache.delete(request)));
  return keys.length;
}
