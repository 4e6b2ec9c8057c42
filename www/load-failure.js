// @ts-check
// Why a script or a WebAssembly file did not load, in words that point at the fix. Browsers
// report a worker that failed to load with no reason at all; fetched again, the file's status
// and type tell a missing file, a host or dev server answering with its HTML page, and a
// refusal before any response (a CORS refusal, a CSP, the network).

/** `kind`: 'JavaScript' or 'WebAssembly'. Never rejects. */
export async function whyNotLoaded(url, kind) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch {
    return `${url} gave no response: its host refused CORS, the page's CSP refused it (connect-src, and worker-src for a worker), or the network failed`;
  }
  if (!response.ok) return `${url} answered HTTP ${response.status}${response.status === 404 ? ': the file is not where the package expects it' : ''}`;
  const type = response.headers.get('content-type') ?? 'no content type';
  if (type.includes('text/html')) return `${url} answered with an HTML page instead of ${kind}: a host or dev server gives its index page for files it does not have, so the file was not copied or bundled`;
  if (kind === 'WebAssembly' && !type.includes('application/wasm')) return `${url} is served as "${type}" instead of application/wasm`;
  return `${url} loads, so the browser refused to run it: check the page's CSP (worker-src for the worker, 'wasm-unsafe-eval' in script-src for WebAssembly)`;
}
