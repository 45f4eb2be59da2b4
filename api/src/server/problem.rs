//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use projections::ProjectionError;
use serde::Serialize;
use store::StoreError;
use utoipa::ToSchema;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid part of a request: a field of the body (`pointer`) or a query
/// or path parameter (`parameter`).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct FieldProblem {
    /// Which event of an ingest request (0 for a single event); absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// JSON pointer to the field: inside the event on ingest (`/data/stake`),
    /// inside the body elsewhere (`/url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The query, path or header parameter, e.g. `limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

impl FieldProblem {
    /// A field of event `index`, at `pointer` inside it.
    pub fn event(index: usize, pointer: String, message: String) -> Self {
        Self { index: Some(index), pointer: Some(pointer), parameter: None, message }
    }
}

/// Everything an API call can fail with, each mapped to one problem type.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more events are invalid; nothing was stored.
    #[error("{} invalid field(s)", .0.len())]
    InvalidEvents(Vec<FieldProblem>),
    /// The body is not what its content type says.
    #[error("{0}")]
    MalformedBody(String),
    /// A field of a (non-event) body is invalid.
    #[error("{detail}")]
    InvalidField {
        /// JSON pointer to the field, e.g. `/url`.
        pointer: String,
        /// What is wrong.
        detail: String,
    },
    /// A path or query parameter is invalid.
    #[error("{detail}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A header that may be sent once was sent more than once.
    #[error("the header {0} may be sent once only")]
    RepeatedHeader(String),
    /// The content type is not one nudge reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is larger than allowed.
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A batch holds more events than allowed.
    #[error("a batch holds at most {max} events, this one {len}")]
    BatchTooLarge {
        /// The maximum.
        max: usize,
        /// What was sent.
        len: usize,
    },
    /// No key, or an unknown or revoked one.
    #[error("{0}")]
    Unauthorized(String),
    /// The key lacks the scope the route needs.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// No such route, or not with this method.
    #[error("{1}")]
    Route(StatusCode, String),
    /// A request refused before a handler saw it (by an extractor or a layer),
    /// answered in plain text there and rewritten here.
    #[error("{1}")]
    Rejected(StatusCode, String),
    /// The key made more requests than its rate allows; it may try again after this long.
    #[error("too many requests for this key: try again in {} s", retry_after_seconds(*.0))]
    TooManyRequests(std::time::Duration),
    /// The request's body did not arrive in the time a request may take.
    #[error("the body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    /// The request took longer than allowed.
    #[error("the request took longer than {0:?}")]
    Timeout(std::time::Duration),
    /// The read model has not reached the position asked for in time.
    #[error("the features include events up to position {checkpoint}, not yet {wanted}: ask again shortly")]
    NotProjectedYet {
        /// The position asked for.
        wanted: u64,
        /// Where the read model is.
        checkpoint: u64,
    },
    /// The request conflicts with what is going on.
    #[error("{0}")]
    Conflict(String),
    /// A database is unreachable or shutting down: try again.
    #[error("a database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: logged, answered as an opaque 500.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::StreamNotFound(stream) => Self::NotFound(format!("stream {stream} does not exist")),
            e if e.is_unavailable() => Self::Unavailable(e.into()),
            e => Self::Internal(e.into()),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::Store(e) => e.into(),
            e if e.is_unavailable() => Self::Unavailable(e.into()),
            e => Self::Internal(e.into()),
        }
    }
}

/// An RFC 9457 problem: every error answer's body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/invalid-parameter",
    "title": "Invalid parameter",
    "status": 400,
    "detail": "limit must be between 1 and 1000",
    "errors": [{"parameter": "limit", "message": "limit must be between 1 and 1000"}]
}))]
pub struct Problem {
    /// The problem type, a URI reference relative to the API, e.g. `/problems/not-found`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A short summary of the type.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What happened here.
    pub detail: String,
    /// For validation problems: each invalid field or parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
}

