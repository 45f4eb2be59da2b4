//! Serving the router over TCP with hyper directly, set up where `axum::serve`
//! cannot be: a connection that sends nothing, trickles its headers or stalls
//! is closed, and headers over nudge's own limit reach the router (which refuses
//! them as a problem) instead of hyper's bare 431.

use std::{
    future::Future,
    io,
    pin::{Pin, pin},
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::Request};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::watch,
    time::{Instant, Sleep},
};
use tower::ServiceExt;

/// How long a connection may keep nudge waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a request's headers: from the connection's start, or
    /// from the previous answer on a kept-alive one, until they are complete.
    pub header_read: Duration,
    /// Longest a connection may move no byte either way while nudge waits on it
    /// (reading a body, writing an answer the client does not read).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { header_read: Duration::from_secs(10), idle: Duration::from_secs(60) }
    }
}

/// The most header bytes hyper buffers before it answers a bare 431 itself;
/// between the router's limit ([`crate::server::Limits::header_bytes`]) and
/// this, the router answers 431 as a problem.
const HEADER_BUFFER: usize = 2 * 1024 * 1024;

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting
/// and lets the connections finish the requests they are serving.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, mut stop, done) = (router.clone(), stop_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            let service = TowerToHyperService::new(router.map_request(|request: Request<_>| request.map(Body::new)));
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.header_read)
                .max_buf_size(HEADER_BUFFER);
            let io = TokioIo::new(Watched::new(stream, timeouts));
            let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
            tokio::select! {
                result = connection.as_mut() => log_end(result),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await);
                }
            }
            drop(done);
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended");
    }
}

/// A connection that fails with `TimedOut` once nudge has waited on it for
/// longer than allowed: the header-read timeout before its first byte (before
/// hyper's own header timer starts), the idle timeout after.
struct Watched {
    stream: TcpStream,
    allowed: Duration,
    idle: Duration,
    last_progress: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl Watched {
    fn new(stream: TcpStream, timeouts: Timeouts) -> Self {
        let now = Instant::now();
        let deadline = Box::pin(tokio::time::sleep_until(now + timeouts.header_read));
        Self { stream, allowed: timeouts.header_read, idle: timeouts.idle, last_progress: now, deadline }
    }

    /// Bytes moved: the clock restarts (read lazily, when the deadline fires,
    /// so the deadline is never later than the idle timeout from now).
    fn progressed(&mut self) {
        self.last_progress = Instant::now();
        if self.allowed != self.idle {
            self.allowed = self.idle;
            self.deadline.as_mut().reset(self.last_progress + self.idle);
        }
    }

    /// Whether the wait has lasted too long; else the deadline wakes the task later.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last_progress + self.allowed;
            if due <= Instant::now() {
                return true;
            }
            self.deadline.as_mut().reset(due);
        }
    }

    fn wrote(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.progressed();
        }
        self.waited(cx, polled)
    }

    fn waited<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending if self.expired(cx) => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client kept the connection waiting")))
            }
            polled => polled,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.progressed();
        }
        this.waited(cx, polled)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.wrote(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        this.waited(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
