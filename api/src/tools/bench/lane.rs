//! A lean HTTP/1.1 client for the load of the HTTP benchmarks: one keep-alive
//! connection per lane, requests built from parts made once.
//!
//! The load generator shares the two cores with the nudge it measures, so what
//! it spends is taken from the figure. reqwest parsed the URL, ran its redirect
//! and header layers and went through its pool on every request: about half of
//! the load generator's CPU at one event a request, none of it needed here.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, StatusCode, Uri,
    client::conn::http1::SendRequest,
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue},
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where the lanes of a run send: the address, and the headers every request carries.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    address: String,
    host: HeaderValue,
    authorization: Option<HeaderValue>,
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
        let authorization = crate::tools::simulate::bearer(api_key)?.remove(AUTHORIZATION);
        Ok(Self { address, host: HeaderValue::from_str(authority.as_str())?, authorization })
    }

    /// Opens a lane: a connection of its own, driven by a task of its own.
    pub(super) async fn connect(&self) -> anyhow::Result<Lane> {
        let stream =
            TcpStream::connect(&self.address).await.with_context(|| format!("connecting to {}", self.address))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a benchmark connection ended");
            }
        });
        Ok(Lane { sender, endpoint: self.clone() })
    }
}

/// One keep-alive connection, one request at a time.
pub(super) struct Lane {
    sender: SendRequest<Full<Bytes>>,
    endpoint: Endpoint,
}

impl Lane {
    /// Sends a request and answers its status and whole body.
    pub(super) async fn send(
        &mut self,
        method: Method,
        path: Uri,
        content_type: Option<&'static str>,
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut request = Request::builder().method(method).uri(path).header(HOST, self.endpoint.host.clone());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = &self.endpoint.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        self.sender.ready().await?;
        let response = self.sender.send_request(request.body(Full::new(body))?).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// A new connection in place of this one, after a failed request.
    pub(super) async fn reconnect(self) -> anyhow::Result<Self> {
        self.endpoint.connect().await
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn an_endpoint_takes_the_address_and_host_of_its_url() {
        let endpoint = Endpoint::new("http://127.0.0.1:8080", Some("k")).unwrap();
        assert_eq!((endpoint.address.as_str(), endpoint.host.to_str().unwrap()), ("127.0.0.1:8080", "127.0.0.1:8080"));
        assert_eq!(endpoint.authorization.unwrap().to_str().unwrap(), "Bearer k");
        assert_eq!(Endpoint::new("http://[::1]:9", None).unwrap().address, "[::1]:9");
    }

    #[test]
    fn an_endpoint_refuses_what_it_cannot_speak_to() {
        assert!(Endpoint::new("https://127.0.0.1:8080", None).is_err());
        assert!(Endpoint::new("not a url", None).is_err());
    }
}
