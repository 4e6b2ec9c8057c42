//! A weak ETag for every file response, and 304 for a matching `If-None-Match`. `ServeDir` sends
//! `Last-Modified` and answers `If-Modified-Since`, but some caches (and the Cache API's callers)
//! revalidate with ETags only. The tag names the representation: the file's time and length, and
//! which precompressed variant was sent.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn revalidate(request: Request, next: Next) -> Response {
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let mut response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let Some(tag) = etag_of(&response) else { return response };
    if if_none_match.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|list| matches(list, &tag)) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        for name in [header::LAST_MODIFIED, header::VARY] {
            if let Some(value) = response.headers().get(&name) {
                not_modified.headers_mut().insert(name, value.clone());
            }
        }
        not_modified.headers_mut().insert(header::ETAG, tag);
        return not_modified;
    }
    response.headers_mut().insert(header::ETAG, tag);
    response
}

fn etag_of(response: &Response) -> Option<HeaderValue> {
    let headers = response.headers();
    let modified = headers.get(header::LAST_MODIFIED)?.as_bytes();
    let length = headers.get(header::CONTENT_LENGTH)?.to_str().ok()?;
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    // FNV-1a of the Last-Modified date: short, and stable across restarts.
    let stamp = modified.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    HeaderValue::from_str(&format!("W/\"{stamp:x}-{length}-{encoding}\"")).ok()
}

/// `If-None-Match` is `*` or a list of tags; weak comparison, as RFC 9110 asks for GET.
fn matches(list: &str, tag: &HeaderValue) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = bare(tag.to_str().unwrap_or_default());
    list.split(',').any(|candidate| candidate.trim() == "*" || bare(candidate) == ours)
}
