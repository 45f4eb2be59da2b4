//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use projections::ProjectionError;
use serde::Serialize;
use store::StoreError;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of one event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldProblem {
    /// Which event of the request (0 for a single event).
    pub index: usize,
    /// JSON pointer to the field inside that event, e.g. `/data/stake`.
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
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
    /// A path or query parameter is invalid.
    #[error("{detail}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
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

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldProblem]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

impl ApiError {
    /// The HTTP status the error answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::InvalidEvents(_) | Self::MalformedBody(_) | Self::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) | Self::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotProjectedYet { .. } | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Route(status, _) | Self::Rejected(status, _) => *status,
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
            Self::InvalidParameter { .. } => ("/problems/invalid-parameter", "Invalid parameter"),
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
            Self::Rejected(StatusCode::PAYLOAD_TOO_LARGE, _) => ("/problems/payload-too-large", "Payload too large"),
            Self::Rejected(StatusCode::UNSUPPORTED_MEDIA_TYPE, _) => {
                ("/problems/unsupported-media-type", "Unsupported media type")
            }
            Self::Rejected(status, _) if status.is_client_error() => {
                ("/problems/malformed-request", "Malformed request")
            }
            Self::Rejected(..) => ("/problems/internal", "Internal server error"),
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
        let problem = Problem {
            kind,
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match &self {
                Self::InvalidEvents(errors) => Some(errors),
                _ => None,
            },
            parameter: match &self {
                Self::InvalidParameter { name, .. } => Some(name),
                _ => None,
            },
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