impl ApiError {
    /// The HTTP status the error answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::InvalidEvents(_)
            | Self::MalformedBody(_)
            | Self::InvalidField { .. }
            | Self::InvalidParameter { .. }
            | Self::RepeatedHeader(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) | Self::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotProjectedYet { .. } | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Route(status, _) | Self::Rejected(status, _) => *status,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem type (a URI reference relative to the API) and its title.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::InvalidEvents(_) => ("/problems/invalid-events", "Invalid events"),
            Self::MalformedBody(_) => ("/problems/malformed-body", "Malformed body"),
            Self::InvalidField { .. } => ("/problems/invalid-field", "Invalid field"),
            Self::InvalidParameter { .. } => ("/problems/invalid-parameter", "Invalid parameter"),
            Self::RepeatedHeader(_) => ("/problems/repeated-header", "Repeated header"),
            Self::UnsupportedMediaType(_) => ("/problems/unsupported-media-type", "Unsupported media type"),
            Self::PayloadTooLarge(_) => ("/problems/payload-too-large", "Payload too large"),
            Self::BatchTooLarge { .. } => ("/problems/batch-too-large", "Batch too large"),
            Self::NotFound(_) => ("/problems/not-found", "Not found"),
            Self::Unauthorized(_) => ("/problems/unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("/problems/forbidden", "Forbidden"),
            Self::NotProjectedYet { .. } => ("/problems/not-projected-yet", "Not projected yet"),
            Self::Conflict(_) => ("/problems/conflict", "Conflict"),
            Self::Route(StatusCode::METHOD_NOT_ALLOWED, _) => ("/problems/method-not-allowed", "Method not allowed"),
            Self::Route(..) => ("/problems/no-such-route", "No such route"),
            Self::Rejected(StatusCode::NOT_FOUND, _) => ("/problems/not-found", "Not found"),
            Self::Rejected(StatusCode::PAYLOAD_TOO_LARGE, _) => ("/problems/payload-too-large", "Payload too large"),
            Self::Rejected(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, _) => {
                ("/problems/headers-too-large", "Headers too large")
            }
            Self::Rejected(StatusCode::UNSUPPORTED_MEDIA_TYPE, _) => {
                ("/problems/unsupported-media-type", "Unsupported media type")
            }
            Self::Rejected(status, _) if status.is_client_error() => {
                ("/problems/malformed-request", "Malformed request")
            }
            Self::Rejected(..) => ("/problems/internal", "Internal server error"),
            Self::TooManyRequests(_) => ("/problems/too-many-requests", "Too many requests"),
            Self::BodyTimeout(_) => ("/problems/body-timeout", "Body timed out"),
            Self::Timeout(_) => ("/problems/timeout", "Request timed out"),
            Self::Unavailable(_) => ("/problems/unavailable", "Service unavailable"),
            Self::Internal(_) => ("/problems/internal", "Internal server error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(source) => tracing::error!(error = %source, "request failed"),
            Self::Unavailable(source) => tracing::warn!(error = %source, "database unavailable"),
            _ => {}
        }
        let status = self.status();
        let (kind, title) = self.kind();
        let detail = self.to_string();
        let retry_after = match &self {
            Self::TooManyRequests(wait) => retry_after_seconds(*wait),
            _ => 1,
        };
        let errors = match self {
            Self::InvalidEvents(errors) => Some(errors),
            Self::InvalidField { pointer, detail } => {
                Some(vec![FieldProblem { index: None, pointer: Some(pointer), parameter: None, message: detail }])
            }
            Self::InvalidParameter { name, detail } => Some(vec![FieldProblem {
                index: None,
                pointer: None,
                parameter: Some(name.to_owned()),
                message: detail,
            }]),
            Self::RepeatedHeader(name) => {
                Some(vec![FieldProblem { index: None, pointer: None, parameter: Some(name), message: detail.clone() }])
            }
            _ => None,
        };
        let problem = Problem { kind, title, status: status.as_u16(), detail, errors };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

/// Whole seconds to wait, rounded up: `Retry-After` takes no fractions.
fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
