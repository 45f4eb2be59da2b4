//! A lean HTTP/1.1 client for the load of the HTTP benchmarks: one keep-alive
//! connection per lane, written and read by the task that sends, as wrk does.
//!
//! The load generator shares the two cores with the nudge it measures, so what
//! it spends is taken from the figure. hyper's client drove each connection
//! from a task of its own, so every request crossed to that task and its answer
//! back, and built a header map to encode; writing the request's bytes and
//! parsing the answer's head in place spends about a fifth less CPU a request
//! (BENCHMARKS.md, session 62).

use std::{fmt::Write as _, io::Write as _};

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use hyper::{Method, StatusCode, Uri};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Longest answer head read, in bytes; a longer one is refused.
const MAX_HEAD: usize = 16 * 1024;

/// Most header lines read in an answer's head.
const MAX_HEADERS: usize = 32;

/// Where the lanes of a run send: the address, and the headers every request carries.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    address: String,
    /// The `host` and `authorization` lines, ready to write.
    headers: String,
}

impl Endpoint {
    /// The nudge at `target` (`http://host:port`), with `api_key` as a bearer token if given.
    pub(super) fn new(target: &str, api_key: Option<&str>) -> anyhow::Result<Self> {
        let uri: Uri = target.parse().with_context(|| format!("{target} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("the benchmarks' client speaks plain HTTP, not {target}");
        }
        let authority = uri.authority().with_context(|| format!("{target} names no host"))?;
        let address = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
        let mut headers = format!("host: {authority}\r\n");
        if let Some(authorization) = crate::tools::simulate::bearer(api_key)?.get(hyper::header::AUTHORIZATION) {
            let value = authorization.to_str().context("the API key is not printable ASCII")?;
            write!(headers, "authorization: {value}\r\n")?;
        }
        Ok(Self { address, headers })
    }

    /// Opens a lane: a connection of its own.
    pub(super) async fn connect(&self) -> anyhow::Result<Lane> {
        let stream =
            TcpStream::connect(&self.address).await.with_context(|| format!("connecting to {}", self.address))?;
        stream.set_nodelay(true)?;
        Ok(Lane { stream, endpoint: self.clone(), request: Vec::new(), answer: BytesMut::new() })
    }
}

/// One keep-alive connection, one request at a time.
pub(super) struct Lane {
    stream: TcpStream,
    endpoint: Endpoint,
    /// The request being written, its buffer kept from one request to the next.
    request: Vec<u8>,
    /// Bytes read and not yet taken as an answer.
    answer: BytesMut,
}

impl Lane {
    /// Sends a request and answers its status and whole body.
    pub(super) async fn send(
        &mut self,
        method: Method,
        path: &Uri,
        content_type: Option<&str>,
        body: &[u8],
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.request.clear();
        let target = path.path_and_query().map_or("/", |p| p.as_str());
        write!(self.request, "{method} {target} HTTP/1.1\r\n{}", self.endpoint.headers)?;
        if let Some(content_type) = content_type {
            write!(self.request, "content-type: {content_type}\r\n")?;
        }
        if !body.is_empty() || method == Method::POST {
            write!(self.request, "content-length: {}\r\n", body.len())?;
        }
        self.request.extend_from_slice(b"\r\n");
        self.request.extend_from_slice(body);
        self.stream.write_all(&self.request).await.context("sending a request")?;
        self.read_answer().await
    }

    /// Reads one answer: its head, then as many body bytes as the head states.
    async fn read_answer(&mut self) -> anyhow::Result<(StatusCode, Bytes)> {
        let head = loop {
            if let Some(head) = Head::parse(&self.answer)? {
                break head;
            }
            self.read_more().await?;
        };
        let whole = head.length + head.body;
        while self.answer.len() < whole {
            self.read_more().await?;
        }
        let body = self.answer.split_to(whole).split_off(head.length).freeze();
        Ok((head.status, body))
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        self.answer.reserve(8 * 1024);
        if self.stream.read_buf(&mut self.answer).await.context("reading an answer")? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }

