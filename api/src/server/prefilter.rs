//! What is refused before any route sees a request, as problems: headers over
//! the limit (431), an announced body over the limit (413, before hyper would
//! send `100 Continue`), a content encoding other than gzip (415). A gzip body
//! is inflated here, within the body limit.

use std::io::Read;

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use flate2::read::MultiGzDecoder;

use crate::server::{AppState, dapr, headers::single, problem::ApiError};

/// The most bytes of headers (names, values and their separators) a request may send.
pub const HEADER_BYTES: usize = 64 * 1024;

/// Refuses what the limits rule out from the head alone; inflates a gzip body.
/// A delivery Dapr's token admits is refused with Dapr's answer, as ingest would.
pub(crate) async fn prefilter(state: &AppState, request: Request, next: Next) -> Response {
    let token = HeaderName::from_static(dapr::TOKEN_HEADER);
    let from_dapr = request.headers().get(&token).is_some_and(|t| state.dapr.admits(t.as_bytes()));
    match admitted(request, state.limits.body_bytes).await {
        Ok(request) => next.run(request).await,
        Err(error) if from_dapr => dapr::answer::<()>(Err(error)),
        Err(error) => error.into_response(),
    }
}

/// The request, its body inflated if it was gzip, unless its head is refused.
async fn admitted(request: Request, limit: usize) -> Result<Request, ApiError> {
    let headers = request.headers();
    let header_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > HEADER_BYTES {
        return Err(ApiError::Rejected(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the headers hold {header_bytes} bytes, more than the {HEADER_BYTES} allowed"),
        ));
    }
    let announced = single(headers, &header::CONTENT_LENGTH)?.and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let encoding =
        single(headers, &header::CONTENT_ENCODING)?.map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => Ok(request),
        Some("gzip" | "x-gzip") => inflated(request, limit).await,
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "the content encoding {other:?} is not supported: send the body as it is, or gzip"
        ))),
    }
}

/// The request with its gzip body inflated, refused if either form is over `limit`.
async fn inflated(request: Request, limit: usize) -> Result<Request, ApiError> {
    let (mut parts, body) = request.into_parts();
    let compressed = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
    let mut inflated = Vec::new();
    MultiGzDecoder::new(compressed.as_ref())
        .take(limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| ApiError::MalformedBody(format!("the body is not valid gzip: {e}")))?;
    if inflated.len() > limit {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(inflated.len()));
    Ok(Request::from_parts(parts, Body::from(inflated)))
}
