//! The request timeout: a request that takes longer than allowed is answered
//! `408` while its body is still arriving (the client is slow), `503` once it
//! has arrived (nudge is).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    response::{IntoResponse, Response},
};
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::server::problem::ApiError;

/// Answers the request `run` handles within `timeout`, or a problem saying
/// whose wait it was.
pub(crate) async fn within<F: Future<Output = Response>>(
    timeout: Duration,
    request: Request,
    run: impl FnOnce(Request) -> F,
) -> Response {
    let (parts, body) = request.into_parts();
    let received = Arc::new(AtomicBool::new(body.is_end_stream()));
    let body = Body::new(Watched { body, received: Arc::clone(&received) });
    match tokio::time::timeout(timeout, run(Request::from_parts(parts, body))).await {
        Ok(response) => response,
        Err(_) if received.load(Ordering::Acquire) => ApiError::Timeout(timeout).into_response(),
        Err(_) => ApiError::BodyTimeout(timeout).into_response(),
    }
}

/// A request body that says when it has been read to its end.
struct Watched {
    body: Body,
    received: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || this.body.is_end_stream() {
            this.received.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