    /// A new connection in place of this one, after a failed request.
    pub(super) async fn reconnect(self) -> anyhow::Result<Self> {
        self.endpoint.connect().await
    }
}

/// What an answer's head says: its status, its own length and the body's.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: StatusCode,
    /// Bytes of the head, the blank line included.
    length: usize,
    /// Bytes of the body that follows.
    body: usize,
}

impl Head {
    /// The head at the start of `read`; `None` while it is incomplete.
    ///
    /// A body must be of a stated length: nudge states it for every answer,
    /// and a chunked one would need a decoder this client has no use for.
    fn parse(read: &[u8]) -> anyhow::Result<Option<Self>> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut answer = httparse::Response::new(&mut headers);
        let length = match answer.parse(read).context("a malformed answer")? {
            httparse::Status::Complete(length) => length,
            httparse::Status::Partial if read.len() > MAX_HEAD => bail!("an answer's head is over {MAX_HEAD} bytes"),
            httparse::Status::Partial => return Ok(None),
        };
        let status = StatusCode::from_u16(answer.code.unwrap_or_default()).context("a malformed status")?;
        let named = |name: &str| answer.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name));
        if named("transfer-encoding").is_some() {
            bail!("a {status} answer is chunked: this client reads only bodies of a stated length");
        }
        let body = match named("content-length") {
            Some(header) => {
                let value = std::str::from_utf8(header.value).ok().and_then(|v| v.trim().parse().ok());
                value.with_context(|| format!("a {status} answer has a malformed content-length"))?
            }
            None if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED => 0,
            None => bail!("a {status} answer states no content-length"),
        };
        Ok(Some(Self { status, length, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::{Endpoint, Head, MAX_HEAD};
    use hyper::StatusCode;

    #[test]
    fn an_endpoint_takes_the_address_and_host_of_its_url() {
        let endpoint = Endpoint::new("http://127.0.0.1:8080", Some("k")).unwrap();
        assert_eq!(endpoint.address, "127.0.0.1:8080");
        assert_eq!(endpoint.headers, "host: 127.0.0.1:8080\r\nauthorization: Bearer k\r\n");
        assert_eq!(Endpoint::new("http://[::1]:9", None).unwrap().address, "[::1]:9");
        assert_eq!(Endpoint::new("http://[::1]:9", None).unwrap().headers, "host: [::1]:9\r\n");
    }

    #[test]
    fn an_endpoint_refuses_what_it_cannot_speak_to() {
        assert!(Endpoint::new("https://127.0.0.1:8080", None).is_err());
        assert!(Endpoint::new("not a url", None).is_err());
    }

    #[test]
    fn a_head_states_its_status_and_both_lengths_once_complete() {
        let answer =
            b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nContent-Length: 12\r\n\r\n{\"results\":";
        let head = Head::parse(answer).unwrap().unwrap();
        assert_eq!(head, Head { status: StatusCode::ACCEPTED, length: 77, body: 12 });
        assert_eq!(&answer[head.length..], b"{\"results\":");
        for cut in [0, 9, 40, 76] {
            assert_eq!(Head::parse(&answer[..cut]).unwrap(), None, "cut at {cut}");
        }
        let empty = Head::parse(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!((empty.status, empty.body), (StatusCode::NO_CONTENT, 0));
    }

    #[test]
    fn a_head_the_client_cannot_read_is_refused() {
        let refused = [
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n",
            b"SMTP ready\r\n\r\n",
        ];
        for answer in refused {
            assert!(Head::parse(answer).is_err(), "{}", String::from_utf8_lossy(answer));
        }
        let endless = [b"HTTP/1.1 200 OK\r\nx-pad: ".as_slice(), &b"y".repeat(MAX_HEAD)].concat();
        assert!(Head::parse(&endless).is_err());
    }
}
