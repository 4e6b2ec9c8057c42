//! `ddpm-serve [DIR] [--port N] [--host ADDR]`: serves the folder `make site` writes (or any
//! folder) as a good static host does, so `make demo` shows the page as its readers get it:
//!
//! - the `.br`/`.gz` files the build wrote beside each original, chosen by `Accept-Encoding`
//!   (tower-http's `ServeDir`), and `application/wasm`, so the module compiles while it streams;
//! - revalidation: `Cache-Control: no-cache` with `Last-Modified` and an `ETag`, so a second visit
//!   gets 304s and a changed file is fetched again;
//! - CORS and `Cross-Origin-Resource-Policy: cross-origin`, so a blog on another origin can load
//!   the element, its worker, the wasm and the weights from here, as from a CDN;
//! - COOP/COEP, so the page is cross-origin isolated (what wasm threads need), where the browser
//!   honours them: on a potentially trustworthy origin (loopback, or https before a proxy);
//! - the strict Content-Security-Policy the page is written for (`--csp` replaces it).

mod etag;

use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// What the page needs and nothing more: its own scripts, compiled wasm, and workers that may be
/// started from a blob: trampoline (see www/client.js).
pub const STRICT_CSP: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'";

/// The whole server: files from `root` with the headers described above.
pub fn app(root: PathBuf, csp: &str) -> Result<Router, String> {
    let csp = HeaderValue::from_str(csp).map_err(|_| "the CSP must be printable ASCII".to_string())?;
    let fixed = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::overriding(HeaderName::from_static(name), HeaderValue::from_static(value))
    };
    let files = ServeDir::new(root).precompressed_br().precompressed_gzip().append_index_html_on_directories(true);
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET, Method::HEAD]).expose_headers([
        header::CONTENT_LENGTH,
        header::ETAG,
        header::LAST_MODIFIED,
    ]);
    let layers = ServiceBuilder::new()
        .layer(cors)
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        // ServeDir picks .br/.gz by Accept-Encoding but does not say so; shared caches must know.
        .layer(SetResponseHeaderLayer::appending(header::VARY, HeaderValue::from_static("accept-encoding")))
        .layer(fixed("x-content-type-options", "nosniff"))
        .layer(axum::middleware::from_fn(isolation))
        .layer(fixed("cross-origin-resource-policy", "cross-origin"))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, csp))
        .layer(axum::middleware::from_fn(etag::revalidate));
    Ok(Router::new().fallback_service(files).layer(layers))
}

/// COOP/COEP on responses to a potentially trustworthy origin only: over plain http from another
/// host name (a LAN address) browsers ignore them and log an error in the console for each page.
async fn isolation(request: Request, next: Next) -> Response {
    let trustworthy = request.headers().get("x-forwarded-proto").is_some_and(|p| p == "https")
        || request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).is_some_and(is_loopback_host);
    let mut response = next.run(request).await;
    if trustworthy {
        let headers = response.headers_mut();
        headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
        headers.insert("cross-origin-embedder-policy", HeaderValue::from_static("require-corp"));
    }
    response
}

/// `Host` is `name[:port]` or `[v6]:port`.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost" || name.ends_with(".localhost") || name == "::1" || name.starts_with("127.")
}
